//! The `groupstate` command as a user runs it: precise errors for bad manifests and bad
//! configuration, and nothing stored when input is refused.

mod support;

use std::process::Output;

fn groupstate(db_url: &str, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_groupstate"))
        .args(args)
        .env("GROUPSTATE__DATABASE__URL", db_url)
        .env("RUST_LOG", "error")
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const FIXTURES: &str = "tests/fixtures/manifests";

#[test]
fn manifest_check_lists_every_problem_by_path() {
    let out = groupstate(
        "",
        &["manifest", "check", &format!("{FIXTURES}/invalid.yaml")],
    );
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    // The fixture's header comment lists the exact messages, in order.
    let fixture = std::fs::read_to_string(format!("{FIXTURES}/invalid.yaml")).unwrap();
    let expected: Vec<&str> = fixture
        .lines()
        .take_while(|l| l.starts_with('#'))
        .filter_map(|l| l.strip_prefix("#   "))
        .collect();
    assert_eq!(expected.len(), 15);
    let got: Vec<&str> = stderr.lines().skip(1).collect();
    assert_eq!(got, expected, "{stderr}");
    assert!(
        stderr.starts_with("error: tests/fixtures/manifests/invalid.yaml is not a valid manifest:")
    );
}

#[test]
fn valid_yaml_and_json_have_the_same_hash() {
    let y = groupstate(
        "",
        &["manifest", "check", &format!("{FIXTURES}/valid.yaml")],
    );
    let j = groupstate(
        "",
        &["manifest", "check", &format!("{FIXTURES}/valid.json")],
    );
    assert!(y.status.success() && j.status.success());
    let hash = |o: &Output| {
        text(&o.stdout)
            .rsplit(' ')
            .next()
            .unwrap()
            .trim()
            .to_string()
    };
    assert_eq!(hash(&y), hash(&j));
    assert_eq!(hash(&y).len(), 64);
}

#[test]
fn a_wrong_setting_names_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(
        &cfg,
        "[chains.local]\nrpc_url = \"http://x\"\nchain_id = 1\nmax_block_range = 0\n",
    )
    .unwrap();
    let out = groupstate("", &["--config", cfg.to_str().unwrap(), "group", "list"]);
    assert!(!out.status.success());
    assert_eq!(
        text(&out.stderr).trim(),
        "error: configuration key `chains.local.max_block_range`: must be at least 1"
    );
}

