//! Governance rules: a Governor's settings, a Timelock's delay and role holders, AccessControl
//! members and admins, Ownable owners — each compared with the manifest version in force.

use std::collections::{BTreeMap, BTreeSet};

use alloy::primitives::{Address, B256, U256};

use super::safe::list;
use super::{Finding, Rule};
use crate::manifest::{GovernorDecl, RoleMembers, TimelockDecl};
use crate::observe::{GovernorState, OwnableState, RolesState, TimelockState};

/// The TimelockController roles, by the names OpenZeppelin gives them.
pub fn timelock_roles() -> [(&'static str, B256); 4] {
    use crate::roles_catalog::{
        role_id, CANCELLER_ROLE, DEFAULT_ADMIN_ROLE, EXECUTOR_ROLE, PROPOSER_ROLE,
    };
    [
        PROPOSER_ROLE,
        EXECUTOR_ROLE,
        CANCELLER_ROLE,
        DEFAULT_ADMIN_ROLE,
    ]
    .map(|n| (n, role_id(n)))
}

/// Compares a Governor's settings; a setting the contract does not expose is not compared.
pub fn reconcile_governor(declared: &GovernorDecl, observed: &GovernorState) -> Vec<Finding> {
    let mut out = Vec::new();
    if !observed.deployed {
        return out;
    }
    let params: [(&str, U256, Option<U256>); 4] = [
        (
            "voting_delay",
            U256::from(declared.voting_delay),
            observed.voting_delay,
        ),
        (
            "voting_period",
            U256::from(declared.voting_period),
            observed.voting_period,
        ),
        (
            "proposal_threshold",
            declared.proposal_threshold,
            observed.proposal_threshold,
        ),
        (
            "quorum_numerator",
            U256::from(declared.quorum_numerator),
            observed.quorum_numerator,
        ),
    ];
    for (name, expected, seen) in params {
        if let Some(seen) = seen.filter(|v| *v != expected) {
            out.push(Finding {
                rule: Rule::GovernorParamMismatch,
                subject: declared.address,
                key: format!("{name}={seen}"),
                expected: format!("{name} {expected}"),
                observed: format!("{name} {seen}"),
            });
        }
    }
    if let (Some(expected), Some(seen)) = (declared.timelock, observed.timelock) {
        if expected != seen {
            out.push(Finding {
                rule: Rule::GovernorParamMismatch,
                subject: declared.address,
                key: format!("timelock={seen}"),
                expected: format!("timelock {expected}"),
                observed: format!("timelock {seen}"),
            });
        }
    }
    out
}

/// Compares a Timelock's minimum delay and the holders of its four roles. The timelock always
/// administers itself (OpenZeppelin grants it DEFAULT_ADMIN_ROLE), so that is never a finding.
pub fn reconcile_timelock(declared: &TimelockDecl, observed: &TimelockState) -> Vec<Finding> {
    let mut out = Vec::new();
    if !observed.deployed {
        return out;
    }
    let subject = declared.address;
    if let Some(seen) = observed.min_delay {
        if seen != U256::from(declared.min_delay) {
            out.push(Finding {
                rule: Rule::TimelockMinDelayMismatch,
                subject,
                key: seen.to_string(),
                expected: format!("min_delay {}", declared.min_delay),
                observed: format!("min_delay {seen}"),
            });
        }
    }
    let declared_holders = [
        &declared.proposers,
        &declared.executors,
        &declared.cancellers,
        &declared.admins,
    ];
    for ((name, role), holders) in timelock_roles().into_iter().zip(declared_holders) {
        let mut expected: BTreeSet<Address> = holders.iter().copied().collect();
        if role == B256::ZERO {
            expected.insert(subject);
        }
        let seen = observed.roles.holders(&role);
        for a in seen.difference(&expected) {
            out.push(Finding {
                rule: Rule::TimelockRoleUndeclared,
                subject,
                key: format!("{name}:{a}"),
                expected: format!("{name} held by {}", list(expected.iter().copied())),
                observed: format!("{a} holds {name}"),
            });
        }
        for a in expected.difference(&seen) {
            if *a == subject {
                continue;
            }
            out.push(Finding {
                rule: Rule::TimelockRoleMissing,
                subject,
                key: format!("{name}:{a}"),
                expected: format!("{a} holds {name}"),
                observed: format!("{name} held by {}", list(seen.iter().copied())),
            });
        }
    }
    out
}

fn role_name(declared: &BTreeMap<B256, RoleMembers>, role: &B256) -> String {
    match declared.get(role) {
        Some(r) => r.name.clone(),
        None if *role == B256::ZERO => "DEFAULT_ADMIN_ROLE".to_string(),
        None => role.to_string(),
    }
}

/// Compares the members of every role of an AccessControl contract, and flags a role whose
/// admin is no longer `DEFAULT_ADMIN_ROLE` (the manifest declares no other admin).
pub fn reconcile_roles(
    contract: Address,
    declared: &BTreeMap<B256, RoleMembers>,
    observed: &RolesState,
) -> Vec<Finding> {
    let mut out = Vec::new();
    if !observed.deployed {
        return out;
    }
    let roles: BTreeSet<B256> = declared
        .keys()
        .chain(observed.members.keys())
        .copied()
        .collect();
    for role in roles {
        let name = role_name(declared, &role);
        let expected: BTreeSet<Address> = declared
            .get(&role)
            .map(|r| r.members.iter().copied().collect())
            .unwrap_or_default();
        let seen = observed.holders(&role);
        for a in seen.difference(&expected) {
            out.push(Finding {
                rule: Rule::RoleUndeclaredMember,
                subject: contract,
                key: format!("{name}:{a}"),
                expected: format!("{name} members {}", list(expected.iter().copied())),
                observed: format!("{a} holds {name}"),
            });
        }
        for a in expected.difference(&seen) {
            out.push(Finding {
                rule: Rule::RoleMissingMember,
                subject: contract,
                key: format!("{name}:{a}"),
                expected: format!("{a} holds {name}"),
                observed: format!("{name} members {}", list(seen.iter().copied())),
            });
        }
    }
    for (role, admin) in &observed.admins {
        let name = role_name(declared, role);
        out.push(Finding {
            rule: Rule::RoleAdminChanged,
            subject: contract,
            key: format!("{name}:{admin}"),
            expected: format!("{name} administered by DEFAULT_ADMIN_ROLE"),
            observed: format!("{name} administered by {}", role_name(declared, admin)),
        });
    }
    out
}

/// Compares an Ownable contract's owner with the declared one.
pub fn reconcile_ownable(
    contract: Address,
    declared_owner: Address,
    observed: &OwnableState,
) -> Vec<Finding> {
    match observed.owner {
        Some(owner) if owner != declared_owner => vec![Finding {
            rule: Rule::OwnershipUndeclaredOwner,
            subject: contract,
            key: owner.to_checksum(None),
            expected: format!("owner {declared_owner}"),
            observed: format!("owner {owner}"),
        }],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::keccak256;

    fn a(n: u8) -> Address {
        Address::repeat_byte(n)
    }

    #[test]
    fn governor_settings_that_differ_are_named() {
        let decl = GovernorDecl {
            address: a(1),
            timelock: Some(a(2)),
            voting_delay: 1,
            voting_period: 10,
            proposal_threshold: U256::ZERO,
            quorum_numerator: 4,
            deployed_at: None,
        };
        let mut obs = GovernorState {
            deployed: true,
            voting_delay: Some(U256::from(1)),
            voting_period: Some(U256::from(10)),
            proposal_threshold: Some(U256::ZERO),
            quorum_numerator: None,
            timelock: Some(a(2)),
        };
        assert!(reconcile_governor(&decl, &obs).is_empty());
        obs.voting_period = Some(U256::from(5));
        obs.timelock = Some(a(3));
        let keys: Vec<String> = reconcile_governor(&decl, &obs)
            .into_iter()
            .map(|f| f.key)
            .collect();
        assert_eq!(
            keys,
            vec!["voting_period=5".to_string(), format!("timelock={}", a(3))]
        );
    }

    #[test]
    fn timelock_roles_and_delay() {
        let tl = a(9);
        let decl = TimelockDecl {
            address: tl,
            min_delay: 2,
            proposers: vec![a(1)],
            executors: vec![Address::ZERO],
            cancellers: vec![a(1)],
            admins: vec![],
            deployed_at: None,
        };
        let (_, proposer) = timelock_roles()[0];
        let (_, executor) = timelock_roles()[1];
        let (_, canceller) = timelock_roles()[2];
        let mut obs = TimelockState {
            deployed: true,
            min_delay: Some(U256::from(2)),
            roles: RolesState::default(),
        };
        obs.roles.members.insert(proposer, BTreeSet::from([a(1)]));
        obs.roles
            .members
            .insert(executor, BTreeSet::from([Address::ZERO]));
        obs.roles.members.insert(canceller, BTreeSet::from([a(1)]));
        obs.roles.members.insert(B256::ZERO, BTreeSet::from([tl]));
        assert!(
            reconcile_timelock(&decl, &obs).is_empty(),
            "self-admin is fine"
        );
        obs.roles.members.get_mut(&proposer).unwrap().insert(a(7));
        obs.min_delay = Some(U256::from(0));
        let rules: Vec<(Rule, String)> = reconcile_timelock(&decl, &obs)
            .into_iter()
            .map(|f| (f.rule, f.key))
            .collect();
        assert_eq!(
            rules,
            vec![
                (Rule::TimelockMinDelayMismatch, "0".to_string()),
                (
                    Rule::TimelockRoleUndeclared,
                    format!("PROPOSER_ROLE:{}", a(7))
                )
            ]
        );
    }

    #[test]
    fn role_members_admins_and_owners() {
        let minter = keccak256("MINTER_ROLE");
        let declared = BTreeMap::from([(
            minter,
            RoleMembers {
                name: "MINTER_ROLE".into(),
                members: vec![a(1)],
            },
        )]);
        let mut obs = RolesState {
            deployed: true,
            ..RolesState::default()
        };
        obs.members.insert(minter, BTreeSet::from([a(2)]));
        obs.admins.insert(minter, B256::repeat_byte(5));
        let rules: Vec<Rule> = reconcile_roles(a(9), &declared, &obs)
            .into_iter()
            .map(|f| f.rule)
            .collect();
        assert_eq!(
            rules,
            vec![
                Rule::RoleUndeclaredMember,
                Rule::RoleMissingMember,
                Rule::RoleAdminChanged
            ]
        );
        let owned = OwnableState {
            owner: Some(a(3)),
            pending_owner: None,
        };
        assert_eq!(reconcile_ownable(a(9), a(3), &owned), vec![]);
        assert_eq!(
            reconcile_ownable(a(9), a(4), &owned)[0].rule,
            Rule::OwnershipUndeclaredOwner
        );
    }
}
