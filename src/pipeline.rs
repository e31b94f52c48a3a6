//! Applies one fetched batch of blocks for a set of groups: decode → observe → reconcile →
//! store, all in one database transaction together with the progress it marks (each group's
//! `synced_to`, and for the main lane the chain checkpoint). Nothing here decides *which*
//! blocks to fetch; that is the follower's job.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use alloy::primitives::{Address, B256};
use alloy::rpc::types::Log;

use crate::chain::rpc::{BlockRef, Rpc, RpcError};
use crate::decode::{decode_log, DecodedLog, GroupEvent};
use crate::observe::{snapshot_safe, SafeState};
use crate::reconcile::{reconcile_safe, transition, Rule};
use crate::store::{
    BatchTx, GroupRow, ManifestVersion, NewDivergence, RecordRow, Resolution, Store, StoreError,
};

/// A failure while applying a batch; nothing of the batch was committed.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("snapshot: {0}")]
    Rpc(#[from] RpcError),
    #[error("log without chain position: {0}")]
    Decode(#[from] crate::decode::DecodeError),
    #[error("group {0} changed (a new manifest version) after the batch was fetched")]
    Stale(String),
}

/// What a batch holds: its block range, the logs of the lane's addresses, and the block refs
/// fetched with it (at least the last one).
#[derive(Debug, Clone)]
pub struct Batch {
    pub from: u64,
    pub to: u64,
    pub logs: Vec<Log>,
    pub blocks: Vec<BlockRef>,
}

impl Batch {
    pub fn end(&self) -> Option<&BlockRef> {
        self.blocks.last().filter(|b| b.number == self.to)
    }
}

/// A group as the pipeline needs it: its progress and its manifest history.
#[derive(Debug, Clone)]
pub struct GroupCtx {
    pub row: GroupRow,
    pub versions: Vec<ManifestVersion>,
}

impl GroupCtx {
    /// Every Safe any version of the manifest declares.
    pub fn safes(&self) -> BTreeSet<Address> {
        self.versions
            .iter()
            .flat_map(|v| v.manifest.treasury.safes.iter().map(|s| s.address))
            .collect()
    }

    /// The version in force at `block` (the first one for blocks before it took effect).
    pub fn version_at(&self, block: i64) -> &ManifestVersion {
        self.versions
            .iter()
            .rev()
            .find(|v| v.effective_block <= block)
            .unwrap_or(&self.versions[0])
    }
}

/// Counts for metrics and benchmarks.
#[derive(Debug, Default, Clone, Copy)]
pub struct BatchStats {
    pub records: usize,
    pub opened: usize,
    pub resolved: usize,
}

/// Where in the chain an evaluation happens, for the evidence it leaves.
struct Moment {
    block: i64,
    block_hash: String,
    tx_hash: Option<String>,
    log_index: Option<i64>,
    by: &'static str,
}

/// Applies `batch` for `groups` and commits. With `checkpoint`, the chain's cursor moves to the
/// batch's end in the same transaction (the main lane); without, only the groups advance (a
/// catch-up lane behind the cursor).
#[tracing::instrument(skip_all, fields(chain, from = batch.from, to = batch.to, logs = batch.logs.len()))]
pub async fn apply_batch(
    store: &Store,
    rpc: &Rpc,
    chain: &str,
    chain_id: u64,
    groups: &[GroupCtx],
    batch: &Batch,
    checkpoint: Option<u64>,
) -> Result<BatchStats, ApplyError> {
    let mut decoded: Vec<DecodedLog> = Vec::with_capacity(batch.logs.len());
    for log in &batch.logs {
        let d = decode_log(chain_id, log)?;
        if let Err(e) = &d.event {
            tracing::warn!(address = %d.address, block = d.evidence.block_number,
                log_index = d.evidence.log_index, error = %e, "kept as an unknown record");
        }
        decoded.push(d);
    }
    decoded.sort_by_key(|d| (d.evidence.block_number, d.evidence.log_index));
    let hashes: HashMap<u64, B256> = batch.blocks.iter().map(|b| (b.number, b.hash)).collect();

    let mut tx = store.begin_batch(chain).await?;
    let mut stats = BatchStats::default();
    let view = BatchView {
        batch,
        decoded: &decoded,
        hashes: &hashes,
    };
    let mut rows = Vec::with_capacity(decoded.len());
    for g in groups {
        // The group as it is inside this transaction: a manifest version stored since the
        // follower listed the groups must take effect in this batch if its block is here.
        let (row, versions) = tx.lock_group(&g.row.id).await?;
        if versions.len() != g.versions.len() {
            // It may watch other addresses now, whose logs were not fetched: start over.
            return Err(ApplyError::Stale(g.row.id.clone()));
        }
        let g = GroupCtx { row, versions };
        apply_group(&mut tx, rpc, &g, &view, &mut stats, &mut rows).await?;
        tx.set_group_synced(&g.row.id, batch.to as i64).await?;
    }
    stats.records = rows.len();
    tx.insert_records(&rows).await?;
    if let Some(window) = checkpoint {
        let end = batch
            .end()
            .copied()
            .expect("the follower always fetches the end block of a batch");
        tx.advance_cursor(&end, &batch.blocks, window).await?;
    }
    tx.commit().await?;
    Ok(stats)
}

async fn block_hash(
    rpc: &Rpc,
    hashes: &HashMap<u64, B256>,
    block: i64,
) -> Result<String, RpcError> {
    if block < 0 {
        return Ok(B256::ZERO.to_string());
    }
    match hashes.get(&(block as u64)) {
        Some(h) => Ok(h.to_string()),
        None => Ok(rpc.block_ref(block as u64).await?.hash.to_string()),
    }
}

/// A batch with its logs decoded once for every group, and the block hashes fetched with it.
struct BatchView<'a> {
    batch: &'a Batch,
    decoded: &'a [DecodedLog],
    hashes: &'a HashMap<u64, B256>,
}