async fn groups_are_registered_and_versioned(backend: support::Backend) {
    let db = support::TestDb::new(backend).await;
    let url = db.url.clone();
    let run = move |args: Vec<String>| {
        let url = url.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                groupstate(&url, &args.iter().map(String::as_str).collect::<Vec<_>>())
            })
            .await
            .unwrap()
        }
    };
    let a = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();

    // A refused manifest stores nothing.
    let out = run(a(&format!("group add {FIXTURES}/invalid.yaml"))).await;
    assert!(!out.status.success());
    let out = run(a("group list --json")).await;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v, serde_json::json!({"groups": []}));

    let out = run(a(&format!("group add {FIXTURES}/valid.yaml"))).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("registered river-guild (version 1, "));
    let out = run(a(&format!("group add {FIXTURES}/valid.json"))).await;
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("group river-guild is already registered; use `group update`")
    );
    let out = run(a(&format!("group update {FIXTURES}/valid.json"))).await;
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("identical to version 1"),
        "{}",
        text(&out.stderr)
    );

    let out = run(a("group show river-guild --json")).await;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["group"]["synced_to"], -1);
    assert_eq!(v["versions"].as_array().unwrap().len(), 1);

    let out = run(a("divergences river-guild --status bogus")).await;
    assert!(
        text(&out.stderr).contains("--status: must be one of open, acknowledged, resolved"),
        "{}",
        text(&out.stderr)
    );
    let out = run(a("records river-guild --limit 5000")).await;
    assert!(text(&out.stderr).contains("--limit: must be between 1 and 1000"));
    let out = run(a("records nobody")).await;
    assert_eq!(
        text(&out.stderr).trim(),
        "error: no group nobody is registered"
    );
    let out = run(a("records river-guild --json")).await;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"records": [], "next_cursor": null, "has_more": false})
    );
    let out = run(a("group state river-guild --json")).await;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["consistent"], false, "nothing observed yet");
    assert_eq!(v["contracts"][0]["observed"], serde_json::Value::Null);

    // Acknowledging: as the API does, with the identity check.
    let store = db.store().await;
    let mut d = support::writes::divergence(
        "river-guild",
        0,
        groupstate::reconcile::Rule::SafeThresholdMismatch,
        7,
    );
    d.subject = "0x1".into();
    d.item = String::new();
    d.expected = "2".into();
    d.observed = "1".into();
    d.opened_block_hash = "0x07".into();
    support::writes::open(&store, d).await;
    let out = run(vec![
        "ack".into(),
        "river-guild".into(),
        "1".into(),
        "--note".into(),
        "known, rotating keys".into(),
        "--opened-block-hash".into(),
        "0x08".into(),
    ])
    .await;
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("the one you saw was removed by a reorg"));
    let out = run(a(
        "ack river-guild 1 --note reviewed --opened-block-hash 0x07 --json",
    ))
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["status"].as_str(), v["ack_note"].as_str()),
        (Some("acknowledged"), Some("reviewed"))
    );
    let out = run(a("divergences river-guild --status acknowledged --json")).await;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["divergences"].as_array().unwrap().len(), 1);

    // A new version can only take effect at a block not yet processed: history is never
    // reconciled against a document that did not exist then.
    let dir = tempfile::tempdir().unwrap();
    let valid = std::fs::read_to_string(format!("{FIXTURES}/valid.yaml")).unwrap();
    let late = dir.path().join("late.yaml");
    std::fs::write(
        &late,
        valid
            .replace("id: river-guild", "id: late-guild")
            .replace("start_block: 0", "start_block: 100"),
    )
    .unwrap();
    let late = late.display().to_string();
    let out = run(a(&format!("group add {late}"))).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let renamed = dir.path().join("renamed.yaml");
    std::fs::write(
        &renamed,
        std::fs::read_to_string(&late)
            .unwrap()
            .replace("name: River Guild", "name: Late Guild"),
    )
    .unwrap();
    let renamed = renamed.display().to_string();
    let out = run(a(&format!("group update {renamed} --effective-block 50"))).await;
    assert!(!out.status.success());
    assert_eq!(
        text(&out.stderr).trim(),
        "error: effective block 50 is before block 100, the first one group late-guild has not \
         processed yet; a version cannot rewrite what was already reconciled"
    );
    let out = run(a(&format!("group update {renamed}"))).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("version 2"));
    assert!(text(&out.stdout)
        .trim_end()
        .ends_with("in force from block 100; unratified"));
}
on_both_backends!(
    groups_sqlite_and_postgres,
    groups_are_registered_and_versioned
);

/// `group state` prints a table per contract, the observed side in the declared form: the
/// governor's settings in decimal with its periods in time, the timelock's holders under its
/// declared rows (named by role), a token's roles by name; `--json` is the API's answer.
async fn group_state_is_a_table(backend: support::Backend) {
    use support::governance_state::{self as gov, GOVERNOR, STRANGER};
    let db = support::TestDb::new(backend).await;
    let store = db.store().await;
    store
        .add_group(&groupstate::manifest::Manifest::parse(&gov::manifest("gov")).unwrap())
        .await
        .unwrap();
    support::writes::states(&store, gov::observed_states("gov")).await;
    let url = db.url.clone();
    let run = |args: &'static [&'static str]| {
        let url = url.clone();
        tokio::task::spawn_blocking(move || groupstate(&url, args))
    };
    let out = run(&["group", "state", "gov"]).await.unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    let line = |start: &str| {
        table
            .lines()
            .find(|l| l.starts_with(start))
            .unwrap_or_else(|| panic!("no line starting `{start}` in\n{table}"))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert!(table.contains("FIELD"), "{table}");
    assert!(table.contains("DECLARED") && table.contains("OBSERVED") && table.contains("CHECK"));
    // The local preset's one-second blocks.
    assert_eq!(
        line("voting_period"),
        "voting_period 50400 blocks ≈ 14 h 50400 blocks ≈ 14 h ✓"
    );
    assert_eq!(
        line("quorum_numerator"),
        "quorum_numerator 4 10 ✗ ✗ differs"
    );
    assert_eq!(
        line("min_delay"),
        "min_delay 172800 s = 2 d 172800 s = 2 d ✓"
    );
    let governor = GOVERNOR.to_checksum(None);
    let stranger = STRANGER.to_checksum(None);
    let proposers = line("proposers (PROPOSER_ROLE)");
    assert!(proposers.contains(&governor), "{proposers}");
    assert!(proposers.ends_with("✗ differs"), "{proposers}");
    assert!(table.contains(&format!("{stranger} ✗")), "{table}");
    assert!(line("cancellers (CANCELLER_ROLE)").ends_with('✓'));
    assert!(table.contains("PAUSER_ROLE: "), "{table}");
    assert!(
        table.contains(&format!("{}: {stranger}", gov::unknown_role())),
        "{table}"
    );
    for hex in ["0x1 ", "0xa ", "0xc4e0"] {
        assert!(!table.contains(hex), "`{hex}` in\n{table}");
    }
    assert!(line("safe").contains("not observed yet"), "{table}");

    let out = run(&["group", "state", "gov", "--json"]).await.unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let governor = &v["contracts"][1];
    assert_eq!(governor["kind"], "governor");
    assert_eq!(governor["observed"]["voting_period"], 50400);
    assert_eq!(governor["observed_raw"]["voting_period"], "0xc4e0");
}
on_both_backends!(group_state_sqlite_and_postgres, group_state_is_a_table);

