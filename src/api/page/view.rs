//! What the page computes from its data before any markup: counts, evidence and address links,
//! times and short hashes (the rows of each contract's table come from
//! [`crate::state::rows`], shared with the CLI).
//! Plain values, no HTML: the templates in [`super::render`] lay them out and escape them.

use serde_json::Value;

use super::{PageView, MAX_DIVERGENCES};
use crate::decisions::Evidence;
use crate::state::{ContractState, GroupState};
use crate::store::{Divergence, DivergenceStatus};

/// Unix seconds as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn utc(unix: i64) -> String {
    let iso = crate::holdings::iso8601(unix);
    format!("{} UTC", iso.replacen('T', " ", 1).trim_end_matches('Z'))
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

pub(super) use crate::state::rows::checksummed;

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

/// A link to an address's page on the chain's explorer, if one is configured.
pub(super) fn address_page(v: &PageView, address: &str) -> Option<String> {
    v.explorer
        .as_ref()
        .map(|explorer| format!("{explorer}/address/{}", url_part(address)))
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
