//! A lane: a run of block ranges for a set of groups, fetched concurrently, folded in order
//! (fetching what each fold asks for), and written by a writer task that commits batch N — with
//! its leaves of the log when it is already final — while batch N+1 is folded.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::time::Instant;

use alloy::primitives::{Address, B256};
use futures::StreamExt;
use tokio::sync::mpsc;

use super::{reorg, Follower, FollowerError};
use crate::alert::NewAlert;
use crate::chain::fetch::{self, LogQuery};
use crate::chain::range::AdaptiveRange;
use crate::chain::rpc::{Rpc, RpcError, RpcErrorKind};
use crate::chain::token;
use crate::chain::trace::TraceMode;
use crate::decode::{treasury_topics, DecodeError};
use crate::ledger::{self, LedgerError};
use crate::metrics::ChainMetrics;
use crate::model::AlertEvent;
use crate::pipeline::{
    self, ChainParams, CheckpointBefore, Extras, Folded, GroupPrior, Needs, Prepared,
};
use crate::store::Store;

/// Token addresses whose metadata the store holds (or a commit of this process wrote).
pub(super) type KnownTokens = Arc<std::sync::Mutex<HashSet<Address>>>;

/// Folding one batch asks for more at most this many times (seeds, then a deadline's hash, …).
pub(super) const MAX_FOLDS: usize = 8;

