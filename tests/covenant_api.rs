//! Covenants over the API, the status page and the command line, on both backends: a wrong
//! document refused with every problem by path (unknown party, undeclared Safe, unknown sink
//! among them); add, list, show and update with the versions and their history; two groups
//! whose real Safes (anvil, Safe 1.4.1, three owners and threshold two each) ratify a covenant
//! by two owners each, shown ratified by every party everywhere, one party alone partially,
//! a stranger's signature refused, signatures handed in with a version checked before it is
//! stored; and a breach of a clause — stored, or made on the devnet and indexed by a follower —
//! shown as the clause's verdict with its evidence.

mod support;

use alloy::primitives::{Address, B256};
use alloy::signers::local::PrivateKeySigner;
use alloy::signers::SignerSync;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use devnet::{Devnet, DevnetOptions, SafeContracts, SafeVersion};
use groupstate::api::{router, ApiState};
use groupstate::config::Secret;
use groupstate::manifest::covenant::{signing_hash, CovenantItem};
use groupstate::manifest::ratify::OwnerSignature;
use groupstate::manifest::{Manifest, ManifestHash};
use groupstate::model::Rule;
use groupstate::ratify::ChainAccess;
use groupstate::store::{Divergence, Store};
use serde_json::{json, Value};
use tower::ServiceExt;

const TOKEN: &str = "an-admin-token-for-covenant-tests";
const SINK: &str = "lake-hook";

/// A store with two registered groups, each declaring one Safe.
struct World {
    db: support::TestDb,
    store: Store,
    river_safe: Address,
    lake_safe: Address,
    dir: tempfile::TempDir,
    /// RPC access to the devnet, when there is one.
    chain: Option<(String, u64)>,
}

async fn world(
    backend: support::Backend,
    river: (Address, Vec<Address>),
    lake: (Address, Vec<Address>),
    chain: Option<(String, u64)>,
) -> World {
    let db = support::TestDb::new(backend).await;
    let store = db.store().await;
    for (id, (safe, owners)) in [("river-guild", &river), ("lake-collective", &lake)] {
        let m = Manifest::parse(&support::safe_manifest(
            id,
            0,
            &[(*safe, owners.clone(), 2)],
        ))
        .unwrap();
        store.add_group(&m).await.unwrap();
    }
    World {
        db,
        store,
        river_safe: river.0,
        lake_safe: lake.0,
        dir: tempfile::tempdir().unwrap(),
        chain,
    }
}

fn addresses(byte: u8) -> (Address, Vec<Address>) {
    (
        Address::repeat_byte(byte),
        (1..=3)
            .map(|i| Address::repeat_byte(byte.wrapping_add(i)))
            .collect(),
    )
}

impl World {
    fn state(&self) -> ApiState {
        let mut state = ApiState {
            admin_token: Secret::new(TOKEN),
            sinks: vec![SINK.to_string()],
            ..ApiState::new(self.store.clone(), vec!["local".into()])
        };
        state
            .explorers
            .insert("local".into(), "https://explorer.example".into());
        if let Some((url, chain_id)) = &self.chain {
            let rpc = groupstate::chain::rpc::Rpc::new(
                url,
                groupstate::chain::rpc::RetryPolicy::from(&support::follower_config()),
            )
            .unwrap();
            state.chain_access.insert(
                "local".into(),
                ChainAccess {
                    rpc,
                    chain_id: *chain_id,
                },
            );
        }
        state
    }

    fn app(&self) -> axum::Router {
        router(self.state())
    }

    /// The configuration the command line reads: the sink, the explorer, and the devnet.
    fn config(&self) -> std::path::PathBuf {
        let path = self.dir.path().join("c.toml");
        let (url, chain_id) = self
            .chain
            .clone()
            .unwrap_or(("http://127.0.0.1:9".into(), 31337));
        std::fs::write(
            &path,
            format!(
                "[chains.local]\nrpc_url = \"{url}\"\nchain_id = {chain_id}\n\
                 explorer_url = \"https://explorer.example\"\n\n\
                 [[alerts.sinks]]\nname = \"{SINK}\"\nkind = \"log\"\n"
            ),
        )
        .unwrap();
        path
    }

