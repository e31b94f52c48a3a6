//! The HTTP API on both backends: through a real socket and through `oneshot`, against its own
//! OpenAPI document; admin auth on every admin route; paging that stays exact while records
//! are written; hostile parameters.

mod support;

use std::collections::BTreeSet;
use std::net::SocketAddr;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use groupstate::api::{router, ApiState};
use groupstate::config::Secret;
use groupstate::reconcile::Rule;
use groupstate::store::{RecordRow, Store};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

const TOKEN: &str = "an-admin-token-for-tests-0123456789";
const SAFE: &str = "0x1111111111111111111111111111111111111111";
const OWNER_A: &str = "0x000000000000000000000000000000000000000A";
const OWNER_B: &str = "0x000000000000000000000000000000000000000b";

fn manifest(id: &str, threshold: u64) -> String {
    format!(
        "id: {id}\nname: Group {id}\npurpose: Tests the API.\nphase: coordination\nchain: local\n\
         start_block: 0\ntreasury:\n  safes:\n    - address: \"{SAFE}\"\n      owners:\n        \
         - \"{OWNER_A}\"\n        - \"{OWNER_B}\"\n      threshold: {threshold}\n"
    )
}

fn state(store: Store) -> ApiState {
    ApiState {
        admin_token: Secret::new(TOKEN),
        ..ApiState::new(store, vec!["local".into()])
    }
}

struct Server {
    addr: SocketAddr,
    cancel: CancellationToken,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

async fn serve(store: Store) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let cancel = CancellationToken::new();
    tokio::spawn(groupstate::api::serve(
        listener,
        state(store),
        cancel.clone(),
    ));
    Server { addr, cancel }
}

fn record(group: &str, block: i64, log_index: i64) -> RecordRow {
    let (kind, category) = match log_index % 3 {
        0 => ("safe.safe_received", "transaction"),
        1 => ("governor.proposal_created", "decision"),
        _ => ("safe.added_owner", "structure"),
    };
    RecordRow {
        group_id: group.into(),
        chain_id: 31337,
        block_number: block,
        block_hash: format!("0x{block:064x}"),
        block_timestamp: Some(1_700_000_000 + block * 12),
        tx_hash: format!("0x{:064x}", block * 1000 + log_index),
        tx_index: 0,
        log_index,
        address: SAFE.into(),
        kind: kind.into(),
        category: category.into(),
        fields: json!({"n": log_index}).to_string(),
        topics: json!([format!("0x{:064x}", 7)]).to_string(),
        data: "0x".into(),
        manifest_hash: None,
    }
}

/// Records at blocks `from..to`, three per block, in one batch.
async fn insert_records(store: &Store, group: &str, from: i64, to: i64) {
    let rows: Vec<RecordRow> = (from..to)
        .flat_map(|b| (0..3).map(move |l| record(group, b, l)))
        .collect();
    support::writes::records(store, rows).await;
}

async fn open_divergences(store: &Store, group: &str, n: usize) {
    for i in 0..n {
        let rule = if i % 2 == 0 {
            Rule::SafeOwnerUndeclared
        } else {
            Rule::SafeThresholdMismatch
        };
        let mut d = support::writes::divergence(group, 0, rule, 10 + i as i64);
        d.subject = SAFE.into();
        d.item = format!("item{i}");
        d.expected = "declared".into();
        d.observed = "onchain".into();
        d.opened_block_hash = format!("0x{:064x}", 10 + i);
        support::writes::open(store, d).await;
    }
}

/// A client for the socket, with JSON answers.
struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    fn new(addr: SocketAddr) -> Client {
        Client {
            http: reqwest::Client::new(),
            base: format!("http://{addr}"),
        }
    }

    async fn send(&self, r: reqwest::RequestBuilder) -> (u16, Value) {
        let resp = r.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, body)
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.send(self.http.get(format!("{}{path}", self.base)))
            .await
    }

    async fn admin(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: &str,
    ) -> (u16, Value) {
        let url = format!("{}{path}", self.base);
        let mut r = match method {
            "POST" => self.http.post(url),
            "PUT" => self.http.put(url),
            _ => unreachable!(),
        }
        .body(body.to_string());
        if let Some(t) = token {
            r = r.header("Authorization", format!("Bearer {t}"));
        }
        self.send(r).await
    }
}

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

