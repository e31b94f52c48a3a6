//! The public status page's render latency (issue 5): `GET /groups/{id}` over HTTP on a real
//! socket, one request at a time, for a group holding some thousand records (Safe executions
//! with their transaction details, transfers and payments received) and dozens of open and
//! acknowledged divergences, with an observed Safe that disagrees with its declaration and a
//! signed checkpoint, and treasury data in proportion (flows, balance checks, token metadata)
//! for the page's treasury section. The store is seeded directly (no chain): the page only reads.
//!
//! `cargo bench --bench status_page` prints a Markdown table. Environment:
//!
//! - `PAGE_RECORDS` (default 2000): records of the group;
//! - `PAGE_DIVERGENCES` (default 50): divergences, one in five of them acknowledged;
//! - `PAGE_REQUESTS` (default 500): timed requests, after 20 untimed;
//! - `BENCH_SKIP_PG`: SQLite only; `BENCH_PG`: the PostgreSQL admin URL
//!   (default postgres://postgres@127.0.0.1:5432/test).

mod common;

use std::time::Instant;

use alloy::primitives::Address;
use alloy::primitives::B256;
use common::*;
use groupstate::alert::NewAlert;
use groupstate::api::{serve, ApiState};
use groupstate::manifest::Manifest;
use groupstate::model::{AlertEvent, ContractKind, Rule};
use groupstate::store::{
    BalanceRow, BatchWrite, Divergence, FlowRow, GroupProgress, RecordRow, StateWrite, Store,
    TokenRow,
};

const GROUP: &str = "river-guild";
const CHAIN: &str = "local";

fn address(byte: u8) -> String {
    Address::repeat_byte(byte).to_checksum(None)
}

fn manifest() -> Manifest {
    let yaml = format!(
        "id: {GROUP}\nname: River Guild\npurpose: Fund the river network's shared tooling.\n\
         phase: coordination\nchain: {CHAIN}\nstart_block: 0\ntreasury:\n  safes:\n\
         \x20   - address: \"{}\"\n      owners: [\"{}\", \"{}\", \"{}\"]\n      threshold: 2\n",
        address(0xaa),
        address(0x01),
        address(0x02),
        address(0x03)
    );
    Manifest::parse(&yaml).expect("the benchmark's manifest")
}

