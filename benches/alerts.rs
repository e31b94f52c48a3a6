//! Alert latency on a real anvil devnet with a real Safe 1.4.1: from the block that adds an
//! undeclared owner being mined to a local webhook receiving the signed `opened` alert. The
//! whole path runs as in the daemon — follower (polling or WebSocket), reconciliation, the
//! outbox row committed with the divergence, the dispatcher woken by the commit, the HTTP POST.
//!
//! `cargo bench --bench alerts` (env: BENCH_SAMPLES, default 30; BENCH_PG, default
//! postgres://postgres@127.0.0.1:5432/test). Prints a Markdown report.

mod common;

use std::time::{Duration, Instant};

use alloy::primitives::{Address, U256};
use alloy::rpc::types::{TransactionInput, TransactionRequest};
use axum::http::HeaderMap;
use common::*;
use devnet::{self, Devnet, DevnetOptions, SafeContracts, SafeTx, SafeVersion, SignatureKind};
use groupstate::alert::Dispatcher;
use groupstate::config::{AlertsConfig, Secret, SinkConfig, SinkKind};
use groupstate::decode::abi::v141::SafeL2;
use groupstate::manifest::Manifest;
use groupstate::reconcile::Severity;
use groupstate::store::{AlertFilter, Store};
use groupstate::sync::Follower;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Starts a webhook receiver; every request arrives on the channel as (event, arrival time).
async fn receiver() -> (String, mpsc::UnboundedReceiver<(String, Instant)>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, _body: String| {
            let at = Instant::now();
            let event = headers
                .get("x-groupstate-event")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            let _ = tx.send((event, at));
            async {}
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, rx)
}

