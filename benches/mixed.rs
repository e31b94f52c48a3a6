//! Backfill of a mixed governance workload on a real anvil devnet: OpenZeppelin Governor
//! proposals through their whole lifecycle, AccessControl role changes, ERC-20 transfers into
//! and out of the treasury, and Safe executions whose signers are recovered (SafeL2 from its
//! event, plain Safes from the transaction input). Compared with the bare `eth_getLogs` sweep
//! of the same queries; and the cost of signer recovery per Safe execution.
//!
//! `cargo bench --bench mixed` (env: BENCH_SCALE, default 1; BENCH_PG as for `backfill`).

mod common;

use std::time::Instant;

use alloy::primitives::{keccak256, Address, U256};
use common::*;
use devnet::{
    self, Devnet, DevnetOptions, GovernanceContracts, GovernanceParams, Proposal, SafeContracts,
    SafeVersion, VoteSupport, MINTER_ROLE,
};
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
    let (proposals, role_changes, transfers, executions) =
        (20 * scale, 200 * scale, 2000 * scale, 400 * scale);

    eprintln!("building the mixed workload…");
    let built = Instant::now();
    let devnet = Devnet::start(DevnetOptions::default())
        .await
        .expect("devnet");
    let safes_c = SafeContracts::deploy(&devnet).await.unwrap();
    let keys = devnet::signers(3);
    let owners: Vec<Address> = keys.iter().map(|k| k.address()).collect();
    let l2 = safes_c
        .create_safe(&devnet, SafeVersion::V141L2, &owners, 2, 1)
        .await
        .unwrap();
    let plain = safes_c
        .create_safe(&devnet, SafeVersion::V141, &owners, 2, 2)
        .await
        .unwrap();
    for s in [l2, plain] {
        devnet::fund(&devnet, s, U256::from(10u64).pow(U256::from(20)))
            .await
            .unwrap();
    }
    let g = GovernanceContracts::deploy(
        &devnet,
        GovernanceParams {
            keep_timelock_admin: true,
            ..GovernanceParams::default()
        },
    )
    .await
    .unwrap();
    let voters: Vec<Address> = devnet.accounts()[1..4].to_vec();
    for (i, v) in voters.iter().enumerate() {
        let w =
            U256::from(if i == 0 { 300u64 } else { 100 }) * U256::from(10u64).pow(U256::from(18));
        g.mint_and_delegate(&devnet, *v, w).await.unwrap();
    }
    for i in 0..proposals {
        let p = Proposal::single(
            Address::repeat_byte(0x42),
            U256::from(1),
            Vec::<u8>::new(),
            format!("Payment {i}"),
        );
        let votes = [
            (voters[0], VoteSupport::For),
            (voters[1], VoteSupport::Against),
            (voters[2], VoteSupport::Abstain),
        ];
        g.pass_proposal(&devnet, voters[0], &p, &votes)
            .await
            .unwrap();
    }
    for i in 0..role_changes {
        let who = Address::from_word(keccak256(i.to_be_bytes()));
        if i % 2 == 0 {
            devnet::grant_role(&devnet, g.token, MINTER_ROLE, who, g.deployer)
                .await
                .unwrap();
        } else {
            let prev = Address::from_word(keccak256((i - 1).to_be_bytes()));
            devnet::revoke_role(&devnet, g.token, MINTER_ROLE, prev, g.deployer)
                .await
                .unwrap();
        }
    }
    for i in 0..transfers {
        let to = [g.timelock, l2, plain][i % 3];
        // An explicit gas limit: anvil's estimate for an ERC20Votes transfer can fall short.
        let tx = alloy::rpc::types::TransactionRequest::default()
            .from(g.deployer)
            .to(g.token)
            .gas_limit(300_000)
            .input(alloy::rpc::types::TransactionInput::new(
                devnet::token_transfer_calldata(to, U256::from(1)),
            ));
        devnet.transact(tx).await.unwrap();
    }
    for i in 0..executions {
        let safe = if i % 2 == 0 { l2 } else { plain };
        devnet::exec_transaction(
            &devnet,
            safe,
            Address::repeat_byte(0x77),
            U256::from(1),
            Default::default(),
            0,
            &[&keys[0], &keys[1]],
        )
        .await
        .unwrap();
    }
    let head = devnet.head().await.unwrap();
    eprintln!(
        "built in {:.1} s, {head} blocks",
        built.elapsed().as_secs_f64()
    );

    let yaml = format!(
        "id: mixed\nname: Mixed\npurpose: Benchmark.\nphase: coordination\nchain: local\nstart_block: 0\ntreasury:\n  safes:\n    - address: \"{l2}\"\n      owners: [\"{o0}\", \"{o1}\", \"{o2}\"]\n      threshold: 2\n    - address: \"{plain}\"\n      owners: [\"{o0}\", \"{o1}\", \"{o2}\"]\n      threshold: 2\ngovernance:\n  governors:\n    - {{ address: \"{gov}\", timelock: \"{tl}\", voting_delay: 1, voting_period: 10, proposal_threshold: \"0\", quorum_numerator: 4 }}\n  timelocks:\n    - address: \"{tl}\"\n      min_delay: 2\n      proposers: [\"{gov}\"]\n      executors: [\"0x0000000000000000000000000000000000000000\"]\n      cancellers: [\"{gov}\"]\n      admins: [\"{dep}\"]\nroles:\n  - contract: \"{token}\"\n    members:\n      DEFAULT_ADMIN_ROLE: [\"{dep}\"]\n      MINTER_ROLE: [\"{dep}\"]\n",
        o0 = owners[0], o1 = owners[1], o2 = owners[2], gov = g.governor, tl = g.timelock,
        dep = g.deployer, token = g.token,
    );
    let manifest = Manifest::parse(&yaml).unwrap();
    let (logs, counts, store, _dir) = compare_backfills(&devnet, std::slice::from_ref(&manifest), head, |logs| {
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
    let took = index(&devnet, &store).await;
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
        &devnet,
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
