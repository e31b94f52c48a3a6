//! One follower per chain. Each step it (1) checks that its checkpoint is still canonical and
//! rolls back to the fork point if not, (2) advances a chunk of any group registered behind the
//! checkpoint (a catch-up lane, so live following of the others never stops for long), and (3)
//! advances the main lane — every caught-up group — towards `head - confirmations`, fetching
//! several ranges concurrently and committing them in order.
//!
//! Ranges adapt: a range the node refuses is split in halves, and the size grows again after
//! successes. Near the head every block's `(number, hash, parent_hash)` is fetched and checked
//! link by link, and every log's block hash against it; any disagreement means the chain moved
//! under us, and the step is retried from the (re-checked) checkpoint.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::{Address, B256};
use alloy::rpc::types::{Filter, Log};
use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use super::rpc::{BlockRef, RetryPolicy, Rpc, RpcError, RpcErrorKind};
use crate::config::{ChainConfig, FollowerConfig};
use crate::decode::{catalog_topics, TRANSFER_TOPIC};
use crate::ledger::{self, LedgerError, LogSigner};
use crate::metrics::ChainMetrics;
use crate::pipeline::{
    apply_batch, transactions_needing_input, ApplyError, Batch, ChainCtx, GroupCtx,
};
use crate::store::{Store, StoreError};

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
    #[error("chain {chain}: blocks {from}..={to}: {source}")]
    Apply {
        chain: String,
        from: u64,
        to: u64,
        #[source]
        source: ApplyError,
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
            FollowerError::Apply {
                source: ApplyError::Rpc(e),
                ..
            } => e.kind != RpcErrorKind::Fatal,
            // A log without its chain position is a garbled answer; the group list changing
            // under a batch means it must be fetched again.
            FollowerError::Apply {
                source: ApplyError::Decode(_) | ApplyError::Stale(_),
                ..
            } => true,
            FollowerError::ChainMoved { .. } => true,
            FollowerError::Ledger {
                source: LedgerError::Store(_),
                ..
            } => true,
            // A busy database (locked SQLite, dropped PostgreSQL connection) is worth retrying.
            FollowerError::Store { .. }
            | FollowerError::Apply {
                source: ApplyError::Store(_),
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
    /// The current `eth_getLogs` range size, shrunk on refusals and grown on successes.
    range: Arc<AtomicU64>,
    topics: Vec<B256>,
    /// Signs checkpoints of the chain's log after each seal; without it the log still grows.
    signer: Option<Arc<LogSigner>>,
    /// The final block the log was last sealed at (-2: not yet this run).
    sealed_at: AtomicI64,
    /// Head, progress and counts for `/metrics` and `/readyz`.
    metrics: Option<Arc<ChainMetrics>>,
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
            range: Arc::new(AtomicU64::new(chain.max_block_range)),
            chain,
            settings,
            rpc,
            store,
            topics: catalog_topics(),
            signer: None,
            sealed_at: AtomicI64::new(-2),
            metrics: None,
        })
    }

    /// Signs a checkpoint of the chain's log whenever it grows.
    pub fn with_signer(mut self, signer: Arc<LogSigner>) -> Follower {
        self.signer = Some(signer);
        self
    }

    /// Publishes head, progress, counts and RPC errors to `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<ChainMetrics>) -> Follower {
        self.rpc = self.rpc.with_metrics(metrics.clone());
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
            let busy = match self.step().await {
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
        match super::rpc::subscribe_heads(url).await {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(error = %e, "WebSocket subscription failed; polling instead");
                None
            }
        }
    }

    /// One step: reorg check, a catch-up chunk, a main-lane chunk.
    #[tracing::instrument(skip_all, fields(chain = %self.name))]
    pub async fn step(&self) -> Result<StepOutcome, FollowerError> {
        let mut outcome = StepOutcome::default();
        let groups: Vec<GroupCtx> = self
            .store
            .chain_groups(&self.name)
            .await
            .map_err(|e| self.store_err(e))?
            .into_iter()
            .map(|(row, versions)| GroupCtx { row, versions })
            .collect();
        if groups.is_empty() {
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
        let (cursor, cursor_hash) = match stored {
            Some((n, h)) => (n, h.parse::<B256>().ok()),
            None => (
                groups.iter().map(|g| g.row.start_block).min().unwrap_or(0) - 1,
                None,
            ),
        };
        if let Some(m) = &self.metrics {
            m.set_indexed(cursor);
        }

        // 1. Is the checkpoint still on the canonical chain?
        if let Some(hash) = cursor_hash {
            if cursor >= 0 {
                let canonical = self
                    .rpc
                    .block(cursor as u64)
                    .await
                    .map_err(|e| self.rpc_err(e))?;
                if canonical.map(|(b, _)| b.hash) != Some(hash) {
                    self.roll_back_to_fork(cursor as u64).await?;
                    self.sealed_at.store(-2, Ordering::Relaxed);
                    self.sign_checkpoint().await?;
                    outcome.reorged = true;
                    return Ok(outcome);
                }
            }
        }

        // 2. Groups behind the checkpoint: one chunk of catch-up.
        let lagging: Vec<GroupCtx> = groups
            .iter()
            .filter(|g| g.row.synced_to < cursor)
            .cloned()
            .collect();
        if !lagging.is_empty() {
            let from = lagging.iter().map(|g| g.row.synced_to).min().unwrap_or(0) + 1;
            let chunk = self.chunk_len();
            let to = (cursor as u64).min(from as u64 + chunk - 1);
            self.run_lane(&lagging, from as u64, to, target, None, false)
                .await?;
            outcome.catching_up = true;
        }

        // 3. The main lane: every group at or past the checkpoint.
        let live: Vec<GroupCtx> = groups
            .into_iter()
            .filter(|g| g.row.synced_to >= cursor)
            .collect();
        let from = (cursor + 1) as u64;
        if from <= target {
            let to = target.min(from + self.chunk_len() - 1);
            let parent = cursor_hash.filter(|_| cursor >= 0);
            self.run_lane(&live, from, to, target, parent, true).await?;
            outcome.advanced = to - from + 1;
            if let Some(m) = &self.metrics {
                m.set_indexed(to as i64);
            }
        }

        // 4. What has become final enters the verifiable log.
        self.seal_log(head, outcome.advanced > 0 || outcome.catching_up)
            .await?;
        if let Some(m) = &self.metrics {
            m.step_done();
        }
        Ok(outcome)
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
    async fn seal_log(&self, head: u64, advanced: bool) -> Result<(), FollowerError> {
        let final_block = self.final_block(head).await?;
        if !advanced && final_block <= self.sealed_at.load(Ordering::Relaxed) {
            return Ok(());
        }
        let ledger_err = |source| FollowerError::Ledger {
            chain: self.name.clone(),
            source,
        };
        let sealed = ledger::seal(&self.store, &self.name, self.chain.chain_id, final_block)
            .await
            .map_err(ledger_err)?;
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
            .map_err(|source| FollowerError::Ledger {
                chain: self.name.clone(),
                source,
            })?;
        Ok(())
    }

    /// How many blocks one step may cover: `concurrency` ranges of the current size.
    fn chunk_len(&self) -> u64 {
        self.range.load(Ordering::Relaxed).max(1) * self.settings.concurrency as u64
    }

    /// Fetches `from..=to` for `groups` as concurrent ranges and applies them in order.
    async fn run_lane(
        &self,
        groups: &[GroupCtx],
        from: u64,
        to: u64,
        target: u64,
        mut parent: Option<B256>,
        main: bool,
    ) -> Result<(), FollowerError> {
        let addresses: Vec<Address> = groups
            .iter()
            .flat_map(|g| g.addresses())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let treasury: Vec<B256> = groups
            .iter()
            .flat_map(|g| g.treasury())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .map(|a| a.into_word())
            .collect();
        let size = self.range.load(Ordering::Relaxed).max(1);
        let mut ranges = Vec::new();
        let mut a = from;
        while a <= to {
            let b = to.min(a + size - 1);
            ranges.push((a, b));
            a = b + 1;
        }
        let near_head_from = target.saturating_sub(self.settings.reorg_window);
        // Each range is fetched on its own task so fetching continues while earlier ranges are
        // being written; `buffered` keeps at most `concurrency` in flight and yields in order.
        let fetches = futures::stream::iter(ranges.into_iter().map(|(a, b)| {
            let fetcher = Fetcher {
                rpc: self.rpc.clone(),
                addresses: addresses.clone(),
                treasury: treasury.clone(),
                topics: self.topics.clone(),
                range: self.range.clone(),
                max_range: self.chain.max_block_range,
            };
            let all_headers = main && b >= near_head_from;
            tokio::spawn(async move { fetcher.fetch(a, b, all_headers).await })
        }))
        .buffered(self.settings.concurrency);
        futures::pin_mut!(fetches);
        while let Some(joined) = fetches.next().await {
            let batch = joined
                .map_err(|e| {
                    self.rpc_err(RpcError {
                        method: "fetch task",
                        kind: RpcErrorKind::Fatal,
                        message: e.to_string(),
                    })
                })?
                .map_err(|e| self.rpc_err(e))?;
            if main {
                self.check_links(&batch, parent)?;
                parent = batch.end().map(|b| b.hash);
            }
            let checkpoint = main.then_some(self.settings.reorg_window);
            let ctx = ChainCtx {
                rpc: &self.rpc,
                name: &self.name,
                chain_id: self.chain.chain_id,
                log_range: self.chain.max_block_range,
                grace_blocks: self.chain.documentation_grace_blocks,
                snapshot_interval: self.chain.snapshot_interval_blocks,
            };
            let stats = apply_batch(&self.store, &ctx, groups, &batch, checkpoint)
                .await
                .map_err(|source| FollowerError::Apply {
                    chain: self.name.clone(),
                    from: batch.from,
                    to: batch.to,
                    source,
                })?;
            if let Some(m) = &self.metrics {
                m.add_batch(batch.logs.len() as u64, stats.records as u64);
            }
        }
        Ok(())
    }

    /// Checks that a batch extends the checkpoint and that its logs belong to its blocks.
    fn check_links(&self, batch: &Batch, parent: Option<B256>) -> Result<(), FollowerError> {
        let moved = || FollowerError::ChainMoved {
            chain: self.name.clone(),
            from: batch.from,
            to: batch.to,
        };
        if batch.end().is_none() {
            return Err(moved());
        }
        let contiguous = batch.blocks.len() as u64 == batch.to - batch.from + 1;
        if contiguous {
            let mut expected = parent;
            for b in &batch.blocks {
                if expected.is_some_and(|p| p != b.parent_hash) {
                    return Err(moved());
                }
                expected = Some(b.hash);
            }
            for log in &batch.logs {
                let i = log.block_number.unwrap_or(0).wrapping_sub(batch.from) as usize;
                if batch.blocks.get(i).map(|b| b.hash) != log.block_hash.or(Some(B256::ZERO)) {
                    return Err(moved());
                }
            }
        }
        Ok(())
    }

    /// Walks back through the remembered blocks to the newest one still canonical, and rolls
    /// every derived row back to it in one transaction.
    #[tracing::instrument(skip_all, fields(chain = %self.name, at))]
    async fn roll_back_to_fork(&self, at: u64) -> Result<(), FollowerError> {
        let remembered = self
            .store
            .recent_blocks(&self.name)
            .await
            .map_err(|e| self.store_err(e))?;
        let mut fork = None;
        for b in &remembered {
            let canonical = self
                .rpc
                .block(b.number)
                .await
                .map_err(|e| self.rpc_err(e))?;
            if canonical.map(|(c, _)| c.hash) == Some(b.hash) {
                fork = Some(*b);
                break;
            }
        }
        let oldest = remembered.last().map(|b| b.number).unwrap_or(at);
        if fork.is_none() && oldest > 0 {
            return Err(FollowerError::DeepReorg {
                chain: self.name.clone(),
                at: oldest,
                window: self.settings.reorg_window,
            });
        }
        tracing::warn!(from = at, fork = ?fork.map(|f| f.number), "reorg: rolling back");
        self.store
            .rollback_to(&self.name, fork)
            .await
            .map_err(|e| self.store_err(e))?;
        Ok(())
    }
}

/// Everything a fetch task needs, owned so it can run on its own task.
struct Fetcher {
    rpc: Rpc,
    addresses: Vec<Address>,
    /// Treasury addresses as topics: ERC-20 transfers from (topic 1) or to (topic 2) them.
    treasury: Vec<B256>,
    topics: Vec<B256>,
    range: Arc<AtomicU64>,
    max_range: u64,
}

impl Fetcher {
    /// Logs of `a..=b` (split as the node demands) and the block refs: every block when near
    /// the head, else only the last.
    async fn fetch(&self, a: u64, b: u64, all_headers: bool) -> Result<Batch, RpcError> {
        // Headers first, logs second, the last header again third: if the chain moved between
        // the first and the third, the batch is refused (the last block's hash changed), and if
        // it moved between the headers and the logs, a log's block hash betrays it. Fetching
        // logs first could pair old-fork logs with new-fork headers and lose an event silently.
        let numbers: Vec<u64> = if all_headers {
            (a..=b).collect()
        } else {
            vec![b]
        };
        let blocks: Vec<BlockRef> = futures::stream::iter(numbers)
            .map(|n| {
                let rpc = self.rpc.clone();
                async move { rpc.block_ref(n).await }
            })
            .buffered(8)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<Result<_, _>>()?;
        let mut logs = Vec::new();
        if !self.addresses.is_empty() {
            let by_emitter = Filter::new()
                .address(self.addresses.clone())
                .event_signature(self.topics.clone());
            logs.extend(self.logs_split(&by_emitter, a, b).await?);
        }
        if !self.treasury.is_empty() {
            // Any token's transfers out of and into the treasury, whoever emits them.
            let transfers = Filter::new().event_signature(TRANSFER_TOPIC);
            let out = transfers.clone().topic1(self.treasury.clone());
            let into = transfers.topic2(self.treasury.clone());
            logs.extend(self.logs_split(&out, a, b).await?);
            logs.extend(self.logs_split(&into, a, b).await?);
        }
        logs.sort_by_key(|l| (l.block_number, l.log_index));
        // A transfer between two treasuries (or from a watched contract) comes back twice.
        logs.dedup_by_key(|l| (l.block_number, l.log_index));
        let last = self.rpc.block_ref(b).await?;
        if blocks.last() != Some(&last) {
            return Err(RpcError {
                method: "eth_getBlockByNumber",
                kind: RpcErrorKind::Transient,
                message: format!("block {b} changed while its range was fetched (reorg)"),
            });
        }
        // Inputs of plain-Safe executions, for signer recovery, fetched here rather than
        // inside the writer's database transaction.
        let tx_inputs = futures::stream::iter(transactions_needing_input(&logs))
            .map(|tx| {
                let rpc = self.rpc.clone();
                async move { rpc.transaction_input(tx).await.map(|i| (tx, i)) }
            })
            .buffered(8)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .filter_map(|r| match r {
                Ok((tx, Some(input))) => Some(Ok((tx, input))),
                Ok((_, None)) => None,
                Err(e) => Some(Err(e)),
            })
            .collect::<Result<_, _>>()?;
        Ok(Batch {
            from: a,
            to: b,
            logs,
            blocks,
            tx_inputs,
        })
    }

    /// `eth_getLogs` over `a..=b`, halving the range while the node refuses it.
    async fn logs_split(&self, template: &Filter, a: u64, b: u64) -> Result<Vec<Log>, RpcError> {
        let mut out = Vec::new();
        let mut stack = vec![(a, b)];
        while let Some((x, y)) = stack.pop() {
            let filter = template.clone().from_block(x).to_block(y);
            match self.rpc.logs(&filter).await {
                Ok(mut logs) => {
                    out.append(&mut logs);
                    // Success: let the range grow back by half, up to the configured maximum.
                    let cur = self.range.load(Ordering::Relaxed);
                    let grown = (cur + cur / 2 + 1).min(self.max_range);
                    let _ = self.range.compare_exchange(
                        cur,
                        grown,
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                    );
                }
                Err(e) if e.kind == RpcErrorKind::RangeTooLarge && y > x => {
                    let mid = x + (y - x) / 2;
                    self.range
                        .fetch_min(((y - x) / 2).max(1), Ordering::Relaxed);
                    tracing::debug!(from = x, to = y, "range refused; splitting");
                    // Push the upper half first so the lower half is fetched first.
                    stack.push((mid + 1, y));
                    stack.push((x, mid));
                }
                Err(e) => return Err(e),
            }
        }
        out.sort_by_key(|l| (l.block_number, l.log_index));
        Ok(out)
    }
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
