//! Ratified manifest versions on both backends, against anvil with real Safe 1.4.1 contracts:
//! versions signed by two of three owners are shown ratified (API, page, log leaf), a key that
//! is no owner is refused where the group requires ratification, a Safe that owns the group's
//! Safe ratifies through EIP-1271, an unratified version that resolves a critical divergence
//! raises `manifest.resolved_critical` to the sinks, and `group show` lists the versions with
//! what changed between them.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alloy::primitives::{keccak256, Address, U256};
use alloy::signers::local::PrivateKeySigner;
use alloy::signers::SignerSync;
use alloy::sol_types::SolValue;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use devnet::{self, Devnet, DevnetOptions, SafeContracts, SafeVersion};
use groupstate::api::{router, ApiState};
use groupstate::config::{AlertsConfig, Secret, SinkConfig, SinkKind};
use groupstate::manifest::ratify::{signing_hash, OwnerSignature};
use groupstate::manifest::Manifest;
use groupstate::ratify::ChainAccess;
use groupstate::reconcile::Severity;
use groupstate::store::Store;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

const TOKEN: &str = "an-admin-token-for-ratification-tests";

struct World {
    devnet: Devnet,
    contracts: SafeContracts,
    keys: Vec<PrivateKeySigner>,
    _db: support::TestDb,
    store: Store,
}

async fn world(backend: support::Backend) -> World {
    let devnet = Devnet::start(DevnetOptions::default()).await.unwrap();
    let contracts = SafeContracts::deploy(&devnet).await.unwrap();
    let db = support::TestDb::new(backend).await;
    let store = db.store().await;
    World {
        devnet,
        contracts,
        keys: devnet::signers(6),
        _db: db,
        store,
    }
}

impl World {
    async fn safe(&self, owners: &[Address], threshold: u64, salt: u64) -> Address {
        self.contracts
            .create_safe(&self.devnet, SafeVersion::V141L2, owners, threshold, salt)
            .await
            .unwrap()
    }

    fn app(&self) -> axum::Router {
        let rpc = groupstate::chain::rpc::Rpc::new(
            &self.devnet.rpc_url(),
            groupstate::chain::rpc::RetryPolicy::from(&support::follower_config()),
        )
        .unwrap();
        let mut state = ApiState {
            admin_token: Secret::new(TOKEN),
            ..ApiState::new(self.store.clone(), vec!["local".into()])
        };
        state.chain_access.insert(
            "local".into(),
            ChainAccess {
                rpc,
                chain_id: self.devnet.chain_id(),
            },
        );
        router(state)
    }

