//! The HTTP API against its own OpenAPI document, by schemathesis: the real daemon (`groupstate
//! run`) follows a group's Safe on anvil, and schemathesis (pinned, installed from PyPI into the
//! project's own environment by `scripts/install-schemathesis`) generates requests for every
//! operation the document lists, valid and invalid, and checks every answer: no server error,
//! a documented status and content type, a body that conforms to its schema, and invalid input
//! refused.
//!
//! One backend: the answers' shapes do not depend on it, and both backends serve the same
//! routes in tests/api.rs.

mod support;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use alloy::primitives::Address;
use devnet::{Devnet, DevnetOptions, SafeContracts, SafeVersion};

const TOKEN: &str = "an-admin-token-for-schemathesis-0123456789";
/// Generated cases per operation and phase: enough to walk every parameter, small enough for
/// the whole run to stay well under a minute on two cores.
const MAX_EXAMPLES: &str = "20";

/// Runs the project's installer and returns the `schemathesis` command it installed.
fn install_schemathesis() -> std::path::PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new("bash")
        .arg(root.join("scripts/install-schemathesis"))
        .stderr(Stdio::inherit())
        .output()
        .expect("running scripts/install-schemathesis");
    assert!(out.status.success(), "scripts/install-schemathesis failed");
    let path = String::from_utf8(out.stdout).unwrap();
    std::path::PathBuf::from(path.trim())
}

/// A daemon on a free port, following a devnet where group `g`'s Safe got a module nobody
/// declared (records, a divergence, an alert, a log).
struct Daemon {
    _devnet: Devnet,
    _dir: tempfile::TempDir,
    child: tokio::process::Child,
    base: String,
}

async fn daemon() -> Daemon {
    let devnet = Devnet::start(DevnetOptions::default()).await.unwrap();
    let contracts = SafeContracts::deploy(&devnet).await.unwrap();
    let keys = devnet::signers(3);
    let owners: Vec<Address> = keys.iter().map(|k| k.address()).collect();
    let safe = contracts
        .create_safe(&devnet, SafeVersion::V141L2, &owners, 2, 1)
        .await
        .unwrap();
    devnet::enable_module(
        &devnet,
        safe,
        Address::repeat_byte(0x42),
        &[&keys[0], &keys[1]],
    )
    .await
    .unwrap();
    devnet.mine(4).await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{dir}\"\n[database]\nurl = \"sqlite://{dir}/gs.db?mode=rwc\"\n\
             [api]\nbind = \"127.0.0.1:{port}\"\nadmin_token = \"{TOKEN}\"\n\
             [chains.local]\nrpc_url = \"{rpc}\"\nchain_id = {chain_id}\npoll_interval_ms = 50\n\
             finality_depth = 2\n",
            dir = dir.path().display(),
            rpc = devnet.rpc_url(),
            chain_id = devnet.chain_id(),
        ),
    )
    .unwrap();
    let manifest = dir.path().join("g.yaml");
    std::fs::write(
        &manifest,
        support::safe_manifest("g", 0, &[(safe, owners.clone(), 2)]),
    )
    .unwrap();
    let groupstate = |args: &[&str]| {
        let mut c = tokio::process::Command::new(env!("CARGO_BIN_EXE_groupstate"));
        c.arg("--config")
            .arg(&config)
            .args(args)
            .env("RUST_LOG", "error");
        c
    };
    let added = groupstate(&["group", "add", manifest.to_str().unwrap()])
        .output()
        .await
        .unwrap();
    assert!(added.status.success(), "{added:?}");
    let child = groupstate(&["run"]).kill_on_drop(true).spawn().unwrap();
    let base = format!("http://127.0.0.1:{port}");

    // Ready once the group is followed to the head and the log has a checkpoint.
    let head = devnet.head().await.unwrap() as i64;
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(Instant::now() < deadline, "the daemon did not catch up");
        let group = http.get(format!("{base}/v1/groups/g")).send().await;
        let checkpoint = http.get(format!("{base}/v1/log/checkpoint")).send().await;
        if let (Ok(group), Ok(checkpoint)) = (group, checkpoint) {
            let group: serde_json::Value = group.json().await.unwrap_or_default();
            if group["group"]["synced_to"].as_i64() >= Some(head)
                && checkpoint.status().is_success()
            {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Daemon {
        _devnet: devnet,
        _dir: dir,
        child,
        base,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_api_conforms_to_its_openapi_document() {
    let schemathesis = tokio::task::spawn_blocking(install_schemathesis)
        .await
        .unwrap();
    let mut d = daemon().await;
    let report = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let out = tokio::process::Command::new(&schemathesis)
        .arg("run")
        .arg(format!("{}/v1/openapi.json", d.base))
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,\
             response_schema_conformance,negative_data_rejection",
            "--max-examples",
            MAX_EXAMPLES,
            "--seed",
            "11",
            // One worker: on Python 3.11 hypothesis, parsing its own source from several threads,
            // can fail with "AST constructor recursion depth mismatch" (CPython gh-106905).
            "--workers",
            "1",
            "--request-timeout",
            "10",
            "--no-color",
            "--suppress-health-check",
            "too_slow",
            "--generation-database",
            "none",
            "--report-dir",
        ])
        .arg(report.path())
        // The admin routes are exercised too, authorised: on this throwaway database every
        // write the fuzzer manages is harmless, and its answers must conform like the others.
        .args(["--header", &format!("Authorization: Bearer {TOKEN}")])
        .env("NO_COLOR", "1")
        // Its caches land in the working directory: keep them out of the project.
        .current_dir(report.path())
        .kill_on_drop(true)
        .output()
        .await
        .expect("running schemathesis");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("schemathesis took {:?}", started.elapsed());
    assert!(
        out.status.success(),
        "schemathesis found problems:\n{stdout}\n{stderr}"
    );
    // It did test every operation the document lists.
    let doc = groupstate::api::openapi::document_value();
    let operations: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| item.as_object().unwrap().len())
        .sum();
    let selected = format!("{operations} selected / {operations} total");
    assert!(stdout.contains(&selected), "{stdout}");
    let summary: Vec<&str> = stdout.lines().rev().take(12).collect();
    for line in summary.iter().rev() {
        eprintln!("{line}");
    }
    d.child.start_kill().unwrap();
    d.child.wait().await.unwrap();
}
