//! The driver: one [`Follower`] per chain owns stepping, lanes, confirmations, reorgs, unwind
//! and sealing, and runs the write path in three phases — fetch (`chain`), fold (`pipeline`),
//! commit (`store`) — so that no network call happens while a database transaction is open.
//!
//! Each step (1) checks that the checkpoint is still canonical and unwinds to the fork point if
//! not, (2) advances a chunk of any group registered behind the checkpoint (a catch-up lane, so
//! live following of the others never stops for long), (3) advances the main lane — every
//! caught-up group — towards `head - confirmations`, and (4) seals what became final into the
//! verifiable log. A lane's ranges are fetched concurrently and folded in order; while batch N
//! commits, batch N+1 is folded.
//!
//! Invariant: the groups' state a fold starts from is the state the previous commit left (kept
//! in memory between batches and steps); every commit checks that this is still so, and any
//! failure drops what is in memory, so the next step starts again from the database.

pub mod reorg;
pub mod unwind;

pub use unwind::unwind;

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use alloy::primitives::{Address, B256};
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::alert::NewAlert;
use crate::chain::fetch::{self, LogQuery};
use crate::chain::range::AdaptiveRange;
use crate::chain::rpc::{RetryPolicy, Rpc, RpcError, RpcErrorKind};
use crate::config::{ChainConfig, FollowerConfig};
use crate::decode::{catalog_topics, DecodeError, TRANSFER_TOPIC};
use crate::ledger::{self, LedgerError, LogSigner};
use crate::metrics::ChainMetrics;
use crate::model::AlertEvent;
use crate::pipeline::{
    self, ChainParams, CheckpointBefore, Extras, Folded, GroupPrior, LoadError, Needs, Prepared,
};
use crate::store::{GroupRow, Store, StoreError};
use reorg::Fork;

/// Folding one batch asks for more at most this many times (seeds, then a deadline's hash, …).
const MAX_FOLDS: usize = 8;

/// Why a follower step failed, and whether trying again may help.
#[derive(Debug, thiserror::Error)]
pub enum FollowerError {
    #[error("chain {chain}: {source}")]
    Rpc {
        chain: String,
        #[source]
        source: RpcError,
    },
    #[error("chain {chain}: {source}")]
    Store {
        chain: String,
        #[source]
        source: StoreError,
    },
    #[error("chain {chain}: {source}")]
    Load {
        chain: String,
        #[source]
        source: LoadError,
    },
    #[error("chain {chain}: blocks {from}..={to}: log without chain position: {source}")]
    Decode {
        chain: String,
        from: u64,
        to: u64,
        #[source]
        source: DecodeError,
    },
    #[error("chain {chain}: blocks {from}..={to}: the fold still needs {needs:?} after {MAX_FOLDS} fetches")]
    Unmet {
        chain: String,
        from: u64,
        to: u64,
        needs: Needs,
    },
    #[error(
        "chain {chain}: the node reports chain id {actual}, the configuration says {expected}"
    )]
    WrongChain {
        chain: String,
        expected: u64,
        actual: u64,
    },
    #[error("chain {chain}: the chain moved while fetching blocks {from}..={to}; retrying")]
    ChainMoved { chain: String, from: u64, to: u64 },
    #[error("chain {chain}: reorg deeper than the {window}-block window below block {at}; refusing to guess the fork point")]
    DeepReorg { chain: String, at: u64, window: u64 },
    #[error("chain {chain}: verifiable log: {source}")]
    Ledger {
        chain: String,
        #[source]
        source: LedgerError,
    },
}

impl FollowerError {
    /// Whether the follower should back off and try the step again.
    pub fn is_retryable(&self) -> bool {
        match self {
            FollowerError::Rpc { source, .. } => source.kind != RpcErrorKind::Fatal,
            // A log without its chain position is a garbled answer; a batch folded from a state
            // that changed (a manifest update, an acknowledgement) is folded again; a busy
            // database (locked SQLite, dropped PostgreSQL connection) is worth retrying.
            FollowerError::Decode { .. }
            | FollowerError::ChainMoved { .. }
            | FollowerError::Store { .. } => true,
            FollowerError::Ledger {
                source: LedgerError::Store(_),
                ..
            } => true,
            _ => false,
        }
    }
}

