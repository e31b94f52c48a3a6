//! The verifiable log through the real store (issue 4): append throughput at 1,000,000 leaves,
//! inclusion and consistency proofs read back from the store, the full audit (`verify`) from
//! the store and from an export file with a signed checkpoint, and the cost per record of
//! `verify --chain` on an anvil devnet with real Safe 1.4.1 contracts.
//!
//! `cargo bench --bench ledger` prints a Markdown report. Environment:
//!
//! - `LEDGER_LEAVES` (default 1000000): leaves appended per backend;
//! - `LEDGER_PG_LEAVES` (default `LEDGER_LEAVES`): leaves on PostgreSQL, if it should be smaller;
//! - `LEDGER_BATCH` (default 10000): leaves per `append_to_log` transaction;
//! - `LEDGER_PROOFS` (default 1000): proofs of each kind timed, within
//!   `LEDGER_PROOF_BUDGET_S` (default 120) seconds per kind and backend;
//! - `LEDGER_CHAIN_EVENTS` (default 300): payments made in each of the devnet workload's three
//!   shapes (batched, single, executions); `0` skips the devnet part;
//! - `BENCH_SKIP_PG`: SQLite only; `BENCH_PG`: the PostgreSQL admin URL
//!   (default postgres://postgres@127.0.0.1:5432/test).
//!
//! Quick run: `LEDGER_LEAVES=50000 LEDGER_PROOFS=200 LEDGER_CHAIN_EVENTS=30 cargo bench --bench ledger`.

mod common;

use std::io::{BufReader, BufWriter};
use std::time::{Duration, Instant};

use alloy::primitives::{Address, U256};
use common::*;
use devnet::{self, Devnet, DevnetOptions, SafeContracts, SafeVersion};
use groupstate::chain::rpc::{RetryPolicy, Rpc};
use groupstate::ledger::leaf::{Leaf, RecordLeaf, Verdict};
use groupstate::ledger::merkle::{self, Frontier, Hash};
use groupstate::ledger::note::{Checkpoint, SigningKey};
use groupstate::ledger::{proofs, verify};
use groupstate::manifest::Manifest;
use groupstate::store::{RecordRow, Store};
use rand::{rngs::StdRng, Rng, SeedableRng};

/// The log's name (the chain's name in the configuration).
const CHAIN: &str = "local";
const CHAIN_ID: i64 = 1;
const GROUPS: u64 = 20;
/// Safe 1.4.1 `ExecutionSuccess(bytes32 indexed txHash, uint256 payment)`.
const EXECUTION_SUCCESS: &str =
    "0x442e715f626346e8c54381002da614f62bee8d27386535b2521ec8540898556e";
/// How many of the first and of the last batches the "first / last batches" columns cover.
const EDGE_BATCHES: usize = 10;

/// The record row of leaf `i`: a Safe `ExecutionSuccess` log as the indexer stores it, eight
/// logs per block (two per transaction), the Safes of twenty groups taking turns.
fn record_row(i: u64) -> RecordRow {
    let block = 19_000_000 + i / 8;
    let tx_index = (i % 8) / 2;
    let group = i % GROUPS;
    let safe_tx_hash = hash_hex(&[b"safe-tx", &i.to_be_bytes()]);
    RecordRow {
        group_id: format!("group-{group:02}"),
        chain_id: CHAIN_ID,
        block_number: block as i64,
        block_hash: hash_hex(&[b"block", &block.to_be_bytes()]),
        block_timestamp: Some(1_700_000_000 + 12 * block as i64),
        tx_hash: hash_hex(&[b"tx", &block.to_be_bytes(), &tx_index.to_be_bytes()]),
        tx_index: tx_index as i64,
        log_index: (i % 8) as i64,
        address: format!("0x{}", &hash_hex(&[b"safe", &group.to_be_bytes()])[26..]),
        kind: "safe.execution_success".into(),
        category: "decision".into(),
        fields: format!(
            r#"{{"event":"execution_success","safe_tx_hash":"{safe_tx_hash}","payment":"0"}}"#
        ),
        topics: format!(r#"["{EXECUTION_SUCCESS}","{safe_tx_hash}"]"#),
        data: format!("0x{}", "0".repeat(64)),
        manifest_hash: Some(hash_hex(&[b"manifest", &group.to_be_bytes()])),
    }
}

/// Leaves `start..start + n`, built as the seal builds them.
fn leaves(start: u64, n: u64) -> Vec<Leaf> {
    (start..start + n)
        .map(|i| Leaf::record(&record_row(i), Verdict::new(vec![], vec![])).expect("leaf"))
        .collect()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.partial_cmp(b).unwrap());
    percentile(&s, 0.5)
}

