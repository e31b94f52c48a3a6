//! A manifest skeleton from a DAO's EIP-4824 daoURI document: its name and description, its
//! members as the owners of the Safe its contracts name, its Safes, governors and timelocks by
//! what its contracts are called — and every gap the standard cannot fill (the chain, the block
//! to follow from, thresholds, governor settings, the policy; any URI the document only points
//! at, since nothing is fetched), each as a comment in the skeleton and in [`ManifestDraft::gaps`].
//!
//! Invariant: where the document says nothing, the skeleton's placeholder fails validation at
//! the gap's own path, so a skeleton is refused only where its gaps are.

use alloy::primitives::Address;
use serde_json::Value;

use crate::manifest::parse_address;
use crate::manifest::write::{GovernorDraft, ManifestDraft, SafeDraft, TimelockDraft};

/// A document that is not a daoURI document at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    #[error("not JSON: {0}")]
    NotJson(String),
    #[error("expected a JSON object (an EIP-4824 daoURI document), found {0}")]
    NotAnObject(&'static str),
    #[error("{field}: expected {expected}")]
    Field {
        field: &'static str,
        expected: &'static str,
    },
}

/// What a contract of the document is, by its name and description.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Safe,
    Governor,
    Timelock,
    Unknown,
}

fn kind_of(name: &str, description: &str) -> Kind {
    let text = format!("{name} {description}").to_lowercase();
    if text.contains("timelock") {
        Kind::Timelock
    } else if text.contains("governor") {
        Kind::Governor
    } else if ["safe", "treasury", "multisig", "multi-sig"]
        .iter()
        .any(|w| text.contains(w))
    {
        Kind::Safe
    } else {
        Kind::Unknown
    }
}

/// An address from an id: `0x…`, CAIP-10 `eip155:CHAIN:0x…`, or `did:ethr:[…:]0x…`; with the
/// CAIP-10 chain id when there is one.
fn address_of(id: &str) -> Option<(Address, Option<u64>)> {
    if let Ok(a) = parse_address(id) {
        return Some((a, None));
    }
    if let Some(rest) = id.strip_prefix("eip155:") {
        let (chain, addr) = rest.split_once(':')?;
        return Some((parse_address(addr).ok()?, chain.parse().ok()));
    }
    if let Some(rest) = id.strip_prefix("did:ethr:") {
        return Some((parse_address(rest.rsplit(':').next()?).ok()?, None));
    }
    None
}

/// A group id from a name: lowercase letters and digits, other runs as one '-'.
fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let out: String = out.trim_end_matches('-').chars().take(64).collect();
    let out = out.trim_end_matches('-').to_owned();
    if out.is_empty() {
        "my-group".into()
    } else {
        out
    }
}

fn text<'a>(doc: &'a Value, field: &'static str) -> Result<Option<&'a str>, ImportError> {
    match &doc[field] {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.trim()).filter(|s| !s.is_empty())),
        _ => Err(ImportError::Field {
            field,
            expected: "a string",
        }),
    }
}

/// The embedded list `field` (`members`, `contracts`), or the `…URI` it is only pointed at by
/// (a gap), or nothing.
enum Part<'a> {
    Embedded(&'a [Value]),
    Elsewhere(String),
    Absent,
}

fn part<'a>(
    doc: &'a Value,
    field: &'static str,
    list: &'static str,
) -> Result<Part<'a>, ImportError> {
    // The standard: an embedded field takes precedence over its URI.
    match &doc[field] {
        Value::Null => {}
        Value::Object(o) => {
            return match o.get(list) {
                Some(Value::Array(items)) => Ok(Part::Embedded(items)),
                _ => Err(ImportError::Field {
                    field,
                    expected: "an object with a list",
                }),
            }
        }
        Value::Array(items) => return Ok(Part::Embedded(items)),
        _ => {
            return Err(ImportError::Field {
                field,
                expected: "an object or a list",
            })
        }
    }
    let uri_field = match field {
        "members" => "membersURI",
        "proposals" => "proposalsURI",
        "activityLog" => "activityLogURI",
        "governance" => "governanceURI",
        _ => "contractsURI",
    };
    Ok(match text(doc, uri_field)? {
        Some(uri) => Part::Elsewhere(uri.to_owned()),
        None => Part::Absent,
    })
}

