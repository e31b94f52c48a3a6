//! Backfill and live-latency benchmark on a real anvil devnet with real Safe 1.4.1 contracts.
//!
//! `cargo bench --bench backfill` (env: BENCH_EVENTS, default 100000; BENCH_SAMPLES, default 30;
//! BENCH_PG, default postgres://postgres@127.0.0.1:5432/test). Prints a Markdown report.
//!
//! 1. Builds the workload: 200 Safes, ~100,000 payments into them (SafeReceived) and 500 Safe
//!    executions (SafeMultiSigTransaction + ExecutionSuccess), across ~1,000 blocks.
//! 2. Times a bare `eth_getLogs` sweep of that range (same filter, range size and concurrency).
//! 3. Times the indexer end to end (fetch, decode, observe, reconcile, store, checkpoint) on a
//!    fresh SQLite file and a fresh PostgreSQL database, with peak RSS during the backfill.
//! 4. Measures live latency, block mined → divergence stored, with polling and with WebSocket.

use std::time::{Duration, Instant};

use alloy::primitives::{Address, B256, U256};
use alloy::rpc::types::{Filter, TransactionInput, TransactionRequest};
use alloy::sol_types::SolCall;
use futures::StreamExt;
use groupstate::chain::rpc::{RetryPolicy, Rpc};
use groupstate::chain::Follower;
use groupstate::config::{ChainConfig, FollowerConfig};
use groupstate::decode::abi::v141::SafeL2;
use groupstate::decode::catalog_topics;
use groupstate::devnet::{
    self, Devnet, DevnetOptions, SafeContracts, SafeTx, SafeVersion, SignatureKind,
};
use groupstate::manifest::Manifest;
use groupstate::store::Store;
use tokio_util::sync::CancellationToken;

const SAFES: usize = 200;
const GROUPS: usize = 20;
const EXECUTIONS: usize = 500;
const RANGE: u64 = 50;
const CONCURRENCY: usize = 4;

fn env_usize(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn follower_config() -> FollowerConfig {
    FollowerConfig {
        concurrency: CONCURRENCY,
        reorg_window: 128,
        max_retries: 8,
        retry_base_ms: 100,
        request_timeout_ms: 60_000,
    }
}

fn chain_config(devnet: &Devnet, ws: bool, poll_ms: u64) -> ChainConfig {
    ChainConfig {
        rpc_url: devnet.rpc_url(),
        ws_url: ws.then(|| devnet.ws_url()),
        chain_id: devnet.chain_id(),
        confirmations: 0,
        poll_interval_ms: poll_ms,
        max_block_range: RANGE,
        documentation_grace_blocks: 7200,
        snapshot_interval_blocks: 50_000,
    }
}

/// Peak resident set of this process since the last reset, in MiB.
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

fn manifests(safes: &[Address], owners: &[Address]) -> Vec<Manifest> {
    safes
        .chunks(SAFES / GROUPS)
        .enumerate()
        .map(|(i, chunk)| {
            let mut y = format!(
                "id: bench-{i}\nname: Bench {i}\npurpose: Benchmark.\nphase: coordination\nchain: local\nstart_block: 0\ntreasury:\n  safes:\n"
            );
            for s in chunk {
                y.push_str(&format!(
                    "    - address: \"{s}\"\n      owners: [\"{}\", \"{}\", \"{}\"]\n      threshold: 2\n",
                    owners[0], owners[1], owners[2]
                ));
            }
            Manifest::parse(&y).expect("benchmark manifest")
        })
        .collect()
}

async fn fresh_store(url: &str, manifests: &[Manifest]) -> Store {
    let store = Store::connect(url, 8).await.expect("database");
    store.migrate().await.expect("migrations");
    for m in manifests {
        store.add_group(m).await.expect("group");
    }
    store
}

async fn pg_database(admin: &str) -> String {
    use sqlx::Connection;
    let name = format!("gs_bench_{}", rand::random::<u32>());
    let mut c = sqlx::PgConnection::connect(admin)
        .await
        .expect("PostgreSQL");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut c)
        .await
        .unwrap();
    format!("{}/{name}", admin.rsplit_once('/').unwrap().0)
}