async fn groups_records_and_divergences_over_a_socket(backend: support::Backend) {
    let db = support::TestDb::new(backend).await;
    let store = db.store().await;
    let server = serve(store.clone()).await;
    let c = Client::new(server.addr);

    // Registering: refused without the token, with a wrong one, with a bad manifest.
    let (s, v) = c.admin("POST", "/v1/groups", None, &manifest("g", 2)).await;
    assert_eq!((s, code(&v)), (401, "unauthorized"));
    let (s, _) = c
        .admin(
            "POST",
            "/v1/groups",
            Some("wrong-token-of-some-length"),
            &manifest("g", 2),
        )
        .await;
    assert_eq!(s, 401);
    let (s, v) = c
        .admin(
            "POST",
            "/v1/groups",
            Some(TOKEN),
            &manifest("g", 2).replace("phase: coordination", "phase: dreaming"),
        )
        .await;
    assert_eq!((s, code(&v)), (422, "invalid_manifest"));
    assert_eq!(v["error"]["details"]["problems"][0]["path"], "phase");
    let (s, v) = c
        .admin(
            "POST",
            "/v1/groups",
            Some(TOKEN),
            &manifest("g", 2).replace("chain: local", "chain: elsewhere"),
        )
        .await;
    assert_eq!((s, code(&v)), (422, "unknown_chain"));
    assert!(c.get("/v1/groups").await.1["groups"]
        .as_array()
        .unwrap()
        .is_empty());
    let (s, v) = c
        .admin("POST", "/v1/groups", Some(TOKEN), &manifest("g", 2))
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["group"]["id"], "g");
    assert_eq!(v["group"]["phase"], "coordination");
    let (s, v) = c
        .admin("POST", "/v1/groups", Some(TOKEN), &manifest("g", 2))
        .await;
    assert_eq!((s, code(&v)), (409, "conflict"));

    // Showing and versioning.
    let (s, v) = c.get("/v1/groups").await;
    assert_eq!((s, v["groups"][0]["id"].as_str()), (200, Some("g")));
    let (s, v) = c.get("/v1/groups/nobody").await;
    assert_eq!((s, code(&v)), (404, "group_not_found"));
    let (s, v) = c
        .admin("PUT", "/v1/groups/other", Some(TOKEN), &manifest("g", 1))
        .await;
    assert_eq!((s, code(&v)), (400, "id_mismatch"));
    let (s, v) = c
        .admin(
            "PUT",
            "/v1/groups/g?effective_block=5",
            Some(TOKEN),
            &manifest("g", 1),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["versions"].as_array().unwrap().len(), 2);
    assert_eq!(v["versions"][1]["effective_block"], 5);
    let (s, v) = c
        .admin("PUT", "/v1/groups/g", Some(TOKEN), &manifest("g", 1))
        .await;
    assert_eq!((s, code(&v)), (409, "conflict"), "identical to version 2");

    // State: nothing observed yet, then an observed Safe with an owner nobody declared.
    let (s, v) = c.get("/v1/groups/g/state").await;
    assert_eq!(s, 200);
    assert_eq!(v["consistent"], false);
    assert_eq!(v["contracts"][0]["observed"], Value::Null);
    let observed = json!({
        "deployed": true,
        "owners": [OWNER_A, OWNER_B, "0x000000000000000000000000000000000000000C"],
        "threshold": 2,
        "modules": [],
        "guard": "0x0000000000000000000000000000000000000000",
        "fallback_handler": "0x0000000000000000000000000000000000000000",
    });
    let checksummed: alloy::primitives::Address = SAFE.parse().unwrap();
    let state = groupstate::store::StateWrite {
        group_id: "g".into(),
        contract: checksummed.to_checksum(None),
        kind: groupstate::model::ContractKind::Safe,
        block: 3,
        log_index: 0,
        source: "event",
        state: observed.to_string(),
    };
    support::writes::states(&store, vec![state]).await;
    let (_, v) = c.get("/v1/groups/g/state").await;
    let disagreements = v["contracts"][0]["disagreements"].as_array().unwrap();
    assert!(!disagreements.is_empty(), "{v}");
    assert!(
        disagreements
            .iter()
            .any(|d| d["observed"].as_str().unwrap_or("").contains("000C")
                || d["item"]
                    .as_str()
                    .unwrap_or("")
                    .to_lowercase()
                    .contains("000c")),
        "{v}"
    );
    assert_eq!(v["contracts"][0]["observed_block"], 3);

    // Records: 250 × 3, paged by 100 with no gap and no repeat, and the filters.
    insert_records(&store, "g", 100, 350).await;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let q = match &cursor {
            Some(c) => format!("?limit=100&cursor={c}"),
            None => "?limit=100".into(),
        };
        let (s, v) = c.get(&format!("/v1/groups/g/records{q}")).await;
        assert_eq!(s, 200, "{v}");
        for r in v["records"].as_array().unwrap() {
            seen.push((
                r["block_number"].as_i64().unwrap(),
                r["log_index"].as_i64().unwrap(),
            ));
        }
        if v["has_more"] != true {
            break;
        }
        cursor = Some(v["next_cursor"].as_str().unwrap().to_string());
    }
    let expected: Vec<(i64, i64)> = (100..350)
        .flat_map(|b| (0..3).map(move |l| (b, l)))
        .collect();
    assert_eq!(seen, expected);
    let (_, v) = c
        .get("/v1/groups/g/records?category=decision&limit=1000")
        .await;
    assert_eq!(v["records"].as_array().unwrap().len(), 250);
    assert!(v["records"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["category"] == "decision"));
    assert!(
        v["records"][0]["fields"].is_object(),
        "fields are JSON, not a string"
    );
    let (_, v) = c
        .get("/v1/groups/g/records?kind=safe.added_owner&from_block=200&to_block=209")
        .await;
    assert_eq!(v["records"].as_array().unwrap().len(), 10);
    let t0 = 1_700_000_000 + 300 * 12;
    let (_, v) = c
        .get(&format!(
            "/v1/groups/g/records?from_time={t0}&to_time={}&order=desc",
            t0 + 24
        ))
        .await;
    let blocks: Vec<i64> = v["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["block_number"].as_i64().unwrap())
        .collect();
    assert_eq!(blocks, vec![302, 302, 302, 301, 301, 301, 300, 300, 300]);

    // Decisions: assembled from the records, each Safe execution with its calls.
    let (s, v) = c.get("/v1/groups/g/decisions").await;
    assert_eq!(s, 200);
    let decisions = v.as_array().unwrap();
    assert!(!decisions.is_empty());
    assert!(decisions
        .iter()
        .all(|d| d["type"] == "safe_execution" || d["type"] == "proposal"));
    assert!(decisions
        .iter()
        .filter(|d| d["type"] == "safe_execution")
        .all(|d| d["calls"].is_array()));
    assert_eq!(c.get("/v1/groups/nope/decisions").await.0, 404);
    let (s, v) = c.get("/v1/groups/g/decisions?limit=1").await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some("bad_parameter"))
    );

    // Divergences: filters, acknowledgement with identity, resolution.
    open_divergences(&store, "g", 6).await;
    let (_, v) = c
        .get("/v1/groups/g/divergences?rule=safe.threshold_mismatch")
        .await;
    assert_eq!(v["divergences"].as_array().unwrap().len(), 3);
    let (_, v) = c.get("/v1/groups/g/divergences?limit=4&order=desc").await;
    let ns: Vec<i64> = v["divergences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["n"].as_i64().unwrap())
        .collect();
    assert_eq!(ns, vec![6, 5, 4, 3]);
    let (_, v2) = c
        .get(&format!(
            "/v1/groups/g/divergences?limit=4&order=desc&cursor={}",
            v["next_cursor"].as_str().unwrap()
        ))
        .await;
    assert_eq!(v2["divergences"].as_array().unwrap().len(), 2);
    assert_eq!(v2["has_more"], false);

    let ack = json!({"note": "accepted until the next rotation"}).to_string();
    let (s, v) = c
        .admin("POST", "/v1/groups/g/divergences/1/ack", None, &ack)
        .await;
    assert_eq!((s, code(&v)), (401, "unauthorized"));
    let wrong = json!({"note": "x", "opened_block_hash": format!("0x{:064x}", 99)}).to_string();
    let (s, v) = c
        .admin(
            "POST",
            "/v1/groups/g/divergences/1/ack",
            Some(TOKEN),
            &wrong,
        )
        .await;
    assert_eq!((s, code(&v)), (409, "conflict"), "{v}");
    let right =
        json!({"note": "accepted", "opened_block_hash": format!("0x{:064x}", 10)}).to_string();
    let (s, v) = c
        .admin(
            "POST",
            "/v1/groups/g/divergences/1/ack",
            Some(TOKEN),
            &right,
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (v["status"].as_str(), v["ack_note"].as_str()),
        (Some("acknowledged"), Some("accepted"))
    );
    let (_, v) = c.get("/v1/groups/g/divergences?status=acknowledged").await;
    assert_eq!(v["divergences"].as_array().unwrap().len(), 1);
    let (_, v) = c.get("/v1/groups/g/divergences?status=open").await;
    assert_eq!(v["divergences"].as_array().unwrap().len(), 5);
    for (path, body, want) in [
        (
            "/v1/groups/g/divergences/99/ack",
            ack.as_str(),
            (404, "not_found"),
        ),
        (
            "/v1/groups/nobody/divergences/1/ack",
            ack.as_str(),
            (404, "group_not_found"),
        ),
        (
            "/v1/groups/g/divergences/abc/ack",
            ack.as_str(),
            (400, "bad_parameter"),
        ),
        (
            "/v1/groups/g/divergences/2/ack",
            "{\"note\": 5}",
            (400, "bad_body"),
        ),
        (
            "/v1/groups/g/divergences/2/ack",
            "{\"note\": \"x\", \"extra\": 1}",
            (400, "bad_body"),
        ),
        (
            "/v1/groups/g/divergences/2/ack",
            "{\"note\": \"   \"}",
            (400, "bad_body"),
        ),
        (
            "/v1/groups/g/divergences/2/ack",
            "not json",
            (400, "bad_body"),
        ),
    ] {
        let (s, v) = c.admin("POST", path, Some(TOKEN), body).await;
        assert_eq!((s, code(&v)), want, "{path} {body}: {v}");
    }
    // An acknowledged divergence can still be resolved by the chain; a resolved one cannot be
    // acknowledged.
    support::writes::resolve(&store, "g", 2, 400).await;
    let (s, v) = c
        .admin("POST", "/v1/groups/g/divergences/2/ack", Some(TOKEN), &ack)
        .await;
    assert_eq!((s, code(&v)), (409, "conflict"), "{v}");

    // The chain resolves the acknowledged divergence 1; a reorg then takes the resolving block
    // away: it is open again, and still acknowledged with its note.
    support::writes::resolve(&store, "g", 1, 400).await;
    let (_, v) = c.get("/v1/groups/g/divergences?status=resolved").await;
    assert_eq!(v["divergences"].as_array().unwrap().len(), 2);
    let fork = groupstate::chain::rpc::BlockRef {
        number: 399,
        hash: alloy::primitives::B256::repeat_byte(1),
        parent_hash: alloy::primitives::B256::repeat_byte(2),
    };
    groupstate::sync::unwind(&store, "local", Some(fork))
        .await
        .unwrap();
    let (_, v) = c.get("/v1/groups/g/divergences?status=acknowledged").await;
    let acked = &v["divergences"][0];
    assert_eq!(
        (acked["n"].as_i64(), acked["ack_note"].as_str()),
        (Some(1), Some("accepted")),
        "{v}"
    );
    assert_eq!(acked["resolved_block"], Value::Null);
    let (_, v) = c.get("/v1/groups/g/divergences?status=open").await;
    assert!(
        v["divergences"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["n"] == 2),
        "unacknowledged 2 is plain open: {v}"
    );

    // Operations.
    let (s, v) = c.get("/healthz").await;
    assert_eq!((s, v["status"].as_str()), (200, Some("ok")));
    let (s, v) = c.get("/readyz").await;
    assert_eq!((s, code(&v)), (503, "not_ready"), "no follower runs here");
    let (s, v) = c.get("/metrics").await;
    assert_eq!(s, 200);
    let m = support::prom::Exposition::parse(v.as_str().unwrap());
    assert!(m.has_type("groupstate_divergences_open", "gauge"));
    assert!(m
        .value("groupstate_divergences_open", &[("severity", "high")])
        .is_some());
    assert_eq!(
        m.value("groupstate_log_entries", &[("chain", "local")]),
        Some(0.0)
    );
    // This server's own requests, by route template (its state has a recorder of its own,
    // so other tests' servers in this process do not count here).
    let requests = |route: &str, method: &str, status: &str| {
        m.histogram(
            "groupstate_api_request_seconds",
            &[("route", route), ("method", method), ("status", status)],
        )
        .map_or(0.0, |h| {
            h.assert_sound();
            h.count
        })
    };
    assert_eq!(requests("/healthz", "GET", "200"), 1.0);
    assert_eq!(requests("/readyz", "GET", "503"), 1.0);
    assert!(requests("/v1/groups/{id}/divergences", "GET", "200") >= 3.0);
    assert!(requests("/v1/groups/{id}/divergences/{n}/ack", "POST", "200") >= 1.0);
    let (s, v) = c.get("/v1/nothing/here").await;
    assert_eq!((s, code(&v)), (404, "not_found"));
}
on_both_backends!(
    groups_records_and_divergences,
    groups_records_and_divergences_over_a_socket
);

