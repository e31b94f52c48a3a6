//! A manifest drafted from the chain: what `observe` makes of each contract read at one block —
//! a Safe's owners, threshold, modules and guard; a Governor's settings and its timelock; a
//! Timelock's delay and role holders; an AccessControl contract's members by role name where
//! the name is known — written in manifest form, with a comment wherever a person must decide
//! (purpose, phase, policy, the block to follow from).
//!
//! Invariant: pure — the readings were fetched by the caller with the readers `manifest check
//! --chain` uses, so a draft of a chain that has not moved agrees with it.

use alloy::primitives::{Address, B256, U256};

use crate::manifest::write::{GovernorDraft, ManifestDraft, RolesDraft, SafeDraft, TimelockDraft};
use crate::manifest::Phase;
use crate::observe::{Observed, RolesState};
use crate::reconcile::timelock_roles;
use crate::roles_catalog::known_name as known_role_name;

/// One contract as observed, with its creation block when known.
#[derive(Debug, Clone)]
pub struct ObservedContract {
    pub address: Address,
    pub observed: Observed,
    pub created_at: Option<u64>,
}

/// What a draft is made from.
#[derive(Debug, Clone)]
pub struct DraftInput {
    pub id: String,
    pub name: Option<String>,
    /// The configured chain's name.
    pub chain: String,
    /// The block the contracts were read at.
    pub block: u64,
    /// Safes, governors, timelocks and AccessControl contracts, in the order asked for.
    pub contracts: Vec<ObservedContract>,
}

/// A contract that cannot be drafted as what it was given as.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .problems.join("\n"))]
pub struct DraftError {
    pub problems: Vec<String>,
}