async fn apply_group(
    tx: &mut BatchTx,
    rpc: &Rpc,
    g: &GroupCtx,
    view: &BatchView<'_>,
    stats: &mut BatchStats,
    rows: &mut Vec<RecordRow>,
) -> Result<(), ApplyError> {
    let BatchView {
        batch,
        decoded,
        hashes,
    } = *view;
    let gid = &g.row.id;
    // Blocks at or below synced_to are already complete for this group, and blocks before
    // its start_block are none of its business (a roll-back may reset synced_to below it).
    let first = (batch.from as i64)
        .max(g.row.synced_to + 1)
        .max(g.row.start_block);
    if first > batch.to as i64 {
        return Ok(());
    }
    let safes = g.safes();
    let mut states: BTreeMap<Address, SafeState> = BTreeMap::new();
    let mut stored = tx.latest_safe_states(gid).await?;

    // Seed each Safe seen for the first time with a snapshot of the block before.
    for safe in &safes {
        let key = safe.to_checksum(None);
        match stored.remove(&key) {
            Some(s) => {
                states.insert(*safe, s);
            }
            None => {
                let at = first - 1;
                let s = if at < 0 {
                    SafeState::default()
                } else {
                    snapshot_safe(rpc, *safe, at as u64).await?
                };
                tx.insert_safe_state(gid, &key, at, -1, "snapshot", &s)
                    .await?;
                let moment = Moment {
                    block: at,
                    block_hash: block_hash(rpc, hashes, at).await?,
                    tx_hash: None,
                    log_index: None,
                    by: "chain",
                };
                evaluate(tx, g, *safe, &s, &moment, stats).await?;
                states.insert(*safe, s);
            }
        }
    }

    // Manifest versions taking effect inside the batch, evaluated at the start of their block.
    let mut effective: Vec<&ManifestVersion> = g
        .versions
        .iter()
        .filter(|v| {
            v.version > 1 && v.effective_block >= first && v.effective_block <= batch.to as i64
        })
        .collect();
    effective.sort_by_key(|v| v.effective_block);
    let mut pending = effective.into_iter().peekable();

    for d in decoded {
        let block = d.evidence.block_number as i64;
        if block < first || block > batch.to as i64 || !safes.contains(&d.address) {
            continue;
        }
        while let Some(v) = pending.next_if(|v| v.effective_block <= block) {
            manifest_takes_effect(tx, rpc, g, v, &states, hashes, stats).await?;
        }
        let version = g.version_at(block);
        rows.push(record_row(gid, d, &version.hash));
        if let Ok(GroupEvent::Safe(event)) = &d.event {
            let state = states.entry(d.address).or_default();
            if state.apply(event) {
                let key = d.address.to_checksum(None);
                let log_index = d.evidence.log_index as i64;
                tx.insert_safe_state(gid, &key, block, log_index, "event", state)
                    .await?;
                let moment = Moment {
                    block,
                    block_hash: d.evidence.block_hash.to_string(),
                    tx_hash: Some(d.evidence.tx_hash.to_string()),
                    log_index: Some(log_index),
                    by: "chain",
                };
                let snapshot = state.clone();
                evaluate(tx, g, d.address, &snapshot, &moment, stats).await?;
            }
        }
    }
    for v in pending {
        manifest_takes_effect(tx, rpc, g, v, &states, hashes, stats).await?;
    }
    Ok(())
}

