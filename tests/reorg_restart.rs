//! What must never lose or duplicate anything: a reorg of a block holding a recorded event, a
//! restart in the middle of a backfill (in process and with `kill -9` of the real binary), and
//! an RPC that fails transiently. Each ends with the store equal to a fresh index of the chain.
//! The reorg and the in-process restart run against anvil and against Hardhat's node.

mod support;

use std::time::Duration;

use alloy::primitives::{Address, U256};
use devnet::{self, Devnet, DevnetOptions, NodeKind, SafeContracts, SafeVersion};
use groupstate::manifest::Manifest;
use groupstate::store::{DivergenceStatus, Store};
use support::flaky_rpc::{FaultPlan, FlakyRpc};

struct Chain {
    devnet: Devnet,
    manifest: String,
    keys: Vec<alloy::signers::local::PrivateKeySigner>,
    safes: Vec<Address>,
}

/// A devnet with two Safes and a few hundred events spread over ~40 blocks.
async fn busy_chain(node: NodeKind) -> Chain {
    let devnet = Devnet::start(DevnetOptions::on(node)).await.unwrap();
    let contracts = SafeContracts::deploy(&devnet).await.unwrap();
    let keys = devnet::signers(4);
    let owners: Vec<Address> = keys[..3].iter().map(|k| k.address()).collect();
    let mut safes = Vec::new();
    for salt in 0..2 {
        safes.push(
            contracts
                .create_safe(&devnet, SafeVersion::V141L2, &owners, 2, salt)
                .await
                .unwrap(),
        );
    }
    for round in 0..30u64 {
        devnet::fund_many(&devnet, &safes.repeat(5), U256::from(round + 1))
            .await
            .unwrap();
        if round % 10 == 5 {
            devnet::exec_transaction(
                &devnet,
                safes[0],
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
    // One undeclared owner, so divergences are part of what must survive.
    devnet::add_owner_with_threshold(
        &devnet,
        safes[1],
        keys[3].address(),
        2,
        &[&keys[0], &keys[1]],
    )
    .await
    .unwrap();
    let manifest = support::safe_manifest(
        "busy",
        0,
        &[(safes[0], owners.clone(), 2), (safes[1], owners.clone(), 2)],
    );
    Chain {
        devnet,
        manifest,
        keys,
        safes,
    }
}

async fn fresh_store(backend: support::Backend, manifest: &str) -> (support::TestDb, Store) {
    let db = support::TestDb::new(backend).await;
    let store = db.store().await;
    store
        .add_group(&Manifest::parse(manifest).unwrap())
        .await
        .unwrap();
    (db, store)
}

/// A fresh index of the chain as it is now, for comparison.
async fn reference(backend: support::Backend, chain: &Chain) -> Vec<String> {
    let (_db, store) = fresh_store(backend, &chain.manifest).await;
    support::sync(&support::follower(
        &store,
        &chain.devnet.rpc_url(),
        chain.devnet.chain_id(),
    ))
    .await;
    support::dump(&store).await
}

async fn reorg_of_a_recorded_event(node: NodeKind, backend: support::Backend) {
    let chain = busy_chain(node).await;
    let (_db, store) = fresh_store(backend, &chain.manifest).await;
    let f = support::follower(&store, &chain.devnet.rpc_url(), chain.devnet.chain_id());
    support::sync(&f).await;
    let before = support::dump(&store).await;

    // A removal of the undeclared owner and a payment, both recorded, then reorged away: the
    // chain forks right after the head of now (a snapshot and a revert, which both nodes have).
    let fork = chain.devnet.fork_point().await.unwrap();
    let k = &chain.keys;
    let removed = devnet::remove_owner(
        &chain.devnet,
        chain.safes[1],
        k[3].address(),
        2,
        &[&k[0], &k[1]],
    )
    .await
    .unwrap();
    devnet::fund(&chain.devnet, chain.safes[0], U256::from(7))
        .await
        .unwrap();
    support::sync(&f).await;
    let resolved = store
        .divergences("busy", Some(DivergenceStatus::Resolved))
        .await
        .unwrap();
    assert_eq!(resolved.len(), 1);
    assert_eq!(
        resolved[0].resolved_tx_hash.as_deref(),
        Some(removed.transaction_hash.to_string().as_str())
    );

    let head = chain.devnet.head().await.unwrap();
    assert_eq!(fork.head() + 1, removed.block_number.unwrap());
    assert_eq!(
        chain.devnet.reorg_to(fork).await.unwrap(),
        head - fork.head()
    );
    assert_eq!(chain.devnet.head().await.unwrap(), head);
    chain.devnet.mine(1).await.unwrap();
    support::sync(&f).await;

    let after = support::dump(&store).await;
    assert_eq!(
        after,
        reference(backend, &chain).await,
        "store equals a fresh index"
    );
    // The divergence is open again, as nothing on the new chain resolves it.
    let open = store
        .divergences("busy", Some(DivergenceStatus::Open))
        .await
        .unwrap();
    assert_eq!(open.len(), 1, "{open:?}");
    // Nothing of the orphaned blocks is left; the records from before are all still there.
    assert!(after
        .iter()
        .all(|l| !l.contains(&removed.transaction_hash.to_string())));
    let records_before: Vec<&String> = before.iter().filter(|l| l.starts_with("records")).collect();
    assert!(records_before.iter().all(|l| after.contains(l)));
}
on_both_nodes_and_backends!(reorg_sqlite_and_postgres, reorg_of_a_recorded_event);

async fn restart_in_the_middle_of_a_backfill(node: NodeKind, backend: support::Backend) {
    let chain = busy_chain(node).await;
    let (_db, store) = fresh_store(backend, &chain.manifest).await;
    let mut cfg = support::chain_config(&chain.devnet.rpc_url(), chain.devnet.chain_id());
    cfg.max_block_range = 2;
    let mut settings = support::follower_config();
    settings.concurrency = 2;
    {
        let f =
            groupstate::sync::Follower::new("local", cfg.clone(), settings.clone(), store.clone())
                .unwrap();
        f.step().await.unwrap();
        f.step().await.unwrap();
        let g = store.group("busy").await.unwrap().unwrap();
        assert!(g.synced_to > 0 && (g.synced_to as u64) < chain.devnet.head().await.unwrap());
        // Dropped here: a stop between two batches.
    }
    let f = groupstate::sync::Follower::new("local", cfg, settings, store.clone()).unwrap();
    support::sync(&f).await;
    assert_eq!(
        support::dump(&store).await,
        reference(backend, &chain).await
    );
}
on_both_nodes_and_backends!(
    restart_sqlite_and_postgres,
    restart_in_the_middle_of_a_backfill
);

/// `kill -9` of the real daemon at several moments of a backfill; each restart resumes, and the
/// end result equals an uninterrupted index.
async fn kill_dash_nine(backend: support::Backend) {
    let chain = busy_chain(NodeKind::Anvil).await;
    let (db, store) = fresh_store(backend, &chain.manifest).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\n[database]\nurl = \"{}\"\nmax_connections = 4\n[follower]\nconcurrency = 2\nreorg_window = 64\nmax_retries = 5\nretry_base_ms = 10\nrequest_timeout_ms = 5000\n[api]\nbind = \"127.0.0.1:0\"\n[chains.local]\nrpc_url = \"{}\"\nchain_id = {}\nmax_block_range = 1\npoll_interval_ms = 20\nfinality_depth = 8\n",
            dir.path().display(),
            db.url,
            chain.devnet.rpc_url(),
            chain.devnet.chain_id()
        ),
    )
    .unwrap();
    let head = chain.devnet.head().await.unwrap() as i64;
    let spawn = || {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_groupstate"))
            .args(["--config", config.to_str().unwrap(), "run"])
            .env("RUST_LOG", "warn")
            .kill_on_drop(true)
            .spawn()
            .unwrap()
    };
    let mut kills_mid_backfill = 0;
    for delay_ms in [40u64, 80, 120, 200, 300] {
        let mut child = spawn();
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        child.start_kill().unwrap(); // SIGKILL
        child.wait().await.unwrap();
        let g = store.group("busy").await.unwrap().unwrap();
        eprintln!(
            "killed after {delay_ms} ms at block {} of {head}",
            g.synced_to
        );
        if g.synced_to >= head {
            break;
        }
        if g.synced_to > 0 {
            kills_mid_backfill += 1;
        }
    }
    assert!(
        kills_mid_backfill >= 1,
        "no kill landed in the middle of the backfill"
    );
    let mut child = spawn();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let g = store.group("busy").await.unwrap().unwrap();
        if g.synced_to >= head {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "daemon did not finish the backfill"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    assert_eq!(
        support::dump(&store).await,
        reference(backend, &chain).await
    );
}
on_both_backends!(kill_sqlite_and_postgres, kill_dash_nine);

async fn flaky_rpc_gives_the_same_result(backend: support::Backend) {
    let chain = busy_chain(NodeKind::Anvil).await;
    let flaky = FlakyRpc::start(
        &chain.devnet.rpc_url(),
        FaultPlan::mixed(7).with_malformed(0.05),
    )
    .await;
    let (_db, store) = fresh_store(backend, &chain.manifest).await;
    let metrics = groupstate::metrics::Metrics::new();
    let f = support::follower(&store, &flaky.url(), chain.devnet.chain_id())
        .with_metrics(metrics.chain("local", 16));
    support::sync(&f).await;
    let stats = flaky.stats();
    assert!(
        stats.rate_limited > 0 && stats.unavailable > 0 && stats.dropped > 0,
        "{stats:?}"
    );
    // Every failed attempt is counted for /metrics, by kind; the follower ends at the head.
    let reading = metrics.chain("local", 16).read("local");
    assert!(
        reading.rpc_errors.get("transient").copied().unwrap_or(0) > 0,
        "{reading:?}"
    );
    assert_eq!(reading.lag, Some(0), "{reading:?}");
    assert!(
        reading.events_total > 0 && reading.records_total > 0,
        "{reading:?}"
    );
    assert_eq!(
        support::dump(&store).await,
        reference(backend, &chain).await
    );
}
on_both_backends!(flaky_sqlite_and_postgres, flaky_rpc_gives_the_same_result);

/// A provider that refuses long `eth_getLogs` ranges: the follower splits them, shrinks its
/// range, and indexes the same thing.
async fn refused_ranges_are_split(backend: support::Backend) {
    let chain = busy_chain(NodeKind::Anvil).await;
    let strict = FlakyRpc::start(
        &chain.devnet.rpc_url(),
        FaultPlan::none().with_max_log_blocks(3),
    )
    .await;
    let (_db, store) = fresh_store(backend, &chain.manifest).await;
    let f = support::follower(&store, &strict.url(), chain.devnet.chain_id());
    support::sync(&f).await;
    assert!(strict.stats().range_refused > 0);
    assert_eq!(
        support::dump(&store).await,
        reference(backend, &chain).await
    );
}
on_both_backends!(split_sqlite_and_postgres, refused_ranges_are_split);
