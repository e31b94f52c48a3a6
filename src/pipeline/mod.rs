//! Applies one fetched batch of blocks for a set of groups: decode → observe → reconcile →
//! store, all in one database transaction together with the progress it marks (each group's
//! `synced_to`, and for the main lane the chain checkpoint). Nothing here decides *which*
//! blocks to fetch; that is the follower's job.

mod signers;
mod verdicts;

pub use signers::transactions_needing_input;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use alloy::primitives::{Address, Bytes, B256, U256};
use alloy::rpc::types::Log;

use crate::chain::rpc::{BlockRef, Rpc, RpcError};
use crate::decode::{decode_log, DecodedLog};
use crate::decode::{GovernanceEvent, GroupEvent, SafeEvent};
use crate::manifest::{Manifest, RoleDecl};
use crate::observe::signers::RecoveredSigner;
use crate::observe::{ContractKind, Observed};
use crate::reconcile::ids::{description_hash, timelock_operation_id};
use crate::reconcile::{
    documentation_stale_at, outflow, reconcile, reconcile_outflow, reconcile_signers, transition,
    Finding, Rule,
};
use crate::store::{
    BatchTx, Divergence, GroupRow, ManifestVersion, NewDivergence, RecordRow, Resolution, Store,
    StoreError,
};
use signers::{safe_execution, SafeExecutions};
use verdicts::{
    check_stale, evaluate, event_rules, manifest_takes_effect, open_divergence, reconcile_changed,
    refresh, TimelockCalls,
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
    /// Recipient and input of the transactions of Safe executions that no SafeL2 event
    /// describes, fetched with the logs (outside the batch's database transaction) so their
    /// signers can be recovered.
    pub tx_inputs: HashMap<B256, (Option<Address>, Bytes)>,
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
    /// Every (contract, kind) any version of the manifest declares.
    pub fn contracts(&self) -> BTreeSet<(Address, ContractKind)> {
        self.versions
            .iter()
            .flat_map(|v| declared_contracts(&v.manifest))
            .collect()
    }

    /// Every address any version of the manifest declares: what the follower watches.
    pub fn addresses(&self) -> BTreeSet<Address> {
        self.contracts().into_iter().map(|(a, _)| a).collect()
    }

    /// Every treasury address (Safes and timelocks) any version declares: ERC-20 transfers
    /// from or to them are the group's, whatever token emits them.
    pub fn treasury(&self) -> BTreeSet<Address> {
        self.versions
            .iter()
            .flat_map(|v| v.manifest.treasury_addresses())
            .collect()
    }

    /// The version in force at `block` (the first one for blocks before it took effect).
    pub fn version_at(&self, block: i64) -> &ManifestVersion {
        ManifestVersion::in_force_at(&self.versions, block)
            .expect("a registered group has at least one manifest version")
    }
}

/// The contracts a manifest declares, with what kind of structure to observe at each.
pub fn declared_contracts(m: &Manifest) -> Vec<(Address, ContractKind)> {
    let mut out: Vec<(Address, ContractKind)> = m
        .treasury
        .safes
        .iter()
        .map(|s| (s.address, ContractKind::Safe))
        .collect();
    out.extend(
        m.governance
            .governors
            .iter()
            .map(|g| (g.address, ContractKind::Governor)),
    );
    out.extend(
        m.governance
            .timelocks
            .iter()
            .map(|t| (t.address, ContractKind::Timelock)),
    );
    for r in &m.roles {
        match r {
            RoleDecl::AccessControl { contract, .. } => out.push((*contract, ContractKind::Roles)),
            RoleDecl::Ownable { contract, .. } => out.push((*contract, ContractKind::Ownable)),
        }
    }
    out
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

impl Moment {
    /// The moment of a log, on the chain's word.
    fn at(d: &DecodedLog) -> Moment {
        Moment {
            block: d.evidence.block_number as i64,
            block_hash: d.evidence.block_hash.to_string(),
            tx_hash: Some(d.evidence.tx_hash.to_string()),
            log_index: Some(d.evidence.log_index as i64),
            by: "chain",
        }
    }

    /// A divergence resolved here, under the manifest version `manifest_hash`.
    fn resolution(&self, manifest_hash: String) -> Resolution {
        Resolution {
            block: self.block,
            block_hash: self.block_hash.clone(),
            tx_hash: self.tx_hash.clone(),
            log_index: self.log_index,
            manifest_hash,
            by: self.by,
        }
    }
}

/// The chain a batch comes from, and how to read more of it.
#[derive(Debug, Clone, Copy)]
pub struct ChainCtx<'a> {
    pub rpc: &'a Rpc,
    pub name: &'a str,
    pub chain_id: u64,
    /// The largest `eth_getLogs` range (for snapshots that scan history).
    pub log_range: u64,
    /// Blocks a structural divergence may stay open before the documentation is stale.
    pub grace_blocks: u64,
    /// Contracts are read again at every multiple of this block number (0: never).
    pub snapshot_interval: u64,
}

