//! The fold: from the groups' prior state, the manifest versions in force and one fetched
//! batch of blocks to the batch's effects — records, observed states, divergences opened and
//! resolved with their alerts' events, and each group's progress — and the groups' state after
//! it, for the next batch.
//!
//! Invariant: pure and synchronous. Nothing here calls the network or the database: what the
//! fold needs and the batch does not hold (a contract's reading, a block hash it could not
//! foresee) is returned as [`Needs`]; the driver fetches them and folds again.
//!
//! - [`prepare`]: a fetched batch decoded once for every group (run beside the fetch, off the
//!   writer's path), with the ECDSA signers of its Safe executions recovered ahead.
//! - [`fold`]: the fold itself, group by group ([`group`]); the rules about moments and
//!   divergences in [`verdicts`]; Safe signers in [`signers`].

mod covenants;
mod flows;
mod group;
mod signers;
mod verdicts;

#[cfg(test)]
mod tests;

pub use signers::{transactions_needing_input, Recovered};

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use alloy::primitives::{Address, Bytes, B256, U256};

use crate::chain::fetch::RawBatch;
use crate::chain::read::{ReadRequest, Reading};
use crate::chain::rpc::TxInput;
use crate::chain::token::TokenMetadata;
use crate::chain::trace::TracedCall;
use crate::decode::calls::SafeLibraries;
use crate::decode::{decode_log, DecodeError, DecodedLog};
use crate::manifest::Asset;
use crate::model::{AlertEvent, BlockRef, ContractKind, RecordKind};
use crate::observe::Observed;
use crate::reconcile::Flow;
use crate::store::{
    BatchWrite, CovenantVersion, CursorMove, Divergence, GroupProgress, GroupRow, ManifestVersion,
    StoredGroup, TokenRow,
};

/// The chain a batch comes from, as the fold needs it.
#[derive(Debug, Clone)]
pub struct ChainParams {
    pub name: String,
    pub chain_id: u64,
    /// Blocks a structural divergence may stay open before the documentation is stale.
    pub grace_blocks: u64,
    /// Contracts are read again at every multiple of this block number (0: never).
    pub snapshot_interval: u64,
    /// Remembered block refs older than the checkpoint minus this are forgotten.
    pub reorg_window: u64,
    /// Treasury balances are read at every multiple of this block number (0: never).
    pub balance_check_interval: u64,
    /// The Safe libraries of the chain: a traced delegatecall to one of its batch libraries is
    /// the batch it runs, not an unknown delegatecall.
    pub safe_libraries: SafeLibraries,
    /// The chain's block time in milliseconds: a covenant's windows, deadlines and lag in
    /// time become blocks through it.
    pub block_time_ms: u64,
}

/// A fetched batch, decoded for every group: its range, its block refs, its logs in chain
/// order, the inputs of plain-Safe executions and their signers recovered ahead.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub from: u64,
    pub to: u64,
    pub blocks: Vec<BlockRef>,
    pub logs: Vec<DecodedLog>,
    /// Recipient and input of the transactions of Safe executions no SafeL2 event describes.
    pub tx_inputs: HashMap<B256, TxInput>,
    /// Signers recovered from every ECDSA signature part the batch carries.
    pub recovered: Recovered,
    /// The calls that took effect in each transaction that touched a treasury, where the node
    /// traces (empty otherwise).
    pub traces: HashMap<B256, Vec<TracedCall>>,
    /// The metadata of tokens seen moving for the first time, read by the fetch phase; the
    /// batch stores it.
    pub tokens: Vec<TokenMetadata>,
    /// The chain's head when the batch was fetched, on the lane that follows the head (a
    /// covenant's index lag is judged against it).
    pub head: Option<u64>,
    hashes: HashMap<u64, B256>,
}

impl Prepared {
    /// The batch's last block, if it was fetched (it always is).
    pub fn end(&self) -> Option<&BlockRef> {
        self.blocks.last().filter(|b| b.number == self.to)
    }
}

/// Decodes a fetched batch and recovers its Safe signatures ahead: pure CPU work, run on the
/// fetch task so the fold does not wait for it. `Err` only for a log without its chain
/// position (a garbled answer: fetch again).
pub fn prepare(
    chain_id: u64,
    raw: RawBatch,
    tx_inputs: HashMap<B256, TxInput>,
    traces: HashMap<B256, Vec<TracedCall>>,
) -> Result<Prepared, DecodeError> {
    let mut logs = Vec::with_capacity(raw.logs.len());
    for log in &raw.logs {
        let d = decode_log(chain_id, log)?;
        if let Err(e) = &d.event {
            tracing::warn!(address = %d.address, block = d.evidence.block_number,
                log_index = d.evidence.log_index, error = %e, "kept as an unknown record");
        }
        logs.push(d);
    }
    logs.sort_by_key(|d| (d.evidence.block_number, d.evidence.log_index));
    let recovered = Recovered::ahead(&logs, &tx_inputs);
    let hashes = raw.blocks.iter().map(|b| (b.number, b.hash)).collect();
    Ok(Prepared {
        from: raw.from,
        to: raw.to,
        blocks: raw.blocks,
        logs,
        tx_inputs,
        recovered,
        traces,
        tokens: Vec::new(),
        head: None,
        hashes,
    })
}

