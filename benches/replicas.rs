//! Replicas of `groupstate run` sharing three chains on one PostgreSQL database:
//!
//! (a) takeover after `kill -9` of a chain's holder: the time from the kill until another
//!     replica holds the chain's lease, and until it has committed a new batch of that chain,
//!     over `BENCH_TRIALS` trials (the killed replica is started again each time, as a standby);
//! (b) RPC calls per new block: `BENCH_NEW_BLOCKS` blocks with a payment each on every chain,
//!     followed by one replica alone, then by three, counted at a proxy in front of each chain
//!     (`eth_getLogs`, block reads, all calls).
//!
//! `cargo bench --bench replicas` (env: BENCH_PG, the PostgreSQL server's admin URL;
//! BENCH_TRIALS, default 20; BENCH_NEW_BLOCKS, default 20; BENCH_LEASE and BENCH_HEARTBEAT,
//! default "6s" and "2s", the daemon's defaults; BENCH_DEFAULT_IDS=1 to leave the replicas their
//! default ids). Prints a Markdown report.
//!
//! Each chain is an anvil with two Safe 1.4.1 L2 (a short history of payments and executions,
//! one undeclared owner), one group per Safe, a payment into one of them every 250 ms while the
//! takeovers are measured. The replicas are the real binary, each a process of its own, polling
//! the head every 100 ms.

mod common;

#[path = "../tests/support/cluster.rs"]
mod cluster;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use alloy::primitives::{Address, U256};
use cluster::Replica;
use common::env_u64;
use devnet::{Devnet, DevnetOptions, ProxyOptions, RpcProxy, SafeVersion};
use groupstate::manifest::Manifest;
use groupstate::store::Store;
use tokio_util::sync::CancellationToken;

const CHAINS: [&str; 3] = ["alpha", "beta", "gamma"];

struct Chain {
    name: &'static str,
    devnet: Devnet,
    proxy: RpcProxy,
    safes: Vec<Address>,
    manifests: Vec<Manifest>,
}

async fn chain(name: &'static str, chain_id: u64) -> Chain {
    let devnet = Devnet::start(DevnetOptions {
        chain_id,
        ..DevnetOptions::default()
    })
    .await
    .expect("anvil");
    let busy =
        devnet::workload::busy_safes(&devnet, &[SafeVersion::V141L2, SafeVersion::V141L2], 10, 4)
            .await
            .expect("history");
    let manifests = busy
        .safes
        .iter()
        .enumerate()
        .map(|(i, safe)| {
            let [a, b, c] = [busy.owners[0], busy.owners[1], busy.owners[2]];
            Manifest::parse(&format!(
                "id: {name}-{i}\nname: {name} {i}\npurpose: Benchmark.\nphase: coordination\n\
                 chain: {name}\nstart_block: 0\ntreasury:\n  safes:\n    - address: \"{safe}\"\n\
                 \x20     owners: [\"{a}\", \"{b}\", \"{c}\"]\n      threshold: 2\n"
            ))
            .expect("benchmark manifest")
        })
        .collect();
    let proxy = RpcProxy::start(&devnet.rpc_url(), ProxyOptions::default())
        .await
        .expect("counting proxy");
    Chain {
        name,
        devnet,
        proxy,
        safes: busy.safes,
        manifests,
    }
}

