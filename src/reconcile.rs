//! Pure reconciliation: from the declared structure (the manifest version in force) and the
//! observed one, the findings that disagree; and from the findings and the divergences already
//! open, which to open and which to resolve. No I/O here.

use std::fmt;

use alloy::primitives::Address;
use serde::{Deserialize, Serialize};

use crate::manifest::SafeDecl;
use crate::observe::SafeState;

/// How bad a divergence is; sinks and queries filter on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stable rule identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Rule {
    #[serde(rename = "safe.owner_undeclared")]
    SafeOwnerUndeclared,
    #[serde(rename = "safe.owner_missing")]
    SafeOwnerMissing,
    #[serde(rename = "safe.threshold_mismatch")]
    SafeThresholdMismatch,
    #[serde(rename = "safe.module_undeclared")]
    SafeModuleUndeclared,
    #[serde(rename = "safe.guard_changed")]
    SafeGuardChanged,
    #[serde(rename = "safe.not_a_safe")]
    SafeNotASafe,
}

impl Rule {
    pub const ALL: [Rule; 6] = [
        Rule::SafeOwnerUndeclared,
        Rule::SafeOwnerMissing,
        Rule::SafeThresholdMismatch,
        Rule::SafeModuleUndeclared,
        Rule::SafeGuardChanged,
        Rule::SafeNotASafe,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Rule::SafeOwnerUndeclared => "safe.owner_undeclared",
            Rule::SafeOwnerMissing => "safe.owner_missing",
            Rule::SafeThresholdMismatch => "safe.threshold_mismatch",
            Rule::SafeModuleUndeclared => "safe.module_undeclared",
            Rule::SafeGuardChanged => "safe.guard_changed",
            Rule::SafeNotASafe => "safe.not_a_safe",
        }
    }

    pub fn parse(s: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|r| r.as_str() == s)
    }

    pub fn severity(self) -> Severity {
        match self {
            // Someone nobody documented can sign, or code nobody documented can move funds.
            Rule::SafeOwnerUndeclared | Rule::SafeModuleUndeclared => Severity::Critical,
            Rule::SafeThresholdMismatch | Rule::SafeGuardChanged | Rule::SafeNotASafe => {
                Severity::High
            }
            Rule::SafeOwnerMissing => Severity::Medium,
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One disagreement between declared and observed, identified by (rule, subject, key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub rule: Rule,
    /// The contract the finding is about (the Safe).
    pub subject: Address,
    /// What distinguishes two findings of one rule on one subject (an owner, a module), or "".
    pub key: String,
    pub expected: String,
    pub observed: String,
}

impl Finding {
    pub fn identity(&self) -> (Rule, Address, &str) {
        (self.rule, self.subject, &self.key)
    }
}

fn list(addrs: impl IntoIterator<Item = Address>) -> String {
    let v: Vec<String> = addrs.into_iter().map(|a| a.to_checksum(None)).collect();
    format!("[{}]", v.join(", "))
}

/// Compares a declared Safe with what the chain shows. A Safe not yet deployed has nothing to
/// compare, so it yields no finding until its setup is seen.
pub fn reconcile_safe(declared: &SafeDecl, observed: &SafeState) -> Vec<Finding> {
    let mut out = Vec::new();
    if !observed.deployed {
        return out;
    }
    let subject = declared.address;
    if observed.not_a_safe {
        out.push(Finding {
            rule: Rule::SafeNotASafe,
            subject,
            key: String::new(),
            expected: "a Safe at this address".to_string(),
            observed: "a contract that does not answer getOwners/getThreshold".to_string(),
        });
        return out;
    }
    let declared_owners: std::collections::BTreeSet<Address> =
        declared.owners.iter().copied().collect();
    for owner in observed.owners.difference(&declared_owners) {
        out.push(Finding {
            rule: Rule::SafeOwnerUndeclared,
            subject,
            key: owner.to_checksum(None),
            expected: format!("owners {}", list(declared_owners.iter().copied())),
            observed: format!("{} is an owner", owner.to_checksum(None)),
        });
    }
    for owner in declared_owners.difference(&observed.owners) {
        out.push(Finding {
            rule: Rule::SafeOwnerMissing,
            subject,
            key: owner.to_checksum(None),
            expected: format!("{} is an owner", owner.to_checksum(None)),
            observed: format!("owners {}", list(observed.owners.iter().copied())),
        });
    }
    if declared.threshold != observed.threshold {
        out.push(Finding {
            rule: Rule::SafeThresholdMismatch,
            subject,
            // Keyed by the observed value: a further change closes this one and opens another,
            // so every value the chain showed has its own evidence.
            key: observed.threshold.to_string(),
            expected: format!("threshold {}", declared.threshold),
            observed: format!("threshold {}", observed.threshold),
        });
    }
    for module in &observed.modules {
        if !declared.modules.contains(module) {
            out.push(Finding {
                rule: Rule::SafeModuleUndeclared,
                subject,
                key: module.to_checksum(None),
                expected: format!("modules {}", list(declared.modules.iter().copied())),
                observed: format!("module {} enabled", module.to_checksum(None)),
            });
        }
    }
    let declared_guard = declared.guard.unwrap_or(Address::ZERO);
    if observed.guard != declared_guard {
        out.push(Finding {
            rule: Rule::SafeGuardChanged,
            subject,
            key: observed.guard.to_checksum(None),
            expected: format!("guard {}", declared_guard.to_checksum(None)),
            observed: format!("guard {}", observed.guard.to_checksum(None)),
        });
    }
    out
}

/// What to do with the divergences of one subject after an evaluation.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Transition<K> {
    /// Findings with no open divergence yet: open one each.
    pub open: Vec<Finding>,
    /// Open divergences (their keys) that no finding supports any more: resolve them.
    pub resolve: Vec<K>,
}

/// Diffs the current findings against the open divergences, given as (handle, identity).
pub fn transition<K: Clone>(
    open: &[(K, (Rule, Address, String))],
    findings: Vec<Finding>,
) -> Transition<K> {
    let mut t = Transition {
        open: Vec::new(),
        resolve: Vec::new(),
    };
    for (handle, (rule, subject, key)) in open {
        if !findings
            .iter()
            .any(|f| f.identity() == (*rule, *subject, key.as_str()))
        {
            t.resolve.push(handle.clone());
        }
    }
    for f in findings {
        if !open
            .iter()
            .any(|(_, (r, s, k))| f.identity() == (*r, *s, k.as_str()))
        {
            t.open.push(f);
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn a(n: u8) -> Address {
        Address::repeat_byte(n)
    }

    fn declared() -> SafeDecl {
        SafeDecl {
            address: a(0x5a),
            owners: vec![a(1), a(2), a(3)],
            threshold: 2,
            modules: vec![],
            guard: None,
        }
    }

    fn observed() -> SafeState {
        SafeState {
            deployed: true,
            owners: BTreeSet::from([a(1), a(2), a(3)]),
            threshold: 2,
            ..Default::default()
        }
    }

    #[test]
    fn agreement_yields_nothing() {
        assert!(reconcile_safe(&declared(), &observed()).is_empty());
        assert!(reconcile_safe(&declared(), &SafeState::default()).is_empty());
    }

    #[test]
    fn every_rule_fires() {
        let mut o = observed();
        o.owners.insert(a(9));
        o.owners.remove(&a(3));
        o.threshold = 1;
        o.modules.insert(a(7));
        o.guard = a(8);
        let rules: Vec<Rule> = reconcile_safe(&declared(), &o)
            .into_iter()
            .map(|f| f.rule)
            .collect();
        assert_eq!(
            rules,
            vec![
                Rule::SafeOwnerUndeclared,
                Rule::SafeOwnerMissing,
                Rule::SafeThresholdMismatch,
                Rule::SafeModuleUndeclared,
                Rule::SafeGuardChanged
            ]
        );
    }

    #[test]
    fn transition_opens_new_and_resolves_gone() {
        let mut o = observed();
        o.threshold = 1;
        let open = vec![(
            7u64,
            (Rule::SafeOwnerUndeclared, a(0x5a), a(9).to_checksum(None)),
        )];
        let t = transition(&open, reconcile_safe(&declared(), &o));
        assert_eq!(t.resolve, vec![7]);
        assert_eq!(t.open.len(), 1);
        assert_eq!(t.open[0].rule, Rule::SafeThresholdMismatch);
        // Same finding again: nothing to do.
        let open = vec![(
            8u64,
            (Rule::SafeThresholdMismatch, a(0x5a), "1".to_string()),
        )];
        assert_eq!(
            transition(&open, reconcile_safe(&declared(), &o)),
            Transition {
                open: vec![],
                resolve: vec![]
            }
        );
    }
}
