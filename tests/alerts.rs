//! Alerts end to end, on SQLite and on PostgreSQL: divergences made on anvil with the real Safe
//! contracts reach a local HTTP receiver signed and once; a receiver that is down gets every
//! alert when it comes back; a delivery that keeps failing goes dead; a daemon killed with
//! alerts pending delivers them after restart; a reorg retracts the alert of a removed block.

mod support;

use support::receiver::{
    alerts_config, assert_signed_with, dispatch_until, webhook_with, Received, Receiver,
};

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use alloy::primitives::{Address, B256};
use axum::http::StatusCode;
use devnet::{self, Devnet, DevnetOptions, SafeContracts, SafeVersion};
use groupstate::alert::{AlertEvent, Dispatcher};
use groupstate::chain::rpc::BlockRef;
use groupstate::config::{SinkConfig, SinkKind};
use groupstate::manifest::Manifest;
use groupstate::reconcile::Severity;
use groupstate::store::{AlertFilter, DeliveryStatus, Store};
use tokio_util::sync::CancellationToken;

const SECRET: &str = "receiver-shared-secret";

/// Checks a webhook request signed with the receiver's secret.
fn assert_signed(r: &Received) {
    assert_signed_with(r, SECRET)
}

fn webhook(name: &str, url: &str) -> SinkConfig {
    webhook_with(name, url, SECRET)
}

async fn wait_until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

struct World {
    devnet: Devnet,
    keys: Vec<alloy::signers::local::PrivateKeySigner>,
    owners: Vec<Address>,
    safe: Address,
    db: support::TestDb,
    store: Store,
}

/// A devnet with one Safe 1.4.1 (3 owners, threshold 2) declared as such by group `guild`.
async fn world(backend: support::Backend) -> World {
    let devnet = Devnet::start(DevnetOptions::default()).await.unwrap();
    let contracts = SafeContracts::deploy(&devnet).await.unwrap();
    let keys = devnet::signers(4);
    let owners: Vec<Address> = keys[..3].iter().map(|k| k.address()).collect();
    let safe = contracts
        .create_safe(&devnet, SafeVersion::V141L2, &owners, 2, 1)
        .await
        .unwrap();
    let db = support::TestDb::new(backend).await;
    let store = db.store().await;
    let m = Manifest::parse(&support::safe_manifest(
        "guild",
        0,
        &[(safe, owners.clone(), 2)],
    ))
    .unwrap();
    store.add_group(&m).await.unwrap();
    World {
        devnet,
        keys,
        owners,
        safe,
        db,
        store,
    }
}

impl World {
    /// Adds the fourth key as an owner nobody declared: a critical divergence.
    async fn add_intruder(&self) -> alloy::rpc::types::TransactionReceipt {
        devnet::add_owner_with_threshold(
            &self.devnet,
            self.safe,
            self.keys[3].address(),
            2,
            &[&self.keys[0], &self.keys[1]],
        )
        .await
        .unwrap()
    }
}