/// Reads a daoURI document's text.
pub fn skeleton_from_text(text: &str) -> Result<ManifestDraft, ImportError> {
    let doc: Value = serde_json::from_str(text).map_err(|e| ImportError::NotJson(e.to_string()))?;
    skeleton(&doc)
}

/// The manifest skeleton of a daoURI document, with its gaps.
pub fn skeleton(doc: &Value) -> Result<ManifestDraft, ImportError> {
    let kind = match doc {
        Value::Object(_) => "object",
        Value::Array(_) => "a list",
        Value::String(_) => "a string",
        Value::Number(_) => "a number",
        Value::Bool(_) => "a boolean",
        Value::Null => "null",
    };
    if kind != "object" {
        return Err(ImportError::NotAnObject(kind));
    }
    let name = text(doc, "name")?;
    let mut d = ManifestDraft::new(&slug(name.unwrap_or("")));
    d.header
        .push("A manifest skeleton made from an EIP-4824 daoURI document.".into());
    if let Some(t) = text(doc, "type")?.filter(|t| *t != "DAO") {
        d.header
            .push(format!("The document describes a {t}, not a DAO."));
    }
    match name {
        Some(n) => d.name = n.to_owned(),
        None => {
            d.name = String::new();
            d.gap("name", "the document has no name");
        }
    }
    d.notes.push((
        "id",
        "DECIDE: the group's id ([a-z0-9-]); made from the name.".into(),
    ));
    match text(doc, "description")? {
        Some(p) => d.purpose = p.to_owned(),
        None => {
            d.purpose = String::new();
            d.gap("purpose", "the document has no description");
        }
    }
    d.gap(
        "phase",
        "where the group is in its life: not in a daoURI (formation written)",
    );
    d.notes.push((
        "phase",
        "GAP: formation | organization | coordination | completion.".into(),
    ));

    let mut chain_ids = std::collections::BTreeSet::new();
    let mut members = Vec::new();
    match part(doc, "members", "members")? {
        Part::Embedded(items) => {
            for (i, m) in items.iter().enumerate() {
                let id = m["id"].as_str().unwrap_or("");
                match address_of(id) {
                    Some((a, chain)) => {
                        members.push(a);
                        chain_ids.extend(chain);
                    }
                    None => d.gap(
                        format!("members[{i}]"),
                        format!("{id:?} is not an Ethereum address: left out"),
                    ),
                }
            }
        }
        Part::Elsewhere(uri) => d.gap(
            "treasury.safes[].owners",
            format!("membersURI {uri} is not fetched (no network): members unknown"),
        ),
        Part::Absent => d.gap("treasury.safes[].owners", "the document lists no members"),
    }
    members.sort();
    members.dedup();

    let mut unknown = Vec::new();
    match part(doc, "contracts", "contracts")? {
        Part::Embedded(items) => {
            for c in items {
                let id = c["id"].as_str().unwrap_or("");
                let cname = c["name"].as_str().unwrap_or("");
                let desc = c["description"].as_str().unwrap_or("");
                let Some((a, chain)) = address_of(id) else {
                    unknown.push(format!("{id:?} ({cname}): not an Ethereum address"));
                    continue;
                };
                chain_ids.extend(chain);
                let note = vec![(
                    "",
                    format!("{cname}: {desc}").trim_end_matches(": ").to_owned(),
                )];
                match kind_of(cname, desc) {
                    Kind::Safe => d.safes.push(SafeDraft {
                        address: a,
                        owners: members.clone(),
                        notes: note,
                        ..SafeDraft::default()
                    }),
                    Kind::Governor => d.governors.push(GovernorDraft {
                        address: a,
                        notes: note,
                        ..GovernorDraft::default()
                    }),
                    Kind::Timelock => d.timelocks.push(TimelockDraft {
                        address: a,
                        notes: note,
                        ..TimelockDraft::default()
                    }),
                    Kind::Unknown => unknown.push(format!(
                        "{} ({cname}): its kind is not known (a Safe, governor, timelock or \
                         roles contract?)",
                        a.to_checksum(None)
                    )),
                }
            }
        }
        Part::Elsewhere(uri) => d.gap(
            "treasury.safes",
            format!("contractsURI {uri} is not fetched (no network): contracts unknown"),
        ),
        Part::Absent => {}
    }
    for u in unknown {
        d.gap("roles", u);
    }
    if d.safes.is_empty() {
        d.gap(
            "treasury.safes",
            "no contract of the document is a Safe: add the treasury Safe \
             (`groupstate manifest draft` reads it from the chain)",
        );
    }
    for i in 0..d.safes.len() {
        if d.safes[i].owners.is_empty() {
            d.gap(
                format!("treasury.safes[{i}].owners"),
                "the owners are not known",
            );
        } else {
            d.safes[i].notes.push((
                "owners",
                "GAP: the document's members, assumed to be the owners.".into(),
            ));
        }
        d.gap(
            format!("treasury.safes[{i}].threshold"),
            "not in a daoURI: the signatures the Safe requires",
        );
        d.safes[i]
            .notes
            .push(("threshold", "GAP: not in a daoURI.".into()));
    }
    for i in 0..d.governors.len() {
        d.gap(
            format!("governance.governors[{i}].voting_period"),
            "the governor's settings are not in a daoURI (`manifest draft` reads them)",
        );
        d.governors[i].notes.push((
            "voting_delay",
            "GAP: the settings below are not in a daoURI.".into(),
        ));
    }
    for i in 0..d.timelocks.len() {
        d.gap(
            format!("governance.timelocks[{i}]"),
            "the delay and role holders are not in a daoURI",
        );
        d.timelocks[i].notes.push((
            "min_delay",
            "GAP: the delay and role holders below are not in a daoURI.".into(),
        ));
    }
    if let Part::Elsewhere(uri) = part(doc, "proposals", "proposals")? {
        d.header.push(format!("Proposals (not fetched): {uri}"));
    }
    if let Some(uri) = text(doc, "governanceURI")? {
        d.header
            .push(format!("Governance document (not fetched): {uri}"));
    }
    let chain_note = match chain_ids.len() {
        0 => "not in a daoURI: a chain name from the configuration".to_owned(),
        _ => format!(
            "the document's addresses are on chain id {}: name that chain as configured",
            chain_ids
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    d.notes.push(("chain", format!("GAP: {chain_note}.")));
    d.gap("chain", chain_note);
    d.notes.push((
        "start_block",
        "GAP: the block to follow from (0 replays the whole chain).".into(),
    ));
    d.gap("start_block", "not in a daoURI: the block to follow from");
    d.notes.push((
        "policy",
        "GAP: the treasury's spending policy is not in a daoURI, e.g.\n\
         policy:\n  max_outflow: { native: \"10000000000000000000\" }"
            .into(),
    ));
    d.gap("treasury.policy", "not in a daoURI: the spending policy");
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_become_addresses_with_their_chain() {
        let a = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
        assert_eq!(address_of(a).unwrap().1, None);
        assert_eq!(address_of(&format!("eip155:10:{a}")).unwrap().1, Some(10));
        assert!(address_of(&format!("did:ethr:{a}")).is_some());
        assert!(address_of("mailto:x@example.org").is_none());
        assert_eq!(slug("  River Guild (DAO) "), "river-guild-dao");
        assert_eq!(slug("!!!"), "my-group");
    }

    #[test]
    fn what_is_not_a_dao_document_is_refused_clearly() {
        assert!(matches!(
            skeleton_from_text("[1]"),
            Err(ImportError::NotAnObject("a list"))
        ));
        assert!(matches!(
            skeleton_from_text("{"),
            Err(ImportError::NotJson(_))
        ));
        let e = skeleton_from_text(r#"{"name": 3}"#).unwrap_err();
        assert_eq!(e.to_string(), "name: expected a string");
    }
}
