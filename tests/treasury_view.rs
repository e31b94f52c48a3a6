//! The treasury at a glance and the accounting export, end to end against anvil with a real
//! Safe 1.4.1, on SQLite and on PostgreSQL: the Safe receives 100 ETH and three tokens (a plain
//! ERC-20, one that answers its symbol as `bytes32` as MKR does, and one whose metadata calls
//! revert or answer nonsense), pays out by single executions and a MultiSend batch; then
//! `/v1/groups/{id}/treasury` shows each balance, the 30-day totals per asset and the largest
//! outflows with the Safe execution behind each, and `/v1/groups/{id}/flows` as CSV parses
//! with a CSV reader and sums, per asset, to the same totals — and pages as JSON to the same
//! rows.

mod support;

use std::collections::BTreeMap;

use alloy::primitives::{Address, Bytes, U256};
use alloy::rpc::types::TransactionReceipt;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolEvent;
use devnet::bindings::ISafe;
use devnet::{
    Devnet, DevnetOptions, MultiSendDeployment, MultiSendItem, SafeContracts, SafeTx, SafeVersion,
    SignatureKind, TreasuryContracts,
};
use groupstate::holdings::{FlowView, FLOW_COLUMNS};
use groupstate::manifest::Manifest;
use groupstate::store::Store;
use serde_json::Value;
use tower::ServiceExt;

fn ether(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64.pow(18))
}

fn milli_ether(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64.pow(15))
}

struct World {
    devnet: Devnet,
    safes: SafeContracts,
    keys: Vec<PrivateKeySigner>,
    safe: Address,
    token: Address,
    mkr: Address,
    broken: Address,
    _db: support::TestDb,
    store: Store,
}

impl World {
    async fn exec(&self, tx: SafeTx) -> TransactionReceipt {
        let signers: Vec<(&PrivateKeySigner, SignatureKind)> = self.keys[..2]
            .iter()
            .map(|k| (k, SignatureKind::Ecdsa))
            .collect();
        tx.execute(&self.devnet, self.safe, &signers).await.unwrap()
    }

    async fn get(&self, path: &str, accept: &str) -> (u16, String, Vec<u8>) {
        let app = groupstate::api::router(groupstate::api::ApiState::new(
            self.store.clone(),
            vec!["local".into()],
        ));
        let response = app
            .oneshot(
                axum::http::Request::get(path)
                    .header("accept", accept)
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, content_type, body.to_vec())
    }

    async fn json(&self, path: &str) -> Value {
        let (status, _, body) = self.get(path, "application/json").await;
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(status, 200, "{path}: {v}");
        v
    }
}

/// The Safe tx hash its `ExecutionSuccess` log in `receipt` carries.
fn safe_tx_hash(receipt: &TransactionReceipt, safe: Address) -> String {
    receipt
        .logs()
        .iter()
        .find(|l| {
            l.address() == safe && l.topic0() == Some(&ISafe::ExecutionSuccess::SIGNATURE_HASH)
        })
        .map(|l| l.topics()[1].to_string())
        .expect("an ExecutionSuccess log")
}

async fn world(backend: support::Backend) -> World {
    let devnet = Devnet::start(DevnetOptions::default()).await.unwrap();
    let safes = SafeContracts::deploy(&devnet).await.unwrap();
    let t = TreasuryContracts::deploy(&devnet).await.unwrap();
    let mkr = devnet::deploy_test_contract(&devnet, devnet::BYTES32_TOKEN_CONTRACT)
        .await
        .unwrap();
    let broken = devnet::deploy_test_contract(&devnet, devnet::BROKEN_METADATA_TOKEN_CONTRACT)
        .await
        .unwrap();
    let keys = devnet::signers(3);
    let owners: Vec<Address> = keys.iter().map(|k| k.address()).collect();
    let safe = safes
        .create_safe(&devnet, SafeVersion::V141, &owners, 2, 7)
        .await
        .unwrap();
    let db = support::TestDb::new(backend).await;
    let store = db.store().await;
    let yaml = support::safe_manifest("g", 0, &[(safe, owners, 2)]);
    store
        .add_group(&Manifest::parse(&yaml).unwrap())
        .await
        .unwrap();
    World {
        devnet,
        safes,
        keys,
        safe,
        token: t.token,
        mkr,
        broken,
        _db: db,
        store,
    }
}

/// The holding of `asset` in the first treasury of a treasury view.
fn holding<'a>(view: &'a Value, asset: &str) -> &'a Value {
    view["treasuries"][0]["assets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["asset"] == asset)
        .unwrap_or_else(|| panic!("no {asset} in {view:#}"))
}

