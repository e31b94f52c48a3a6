//! A seeded chaos campaign against the real daemon: three replicas of `groupstate run` on one
//! PostgreSQL database (sharing the chains through leases of 3 s, renewed every second), and one
//! process on a SQLite file, following three anvil chains (two groups each, with activity) while
//! faults are applied at random, over the backfill and then at the live head:
//!
//! - `kill -9` of a replica, restarted after a random delay (two of the three replicas come back
//!   under their configured `[replica] id`, the third under the default, new at every start);
//! - `SIGSTOP`, then `SIGCONT` once the replica's lease has run out;
//! - reorgs within the finality window: a fork point (a snapshot), one to three transactions,
//!   a revert to the point, and different transactions on the new fork;
//! - RPC faults from a flaky proxy in front of each chain: 429s, 502/503s, dropped connections,
//!   malformed bodies and answers slower than the request timeout.
//!
//! Then the faults stop, the replicas settle and are stopped with `SIGTERM`, and the test
//! asserts that:
//!
//! - the store (`support::dump`, the log included) equals a single clean index of the final
//!   chains, made in process with the same settings;
//! - each chain's log root equals the clean index's, and the last signed checkpoint covers it;
//! - the webhook receiver got every alert of the outbox (at least once: duplicates of a key are
//!   allowed), and those keys are the clean index's, except for pairs a reorg cancelled (a
//!   divergence opened then retracted, a resolution made then reopened), which a clean index of
//!   the final chain never had;
//! - no replica logged a write (a seal of the log) after it had lost or handed back the chain's
//!   lease, and no fencing epoch was taken twice.
//!
//! Every random choice comes from one seed, printed at the start with the fault schedule as it
//! is applied: `GROUPSTATE_CHAOS_SEED=<seed>` replays a campaign (the timing of processes and
//! threads still varies). The default campaign is short (about half a minute of faults per
//! backend); `GROUPSTATE_CHAOS_LONG=1` runs a long one (five minutes, many more faults).
//!
//! `cargo test --test chaos` (both backends; they run one after the other).

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::primitives::{Address, U256};
use alloy::signers::local::PrivateKeySigner;
use devnet::{Devnet, DevnetOptions, SafeVersion};
use groupstate::config::Settings;
use groupstate::manifest::Manifest;
use groupstate::store::Store;
use groupstate::sync::Follower;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use support::cluster::Replica;
use support::flaky_rpc::{FaultPlan, FlakyRpc};
use support::receiver::Receiver;
use tokio_util::sync::CancellationToken;

/// The seed when `GROUPSTATE_CHAOS_SEED` is not set.
const DEFAULT_SEED: u64 = 20_261_202;

/// Blocks below the head that are final (the log's depth); reorgs stay shallower.
const FINALITY: u64 = 8;

/// The webhook's HMAC key.
const SECRET: &str = "chaos-secret";

/// One backend's campaign at a time: each starts three anvils and up to three daemons, which is
/// all a small machine can run without turning every fault into a timeout.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// How long and how hard.
#[derive(Debug, Clone)]
struct Campaign {
    seed: u64,
    /// Faults are applied for this long after the replicas start.
    live: Duration,
    /// At most this many faults.
    max_faults: usize,
    /// Milliseconds between two faults (uniform in the range).
    gap_ms: std::ops::Range<u64>,
    /// History on each chain before the replicas start: rounds of payments.
    history_rounds: u64,
}

impl Campaign {
    fn from_env() -> Campaign {
        let seed = std::env::var("GROUPSTATE_CHAOS_SEED")
            .ok()
            .map(|s| s.trim().parse().expect("GROUPSTATE_CHAOS_SEED is a number"))
            .unwrap_or(DEFAULT_SEED);
        let long = std::env::var("GROUPSTATE_CHAOS_LONG").is_ok_and(|v| !v.is_empty() && v != "0");
        if long {
            Campaign {
                seed,
                live: Duration::from_secs(300),
                max_faults: 400,
                gap_ms: 300..2500,
                history_rounds: 40,
            }
        } else {
            Campaign {
                seed,
                live: Duration::from_secs(25),
                max_faults: 14,
                gap_ms: 800..2500,
                history_rounds: 10,
            }
        }
    }
}

