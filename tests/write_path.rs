//! The write path as fetch → fold → commit, against a provider that behaves like a hosted one
//! in front of a tall chain (a height-shifting proxy in front of anvil):
//!
//! - role history is read from the contract's creation block, found in O(log N) `eth_getCode`
//!   calls (or declared as `deployed_at`), then swept once with adaptive ranges;
//! - while the daemon registers a group whose snapshot and history reads stall for seconds,
//!   `ack` and `group update` on SQLite answer within a second and nothing logs
//!   `database is locked`: no network call happens inside a write transaction;
//! - `kill -9` while batch N+1 is being folded and batch N is committed leaves a store equal to
//!   a fresh index.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::primitives::{Address, U256};
use devnet::{
    self, Devnet, DevnetOptions, GovernanceContracts, GovernanceParams, ProxyOptions, RpcProxy,
    SafeContracts, SafeVersion, MINTER_ROLE,
};
use groupstate::config::ChainConfig;
use groupstate::manifest::Manifest;
use groupstate::store::{DivergenceStatus, Store};
use groupstate::sync::Follower;

/// The height the proxied chain appears to have above anvil's.
const TALL: u64 = 20_000_000;

/// The chain settings of a hosted provider's client: 2,000-block ranges.
fn hosted(url: &str, chain_id: u64) -> ChainConfig {
    ChainConfig {
        max_block_range: 2000,
        ..support::chain_config(url, chain_id)
    }
}

/// A devnet with a SafeL2 1.4.1 owned by the first three of four keys (threshold 2).
struct SafeChain {
    devnet: Devnet,
    keys: Vec<alloy::signers::local::PrivateKeySigner>,
    owners: Vec<Address>,
    safe: Address,
}

async fn safe_chain() -> SafeChain {
    let devnet = Devnet::start(DevnetOptions::default()).await.unwrap();
    let safes = SafeContracts::deploy(&devnet).await.unwrap();
    let keys = devnet::signers(4);
    let owners: Vec<Address> = keys[..3].iter().map(|k| k.address()).collect();
    let safe = safes
        .create_safe(&devnet, SafeVersion::V141L2, &owners, 2, 0)
        .await
        .unwrap();
    SafeChain {
        devnet,
        keys,
        owners,
        safe,
    }
}

impl SafeChain {
    /// The fourth key becomes an owner nobody declared.
    async fn add_undeclared_owner(&self) {
        let k = &self.keys;
        devnet::add_owner_with_threshold(
            &self.devnet,
            self.safe,
            k[3].address(),
            2,
            &[&k[0], &k[1]],
        )
        .await
        .unwrap();
    }

    /// A Governor with its Timelock and an AccessControl token, the deployer kept as admin.
    async fn governance(&self) -> GovernanceContracts {
        let params = GovernanceParams {
            keep_timelock_admin: true,
            ..GovernanceParams::default()
        };
        GovernanceContracts::deploy(&self.devnet, params)
            .await
            .unwrap()
    }
}

/// The block `address` got its code in, by a linear scan of the (short) devnet.
async fn created_at(devnet: &Devnet, address: Address) -> u64 {
    let provider = devnet.http_provider();
    use alloy::providers::Provider;
    for n in 0..=devnet.head().await.unwrap() {
        if !provider
            .get_code_at(address)
            .number(n)
            .await
            .unwrap()
            .is_empty()
        {
            return n;
        }
    }
    panic!("{address} has no code");
}

/// The usual group: a Safe, a timelock and an AccessControl token.
fn governance_manifest(
    id: &str,
    start: u64,
    safe: (Address, &[Address]),
    g: &GovernanceContracts,
    deployed: Option<(u64, u64)>,
) -> String {
    let (tl_at, token_at) = match deployed {
        Some((t, k)) => (
            format!(", deployed_at: {t}"),
            format!("\n    deployed_at: {k}"),
        ),
        None => (String::new(), String::new()),
    };
    let mut y = support::safe_manifest(id, start, &[(safe.0, safe.1.to_vec(), 2)]);
    y.push_str(&format!(
        "governance:\n  timelocks:\n    - {{ address: \"{tl}\", min_delay: 2, proposers: [\"{gov}\"], executors: [\"0x0000000000000000000000000000000000000000\"], cancellers: [\"{gov}\"], admins: [\"{dep}\"]{tl_at} }}\n\
         roles:\n  - contract: \"{token}\"\n    members:\n      DEFAULT_ADMIN_ROLE: [\"{dep}\"]\n      MINTER_ROLE: [\"{dep}\"]{token_at}\n",
        tl = g.timelock,
        gov = g.governor,
        dep = g.deployer,
        token = g.token,
    ));
    y
}