    /// Runs the command line on this world's database; its output.
    async fn cli(&self, args: &[&str], env: &[(&str, String)]) -> std::process::Output {
        let mut all = vec!["--config".to_string(), self.config().display().to_string()];
        all.extend(args.iter().map(|s| s.to_string()));
        let url = self.db.url.clone();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        tokio::task::spawn_blocking(move || {
            let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_groupstate"));
            cmd.args(&all)
                .env("GROUPSTATE__DATABASE__URL", url)
                .env("RUST_LOG", "error");
            for (k, v) in env {
                cmd.env(k, v);
            }
            cmd.output().unwrap()
        })
        .await
        .unwrap()
    }

    fn file(&self, name: &str, text: &str) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    }

    /// A covenant between the two groups about their Safes.
    fn covenant(&self, threshold: u64) -> String {
        format!(
            "id: river-x-lake\nsummary: The river and the lake keep their Safes guarded.\n\
             parties: [river-guild, lake-collective]\nterms:\n\
             \x20 - {{ clause: min_threshold, safe: \"{}\", value: {threshold} }}\n\
             \x20 - {{ clause: keeps_owner, safe: \"{}\", owner: \"{}\" }}\n\
             \x20 - {{ clause: reratified_within, group: lake-collective, days: 90 }}\n\
             notify: [{SINK}]\n",
            self.river_safe,
            self.lake_safe,
            Address::repeat_byte(0x71),
        )
    }
}

async fn send(app: &axum::Router, method: &str, uri: &str, body: String) -> (StatusCode, Value) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {TOKEN}"))
        .body(Body::from(body))
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 24)
        .await
        .unwrap();
    let v =
        serde_json::from_slice(&bytes).unwrap_or_else(|_| json!(String::from_utf8_lossy(&bytes)));
    (status, v)
}

async fn get(app: &axum::Router, uri: &str) -> (StatusCode, String) {
    let req = Request::builder().uri(uri).body(Body::empty()).unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 24)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

async fn get_json(app: &axum::Router, uri: &str) -> Value {
    let (status, body) = get(app, uri).await;
    assert_eq!(status, StatusCode::OK, "{uri}: {body}");
    serde_json::from_str(&body).unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The problems of a 422, as `path: message` lines.
fn problems(v: &Value) -> Vec<String> {
    v["error"]["details"]["problems"]
        .as_array()
        .unwrap_or_else(|| panic!("no problems in {v}"))
        .iter()
        .map(|p| {
            format!(
                "{}: {}",
                p["path"].as_str().unwrap(),
                p["message"].as_str().unwrap()
            )
        })
        .collect()
}

async fn wrong_documents_are_refused_with_every_problem_by_path(backend: support::Backend) {
    let w = world(backend, addresses(0x10), addresses(0x20), None).await;
    let app = w.app();

    // A document that is wrong in itself: every problem at once.
    let broken = "id: River X\nparties: [river-guild]\nterms:\n  - { clause: min_thresold, value: 2 }\n  - { clause: max_index_lag }\ncolour: red\n";
    let (status, v) = send(&app, "POST", "/v1/covenants", broken.into()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["code"], "invalid_covenant");
    let lines = problems(&v).join("\n");
    for path in [
        "colour: unknown field",
        "id:",
        "parties: at least two parties",
        "terms[0].clause:",
        "terms[1].seconds:",
    ] {
        assert!(lines.contains(path), "{path} in {lines}");
    }

    // A valid document naming what is not here: an unregistered group, a Safe no party
    // declares, a sink that is not configured — all three named.
    let stranger_safe = Address::repeat_byte(0x99);
    let unknown = format!(
        "id: river-x-sea\nparties: [river-guild, sea-folk]\nterms:\n\
         \x20 - {{ clause: min_threshold, safe: \"{}\", value: 2 }}\n\
         \x20 - {{ clause: min_owners, safe: \"{stranger_safe}\", value: 3 }}\n\
         \x20 - {{ clause: min_timelock_delay, timelock: \"{stranger_safe}\", seconds: 60 }}\n\
         notify: [{SINK}, nowhere]\n",
        w.river_safe
    );
    let (status, v) = send(&app, "POST", "/v1/covenants", unknown.clone()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(
        problems(&v),
        [
            "parties[1]: group \"sea-folk\" is not registered".to_string(),
            format!("terms[1].safe: no party declares Safe {stranger_safe}"),
            format!("terms[2].timelock: no party declares timelock {stranger_safe}"),
            "notify[1]: sink \"nowhere\" is not configured in [[alerts.sinks]]".to_string(),
        ]
    );
    // The message says it in words too.
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("parties[1]: group \"sea-folk\" is not registered"));

    // The command line refuses the same documents with the same lines.
    let broken_file = w.file("broken.yaml", broken);
    let out = w.cli(&["covenant", "add", &broken_file], &[]).await;
    assert!(!out.status.success());
    let err = text(&out.stderr);
    for path in [
        "colour: unknown field",
        "parties: at least two parties",
        "terms[0].clause:",
    ] {
        assert!(err.contains(path), "{path} in {err}");
    }
    let unknown_file = w.file("unknown.yaml", &unknown);
    let out = w.cli(&["covenant", "add", &unknown_file], &[]).await;
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("parties[1]: group \"sea-folk\" is not registered"),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "terms[1].safe: no party declares Safe {stranger_safe}"
        )),
        "{err}"
    );
    assert!(
        err.contains("notify[1]: sink \"nowhere\" is not configured in [[alerts.sinks]]"),
        "{err}"
    );

    // A sink the command line's configuration does not know either.
    let (status, v) = send(
        &app,
        "POST",
        "/v1/covenants",
        w.covenant(2).replace(SINK, "elsewhere"),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(
        problems(&v),
        ["notify[0]: sink \"elsewhere\" is not configured in [[alerts.sinks]]"]
    );

    // Nothing was stored; admin routes need the token.
    assert_eq!(
        get_json(&app, "/v1/covenants").await["covenants"],
        json!([])
    );
    let req = Request::builder()
        .method("POST")
        .uri("/v1/covenants")
        .body(Body::from(w.covenant(2)))
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}
on_both_backends!(
    wrong_documents_are_refused,
    wrong_documents_are_refused_with_every_problem_by_path
);

