//! What the page computes from its data before any markup: counts, the rows of each contract's
//! table with the disagreement marking each value, evidence links, times and short hashes.
//! Plain values, no HTML: the templates in [`super::render`] lay them out and escape them.

use alloy::primitives::Address;
use serde_json::Value;

use super::{PageView, MAX_DIVERGENCES};
use crate::decisions::Evidence;
use crate::state::{ContractState, Disagreement, GroupState};
use crate::store::{Divergence, DivergenceStatus};

/// Unix seconds as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn utc(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// A stored time (unix seconds as text) for people, or the text as it is.
pub(super) fn stored_time(s: &str) -> String {
    s.parse::<i64>().map(utc).unwrap_or_else(|_| s.to_string())
}

/// Now, for people.
pub(super) fn now() -> String {
    let unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default();
    utc(unix)
}

/// Percent-encodes a path segment or query value.
pub(super) fn url_part(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A hash shortened to its first ten and last four characters.
pub(super) fn short(hash: &str) -> String {
    if hash.len() > 14 {
        format!("{}…{}", &hash[..10], &hash[hash.len() - 4..])
    } else {
        hash.to_string()
    }
}

/// Addresses as the manifest shows them (checksummed), whichever side they come from; other
/// text as it is.
pub(super) fn checksummed(s: &str) -> String {
    match s.parse::<Address>() {
        Ok(a) if s.len() == 42 => a.to_checksum(None),
        _ => s.to_string(),
    }
}

/// A JSON value as text: strings bare, null empty.
pub(super) fn json_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The page's one-line verdict.
pub(super) struct Verdict {
    pub consistent: bool,
    pub disagreements: usize,
    /// Contracts the follower has not observed yet.
    pub unobserved: usize,
}

impl Verdict {
    pub fn of(state: &GroupState) -> Verdict {
        Verdict {
            consistent: state.consistent,
            disagreements: state.contracts.iter().map(|c| c.disagreements.len()).sum(),
            unobserved: state
                .contracts
                .iter()
                .filter(|c| c.observed.is_none())
                .count(),
        }
    }
}

/// The plural of a count's noun.
pub(super) fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// One side of a contract's field: a JSON value as nested lists, each leaf with the rule of the
/// disagreement that names it, if one does.
pub(super) enum Cell<'a> {
    Null,
    /// An empty list or map.
    Empty,
    Leaf {
        text: String,
        mark: Option<&'a str>,
    },
    List(Vec<Cell<'a>>),
    Map(Vec<(&'a str, Cell<'a>)>),
}

impl<'a> Cell<'a> {
    fn of(v: &'a Value, marks: &'a [Disagreement]) -> Cell<'a> {
        let leaf = |shown: String, raw: &str| Cell::Leaf {
            text: shown,
            mark: marks
                .iter()
                .find(|d| names_item(d, raw))
                .map(|d| d.rule.as_str()),
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
    fn marked(&self) -> bool {
        match self {
            Cell::Leaf { mark, .. } => mark.is_some(),
            Cell::List(items) => items.iter().any(Cell::marked),
            Cell::Map(items) => items.iter().any(|(_, c)| c.marked()),
            Cell::Null | Cell::Empty => false,
        }
    }
}

/// What the last column of a field's row says.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Check {
    Differs,
    Agrees,
    /// One side is missing: nothing to compare.
    Blank,
}

/// A field of a contract, declared beside observed.
pub(super) struct FieldRow<'a> {
    pub field: &'a str,
    pub declared: Option<Cell<'a>>,
    pub observed: Option<Cell<'a>>,
    pub check: Check,
}

/// What a contract's heading says about it.
pub(super) enum ContractVerdict {
    Unobserved,
    Agrees,
    Disagrees(usize),
}

pub(super) fn contract_verdict(c: &ContractState) -> ContractVerdict {
    if c.observed.is_none() {
        ContractVerdict::Unobserved
    } else if c.disagreements.is_empty() {
        ContractVerdict::Agrees
    } else {
        ContractVerdict::Disagrees(c.disagreements.len())
    }
}