/// The replica settings: a short lease, so that takeovers happen within the campaign.
const LEASE: Duration = Duration::from_secs(3);
const REPLICA_SETTINGS: &str = "[replica]\nlease = \"3s\"\nheartbeat = \"1s\"\n";

/// One anvil chain, the flaky proxy the daemons reach it through, and its groups.
struct Chain {
    name: String,
    devnet: Devnet,
    flaky: FlakyRpc,
    keys: Vec<PrivateKeySigner>,
    safes: Vec<Address>,
    manifests: Vec<Manifest>,
    /// Held while a transaction is sent or a reorg is made, so that a reorg's orphaned and
    /// replacing transactions are its own.
    busy: tokio::sync::Mutex<()>,
}

/// A chain with two Safes, some history (payments, executions, an undeclared owner) and one
/// group per Safe.
async fn chain(name: &str, chain_id: u64, seed: u64, rounds: u64) -> Chain {
    let devnet = Devnet::start(DevnetOptions {
        chain_id,
        ..DevnetOptions::default()
    })
    .await
    .unwrap();
    let busy = devnet::workload::busy_safes(
        &devnet,
        &[SafeVersion::V141L2, SafeVersion::V141L2],
        rounds,
        4,
    )
    .await
    .unwrap();
    let manifests = busy
        .safes
        .iter()
        .enumerate()
        .map(|(i, safe)| {
            let text = support::safe_manifest(
                &format!("{name}-{i}"),
                0,
                &[(*safe, busy.owners.clone(), 2)],
            )
            .replace("chain: local\n", &format!("chain: {name}\n"));
            Manifest::parse(&text).unwrap()
        })
        .collect();
    // Requests slower than the daemons' 2 s timeout are timeouts.
    let plan = FaultPlan {
        seed,
        rate_limited: 0.12,
        unavailable: 0.10,
        delayed: 0.03,
        delay: Duration::from_millis(2500),
        dropped: 0.05,
        malformed: 0.02,
        ..FaultPlan::none()
    };
    let flaky = FlakyRpc::start(&devnet.rpc_url(), plan).await;
    flaky.set_faulting(false);
    Chain {
        name: name.to_string(),
        devnet,
        flaky,
        keys: busy.keys,
        safes: busy.safes,
        manifests,
        busy: tokio::sync::Mutex::new(()),
    }
}

impl Chain {
    /// One transaction at random: a payment in, a payment out, an undeclared owner added or
    /// removed (a divergence opened or resolved), or the threshold moved (likewise).
    async fn act(&self, rng: &mut StdRng) {
        let safe = self.safes[rng.gen_range(0..self.safes.len())];
        let k = &self.keys;
        let signers = [&k[0], &k[1], &k[2]];
        let d = &self.devnet;
        match rng.gen_range(0..10) {
            0..=4 => {
                devnet::fund(d, safe, U256::from(rng.gen_range(1..1000u64)))
                    .await
                    .unwrap();
            }
            5 | 6 => {
                devnet::exec_transaction(
                    d,
                    safe,
                    Address::repeat_byte(0x99),
                    U256::from(1),
                    Default::default(),
                    0,
                    &signers,
                )
                .await
                .unwrap();
            }
            7 | 8 => {
                let intruder = k[3].address();
                if devnet::read_owners(d, safe)
                    .await
                    .unwrap()
                    .contains(&intruder)
                {
                    devnet::remove_owner(d, safe, intruder, 2, &signers)
                        .await
                        .unwrap();
                } else {
                    devnet::add_owner_with_threshold(d, safe, intruder, 2, &signers)
                        .await
                        .unwrap();
                }
            }
            _ => {
                let now = devnet::read_threshold(d, safe).await.unwrap();
                devnet::change_threshold(d, safe, if now == 2 { 3 } else { 2 }, &signers)
                    .await
                    .unwrap();
            }
        }
    }

