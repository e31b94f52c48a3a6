//! The verifiable log end to end on anvil: final records enter the log and a signed checkpoint
//! covers them; `groupstate verify` passes on an honest log and names the exact entry, node or
//! checkpoint when a record, a hash, a leaf or a checkpoint is tampered with; `--chain` catches a
//! record whose log is not on the chain; a reorg within the revisable window leaves the log
//! alone and one beyond it appends a retraction; two indexers build the same tree; the HTTP
//! routes serve proofs that verify against the checkpoint.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;

use alloy::primitives::{Address, U256};
use devnet::{self, Devnet, DevnetOptions, SafeContracts, SafeVersion};
use groupstate::ledger::merkle::{self, Hash};
use groupstate::ledger::note::{Checkpoint, SigningKey};
use groupstate::ledger::LogSigner;
use groupstate::manifest::Manifest;
use groupstate::store::{DivergenceStatus, Store};
use groupstate::sync::Follower;
use sqlx::Row;

const ORIGIN: &str = "groupstate";

struct World {
    devnet: Devnet,
    safe: Address,
    manifest: String,
}

/// A devnet with one Safe 1.4.1 and a few dozen payments into it over ~15 blocks.
async fn world() -> World {
    let devnet = Devnet::start(DevnetOptions::default()).await.unwrap();
    let contracts = SafeContracts::deploy(&devnet).await.unwrap();
    let keys = devnet::signers(3);
    let owners: Vec<Address> = keys.iter().map(|k| k.address()).collect();
    let safe = contracts
        .create_safe(&devnet, SafeVersion::V141L2, &owners, 2, 0)
        .await
        .unwrap();
    for round in 0..12u64 {
        devnet::fund_many(&devnet, &[safe, safe, safe], U256::from(round + 1))
            .await
            .unwrap();
    }
    let manifest = support::safe_manifest("ledgered", 0, &[(safe, owners, 2)]);
    World {
        devnet,
        safe,
        manifest,
    }
}

/// A store with the group, a data directory with the checkpoint key, and a follower with a
/// finality depth of 2 that signs checkpoints.
struct Indexer {
    _db: support::TestDb,
    db_url: String,
    store: Store,
    dir: tempfile::TempDir,
    follower: Follower,
}

async fn indexer(backend: support::Backend, w: &World) -> Indexer {
    let db = support::TestDb::new(backend).await;
    let store = db.store().await;
    store
        .add_group(&Manifest::parse(&w.manifest).unwrap())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = SigningKey::load_or_generate(&dir.path().join("ledger.key"), ORIGIN).unwrap();
    let follower = follower_with_key(&store, w, key);
    Indexer {
        db_url: db.url.clone(),
        _db: db,
        store,
        dir,
        follower,
    }
}

fn follower_with_key(store: &Store, w: &World, key: SigningKey) -> Follower {
    let mut chain = support::chain_config(&w.devnet.rpc_url(), w.devnet.chain_id());
    chain.finality_depth = Some(2);
    Follower::new("local", chain, support::follower_config(), store.clone())
        .unwrap()
        .with_signer(Arc::new(LogSigner {
            origin: format!("{ORIGIN}/local"),
            key,
            cosigner: None,
        }))
}

impl Indexer {
    /// Runs the `groupstate` binary against this indexer's database, key and chain.
    fn cli(&self, w: &World, args: &[&str]) -> Output {
        support::cli::groupstate(
            self.dir.path(),
            &self.db_url,
            &w.devnet.rpc_url(),
            w.devnet.chain_id(),
            "",
            args,
        )
    }

    async fn exec(&self, sql: &str) {
        sqlx::query(sql).execute(self.store.pool()).await.unwrap();
    }

    async fn size(&self) -> u64 {
        self.store.log_size("local").await.unwrap()
    }

    async fn entries(&self) -> Vec<(u64, String, Option<u64>)> {
        sqlx::query("SELECT idx, leaf_hash, voided_by FROM log_entries ORDER BY idx")
            .fetch_all(self.store.pool())
            .await
            .unwrap()
            .iter()
            .map(|r| {
                let i: i64 = r.get("idx");
                let v: Option<i64> = r.get("voided_by");
                (i as u64, r.get("leaf_hash"), v.map(|v| v as u64))
            })
            .collect()
    }

