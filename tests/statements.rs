//! Covenant statements end to end on anvil: two groups with real Safes, a covenant between
//! them with a one-minute period (30 blocks at 2 s), an owner removed below the covenant's
//! minimum. Two independent indexers — two stores, two data directories, two signing keys —
//! write byte-identical statements into identical logs; the breach is the clause's verdict in
//! its period, with its evidence; `groupstate verify` passes, and fails on a tampered statement;
//! the API serves each statement with its signed note and an inclusion proof, and
//! `groupstate statement show` prints it.

mod support;

use std::process::Output;
use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::{Address, U256};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use devnet::{self, Devnet, DevnetOptions, SafeContracts, SafeVersion};
use groupstate::api::{router, ApiState};
use groupstate::ledger::merkle::{self, Hash};
use groupstate::ledger::note::{Checkpoint, SigningKey};
use groupstate::ledger::LogSigner;
use groupstate::manifest::covenant::Covenant;
use groupstate::manifest::Manifest;
use groupstate::store::{StatementRow, Store};
use groupstate::sync::Follower;
use serde_json::Value;
use tower::ServiceExt;

const ORIGIN: &str = "groupstate";
const COVENANT: &str = "river-x-lake";
/// Blocks per period: 60 s at 2 s a block.
const PERIOD: u64 = 30;

struct World {
    devnet: Devnet,
    manifests: Vec<String>,
    covenant: String,
    /// A second covenant of the same parties and period, stated at the same blocks.
    other: String,
    /// The block and transaction of the owner's removal.
    breach_block: u64,
    breach_tx: String,
}

/// Two Safes of three owners; the river guild's loses an owner, below the covenant's three.
async fn world() -> World {
    let devnet = Devnet::start(DevnetOptions::default()).await.unwrap();
    let contracts = SafeContracts::deploy(&devnet).await.unwrap();
    let keys = devnet::signers(3);
    let owners: Vec<Address> = keys.iter().map(|k| k.address()).collect();
    let river = contracts
        .create_safe(&devnet, SafeVersion::V141L2, &owners, 2, 0)
        .await
        .unwrap();
    let lake = contracts
        .create_safe(&devnet, SafeVersion::V141L2, &owners, 2, 1)
        .await
        .unwrap();
    devnet::fund_many(&devnet, &[river, lake], U256::from(7))
        .await
        .unwrap();
    // The breach falls in the middle of a period, with a whole period before it.
    let head = devnet.head().await.unwrap();
    let target = (head / PERIOD + 1) * PERIOD + PERIOD / 2;
    devnet.mine(target - head).await.unwrap();
    let removed = devnet::remove_owner(&devnet, river, owners[2], 2, &[&keys[0], &keys[1]])
        .await
        .unwrap();
    let breach_block = removed.block_number.unwrap();
    // Past the end of the breach's period, and of the next one, and past finality.
    let head = devnet.head().await.unwrap();
    let end = (breach_block / PERIOD + 2) * PERIOD + 4;
    devnet.mine(end - head).await.unwrap();
    let manifests = vec![
        support::safe_manifest("river-guild", 0, &[(river, owners.clone(), 2)]),
        support::safe_manifest("lake-collective", 0, &[(lake, owners.clone(), 2)]),
    ];
    let covenant = format!(
        "id: {COVENANT}\nparties: [river-guild, lake-collective]\nterms:\n  - {{ clause: min_owners, safe: \"{river}\", value: 3 }}\n  - {{ clause: min_threshold, safe: \"{lake}\", value: 2 }}\n  - {{ clause: max_index_lag, seconds: 600 }}\nstatement_period: 1m\n"
    );
    let other = format!(
        "id: lake-x-river\nparties: [lake-collective, river-guild]\nterms:\n  - {{ clause: min_threshold, safe: \"{lake}\", value: 2 }}\nstatement_period: 60s\n"
    );
    World {
        devnet,
        manifests,
        covenant,
        other,
        breach_block,
        breach_tx: removed.transaction_hash.to_string(),
    }
}