/// Group `g` with three records in each block of `blocks`, served on a socket.
async fn group_with_records(
    backend: support::Backend,
    blocks: std::ops::Range<i64>,
) -> (support::TestDb, Store, Server, Client) {
    let db = support::TestDb::new(backend).await;
    let store = db.store().await;
    store
        .add_group(&groupstate::manifest::Manifest::parse(&manifest("g", 2)).unwrap())
        .await
        .unwrap();
    insert_records(&store, "g", blocks.start, blocks.end).await;
    let server = serve(store.clone()).await;
    let c = Client::new(server.addr);
    (db, store, server, c)
}

/// Malformed and hostile parameters are refused with a 400 naming them, and change nothing.
async fn hostile_parameters_are_named_and_harmless(backend: support::Backend) {
    let (_db, store, _server, c) = group_with_records(backend, 1..11).await;
    let huge = "9".repeat(400);
    let long_cursor = "A".repeat(10_000);
    for (query, name) in [
        ("limit=100000000", "limit"),
        (&format!("limit={huge}") as &str, "limit"),
        ("limit=-5", "limit"),
        ("limit=0", "limit"),
        ("cursor=bm90LWEtY3Vyc29y", "cursor"),
        (&format!("cursor={long_cursor}"), "cursor"),
        ("cursor=%00%01%02", "cursor"),
        ("kind=%27%3B%20DROP%20TABLE%20records%3B%20--", "kind"),
        ("category=decision%27%20OR%20%271%27%3D%271", "category"),
        ("from_block=1%20OR%201%3D1", "from_block"),
        ("from_block=18446744073709551616", "from_block"),
        ("order=asc%3B", "order"),
        ("limit=5&limit=6", "limit"),
        ("%27%20OR%201%3D1=1", "' OR 1=1"),
    ] {
        let (s, v) = c.get(&format!("/v1/groups/g/records?{query}")).await;
        assert_eq!((s, code(&v)), (400, "bad_parameter"), "{query}: {v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains(&format!("`{name}`")),
            "{query}: {v}"
        );
    }
    for (query, name) in [
        ("status=open%27--", "status"),
        ("severity=HIGH", "severity"),
        ("rule=%2A", "rule"),
    ] {
        let (s, v) = c.get(&format!("/v1/groups/g/divergences?{query}")).await;
        assert_eq!((s, code(&v)), (400, "bad_parameter"), "{query}");
        assert!(v["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&format!("`{name}`")));
    }
    // A group id that looks like SQL is just an unknown group.
    let (s, v) = c.get("/v1/groups/g%27%20OR%20%271%27%3D%271/records").await;
    assert_eq!((s, code(&v)), (404, "group_not_found"));
    let (s, v) = c.get("/v1/log/proof/inclusion?index=abc").await;
    assert_eq!((s, code(&v)), (400, "bad_parameter"));
    // A path that is not UTF-8, a method a route does not take, a body over the limit: JSON
    // errors too, never axum's plain text.
    let (s, v) = c.get("/v1/groups/%FF%FE/records").await;
    assert_eq!((s, code(&v)), (400, "bad_parameter"), "{v}");
    let (s, v) = c.send(c.http.delete(format!("{}/v1/groups", c.base))).await;
    assert_eq!((s, code(&v)), (405, "method_not_allowed"), "{v}");
    let huge_body = "x".repeat(3 << 20);
    let (s, v) = c.admin("POST", "/v1/groups", Some(TOKEN), &huge_body).await;
    assert_eq!((s, code(&v)), (413, "payload_too_large"), "{v}");
    assert_eq!(
        store.count_records("g").await.unwrap(),
        30,
        "nothing changed"
    );
}
on_both_backends!(
    hostile_parameters,
    hostile_parameters_are_named_and_harmless
);

/// The state view gives the observed side in the declared form — decimals, a timelock's
/// holders under its declared rows, roles by name — with the stored form beside it, and the
/// OpenAPI document says so.
async fn state_reads_in_the_declared_form(backend: support::Backend) {
    use support::governance_state::{self as gov, GOVERNOR, STRANGER, TIMELOCK};
    let db = support::TestDb::new(backend).await;
    let store = db.store().await;
    store
        .add_group(&groupstate::manifest::Manifest::parse(&gov::manifest("gov")).unwrap())
        .await
        .unwrap();
    support::writes::states(&store, gov::observed_states("gov")).await;
    let app = router(state(store.clone()));
    let (s, v) = call(&app, "GET", "/v1/groups/gov/state", None, String::new()).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let contract = |kind: &str| {
        v["contracts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind} in {v}"))
            .clone()
    };
    let c = |a: alloy::primitives::Address| a.to_checksum(None);

    let governor = contract("governor");
    assert_eq!(
        governor["observed"],
        json!({
            "timelock": c(TIMELOCK),
            "voting_delay": 1,
            "voting_period": 50400,
            "quorum_numerator": 10,
            "proposal_threshold": "0",
        })
    );
    // The stored form, as before, beside it.
    assert_eq!(governor["observed_raw"]["voting_period"], "0xc4e0");
    assert_eq!(governor["observed_raw"]["quorum_numerator"], "0xa");
    assert_eq!(governor["declared"]["quorum_numerator"], 4);
    assert_eq!(governor["disagreements"][0]["item"], "quorum_numerator=10");

    let timelock = contract("timelock");
    let observed = &timelock["observed"];
    assert_eq!(observed["min_delay"], 172800);
    let mut proposers = vec![c(GOVERNOR), c(STRANGER)];
    proposers.sort_by_key(|a| a.to_lowercase());
    assert_eq!(observed["proposers"], json!(proposers));
    assert_eq!(
        observed["executors"],
        json!([c(alloy::primitives::Address::ZERO)])
    );
    assert_eq!(observed["cancellers"], json!([c(GOVERNOR)]));
    assert_eq!(
        observed["admins"],
        json!([]),
        "the timelock administers itself"
    );
    assert!(timelock["observed_raw"]["roles"]["members"].is_object());
    assert_eq!(
        timelock["disagreements"][0]["item"],
        format!("PROPOSER_ROLE:{}", c(STRANGER))
    );

    let token = contract("roles");
    let members = &token["observed"]["members"];
    assert_eq!(members["MINTER_ROLE"], json!([c(gov::ADMIN)]));
    assert_eq!(
        members["PAUSER_ROLE"],
        json!([c(gov::ADMIN)]),
        "named by the catalog"
    );
    assert_eq!(
        members[gov::unknown_role().to_string()],
        json!([c(STRANGER)]),
        "an unknown role by its hash"
    );
    // Nothing in the declared form is written in hex but addresses and unknown role hashes.
    let text = v["contracts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["observed"].to_string())
        .collect::<String>();
    assert!(
        !text.contains("\"0x1\"") && !text.contains("\"0xa\""),
        "{text}"
    );

    let (_, doc) = call(&app, "GET", "/v1/openapi.json", None, String::new()).await;
    let schema = &doc["components"]["schemas"]["ContractState"]["properties"];
    assert!(schema["observed"]["description"]
        .as_str()
        .is_some_and(|d| d.contains("declared")));
    assert!(schema["observed_raw"].is_object(), "{schema}");
}
on_both_backends!(state_in_the_declared_form, state_reads_in_the_declared_form);

/// Pages stay exact while the follower writes: every record once, in order.
async fn pages_are_exact_while_records_arrive(backend: support::Backend) {
    let (_db, store, _server, c) = group_with_records(backend, 0..50).await;
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            for chunk in 0..40 {
                let from = 50 + chunk * 5;
                insert_records(&store, "g", from, from + 5).await;
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        })
    };
    // A client tailing the records: page with the cursor; on a short page, wait and ask again
    // from the same cursor, until the writer is done and a page comes back empty.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let q = cursor
            .as_ref()
            .map(|c| format!("&cursor={c}"))
            .unwrap_or_default();
        let (s, v) = c.get(&format!("/v1/groups/g/records?limit=37{q}")).await;
        assert_eq!(s, 200);
        let page = v["records"].as_array().unwrap();
        for r in page {
            seen.push((
                r["block_number"].as_i64().unwrap(),
                r["log_index"].as_i64().unwrap(),
            ));
        }
        if let Some(next) = v["next_cursor"].as_str() {
            cursor = Some(next.to_string());
        }
        if page.is_empty() && writer.is_finished() {
            break;
        }
        if v["has_more"] != true {
            tokio::time::sleep(std::time::Duration::from_millis(3)).await;
        }
    }
    writer.await.unwrap();
    let expected: Vec<(i64, i64)> = (0..250).flat_map(|b| (0..3).map(move |l| (b, l))).collect();
    let unique: BTreeSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no record twice");
    assert_eq!(seen, expected, "every record, in order");
}
on_both_backends!(
    pagination_under_inserts,
    pages_are_exact_while_records_arrive
);