    /// The index of the record leaf of a given block and log index.
    async fn entry_of(&self, block: i64, log_index: i64) -> u64 {
        let rows = sqlx::query(
            "SELECT idx, leaf FROM log_entries WHERE kind = 'record' AND block_number = $1",
        )
        .bind(block)
        .fetch_all(self.store.pool())
        .await
        .unwrap();
        rows.iter()
            .find(|r| {
                let leaf: String = r.get("leaf");
                leaf.contains(&format!("\"index\":{log_index},\"topics\""))
            })
            .map(|r| r.get::<i64, _>("idx") as u64)
            .expect("the record is in the log")
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Fails with the given message fragment on standard error.
fn assert_fails(out: &Output, fragment: &str) {
    let stderr = text(&out.stderr);
    assert!(
        !out.status.success(),
        "expected failure with {fragment:?}; stdout: {}",
        text(&out.stdout)
    );
    assert!(
        stderr.contains(fragment),
        "expected {fragment:?} in: {stderr}"
    );
}

fn assert_ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "stdout: {}\nstderr: {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// Indexes to the head and makes everything final (three more blocks, depth 2).
async fn settle(w: &World, ix: &Indexer) {
    support::sync(&ix.follower).await;
    w.devnet.mine(3).await.unwrap();
    support::sync(&ix.follower).await;
}

async fn honest_log_verifies_and_every_tampering_is_named(backend: support::Backend) {
    let w = world().await;
    let ix = indexer(backend, &w).await;
    support::sync(&ix.follower).await;
    // A record not yet final is altered before it enters the log: the log then holds a
    // record whose log is not on the chain, which only --chain can see.
    let head = w.devnet.head().await.unwrap() as i64;
    let forged: (i64, i64) = {
        let r = sqlx::query(
            "SELECT block_number, log_index FROM records WHERE block_number = $1 \
             ORDER BY log_index LIMIT 1",
        )
        .bind(head)
        .fetch_one(ix.store.pool())
        .await
        .unwrap();
        (r.get("block_number"), r.get("log_index"))
    };
    let honest = ix.cli(&w, &["verify"]);
    assert_ok(&honest);
    ix.exec(&format!(
        "UPDATE records SET data = '0x{}' WHERE block_number = {} AND log_index = {}",
        "00".repeat(32),
        forged.0,
        forged.1
    ))
    .await;
    w.devnet.mine(3).await.unwrap();
    support::sync(&ix.follower).await;
    let size = ix.size().await;
    let records = ix.store.count_records("ledgered").await.unwrap() as u64;
    assert_eq!(
        size,
        records + 1,
        "every record and the manifest are in the log"
    );
    let cp = ix.store.latest_checkpoint("local").await.unwrap().unwrap();
    assert_eq!(cp.tree_size, size);
    assert!(cp.note.starts_with(&format!("{ORIGIN}/local\n{size}\n")));

    // The honest parts: the whole audit passes without --chain, --chain names the forged one.
    let out = assert_ok(&ix.cli(&w, &["verify"]));
    assert!(out.contains(&format!("{size} entries verified")), "{out}");
    let forged_entry = ix.entry_of(forged.0, forged.1).await;
    assert_fails(
        &ix.cli(&w, &["verify", "--chain"]),
        &format!("entry {forged_entry}: log {} of transaction", forged.1),
    );
    // (The reorg test runs --chain over an honest log, which passes.)

    // Export, then tamper with copies of the export.
    let export = ix.dir.path().join("log.jsonl");
    assert_ok(&ix.cli(&w, &["log", "export", "--out", export.to_str().unwrap()]));
    assert_ok(&ix.cli(&w, &["verify", "--from", export.to_str().unwrap()]));
    let lines: Vec<String> = std::fs::read_to_string(&export)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(lines.len() as u64, size + 1);
    let verifier = SigningKey::load_or_generate(&ix.dir.path().join("ledger.key"), ORIGIN)
        .unwrap()
        .0
        .verifier();
    // `log key` prints the verifier key; `log proof` an entry with a proof that verifies.
    assert_eq!(
        assert_ok(&ix.cli(&w, &["log", "key"])).trim(),
        verifier.encode()
    );
    let proof: serde_json::Value =
        serde_json::from_str(&assert_ok(&ix.cli(&w, &["log", "proof", "3"]))).unwrap();
    let leaf = groupstate::ledger::leaf::canonical_json(&proof["leaf"]);
    let path: Vec<Hash> = proof["proof"]["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap().parse().unwrap())
        .collect();
    merkle::verify_inclusion(
        &merkle::leaf_hash(leaf.as_bytes()),
        3,
        size,
        &path,
        &Checkpoint::open(&cp.note, &verifier).unwrap().root,
    )
    .unwrap();
    assert_fails(
        &ix.cli(&w, &["log", "proof", &size.to_string()]),
        "is not below size",
    );
    // `verify --json` for machines.
    let summary: serde_json::Value =
        serde_json::from_str(&assert_ok(&ix.cli(&w, &["verify", "--json"]))).unwrap();
    assert_eq!(summary["entries"], size);
    assert_eq!(summary["records"], records);
    let variant = |name: &str, lines: &[String]| -> PathBuf {
        let p = ix.dir.path().join(name);
        std::fs::write(&p, lines.join("\n") + "\n").unwrap();
        p
    };
    let verify_from = |p: &Path| ix.cli(&w, &["verify", "--from", p.to_str().unwrap()]);
    // A tampered record: its amount changed.
    let mut t = lines.clone();
    let k = 5usize;
    t[k + 1] = t[k + 1].replacen("\"data\":\"0x", "\"data\":\"0x01", 1);
    assert_ne!(t[k + 1], lines[k + 1]);
    assert_fails(
        &verify_from(&variant("record.jsonl", &t)),
        &format!("entry {k}: stored hash"),
    );
    // A tampered hash.
    let mut t = lines.clone();
    let k = 7usize;
    let v: serde_json::Value = serde_json::from_str(&t[k + 1]).unwrap();
    let h = v["leaf_hash"].as_str().unwrap().to_string();
    let other = if h.starts_with('0') { "1" } else { "0" };
    t[k + 1] = t[k + 1].replacen(&h, &format!("{other}{}", &h[1..]), 1);
    assert_fails(
        &verify_from(&variant("hash.jsonl", &t)),
        &format!("entry {k}: stored hash"),
    );
    // A removed leaf.
    let mut t = lines.clone();
    t.remove(3 + 1);
    assert_fails(
        &verify_from(&variant("removed.jsonl", &t)),
        "entry 3: missing (the next entry given is 4)",
    );
    // A garbled line, and an export cut short of its checkpoint.
    let mut t = lines.clone();
    t[6] = "{\"index\": 5, \"leaf".into();
    assert_fails(
        &verify_from(&variant("garbled.jsonl", &t)),
        "export line 7:",
    );
    let t = &lines[..lines.len() - 1];
    assert_fails(
        &verify_from(&variant("short.jsonl", t)),
        &format!("covers {size} entries but only {} were given", size - 1),
    );
    // A forged checkpoint: same key name, another key.
    let mut t = lines.clone();
    let forger = SigningKey::generate(ORIGIN).unwrap();
    let mut header: serde_json::Value = serde_json::from_str(&t[0]).unwrap();
    let body = Checkpoint::open(
        header["checkpoint"].as_str().unwrap(),
        &SigningKey::load_or_generate(&ix.dir.path().join("ledger.key"), ORIGIN)
            .unwrap()
            .0
            .verifier(),
    )
    .unwrap();
    header["checkpoint"] = body.sign(&forger).unwrap().into();
    t[0] = header.to_string();
    assert_fails(
        &verify_from(&variant("forged.jsonl", &t)),
        "checkpoint in the export: note has no signature by key",
    );

    // Tampering with the database itself, undone after each check.
    let hashes = ix.entries().await;
    ix.exec(&format!(
        "UPDATE log_entries SET leaf_hash = '{}' WHERE idx = 2",
        "ab".repeat(32)
    ))
    .await;
    assert_fails(&ix.cli(&w, &["verify"]), "entry 2: stored hash");
    ix.exec(&format!(
        "UPDATE log_entries SET leaf_hash = '{}' WHERE idx = 2",
        hashes[2].1
    ))
    .await;
    // An edited record row: the log and the record the API serves disagree.
    let victim = ix.entry_of(forged.0 - 2, 0).await;
    let block = forged.0 - 2;
    let fields: String =
        sqlx::query("SELECT fields FROM records WHERE block_number = $1 AND log_index = 0")
            .bind(block)
            .fetch_one(ix.store.pool())
            .await
            .unwrap()
            .get("fields");
    ix.exec(&format!(
        "UPDATE records SET fields = '{{}}' WHERE block_number = {block} AND log_index = 0"
    ))
    .await;
    assert_fails(
        &ix.cli(&w, &["verify"]),
        &format!(
            "entry {victim}: the stored record (group ledgered, block {block}, log 0) differs"
        ),
    );
    sqlx::query("UPDATE records SET fields = $1 WHERE block_number = $2 AND log_index = 0")
        .bind(&fields)
        .bind(block)
        .execute(ix.store.pool())
        .await
        .unwrap();
    assert_ok(&ix.cli(&w, &["verify"]));
    // A removed leaf.
    ix.exec("DELETE FROM log_entries WHERE idx = 4").await;
    assert_fails(&ix.cli(&w, &["verify"]), "entry 4: missing");
}
on_both_backends!(
    tampering_sqlite_and_postgres,
    honest_log_verifies_and_every_tampering_is_named
);

async fn interior_node_and_older_checkpoints(backend: support::Backend) {
    let w = world().await;
    let ix = indexer(backend, &w).await;
    settle(&w, &ix).await;
    let old = ix.dir.path().join("old.note");
    let note = assert_ok(&ix.cli(&w, &["log", "checkpoint"]));
    std::fs::write(&old, &note).unwrap();
    let old_size = ix.size().await;

    // The log grows; the new log is consistent with the old checkpoint.
    devnet::fund_many(&w.devnet, &[w.safe, w.safe], U256::from(99))
        .await
        .unwrap();
    settle(&w, &ix).await;
    assert!(ix.size().await > old_size);
    let out = assert_ok(&ix.cli(&w, &["verify", "--against", old.to_str().unwrap()]));
    assert!(out.contains("old.note"), "{out}");

    // A checkpoint with a changed size keeps no valid signature.
    let forged = ix.dir.path().join("forged.note");
    std::fs::write(
        &forged,
        note.replacen(
            &format!("\n{old_size}\n"),
            &format!("\n{}\n", old_size - 1),
            1,
        ),
    )
    .unwrap();
    assert_fails(
        &ix.cli(&w, &["verify", "--against", forged.to_str().unwrap()]),
        "invalid signature",
    );
    // A validly signed checkpoint of another tree (an operator rewriting history) is caught
    // by its root.
    let key = SigningKey::load_or_generate(&ix.dir.path().join("ledger.key"), ORIGIN)
        .unwrap()
        .0;
    let mut other = Checkpoint::open(&note, &key.verifier()).unwrap();
    other.root = Hash([7; 32]);
    let rewritten = ix.dir.path().join("rewritten.note");
    std::fs::write(&rewritten, other.sign(&key).unwrap()).unwrap();
    assert_fails(
        &ix.cli(&w, &["verify", "--against", rewritten.to_str().unwrap()]),
        &format!("says the tree of {old_size} entries has root"),
    );

    // A missing interior node (a page read node by node) and an altered one are named with
    // the entries they cover.
    ix.exec("DELETE FROM log_nodes WHERE level = 2 AND idx = 1")
        .await;
    assert_fails(
        &ix.cli(&w, &["verify"]),
        "node (2, 1) over entries 4..8: stored nothing",
    );
    ix.exec(&format!(
        "INSERT INTO log_nodes (chain, level, idx, hash) VALUES ('local', 2, 1, '{}')",
        "cd".repeat(32)
    ))
    .await;
    assert_fails(&ix.cli(&w, &["verify"]), "node (2, 1) over entries 4..8");

    // The daemon refuses to sign a tree that does not extend its last checkpoint: the left
    // edge of the stored tree rewritten, as if history had been replaced.
    ix.exec(&format!(
        "UPDATE log_nodes SET hash = '{}' WHERE idx = 0",
        "ef".repeat(32)
    ))
    .await;
    devnet::fund(&w.devnet, w.safe, U256::from(5))
        .await
        .unwrap();
    w.devnet.mine(3).await.unwrap();
    let mut refused = None;
    for _ in 0..20 {
        match ix.follower.step().await {
            Err(e) if e.to_string().contains("refusing to sign") => {
                refused = Some(e);
                break;
            }
            Err(e) if e.is_retryable() => {}
            Err(e) => panic!("{e}"),
            Ok(_) => {}
        }
    }
    let e = refused.expect("the follower refuses to sign");
    assert!(!e.is_retryable(), "{e}");
}
on_both_backends!(
    checkpoints_sqlite_and_postgres,
    interior_node_and_older_checkpoints
);

async fn reorgs_within_and_beyond_the_window(backend: support::Backend) {
    let w = world().await;
    let ix = indexer(backend, &w).await;
    settle(&w, &ix).await;

    // Within the revisable window: events in the last two blocks, reorged away.
    devnet::fund(&w.devnet, w.safe, U256::from(1000))
        .await
        .unwrap();
    support::sync(&ix.follower).await;
    let before = ix.entries().await;
    let root_before = ix.store.latest_checkpoint("local").await.unwrap().unwrap();
    w.devnet.reorg(1).await.unwrap();
    support::sync(&ix.follower).await;
    assert_eq!(ix.entries().await, before, "the log is untouched");
    assert_eq!(
        ix.store.latest_checkpoint("local").await.unwrap().unwrap(),
        root_before
    );

    // Beyond it: final records reorged away.
    let paid = devnet::fund(&w.devnet, w.safe, U256::from(2000))
        .await
        .unwrap();
    settle(&w, &ix).await;
    let size = ix.size().await;
    let gone = ix
        .entry_of(
            paid.block_number.unwrap() as i64,
            paid.inner.logs()[0].log_index.unwrap() as i64,
        )
        .await;
    let head = w.devnet.head().await.unwrap();
    w.devnet
        .reorg(head - paid.block_number.unwrap() + 1)
        .await
        .unwrap();
    w.devnet.mine(4).await.unwrap();
    support::sync(&ix.follower).await;
    let entries = ix.entries().await;
    assert_eq!(
        entries.len() as u64,
        size + 1,
        "one retraction leaf appended"
    );
    assert_eq!(
        entries[gone as usize].2,
        Some(size),
        "the record is voided by it"
    );
    let leaf: String = sqlx::query("SELECT leaf FROM log_entries WHERE idx = $1")
        .bind(size as i64)
        .fetch_one(ix.store.pool())
        .await
        .unwrap()
        .get("leaf");
    assert!(leaf.contains("\"type\":\"retraction\""), "{leaf}");
    assert!(leaf.contains(&format!("{{\"block\":{}", paid.block_number.unwrap())));
    // The alert: a critical divergence for the group.
    let open = ix
        .store
        .divergences("ledgered", Some(DivergenceStatus::Open))
        .await
        .unwrap();
    let alert = open
        .iter()
        .find(|d| d.rule == "log.finalized_reorg")
        .expect("a log.finalized_reorg divergence");
    assert_eq!(alert.severity, "critical");
    // The records are gone from the store; the log still verifies, against the chain too,
    // which confirms the voided record is off the canonical chain.
    let out = assert_ok(&ix.cli(&w, &["verify", "--chain"]));
    assert!(out.contains("1 voided records confirmed off it"), "{out}");
    assert!(out.contains("1 retractions voiding 1 entries"), "{out}");
}
on_both_backends!(
    reorg_sqlite_and_postgres,
    reorgs_within_and_beyond_the_window
);

/// Without `finality_depth` the node's `finalized` block decides (anvil: 64 blocks below its
/// head); a group
/// registered after the log has passed its start block has its history appended in chain
/// order, after what was already in the log, and the log still verifies.
async fn node_finality_and_a_late_group(backend: support::Backend) {
    let w = world().await;
    let ix = indexer(backend, &w).await;
    let key = SigningKey::load_or_generate(&ix.dir.path().join("ledger.key"), ORIGIN)
        .unwrap()
        .0;
    let mut chain = support::chain_config(&w.devnet.rpc_url(), w.devnet.chain_id());
    chain.finality_depth = None;
    let follower = Follower::new("local", chain, support::follower_config(), ix.store.clone())
        .unwrap()
        .with_signer(Arc::new(LogSigner {
            origin: format!("{ORIGIN}/local"),
            key,
            cosigner: None,
        }));
    support::sync(&follower).await;
    assert_eq!(
        ix.size().await,
        1,
        "only the manifest is below the node's finalized block"
    );
    w.devnet.mine(64).await.unwrap();
    support::sync(&follower).await;
    let first = ix.size().await;
    let records = ix.store.count_records("ledgered").await.unwrap() as u64;
    assert_eq!(first, records + 1, "64 blocks later, every record is final");

    let late = w.manifest.replace("id: ledgered", "id: latecomer");
    ix.store
        .add_group(&Manifest::parse(&late).unwrap())
        .await
        .unwrap();
    support::sync(&follower).await;
    let leaves: Vec<(u64, String)> = sqlx::query("SELECT idx, leaf FROM log_entries ORDER BY idx")
        .fetch_all(ix.store.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get::<i64, _>("idx") as u64, r.get("leaf")))
        .collect();
    assert_eq!(
        leaves.len() as u64,
        2 * first,
        "the latecomer's history, once"
    );
    let (head, tail) = leaves.split_at(first as usize);
    assert!(head
        .iter()
        .all(|(_, l)| l.contains("\"group\":\"ledgered\"")));
    assert!(tail
        .iter()
        .all(|(_, l)| l.contains("\"group\":\"latecomer\"")));
    assert!(tail[0].1.contains("\"type\":\"manifest\""));
    let blocks: Vec<u64> = tail
        .iter()
        .map(|(_, l)| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["block"]["number"].as_u64().unwrap_or(0)
        })
        .collect();
    assert!(blocks.windows(2).all(|p| p[0] <= p[1]), "in chain order");
    let out = assert_ok(&ix.cli(&w, &["verify", "--chain"]));
    assert!(
        out.contains(&format!("{} entries verified", 2 * first)),
        "{out}"
    );
}
on_both_backends!(
    late_group_sqlite_and_postgres,
    node_finality_and_a_late_group
);

/// Two indexers, one on each backend, build the same tree and sign the same checkpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_indexers_reach_the_same_root() {
    let w = world().await;
    let a = indexer(support::Backend::Sqlite, &w).await;
    let b = indexer(support::Backend::Postgres, &w).await;
    let key = SigningKey::load_or_generate(&a.dir.path().join("ledger.key"), ORIGIN)
        .unwrap()
        .0;
    let b_follower = follower_with_key(&b.store, &w, key);
    // A registers early and follows the chain as it grows; B indexes it all at once later.
    support::sync(&a.follower).await;
    for i in 0..3 {
        devnet::fund(&w.devnet, w.safe, U256::from(i + 10))
            .await
            .unwrap();
        support::sync(&a.follower).await;
    }
    w.devnet.mine(3).await.unwrap();
    support::sync(&a.follower).await;
    support::sync(&b_follower).await;
    assert!(a.size().await > 10);
    assert_eq!(a.entries().await, b.entries().await);
    let ca = a.store.latest_checkpoint("local").await.unwrap().unwrap();
    let cb = b.store.latest_checkpoint("local").await.unwrap().unwrap();
    assert_eq!(
        (ca.tree_size, &ca.root, &ca.note),
        (cb.tree_size, &cb.root, &cb.note)
    );
}

