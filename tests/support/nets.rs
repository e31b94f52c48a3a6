//! Devnets as chains of a multi-chain daemon: a devnet with a chain id of its own, a Safe and a
//! group declaring it on a named chain; the daemon as a process; waiting for a group's progress.

use std::time::{Duration, Instant};

use alloy::primitives::{Address, U256};
use devnet::{self, Devnet, DevnetOptions, SafeContracts, SafeVersion};
use groupstate::manifest::Manifest;
use groupstate::store::Store;

pub struct Net {
    pub devnet: Devnet,
    pub safe: Address,
    pub keys: Vec<alloy::signers::local::PrivateKeySigner>,
    pub manifest: String,
}

/// A devnet with chain id `chain_id` and one Safe 1.4.1 (two of three owners), a few payments
/// into it, and the group `id` declaring it on chain `chain`.
pub async fn net(chain: &str, chain_id: u64, id: &str) -> Net {
    let devnet = Devnet::start(DevnetOptions {
        chain_id,
        ..DevnetOptions::default()
    })
    .await
    .unwrap();
    let contracts = SafeContracts::deploy(&devnet).await.unwrap();
    let keys = devnet::signers(4);
    let owners: Vec<Address> = keys[..3].iter().map(|k| k.address()).collect();
    let safe = contracts
        .create_safe(&devnet, SafeVersion::V141L2, &owners, 2, 0)
        .await
        .unwrap();
    for i in 1..=3u64 {
        devnet::fund(&devnet, safe, U256::from(i)).await.unwrap();
    }
    let manifest = super::safe_manifest(id, 0, &[(safe, owners, 2)])
        .replace("chain: local", &format!("chain: {chain}"));
    Net {
        devnet,
        safe,
        keys,
        manifest,
    }
}

/// An undeclared owner added to the Safe: a critical divergence on its chain.
pub async fn add_undeclared_owner(n: &Net) -> u64 {
    let r = devnet::add_owner_with_threshold(
        &n.devnet,
        n.safe,
        n.keys[3].address(),
        2,
        &[&n.keys[0], &n.keys[1]],
    )
    .await
    .unwrap();
    r.block_number.unwrap()
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub async fn wait_synced(store: &Store, group: &str, block: u64, within: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let g = store.group(group).await.unwrap().unwrap();
        if g.synced_to >= block as i64 {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "group {group} did not reach block {block} within {within:?} (at {})",
            g.synced_to
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub async fn register(store: &Store, manifest: &str) {
    store
        .add_group(&Manifest::parse(manifest).unwrap())
        .await
        .unwrap();
}

/// `groupstate run` with `config`, its log (colourless: not a terminal) in `log`.
pub fn daemon(config: &std::path::Path, log: &std::path::Path) -> tokio::process::Child {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_groupstate"))
        .args(["--config", config.to_str().unwrap(), "run"])
        .env("RUST_LOG", "info")
        .stderr(std::fs::File::create(log).unwrap())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

/// What a store following `nets` (chain name, net) must hold: each chain followed alone, in
/// process, into a fresh database of `backend`, dumped without the log (whose order follows the
/// timing of the seals).
pub async fn indexed_alone(backend: super::Backend, nets: &[(&str, &Net)]) -> Vec<String> {
    let db = super::TestDb::new(backend).await;
    let store = db.store().await;
    for (name, n) in nets {
        register(&store, &n.manifest).await;
        let f = groupstate::sync::Follower::new(
            name,
            super::chain_config(&n.devnet.rpc_url(), n.devnet.chain_id()),
            super::follower_config(),
            store.clone(),
        )
        .unwrap();
        super::sync(&f).await;
    }
    without_log(super::dump(&store).await)
}

/// A dump without the log's lines.
pub fn without_log(dump: Vec<String>) -> Vec<String> {
    dump.into_iter()
        .filter(|l| !l.starts_with("log:"))
        .collect()
}