    /// A reorg within the finality window: transactions after a fork point, seen (or not) by the
    /// replicas, then replaced by a fork with different transactions. Returns the depth.
    async fn reorg(&self, rng: &mut StdRng) -> u64 {
        let _busy = self.busy.lock().await;
        let fork = self.devnet.fork_point().await.unwrap();
        for _ in 0..rng.gen_range(1..=3) {
            self.act(rng).await;
        }
        tokio::time::sleep(Duration::from_millis(rng.gen_range(50..800))).await;
        let depth = self.devnet.reorg_to(fork).await.unwrap();
        assert!(depth < FINALITY, "reorg of {depth} blocks");
        self.act(rng).await;
        depth
    }
}

/// New transactions on `chain` until `stop`, one every few hundred milliseconds.
async fn activity(chain: Arc<Chain>, seed: u64, stop: CancellationToken) -> u64 {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut sent = 0;
    while !stop.is_cancelled() {
        {
            let _busy = chain.busy.lock().await;
            chain.act(&mut rng).await;
        }
        sent += 1;
        tokio::select! {
            _ = stop.cancelled() => {}
            _ = tokio::time::sleep(Duration::from_millis(rng.gen_range(150..500))) => {}
        }
    }
    sent
}

/// The daemon's configuration for the chains: short timeouts and retries, small ranges (many
/// batches in the backfill), fast alert retries, and a short claim on deliveries.
fn daemon_config(dir: &Path, db_url: &str, hook: &str, chains: &[Arc<Chain>]) -> PathBuf {
    let key = groupstate::ledger::note::SigningKey::generate("groupstate")
        .unwrap()
        .encode();
    let mut text = format!(
        "data_dir = \"{dir}\"\n\
         [database]\nurl = \"{db_url}\"\nmax_connections = 4\n\
         [log]\nprogress = \"off\"\n\
         [ledger]\nsigning_key = \"{key}\"\n\
         [follower]\nconcurrency = 2\nreorg_window = 64\nmax_retries = 8\nretry_base = \"20ms\"\n\
         request_timeout = \"2s\"\n\
         [api]\nbind = \"\"\n\
         [alerts]\nmax_attempts = 1000\nbackoff_initial = \"50ms\"\nbackoff_max = \"500ms\"\n\
         timeout = \"1s\"\npoll_interval = \"50ms\"\nlease = \"2s\"\n\
         [[alerts.sinks]]\nname = \"ops\"\nkind = \"webhook\"\nurl = \"{hook}\"\n\
         secret = \"{SECRET}\"\n\
         {REPLICA_SETTINGS}",
        dir = dir.display(),
    );
    // Call traces off: under this load anvil's `debug_traceTransaction` can deadlock with its
    // own block mining (seen: the miner waiting for the state's write lock while a trace's
    // nested read waits behind it, and every request after them hangs). Traced calls are
    // covered by `tests/treasury_flows.rs`; here they would only test anvil.
    for c in chains {
        text.push_str(&format!(
            "[chains.{name}]\nrpc_url = \"{url}\"\nchain_id = {id}\nmax_block_range = 4\n\
             poll_interval = \"50ms\"\nfinality_depth = {FINALITY}\ntraces = \"off\"\n",
            name = c.name,
            url = c.flaky.url(),
            id = c.devnet.chain_id(),
        ));
    }
    let path = dir.join("config.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The faults of one turn, shuffled: every kind comes up in each turn of ten.
const BAG: [FaultKind; 10] = [
    FaultKind::Kill,
    FaultKind::Kill,
    FaultKind::Kill,
    FaultKind::Pause,
    FaultKind::Pause,
    FaultKind::Reorg,
    FaultKind::Reorg,
    FaultKind::Reorg,
    FaultKind::Rpc,
    FaultKind::Rpc,
];

/// The faults the campaign applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FaultKind {
    Kill,
    Pause,
    Reorg,
    Rpc,
}

/// What a campaign did, for its report.
#[derive(Debug, Default)]
struct Tally {
    kills: u32,
    pauses: u32,
    reorgs: u32,
    reorged_blocks: u64,
    rpc_windows: u32,
}

/// Applies faults at random until the campaign's time or fault budget is spent, while `ticks`
/// also restarts and resumes replicas when their time comes.
async fn apply_faults(
    campaign: &Campaign,
    store: &Store,
    rng: &mut StdRng,
    started: Instant,
    chains: &[Arc<Chain>],
    replicas: &mut [Replica],
) -> Tally {
    let mut tally = Tally::default();
    // The first fault lands in the backfill.
    let mut next = started + Duration::from_millis(rng.gen_range(100..500));
    let mut rpc_until: Vec<Option<Instant>> = vec![None; chains.len()];
    let mut faults = 0;
    let mut bag: Vec<FaultKind> = Vec::new();
    let mut backfilled = false;
    let at = |t: Instant| format!("{:>6.2}s", t.duration_since(started).as_secs_f64());
    loop {
        let now = Instant::now();
        resume_due(replicas, Some(now), &at);
        for (i, until) in rpc_until.iter_mut().enumerate() {
            if until.is_some_and(|u| u <= now) {
                chains[i].flaky.set_faulting(false);
                eprintln!("[{}] rpc faults off on {}", at(now), chains[i].name);
                *until = None;
            }
        }
        if !backfilled && at_heads(store, chains).await {
            backfilled = true;
            eprintln!(
                "[{}] backfill done: every group at its chain's head",
                at(now)
            );
        }
        if now.duration_since(started) >= campaign.live || faults >= campaign.max_faults {
            break;
        }
        if now < next {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        }
        faults += 1;
        next = now + Duration::from_millis(rng.gen_range(campaign.gap_ms.clone()));
        if bag.is_empty() {
            bag = BAG.to_vec();
            bag.shuffle(rng);
        }
        let running: Vec<usize> = (0..replicas.len())
            .filter(|i| replicas[*i].is_running())
            .collect();
        // With no replica running, a kill or a pause waits in the bag for a later turn.
        let kind = match bag
            .iter()
            .position(|k| !running.is_empty() || matches!(k, FaultKind::Reorg | FaultKind::Rpc))
        {
            Some(i) => bag.remove(i),
            None => FaultKind::Reorg,
        };
        match kind {
            FaultKind::Kill | FaultKind::Pause if !running.is_empty() => {
                let r = &mut replicas[running[rng.gen_range(0..running.len())]];
                if kind == FaultKind::Kill {
                    let down = Duration::from_millis(rng.gen_range(100..3000));
                    eprintln!("[{}] kill -9 {}, back in {down:?}", at(now), r.id);
                    r.kill(now + down).await;
                    tally.kills += 1;
                } else {
                    let pause = LEASE + Duration::from_millis(rng.gen_range(500..2000));
                    eprintln!("[{}] SIGSTOP {} for {pause:?}", at(now), r.id);
                    r.pause(now + pause);
                    tally.pauses += 1;
                }
            }
            FaultKind::Kill | FaultKind::Pause => {
                unreachable!("a kill or a pause with no replica running")
            }
            FaultKind::Reorg => {
                let c = &chains[rng.gen_range(0..chains.len())];
                let mut own = StdRng::seed_from_u64(rng.gen());
                let depth = c.reorg(&mut own).await;
                eprintln!("[{}] reorg of {depth} blocks on {}", at(now), c.name);
                tally.reorgs += 1;
                tally.reorged_blocks += depth;
            }
            FaultKind::Rpc => {
                let i = rng.gen_range(0..chains.len());
                let window = Duration::from_millis(rng.gen_range(1000..5000));
                eprintln!(
                    "[{}] rpc faults on {} for {window:?}",
                    at(now),
                    chains[i].name
                );
                chains[i].flaky.set_faulting(true);
                rpc_until[i] = Some(now + window);
                tally.rpc_windows += 1;
            }
        }
    }
    for c in chains {
        c.flaky.set_faulting(false);
    }
    resume_due(replicas, None, &at);
    tally
}

/// Continues the stopped replicas and starts the downed ones whose time has come (all of
/// them when `now` is `None`).
fn resume_due(replicas: &mut [Replica], now: Option<Instant>, at: &impl Fn(Instant) -> String) {
    for r in replicas.iter_mut() {
        if let Some(done) = r.resume_if_due(now) {
            eprintln!("[{}] {} {done}", at(Instant::now()), r.id);
        }
    }
}

/// Whether every group is at its chain's head.
async fn at_heads(store: &Store, chains: &[Arc<Chain>]) -> bool {
    for c in chains {
        let head = c.devnet.head().await.unwrap() as i64;
        let behind: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM groups WHERE chain = $1 AND synced_to < $2")
                .bind(&c.name)
                .bind(head)
                .fetch_one(store.pool())
                .await
                .unwrap();
        if behind > 0 {
            return false;
        }
    }
    true
}

/// Whether every group is at its chain's head, every chain's log is covered by a signed
/// checkpoint, and every alert has been delivered; the log sizes, to see them stay put.
async fn settled(store: &Store, chains: &[Arc<Chain>]) -> Option<Vec<u64>> {
    if !at_heads(store, chains).await {
        return None;
    }
    let mut sizes = Vec::new();
    for c in chains {
        let size = store.log_size(&c.name).await.unwrap();
        let signed = store
            .latest_checkpoint(&c.name)
            .await
            .unwrap()
            .map(|cp| cp.tree_size);
        if size == 0 || signed != Some(size) {
            return None;
        }
        sizes.push(size);
    }
    let unrouted: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM alerts WHERE fanned_out = 0")
        .fetch_one(store.pool())
        .await
        .unwrap();
    let counts = store.alert_counts().await.unwrap();
    (unrouted == 0 && counts.pending == 0 && counts.dead == 0).then_some(sizes)
}

/// Where each chain is, for a failure to settle: heads, groups, log sizes, checkpoints,
/// leases and deliveries.
async fn situation(store: &Store, chains: &[Arc<Chain>]) -> String {
    let mut out = String::new();
    for c in chains {
        let head = c.devnet.head().await.unwrap();
        let groups: Vec<(String, i64)> =
            sqlx::query_as("SELECT id, synced_to FROM groups WHERE chain = $1 ORDER BY id")
                .bind(&c.name)
                .fetch_all(store.pool())
                .await
                .unwrap();
        let size = store.log_size(&c.name).await.unwrap();
        let signed = store
            .latest_checkpoint(&c.name)
            .await
            .unwrap()
            .map(|cp| cp.tree_size);
        out.push_str(&format!(
            "{}: head {head}, groups {groups:?}, log {size}, checkpoint {signed:?}\n",
            c.name
        ));
    }
    let leases: Vec<(String, String, i64, i64)> = sqlx::query_as(
        "SELECT chain, holder, epoch, expires_at_ms FROM chain_leases ORDER BY chain",
    )
    .fetch_all(store.pool())
    .await
    .unwrap_or_default();
    let unrouted: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM alerts WHERE fanned_out = 0")
        .fetch_one(store.pool())
        .await
        .unwrap();
    out.push_str(&format!(
        "leases {leases:?}\nalerts unrouted {unrouted}, deliveries {:?}",
        store.alert_counts().await.unwrap()
    ));
    out
}

/// The lines only one of two dumps has (at most 20 of each), for a readable failure.
fn differences(chaos: &[String], clean: &[String]) -> String {
    let a: BTreeSet<&String> = chaos.iter().collect();
    let b: BTreeSet<&String> = clean.iter().collect();
    let only = |x: &BTreeSet<&String>, y: &BTreeSet<&String>| {
        x.difference(y)
            .take(20)
            .map(|l| format!("  {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    format!(
        "{} lines against {}\nonly after the chaos:\n{}\nonly in the clean index:\n{}",
        chaos.len(),
        clean.len(),
        only(&a, &b),
        only(&b, &a)
    )
}

/// The keys of alerts a reorg cancelled, which a clean index of the final chain never wrote:
/// every alert of a divergence that was then `retracted` (its opening block reorged away), and
/// a `resolved` with the `reopened` that undid it (its resolving block reorged away).
fn cancelled_by_reorgs(received: &[serde_json::Value]) -> BTreeSet<String> {
    let event = |a: &serde_json::Value| a["event"].as_str().unwrap_or("").to_string();
    let divergence = |a: &serde_json::Value| {
        let d = &a["divergence"];
        format!(
            "{}|{}|{}|{}",
            a["chain"], a["group"], d["n"], d["opened_block_hash"]
        )
    };
    let resolution = |a: &serde_json::Value| {
        format!(
            "{}|{}",
            divergence(a),
            a["divergence"]["resolved_block_hash"]
        )
    };
    let retracted: BTreeSet<String> = received
        .iter()
        .filter(|a| event(a) == "retracted")
        .map(divergence)
        .collect();
    let reopened: BTreeSet<String> = received
        .iter()
        .filter(|a| event(a) == "reopened")
        .map(resolution)
        .collect();
    received
        .iter()
        .filter(|a| {
            retracted.contains(&divergence(a))
                || (matches!(event(a).as_str(), "resolved" | "reopened")
                    && reopened.contains(&resolution(a)))
        })
        .map(|a| a["key"].as_str().unwrap_or("").to_string())
        .collect()
}

/// A clean index of the final chains, in process, with the daemons' settings.
async fn clean_index(
    backend: support::Backend,
    config: &Path,
    chains: &[Arc<Chain>],
) -> (support::TestDb, Store) {
    let settings = Settings::load(Some(config)).unwrap();
    let db = support::TestDb::new(backend).await;
    let store = db.store().await;
    for c in chains {
        for m in &c.manifests {
            store.add_group(m).await.unwrap();
        }
    }
    for c in chains {
        let f = Follower::new(
            &c.name,
            settings.chains[&c.name].clone(),
            settings.follower.clone(),
            store.clone(),
        )
        .unwrap();
        support::sync(&f).await;
    }
    (db, store)
}

/// The writes each replica logged while it did not hold the chain: a seal of the log (the
/// write the daemon logs, at debug level) after it logged that it lost or handed back the
/// chain's lease, or after a restart, and before it logged taking the lease again.
fn writes_without_the_lease(replicas: &[Replica]) -> Vec<String> {
    const TAKEN: &str = "lease taken; following the chain";
    const GONE: [&str; 4] = [
        "lease taken over by another replica; stopping this chain's follower",
        "lease lost; this replica stops following the chain",
        "lease handed back",
        "follower did not stop in time; its writes are fenced from now on",
    ];
    const ALL_GONE: &str = "leases not renewed for a whole lease; stopping every follower";
    let mut late = Vec::new();
    for r in replicas {
        let mut held: BTreeSet<String> = BTreeSet::new();
        for line in r.lines() {
            if line.starts_with(support::cluster::START_MARK) {
                held.clear();
                continue;
            }
            let Ok(event) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            let message = event["fields"]["message"].as_str().unwrap_or("");
            let chain = event["fields"]["chain"]
                .as_str()
                .or(event["span"]["chain"].as_str())
                .unwrap_or("")
                .to_string();
            match message {
                TAKEN => {
                    held.insert(chain);
                }
                ALL_GONE => held.clear(),
                m if GONE.contains(&m) => {
                    held.remove(&chain);
                }
                "sealed into the log" if !held.contains(&chain) => {
                    late.push(format!("{}: {line}", r.id));
                }
                _ => {}
            }
        }
    }
    late
}

/// How many times a replica logged taking a chain's lease, and whether two takes ever had one
/// epoch (a fencing epoch is never given twice).
fn lease_takes(replicas: &[Replica]) -> (usize, Vec<String>) {
    let mut seen: BTreeMap<(String, i64), String> = BTreeMap::new();
    let mut twice = Vec::new();
    let mut takes = 0;
    for r in replicas {
        for line in r.lines() {
            let Ok(event) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            if event["fields"]["message"] != "lease taken; following the chain" {
                continue;
            }
            takes += 1;
            let chain = event["fields"]["chain"].as_str().unwrap_or("").to_string();
            let epoch = event["fields"]["epoch"].as_i64().unwrap_or(-1);
            if let Some(other) = seen.insert((chain.clone(), epoch), r.id.clone()) {
                twice.push(format!("{chain} epoch {epoch}: {other} and {}", r.id));
            }
        }
    }
    (takes, twice)
}

async fn chaos(backend: support::Backend) {
    let _one = ONE_AT_A_TIME.lock().await;
    let campaign = Campaign::from_env();
    eprintln!(
        "chaos on {backend:?}: seed {} (replay with GROUPSTATE_CHAOS_SEED={}), {:?} of faults, \
         at most {}",
        campaign.seed, campaign.seed, campaign.live, campaign.max_faults
    );
    let mut rng = StdRng::seed_from_u64(campaign.seed);
    let setup = Instant::now();
    let names = ["alpha", "beta", "gamma"];
    let built = futures::future::join_all(names.iter().enumerate().map(|(i, name)| {
        chain(
            name,
            31337 + i as u64,
            campaign.seed ^ (i as u64 + 1),
            campaign.history_rounds,
        )
    }))
    .await;
    let chains: Vec<Arc<Chain>> = built.into_iter().map(Arc::new).collect();

    let db = support::TestDb::new(backend).await;
    let store = db.store().await;
    for c in &chains {
        for m in &c.manifests {
            store.add_group(m).await.unwrap();
        }
    }
    let receiver = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = daemon_config(dir.path(), &db.url, &receiver.url, &chains);
    let ids: &[&str] = match backend {
        support::Backend::Postgres => &["r1", "r2", "r3"],
        support::Backend::Sqlite => &["solo"],
    };
    let mut replicas: Vec<Replica> = ids
        .iter()
        .map(|id| {
            // r1 and r2 keep their configured `[replica] id` across restarts, as a deployment
            // with fixed names does; r3 takes the daemon's default (host name and pid), new at
            // every start.
            let mut r = Replica::new(
                id,
                env!("CARGO_BIN_EXE_groupstate"),
                &config,
                dir.path(),
                *id != "r3",
            );
            // The seals of the log are logged at debug level.
            r.rust_log = "info,groupstate::sync=debug".into();
            r
        })
        .collect();
    eprintln!("setup took {:?}", setup.elapsed());

    // The backfill starts with the replicas, the live head's transactions with it.
    let started = Instant::now();
    for r in &mut replicas {
        r.start();
    }
    let stop = CancellationToken::new();
    let activity: Vec<_> = chains
        .iter()
        .map(|c| tokio::spawn(activity(c.clone(), rng.gen(), stop.clone())))
        .collect();
    let tally = apply_faults(&campaign, &store, &mut rng, started, &chains, &mut replicas).await;
    stop.cancel();
    let mut sent = 0;
    for a in activity {
        sent += a.await.unwrap();
    }
    eprintln!(
        "faults over {:?}: {tally:?}; {sent} transactions at the head",
        started.elapsed()
    );

    // Settle: every replica up, no fault; the same state twice in a row, a second apart.
    let settling = Instant::now();
    let mut last = None;
    loop {
        // Bounded: a node that stopped answering must fail the test, not hang it.
        let now = tokio::time::timeout(Duration::from_secs(10), settled(&store, &chains))
            .await
            .unwrap_or(None);
        if now.is_some() && now == last {
            break;
        }
        last = now;
        if settling.elapsed() > Duration::from_secs(90) {
            for r in &replicas {
                eprintln!("--- {} ---\n{}", r.id, r.tail(30));
            }
            eprintln!("{}", situation(&store, &chains).await);
            panic!(
                "the replicas did not settle within 90 s (seed {})",
                campaign.seed
            );
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    eprintln!("settled in {:?}", settling.elapsed());
    for r in &mut replicas {
        let status = r.terminate(Duration::from_secs(15)).await;
        assert!(
            status.success(),
            "{} exited with {status} on SIGTERM; its log:\n{}",
            r.id,
            r.tail(30)
        );
    }
    let stats: Vec<_> = chains.iter().map(|c| c.flaky.stats()).collect();
    eprintln!("rpc faults injected: {stats:?}");
    if tally.rpc_windows > 0 {
        assert!(
            stats.iter().map(|s| s.faults()).sum::<u64>() > 0,
            "rpc fault windows without a fault: {stats:?}"
        );
    }

    // The store equals a clean index of the final chains.
    let checking = Instant::now();
    let chaos_dump = support::dump(&store).await;
    let (_clean_db, clean) = clean_index(backend, &config, &chains).await;
    let clean_dump = support::dump(&clean).await;
    assert!(
        chaos_dump == clean_dump,
        "seed {}: the store differs from a clean index: {}",
        campaign.seed,
        differences(&chaos_dump, &clean_dump)
    );
    assert!(chaos_dump.iter().any(|l| l.starts_with("divergences:")));

    // Each chain's log root is the clean index's, and the last checkpoint signed it.
    for c in &chains {
        let size = store.log_size(&c.name).await.unwrap();
        assert_eq!(size, clean.log_size(&c.name).await.unwrap(), "{}", c.name);
        let root = groupstate::ledger::root_at(&store, &c.name, size)
            .await
            .unwrap();
        let clean_root = groupstate::ledger::root_at(&clean, &c.name, size)
            .await
            .unwrap();
        assert_eq!(
            root, clean_root,
            "seed {}: log root of {}",
            campaign.seed, c.name
        );
        let checkpoint = store.latest_checkpoint(&c.name).await.unwrap().unwrap();
        assert_eq!(
            (checkpoint.tree_size, checkpoint.root.as_str()),
            (size, clean_root.to_hex().as_str()),
            "seed {}: the last checkpoint of {}",
            campaign.seed,
            c.name
        );
    }

    // Every alert of the outbox arrived, at least once; without the pairs a reorg cancelled,
    // they are the clean index's.
    let received: Vec<serde_json::Value> = receiver
        .accepted()
        .iter()
        .map(|r| {
            support::receiver::assert_signed_with(r, SECRET);
            r.json()
        })
        .collect();
    let keys = |store: &Store| {
        let pool = store.pool().clone();
        async move {
            sqlx::query_scalar::<_, String>("SELECT key FROM alerts")
                .fetch_all(&pool)
                .await
                .unwrap()
                .into_iter()
                .collect::<BTreeSet<String>>()
        }
    };
    let got: BTreeSet<String> = received
        .iter()
        .map(|a| a["key"].as_str().unwrap().to_string())
        .collect();
    let outbox = keys(&store).await;
    assert_eq!(
        got, outbox,
        "seed {}: the receiver got exactly the outbox's alerts",
        campaign.seed
    );
    let cancelled = cancelled_by_reorgs(&received);
    let kept: BTreeSet<String> = got.difference(&cancelled).cloned().collect();
    let expected = keys(&clean).await;
    assert!(!expected.is_empty());
    assert_eq!(
        kept,
        expected,
        "seed {}: alert keys against a clean index ({} cancelled by reorgs)",
        campaign.seed,
        cancelled.len()
    );
    let duplicates = received.len() - got.len();

    let late = writes_without_the_lease(&replicas);
    assert!(
        late.is_empty(),
        "seed {}: writes logged without the lease:\n{}",
        campaign.seed,
        late.join("\n")
    );
    let (takes, twice) = lease_takes(&replicas);
    assert!(takes >= chains.len(), "every chain's lease was taken");
    assert!(
        twice.is_empty(),
        "seed {}: one epoch taken twice: {twice:?}",
        campaign.seed
    );
    eprintln!(
        "checked in {:?}: {} dump lines, {} alerts ({} cancelled by reorgs, {duplicates} \
         duplicate deliveries); {} starts, {takes} leases taken",
        checking.elapsed(),
        chaos_dump.len(),
        got.len(),
        cancelled.len(),
        replicas.iter().map(|r| r.starts).sum::<u32>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_postgres_three_replicas() {
    chaos(support::Backend::Postgres).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_sqlite_one_process() {
    chaos(support::Backend::Sqlite).await
}
