//! Registering the usual group (a Safe, a Governor with its Timelock, an AccessControl token) on
//! a chain 20,000,000 blocks tall behind a provider's limits: RPC calls and seconds from the
//! daemon's start to its first committed batch.
//!
//! `cargo bench --bench register` (env: BENCH_OFFSET, default 20000000, the blocks below the
//! devnet's genesis; BENCH_MAX_LOG_RANGE, default 10000, the provider's widest `eth_getLogs`;
//! BENCH_LATENCY_MS, default 0 and 100, a list of round trips added to every call;
//! BENCH_BEFORE_BIN, a `groupstate` binary to compare with, e.g. one built from an earlier
//! commit).
//!
//! The chain is anvil behind the devnet's height-shifting proxy: the contracts are deployed a
//! few blocks above 20,000,000, and the group starts following at the head. The daemon is the
//! real binary (`groupstate run`) on a fresh SQLite file; the first committed batch is the
//! group's `synced_to` reaching its start block.

mod common;

use std::time::{Duration, Instant};

use alloy::primitives::Address;
use common::env_u64;
use devnet::{
    self, Devnet, DevnetOptions, GovernanceContracts, GovernanceParams, ProxyOptions, RpcProxy,
    SafeContracts, SafeVersion, MINTER_ROLE,
};
use groupstate::store::Store;

fn manifest(start: u64, safe: Address, owners: &[Address], g: &GovernanceContracts) -> String {
    format!(
        "id: usual\nname: Usual\npurpose: Benchmark.\nphase: coordination\nchain: local\nstart_block: {start}\n\
         treasury:\n  safes:\n    - address: \"{safe}\"\n      owners: [\"{o0}\", \"{o1}\", \"{o2}\"]\n      threshold: 2\n\
         governance:\n  governors:\n    - {{ address: \"{gov}\", timelock: \"{tl}\", voting_delay: 1, voting_period: 10, proposal_threshold: \"0\", quorum_numerator: 4 }}\n  timelocks:\n    - address: \"{tl}\"\n      min_delay: 2\n      proposers: [\"{gov}\"]\n      executors: [\"0x0000000000000000000000000000000000000000\"]\n      cancellers: [\"{gov}\"]\n      admins: [\"{dep}\"]\n\
         roles:\n  - contract: \"{token}\"\n    members:\n      DEFAULT_ADMIN_ROLE: [\"{dep}\"]\n      MINTER_ROLE: [\"{dep}\"]\n",
        o0 = owners[0],
        o1 = owners[1],
        o2 = owners[2],
        gov = g.governor,
        tl = g.timelock,
        dep = g.deployer,
        token = g.token,
    )
}

struct Run {
    calls: devnet::ProxyCounts,
    seconds: f64,
}

/// Starts `bin run` against the proxy on a fresh SQLite file with the group registered, and
/// waits for its first committed batch.
async fn register(bin: &str, proxy: &RpcProxy, chain_id: u64, manifest: &str, start: u64) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("gs.db");
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\n[database]\nurl = \"sqlite://{}?mode=rwc\"\n[api]\nbind = \"\"\n\
             [chains.local]\nrpc_url = \"{}\"\nchain_id = {chain_id}\nmax_block_range = 2000\n\
             poll_interval_ms = 100\nfinality_depth = 64\n",
            dir.path().display(),
            db.display(),
            proxy.url()
        ),
    )
    .unwrap();
    let file = dir.path().join("usual.yaml");
    std::fs::write(&file, manifest).unwrap();
    let add = std::process::Command::new(bin)
        .args(["--config", config.to_str().unwrap(), "group", "add"])
        .arg(&file)
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    assert!(
        add.status.success(),
        "{}",
        String::from_utf8_lossy(&add.stderr)
    );
    let store = Store::connect(&format!("sqlite://{}", db.display()), 2)
        .await
        .unwrap();
    proxy.reset_counts();
    let started = Instant::now();
    let mut daemon = tokio::process::Command::new(bin)
        .args(["--config", config.to_str().unwrap(), "run"])
        .env("RUST_LOG", "error")
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    loop {
        // Read as plainly as possible: a daemon of an earlier build has an older schema.
        let synced: i64 = sqlx::query_scalar("SELECT synced_to FROM groups WHERE id = 'usual'")
            .fetch_one(store.pool())
            .await
            .unwrap();
        if synced >= start as i64 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(3600),
            "no batch committed within an hour"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    let calls = proxy.counts();
    daemon.start_kill().unwrap();
    let _ = daemon.wait().await;
    store.close().await;
    Run { calls, seconds }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let offset = env_u64("BENCH_OFFSET", 20_000_000);
    let max_range = env_u64("BENCH_MAX_LOG_RANGE", 10_000);
    let latencies: Vec<u64> = std::env::var("BENCH_LATENCY_MS")
        .unwrap_or_else(|_| "0,100".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let devnet = Devnet::start(DevnetOptions::default())
        .await
        .expect("devnet");
    let safes = SafeContracts::deploy(&devnet).await.unwrap();
    let owners: Vec<Address> = devnet::signers(3).iter().map(|k| k.address()).collect();
    let safe = safes
        .create_safe(&devnet, SafeVersion::V141L2, &owners, 2, 0)
        .await
        .unwrap();
    let g = GovernanceContracts::deploy(
        &devnet,
        GovernanceParams {
            keep_timelock_admin: true,
            ..GovernanceParams::default()
        },
    )
    .await
    .unwrap();
    devnet::grant_role(&devnet, g.token, MINTER_ROLE, g.deployer, g.deployer)
        .await
        .unwrap();
    devnet.mine(5).await.unwrap();
    let head = devnet.head().await.unwrap() + offset;
    let text = manifest(head, safe, &owners, &g);
    let mut bins = vec![("this build", env!("CARGO_BIN_EXE_groupstate").to_string())];
    if let Ok(before) = std::env::var("BENCH_BEFORE_BIN") {
        bins.insert(0, ("before (BENCH_BEFORE_BIN)", before));
    }
    println!(
        "## Registering a group on a chain {head} blocks tall (eth_getLogs capped at {max_range} blocks)\n"
    );
    println!("| daemon | latency per call | RPC calls | eth_getLogs | eth_getCode | seconds to the first committed batch |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    for latency in &latencies {
        let proxy = RpcProxy::start(
            &devnet.rpc_url(),
            ProxyOptions {
                offset,
                max_log_range: Some(max_range),
                latency: Duration::from_millis(*latency),
                ..ProxyOptions::default()
            },
        )
        .await
        .unwrap();
        for (label, bin) in &bins {
            if *latency > 0 && label.starts_with("before") {
                // Thousands of sequential calls: minutes per 100 ms; the 0 ms run gives the
                // calls, the latency times them.
                continue;
            }
            let r = register(bin, &proxy, devnet.chain_id(), &text, head).await;
            println!(
                "| {label} | {latency} ms | {} | {} | {} | {:.2} |",
                r.calls.total(),
                r.calls.of("eth_getLogs"),
                r.calls.of("eth_getCode"),
                r.seconds
            );
        }
    }
}