async fn reaches_the_webhook_once_signed(backend: support::Backend) {
    let w = world(backend).await;
    let rx = Receiver::start().await;
    let d = Dispatcher::new(
        w.store.clone(),
        &alerts_config(vec![webhook("ops", &rx.url)]),
    )
    .unwrap();
    let f = support::follower(&w.store, &w.devnet.rpc_url(), w.devnet.chain_id());
    support::sync(&f).await;
    d.step(&CancellationToken::new()).await.unwrap();
    assert!(rx.requests().is_empty(), "no divergence, no alert");

    let add = w.add_intruder().await;
    support::sync(&f).await;
    dispatch_until(&d, "the opened alert", || !rx.requests().is_empty()).await;
    // More rounds send nothing again.
    for _ in 0..5 {
        d.step(&CancellationToken::new()).await.unwrap();
    }
    let got = rx.requests();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_signed(&got[0]);
    let body = got[0].json();
    assert_eq!(body["event"], "opened");
    assert_eq!(body["group"], "guild");
    assert_eq!(body["chain"], "local");
    assert_eq!(body["divergence"]["rule"], "safe.owner_undeclared");
    assert_eq!(body["divergence"]["severity"], "critical");
    assert_eq!(body["divergence"]["status"], "open");
    assert_eq!(
        body["divergence"]["opened_tx_hash"],
        add.transaction_hash.to_string()
    );

    // The manifest declares the new owner: resolved, with a `resolved` alert and, the
    // divergence being critical, a `manifest.resolved_critical` one.
    let mut declared = w.owners.clone();
    declared.push(w.keys[3].address());
    let v2 = Manifest::parse(&support::safe_manifest(
        "guild",
        0,
        &[(w.safe, declared, 2)],
    ))
    .unwrap();
    w.store.update_group(&v2, None).await.unwrap();
    w.devnet.mine(1).await.unwrap();
    support::sync(&f).await;
    dispatch_until(&d, "the resolved alerts", || rx.requests().len() == 3).await;
    // The two are delivered side by side, in either order.
    let requests = rx.requests();
    let by_event = |e: &str| requests.iter().find(|r| r.json()["event"] == e).unwrap();
    let resolved = by_event("resolved");
    assert_signed(resolved);
    assert_eq!(resolved.json()["event"], "resolved");
    assert_eq!(resolved.json()["divergence"]["n"], body["divergence"]["n"]);
    assert_eq!(resolved.json()["divergence"]["resolution"], "manifest");
    assert_ne!(resolved.key(), got[0].key());
    let announced = by_event("manifest.resolved_critical");
    assert_signed(announced);
    assert_eq!(announced.json()["event"], "manifest.resolved_critical");
    assert_eq!(announced.json()["ratified"], "unratified");

    let alerts = w.store.alerts(&AlertFilter::default()).await.unwrap();
    assert_eq!(alerts.len(), 3);
    assert_eq!(
        alerts[0].event, "manifest.resolved_critical",
        "newest first"
    );
    assert_eq!(alerts[1].event, "resolved");
    assert_eq!(alerts[2].event, "opened");
    for a in &alerts {
        assert_eq!(a.deliveries.len(), 1);
        assert_eq!(a.deliveries[0].status, "delivered");
        assert_eq!(a.deliveries[0].attempts, 1);
        assert!(a.deliveries[0].delivered_at.is_some());
    }
    let counts = w.store.alert_counts().await.unwrap();
    assert_eq!((counts.pending, counts.delivered, counts.dead), (0, 3, 0));
}
on_both_backends!(once_signed, reaches_the_webhook_once_signed);

async fn a_receiver_down_for_a_while_gets_every_alert(backend: support::Backend) {
    let w = world(backend).await;
    let rx = Receiver::start().await;
    rx.answer(StatusCode::SERVICE_UNAVAILABLE);
    let d = Dispatcher::new(
        w.store.clone(),
        &alerts_config(vec![webhook("ops", &rx.url)]),
    )
    .unwrap();
    let cancel = CancellationToken::new();
    let dispatcher = tokio::spawn({
        let cancel = cancel.clone();
        async move { d.run(cancel).await }
    });
    let follower = support::follower(&w.store, &w.devnet.rpc_url(), w.devnet.chain_id());
    let follower = tokio::spawn({
        let cancel = cancel.clone();
        async move { follower.run(cancel).await }
    });

    // Three divergences while the receiver is down.
    let signers = [&w.keys[0], &w.keys[1]];
    w.add_intruder().await;
    devnet::enable_module(&w.devnet, w.safe, Address::repeat_byte(0x42), &signers)
        .await
        .unwrap();
    devnet::change_threshold(&w.devnet, w.safe, 3, &signers)
        .await
        .unwrap();
    wait_until("three alerts refused a few times each", async || {
        let refused = rx.requests();
        let keys: std::collections::BTreeSet<String> = refused.iter().map(|r| r.key()).collect();
        keys.len() >= 3 && refused.len() >= 12
    })
    .await;
    assert!(rx.accepted().is_empty());
    let counts = w.store.alert_counts().await.unwrap();
    assert_eq!((counts.pending, counts.delivered), (3, 0));

    rx.answer(StatusCode::OK);
    wait_until("every alert delivered", async || {
        let c = w.store.alert_counts().await.unwrap();
        c.pending == 0 && c.delivered >= 3
    })
    .await;
    cancel.cancel();
    dispatcher.await.unwrap().unwrap();
    follower.await.unwrap().unwrap();

    // Each alert accepted exactly once, signed; every attempt is on its delivery row.
    let accepted = rx.accepted();
    let mut per_key: BTreeMap<String, usize> = BTreeMap::new();
    for r in &accepted {
        assert_signed(r);
        *per_key.entry(r.key()).or_default() += 1;
    }
    assert_eq!(per_key.len(), 3, "{per_key:?}");
    assert!(per_key.values().all(|&n| n == 1), "{per_key:?}");
    let rules: Vec<String> = accepted
        .iter()
        .map(|r| r.json()["divergence"]["rule"].as_str().unwrap().to_string())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(
        rules,
        [
            "safe.module_undeclared",
            "safe.owner_undeclared",
            "safe.threshold_mismatch"
        ]
    );
    let all = rx.requests();
    for a in w.store.alerts(&AlertFilter::default()).await.unwrap() {
        let d = &a.deliveries[0];
        assert_eq!(d.status, "delivered");
        let tries = all.iter().filter(|r| r.key() == a.key).count() as i64;
        assert!(d.attempts > 1, "{d:?}");
        assert_eq!(d.attempts, tries, "every attempt counted once");
    }
}
on_both_backends!(down_then_back, a_receiver_down_for_a_while_gets_every_alert);

