//! Declared beside observed as rows for people: each field of a contract with both sides as
//! nested cells, each leaf a disagreement names marked, addresses with a short form
//! (`0x1234…abcd`), and the governor's periods and the timelock's delay read in human units
//! (`50400 blocks ≈ 7 d`, `172800 s = 2 d`). Plain values, no markup: the status page and
//! `groupstate group state` lay them out.
//!
//! Invariant: pure; what a row shows is computed from a [`ContractState`] and the chain's
//! block time only, so the page and the CLI never disagree.

use std::time::Duration;

use alloy::primitives::Address;
use serde_json::Value;

use super::{ContractState, Disagreement};
use crate::model::ContractKind;

/// An address as people read it in a table: `0x1234…abcd` (the full value goes beside it, on
/// hover or in a link); `None` if `s` is no address.
pub fn short_address(s: &str) -> Option<String> {
    (s.len() == 42 && s.parse::<Address>().is_ok()).then(|| format!("{}…{}", &s[..6], &s[38..]))
}

/// Addresses as the manifest shows them (checksummed), whichever side they come from; other
/// text as it is.
pub fn checksummed(s: &str) -> String {
    match s.parse::<Address>() {
        Ok(a) if s.len() == 42 => a.to_checksum(None),
        _ => s.to_string(),
    }
}

/// A span of seconds in the largest two units that say it: `7 d`, `1 d 12 h`, `2 h 30 min`,
/// `45 s`.
pub fn human_duration(seconds: u64) -> String {
    const UNITS: [(u64, &str); 4] = [(86_400, "d"), (3_600, "h"), (60, "min"), (1, "s")];
    let Some(i) = UNITS.iter().position(|(size, _)| seconds >= *size) else {
        return "0 s".to_string();
    };
    let (size, name) = UNITS[i];
    let mut text = format!("{} {name}", seconds / size);
    if let Some((next, next_name)) = UNITS.get(i + 1) {
        let rest = seconds % size / next;
        if rest > 0 {
            text.push_str(&format!(" {rest} {next_name}"));
        }
    }
    text
}

/// What a number of a field means in time, after the number: `blocks ≈ 7 d` for a governor's
/// delay and period (in blocks, read at the chain's block time when it is known), `s = 2 d` for
/// a timelock's delay (in seconds).
pub fn duration_unit(
    kind: ContractKind,
    field: &str,
    value: u64,
    block_time: Option<Duration>,
) -> Option<String> {
    match (kind, field) {
        (ContractKind::Governor, "voting_delay" | "voting_period") => {
            let blocks = if value == 1 { "block" } else { "blocks" };
            Some(match block_time {
                Some(t) => {
                    let secs = (t.as_secs_f64() * value as f64).round() as u64;
                    format!("{blocks} ≈ {}", human_duration(secs))
                }
                None => blocks.to_string(),
            })
        }
        (ContractKind::Timelock, "min_delay") if value >= 60 => {
            Some(format!("s = {}", human_duration(value)))
        }
        (ContractKind::Timelock, "min_delay") => Some("s".to_string()),
        _ => None,
    }
}

/// One value of a side, as shown.
pub struct Leaf<'a> {
    /// The value in full: an address checksummed, a number in decimal, text as it is.
    pub text: String,
    /// An address's short form, shown with the full value beside it (on hover, in a link).
    pub short: Option<String>,
    /// What the number means in time (see [`duration_unit`]), shown after it.
    pub unit: Option<String>,
    /// The rule of the disagreement that names this value, if one does.
    pub mark: Option<&'a str>,
}

impl Leaf<'_> {
    /// The value with its unit: `50400 blocks ≈ 7 d`.
    pub fn with_unit(&self, text: &str) -> String {
        match &self.unit {
            Some(unit) => format!("{text} {unit}"),
            None => text.to_string(),
        }
    }
}