/// A fresh database: a SQLite file in a temporary directory, or a PostgreSQL database that
/// [`Db::drop_pg`] removes.
struct Db {
    name: &'static str,
    url: String,
    pg_name: Option<String>,
    dir: Option<tempfile::TempDir>,
}

impl Db {
    fn sqlite() -> Db {
        let dir = tempfile::tempdir().unwrap();
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("ledger.db").display()
        );
        Db {
            name: "SQLite",
            url,
            pg_name: None,
            dir: Some(dir),
        }
    }

    async fn postgres() -> Db {
        use sqlx::Connection;
        let admin = pg_admin();
        let name = format!("gs_bench_{}", rand::random::<u32>());
        let mut c = sqlx::PgConnection::connect(&admin)
            .await
            .expect("PostgreSQL");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut c)
            .await
            .unwrap();
        Db {
            name: "PostgreSQL",
            url: format!("{}/{name}", admin.rsplit_once('/').unwrap().0),
            pg_name: Some(name),
            dir: None,
        }
    }

    /// Bytes on disk: the SQLite file and its WAL, or the PostgreSQL database.
    async fn size_mib(&self, store: &Store) -> f64 {
        use sqlx::Row;
        let bytes = match (&self.pg_name, &self.dir) {
            (Some(name), _) => sqlx::query(&format!(
                "SELECT CAST(pg_database_size('{name}') AS BIGINT) AS n"
            ))
            .fetch_one(store.pool())
            .await
            .and_then(|r| r.try_get::<i64, _>("n"))
            .unwrap_or(0) as u64,
            (None, Some(dir)) => std::fs::read_dir(dir.path())
                .unwrap()
                .filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| m.len())
                .sum(),
            _ => 0,
        };
        bytes as f64 / (1024.0 * 1024.0)
    }

    async fn drop_pg(&self) {
        use sqlx::Connection;
        if let Some(name) = &self.pg_name {
            if let Ok(mut c) = sqlx::PgConnection::connect(&pg_admin()).await {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut c)
                    .await;
            }
        }
    }
}

/// The in-memory baseline: the CPU part of an append (index, canonical encoding, leaf hash,
/// frontier) over the same leaves, and the frontier alone. Returns the root.
fn in_memory(n: u64, batch: u64) -> Hash {
    let mut frontier = Frontier::new();
    let mut hashes = Vec::with_capacity(n as usize);
    let mut build = Duration::ZERO;
    let mut encode = Duration::ZERO;
    let mut hash = Duration::ZERO;
    let mut bytes = 0u64;
    let mut start = 0;
    while start < n {
        let count = batch.min(n - start);
        let t = Instant::now();
        let mut batch_leaves = leaves(start, count);
        build += t.elapsed();
        let t = Instant::now();
        let encoded: Vec<String> = batch_leaves
            .iter_mut()
            .enumerate()
            .map(|(k, leaf)| {
                leaf.set_index(start + k as u64);
                leaf.encode()
            })
            .collect();
        encode += t.elapsed();
        let t = Instant::now();
        for e in &encoded {
            bytes += e.len() as u64;
            let h = merkle::leaf_hash(e.as_bytes());
            hashes.push(h);
            frontier.append(h);
        }
        hash += t.elapsed();
        start += count;
    }
    let t = Instant::now();
    let mut alone = Frontier::new();
    for h in &hashes {
        alone.append(*h);
    }
    let frontier_only = t.elapsed();
    assert_eq!(alone.root(), frontier.root());
    println!("## Verifiable log, {n} record leaves (issue 4)\n");
    println!(
        "Leaves: Safe `ExecutionSuccess` records, canonical encoding {:.0} bytes on average.\n",
        bytes as f64 / n as f64
    );
    println!("### In memory (no store)\n");
    println!("| step | seconds | leaves/s |");
    println!("| --- | ---: | ---: |");
    for (label, d) in [
        (
            "build leaves from record rows (`Leaf::record`, what the seal does)",
            build,
        ),
        ("canonical encoding (`Leaf::encode`)", encode),
        ("leaf hash (SHA-256) + `Frontier::append`", hash),
        ("the CPU part of an append (the two above)", encode + hash),
        (
            "`Frontier::append` alone, precomputed hashes",
            frontier_only,
        ),
    ] {
        println!(
            "| {label} | {:.3} | {:.0} |",
            d.as_secs_f64(),
            n as f64 / d.as_secs_f64()
        );
    }
    println!();
    frontier.root()
}

