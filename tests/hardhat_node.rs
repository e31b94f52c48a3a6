//! The devnet's second node: Hardhat's `hardhat node` answers the test RPCs the devnet uses as
//! anvil does (each control is checked on both nodes), takes the real Safe contracts at their
//! mainnet addresses, dies with its `Devnet`, and makes a tall chain cheap — a million blocks in
//! one call, which the follower then follows from near the top on SQLite and PostgreSQL.
//!
//! The core follow tests (backfill then live, a reorg of a recorded event, a restart in the
//! middle of a backfill) run against both nodes in `follow_safe.rs` and `reorg_restart.rs`.

mod support;

use std::time::{Duration, Instant};

use alloy::{
    primitives::{address, bytes, Address, B256, U256},
    providers::Provider,
    rpc::types::{BlockNumberOrTag, TransactionRequest},
};
use anyhow::Result;
use devnet::{self, Devnet, DevnetOptions, NodeKind, SafeContracts, SafeVersion};
use groupstate::manifest::Manifest;
use groupstate::store::{DivergenceStatus, RecordFilter};

const ETHER: u64 = 1_000_000_000_000_000_000;

/// The parent hash block `n` reports.
async fn parent_of(chain: &Devnet, n: u64) -> Result<B256> {
    let block = chain
        .http_provider()
        .get_block_by_number(BlockNumberOrTag::Number(n))
        .await?
        .expect("the block exists");
    Ok(block.header.parent_hash)
}

