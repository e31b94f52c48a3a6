//! The treasury's sums and the accounting export over stored flows, without a chain, on SQLite
//! and on PostgreSQL: amounts far beyond 64 bits sum exactly in SQL; the CLI's `flows --format
//! csv` writes every row (no page) and its sums equal the treasury view's; bad flags are refused
//! by name.

mod support;

use std::collections::BTreeMap;

use alloy::primitives::U256;
use groupstate::holdings::{treasury_view, FlowView};
use groupstate::manifest::Manifest;
use groupstate::store::{BalanceRow, BatchWrite, FlowRow, TokenRow};

const SAFE: &str = "0x00000000000000000000000000000000000000aa";

fn groupstate(db_url: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_groupstate"))
        .args(args)
        .env("GROUPSTATE__DATABASE__URL", db_url)
        .env("RUST_LOG", "error")
        .output()
        .unwrap()
}

fn flow(i: i64, asset: &str, direction: &str, amount: &str) -> FlowRow {
    FlowRow {
        group_id: "g".into(),
        treasury: SAFE
            .parse::<alloy::primitives::Address>()
            .unwrap()
            .to_checksum(None),
        asset: asset.into(),
        direction: direction.into(),
        block_number: 10 + i,
        block_timestamp: Some(1_700_000_000 + 12 * i),
        tx_hash: format!("0x{i:064x}"),
        locator: "call:0".into(),
        counterparty: format!("0x{:040x}", 0x77),
        amount: amount.into(),
    }
}