async fn bare_sweep(devnet: &Devnet, safes: &[Address], to: u64) -> (usize, Duration) {
    let rpc = Rpc::new(&devnet.rpc_url(), RetryPolicy::from(&follower_config())).unwrap();
    let topics = catalog_topics();
    let started = Instant::now();
    let ranges: Vec<(u64, u64)> = (0..=to)
        .step_by(RANGE as usize)
        .map(|a| (a, (a + RANGE - 1).min(to)))
        .collect();
    let counts: Vec<usize> = futures::stream::iter(ranges)
        .map(|(a, b)| {
            let rpc = rpc.clone();
            let filter = Filter::new()
                .address(safes.to_vec())
                .event_signature(topics.clone())
                .from_block(a)
                .to_block(b);
            tokio::spawn(async move { rpc.logs(&filter).await.expect("getLogs").len() })
        })
        .buffered(CONCURRENCY)
        .map(|r| r.unwrap())
        .collect()
        .await;
    (counts.iter().sum(), started.elapsed())
}

async fn index(devnet: &Devnet, store: &Store) -> Duration {
    let f = Follower::new(
        "local",
        chain_config(devnet, false, 1000),
        follower_config(),
        store.clone(),
    )
    .unwrap();
    let started = Instant::now();
    loop {
        let o = f.step().await.expect("follower step");
        if o.advanced == 0 && !o.catching_up {
            break;
        }
    }
    started.elapsed()
}

