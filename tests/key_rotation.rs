//! The checkpoint key across restarts of `groupstate run`, on SQLite and PostgreSQL:
//!
//! - a daemon configured with another key than the one that signed the log's latest
//!   checkpoint refuses to start, naming the chain and both keys, and signs nothing;
//! - a rotation: restarted with the new key and `previous_signing_key` = the old one, it
//!   cosigns (either key alone opens the new checkpoint, the API publishes both keys); then
//!   with the new key alone; `groupstate verify` passes over the old, cosigned and new
//!   checkpoints with the old key kept in `retired_verifier_keys`, and fails without it.

mod support;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use alloy::primitives::{Address, U256};
use devnet::{self, Devnet, DevnetOptions, SafeContracts, SafeVersion};
use groupstate::ledger::note::{Checkpoint, SigningKey};
use groupstate::manifest::Manifest;
use groupstate::store::{Store, StoredCheckpoint};

struct World {
    devnet: Devnet,
    safe: Address,
    db: support::TestDb,
    store: Store,
    dir: tempfile::TempDir,
    port: u16,
}

impl World {
    async fn new(backend: support::Backend) -> World {
        let devnet = Devnet::start(DevnetOptions::default()).await.unwrap();
        let safes = SafeContracts::deploy(&devnet).await.unwrap();
        let owners: Vec<Address> = devnet::signers(3).iter().map(|k| k.address()).collect();
        let safe = safes
            .create_safe(&devnet, SafeVersion::V141L2, &owners, 2, 0)
            .await
            .unwrap();
        let db = support::TestDb::new(backend).await;
        let store = db.store().await;
        let manifest = support::safe_manifest("river", 0, &[(safe, owners, 2)]);
        store
            .add_group(&Manifest::parse(&manifest).unwrap())
            .await
            .unwrap();
        let w = World {
            devnet,
            safe,
            db,
            store,
            dir: tempfile::tempdir().unwrap(),
            port: support::pgbouncer::free_port(),
        };
        w.activity().await;
        w
    }

    /// Funds the Safe (a record) and buries it below the finality depth.
    async fn activity(&self) {
        devnet::fund(&self.devnet, self.safe, U256::from(7))
            .await
            .unwrap();
        self.devnet.mine(3).await.unwrap();
    }

    /// A config file with `[ledger]` lines `ledger`.
    fn config(&self, ledger: &str) -> PathBuf {
        let path = self.dir.path().join("config.toml");
        std::fs::write(
            &path,
            format!(
                "data_dir = \"{}\"\n[database]\nurl = \"{}\"\nmax_connections = 4\n\
                 [follower]\nretry_base_ms = 10\n[api]\nbind = \"127.0.0.1:{}\"\n\
                 [ledger]\n{ledger}\n\
                 [chains.local]\nrpc_url = \"{}\"\nchain_id = {}\npoll_interval_ms = 20\n\
                 finality_depth = 2\n",
                self.dir.path().display(),
                self.db.url,
                self.port,
                self.devnet.rpc_url(),
                self.devnet.chain_id()
            ),
        )
        .unwrap();
        path
    }