async fn export(backend: support::Backend) {
    let db = support::TestDb::new(backend).await;
    let store = db.store().await;
    let owner = format!("0x{:040x}", 0x11);
    let yaml = format!(
        "id: g\nname: G\npurpose: Testing.\nphase: coordination\nchain: local\nstart_block: 0\n\
         treasury:\n  safes:\n    - address: \"{SAFE}\"\n      owners: [\"{owner}\"]\n      threshold: 1\n"
    );
    store
        .add_group(&Manifest::parse(&yaml).unwrap())
        .await
        .unwrap();
    let token = format!("0x{:040x}", 0xcc)
        .parse::<alloy::primitives::Address>()
        .unwrap()
        .to_checksum(None);
    let big = U256::from(10u64).pow(U256::from(70));
    let mut flows = Vec::new();
    let mut expected_in = U256::ZERO;
    for i in 0..40 {
        let amount = big + U256::from(i);
        expected_in += amount;
        flows.push(flow(i, "native", "in", &amount.to_string()));
    }
    flows.push(flow(50, "native", "out", "1500000000000000000"));
    flows.push(flow(51, &token, "in", "7000000"));
    flows.push(flow(52, &token, "out", "2500000"));
    let write = BatchWrite {
        chain: "local".into(),
        flows,
        // A balance check between the flows: the balance is it plus what came after.
        balances: vec![BalanceRow {
            group_id: "g".into(),
            treasury: SAFE
                .parse::<alloy::primitives::Address>()
                .unwrap()
                .to_checksum(None),
            asset: token.clone(),
            block_number: 61,
            balance: "7000000".into(),
        }],
        tokens: vec![TokenRow {
            address: token.clone(),
            symbol: Some("USDC".into()),
            decimals: Some(6),
            name: None,
        }],
        ..BatchWrite::default()
    };
    store.commit_batch(&write).await.unwrap();

    let group = store.group("g").await.unwrap().unwrap();
    let view = treasury_view(&store, &group).await.unwrap();
    let t = &view.treasuries[0];
    let native = &t.assets[0];
    assert_eq!(native.info.asset, "native");
    assert_eq!(native.inflow.raw, expected_in.to_string());
    assert_eq!(native.inflow_count, 40);
    assert_eq!(
        native.balance.raw,
        (expected_in - U256::from(1_500_000_000_000_000_000u64)).to_string()
    );
    assert_eq!(
        native.history.len(),
        42,
        "the newest 41 blocks and the start"
    );
    let usdc = &t.assets[1];
    assert_eq!(usdc.info.symbol, "USDC");
    assert_eq!(
        usdc.balance.formatted, "4.5 USDC",
        "checked 7, then 2.5 out"
    );
    assert_eq!(usdc.balance_source, "balance_check");
    assert_eq!(t.largest_outflows[0].amount.formatted, "1.5 ETH");
    assert_eq!(t.largest_outflows[1].amount.formatted, "2.5 USDC");
    assert_eq!(t.largest_outflows[0].decision, None);

    // The API's cache: the view is computed once per revision of the group. A write that does
    // not move the group on is not seen; a batch that folds the group is.
    let cache = groupstate::api::treasury::TreasuryCache::default();
    assert_eq!(cache.view(&store, &group).await.unwrap(), view);
    let more = |i: i64| BatchWrite {
        chain: "local".into(),
        flows: vec![flow(i, "native", "out", "1")],
        ..BatchWrite::default()
    };
    store.commit_batch(&more(70)).await.unwrap();
    let same = store.group("g").await.unwrap().unwrap();
    assert_eq!(same.revision, group.revision);
    assert_eq!(cache.view(&store, &same).await.unwrap(), view);
    store
        .commit_batch(&BatchWrite {
            progress: vec![groupstate::store::GroupProgress {
                group_id: "g".into(),
                revision: same.revision,
                synced_to: same.synced_to,
                advance_to: 100,
            }],
            ..more(71)
        })
        .await
        .unwrap();
    let moved = store.group("g").await.unwrap().unwrap();
    let fresh = cache.view(&store, &moved).await.unwrap();
    assert_eq!(fresh, treasury_view(&store, &moved).await.unwrap());
    assert_eq!(
        fresh.treasuries[0].assets[0].outflow_count, 3,
        "1.5 ETH, then 1 wei twice"
    );
    // The export below covers the two new rows too.

    // The CLI's CSV: every row, no page, and the same sums.
    let out = groupstate(&db.url, &["flows", "g", "--format", "csv"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<FlowView> = csv::Reader::from_reader(out.stdout.as_slice())
        .deserialize()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(rows.len(), 45);
    let mut sums: BTreeMap<(String, String), U256> = BTreeMap::new();
    for r in &rows {
        *sums
            .entry((r.asset.clone(), r.direction.clone()))
            .or_default() += r.raw_amount.parse::<U256>().unwrap();
    }
    for h in &fresh.treasuries[0].assets {
        for (direction, total) in [("in", &h.inflow.raw), ("out", &h.outflow.raw)] {
            let csv = sums
                .get(&(h.info.asset.clone(), direction.to_string()))
                .copied()
                .unwrap_or_default();
            assert_eq!(&csv.to_string(), total, "{} {direction}", h.info.asset);
        }
    }
    let usdc_out = rows
        .iter()
        .find(|r| r.asset == token && r.direction == "out");
    assert_eq!(usdc_out.unwrap().amount, "2.5");
    // A block range, and a page as JSON.
    let out = groupstate(
        &db.url,
        &[
            "flows", "g", "--from", "50", "--to", "51", "--format", "csv",
        ],
    );
    assert!(out.status.success());
    let n = csv::Reader::from_reader(out.stdout.as_slice())
        .records()
        .count();
    assert_eq!(n, 0, "blocks 50 and 51 hold no flow (flows sit at 10 + i)");
    let out = groupstate(
        &db.url,
        &[
            "flows",
            "g",
            "--from-block",
            "60",
            "--to-block",
            "62",
            "--format",
            "json",
        ],
    );
    let page: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(page["flows"].as_array().unwrap().len(), 3, "{page}");
    // Bad input: refused by name, nothing printed.
    let out = groupstate(&db.url, &["flows", "g", "--from-block", "-3"]);
    assert!(!out.status.success());
    let out = groupstate(
        &db.url,
        &["flows", "g", "--from-block", "9", "--to-block", "3"],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--from-block"));
    let out = groupstate(&db.url, &["flows", "nope", "--format", "csv"]);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
}

on_both_backends!(export_both, export);