impl Follower {
    /// Fetches `from..=to` for `groups` as concurrent ranges, folds them in order and commits
    /// each while the next is folded. With `main` (the checkpoint before and its hash), each
    /// batch must extend the previous one and moves the checkpoint; a batch at or below
    /// `final_block` enters the log in its own transaction.
    pub(super) async fn run_lane(
        &self,
        groups: Vec<GroupPrior>,
        from: u64,
        to: u64,
        target: u64,
        main: Option<(CheckpointBefore, Option<B256>)>,
        final_block: Option<i64>,
    ) -> Result<(), FollowerError> {
        let query = self.log_query(&groups);
        let traces = self.trace_mode().await?;
        let known = self.known_tokens().await?;
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
            let head = main.is_some().then_some(target);
            let known = known.clone();
            tokio::spawn(async move {
                let at = Fetch {
                    chain_id,
                    a,
                    b,
                    all_headers,
                    traces,
                    head,
                };
                fetch_prepared(&rpc, &range, &query, &known, at).await
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
                block_time_ms: self.block_time_ms(),
                final_block,
                metrics: self.metrics.clone(),
                known: known.clone(),
            },
            from_folder,
        ));
        let folded = self.fold_lane(groups, main, &mut fetches, to_writer).await;
        // Whatever was sent is committed (or refused) before the step returns, so no commit of
        // this step runs alongside the next one.
        let written = writer.await.map_err(|e| {
            self.rpc_err(RpcError::new(
                "writer task",
                RpcErrorKind::Fatal,
                e.to_string(),
            ))
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
                    return Err(self.rpc_err(RpcError::new(
                        "fetch task",
                        RpcErrorKind::Fatal,
                        e.to_string(),
                    )))
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
        let mut fetched = 0;
        loop {
            let started = std::time::Instant::now();
            let folded = pipeline::fold(params, groups, batch, &extras, checkpoint);
            if let Some(m) = &self.metrics {
                m.add_fold(started.elapsed());
            }
            let needs = match folded {
                Ok(folded) => return Ok(folded),
                Err(needs) if fetched == MAX_FOLDS => {
                    return Err(FollowerError::Unmet {
                        chain: self.name.clone(),
                        from: batch.from,
                        to: batch.to,
                        needs,
                    })
                }
                Err(needs) => needs,
            };
            tracing::debug!(
                readings = needs.readings.len(),
                hashes = needs.hashes.len(),
                from = batch.from,
                to = batch.to,
                "the fold needs more; fetching"
            );
            extras.extend(self.fetch_needs(needs).await?);
            fetched += 1;
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

    /// The tokens whose metadata is stored, read from the store the first time.
    async fn known_tokens(&self) -> Result<KnownTokens, FollowerError> {
        self.known_tokens
            .get_or_try_init(|| async {
                let stored = self.store.token_addresses(&self.name).await?;
                let known: HashSet<Address> =
                    stored.iter().filter_map(|a| a.parse().ok()).collect();
                Ok(Arc::new(std::sync::Mutex::new(known)))
            })
            .await
            .cloned()
            .map_err(|e| self.store_err(e))
    }

    /// The logs a lane follows: its groups' contracts with the catalog's topics, and token
    /// transfers and approvals naming their treasuries (three requests: see
    /// [`crate::decode::treasury_topics`]).
    fn log_query(&self, groups: &[GroupPrior]) -> LogQuery {
        let addresses: BTreeSet<Address> = groups.iter().flat_map(|g| g.addresses()).collect();
        let treasury: BTreeSet<Address> = groups.iter().flat_map(|g| g.treasury()).collect();
        LogQuery {
            addresses: addresses.into_iter().collect(),
            topics: self.topics.clone(),
            treasury: treasury.into_iter().map(|a| a.into_word()).collect(),
            by_treasury: treasury_topics()
                .into_iter()
                .map(|(position, events)| fetch::TreasuryFilter { position, events })
                .collect(),
        }
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

/// Which range a fetch task fetches, and how.
#[derive(Debug, Clone, Copy)]
struct Fetch {
    chain_id: u64,
    a: u64,
    b: u64,
    all_headers: bool,
    traces: TraceMode,
    /// The head the lane follows, on the main lane.
    head: Option<u64>,
}

/// Fetches a range (logs, block refs, the inputs of plain-Safe and module executions, the call
/// traces of the transactions that touched a treasury) and prepares it for the fold (decoded,
/// signers recovered), on a task of its own.
async fn fetch_prepared(
    rpc: &Rpc,
    range: &AdaptiveRange,
    query: &LogQuery,
    known: &KnownTokens,
    at: Fetch,
) -> Result<Prepared, FetchError> {
    let Fetch {
        chain_id,
        a,
        b,
        all_headers,
        traces,
        head,
    } = at;
    let raw = fetch::fetch_range(rpc, range, query, a, b, all_headers)
        .await
        .map_err(FetchError::Rpc)?;
    let txs = pipeline::transactions_needing_input(&raw.logs);
    let inputs = fetch::transaction_inputs(rpc, txs);
    let traced = fetch::traces(rpc, traces, fetch::treasury_transactions(&raw.logs, query));
    // Tokens seen moving for the first time: their metadata is read now, once, and stored
    // with the batch.
    let new_tokens: Vec<Address> = {
        let known = known.lock().expect("known tokens lock");
        token::transfer_emitters(&raw.logs)
            .into_iter()
            .filter(|t| !known.contains(t))
            .collect()
    };
    let tokens = token::read_tokens_metadata(rpc, new_tokens, b);
    let (inputs, traced, tokens) =
        tokio::try_join!(inputs, traced, tokens).map_err(FetchError::Rpc)?;
    let mut prepared =
        pipeline::prepare(chain_id, raw, inputs, traced).map_err(|source| FetchError::Decode {
            from: a,
            to: b,
            source,
        })?;
    prepared.tokens = tokens;
    prepared.head = head;
    Ok(prepared)
}

/// Where the writer writes, and how final the chain is.
struct Writer {
    store: Store,
    chain: String,
    chain_id: u64,
    /// The chain's block time: covenant statement periods in blocks.
    block_time_ms: u64,
    /// Batches at or below this block are sealed into the log as they are written.
    final_block: Option<i64>,
    metrics: Option<Arc<ChainMetrics>>,
    /// Told of the tokens each commit stored.
    known: KnownTokens,
}

/// The writer: commits each folded batch in order with its alerts (and, when it is already
/// final, its leaves of the log), until the folder is done or a commit fails (then the
/// folder's next send fails and it stops).
async fn write_batches(w: Writer, mut batches: mpsc::Receiver<Folded>) -> Result<(), LedgerError> {
    let Writer {
        store,
        chain,
        chain_id,
        block_time_ms,
        final_block,
        metrics,
        known,
    } = w;
    while let Some(folded) = batches.recv().await {
        let mut write = folded.write;
        write.alerts = folded
            .events
            .iter()
            .map(|(event, d)| match event {
                AlertEvent::ManifestResolvedCritical => {
                    let version = folded
                        .groups
                        .iter()
                        .find(|g| g.row.id == d.group_id)
                        .and_then(|g| {
                            // The version that resolved it: in force at the resolving block,
                            // with the hash the resolution names.
                            g.versions.iter().rev().find(|v| {
                                d.resolved_manifest_hash.as_deref() == Some(v.hash.as_str())
                                    && Some(v.effective_block) <= d.resolved_block
                            })
                        });
                    NewAlert::manifest_resolved_critical(&chain, d, version)
                }
                _ => NewAlert::new(&chain, *event, d),
            })
            .collect();
        let started = Instant::now();
        let mut tx = store.begin_batch(&write).await?;
        if let (Some(fin), Some(cursor)) = (final_block, &write.cursor) {
            let to = cursor.head.number as i64;
            if to <= fin {
                let versions = folded
                    .groups
                    .iter()
                    .map(|g| (g.row.id.clone(), g.versions.clone()))
                    .collect();
                let period_blocks: Vec<i64> = folded
                    .groups
                    .iter()
                    .flat_map(|g| g.covenants.iter())
                    .map(|cv| cv.covenant.period_blocks(block_time_ms))
                    .collect();
                let leaves = ledger::BatchLeaves {
                    chain_id,
                    from: folded.from as i64,
                    to,
                    records: &write.records,
                    divergences: &write.divergences,
                    versions: &versions,
                    period_blocks: &period_blocks,
                };
                ledger::seal_batch(&mut tx, &leaves).await?;
            }
        }
        tx.commit().await?;
        let commit = started.elapsed();
        if !write.tokens.is_empty() {
            let mut known = known.lock().expect("known tokens lock");
            known.extend(
                write
                    .tokens
                    .iter()
                    .filter_map(|t| t.address.parse::<Address>().ok()),
            );
        }
        for (event, d) in &folded.events {
            if *event == AlertEvent::Opened {
                tracing::warn!(group = %d.group_id, rule = %d.rule, subject = %d.subject,
                    item = %d.item, block = d.opened_block, "divergence opened");
            }
        }
        if let Some(m) = &metrics {
            m.add_batch(
                folded.stats.logs as u64,
                folded.stats.records as u64,
                commit,
            );
        }
    }
    Ok(())
}
