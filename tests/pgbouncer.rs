//! The daemon behind PgBouncer (Debian's 1.18, `scripts/install-system-packages`):
//!
//! - in session mode, two `groupstate run` processes on one devnet and one database, both
//!   through PgBouncer, leave a store equal to a single direct index;
//! - in transaction mode (without `max_prepared_statements`, which 1.18 lacks), the daemon
//!   cannot work: sqlx names its prepared statements per client connection (`sqlx_s_1`, …), and
//!   PgBouncer hands each transaction to whichever server connection is free, which keeps the
//!   statements earlier clients prepared. The test pins what happens: PostgreSQL's
//!   `prepared statement "sqlx_s_1" already exists`, at start or at every step, and nothing
//!   committed that a direct index does not hold.

mod support;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use alloy::primitives::{Address, U256};
use devnet::{self, Devnet, DevnetOptions, SafeContracts, SafeVersion};
use groupstate::ledger::note::SigningKey;
use groupstate::manifest::Manifest;
use groupstate::store::Store;
use groupstate::sync::Follower;
use support::pgbouncer::PgBouncer;

/// A devnet with a SafeL2 1.4.1 owned by three keys (threshold 2), funded a few times, then
/// given an owner nobody declared; and the manifest of its group.
async fn busy_safe() -> (Devnet, String) {
    let devnet = Devnet::start(DevnetOptions::default()).await.unwrap();
    let safes = SafeContracts::deploy(&devnet).await.unwrap();
    let keys = devnet::signers(4);
    let owners: Vec<Address> = keys[..3].iter().map(|k| k.address()).collect();
    let safe = safes
        .create_safe(&devnet, SafeVersion::V141L2, &owners, 2, 0)
        .await
        .unwrap();
    for round in 0..12u64 {
        devnet::fund(&devnet, safe, U256::from(round + 1))
            .await
            .unwrap();
    }
    devnet::add_owner_with_threshold(&devnet, safe, keys[3].address(), 2, &[&keys[0], &keys[1]])
        .await
        .unwrap();
    // Past the finality depth, so that everything enters the log.
    devnet.mine(10).await.unwrap();
    let manifest = support::safe_manifest("busy", 0, &[(safe, owners, 2)]);
    (devnet, manifest)
}

/// A config file for the daemon on `db_url`, following `rpc_url` (as `tests/write_path.rs`).
fn daemon_config(
    dir: &Path,
    name: &str,
    db_url: &str,
    rpc_url: &str,
    chain_id: u64,
    signing_key: &str,
) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(
        &path,
        format!(
            "data_dir = \"{}\"\n[database]\nurl = \"{db_url}\"\nmax_connections = 4\n\
             [follower]\nconcurrency = 2\nreorg_window = 64\nmax_retries = 5\nretry_base_ms = 10\n\
             request_timeout_ms = 60000\n[api]\nbind = \"127.0.0.1:0\"\n\
             [ledger]\nsigning_key = \"{signing_key}\"\n\
             [chains.local]\nrpc_url = \"{rpc_url}\"\nchain_id = {chain_id}\npoll_interval_ms = 20\n\
             finality_depth = 8\n",
            dir.display()
        ),
    )
    .unwrap();
    path
}

fn groupstate(config: &Path, args: &[&str]) -> tokio::process::Command {
    let mut c = tokio::process::Command::new(env!("CARGO_BIN_EXE_groupstate"));
    c.arg("--config")
        .arg(config)
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    c
}

