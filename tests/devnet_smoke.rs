//! Smoke test of the devnet against a real anvil: deploy the Safe contracts, create Safes of
//! both releases, execute owner-signed transactions, bulk-fund 1,000 Safes; and the flaky RPC
//! proxy in front of it.

#[path = "support/flaky_rpc.rs"]
mod flaky_rpc;

use std::collections::HashSet;

use alloy::{
    primitives::{Address, Bytes, U256},
    providers::Provider,
    rpc::types::Filter,
    signers::local::PrivateKeySigner,
    sol_types::SolEvent,
};
use anyhow::Result;
use devnet::{
    self, bindings::ISafe, Devnet, DevnetOptions, SafeContracts, SafeTx, SafeVersion,
    SignatureKind, CALL,
};
use flaky_rpc::{FaultPlan, FlakyRpc};

const ETHER: u64 = 1_000_000_000_000_000_000;

fn addresses(signers: &[PrivateKeySigner]) -> Vec<Address> {
    signers.iter().map(|s| s.address()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn safes_on_a_real_chain() -> Result<()> {
    let chain = Devnet::start(DevnetOptions::default()).await?;
    assert_eq!(chain.chain_id(), 31337);
    assert!(!chain.accounts().is_empty());
    let contracts = SafeContracts::deploy(&chain).await?;

    // A 1.4.1 Safe, 3 owners, threshold 2.
    let keys = devnet::signers(4);
    let owners = addresses(&keys[..3]);
    let safe = contracts
        .create_safe(&chain, SafeVersion::V141, &owners, 2, 1)
        .await?;
    assert_eq!(devnet::read_owners(&chain, safe).await?, owners);
    assert_eq!(devnet::read_threshold(&chain, safe).await?, 2);
    assert_eq!(devnet::read_version(&chain, safe).await?, "1.4.1");

    // A payment signed by two owners.
    devnet::fund(&chain, safe, U256::from(ETHER)).await?;
    let payee = Address::repeat_byte(0x42);
    let provider = chain.http_provider();
    devnet::exec_transaction(
        &chain,
        safe,
        payee,
        U256::from(ETHER / 4),
        Bytes::new(),
        CALL,
        &[&keys[2], &keys[0]],
    )
    .await?;
    assert_eq!(provider.get_balance(payee).await?, U256::from(ETHER / 4));
    assert_eq!(devnet::read_nonce(&chain, safe).await?, U256::from(1));

    // One eth_sign signature and one ECDSA signature.
    SafeTx::new(payee, U256::from(ETHER / 4), Bytes::new())
        .execute(
            &chain,
            safe,
            &[
                (&keys[1], SignatureKind::EthSign),
                (&keys[2], SignatureKind::Ecdsa),
            ],
        )
        .await?;
    assert_eq!(provider.get_balance(payee).await?, U256::from(ETHER / 2));

    // Too few signatures are refused.
    let refused = devnet::exec_transaction(
        &chain,
        safe,
        payee,
        U256::from(1),
        Bytes::new(),
        CALL,
        &[&keys[0]],
    )
    .await;
    assert!(refused.is_err(), "one signature must not meet threshold 2");

    // Owner, threshold, module, guard and handler changes.
    let signers = [&keys[0], &keys[1]];
    let new_owner = keys[3].address();
    devnet::add_owner_with_threshold(&chain, safe, new_owner, 2, &signers).await?;
    let now = devnet::read_owners(&chain, safe).await?;
    assert_eq!(now.len(), 4);
    assert_eq!(now[0], new_owner, "addOwner puts the owner at the head");
    devnet::change_threshold(&chain, safe, 3, &signers).await?;
    assert_eq!(devnet::read_threshold(&chain, safe).await?, 3);
    let three = [&keys[0], &keys[1], &keys[2]];
    let replacement = devnet::signer(20).address();
    devnet::swap_owner(&chain, safe, owners[1], replacement, &three).await?;
    // keys[1] is no longer an owner.
    let refused = devnet::remove_owner(&chain, safe, owners[2], 2, &three).await;
    assert!(
        refused.is_err(),
        "a former owner's signature must not count"
    );
    devnet::remove_owner(&chain, safe, owners[2], 2, &[&keys[0], &keys[2], &keys[3]]).await?;
    assert_eq!(
        devnet::read_owners(&chain, safe).await?,
        vec![new_owner, owners[0], replacement]
    );
    let pair = [&keys[0], &keys[3]];
    let (module_a, module_b) = (Address::repeat_byte(0xa1), Address::repeat_byte(0xb2));
    devnet::enable_module(&chain, safe, module_a, &pair).await?;
    devnet::enable_module(&chain, safe, module_b, &pair).await?;
    assert_eq!(
        devnet::read_modules(&chain, safe).await?,
        vec![module_b, module_a]
    );
    devnet::disable_module(&chain, safe, module_a, &pair).await?;
    assert_eq!(devnet::read_modules(&chain, safe).await?, vec![module_b]);
    devnet::set_guard(&chain, safe, contracts.guard, &pair).await?;
    devnet::set_guard(&chain, safe, Address::ZERO, &pair).await?;
    devnet::set_fallback_handler(&chain, safe, contracts.fallback_handler, &pair).await?;

    // With safeTxGas set, a failing inner call is mined as ExecutionFailure.
    let failing = SafeTx::self_call(
        safe,
        ISafe::changeThresholdCall {
            _threshold: U256::from(10),
        },
    )
    .with_safe_tx_gas(U256::from(100_000));
    let pair_kinds = [
        (&keys[0], SignatureKind::Ecdsa),
        (&keys[3], SignatureKind::Ecdsa),
    ];
    let failed = failing.execute_unchecked(&chain, safe, &pair_kinds).await?;
    assert!(failed.status());
    assert!(failed
        .logs()
        .iter()
        .any(|l| l.topic0() == Some(&ISafe::ExecutionFailure::SIGNATURE_HASH)));
    assert!(failing.execute(&chain, safe, &pair_kinds).await.is_err());

    // 1,000 Safes paid by multiSend: 1,000 SafeReceived logs.
    let many = contracts
        .create_safes(&chain, SafeVersion::V141L2, &owners, 2, 1_000..2_000)
        .await?;
    assert_eq!(many.iter().collect::<HashSet<_>>().len(), 1_000);
    let receipts = devnet::fund_many(&chain, &many, U256::from(1_000)).await?;
    assert_eq!(receipts.len(), 1_000usize.div_ceil(devnet::FUND_CHUNK));
    let first = receipts
        .iter()
        .filter_map(|r| r.block_number)
        .min()
        .unwrap();
    let last = receipts
        .iter()
        .filter_map(|r| r.block_number)
        .max()
        .unwrap();
    let filter = Filter::new()
        .from_block(first)
        .to_block(last)
        .event_signature(ISafe::SafeReceived::SIGNATURE_HASH);
    let logs = provider.get_logs(&filter).await?;
    assert_eq!(logs.len(), 1_000);
    let paid: HashSet<Address> = logs.iter().map(|l| l.address()).collect();
    assert_eq!(paid, many.iter().copied().collect());
    for log in &logs {
        let event = ISafe::SafeReceived::decode_log_data(log.data())?;
        assert_eq!(event.value, U256::from(1_000));
    }

    // 1.3.0 Safes (ProxyCreation without an indexed proxy), with an owner added.
    for version in [SafeVersion::V130, SafeVersion::V130L2] {
        let old = contracts
            .create_safe(&chain, version, &owners, 2, 7)
            .await?;
        assert_eq!(devnet::read_version(&chain, old).await?, "1.3.0");
        assert_eq!(devnet::read_owners(&chain, old).await?, owners);
        devnet::add_owner_with_threshold(&chain, old, new_owner, 3, &[&keys[0], &keys[2]]).await?;
        assert_eq!(devnet::read_owners(&chain, old).await?.len(), 4);
        assert_eq!(devnet::read_threshold(&chain, old).await?, 3);
        SafeTx::self_call(
            old,
            ISafe::changeThresholdCall {
                _threshold: U256::from(2),
            },
        )
        .execute(
            &chain,
            old,
            &[
                (&keys[0], SignatureKind::EthSign),
                (&keys[1], SignatureKind::Ecdsa),
                (&keys[3], SignatureKind::EthSign),
            ],
        )
        .await?;
        assert_eq!(devnet::read_threshold(&chain, old).await?, 2);
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chain_controls_mine_snapshot_reorg() -> Result<()> {
    let chain = Devnet::start(DevnetOptions::default()).await?;
    let start = chain.head().await?;
    chain.mine(5).await?;
    assert_eq!(chain.head().await?, start + 5);

    let snapshot = chain.snapshot().await?;
    chain.mine(3).await?;
    assert!(chain.revert(snapshot).await?);
    assert_eq!(chain.head().await?, start + 5);

    let before = chain.block_hash(start + 5).await?.unwrap();
    chain.reorg(2).await?;
    assert_eq!(chain.head().await?, start + 5);
    assert_ne!(chain.block_hash(start + 5).await?.unwrap(), before);

    chain.set_automine(false).await?;
    let hash = chain
        .send(alloy::rpc::types::TransactionRequest::default().to(Address::repeat_byte(1)))
        .await?;
    assert_eq!(chain.head().await?, start + 5, "no block without automine");
    chain.mine(1).await?;
    assert!(chain.wait_receipt(hash).await?.status());
    chain.set_automine(true).await?;
    Ok(())
}

/// Outcome of one request through the proxy, coarse enough to compare runs.
fn outcome<T, E: std::fmt::Display>(result: &Result<T, E>) -> String {
    match result {
        Ok(_) => "ok".to_string(),
        Err(e) => {
            // Match the status as the transport reports it, not any "429" in the text (the
            // proxy's port number can contain one).
            let text = e.to_string();
            ["429", "502", "503"]
                .into_iter()
                .find(|code| text.contains(&format!("HTTP error {code}")))
                .unwrap_or("error")
                .to_string()
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flaky_rpc_injects_faults_deterministically() -> Result<()> {
    let chain = Devnet::start(DevnetOptions::default()).await?;
    let plan = FaultPlan::mixed(7)
        .with_malformed(0.05)
        .with_delay(std::time::Duration::from_millis(20));

    let mut runs = Vec::new();
    for _ in 0..2 {
        let proxy = FlakyRpc::start(&chain.rpc_url(), plan.clone()).await;
        let client = alloy::providers::RootProvider::<alloy::network::Ethereum>::new_http(
            proxy.url().parse()?,
        );
        let mut outcomes = Vec::new();
        let mut ok = 0u64;
        for _ in 0..200 {
            let result = client.get_block_number().await;
            ok += u64::from(result.is_ok());
            outcomes.push(outcome(&result));
        }
        let stats = proxy.stats();
        assert_eq!(stats.requests, 200);
        assert_eq!(stats.upstream_errors, 0);
        assert_eq!(ok, stats.forwarded, "{stats:?}");
        assert_eq!(
            200 - ok,
            stats.rate_limited + stats.unavailable + stats.dropped + stats.malformed,
            "{stats:?}"
        );
        for (name, count) in [
            ("rate_limited", stats.rate_limited),
            ("unavailable", stats.unavailable),
            ("delayed", stats.delayed),
            ("dropped", stats.dropped),
            ("malformed", stats.malformed),
        ] {
            assert!(count > 0, "no {name} fault in 200 requests: {stats:?}");
        }
        assert_eq!(
            outcomes.iter().filter(|o| *o == "429").count() as u64,
            stats.rate_limited
        );

        proxy.stop_faulting();
        for _ in 0..20 {
            client.get_block_number().await?;
        }
        assert_eq!(proxy.stats().faults(), stats.faults());
        runs.push(outcomes);
    }
    assert_eq!(runs[0], runs[1], "same seed, same faults");
    Ok(())
}
