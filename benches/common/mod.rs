//! What the benchmarks share: follower settings, a fresh store per backend, the bare
//! `eth_getLogs` sweep the indexer is compared with, a timed backfill, and peak RSS.
#![allow(dead_code)]

pub mod workload;

use std::time::{Duration, Instant};

use alloy::primitives::Address;
use alloy::rpc::types::Filter;
use devnet::Devnet;
use futures::StreamExt;
use groupstate::chain::rpc::{RetryPolicy, Rpc};
use groupstate::config::{ChainConfig, FollowerConfig};
use groupstate::decode::catalog_topics;
use groupstate::manifest::Manifest;
use groupstate::store::Store;
use groupstate::sync::Follower;

pub const RANGE: u64 = 50;
pub const CONCURRENCY: usize = 4;

pub fn follower_config() -> FollowerConfig {
    FollowerConfig {
        concurrency: CONCURRENCY,
        reorg_window: 128,
        max_retries: 8,
        retry_base_ms: 100,
        request_timeout_ms: 60_000,
    }
}

pub fn chain_config(devnet: &Devnet, ws: bool, poll_ms: u64) -> ChainConfig {
    ChainConfig {
        ws_url: ws.then(|| devnet.ws_url().parse().expect("a ws URL")),
        poll_interval_ms: poll_ms,
        ..chain_config_url(&devnet.rpc_url(), devnet.chain_id())
    }
}

/// The benchmarks' chain settings for a node at `url` (a devnet, or a proxy in front of one).
#[allow(dead_code)]
pub fn chain_config_url(url: &str, chain_id: u64) -> ChainConfig {
    ChainConfig {
        rpc_url: url.parse().expect("an RPC URL"),
        ws_url: None,
        preset: None,
        chain_id,
        block_time: None,
        confirmations: 0,
        poll_interval_ms: 1000,
        max_block_range: RANGE,
        documentation_grace_blocks: 7200,
        snapshot_interval_blocks: 50_000,
        // Everything final at once: the benchmark includes sealing the log.
        finality_depth: Some(0),
        max_lag_blocks: None,
        explorer_url: None,
        traces: groupstate::config::TraceMode::Auto,
        balance_check_interval_blocks: 10_000,
        safe_deployments: Default::default(),
    }
}

/// Peak resident set of this process since the last reset, in MiB.
pub fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

pub fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

pub async fn fresh_store(url: &str, manifests: &[Manifest]) -> Store {
    let store = Store::connect(url, 8).await.expect("database");
    store.migrate().await.expect("migrations");
    for m in manifests {
        store.add_group(m).await.expect("group");
    }
    store
}