struct Appending {
    total: Duration,
    batches: Vec<f64>,
    root: Hash,
}

/// Appends `n` leaves in transactions of `batch` through `ledger::append_to_log`.
async fn append(store: &Store, n: u64, batch: u64) -> Appending {
    let mut batches = Vec::new();
    let mut total = Duration::ZERO;
    let mut root = merkle::empty_root();
    let mut start = 0;
    while start < n {
        let count = batch.min(n - start);
        let batch_leaves = leaves(start, count);
        let t = Instant::now();
        let appended = groupstate::ledger::append_to_log(store, CHAIN, batch_leaves)
            .await
            .expect("append");
        let d = t.elapsed();
        total += d;
        batches.push(ms(d));
        root = appended.root;
        start += count;
        assert_eq!(appended.size, start);
        if batches.len() % 20 == 0 {
            eprintln!(
                "  {start} leaves, last batch {:.0} ms, {:.1} s appending",
                ms(d),
                total.as_secs_f64()
            );
        }
    }
    Appending {
        total,
        batches,
        root,
    }
}

struct ProofTimes {
    inclusion: Vec<f64>,
    consistency: Vec<f64>,
}

/// `calls` inclusion proofs (random size and index) and consistency proofs (random sizes),
/// each checked after it is timed.
async fn proofs_from_store(store: &Store, n: u64, calls: u64, budget: Duration) -> ProofTimes {
    let mut rng = StdRng::seed_from_u64(4);
    // Warm-up: the pool's connections and the statement caches.
    for _ in 0..20 {
        let _ = proofs::inclusion(store, CHAIN, rng.gen_range(0..n), None)
            .await
            .unwrap();
    }
    let mut inclusion = Vec::new();
    let started = Instant::now();
    for _ in 0..calls {
        if started.elapsed() > budget {
            break;
        }
        let size = rng.gen_range(1..=n);
        let index = rng.gen_range(0..size);
        let t = Instant::now();
        let p = proofs::inclusion(store, CHAIN, index, Some(size))
            .await
            .unwrap();
        inclusion.push(ms(t.elapsed()));
        merkle::verify_inclusion(&p.leaf_hash, index, size, &p.proof, &p.root).unwrap();
    }
    let mut consistency = Vec::new();
    let started = Instant::now();
    for _ in 0..calls {
        if started.elapsed() > budget {
            break;
        }
        let to = rng.gen_range(1..=n);
        let from = rng.gen_range(1..=to);
        let t = Instant::now();
        let p = proofs::consistency(store, CHAIN, from, Some(to))
            .await
            .unwrap();
        consistency.push(ms(t.elapsed()));
        merkle::verify_consistency(from, to, &p.old_root, &p.new_root, &p.proof).unwrap();
    }
    inclusion.sort_by(|a, b| a.partial_cmp(b).unwrap());
    consistency.sort_by(|a, b| a.partial_cmp(b).unwrap());
    ProofTimes {
        inclusion,
        consistency,
    }
}

struct Audited {
    open: Duration,
    /// Reading every entry with `log_leaves` pages, as `read_store` does, and nothing else.
    sql_read: Duration,
    /// `Leaf::decode` per leaf, µs, over a sample of entries.
    decode_us: f64,
    read: Duration,
    nodes: Duration,
    finish: Duration,
    rss: f64,
    export: Duration,
    export_mib: f64,
    read_export: Duration,
}

