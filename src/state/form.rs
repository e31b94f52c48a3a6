//! An observed structure written in the form its declaration takes, so the two sides read
//! alike: numbers in decimal (`1`, not `0x1`), amounts as decimal strings, addresses
//! checksummed, a timelock's role holders under `proposers`, `executors`, `cancellers` and
//! `admins`, and every other role by its name — the manifest's, else the catalog's
//! ([`crate::roles_catalog`]), else its hash.
//!
//! Invariant: pure, and lossless where the declaration has a field for it; the stored (raw)
//! form stays the one the follower reconciles, and the API serves it beside this one.

use std::collections::{BTreeMap, BTreeSet};

use alloy::primitives::{Address, B256, U256};
use serde_json::{json, Map, Value};

use crate::manifest::{Manifest, RoleDecl};
use crate::observe::{GovernorState, Observed, OwnableState, RolesState, SafeState, TimelockState};
use crate::roles_catalog::{
    role_id, role_label, CANCELLER_ROLE, DEFAULT_ADMIN_ROLE, EXECUTOR_ROLE, PROPOSER_ROLE,
};

/// `observed`, of the contract at `address`, in the form of its declaration in `manifest`.
pub fn declared_form(manifest: &Manifest, address: Address, observed: &Observed) -> Value {
    let declared_role = |role: &B256| -> Option<String> {
        manifest
            .role_contract(&address)
            .and_then(|r: &RoleDecl| r.role(role))
            .map(|r| r.name.clone())
    };
    match observed {
        Observed::Safe(s) => safe(s),
        Observed::Governor(g) => governor(g),
        Observed::Timelock(t) => timelock(address, t, &declared_role),
        Observed::Roles(r) => roles(r, manifest.role_contract(&address), &declared_role),
        Observed::Ownable(o) => ownable(o),
    }
}

fn address(a: &Address) -> Value {
    Value::String(a.to_checksum(None))
}

fn addresses<'a>(list: impl IntoIterator<Item = &'a Address>) -> Value {
    Value::Array(list.into_iter().map(address).collect())
}

/// A count or a setting: a JSON number when it fits 64 bits, else its decimal string.
fn number(n: &U256) -> Value {
    match u64::try_from(*n) {
        Ok(n) => json!(n),
        Err(_) => Value::String(n.to_string()),
    }
}

/// What a not yet deployed contract shows beside its (empty) fields.
fn deployment(map: &mut Map<String, Value>, deployed: bool) {
    if !deployed {
        map.insert("deployed".into(), Value::Bool(false));
    }
}

fn safe(s: &SafeState) -> Value {
    let mut map = Map::new();
    map.insert("owners".into(), addresses(&s.owners));
    map.insert("threshold".into(), json!(s.threshold));
    map.insert("modules".into(), addresses(&s.modules));
    if s.guard != Address::ZERO {
        map.insert("guard".into(), address(&s.guard));
    }
    if s.fallback_handler != Address::ZERO {
        map.insert("fallback_handler".into(), address(&s.fallback_handler));
    }
    if s.singleton != Address::ZERO {
        map.insert("singleton".into(), address(&s.singleton));
    }
    if s.not_a_safe {
        map.insert("not_a_safe".into(), Value::Bool(true));
    }
    deployment(&mut map, s.deployed);
    Value::Object(map)
}

fn governor(g: &GovernorState) -> Value {
    let mut map = Map::new();
    if let Some(t) = &g.timelock {
        map.insert("timelock".into(), address(t));
    }
    for (name, value) in [
        ("voting_delay", &g.voting_delay),
        ("voting_period", &g.voting_period),
        ("quorum_numerator", &g.quorum_numerator),
    ] {
        if let Some(v) = value {
            map.insert(name.into(), number(v));
        }
    }
    if let Some(v) = &g.proposal_threshold {
        // An amount, as the manifest writes one: a decimal string.
        map.insert("proposal_threshold".into(), Value::String(v.to_string()));
    }
    deployment(&mut map, g.deployed);
    Value::Object(map)
}