async fn wait_for(what: &str, secs: u64, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The database name of a test database URL.
fn db_name(url: &str) -> &str {
    url.rsplit_once('/').unwrap().1
}

/// SIGTERM, then the exit status and what the process wrote on standard error.
async fn terminate(child: tokio::process::Child) -> (std::process::ExitStatus, String) {
    let pid = child.id().unwrap();
    std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    let out = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("the daemon stops within 30 s of SIGTERM")
        .unwrap();
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_daemons_through_pgbouncer_in_session_mode_index_as_one_direct_run() {
    let (devnet, manifest) = busy_safe().await;
    let head = devnet.head().await.unwrap() as i64;
    let bouncer = PgBouncer::start("session", "");
    let db = support::TestDb::new(support::Backend::Postgres).await;
    let pooled_url = bouncer.url(db_name(&db.url));

    // Migrations and the registration go through PgBouncer too.
    let pooled = Store::connect(&pooled_url, 2).await.unwrap();
    pooled.migrate().await.unwrap();
    pooled
        .add_group(&Manifest::parse(&manifest).unwrap())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    // One checkpoint key for both, as every replica must have.
    let key = SigningKey::generate("groupstate").unwrap().encode();
    let mut daemons = Vec::new();
    for name in ["a", "b"] {
        let data = dir.path().join(name);
        std::fs::create_dir_all(&data).unwrap();
        let config = daemon_config(
            &data,
            name,
            &pooled_url,
            &devnet.rpc_url(),
            devnet.chain_id(),
            &key,
        );
        daemons.push(groupstate(&config, &["run"]).spawn().unwrap());
    }
    let direct = Store::connect(&db.url, 2).await.unwrap();
    wait_for(
        "both daemons to index the chain and seal it",
        120,
        async || {
            let synced = direct.group("busy").await.unwrap().unwrap().synced_to >= head;
            let size = direct.log_size("local").await.unwrap();
            let signed = direct.latest_checkpoint("local").await.unwrap();
            synced && size > 0 && signed.is_some_and(|c| c.tree_size == size)
        },
    )
    .await;
    for daemon in daemons {
        let (status, log) = terminate(daemon).await;
        assert!(status.success(), "{status}: {log}");
        assert!(!log.contains("prepared statement"), "{log}");
    }
    // The store, both daemons and nothing else went through PgBouncer.
    let logins = bouncer
        .log()
        .matches(&format!("login attempt: db={}", db_name(&db.url)))
        .count();
    assert!(logins >= 3, "{logins} logins through PgBouncer");

    // A single direct index, in process, with the same settings.
    let fresh_db = support::TestDb::new(support::Backend::Postgres).await;
    let fresh = fresh_db.store().await;
    fresh
        .add_group(&Manifest::parse(&manifest).unwrap())
        .await
        .unwrap();
    let f = Follower::new(
        "local",
        support::chain_config(&devnet.rpc_url(), devnet.chain_id()),
        support::follower_config(),
        fresh.clone(),
    )
    .unwrap();
    support::sync(&f).await;
    let through_bouncer = support::dump(&direct).await;
    assert!(
        through_bouncer
            .iter()
            .any(|l| l.starts_with("divergences:")),
        "the undeclared owner was found"
    );
    assert!(through_bouncer.iter().any(|l| l.starts_with("log:")));
    assert_eq!(through_bouncer, support::dump(&fresh).await);
}

/// Transaction mode on PgBouncer 1.18: a server connection keeps the statements a previous
/// client prepared, so the daemon's named statements (`sqlx_s_1`, …) collide with those of its
/// other connections. The daemon fails with PostgreSQL's error: at start (exit 1), or, when the
/// start got through, every follower step fails and is retried. Whatever got committed is
/// what a direct index holds: batches are transactions, all or nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transaction_mode_without_prepared_statement_support_fails_clearly_and_corrupts_nothing() {
    let (devnet, manifest) = busy_safe().await;
    // One server connection for every client: the collision made certain.
    let bouncer = PgBouncer::start("transaction", "default_pool_size = 1\n");
    let db = support::TestDb::new(support::Backend::Postgres).await;
    let direct = db.store().await;
    direct
        .add_group(&Manifest::parse(&manifest).unwrap())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::generate("groupstate").unwrap().encode();
    let config = daemon_config(
        dir.path(),
        "tx",
        &bouncer.url(db_name(&db.url)),
        &devnet.rpc_url(),
        devnet.chain_id(),
        &key,
    );
    let mut daemon = groupstate(&config, &["run"]).spawn().unwrap();
    let stderr = match tokio::time::timeout(Duration::from_secs(15), daemon.wait()).await {
        Ok(status) => {
            assert!(!status.unwrap().success());
            let out = daemon.wait_with_output().await.unwrap();
            String::from_utf8_lossy(&out.stderr).into_owned()
        }
        Err(_) => terminate(daemon).await.1,
    };
    assert!(
        stderr.contains("prepared statement \"sqlx_s_") && stderr.contains("already exists"),
        "{stderr}"
    );

    let fresh_db = support::TestDb::new(support::Backend::Postgres).await;
    let fresh = fresh_db.store().await;
    fresh
        .add_group(&Manifest::parse(&manifest).unwrap())
        .await
        .unwrap();
    let f = Follower::new(
        "local",
        support::chain_config(&devnet.rpc_url(), devnet.chain_id()),
        support::follower_config(),
        fresh.clone(),
    )
    .unwrap();
    support::sync(&f).await;
    let complete = support::dump(&fresh).await;
    for line in support::dump(&direct).await {
        assert!(
            line.starts_with("groups:") || complete.contains(&line),
            "not in a direct index: {line}"
        );
    }
}