fn config(dir: &std::path::Path, db_url: &str, chains: &[Arc<Chain>]) -> std::path::PathBuf {
    let lease = std::env::var("BENCH_LEASE").unwrap_or_else(|_| "6s".into());
    let heartbeat = std::env::var("BENCH_HEARTBEAT").unwrap_or_else(|_| "2s".into());
    let mut text = format!(
        "data_dir = \"{}\"\n[database]\nurl = \"{db_url}\"\nmax_connections = 4\n\
         [log]\nprogress = \"off\"\n[api]\nbind = \"\"\n\
         [replica]\nlease = \"{lease}\"\nheartbeat = \"{heartbeat}\"\n",
        dir.display()
    );
    for c in chains {
        text.push_str(&format!(
            "[chains.{}]\nrpc_url = \"{}\"\nchain_id = {}\npoll_interval = \"100ms\"\n\
             finality_depth = 8\n",
            c.name,
            c.proxy.url(),
            c.devnet.chain_id()
        ));
    }
    // One signing key for all: the replicas share one data_dir.
    let key = groupstate::ledger::note::SigningKey::generate("groupstate")
        .expect("a key")
        .encode();
    text = text.replacen(
        "[api]",
        &format!("[ledger]\nsigning_key = \"{key}\"\n[api]"),
        1,
    );
    let path = dir.join("config.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// The live holder of `chain`'s lease, if any: (holder, epoch).
async fn holder(store: &Store, chain: &str) -> Option<(String, i64)> {
    let row: Option<(String, i64, i64)> =
        sqlx::query_as("SELECT holder, epoch, expires_at_ms FROM chain_leases WHERE chain = $1")
            .bind(chain)
            .fetch_optional(store.pool())
            .await
            .expect("chain_leases");
    row.filter(|(h, _, expires)| !h.is_empty() && *expires > now_ms())
        .map(|(h, e, _)| (h, e))
}

/// The lowest block every group of `chain` is synced to.
async fn synced(store: &Store, chain: &str) -> i64 {
    sqlx::query_scalar("SELECT COALESCE(MIN(synced_to), -1) FROM groups WHERE chain = $1")
        .bind(chain)
        .fetch_one(store.pool())
        .await
        .expect("groups")
}

/// The running replica that is `holder`: by its configured id, or by its default one
/// (`<hostname>-<pid>`).
fn replica_of(replicas: &[Replica], holder: &str) -> Option<usize> {
    replicas.iter().position(|r| {
        r.is_running() && (r.id == holder || holder.ends_with(&format!("-{}", r.pid())))
    })
}

/// Waits until every chain is held by a running replica and its groups are within `slack`
/// blocks of the head.
async fn all_held(store: &Store, chains: &[Arc<Chain>], replicas: &[Replica], slack: i64) {
    let started = Instant::now();
    'wait: loop {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the chains were not all held and caught up within 120 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        for c in chains {
            let Some((h, _)) = holder(store, c.name).await else {
                continue 'wait;
            };
            if replica_of(replicas, &h).is_none() {
                continue 'wait;
            }
            let head = c.devnet.head().await.unwrap() as i64;
            if synced(store, c.name).await < head - slack {
                continue 'wait;
            }
        }
        return;
    }
}