/// Waits for the next alert of `event`, skipping others.
async fn next(rx: &mut mpsc::UnboundedReceiver<(String, Instant)>, event: &str) -> Instant {
    loop {
        let (e, at) = tokio::time::timeout(Duration::from_secs(30), rx.recv())
            .await
            .expect("alert never received")
            .expect("receiver stopped");
        if e == event {
            return at;
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn alert_latency(
    devnet: &Devnet,
    store: &Store,
    safe: Address,
    keys: &[alloy::signers::local::PrivateKeySigner],
    ws: bool,
    poll_ms: u64,
    samples: usize,
    first_intruder: u64,
    dispatcher_store: Store,
) -> Vec<f64> {
    let (url, mut rx) = receiver().await;
    let config = AlertsConfig {
        sinks: vec![SinkConfig {
            name: "bench".into(),
            kind: SinkKind::Webhook,
            url: Some(url.parse().expect("a sink URL")),
            secret: Some(Secret::new("bench-secret")),
            secret_env: None,
            min_severity: Severity::Low,
            groups: Vec::new(),
        }],
        ..AlertsConfig::default()
    };
    let cancel = CancellationToken::new();
    let follower = Follower::new(
        "local",
        chain_config(devnet, ws, poll_ms),
        follower_config(),
        store.clone(),
    )
    .unwrap();
    let dispatcher = Dispatcher::new(dispatcher_store, &config).unwrap();
    let tasks = [
        tokio::spawn({
            let c = cancel.clone();
            async move { follower.run(c).await.map_err(|e| e.to_string()) }
        }),
        tokio::spawn({
            let c = cancel.clone();
            async move { dispatcher.run(c).await.map_err(|e| e.to_string()) }
        }),
    ];
    // Catch up first: a store that is new to the chain backfills the samples of earlier runs,
    // and their alerts are not part of this measurement.
    let head = devnet.head().await.unwrap() as i64;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let synced = store.group("bench").await.unwrap().unwrap().synced_to >= head;
        let newest = store
            .alerts(&AlertFilter {
                limit: Some(1),
                ..AlertFilter::default()
            })
            .await
            .unwrap();
        let routed = newest.iter().all(|a| a.fanned_out);
        if synced && routed && store.alert_counts().await.unwrap().pending == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "did not catch up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    while rx.try_recv().is_ok() {}
    let signers = [
        (&keys[0], SignatureKind::Ecdsa),
        (&keys[1], SignatureKind::Ecdsa),
    ];
    let mut out = Vec::new();
    for i in 0..samples {
        // Each sample at a random phase of the poll interval, like real traffic.
        tokio::time::sleep(Duration::from_millis(
            rand::random::<u64>() % poll_ms.max(1),
        ))
        .await;
        let intruder = devnet::signer(first_intruder + i as u64).address();
        let tx = SafeTx::self_call(
            safe,
            SafeL2::addOwnerWithThresholdCall {
                owner: intruder,
                _threshold: U256::from(2),
            },
        );
        let (hash, _) = tx.hash(devnet, safe).await.unwrap();
        let sigs = devnet::sign_safe_hash(hash, &signers).unwrap();
        let req = TransactionRequest::default()
            .to(safe)
            .input(TransactionInput::new(tx.exec_calldata(sigs)));
        // anvil mines on submission: when the send returns, the block exists.
        devnet.send(req).await.unwrap();
        let mined = Instant::now();
        let received = next(&mut rx, "opened").await;
        out.push(received.duration_since(mined).as_secs_f64() * 1000.0);
        // Removing the owner again resolves it; its alert is drained before the next sample.
        devnet::remove_owner(devnet, safe, intruder, 2, &[&keys[0], &keys[1]])
            .await
            .unwrap();
        next(&mut rx, "resolved").await;
    }
    cancel.cancel();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    out.sort_by(|a, b| a.partial_cmp(b).unwrap());
    out
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` probes the harness this way.
    }
    let samples: usize = std::env::var("BENCH_SAMPLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let devnet = Devnet::start(DevnetOptions::default())
        .await
        .expect("devnet");
    let contracts = SafeContracts::deploy(&devnet).await.unwrap();
    let keys = devnet::signers(3);
    let owners: Vec<Address> = keys.iter().map(|k| k.address()).collect();
    let safe = contracts
        .create_safe(&devnet, SafeVersion::V141L2, &owners, 2, 0)
        .await
        .unwrap();
    let manifest = Manifest::parse(&format!(
        "id: bench\nname: Bench\npurpose: Benchmark.\nphase: coordination\nchain: local\nstart_block: 0\ntreasury:\n  safes:\n    - address: \"{safe}\"\n      owners: [\"{}\", \"{}\", \"{}\"]\n      threshold: 2\n",
        owners[0], owners[1], owners[2]
    ))
    .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("bench.db").display()
    );
    let pg = pg_database(&pg_admin()).await;
    println!("\n## Alert latency, block mined → webhook received ({samples} samples each)\n");
    println!("| store | head source | median ms | p99 ms | max ms |");
    println!("| --- | --- | ---: | ---: | ---: |");
    let mut intruders = 1000;
    for (store_label, url) in [("SQLite", sqlite.as_str()), ("PostgreSQL", pg.as_str())] {
        let store = fresh_store(url, std::slice::from_ref(&manifest)).await;
        // A store of its own is what a dispatcher in another process sees: no wake-up from
        // the follower's commit, only its poll (alerts.poll_interval_ms, 200 ms).
        let elsewhere = Store::connect(url, 2).await.unwrap();
        for (label, ws, poll, own) in [
            ("polling every 1000 ms (the default)", false, 1000, false),
            ("polling every 100 ms", false, 100, false),
            ("WebSocket `newHeads`", true, 1000, false),
            (
                "WebSocket, dispatcher not woken (polls every 200 ms)",
                true,
                1000,
                true,
            ),
        ] {
            let dispatcher_store = if own {
                elsewhere.clone()
            } else {
                store.clone()
            };
            let l = alert_latency(
                &devnet,
                &store,
                safe,
                &keys,
                ws,
                poll,
                samples,
                intruders,
                dispatcher_store,
            )
            .await;
            intruders += samples as u64;
            println!(
                "| {store_label} | {label} | {:.1} | {:.1} | {:.1} |",
                percentile(&l, 0.5),
                percentile(&l, 0.99),
                l.last().copied().unwrap_or(f64::NAN)
            );
        }
        store.close().await;
    }
}