/// A token's metadata as the store keeps it.
fn token_row(t: &TokenMetadata) -> TokenRow {
    TokenRow {
        address: t.address.to_checksum(None),
        symbol: t.symbol.clone(),
        decimals: t.decimals.map(i64::from),
        name: t.name.clone(),
    }
}

/// What the driver fetched because a fold asked for it.
#[derive(Debug, Clone, Default)]
pub struct Extras {
    pub readings: BTreeMap<ReadRequest, Reading>,
    pub hashes: HashMap<u64, B256>,
}

impl Extras {
    /// Adds what was fetched.
    pub fn extend(&mut self, other: Extras) {
        self.readings.extend(other.readings);
        self.hashes.extend(other.hashes);
    }
}

/// What a fold needs and the batch does not hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Needs {
    pub readings: BTreeSet<ReadRequest>,
    pub hashes: BTreeSet<u64>,
}

impl Needs {
    pub fn is_empty(&self) -> bool {
        self.readings.is_empty() && self.hashes.is_empty()
    }
}

/// A group as the fold starts from it: its progress, its manifest history, the newest observed
/// structure of each contract, its open divergences, and the timelock operations its
/// proposals explain.
#[derive(Debug, Clone)]
pub struct GroupPrior {
    pub row: GroupRow,
    pub versions: Arc<Vec<ManifestVersion>>,
    pub states: BTreeMap<(Address, ContractKind), Observed>,
    /// Open divergences (acknowledged or not), by number.
    pub open: Vec<Divergence>,
    /// The number the next divergence gets.
    pub next_n: i64,
    /// Timelock operation ids of every proposal recorded so far.
    pub explained: HashSet<B256>,
    /// The calls of every proposal recorded so far, by proposal id: judged again when it is
    /// queued, under the manifest in force then.
    pub proposals: HashMap<U256, ProposalCalls>,
    /// The treasuries' recent movements: the rolling windows' and the balance check's.
    pub flows: Vec<Flow>,
    /// The newest balance check reading of each (treasury, asset): (block, balance).
    pub balances: BTreeMap<(Address, Asset), (i64, U256)>,
    /// The newest version of every covenant the group is a party to.
    pub covenants: Arc<Vec<CovenantVersion>>,
    /// The covenant versions (id, version, in the order of `covenants`) the fold has judged
    /// every clause of since the group was loaded: when they differ from `covenants`, every
    /// clause is judged at the end of the next batch.
    pub judged: Vec<(String, i64)>,
}

/// A proposal's calls: (target, value, calldata) each.
pub type ProposalCalls = Vec<(Address, U256, Bytes)>;

/// The id and calls of a stored `ProposalCreated` record's fields (`None` when they do not
/// read as one).
fn proposal_calls(v: &serde_json::Value) -> Option<(U256, ProposalCalls)> {
    let id = v["proposal_id"].as_str()?.parse().ok()?;
    let targets = v["targets"].as_array()?;
    let values = v["values"].as_array()?;
    let datas = v["calldatas"].as_array()?;
    let calls = targets
        .iter()
        .zip(values)
        .zip(datas)
        .map(|((t, v), d)| {
            Some((
                t.as_str()?.parse().ok()?,
                v.as_str()?.parse().ok()?,
                d.as_str()?.parse().ok()?,
            ))
        })
        .collect::<Option<Vec<_>>>()?;
    Some((id, calls))
}

/// A stored group that cannot be folded from.
#[derive(Debug, thiserror::Error)]
#[error("group {group}: stored {what}: {message}")]
pub struct LoadError {
    pub group: String,
    pub what: &'static str,
    pub message: String,
}

impl GroupPrior {
    /// The kind of record whose fields [`GroupPrior::load`] reads the explained operations from.
    pub const PROPOSALS: RecordKind = RecordKind::ProposalCreated;