/// A payment into one of each chain's Safes every 250 ms, until `stop`.
async fn activity(chains: Vec<Arc<Chain>>, stop: CancellationToken) {
    let mut n = 0u64;
    while !stop.is_cancelled() {
        for c in &chains {
            let safe = c.safes[(n % c.safes.len() as u64) as usize];
            devnet::fund(&c.devnet, safe, U256::from(n + 1))
                .await
                .expect("payment");
        }
        n += 1;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn median_and_max(mut xs: Vec<f64>) -> (f64, f64) {
    xs.sort_by(f64::total_cmp);
    (
        common::percentile(&xs, 0.5),
        xs.last().copied().unwrap_or(f64::NAN),
    )
}

/// Calls per new block on each chain: `blocks` rounds of one payment per chain, each followed
/// before the next; (getLogs, block reads, total) per block, per chain.
async fn calls_per_block(
    store: &Store,
    chains: &[Arc<Chain>],
    blocks: u64,
) -> Vec<(f64, f64, f64)> {
    for c in chains {
        c.proxy.reset_counts();
    }
    for n in 0..blocks {
        for c in chains {
            devnet::fund(&c.devnet, c.safes[0], U256::from(n + 1))
                .await
                .expect("payment");
        }
        // Each block followed on its own, as at a live head.
        let started = Instant::now();
        loop {
            let mut done = true;
            for c in chains {
                done &= synced(store, c.name).await >= c.devnet.head().await.unwrap() as i64;
            }
            if done {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(30), "not followed");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    chains
        .iter()
        .map(|c| {
            let counts = c.proxy.counts();
            let per = |n: u64| n as f64 / blocks as f64;
            (
                per(counts.of("eth_getLogs")),
                per(counts.of("eth_getBlockByNumber") + counts.of("eth_getBlockByHash")),
                per(counts.total()),
            )
        })
        .collect()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let trials = env_u64("BENCH_TRIALS", 20);
    let blocks = env_u64("BENCH_NEW_BLOCKS", 20);
    let chains: Vec<Arc<Chain>> = futures::future::join_all(
        CHAINS
            .iter()
            .enumerate()
            .map(|(i, name)| chain(name, 31337 + i as u64)),
    )
    .await
    .into_iter()
    .map(Arc::new)
    .collect();
    let url = common::pg_database(&common::pg_admin()).await;
    let manifests: Vec<Manifest> = chains
        .iter()
        .flat_map(|c| c.manifests.iter().cloned())
        .collect();
    let store = common::fresh_store(&url, &manifests).await;
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &url, &chains);
    let mut replicas: Vec<Replica> = ["r1", "r2", "r3"]
        .iter()
        .map(|id| {
            // Configured ids (`[replica] id`), as replicas on separate hosts have: a holder's
            // death is then seen from its lease alone. With the default id
            // (`<hostname>-<pid>`, BENCH_DEFAULT_IDS=1), a replica on the same host sees at
            // once that the holder's process is gone.
            let mut r = Replica::new(
                id,
                env!("CARGO_BIN_EXE_groupstate"),
                &config,
                dir.path(),
                std::env::var("BENCH_DEFAULT_IDS").is_err(),
            );
            r.rust_log = "warn".into();
            r
        })
        .collect();

    // (b) first, on quiet chains: one replica alone, then three.
    replicas[0].start();
    all_held(&store, &chains, &replicas, 0).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let alone = calls_per_block(&store, &chains, blocks).await;
    replicas[1].start();
    replicas[2].start();
    // The first replica hands chains to the newcomers, one per lease, until each holds one.
    let spreading = Instant::now();
    let holders = loop {
        all_held(&store, &chains, &replicas, 0).await;
        let mut holders = Vec::new();
        for c in &chains {
            let h = holder(&store, c.name)
                .await
                .map(|h| h.0)
                .unwrap_or_default();
            holders.push(replica_of(&replicas, &h).map_or(h, |i| replicas[i].id.clone()));
        }
        let distinct: std::collections::BTreeSet<&String> = holders.iter().collect();
        if distinct.len() == chains.len() || spreading.elapsed() > Duration::from_secs(60) {
            break holders;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    eprintln!(
        "chains held by {holders:?} after {:.1} s",
        spreading.elapsed().as_secs_f64()
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let three = calls_per_block(&store, &chains, blocks).await;

    // (a) takeovers, with payments arriving all along.
    let stop = CancellationToken::new();
    let load = tokio::spawn(activity(chains.clone(), stop.clone()));
    let mut taken = Vec::new();
    let mut committed = Vec::new();
    for trial in 0..trials {
        all_held(&store, &chains, &replicas, 2).await;
        let c = &chains[trial as usize % chains.len()];
        let (old, epoch) = holder(&store, c.name).await.expect("a holder");
        let victim = replica_of(&replicas, &old).expect("the holder is one of the replicas");
        replicas[victim].kill(Instant::now()).await;
        let killed = Instant::now();
        let before = synced(&store, c.name).await;
        let old_name = replicas[victim].id.clone();
        let mut lease_at = None;
        let commit_at = loop {
            assert!(
                killed.elapsed() < Duration::from_secs(60),
                "no takeover of {} within 60 s",
                c.name
            );
            if lease_at.is_none() {
                if let Some((h, e)) = holder(&store, c.name).await {
                    if h != old {
                        assert!(e > epoch, "a takeover moves the epoch: {e} after {epoch}");
                        lease_at = Some(killed.elapsed());
                    }
                }
            }
            if lease_at.is_some() && synced(&store, c.name).await > before {
                break killed.elapsed();
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        let lease_at = lease_at.unwrap();
        eprintln!(
            "trial {trial}: {} held by {old_name}; lease taken after {:.2} s, first commit after {:.2} s",
            c.name,
            lease_at.as_secs_f64(),
            commit_at.as_secs_f64()
        );
        taken.push(lease_at.as_secs_f64());
        committed.push(commit_at.as_secs_f64());
        // Back as a standby once none of its chains is still leased to it (under a configured
        // id, a restart would otherwise renew leases it no longer follows).
        let waiting = Instant::now();
        while sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM chain_leases WHERE holder = $1 AND expires_at_ms > $2",
        )
        .bind(&old)
        .bind(now_ms())
        .fetch_one(store.pool())
        .await
        .expect("chain_leases")
            > 0
        {
            assert!(
                waiting.elapsed() < Duration::from_secs(60),
                "{old} kept a lease"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        replicas[victim].start();
    }
    stop.cancel();
    load.await.unwrap();
    for r in &mut replicas {
        let _ = r.terminate(Duration::from_secs(15)).await;
    }

    let (taken_median, taken_max) = median_and_max(taken);
    let (commit_median, commit_max) = median_and_max(committed);
    println!("### Takeover after `kill -9` of a chain's holder ({trials} trials)\n");
    println!("| from the kill to | median s | max s |");
    println!("| --- | ---: | ---: |");
    println!("| another replica holds the lease | {taken_median:.2} | {taken_max:.2} |");
    println!("| it has committed a new batch | {commit_median:.2} | {commit_max:.2} |");
    println!("\n### RPC calls per new block ({blocks} blocks with a payment, each chain)\n");
    println!("| chain | replicas | holder | eth_getLogs | block reads | all calls |");
    println!("| --- | ---: | --- | ---: | ---: | ---: |");
    for (i, c) in chains.iter().enumerate() {
        let (l, b, t) = alone[i];
        println!("| {} | 1 | r1 | {l:.2} | {b:.2} | {t:.2} |", c.name);
        let (l, b, t) = three[i];
        println!(
            "| {} | 3 | {} | {l:.2} | {b:.2} | {t:.2} |",
            c.name, holders[i]
        );
    }
    store.close().await;
}