/// Registering a group on a chain 20,000,000 blocks tall: its role history costs a binary
/// search for each contract's creation block and one short sweep from there — not a sweep
/// from block 0 — and a declared `deployed_at` spares the search.
async fn role_history_from_the_creation_block(backend: support::Backend) {
    let chain = safe_chain().await;
    let g = chain.governance().await;
    let SafeChain {
        devnet,
        owners,
        safe,
        ..
    } = chain;
    // A minter nobody declared, granted before the group starts: only the history shows it.
    let stranger = devnet::signer(77).address();
    devnet::grant_role(&devnet, g.token, MINTER_ROLE, stranger, g.deployer)
        .await
        .unwrap();
    devnet.mine(3).await.unwrap();
    let proxy = RpcProxy::start(
        &devnet.rpc_url(),
        ProxyOptions {
            offset: TALL,
            max_log_range: Some(10_000),
            ..ProxyOptions::default()
        },
    )
    .await
    .unwrap();
    let head = proxy.shifted(devnet.head().await.unwrap());
    let start = head - 1;
    let declared = (
        proxy.shifted(created_at(&devnet, g.timelock).await),
        proxy.shifted(created_at(&devnet, g.token).await),
    );

    // Declared wrong (a block before the creation): checked, found wrong, and searched.
    let wrong = (declared.0 - 1, declared.1 - 1);
    for deployed in [None, Some(declared), Some(wrong)] {
        let db = support::TestDb::new(backend).await;
        let store = db.store().await;
        let text = governance_manifest("tall", start, (safe, &owners), &g, deployed);
        let m = Manifest::parse(&text).unwrap();
        store.add_group(&m).await.unwrap();
        proxy.reset_counts();
        let f = Follower::new(
            "local",
            hosted(&proxy.url(), devnet.chain_id()),
            support::follower_config(),
            store.clone(),
        )
        .unwrap();
        support::sync(&f).await;
        let counts = proxy.counts();
        eprintln!("deployed_at {deployed:?}: {counts:?}");
        let open: Vec<String> = store
            .divergences("tall", Some(DivergenceStatus::Open))
            .await
            .unwrap()
            .into_iter()
            .map(|d| format!("{} {}", d.rule, d.item))
            .collect();
        assert!(
            open.iter().any(|d| d.starts_with("role.undeclared_member")
                && d.contains(&stranger.to_checksum(None))),
            "the grant before the start was read from the history: {open:?}"
        );
        // Two contracts read from history (the timelock and the token), each swept from its
        // creation block a few blocks below the start: one request each. The batch itself asks
        // four: by emitter, and by a treasury in topic 1, 2 and 3.
        let sweeps = counts.of("eth_getLogs") - 4;
        assert!(sweeps <= 2, "{counts:?}");
        assert_eq!(counts.refused_ranges, 0);
        let log2 = 64 - head.leading_zeros() as u64;
        // The Safe's reading asks for its code once; the timelock's and the token's search.
        let code = counts.of("eth_getCode") - 1;
        match deployed {
            // Per contract: the code at the block read, at deployed_at and the block before.
            Some(d) if d == declared => assert!(code <= 2 * 4 + 2, "{counts:?}"),
            // Per contract: the code at the block read (and the wrong declaration's checks),
            // then a binary search over 0..=block.
            _ => assert!(
                code >= log2 && code <= 2 * (log2 + 4) + 2,
                "{code} eth_getCode for log2 {log2}: {counts:?}"
            ),
        }
        assert!(counts.total() < 80, "{counts:?}");
    }
}
on_both_backends!(
    role_history_sqlite_and_postgres,
    role_history_from_the_creation_block
);