/// The draft of what the chain shows, or every contract that is not what it was given as.
pub fn draft(input: &DraftInput) -> Result<ManifestDraft, DraftError> {
    let mut d = ManifestDraft::new(&input.id);
    let mut problems = Vec::new();
    d.name = input.name.clone().unwrap_or_else(|| input.id.clone());
    d.chain = input.chain.clone();
    d.phase = Phase::Formation;
    d.header = vec![
        format!(
            "Drafted from chain {} at block {}: what the chain shows, in manifest form.",
            input.chain, input.block
        ),
        "Check it with `groupstate manifest check FILE --chain`, decide what the comments ask,"
            .into(),
        "then register it with `groupstate group add FILE`.".into(),
    ];
    d.purpose = "To be written: what the group is for.".into();
    d.notes.push((
        "purpose",
        "DECIDE: what the group is for, in a sentence (the chain cannot say).".into(),
    ));
    d.notes.push((
        "phase",
        "DECIDE: formation | organization | coordination | completion.".into(),
    ));
    d.gap("purpose", "what the group is for: the chain cannot say");
    d.gap(
        "phase",
        "where the group is in its life: the chain cannot say",
    );
    for c in &input.contracts {
        let a = c.address;
        match &c.observed {
            Observed::Safe(s) if !s.deployed => problems.push(format!("safe {a}: no contract")),
            Observed::Safe(s) if s.not_a_safe => problems.push(format!(
                "safe {a}: has code that does not answer getOwners/getThreshold as a Safe"
            )),
            Observed::Safe(s) => {
                let mut notes = Vec::new();
                if s.owners.is_empty() || s.threshold == 0 {
                    notes.push((
                        "",
                        "This Safe has no owners or threshold set up yet.".into(),
                    ));
                }
                if !s.fallback_handler.is_zero() {
                    notes.push((
                        "",
                        format!(
                            "Fallback handler {} (add fallback_handler: to pin it).",
                            s.fallback_handler.to_checksum(None)
                        ),
                    ));
                }
                if !s.modules.is_empty() {
                    notes.push((
                        "modules",
                        "DECIDE: each enabled module can move funds without the owners.".into(),
                    ));
                }
                d.safes.push(SafeDraft {
                    address: a,
                    owners: s.owners.iter().copied().collect(),
                    threshold: s.threshold,
                    modules: s.modules.iter().copied().collect(),
                    guard: Some(s.guard).filter(|g| !g.is_zero()),
                    deployed_at: c.created_at,
                    notes,
                });
            }
            Observed::Governor(g) if !g.deployed => {
                problems.push(format!("governor {a}: no contract"))
            }
            Observed::Governor(g) => {
                let mut notes = Vec::new();
                let mut number = |name: &'static str, v: Option<U256>| match v {
                    Some(v) => u64::try_from(v).unwrap_or_else(|_| {
                        problems.push(format!("governor {a}: {name} {v} does not fit 64 bits"));
                        0
                    }),
                    None => {
                        notes.push((
                            name,
                            format!("The governor does not answer {name}: not compared."),
                        ));
                        0
                    }
                };
                let voting_delay = number("voting_delay", g.voting_delay);
                let voting_period = number("voting_period", g.voting_period).max(1);
                let quorum_numerator = number("quorum_numerator", g.quorum_numerator);
                d.governors.push(GovernorDraft {
                    address: a,
                    timelock: g.timelock.filter(|t| !t.is_zero()),
                    voting_delay,
                    voting_period,
                    proposal_threshold: g.proposal_threshold.unwrap_or_default(),
                    quorum_numerator,
                    deployed_at: c.created_at,
                    notes,
                });
            }
            Observed::Timelock(t) if !t.deployed => {
                problems.push(format!("timelock {a}: no contract"))
            }
            Observed::Timelock(t) => {
                let [proposer, executor, canceller, admin] = timelock_roles().map(|(_, r)| r);
                let holders = |role: B256| -> Vec<Address> {
                    t.roles
                        .holders(&role)
                        .into_iter()
                        .filter(|h| !(role == admin && *h == a))
                        .collect()
                };
                let mut notes = Vec::new();
                let admins = holders(admin);
                if !admins.is_empty() {
                    notes.push((
                        "admins",
                        "DECIDE: an admin besides the timelock can grant itself any role; \
                         most groups renounce it once set up."
                            .into(),
                    ));
                }
                d.timelocks.push(TimelockDraft {
                    address: a,
                    min_delay: t
                        .min_delay
                        .map(|v| u64::try_from(v).unwrap_or(u64::MAX))
                        .unwrap_or_default(),
                    proposers: holders(proposer),
                    executors: holders(executor),
                    cancellers: holders(canceller),
                    admins,
                    deployed_at: c.created_at,
                    notes,
                });
            }
            Observed::Roles(r) if !r.deployed => problems.push(format!("roles {a}: no contract")),
            Observed::Roles(r) => d.roles.push(roles_draft(a, r, c.created_at)),
            Observed::Ownable(o) => d.roles.push(RolesDraft {
                contract: a,
                owner: o.owner,
                deployed_at: c.created_at,
                ..RolesDraft::default()
            }),
        }
    }
    if !problems.is_empty() {
        return Err(DraftError { problems });
    }
    // Governor → timelock wiring that points outside the draft cannot be declared.
    let drafted: Vec<Address> = d.timelocks.iter().map(|t| t.address).collect();
    for g in &mut d.governors {
        if let Some(t) = g.timelock.filter(|t| !drafted.contains(t)) {
            g.notes.push((
                "",
                format!(
                    "Its timelock {} was not read: add it with --timelock.",
                    t.to_checksum(None)
                ),
            ));
            g.timelock = None;
        }
    }
    let earliest = input.contracts.iter().filter_map(|c| c.created_at).min();
    d.start_block = earliest.unwrap_or(input.block);
    d.notes.push((
        "start_block",
        match earliest {
            Some(b) => format!(
                "DECIDE: {b} is the earliest creation block of these contracts (their whole \
                 history is followed);\n{} (the block read) follows only what happens from now on.",
                input.block
            ),
            None => "DECIDE: the block read; an earlier block replays more history.".to_owned(),
        },
    ));
    d.gap(
        "start_block",
        "the block to follow from: a suggestion is written",
    );
    d.notes.push((
        "policy",
        "DECIDE: the treasury's spending policy (the chain cannot say), e.g.\n\
         policy:\n  max_outflow: { native: \"10000000000000000000\" }   # wei per transaction\n  \
         max_outflow_per_day: { native: \"…\" }\n  allowed_recipients: []   # empty: any"
            .into(),
    ));
    d.gap(
        "treasury.policy",
        "the spending policy: the chain cannot say (none is declared)",
    );
    Ok(d)
}