/// The HTTP routes on a real socket: a proof from the API verifies against the checkpoint
/// from the API; bad parameters are 400s naming them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_routes_serve_verifiable_proofs() {
    let w = world().await;
    let ix = indexer(support::Backend::Sqlite, &w).await;
    settle(&w, &ix).await;
    let key = SigningKey::load_or_generate(&ix.dir.path().join("ledger.key"), ORIGIN)
        .unwrap()
        .0;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let cancel = tokio_util::sync::CancellationToken::new();
    let state = groupstate::api::ApiState {
        verifier: Some(key.verifier().into()),
        ..groupstate::api::ApiState::new(ix.store.clone(), vec!["local".into()])
    };
    let server = tokio::spawn(groupstate::api::serve(listener, state, cancel.clone()));
    let http = reqwest::Client::new();
    let get = |path: String| {
        let http = http.clone();
        async move {
            let r = http
                .get(format!("http://{addr}{path}"))
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let body: serde_json::Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
            (status, body)
        }
    };

    let (s, cp) = get("/v1/log/checkpoint".into()).await;
    assert_eq!(s, 200, "{cp}");
    let checkpoint = Checkpoint::open(cp["note"].as_str().unwrap(), &key.verifier()).unwrap();
    let size = checkpoint.size;
    assert_eq!(cp["tree_size"], size);

    let (s, page) = get(format!("/v1/log/entries?start=2&end={}", size + 50)).await;
    assert_eq!(s, 200);
    let entries = page["entries"].as_array().unwrap();
    assert_eq!(entries.len() as u64, size - 2);
    let leaf = groupstate::ledger::leaf::canonical_json(&entries[3]["leaf"]);
    let leaf_hash = merkle::leaf_hash(leaf.as_bytes());
    assert_eq!(leaf_hash.to_string(), entries[3]["leaf_hash"]);

    let (s, p) = get(format!("/v1/log/proof/inclusion?index=5&size={size}")).await;
    assert_eq!(s, 200, "{p}");
    let path: Vec<Hash> = p["proof"]["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap().parse().unwrap())
        .collect();
    merkle::verify_inclusion(&leaf_hash, 5, size, &path, &checkpoint.root).unwrap();

    let (s, c) = get(format!("/v1/log/proof/consistency?from=3&to={size}")).await;
    assert_eq!(s, 200, "{c}");
    let proof: Vec<Hash> = c["proof"]["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap().parse().unwrap())
        .collect();
    let old_root: Hash = c["proof"]["old_root"].as_str().unwrap().parse().unwrap();
    merkle::verify_consistency(3, size, &old_root, &checkpoint.root, &proof).unwrap();

    for (path, param, code) in [
        (
            "/v1/log/proof/inclusion?index=abc",
            "index",
            "bad_parameter",
        ),
        ("/v1/log/proof/inclusion", "index", "bad_parameter"),
        (
            "/v1/log/proof/inclusion?index=1&size=99999999",
            "",
            "out_of_range",
        ),
        ("/v1/log/entries?start=-1", "start", "bad_parameter"),
        (
            "/v1/log/entries?start=1;DROP%20TABLE%20log_entries",
            "start",
            "bad_parameter",
        ),
        ("/v1/log/entries?start=1&start=2", "start", "bad_parameter"),
        ("/v1/log/entries?limit=5", "limit", "bad_parameter"),
        ("/v1/log/checkpoint?chain=mainnet", "chain", "bad_parameter"),
        ("/v1/log/proof/consistency?from=9&to=3", "", "out_of_range"),
    ] {
        let (s, body) = get(path.to_string()).await;
        assert_eq!(s, 400, "{path}: {body}");
        assert_eq!(body["error"]["code"], code, "{path}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            param.is_empty() || message.contains(&format!("`{param}`")),
            "{path}: {body}"
        );
    }
    let (s, body) = get("/v1/nothing".into()).await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    assert_eq!(ix.size().await, size, "nothing was dropped");
    cancel.cancel();
    server.await.unwrap().unwrap();
}