    fn sign(&self, key: &PrivateKeySigner, m: &Manifest, version: u64) -> OwnerSignature {
        let digest = signing_hash(&m.id, version, &m.hash(), self.devnet.chain_id());
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

    /// The signature of `owner_safe` (a Safe 1.4.1 with the compatibility fallback handler,
    /// threshold 1, owned by `key`) over the ratification of `m` as version `version`, as its
    /// `isValidSignature(bytes32, bytes)` checks it: `key`'s signature of the Safe's
    /// `SafeMessage` hash of the digest.
    fn sign_as_safe(
        &self,
        owner_safe: Address,
        key: &PrivateKeySigner,
        m: &Manifest,
        version: u64,
    ) -> OwnerSignature {
        let digest = signing_hash(&m.id, version, &m.hash(), self.devnet.chain_id());
        let domain = keccak256(
            (
                keccak256("EIP712Domain(uint256 chainId,address verifyingContract)"),
                U256::from(self.devnet.chain_id()),
                owner_safe,
            )
                .abi_encode(),
        );
        let message = keccak256(
            (
                keccak256("SafeMessage(bytes message)"),
                keccak256(digest.as_slice()),
            )
                .abi_encode(),
        );
        let hash = keccak256([&[0x19, 0x01][..], &domain[..], &message[..]].concat());
        OwnerSignature {
            signer: owner_safe,
            signature: key
                .sign_hash_sync(&hash)
                .unwrap()
                .as_bytes()
                .to_vec()
                .into(),
        }
    }
}

fn manifest(id: &str, safe: Address, owners: &[Address], threshold: u64, extra: &str) -> Manifest {
    let mut text = support::safe_manifest(id, 0, &[(safe, owners.to_vec(), threshold)]);
    text.push_str(extra);
    Manifest::parse(&text).unwrap()
}

/// Sends `body` (JSON) to `uri` with the admin token; the status and the JSON answer.
async fn send(app: &axum::Router, method: &str, uri: &str, body: String) -> (StatusCode, Value) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("content-type", "application/json")
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

fn envelope(m: &Manifest, signatures: &[OwnerSignature]) -> String {
    json!({"manifest": m.canonical_json(), "signatures": signatures}).to_string()
}

async fn two_of_three_ratify_and_strangers_are_refused(backend: support::Backend) {
    let w = world(backend).await;
    let owners: Vec<Address> = w.keys[..3].iter().map(|k| k.address()).collect();
    let safe = w.safe(&owners, 2, 1).await;
    let app = w.app();

    // Signatures that are not a list of signatures: a clear error, nothing stored.
    let v1 = manifest("guild", safe, &owners, 2, "");
    let req = Request::builder()
        .method("POST")
        .uri("/v1/groups")
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("x-groupstate-signatures", "[{\"signer\": 1}]")
        .body(Body::from(v1.canonical_json()))
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(w.store.group("guild").await.unwrap().is_none());

    // The first version, signed by two of the Safe's three owners as the chain has them.
    let sigs = [w.sign(&w.keys[0], &v1, 1), w.sign(&w.keys[1], &v1, 1)];
    let (status, body) = send(&app, "POST", "/v1/groups", envelope(&v1, &sigs)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let ratified = body["versions"][0]["ratified"].as_str().unwrap();
    assert!(
        ratified.contains(&format!("2 of 3 owners of Safe {safe} at block")),
        "{ratified}"
    );
    assert_eq!(
        body["versions"][0]["ratification"]["signers"][0]["scheme"],
        "ecdsa"
    );

    // The second version requires ratification from now on, signed by owners 0 and 2 of
    // version 1 (the signatures in the header this time).
    let v2 = manifest("guild", safe, &owners, 2, "require_ratification: true\n");
    let sigs = [w.sign(&w.keys[2], &v2, 2), w.sign(&w.keys[0], &v2, 2)];
    let req = Request::builder()
        .method("PUT")
        .uri("/v1/groups/guild")
        .header("authorization", format!("Bearer {TOKEN}"))
        .header(
            "x-groupstate-signatures",
            serde_json::to_string(&sigs).unwrap(),
        )
        .body(Body::from(v2.canonical_json()))
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 24)
        .await
        .unwrap();
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    let mut signers = [owners[0].to_string(), owners[2].to_string()];
    signers.sort_by_key(|s| s.parse::<Address>().unwrap());
    assert_eq!(
        body["versions"][1]["ratified"],
        format!(
            "ratified by {} ({} of 3 owners of version 1, threshold 2)",
            signers.join(", "),
            2
        )
    );

    // A version signed by an owner and a key the previous version does not declare is
    // refused, naming the stranger; nothing is stored.
    let stranger = &w.keys[4];
    let v3 = manifest("guild", safe, &owners, 1, "require_ratification: true\n");
    let sigs = [w.sign(&w.keys[0], &v3, 3), w.sign(stranger, &v3, 3)];
    let (status, body) = send(&app, "PUT", "/v1/groups/guild", envelope(&v3, &sigs)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "invalid_ratification");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!(
            "{} is not one of the owners of version 2",
            stranger.address()
        )),
        "{message}"
    );
    // One owner alone is not enough: who signed and how many more are needed.
    let sigs = [w.sign(&w.keys[0], &v3, 3)];
    let (status, body) = send(&app, "PUT", "/v1/groups/guild", envelope(&v3, &sigs)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!(
            "signed by {} (1 of the 3 owners of version 2)",
            owners[0]
        )) && message.contains("the threshold is 2, so 1 more"),
        "{message}"
    );
    // And no signature at all is refused by the requirement, naming what is needed.
    let (status, body) = send(&app, "PUT", "/v1/groups/guild", v3.canonical_json()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "ratification_required");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("version 3 must be signed by 2 of the 3 owners of version 2"),
        "{message}"
    );
    assert_eq!(w.store.manifest_versions("guild").await.unwrap().len(), 2);

    // The history: who ratified each version and what changed.
    let (status, history) = get(&app, "/v1/groups/guild/history").await;
    assert_eq!(status, StatusCode::OK);
    let history: Value = serde_json::from_str(&history).unwrap();
    assert_eq!(
        history[1]["changes"],
        json!([{"section": "ratification", "subject": "require_ratification",
                "change": "false → true"}])
    );
    // The page says it too.
    let (status, page) = get(&app, "/groups/guild").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("History of the document"), "{page}");
    assert!(page.contains("2 of 3 owners of version 1, threshold 2"));
    assert!(page.contains("require_ratification"));

    // The ratification is in the log leaf of the version, checked by the audit.
    let v = &w.store.manifest_versions("guild").await.unwrap()[1];
    let leaf = groupstate::ledger::leaf::Leaf::manifest(v, w.devnet.chain_id());
    let encoded = leaf.encode();
    assert!(encoded.contains("\"ratification\":{"), "{encoded}");
    let groupstate::ledger::leaf::Leaf::Manifest(l) =
        groupstate::ledger::leaf::Leaf::decode(&encoded).unwrap()
    else {
        panic!("a manifest leaf")
    };
    l.ratification
        .unwrap()
        .check("guild", 2, &v.manifest.hash())
        .unwrap();
}