/// The full audit of `n` leaves: from the store (entries, then the stored nodes), and from an
/// export file, both against a signed checkpoint of the whole log.
async fn audit(store: &Store, n: u64, root: Hash) -> Audited {
    let key = SigningKey::generate("bench").unwrap();
    let note = Checkpoint {
        origin: "bench.groupstate/local".into(),
        size: n,
        root,
        extensions: vec![],
    }
    .sign(&key)
    .unwrap();
    store
        .insert_checkpoint(CHAIN, n, &alloy::primitives::B256::from(root.0), &note)
        .await
        .unwrap();
    let verifier: groupstate::ledger::note::Verifiers = key.verifier().into();

    let t = Instant::now();
    let expected = verify::open_checkpoint(&note, &verifier, "bench checkpoint").unwrap();
    let open = t.elapsed();

    // Where `read_store` spends its time: the reads alone, and decoding a sample of leaves
    // (it does both at once, the decoding on another thread).
    let t = Instant::now();
    let mut sample = Vec::new();
    let mut start = 0;
    while start < n {
        let end = n.min(start + 10_000);
        let page = store.log_leaves(CHAIN, start, end).await.unwrap();
        if sample.len() < 100_000 {
            sample.extend(page.into_iter().map(|e| e.leaf));
        }
        start = end;
    }
    let sql_read = t.elapsed();
    let t = Instant::now();
    for leaf in &sample {
        Leaf::decode(leaf).unwrap();
    }
    let decode_us = t.elapsed().as_secs_f64() * 1e6 / sample.len() as f64;
    drop(sample);

    reset_peak_rss();
    let mut a = verify::Audit::new(vec![expected], false);
    let t = Instant::now();
    let size = verify::read_store(store, CHAIN, &mut a).await.unwrap();
    let read = t.elapsed();
    assert_eq!(size, n);
    let t = Instant::now();
    verify::check_stored_nodes(store, CHAIN, a.leaf_hashes())
        .await
        .unwrap();
    let nodes = t.elapsed();
    let t = Instant::now();
    let (summary, _, _) = a.finish().unwrap();
    let finish = t.elapsed();
    let rss = peak_rss_mib();
    assert_eq!(summary.entries, n);
    assert_eq!(summary.root, Some(root));
    assert_eq!(summary.checkpoints.len(), 1, "the checkpoint was checked");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.jsonl");
    let t = Instant::now();
    {
        let file = BufWriter::new(std::fs::File::create(&path).unwrap());
        verify::export(store, CHAIN, file).await.unwrap();
    }
    let export = t.elapsed();
    let export_mib = std::fs::metadata(&path).unwrap().len() as f64 / (1024.0 * 1024.0);

    let expected = verify::open_checkpoint(&note, &verifier, "bench checkpoint").unwrap();
    let t = Instant::now();
    let mut a = verify::Audit::new(vec![expected], false);
    let mut reader = BufReader::new(std::fs::File::open(&path).unwrap());
    let h = verify::read_export_header(&mut reader).unwrap();
    assert_eq!(h.tree_size, n);
    assert!(h.checkpoint.is_some());
    verify::read_export_entries(reader, &mut a).unwrap();
    let (summary, _, _) = a.finish().unwrap();
    let read_export = t.elapsed();
    assert_eq!(summary.root, Some(root));
    assert_eq!(summary.checkpoints.len(), 1);
    Audited {
        open,
        sql_read,
        decode_us,
        read,
        nodes,
        finish,
        rss,
        export,
        export_mib,
        read_export,
    }
}

struct BackendRun {
    name: &'static str,
    n: u64,
    batch: u64,
    appending: Appending,
    disk_mib: f64,
    proofs: ProofTimes,
    audit: Audited,
}

async fn run_backend(
    db: Db,
    n: u64,
    batch: u64,
    (calls, budget): (u64, Duration),
    memory_root: Option<Hash>,
) -> BackendRun {
    eprintln!("{}: appending {n} leaves…", db.name);
    let store = Store::connect(&db.url, 8).await.expect("database");
    store.migrate().await.expect("migrations");
    let appending = append(&store, n, batch).await;
    if let Some(r) = memory_root {
        assert_eq!(appending.root, r, "the stored tree has the in-memory root");
    }
    let disk_mib = db.size_mib(&store).await;
    eprintln!("{}: proofs…", db.name);
    let proofs = proofs_from_store(&store, n, calls, budget).await;
    eprintln!("{}: audit…", db.name);
    let audit = audit(&store, n, appending.root).await;
    store.close().await;
    db.drop_pg().await;
    BackendRun {
        name: db.name,
        n,
        batch,
        appending,
        disk_mib,
        proofs,
        audit,
    }
}

