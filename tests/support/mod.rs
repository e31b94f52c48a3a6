//! Shared test helpers: a fresh database per test on either backend, a devnet with the real Safe
//! contracts, and a follower wired to both.
#![allow(dead_code)]

pub mod cli;
pub mod cluster;
pub mod flaky_rpc;
pub mod governance_state;
pub mod nets;
pub mod pgbouncer;
pub mod prom;
pub mod provider_proxy;
pub mod receiver;
pub mod tcp_proxy;

use std::path::PathBuf;
use std::time::Duration;

use groupstate::config::{ChainConfig, FollowerConfig};
use groupstate::store::Store;
use groupstate::sync::Follower;

/// The PostgreSQL server the tests use (CI has the same); `GROUPSTATE_TEST_PG` overrides.
pub fn pg_admin_url() -> String {
    std::env::var("GROUPSTATE_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh, empty database that is removed when dropped.
pub struct TestDb {
    pub url: String,
    pub backend: Backend,
    _dir: Option<tempfile::TempDir>,
    pg_name: Option<String>,
}

impl TestDb {
    pub async fn new(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let path: PathBuf = dir.path().join("groupstate.db");
                TestDb {
                    url: format!("sqlite://{}?mode=rwc", path.display()),
                    backend,
                    _dir: Some(dir),
                    pg_name: None,
                }
            }
            Backend::Postgres => {
                use sqlx::Connection;
                let name = format!("gs_test_{}", rand::random::<u64>());
                let mut admin = sqlx::PgConnection::connect(&pg_admin_url())
                    .await
                    .expect("PostgreSQL at 127.0.0.1:5432 (user postgres) must be running");
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut admin)
                    .await
                    .unwrap();
                let base = pg_admin_url();
                let base = base.rsplit_once('/').unwrap().0.to_string();
                TestDb {
                    url: format!("{base}/{name}"),
                    backend,
                    _dir: None,
                    pg_name: Some(name),
                }
            }
        }
    }

    pub async fn store(&self) -> Store {
        let store = Store::connect(&self.url, 4).await.unwrap();
        store.migrate().await.unwrap();
        store
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = self.pg_name.take() {
            // Best effort, on a thread of its own: Drop cannot await.
            let url = pg_admin_url();
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async move {
                    use sqlx::Connection;
                    if let Ok(mut c) = sqlx::PgConnection::connect(&url).await {
                        let _ =
                            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                                .execute(&mut c)
                                .await;
                    }
                });
            })
            .join();
        }
    }
}

/// Follower settings for tests: small retry delays so a flaky RPC is survived quickly.
pub fn follower_config() -> FollowerConfig {
    FollowerConfig {
        concurrency: 4,
        reorg_window: 64,
        max_retries: 12,
        retry_base_ms: 10,
        request_timeout_ms: 5_000,
    }
}

pub fn chain_config(rpc_url: &str, chain_id: u64) -> ChainConfig {
    ChainConfig {
        rpc_url: rpc_url.parse().expect("an RPC URL"),
        ws_url: None,
        preset: None,
        chain_id,
        block_time: None,
        confirmations: 0,
        poll_interval_ms: 50,
        max_block_range: 1000,
        documentation_grace_blocks: 7200,
        snapshot_interval_blocks: 50_000,
        // Deeper than the reorgs the tests make, so those stay within the revisable window;
        // the log tests set their own depth.
        finality_depth: Some(8),
        max_lag_blocks: None,
        explorer_url: None,
        traces: groupstate::config::TraceMode::Auto,
        balance_check_interval_blocks: 10_000,
        safe_deployments: Default::default(),
    }
}

pub fn follower(store: &Store, rpc_url: &str, chain_id: u64) -> Follower {
    Follower::new(
        "local",
        chain_config(rpc_url, chain_id),
        follower_config(),
        store.clone(),
    )
    .unwrap()
}

/// Steps the follower until it has nothing left to do (caught up with the head), retrying
/// retryable failures like the daemon does.
pub async fn sync(f: &Follower) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let mut last_error = None;
    loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "follower did not catch up; last retryable failure: {last_error:?}"
        );
        match f.step().await {
            Ok(o) if o.advanced == 0 && !o.catching_up && !o.reorged => return,
            Ok(_) => {}
            Err(e) if e.is_retryable() => {
                last_error = Some(e.to_string());
                tokio::time::sleep(Duration::from_millis(20)).await
            }
            Err(e) => panic!("follower failed: {e}"),
        }
    }
}

