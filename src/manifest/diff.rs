//! What changed between two versions of a group's manifest, structurally: owners added or
//! removed, a threshold, modules, governors and timelocks and their settings, role members,
//! spending policy, and the document's own fields — a pure function of two [`Manifest`]s.
//!
//! Invariant: the changes come in a stable order (document fields, Safes, policy, governors,
//! timelocks, roles, code, agreements, ratification requirement; entries in address order,
//! an entry's keys in alphabetical order), and no change is listed for two manifests with the
//! same hash.

use std::collections::BTreeMap;

use alloy::primitives::Address;
use serde::Serialize;
use serde_json::Value;

use super::Manifest;

/// One difference between two versions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Change {
    /// `document`, `treasury`, `policy`, `governance`, `roles`, `code`, `agreements` or
    /// `ratification`.
    pub section: String,
    /// What changed: a field (`name`), or a contract and its key (`safe 0x… owners`).
    pub subject: String,
    /// How: `added 0x…`, `removed 0x…`, `2 → 3`, `added`, `removed`.
    pub change: String,
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.subject, self.change)
    }
}

/// Every structural difference from `old` to `new` (empty when they say the same thing).
pub fn diff(old: &Manifest, new: &Manifest) -> Vec<Change> {
    let mut out = Diff(Vec::new());
    let field = |m: &Manifest, k: &str| -> Value {
        match k {
            "name" => Value::from(m.name.clone()),
            "purpose" => Value::from(m.purpose.clone()),
            "phase" => Value::from(m.phase.as_str()),
            _ => Value::from(m.start_block),
        }
    };
    for key in ["name", "purpose", "phase", "start_block"] {
        out.value("document", key, &field(old, key), &field(new, key));
    }
    let safes = |m: &Manifest| keyed(m.treasury.safes.iter().map(|s| (s.address, json(s))));
    out.entries("treasury", "safe", &safes(old), &safes(new));
    out.value(
        "policy",
        "policy",
        &json(&old.treasury.policy),
        &json(&new.treasury.policy),
    );
    let governors =
        |m: &Manifest| keyed(m.governance.governors.iter().map(|g| (g.address, json(g))));
    out.entries("governance", "governor", &governors(old), &governors(new));
    let timelocks =
        |m: &Manifest| keyed(m.governance.timelocks.iter().map(|t| (t.address, json(t))));
    out.entries("governance", "timelock", &timelocks(old), &timelocks(new));
    let roles = |m: &Manifest| keyed(m.roles.iter().map(|r| (r.contract(), json(r))));
    out.entries("roles", "roles of", &roles(old), &roles(new));
    let code = |m: &Manifest| keyed(m.code.iter().map(|(a, c)| (*a, json(c))));
    out.entries("code", "code of", &code(old), &code(new));
    out.value(
        "agreements",
        "agreements",
        &json(&old.agreements),
        &json(&new.agreements),
    );
    out.value(
        "ratification",
        "require_ratification",
        &Value::from(old.require_ratification),
        &Value::from(new.require_ratification),
    );
    out.0
}

fn json<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

fn keyed(entries: impl Iterator<Item = (Address, Value)>) -> BTreeMap<Address, Value> {
    entries.collect()
}

struct Diff(Vec<Change>);

impl Diff {
    fn push(&mut self, section: &str, subject: &str, change: String) {
        self.0.push(Change {
            section: section.to_string(),
            subject: subject.to_string(),
            change,
        });
    }

    /// Entries keyed by contract: added, removed, or changed key by key.
    fn entries(
        &mut self,
        section: &str,
        kind: &str,
        old: &BTreeMap<Address, Value>,
        new: &BTreeMap<Address, Value>,
    ) {
        let addresses: std::collections::BTreeSet<&Address> =
            old.keys().chain(new.keys()).collect();
        for a in addresses {
            let subject = format!("{kind} {a}");
            match (old.get(a), new.get(a)) {
                (None, Some(_)) => self.push(section, &subject, "added".into()),
                (Some(_), None) => self.push(section, &subject, "removed".into()),
                (Some(o), Some(n)) => self.value(section, &subject, o, n),
                (None, None) => {}
            }
        }
    }

