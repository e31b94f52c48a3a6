//! A covenant's clauses judged: against the declared structure of the party that holds the
//! contract (the manifest version in force) and the observed one, against a budget's spending,
//! and against the time since the party's document was last ratified.

use std::collections::BTreeMap;

use alloy::primitives::{Address, U256};

use crate::manifest::covenant::{Clause, AT_RISK_PERCENT};
use crate::manifest::Manifest;
use crate::model::ContractKind;
use crate::observe::Observed;

/// What a clause comes to at a moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Holds,
    /// Close to breaking; why.
    AtRisk(String),
    /// Broken; the evidence in words.
    Breach(String),
}

impl Verdict {
    /// The verdict's name: `holds`, `at_risk` or `breach`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Verdict::Holds => "holds",
            Verdict::AtRisk(_) => "at_risk",
            Verdict::Breach(_) => "breach",
        }
    }
}

/// Both sides' breaches, in one sentence; the declared side first.
fn sides(declared: Option<String>, observed: Option<String>) -> Verdict {
    match (declared, observed) {
        (None, None) => Verdict::Holds,
        (Some(d), None) => Verdict::Breach(d),
        (None, Some(o)) => Verdict::Breach(o),
        (Some(d), Some(o)) => Verdict::Breach(format!("{d}; {o}")),
    }
}

/// A clause about a contract's structure, judged against the party's manifest version
/// `version` in force and the observed states; `None` for the clauses that are not about
/// structure (budgets, ratification, index lag, delegatecalls).
pub fn judge_structure(
    clause: &Clause,
    manifest: &Manifest,
    version: i64,
    states: &BTreeMap<(Address, ContractKind), Observed>,
) -> Option<Verdict> {
    let safe_state = |a: &Address| match states.get(&(*a, ContractKind::Safe)) {
        Some(Observed::Safe(s)) if s.deployed && !s.not_a_safe => Some(s),
        _ => None,
    };
    let undeclared = |what: &str, a: &Address| {
        Some(format!(
            "the group's manifest version {version} does not declare {what} {a}"
        ))
    };
    let verdict = match clause {
        Clause::MinThreshold { safe, value } => {
            let declared = match manifest.safe(safe) {
                None => undeclared("Safe", safe),
                Some(d) if d.threshold < *value => Some(format!(
                    "manifest version {version} declares threshold {} (at least {value} agreed)",
                    d.threshold
                )),
                Some(_) => None,
            };
            let observed = safe_state(safe).filter(|s| s.threshold < *value).map(|s| {
                format!(
                    "the Safe's threshold is {} on chain (at least {value} agreed)",
                    s.threshold
                )
            });
            sides(declared, observed)
        }
        Clause::MinOwners { safe, value } => {
            let declared = match manifest.safe(safe) {
                None => undeclared("Safe", safe),
                Some(d) if (d.owners.len() as u64) < *value => Some(format!(
                    "manifest version {version} declares {} owners (at least {value} agreed)",
                    d.owners.len()
                )),
                Some(_) => None,
            };
            let observed = safe_state(safe)
                .filter(|s| (s.owners.len() as u64) < *value)
                .map(|s| {
                    format!(
                        "the Safe has {} owners on chain (at least {value} agreed)",
                        s.owners.len()
                    )
                });
            sides(declared, observed)
        }
        Clause::KeepsOwner { safe, owner } => {
            let declared = match manifest.safe(safe) {
                None => undeclared("Safe", safe),
                Some(d) if !d.owners.contains(owner) => Some(format!(
                    "manifest version {version} does not declare {owner} an owner"
                )),
                Some(_) => None,
            };
            let observed = safe_state(safe)
                .filter(|s| !s.owners.contains(owner))
                .map(|_| format!("{owner} is not an owner of the Safe on chain"));
            sides(declared, observed)
        }
        Clause::NoUndeclaredModules { safe } => {
            let declared = manifest.safe(safe);
            let observed = safe_state(safe).and_then(|s| {
                let extra: Vec<String> = s
                    .modules
                    .iter()
                    .filter(|m| !declared.is_some_and(|d| d.modules.contains(m)))
                    .map(ToString::to_string)
                    .collect();
                (!extra.is_empty()).then(|| {
                    format!(
                        "modules enabled on chain and not declared: {}",
                        extra.join(", ")
                    )
                })
            });
            let declared = declared
                .is_none()
                .then(|| undeclared("Safe", safe))
                .flatten();
            sides(declared, observed)
        }
        Clause::MinTimelockDelay { timelock, seconds } => {
            let declared = match manifest.timelock(timelock) {
                None => undeclared("timelock", timelock),
                Some(d) if d.min_delay < *seconds => Some(format!(
                    "manifest version {version} declares a minimum delay of {} s (at least {seconds} s agreed)",
                    d.min_delay
                )),
                Some(_) => None,
            };
            let observed = match states.get(&(*timelock, ContractKind::Timelock)) {
                Some(Observed::Timelock(t)) => t
                    .min_delay
                    .filter(|d| *d < U256::from(*seconds))
                    .map(|d| format!("the timelock's minimum delay is {d} s on chain (at least {seconds} s agreed)")),
                _ => None,
            };
            sides(declared, observed)
        }
        _ => return None,
    };
    Some(verdict)
}

