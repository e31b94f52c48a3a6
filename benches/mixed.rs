//! Backfill of a mixed governance workload on a real anvil devnet: OpenZeppelin Governor
//! proposals through their whole lifecycle, AccessControl role changes, ERC-20 transfers into
//! and out of the treasury, and Safe executions whose signers are recovered (SafeL2 from its
//! event, plain Safes from the transaction input). Compared with the bare `eth_getLogs` sweep
//! of the same queries; and the cost of signer recovery per Safe execution. The workload is
//! built by `common::workload`.
//!
//! `cargo bench --bench mixed` (env: BENCH_SCALE, default 1; BENCH_PG as for `backfill`).

mod common;

use std::time::Instant;

use alloy::primitives::{keccak256, Address, U256};
use common::*;
use groupstate::manifest::Manifest;
use groupstate::observe::signers::recover_signers;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let scale: usize = std::env::var("BENCH_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let w = common::workload::mixed(scale).await;
    let (devnet, keys, plain, head) = (&w.devnet, &w.keys, w.plain, w.head);
    let (proposals, role_changes, transfers, executions) =
        (w.proposals, w.role_changes, w.transfers, w.executions);
    let yaml = w.manifest_yaml("mixed");
    let manifest = Manifest::parse(&yaml).unwrap();
    let (logs, counts, store, _dir) = compare_backfills(devnet, std::slice::from_ref(&manifest), head, |logs| {
        format!("## Mixed governance backfill ({logs} logs, {head} blocks: {proposals} proposals, {role_changes} role changes, {transfers} token transfers, {executions} Safe executions)")
    })
    .await;
    for stored in counts {
        assert!(stored as usize >= logs, "{stored} records for {logs} logs");
    }

    // What a batch costs with nothing to do: empty blocks after the workload, followed by the
    // store that indexed it (the last 128 near the head with every block ref checked).
    let empty = common::env_u64("BENCH_EMPTY_BLOCKS", 2000);
    devnet.mine(empty).await.unwrap();
    let batches = empty.div_ceil(RANGE);
    let took = index(devnet, &store).await;
    println!("\n## A batch with nothing to do\n");
    println!("| blocks | batches of {RANGE} | seconds | ms per batch |");
    println!("| ---: | ---: | ---: | ---: |");
    println!(
        "| {empty} | {batches} | {:.3} | {:.2} |",
        took.as_secs_f64(),
        took.as_secs_f64() * 1000.0 / batches as f64
    );

    // Signer recovery per Safe execution: the recovery itself (two ECDSA signatures), and the
    // transaction-input fetch a plain (non-L2) Safe needs.
    let hash = keccak256(b"a Safe transaction");
    let mut sigs = Vec::new();
    let mut sorted: Vec<_> = keys[..2].iter().collect();
    sorted.sort_by_key(|k| k.address());
    for k in sorted {
        use alloy::signers::SignerSync;
        sigs.extend_from_slice(&k.sign_hash_sync(&hash).unwrap().as_bytes());
    }
    let n = 10_000;
    let started = Instant::now();
    for _ in 0..n {
        std::hint::black_box(recover_signers(hash, &sigs, 2).unwrap());
    }
    let recover_us = started.elapsed().as_secs_f64() * 1e6 / n as f64;
    let rpc = groupstate::chain::rpc::Rpc::new(
        &devnet.rpc_url(),
        groupstate::chain::rpc::RetryPolicy::from(&follower_config()),
    )
    .unwrap();
    let a_tx = devnet::exec_transaction(
        devnet,
        plain,
        Address::repeat_byte(0x77),
        U256::from(1),
        Default::default(),
        0,
        &[&keys[0], &keys[1]],
    )
    .await
    .unwrap()
    .transaction_hash;
    let m = 1000;
    let started = Instant::now();
    for _ in 0..m {
        std::hint::black_box(rpc.transaction_input(a_tx).await.unwrap());
    }
    let fetch_us = started.elapsed().as_secs_f64() * 1e6 / m as f64;
    println!("\n## Signer recovery per Safe execution\n");
    println!("| step | µs per execution |");
    println!("| --- | ---: |");
    println!("| recover 2 ECDSA signers (`recover_signers`) | {recover_us:.1} |");
    println!("| fetch the transaction input (plain Safe only; SafeL2 carries the signatures) | {fetch_us:.1} |");
}
