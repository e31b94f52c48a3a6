//! A group registered at height 20,000,000 behind a hosted provider 50 ms away: RPC calls by
//! method and seconds until it is caught up, then the calls each new block costs at the head.
//!
//! `cargo bench --bench providers` (env: BENCH_OFFSET, default 20000000, the blocks the proxy
//! adds below the devnet's genesis; BENCH_DELAY_MS, default 50, the round trip added to every
//! call; BENCH_ROUNDS, default 60, rounds of activity in the history; BENCH_NEW_BLOCKS,
//! default 20, new blocks of each kind at the head). Prints a Markdown report.
//!
//! The chain is anvil behind the provider-emulating proxy of the tests
//! (`tests/support/provider_proxy.rs`): every block number shifted by the offset, `eth_getLogs`
//! capped at 10,000 blocks (QuickNode's words) and 10,000 results (Alchemy's, with its hint),
//! and the delay on every answer. The group — two Safe 1.4.1 L2 and one plain Safe 1.4.1, with
//! payments into them, executions out of them and one undeclared owner — starts at the
//! offset, so the follower catches up with all of the devnet's history. In process, on a fresh
//! SQLite file, `max_block_range` 2,000, four ranges at once.

mod common;

#[path = "../tests/support"]
mod proxies {
    pub mod flaky_rpc;
    pub mod provider_proxy;
}

use std::time::{Duration, Instant};

use alloy::primitives::{Address, U256};
use common::env_u64;
use devnet::{Devnet, DevnetOptions, SafeVersion};
use groupstate::manifest::Manifest;
use groupstate::store::Store;
use groupstate::sync::Follower;
use proxies::provider_proxy::{
    ProviderPlan, ProviderProxy, ProviderStats, RangeCapStyle, ResultCapStyle,
};

fn manifest(start: u64, safes: &[Address], owners: &[Address]) -> Manifest {
    let mut y = format!(
        "id: tall\nname: Tall\npurpose: Benchmark.\nphase: coordination\nchain: local\nstart_block: {start}\ntreasury:\n  safes:\n"
    );
    for s in safes {
        y.push_str(&format!(
            "    - address: \"{s}\"\n      owners: [\"{}\", \"{}\", \"{}\"]\n      threshold: 2\n",
            owners[0], owners[1], owners[2]
        ));
    }
    Manifest::parse(&y).expect("benchmark manifest")
}

/// Steps until the group is complete up to `target`; the steps taken.
async fn catch_up(f: &Follower, store: &Store, target: u64) -> u64 {
    let started = Instant::now();
    let mut steps = 0;
    loop {
        let g = store.group("tall").await.unwrap().unwrap();
        if g.synced_to >= target as i64 {
            return steps;
        }
        assert!(
            started.elapsed() < Duration::from_secs(1800),
            "not caught up"
        );
        match f.step().await {
            Ok(_) => steps += 1,
            Err(e) if e.is_retryable() => tokio::time::sleep(Duration::from_millis(20)).await,
            Err(e) => panic!("follower failed: {e}"),
        }
    }
}

fn by_method(stats: &ProviderStats, per: f64) -> Vec<(String, f64)> {
    stats
        .by_method
        .iter()
        .map(|(m, n)| (m.clone(), *n as f64 / per))
        .collect()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` probes the harness this way.
    }
    let offset = env_u64("BENCH_OFFSET", 20_000_000);
    let delay = Duration::from_millis(env_u64("BENCH_DELAY_MS", 50));
    let rounds = env_u64("BENCH_ROUNDS", 60);
    let new_blocks = env_u64("BENCH_NEW_BLOCKS", 20);

    eprintln!("building the history ({rounds} rounds)…");
    let devnet = Devnet::start(DevnetOptions::default())
        .await
        .expect("devnet");
    let devnet::workload::BusySafes { owners, safes, .. } = devnet::workload::busy_safes(
        &devnet,
        &[SafeVersion::V141L2, SafeVersion::V141L2, SafeVersion::V141],
        rounds,
        5,
    )
    .await
    .unwrap();
    let head = devnet.head().await.unwrap();

    let proxy = ProviderProxy::start(
        &devnet.rpc_url(),
        ProviderPlan {
            offset,
            result_cap: Some((ResultCapStyle::Alchemy, 10_000)),
            range_cap: Some((RangeCapStyle::QuickNode, 10_000)),
            delay,
            ..ProviderPlan::default()
        },
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("bench.db").display()
    );
    let store = common::fresh_store(&url, &[manifest(offset, &safes, &owners)]).await;
    let mut chain = common::chain_config_url(&proxy.url(), devnet.chain_id());
    chain.max_block_range = 2000;
    chain.finality_depth = Some(64);
    let f = Follower::new("local", chain, common::follower_config(), store.clone()).unwrap();

    proxy.reset_stats();
    let started = Instant::now();
    let steps = catch_up(&f, &store, head + offset).await;
    let seconds = started.elapsed().as_secs_f64();
    let catch_up_stats = proxy.stats();
    let records = store.count_records("tall").await.unwrap();

    println!(
        "## Registered at height {offset} behind a provider {} ms away ({} blocks of history, {records} records)\n",
        delay.as_millis(),
        head + 1
    );
    println!(
        "Caught up in **{seconds:.2} s** ({steps} step{}, {} calls):\n",
        if steps == 1 { "" } else { "s" },
        catch_up_stats.total()
    );
    println!("| method | calls |");
    println!("| --- | ---: |");
    for (m, n) in by_method(&catch_up_stats, 1.0) {
        println!("| `{m}` | {n:.0} |");
    }

    // The head: blocks with a payment into a Safe, then empty blocks, each followed to the end.
    let mut rows = Vec::new();
    for (label, with_payment) in [("a payment into a Safe", true), ("empty", false)] {
        proxy.reset_stats();
        let started = Instant::now();
        for _ in 0..new_blocks {
            if with_payment {
                devnet::fund(&devnet, safes[0], U256::from(1))
                    .await
                    .unwrap();
            } else {
                devnet.mine(1).await.unwrap();
            }
            let head = devnet.head().await.unwrap();
            catch_up(&f, &store, head + offset).await;
        }
        let per_block = started.elapsed().as_secs_f64() * 1000.0 / new_blocks as f64;
        rows.push((label, proxy.stats(), per_block));
    }
    println!(
        "\nAt the head, {new_blocks} new blocks of each kind, each followed before the next:\n"
    );
    println!("| new block | calls per block | by method (per block) | ms per block |");
    println!("| --- | ---: | --- | ---: |");
    for (label, stats, ms) in rows {
        let methods: Vec<String> = by_method(&stats, new_blocks as f64)
            .into_iter()
            .map(|(m, n)| format!("`{m}` {n:.1}"))
            .collect();
        println!(
            "| {label} | {:.1} | {} | {ms:.0} |",
            stats.total() as f64 / new_blocks as f64,
            methods.join(", ")
        );
    }
    store.close().await;
}
