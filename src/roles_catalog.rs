//! The names of well-known OpenZeppelin AccessControl roles, by the hash the chain shows: so a
//! role holder reads as `PROPOSER_ROLE`, not `0xb09a…9cc1`, wherever a role is shown.
//!
//! Invariant: names only, computed as Solidity computes them (`keccak256(name)`;
//! `DEFAULT_ADMIN_ROLE` is the zero hash) — no I/O, no policy; a hash neither the group's
//! manifest nor this catalog names is shown as the hash itself.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use alloy::primitives::{keccak256, B256};

/// `DEFAULT_ADMIN_ROLE`: the zero hash, admin of every role unless changed.
pub const DEFAULT_ADMIN_ROLE: &str = "DEFAULT_ADMIN_ROLE";
/// TimelockController: who may schedule an operation.
pub const PROPOSER_ROLE: &str = "PROPOSER_ROLE";
/// TimelockController: who may execute a ready operation (the zero address: anyone).
pub const EXECUTOR_ROLE: &str = "EXECUTOR_ROLE";
/// TimelockController (OpenZeppelin 4.6 and later): who may cancel a scheduled operation.
pub const CANCELLER_ROLE: &str = "CANCELLER_ROLE";
/// TimelockController before OpenZeppelin 5: its own admin role.
pub const TIMELOCK_ADMIN_ROLE: &str = "TIMELOCK_ADMIN_ROLE";

/// The role names OpenZeppelin's contracts, its Contracts Wizard and common tokens and
/// upgradeable contracts use.
pub const KNOWN_ROLES: &[&str] = &[
    DEFAULT_ADMIN_ROLE,
    PROPOSER_ROLE,
    EXECUTOR_ROLE,
    CANCELLER_ROLE,
    TIMELOCK_ADMIN_ROLE,
    "MINTER_ROLE",
    "BURNER_ROLE",
    "PAUSER_ROLE",
    "UPGRADER_ROLE",
    "SNAPSHOT_ROLE",
    "URI_SETTER_ROLE",
    "OPERATOR_ROLE",
    "MANAGER_ROLE",
    "ADMIN_ROLE",
    "GOVERNOR_ROLE",
    "GUARDIAN_ROLE",
    "KEEPER_ROLE",
    "ORACLE_ROLE",
    "TREASURER_ROLE",
    "RELAYER_ROLE",
    "BRIDGE_ROLE",
    "WITHDRAWER_ROLE",
    "DEPOSITOR_ROLE",
    "VETO_ROLE",
];

/// A role's hash as Solidity computes it from its name.
pub fn role_id(name: &str) -> B256 {
    if name == DEFAULT_ADMIN_ROLE {
        B256::ZERO
    } else {
        keccak256(name.as_bytes())
    }
}

static BY_HASH: LazyLock<BTreeMap<B256, &'static str>> =
    LazyLock::new(|| KNOWN_ROLES.iter().map(|n| (role_id(n), *n)).collect());

/// The catalog's name of a role hash, if it knows one.
pub fn known_name(role: &B256) -> Option<&'static str> {
    BY_HASH.get(role).copied()
}

/// A role as people read it: the name the group's manifest gives it (`declared`, looked up by
/// hash), else the catalog's, else the hash in 0x-hex.
pub fn role_label(role: &B256, declared: impl Fn(&B256) -> Option<String>) -> String {
    declared(role)
        .or_else(|| known_name(role).map(String::from))
        .unwrap_or_else(|| role.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::b256;

    #[test]
    fn well_known_roles_are_named_by_their_hash() {
        assert_eq!(known_name(&B256::ZERO), Some("DEFAULT_ADMIN_ROLE"));
        assert_eq!(
            known_name(&b256!(
                "b09aa5aeb3702cfd50b6b62bc4532604938f21248a27a1d5ca736082b6819cc1"
            )),
            Some("PROPOSER_ROLE")
        );
        assert_eq!(
            known_name(&b256!(
                "9f2df0fed2c77648de5860a4cc508cd0818c85b8b8a1ab4ceeef8d981c8956a6"
            )),
            Some("MINTER_ROLE")
        );
        assert_eq!(known_name(&keccak256("NOBODY_KNOWS_ROLE")), None);
    }

    #[test]
    fn the_manifest_name_wins_and_an_unknown_hash_shows_itself() {
        let minter = role_id("MINTER_ROLE");
        let unknown = keccak256("SECRET_ROLE");
        let declared = |r: &B256| (*r == unknown).then(|| "SECRET_ROLE".to_string());
        assert_eq!(role_label(&minter, declared), "MINTER_ROLE");
        assert_eq!(role_label(&unknown, declared), "SECRET_ROLE");
        assert_eq!(role_label(&unknown, |_| None), unknown.to_string());
        assert!(role_label(&unknown, |_| None).starts_with("0x"));
        assert_eq!(role_label(&B256::ZERO, |_| None), "DEFAULT_ADMIN_ROLE");
    }

    #[test]
    fn names_are_unique() {
        assert_eq!(BY_HASH.len(), KNOWN_ROLES.len());
    }
}
