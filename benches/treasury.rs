//! Backfill of a treasury workload on a real anvil devnet: plain (non-L2) Safe 1.4.1
//! executions that each pay five recipients through a MultiSendCallOnly batch, and module
//! executions — half from an account module calling the Safe directly, half from a contract
//! module (`PayingModule`), whose payments only a call trace or the balance check can see.
//! Measured with call traces on (`debug_traceTransaction`) and off, and with the balance check
//! on and off: seconds, events per second, and RPC calls per batch by method (counted by a
//! proxy in front of anvil).
//!
//! `cargo bench --bench treasury` (env: BENCH_SCALE, default 1: 2,000 batched executions and
//! 500 module executions; BENCH_SKIP_PG to leave PostgreSQL out; BENCH_CHECK_INTERVAL, default
//! 100 blocks).

mod common;

use std::time::{Duration, Instant};

use alloy::primitives::{Address, U256};
use common::*;
use devnet::{
    self, Devnet, DevnetOptions, MultiSendDeployment, MultiSendItem, ProxyOptions, RpcProxy,
    SafeContracts, SafeVersion, SignatureKind, TreasuryContracts,
};
use groupstate::config::TraceMode;
use groupstate::manifest::Manifest;
use groupstate::store::Store;
use groupstate::sync::Follower;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let scale = env_u64("BENCH_SCALE", 1) as usize;
    let (batched, module_runs) = (2000 * scale, 500 * scale);
    let check_interval = env_u64("BENCH_CHECK_INTERVAL", 100);

    eprintln!("building the treasury workload…");
    let built = Instant::now();
    let devnet = Devnet::start(DevnetOptions::default())
        .await
        .expect("devnet");
    let safes = SafeContracts::deploy(&devnet).await.unwrap();
    let contracts = TreasuryContracts::deploy(&devnet).await.unwrap();
    let keys = devnet::signers(3);
    let owners: Vec<Address> = keys.iter().map(|k| k.address()).collect();
    let safe = safes
        .create_safe(&devnet, SafeVersion::V141, &owners, 2, 7)
        .await
        .unwrap();
    devnet::fund(&devnet, safe, U256::from(10u64).pow(U256::from(21)))
        .await
        .unwrap();
    let eoa_module = devnet.accounts()[5];
    let signers = [&keys[0], &keys[1]];
    for m in [eoa_module, contracts.paying_module] {
        devnet::enable_module(&devnet, safe, m, &signers)
            .await
            .unwrap();
    }
    let sign = [
        (&keys[0], SignatureKind::Ecdsa),
        (&keys[1], SignatureKind::Ecdsa),
    ];
    for i in 0..batched {
        let items: Vec<MultiSendItem> = (0..5u8)
            .map(|k| MultiSendItem::pay(Address::repeat_byte(0x10 + k), U256::from(1 + i)))
            .collect();
        safes
            .multi_send_tx(MultiSendDeployment::V141CallOnly, &items)
            .execute(&devnet, safe, &sign)
            .await
            .unwrap();
    }
    for i in 0..module_runs {
        let to = Address::repeat_byte(0x20);
        if i % 2 == 0 {
            devnet::module_pay(&devnet, eoa_module, safe, to, U256::from(1))
                .await
                .unwrap();
        } else {
            devnet::paying_module_pay(&devnet, contracts.paying_module, safe, to, U256::from(1))
                .await
                .unwrap();
        }
    }
    let head = devnet.head().await.unwrap();
    eprintln!(
        "built in {:.1} s, {head} blocks",
        built.elapsed().as_secs_f64()
    );

    let yaml = format!(
        "id: treasury\nname: Treasury\npurpose: Benchmark.\nphase: coordination\nchain: local\nstart_block: 0\ntreasury:\n  safes:\n    - address: \"{safe}\"\n      owners: [\"{}\", \"{}\", \"{}\"]\n      threshold: 2\n      modules: [\"{eoa_module}\", \"{}\"]\n  policy:\n    max_outflow: {{ native: \"1000000000000000000\" }}\n",
        owners[0], owners[1], owners[2], contracts.paying_module
    );
    let manifest = Manifest::parse(&yaml).unwrap();
    let proxy = RpcProxy::start(&devnet.rpc_url(), ProxyOptions::default())
        .await
        .unwrap();
    let batches = (head + 1).div_ceil(RANGE);

    println!(
        "## Treasury backfill ({head} blocks, {batches} batches of {RANGE}: {batched} plain Safe 1.4.1 executions of a MultiSendCallOnly batch of 5 payments, {module_runs} module executions, half from an account, half from a contract module)\n"
    );
    println!("| run | backend | seconds | records/s | RPC calls per batch | of which traces | of which balances |");
    println!("| --- | --- | ---: | ---: | ---: | ---: | ---: |");
    let dir = tempfile::tempdir().unwrap();
    let mut backends = vec![("SQLite", None)];
    if std::env::var("BENCH_SKIP_PG").is_err() {
        backends.push(("PostgreSQL", Some(())));
    }
    let mut n = 0;
    let mut timings = Vec::new();
    for (backend, pg) in backends {
        for (name, traces, interval) in [
            ("traces off, no balance check", TraceMode::Off, 0),
            ("traces on, no balance check", TraceMode::Auto, 0),
            ("traces on, balance check", TraceMode::Auto, check_interval),
            ("traces off, balance check", TraceMode::Off, check_interval),
        ] {
            n += 1;
            let url = match pg {
                None => format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join(format!("t{n}.db")).display()
                ),
                Some(()) => pg_database(&pg_admin()).await,
            };
            let store = fresh_store(&url, std::slice::from_ref(&manifest)).await;
            proxy.reset_counts();
            let took = backfill(&proxy.url(), devnet.chain_id(), &store, traces, interval).await;
            let counts = proxy.counts();
            let records = store.count_records("treasury").await.unwrap();
            let open = store
                .divergences("treasury", None)
                .await
                .unwrap()
                .into_iter()
                .filter(|d| d.rule == "treasury.unexplained_outflow")
                .count();
            eprintln!("{name} ({backend}): {counts:?}; unexplained outflows found: {open}");
            let per_batch = |m: &str| counts.of(m) as f64 / batches as f64;
            println!(
                "| {name} | {backend} | {:.2} | {:.0} | {:.1} | {:.1} | {:.1} |",
                took.as_secs_f64(),
                records as f64 / took.as_secs_f64(),
                counts.total() as f64 / batches as f64,
                per_batch("debug_traceTransaction"),
                per_batch("eth_getBalance")
            );
            timings.push((backend, name, took));
            store.close().await;
        }
    }
    println!("\n## Cost of the balance check (every {check_interval} blocks)\n");
    println!("| backend | traces | without | with | cost |");
    println!("| --- | --- | ---: | ---: | ---: |");
    for backend in ["SQLite", "PostgreSQL"] {
        for traces in ["on", "off"] {
            let find = |check: bool| {
                timings.iter().find(|(b, name, _)| {
                    *b == backend
                        && name.starts_with(&format!("traces {traces}"))
                        && name.ends_with(if check {
                            ", balance check"
                        } else {
                            "no balance check"
                        })
                })
            };
            if let (Some(a), Some(b)) = (find(false), find(true)) {
                println!(
                    "| {backend} | {traces} | {:.2} s | {:.2} s | {:+.1}% |",
                    a.2.as_secs_f64(),
                    b.2.as_secs_f64(),
                    (b.2.as_secs_f64() / a.2.as_secs_f64() - 1.0) * 100.0
                );
            }
        }
    }
}

/// A backfill from an empty store to the head through `url`, timed.
async fn backfill(
    url: &str,
    chain_id: u64,
    store: &Store,
    traces: TraceMode,
    interval: u64,
) -> Duration {
    let mut chain = groupstate::config::ChainConfig {
        traces,
        balance_check_interval_blocks: interval,
        ..common::chain_config_url(url, chain_id)
    };
    chain.finality_depth = Some(0);
    let f = Follower::new("local", chain, follower_config(), store.clone()).unwrap();
    let started = Instant::now();
    loop {
        let o = f.step().await.expect("follower step");
        if o.advanced == 0 && !o.catching_up {
            break;
        }
    }
    started.elapsed()
}