/// One indexer: its own database, data directory and signing key.
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
    for m in &w.manifests {
        store.add_group(&Manifest::parse(m).unwrap()).await.unwrap();
    }
    for c in [&w.covenant, &w.other] {
        store
            .add_covenant(&Covenant::parse(c).unwrap())
            .await
            .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = SigningKey::load_or_generate(&dir.path().join("ledger.key"), ORIGIN).unwrap();
    let mut chain = support::chain_config(&w.devnet.rpc_url(), w.devnet.chain_id());
    chain.finality_depth = Some(2);
    chain.block_time = Some(Duration::from_secs(2));
    let follower = Follower::new("local", chain, support::follower_config(), store.clone())
        .unwrap()
        .with_signer(Arc::new(LogSigner {
            origin: format!("{ORIGIN}/local"),
            key,
            cosigner: None,
        }));
    Indexer {
        db_url: db.url.clone(),
        _db: db,
        store,
        dir,
        follower,
    }
}

impl Indexer {
    /// Runs the `groupstate` binary against this indexer's database and key.
    fn cli(&self, w: &World, args: &[&str]) -> Output {
        support::cli::groupstate(
            self.dir.path(),
            &self.db_url,
            &w.devnet.rpc_url(),
            w.devnet.chain_id(),
            "block_time = \"2s\"\n",
            args,
        )
    }

    async fn statements(&self) -> Vec<StatementRow> {
        self.store.statements(COVENANT).await.unwrap()
    }

    async fn leaf_hashes(&self) -> Vec<String> {
        sqlx::query_scalar("SELECT leaf_hash FROM log_entries ORDER BY idx")
            .fetch_all(self.store.pool())
            .await
            .unwrap()
    }
}

fn assert_ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn assert_fails(out: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "expected a failure naming {needle:?}"
    );
    assert!(err.contains(needle), "{needle:?} not in: {err}");
}

