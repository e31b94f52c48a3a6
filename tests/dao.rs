//! EIP-4824 and manifests drafted from the chain, on anvil and on both store backends: a
//! manifest drafted from a world of a Safe (with a module and a guard), a Governor with its
//! Timelock and an AccessControl token agrees with `manifest check --chain`; registered and
//! followed through a proposal, the group is served as a daoURI document whose every document
//! validates against the JSON Schemas in `docs/schemas/eip4824`; and daoURI documents are
//! imported as manifest skeletons whose only problems are their listed gaps.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

use alloy::primitives::{Address, U256};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use devnet::{
    self, Devnet, DevnetOptions, GovernanceContracts, GovernanceParams, Proposal, SafeContracts,
    SafeVersion, VoteSupport,
};
use groupstate::api::{router, ApiState};
use groupstate::manifest::Manifest;
use serde_json::Value;
use tower::ServiceExt;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn groupstate(config: &Path, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_groupstate"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env("RUST_LOG", "error")
        .output()
        .unwrap()
}

fn schema(name: &str) -> jsonschema::Validator {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("docs/schemas/eip4824")
        .join(format!("{name}.json"));
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn assert_valid(name: &str, doc: &Value) {
    let v = schema(name);
    let errors: Vec<String> = v
        .iter_errors(doc)
        .map(|e| format!("{}: {e}", e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{name}: {errors:?}\n{doc:#}");
}

async fn get(app: &axum::Router, path: &str) -> (StatusCode, String, Value) {
    let req = Request::builder()
        .uri(path)
        .header("host", "status.example.org:8080")
        .body(Body::empty())
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let kind = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::String(text(&bytes)));
    (status, kind, body)
}

async fn drafted_world_served_as_a_dao(backend: support::Backend) {
    let chain = Devnet::start(DevnetOptions::default()).await.unwrap();
    let safes = SafeContracts::deploy(&chain).await.unwrap();
    let keys = devnet::signers(3);
    let owners: Vec<Address> = keys.iter().map(|k| k.address()).collect();
    let safe = safes
        .create_safe(&chain, SafeVersion::V141L2, &owners, 2, 7)
        .await
        .unwrap();
    let module = Address::repeat_byte(0x4d);
    devnet::enable_module(&chain, safe, module, &[&keys[0], &keys[1]])
        .await
        .unwrap();
    devnet::set_guard(&chain, safe, safes.guard, &[&keys[0], &keys[1]])
        .await
        .unwrap();
    let g = GovernanceContracts::deploy(&chain, GovernanceParams::default())
        .await
        .unwrap();

    // Draft: the governor's timelock is found through the governor.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(
        &config,
        format!(
            "[chains.local]\nrpc_url = \"{}\"\nchain_id = {}\n",
            chain.rpc_url(),
            chain.chain_id()
        ),
    )
    .unwrap();
    let file = dir.path().join("drafted.yaml");
    let (safe_s, gov_s, token_s) = (
        safe.to_string(),
        g.governor.to_string(),
        g.token.to_string(),
    );
    let out = groupstate(
        &config,
        &[
            "manifest",
            "draft",
            "--chain",
            "local",
            "--id",
            "drafted",
            "--safe",
            &safe_s,
            "--governor",
            &gov_s,
            "--roles",
            &token_s,
            "--out",
            file.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("gap: purpose"));
    let yaml = std::fs::read_to_string(&file).unwrap();
    let m = Manifest::parse(&yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    let s = &m.treasury.safes[0];
    assert_eq!((s.threshold, s.owners.len()), (2, 3), "{yaml}");
    assert_eq!(s.modules, vec![module]);
    assert_eq!(s.guard, Some(safes.guard));
    assert_eq!(m.governance.governors[0].timelock, Some(g.timelock));
    let tl = &m.governance.timelocks[0];
    assert_eq!((tl.min_delay, &tl.proposers), (2, &vec![g.governor]));
    assert!(yaml.contains("MINTER_ROLE"), "{yaml}");
    assert!(m.roles[0].is_member(&devnet::MINTER_ROLE, &g.deployer));
    assert!(yaml.contains("# DECIDE:"), "{yaml}");

    // What was drafted is what the chain shows.
    let check = groupstate(
        &config,
        &["manifest", "check", file.to_str().unwrap(), "--chain"],
    );
    assert!(
        check.status.success(),
        "{}{}\n{yaml}",
        text(&check.stdout),
        text(&check.stderr)
    );
    assert!(text(&check.stdout).contains("agrees with chain local"));
    // An existing --out is kept unless --force.
    let again = groupstate(
        &config,
        &[
            "manifest",
            "draft",
            "--chain",
            "local",
            "--safe",
            &safe_s,
            "--out",
            file.to_str().unwrap(),
        ],
    );
    assert!(!again.status.success());
    assert!(text(&again.stderr).contains("--force"));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), yaml);
    // A Safe that is no Safe is refused by name.
    let wrong = groupstate(
        &config,
        &["manifest", "draft", "--chain", "local", "--safe", &gov_s],
    );
    assert!(!wrong.status.success());
    assert!(text(&wrong.stderr).contains(&format!("safe {}", g.governor)));

    // Followed through a proposal, then served as EIP-4824 documents.
    let db = support::TestDb::new(backend).await;
    let store = db.store().await;
    store.add_group(&m).await.unwrap();
    let voters: Vec<Address> = chain.accounts()[1..3].to_vec();
    for v in &voters {
        g.mint_and_delegate(
            &chain,
            *v,
            U256::from(300u64) * U256::from(10u64).pow(U256::from(18)),
        )
        .await
        .unwrap();
    }
    let f = support::follower(&store, &chain.rpc_url(), chain.chain_id());
    support::sync(&f).await;
    let proposal = Proposal::single(
        Address::repeat_byte(0x42),
        U256::from(10u64).pow(U256::from(18)),
        Vec::<u8>::new(),
        "# Pay the river crew\n\nOne ether for the spring clean-up.",
    );
    let votes = [
        (voters[0], VoteSupport::For),
        (voters[1], VoteSupport::Abstain),
    ];
    let pid = g
        .pass_proposal(&chain, voters[0], &proposal, &votes)
        .await
        .unwrap();
    support::sync(&f).await;

    let app = router(ApiState::new(store.clone(), vec!["local".into()]));
    let (status, kind, dao) = get(&app, "/v1/groups/drafted/dao.json").await;
    assert_eq!(status, StatusCode::OK, "{dao}");
    assert_eq!(kind, "application/ld+json");
    assert_valid("dao", &dao);
    assert_eq!(dao["type"], "DAO");
    let base = "http://status.example.org:8080/v1/groups/drafted/";
    let mut docs = Vec::new();
    for (field, schema_name) in [
        ("membersURI", "members"),
        ("proposalsURI", "proposals"),
        ("activityLogURI", "activity"),
        ("contractsURI", "contracts"),
        ("governanceURI", ""),
    ] {
        let uri = dao[field].as_str().unwrap();
        let path = uri.strip_prefix("http://status.example.org:8080").unwrap();
        assert!(uri.starts_with(base), "{uri}");
        let (status, _, doc) = get(&app, path).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {doc}");
        if !schema_name.is_empty() {
            assert_valid(schema_name, &doc);
        }
        docs.push(doc);
    }
    let [members, proposals, activity, contracts, governance] = docs.try_into().unwrap();
    let ids: Vec<&str> = members["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 3);
    assert!(owners.iter().all(|o| ids.contains(&o.to_string().as_str())));
    let p = &proposals["proposals"][0];
    assert_eq!(p["id"], format!("{}?proposalId={pid}", g.governor));
    assert_eq!(p["name"], "Pay the river crew");
    assert_eq!(p["status"], "executed");
    let call = &p["calls"][0];
    assert_eq!(call["from"], g.timelock.to_string());
    assert_eq!(call["to"], Address::repeat_byte(0x42).to_string());
    assert_eq!(call["value"], "1000000000000000000");
    assert_eq!(call["data"], "0x");
    // The proposer's proposal and each vote.
    assert_eq!(activity["activities"].as_array().unwrap().len(), 3);
    let listed: Vec<&str> = contracts["contracts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    for a in [safe, g.governor, g.timelock, g.token] {
        assert!(
            listed.contains(&a.to_string().as_str()),
            "{a} in {listed:?}"
        );
    }
    assert_eq!(governance["manifest"]["id"], "drafted");
    assert_eq!(governance["hash"], m.hash().to_string());

    // The status page links to it.
    let (_, _, page) = get(&app, "/groups/drafted").await;
    let page = page.as_str().unwrap().to_owned();
    assert!(page.contains(
        r#"<link rel="alternate" type="application/ld+json" href="/v1/groups/drafted/dao.json">"#
    ));
    assert!(page.contains(r#"href="/v1/groups/drafted/dao.json">dao.json</a>"#));
    // No such group; a Host that is not a host.
    let (status, _, _) = get(&app, "/v1/groups/nobody/dao.json").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let req = Request::builder()
        .uri("/v1/groups/drafted/dao.json")
        .header("host", "evil.example/<script>")
        .body(Body::empty())
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

on_both_backends!(drafted_world, drafted_world_served_as_a_dao);

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/dao")
        .join(name)
}

/// Runs `manifest import` on a fixture: the skeleton, and the gaps from stderr.
fn import(name: &str) -> (String, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(&config, "").unwrap();
    let out = groupstate(
        &config,
        &["manifest", "import", fixture(name).to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let gaps = text(&out.stderr)
        .lines()
        .filter_map(|l| l.strip_prefix("gap: "))
        .map(|l| l.split(": ").next().unwrap().to_owned())
        .collect();
    (text(&out.stdout), gaps)
}

/// Every problem of the skeleton is at one of its gaps.
fn problems_only_at_gaps(yaml: &str, gaps: &[String]) {
    let e = Manifest::parse(yaml).unwrap_err();
    for p in &e.problems {
        assert!(
            gaps.iter().any(|g| p.path.starts_with(g.as_str())),
            "{} is no gap ({gaps:?}): {}\n{yaml}",
            p.path,
            p.message
        );
    }
}

#[test]
fn a_dao_document_with_embedded_parts_becomes_a_skeleton_with_its_gaps() {
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("embedded.json")).unwrap()).unwrap();
    assert_valid("dao", &doc);
    let (yaml, gaps) = import("embedded.json");
    for g in [
        "chain",
        "start_block",
        "phase",
        "treasury.policy",
        "treasury.safes[0].threshold",
        "governance.governors[0].voting_period",
        "governance.timelocks[0]",
        "members[3]",
        "roles",
    ] {
        assert!(gaps.iter().any(|x| x == g), "no gap {g} in {gaps:?}");
    }
    assert!(yaml.contains("# GAP: the document's addresses are on chain id 31337"));
    assert!(yaml.contains("0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512 (Governance Token)"));
    assert!(yaml.contains("name: \"River Guild\""));
    assert!(yaml.contains("id: \"river-guild\""));
    // The members became the Safe's owners.
    for owner in [
        "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
        "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
        "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
    ] {
        assert!(yaml.contains(owner), "{owner}\n{yaml}");
    }
    problems_only_at_gaps(&yaml, &gaps);
    // Filling the gaps makes it a manifest.
    let filled = yaml
        .replace("chain: \"\"", "chain: \"local\"")
        .replace("threshold: 0", "threshold: 2")
        .replace("voting_period: 0", "voting_period: 10");
    Manifest::parse(&filled).unwrap_or_else(|e| panic!("{e}\n{filled}"));
}

#[test]
fn a_dao_document_of_uris_lists_each_unfetched_uri_as_a_gap() {
    let (yaml, gaps) = import("uris-only.json");
    assert!(gaps.iter().any(|g| g == "treasury.safes[].owners"));
    assert!(gaps.iter().any(|g| g == "treasury.safes"));
    assert!(yaml.contains("membersURI https://example.org/delta/members.json is not fetched"));
    assert!(yaml.contains("contractsURI https://example.org/delta/contracts.json is not fetched"));
    assert!(
        yaml.contains("Governance document (not fetched): https://example.org/delta/governance.md")
    );
    problems_only_at_gaps(&yaml, &gaps);
}

#[test]
fn what_is_not_a_dao_document_is_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(&config, "").unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "[1, 2]").unwrap();
    let out_file = dir.path().join("out.yaml");
    let out = groupstate(
        &config,
        &[
            "manifest",
            "import",
            bad.to_str().unwrap(),
            "--out",
            out_file.to_str().unwrap(),
        ],
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("is not a daoURI document: expected a JSON object"),
        "{}",
        text(&out.stderr)
    );
    assert!(!out_file.exists());
}