    /// Two values at `subject`: objects key by key, lists of strings item by item, anything
    /// else as `old → new`.
    fn value(&mut self, section: &str, subject: &str, old: &Value, new: &Value) {
        if old == new {
            return;
        }
        match (old, new) {
            (Value::Object(o), Value::Object(n)) => {
                let mut keys: Vec<&String> = o.keys().collect();
                keys.extend(n.keys().filter(|k| !o.contains_key(*k)));
                for k in keys {
                    if k == "address" || k == "contract" {
                        continue;
                    }
                    let none = Value::Null;
                    let at = format!("{subject} {k}");
                    let at = at.trim_start_matches(' ');
                    self.value(
                        section,
                        at,
                        o.get(k).unwrap_or(&none),
                        n.get(k).unwrap_or(&none),
                    );
                }
            }
            (Value::Array(o), Value::Array(n)) if strings(o) && strings(n) => {
                for item in n.iter().filter(|i| !o.contains(i)) {
                    self.push(section, subject, format!("added {}", text(item)));
                }
                for item in o.iter().filter(|i| !n.contains(i)) {
                    self.push(section, subject, format!("removed {}", text(item)));
                }
            }
            (Value::Null, Value::Array(n)) if strings(n) => {
                self.value(section, subject, &Value::Array(vec![]), new)
            }
            (Value::Array(o), Value::Null) if strings(o) => {
                self.value(section, subject, old, &Value::Array(vec![]))
            }
            _ => self.push(section, subject, format!("{} → {}", text(old), text(new))),
        }
    }
}

fn strings(items: &[Value]) -> bool {
    items.iter().all(Value::is_string)
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => "none".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const SAFE: &str = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
    const A: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
    const B: &str = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
    const C: &str = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC";
    const D: &str = "0x90F79bf6EB2c4f870365E785982E1f101E93b906";
    const GOV: &str = "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0";

    fn manifest(change: impl FnOnce(&mut Value)) -> Manifest {
        let mut v = json!({
            "id": "river-guild", "name": "River Guild", "purpose": "Tooling.",
            "phase": "coordination", "chain": "local",
            "treasury": {"safes": [{"address": SAFE, "owners": [A, B, C], "threshold": 2}]},
        });
        change(&mut v);
        Manifest::parse(&v.to_string()).unwrap()
    }

    fn lines(old: &Manifest, new: &Manifest) -> Vec<String> {
        diff(old, new).iter().map(ToString::to_string).collect()
    }

    #[test]
    fn the_same_document_has_no_changes() {
        let m = manifest(|_| {});
        assert!(diff(&m, &m.clone()).is_empty());
    }

    #[test]
    fn owners_threshold_and_modules_are_listed_one_by_one() {
        let old = manifest(|_| {});
        let new = manifest(|v| {
            v["treasury"]["safes"][0]["owners"] = json!([A, B, D]);
            v["treasury"]["safes"][0]["threshold"] = json!(3);
            v["treasury"]["safes"][0]["modules"] = json!([GOV]);
        });
        assert_eq!(
            lines(&old, &new),
            [
                format!("safe {SAFE} modules: added {GOV}"),
                format!("safe {SAFE} owners: added {D}"),
                format!("safe {SAFE} owners: removed {C}"),
                format!("safe {SAFE} threshold: 2 → 3"),
            ]
        );
        assert!(diff(&old, &new).iter().all(|c| c.section == "treasury"));
    }

    #[test]
    fn document_fields_policy_governance_roles_and_the_requirement() {
        let old = manifest(|_| {});
        let new = manifest(|v| {
            v["name"] = json!("River Guild II");
            v["phase"] = json!("completion");
            v["treasury"]["policy"] = json!({"max_outflow": {"native": "10"}});
            v["governance"] = json!({"governors": [{"address": GOV, "voting_delay": 1,
                "voting_period": 10, "proposal_threshold": "0", "quorum_numerator": 4}],
                "timelocks": []});
            v["roles"] = json!([{"contract": D, "owner": A}]);
            v["require_ratification"] = json!(true);
        });
        let l = lines(&old, &new);
        assert_eq!(
            l,
            [
                "name: River Guild → River Guild II".to_string(),
                "phase: coordination → completion".to_string(),
                "policy max_outflow native: none → 10".to_string(),
                format!("governor {GOV}: added"),
                format!("roles of {D}: added"),
                "require_ratification: false → true".to_string(),
            ]
        );
        // And back: a settings change of a governor, a role's new owner.
        let newer = manifest(|v| {
            v["governance"] = json!({"governors": [{"address": GOV, "voting_delay": 2,
                "voting_period": 10, "proposal_threshold": "0", "quorum_numerator": 4}],
                "timelocks": []});
            v["roles"] = json!([{"contract": D, "owner": B}]);
        });
        assert_eq!(
            lines(&new, &newer),
            [
                "name: River Guild II → River Guild".to_string(),
                "phase: completion → coordination".to_string(),
                "policy max_outflow native: 10 → none".to_string(),
                format!("governor {GOV} voting_delay: 1 → 2"),
                format!("roles of {D} owner: {A} → {B}"),
                "require_ratification: true → false".to_string(),
            ]
        );
    }
}
