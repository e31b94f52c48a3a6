//! Several chains in one process, and heads that recover: two anvils with different chain ids
//! followed by one daemon into one store, one of them down for a minute (at start and while
//! running) without stopping or slowing the other, `/readyz`, `/metrics` and `status` naming
//! the chain that fails; and a `newHeads` subscription dropped under the follower through a
//! proxy, resubscribed with backoff while the follower polls.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::primitives::U256;
use devnet::{self, Devnet, DevnetOptions};
use groupstate::metrics::Metrics;
use support::nets::{
    add_undeclared_owner, daemon, free_port, indexed_alone, net, register, wait_synced, without_log,
};
use support::tcp_proxy::TcpProxy;
use tokio_util::sync::CancellationToken;

/// How long the second chain stays down.
const DOWN_FOR: Duration = Duration::from_secs(60);

/// `groupstate status` with `config`.
async fn status(config: &std::path::Path) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_groupstate"))
        .args(["--config", config.to_str().unwrap(), "status"])
        .output()
        .await
        .unwrap()
}

async fn get(url: &str) -> (u16, String) {
    let r = reqwest::get(url).await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn two_chains_one_down(backend: support::Backend) {
    let a = net("alpha", 31337, "river").await;
    let b = net("beta", 31338, "lake").await;
    let proxy = TcpProxy::in_front_of(&b.devnet.rpc_url()).await;
    let db = support::TestDb::new(backend).await;
    let store = db.store().await;
    for n in [&a, &b] {
        register(&store, &n.manifest).await;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    let api = format!("127.0.0.1:{}", free_port());
    let chain = |name: &str, url: &str, id: u64| {
        format!(
            "[chains.{name}]\nrpc_url = \"{url}\"\nchain_id = {id}\npoll_interval = \"100ms\"\nfinality_depth = 8\n"
        )
    };
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\n[database]\nurl = \"{}\"\nmax_connections = 4\n[follower]\nconcurrency = 2\nreorg_window = 64\nmax_retries = 3\nretry_base = \"20ms\"\nrequest_timeout = \"2s\"\n[api]\nbind = \"{api}\"\n[log]\nprogress = \"lines\"\nprogress_interval = \"1s\"\n{}{}{}",
            dir.path().display(),
            db.url,
            chain("alpha", &a.devnet.rpc_url(), 31337),
            chain("beta", &proxy.http_url(), 31338),
            // A misconfigured chain: its node is alpha's, which reports another chain id.
            chain("gamma", &a.devnet.rpc_url(), 1),
        ),
    )
    .unwrap();
    let log = dir.path().join("daemon.log");

    // The daemon starts while beta is down: alpha is followed all the same.
    proxy.down().await;
    let down_since = Instant::now();
    let mut child = daemon(&config, &log);
    let head_a = a.devnet.head().await.unwrap();
    wait_synced(&store, "river", head_a, Duration::from_secs(60)).await;

    // Alpha's new event is recorded in seconds while beta is still down.
    let block = add_undeclared_owner(&a).await;
    let took = wait_synced(&store, "river", block, Duration::from_secs(20)).await;
    eprintln!("alpha's event recorded {took:?} after it was mined, beta down");
    assert_eq!(
        store
            .divergences("river", None)
            .await
            .unwrap()
            .iter()
            .filter(|d| d.status == "open")
            .count(),
        1
    );
    // Readiness and the figures name beta as the failing chain, alpha as ready.
    let deadline = Instant::now() + Duration::from_secs(15);
    let body = loop {
        let (status, body) = get(&format!("http://{api}/readyz")).await;
        assert_eq!(status, 503, "{body}");
        if body.contains("chain beta: failing") {
            break body;
        }
        assert!(
            Instant::now() < deadline,
            "beta never reported failing: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(!body.contains("chain alpha"), "alpha is healthy: {body}");
    assert!(
        body.to_lowercase().contains("connection refused"),
        "the failure names its cause: {body}"
    );
    // The misconfigured chain fails fatally, and is restarted alone, again and again.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (_, body) = get(&format!("http://{api}/readyz")).await;
        let readings: serde_json::Value = serde_json::from_str(&body).unwrap();
        let gamma = readings["chains"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["chain"] == "gamma")
            .unwrap()
            .clone();
        if gamma["restarts"].as_u64().unwrap_or(0) >= 1 {
            let failing = gamma["failing"].as_str().unwrap();
            assert!(
                failing.contains("31337") && failing.contains('1'),
                "{failing}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "gamma never restarted: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, metrics) = get(&format!("http://{api}/metrics")).await;
    let m = support::prom::Exposition::parse(&metrics);
    assert_eq!(
        m.value("groupstate_chain_failing", &[("chain", "beta")]),
        Some(1.0)
    );
    assert_eq!(
        m.value("groupstate_chain_failing", &[("chain", "alpha")]),
        Some(0.0)
    );
    assert_eq!(
        m.value("groupstate_ready", &[("chain", "alpha")]),
        Some(1.0)
    );
    // `status` names it too, and fails.
    let out = status(&config).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stdout.contains("beta: FAILING"), "{stdout}");
    assert!(stderr.contains("not ready: chain beta"), "{stderr}");

    // Beta comes back after a minute and catches up; then it goes down again while running.
    tokio::time::sleep(DOWN_FOR.saturating_sub(down_since.elapsed())).await;
    proxy.up().await;
    let head_b = b.devnet.head().await.unwrap();
    let took = wait_synced(&store, "lake", head_b, Duration::from_secs(60)).await;
    eprintln!("beta caught up {took:?} after it came back");
    proxy.down().await;
    let down_since = Instant::now();
    let block = add_undeclared_owner(&b).await;
    let block_a = a.devnet.head().await.unwrap();
    devnet::fund(&a.devnet, a.safe, U256::from(9))
        .await
        .unwrap();
    wait_synced(&store, "river", block_a + 1, Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (status, body) = get(&format!("http://{api}/readyz")).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("chain beta"), "{body}");
    tokio::time::sleep(DOWN_FOR.saturating_sub(down_since.elapsed())).await;
    proxy.up().await;
    wait_synced(&store, "lake", block, Duration::from_secs(60)).await;
    // Beta is ready again; only the misconfigured gamma is not.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = get(&format!("http://{api}/readyz")).await;
        assert_eq!(status, 503, "{body}");
        let message = serde_json::from_str::<serde_json::Value>(&body).unwrap()["error"]["message"]
            .as_str()
            .unwrap()
            .to_string();
        if !message.contains("chain beta") {
            assert!(message.contains("chain gamma: failing"), "{message}");
            break;
        }
        assert!(Instant::now() < deadline, "beta never ready again: {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    child.start_kill().unwrap();
    child.wait().await.unwrap();

    // Loudly: the failure and the restart are in the log, with progress lines.
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(
        log.contains("restarting this chain alone") && log.contains("chain=gamma"),
        "no restart logged:\n{log}"
    );
    assert!(
        log.contains("follower step failed; retrying chain=beta"),
        "beta's failures are not logged:\n{log}"
    );
    assert!(!log.contains('\u{1b}'), "no colour codes in a log file");
    // Same index as each chain followed alone.
    assert_eq!(
        without_log(support::dump(&store).await),
        indexed_alone(backend, &[("alpha", &a), ("beta", &b)]).await
    );
}
on_both_backends!(two_chains_sqlite_and_postgres, two_chains_one_down);

/// The subscription dropped under a following follower: it polls meanwhile, resubscribes with
/// backoff when the node is back, and new heads arrive over WebSocket again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_heads_recover() {
    let n = net("local", 31337, "pond").await;
    let proxy = TcpProxy::in_front_of(&n.devnet.rpc_url()).await;
    let db = support::TestDb::new(support::Backend::Sqlite).await;
    let store = db.store().await;
    register(&store, &n.manifest).await;
    let mut chain = support::chain_config(&n.devnet.rpc_url(), 31337);
    chain.ws_url = Some(proxy.ws_url().parse().unwrap());
    // Long: a head seen sooner came over the subscription.
    chain.poll_interval_ms = 20_000;
    let metrics = Metrics::new().chain("local", 16);
    let follower =
        groupstate::sync::Follower::new("local", chain, support::follower_config(), store.clone())
            .unwrap()
            .with_metrics(metrics.clone());
    let cancel = CancellationToken::new();
    let task = {
        let cancel = cancel.clone();
        tokio::spawn(async move { follower.run(cancel).await })
    };
    let wait = |what: &'static str,
                within: Duration,
                m: Arc<groupstate::metrics::ChainMetrics>,
                f: fn(&groupstate::metrics::ChainReading) -> bool| async move {
        let started = Instant::now();
        loop {
            let r = m.read("local");
            if f(&r) {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < within,
                "{what} within {within:?}: {r:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    wait(
        "subscribed",
        Duration::from_secs(30),
        metrics.clone(),
        |r| r.head_subscribed && r.head_subscriptions == 1,
    )
    .await;
    let head = n.devnet.head().await.unwrap();
    wait_synced(&store, "pond", head, Duration::from_secs(30)).await;
    // Well under the 20 s poll: the subscription woke the follower.
    n.devnet.mine(1).await.unwrap();
    let took = wait_synced(&store, "pond", head + 1, Duration::from_secs(15)).await;
    eprintln!("a new head followed in {took:?} over WebSocket");

    // The node goes away under the subscription: it ends, and the follower polls.
    proxy.down().await;
    wait(
        "the subscription ended",
        Duration::from_secs(30),
        metrics.clone(),
        |r| !r.head_subscribed,
    )
    .await;
    n.devnet.mine(1).await.unwrap();
    wait_synced(&store, "pond", head + 2, Duration::from_secs(45)).await;
    assert!(
        !metrics.read("local").head_subscribed,
        "followed by polling"
    );

    // Back: resubscribed with backoff, and heads arrive over it again.
    proxy.up().await;
    wait(
        "resubscribed",
        Duration::from_secs(90),
        metrics.clone(),
        |r| r.head_subscribed && r.head_subscriptions >= 2,
    )
    .await;
    n.devnet.mine(1).await.unwrap();
    let took = wait_synced(&store, "pond", head + 3, Duration::from_secs(15)).await;
    eprintln!("a new head followed in {took:?} after resubscribing");
    // A connection dropped without the node going away (an idle disconnect) is recovered too.
    proxy.drop_connections();
    tokio::time::sleep(Duration::from_secs(4)).await;
    n.devnet.mine(1).await.unwrap();
    wait_synced(&store, "pond", head + 4, Duration::from_secs(30)).await;
    wait(
        "subscribed after the drop",
        Duration::from_secs(90),
        metrics.clone(),
        |r| r.head_subscribed,
    )
    .await;
    cancel.cancel();
    task.await.unwrap().unwrap();
}

/// A backfill slow enough to watch (a provider adding 20 ms to every call, four blocks per
/// request): progress is logged at the configured cadence, and `status`, `/metrics` and the
/// status page say how far the chain and a group registered behind it have come.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catch_up_progress_is_visible() {
    use support::flaky_rpc::{FaultPlan, FlakyRpc};
    let n = net("local", 31337, "slow").await;
    n.devnet.mine(400).await.unwrap();
    let slow = FlakyRpc::start(
        &n.devnet.rpc_url(),
        FaultPlan {
            delayed: 1.0,
            delay: Duration::from_millis(20),
            ..FaultPlan::none()
        },
    )
    .await;
    let db = support::TestDb::new(support::Backend::Sqlite).await;
    let store = db.store().await;
    register(&store, &n.manifest).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    let api = format!("127.0.0.1:{}", free_port());
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\n[database]\nurl = \"{}\"\n[follower]\nconcurrency = 1\n\
             [api]\nbind = \"{api}\"\n[log]\nprogress = \"auto\"\nprogress_interval = \"1s\"\n\
             [chains.local]\nrpc_url = \"{}\"\nchain_id = 31337\nmax_block_range = 4\n\
             poll_interval = \"100ms\"\nfinality_depth = 8\ntraces = \"off\"\n",
            dir.path().display(),
            db.url,
            slow.url(),
        ),
    )
    .unwrap();
    let log = dir.path().join("daemon.log");
    let mut child = daemon(&config, &log);
    let head = n.devnet.head().await.unwrap();

    // Mid-backfill: the figures, the page and `status` say how far it has come.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = reqwest::get(format!("http://{api}/metrics")).await {
            let m = support::prom::Exposition::parse(&r.text().await.unwrap());
            let left = m.value("groupstate_chain_blocks_left", &[("chain", "local")]);
            let ratio = m.value("groupstate_chain_progress_ratio", &[("chain", "local")]);
            if let (Some(left), Some(ratio)) = (left, ratio) {
                if left > 100.0 && ratio > 0.0 && ratio < 1.0 {
                    break;
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "no progress figures mid-backfill"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (_, page) = get(&format!("http://{api}/groups/slow")).await;
    assert!(page.contains("catching up: "), "the freshness line: {page}");
    assert!(page.contains("blocks left"), "{page}");
    let out = status(&config).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("local: catching up: ") && stdout.contains("% done"),
        "{stdout}"
    );

    // A group registered behind the checkpoint catches up in its own lane, visibly.
    wait_synced(&store, "slow", head - 150, Duration::from_secs(120)).await;
    let late = n
        .manifest
        .replace("id: slow", "id: late")
        .replace("Test slow", "Test late");
    register(&store, &late).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, page) = get(&format!("http://{api}/groups/late")).await;
        if page.contains("this group is catching up") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the late group never showed catching up"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    wait_synced(&store, "late", head, Duration::from_secs(180)).await;
    wait_synced(&store, "slow", head, Duration::from_secs(60)).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    let log = std::fs::read_to_string(&log).unwrap();
    let progress: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("catching up: ") && l.contains("% done"))
        .collect();
    assert!(
        progress.len() >= 3,
        "progress lines at a steady cadence:\n{log}"
    );
    assert!(
        progress
            .iter()
            .any(|l| l.contains("blocks/s") && l.contains("left")),
        "{log}"
    );
    assert!(
        log.contains("group catching up") && log.contains("group=late"),
        "{log}"
    );
    assert!(log.contains("caught up with the head"), "{log}");
}

/// A chain with no group yet whose node was unreachable shows as failing until the node is
/// back, and then no longer: its steps clear the failure even with nothing to index.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_clears_on_a_chain_without_groups() {
    let devnet = Devnet::start(DevnetOptions::default()).await.unwrap();
    let proxy = TcpProxy::in_front_of(&devnet.rpc_url()).await;
    proxy.down().await;
    let db = support::TestDb::new(support::Backend::Sqlite).await;
    let store = db.store().await;
    let metrics = Metrics::new().chain("local", 16);
    let follower = groupstate::sync::Follower::new(
        "local",
        support::chain_config(&proxy.http_url(), 31337),
        support::follower_config(),
        store,
    )
    .unwrap()
    .with_metrics(metrics.clone());
    let cancel = CancellationToken::new();
    let task = {
        let cancel = cancel.clone();
        tokio::spawn(async move { follower.run(cancel).await })
    };
    let until = |want: bool| {
        let metrics = metrics.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(30);
            while metrics.read("local").failing.is_some() != want {
                assert!(Instant::now() < deadline, "failing is never {want}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    until(true).await;
    proxy.up().await;
    until(false).await;
    cancel.cancel();
    task.await.unwrap().unwrap();
}