fn timelock(
    self_address: Address,
    t: &TimelockState,
    declared: &dyn Fn(&B256) -> Option<String>,
) -> Value {
    let mut map = Map::new();
    if let Some(d) = &t.min_delay {
        map.insert("min_delay".into(), number(d));
    }
    let mut shown = BTreeSet::new();
    for (field, role) in [
        ("proposers", PROPOSER_ROLE),
        ("executors", EXECUTOR_ROLE),
        ("cancellers", CANCELLER_ROLE),
        ("admins", DEFAULT_ADMIN_ROLE),
    ] {
        let hash = role_id(role);
        shown.insert(hash);
        let holders = t.roles.holders(&hash);
        // The manifest lists admins other than the timelock, which administers itself.
        let holders = holders
            .iter()
            .filter(|a| field != "admins" || **a != self_address);
        map.insert(field.into(), addresses(holders));
    }
    let others: BTreeMap<String, Value> = t
        .roles
        .members
        .iter()
        .filter(|(role, _)| !shown.contains(*role))
        .map(|(role, holders)| (role_label(role, declared), addresses(holders)))
        .collect();
    if !others.is_empty() {
        map.insert("other_roles".into(), json!(others));
    }
    if let Some(admins) = role_admins(&t.roles, declared) {
        map.insert("role_admins".into(), admins);
    }
    deployment(&mut map, t.deployed);
    Value::Object(map)
}

/// The roles whose admin is not `DEFAULT_ADMIN_ROLE`, by name, if any.
fn role_admins(r: &RolesState, declared: &dyn Fn(&B256) -> Option<String>) -> Option<Value> {
    (!r.admins.is_empty()).then(|| {
        let admins: BTreeMap<String, String> = r
            .admins
            .iter()
            .map(|(role, admin)| (role_label(role, declared), role_label(admin, declared)))
            .collect();
        json!(admins)
    })
}

fn roles(
    r: &RolesState,
    decl: Option<&RoleDecl>,
    declared: &dyn Fn(&B256) -> Option<String>,
) -> Value {
    let mut map = Map::new();
    // Named as the manifest names them; a declared role nobody holds shows as empty.
    let declared_roles: Vec<B256> = match decl {
        Some(RoleDecl::AccessControl { members, .. }) => members.keys().copied().collect(),
        _ => Vec::new(),
    };
    let empty = BTreeSet::new();
    let roles: BTreeSet<B256> = r.members.keys().copied().chain(declared_roles).collect();
    let members: BTreeMap<String, Value> = roles
        .iter()
        .map(|role| {
            let holders = r.members.get(role).unwrap_or(&empty);
            (role_label(role, declared), addresses(holders))
        })
        .collect();
    map.insert("members".into(), json!(members));
    if let Some(admins) = role_admins(r, declared) {
        map.insert("admins".into(), admins);
    }
    deployment(&mut map, r.deployed);
    Value::Object(map)
}