async fn get(store: &Store, uri: &str) -> (StatusCode, Value) {
    let app = router(ApiState::new(store.clone(), vec!["local".into()]));
    let resp = app
        .oneshot(Request::builder().uri(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 24)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn two_indexers_state_the_same_periods(backend: support::Backend) {
    let w = world().await;
    let a = indexer(backend, &w).await;
    let b = indexer(backend, &w).await;
    support::sync(&a.follower).await;
    support::sync(&b.follower).await;

    // Every period from the first (the groups start at block 0) to the last final one.
    let head = w.devnet.head().await.unwrap();
    let last_final = (head - 2 + 1) / PERIOD;
    let (sa, sb) = (a.statements().await, b.statements().await);
    assert_eq!(sa.len() as u64, last_final, "periods 0..{last_final}");
    let bodies = |s: &[StatementRow]| s.iter().map(|r| r.body.clone()).collect::<Vec<_>>();
    assert_eq!(
        bodies(&sa),
        bodies(&sb),
        "the two indexers state the same bytes"
    );
    assert_eq!(
        a.leaf_hashes().await,
        b.leaf_hashes().await,
        "and build the same log"
    );
    // Each signed by its own indexer's key, over the same text.
    let text = |n: &str| n.split("\n\n").next().unwrap().to_string();
    for (x, y) in sa.iter().zip(&sb) {
        let (nx, ny) = (x.note.as_deref().unwrap(), y.note.as_deref().unwrap());
        assert_eq!(text(nx), text(ny));
        assert_ne!(nx, ny, "two keys, two signatures");
        assert!(nx.starts_with(&format!(
            "{ORIGIN}/local/statement/{COVENANT}/{}\n",
            x.period
        )));
    }

    // The breach is its period's verdict on the clause, with its evidence; the periods before
    // hold; the lag clause is never attested.
    let k = w.breach_block / PERIOD;
    for row in &sa {
        let s: Value = serde_json::from_str(&row.body).unwrap();
        assert_eq!(s["type"], "statement");
        assert_eq!(s["period"]["index"], row.period);
        assert_eq!(s["period"]["from_block"], row.period as u64 * PERIOD);
        assert_eq!(
            s["period"]["to_block"],
            (row.period as u64 + 1) * PERIOD - 1
        );
        assert!(
            s["period"]["to_time"].as_i64().unwrap() >= s["period"]["from_time"].as_i64().unwrap()
        );
        assert_eq!(s["log"]["size"], row.leaf_index);
        let clauses = s["clauses"].as_array().unwrap();
        assert_eq!(clauses.len(), 3);
        assert_eq!(clauses[1]["verdict"], "holds", "{row:?}");
        assert_eq!(clauses[2]["verdict"], "not_attested");
        assert_eq!(clauses[2]["name"], "max_index_lag");
        if (row.period as u64) < k {
            assert_eq!(clauses[0]["verdict"], "holds", "period {}", row.period);
        } else {
            assert_eq!(clauses[0]["verdict"], "breach", "period {}", row.period);
            let f = &clauses[0]["findings"].as_array().unwrap()[0];
            assert_eq!(f["group"], "river-guild");
            assert_eq!(f["rule"], "covenant.breach");
            assert_eq!(f["opened_block"], w.breach_block);
            assert!(f["opened_tx"]
                .as_str()
                .unwrap()
                .eq_ignore_ascii_case(&w.breach_tx));
            assert_eq!(f["resolved_block"], Value::Null);
        }
    }

    // The statement's leaf is in the log at its index, after its period's last block.
    let entries = a.store.log_entries("local", 0, 1 << 20).await.unwrap();
    for row in &sa {
        let e = &entries[row.leaf_index as usize];
        assert_eq!(e.kind, "statement");
        assert_eq!(e.leaf, row.body);
        assert!(entries
            .iter()
            .filter(|x| x.kind == "record")
            .all(|x| (x.block_number <= row.to_block) == (x.index < e.index)));
    }

    // The other covenant's statement of each period comes first (by id), and the next one
    // covers it.
    let others = a.store.statements("lake-x-river").await.unwrap();
    assert_eq!(others.len(), sa.len());
    for (o, r) in others.iter().zip(&sa) {
        assert_eq!((o.period, o.to_block), (r.period, r.to_block));
        assert_eq!(o.leaf_index + 1, r.leaf_index);
        assert!(o.body.contains(r#""verdict":"holds""#));
    }

    // The API serves the list, and one statement with a proof under the latest checkpoint.
    let (status, list) = get(&a.store, &format!("/v1/covenants/{COVENANT}/statements")).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list.as_array().unwrap().len(), sa.len());
    let (status, one) = get(
        &a.store,
        &format!("/v1/covenants/{COVENANT}/statements/{k}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{one}");
    assert_eq!(one["body"].as_str().unwrap(), sa[k as usize].body);
    let checkpoint = a.store.latest_checkpoint("local").await.unwrap().unwrap();
    let verifier = SigningKey::load_or_generate(&a.dir.path().join("ledger.key"), ORIGIN)
        .unwrap()
        .0
        .verifier();
    let root = Checkpoint::open(&checkpoint.note, &verifier).unwrap().root;
    let path: Vec<Hash> = one["inclusion"]["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap().parse().unwrap())
        .collect();
    merkle::verify_inclusion(
        &merkle::leaf_hash(sa[k as usize].body.as_bytes()),
        sa[k as usize].leaf_index as u64,
        checkpoint.tree_size,
        &path,
        &root,
    )
    .unwrap();
    let (status, _) = get(
        &a.store,
        &format!("/v1/covenants/{COVENANT}/statements/999"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = get(&a.store, "/v1/covenants/nobody/statements").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // `groupstate verify` checks statements like records, and their notes.
    let out = assert_ok(&a.cli(&w, &["verify"]));
    assert!(
        out.contains(&format!(
            "{} covenant statements, {} signed notes verified",
            2 * sa.len(),
            2 * sa.len()
        )),
        "{out}"
    );
    // An export carries the statements, and audits without the database.
    let export = a.dir.path().join("log.jsonl");
    assert_ok(&a.cli(&w, &["log", "export", "--out", export.to_str().unwrap()]));
    let out = assert_ok(&a.cli(&w, &["verify", "--from", export.to_str().unwrap()]));
    assert!(
        out.contains(&format!("{} covenant statements", 2 * sa.len())),
        "{out}"
    );
    // `groupstate statement show` prints the signed note, or the stored row as JSON.
    let shown = assert_ok(&a.cli(&w, &["statement", "show", COVENANT, &k.to_string()]));
    assert_eq!(shown, sa[k as usize].note.clone().unwrap());
    let shown: Value = serde_json::from_str(&assert_ok(&a.cli(
        &w,
        &["statement", "show", COVENANT, &k.to_string(), "--json"],
    )))
    .unwrap();
    assert_eq!(shown["statement"]["clauses"][0]["verdict"], "breach");
    assert_eq!(shown["leaf_index"], sa[k as usize].leaf_index);
    // A statement altered in the store is caught, by what was altered.
    sqlx::query(&format!(
        "UPDATE covenant_statements SET body = REPLACE(body, '\"breach\"', '\"holds\"') \
         WHERE covenant_id = '{COVENANT}' AND period = {k}"
    ))
    .execute(a.store.pool())
    .await
    .unwrap();
    assert_fails(
        &a.cli(&w, &["verify"]),
        &format!("statement of {COVENANT} period {k}: the stored body is not the log's entry"),
    );
    // Put back, with another indexer's note: the key does not open it.
    sqlx::query("UPDATE covenant_statements SET body = $1, note = $2 WHERE covenant_id = $3 AND period = $4")
        .bind(&sa[k as usize].body)
        .bind(sb[k as usize].note.as_deref().unwrap())
        .bind(COVENANT)
        .bind(k as i64)
        .execute(a.store.pool())
        .await
        .unwrap();
    assert_fails(
        &a.cli(&w, &["verify"]),
        &format!("statement of {COVENANT} period {k}: signed note"),
    );
    sqlx::query("UPDATE covenant_statements SET note = $1 WHERE covenant_id = $2 AND period = $3")
        .bind(sa[k as usize].note.as_deref().unwrap())
        .bind(COVENANT)
        .bind(k as i64)
        .execute(a.store.pool())
        .await
        .unwrap();
    assert_ok(&a.cli(&w, &["verify"]));
    // A statement leaf whose verdict is rewritten in the log itself is no longer canonical
    // with its hash: the entry is named.
    sqlx::query("UPDATE log_entries SET leaf = REPLACE(leaf, '\"breach\"', '\"holds\"') WHERE kind = 'statement'")
        .execute(a.store.pool())
        .await
        .unwrap();
    assert_fails(&a.cli(&w, &["verify"]), "stored hash");
}

on_both_backends!(
    two_indexers_state_the_same_periods,
    two_indexers_state_the_same_periods
);

/// Sealing without the chain: a period whose block timestamps are missing holds the seal back
/// before its last block; given them, the periods are stated in order, right after their last
/// block's leaves, with a breach over an at-risk finding and a resolution within the period.
async fn sealing_waits_for_timestamps_and_states_in_order(backend: support::Backend) {
    use groupstate::ledger::{self, StatementInputs};
    use groupstate::model::Rule;
    use support::writes;

    let db = support::TestDb::new(backend).await;
    let store = db.store().await;
    let owners = vec![Address::repeat_byte(0x0a), Address::repeat_byte(0x0b)];
    let (river, lake) = (Address::repeat_byte(0x11), Address::repeat_byte(0x22));
    for (id, safe) in [("river-guild", river), ("lake-collective", lake)] {
        let m = support::safe_manifest(id, 0, &[(safe, owners.clone(), 2)]);
        store
            .add_group(&Manifest::parse(&m).unwrap())
            .await
            .unwrap();
    }
    let covenant = format!(
        "id: {COVENANT}\nparties: [river-guild, lake-collective]\nterms:\n  - {{ clause: min_owners, safe: \"{river}\", value: 2 }}\nstatement_period: 1m\n"
    );
    store
        .add_covenant(&Covenant::parse(&covenant).unwrap())
        .await
        .unwrap();
    let finding = |rule: Rule, block: i64| {
        let mut d = writes::divergence("river-guild", 0, rule, block);
        d.item = format!("{COVENANT}@1#0");
        d.opened_tx_hash = Some(format!("0x{}", "ef".repeat(32)));
        d
    };
    let at_risk = writes::open(&store, finding(Rule::CovenantAtRisk, 10)).await;
    writes::resolve(&store, "river-guild", at_risk, 50).await;
    let breach = writes::open(&store, finding(Rule::CovenantBreach, 40)).await;
    writes::resolve(&store, "river-guild", breach, 45).await;
    sqlx::query("UPDATE groups SET synced_to = 70")
        .execute(store.pool())
        .await
        .unwrap();

    let seal = |stamps: ledger::statement::Stamps| {
        let store = store.clone();
        async move {
            let inputs = StatementInputs {
                block_time_ms: 2_000,
                stamps: &stamps,
                signer: None,
            };
            ledger::seal_with(&store, "local", 31337, 70, Some(&inputs))
                .await
                .unwrap()
        }
    };
    assert_eq!(
        ledger::statement::blocks_to_stamp(&store, "local", 2_000, 70)
            .await
            .unwrap(),
        vec![0, 29, 30, 59]
    );
    let held = seal(Default::default()).await;
    assert!(held.waiting);
    assert_eq!(
        (held.leaves, held.statements),
        (2, 0),
        "the two manifest versions"
    );
    let sealed: Vec<i64> = sqlx::query_scalar("SELECT sealed_to FROM groups ORDER BY id")
        .fetch_all(store.pool())
        .await
        .unwrap();
    assert_eq!(
        sealed,
        vec![28, 28],
        "held back before period 0's last block"
    );

    let stamps = [(0, 1_000), (29, 1_058), (30, 1_060), (59, 1_118)]
        .into_iter()
        .collect();
    let done = seal(stamps).await;
    assert!(!done.waiting);
    assert_eq!(done.statements, 2);
    let rows = store.statements(COVENANT).await.unwrap();
    assert_eq!(
        rows.iter()
            .map(|r| (r.period, r.leaf_index))
            .collect::<Vec<_>>(),
        vec![(0, 2), (1, 3)]
    );
    assert!(rows.iter().all(|r| r.note.is_none()), "no key, no note");
    let s: Vec<Value> = rows
        .iter()
        .map(|r| serde_json::from_str(&r.body).unwrap())
        .collect();
    assert_eq!(s[0]["period"]["from_time"], 1_000);
    assert_eq!(s[0]["period"]["to_time"], 1_058);
    assert_eq!(s[0]["clauses"][0]["verdict"], "at_risk");
    assert_eq!(
        s[0]["clauses"][0]["findings"][0]["resolved_block"],
        Value::Null
    );
    assert_eq!(s[1]["clauses"][0]["verdict"], "breach");
    let findings = s[1]["clauses"][0]["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "the breach alone: {findings:?}");
    assert_eq!(findings[0]["opened_block"], 40);
    assert_eq!(findings[0]["resolved_block"], 45);
    assert_eq!(s[1]["log"]["size"], 3);
    // Period 2 ends at block 89, past the final block: nothing more, whatever is asked.
    let again = seal(Default::default()).await;
    assert_eq!((again.leaves, again.waiting), (0, false));
    assert_eq!(store.log_size("local").await.unwrap(), 4);
}

on_both_backends!(
    sealing_waits_for_timestamps,
    sealing_waits_for_timestamps_and_states_in_order
);
