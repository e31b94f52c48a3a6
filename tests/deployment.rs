//! The systemd unit `deploy/groupstate.service`: `systemd-analyze verify` accepts it, and the
//! command line, environment and stop signal it declares run the daemon: it becomes ready on a
//! devnet with one group and, on the unit's `KillSignal`, exits 0 well within `TimeoutStopSec`.
//!
//! PID 1 here is not systemd, so the unit is not started by systemctl: the test reads the unit
//! and does what systemd would, with the paths of a temporary root.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use alloy::primitives::Address;
use devnet::{self, Devnet, DevnetOptions, SafeContracts, SafeVersion};
use groupstate::ledger::note::SigningKey;
use groupstate::manifest::Manifest;
use groupstate::store::Store;

const UNIT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/groupstate.service");
const ENV_EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/groupstate.env.example");
const SYSTEMD_ANALYZE: &str = "/usr/bin/systemd-analyze";
/// Where the unit expects the binary.
const INSTALLED_BINARY: &str = "/usr/local/bin/groupstate";

/// The `[Service]` section of a unit: each key with its values in order (`Environment=` and
/// others may repeat).
fn service_section(unit: &str) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut in_service = false;
    for line in unit.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if line.starts_with('[') {
            in_service = line == "[Service]";
            continue;
        }
        if let (true, Some((k, v))) = (in_service, line.split_once('=')) {
            out.entry(k.trim().to_string())
                .or_default()
                .push(v.trim().to_string());
        }
    }
    out
}

/// The one value of `key`.
fn one<'a>(service: &'a BTreeMap<String, Vec<String>>, key: &str) -> &'a str {
    match service.get(key).map(Vec::as_slice) {
        Some([v]) => v,
        other => panic!("{key}= must be set once in the unit, found {other:?}"),
    }
}

/// A systemd time span as the unit writes it (`45s`, `2min`, `500ms`, or bare seconds).
fn time_span(v: &str) -> Duration {
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (n, unit) = v.split_at(split);
    let n: u64 = n.parse().unwrap_or_else(|_| panic!("time span {v:?}"));
    match unit {
        "" | "s" | "sec" => Duration::from_secs(n),
        "ms" | "msec" => Duration::from_millis(n),
        "m" | "min" => Duration::from_secs(60 * n),
        _ => panic!("time span {v:?}"),
    }
}

/// `KEY=VALUE` lines of an environment file or `Environment=` assignments (unquoted values).
fn assignments<'a>(lines: impl IntoIterator<Item = &'a str>) -> Vec<(String, String)> {
    lines
        .into_iter()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .flat_map(|l| l.split_whitespace())
        .map(|a| {
            let (k, v) = a.split_once('=').unwrap_or_else(|| panic!("{a:?}"));
            (k.to_string(), v.trim_matches('"').to_string())
        })
        .collect()
}

/// The unit with the paths of a test root: the binary, `/etc/groupstate` and
/// `/var/lib/groupstate` replaced.
fn localize(text: &str, root: &Path) -> String {
    text.replace(INSTALLED_BINARY, env!("CARGO_BIN_EXE_groupstate"))
        .replace("/etc/groupstate", &root.join("etc").display().to_string())
        .replace(
            "/var/lib/groupstate",
            &root.join("state").display().to_string(),
        )
}

#[test]
fn systemd_analyze_verifies_the_unit() {
    assert!(
        Path::new(SYSTEMD_ANALYZE).exists(),
        "{SYSTEMD_ANALYZE} is missing: run scripts/install-system-packages"
    );
    // The unit names the installed binary, which this machine does not have: verify a copy
    // naming the test binary (systemd-analyze checks that the command is executable).
    let dir = tempfile::tempdir().unwrap();
    let unit = std::fs::read_to_string(UNIT).unwrap();
    let copy = dir.path().join("groupstate.service");
    std::fs::write(
        &copy,
        unit.replace(INSTALLED_BINARY, env!("CARGO_BIN_EXE_groupstate")),
    )
    .unwrap();
    let out = Command::new(SYSTEMD_ANALYZE)
        .arg("verify")
        .arg(&copy)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{}: {stderr}", out.status);
    // Unknown keys, keys in the wrong section and bad values are warnings with exit 0.
    assert!(stderr.trim().is_empty(), "systemd-analyze warns:\n{stderr}");

    let service = service_section(&unit);
    assert_eq!(one(&service, "Type"), "simple");
    assert_eq!(one(&service, "KillSignal"), "SIGTERM");
    assert!(service.contains_key("EnvironmentFile"));
    assert_eq!(one(&service, "NoNewPrivileges"), "yes");
    assert_eq!(one(&service, "ProtectSystem"), "strict");
    assert_eq!(one(&service, "StateDirectory"), "groupstate");
    // The example environment file sets only settings the daemon knows (or comments).
    let example = std::fs::read_to_string(ENV_EXAMPLE).unwrap();
    for (k, _) in assignments(example.lines()) {
        assert!(
            k == "RUST_LOG" || k.starts_with("GROUPSTATE__"),
            "{k} in the example environment"
        );
    }
}