async fn treasury_at_a_glance(backend: support::Backend) {
    let w = world(backend).await;
    let (friend, vendor) = (Address::repeat_byte(0xf1), Address::repeat_byte(0xf2));
    devnet::fund(&w.devnet, w.safe, ether(100)).await.unwrap();
    devnet::mint_tokens(&w.devnet, w.token, w.safe, ether(1000))
        .await
        .unwrap();
    devnet::mint_tokens(&w.devnet, w.mkr, w.safe, ether(50))
        .await
        .unwrap();
    devnet::mint_tokens(&w.devnet, w.broken, w.safe, U256::from(7000))
        .await
        .unwrap();
    let paid = w.exec(SafeTx::new(friend, ether(1), Bytes::new())).await;
    let batch = w
        .exec(w.safes.multi_send_tx(
            MultiSendDeployment::V141CallOnly,
            &[
                MultiSendItem::pay(vendor, milli_ether(500)),
                MultiSendItem::sol_call(
                    w.token,
                    devnet::bindings::IERC20::transferCall {
                        to: vendor,
                        value: ether(10),
                    },
                ),
                MultiSendItem::sol_call(
                    w.mkr,
                    devnet::bindings::IERC20::transferCall {
                        to: vendor,
                        value: ether(5),
                    },
                ),
            ],
        ))
        .await;
    w.exec(SafeTx::erc20_transfer(w.broken, friend, U256::from(3000)))
        .await;
    let follower = support::follower(&w.store, &w.devnet.rpc_url(), w.devnet.chain_id());
    support::sync(&follower).await;

    // The tokens' metadata was read once and stored, with fallbacks for the broken one.
    let tokens = w
        .store
        .tokens(
            "local",
            &[w.token, w.mkr, w.broken].map(|a| a.to_checksum(None)),
        )
        .await
        .unwrap();
    let by: BTreeMap<String, _> = tokens.into_iter().map(|t| (t.address.clone(), t)).collect();
    let mkr = &by[&w.mkr.to_checksum(None)];
    assert_eq!(mkr.symbol.as_deref(), Some("MKR"));
    assert_eq!(mkr.name.as_deref(), Some("Maker"));
    assert_eq!(mkr.decimals, Some(18));
    assert_eq!(
        by[&w.token.to_checksum(None)].symbol.as_deref(),
        Some("GST")
    );
    let broken = &by[&w.broken.to_checksum(None)];
    assert_eq!((broken.symbol.as_deref(), broken.decimals), (None, None));

    let view = w.json("/v1/groups/g/treasury").await;
    assert_eq!(
        view["treasuries"][0]["address"],
        w.safe.to_checksum(None),
        "{view:#}"
    );
    // Native: 100 in, 1.5 out, 98.5 left — as the chain says.
    let native = holding(&view, "native");
    let on_chain = devnet::read_balance(&w.devnet, w.safe).await.unwrap();
    assert_eq!(native["balance"]["raw"], on_chain.to_string(), "{native:#}");
    assert_eq!(native["balance"]["formatted"], "98.5 ETH");
    assert_eq!(native["inflow"]["raw"], ether(100).to_string());
    assert_eq!(native["outflow"]["formatted"], "1.5 ETH");
    assert_eq!(native["outflow_count"], 2);
    // Before the funding, after it, after each payment.
    let history: Vec<&str> = native["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["balance"].as_str().unwrap())
        .collect();
    let expected = [U256::ZERO, ether(100), ether(99), milli_ether(98_500)].map(|v| v.to_string());
    assert_eq!(history, expected);
    // Tokens: symbols from the chain, amounts in token units.
    let gst = holding(&view, &w.token.to_checksum(None));
    assert_eq!(gst["symbol"], "GST");
    assert_eq!(gst["balance"]["formatted"], "990 GST");
    let mkr = holding(&view, &w.mkr.to_checksum(None));
    assert_eq!(mkr["symbol"], "MKR");
    assert_eq!(mkr["balance"]["formatted"], "45 MKR");
    assert_eq!(mkr["outflow"]["units"], "5");
    let broken = holding(&view, &w.broken.to_checksum(None));
    assert_eq!(broken["decimals"], Value::Null);
    assert_eq!(broken["balance"]["units"], "4000");
    let short = w.broken.to_checksum(None);
    assert_eq!(
        broken["symbol"],
        format!("{}…{}", &short[..6], &short[short.len() - 4..])
    );
    // The largest outflows, largest first, each with the Safe execution behind it.
    let largest = view["treasuries"][0]["largest_outflows"]
        .as_array()
        .unwrap();
    assert_eq!(largest[0]["amount"]["formatted"], "10 GST", "{largest:#?}");
    let one_eth = largest
        .iter()
        .find(|o| o["amount"]["formatted"] == "1 ETH")
        .expect("the 1 ETH payment");
    assert_eq!(one_eth["counterparty"], friend.to_checksum(None));
    assert_eq!(one_eth["tx_hash"], paid.transaction_hash.to_string());
    assert_eq!(one_eth["decision"]["type"], "safe_execution");
    assert_eq!(one_eth["decision"]["id"], safe_tx_hash(&paid, w.safe));
    let half = largest
        .iter()
        .find(|o| o["amount"]["formatted"] == "0.5 ETH")
        .expect("the batch's payment");
    assert_eq!(half["decision"]["id"], safe_tx_hash(&batch, w.safe));

    // The CSV export of the same window sums to the same totals, per asset and direction.
    let (from, to) = (
        view["window_from"].as_i64().unwrap(),
        view["window_to"].as_i64().unwrap(),
    );
    let path = format!("/v1/groups/g/flows?from_time={from}&to_time={to}");
    let (status, content_type, body) = w.get(&path, "text/csv").await;
    assert_eq!(status, 200);
    assert_eq!(content_type, "text/csv; charset=utf-8");
    let mut reader = csv::Reader::from_reader(body.as_slice());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header, FLOW_COLUMNS);
    let rows: Vec<FlowView> = reader.deserialize().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 9, "4 in, 5 out: {rows:#?}");
    let mut sums: BTreeMap<(String, String), U256> = BTreeMap::new();
    for r in &rows {
        let v: U256 = r.raw_amount.parse().unwrap();
        *sums
            .entry((r.asset.clone(), r.direction.clone()))
            .or_default() += v;
        assert!(r.block_time.ends_with('Z') && r.block_time.contains('T'));
        if r.direction == "out" {
            assert!(r.decision.starts_with("safe_execution 0x"), "{r:?}");
        }
    }
    for h in view["treasuries"][0]["assets"].as_array().unwrap() {
        let asset = h["asset"].as_str().unwrap().to_string();
        for (direction, key) in [("in", "inflow"), ("out", "outflow")] {
            let csv = sums
                .get(&(asset.clone(), direction.to_string()))
                .copied()
                .unwrap_or_default();
            assert_eq!(csv.to_string(), h[key]["raw"], "{asset} {direction}");
        }
    }
    let mkr_out = rows
        .iter()
        .find(|r| r.asset_symbol == "MKR" && r.direction == "out")
        .unwrap();
    assert_eq!(
        (mkr_out.amount.as_str(), mkr_out.raw_amount.as_str()),
        ("5", "5000000000000000000")
    );
    assert_eq!(mkr_out.counterparty, vendor.to_checksum(None));

    // JSON pages of two walk the same rows.
    let mut paged: Vec<FlowView> = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/v1/groups/g/flows?from_time={from}&to_time={to}&limit=2");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page = w.json(&path).await;
        let flows: Vec<FlowView> = serde_json::from_value(page["flows"].clone()).unwrap();
        paged.extend(flows);
        if page["has_more"] != true {
            break;
        }
        cursor = page["next_cursor"].as_str().map(String::from);
    }
    assert_eq!(paged, rows);

    // A block range narrows the export; bad input is refused by name.
    let block = paid.block_number.unwrap();
    let (_, _, one) = w
        .get(
            &format!("/v1/groups/g/flows?from_block={block}&to_block={block}"),
            "text/csv",
        )
        .await;
    let one: Vec<FlowView> = csv::Reader::from_reader(one.as_slice())
        .deserialize()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].amount, "1");
    let (status, _, body) = w
        .get("/v1/groups/g/flows?from_block=9&to_block=3", "text/csv")
        .await;
    assert_eq!(status, 400);
    assert!(String::from_utf8(body).unwrap().contains("from_block"));
    let (status, _, _) = w.get("/v1/groups/nope/treasury", "application/json").await;
    assert_eq!(status, 404);
    let (status, _, _) = w
        .get("/v1/groups/g/flows?cursor=garbage", "application/json")
        .await;
    assert_eq!(status, 400);
}

on_both_backends!(treasury_at_a_glance_both, treasury_at_a_glance);