/// An AccessControl contract's members by role name, the hash where no name is known.
fn roles_draft(contract: Address, r: &RolesState, created_at: Option<u64>) -> RolesDraft {
    let mut notes = Vec::new();
    let mut members = Vec::new();
    for (role, holders) in &r.members {
        let name = match known_role_name(role) {
            Some(n) => n.to_owned(),
            None => {
                notes.push((
                    "members",
                    format!("Role {role} has no known name: give its name if you know it."),
                ));
                role.to_string()
            }
        };
        members.push((name, holders.iter().copied().collect()));
    }
    for (role, admin) in &r.admins {
        let name = |h: &B256| known_role_name(h).map_or_else(|| h.to_string(), str::to_owned);
        notes.push((
            "",
            format!(
                "{} is administered by {}, which a manifest cannot declare: \
                 `manifest check --chain` reports it as role.admin_changed.",
                name(role),
                name(admin)
            ),
        ));
    }
    RolesDraft {
        contract,
        members,
        owner: None,
        deployed_at: created_at,
        notes,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;
    use crate::manifest::{role_hash, Manifest};
    use crate::observe::{GovernorState, SafeState, TimelockState};

    fn a(n: u8) -> Address {
        Address::repeat_byte(n)
    }

    #[test]
    fn a_draft_of_every_kind_parses_with_what_the_chain_showed() {
        let minter = role_hash("MINTER_ROLE").unwrap();
        let odd = B256::repeat_byte(7);
        let timelock = a(3);
        let mut tl = TimelockState {
            deployed: true,
            min_delay: Some(U256::from(2)),
            ..TimelockState::default()
        };
        let [p, e, _, admin] = timelock_roles().map(|(_, r)| r);
        tl.roles.members.insert(p, BTreeSet::from([a(2)]));
        tl.roles.members.insert(e, BTreeSet::from([Address::ZERO]));
        tl.roles.members.insert(admin, BTreeSet::from([timelock]));
        let input = DraftInput {
            id: "river".into(),
            name: None,
            chain: "local".into(),
            block: 40,
            contracts: vec![
                ObservedContract {
                    address: a(1),
                    observed: Observed::Safe(SafeState {
                        deployed: true,
                        owners: BTreeSet::from([a(8), a(9)]),
                        threshold: 2,
                        modules: BTreeSet::from([a(5)]),
                        ..SafeState::default()
                    }),
                    created_at: Some(12),
                },
                ObservedContract {
                    address: a(2),
                    observed: Observed::Governor(GovernorState {
                        deployed: true,
                        voting_delay: Some(U256::from(1)),
                        voting_period: Some(U256::from(10)),
                        proposal_threshold: Some(U256::ZERO),
                        quorum_numerator: Some(U256::from(4)),
                        timelock: Some(timelock),
                    }),
                    created_at: Some(20),
                },
                ObservedContract {
                    address: timelock,
                    observed: Observed::Timelock(tl),
                    created_at: Some(19),
                },
                ObservedContract {
                    address: a(4),
                    observed: Observed::Roles(RolesState {
                        deployed: true,
                        members: BTreeMap::from([
                            (minter, BTreeSet::from([a(1)])),
                            (odd, BTreeSet::from([a(9)])),
                        ]),
                        admins: BTreeMap::new(),
                    }),
                    created_at: None,
                },
            ],
        };
        let d = draft(&input).unwrap();
        let text = d.to_yaml();
        let m = Manifest::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(m.start_block, 12);
        assert_eq!(m.treasury.safes[0].modules, vec![a(5)]);
        assert_eq!(m.governance.governors[0].timelock, Some(timelock));
        assert!(m.governance.timelocks[0].admins.is_empty());
        assert!(m.roles[0].is_member(&minter, &a(1)));
        assert!(m.roles[0].is_member(&odd, &a(9)));
        assert!(text.contains("MINTER_ROLE"), "{text}");
        assert!(d.gaps.iter().any(|g| g.path == "purpose"));
    }

    #[test]
    fn a_contract_that_is_not_what_it_was_given_as_is_refused_by_name() {
        let input = DraftInput {
            id: "g".into(),
            name: None,
            chain: "local".into(),
            block: 1,
            contracts: vec![ObservedContract {
                address: a(1),
                observed: Observed::Safe(SafeState {
                    deployed: true,
                    not_a_safe: true,
                    ..SafeState::default()
                }),
                created_at: Some(1),
            }],
        };
        let e = draft(&input).unwrap_err();
        assert!(e.to_string().contains("does not answer"), "{e}");
    }
}