on_both_backends!(
    two_of_three_ratify_and_strangers_are_refused,
    two_of_three_ratify_and_strangers_are_refused
);

async fn a_safe_owner_ratifies_through_eip1271(backend: support::Backend) {
    let w = world(backend).await;
    // A Safe owned by key 3 alone, itself an owner of the group's Safe.
    let owner_safe = w.safe(&[w.keys[3].address()], 1, 7).await;
    let owners = vec![w.keys[0].address(), w.keys[1].address(), owner_safe];
    let safe = w.safe(&owners, 2, 8).await;
    let app = w.app();
    let v1 = manifest("guild", safe, &owners, 2, "require_ratification: true\n");
    let sigs = [
        w.sign(&w.keys[0], &v1, 1),
        w.sign_as_safe(owner_safe, &w.keys[3], &v1, 1),
    ];
    let (status, body) = send(&app, "POST", "/v1/groups", envelope(&v1, &sigs)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let signers = body["versions"][0]["ratification"]["signers"]
        .as_array()
        .unwrap();
    let by_safe = signers
        .iter()
        .find(|s| s["signer"] == owner_safe.to_string())
        .unwrap();
    assert_eq!(by_safe["scheme"], "eip1271");
    assert!(body["versions"][0]["ratified"]
        .as_str()
        .unwrap()
        .contains(&format!("{owner_safe} (EIP-1271)")));

    // The Safe's signature of another version does not pass for this one.
    let v2 = manifest("guild", safe, &owners, 1, "require_ratification: true\n");
    let sigs = [
        w.sign(&w.keys[0], &v2, 2),
        w.sign_as_safe(owner_safe, &w.keys[3], &v1, 2),
    ];
    let (status, body) = send(&app, "PUT", "/v1/groups/guild", envelope(&v2, &sigs)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains(&format!(
            "the signature given for {owner_safe} does not sign"
        )));
}

on_both_backends!(
    a_safe_owner_ratifies_through_eip1271,
    a_safe_owner_ratifies_through_eip1271
);

/// A webhook receiver that keeps every body it gets.
async fn receiver() -> (String, Arc<Mutex<Vec<Value>>>) {
    let got: Arc<Mutex<Vec<Value>>> = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post({
            let got = got.clone();
            move |body: String| {
                let got = got.clone();
                async move {
                    got.lock()
                        .unwrap()
                        .push(serde_json::from_str(&body).unwrap());
                    StatusCode::OK
                }
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, got)
}

async fn an_unratified_version_resolving_a_critical_divergence_is_announced(
    backend: support::Backend,
) {
    let w = world(backend).await;
    let owners: Vec<Address> = w.keys[..3].iter().map(|k| k.address()).collect();
    let safe = w.safe(&owners, 2, 1).await;
    let v1 = manifest("guild", safe, &owners, 2, "");
    w.store.add_group(&v1).await.unwrap();
    let f = support::follower(&w.store, &w.devnet.rpc_url(), w.devnet.chain_id());
    support::sync(&f).await;
    // An owner nobody declared: a critical divergence.
    let intruder = w.keys[5].address();
    devnet::add_owner_with_threshold(&w.devnet, safe, intruder, 2, &[&w.keys[0], &w.keys[1]])
        .await
        .unwrap();
    support::sync(&f).await;
    let open = w
        .store
        .divergences("guild", Some(groupstate::store::DivergenceStatus::Open))
        .await
        .unwrap();
    assert_eq!(open[0].rule, "safe.owner_undeclared");

    // The operator declares the intruder, unratified: the divergence closes by the manifest.
    let mut with_intruder = owners.clone();
    with_intruder.push(intruder);
    let v2 = manifest("guild", safe, &with_intruder, 2, "");
    groupstate::ratify::update(&w.store, None, &v2, None, &[])
        .await
        .unwrap();
    w.devnet.mine(1).await.unwrap();
    support::sync(&f).await;

    // Two sinks, one that only wants critical alerts: both hear of it.
    let (url_a, got_a) = receiver().await;
    let (url_b, got_b) = receiver().await;
    let sink = |name: &str, url: &str, min_severity| SinkConfig {
        name: name.into(),
        kind: SinkKind::Webhook,
        url: Some(url.parse().unwrap()),
        secret: Some(Secret::new("s")),
        secret_env: None,
        min_severity,
        groups: vec!["guild".into()],
    };
    let config = AlertsConfig {
        max_attempts: 100,
        backoff_initial_ms: 20,
        backoff_max_ms: 100,
        timeout_ms: 2000,
        poll_interval_ms: 20,
        lease_ms: 5000,
        sinks: vec![
            sink("a", &url_a, Severity::Low),
            sink("b", &url_b, Severity::Critical),
        ],
    };
    let d = groupstate::alert::Dispatcher::new(w.store.clone(), &config).unwrap();
    let cancel = CancellationToken::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let announced = |got: &Arc<Mutex<Vec<Value>>>| {
        got.lock()
            .unwrap()
            .iter()
            .find(|b| b["event"] == "manifest.resolved_critical")
            .cloned()
    };
    while announced(&got_a).is_none() || announced(&got_b).is_none() {
        assert!(
            Instant::now() < deadline,
            "no manifest.resolved_critical alert"
        );
        d.step(&cancel).await.unwrap();
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let alert = announced(&got_b).unwrap();
    assert_eq!(alert["group"], "guild");
    assert_eq!(alert["manifest_version"], 2);
    assert_eq!(alert["ratified_by"], json!([]));
    assert_eq!(alert["ratified"], "unratified");
    assert_eq!(alert["divergence"]["rule"], "safe.owner_undeclared");
    assert_eq!(alert["divergence"]["resolution"], "manifest");

    // The history names the version that resolved it.
    let history = groupstate::history::group_history(&w.store, "guild")
        .await
        .unwrap();
    assert_eq!(history[1].resolved.len(), 1);
    assert_eq!(history[1].resolved[0].rule, "safe.owner_undeclared");
    assert_eq!(history[1].ratified, "unratified");
    assert_eq!(
        history[1]
            .changes
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        [format!("safe {safe} owners: added {intruder}")]
    );
}

on_both_backends!(
    an_unratified_version_resolving_a_critical_divergence_is_announced,
    an_unratified_version_resolving_a_critical_divergence_is_announced
);

fn groupstate_cli(db_url: &str, args: &[String], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_groupstate"));
    cmd.args(args)
        .env("GROUPSTATE__DATABASE__URL", db_url)
        .env("RUST_LOG", "error");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

async fn the_cli_signs_attaches_and_shows_the_history(backend: support::Backend) {
    let w = world(backend).await;
    let owners: Vec<Address> = w.keys[..3].iter().map(|k| k.address()).collect();
    let safe = w.safe(&owners, 2, 1).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(
        &config,
        format!(
            "[chains.local]\nrpc_url = \"{}\"\nchain_id = {}\n",
            w.devnet.rpc_url(),
            w.devnet.chain_id()
        ),
    )
    .unwrap();
    let v1 = dir.path().join("v1.yaml");
    std::fs::write(
        &v1,
        support::safe_manifest("guild", 0, &[(safe, owners.clone(), 2)]),
    )
    .unwrap();
    let mut v2_owners = owners.clone();
    v2_owners[2] = w.keys[4].address();
    let v2 = dir.path().join("v2.yaml");
    std::fs::write(
        &v2,
        support::safe_manifest("guild", 0, &[(safe, v2_owners.clone(), 2)]),
    )
    .unwrap();
    let key_file = dir.path().join("key0");
    std::fs::write(&key_file, hex::encode(w.keys[0].to_bytes())).unwrap();
    let url = w._db.url.clone();
    let run = |args: Vec<String>, env: Vec<(&'static str, String)>| {
        let url = url.clone();
        let config = config.display().to_string();
        async move {
            tokio::task::spawn_blocking(move || {
                let mut all = vec!["--config".to_string(), config];
                all.extend(args);
                let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
                groupstate_cli(&url, &all, &env)
            })
            .await
            .unwrap()
        }
    };
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let out = run(s(&["group", "add", v1.to_str().unwrap()]), vec![]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).ends_with("; unratified\n"));

    // Two owners sign version 2: one from a key file, one from the environment.
    let sign0 = run(
        s(&[
            "manifest",
            "sign",
            v2.to_str().unwrap(),
            "--version",
            "2",
            "--key-file",
            key_file.to_str().unwrap(),
        ]),
        vec![],
    )
    .await;
    assert!(
        sign0.status.success(),
        "{}",
        String::from_utf8_lossy(&sign0.stderr)
    );
    let sign1 = run(
        s(&[
            "manifest",
            "sign",
            v2.to_str().unwrap(),
            "--version",
            "2",
            "--key-env",
            "OWNER_KEY",
        ]),
        vec![(
            "OWNER_KEY",
            format!("0x{}", hex::encode(w.keys[1].to_bytes())),
        )],
    )
    .await;
    assert!(
        sign1.status.success(),
        "{}",
        String::from_utf8_lossy(&sign1.stderr)
    );
    let sigs = dir.path().join("sigs.jsonl");
    std::fs::write(&sigs, [sign0.stdout, sign1.stdout].concat()).unwrap();
    let out = run(
        s(&[
            "group",
            "update",
            v2.to_str().unwrap(),
            "--signatures",
            sigs.to_str().unwrap(),
        ]),
        vec![],
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("(2 of 3 owners of version 1, threshold 2)"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let out = run(s(&["group", "show", "guild"]), vec![]).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("history of the document:"), "{text}");
    assert!(text.contains(": unratified\n"), "{text}");
    assert!(text.contains(&format!(
        "  safe {safe} owners: added {}",
        w.keys[4].address()
    )));
    assert!(text.contains(&format!("  safe {safe} owners: removed {}", owners[2])));
    let out = run(s(&["group", "show", "guild", "--json"]), vec![]).await;
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["history"].as_array().unwrap().len(), 2);
    assert_eq!(v["versions"][1]["ratification"]["authority"]["version"], 1);
}

on_both_backends!(
    the_cli_signs_attaches_and_shows_the_history,
    the_cli_signs_attaches_and_shows_the_history
);

async fn an_executed_governor_proposal_committing_the_hash_ratifies(backend: support::Backend) {
    use devnet::{GovernanceContracts, GovernanceParams, Proposal, VoteSupport};
    let w = world(backend).await;
    let owners: Vec<Address> = w.keys[..3].iter().map(|k| k.address()).collect();
    let safe = w.safe(&owners, 2, 1).await;
    let g = GovernanceContracts::deploy(&w.devnet, GovernanceParams::default())
        .await
        .unwrap();
    let voter = w.devnet.accounts()[1];
    g.mint_and_delegate(
        &w.devnet,
        voter,
        U256::from(300u64) * U256::from(10u64).pow(U256::from(18)),
    )
    .await
    .unwrap();
    let governance = format!(
        "governance:\n  governors:\n    - {{ address: \"{gov}\", timelock: \"{tl}\", voting_delay: 1, voting_period: 10, proposal_threshold: \"0\", quorum_numerator: 4 }}\n  timelocks:\n    - address: \"{tl}\"\n      min_delay: 2\n      proposers: [\"{gov}\"]\n      executors: [\"0x0000000000000000000000000000000000000000\"]\n      cancellers: [\"{gov}\"]\n",
        gov = g.governor,
        tl = g.timelock
    );
    let v1 = manifest("guild", safe, &owners, 2, &governance);
    w.store.add_group(&v1).await.unwrap();
    let f = support::follower(&w.store, &w.devnet.rpc_url(), w.devnet.chain_id());
    support::sync(&f).await;

    // Version 2 requires ratification; the governor commits its hash in a proposal's call
    // (a `commit(bytes32)`-shaped call to an account without code, which always succeeds).
    let v2 = manifest(
        "guild",
        safe,
        &owners,
        2,
        &format!("{governance}require_ratification: true\n"),
    );
    let chain = ChainAccess {
        rpc: groupstate::chain::rpc::Rpc::new(
            &w.devnet.rpc_url(),
            groupstate::chain::rpc::RetryPolicy::from(&support::follower_config()),
        )
        .unwrap(),
        chain_id: w.devnet.chain_id(),
    };
    // Before the proposal, nothing ratifies it, and the requirement names the governor.
    let err = groupstate::ratify::update(&w.store, Some(&chain), &v2, None, &[])
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!(
            "or by an executed proposal of governor {}",
            g.governor
        )),
        "{err}"
    );
    let calldata = [&[0xf1, 0x4f, 0xcb, 0xc8][..], &v2.hash().as_bytes()[..]].concat();
    let proposal = Proposal::single(
        Address::repeat_byte(0x77),
        U256::ZERO,
        calldata,
        "Ratify version 2 of the group state",
    );
    let id = g
        .pass_proposal(&w.devnet, voter, &proposal, &[(voter, VoteSupport::For)])
        .await
        .unwrap();
    support::sync(&f).await;
    let v = groupstate::ratify::update(&w.store, Some(&chain), &v2, None, &[])
        .await
        .unwrap();
    let r = v.ratification.as_ref().unwrap();
    let approval = r.governor.as_ref().unwrap();
    assert_eq!(approval.governor, g.governor);
    assert_eq!(approval.proposal_id, id.to_string());
    assert!(groupstate::history::ratified(&v).starts_with(&format!(
        "ratified by governor {} (proposal {id}, executed at block",
        g.governor
    )));
    r.check("guild", 2, &v2.hash()).unwrap();
}

on_both_backends!(
    an_executed_governor_proposal_committing_the_hash_ratifies,
    an_executed_governor_proposal_committing_the_hash_ratifies
);