/// One side of a contract's field: a JSON value as nested lists.
pub enum Cell<'a> {
    Null,
    /// An empty list or map.
    Empty,
    Leaf(Leaf<'a>),
    List(Vec<Cell<'a>>),
    Map(Vec<(&'a str, Cell<'a>)>),
}

impl<'a> Cell<'a> {
    fn of(v: &'a Value, marks: &'a [Disagreement]) -> Cell<'a> {
        let leaf = |text: String, raw: &str| {
            Cell::Leaf(Leaf {
                short: short_address(&text),
                text,
                unit: None,
                mark: marks
                    .iter()
                    .find(|d| names_item(d, raw))
                    .map(|d| d.rule.as_str()),
            })
        };
        match v {
            Value::Null => Cell::Null,
            Value::String(s) => leaf(checksummed(s), s),
            Value::Array(items) if items.is_empty() => Cell::Empty,
            Value::Array(items) => Cell::List(items.iter().map(|i| Cell::of(i, marks)).collect()),
            Value::Object(map) if map.is_empty() => Cell::Empty,
            Value::Object(map) => Cell::Map(
                map.iter()
                    .map(|(k, i)| (k.as_str(), Cell::of(i, marks)))
                    .collect(),
            ),
            other => {
                let s = other.to_string();
                leaf(s.clone(), &s)
            }
        }
    }

    /// Whether a disagreement marks a leaf of this cell.
    pub fn marked(&self) -> bool {
        match self {
            Cell::Leaf(leaf) => leaf.mark.is_some(),
            Cell::List(items) => items.iter().any(Cell::marked),
            Cell::Map(items) => items.iter().any(|(_, c)| c.marked()),
            Cell::Null | Cell::Empty => false,
        }
    }

    /// A number's unit of time, if the field has one.
    fn with_unit(mut self, kind: Option<ContractKind>, field: &str, bt: Option<Duration>) -> Self {
        if let (Cell::Leaf(leaf), Some(kind)) = (&mut self, kind) {
            if let Ok(n) = leaf.text.parse::<u64>() {
                leaf.unit = duration_unit(kind, field, n, bt);
            }
        }
        self
    }
}

/// What the last column of a field's row says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    Differs,
    Agrees,
    /// One side is missing: nothing to compare.
    Blank,
}

/// The role whose holders a timelock's field lists (`proposers`: `PROPOSER_ROLE`).
pub fn timelock_field_role(field: &str) -> Option<&'static str> {
    use crate::roles_catalog::{CANCELLER_ROLE, DEFAULT_ADMIN_ROLE, EXECUTOR_ROLE, PROPOSER_ROLE};
    match field {
        "proposers" => Some(PROPOSER_ROLE),
        "executors" => Some(EXECUTOR_ROLE),
        "cancellers" => Some(CANCELLER_ROLE),
        "admins" => Some(DEFAULT_ADMIN_ROLE),
        _ => None,
    }
}

/// A field of a contract, declared beside observed.
pub struct FieldRow<'a> {
    pub field: &'a str,
    /// The role the field's holders hold, for a timelock's `proposers`, `executors`,
    /// `cancellers` and `admins`.
    pub role: Option<&'static str>,
    pub declared: Option<Cell<'a>>,
    pub observed: Option<Cell<'a>>,
    pub check: Check,
}

/// The fields of both sides of a contract, declared order first; `block_time` reads the
/// governor's periods in time.
pub fn field_rows<'a>(c: &'a ContractState, block_time: Option<Duration>) -> Vec<FieldRow<'a>> {
    let kind = ContractKind::parse(&c.kind);
    let declared = c.declared.as_object();
    let observed = c.observed.as_ref().and_then(Value::as_object);
    let declared_keys = declared.into_iter().flat_map(|m| m.keys());
    let observed_keys = observed.into_iter().flat_map(|m| m.keys());
    let fields = declared_keys
        .filter(|k| *k != "address" && *k != "contract")
        .chain(observed_keys.filter(|k| !declared.is_some_and(|m| m.contains_key(*k))));
    fields
        .map(|field| {
            let cell = |side: Option<&'a serde_json::Map<String, Value>>| {
                side.and_then(|m| m.get(field))
                    .map(|v| Cell::of(v, &c.disagreements).with_unit(kind, field, block_time))
            };
            let (declared, observed) = (cell(declared), cell(observed));
            let marked = declared.iter().chain(&observed).any(Cell::marked);
            let check = if marked || c.disagreements.iter().any(|d| about_field(d, field)) {
                Check::Differs
            } else if declared.is_some() && observed.is_some() {
                Check::Agrees
            } else {
                Check::Blank
            };
            FieldRow {
                field,
                role: timelock_field_role(field).filter(|_| kind == Some(ContractKind::Timelock)),
                declared,
                observed,
                check,
            }
        })
        .collect()
}

/// Whether a string shown is what a disagreement is about: its item, or the last part of an
/// item such as `MINTER_ROLE:0x…` or `voting_delay=5`.
fn names_item(d: &Disagreement, s: &str) -> bool {
    let item = d.item.as_str();
    !item.is_empty()
        && (item.eq_ignore_ascii_case(s)
            || item
                .rsplit([':', '='])
                .next()
                .is_some_and(|last| last.eq_ignore_ascii_case(s)))
}