/// Calls the router in-process.
async fn call(
    app: &axum::Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: String,
) -> (StatusCode, Value) {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let resp = app
        .clone()
        .oneshot(req.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 24)
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&bytes).to_string();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Every operation the document lists answers with one of its documented statuses and a body
/// matching the documented schema; every admin operation refuses a missing or wrong token, and
/// answers 403 when no token is configured.
async fn the_server_matches_its_openapi_document(backend: support::Backend) {
    let db = support::TestDb::new(backend).await;
    let store = db.store().await;
    store
        .add_group(&groupstate::manifest::Manifest::parse(&manifest("g", 2)).unwrap())
        .await
        .unwrap();
    insert_records(&store, "g", 1, 5).await;
    open_divergences(&store, "g", 2).await;
    // A covenant `g` between `g` and a second group, so its routes answer with a body too.
    store
        .add_group(&groupstate::manifest::Manifest::parse(&manifest("g2", 2)).unwrap())
        .await
        .unwrap();
    let covenant = groupstate::manifest::covenant::Covenant::parse(&format!(
        "id: g\nparties: [g, g2]\nterms:\n  - {{ clause: min_threshold, safe: \"{SAFE}\", value: 2 }}\n"
    ))
    .unwrap();
    store.add_covenant(&covenant).await.unwrap();
    let app = router(state(store.clone()));
    let no_admin = router(ApiState::new(store.clone(), vec!["local".into()]));
    let (s, doc) = call(&app, "GET", "/v1/openapi.json", None, String::new()).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(doc["openapi"].as_str().map(|v| &v[..2]), Some("3."));
    let paths = doc["paths"].as_object().unwrap();
    for expected in [
        "/v1/groups",
        "/v1/groups/{id}",
        "/v1/groups/{id}/state",
        "/v1/groups/{id}/records",
        "/v1/groups/{id}/divergences",
        "/v1/groups/{id}/divergences/{n}/ack",
        "/v1/log/checkpoint",
        "/v1/log/entries",
        "/v1/log/proof/inclusion",
        "/v1/log/proof/consistency",
        "/healthz",
        "/readyz",
        "/metrics",
        "/v1/alerts",
        "/v1/alerts/{key}/retry",
        "/groups/{id}",
        "/v1/covenants",
        "/v1/covenants/{id}",
        "/v1/covenants/{id}/ratifications",
        "/covenants/{id}",
    ] {
        assert!(paths.contains_key(expected), "{expected} is documented");
    }
    let mut admin_ops = 0;
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            let uri = path
                .replace("{id}", "g")
                .replace("{n}", "1")
                .replace("{key}", "no-such-key");
            let uri = if path == "/v1/log/proof/inclusion" {
                format!("{uri}?index=0")
            } else if path == "/v1/log/proof/consistency" {
                format!("{uri}?from=0")
            } else {
                uri
            };
            let method = method.to_uppercase();
            let body = match (method.as_str(), path.as_str()) {
                ("POST", "/v1/groups") => manifest("h", 2),
                ("PUT", _) => manifest("g", 1),
                ("POST", _) => json!({"note": "fine"}).to_string(),
                _ => String::new(),
            };
            let secured = op.get("security").is_some();
            if secured {
                admin_ops += 1;
                for token in [None, Some("not-the-token-but-long-enough")] {
                    let (s, v) = call(&app, &method, &uri, token, body.clone()).await;
                    assert_eq!(
                        (s, code(&v)),
                        (StatusCode::UNAUTHORIZED, "unauthorized"),
                        "{method} {uri}"
                    );
                }
                let (s, v) = call(&no_admin, &method, &uri, Some(TOKEN), body.clone()).await;
                assert_eq!(
                    (s, code(&v)),
                    (StatusCode::FORBIDDEN, "admin_disabled"),
                    "{method} {uri}"
                );
            }
            let (s, v) = call(&app, &method, &uri, secured.then_some(TOKEN), body).await;
            let responses = op["responses"].as_object().unwrap();
            let documented = responses
                .get(s.as_str())
                .unwrap_or_else(|| panic!("{method} {uri} answered {s}, not documented: {v}"));
            if let Some(schema) = documented.pointer("/content/application~1json/schema") {
                if let Err(e) = check(&doc, schema, &v, "$") {
                    panic!("{method} {uri} ({s}) does not match its schema: {e}\n{v}");
                }
            }
        }
    }
    assert_eq!(
        admin_ops, 7,
        "POST /v1/groups, PUT /v1/groups/{{id}}, POST …/ack, POST /v1/alerts/{{key}}/retry, \
         POST /v1/covenants, PUT /v1/covenants/{{id}}, POST /v1/covenants/{{id}}/ratifications"
    );
}
on_both_backends!(openapi_document, the_server_matches_its_openapi_document);

