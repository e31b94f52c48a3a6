//! The daemon's figures, exported in the Prometheus text format through the `metrics` facade
//! and `metrics-exporter-prometheus`: what each follower publishes as it runs (head, indexed
//! block, events and records, RPC errors by kind), timings recorded as they happen, and what
//! the database knows (divergences, alerts, the log), counted at scrape time so replicas agree.
//!
//! Each [`Metrics`] owns its own recorder rather than the process-wide one: one daemon, one
//! set of figures, so that several daemons in one process (the tests) never mix theirs.
//!
//! Invariant: a follower, a request or a delivery never waits on a scrape — figures are atomics
//! or a short lock, and timings go to the recorder's lock-free histograms.
//!
//! What `/metrics` exports (every histogram in seconds, rendered with its own buckets):
//!
//! | name | labels | what |
//! | --- | --- | --- |
//! | `groupstate_chain_head_block` | `chain` | the node's newest block |
//! | `groupstate_chain_indexed_block` | `chain` | the newest block every group's records are complete up to |
//! | `groupstate_chain_lag_blocks` | `chain` | head − indexed |
//! | `groupstate_chain_max_lag_blocks` | `chain` | the lag above which the daemon is not ready |
//! | `groupstate_events_total`, `groupstate_records_total` | `chain` | logs applied, records written, since start |
//! | `groupstate_events_per_second`, `groupstate_records_per_second` | `chain` | over the last minute |
//! | `groupstate_rpc_errors_total` | `chain`, `kind` | failed RPC attempts, retried or not |
//! | `groupstate_reorgs_total` | `chain` | unwinds to a fork point, since start |
//! | `groupstate_node_behind_total` | `chain` | steps that waited for a node behind a block it served before (lag, not a reorg) |
//! | `groupstate_ready` | `chain` | 1 when within the lag, stepped recently and not failing |
//! | `groupstate_chain_lease_held` | `chain` | 1 while this replica holds the chain's lease (follows it) |
//! | `groupstate_chain_lease_epoch` | `chain` | the epoch (fencing token) of the chain's lease, whoever holds it |
//! | `groupstate_chain_has_holder` | `chain` | 1 while some live replica holds the chain's lease; 0 means nobody follows it |
//! | `groupstate_chain_holder` | `chain`, `holder` | 1 for the replica holding the chain's lease |
//! | `groupstate_replicas_live` | | replicas seen within the lease, this one included |
//! | `groupstate_chain_failing` | `chain` | 1 while the chain's follower fails (and is retried alone) |
//! | `groupstate_chain_follower_restarts_total` | `chain` | times the chain's follower was restarted after a failure |
//! | `groupstate_chain_blocks_left` | `chain` | blocks between the indexed block and the head less confirmations |
//! | `groupstate_chain_progress_ratio` | `chain` | indexed share of the span from the groups' first start block to the target |
//! | `groupstate_chain_blocks_per_second` | `chain` | blocks indexed per second over the last minute |
//! | `groupstate_chain_eta_seconds` | `chain` | estimated seconds until caught up, at the current rate |
//! | `groupstate_chain_head_subscribed` | `chain` | 1 while new heads arrive over a WebSocket subscription, 0 while polling |
//! | `groupstate_chain_head_subscriptions_total` | `chain` | WebSocket `newHeads` subscriptions made (the first and every resubscription) |
//! | `groupstate_group_catch_up_blocks_left` | `chain`, `group` | blocks a group registered behind the chain's checkpoint has left to catch up |
//! | `groupstate_divergences_open` | `severity` | open divergences over every group |
//! | `groupstate_alert_deliveries` | `status` | deliveries pending, delivered, dead |
//! | `groupstate_log_entries` | `chain` | entries in the chain's verifiable log |
//! | `groupstate_batch_commit_seconds` | `chain` | one batch's write transaction, begin to commit |
//! | `groupstate_batch_fold_seconds` | `chain` | one batch's fold (pure CPU: decode to effects, covenants included), each pass |
//! | `groupstate_log_seal_seconds` | `chain` | one sealing of what became final into the log (covenant statements included) and its checkpoint |
//! | `groupstate_rpc_call_seconds` | `chain`, `method`, `outcome` (`ok`, `error`) | one RPC attempt |
//! | `groupstate_alert_delivery_seconds` | `kind` (sink), `outcome` (`delivered`, `failed`, `refused`) | one send to a sink |
//! | `groupstate_api_request_seconds` | `route` (the route's template), `method`, `status` | one HTTP request |

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use metrics::{
    counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram,
    with_local_recorder, Histogram, Unit,
};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

use crate::chain::rpc::{CallObserver, RpcErrorKind};

/// How far back the per-second rates look.
const RATE_WINDOW: Duration = Duration::from_secs(60);

const BATCH_COMMIT: &str = "groupstate_batch_commit_seconds";
const BATCH_FOLD: &str = "groupstate_batch_fold_seconds";
const LOG_SEAL: &str = "groupstate_log_seal_seconds";
const RPC_CALL: &str = "groupstate_rpc_call_seconds";
const ALERT_DELIVERY: &str = "groupstate_alert_delivery_seconds";
const API_REQUEST: &str = "groupstate_api_request_seconds";