/// Every control the devnet offers, on one node.
async fn controls(node: NodeKind) -> Result<()> {
    let chain = Devnet::start(DevnetOptions::on(node)).await?;
    assert_eq!(chain.node(), node);
    assert_eq!(chain.chain_id(), 31337);
    // The same ten dev accounts on either node.
    assert_eq!(chain.accounts().len(), 10);
    assert_eq!(
        chain.dev_account(),
        address!("f39Fd6e51aad88F6F4ce6aB8827279cffFb92266")
    );
    let provider = chain.http_provider();

    // `mine` makes real blocks, each linked to its parent.
    let start = chain.head().await?;
    chain.mine(5).await?;
    assert_eq!(chain.head().await?, start + 5);
    for n in start + 1..=start + 5 {
        assert_eq!(
            Some(parent_of(&chain, n).await?),
            chain.block_hash(n - 1).await?
        );
    }

    // Snapshot and revert.
    let snapshot = chain.snapshot().await?;
    chain.mine(3).await?;
    assert!(chain.revert(snapshot).await?);
    assert_eq!(chain.head().await?, start + 5);

    // A portable reorg: a payment and two empty blocks replaced by three new empty blocks.
    let payee = Address::repeat_byte(0x01);
    let fork = chain.fork_point().await?;
    let paid = devnet::fund(&chain, payee, U256::from(7)).await?;
    chain.mine(2).await?;
    let replaced = chain.block_hash(fork.head() + 1).await?;
    assert_eq!(chain.reorg_to(fork).await?, 3);
    assert_eq!(chain.head().await?, fork.head() + 3);
    assert_ne!(chain.block_hash(fork.head() + 1).await?, replaced);
    assert_eq!(
        Some(parent_of(&chain, fork.head() + 1).await?),
        chain.block_hash(fork.head()).await?
    );
    assert!(provider
        .get_transaction_receipt(paid.transaction_hash)
        .await?
        .is_none());
    assert_eq!(provider.get_balance(payee).await?, U256::ZERO);
    match node {
        NodeKind::Anvil => chain.reorg(1).await?,
        NodeKind::Hardhat => assert!(chain.reorg(1).await.is_err(), "no anvil_reorg"),
    }

    // Balance, code and storage written directly.
    let stranger = Address::repeat_byte(0x5a);
    chain.set_balance(stranger, U256::from(ETHER)).await?;
    assert_eq!(provider.get_balance(stranger).await?, U256::from(ETHER));
    let target = Address::repeat_byte(0x5b);
    chain.set_code(target, bytes!("00")).await?;
    assert_eq!(provider.get_code_at(target).await?, bytes!("00"));
    let value = B256::with_last_byte(9);
    chain.set_storage_at(target, U256::from(4), value).await?;
    assert_eq!(
        provider.get_storage_at(target, U256::from(4)).await?,
        U256::from(9)
    );

    // An account without a key sends once impersonated, and not after.
    let pay = TransactionRequest::default()
        .from(stranger)
        .to(payee)
        .value(U256::from(1));
    chain.impersonate(stranger).await?;
    chain.transact(pay.clone()).await?;
    chain.stop_impersonating(stranger).await?;
    assert!(chain.send(pay).await.is_err(), "no longer impersonated");

    // Automine off and on.
    let head = chain.head().await?;
    chain.set_automine(false).await?;
    let hash = chain
        .send(TransactionRequest::default().to(payee).value(U256::from(1)))
        .await?;
    assert_eq!(chain.head().await?, head, "no block without automine");
    chain.mine(1).await?;
    assert!(chain.wait_receipt(hash).await?.status());
    chain.set_automine(true).await?;

    // The real Safe contracts, at their mainnet addresses; a Safe and an owner-signed payment.
    let contracts = SafeContracts::deploy(&chain).await?;
    assert_eq!(
        contracts.safe_l2_141,
        address!("29fcB43b46531BcA003ddC8FCB67FFE91900C762")
    );
    assert_eq!(
        contracts.singleton(SafeVersion::V141),
        address!("41675C099F32341bf84BFc5382aF534df5C7461a")
    );
    let keys = devnet::signers(3);
    let owners: Vec<Address> = keys.iter().map(|k| k.address()).collect();
    for version in [SafeVersion::V141L2, SafeVersion::V130] {
        let safe = contracts
            .create_safe(&chain, version, &owners, 2, 1)
            .await?;
        assert_eq!(devnet::read_owners(&chain, safe).await?, owners);
        devnet::fund(&chain, safe, U256::from(ETHER)).await?;
        let to = Address::repeat_byte(0x42);
        let before = provider.get_balance(to).await?;
        devnet::exec_transaction(
            &chain,
            safe,
            to,
            U256::from(1000),
            Default::default(),
            devnet::CALL,
            &[&keys[0], &keys[1]],
        )
        .await?;
        assert_eq!(provider.get_balance(to).await?, before + U256::from(1000));
        // A transaction that reverts (one signature under threshold 2) is an error on either
        // node, whether the node refuses it when estimating its gas or mines it and reports the
        // revert in its receipt.
        let refused = devnet::exec_transaction(
            &chain,
            safe,
            to,
            U256::from(1),
            Default::default(),
            devnet::CALL,
            &[&keys[0]],
        )
        .await;
        assert!(refused.is_err(), "one signature must not meet threshold 2");
    }

    // Dropping the devnet kills the node: its port stops answering.
    let port = chain.port();
    drop(chain);
    let deadline = Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_ok()
    {
        assert!(Instant::now() < deadline, "{node} still answers on {port}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controls_on_anvil() -> Result<()> {
    controls(NodeKind::Anvil).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controls_on_hardhat() -> Result<()> {
    controls(NodeKind::Hardhat).await
}

/// Interval mining on Hardhat, as anvil's `--block-time`: a transaction waits for the next
/// block.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hardhat_mines_on_an_interval() -> Result<()> {
    let chain = Devnet::start(DevnetOptions {
        node: NodeKind::Hardhat,
        block_time: Some(0.2),
        ..DevnetOptions::default()
    })
    .await?;
    let receipt = devnet::fund(&chain, Address::repeat_byte(0x03), U256::from(1)).await?;
    assert!(receipt.status());
    let head = chain.head().await?;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(chain.head().await? > head, "blocks keep coming");
    Ok(())
}

/// A million blocks in one `hardhat_mine`, then a group whose start block is the top of them:
/// the follower catches up in seconds, records exactly what happened from there on, and seeds
/// the Safe's state from an `eth_call` on a block of the stretch.
async fn a_tall_chain_is_cheap(backend: support::Backend) {
    const TALL: u64 = 1_000_000;
    let chain = Devnet::start(DevnetOptions::on(NodeKind::Hardhat))
        .await
        .unwrap();
    let contracts = SafeContracts::deploy(&chain).await.unwrap();
    let keys = devnet::signers(4);
    let owners: Vec<Address> = keys[..3].iter().map(|k| k.address()).collect();
    let safe = contracts
        .create_safe(&chain, SafeVersion::V141L2, &owners, 2, 3)
        .await
        .unwrap();
    devnet::fund(&chain, safe, U256::from(ETHER)).await.unwrap();

    let low = chain.head().await.unwrap();
    let mined = Instant::now();
    chain.fast_forward(TALL).await.unwrap();
    let top = chain.head().await.unwrap();
    assert_eq!(top, low + TALL);
    assert!(
        mined.elapsed() < Duration::from_secs(10),
        "a million blocks took {:?}",
        mined.elapsed()
    );

    // Activity above the stretch: an owner nobody documented, and a payment.
    let intruder = keys[3].address();
    let added = devnet::add_owner_with_threshold(&chain, safe, intruder, 2, &[&keys[0], &keys[1]])
        .await
        .unwrap();
    let payee = Address::repeat_byte(0x77);
    let paid = devnet::exec_transaction(
        &chain,
        safe,
        payee,
        U256::from(1000),
        Default::default(),
        devnet::CALL,
        &[&keys[0], &keys[1]],
    )
    .await
    .unwrap();
    assert!(added.block_number.unwrap() > top);

    let db = support::TestDb::new(backend).await;
    let store = db.store().await;
    let manifest = support::safe_manifest("tall", top, &[(safe, owners.clone(), 2)]);
    store
        .add_group(&Manifest::parse(&manifest).unwrap())
        .await
        .unwrap();
    let f = support::follower(&store, &chain.rpc_url(), chain.chain_id());
    let caught_up = Instant::now();
    support::sync(&f).await;
    assert!(
        caught_up.elapsed() < Duration::from_secs(30),
        "catching up took {:?}",
        caught_up.elapsed()
    );
    let head = chain.head().await.unwrap();
    let g = store.group("tall").await.unwrap().unwrap();
    assert_eq!(g.synced_to as u64, head);

    // Only what happened from the start block on, each record in the block of its transaction.
    let records = store
        .records("tall", &RecordFilter::default())
        .await
        .unwrap();
    assert!(!records.is_empty());
    for r in &records {
        assert!(r.block_number as u64 >= top, "{r:?}");
        assert!(
            [added.transaction_hash, paid.transaction_hash]
                .iter()
                .any(|h| h.to_string() == r.tx_hash),
            "{r:?}"
        );
    }
    let exec = records.last().unwrap();
    assert_eq!(exec.kind, "safe.execution_success");
    assert_eq!(exec.tx_hash, paid.transaction_hash.to_string());
    assert_eq!(exec.block_number as u64, paid.block_number.unwrap());
    assert!(records.iter().any(|r| r.kind == "safe.added_owner"));

    // The owners seeded from before the start block match the manifest; the intruder added
    // above the stretch is the one divergence.
    let open = store
        .divergences("tall", Some(DivergenceStatus::Open))
        .await
        .unwrap();
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0].rule, "safe.owner_undeclared");
    assert_eq!(open[0].item, intruder.to_checksum(None));
    assert_eq!(open[0].opened_block as u64, added.block_number.unwrap());

    // Live again: one more block with a payment is followed at once.
    let more = devnet::fund(&chain, safe, U256::from(5)).await.unwrap();
    support::sync(&f).await;
    let records = store
        .records("tall", &RecordFilter::default())
        .await
        .unwrap();
    assert_eq!(
        records.last().unwrap().tx_hash,
        more.transaction_hash.to_string()
    );
}
on_both_backends!(tall_chain_sqlite_and_postgres, a_tall_chain_is_cheap);
