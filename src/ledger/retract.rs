//! Retraction: when a reorg reaches below what the log took as final, the leaves about the
//! removed blocks are never deleted — a retraction leaf that voids them is appended, and each
//! group they belonged to gets a `log.finalized_reorg` divergence.
//!
//! Invariant: runs inside the unwind's transaction, so the retraction, the voiding and the
//! removal of the rows they were built from commit together.

use std::collections::BTreeMap;

use alloy::primitives::Address;

use super::leaf::{Leaf, RetractionLeaf, Voided, LEAF_VERSION};
use super::seal::{append, LedgerError};
use crate::model::{BlockRef, Rule};
use crate::store::{Divergence, LogEntry, StoreError, UnwindTx};

/// What a retraction did: its index in the log, and the divergence it opened per group.
#[derive(Debug, Clone, Default)]
pub struct Retraction {
    pub index: u64,
    pub voided: usize,
    pub opened: Vec<Divergence>,
}

/// Within a roll-back to `fork`: if the log holds record leaves about blocks above it,
/// appends a retraction leaf voiding them and opens (writes) a `log.finalized_reorg`
/// divergence for each group they belonged to. `None` when nothing final was reorged away.
pub async fn retract(
    tx: &mut UnwindTx,
    fork: Option<BlockRef>,
) -> Result<Option<Retraction>, LedgerError> {
    let n = fork.map(|f| f.number as i64).unwrap_or(-1);
    let voided = tx.log().live_records_above(n).await?;
    let Some(first) = voided.first() else {
        return Ok(None);
    };
    let corrupt = |e: &LogEntry, err: String| {
        LedgerError::Store(StoreError::Corrupt(format!("log entry {}: {err}", e.index)))
    };
    let chain_id = Leaf::decode(&first.leaf)
        .map_err(|e| corrupt(first, e.to_string()))?
        .chain_id();
    let mut voids = Vec::with_capacity(voided.len());
    for e in &voided {
        let Leaf::Record(r) = Leaf::decode(&e.leaf).map_err(|err| corrupt(e, err.to_string()))?
        else {
            continue;
        };
        voids.push(Voided {
            index: e.index,
            leaf_hash: e.leaf_hash.clone(),
            block: r.block.number,
            block_hash: r.block.hash,
        });
    }
    let leaf = Leaf::Retraction(RetractionLeaf {
        v: LEAF_VERSION,
        index: 0,
        chain_id,
        fork_block: n,
        fork_hash: fork.map(|f| f.hash.to_string()),
        voids,
        reason: "reorg deeper than the finality depth".into(),
    });
    let index = append(&mut tx.log(), vec![leaf]).await?.first;
    let indexes: Vec<u64> = voided.iter().map(|e| e.index).collect();
    tx.log().void(&indexes, index).await?;
    let mut groups: BTreeMap<&str, Vec<&LogEntry>> = BTreeMap::new();
    for e in &voided {
        if let Some(g) = &e.group_id {
            groups.entry(g).or_default().push(e);
        }
    }
    let mut opened = Vec::new();
    for (group, entries) in groups {
        let manifest_hash = tx.manifest_hash_at(group, n).await?.unwrap_or_default();
        let lowest = entries.iter().map(|e| e.block_number).min().unwrap_or(n);
        let rule = Rule::LogFinalizedReorg;
        let d = Divergence {
            group_id: group.to_string(),
            n: tx.next_divergence_n(group).await?,
            rule: rule.as_str().to_string(),
            severity: rule.severity().as_str().to_string(),
            subject: Address::ZERO.to_string(),
            item: format!("retraction {index}"),
            expected: format!("blocks from {lowest} on stay final"),
            observed: format!(
                "a reorg back to block {n} voided {} final log entries (retraction leaf {index})",
                entries.len()
            ),
            status: "open".into(),
            opened_block: n,
            opened_block_hash: fork.map(|f| f.hash.to_string()).unwrap_or_default(),
            opened_tx_hash: None,
            opened_log_index: None,
            opened_manifest_hash: manifest_hash,
            ..Divergence::default()
        };
        tx.write_divergences(std::slice::from_ref(&d)).await?;
        opened.push(d);
    }
    tracing::error!(
        chain = %tx.chain(),
        fork = n,
        voided = voided.len(),
        retraction = index,
        "reorg below the finality depth: final log entries voided by a retraction"
    );
    Ok(Some(Retraction {
        index,
        voided: voided.len(),
        opened,
    }))
}