/// A config file for the daemon on `db_url`, following `rpc_url`.
fn daemon_config(
    dir: &std::path::Path,
    db_url: &str,
    rpc_url: &str,
    chain_id: u64,
    extra: &str,
) -> std::path::PathBuf {
    let path = dir.join("config.toml");
    std::fs::write(
        &path,
        format!(
            "data_dir = \"{}\"\n[database]\nurl = \"{db_url}\"\nmax_connections = 4\n\
             [follower]\nconcurrency = 2\nreorg_window = 64\nmax_retries = 5\nretry_base_ms = 10\n\
             request_timeout_ms = 60000\n[api]\nbind = \"127.0.0.1:0\"\n\
             [chains.local]\nrpc_url = \"{rpc_url}\"\nchain_id = {chain_id}\npoll_interval_ms = 20\n\
             finality_depth = 8\n{extra}",
            dir.display()
        ),
    )
    .unwrap();
    path
}

fn groupstate(config: &std::path::Path, args: &[&str]) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_groupstate"));
    c.arg("--config")
        .arg(config)
        .args(args)
        .env("RUST_LOG", "warn");
    c
}

/// Runs a command that must succeed; returns how long it took.
fn succeeds(config: &std::path::Path, args: &[&str]) -> Duration {
    let started = Instant::now();
    let out = groupstate(config, args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    started.elapsed()
}

/// Writes a manifest into `dir` as `{id}.yaml` and returns its path.
fn manifest_file(dir: &std::path::Path, id: &str, text: &str) -> String {
    let path = dir.join(format!("{id}.yaml"));
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

async fn wait_for(what: &str, secs: u64, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// While the daemon registers a group behind a provider whose snapshot and history reads stall
/// for seconds, writes from the command line answer at once and the dispatcher never finds the
/// database locked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_answer_while_a_registration_stalls_on_the_network() {
    let chain = safe_chain().await;
    // An undeclared owner: the first group has a divergence to acknowledge.
    chain.add_undeclared_owner().await;
    let g = chain.governance().await;
    let SafeChain {
        devnet,
        keys,
        owners,
        safe,
    } = chain;
    let stalling = Arc::new(AtomicBool::new(false));
    let stall = stalling.clone();
    let proxy = RpcProxy::start(
        &devnet.rpc_url(),
        ProxyOptions {
            offset: TALL,
            stall: Some(Arc::new(move |method: &str, _: &serde_json::Value| {
                let slow = matches!(method, "eth_getCode" | "eth_call" | "eth_getStorageAt");
                (slow && stall.load(Ordering::Relaxed)).then_some(Duration::from_millis(700))
            })),
            ..ProxyOptions::default()
        },
    )
    .await
    .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite://{}", dir.path().join("gs.db").display());
    let config = daemon_config(dir.path(), &db_url, &proxy.url(), devnet.chain_id(), "");
    let first = support::safe_manifest("first", 0, &[(safe, owners.clone(), 2)]);
    succeeds(
        &config,
        &["group", "add", &manifest_file(dir.path(), "first", &first)],
    );
    let store = Store::connect(&db_url, 2).await.unwrap();
    let daemon = tokio::process::Command::from(groupstate(&config, &["run"]))
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let head = proxy.shifted(devnet.head().await.unwrap()) as i64;
    wait_for("the first group", 180, async || {
        store.group("first").await.unwrap().unwrap().synced_to >= head
            && !store.divergences("first", None).await.unwrap().is_empty()
    })
    .await;

    // A second group with a timelock and a token: its seeds read code, calls and history.
    stalling.store(true, Ordering::Relaxed);
    let before = proxy.counts().of("eth_getCode");
    let second = governance_manifest("second", head as u64 - 1, (safe, &owners), &g, None);
    succeeds(
        &config,
        &[
            "group",
            "add",
            &manifest_file(dir.path(), "second", &second),
        ],
    );
    wait_for("a stalled read", 30, async || {
        proxy.counts().of("eth_getCode") > before + 1
    })
    .await;

    let ack = succeeds(&config, &["ack", "first", "1", "--note", "known"]);
    let mut updated = owners.clone();
    updated.push(keys[3].address());
    let text = support::safe_manifest("first", 0, &[(safe, updated, 2)]);
    let update = succeeds(
        &config,
        &[
            "group",
            "update",
            &manifest_file(dir.path(), "first", &text),
        ],
    );
    eprintln!("ack {ack:?}, group update {update:?} while the registration stalls");
    assert!(ack < Duration::from_secs(1), "ack took {ack:?}");
    assert!(
        update < Duration::from_secs(1),
        "group update took {update:?}"
    );
    assert!(
        store.group("second").await.unwrap().unwrap().synced_to < head,
        "the registration was still stalled"
    );

    stalling.store(false, Ordering::Relaxed);
    wait_for("the second group", 120, async || {
        store.group("second").await.unwrap().unwrap().synced_to >= head
    })
    .await;
    // The update documented the owner: the first group's divergence is resolved.
    wait_for("the resolution", 30, async || {
        store
            .divergences("first", Some(DivergenceStatus::Open))
            .await
            .unwrap()
            .is_empty()
    })
    .await;
    let pid = daemon.id().unwrap();
    let stopping = Instant::now();
    std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    let out = daemon.wait_with_output().await.unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    eprintln!("{log}");
    assert!(
        stopping.elapsed() < Duration::from_secs(5),
        "shutdown took {:?}",
        stopping.elapsed()
    );
    assert!(!log.contains("database is locked"), "{log}");
}

/// `kill -9` of the daemon while the fold of batch N+1 waits for a re-read it asked for and
/// batch N has committed: a restart resumes from N, and the store equals a fresh index.
async fn killed_between_commit_and_fold(backend: support::Backend) {
    let chain = safe_chain().await;
    for round in 0..40u64 {
        devnet::fund(&chain.devnet, chain.safe, U256::from(round + 1))
            .await
            .unwrap();
        if round == 25 {
            chain.add_undeclared_owner().await;
        }
    }
    let SafeChain {
        devnet,
        owners,
        safe,
        ..
    } = chain;
    let head = devnet.head().await.unwrap() as i64;
    // Batches of 5 blocks, two per step: [20, 24] and [25, 29] are fetched together, and the
    // fold of the second asks for a re-read of every contract at block 25.
    let refresh_at: u64 = 25;
    let hang = Arc::new(AtomicBool::new(true));
    let hanging = hang.clone();
    let proxy = RpcProxy::start(
        &devnet.rpc_url(),
        ProxyOptions {
            stall: Some(Arc::new(move |method: &str, params: &serde_json::Value| {
                let at_refresh = method == "eth_getCode"
                    && params[1].as_str() == Some(&format!("0x{refresh_at:x}"));
                (at_refresh && hanging.load(Ordering::Relaxed)).then_some(Duration::from_secs(120))
            })),
            ..ProxyOptions::default()
        },
    )
    .await
    .unwrap();
    let manifest = support::safe_manifest("busy", 0, &[(safe, owners.clone(), 2)]);
    let db = support::TestDb::new(backend).await;
    let store = db.store().await;
    store
        .add_group(&Manifest::parse(&manifest).unwrap())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let extra = format!("max_block_range = 5\nsnapshot_interval_blocks = {refresh_at}\n");
    let config = daemon_config(dir.path(), &db.url, &proxy.url(), devnet.chain_id(), &extra);
    let mut daemon = tokio::process::Command::from(groupstate(&config, &["run"]))
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // Batch [20, 24] committed; the fold of [25, 29] waits for the re-read at block 25.
    wait_for("batch N", 60, async || {
        store.group("busy").await.unwrap().unwrap().synced_to >= refresh_at as i64 - 1
    })
    .await;
    wait_for(
        "the fold of batch N+1 to ask for its re-read",
        30,
        async || proxy.counts().of("eth_getCode") > 0,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        store.group("busy").await.unwrap().unwrap().synced_to,
        refresh_at as i64 - 1,
        "nothing past batch N is committed while N+1 is being folded"
    );
    daemon.start_kill().unwrap(); // SIGKILL
    daemon.wait().await.unwrap();

    hang.store(false, Ordering::Relaxed);
    let mut daemon = tokio::process::Command::from(groupstate(&config, &["run"]))
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    wait_for("the rest of the backfill", 60, async || {
        store.group("busy").await.unwrap().unwrap().synced_to >= head
    })
    .await;
    daemon.start_kill().unwrap();
    daemon.wait().await.unwrap();

    // A fresh index with the same settings, in process.
    let fresh_db = support::TestDb::new(backend).await;
    let fresh = fresh_db.store().await;
    fresh
        .add_group(&Manifest::parse(&manifest).unwrap())
        .await
        .unwrap();
    let mut chain = support::chain_config(&devnet.rpc_url(), devnet.chain_id());
    chain.max_block_range = 5;
    chain.snapshot_interval_blocks = refresh_at;
    let f = Follower::new("local", chain, support::follower_config(), fresh.clone()).unwrap();
    support::sync(&f).await;
    assert_eq!(support::dump(&store).await, support::dump(&fresh).await);
    assert!(
        !store.divergences("busy", None).await.unwrap().is_empty(),
        "the undeclared owner was found"
    );
}
on_both_backends!(
    killed_mid_pipeline_sqlite_and_postgres,
    killed_between_commit_and_fold
);

/// A batch already final when it is written enters the log in its own transaction, from the
/// rows in hand; the log is the same, leaf for leaf, as when it is sealed later from the
/// stored rows.
async fn sealing_with_the_batch_or_later_gives_one_log(backend: support::Backend) {
    let chain = safe_chain().await;
    let safe = chain.safe;
    for round in 0..12u64 {
        devnet::fund_many(&chain.devnet, &[safe, safe, safe], U256::from(round + 1))
            .await
            .unwrap();
        if round == 6 {
            chain.add_undeclared_owner().await;
        }
    }
    let SafeChain { devnet, owners, .. } = chain;
    let manifest = support::safe_manifest("sealed", 0, &[(safe, owners.clone(), 2)]);
    let index = |finality: u64| {
        let mut c = support::chain_config(&devnet.rpc_url(), devnet.chain_id());
        c.max_block_range = 3;
        c.finality_depth = Some(finality);
        c
    };
    let mut dumps = Vec::new();
    for later in [false, true] {
        let db = support::TestDb::new(backend).await;
        let store = db.store().await;
        store
            .add_group(&Manifest::parse(&manifest).unwrap())
            .await
            .unwrap();
        let follower = |finality| {
            Follower::new(
                "local",
                index(finality),
                support::follower_config(),
                store.clone(),
            )
            .unwrap()
        };
        if later {
            // Nothing final while indexing; then everything at once, read back.
            support::sync(&follower(1_000_000)).await;
            assert_eq!(store.log_size("local").await.unwrap(), 0);
        }
        support::sync(&follower(0)).await;
        let dump = support::dump(&store).await;
        assert!(dump.iter().filter(|l| l.starts_with("log:")).count() > 40);
        dumps.push(dump);
    }
    assert_eq!(dumps[0], dumps[1]);
}
on_both_backends!(
    sealing_sqlite_and_postgres,
    sealing_with_the_batch_or_later_gives_one_log
);

/// Group `g` (one Safe, from block 0) on a fresh database, and its manifest's text.
async fn group_g(backend: support::Backend) -> (support::TestDb, Store, String) {
    let db = support::TestDb::new(backend).await;
    let store = db.store().await;
    let owners: Vec<Address> = devnet::signers(3).iter().map(|k| k.address()).collect();
    let text = support::safe_manifest("g", 0, &[(Address::repeat_byte(0x5a), owners, 2)]);
    store
        .add_group(&Manifest::parse(&text).unwrap())
        .await
        .unwrap();
    (db, store, text)
}

/// Group `g` as a fold starts from it now.
async fn prior_of_g(store: &Store) -> groupstate::pipeline::GroupPrior {
    use groupstate::pipeline::GroupPrior;
    GroupPrior::load(store.load_group("g", GroupPrior::PROPOSALS).await.unwrap()).unwrap()
}

/// A record of group `g` at `block`, log `log_index`.
fn record_of_g(block: i64, log_index: i64) -> groupstate::store::RecordRow {
    groupstate::store::RecordRow {
        group_id: "g".into(),
        chain_id: 31337,
        block_number: block,
        block_hash: format!("0x{block:064x}"),
        block_timestamp: None,
        tx_hash: format!("0x{:064x}", block * 100 + log_index),
        tx_index: 0,
        log_index,
        address: Address::repeat_byte(0x5a).to_checksum(None),
        kind: groupstate::model::RecordKind::SafeReceived.as_str().into(),
        category: "transaction".into(),
        fields: r#"{"event":"safe_received","value":"1"}"#.into(),
        topics: "[]".into(),
        data: "0x".into(),
        manifest_hash: None,
    }
}

/// A batch of the next ten blocks of group `g` folded from `p`, with `records`, moving the
/// checkpoint from `cursor`.
fn batch_of_g(
    p: &groupstate::pipeline::GroupPrior,
    records: Vec<groupstate::store::RecordRow>,
    cursor: Option<i64>,
) -> groupstate::store::BatchWrite {
    use groupstate::model::BlockRef;
    use groupstate::store::{BatchWrite, CursorMove, GroupProgress};
    let to = p.row.synced_to + 10;
    BatchWrite {
        chain: "local".into(),
        progress: vec![GroupProgress {
            group_id: "g".into(),
            revision: p.row.revision,
            synced_to: p.row.synced_to,
            advance_to: to,
        }],
        records,
        cursor: Some(CursorMove {
            expected: cursor,
            head: BlockRef {
                number: to as u64,
                hash: alloy::primitives::B256::with_last_byte(to as u8),
                parent_hash: alloy::primitives::B256::with_last_byte(to as u8 - 1),
            },
            blocks: vec![],
            window: 64,
        }),
        ..BatchWrite::default()
    }
}

/// A commit writes nothing when what its batch was folded from changed since: an
/// acknowledgement, a manifest update, another writer's commit or unwind (the group's revision),
/// another writer's progress, or the chain's checkpoint.
async fn a_commit_refuses_a_stale_fold(backend: support::Backend) {
    use groupstate::store::StoreError;

    let (_db, store, text) = group_g(backend).await;
    let n = support::writes::open_at(&store, "g", 3).await;
    let write = |p: &groupstate::pipeline::GroupPrior, cursor: Option<i64>| {
        batch_of_g(p, vec![record_of_g(p.row.synced_to + 5, 0)], cursor)
    };
    let prior = |store: Store| async move { prior_of_g(&store).await };
    let records = |store: Store| async move { store.count_records("g").await.unwrap() };
    let stale = |r: Result<(), StoreError>| matches!(r, Err(StoreError::Stale(_)));

    // An acknowledgement between the fold and the commit.
    let folded = prior(store.clone()).await;
    store
        .acknowledge_divergence("g", n, "known", None)
        .await
        .unwrap();
    assert!(stale(store.commit_batch(&write(&folded, None)).await));
    assert_eq!(records(store.clone()).await, 0);
    assert_eq!(store.cursor("local").await.unwrap(), None);

    // A manifest update between the fold and the commit.
    let folded = prior(store.clone()).await;
    let mut other = Manifest::parse(&text).unwrap();
    other.purpose = "Testing again.".into();
    store.update_group(&other, None).await.unwrap();
    assert!(stale(store.commit_batch(&write(&folded, None)).await));
    assert_eq!(records(store.clone()).await, 0);

    // Folded from the database as it is: written, group and checkpoint together.
    let folded = prior(store.clone()).await;
    store.commit_batch(&write(&folded, None)).await.unwrap();
    assert_eq!(records(store.clone()).await, 1);
    assert_eq!(store.group("g").await.unwrap().unwrap().synced_to, 9);
    assert_eq!(store.cursor("local").await.unwrap().unwrap().0, 9);
    // The same batch again (another writer got there first): refused.
    assert!(stale(store.commit_batch(&write(&folded, None)).await));
    // A checkpoint that moved although the group did not: refused, and nothing written.
    let now = prior(store.clone()).await;
    assert!(stale(store.commit_batch(&write(&now, Some(5))).await));
    assert_eq!(records(store.clone()).await, 1);
    assert_eq!(store.group("g").await.unwrap().unwrap().synced_to, 9);
    store.commit_batch(&write(&now, Some(9))).await.unwrap();
    assert_eq!(records(store.clone()).await, 2);

    // Another writer commits from the same state, then unwinds back to it (a reorg it saw):
    // progress and checkpoint are where they were, but what they were folded from is gone.
    let held = prior(store.clone()).await;
    store.commit_batch(&write(&held, Some(19))).await.unwrap();
    let fork = groupstate::model::BlockRef {
        number: 19,
        hash: alloy::primitives::B256::with_last_byte(19),
        parent_hash: alloy::primitives::B256::with_last_byte(18),
    };
    groupstate::sync::unwind(&store, "local", Some(fork))
        .await
        .unwrap();
    let g = store.group("g").await.unwrap().unwrap();
    assert_eq!((g.synced_to, g.revision > held.row.revision), (19, true));
    assert!(stale(store.commit_batch(&write(&held, Some(19))).await));
    assert_eq!(records(store.clone()).await, 2);
}
on_both_backends!(stale_sqlite_and_postgres, a_commit_refuses_a_stale_fold);

/// A checkpoint that is no longer canonical, with no block remembered to find the fork point
/// from: the follower refuses to guess (it used to be able to roll everything back).
async fn an_unknown_fork_point_is_refused(backend: support::Backend) {
    let chain = safe_chain().await;
    let db = support::TestDb::new(backend).await;
    let store = db.store().await;
    let text = support::safe_manifest("g", 0, &[(chain.safe, chain.owners.clone(), 2)]);
    store
        .add_group(&Manifest::parse(&text).unwrap())
        .await
        .unwrap();
    let f = support::follower(&store, &chain.devnet.rpc_url(), chain.devnet.chain_id());
    support::sync(&f).await;
    let before = support::dump(&store).await;
    sqlx::query("DELETE FROM chain_blocks")
        .execute(store.pool())
        .await
        .unwrap();
    chain.devnet.reorg(2).await.unwrap();
    let err = f.step().await.unwrap_err();
    assert!(
        matches!(err, groupstate::sync::FollowerError::DeepReorg { .. }),
        "{err}"
    );
    assert!(!err.is_retryable());
    assert_eq!(
        support::dump(&store).await,
        before,
        "nothing was rolled back"
    );
}
on_both_backends!(
    unknown_fork_sqlite_and_postgres,
    an_unknown_fork_point_is_refused
);

/// A final batch sealed in the transaction that writes it, from the rows in hand, appends
/// exactly the leaves the seal that reads the rows back appends.
async fn a_batch_sealed_as_written_equals_one_sealed_later(backend: support::Backend) {
    use groupstate::model::Rule;
    let mut dumps = Vec::new();
    for inline in [true, false] {
        let (_db, store, _) = group_g(backend).await;
        let p = prior_of_g(&store).await;
        let mut write = batch_of_g(
            &p,
            vec![record_of_g(2, 0), record_of_g(5, 1), record_of_g(5, 3)],
            None,
        );
        // A divergence opened by the log at (5, 1): the verdict of that record.
        let mut d = support::writes::divergence("g", 1, Rule::SafeOwnerUndeclared, 5);
        d.opened_log_index = Some(1);
        write.divergences = vec![d];
        if inline {
            let mut tx = store.begin_batch(&write).await.unwrap();
            let versions = std::collections::HashMap::from([("g".to_string(), p.versions.clone())]);
            let leaves = groupstate::ledger::BatchLeaves {
                chain_id: 31337,
                from: 0,
                to: 9,
                records: &write.records,
                divergences: &write.divergences,
                versions: &versions,
                period_blocks: &[],
            };
            let n = groupstate::ledger::seal_batch(&mut tx, &leaves)
                .await
                .unwrap();
            assert_eq!(n, 4, "three records and the manifest's first version");
            tx.commit().await.unwrap();
            let later = groupstate::ledger::seal(&store, "local", 31337, 9)
                .await
                .unwrap();
            assert_eq!(later.leaves, 0, "nothing left to seal");
        } else {
            store.commit_batch(&write).await.unwrap();
            let later = groupstate::ledger::seal(&store, "local", 31337, 9)
                .await
                .unwrap();
            assert_eq!(later.leaves, 4);
        }
        let entries = store.log_entries("local", 0, 10).await.unwrap();
        assert!(entries[2].leaf.contains("divergent"), "{}", entries[2].leaf);
        dumps.push(support::dump(&store).await);
    }
    assert_eq!(dumps[0], dumps[1]);
}
on_both_backends!(
    batch_seal_sqlite_and_postgres,
    a_batch_sealed_as_written_equals_one_sealed_later
);