/// What one step achieved, so the loop knows whether to wait for a new head.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StepOutcome {
    /// Blocks the main lane committed.
    pub advanced: u64,
    /// Whether a catch-up lane still has work.
    pub catching_up: bool,
    pub reorged: bool,
}

/// Follows one chain for every group registered on it.
pub struct Follower {
    name: String,
    chain: ChainConfig,
    settings: FollowerConfig,
    rpc: Rpc,
    store: Store,
    /// The `eth_getLogs` range size, shared by the backfill and history scans.
    range: AdaptiveRange,
    topics: Vec<B256>,
    /// Signs checkpoints of the chain's log after each seal; without it the log still grows.
    signer: Option<Arc<LogSigner>>,
    /// The final block the log was last sealed at (-2: not yet this run).
    sealed_at: AtomicI64,
    /// Head, progress and counts for `/metrics` and `/readyz`.
    metrics: Option<Arc<ChainMetrics>>,
    /// Each group as the last commit left it, by id; emptied by any failure.
    priors: Mutex<HashMap<String, GroupPrior>>,
}

impl Follower {
    pub fn new(
        name: &str,
        chain: ChainConfig,
        settings: FollowerConfig,
        store: Store,
    ) -> Result<Follower, FollowerError> {
        let rpc = Rpc::new(&chain.rpc_url, RetryPolicy::from(&settings)).map_err(|source| {
            FollowerError::Rpc {
                chain: name.to_string(),
                source,
            }
        })?;
        Ok(Follower {
            name: name.to_string(),
            range: AdaptiveRange::new(chain.max_block_range),
            chain,
            settings,
            rpc,
            store,
            topics: catalog_topics(),
            signer: None,
            sealed_at: AtomicI64::new(-2),
            metrics: None,
            priors: Mutex::new(HashMap::new()),
        })
    }

    /// Signs a checkpoint of the chain's log whenever it grows.
    pub fn with_signer(mut self, signer: Arc<LogSigner>) -> Follower {
        self.signer = Some(signer);
        self
    }