/// `manifest check --chain` reads every declared contract at the head and names each
/// disagreement, exiting non-zero.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifest_check_against_the_chain() {
    use alloy::primitives::Address;
    use devnet::{self, Devnet, DevnetOptions, SafeContracts, SafeVersion};
    let chain = Devnet::start(DevnetOptions::default()).await.unwrap();
    let contracts = SafeContracts::deploy(&chain).await.unwrap();
    let owners: Vec<Address> = devnet::signers(3).iter().map(|k| k.address()).collect();
    let safe = contracts
        .create_safe(&chain, SafeVersion::V141, &owners, 2, 1)
        .await
        .unwrap();
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
    let check = |threshold: u64, deployed_at: Option<u64>| {
        let file = dir
            .path()
            .join(format!("m{threshold}-{deployed_at:?}.yaml"));
        let mut text = support::safe_manifest("g", 0, &[(safe, owners.clone(), threshold)]);
        if let Some(d) = deployed_at {
            text.push_str(&format!("      deployed_at: {d}\n"));
        }
        std::fs::write(&file, text).unwrap();
        let args = [
            "--config".to_string(),
            config.display().to_string(),
            "manifest".into(),
            "check".into(),
            file.display().to_string(),
            "--chain".into(),
        ];
        std::process::Command::new(env!("CARGO_BIN_EXE_groupstate"))
            .args(&args)
            .env("RUST_LOG", "error")
            .output()
            .unwrap()
    };
    // The devnet is another process: blocking this test's thread on the CLI is harmless.
    let agrees = check(2, None);
    assert!(agrees.status.success(), "{}", text(&agrees.stderr));
    assert!(text(&agrees.stdout).contains("agrees with chain local"));
    let differs = check(3, None);
    assert!(!differs.status.success());
    assert!(
        text(&differs.stdout).contains(&format!(
            "safe.threshold_mismatch {safe}: expected threshold 3, observed threshold 2"
        )),
        "{}",
        text(&differs.stdout)
    );
    // A declared creation block the chain does not agree with is a disagreement too.
    let created = chain.head().await.unwrap();
    let wrong = check(2, Some(1));
    assert!(!wrong.status.success());
    assert!(
        text(&wrong.stdout).contains(&format!(
            "safe {safe}: deployed_at 1, but the contract was created at block {created}"
        )),
        "{}",
        text(&wrong.stdout)
    );
    assert!(check(2, Some(created)).status.success());

    // `status`: the head from the node, nothing indexed yet, so not ready (non-zero exit).
    let db = dir.path().join("status.db");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_groupstate"))
        .args(["--config", config.to_str().unwrap(), "status", "--json"])
        .env(
            "GROUPSTATE__DATABASE__URL",
            format!("sqlite://{}?mode=rwc", db.display()),
        )
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    assert!(!status.status.success());
    let v: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(v["ready"], false);
    assert!(v["chains"][0]["head"].as_u64().unwrap() > 0, "{v}");
    assert_eq!(v["chains"][0]["indexed"], serde_json::Value::Null);
    // A chain named without a preset has no block time: its allowed lag is 16 blocks.
    assert_eq!(v["chains"][0]["max_lag"], 16);
    assert!(text(&status.stderr).contains("not ready"));
}

/// First contact: a `sqlite://` URL for a file that does not exist yet, in a directory that
/// does not either, creates both (as the default database in `data_dir` does).
#[test]
fn a_sqlite_url_for_a_new_file_creates_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("some").join("dir").join("gs.db");
    let url = format!("sqlite://{}", file.display());
    let out = groupstate(&url, &["migrate"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(file.is_file());
    let out = groupstate(&url, &["group", "list"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}