fn report(runs: &[BackendRun]) {
    println!("### Append through the store (`ledger::append_to_log`, one transaction per batch)\n");
    println!(
        "| backend | leaves | batch | seconds | leaves/s | first {EDGE_BATCHES} batches, median ms | last {EDGE_BATCHES} batches, median ms | slowest batch ms | on disk MiB |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for r in runs {
        let b = &r.appending.batches;
        let k = EDGE_BATCHES.min(b.len());
        println!(
            "| {} | {} | {} | {:.1} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} |",
            r.name,
            r.n,
            r.batch,
            r.appending.total.as_secs_f64(),
            r.n as f64 / r.appending.total.as_secs_f64(),
            median(&b[..k]),
            median(&b[b.len() - k..]),
            b.iter().cloned().fold(0.0, f64::max),
            r.disk_mib
        );
    }
    println!("\n### Proofs from the store (random sizes and indexes)\n");
    println!("| backend | leaves | proof | calls | median ms | p99 ms | max ms |");
    println!("| --- | ---: | --- | ---: | ---: | ---: | ---: |");
    for r in runs {
        for (label, v) in [
            ("inclusion", &r.proofs.inclusion),
            ("consistency", &r.proofs.consistency),
        ] {
            println!(
                "| {} | {} | {label} | {} | {:.3} | {:.3} | {:.3} |",
                r.name,
                r.n,
                v.len(),
                percentile(v, 0.5),
                percentile(v, 0.99),
                v.last().copied().unwrap_or(f64::NAN)
            );
        }
    }
    println!("\n### Full audit (`verify`) against a signed checkpoint of the whole log\n");
    println!("| backend | leaves | step | seconds | leaves/s |");
    println!("| --- | ---: | --- | ---: | ---: |");
    for r in runs {
        let a = &r.audit;
        let n = r.n as f64;
        let decode = Duration::from_secs_f64(a.decode_us * n / 1e6);
        // (label, time, whether a rate in leaves/s means something)
        let rows = [
            (
                "open the signed checkpoint (`open_checkpoint`)".to_string(),
                a.open,
                false,
            ),
            (
                "read + check every entry (`read_store` into `Audit`)".to_string(),
                a.read,
                true,
            ),
            (
                "  alone: the `log_leaves` reads (pages of 10,000; overlapped with decoding above)"
                    .to_string(),
                a.sql_read,
                true,
            ),
            (
                format!(
                    "  alone: `Leaf::decode`, {:.1} µs per leaf (measured on up to 100,000)",
                    a.decode_us
                ),
                decode,
                true,
            ),
            (
                "recompute and compare every stored node (`check_stored_nodes`)".to_string(),
                a.nodes,
                true,
            ),
            (
                "`Audit::finish` (root, checkpoint)".to_string(),
                a.finish,
                false,
            ),
            (
                "**from the store, total**".to_string(),
                a.read + a.nodes + a.finish,
                true,
            ),
            (
                format!(
                    "write the export (`verify::export`, {:.0} MiB)",
                    a.export_mib
                ),
                a.export,
                true,
            ),
            (
                "**from the export file** (`read_export` into `Audit`, finish)".to_string(),
                a.read_export,
                true,
            ),
        ];
        for (label, d, rate) in rows {
            let rate = if rate {
                format!("{:.0}", n / d.as_secs_f64())
            } else {
                String::new()
            };
            println!(
                "| {} | {} | {label} | {:.3} | {rate} |",
                r.name,
                r.n,
                d.as_secs_f64(),
            );
        }
    }
    println!();
    for r in runs {
        println!(
            "Peak RSS during the store audit, {}: {:.0} MiB.",
            r.name, r.audit.rss
        );
    }
    println!();
}

/// Which workload shape a record on the devnet came from.
fn shape(r: &RecordLeaf, logs_in_tx: usize) -> &'static str {
    match r.event.kind.as_str() {
        "safe.received" if logs_in_tx > 1 => "batched payment",
        "safe.received" => "single payment",
        "safe.multisig_transaction" | "safe.execution_success" => "Safe execution",
        _ => "other",
    }
}