    /// Publishes head, progress, counts and RPC errors to `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<ChainMetrics>) -> Follower {
        self.rpc = self.rpc.with_observer(metrics.clone());
        self.metrics = Some(metrics);
        self
    }

    pub fn rpc(&self) -> &Rpc {
        &self.rpc
    }

    fn rpc_err(&self, source: RpcError) -> FollowerError {
        FollowerError::Rpc {
            chain: self.name.clone(),
            source,
        }
    }

    fn store_err(&self, source: StoreError) -> FollowerError {
        FollowerError::Store {
            chain: self.name.clone(),
            source,
        }
    }

    fn ledger_err(&self, source: LedgerError) -> FollowerError {
        FollowerError::Ledger {
            chain: self.name.clone(),
            source,
        }
    }

    fn params(&self) -> ChainParams {
        ChainParams {
            name: self.name.clone(),
            chain_id: self.chain.chain_id,
            grace_blocks: self.chain.documentation_grace_blocks,
            snapshot_interval: self.chain.snapshot_interval_blocks,
            reorg_window: self.settings.reorg_window,
        }
    }

    /// Runs until `cancel` fires. Retryable failures back off and retry; a fatal one ends the
    /// follower with the error (and the daemon with it: no half-alive service).
    pub async fn run(&self, cancel: CancellationToken) -> Result<(), FollowerError> {
        let actual = self.rpc.chain_id().await.map_err(|e| self.rpc_err(e))?;
        if actual != self.chain.chain_id {
            return Err(FollowerError::WrongChain {
                chain: self.name.clone(),
                expected: self.chain.chain_id,
                actual,
            });
        }
        let mut heads = self.subscribe_heads().await;
        let poll = Duration::from_millis(self.chain.poll_interval_ms);
        let mut failures = 0u32;
        loop {
            if cancel.is_cancelled() {
                return Ok(());
            }
            // A step is not cancelled halfway through a commit: it ends at its next await on
            // the network, and a commit in flight completes or rolls back as a whole.
            let step = tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                r = self.step() => r,
            };
            let busy = match step {
                Ok(o) => {
                    failures = 0;
                    o.advanced > 0 || o.catching_up || o.reorged
                }
                Err(e) if e.is_retryable() => {
                    failures += 1;
                    tracing::warn!(error = %e, failures, "follower step failed; retrying");
                    let backoff = poll.saturating_mul(failures.min(10));
                    tokio::select! {
                        _ = cancel.cancelled() => return Ok(()),
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    continue;
                }
                Err(e) => return Err(e),
            };
            if busy {
                continue;
            }
            // Caught up: wait for a new head (WebSocket) or the poll interval.
            tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                _ = next_head(&mut heads) => {}
                _ = tokio::time::sleep(poll) => {}
            }
        }
    }

    /// Subscribes to new heads when `ws_url` is set; polling otherwise (or if it fails).
    async fn subscribe_heads(&self) -> Option<futures::stream::BoxStream<'static, ()>> {
        let url = self.chain.ws_url.as_ref()?;
        match crate::chain::rpc::subscribe_heads(url).await {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(error = %e, "WebSocket subscription failed; polling instead");
                None
            }
        }
    }

    /// One step: reorg check, a catch-up chunk, a main-lane chunk, sealing.
    #[tracing::instrument(skip_all, fields(chain = %self.name))]
    pub async fn step(&self) -> Result<StepOutcome, FollowerError> {
        let result = self.step_inner().await;
        if result.is_err() {
            // Whatever was folded ahead may not have been committed: start again from the
            // database.
            self.forget();
        }
        result
    }

    fn forget(&self) {
        self.priors.lock().expect("priors lock").clear();
    }

    async fn step_inner(&self) -> Result<StepOutcome, FollowerError> {
        let mut outcome = StepOutcome::default();
        let rows = self
            .store
            .chain_group_rows(&self.name)
            .await
            .map_err(|e| self.store_err(e))?;
        if rows.is_empty() {
            return Ok(outcome);
        }
        let head = self.rpc.head().await.map_err(|e| self.rpc_err(e))?;
        if let Some(m) = &self.metrics {
            m.set_head(head);
        }
        let Some(target) = head.checked_sub(self.chain.confirmations) else {
            return Ok(outcome);
        };
        let stored = self
            .store
            .cursor(&self.name)
            .await
            .map_err(|e| self.store_err(e))?;
        let (cursor, cursor_hash) = match &stored {
            Some((n, h)) => (*n, h.parse::<B256>().ok()),
            None => (
                rows.iter().map(|g| g.start_block).min().unwrap_or(0) - 1,
                None,
            ),
        };
        if let Some(m) = &self.metrics {
            m.set_indexed(cursor);
        }

        // 1. Is the checkpoint still on the canonical chain?
        if let (Some(hash), true) = (cursor_hash, cursor >= 0) {
            let canonical = self
                .rpc
                .block(cursor as u64)
                .await
                .map_err(|e| self.rpc_err(e))?;
            if canonical.map(|(b, _)| b.hash) != Some(hash) {
                self.unwind_to_fork(cursor as u64).await?;
                self.sealed_at.store(-2, Ordering::Relaxed);
                self.sign_checkpoint().await?;
                outcome.reorged = true;
                return Ok(outcome);
            }
        }
        let priors = self.priors(&rows).await?;
        let final_block = self.final_block(head).await?;

        // 2. Groups behind the checkpoint: one chunk of catch-up.
        let (lagging, live): (Vec<GroupPrior>, Vec<GroupPrior>) =
            priors.into_iter().partition(|g| g.row.synced_to < cursor);
        if !lagging.is_empty() {
            let from = lagging.iter().map(|g| g.row.synced_to).min().unwrap_or(0) + 1;
            let to = (cursor as u64).min(from as u64 + self.chunk_len() - 1);
            self.run_lane(lagging, from as u64, to, target, None, None)
                .await?;
            outcome.catching_up = true;
        }

        // 3. The main lane: every group at or past the checkpoint.
        let from = (cursor + 1) as u64;
        if from <= target {
            let to = target.min(from + self.chunk_len() - 1);
            let parent = cursor_hash.filter(|_| cursor >= 0);
            let checkpoint = stored.map(|(n, _)| n);
            self.run_lane(
                live,
                from,
                to,
                target,
                Some((checkpoint, parent)),
                Some(final_block),
            )
            .await?;
            outcome.advanced = to - from + 1;
            if let Some(m) = &self.metrics {
                m.set_indexed(to as i64);
            }
        }

        // 4. What has become final enters the verifiable log (a batch final when written was
        // sealed with it).
        self.seal_log(final_block, outcome.advanced > 0 || outcome.catching_up)
            .await?;
        if let Some(m) = &self.metrics {
            m.step_done();
        }
        Ok(outcome)
    }

    /// Each group as a fold starts from it: as the last commit left it when that is still
    /// what the database says (same revision, same progress), else loaded again.
    async fn priors(&self, rows: &[GroupRow]) -> Result<Vec<GroupPrior>, FollowerError> {
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let cached = self
                .priors
                .lock()
                .expect("priors lock")
                .get(&row.id)
                .filter(|p| p.row.revision == row.revision && p.row.synced_to == row.synced_to)
                .cloned();
            let prior = match cached {
                Some(p) => p,
                None => {
                    let stored = self
                        .store
                        .load_group(&row.id, GroupPrior::PROPOSALS)
                        .await
                        .map_err(|e| self.store_err(e))?;
                    GroupPrior::load(stored).map_err(|source| FollowerError::Load {
                        chain: self.name.clone(),
                        source,
                    })?
                }
            };
            out.push(prior);
        }
        Ok(out)
    }

    /// The newest block the log may take as final: `finality_depth` below the head, or the
    /// node's `finalized` block.
    async fn final_block(&self, head: u64) -> Result<i64, FollowerError> {
        Ok(match self.chain.finality_depth {
            Some(depth) => head as i64 - depth as i64,
            None => match self.rpc.finalized().await.map_err(|e| self.rpc_err(e))? {
                Some(n) => n as i64,
                None => -1,
            },
        })
    }

    /// Seals what became final into the log (when the final block moved or groups advanced)
    /// and signs a checkpoint if the log grew.
    async fn seal_log(&self, final_block: i64, advanced: bool) -> Result<(), FollowerError> {
        if !advanced && final_block <= self.sealed_at.load(Ordering::Relaxed) {
            return Ok(());
        }
        let sealed = ledger::seal(&self.store, &self.name, self.chain.chain_id, final_block)
            .await
            .map_err(|e| self.ledger_err(e))?;
        self.sealed_at.store(final_block, Ordering::Relaxed);
        if sealed.leaves > 0 {
            tracing::debug!(leaves = sealed.leaves, final_block, "sealed into the log");
        }
        self.sign_checkpoint().await
    }

    async fn sign_checkpoint(&self) -> Result<(), FollowerError> {
        let Some(signer) = &self.signer else {
            return Ok(());
        };
        ledger::sign_checkpoint(&self.store, &self.name, signer)
            .await
            .map_err(|e| self.ledger_err(e))?;
        Ok(())
    }

    /// How many blocks one step may cover: `concurrency` ranges of the current size.
    fn chunk_len(&self) -> u64 {
        self.range.size() * self.settings.concurrency as u64
    }

    /// Fetches `from..=to` for `groups` as concurrent ranges, folds them in order and commits
    /// each while the next is folded. With `main` (the checkpoint before and its hash), each
    /// batch must extend the previous one and moves the checkpoint; a batch at or below
    /// `final_block` enters the log in its own transaction.
    async fn run_lane(
        &self,
        groups: Vec<GroupPrior>,
        from: u64,
        to: u64,
        target: u64,
        main: Option<(CheckpointBefore, Option<B256>)>,
        final_block: Option<i64>,
    ) -> Result<(), FollowerError> {
        let query = self.log_query(&groups);
        let size = self.range.size();
        let mut ranges = Vec::new();
        let mut a = from;
        while a <= to {
            let b = to.min(a + size - 1);
            ranges.push((a, b));
            a = b + 1;
        }
        let near_head_from = target.saturating_sub(self.settings.reorg_window);
        // Each range is fetched (and decoded) on its own task, so fetching goes on while
        // earlier ranges are folded and written; `buffered` keeps at most `concurrency` in
        // flight and yields them in order.
        let fetches = futures::stream::iter(ranges.into_iter().map(|(a, b)| {
            let rpc = self.rpc.clone();
            let range = self.range.clone();
            let query = query.clone();
            let chain_id = self.chain.chain_id;
            let all_headers = main.is_some() && b >= near_head_from;
            tokio::spawn(async move {
                fetch_prepared(&rpc, &range, &query, chain_id, a, b, all_headers).await
            })
        }))
        .buffered(self.settings.concurrency);
        futures::pin_mut!(fetches);

        // The writer commits batch N while batch N+1 is folded. One folded batch may wait:
        // the queue is bounded because every batch holds its records in memory, and on a
        // backfill the writer is the slowest stage — an unbounded queue would grow with the
        // backlog. Fetching is bounded by `concurrency` above.
        let (to_writer, from_folder) = mpsc::channel::<Folded>(1);
        let writer = tokio::spawn(write_batches(
            Writer {
                store: self.store.clone(),
                chain: self.name.clone(),
                chain_id: self.chain.chain_id,
                final_block,
                metrics: self.metrics.clone(),
            },
            from_folder,
        ));
        let folded = self.fold_lane(groups, main, &mut fetches, to_writer).await;
        // Whatever was sent is committed (or refused) before the step returns, so no commit of
        // this step runs alongside the next one.
        let written = writer.await.map_err(|e| {
            self.rpc_err(RpcError {
                method: "writer task",
                kind: RpcErrorKind::Fatal,
                message: e.to_string(),
            })
        })?;
        let last = folded?;
        written.map_err(|e| match e {
            LedgerError::Store(e) => self.store_err(e),
            other => self.ledger_err(other),
        })?;
        let mut priors = self.priors.lock().expect("priors lock");
        for g in last {
            priors.insert(g.row.id.clone(), g);
        }
        Ok(())
    }

    /// The fold side of a lane: each fetched batch in order, folded (fetching what the fold
    /// asks for), then handed to the writer. Returns the groups as the last batch leaves them.
    async fn fold_lane<S>(
        &self,
        mut groups: Vec<GroupPrior>,
        mut main: Option<(CheckpointBefore, Option<B256>)>,
        fetches: &mut S,
        to_writer: mpsc::Sender<Folded>,
    ) -> Result<Vec<GroupPrior>, FollowerError>
    where
        S: futures::Stream<Item = Result<Result<Prepared, FetchError>, tokio::task::JoinError>>
            + Unpin,
    {
        let params = self.params();
        while let Some(joined) = fetches.next().await {
            let batch = match joined {
                Ok(Ok(b)) => b,
                Ok(Err(FetchError::Rpc(e))) => return Err(self.rpc_err(e)),
                Ok(Err(FetchError::Decode { from, to, source })) => {
                    return Err(FollowerError::Decode {
                        chain: self.name.clone(),
                        from,
                        to,
                        source,
                    })
                }
                Err(e) => {
                    return Err(self.rpc_err(RpcError {
                        method: "fetch task",
                        kind: RpcErrorKind::Fatal,
                        message: e.to_string(),
                    }))
                }
            };
            let checkpoint = match &mut main {
                Some((checkpoint, parent)) => {
                    let logs = batch
                        .logs
                        .iter()
                        .map(|d| (d.evidence.block_number, d.evidence.block_hash));
                    if !reorg::extends(batch.from, batch.to, &batch.blocks, logs, *parent) {
                        return Err(FollowerError::ChainMoved {
                            chain: self.name.clone(),
                            from: batch.from,
                            to: batch.to,
                        });
                    }
                    let before = *checkpoint;
                    *parent = batch.end().map(|b| b.hash);
                    *checkpoint = Some(batch.to as i64);
                    Some(before)
                }
                None => None,
            };
            let folded = self
                .fold_batch(&params, &groups, &batch, checkpoint)
                .await?;
            groups = folded.groups.clone();
            if to_writer.send(folded).await.is_err() {
                // The writer stopped on an error; it reports it.
                break;
            }
        }
        Ok(groups)
    }

    /// Folds one batch, fetching what the fold needs and folding again until it needs nothing.
    async fn fold_batch(
        &self,
        params: &ChainParams,
        groups: &[GroupPrior],
        batch: &Prepared,
        checkpoint: Option<CheckpointBefore>,
    ) -> Result<Folded, FollowerError> {
        let mut extras = Extras::default();
        for _ in 0..MAX_FOLDS {
            match pipeline::fold(params, groups, batch, &extras, checkpoint) {
                Ok(folded) => return Ok(folded),
                Err(needs) => {
                    tracing::debug!(
                        readings = needs.readings.len(),
                        hashes = needs.hashes.len(),
                        from = batch.from,
                        to = batch.to,
                        "the fold needs more; fetching"
                    );
                    extras.extend(self.fetch_needs(needs).await?);
                }
            }
        }
        match pipeline::fold(params, groups, batch, &extras, checkpoint) {
            Ok(folded) => Ok(folded),
            Err(needs) => Err(FollowerError::Unmet {
                chain: self.name.clone(),
                from: batch.from,
                to: batch.to,
                needs,
            }),
        }
    }

    /// Fetches what a fold asked for: contract readings and block hashes.
    async fn fetch_needs(&self, needs: Needs) -> Result<Extras, FollowerError> {
        let readings =
            fetch::readings(&self.rpc, &self.range, needs.readings.into_iter().collect());
        let hashes = fetch::block_refs(&self.rpc, needs.hashes.into_iter().collect());
        let (readings, hashes) = tokio::try_join!(readings, hashes).map_err(|e| self.rpc_err(e))?;
        Ok(Extras {
            readings,
            hashes: hashes.into_iter().map(|b| (b.number, b.hash)).collect(),
        })
    }

    /// The logs a lane follows: its groups' contracts with the catalog's topics, and ERC-20
    /// transfers from or to their treasuries.
    fn log_query(&self, groups: &[GroupPrior]) -> LogQuery {
        let addresses: BTreeSet<Address> = groups.iter().flat_map(|g| g.addresses()).collect();
        let treasury: BTreeSet<Address> = groups.iter().flat_map(|g| g.treasury()).collect();
        LogQuery {
            addresses: addresses.into_iter().collect(),
            topics: self.topics.clone(),
            treasury: treasury.into_iter().map(|a| a.into_word()).collect(),
            transfer_topic: TRANSFER_TOPIC,
        }
    }

    /// Walks back through the remembered blocks to the newest one still canonical, and unwinds
    /// every derived row to it in one transaction.
    #[tracing::instrument(skip_all, fields(chain = %self.name, at))]
    async fn unwind_to_fork(&self, at: u64) -> Result<(), FollowerError> {
        let remembered = self
            .store
            .recent_blocks(&self.name)
            .await
            .map_err(|e| self.store_err(e))?;
        let mut canonical = HashMap::new();
        let fork = loop {
            if let Some(fork) = reorg::fork_point(&remembered, &canonical) {
                break fork;
            }
            // Look up the next few remembered blocks at once, newest first.
            let next: Vec<u64> = remembered
                .iter()
                .map(|b| b.number)
                .filter(|n| !canonical.contains_key(n))
                .take(8)
                .collect();
            let found = futures::future::try_join_all(next.iter().map(|n| self.rpc.block(*n)))
                .await
                .map_err(|e| self.rpc_err(e))?;
            for (n, b) in next.into_iter().zip(found) {
                canonical.insert(n, b.map(|(r, _)| r.hash));
            }
        };
        let fork = match fork {
            Fork::At(b) => Some(b),
            Fork::BeyondWindow { oldest } if oldest > 0 => {
                return Err(FollowerError::DeepReorg {
                    chain: self.name.clone(),
                    at: oldest,
                    window: self.settings.reorg_window,
                })
            }
            Fork::BeyondWindow { .. } | Fork::Unknown => None,
        };
        tracing::warn!(from = at, fork = ?fork.map(|f| f.number), "reorg: rolling back");
        self.forget();
        unwind(&self.store, &self.name, fork)
            .await
            .map_err(|e| self.ledger_err(e))?;
        Ok(())
    }
}

