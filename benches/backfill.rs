//! Backfill and live-latency benchmark on a real anvil devnet with real Safe 1.4.1 contracts.
//!
//! `cargo bench --bench backfill` (env: BENCH_EVENTS, default 100000; BENCH_SAMPLES, default 30;
//! BENCH_PG, default postgres://postgres@127.0.0.1:5432/test). Prints a Markdown report.
//!
//! 1. Builds the workload: 200 Safes, ~100,000 payments into them (SafeReceived) and 500 Safe
//!    executions (SafeMultiSigTransaction + ExecutionSuccess), across ~1,000 blocks.
//! 2. Times a bare `eth_getLogs` sweep of that range: the same queries the follower makes (by
//!    emitter; ERC-20 transfers from and to the Safes), range size and concurrency.
//! 3. Times the indexer end to end (fetch, decode, observe, reconcile, store, checkpoint) on a
//!    fresh SQLite file and a fresh PostgreSQL database, with peak RSS during the backfill.
//! 4. Measures live latency, block mined → divergence stored, with polling and with WebSocket.

mod common;

use std::time::{Duration, Instant};

use common::*;

use alloy::primitives::{Address, B256, U256};
use alloy::rpc::types::{TransactionInput, TransactionRequest};
use alloy::sol_types::SolCall;
use devnet::{self, Devnet, DevnetOptions, SafeContracts, SafeTx, SafeVersion, SignatureKind};
use groupstate::decode::abi::v141::SafeL2;
use groupstate::manifest::Manifest;
use groupstate::store::Store;
use groupstate::sync::Follower;
use tokio_util::sync::CancellationToken;

const SAFES: usize = 200;
const GROUPS: usize = 20;
const EXECUTIONS: usize = 500;

fn env_usize(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
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

    let (logs, counts, store, _dir) = compare_backfills(&devnet, &group_manifests, head, |logs| {
        format!("## Backfill ({logs} Safe events, {head} blocks, range {RANGE}, concurrency {CONCURRENCY})")
    })
    .await;
    for stored in counts {
        assert_eq!(stored as usize, logs, "every event recorded once");
    }
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
