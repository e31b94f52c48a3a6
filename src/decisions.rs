//! Decisions as first-class records, assembled from the stored records of a group: a Governor
//! proposal gathers its whole lifecycle (created, each vote, queued, executed or canceled, the
//! timelock operation that carried it out), and a Safe execution gathers its transaction and
//! the signers recovered from its signatures. Read-side only: the records stay the source of
//! truth, so a roll-back of records is a roll-back of decisions.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::model::RecordKind;
use crate::store::{RecordFilter, RecordRow, Store, StoreError};

/// Where a piece of a decision is on the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evidence {
    pub block_number: i64,
    pub block_hash: String,
    pub tx_hash: String,
    pub log_index: i64,
}

impl From<&RecordRow> for Evidence {
    fn from(r: &RecordRow) -> Self {
        Evidence {
            block_number: r.block_number,
            block_hash: r.block_hash.clone(),
            tx_hash: r.tx_hash.clone(),
            log_index: r.log_index,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Vote {
    pub voter: String,
    /// against | for | abstain
    pub support: String,
    pub weight: String,
    pub reason: String,
    pub evidence: Evidence,
}

/// A Governor proposal and everything that happened to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProposalDecision {
    pub governor: String,
    pub proposal_id: String,
    pub proposer: String,
    pub description: String,
    pub targets: Value,
    pub values: Value,
    pub calldatas: Value,
    /// created | queued | executed | canceled
    pub state: String,
    pub votes_for: String,
    pub votes_against: String,
    pub votes_abstain: String,
    pub votes: Vec<Vote>,
    pub created: Evidence,
    pub queued: Option<Evidence>,
    pub eta: Option<String>,
    pub executed: Option<Evidence>,
    pub canceled: Option<Evidence>,
    pub timelock_operation_id: Option<String>,
    /// The timelock's `CallScheduled` / `CallExecuted` / `Cancelled` records of that operation.
    pub timelock_calls: Vec<(String, Evidence)>,
    /// Funds the executed operation moved out of the timelock (native value of its calls, and
    /// ERC-20 transfers from the timelock in the same transaction).
    pub outflows: Vec<Value>,
}

/// A Safe execution — signed by its owners, or run by a module — with who acted and the calls
/// it made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SafeExecutionDecision {
    pub safe: String,
    /// Empty for a module execution (it has no Safe transaction hash).
    pub safe_tx_hash: String,
    pub success: bool,
    /// The SafeL2 `SafeMultiSigTransaction` details (to, value, data, operation), when present.
    pub transaction: Option<Value>,
    pub signers: Value,
    pub evidence: Evidence,
    /// Funds this execution moved out of the Safe (native value, ERC-20 transfers from it).
    pub outflows: Vec<Value>,
    /// Every call the execution made, batches unpacked: `path`, `to`, `value`, `operation`,
    /// `function` (and its arguments), the `asset` and `amount` it moved, and the policy's
    /// `verdict` (the rules it broke; empty: none).
    #[serde(default)]
    pub calls: Value,
    /// Why the calls are unknown (an execution through another contract), when they are.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calls_unknown: Option<String>,
    /// The module that acted, for a module execution.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    /// Who sent the transaction behind a module execution.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caller: Option<String>,
    /// The gas refund the Safe paid (to, asset, amount), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refund: Option<Value>,
}

impl SafeExecutionDecision {
    /// An execution of record `r` (its decoded `fields`), with what the fold added to the
    /// record: its calls, who acted, its refund.
    fn of(
        r: &RecordRow,
        fields: &Value,
        success: bool,
        transaction: Option<Value>,
        outflows: Vec<Value>,
    ) -> Self {
        SafeExecutionDecision {
            safe: r.address.clone(),
            safe_tx_hash: field(fields, "safe_tx_hash"),
            success,
            transaction,
            signers: fields["signers"].clone(),
            evidence: r.into(),
            outflows,
            calls: Value::Array(Vec::new()),
            calls_unknown: None,
            module: None,
            caller: None,
            refund: None,
        }
        .with_calls(fields)
    }