/// Why a range could not be fetched and prepared.
enum FetchError {
    Rpc(RpcError),
    Decode {
        from: u64,
        to: u64,
        source: DecodeError,
    },
}

/// Fetches a range (logs, block refs, the inputs of plain-Safe executions) and prepares it
/// for the fold (decoded, signers recovered), on a task of its own.
async fn fetch_prepared(
    rpc: &Rpc,
    range: &AdaptiveRange,
    query: &LogQuery,
    chain_id: u64,
    a: u64,
    b: u64,
    all_headers: bool,
) -> Result<Prepared, FetchError> {
    let raw = fetch::fetch_range(rpc, range, query, a, b, all_headers)
        .await
        .map_err(FetchError::Rpc)?;
    let txs = pipeline::transactions_needing_input(&raw.logs);
    let inputs = fetch::transaction_inputs(rpc, txs)
        .await
        .map_err(FetchError::Rpc)?;
    pipeline::prepare(chain_id, raw, inputs).map_err(|source| FetchError::Decode {
        from: a,
        to: b,
        source,
    })
}

/// Where the writer writes, and how final the chain is.
struct Writer {
    store: Store,
    chain: String,
    chain_id: u64,
    /// Batches at or below this block are sealed into the log as they are written.
    final_block: Option<i64>,
    metrics: Option<Arc<ChainMetrics>>,
}