/// Declares a test once and runs it on SQLite and on PostgreSQL.
#[macro_export]
macro_rules! on_both_backends {
    ($name:ident, $body:path) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $body(support::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                $body(support::Backend::Postgres).await
            }
        }
    };
}

/// Declares a test once and runs it on SQLite and on PostgreSQL, each against anvil and against
/// Hardhat: the body takes the node to start and the backend. The anvil cases keep the names
/// `on_both_backends!` gives (`sqlite`, `postgres`); the Hardhat ones are `hardhat_sqlite` and
/// `hardhat_postgres`.
#[macro_export]
macro_rules! on_both_nodes_and_backends {
    ($name:ident, $body:path) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $body(devnet::NodeKind::Anvil, support::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                $body(devnet::NodeKind::Anvil, support::Backend::Postgres).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn hardhat_sqlite() {
                $body(devnet::NodeKind::Hardhat, support::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn hardhat_postgres() {
                $body(devnet::NodeKind::Hardhat, support::Backend::Postgres).await
            }
        }
    };
}

/// Everything derived from the chain, as comparable text: two stores holding the same lines
/// hold the same index. Wall-clock columns are left out.
pub async fn dump(store: &Store) -> Vec<String> {
    use sqlx::Row;
    let mut out = Vec::new();
    let queries = [
        ("records", "SELECT group_id || '|' || chain_id || '|' || block_number || '|' || block_hash || '|' || tx_hash || '|' || tx_index || '|' || log_index || '|' || address || '|' || kind || '|' || category || '|' || fields || '|' || topics || '|' || data || '|' || COALESCE(manifest_hash, '') AS line FROM records ORDER BY group_id, block_number, log_index"),
        ("states", "SELECT group_id || '|' || contract || '|' || kind || '|' || block_number || '|' || log_index || '|' || source || '|' || state AS line FROM observed_states ORDER BY group_id, contract, kind, block_number, log_index"),
        ("divergences", "SELECT group_id || '|' || n || '|' || rule || '|' || severity || '|' || subject || '|' || item || '|' || expected || '|' || observed || '|' || status || '|' || opened_block || '|' || opened_block_hash || '|' || COALESCE(opened_tx_hash, '') || '|' || COALESCE(CAST(opened_log_index AS TEXT), '') || '|' || COALESCE(CAST(resolved_block AS TEXT), '') || '|' || COALESCE(resolved_block_hash, '') || '|' || COALESCE(resolution, '') AS line FROM divergences ORDER BY group_id, n"),
        ("flows", "SELECT group_id || '|' || treasury || '|' || asset || '|' || direction || '|' || block_number || '|' || COALESCE(CAST(block_timestamp AS TEXT), '') || '|' || tx_hash || '|' || locator || '|' || counterparty || '|' || amount AS line FROM treasury_flows ORDER BY group_id, block_number, tx_hash, locator, asset, direction, treasury"),
        ("balances", "SELECT group_id || '|' || treasury || '|' || asset || '|' || block_number || '|' || balance AS line FROM treasury_balances ORDER BY group_id, treasury, asset, block_number"),
        ("groups", "SELECT id || '|' || synced_to AS line FROM groups ORDER BY id"),
        ("log", "SELECT chain || '|' || idx || '|' || leaf_hash || '|' || COALESCE(CAST(voided_by AS TEXT), '') AS line FROM log_entries ORDER BY chain, idx"),
    ];
    for (table, sql) in queries {
        for row in sqlx::query(sql).fetch_all(store.pool()).await.unwrap() {
            let line: String = row.try_get("line").unwrap();
            out.push(format!("{table}: {line}"));
        }
    }
    out
}

/// A manifest for one Safe, as YAML text.
pub fn safe_manifest(
    id: &str,
    start_block: u64,
    safes: &[(
        alloy::primitives::Address,
        Vec<alloy::primitives::Address>,
        u64,
    )],
) -> String {
    let mut s = format!(
        "id: {id}\nname: Test {id}\npurpose: Testing.\nphase: coordination\nchain: local\nstart_block: {start_block}\ntreasury:\n  safes:\n"
    );
    for (address, owners, threshold) in safes {
        s.push_str(&format!("    - address: \"{address}\"\n      owners:\n"));
        for o in owners {
            s.push_str(&format!("        - \"{o}\"\n"));
        }
        s.push_str(&format!("      threshold: {threshold}\n"));
    }
    s
}

/// Test writes through the store's one write path ([`Store::commit_batch`]), for tests that
/// seed divergences, records and states without a chain.
pub mod writes {
    use alloy::primitives::B256;
    use groupstate::alert::NewAlert;
    use groupstate::model::{AlertEvent, Rule};
    use groupstate::store::{BatchWrite, Divergence, RecordRow, StateWrite, Store};

    /// A new open divergence of `group` at `block` (hash: the block number, repeated).
    pub fn divergence(group: &str, n: i64, rule: Rule, block: i64) -> Divergence {
        Divergence {
            group_id: group.into(),
            n,
            rule: rule.as_str().into(),
            severity: rule.severity().as_str().into(),
            subject: alloy::primitives::Address::repeat_byte(1).to_string(),
            item: alloy::primitives::Address::repeat_byte(2).to_string(),
            expected: "not an owner".into(),
            observed: "owner".into(),
            status: "open".into(),
            opened_block: block,
            opened_block_hash: B256::repeat_byte(block as u8).to_string(),
            opened_tx_hash: None,
            opened_log_index: None,
            opened_manifest_hash: "m".into(),
            ..Divergence::default()
        }
    }

    /// The number the next divergence of `group` gets.
    pub async fn next_n(store: &Store, group: &str) -> i64 {
        let all = store.divergences(group, None).await.unwrap();
        all.iter().map(|d| d.n).max().unwrap_or(0) + 1
    }

    /// Writes divergences as they are, each with the alert of `event`, on chain `local`.
    pub async fn divergences(store: &Store, event: AlertEvent, ds: Vec<Divergence>) {
        let alerts = ds
            .iter()
            .map(|d| NewAlert::new("local", event, d))
            .collect();
        let w = BatchWrite {
            chain: "local".into(),
            divergences: ds,
            alerts,
            ..BatchWrite::default()
        };
        store.commit_batch(&w).await.unwrap();
    }

    /// Opens divergence `d` (numbered next) with its `opened` alert; returns its number.
    pub async fn open(store: &Store, mut d: Divergence) -> i64 {
        d.n = next_n(store, &d.group_id).await;
        let n = d.n;
        divergences(store, AlertEvent::Opened, vec![d]).await;
        n
    }

    /// Opens a `safe.owner_undeclared` divergence of `group` at `block`; returns its number.
    pub async fn open_at(store: &Store, group: &str, block: i64) -> i64 {
        open(
            store,
            divergence(group, 0, Rule::SafeOwnerUndeclared, block),
        )
        .await
    }

    /// Resolves divergence `n` of `group` by the chain at `block`, with its `resolved` alert.
    pub async fn resolve(store: &Store, group: &str, n: i64, block: i64) {
        let mut d = store.divergence(group, n).await.unwrap().unwrap();
        d.status = "resolved".into();
        d.resolved_block = Some(block);
        d.resolved_block_hash = Some(B256::repeat_byte(block as u8).to_string());
        d.resolved_manifest_hash = Some("m".into());
        d.resolution = Some("chain".into());
        divergences(store, AlertEvent::Resolved, vec![d]).await;
    }

    /// Inserts records as they are.
    pub async fn records(store: &Store, records: Vec<RecordRow>) {
        let w = BatchWrite {
            chain: "local".into(),
            records,
            ..BatchWrite::default()
        };
        store.commit_batch(&w).await.unwrap();
    }

    /// Stores observed states as they are.
    pub async fn states(store: &Store, states: Vec<StateWrite>) {
        let w = BatchWrite {
            chain: "local".into(),
            states,
            ..BatchWrite::default()
        };
        store.commit_batch(&w).await.unwrap();
    }
}