pub async fn pg_database(admin: &str) -> String {
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

pub fn pg_admin() -> String {
    std::env::var("BENCH_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

/// The bare sweep: the same `eth_getLogs` queries the follower makes (by emitter and the
/// catalog's topics; transfers and approvals naming a treasury), same range and concurrency,
/// decoded into alloy `Log`s and counted. Returns (logs, time).
pub async fn bare_sweep(
    devnet: &Devnet,
    addresses: &[Address],
    treasury: &[Address],
    to: u64,
) -> (usize, Duration) {
    let rpc = Rpc::new(&devnet.rpc_url(), RetryPolicy::from(&follower_config())).unwrap();
    let mut templates = vec![Filter::new()
        .address(addresses.to_vec())
        .event_signature(catalog_topics())];
    let query = groupstate::chain::fetch::LogQuery {
        treasury: treasury.iter().map(|a| a.into_word()).collect(),
        by_treasury: groupstate::decode::treasury_topics()
            .into_iter()
            .map(|(position, events)| groupstate::chain::fetch::TreasuryFilter { position, events })
            .collect(),
        ..Default::default()
    };
    templates.extend(query.treasury_filters());
    let started = Instant::now();
    let ranges: Vec<(u64, u64)> = (0..=to)
        .step_by(RANGE as usize)
        .map(|a| (a, (a + RANGE - 1).min(to)))
        .collect();
    let counts: Vec<usize> = futures::stream::iter(ranges)
        .map(|(a, b)| {
            let rpc = rpc.clone();
            let templates = templates.clone();
            tokio::spawn(async move {
                let mut n = 0;
                for t in templates {
                    n += rpc
                        .logs(&t.from_block(a).to_block(b))
                        .await
                        .expect("getLogs")
                        .len();
                }
                n
            })
        })
        .buffered(CONCURRENCY)
        .map(|r| r.unwrap())
        .collect()
        .await;
    (counts.iter().sum(), started.elapsed())
}

/// A backfill from an empty database to the head, timed.
pub async fn index(devnet: &Devnet, store: &Store) -> Duration {
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

/// A backfill by the real daemon (`groupstate run`) in a process of its own, from an empty
/// database to the head with everything sealed: the seconds from its start and its peak RSS.
pub async fn daemon_backfill(
    devnet: &Devnet,
    url: &str,
    manifests: &[Manifest],
    head: u64,
) -> (Duration, f64) {
    let store = fresh_store(url, manifests).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\n[database]\nurl = \"{url}\"\nmax_connections = 8\n\
             [follower]\nconcurrency = {CONCURRENCY}\nreorg_window = 128\nmax_retries = 8\n\
             retry_base_ms = 100\nrequest_timeout_ms = 60000\n[api]\nbind = \"\"\n\
             [chains.local]\nrpc_url = \"{}\"\nchain_id = {}\nmax_block_range = {RANGE}\n\
             poll_interval_ms = 10\nfinality_depth = 0\n",
            dir.path().display(),
            devnet.rpc_url(),
            devnet.chain_id()
        ),
    )
    .unwrap();
    let started = Instant::now();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_groupstate"))
        .args(["--config", config.to_str().unwrap(), "run"])
        .env("RUST_LOG", "error")
        .kill_on_drop(true)
        .spawn()
        .expect("the daemon");
    let pid = child.id().expect("a pid");
    let mut peak = 0.0f64;
    loop {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        if let Some(kb) = status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
        {
            peak = peak.max(kb / 1024.0);
        }
        let mut done = true;
        for m in manifests {
            let g = store.group(&m.id).await.unwrap().unwrap();
            done &= g.synced_to >= head as i64;
        }
        if done && store.log_size("local").await.unwrap() > 0 {
            // Sealed with the batches, or right after them in the same step.
            let sealed: i64 = sqlx::query_scalar(
                "SELECT COALESCE(MIN(sealed_to), -1) FROM groups WHERE chain = 'local'",
            )
            .fetch_one(store.pool())
            .await
            .unwrap();
            if sealed >= head as i64 {
                break;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "the daemon did not finish"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let took = started.elapsed();
    child.start_kill().unwrap();
    let _ = child.wait().await;
    store.close().await;
    (took, peak)
}

/// The comparison both backfill benchmarks report: the bare sweep (best of three after a
/// warm-up), then a backfill from an empty database on SQLite and, unless `BENCH_SKIP_PG` is
/// set, PostgreSQL, printed as a Markdown table under the heading `title(logs)`. Returns the
/// number of logs the sweep saw, the records each backfill stored, and the SQLite store with
/// the directory that holds its file.
pub async fn compare_backfills(
    devnet: &Devnet,
    manifests: &[Manifest],
    head: u64,
    title: impl Fn(usize) -> String,
) -> (usize, Vec<i64>, Store, tempfile::TempDir) {
    let addresses: Vec<Address> = manifests
        .iter()
        .flat_map(|m| m.watched_addresses())
        .collect();
    let treasury: Vec<Address> = manifests
        .iter()
        .flat_map(|m| m.treasury_addresses())
        .collect();
    let _ = bare_sweep(devnet, &addresses, &treasury, head).await;
    let mut sweep = Duration::MAX;
    let mut logs = 0;
    for _ in 0..3 {
        let (n, t) = bare_sweep(devnet, &addresses, &treasury, head).await;
        logs = n;
        sweep = sweep.min(t);
    }
    println!("{}\n", title(logs));
    println!("| run | seconds | events/s | vs bare sweep | peak RSS (MiB) |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    let row = |name: &str, t: Duration, n: i64, rss: f64| {
        println!(
            "| {name} | {:.2} | {:.0} | {:.2}× | {rss:.0} |",
            t.as_secs_f64(),
            n as f64 / t.as_secs_f64(),
            t.as_secs_f64() / sweep.as_secs_f64()
        );
    };
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
    let mut backends = vec![("SQLite", sqlite_url)];
    if std::env::var("BENCH_SKIP_PG").is_err() {
        backends.push(("PostgreSQL", pg_database(&pg_admin()).await));
    }
    let mut counts = Vec::new();
    let mut sqlite = None;
    for (name, url) in backends {
        let store = fresh_store(&url, manifests).await;
        reset_peak_rss();
        let t = index(devnet, &store).await;
        let rss = peak_rss_mib();
        let mut stored = 0;
        for m in manifests {
            stored += store.count_records(&m.id).await.unwrap();
        }
        counts.push(stored);
        row(&format!("indexer in process, {name}"), t, stored, rss);
        let url = match name {
            "SQLite" => format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("daemon.db").display()
            ),
            _ => pg_database(&pg_admin()).await,
        };
        let (t, rss) = daemon_backfill(devnet, &url, manifests, head).await;
        row(&format!("`groupstate run`, {name}"), t, stored, rss);
        if sqlite.is_none() {
            sqlite = Some(store);
        }
    }
    (logs, counts, sqlite.expect("SQLite always runs"), dir)
}

/// A numeric setting from the environment, or its default.
pub fn env_u64(key: &str, default: u64) -> u64 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `0x` and the hex SHA-256 of `parts`: deterministic stand-ins for hashes.
pub fn hash_hex(parts: &[&[u8]]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    format!("0x{}", hex::encode(h.finalize()))
}