/// A small JSON Schema check for what utoipa emits: `$ref`, `type` (one or several), `oneOf`,
/// `allOf`, `properties` (no undocumented field), `required`, `items`, `minimum`.
fn check(doc: &Value, schema: &Value, v: &Value, at: &str) -> Result<(), String> {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.trim_start_matches("#/components/schemas/");
        let target = doc["components"]["schemas"]
            .get(name)
            .ok_or(format!("{at}: no schema {name}"))?;
        return check(doc, target, v, at);
    }
    if let Some(all) = schema["allOf"].as_array() {
        for s in all {
            check(doc, s, v, at)?;
        }
    }
    if let Some(any) = schema["oneOf"].as_array().or(schema["anyOf"].as_array()) {
        if !any.iter().any(|s| check(doc, s, v, at).is_ok()) {
            return Err(format!("{at}: matches none of {any:?}"));
        }
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    if !types.is_empty() {
        let ok = types.iter().any(|t| match *t {
            "null" => v.is_null(),
            "string" => v.is_string(),
            "boolean" => v.is_boolean(),
            "integer" => v.is_i64() || v.is_u64(),
            "number" => v.is_number(),
            "array" => v.is_array(),
            "object" => v.is_object(),
            _ => false,
        });
        if !ok {
            return Err(format!("{at}: {v} is not {types:?}"));
        }
    }
    if let (Some(min), Some(n)) = (schema["minimum"].as_f64(), v.as_f64()) {
        if n < min {
            return Err(format!("{at}: {n} below {min}"));
        }
    }
    if let (Some(props), Some(obj)) = (schema["properties"].as_object(), v.as_object()) {
        for req in schema["required"].as_array().into_iter().flatten() {
            let req = req.as_str().unwrap();
            if !obj.contains_key(req) {
                return Err(format!("{at}: missing required {req}"));
            }
        }
        for (k, val) in obj {
            let s = props
                .get(k)
                .ok_or(format!("{at}: undocumented field {k}"))?;
            check(doc, s, val, &format!("{at}.{k}"))?;
        }
    }
    if let (Some(items), Some(arr)) = (schema.get("items"), v.as_array()) {
        for (i, val) in arr.iter().enumerate() {
            check(doc, items, val, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}