/// Each histogram's bucket bounds, in seconds.
const BUCKETS: [(&str, &[f64]); 6] = [
    // Sealing: nothing to do most steps; a backlog of blocks, or a period's statements of a
    // thousand covenants, take seconds.
    (
        LOG_SEAL,
        &[
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ],
    ),
    // The fold of one batch: pure CPU, from tens of microseconds (an empty batch) to a
    // second (thousands of logs for a hundred groups).
    (
        BATCH_FOLD,
        &[
            0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
        ],
    ),
    // A transaction of effects and progress: milliseconds on a local database, seconds when a
    // backfill batch is large or PostgreSQL is remote.
    (
        BATCH_COMMIT,
        &[
            0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ],
    ),
    // A node round trip: milliseconds locally, up to the request timeout (30 s by default)
    // for a wide `eth_getLogs` on a busy provider.
    (
        RPC_CALL,
        &[
            0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
        ],
    ),
    // An HTTP POST to a webhook, Slack or Discord, up to the sink timeout (10 s by default).
    (
        ALERT_DELIVERY,
        &[0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0],
    ),
    // Reads of a page of rows: sub-millisecond to a few hundred milliseconds.
    (
        API_REQUEST,
        &[
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
        ],
    ),
];

/// Every figure of one daemon: its recorder, and each chain's state, by chain name.
pub struct Metrics {
    recorder: Arc<PrometheusRecorder>,
    handle: PrometheusHandle,
    chains: Mutex<BTreeMap<String, Arc<ChainMetrics>>>,
    /// The leases as this replica's keeper last read them (none: not a replica, e.g. a tool).
    leases: Mutex<Option<LeaseView>>,
    /// Every (chain, holder) pair exported so far: a former holder's series reads 0.
    holders_seen: Mutex<std::collections::BTreeSet<(String, String)>>,
}

/// Who follows which chain, as this replica last read the leases.
#[derive(
    Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
pub struct LeaseView {
    /// This replica's id.
    pub replica: String,
    pub chains: Vec<ChainLease>,
    /// The replicas seen within the lease, this one included.
    pub replicas: Vec<String>,
}

/// One chain's lease.
#[derive(
    Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
pub struct ChainLease {
    pub chain: String,
    /// The replica holding the lease now (none: expired or never taken).
    pub holder: Option<String>,
    /// The lease's epoch (its fencing token).
    pub epoch: i64,
    /// Whether this replica holds it.
    pub held_here: bool,
}

impl LeaseView {
    /// The lease of `chain`, if the keeper has seen one.
    pub fn of(&self, chain: &str) -> Option<&ChainLease> {
        self.chains.iter().find(|c| c.chain == chain)
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("chains", &self.chains)
            .finish_non_exhaustive()
    }
}