/// Applies `batch` for `groups` and commits. With `checkpoint`, the chain's cursor moves to the
/// batch's end in the same transaction (the main lane); without, only the groups advance (a
/// catch-up lane behind the cursor).
#[tracing::instrument(skip_all, fields(chain, from = batch.from, to = batch.to, logs = batch.logs.len()))]
pub async fn apply_batch(
    store: &Store,
    chain: &ChainCtx<'_>,
    groups: &[GroupCtx],
    batch: &Batch,
    checkpoint: Option<u64>,
) -> Result<BatchStats, ApplyError> {
    let mut decoded: Vec<DecodedLog> = Vec::with_capacity(batch.logs.len());
    for log in &batch.logs {
        let d = decode_log(chain.chain_id, log)?;
        if let Err(e) = &d.event {
            tracing::warn!(address = %d.address, block = d.evidence.block_number,
                log_index = d.evidence.log_index, error = %e, "kept as an unknown record");
        }
        decoded.push(d);
    }
    decoded.sort_by_key(|d| (d.evidence.block_number, d.evidence.log_index));
    let hashes: HashMap<u64, B256> = batch.blocks.iter().map(|b| (b.number, b.hash)).collect();

    let mut tx = store.begin_batch(chain.name).await?;
    let mut stats = BatchStats::default();
    let view = BatchView {
        chain,
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
        apply_group(&mut tx, &g, &view, &mut stats, &mut rows).await?;
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
    chain: &'a ChainCtx<'a>,
    batch: &'a Batch,
    decoded: &'a [DecodedLog],
    hashes: &'a HashMap<u64, B256>,
}

async fn apply_group(
    tx: &mut BatchTx,
    g: &GroupCtx,
    view: &BatchView<'_>,
    stats: &mut BatchStats,
    rows: &mut Vec<RecordRow>,
) -> Result<(), ApplyError> {
    let BatchView {
        batch,
        decoded,
        hashes,
        ..
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
    let contracts = g.contracts();
    let addresses = g.addresses();
    let treasury = g.treasury();
    let mut calls = TimelockCalls::default();
    let mut states: BTreeMap<(Address, ContractKind), Observed> = BTreeMap::new();
    let mut stored = tx.latest_states(gid).await?;

    // Seed each contract seen for the first time with a snapshot of the block before.
    for &(contract, kind) in &contracts {
        let key = contract.to_checksum(None);
        match stored.remove(&(key.clone(), kind.as_str().to_string())) {
            Some(json) => {
                let s = Observed::from_json(kind, &json)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                states.insert((contract, kind), s);
            }
            None => {
                let at = first - 1;
                let s = if at < 0 {
                    Observed::empty(kind)
                } else {
                    Observed::snapshot(
                        kind,
                        view.chain.rpc,
                        contract,
                        at as u64,
                        view.chain.log_range,
                    )
                    .await?
                };
                tx.insert_state(gid, &key, kind.as_str(), at, -1, "snapshot", &s.to_json())
                    .await?;
                let moment = Moment {
                    block: at,
                    block_hash: block_hash(view.chain.rpc, hashes, at).await?,
                    tx_hash: None,
                    log_index: None,
                    by: "chain",
                };
                evaluate(tx, view, g, contract, &s, &moment, stats).await?;
                states.insert((contract, kind), s);
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

    // A transaction is atomic: the states between its events never exist onchain, so each
    // contract it changed is reconciled once, after its last event (the evidence).
    let mut changed: BTreeMap<(Address, ContractKind), Moment> = BTreeMap::new();
    let mut current_tx = None;
    let mut executions = SafeExecutions::default();
    let interval = view.chain.snapshot_interval as i64;
    // The first multiple of the interval at or after `first` (never block 0).
    let mut next_refresh =
        (interval > 0).then(|| ((first.max(1) + interval - 1) / interval) * interval);
    for d in decoded {
        let block = d.evidence.block_number as i64;
        if block < first || block > batch.to as i64 || !belongs(d, &addresses, &treasury) {
            continue;
        }
        if current_tx != Some(d.evidence.tx_hash) {
            reconcile_changed(tx, view, g, &states, &mut changed, stats).await?;
            current_tx = Some(d.evidence.tx_hash);
            executions = SafeExecutions::default();
        }
        while let Some(at) = next_refresh.filter(|at| *at < block) {
            refresh(tx, view, g, &mut states, at, stats).await?;
            next_refresh = Some(at + interval);
        }
        while let Some(v) = pending.next_if(|v| v.effective_block <= block) {
            manifest_takes_effect(tx, view, g, v, &states, stats).await?;
        }
        let version = g.version_at(block);
        let mut extra = serde_json::Map::new();
        if let Ok(GroupEvent::Governance(GovernanceEvent::ProposalCreated {
            targets,
            values,
            calldatas,
            description,
            ..
        })) = &d.event
        {
            // The id GovernorTimelockControl will schedule this proposal under, to tell an
            // explained timelock call from an unexplained one.
            let op = timelock_operation_id(
                d.address,
                targets,
                values,
                calldatas,
                description_hash(description),
            );
            extra.insert("timelock_operation_id".into(), op.to_string().into());
            calls.explained.insert(op);
        }
        let mut signer_findings = Vec::new();
        if let Some(Observed::Safe(safe)) = states.get(&(d.address, ContractKind::Safe)) {
            let threshold = safe.threshold;
            if let Some(recovered) = safe_execution(view, d, &mut executions, threshold).await? {
                match recovered {
                    Ok(signers) => {
                        if let Some(decl) = version.manifest.safe(&d.address) {
                            signer_findings = reconcile_signers(decl, &signers, d.evidence.tx_hash);
                        }
                        extra.insert(
                            "signers".into(),
                            serde_json::to_value(&signers).expect("signers serialise"),
                        );
                    }
                    Err(why) => {
                        extra.insert("signers_error".into(), why.into());
                    }
                }
            }
        }
        rows.push(record_row(gid, d, &version.hash, extra));
        for f in signer_findings {
            open_divergence(tx, g, version, f, &Moment::at(d), stats).await?;
        }
        if let Ok(event) = &d.event {
            let moment = Moment::at(d);
            event_rules(tx, g, version, d, event, &moment, &mut calls, stats).await?;
        }
        let Ok(event) = &d.event else { continue };
        for (&(contract, kind), state) in states.range_mut((d.address, ContractKind::Safe)..) {
            if contract != d.address {
                break;
            }
            if let Observed::Safe(safe) = state {
                // The threshold the Safe checked signatures against is the one before this
                // transaction changed anything.
                executions
                    .threshold_before
                    .entry(contract)
                    .or_insert(safe.threshold);
            }
            if state.apply(event) {
                let key = contract.to_checksum(None);
                let log_index = d.evidence.log_index as i64;
                tx.insert_state(
                    gid,
                    &key,
                    kind.as_str(),
                    block,
                    log_index,
                    "event",
                    &state.to_json(),
                )
                .await?;
                let moment = Moment {
                    block,
                    block_hash: d.evidence.block_hash.to_string(),
                    tx_hash: Some(d.evidence.tx_hash.to_string()),
                    log_index: Some(log_index),
                    by: "chain",
                };
                changed.insert((contract, kind), moment);
            }
        }
    }
    reconcile_changed(tx, view, g, &states, &mut changed, stats).await?;
    while let Some(at) = next_refresh.filter(|at| *at <= batch.to as i64) {
        refresh(tx, view, g, &mut states, at, stats).await?;
        next_refresh = Some(at + interval);
    }
    for v in pending {
        manifest_takes_effect(tx, view, g, v, &states, stats).await?;
    }
    check_stale(tx, g, view, batch.to as i64, stats).await?;
    Ok(())
}

/// Whether a log is the group's: emitted by a contract it declares, or an ERC-20 transfer
/// into or out of its treasury.
fn belongs(d: &DecodedLog, addresses: &BTreeSet<Address>, treasury: &BTreeSet<Address>) -> bool {
    if addresses.contains(&d.address) {
        return true;
    }
    matches!(
        &d.event,
        Ok(GroupEvent::Governance(GovernanceEvent::Transfer { from, to, .. }))
            if treasury.contains(from) || treasury.contains(to)
    )
}

fn record_row(
    group_id: &str,
    d: &DecodedLog,
    manifest_hash: &str,
    extra: serde_json::Map<String, serde_json::Value>,
) -> RecordRow {
    let (kind, category, fields) = match &d.event {
        Ok(e) => {
            // Straight to text unless there is something to add (the common case is hot).
            let fields = if extra.is_empty() {
                serde_json::to_string(e).expect("events always serialise")
            } else {
                let mut v = serde_json::to_value(e).expect("events always serialise");
                if let Some(obj) = v.as_object_mut() {
                    obj.extend(extra);
                }
                v.to_string()
            };
            (
                e.kind().to_string(),
                e.category().as_str().to_string(),
                fields,
            )
        }
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