/// The writer: commits each folded batch in order with its alerts (and, when it is already
/// final, its leaves of the log), until the folder is done or a commit fails (then the
/// folder's next send fails and it stops).
async fn write_batches(w: Writer, mut batches: mpsc::Receiver<Folded>) -> Result<(), LedgerError> {
    let Writer {
        store,
        chain,
        chain_id,
        final_block,
        metrics,
    } = w;
    while let Some(folded) = batches.recv().await {
        let mut write = folded.write;
        write.alerts = folded
            .events
            .iter()
            .map(|(event, d)| NewAlert::new(&chain, *event, d))
            .collect();
        let mut tx = store.begin_batch(&write).await?;
        if let (Some(fin), Some(cursor)) = (final_block, &write.cursor) {
            let to = cursor.head.number as i64;
            if to <= fin {
                let versions = folded
                    .groups
                    .iter()
                    .map(|g| (g.row.id.clone(), g.versions.clone()))
                    .collect();
                let leaves = ledger::BatchLeaves {
                    chain_id,
                    from: folded.from as i64,
                    to,
                    records: &write.records,
                    divergences: &write.divergences,
                    versions: &versions,
                };
                ledger::seal_batch(&mut tx, &leaves).await?;
            }
        }
        tx.commit().await?;
        for (event, d) in &folded.events {
            if *event == AlertEvent::Opened {
                tracing::warn!(group = %d.group_id, rule = %d.rule, subject = %d.subject,
                    item = %d.item, block = d.opened_block, "divergence opened");
            }
        }
        if let Some(m) = &metrics {
            m.add_batch(folded.stats.logs as u64, folded.stats.records as u64);
        }
    }
    Ok(())
}

async fn next_head(heads: &mut Option<futures::stream::BoxStream<'static, ()>>) {
    match heads {
        Some(s) => {
            if s.next().await.is_none() {
                *heads = None;
                std::future::pending::<()>().await
            }
        }
        None => std::future::pending::<()>().await,
    }
}