/// Opens one divergence on block `block` of chain `local` straight through a batch.
async fn open_divergence(store: &Store, group: &str, block: i64) -> i64 {
    support::writes::open_at(store, group, block).await
}

async fn a_delivery_that_keeps_failing_goes_dead(backend: support::Backend) {
    let db = support::TestDb::new(backend).await;
    let store = db.store().await;
    let rx = Receiver::start().await;
    rx.answer(StatusCode::INTERNAL_SERVER_ERROR);
    let mut quiet = webhook("quiet", &rx.url);
    quiet.groups = vec!["another-group".into()];
    let log = SinkConfig {
        name: "log".into(),
        kind: SinkKind::Log,
        url: None,
        secret: None,
        secret_env: None,
        min_severity: Severity::High,
        groups: Vec::new(),
    };
    let mut config = alerts_config(vec![webhook("ops", &rx.url), quiet, log]);
    config.max_attempts = 3;
    let metrics = groupstate::metrics::Metrics::new();
    let d = Dispatcher::new(store.clone(), &config)
        .unwrap()
        .with_metrics(metrics.clone());
    open_divergence(&store, "guild", 5).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while store.alert_counts().await.unwrap().dead == 0 {
        assert!(Instant::now() < deadline, "never marked dead");
        d.step(&CancellationToken::new()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(rx.requests().len(), 3, "exactly max_attempts tries");
    let alerts = store
        .alerts(&AlertFilter {
            status: Some(DeliveryStatus::Dead),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(alerts.len(), 1);
    let a = &alerts[0];
    // The log sink took it at once; the webhook of another group never had it.
    let by_sink: BTreeMap<&str, _> = a.deliveries.iter().map(|d| (d.sink.as_str(), d)).collect();
    assert_eq!(by_sink.keys().copied().collect::<Vec<_>>(), ["log", "ops"]);
    assert_eq!(by_sink["log"].status, "delivered");
    let ops = by_sink["ops"];
    assert_eq!((ops.status.as_str(), ops.attempts), ("dead", 3));
    assert!(
        ops.last_error.as_deref().unwrap().contains("500"),
        "{ops:?}"
    );
    let counts = store.alert_counts().await.unwrap();
    assert_eq!((counts.pending, counts.delivered, counts.dead), (0, 1, 1));

    // Re-armed by hand once the receiver works again.
    rx.answer(StatusCode::OK);
    assert_eq!(store.retry_alert(&a.key).await.unwrap(), 1);
    dispatch_until(&d, "the re-armed alert", || rx.accepted().len() == 1).await;
    assert_signed(&rx.accepted()[0]);
    let counts = store.alert_counts().await.unwrap();
    assert_eq!((counts.pending, counts.delivered, counts.dead), (0, 2, 0));
    assert!(store.retry_alert("no-such-key").await.is_err());

    // Every send is timed, by sink kind and outcome.
    let m = support::prom::Exposition::parse(&metrics.render(Duration::ZERO, &Default::default()));
    assert!(m.has_type("groupstate_alert_delivery_seconds", "histogram"));
    let sends = |kind: &str, outcome: &str| {
        m.histogram(
            "groupstate_alert_delivery_seconds",
            &[("kind", kind), ("outcome", outcome)],
        )
        .map(|h| {
            h.assert_sound();
            assert_eq!(
                h.bounds(),
                [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0]
            );
            h.count
        })
    };
    assert_eq!(sends("webhook", "failed"), Some(3.0));
    assert_eq!(sends("webhook", "delivered"), Some(1.0));
    assert_eq!(sends("log", "delivered"), Some(1.0));
    assert_eq!(sends("webhook", "refused"), None);
}
on_both_backends!(
    dead_after_max_attempts,
    a_delivery_that_keeps_failing_goes_dead
);

/// A receiver that refuses the request for good (410 Gone: a revoked webhook) makes the
/// delivery dead at the first attempt, not after every retry; a 429 is retried.
async fn a_refusal_for_good_is_dead_at_once(backend: support::Backend) {
    let db = support::TestDb::new(backend).await;
    let store = db.store().await;
    let rx = Receiver::start().await;
    rx.answer(StatusCode::GONE);
    let mut config = alerts_config(vec![webhook("ops", &rx.url)]);
    config.max_attempts = 5;
    let metrics = groupstate::metrics::Metrics::new();
    let d = Dispatcher::new(store.clone(), &config)
        .unwrap()
        .with_metrics(metrics.clone());
    open_divergence(&store, "guild", 5).await;
    dispatch_until(&d, "a dead delivery", || !rx.requests().is_empty()).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while store.alert_counts().await.unwrap().dead == 0 {
        assert!(Instant::now() < deadline, "never marked dead");
        d.step(&CancellationToken::new()).await.unwrap();
    }
    assert_eq!(rx.requests().len(), 1, "not retried");
    let dead = store.alerts(&AlertFilter::default()).await.unwrap();
    assert_eq!(dead[0].deliveries[0].attempts, 1);
    assert!(dead[0].deliveries[0]
        .last_error
        .as_deref()
        .unwrap()
        .contains("410"));

    rx.answer(StatusCode::TOO_MANY_REQUESTS);
    open_divergence(&store, "guild", 6).await;
    dispatch_until(&d, "a first try", || rx.requests().len() == 2).await;
    let counts = store.alert_counts().await.unwrap();
    assert_eq!(
        (counts.pending, counts.dead),
        (1, 1),
        "429 is retried later"
    );
    let m = support::prom::Exposition::parse(&metrics.render(Duration::ZERO, &Default::default()));
    let sends = |outcome: &str| {
        m.histogram(
            "groupstate_alert_delivery_seconds",
            &[("kind", "webhook"), ("outcome", outcome)],
        )
        .map(|h| h.count)
    };
    assert_eq!((sends("refused"), sends("failed")), (Some(1.0), Some(1.0)));
}
on_both_backends!(refused_for_good, a_refusal_for_good_is_dead_at_once);

/// A roll-back writes `retracted` for divergences opened above the fork and `reopened` for
/// those resolved above it, in the roll-back's own transaction.
async fn a_rollback_retracts_and_reopens(backend: support::Backend) {
    let db = support::TestDb::new(backend).await;
    let store = db.store().await;
    let early = open_divergence(&store, "guild", 5).await;
    support::writes::resolve(&store, "guild", early, 8).await;
    let late = open_divergence(&store, "guild", 9).await;
    groupstate::sync::unwind(
        &store,
        "local",
        Some(BlockRef {
            number: 7,
            hash: B256::repeat_byte(7),
            parent_hash: B256::repeat_byte(6),
        }),
    )
    .await
    .unwrap();
    let events: Vec<(i64, String, i64)> = store
        .alerts(&AlertFilter::default())
        .await
        .unwrap()
        .into_iter()
        .rev()
        .map(|a| (a.divergence_n, a.event, a.block_number))
        .collect();
    assert_eq!(
        events,
        [
            (early, "opened".to_string(), 5),
            (early, "resolved".to_string(), 8),
            (late, "opened".to_string(), 9),
            (early, "reopened".to_string(), 8),
            (late, "retracted".to_string(), 9),
        ]
    );
    // The divergence number freed by the retraction is reused, with a key of its own.
    let again = open_divergence(&store, "guild", 10).await;
    assert_eq!(again, late);
    let opened = store
        .alerts(&AlertFilter {
            event: Some(AlertEvent::Opened),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(opened.len(), 3);
    assert_ne!(opened[0].key, opened[1].key);
}
on_both_backends!(rollback_alerts, a_rollback_retracts_and_reopens);

async fn a_reorg_that_removes_the_block_retracts(backend: support::Backend) {
    let w = world(backend).await;
    let rx = Receiver::start().await;
    let d = Dispatcher::new(
        w.store.clone(),
        &alerts_config(vec![webhook("ops", &rx.url)]),
    )
    .unwrap();
    let f = support::follower(&w.store, &w.devnet.rpc_url(), w.devnet.chain_id());
    support::sync(&f).await;
    let snapshot = w.devnet.snapshot().await.unwrap();
    let add = w.add_intruder().await;
    support::sync(&f).await;
    dispatch_until(&d, "the opened alert", || rx.requests().len() == 1).await;

    // The block holding the new owner is reverted away; the new chain is longer.
    assert!(w.devnet.revert(snapshot).await.unwrap());
    w.devnet.mine(3).await.unwrap();
    support::sync(&f).await;
    dispatch_until(&d, "the retraction", || rx.requests().len() == 2).await;
    let (opened, retracted) = (rx.requests()[0].clone(), rx.requests()[1].clone());
    assert_signed(&retracted);
    assert_eq!(retracted.json()["event"], "retracted");
    assert_eq!(
        retracted.json()["divergence"]["n"],
        opened.json()["divergence"]["n"]
    );
    assert_eq!(
        retracted.json()["divergence"]["opened_block_hash"],
        add.block_hash.unwrap().to_string()
    );
    assert_ne!(retracted.key(), opened.key());
    assert!(w.store.divergences("guild", None).await.unwrap().is_empty());
}
on_both_backends!(reorg_retracts, a_reorg_that_removes_the_block_retracts);

/// `kill -9` of the real daemon while its alerts cannot be delivered (nothing listens at the
/// webhook's port); after a restart, with the receiver up, every alert arrives.
async fn a_killed_daemon_delivers_after_restart(backend: support::Backend) {
    let w = world(backend).await;
    w.add_intruder().await;
    devnet::enable_module(
        &w.devnet,
        w.safe,
        Address::repeat_byte(0x42),
        &[&w.keys[0], &w.keys[1]],
    )
    .await
    .unwrap();
    // A port nobody listens on yet.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\n[database]\nurl = \"{}\"\nmax_connections = 4\n[api]\nbind = \"\"\n\
             [chains.local]\nrpc_url = \"{}\"\nchain_id = {}\npoll_interval_ms = 20\nfinality_depth = 8\n\
             [alerts]\nbackoff_initial_ms = 50\nbackoff_max_ms = 200\ntimeout_ms = 1000\nlease_ms = 2000\npoll_interval_ms = 20\n\
             [[alerts.sinks]]\nname = \"ops\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:{port}/hook\"\nsecret_env = \"GS_TEST_HOOK_SECRET\"\n",
            dir.path().display(),
            w.db.url,
            w.devnet.rpc_url(),
            w.devnet.chain_id()
        ),
    )
    .unwrap();
    let spawn = || {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_groupstate"))
            .args(["--config", config.to_str().unwrap(), "run"])
            .env("RUST_LOG", "error")
            .env("GS_TEST_HOOK_SECRET", SECRET)
            .kill_on_drop(true)
            .spawn()
            .unwrap()
    };
    let mut child = spawn();
    let store = &w.store;
    wait_until("both alerts attempted and refused", async || {
        let a = store.alerts(&AlertFilter::default()).await.unwrap();
        a.len() == 2
            && a.iter()
                .all(|a| a.deliveries.len() == 1 && a.deliveries[0].attempts >= 2)
    })
    .await;
    child.start_kill().unwrap(); // SIGKILL
    child.wait().await.unwrap();
    let counts = store.alert_counts().await.unwrap();
    assert_eq!((counts.pending, counts.delivered), (2, 0));
    let pending = store.alerts(&AlertFilter::default()).await.unwrap();
    assert!(pending[0].deliveries[0]
        .last_error
        .as_deref()
        .unwrap_or("")
        .contains("error sending request"));

    // The CLI shows them pending.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_groupstate"))
        .args([
            "--config",
            config.to_str().unwrap(),
            "alerts",
            "--status",
            "pending",
            "--json",
        ])
        .env("GS_TEST_HOOK_SECRET", SECRET)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed["alerts"].as_array().unwrap().len(), 2, "{listed}");

    let rx = Receiver::on(
        tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap(),
    );
    let mut child = spawn();
    wait_until("both alerts delivered after the restart", async || {
        store.alert_counts().await.unwrap().delivered == 2
    })
    .await;
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    let accepted = rx.accepted();
    assert_eq!(accepted.len(), 2, "{accepted:?}");
    for r in &accepted {
        assert_signed(r);
        assert_eq!(r.json()["event"], "opened");
    }
    assert!(accepted[0].at <= accepted[1].at);
}
on_both_backends!(kill_and_restart, a_killed_daemon_delivers_after_restart);

/// Shutdown does not wait for a receiver that hangs: the send is abandoned at once and the
/// delivery given back, due now and with the attempt uncounted, for the next start.
async fn shutdown_abandons_a_hanging_send(backend: support::Backend) {
    let db = support::TestDb::new(backend).await;
    let store = db.store().await;
    let rx = Receiver::start().await;
    rx.delay(Duration::from_secs(30));
    let mut config = alerts_config(vec![webhook("ops", &rx.url)]);
    config.timeout_ms = 20_000;
    config.lease_ms = 60_000;
    let d = Dispatcher::new(store.clone(), &config).unwrap();
    let cancel = CancellationToken::new();
    let task = tokio::spawn({
        let cancel = cancel.clone();
        async move { d.run(cancel).await }
    });
    open_divergence(&store, "guild", 5).await;
    wait_until("the send to start", async || !rx.requests().is_empty()).await;
    let stopping = Instant::now();
    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(2), task)
        .await
        .expect("the dispatcher stops promptly")
        .unwrap()
        .unwrap();
    assert!(stopping.elapsed() < Duration::from_secs(2));
    let a = &store.alerts(&AlertFilter::default()).await.unwrap()[0];
    let delivery = &a.deliveries[0];
    assert_eq!(
        (delivery.status.as_str(), delivery.attempts),
        ("pending", 0)
    );
    assert!(delivery.next_attempt_at <= groupstate::store::now_ms());

    // The next dispatcher delivers it.
    rx.delay(Duration::ZERO);
    let d = Dispatcher::new(store.clone(), &config).unwrap();
    dispatch_until(&d, "the delivery after restart", || {
        rx.accepted().len() == 2
    })
    .await;
    assert_eq!(rx.accepted()[0].key(), rx.accepted()[1].key());
    assert_eq!(store.alert_counts().await.unwrap().delivered, 1);
}
on_both_backends!(prompt_shutdown, shutdown_abandons_a_hanging_send);

/// Two dispatchers on one database (replicas) share the work: every alert reaches the
/// receiver exactly once.
async fn two_dispatchers_deliver_each_alert_once(backend: support::Backend) {
    let db = support::TestDb::new(backend).await;
    let store = db.store().await;
    let rx = Receiver::start().await;
    rx.delay(Duration::from_millis(5));
    let config = alerts_config(vec![webhook("ops", &rx.url)]);
    let cancel = CancellationToken::new();
    let mut tasks = Vec::new();
    for _ in 0..2 {
        // Each with a pool of its own, as another process would have.
        let own = Store::connect(&db.url, 2).await.unwrap();
        let d = Dispatcher::new(own, &config).unwrap();
        let cancel = cancel.clone();
        tasks.push(tokio::spawn(async move { d.run(cancel).await }));
    }
    for block in 1..=40 {
        open_divergence(&store, "guild", block).await;
    }
    wait_until("40 alerts delivered", async || {
        store.alert_counts().await.unwrap().delivered == 40
    })
    .await;
    cancel.cancel();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let got = rx.requests();
    let keys: std::collections::BTreeSet<String> = got.iter().map(|r| r.key()).collect();
    assert_eq!((got.len(), keys.len()), (40, 40));
}
on_both_backends!(replicas, two_dispatchers_deliver_each_alert_once);