/// Record `i` of the group: a Safe execution takes three (transaction details, success, a
/// token transfer out), a payment received one.
fn records(count: u64, manifest_hash: &str) -> Vec<RecordRow> {
    let safe = address(0xaa);
    let mut out = Vec::new();
    let mut i = 0u64;
    while (out.len() as u64) < count {
        let block = 100 + i;
        let tx_hash = hash_hex(&[b"tx", &i.to_be_bytes()]);
        let row =
            |log_index: i64, kind: &str, category: &str, address: &str, fields: String| RecordRow {
                group_id: GROUP.into(),
                chain_id: 31337,
                block_number: block as i64,
                block_hash: hash_hex(&[b"block", &block.to_be_bytes()]),
                block_timestamp: Some(1_700_000_000 + 12 * block as i64),
                tx_hash: tx_hash.clone(),
                tx_index: 0,
                log_index,
                address: address.to_string(),
                kind: kind.into(),
                category: category.into(),
                fields,
                topics: "[]".into(),
                data: "0x".into(),
                manifest_hash: Some(manifest_hash.to_string()),
            };
        if i.is_multiple_of(2) {
            let safe_tx_hash = hash_hex(&[b"safe-tx", &i.to_be_bytes()]);
            out.push(row(
                0,
                "safe.multisig_transaction",
                "decision",
                &safe,
                format!(
                    r#"{{"event":"multisig_transaction","to":"{}","value":"1000","data":"0x","operation":0,"signatures":"0x"}}"#,
                    address(0x77)
                ),
            ));
            out.push(row(
                1,
                "safe.execution_success",
                "decision",
                &safe,
                format!(
                    r#"{{"event":"execution_success","safe_tx_hash":"{safe_tx_hash}","payment":"0","signers":[{{"signer":"{}","kind":"ecdsa"}},{{"signer":"{}","kind":"ecdsa"}}]}}"#,
                    address(0x01),
                    address(0x02)
                ),
            ));
            out.push(row(
                2,
                "token.transfer",
                "transfer",
                &address(0xee),
                format!(
                    r#"{{"from":"{safe}","to":"{}","value":"5"}}"#,
                    address(0x77)
                ),
            ));
        } else {
            out.push(row(
                0,
                "safe.received",
                "transfer",
                &safe,
                format!(r#"{{"sender":"{}","value":"1"}}"#, address(0x55)),
            ));
        }
        i += 1;
    }
    out.truncate(count as usize);
    out
}

/// A store holding the group, its records, an observed Safe with an undeclared owner, the
/// divergences and a checkpoint.
async fn seed(url: &str, n_records: u64, n_divergences: u64) -> Store {
    let m = manifest();
    let store = fresh_store(url, std::slice::from_ref(&m)).await;
    let hash = store.manifest_versions(GROUP).await.unwrap()[0]
        .hash
        .clone();
    let rows = records(n_records, &hash);
    let last_block = rows.last().map_or(100, |r| r.block_number);
    let observed = serde_json::json!({
        "deployed": true,
        "owners": [address(0x01), address(0x02), address(0x03), address(0x04)],
        "threshold": 2,
        "modules": [],
        "guard": Address::ZERO.to_checksum(None),
        "fallback_handler": address(0xfb),
    });
    let state = StateWrite {
        group_id: GROUP.into(),
        contract: address(0xaa),
        kind: ContractKind::Safe,
        block: last_block,
        log_index: 0,
        source: "event",
        state: observed.to_string(),
    };
    let mut divergences = Vec::new();
    for k in 0..n_divergences {
        let block = 100 + (k as i64 * 7) % last_block.max(101);
        let rule = Rule::SafeOwnerUndeclared;
        divergences.push(Divergence {
            group_id: GROUP.into(),
            n: k as i64 + 1,
            rule: rule.as_str().into(),
            severity: rule.severity().as_str().into(),
            subject: address(0xaa),
            item: format!("0x{:040x}", 0x1000 + k),
            expected: "not an owner".into(),
            observed: "an owner".into(),
            status: "open".into(),
            opened_block: block,
            opened_block_hash: hash_hex(&[b"block", &block.to_be_bytes()]),
            opened_tx_hash: Some(hash_hex(&[b"tx", &k.to_be_bytes()])),
            opened_log_index: Some(0),
            opened_manifest_hash: hash.clone(),
            ..Divergence::default()
        });
    }
    let group = store.group(GROUP).await.unwrap().expect("the group");
    let alerts = divergences
        .iter()
        .map(|d| NewAlert::new(CHAIN, AlertEvent::Opened, d))
        .collect();
    let write = BatchWrite {
        chain: CHAIN.into(),
        progress: vec![GroupProgress {
            group_id: GROUP.into(),
            revision: group.revision,
            synced_to: group.synced_to,
            advance_to: last_block,
        }],
        records: rows,
        states: vec![state],
        divergences,
        alerts,
        cursor: None,
        ..BatchWrite::default()
    };
    store.commit_batch(&write).await.unwrap();
    seed_treasury(&store, n_records).await;
    for n in (1..=n_divergences as i64).filter(|n| n % 5 == 0) {
        store
            .acknowledge_divergence(GROUP, n, "known: the signer rotation of March", None)
            .await
            .unwrap();
    }
    let root = B256::repeat_byte(7);
    store
        .insert_checkpoint(
            CHAIN,
            n_records,
            &root,
            "local\n2000\nBwcH\n\n— local+1234abcd+sig\n",
        )
        .await
        .unwrap();
    store
}

/// The treasury data of the records: each Safe execution pays 1000 wei and 5 units of the
/// token 0xee…ee out, each payment received brings 1 wei in; balance checks every 100 blocks
/// (native and the token); metadata of three tokens (a plain one, an MKR-like one, one that
/// answered nothing). Proportional to the records, like them.
async fn seed_treasury(store: &Store, n_records: u64) {
    let safe = address(0xaa);
    let token = address(0xee);
    let mut flows = Vec::new();
    let mut balances = Vec::new();
    let (mut native, mut tokens) = (10u128.pow(24), 10u128.pow(24));
    let mut records = 0u64;
    let mut i = 0u64;
    while records < n_records {
        let block = 100 + i as i64;
        let tx_hash = hash_hex(&[b"tx", &i.to_be_bytes()]);
        let flow = |asset: &str, direction: &str, locator: &str, amount: u128| FlowRow {
            group_id: GROUP.into(),
            treasury: safe.clone(),
            asset: asset.into(),
            direction: direction.into(),
            block_number: block,
            block_timestamp: Some(1_700_000_000 + 12 * block),
            tx_hash: tx_hash.clone(),
            locator: locator.into(),
            counterparty: address(if direction == "out" { 0x77 } else { 0x55 }),
            amount: amount.to_string(),
        };
        if i.is_multiple_of(2) {
            flows.push(flow("native", "out", "call:0", 1000));
            flows.push(flow(&token, "out", "log:2", 5));
            native -= 1000;
            tokens -= 5;
            records += 3;
        } else {
            flows.push(flow("native", "in", "log:0", 1));
            native += 1;
            records += 1;
        }
        if block % 100 == 0 {
            for (asset, balance) in [("native", native), (token.as_str(), tokens)] {
                balances.push(BalanceRow {
                    group_id: GROUP.into(),
                    treasury: safe.clone(),
                    asset: asset.into(),
                    block_number: block,
                    balance: balance.to_string(),
                });
            }
        }
        i += 1;
    }
    let token_row = |byte: u8, symbol: Option<&str>, decimals: Option<i64>| TokenRow {
        address: address(byte),
        symbol: symbol.map(String::from),
        decimals,
        name: symbol.map(|s| format!("{s} token")),
    };
    let tokens = vec![
        token_row(0xee, Some("GST"), Some(18)),
        token_row(0xed, Some("MKR"), Some(18)),
        token_row(0xec, None, None),
    ];
    let mut first = true;
    for chunk in flows.chunks(20_000) {
        let write = BatchWrite {
            chain: CHAIN.into(),
            flows: chunk.to_vec(),
            balances: if first {
                std::mem::take(&mut balances)
            } else {
                Vec::new()
            },
            tokens: if first { tokens.clone() } else { Vec::new() },
            ..BatchWrite::default()
        };
        first = false;
        store.commit_batch(&write).await.unwrap();
    }
}

struct Figures {
    p50: f64,
    p99: f64,
    max: f64,
    /// The first request, which computes the treasury view the later ones read from the cache.
    first: f64,
    bytes: usize,
}

async fn measure(store: Store, requests: u64) -> Figures {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let cancel = tokio_util::sync::CancellationToken::new();
    let state = ApiState::new(store, vec![CHAIN.into()]);
    let server = tokio::spawn(serve(listener, state, cancel.clone()));
    let http = reqwest::Client::new();
    let url = format!("http://{addr}/groups/{GROUP}");
    let mut bytes = 0;
    let mut first = 0.0;
    for i in 0..20 {
        let t = Instant::now();
        let r = http.get(&url).send().await.unwrap();
        assert_eq!(r.status(), 200);
        bytes = r.bytes().await.unwrap().len();
        if i == 0 {
            // Nothing cached yet: the treasury view is computed for this request.
            first = t.elapsed().as_secs_f64() * 1000.0;
        }
    }
    let mut samples = Vec::with_capacity(requests as usize);
    for _ in 0..requests {
        let t = Instant::now();
        let r = http.get(&url).send().await.unwrap();
        assert_eq!(r.status(), 200);
        r.bytes().await.unwrap();
        samples.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    cancel.cancel();
    server.await.unwrap().unwrap();
    samples.sort_by(f64::total_cmp);
    Figures {
        p50: percentile(&samples, 0.50),
        p99: percentile(&samples, 0.99),
        max: *samples.last().unwrap(),
        first,
        bytes,
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n_records = env_u64("PAGE_RECORDS", 2000);
    let n_divergences = env_u64("PAGE_DIVERGENCES", 50);
    let requests = env_u64("PAGE_REQUESTS", 500);
    let dir = tempfile::tempdir().unwrap();
    let mut backends = vec![(
        "SQLite",
        format!("sqlite://{}?mode=rwc", dir.path().join("page.db").display()),
    )];
    if std::env::var("BENCH_SKIP_PG").is_err() {
        backends.push(("PostgreSQL", pg_database(&pg_admin()).await));
    }
    println!(
        "Status page `GET /groups/{{id}}`: {n_records} records, {n_divergences} divergences \
         ({} acknowledged), {requests} sequential requests after 20 untimed.\n",
        n_divergences / 5
    );
    println!("| backend | p50 ms | p99 ms | max ms | first request ms | page KiB |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    for (name, url) in backends {
        let store = seed(&url, n_records, n_divergences).await;
        let f = measure(store, requests).await;
        println!(
            "| {name} | {:.2} | {:.2} | {:.2} | {:.1} | {:.1} |",
            f.p50,
            f.p99,
            f.max,
            f.first,
            f.bytes as f64 / 1024.0
        );
    }
}