/// What the database knows, counted at scrape time.
#[derive(Debug, Default)]
pub struct StoredFigures {
    /// Open divergences by severity.
    pub divergences_open: Vec<(&'static str, i64)>,
    /// Alert deliveries by status.
    pub alert_deliveries: Vec<(&'static str, i64)>,
    /// Entries in each chain's log.
    pub log_entries: Vec<(String, u64)>,
}

impl Metrics {
    pub fn new() -> Arc<Metrics> {
        let mut builder = PrometheusBuilder::new();
        for (name, buckets) in BUCKETS {
            builder = builder
                .set_buckets_for_metric(Matcher::Full(name.into()), buckets)
                .expect("bucket bounds are not empty");
        }
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        with_local_recorder(&recorder, describe);
        Arc::new(Metrics {
            recorder: Arc::new(recorder),
            handle,
            chains: Mutex::new(BTreeMap::new()),
            leases: Mutex::new(None),
            holders_seen: Mutex::new(Default::default()),
        })
    }

    /// Publishes the leases as the keeper last read them.
    pub fn set_leases(&self, view: LeaseView) {
        *self.leases.lock().expect("metrics lock") = Some(view);
    }

    /// The leases as last published (none: this process is not a replica).
    pub fn leases(&self) -> Option<LeaseView> {
        self.leases.lock().expect("metrics lock").clone()
    }

    /// `chain`'s reading, with its lease: a chain another replica holds (or nobody does) is
    /// not this replica's to be ready for.
    pub fn reading(&self, chain: &str) -> ChainReading {
        let followed = self
            .chains
            .lock()
            .expect("metrics lock")
            .get(chain)
            .cloned();
        let mut r = match followed {
            Some(m) => m.read(chain),
            None => ChainReading {
                chain: chain.to_string(),
                ..ChainReading::default()
            },
        };
        if let Some(view) = self.leases() {
            let lease = view.of(chain);
            r.holder = Some(lease.and_then(|l| l.holder.clone()).unwrap_or_default());
            r.held_here = Some(lease.is_some_and(|l| l.held_here));
        }
        r
    }

    /// The figures of `chain`, created on first use with the lag it may fall behind by and
    /// still be ready.
    pub fn chain(&self, chain: &str, max_lag: u64) -> Arc<ChainMetrics> {
        let mut chains = self.chains.lock().expect("metrics lock");
        chains
            .entry(chain.to_string())
            .or_insert_with(|| Arc::new(ChainMetrics::new(chain, max_lag, self.recorder.clone())))
            .clone()
    }

    /// Every chain's figures, by name.
    pub fn chains(&self) -> Vec<(String, Arc<ChainMetrics>)> {
        let chains = self.chains.lock().expect("metrics lock");
        chains.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    /// Times one send of an alert to a sink of `kind`.
    pub fn alert_delivery(&self, kind: &'static str, outcome: &'static str, took: Duration) {
        with_local_recorder(
            &*self.recorder,
            || histogram!(ALERT_DELIVERY, "kind" => kind, "outcome" => outcome),
        )
        .record(took);
    }

    /// Times one HTTP request by its route's template (`/v1/groups/{id}`), never the raw
    /// path, so that the label set stays bounded.
    pub fn api_request(&self, route: &str, method: &'static str, status: u16, took: Duration) {
        with_local_recorder(&*self.recorder, || {
            histogram!(API_REQUEST, "route" => route.to_owned(), "method" => method,
                "status" => status.to_string())
        })
        .record(took);
    }

    /// Drains the histograms' recent samples into their buckets. The exporter does it at each
    /// scrape; call this periodically too, so that a daemon nobody scrapes keeps no samples.
    pub fn run_upkeep(&self) {
        self.handle.run_upkeep();
    }

    /// The Prometheus text of every figure: the followers' state as of now, `stored`, and the
    /// timings recorded so far.
    pub fn render(&self, ready_stale: Duration, stored: &StoredFigures) -> String {
        with_local_recorder(&*self.recorder, || {
            for (name, m) in self.chains() {
                let r = m.read(&name);
                let chain = || name.clone();
                if let Some(head) = r.head {
                    gauge!("groupstate_chain_head_block", "chain" => chain()).set(head as f64);
                }
                if let Some(indexed) = r.indexed {
                    gauge!("groupstate_chain_indexed_block", "chain" => chain())
                        .set(indexed as f64);
                }
                if let Some(lag) = r.lag {
                    gauge!("groupstate_chain_lag_blocks", "chain" => chain()).set(lag as f64);
                }
                gauge!("groupstate_chain_max_lag_blocks", "chain" => chain()).set(r.max_lag as f64);
                counter!("groupstate_events_total", "chain" => chain()).absolute(r.events_total);
                counter!("groupstate_records_total", "chain" => chain()).absolute(r.records_total);
                gauge!("groupstate_events_per_second", "chain" => chain()).set(r.events_per_second);
                gauge!("groupstate_records_per_second", "chain" => chain())
                    .set(r.records_per_second);
                for (kind, n) in &r.rpc_errors {
                    counter!("groupstate_rpc_errors_total", "chain" => chain(),
                        "kind" => kind.clone())
                    .absolute(*n);
                }
                gauge!("groupstate_chain_failing", "chain" => chain())
                    .set(f64::from(u8::from(r.failing.is_some())));
                counter!("groupstate_chain_follower_restarts_total", "chain" => chain())
                    .absolute(r.restarts);
                if let Some(left) = r.blocks_left {
                    gauge!("groupstate_chain_blocks_left", "chain" => chain()).set(left as f64);
                }
                if let Some(p) = r.progress {
                    gauge!("groupstate_chain_progress_ratio", "chain" => chain()).set(p);
                }
                gauge!("groupstate_chain_blocks_per_second", "chain" => chain())
                    .set(r.blocks_per_second);
                if let Some(eta) = r.eta_s {
                    gauge!("groupstate_chain_eta_seconds", "chain" => chain()).set(eta);
                }
                gauge!("groupstate_chain_head_subscribed", "chain" => chain())
                    .set(f64::from(u8::from(r.head_subscribed)));
                counter!("groupstate_chain_head_subscriptions_total", "chain" => chain())
                    .absolute(r.head_subscriptions);
                let seen = m.caught_up_seen.lock().expect("metrics lock").clone();
                for group in seen {
                    let left = r
                        .catching_up
                        .iter()
                        .find(|g| g.group == group)
                        .map_or(0, GroupCatchUp::blocks_left);
                    gauge!("groupstate_group_catch_up_blocks_left", "chain" => chain(),
                        "group" => group)
                    .set(left as f64);
                }
                counter!("groupstate_reorgs_total", "chain" => chain()).absolute(m.reorgs());
                counter!("groupstate_node_behind_total", "chain" => chain())
                    .absolute(m.node_behind_waits());
                let ready = r.is_ready(ready_stale).is_ok();
                gauge!("groupstate_ready", "chain" => chain()).set(f64::from(u8::from(ready)));
            }
            if let Some(view) = self.leases() {
                for l in &view.chains {
                    let chain = || l.chain.clone();
                    gauge!("groupstate_chain_lease_held", "chain" => chain())
                        .set(f64::from(u8::from(l.held_here)));
                    gauge!("groupstate_chain_lease_epoch", "chain" => chain()).set(l.epoch as f64);
                    gauge!("groupstate_chain_has_holder", "chain" => chain())
                        .set(f64::from(u8::from(l.holder.is_some())));
                    if let Some(holder) = &l.holder {
                        self.holders_seen
                            .lock()
                            .expect("metrics lock")
                            .insert((l.chain.clone(), holder.clone()));
                    }
                }
                for (chain, holder) in self.holders_seen.lock().expect("metrics lock").iter() {
                    let now = view
                        .of(chain)
                        .is_some_and(|l| l.holder.as_ref() == Some(holder));
                    gauge!("groupstate_chain_holder", "chain" => chain.clone(),
                        "holder" => holder.clone())
                    .set(f64::from(u8::from(now)));
                }
                gauge!("groupstate_replicas_live").set(view.replicas.len() as f64);
            }
            for (severity, n) in &stored.divergences_open {
                gauge!("groupstate_divergences_open", "severity" => *severity).set(*n as f64);
            }
            for (status, n) in &stored.alert_deliveries {
                gauge!("groupstate_alert_deliveries", "status" => *status).set(*n as f64);
            }
            for (chain, n) in &stored.log_entries {
                gauge!("groupstate_log_entries", "chain" => chain.clone()).set(*n as f64);
            }
        });
        self.handle.render()
    }
}

/// The help text of every figure (the exporter's `# HELP` lines).
fn describe() {
    describe_gauge!("groupstate_chain_head_block", "The node's newest block.");
    describe_gauge!(
        "groupstate_chain_indexed_block",
        "The newest block every group's records are complete up to."
    );
    describe_gauge!(
        "groupstate_chain_lag_blocks",
        "Blocks between the head and the indexed block."
    );
    describe_gauge!(
        "groupstate_chain_max_lag_blocks",
        "The lag above which the daemon is not ready."
    );
    describe_counter!(
        "groupstate_events_total",
        "Logs fetched and applied since start."
    );
    describe_counter!("groupstate_records_total", "Records written since start.");
    describe_gauge!(
        "groupstate_events_per_second",
        "Logs applied per second over the last minute."
    );
    describe_gauge!(
        "groupstate_records_per_second",
        "Records written per second over the last minute."
    );
    describe_counter!(
        "groupstate_rpc_errors_total",
        "Failed RPC attempts (retried or not), by kind."
    );
    describe_counter!(
        "groupstate_reorgs_total",
        "Unwinds to a fork point since start."
    );
    describe_counter!(
        "groupstate_node_behind_total",
        "Steps that waited for a node behind a block it served before (lag, not a reorg)."
    );
    describe_gauge!(
        "groupstate_ready",
        "1 when the follower is within its lag and stepped recently."
    );
    describe_gauge!(
        "groupstate_chain_lease_held",
        "1 while this replica holds the chain's lease and follows it."
    );
    describe_gauge!(
        "groupstate_chain_lease_epoch",
        "The epoch (fencing token) of the chain's lease."
    );
    describe_gauge!(
        "groupstate_chain_has_holder",
        "1 while some live replica holds the chain's lease; 0: nobody follows the chain."
    );
    describe_gauge!(
        "groupstate_chain_holder",
        "1 for the replica holding the chain's lease."
    );
    describe_gauge!(
        "groupstate_replicas_live",
        "Replicas seen within the lease, this one included."
    );
    describe_gauge!(
        "groupstate_chain_failing",
        "1 while the chain's follower fails and is retried alone."
    );
    describe_counter!(
        "groupstate_chain_follower_restarts_total",
        "Times the chain's follower was restarted after a failure ended it."
    );
    describe_gauge!(
        "groupstate_chain_blocks_left",
        "Blocks between the indexed block and the head less confirmations."
    );
    describe_gauge!(
        "groupstate_chain_progress_ratio",
        "Indexed share of the span from the groups' first start block to the target."
    );
    describe_gauge!(
        "groupstate_chain_blocks_per_second",
        "Blocks indexed per second over the last minute."
    );
    describe_gauge!(
        "groupstate_chain_eta_seconds",
        "Estimated seconds until caught up at the current rate."
    );
    describe_gauge!(
        "groupstate_chain_head_subscribed",
        "1 while new heads arrive over a WebSocket subscription, 0 while polling."
    );
    describe_counter!(
        "groupstate_chain_head_subscriptions_total",
        "WebSocket newHeads subscriptions made (the first and every resubscription)."
    );
    describe_gauge!(
        "groupstate_group_catch_up_blocks_left",
        "Blocks a group registered behind its chain's checkpoint has left to catch up."
    );
    describe_gauge!(
        "groupstate_divergences_open",
        "Open divergences (acknowledged or not) over every group, by severity."
    );
    describe_gauge!(
        "groupstate_alert_deliveries",
        "Alert deliveries by state (pending: not yet delivered; dead: gave up after the configured attempts)."
    );
    describe_gauge!(
        "groupstate_log_entries",
        "Entries in the chain's verifiable log."
    );
    describe_histogram!(
        BATCH_COMMIT,
        Unit::Seconds,
        "One batch's write transaction (effects, alerts, leaves and progress), begin to commit."
    );
    describe_histogram!(
        BATCH_FOLD,
        Unit::Seconds,
        "One pass of a batch's fold (decode to effects, covenants included); a batch that needs more fetched is folded again."
    );
    describe_histogram!(
        LOG_SEAL,
        Unit::Seconds,
        "One sealing of what became final into the chain's log, covenant statements and the checkpoint included."
    );
    describe_histogram!(
        RPC_CALL,
        Unit::Seconds,
        "One RPC attempt, by method and outcome (a retried call counts each attempt)."
    );
    describe_histogram!(
        ALERT_DELIVERY,
        Unit::Seconds,
        "One send of an alert, by sink kind and outcome (delivered; failed: retried later or dead after the last attempt; refused: dead at once)."
    );
    describe_histogram!(
        API_REQUEST,
        Unit::Seconds,
        "One HTTP request, by route template, method and status."
    );
}

/// One chain's state as its follower publishes it. `/readyz` and the status page read it as
/// a typed [`ChainReading`]; `/metrics` exports the same reading, so the two never disagree.
#[derive(Debug)]
pub struct ChainMetrics {
    /// The readiness bound: `head - indexed` at most this.
    pub max_lag: u64,
    head: AtomicI64,
    indexed: AtomicI64,
    events: AtomicU64,
    records: AtomicU64,
    /// When the follower last completed a step (None: never this run).
    last_step: Mutex<Option<Instant>>,
    rpc_errors: Mutex<BTreeMap<&'static str, u64>>,
    reorgs: AtomicU64,
    node_behind: AtomicU64,
    /// (when, events, records, indexed block) samples for the per-second rates.
    window: Mutex<VecDeque<(Instant, u64, u64, i64)>>,
    /// Where the indexed span starts (the groups' first start block less one) and where it
    /// ends now (the head less confirmations), for the progress figures.
    span_start: AtomicI64,
    target: AtomicI64,
    /// Groups registered behind the checkpoint, catching up in their own lane.
    catching_up: Mutex<Vec<GroupCatchUp>>,
    /// Every group that was ever catching up this run: its gauge reads 0 once it is done.
    caught_up_seen: Mutex<std::collections::BTreeSet<String>>,
    /// The failure the follower is retrying now, if any; cleared by the next completed step.
    failure: Mutex<Option<(String, Instant)>>,
    restarts: AtomicU64,
    /// 1 while heads arrive over WebSocket; subscriptions made so far.
    head_subscribed: AtomicBool,
    head_subscriptions: AtomicU64,
    chain: String,
    batch_commit: Histogram,
    batch_fold: Histogram,
    /// Fold passes and their total time in nanoseconds, since start (for benchmarks).
    folds: AtomicU64,
    fold_nanos: AtomicU64,
    log_seal: Histogram,
    /// Seals and their total time in nanoseconds, since start (for benchmarks).
    seals: AtomicU64,
    seal_nanos: AtomicU64,
    recorder: Arc<PrometheusRecorder>,
}

impl CallObserver for ChainMetrics {
    fn answered(&self, method: &'static str, took: Duration) {
        self.rpc_call(method, "ok", took);
    }

    fn failed(&self, method: &'static str, kind: RpcErrorKind, took: Duration) {
        self.rpc_call(method, "error", took);
        self.rpc_error(kind);
    }
}

/// A consistent reading of one chain's figures (the default: a chain nothing follows here).
#[derive(
    Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(default)]
pub struct ChainReading {
    pub chain: String,
    /// The node's newest block, if the follower has asked yet.
    pub head: Option<u64>,
    /// The newest block every group's records are complete up to (the follower's checkpoint).
    pub indexed: Option<i64>,
    /// `head - indexed`, if both are known.
    pub lag: Option<u64>,
    pub max_lag: u64,
    /// Seconds since the follower last completed a step.
    pub last_step_age_s: Option<f64>,
    pub events_total: u64,
    pub records_total: u64,
    pub events_per_second: f64,
    pub records_per_second: f64,
    pub rpc_errors: BTreeMap<String, u64>,
    /// The newest block the follower may index now (the head less confirmations).
    pub target: Option<u64>,
    /// `target - indexed`: what is left to catch up.
    pub blocks_left: Option<u64>,
    /// The indexed share, from 0 to 1, of the span from the groups' first start block to the
    /// target.
    pub progress: Option<f64>,
    /// Blocks indexed per second over the last minute.
    pub blocks_per_second: f64,
    /// Seconds until caught up at that rate (none while nothing moves).
    pub eta_s: Option<f64>,
    /// Groups registered behind the chain's checkpoint, catching up.
    pub catching_up: Vec<GroupCatchUp>,
    /// The failure the chain's follower is retrying, alone, right now.
    pub failing: Option<String>,
    /// Seconds since that failure began.
    pub failing_for_s: Option<f64>,
    /// Times the follower was restarted after a failure, since start.
    pub restarts: u64,
    /// Whether new heads arrive over WebSocket now (false: polling).
    pub head_subscribed: bool,
    /// WebSocket `newHeads` subscriptions made, the first and every resubscription.
    pub head_subscriptions: u64,
    /// The replica holding the chain's lease (empty: nobody now), when this process is one of
    /// the replicas.
    pub holder: Option<String>,
    /// Whether this replica holds it (and so answers for its readiness).
    pub held_here: Option<bool>,
}

/// One group catching up behind its chain's checkpoint.
#[derive(
    Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
pub struct GroupCatchUp {
    pub group: String,
    /// The block its records are complete up to.
    pub synced_to: i64,
    /// The block it catches up to (the chain's checkpoint).
    pub target: i64,
    /// Its start block.
    pub start_block: i64,
}

impl GroupCatchUp {
    pub fn blocks_left(&self) -> u64 {
        (self.target - self.synced_to).max(0) as u64
    }

    /// The share done, from 0 to 1.
    pub fn progress(&self) -> f64 {
        share_done(self.start_block, self.synced_to, self.target)
    }
}

/// The share, from 0 to 1, of blocks `first..=target` done when `done` is the newest one done
/// (`first - 1`: none yet).
pub fn share_done(first: i64, done: i64, target: i64) -> f64 {
    let span = (target - first + 1).max(1) as f64;
    ((done - first + 1).max(0) as f64 / span).min(1.0)
}

impl ChainMetrics {
    fn new(chain: &str, max_lag: u64, recorder: Arc<PrometheusRecorder>) -> ChainMetrics {
        let batch_commit = with_local_recorder(
            &*recorder,
            || histogram!(BATCH_COMMIT, "chain" => chain.to_owned()),
        );
        let batch_fold = with_local_recorder(
            &*recorder,
            || histogram!(BATCH_FOLD, "chain" => chain.to_owned()),
        );
        let log_seal = with_local_recorder(
            &*recorder,
            || histogram!(LOG_SEAL, "chain" => chain.to_owned()),
        );
        ChainMetrics {
            max_lag,
            head: AtomicI64::new(-1),
            indexed: AtomicI64::new(i64::MIN),
            events: AtomicU64::new(0),
            records: AtomicU64::new(0),
            last_step: Mutex::new(None),
            rpc_errors: Mutex::new(BTreeMap::new()),
            reorgs: AtomicU64::new(0),
            node_behind: AtomicU64::new(0),
            window: Mutex::new(VecDeque::new()),
            span_start: AtomicI64::new(i64::MIN),
            target: AtomicI64::new(i64::MIN),
            catching_up: Mutex::new(Vec::new()),
            caught_up_seen: Mutex::new(Default::default()),
            failure: Mutex::new(None),
            restarts: AtomicU64::new(0),
            head_subscribed: AtomicBool::new(false),
            head_subscriptions: AtomicU64::new(0),
            chain: chain.to_owned(),
            batch_commit,
            batch_fold,
            folds: AtomicU64::new(0),
            fold_nanos: AtomicU64::new(0),
            log_seal,
            seals: AtomicU64::new(0),
            seal_nanos: AtomicU64::new(0),
            recorder,
        }
    }

    pub fn set_head(&self, head: u64) {
        self.head.store(head as i64, Ordering::Relaxed);
    }

    pub fn set_indexed(&self, block: i64) {
        self.indexed.store(block, Ordering::Relaxed);
    }

    /// Counts a written batch, whose transaction took `commit`.
    pub fn add_batch(&self, events: u64, records: u64, commit: Duration) {
        self.events.fetch_add(events, Ordering::Relaxed);
        self.records.fetch_add(records, Ordering::Relaxed);
        self.batch_commit.record(commit);
    }

    /// Counts one pass of a batch's fold, which took `took`.
    pub fn add_fold(&self, took: Duration) {
        self.batch_fold.record(took);
        self.folds.fetch_add(1, Ordering::Relaxed);
        self.fold_nanos
            .fetch_add(took.as_nanos() as u64, Ordering::Relaxed);
    }

    /// Fold passes since start, and their total time.
    pub fn fold_totals(&self) -> (u64, Duration) {
        (
            self.folds.load(Ordering::Relaxed),
            Duration::from_nanos(self.fold_nanos.load(Ordering::Relaxed)),
        )
    }

    /// Counts one sealing, which took `took`.
    pub fn add_seal(&self, took: Duration) {
        self.log_seal.record(took);
        self.seals.fetch_add(1, Ordering::Relaxed);
        self.seal_nanos
            .fetch_add(took.as_nanos() as u64, Ordering::Relaxed);
    }

    /// Seals since start, and their total time.
    pub fn seal_totals(&self) -> (u64, Duration) {
        (
            self.seals.load(Ordering::Relaxed),
            Duration::from_nanos(self.seal_nanos.load(Ordering::Relaxed)),
        )
    }

    /// The span the follower indexes: from `start` (the groups' first start block less one)
    /// to `target` (the head less confirmations).
    pub fn set_span(&self, start: i64, target: u64) {
        self.span_start.store(start, Ordering::Relaxed);
        self.target.store(target as i64, Ordering::Relaxed);
    }

    /// The groups catching up behind the checkpoint now (empty: none).
    pub fn set_catching_up(&self, groups: Vec<GroupCatchUp>) {
        self.caught_up_seen
            .lock()
            .expect("metrics lock")
            .extend(groups.iter().map(|g| g.group.clone()));
        *self.catching_up.lock().expect("metrics lock") = groups;
    }

    /// The follower failed with `error` and is retried (alone); the failure shows in
    /// readiness until a step completes.
    pub fn failed(&self, error: &str) {
        let mut f = self.failure.lock().expect("metrics lock");
        match f.as_mut() {
            Some((message, _)) => *message = error.to_string(),
            None => *f = Some((error.to_string(), Instant::now())),
        }
    }

    /// The follower's last step (or its connection at start) succeeded: no failure shows.
    pub fn recovered(&self) {
        *self.failure.lock().expect("metrics lock") = None;
    }

    /// The follower was started again after a failure ended it.
    pub fn restarted(&self) {
        self.restarts.fetch_add(1, Ordering::Relaxed);
    }

    /// New heads arrive over a WebSocket subscription (`true`), or it ended and the follower
    /// polls (`false`).
    pub fn set_head_subscribed(&self, subscribed: bool) {
        if subscribed {
            self.head_subscriptions.fetch_add(1, Ordering::Relaxed);
        }
        self.head_subscribed.store(subscribed, Ordering::Relaxed);
    }

    /// Marks a completed step and samples the counters for the rates.
    pub fn step_done(&self) {
        let now = Instant::now();
        *self.last_step.lock().expect("metrics lock") = Some(now);
        self.recovered();
        let mut w = self.window.lock().expect("metrics lock");
        w.push_back((
            now,
            self.events.load(Ordering::Relaxed),
            self.records.load(Ordering::Relaxed),
            self.indexed.load(Ordering::Relaxed),
        ));
        while w.len() > 2 && now.duration_since(w[1].0) > RATE_WINDOW {
            w.pop_front();
        }
    }

    /// Counts an unwind to a fork point.
    pub fn reorg(&self) {
        self.reorgs.fetch_add(1, Ordering::Relaxed);
    }

    /// Unwinds since start.
    pub fn reorgs(&self) -> u64 {
        self.reorgs.load(Ordering::Relaxed)
    }

    /// Counts a step that waited for a node behind a block it served before.
    pub fn node_behind(&self) {
        self.node_behind.fetch_add(1, Ordering::Relaxed);
    }

    /// Steps that waited for a lagging node since start.
    pub fn node_behind_waits(&self) -> u64 {
        self.node_behind.load(Ordering::Relaxed)
    }

    /// Counts one failed RPC attempt (retried or not).
    pub fn rpc_error(&self, kind: RpcErrorKind) {
        let name = match kind {
            RpcErrorKind::Transient => "transient",
            RpcErrorKind::RangeTooLarge => "range_too_large",
            RpcErrorKind::MissingBlock => "missing_block",
            RpcErrorKind::Fatal => "fatal",
        };
        *self
            .rpc_errors
            .lock()
            .expect("metrics lock")
            .entry(name)
            .or_default() += 1;
    }

    /// Times one RPC attempt.
    fn rpc_call(&self, method: &'static str, outcome: &'static str, took: Duration) {
        with_local_recorder(&*self.recorder, || {
            histogram!(RPC_CALL, "chain" => self.chain.clone(), "method" => method,
                "outcome" => outcome)
        })
        .record(took);
    }

    pub fn read(&self, chain: &str) -> ChainReading {
        let head = self.head.load(Ordering::Relaxed);
        let head = (head >= 0).then_some(head as u64);
        let indexed = self.indexed.load(Ordering::Relaxed);
        let indexed = (indexed != i64::MIN).then_some(indexed);
        let lag = match (head, indexed) {
            (Some(h), Some(i)) => Some((h as i64 - i).max(0) as u64),
            _ => None,
        };
        let events_total = self.events.load(Ordering::Relaxed);
        let records_total = self.records.load(Ordering::Relaxed);
        let (events_per_second, records_per_second, blocks_per_second) = {
            let w = self.window.lock().expect("metrics lock");
            match (w.front(), w.back()) {
                (Some(a), Some(b)) if b.0 > a.0 => {
                    let s = b.0.duration_since(a.0).as_secs_f64();
                    let blocks = if a.3 == i64::MIN {
                        0
                    } else {
                        (b.3 - a.3).max(0)
                    };
                    (
                        (b.1 - a.1) as f64 / s,
                        (b.2 - a.2) as f64 / s,
                        blocks as f64 / s,
                    )
                }
                _ => (0.0, 0.0, 0.0),
            }
        };
        let target = self.target.load(Ordering::Relaxed);
        let target = (target != i64::MIN).then_some(target.max(0) as u64);
        let blocks_left = match (target, indexed) {
            (Some(t), Some(i)) => Some((t as i64 - i).max(0) as u64),
            _ => None,
        };
        let start = self.span_start.load(Ordering::Relaxed);
        let progress = match (target, indexed) {
            (Some(t), Some(i)) if start != i64::MIN => Some(share_done(start + 1, i, t as i64)),
            _ => None,
        };
        let eta_s = match blocks_left {
            Some(0) => Some(0.0),
            Some(n) if blocks_per_second > 0.0 => Some(n as f64 / blocks_per_second),
            _ => None,
        };
        let (failing, failing_for_s) = match &*self.failure.lock().expect("metrics lock") {
            Some((m, since)) => (Some(m.clone()), Some(since.elapsed().as_secs_f64())),
            None => (None, None),
        };
        ChainReading {
            chain: chain.to_string(),
            head,
            indexed,
            lag,
            max_lag: self.max_lag,
            last_step_age_s: self
                .last_step
                .lock()
                .expect("metrics lock")
                .map(|t| t.elapsed().as_secs_f64()),
            events_total,
            records_total,
            events_per_second,
            records_per_second,
            rpc_errors: self
                .rpc_errors
                .lock()
                .expect("metrics lock")
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
            target,
            blocks_left,
            progress,
            blocks_per_second,
            eta_s,
            catching_up: self.catching_up.lock().expect("metrics lock").clone(),
            failing,
            failing_for_s,
            restarts: self.restarts.load(Ordering::Relaxed),
            head_subscribed: self.head_subscribed.load(Ordering::Relaxed),
            head_subscriptions: self.head_subscriptions.load(Ordering::Relaxed),
            holder: None,
            held_here: None,
        }
    }
}

impl ChainReading {
    /// Ready: the follower has stepped recently and is within its lag of the head.
    pub fn is_ready(&self, stale_after: Duration) -> Result<(), String> {
        if let Some(error) = &self.failing {
            return Err(format!(
                "chain {}: failing for {:.0} s (retried alone; {} restarts): {error}",
                self.chain,
                self.failing_for_s.unwrap_or(0.0),
                self.restarts
            ));
        }
        let Some(lag) = self.lag else {
            return Err(format!("chain {}: not followed yet", self.chain));
        };
        if lag > self.max_lag {
            return Err(format!(
                "chain {}: {lag} blocks behind the head (at most {})",
                self.chain, self.max_lag
            ));
        }
        match self.last_step_age_s {
            Some(age) if age <= stale_after.as_secs_f64() => Ok(()),
            Some(age) => Err(format!(
                "chain {}: no completed step for {age:.0} s",
                self.chain
            )),
            None => Err(format!("chain {}: no completed step yet", self.chain)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_follows_lag_and_steps() {
        let m = Metrics::new();
        let c = m.chain("dev", 5);
        assert!(c.read("dev").is_ready(Duration::from_secs(60)).is_err());
        c.set_head(100);
        c.set_indexed(90);
        c.step_done();
        let r = c.read("dev");
        assert_eq!(r.lag, Some(10));
        assert!(r
            .is_ready(Duration::from_secs(60))
            .unwrap_err()
            .contains("10 blocks"));
        c.set_indexed(96);
        assert!(c.read("dev").is_ready(Duration::from_secs(60)).is_ok());
        c.rpc_error(RpcErrorKind::Transient);
        c.rpc_error(RpcErrorKind::Transient);
        assert_eq!(c.read("dev").rpc_errors["transient"], 2);
    }

    #[test]
    fn a_failing_chain_is_not_ready_until_a_step_completes() {
        let m = Metrics::new();
        let c = m.chain("beta", 5);
        c.set_head(100);
        c.set_indexed(99);
        c.step_done();
        assert!(c.read("beta").is_ready(Duration::from_secs(60)).is_ok());
        c.failed("eth_blockNumber: connection refused");
        c.restarted();
        let r = c.read("beta");
        let e = r.is_ready(Duration::from_secs(60)).unwrap_err();
        assert!(
            e.starts_with("chain beta: failing for") && e.contains("connection refused"),
            "{e}"
        );
        assert_eq!(r.restarts, 1);
        c.step_done();
        assert!(c.read("beta").is_ready(Duration::from_secs(60)).is_ok());
        let text = m.render(Duration::from_secs(60), &StoredFigures::default());
        assert!(
            text.contains("groupstate_chain_failing{chain=\"beta\"} 0"),
            "{text}"
        );
        assert!(text.contains("groupstate_chain_follower_restarts_total{chain=\"beta\"} 1"));
    }

    #[test]
    fn progress_spans_the_groups_first_block_to_the_target() {
        let m = Metrics::new();
        let c = m.chain("eth", 16);
        c.set_indexed(999);
        c.set_span(999, 2000);
        c.step_done();
        std::thread::sleep(Duration::from_millis(20));
        c.set_indexed(1499);
        c.step_done();
        let r = c.read("eth");
        assert_eq!(r.blocks_left, Some(501));
        assert!((r.progress.unwrap() - 500.0 / 1001.0).abs() < 1e-9);
        assert!(r.blocks_per_second > 0.0);
        let eta = r.eta_s.unwrap();
        assert!((eta - 501.0 / r.blocks_per_second).abs() < 1e-6);
        c.set_catching_up(vec![GroupCatchUp {
            group: "late".into(),
            synced_to: 1200,
            target: 1499,
            start_block: 1000,
        }]);
        let text = m.render(Duration::from_secs(60), &StoredFigures::default());
        assert!(
            text.contains(
                "groupstate_group_catch_up_blocks_left{chain=\"eth\",group=\"late\"} 299"
            ),
            "{text}"
        );
        c.set_catching_up(Vec::new());
        let text = m.render(Duration::from_secs(60), &StoredFigures::default());
        assert!(
            text.contains("groupstate_group_catch_up_blocks_left{chain=\"eth\",group=\"late\"} 0"),
            "a group done reads 0"
        );
    }

    #[test]
    fn rates_span_the_window() {
        let m = Metrics::new();
        let c = m.chain("dev", 5);
        c.step_done();
        std::thread::sleep(Duration::from_millis(20));
        c.add_batch(10, 4, Duration::from_millis(3));
        c.step_done();
        let r = c.read("dev");
        assert_eq!((r.events_total, r.records_total), (10, 4));
        assert!(r.events_per_second > 0.0 && r.events_per_second > r.records_per_second);
    }
}