/// A budget: `spent` of `amount` in the window (`window()` names it, asked only when the
/// budget is at risk or broken).
pub fn judge_budget(spent: U256, amount: U256, window: impl FnOnce() -> String) -> Verdict {
    if spent > amount {
        let window = window();
        Verdict::Breach(format!(
            "{spent} left for unlisted recipients in {window}, over the {amount} agreed"
        ))
    } else if spent * U256::from(100u64) > amount * U256::from(AT_RISK_PERCENT) {
        let window = window();
        Verdict::AtRisk(format!(
            "{spent} of the {amount} agreed left for unlisted recipients in {window} (over {AT_RISK_PERCENT}%)"
        ))
    } else {
        Verdict::Holds
    }
}

/// When a ratification falls due: the block at which `days` (in blocks) have passed since
/// `since`, and the block from which it is at risk (`warn` blocks before).
pub fn ratification_deadlines(since: i64, days_blocks: i64, warn_blocks: i64) -> (i64, i64) {
    let due = since + days_blocks;
    (due, (due - warn_blocks).max(since))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::safe::SafeState;

    fn a(n: u8) -> Address {
        Address::repeat_byte(n)
    }

    fn manifest(threshold: u64) -> Manifest {
        Manifest::parse(&format!(
            "id: g\nname: g\npurpose: p\nphase: coordination\nchain: local\nstart_block: 0\n\
             treasury:\n  safes:\n    - address: \"{}\"\n      owners: [\"{}\", \"{}\", \"{}\"]\n      threshold: {threshold}\n",
            a(9),
            a(1),
            a(2),
            a(3)
        ))
        .unwrap()
    }

    fn states(
        owners: &[u8],
        threshold: u64,
        modules: &[u8],
    ) -> BTreeMap<(Address, ContractKind), Observed> {
        let s = SafeState {
            deployed: true,
            owners: owners.iter().map(|o| a(*o)).collect(),
            threshold,
            modules: modules.iter().map(|m| a(*m)).collect(),
            ..Default::default()
        };
        BTreeMap::from([((a(9), ContractKind::Safe), Observed::Safe(s))])
    }

    #[test]
    fn structure_is_judged_on_both_sides() {
        let c = Clause::MinThreshold {
            safe: a(9),
            value: 2,
        };
        let ok = states(&[1, 2, 3], 2, &[]);
        assert_eq!(
            judge_structure(&c, &manifest(2), 1, &ok),
            Some(Verdict::Holds)
        );
        let Some(Verdict::Breach(why)) = judge_structure(&c, &manifest(1), 2, &ok) else {
            panic!()
        };
        assert!(
            why.contains("manifest version 2 declares threshold 1"),
            "{why}"
        );
        let Some(Verdict::Breach(why)) =
            judge_structure(&c, &manifest(2), 1, &states(&[1, 2], 1, &[]))
        else {
            panic!()
        };
        assert!(why.contains("threshold is 1 on chain"), "{why}");
        let owners = Clause::MinOwners {
            safe: a(9),
            value: 3,
        };
        assert!(matches!(
            judge_structure(&owners, &manifest(2), 1, &states(&[1, 2], 2, &[])),
            Some(Verdict::Breach(_))
        ));
        let keeps = Clause::KeepsOwner {
            safe: a(9),
            owner: a(3),
        };
        assert!(matches!(
            judge_structure(&keeps, &manifest(2), 1, &states(&[1, 2], 2, &[])),
            Some(Verdict::Breach(_))
        ));
        let modules = Clause::NoUndeclaredModules { safe: a(9) };
        assert_eq!(
            judge_structure(&modules, &manifest(2), 1, &ok),
            Some(Verdict::Holds)
        );
        assert!(matches!(
            judge_structure(&modules, &manifest(2), 1, &states(&[1, 2, 3], 2, &[7])),
            Some(Verdict::Breach(_))
        ));
        let elsewhere = Clause::MinThreshold {
            safe: a(8),
            value: 1,
        };
        let Some(Verdict::Breach(why)) = judge_structure(&elsewhere, &manifest(2), 3, &ok) else {
            panic!()
        };
        assert!(why.contains("does not declare Safe"), "{why}");
    }

    #[test]
    fn budgets_are_at_risk_past_80_percent_and_broken_past_the_amount() {
        let amount = U256::from(100u64);
        assert_eq!(
            judge_budget(U256::from(80u64), amount, || "w".into()),
            Verdict::Holds
        );
        assert!(matches!(
            judge_budget(U256::from(81u64), amount, || "w".into()),
            Verdict::AtRisk(_)
        ));
        assert!(matches!(
            judge_budget(U256::from(100u64), amount, || "w".into()),
            Verdict::AtRisk(_)
        ));
        assert!(matches!(
            judge_budget(U256::from(101u64), amount, || "w".into()),
            Verdict::Breach(_)
        ));
        assert_eq!(ratification_deadlines(100, 90, 7), (190, 183));
        assert_eq!(ratification_deadlines(100, 5, 7), (105, 100));
    }
}