/// Block mined → divergence stored, for `samples` undeclared owners added and removed again.
async fn live_latency(
    devnet: &Devnet,
    store: &Store,
    safe: Address,
    keys: &[alloy::signers::local::PrivateKeySigner],
    ws: bool,
    poll_ms: u64,
    samples: usize,
) -> Vec<f64> {
    let f = Follower::new(
        "local",
        chain_config(devnet, ws, poll_ms),
        follower_config(),
        store.clone(),
    )
    .unwrap();
    let cancel = CancellationToken::new();
    let task = {
        let c = cancel.clone();
        tokio::spawn(async move { f.run(c).await })
    };
    let group = "bench-0";
    let signers = [
        (&keys[0], SignatureKind::Ecdsa),
        (&keys[1], SignatureKind::Ecdsa),
    ];
    let mut out = Vec::new();
    for i in 0..samples {
        // Start each sample at a random phase of the poll interval, like real traffic.
        tokio::time::sleep(Duration::from_millis(
            rand::random::<u64>() % poll_ms.max(1),
        ))
        .await;
        let intruder = devnet::signer(1000 + i as u64).address();
        let before = store.divergences(group, None).await.unwrap().len();
        let tx = SafeTx::self_call(
            safe,
            SafeL2::addOwnerWithThresholdCall {
                owner: intruder,
                _threshold: U256::from(2),
            },
        );
        let (hash, _) = tx.hash(devnet, safe).await.unwrap();
        let sigs = devnet::sign_safe_hash(hash, &signers).unwrap();
        let req = TransactionRequest::default()
            .to(safe)
            .input(TransactionInput::new(tx.exec_calldata(sigs)));
        // anvil mines on submission: when the send returns, the block exists.
        devnet.send(req).await.unwrap();
        let mined = Instant::now();
        loop {
            if store.divergences(group, None).await.unwrap().len() > before {
                break;
            }
            assert!(
                mined.elapsed() < Duration::from_secs(30),
                "divergence never stored"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        out.push(mined.elapsed().as_secs_f64() * 1000.0);
        devnet::remove_owner(devnet, safe, intruder, 2, &[&keys[0], &keys[1]])
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cancel.cancel();
    let _ = task.await;
    out.sort_by(|a, b| a.partial_cmp(b).unwrap());
    out
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` probes the harness this way.
    }
    let events = env_usize("BENCH_EVENTS", 100_000);
    let samples = env_usize("BENCH_SAMPLES", 30);
    let pg_admin = std::env::var("BENCH_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string());

    eprintln!("building the workload ({events} events)…");
    let devnet = Devnet::start(DevnetOptions::default())
        .await
        .expect("devnet");
    let contracts = SafeContracts::deploy(&devnet).await.unwrap();
    let keys = devnet::signers(3);
    let owners: Vec<Address> = keys.iter().map(|k| k.address()).collect();
    let safes = contracts
        .create_safes(&devnet, SafeVersion::V141L2, &owners, 2, 0..SAFES as u64)
        .await
        .unwrap();
    let payments = events.saturating_sub(SAFES + 2 * EXECUTIONS);
    let targets: Vec<Address> = (0..payments).map(|i| safes[i % SAFES]).collect();
    let built = Instant::now();
    for (i, chunk) in targets.chunks(devnet::FUND_CHUNK * 30).enumerate() {
        devnet::fund_many(&devnet, chunk, U256::from(1000))
            .await
            .unwrap();
        // Executions interleaved with payments, so decisions are spread over the range.
        for j in 0..EXECUTIONS / 12 + 1 {
            let n = i * (EXECUTIONS / 12 + 1) + j;
            if n >= EXECUTIONS {
                break;
            }
            devnet::exec_transaction(
                &devnet,
                safes[n % SAFES],
                Address::repeat_byte(0x99),
                U256::from(1),
                Default::default(),
                0,
                &[&keys[0], &keys[1]],
            )
            .await
            .unwrap();
        }
    }
    let head = devnet.head().await.unwrap();
    eprintln!(
        "workload built in {:.1} s, {head} blocks",
        built.elapsed().as_secs_f64()
    );
    let group_manifests = manifests(&safes, &owners);

    // Warm the node's caches once, then measure the bare sweep (best of 3).
    let _ = bare_sweep(&devnet, &safes, head).await;
    let mut sweep = Duration::MAX;
    let mut logs = 0;
    for _ in 0..3 {
        let (n, t) = bare_sweep(&devnet, &safes, head).await;
        logs = n;
        sweep = sweep.min(t);
    }

    println!("## Backfill ({logs} Safe events, {head} blocks, range {RANGE}, concurrency {CONCURRENCY})\n");
    println!("| run | seconds | events/s | vs bare sweep | peak RSS (MiB) |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    println!(
        "| bare `eth_getLogs` sweep (best of 3) | {:.2} | {:.0} | 1.00× | |",
        sweep.as_secs_f64(),
        logs as f64 / sweep.as_secs_f64()
    );
    let dir = tempfile::tempdir().unwrap();
    let sqlite_url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("bench.db").display()
    );
    let pg_url = pg_database(&pg_admin).await;
    let mut latency_store = None;
    let mut backends = vec![("SQLite", sqlite_url.clone())];
    if std::env::var("BENCH_SKIP_PG").is_err() {
        backends.push(("PostgreSQL", pg_url));
    }
    for (name, url) in backends {
        let store = fresh_store(&url, &group_manifests).await;
        reset_peak_rss();
        let t = index(&devnet, &store).await;
        let rss = peak_rss_mib();
        let mut stored = 0;
        for m in &group_manifests {
            stored += store.count_records(&m.id).await.unwrap();
        }
        assert_eq!(stored as usize, logs, "every event recorded once");
        println!(
            "| indexer, {name} | {:.2} | {:.0} | {:.2}× | {rss:.0} |",
            t.as_secs_f64(),
            logs as f64 / t.as_secs_f64(),
            t.as_secs_f64() / sweep.as_secs_f64()
        );
        if name == "SQLite" {
            latency_store = Some(store);
        }
    }

    let store = latency_store.unwrap();
    if samples == 0 {
        return;
    }
    println!("\n## Live latency, block mined → divergence stored (SQLite, {samples} samples)\n");
    println!("| head source | median ms | p99 ms | max ms |");
    println!("| --- | ---: | ---: | ---: |");
    for (label, ws, poll) in [
        ("polling every 1000 ms (default)", false, 1000),
        ("polling every 100 ms", false, 100),
        ("WebSocket `newHeads`", true, 1000),
    ] {
        let l = live_latency(&devnet, &store, safes[0], &keys, ws, poll, samples).await;
        println!(
            "| {label} | {:.1} | {:.1} | {:.1} |",
            percentile(&l, 0.5),
            percentile(&l, 0.99),
            l.last().copied().unwrap_or(f64::NAN)
        );
    }
    let _ = B256::ZERO;
    let _ = SafeL2::getOwnersCall::SELECTOR;
}