async fn a_covenant_is_added_listed_shown_and_versioned(backend: support::Backend) {
    let w = world(backend, addresses(0x10), addresses(0x20), None).await;
    let app = w.app();

    let (status, v) = send(&app, "POST", "/v1/covenants", w.covenant(2)).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(v["id"], "river-x-lake");
    assert_eq!(v["version"], 1);
    assert_eq!(v["standing"]["text"], "unsigned");
    let hash1 = v["hash"].as_str().unwrap().to_string();
    // The same document again is a conflict.
    let (status, _) = send(&app, "POST", "/v1/covenants", w.covenant(2)).await;
    assert_eq!(status, StatusCode::CONFLICT);

    let list = get_json(&app, "/v1/covenants").await;
    assert_eq!(list["covenants"].as_array().unwrap().len(), 1);
    let c = &list["covenants"][0];
    assert_eq!(c["id"], "river-x-lake");
    assert_eq!(c["version"], 1);
    assert_eq!(c["hash"], hash1);
    assert_eq!(c["parties"], json!(["river-guild", "lake-collective"]));
    assert_eq!(c["standing"]["text"], "unsigned");
    assert_eq!(c["open_breaches"], 0);
    assert_eq!(c["at_risk"], 0);

    let d = get_json(&app, "/v1/covenants/river-x-lake").await;
    assert_eq!(d["document"]["id"], "river-x-lake");
    assert_eq!(d["document"]["terms"][0]["clause"], "min_threshold");
    assert_eq!(d["parties"][0]["id"], "river-guild");
    assert_eq!(d["parties"][0]["kind"], "group");
    assert_eq!(d["parties"][0]["ratification"], Value::Null);
    let verdicts: Vec<&str> = d["clauses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["verdict"].as_str().unwrap())
        .collect();
    assert_eq!(verdicts, ["holds", "holds", "holds"]);
    assert_eq!(
        d["clauses"][0]["text"],
        format!("Safe {} requires at least 2 signatures", w.river_safe)
    );
    assert_eq!(d["history"], json!([]));

    // Versions: through the API, and through the command line.
    let (status, v) = send(&app, "PUT", "/v1/covenants/river-x-lake", w.covenant(2)).await;
    assert_eq!(status, StatusCode::CONFLICT, "identical: {v}");
    let (status, v) = send(
        &app,
        "PUT",
        "/v1/covenants/river-x-lake?expected_version=5",
        w.covenant(3),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    let (status, v) = send(&app, "PUT", "/v1/covenants/nothing-here", w.covenant(3)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{v}");
    assert_eq!(v["error"]["code"], "covenant_not_found");
    let (status, v) = send(
        &app,
        "PUT",
        "/v1/covenants/river-x-lake?expected_version=2",
        w.covenant(3),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["version"], 2);
    assert_eq!(v["versions"].as_array().unwrap().len(), 2);
    assert_eq!(v["versions"][0]["hash"], hash1);
    assert_ne!(v["versions"][1]["hash"], hash1);

    let v3 = w.file("v3.yaml", &w.covenant(4));
    let out = w
        .cli(&["covenant", "update", &v3, "--expected-version", "4"], &[])
        .await;
    assert!(!out.status.success(), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("would be version 3, not 4"),
        "{}",
        text(&out.stderr)
    );
    let out = w.cli(&["covenant", "update", &v3], &[]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("river-x-lake: version 3 ("),
        "{}",
        text(&out.stdout)
    );

    // `covenant show --json` and `covenant list --json` print what the API answers.
    let d = get_json(&app, "/v1/covenants/river-x-lake").await;
    assert_eq!(d["version"], 3);
    assert_eq!(
        d["clauses"][0]["text"],
        format!("Safe {} requires at least 4 signatures", w.river_safe)
    );
    let out = w
        .cli(&["covenant", "show", "river-x-lake", "--json"], &[])
        .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(serde_json::from_slice::<Value>(&out.stdout).unwrap(), d);
    let out = w.cli(&["covenant", "list", "--json"], &[]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        serde_json::from_slice::<Value>(&out.stdout).unwrap(),
        get_json(&app, "/v1/covenants").await
    );
    let out = w.cli(&["covenant", "list"], &[]).await;
    let listed = text(&out.stdout);
    assert!(
        listed.contains("river-x-lake") && listed.contains("unsigned"),
        "{listed}"
    );
    let out = w.cli(&["covenant", "show", "river-x-lake"], &[]).await;
    let shown = text(&out.stdout);
    assert!(shown.contains("standing: unsigned"), "{shown}");
    assert!(shown.contains("[0] holds — Safe"), "{shown}");
    let out = w.cli(&["covenant", "show", "nothing-here"], &[]).await;
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("no covenant nothing-here is registered"));

    // Added through the command line too.
    let other = w.covenant(2).replace("river-x-lake", "lake-x-river");
    let file = w.file("other.yaml", &other);
    let out = w.cli(&["covenant", "add", &file], &[]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("registered covenant lake-x-river (version 1, "));
    let list = get_json(&app, "/v1/covenants").await;
    let ids: Vec<&str> = list["covenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["lake-x-river", "river-x-lake"]);

    // The page, and the group's page linking to it.
    let (status, page) = get(&app, "/covenants/river-x-lake").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("unsigned"), "{page}");
    assert!(page.contains("href=\"/v1/covenants/river-x-lake\""));
    let (status, _) = get(&app, "/covenants/nothing-here").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, group_page) = get(&app, "/groups/river-guild").await;
    assert!(
        group_page.contains("href=\"/covenants/river-x-lake\""),
        "{group_page}"
    );
}
on_both_backends!(
    add_list_show_update,
    a_covenant_is_added_listed_shown_and_versioned
);

/// The EIP-712 signature of `key` ratifying version `version` of `detail` for `party`.
fn sign(key: &PrivateKeySigner, detail: &Value, party: &str, chain_id: u64) -> OwnerSignature {
    let hash: ManifestHash = detail["hash"].as_str().unwrap().parse().unwrap();
    let digest = signing_hash(
        detail["id"].as_str().unwrap(),
        detail["version"].as_u64().unwrap(),
        &hash,
        party,
        chain_id,
    );
    OwnerSignature {
        signer: key.address(),
        signature: key
            .sign_hash_sync(&digest)
            .unwrap()
            .as_bytes()
            .to_vec()
            .into(),
    }
}

async fn two_owners_of_each_safe_ratify_for_their_group(backend: support::Backend) {
    let chain = Devnet::start(DevnetOptions::default()).await.unwrap();
    let contracts = SafeContracts::deploy(&chain).await.unwrap();
    let keys = devnet::signers(7);
    let river_owners: Vec<Address> = keys[..3].iter().map(|k| k.address()).collect();
    let lake_owners: Vec<Address> = keys[3..6].iter().map(|k| k.address()).collect();
    let river_safe = contracts
        .create_safe(&chain, SafeVersion::V141L2, &river_owners, 2, 1)
        .await
        .unwrap();
    let lake_safe = contracts
        .create_safe(&chain, SafeVersion::V141L2, &lake_owners, 2, 2)
        .await
        .unwrap();
    let chain_id = chain.chain_id();
    let w = world(
        backend,
        (river_safe, river_owners),
        (lake_safe, lake_owners),
        Some((chain.rpc_url(), chain_id)),
    )
    .await;
    let app = w.app();
    let (status, d) = send(&app, "POST", "/v1/covenants", w.covenant(2)).await;
    assert_eq!(status, StatusCode::CREATED, "{d}");

    // A stranger (an owner of the other Safe) cannot ratify for the river.
    let stranger = [
        sign(&keys[0], &d, "river-guild", chain_id),
        sign(&keys[3], &d, "river-guild", chain_id),
    ];
    let (status, v) = send(
        &app,
        "POST",
        "/v1/covenants/river-x-lake/ratifications",
        json!({"party": "river-guild", "signatures": stranger}).to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["code"], "invalid_ratification");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&format!("{} is not one of the", keys[3].address())),
        "{v}"
    );
    // Not a party; no such covenant.
    let (status, _) = send(
        &app,
        "POST",
        "/v1/covenants/river-x-lake/ratifications",
        json!({"party": "sea-folk", "signatures": stranger}).to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = send(
        &app,
        "POST",
        "/v1/covenants/nothing-here/ratifications",
        json!({"party": "river-guild", "signatures": stranger}).to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        get_json(&app, "/v1/covenants/river-x-lake").await["standing"]["text"],
        "unsigned"
    );

    // Two of the river's three owners: one party of two.
    let river = [
        sign(&keys[0], &d, "river-guild", chain_id),
        sign(&keys[2], &d, "river-guild", chain_id),
    ];
    let (status, v) = send(
        &app,
        "POST",
        "/v1/covenants/river-x-lake/ratifications",
        json!({"party": "river-guild", "version": 1, "signatures": river}).to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["standing"]["text"], "partially ratified (1 of 2 parties)");
    let r = &v["parties"][0]["ratification"];
    assert_eq!(r["version"], 1);
    assert_eq!(r["signers"].as_array().unwrap().len(), 2);
    assert_eq!(r["signers"][0]["scheme"], "ecdsa");
    assert!(r["summary"].as_str().unwrap().contains("2 of 3"), "{r}");
    assert_eq!(v["parties"][1]["ratification"], Value::Null);
    let list = get_json(&app, "/v1/covenants").await;
    assert_eq!(
        list["covenants"][0]["standing"]["text"],
        "partially ratified (1 of 2 parties)"
    );
    let (_, page) = get(&app, "/covenants/river-x-lake").await;
    assert!(
        page.contains("partially ratified (1 of 2 parties)"),
        "{page}"
    );

    // The lake's owners sign from the command line and ratify with the signatures file.
    let mut lines = Vec::new();
    for key in [&keys[4], &keys[5]] {
        let out = w
            .cli(
                &[
                    "covenant",
                    "sign",
                    "river-x-lake",
                    "--party",
                    "lake-collective",
                    "--key-env",
                    "SIGNER_KEY",
                ],
                &[("SIGNER_KEY", format!("0x{}", hex::encode(key.to_bytes())))],
            )
            .await;
        assert!(out.status.success(), "{}", text(&out.stderr));
        let s: OwnerSignature = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(s, sign(key, &d, "lake-collective", chain_id));
        lines.push(text(&out.stdout));
    }
    let sigs = w.file("lake.jsonl", &lines.concat());
    // A file signed for the lake does not ratify for the river.
    let out = w
        .cli(
            &[
                "covenant",
                "ratify",
                "river-x-lake",
                "--party",
                "river-guild",
                "--signatures",
                &sigs,
            ],
            &[],
        )
        .await;
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("is not one of the"),
        "{}",
        text(&out.stderr)
    );
    let out = w
        .cli(
            &[
                "covenant",
                "ratify",
                "river-x-lake",
                "--party",
                "lake-collective",
                "--signatures",
                &sigs,
            ],
            &[],
        )
        .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).ends_with("; ratified by every party\n"),
        "{}",
        text(&out.stdout)
    );

    // Everywhere: the API, the command line, the page, the group's page.
    let d = get_json(&app, "/v1/covenants/river-x-lake").await;
    assert_eq!(d["standing"]["text"], "ratified by every party");
    assert_eq!(
        d["parties"][1]["ratification"]["signers"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let out = w.cli(&["covenant", "show", "river-x-lake"], &[]).await;
    assert!(
        text(&out.stdout).contains("standing: ratified by every party"),
        "{}",
        text(&out.stdout)
    );
    let out = w.cli(&["covenant", "list"], &[]).await;
    assert!(text(&out.stdout).contains("ratified by every party"));
    let (_, page) = get(&app, "/covenants/river-x-lake").await;
    assert!(
        page.contains("id=\"standing\">ratified by every party<"),
        "{page}"
    );
    let (_, group_page) = get(&app, "/groups/lake-collective").await;
    assert!(
        group_page.contains("ratified by every party"),
        "{group_page}"
    );

    // A new version needs ratifying again; signatures may come with it in an envelope, and are
    // checked before anything is stored.
    let v2 = w.covenant(3);
    let v2_hash = groupstate::manifest::covenant::Covenant::parse(&v2)
        .unwrap()
        .hash()
        .to_string();
    let v2_detail = json!({"id": "river-x-lake", "version": 2, "hash": v2_hash});
    let refused = json!({
        "covenant": v2,
        "signatures": {"river-guild": [sign(&keys[0], &v2_detail, "river-guild", chain_id), sign(&keys[6], &v2_detail, "river-guild", chain_id)]},
    });
    let (status, v) = send(
        &app,
        "PUT",
        "/v1/covenants/river-x-lake",
        refused.to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["code"], "invalid_ratification");
    assert_eq!(
        get_json(&app, "/v1/covenants/river-x-lake").await["version"],
        1
    );
    let envelope = json!({
        "covenant": v2,
        "signatures": {"river-guild": [sign(&keys[0], &v2_detail, "river-guild", chain_id), sign(&keys[1], &v2_detail, "river-guild", chain_id)]},
    });
    let (status, v) = send(
        &app,
        "PUT",
        "/v1/covenants/river-x-lake",
        envelope.to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["version"], 2);
    assert_eq!(v["standing"]["text"], "partially ratified (1 of 2 parties)");
    assert_eq!(v["parties"][0]["ratification"]["version"], 2);
    let (status, v) = send(&app, "PUT", "/v1/covenants/river-x-lake", w.covenant(4)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["standing"]["text"], "unsigned");

    // Registered with every party's ratification at once.
    let other = w.covenant(2).replace("river-x-lake", "lake-x-river");
    let other_hash = groupstate::manifest::covenant::Covenant::parse(&other)
        .unwrap()
        .hash()
        .to_string();
    let other_detail = json!({"id": "lake-x-river", "version": 1, "hash": other_hash});
    let envelope = json!({
        "covenant": other,
        "signatures": {
            "river-guild": [sign(&keys[1], &other_detail, "river-guild", chain_id), sign(&keys[2], &other_detail, "river-guild", chain_id)],
            "lake-collective": [sign(&keys[3], &other_detail, "lake-collective", chain_id), sign(&keys[5], &other_detail, "lake-collective", chain_id)],
        },
    });
    let (status, v) = send(&app, "POST", "/v1/covenants", envelope.to_string()).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(v["standing"]["text"], "ratified by every party");
}
on_both_backends!(
    ratified_by_two_of_three_owners_each,
    two_owners_of_each_safe_ratify_for_their_group
);

/// A finding of the river about clause `clause` of version 1.
fn finding(rule: Rule, clause: usize, safe: Address, block: i64) -> Divergence {
    let mut d = support::writes::divergence("river-guild", 0, rule, block);
    d.subject = safe.to_string();
    d.item = CovenantItem {
        covenant: "river-x-lake".into(),
        version: 1,
        clause,
        window: None,
    }
    .key();
    d.expected = format!("Safe {safe} requires at least 2 signatures");
    d.observed = "the Safe's threshold is 1 since block 42".into();
    d.opened_tx_hash = Some(B256::repeat_byte(0x42).to_string());
    d
}

async fn a_breach_is_the_clause_verdict_with_its_evidence(backend: support::Backend) {
    let w = world(backend, addresses(0x10), addresses(0x20), None).await;
    let app = w.app();
    let (status, v) = send(&app, "POST", "/v1/covenants", w.covenant(2)).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");

    let breach =
        support::writes::open(&w.store, finding(Rule::CovenantBreach, 0, w.river_safe, 42)).await;
    let risk = finding(Rule::CovenantAtRisk, 1, w.lake_safe, 43);
    let risk = support::writes::open(&w.store, risk).await;
    // A finding of an earlier moment, resolved: history only.
    let old =
        support::writes::open(&w.store, finding(Rule::CovenantBreach, 0, w.river_safe, 30)).await;
    support::writes::resolve(&w.store, "river-guild", old, 31).await;
    // Divergences of other rules are not the covenant's.
    support::writes::open_at(&w.store, "river-guild", 44).await;

    let d = get_json(&app, "/v1/covenants/river-x-lake").await;
    let c0 = &d["clauses"][0];
    assert_eq!(c0["verdict"], "breach");
    assert_eq!(c0["findings"].as_array().unwrap().len(), 1);
    let f = &c0["findings"][0];
    assert_eq!(f["group"], "river-guild");
    assert_eq!(f["n"], breach);
    assert_eq!(f["rule"], "covenant.breach");
    assert_eq!(f["observed"], "the Safe's threshold is 1 since block 42");
    assert_eq!(f["opened_block"], 42);
    assert_eq!(f["opened_block_hash"], B256::repeat_byte(42).to_string());
    let tx = B256::repeat_byte(0x42).to_string();
    assert_eq!(f["opened_tx_hash"], tx);
    assert_eq!(f["explorer"], format!("https://explorer.example/tx/{tx}"));
    assert_eq!(d["clauses"][1]["verdict"], "at_risk");
    assert_eq!(d["clauses"][1]["findings"][0]["n"], risk);
    assert_eq!(d["clauses"][2]["verdict"], "holds");
    // The history: every finding, newest first, the resolved one last.
    let history: Vec<(i64, &str)> = d["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["opened_block"].as_i64().unwrap(),
                f["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(history, [(43, "open"), (42, "open"), (30, "resolved")]);
    assert_eq!(d["history"][2]["resolved_block"], 31);

    let list = get_json(&app, "/v1/covenants").await;
    assert_eq!(list["covenants"][0]["open_breaches"], 1);
    assert_eq!(list["covenants"][0]["at_risk"], 1);

    // The page: the verdict beside the clause, the evidence linked.
    let (status, page) = get(&app, "/covenants/river-x-lake").await;
    assert_eq!(status, StatusCode::OK);
    let clause0 = page.split("id=\"clause-0\"").nth(1).unwrap();
    let clause0 = clause0.split("</li>").next().unwrap();
    assert!(clause0.contains("data-verdict=\"breach\""), "{clause0}");
    assert!(
        clause0.contains("the Safe's threshold is 1 since block 42"),
        "{clause0}"
    );
    assert!(
        page.contains(&format!("href=\"https://explorer.example/tx/{tx}\"")),
        "{page}"
    );
    assert!(page.contains("data-verdict=\"at_risk\""));
    assert!(page.contains("id=\"history\""));
    let (_, group_page) = get(&app, "/groups/river-guild").await;
    assert!(group_page.contains("1 breach, 1 at risk"), "{group_page}");

    // A clause about a contract no party's manifests declare (stored without the API's
    // checks) is judged by nobody.
    let undeclared = Address::repeat_byte(0x77);
    let c = groupstate::manifest::covenant::Covenant::parse(&format!(
        "id: lake-x-river\nparties: [lake-collective, river-guild]\nterms:\n\
         \x20 - {{ clause: min_owners, safe: \"{undeclared}\", value: 2 }}\n\
         \x20 - {{ clause: max_index_lag, seconds: 600 }}\n"
    ))
    .unwrap();
    w.store.add_covenant(&c).await.unwrap();
    let d = get_json(&app, "/v1/covenants/lake-x-river").await;
    assert_eq!(d["clauses"][0]["verdict"], "unjudged");
    assert_eq!(d["clauses"][1]["verdict"], "holds");
    assert_eq!(d["history"], json!([]));
    let (_, page) = get(&app, "/covenants/lake-x-river").await;
    assert!(page.contains("data-verdict=\"unjudged\""), "{page}");

    // And on the command line.
    let out = w.cli(&["covenant", "show", "river-x-lake"], &[]).await;
    let shown = text(&out.stdout);
    assert!(shown.contains("[0] breach — Safe"), "{shown}");
    assert!(shown.contains(&format!("covenant.breach (river-guild #{breach}): the Safe's threshold is 1 since block 42 at block 42, tx {tx}")), "{shown}");
    assert!(shown.contains("[1] at_risk"), "{shown}");
}
on_both_backends!(
    a_breach_is_shown,
    a_breach_is_the_clause_verdict_with_its_evidence
);

/// A threshold lowered on the chain, with a follower of the chain indexing it: the clause it
/// breaks is a breach on `GET /v1/covenants/{id}` and on the page, with the transaction that
/// broke it; set back, the clause holds again and the finding is history.
async fn a_threshold_lowered_on_the_chain_breaches_the_clause(backend: support::Backend) {
    let chain = Devnet::start(DevnetOptions::default()).await.unwrap();
    let contracts = SafeContracts::deploy(&chain).await.unwrap();
    let keys = devnet::signers(6);
    let river_owners: Vec<Address> = keys[..3].iter().map(|k| k.address()).collect();
    let lake_owners: Vec<Address> = keys[3..].iter().map(|k| k.address()).collect();
    let river_safe = contracts
        .create_safe(&chain, SafeVersion::V141L2, &river_owners, 2, 1)
        .await
        .unwrap();
    let lake_safe = contracts
        .create_safe(&chain, SafeVersion::V141L2, &lake_owners, 2, 2)
        .await
        .unwrap();
    let w = world(
        backend,
        (river_safe, river_owners),
        (lake_safe, lake_owners),
        Some((chain.rpc_url(), chain.chain_id())),
    )
    .await;
    let app = w.app();
    let (status, v) = send(&app, "POST", "/v1/covenants", w.covenant(2)).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let follower = support::follower(&w.store, &chain.rpc_url(), chain.chain_id());
    support::sync(&follower).await;
    let d = get_json(&app, "/v1/covenants/river-x-lake").await;
    assert_eq!(d["clauses"][0]["verdict"], "holds", "{d}");

    let receipt = devnet::change_threshold(&chain, river_safe, 1, &[&keys[0], &keys[1]])
        .await
        .unwrap();
    support::sync(&follower).await;
    let d = get_json(&app, "/v1/covenants/river-x-lake").await;
    let c0 = &d["clauses"][0];
    assert_eq!(c0["verdict"], "breach", "{d}");
    let f = &c0["findings"][0];
    assert_eq!(f["group"], "river-guild");
    assert_eq!(f["rule"], "covenant.breach");
    assert_eq!(f["opened_block"], receipt.block_number.unwrap());
    assert_eq!(f["opened_tx_hash"], receipt.transaction_hash.to_string());
    assert!(!f["observed"].as_str().unwrap().is_empty(), "{f}");
    // The lake's Safe never had the owner the second clause keeps: a breach of the lake's.
    assert_eq!(d["clauses"][1]["verdict"], "breach");
    assert_eq!(d["clauses"][1]["findings"][0]["group"], "lake-collective");
    let (_, page) = get(&app, "/covenants/river-x-lake").await;
    let clause0 = page.split("id=\"clause-0\"").nth(1).unwrap();
    assert!(clause0.contains("data-verdict=\"breach\""), "{clause0}");
    let tx = receipt.transaction_hash.to_string();
    assert!(
        page.contains(&format!("href=\"https://explorer.example/tx/{tx}\"")),
        "{page}"
    );

    devnet::change_threshold(&chain, river_safe, 2, &[&keys[0]])
        .await
        .unwrap();
    support::sync(&follower).await;
    let d = get_json(&app, "/v1/covenants/river-x-lake").await;
    assert_eq!(d["clauses"][0]["verdict"], "holds", "{d}");
    assert_eq!(d["history"][0]["status"], "resolved", "{d}");
    assert_eq!(d["history"][0]["opened_tx_hash"], tx);
}
on_both_backends!(
    a_breach_on_the_chain,
    a_threshold_lowered_on_the_chain_breaches_the_clause
);