fn ownable(o: &OwnableState) -> Value {
    let mut map = Map::new();
    map.insert(
        "owner".into(),
        o.owner.as_ref().map(address).unwrap_or(Value::Null),
    );
    if let Some(p) = &o.pending_owner {
        map.insert("pending_owner".into(), address(p));
    }
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::keccak256;

    const SAFE: Address = Address::repeat_byte(0xaa);
    const GOVERNOR: Address = Address::repeat_byte(0xbb);
    const TIMELOCK: Address = Address::repeat_byte(0xcc);
    const TOKEN: Address = Address::repeat_byte(0xdd);
    const A: Address = Address::repeat_byte(0x01);
    const B: Address = Address::repeat_byte(0x02);

    fn manifest() -> Manifest {
        let yaml = format!(
            "id: g\nname: G\npurpose: Testing.\nphase: coordination\nchain: local\nstart_block: 0\n\
             treasury:\n  safes:\n    - address: \"{SAFE}\"\n      owners: [\"{A}\"]\n      threshold: 1\n\
             governance:\n  governors:\n    - {{ address: \"{GOVERNOR}\", timelock: \"{TIMELOCK}\", voting_delay: 1, voting_period: 10, proposal_threshold: \"0\", quorum_numerator: 4 }}\n\
             \x20 timelocks:\n    - {{ address: \"{TIMELOCK}\", min_delay: 172800, proposers: [\"{GOVERNOR}\"], executors: [\"{}\"], cancellers: [\"{GOVERNOR}\"] }}\n\
             roles:\n  - contract: \"{TOKEN}\"\n    members: {{ DEFAULT_ADMIN_ROLE: [\"{A}\"], MINTER_ROLE: [\"{A}\"], \"{}\": [] }}\n",
            Address::ZERO,
            keccak256("TEAM_ROLE"),
        );
        Manifest::parse(&yaml).unwrap()
    }

    fn members(pairs: &[(B256, &[Address])]) -> BTreeMap<B256, BTreeSet<Address>> {
        pairs
            .iter()
            .map(|(r, a)| (*r, a.iter().copied().collect()))
            .collect()
    }

    #[test]
    fn governor_settings_read_in_decimal() {
        let g = GovernorState {
            deployed: true,
            voting_delay: Some(U256::from(1)),
            voting_period: Some(U256::from(10)),
            proposal_threshold: Some(U256::from(10).pow(U256::from(24))),
            quorum_numerator: Some(U256::from(4)),
            timelock: Some(TIMELOCK),
        };
        let raw = serde_json::to_value(&g).unwrap();
        assert_eq!(raw["voting_delay"], "0x1", "the stored form is hex");
        let v = declared_form(&manifest(), GOVERNOR, &Observed::Governor(g));
        assert_eq!(
            v,
            json!({
                "timelock": TIMELOCK.to_checksum(None),
                "voting_delay": 1,
                "voting_period": 10,
                "quorum_numerator": 4,
                "proposal_threshold": "1000000000000000000000000",
            })
        );
        // Beyond 64 bits: a decimal string.
        assert_eq!(number(&U256::MAX), json!(U256::MAX.to_string()));
    }

    #[test]
    fn timelock_holders_stand_under_the_declared_rows() {
        let stranger = keccak256("STRANGE_ROLE");
        let t = TimelockState {
            deployed: true,
            min_delay: Some(U256::from(172_800)),
            roles: RolesState {
                deployed: true,
                members: members(&[
                    (role_id(PROPOSER_ROLE), &[GOVERNOR, B][..]),
                    (role_id(EXECUTOR_ROLE), &[Address::ZERO][..]),
                    (role_id(CANCELLER_ROLE), &[GOVERNOR][..]),
                    (B256::ZERO, &[TIMELOCK, A][..]),
                    (role_id("TIMELOCK_ADMIN_ROLE"), &[A][..]),
                    (stranger, &[B][..]),
                ]),
                admins: [(stranger, role_id(PROPOSER_ROLE))].into(),
            },
        };
        let v = declared_form(&manifest(), TIMELOCK, &Observed::Timelock(t));
        let c = |a: Address| a.to_checksum(None);
        assert_eq!(v["min_delay"], 172_800);
        assert_eq!(v["proposers"], json!([c(B), c(GOVERNOR)]));
        assert_eq!(v["executors"], json!([c(Address::ZERO)]));
        assert_eq!(v["cancellers"], json!([c(GOVERNOR)]));
        // The timelock administers itself: not listed, as the manifest does not list it.
        assert_eq!(v["admins"], json!([c(A)]));
        assert_eq!(
            v["other_roles"],
            json!({ "TIMELOCK_ADMIN_ROLE": [c(A)], stranger.to_string(): [c(B)] })
        );
        assert_eq!(
            v["role_admins"],
            json!({ stranger.to_string(): "PROPOSER_ROLE" })
        );
        assert!(v.get("deployed").is_none());
    }

    #[test]
    fn roles_are_named_by_the_manifest_then_the_catalog() {
        let team = keccak256("TEAM_ROLE");
        let unknown = keccak256("UNKNOWN_ROLE");
        let r = RolesState {
            deployed: true,
            members: members(&[
                (B256::ZERO, &[A][..]),
                (role_id("MINTER_ROLE"), &[A, B][..]),
                (role_id("PAUSER_ROLE"), &[B][..]),
                (unknown, &[B][..]),
            ]),
            admins: BTreeMap::new(),
        };
        let v = declared_form(&manifest(), TOKEN, &Observed::Roles(r));
        let c = |a: Address| a.to_checksum(None);
        assert_eq!(
            v,
            json!({"members": {
                "DEFAULT_ADMIN_ROLE": [c(A)],
                "MINTER_ROLE": [c(A), c(B)],
                // Not declared, known to the catalog.
                "PAUSER_ROLE": [c(B)],
                // Declared by its hash, held by nobody: as the manifest writes it, empty.
                team.to_string(): [],
                // Neither declared nor known: its hash.
                unknown.to_string(): [c(B)],
            }})
        );
    }

    #[test]
    fn safes_and_owners_read_as_declared() {
        let s = SafeState {
            deployed: true,
            owners: [B, A].into(),
            threshold: 1,
            ..SafeState::default()
        };
        let v = declared_form(&manifest(), SAFE, &Observed::Safe(s));
        let c = |a: Address| a.to_checksum(None);
        assert_eq!(
            v,
            json!({"owners": [c(A), c(B)], "threshold": 1, "modules": []})
        );
        let o = OwnableState {
            owner: Some(A),
            pending_owner: None,
        };
        assert_eq!(
            declared_form(&manifest(), TOKEN, &Observed::Ownable(o)),
            json!({"owner": c(A)})
        );
        let undeployed = declared_form(&manifest(), SAFE, &Observed::Safe(SafeState::default()));
        assert_eq!(undeployed["deployed"], false);
    }
}