/// The fields of both sides of a contract, declared order first.
pub(super) fn field_rows<'a>(c: &'a ContractState) -> Vec<FieldRow<'a>> {
    let declared = c.declared.as_object();
    let observed = c.observed.as_ref().and_then(Value::as_object);
    let declared_keys = declared.into_iter().flat_map(|m| m.keys());
    let observed_keys = observed.into_iter().flat_map(|m| m.keys());
    let fields = declared_keys
        .filter(|k| *k != "address")
        .chain(observed_keys.filter(|k| !declared.is_some_and(|m| m.contains_key(*k))));
    fields
        .map(|field| {
            let cell = |side: Option<&'a serde_json::Map<String, Value>>| {
                side.and_then(|m| m.get(field))
                    .map(|v| Cell::of(v, &c.disagreements))
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
                declared,
                observed,
                check,
            }
        })
        .collect()
}

/// Whether a string shown on the page is what a disagreement is about: its item, or the last
/// part of an item such as `MINTER_ROLE:0x…` or `voting_delay=5`.
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
/// `owners`, `safe.threshold_mismatch` about `threshold`, `voting_delay=5` about `voting_delay`.
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
            .is_some_and(|r| r.starts_with('='))
        || d.item
            .strip_prefix(field)
            .is_some_and(|r| r.starts_with(':'))
}

/// A piece of chain evidence: the explorer's page of the transaction when the chain has one,
/// and always the API's records of that block.
pub(super) struct EvidenceLinks {
    pub block: i64,
    /// The transaction, shortened, and its explorer page if there is one.
    pub tx: Option<(String, Option<String>)>,
    pub records: String,
}

impl EvidenceLinks {
    pub fn new(v: &PageView, block: i64, tx_hash: Option<&str>) -> EvidenceLinks {
        EvidenceLinks {
            block,
            tx: tx_hash.map(|tx| {
                let page = v
                    .explorer
                    .as_ref()
                    .map(|explorer| format!("{explorer}/tx/{}", url_part(tx)));
                (short(tx), page)
            }),
            records: format!(
                "/v1/groups/{}/records?from_block={block}&to_block={block}",
                url_part(&v.group.id)
            ),
        }
    }

    pub fn of(v: &PageView, e: &Evidence) -> EvidenceLinks {
        EvidenceLinks::new(v, e.block_number, Some(&e.tx_hash))
    }
}

/// The divergences listed: the open ones, then the acknowledged, each list bounded.
pub(super) fn divergence_rows(v: &PageView) -> Vec<&Divergence> {
    v.open
        .iter()
        .take(MAX_DIVERGENCES)
        .chain(v.acknowledged.iter().take(MAX_DIVERGENCES))
        .collect()
}

/// An acknowledgement as shown: when, if known, and the note.
pub(super) struct Acknowledgement<'a> {
    pub at: Option<String>,
    pub note: &'a str,
}

pub(super) fn acknowledgement(d: &Divergence) -> Option<Acknowledgement<'_>> {
    (DivergenceStatus::parse(&d.status) == Some(DivergenceStatus::Acknowledged)).then(|| {
        Acknowledgement {
            at: d.acked_at.as_deref().map(stored_time),
            note: d.ack_note.as_deref().unwrap_or(""),
        }
    })
}

/// The statuses with more divergences than the page lists.
pub(super) fn truncated_statuses(v: &PageView) -> Vec<&'static str> {
    [(&v.open, "open"), (&v.acknowledged, "acknowledged")]
        .into_iter()
        .filter(|(list, _)| list.len() > MAX_DIVERGENCES)
        .map(|(_, status)| status)
        .collect()
}

/// The signers of a Safe execution, checksummed.
pub(super) fn signers(signers: &Value) -> Vec<String> {
    signers
        .as_array()
        .into_iter()
        .flatten()
        .map(|signer| {
            let who = signer
                .get("signer")
                .map(json_text)
                .unwrap_or_else(|| json_text(signer));
            checksummed(&who)
        })
        .collect()
}