/// Whether a disagreement is about a field of the declaration: `safe.owner_undeclared` is about
/// `owners`, `safe.threshold_mismatch` about `threshold`, `voting_delay=5` about `voting_delay`,
/// `PROPOSER_ROLE:0x…` (a timelock's) about `proposers`.
fn about_field(d: &Disagreement, field: &str) -> bool {
    let subject = d
        .rule
        .split_once('.')
        .map(|(_, r)| r.split('_').next().unwrap_or(r))
        .unwrap_or("");
    let singular = field.strip_suffix('s').unwrap_or(field);
    (!subject.is_empty() && (subject == field || subject == singular))
        || d.item
            .strip_prefix(field)
            .is_some_and(|r| r.starts_with('=') || r.starts_with(':'))
        || (d.rule.starts_with("timelock.")
            && timelock_field_role(field).is_some_and(|role| {
                d.item
                    .strip_prefix(role)
                    .is_some_and(|r| r.starts_with(':'))
            }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn durations_read_in_human_units() {
        assert_eq!(human_duration(0), "0 s");
        assert_eq!(human_duration(45), "45 s");
        assert_eq!(human_duration(172_800), "2 d");
        assert_eq!(human_duration(604_800), "7 d");
        assert_eq!(human_duration(129_600), "1 d 12 h");
        assert_eq!(human_duration(9_000), "2 h 30 min");
        let twelve = Some(Duration::from_secs(12));
        assert_eq!(
            duration_unit(ContractKind::Governor, "voting_period", 50_400, twelve).as_deref(),
            Some("blocks ≈ 7 d")
        );
        assert_eq!(
            duration_unit(ContractKind::Governor, "voting_delay", 1, twelve).as_deref(),
            Some("block ≈ 12 s")
        );
        assert_eq!(
            duration_unit(ContractKind::Governor, "voting_period", 10, None).as_deref(),
            Some("blocks")
        );
        assert_eq!(
            duration_unit(ContractKind::Timelock, "min_delay", 172_800, None).as_deref(),
            Some("s = 2 d")
        );
        assert_eq!(
            duration_unit(ContractKind::Timelock, "min_delay", 2, None).as_deref(),
            Some("s")
        );
        assert_eq!(
            duration_unit(ContractKind::Governor, "quorum_numerator", 4, twelve),
            None
        );
    }

    #[test]
    fn addresses_are_shortened() {
        let a = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
        assert_eq!(short_address(a).as_deref(), Some("0x5FbD…0aa3"));
        assert_eq!(short_address("0x01"), None);
        assert_eq!(short_address("MINTER_ROLE"), None);
    }

    #[test]
    fn timelock_rows_carry_units_and_marks() {
        let governor = "0x00000000000000000000000000000000000000Bb";
        let intruder = Address::repeat_byte(0x0e).to_checksum(None);
        let c = ContractState {
            address: "0x00000000000000000000000000000000000000cc".into(),
            kind: "timelock".into(),
            declared: json!({"min_delay": 172800, "proposers": [governor]}),
            observed: Some(json!({"min_delay": 172800, "proposers": [governor, intruder]})),
            observed_raw: None,
            observed_block: Some(1),
            observed_source: Some("snapshot".into()),
            disagreements: vec![Disagreement {
                rule: "timelock.role_undeclared".into(),
                severity: "critical".into(),
                item: format!("PROPOSER_ROLE:{intruder}"),
                expected: String::new(),
                observed: String::new(),
            }],
        };
        let rows = field_rows(&c, None);
        let fields: Vec<&str> = rows.iter().map(|r| r.field).collect();
        assert_eq!(fields, ["min_delay", "proposers"]);
        assert_eq!(rows[1].role, Some("PROPOSER_ROLE"));
        let Some(Cell::Leaf(delay)) = &rows[0].observed else {
            panic!("a leaf")
        };
        assert_eq!(delay.with_unit(&delay.text), "172800 s = 2 d");
        assert_eq!(rows[0].check, Check::Agrees);
        assert_eq!(rows[1].check, Check::Differs);
        let Some(Cell::List(holders)) = &rows[1].observed else {
            panic!("a list")
        };
        let Cell::Leaf(second) = &holders[1] else {
            panic!("a leaf")
        };
        assert_eq!(second.mark, Some("timelock.role_undeclared"));
        let short = format!("{}…{}", &intruder[..6], &intruder[38..]);
        assert_eq!(second.short.as_deref(), Some(short.as_str()));
    }
}