/// `verify --chain` on a devnet: real Safe events indexed by the follower and sealed into the
/// log, then every record checked against the chain.
async fn chain_check(per_shape: usize) {
    eprintln!("devnet: building the workload…");
    let devnet = Devnet::start(DevnetOptions::default())
        .await
        .expect("devnet");
    let contracts = SafeContracts::deploy(&devnet).await.unwrap();
    let keys = devnet::signers(3);
    let owners: Vec<Address> = keys.iter().map(|k| k.address()).collect();
    let safe = contracts
        .create_safe(&devnet, SafeVersion::V141L2, &owners, 2, 0)
        .await
        .unwrap();
    // Batched payments: 300 `SafeReceived` per multiSend transaction.
    devnet::fund_many(&devnet, &vec![safe; per_shape], U256::from(1000))
        .await
        .unwrap();
    // Single payments: one log per transaction.
    for _ in 0..per_shape {
        devnet::fund(&devnet, safe, U256::from(1)).await.unwrap();
    }
    // Executions: `SafeMultiSigTransaction` + `ExecutionSuccess` per transaction.
    for _ in 0..per_shape / 2 {
        devnet::exec_transaction(
            &devnet,
            safe,
            Address::repeat_byte(0x99),
            U256::from(1),
            Default::default(),
            0,
            &[&keys[0], &keys[1]],
        )
        .await
        .unwrap();
    }
    let manifest = Manifest::parse(&format!(
        "id: bench\nname: Bench\npurpose: Benchmark.\nphase: coordination\nchain: local\nstart_block: 0\ntreasury:\n  safes:\n    - address: \"{safe}\"\n      owners: [\"{}\", \"{}\", \"{}\"]\n      threshold: 2\n",
        owners[0], owners[1], owners[2]
    ))
    .expect("manifest");
    let db = Db::sqlite();
    let store = fresh_store(&db.url, &[manifest]).await;
    let indexed = index(&devnet, &store).await;
    let mut a = verify::Audit::new(vec![], true);
    verify::read_store(&store, CHAIN, &mut a).await.unwrap();
    let (summary, live, voided) = a.finish().unwrap();
    assert!(voided.is_empty());
    eprintln!(
        "devnet: {} log entries ({} records) indexed and sealed in {:.2} s",
        summary.entries,
        summary.records,
        indexed.as_secs_f64()
    );

    let rpc = Rpc::new(&devnet.rpc_url(), RetryPolicy::from(&follower_config())).unwrap();
    let chain_id = devnet.chain_id();
    let mut per_tx = std::collections::HashMap::<&str, usize>::new();
    for r in &live {
        *per_tx.entry(r.tx.hash.as_str()).or_default() += 1;
    }
    let mut subsets: Vec<(String, Vec<RecordLeaf>)> = Vec::new();
    for label in ["batched payment", "single payment", "Safe execution"] {
        let rs: Vec<RecordLeaf> = live
            .iter()
            .filter(|r| shape(r, per_tx[r.tx.hash.as_str()]) == label)
            .cloned()
            .collect();
        let txs = rs
            .iter()
            .map(|r| r.tx.hash.as_str())
            .collect::<std::collections::HashSet<_>>()
            .len();
        let per_receipt = rs.len().checked_div(txs).unwrap_or(0);
        subsets.push((
            format!(
                "{label}s ({} records, {per_receipt} logs per receipt)",
                rs.len()
            ),
            rs,
        ));
    }
    subsets.push((format!("all records ({})", live.len()), live.clone()));

    // Warm-up.
    verify::check_chain(&rpc, chain_id, &live, &[], 16)
        .await
        .unwrap();
    println!(
        "### `verify --chain` on a devnet ({} records of one SafeL2 1.4.1, indexed by the follower and sealed)\n",
        live.len()
    );
    println!("| records | concurrency | seconds (best of 3) | ms per record | records/s |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    for (label, rs) in &subsets {
        if rs.is_empty() {
            continue;
        }
        for concurrency in [16, 1] {
            let mut best = Duration::MAX;
            for _ in 0..3 {
                let t = Instant::now();
                let (found, _) = verify::check_chain(&rpc, chain_id, rs, &[], concurrency)
                    .await
                    .unwrap();
                best = best.min(t.elapsed());
                assert_eq!(found as usize, rs.len());
            }
            println!(
                "| {label} | {concurrency} | {:.3} | {:.3} | {:.0} |",
                best.as_secs_f64(),
                ms(best) / rs.len() as f64,
                rs.len() as f64 / best.as_secs_f64()
            );
        }
    }
    println!();
    store.close().await;
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` probes the harness this way.
    }
    let n = env_u64("LEDGER_LEAVES", 1_000_000).max(2);
    let pg_n = env_u64("LEDGER_PG_LEAVES", n).max(2);
    let batch = env_u64("LEDGER_BATCH", 10_000).max(1);
    let calls = env_u64("LEDGER_PROOFS", 1000).max(1);
    let budget = Duration::from_secs(env_u64("LEDGER_PROOF_BUDGET_S", 120));
    let chain_events = env_u64("LEDGER_CHAIN_EVENTS", 300) as usize;

    let memory_root = in_memory(n, batch);
    let mut runs =
        vec![run_backend(Db::sqlite(), n, batch, (calls, budget), Some(memory_root)).await];
    if std::env::var("BENCH_SKIP_PG").is_err() {
        let root = (pg_n == n).then_some(memory_root);
        runs.push(run_backend(Db::postgres().await, pg_n, batch, (calls, budget), root).await);
    }
    report(&runs);
    if chain_events > 0 {
        chain_check(chain_events).await;
    }
}