async fn manifest_takes_effect(
    tx: &mut BatchTx,
    rpc: &Rpc,
    g: &GroupCtx,
    v: &ManifestVersion,
    states: &BTreeMap<Address, SafeState>,
    hashes: &HashMap<u64, B256>,
    stats: &mut BatchStats,
) -> Result<(), ApplyError> {
    let moment = Moment {
        block: v.effective_block,
        block_hash: block_hash(rpc, hashes, v.effective_block).await?,
        tx_hash: None,
        log_index: None,
        by: "manifest",
    };
    for (safe, state) in states {
        evaluate(tx, g, *safe, state, &moment, stats).await?;
    }
    Ok(())
}

/// Reconciles one Safe against the manifest in force at the moment, and opens or resolves
/// divergences accordingly.
async fn evaluate(
    tx: &mut BatchTx,
    g: &GroupCtx,
    safe: Address,
    state: &SafeState,
    m: &Moment,
    stats: &mut BatchStats,
) -> Result<(), ApplyError> {
    let version = g.version_at(m.block);
    let findings = match version.manifest.safe(&safe) {
        Some(decl) => reconcile_safe(decl, state),
        None => Vec::new(),
    };
    let subject = safe.to_checksum(None);
    let open = tx.open_divergences(&g.row.id, &subject).await?;
    let keyed: Vec<(i64, (Rule, Address, String))> = open
        .iter()
        .filter_map(|d| Rule::parse(&d.rule).map(|r| (d.n, (r, safe, d.item.clone()))))
        .collect();
    let t = transition(&keyed, findings);
    for n in t.resolve {
        let r = Resolution {
            block: m.block,
            block_hash: m.block_hash.clone(),
            tx_hash: m.tx_hash.clone(),
            log_index: m.log_index,
            manifest_hash: version.hash.clone(),
            by: m.by,
        };
        tx.resolve_divergence(&g.row.id, n, &r).await?;
        stats.resolved += 1;
    }
    for f in t.open {
        tracing::warn!(group = %g.row.id, rule = %f.rule, subject = %subject, item = %f.key,
            block = m.block, "divergence opened");
        let d = NewDivergence {
            group_id: g.row.id.clone(),
            rule: f.rule,
            subject: subject.clone(),
            item: f.key,
            expected: f.expected,
            observed: f.observed,
            block: m.block,
            block_hash: m.block_hash.clone(),
            tx_hash: m.tx_hash.clone(),
            log_index: m.log_index,
            manifest_hash: version.hash.clone(),
        };
        tx.open_divergence(&d).await?;
        stats.opened += 1;
    }
    Ok(())
}

fn record_row(group_id: &str, d: &DecodedLog, manifest_hash: &str) -> RecordRow {
    let (kind, category, fields) = match &d.event {
        Ok(e) => (
            e.kind().to_string(),
            e.category().as_str().to_string(),
            serde_json::to_string(e).expect("events always serialise"),
        ),
        Err(err) => (
            "unknown".to_string(),
            "unknown".to_string(),
            serde_json::json!({ "error": err.to_string() }).to_string(),
        ),
    };
    let topics: Vec<String> = d.topics.iter().map(|t| t.to_string()).collect();
    RecordRow {
        group_id: group_id.to_string(),
        chain_id: d.evidence.chain_id as i64,
        block_number: d.evidence.block_number as i64,
        block_hash: d.evidence.block_hash.to_string(),
        block_timestamp: d.evidence.block_timestamp.map(|t| t as i64),
        tx_hash: d.evidence.tx_hash.to_string(),
        tx_index: d.evidence.tx_index as i64,
        log_index: d.evidence.log_index as i64,
        address: d.address.to_checksum(None),
        kind,
        category,
        fields,
        topics: serde_json::to_string(&topics).expect("strings serialise"),
        data: d.data.to_string(),
        manifest_hash: Some(manifest_hash.to_string()),
    }
}