    fn groupstate(&self, config: &Path, args: &[&str]) -> tokio::process::Command {
        let mut c = tokio::process::Command::new(env!("CARGO_BIN_EXE_groupstate"));
        c.arg("--config")
            .arg(config)
            .args(args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        c
    }

    async fn latest(&self) -> Option<StoredCheckpoint> {
        self.store.latest_checkpoint("local").await.unwrap()
    }

    /// Runs the daemon until it signs a checkpoint larger than `after`, then stops it with
    /// SIGTERM; returns that checkpoint and the verifier keys the API published.
    async fn run_until_signed(&self, config: &Path, after: u64) -> (StoredCheckpoint, Vec<String>) {
        let mut daemon = self.groupstate(config, &["run"]).spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(90);
        let signed = loop {
            match self.latest().await {
                Some(c) if c.tree_size > after => break c,
                _ => {}
            }
            if let Ok(Some(status)) = daemon.try_wait() {
                let out = daemon.wait_with_output().await.unwrap();
                panic!(
                    "the daemon exited: {status}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            assert!(Instant::now() < deadline, "no checkpoint past {after}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let published = self.published_keys().await;
        let pid = daemon.id().unwrap().to_string();
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        let out = daemon.wait_with_output().await.unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        (signed, published)
    }

    /// The verifier keys `GET /v1/log/checkpoint` publishes.
    async fn published_keys(&self) -> Vec<String> {
        let v: serde_json::Value =
            reqwest::get(format!("http://127.0.0.1:{}/v1/log/checkpoint", self.port))
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
        v["verifier_keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap().to_string())
            .collect()
    }
}

/// The verifier key of a signing key, encoded.
fn public(key: &SigningKey) -> String {
    key.verifier().encode()
}

async fn rotation(backend: support::Backend) {
    let w = World::new(backend).await;
    let old = SigningKey::generate("groupstate").unwrap();
    let new = SigningKey::generate("groupstate").unwrap();
    let with_old = w.config(&format!("signing_key = \"{}\"", old.encode()));
    let (first, published) = w.run_until_signed(&with_old, 0).await;
    assert_eq!(published, vec![public(&old)]);
    let first_file = w.dir.path().join("first.checkpoint");
    std::fs::write(&first_file, &first.note).unwrap();

    // Another key, without a rotation: refused, naming the chain and both keys.
    w.activity().await;
    let with_new = w.config(&format!("signing_key = \"{}\"", new.encode()));
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        w.groupstate(&with_new, &["run"]).output(),
    )
    .await
    .expect("a refused start exits")
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    for needle in [
        "the latest checkpoint of the local log".to_string(),
        format!("groupstate+{:08x}", old.verifier().id()),
        format!("groupstate+{:08x}", new.verifier().id()),
        "previous_signing_key".to_string(),
    ] {
        assert!(stderr.contains(&needle), "{needle:?} in {stderr}");
    }
    assert_eq!(
        w.latest().await.unwrap().tree_size,
        first.tree_size,
        "nothing signed"
    );

    // The hand-over: the new key signs, the old one cosigns; the API publishes both.
    let rotating = w.config(&format!(
        "signing_key = \"{}\"\nprevious_signing_key = \"{}\"",
        new.encode(),
        old.encode()
    ));
    let (cosigned, published) = w.run_until_signed(&rotating, first.tree_size).await;
    assert_eq!(published, vec![public(&new), public(&old)]);
    assert_eq!(
        cosigned.note.matches('\u{2014}').count(),
        2,
        "{}",
        cosigned.note
    );
    let by_old = Checkpoint::open(&cosigned.note, &old.verifier()).unwrap();
    let by_new = Checkpoint::open(&cosigned.note, &new.verifier()).unwrap();
    assert_eq!(by_old, by_new);

    // Every replica moved: the new key alone, the old one kept to verify what it signed.
    w.activity().await;
    let rotated = w.config(&format!(
        "signing_key = \"{}\"\nretired_verifier_keys = [\"{}\"]",
        new.encode(),
        public(&old)
    ));
    let (last, published) = w.run_until_signed(&rotated, cosigned.tree_size).await;
    assert_eq!(published, vec![public(&new), public(&old)]);
    assert_eq!(last.note.matches('\u{2014}').count(), 1);
    assert!(Checkpoint::open(&last.note, &old.verifier()).is_err());
    Checkpoint::open(&last.note, &new.verifier()).unwrap();

    let first_path = first_file.to_str().unwrap();
    for against in [first_path, ""] {
        let mut args = vec!["verify"];
        if !against.is_empty() {
            args.extend(["--against", against]);
        }
        let out = w.groupstate(&rotated, &args).output().await.unwrap();
        assert!(
            out.status.success(),
            "verify {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // The cosigned checkpoint verifies with either key given alone.
    let cosigned_file = w.dir.path().join("cosigned.checkpoint");
    std::fs::write(&cosigned_file, &cosigned.note).unwrap();
    let out = w
        .groupstate(
            &rotated,
            &[
                "verify",
                "--against",
                cosigned_file.to_str().unwrap(),
                "--key",
                &public(&new),
            ],
        )
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Without the retired key, the old checkpoint is not the log's.
    let forgetful = w.config(&format!("signing_key = \"{}\"", new.encode()));
    let out = w
        .groupstate(&forgetful, &["verify", "--against", first_path])
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("no signature by key"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_sqlite() {
    rotation(support::Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_postgres() {
    rotation(support::Backend::Postgres).await
}