    /// The prior state of a stored group (loaded with its [`GroupPrior::PROPOSALS`] records).
    pub fn load(stored: StoredGroup) -> Result<GroupPrior, LoadError> {
        let group = stored.row.id.clone();
        let err = |what, message: String| LoadError {
            group: group.clone(),
            what,
            message,
        };
        let mut states = BTreeMap::new();
        for ((contract, kind), json) in &stored.states {
            let address: Address = contract
                .parse()
                .map_err(|e| err("state address", format!("{contract}: {e}")))?;
            let s = Observed::from_json(*kind, json).map_err(|e| err("state", e.to_string()))?;
            states.insert((address, *kind), s);
        }
        let mut explained = HashSet::new();
        let mut proposals = HashMap::new();
        for fields in &stored.records_of_kind {
            let v: serde_json::Value =
                serde_json::from_str(fields).map_err(|e| err("proposal record", e.to_string()))?;
            if let Some(id) = v["timelock_operation_id"]
                .as_str()
                .and_then(|s| s.parse().ok())
            {
                explained.insert(id);
            }
            if let Some((id, calls)) = proposal_calls(&v) {
                proposals.insert(id, calls);
            }
        }
        if stored.versions.is_empty() {
            return Err(err("manifest", "no version".into()));
        }
        let address = |what, s: &str| {
            s.parse::<Address>()
                .map_err(|e| err(what, format!("{s}: {e}")))
        };
        let asset = |s: &str| {
            s.parse::<Asset>()
                .map_err(|e| err("flow asset", e.to_string()))
        };
        let amount = |s: &str| {
            U256::from_str_radix(s, 10).map_err(|e| err("flow amount", format!("{s}: {e}")))
        };
        let mut flows = Vec::with_capacity(stored.flows.len());
        for f in &stored.flows {
            flows.push(Flow {
                treasury: address("flow treasury", &f.treasury)?,
                asset: asset(&f.asset)?,
                out: f.direction == "out",
                counterparty: address("flow counterparty", &f.counterparty)?,
                amount: amount(&f.amount)?,
                block: f.block_number,
                timestamp: f.block_timestamp.map(|t| t as u64),
                tx: f
                    .tx_hash
                    .parse()
                    .map_err(|e| err("flow transaction", format!("{}: {e}", f.tx_hash)))?,
                locator: f.locator.clone(),
            });
        }
        let mut balances = BTreeMap::new();
        for b in &stored.balances {
            balances.insert(
                (address("balance treasury", &b.treasury)?, asset(&b.asset)?),
                (b.block_number, amount(&b.balance)?),
            );
        }
        Ok(GroupPrior {
            row: stored.row,
            versions: Arc::new(stored.versions),
            states,
            open: stored.open,
            next_n: stored.next_n,
            explained,
            proposals,
            flows,
            balances,
            covenants: Arc::new(stored.covenants),
            judged: Vec::new(),
        })
    }

    /// Every (contract, kind) any version of the manifest declares.
    pub fn contracts(&self) -> BTreeSet<(Address, ContractKind)> {
        self.versions
            .iter()
            .flat_map(|v| v.manifest.declared_contracts())
            .collect()
    }

    /// Every address any version of the manifest declares: what the driver watches.
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
            .expect("a loaded group has at least one manifest version")
    }
}

/// Counts for metrics and benchmarks.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BatchStats {
    /// Logs the batch fetched (for every group of the lane).
    pub logs: usize,
    pub records: usize,
    pub opened: usize,
    pub resolved: usize,
}

/// A batch folded: what to write, the alerts' events, and the groups as the batch leaves them.
#[derive(Debug, Clone)]
pub struct Folded {
    /// The batch's blocks.
    pub from: u64,
    pub to: u64,
    /// Everything to write but the alerts (the driver adds them from `events`).
    pub write: BatchWrite,
    /// Each divergence change with the divergence as the change left it, in order.
    pub events: Vec<(AlertEvent, Divergence)>,
    pub groups: Vec<GroupPrior>,
    pub stats: BatchStats,
}

/// Where the chain's checkpoint is before a batch of the main lane (`None`: no checkpoint yet).
pub type CheckpointBefore = Option<i64>;

/// Folds `batch` for `priors`. With `checkpoint`, the chain's checkpoint moves to the batch's
/// end with it (the main lane); without, only the groups advance (a catch-up lane behind the
/// checkpoint). `Err` lists what the fold needs fetched first; fold again with it in `extras`.
pub fn fold(
    params: &ChainParams,
    priors: &[GroupPrior],
    batch: &Prepared,
    extras: &Extras,
    checkpoint: Option<CheckpointBefore>,
) -> Result<Folded, Needs> {
    let mut needs = Needs::default();
    let mut out = group::Out::default();
    let mut groups = Vec::with_capacity(priors.len());
    let mut progress = Vec::with_capacity(priors.len());
    for prior in priors {
        let mut g = prior.clone();
        group::fold_group(params, &mut g, batch, extras, &mut needs, &mut out);
        progress.push(GroupProgress {
            group_id: g.row.id.clone(),
            revision: g.row.revision,
            synced_to: prior.row.synced_to,
            advance_to: batch.to as i64,
        });
        // As the commit leaves the group (it moves the revision one on).
        g.row.synced_to = g.row.synced_to.max(batch.to as i64);
        g.row.revision += 1;
        groups.push(g);
    }
    if !needs.is_empty() {
        return Err(needs);
    }
    let cursor = checkpoint.map(|expected| CursorMove {
        expected,
        head: *batch
            .end()
            .expect("the driver always fetches the end block of a batch"),
        blocks: batch.blocks.clone(),
        window: params.reorg_window,
    });
    let stats = BatchStats {
        logs: batch.logs.len(),
        records: out.records.len(),
        opened: out.opened,
        resolved: out.resolved,
    };
    Ok(Folded {
        from: batch.from,
        to: batch.to,
        write: BatchWrite {
            chain: params.name.clone(),
            progress,
            records: out.records,
            states: out.states,
            divergences: out.touched.into_values().collect(),
            alerts: Vec::new(),
            cursor,
            flows: out.flows,
            balances: out.balances,
            tokens: batch.tokens.iter().map(token_row).collect(),
        },
        events: out.events,
        groups,
        stats,
    })
}
