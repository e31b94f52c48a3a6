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
//! [`reorg`] holds the pure checks of block refs, [`unwind`] the roll-back, and `lane` the
//! fetch → fold → write machinery of one lane.
//!
//! Invariant: the groups' state a fold starts from is the state the previous commit left (kept
//! in memory between batches and steps); every commit checks that this is still so, and any
//! failure drops what is in memory, so the next step starts again from the database.

mod heads;
mod lane;
pub mod reorg;
pub mod unwind;

pub use unwind::unwind;

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use alloy::primitives::B256;
use backon::Retryable;
use tokio_util::sync::CancellationToken;

use crate::chain::range::AdaptiveRange;
use crate::chain::rpc::{RetryPolicy, Rpc, RpcError, RpcErrorKind};
use crate::chain::trace::TraceMode;
use crate::config::{ChainConfig, FollowerConfig};
use crate::decode::{catalog_topics, DecodeError};
use crate::ledger::{self, LedgerError, LogSigner};
use crate::metrics::{ChainMetrics, GroupCatchUp};
use crate::pipeline::{ChainParams, GroupPrior, LoadError, Needs};
use crate::retry::Backoff;
use crate::store::{GroupRow, Store, StoreError};
use reorg::Fork;

use lane::MAX_FOLDS;

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
    /// The node serves another chain than the configured one: `expected_by` is who said which
    /// (`the preset base`, `the configuration`), `actual_name` the name of the node's chain
    /// where it is a well-known one.
    #[error(
        "chain {chain}: the node at {node} reports chain id {actual}{}, {expected_by} expects {expected}",
        .actual_name.map(|n| format!(" ({n})")).unwrap_or_default()
    )]
    WrongChain {
        chain: String,
        /// The RPC URL's host and port (never its path, which may hold an API key).
        node: String,
        expected: u64,
        expected_by: String,
        actual: u64,
        actual_name: Option<&'static str>,
    },
    #[error("chain {chain}: the chain moved while fetching blocks {from}..={to}; retrying")]
    ChainMoved { chain: String, from: u64, to: u64 },
    /// The node answered as if it had not reached `block` yet, which another node (or this one)
    /// already served: a load-balanced provider's backends lag each other. Lag, not a reorg.
    #[error("chain {chain}: the node is behind block {block} it served before (lag, not a reorg); waiting")]
    NodeBehind { chain: String, block: u64 },
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
    /// The store refused a write: another replica holds the chain's lease now.
    pub fn is_fenced(&self) -> bool {
        matches!(
            self,
            FollowerError::Store {
                source: StoreError::Fenced(_),
                ..
            } | FollowerError::Ledger {
                source: LedgerError::Store(StoreError::Fenced(_)),
                ..
            }
        )
    }

    /// Whether the follower should back off and try the step again.
    pub fn is_retryable(&self) -> bool {
        if self.is_fenced() {
            return false;
        }
        match self {
            FollowerError::Rpc { source, .. } => source.kind != RpcErrorKind::Fatal,
            // A log without its chain position is a garbled answer; a batch folded from a state
            // that changed (a manifest update, an acknowledgement) is folded again; a busy
            // database (locked SQLite, dropped PostgreSQL connection) is worth retrying.
            FollowerError::Decode { .. }
            | FollowerError::ChainMoved { .. }
            | FollowerError::NodeBehind { .. }
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
    /// The trace API the node answers, detected once.
    trace_mode: tokio::sync::OnceCell<TraceMode>,
    /// Tokens whose metadata is stored, loaded once; a fetch reads the metadata of the others.
    known_tokens: tokio::sync::OnceCell<lane::KnownTokens>,
}

impl Follower {
    pub fn new(
        name: &str,
        chain: ChainConfig,
        settings: FollowerConfig,
        store: Store,
    ) -> Result<Follower, FollowerError> {
        let rpc =
            Rpc::new(chain.rpc_url.as_str(), RetryPolicy::from(&settings)).map_err(|source| {
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
            trace_mode: tokio::sync::OnceCell::new(),
            known_tokens: tokio::sync::OnceCell::new(),
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

    /// The trace API this chain's node is asked: the configured one, or under `auto` the one
    /// detected at the first step.
    pub async fn trace_mode(&self) -> Result<TraceMode, FollowerError> {
        self.trace_mode
            .get_or_try_init(|| async {
                let mode = crate::chain::trace::detect(&self.rpc, self.chain.traces).await?;
                tracing::info!(chain = %self.name, configured = %self.chain.traces, traces = %mode,
                    "call traces");
                Ok(mode)
            })
            .await
            .copied()
            .map_err(|e| self.rpc_err(e))
    }

    fn rpc_err(&self, source: RpcError) -> FollowerError {
        FollowerError::Rpc {
            chain: self.name.clone(),
            source,
        }
    }

    /// The node does not know `block`, which was served before: lag, logged as such.
    fn node_behind(&self, block: u64) -> FollowerError {
        tracing::debug!(chain = %self.name, block, "node behind a block it served before; waiting (lag, not a reorg)");
        if let Some(m) = &self.metrics {
            m.node_behind();
        }
        FollowerError::NodeBehind {
            chain: self.name.clone(),
            block,
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
            balance_check_interval: self.chain.balance_check_interval_blocks,
            safe_libraries: crate::decode::calls::SafeLibraries::new(
                self.chain.safe_deployments.multi_send(),
                self.chain.safe_deployments.multi_send_call_only(),
            ),
            block_time_ms: self.block_time_ms(),
        }
    }

    /// The chain's block time in milliseconds (12 s when not configured).
    fn block_time_ms(&self) -> u64 {
        self.chain
            .block_time
            .map_or(12_000, |t| t.as_millis().max(1) as u64)
    }

    /// Runs until `cancel` fires. Retryable failures (a node unreachable at start among them)
    /// back off and retry, shown as failing in the metrics; a fatal one ends the follower with
    /// the error, and the daemon restarts this chain alone.
    pub async fn run(&self, cancel: CancellationToken) -> Result<(), FollowerError> {
        let poll = Duration::from_millis(self.chain.poll_interval_ms);
        // A step that fails for a reason worth retrying is retried until it succeeds or the
        // follower is cancelled, from one poll interval up to ten.
        let backoff = Backoff {
            initial: poll,
            max: poll.saturating_mul(10),
            retries: None,
        };
        let notify = |e: &FollowerError, wait: Duration| {
            if let Some(m) = &self.metrics {
                m.failed(&e.to_string());
            }
            tracing::warn!(chain = %self.name, error = %e, retry_in_ms = wait.as_millis() as u64,
                "follower step failed; retrying");
        };
        // A node that cannot be reached at start is waited for like one lost later.
        let connect = (|| async { self.rpc.chain_id().await.map_err(|e| self.rpc_err(e)) })
            .retry(backoff.builder())
            .when(FollowerError::is_retryable)
            .notify(notify);
        let actual = tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            r = connect => r?,
        };
        if actual != self.chain.chain_id {
            let url = &self.chain.rpc_url;
            return Err(FollowerError::WrongChain {
                chain: self.name.clone(),
                node: match (url.host_str(), url.port()) {
                    (Some(host), Some(port)) => format!("{host}:{port}"),
                    (host, _) => host.unwrap_or_default().to_string(),
                },
                expected: self.chain.chain_id,
                expected_by: self.chain.chain_id_source(),
                actual,
                actual_name: crate::config::chain_name(actual),
            });
        }
        if let Some(m) = &self.metrics {
            m.recovered();
        }
        let mut heads = heads::Heads::new(
            &self.name,
            self.chain.ws_url.as_ref().map(|u| u.as_str()),
            self.metrics.clone(),
        );
        loop {
            if cancel.is_cancelled() {
                return Ok(());
            }
            // Cancelling drops the step wherever it waits: a commit already handed to the
            // writer task completes or, if the process ends first, rolls back as a whole.
            let step = (|| self.step())
                .retry(backoff.builder())
                .when(FollowerError::is_retryable)
                .notify(notify);
            let step = tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                r = step => r,
            };
            let busy = match step {
                Ok(o) => o.advanced > 0 || o.catching_up || o.reorged,
                Err(e) => return Err(e),
            };
            if busy {
                continue;
            }
            // Caught up: wait for a new head (WebSocket) or the poll interval.
            tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                _ = heads.wait(poll) => {}
            }
        }
    }

    /// One step: reorg check, a catch-up chunk, a main-lane chunk, sealing.
    #[tracing::instrument(skip_all, fields(chain = %self.name))]
    pub async fn step(&self) -> Result<StepOutcome, FollowerError> {
        let result = self.step_inner().await;
        if let (Ok(_), Some(m)) = (&result, &self.metrics) {
            // Also when the chain has no group yet, and so no step to count.
            m.recovered();
        }
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
            let first = rows.iter().map(|g| g.start_block).min().unwrap_or(0);
            m.set_span(first - 1, target);
        }
        // A head below the checkpoint is a node that has not caught up with the one that served
        // the checkpoint: wait for it rather than unwind.
        if stored.is_some() && (head as i64) < cursor {
            return Err(self.node_behind(cursor as u64));
        }

        // 1. Is the checkpoint still on the canonical chain? Only a different hash says no; a
        // node that does not know the block (yet, after the client's retries) is behind, and
        // is waited for.
        if let (Some(hash), true) = (cursor_hash, cursor >= 0) {
            let canonical = match self.rpc.block_ref(cursor as u64).await {
                Ok(b) => b.hash,
                Err(e) if e.kind == RpcErrorKind::MissingBlock => {
                    return Err(self.node_behind(cursor as u64))
                }
                Err(e) => return Err(self.rpc_err(e)),
            };
            if canonical != hash {
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
            let progress: Vec<GroupCatchUp> = lagging
                .iter()
                .map(|g| GroupCatchUp {
                    group: g.row.id.clone(),
                    synced_to: g.row.synced_to.max(to as i64),
                    target: cursor,
                    start_block: g.row.start_block,
                })
                .collect();
            self.run_lane(lagging, from as u64, to, target, None, None)
                .await?;
            if let Some(m) = &self.metrics {
                m.set_catching_up(progress);
            }
            outcome.catching_up = true;
        } else if let Some(m) = &self.metrics {
            m.set_catching_up(Vec::new());
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
    /// what the database says (same revision — any other writer's commit, unwind, manifest
    /// update or acknowledgement moves it — and progress), else loaded again.
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
        let started = std::time::Instant::now();
        let sealed = self.seal_log_now(final_block).await;
        if let Some(m) = &self.metrics {
            m.add_seal(started.elapsed());
        }
        sealed
    }

    /// [`Follower::seal_log`], without the check that anything moved.
    async fn seal_log_now(&self, final_block: i64) -> Result<(), FollowerError> {
        let block_time_ms = self.block_time_ms();
        let mut sealed = ledger::Sealed::default();
        // Statements need their periods' block timestamps: fetched before each seal, a few
        // periods at a time, and sealed again while the seal waits for more.
        loop {
            let blocks = ledger::statement::blocks_to_stamp(
                &self.store,
                &self.name,
                block_time_ms,
                final_block,
            )
            .await
            .map_err(|e| self.ledger_err(e))?;
            let found =
                futures::future::try_join_all(blocks.iter().map(|n| self.rpc.block(*n as u64)))
                    .await
                    .map_err(|e| self.rpc_err(e))?;
            let stamps: ledger::statement::Stamps = blocks
                .iter()
                .zip(found)
                .filter_map(|(n, b)| b.map(|(_, ts)| (*n, ts as i64)))
                .collect();
            if stamps.len() < blocks.len() {
                tracing::warn!(
                    missing = blocks.len() - stamps.len(),
                    "the node lacks final blocks a statement needs; sealing waits for them"
                );
            }
            let inputs = ledger::StatementInputs {
                block_time_ms,
                stamps: &stamps,
                signer: self.signer.as_deref(),
            };
            let round = ledger::seal_with(
                &self.store,
                &self.name,
                self.chain.chain_id,
                final_block,
                Some(&inputs),
            )
            .await
            .map_err(|e| self.ledger_err(e))?;
            sealed.leaves += round.leaves;
            sealed.statements += round.statements;
            sealed.waiting = round.waiting;
            // A round that stated nothing waits for timestamps the node did not give.
            if !round.waiting || round.statements == 0 {
                break;
            }
        }
        // Sealing that still waits is tried again at the next step, whatever moved.
        if !sealed.waiting {
            self.sealed_at.store(final_block, Ordering::Relaxed);
        }
        if sealed.leaves > 0 {
            tracing::debug!(
                leaves = sealed.leaves,
                statements = sealed.statements,
                final_block,
                "sealed into the log"
            );
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
            // Every remembered block was served before: one the node does not know (after the
            // client's retries) is lag, and walking back past it would unwind canonical blocks.
            let found = futures::future::try_join_all(next.iter().map(|n| self.rpc.block_ref(*n)))
                .await
                .map_err(|e| match e.kind {
                    RpcErrorKind::MissingBlock => self.node_behind(at),
                    _ => self.rpc_err(e),
                })?;
            for (n, b) in next.into_iter().zip(found) {
                canonical.insert(n, Some(b.hash));
            }
        };
        // Only a chain that forked at its very first block may be unwound to nothing.
        let deep = |oldest: u64| FollowerError::DeepReorg {
            chain: self.name.clone(),
            at: oldest,
            window: self.settings.reorg_window,
        };
        let fork = match fork {
            Fork::At(b) => Some(b),
            Fork::BeyondWindow { oldest } if oldest > 0 => return Err(deep(oldest)),
            Fork::Unknown if at > 0 => return Err(deep(at)),
            Fork::BeyondWindow { .. } | Fork::Unknown => None,
        };
        tracing::warn!(from = at, fork = ?fork.map(|f| f.number), "reorg: rolling back");
        if let Some(m) = &self.metrics {
            m.reorg();
        }
        self.forget();
        unwind(&self.store, &self.name, fork)
            .await
            .map_err(|e| self.ledger_err(e))?;
        Ok(())
    }
}