/// A devnet with a SafeL2 owned by three keys, and its group's manifest.
async fn one_group() -> (Devnet, String) {
    let devnet = Devnet::start(DevnetOptions::default()).await.unwrap();
    let safes = SafeContracts::deploy(&devnet).await.unwrap();
    let owners: Vec<Address> = devnet::signers(3).iter().map(|k| k.address()).collect();
    let safe = safes
        .create_safe(&devnet, SafeVersion::V141L2, &owners, 2, 0)
        .await
        .unwrap();
    (
        devnet,
        support::safe_manifest("river", 0, &[(safe, owners, 2)]),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_units_command_line_runs_the_daemon_and_its_kill_signal_stops_it() {
    let (devnet, manifest) = one_group().await;
    let unit = std::fs::read_to_string(UNIT).unwrap();
    let root = tempfile::tempdir().unwrap();
    let service = service_section(&localize(&unit, root.path()));

    // What an operator installs: the config file and the environment file.
    let etc = root.path().join("etc");
    let state: PathBuf = PathBuf::from(one(&service, "WorkingDirectory"));
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::create_dir_all(&state).unwrap(); // StateDirectory=, made by systemd
    let port = support::pgbouncer::free_port();
    std::fs::write(
        etc.join("config.toml"),
        format!(
            "[follower]\nretry_base_ms = 10\n\
             [chains.local]\nrpc_url = \"{}\"\nchain_id = {}\npoll_interval_ms = 50\n\
             finality_depth = 2\n",
            devnet.rpc_url(),
            devnet.chain_id()
        ),
    )
    .unwrap();
    let env_file = PathBuf::from(one(&service, "EnvironmentFile").trim_start_matches('-'));
    assert!(env_file.starts_with(&etc), "{}", env_file.display());
    std::fs::write(
        &env_file,
        format!(
            "# SQLite in the state directory\nGROUPSTATE__API__BIND=127.0.0.1:{port}\n\
             GROUPSTATE__LEDGER__SIGNING_KEY={}\nGROUPSTATE__API__ADMIN_TOKEN=a-long-enough-admin-token\n",
            SigningKey::generate("groupstate").unwrap().encode()
        ),
    )
    .unwrap();

    // systemd's order: EnvironmentFile= is read after Environment=, and wins.
    let mut env: Vec<(String, String)> =
        assignments(service["Environment"].iter().map(String::as_str));
    env.extend(assignments(
        std::fs::read_to_string(&env_file).unwrap().lines(),
    ));
    let argv: Vec<&str> = one(&service, "ExecStart").split_whitespace().collect();
    assert_eq!(argv[0], env!("CARGO_BIN_EXE_groupstate"));
    assert_eq!(argv.last(), Some(&"run"));

    // The group, registered before the start with the same settings.
    let db_url = format!("sqlite://{}", state.join("groupstate.db").display());
    let store = Store::connect(&db_url, 2).await.unwrap();
    store.migrate().await.unwrap();
    store
        .add_group(&Manifest::parse(&manifest).unwrap())
        .await
        .unwrap();

    let mut daemon = tokio::process::Command::new(argv[0])
        .args(&argv[1..])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(&state)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let ready = format!("http://127.0.0.1:{port}/readyz");
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Ok(r) = client.get(&ready).send().await {
            if r.status().is_success() {
                break;
            }
        }
        if let Ok(Some(status)) = daemon.try_wait() {
            panic!("the daemon exited early: {status}");
        }
        assert!(Instant::now() < deadline, "/readyz never answered 200");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let head = devnet.head().await.unwrap() as i64;
    assert!(store.group("river").await.unwrap().unwrap().synced_to >= head);
    // It wrote its database where the unit's state directory is.
    assert!(state.join("groupstate.db").exists());

    let signal = one(&service, "KillSignal").trim_start_matches("SIG");
    let timeout = time_span(one(&service, "TimeoutStopSec"));
    let stopping = Instant::now();
    let pid = daemon.id().unwrap().to_string();
    let sent = Command::new("kill")
        .args(["-s", signal, &pid])
        .status()
        .unwrap();
    assert!(sent.success());
    let out = tokio::time::timeout(timeout, daemon.wait_with_output())
        .await
        .expect("the daemon outlived TimeoutStopSec")
        .unwrap();
    let took = stopping.elapsed();
    eprintln!("stopped {took:?} after SIG{signal} (TimeoutStopSec {timeout:?})");
    assert!(
        out.status.success(),
        "{}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(took * 4 < timeout, "stopping took {took:?}");
}