    fn with_calls(mut self, fields: &Value) -> Self {
        self.calls = match &fields["calls"] {
            Value::Null => Value::Array(Vec::new()),
            v => v.clone(),
        };
        self.calls_unknown = fields["calls_unknown"].as_str().map(String::from);
        self.module = fields["module"].as_str().map(String::from);
        self.caller = fields["caller"].as_str().map(String::from);
        self.refund = match &fields["refund"] {
            Value::Null => None,
            v => Some(v.clone()),
        };
        if let Some(calls) = fields["calls"].as_array() {
            // The calls name every movement, each once: they replace what the events showed.
            let mut outflows: Vec<Value> = calls
                .iter()
                .filter(|c| !c["asset"].is_null())
                .map(|c| {
                    let to = if c["recipient"].is_null() {
                        &c["to"]
                    } else {
                        &c["recipient"]
                    };
                    serde_json::json!({
                        "asset": c["asset"], "to": to, "value": c["amount"], "path": c["path"]
                    })
                })
                .collect();
            // Token transfers no decoded call names (made by code the Safe called) stay.
            let named = |o: &Value| {
                calls.iter().any(|c| {
                    c["asset"] == o["asset"]
                        && c["amount"] == o["value"]
                        && c["recipient"] == o["to"]
                })
            };
            outflows.extend(
                self.outflows
                    .iter()
                    .filter(|o| o["asset"] != "native" && !named(o))
                    .cloned(),
            );
            self.outflows = outflows;
        }
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Decision {
    Proposal(Box<ProposalDecision>),
    SafeExecution(Box<SafeExecutionDecision>),
}

fn field(fields: &Value, key: &str) -> String {
    match &fields[key] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn add(a: &str, b: &str) -> String {
    use alloy::primitives::U256;
    let a: U256 = a.parse().unwrap_or_default();
    let b: U256 = b.parse().unwrap_or_default();
    (a.saturating_add(b)).to_string()
}

/// Every decision of a group, in chain order of their first record.
pub async fn decisions(store: &Store, group_id: &str) -> Result<Vec<Decision>, StoreError> {
    let records = store.records(group_id, &RecordFilter::default()).await?;
    Ok(assemble(&records))
}

/// Assembles decisions from records (pure).
pub fn assemble(records: &[RecordRow]) -> Vec<Decision> {
    let mut proposals: BTreeMap<(String, String), ProposalDecision> = BTreeMap::new();
    let mut order: Vec<(i64, i64, usize)> = Vec::new();
    let mut out: Vec<Decision> = Vec::new();
    let mut multisig: BTreeMap<(String, String), Value> = BTreeMap::new();
    let mut calls: BTreeMap<String, Vec<(String, Evidence)>> = BTreeMap::new();
    let mut executed_calls: BTreeMap<String, Vec<(String, Value, String)>> = BTreeMap::new();
    // Token transfers by transaction, to link outflows to the decision that caused them.
    let mut transfers: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for r in records {
        if RecordKind::parse(&r.kind) == Some(RecordKind::TokenTransfer) {
            let mut t: Value = serde_json::from_str(&r.fields).unwrap_or(Value::Null);
            t["asset"] = Value::String(r.address.clone());
            transfers.entry(r.tx_hash.clone()).or_default().push(t);
        }
    }
    let token_outflows = |tx: &str, from: &str| -> Vec<Value> {
        transfers
            .get(tx)
            .map(|v| {
                v.iter()
                    .filter(|t| t["from"].as_str().is_some_and(|f| f.eq_ignore_ascii_case(from)))
                    .map(|t| {
                        serde_json::json!({"asset": t["asset"], "to": t["to"], "value": t["value"]})
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    for r in records {
        // Parsed once; a kind this build does not know (an older or newer catalog) is skipped.
        let Some(kind) = RecordKind::parse(&r.kind) else {
            continue;
        };
        use RecordKind as K;
        let fields: Value = serde_json::from_str(&r.fields).unwrap_or(Value::Null);
        let key = |fields: &Value| (r.address.clone(), field(fields, "proposal_id"));
        match kind {
            K::ProposalCreated => {
                proposals.insert(
                    key(&fields),
                    ProposalDecision {
                        governor: r.address.clone(),
                        proposal_id: field(&fields, "proposal_id"),
                        proposer: field(&fields, "proposer"),
                        description: field(&fields, "description"),
                        targets: fields["targets"].clone(),
                        values: fields["values"].clone(),
                        calldatas: fields["calldatas"].clone(),
                        state: "created".into(),
                        votes_for: "0".into(),
                        votes_against: "0".into(),
                        votes_abstain: "0".into(),
                        votes: Vec::new(),
                        created: r.into(),
                        queued: None,
                        eta: None,
                        executed: None,
                        canceled: None,
                        timelock_operation_id: fields["timelock_operation_id"]
                            .as_str()
                            .map(String::from),
                        timelock_calls: Vec::new(),
                        outflows: Vec::new(),
                    },
                );
            }
            K::VoteCast | K::VoteCastWithParams => {
                if let Some(p) = proposals.get_mut(&key(&fields)) {
                    let weight = field(&fields, "weight");
                    let support = match fields["support"].as_u64() {
                        Some(0) => {
                            p.votes_against = add(&p.votes_against, &weight);
                            "against"
                        }
                        Some(1) => {
                            p.votes_for = add(&p.votes_for, &weight);
                            "for"
                        }
                        Some(2) => {
                            p.votes_abstain = add(&p.votes_abstain, &weight);
                            "abstain"
                        }
                        _ => "other",
                    };
                    p.votes.push(Vote {
                        voter: field(&fields, "voter"),
                        support: support.into(),
                        weight,
                        reason: field(&fields, "reason"),
                        evidence: r.into(),
                    });
                }
            }
            K::ProposalQueued => {
                if let Some(p) = proposals.get_mut(&key(&fields)) {
                    p.state = "queued".into();
                    p.queued = Some(r.into());
                    p.eta = Some(field(&fields, "eta"));
                }
            }
            K::ProposalExecuted => {
                if let Some(p) = proposals.get_mut(&key(&fields)) {
                    p.state = "executed".into();
                    p.executed = Some(r.into());
                }
            }
            K::ProposalCanceled => {
                if let Some(p) = proposals.get_mut(&key(&fields)) {
                    p.state = "canceled".into();
                    p.canceled = Some(r.into());
                }
            }
            K::CallScheduled | K::CallExecuted | K::Cancelled => {
                calls
                    .entry(field(&fields, "id"))
                    .or_default()
                    .push((r.kind.clone(), r.into()));
                if kind == K::CallExecuted {
                    executed_calls
                        .entry(field(&fields, "id"))
                        .or_default()
                        .push((r.address.clone(), fields.clone(), r.tx_hash.clone()));
                }
            }
            K::SafeMultisigTransaction => {
                multisig.insert((r.address.clone(), r.tx_hash.clone()), fields.clone());
            }
            K::SafeExecutionSuccess | K::SafeExecutionFailure => {
                let transaction = multisig
                    .remove(&(r.address.clone(), r.tx_hash.clone()))
                    .map(|mut t| {
                        if let Some(o) = t.as_object_mut() {
                            o.remove("event");
                            o.remove("signatures");
                            o.remove("additional_info");
                        }
                        t
                    });
                let mut outflows = Vec::new();
                if let Some(t) = &transaction {
                    if t["operation"] == 0 && field(t, "value") != "0" {
                        outflows.push(
                            serde_json::json!({"asset": "native", "to": t["to"], "value": t["value"]}),
                        );
                    }
                }
                if kind == K::SafeExecutionSuccess {
                    outflows.extend(token_outflows(&r.tx_hash, &r.address));
                }
                order.push((r.block_number, r.log_index, out.len()));
                let success = kind == K::SafeExecutionSuccess;
                out.push(Decision::SafeExecution(Box::new(
                    SafeExecutionDecision::of(r, &fields, success, transaction, outflows),
                )));
            }
            K::SafeModuleExecutionSuccess | K::SafeModuleExecutionFailure => {
                let success = kind == K::SafeModuleExecutionSuccess;
                let outflows = if success {
                    token_outflows(&r.tx_hash, &r.address)
                } else {
                    Vec::new()
                };
                order.push((r.block_number, r.log_index, out.len()));
                // A module execution has no Safe transaction hash and no signers.
                out.push(Decision::SafeExecution(Box::new(
                    SafeExecutionDecision::of(r, &fields, success, None, outflows),
                )));
            }
            _ => {}
        }
    }
    for (_, mut p) in proposals {
        if let Some(id) = &p.timelock_operation_id {
            p.timelock_calls = calls.get(id).cloned().unwrap_or_default();
            let mut seen_txs = Vec::new();
            for (timelock, call, tx) in executed_calls.get(id).into_iter().flatten() {
                if field(call, "value") != "0" {
                    p.outflows.push(serde_json::json!({
                        "asset": "native", "to": call["target"], "value": call["value"]
                    }));
                }
                if !seen_txs.contains(tx) {
                    p.outflows.extend(token_outflows(tx, timelock));
                    seen_txs.push(tx.clone());
                }
            }
        }
        order.push((p.created.block_number, p.created.log_index, out.len()));
        out.push(Decision::Proposal(Box::new(p)));
    }
    order.sort();
    let mut slots: Vec<Option<Decision>> = out.into_iter().map(Some).collect();
    order
        .into_iter()
        .filter_map(|(_, _, i)| slots[i].take())
        .collect()
}

/// The kinds of record a decision is ordered by: a proposal's creation, a Safe execution.
const OPENING_KINDS: [RecordKind; 3] = [
    RecordKind::ProposalCreated,
    RecordKind::SafeExecutionSuccess,
    RecordKind::SafeExecutionFailure,
];

/// The `n` newest decisions of a group, newest first, without reading its whole history.
///
/// Four bounded reads: the blocks of the newest `n` opening records of each kind give the block
/// the `n`th newest decision opened at; every record from that block on then holds those decisions whole
/// (a proposal's votes, queueing and execution come after its creation, a Safe execution's
/// transaction details and transfers share its transaction). A proposal created earlier but
/// executed since is not among them, as in [`decisions`]' order.
#[tracing::instrument(skip_all, fields(group = %group_id, n))]
pub async fn recent_decisions(
    store: &Store,
    group_id: &str,
    n: usize,
) -> Result<Vec<Decision>, StoreError> {
    if n == 0 {
        return Ok(Vec::new());
    }
    let mut openings: Vec<i64> = Vec::new();
    for kind in OPENING_KINDS {
        openings.extend(
            store
                .latest_blocks_of_kind(group_id, kind.as_str(), n as i64)
                .await?,
        );
    }
    openings.sort_unstable_by(|a, b| b.cmp(a));
    let Some(&from_block) = openings.get(n - 1).or(openings.last()) else {
        return Ok(Vec::new());
    };
    // The position bound says the same as the block bound (log indexes start at 0); on
    // PostgreSQL it is the one the primary key scan starts from, so without it the scan would
    // begin at the group's first record.
    let filter = RecordFilter {
        from_block: Some(from_block),
        after: Some((from_block, -1)),
        ..RecordFilter::default()
    };
    let records = store.records(group_id, &filter).await?;
    let mut out = assemble(&records);
    out.reverse();
    out.truncate(n);
    Ok(out)
}

/// The first executed proposal (in chain order) of one of `governors` whose calls' calldata
/// carries the 32 bytes `hash`: a decision of the governor that commits that hash (a manifest
/// version's, to ratify it).
pub fn proposal_committing<'a>(
    decisions: &'a [Decision],
    governors: &[alloy::primitives::Address],
    hash: &[u8; 32],
) -> Option<&'a ProposalDecision> {
    decisions.iter().find_map(|d| match d {
        Decision::Proposal(p)
            if p.executed.is_some()
                && governors
                    .iter()
                    .any(|g| g.to_string().eq_ignore_ascii_case(&p.governor))
                && calldata_carries(&p.calldatas, hash) =>
        {
            Some(p.as_ref())
        }
        _ => None,
    })
}

/// Whether one of the hex calldata strings in `calldatas` holds `needle` at a byte boundary.
fn calldata_carries(calldatas: &Value, needle: &[u8; 32]) -> bool {
    calldatas.as_array().is_some_and(|calls| {
        calls.iter().filter_map(Value::as_str).any(|hex_data| {
            hex::decode(hex_data.trim_start_matches("0x"))
                .is_ok_and(|bytes| bytes.windows(32).any(|w| w == needle))
        })
    })
}

#[cfg(test)]
mod tests {
    use alloy::primitives::Address;
    use serde_json::json;

    use super::*;

    fn evidence(block: i64) -> Evidence {
        Evidence {
            block_number: block,
            block_hash: String::new(),
            tx_hash: String::new(),
            log_index: 0,
        }
    }

    fn proposal(governor: Address, calldata: &str, executed: bool) -> Decision {
        Decision::Proposal(Box::new(ProposalDecision {
            governor: governor.to_string(),
            proposal_id: "7".into(),
            proposer: String::new(),
            description: String::new(),
            targets: json!([]),
            values: json!([]),
            calldatas: json!(["0x", calldata]),
            state: if executed { "executed" } else { "queued" }.into(),
            votes_for: "0".into(),
            votes_against: "0".into(),
            votes_abstain: "0".into(),
            votes: vec![],
            created: evidence(1),
            queued: None,
            eta: None,
            executed: executed.then(|| evidence(9)),
            canceled: None,
            timelock_operation_id: None,
            timelock_calls: vec![],
            outflows: vec![],
        }))
    }

    #[test]
    fn only_an_executed_proposal_of_a_declared_governor_carrying_the_hash_commits_it() {
        let hash = [0xab; 32];
        let governor = Address::repeat_byte(7);
        // `commit(bytes32)`-like calldata: a selector, then the hash as the first word.
        let carrying = format!("0x12345678{}", hex::encode(hash));
        // The same digits off a byte boundary are not the hash.
        let shifted = format!("0x1{}0", hex::encode(hash));
        let decisions = vec![
            proposal(governor, &carrying, false),
            proposal(Address::repeat_byte(8), &carrying, true),
            proposal(governor, &shifted, true),
        ];
        assert!(proposal_committing(&decisions, &[governor], &hash).is_none());
        let mut decisions = decisions;
        decisions.push(proposal(governor, &carrying, true));
        let found = proposal_committing(&decisions, &[governor], &hash).unwrap();
        assert_eq!(found.executed.as_ref().unwrap().block_number, 9);
        assert!(proposal_committing(&decisions, &[governor], &[0xcd; 32]).is_none());
        assert!(proposal_committing(&decisions, &[], &hash).is_none());
    }
}
