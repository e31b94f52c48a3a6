//! `groupstate demo`: a self-contained run on a local anvil devnet it starts itself — a real
//! Safe 1.4.1 with three owners and threshold 2, a registered group, the daemon following it
//! live, a payment signed by two owners, then an owner nobody documented; the signed webhook
//! alert that reports it (to a receiver the demo runs), the records, the group declared beside
//! observed, the open divergence as the HTTP API answers it, and the signed checkpoint of the
//! log that holds them. It ends with
//! the address of the group's status page, and serves the page and the API until Ctrl-C
//! (`--exit` leaves at once).
//!
//! The story is the demo's whole output: the log goes to `demo.log` in the data directory
//! (only errors reach the terminal), and nothing is coloured.

use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::primitives::{Address, U256};
use anyhow::Context;
use tokio_util::sync::CancellationToken;

use super::output;
use crate::config::{AlertsConfig, ChainConfig, Secret, Settings, SinkConfig, SinkKind};
use crate::ledger::LogSigner;
use crate::manifest::Manifest;
use crate::reconcile::Severity;
use crate::store::{DivergenceFilter, DivergenceStatus, RecordFilter, Store};
use crate::sync::Follower;
use devnet::{self, Devnet, DevnetOptions, SafeContracts, SafeVersion};

/// The group the demo registers.
const GROUP: &str = "river-guild";

pub async fn run(settings: Settings, exit: bool) -> anyhow::Result<()> {
    std::fs::create_dir_all(&settings.data_dir).with_context(|| {
        format!(
            "creating the data directory {}",
            settings.data_dir.display()
        )
    })?;
    let log = settings.data_dir.join("demo.log");
    crate::telemetry::init_to_file(&settings.log, &log)
        .with_context(|| format!("creating the demo's log file {}", log.display()))?;
    println!("== the daemon's log goes to {}", log.display());
    println!("== starting a local anvil devnet (installs the pinned npm packages on first use)");
    let devnet = Devnet::start(DevnetOptions::default())
        .await
        .context("starting the devnet")?;
    let contracts = SafeContracts::deploy(&devnet)
        .await
        .context("deploying the Safe contracts")?;
    let keys = devnet::signers(4);
    let owners: Vec<Address> = keys[..3].iter().map(|k| k.address()).collect();
    let safe = contracts
        .create_safe(&devnet, SafeVersion::V141, &owners, 2, 0)
        .await?;
    devnet::fund(
        &devnet,
        safe,
        U256::from(5u64) * U256::from(10u64).pow(U256::from(18)),
    )
    .await?;
    println!(
        "   Safe 1.4.1 (plain, as the Safe interface deploys on mainnet) at {safe}: owners \
         {owners:?}, threshold 2, funded with 5 ETH"
    );

    let db = settings.data_dir.join("demo.db");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let store = Store::connect(&format!("sqlite://{}?mode=rwc", db.display()), 4).await?;
    store.migrate().await?;
    let yaml = format!(
        "id: river-guild\nname: River Guild\npurpose: Fund maintenance of the river network's shared tooling.\n\
         phase: coordination\nchain: local\nstart_block: 0\ntreasury:\n  safes:\n    - address: \"{safe}\"\n\
         \x20     owners: [\"{}\", \"{}\", \"{}\"]\n      threshold: 2\n  policy:\n    \
         max_outflow: {{ native: \"2000000000000000000\" }}\n",
        owners[0], owners[1], owners[2]
    );
    let manifest = Manifest::parse(&yaml).map_err(|e| anyhow::anyhow!("{e}"))?;
    let v = store.add_group(&manifest).await?;
    println!(
        "== registered group river-guild, manifest {} ({})",
        v.version, v.hash
    );

    let chain = ChainConfig {
        rpc_url: devnet.rpc_url().parse()?,
        ws_url: Some(devnet.ws_url().parse()?),
        preset: None,
        chain_id: devnet.chain_id(),
        block_time: None,
        confirmations: 0,
        poll_interval_ms: 200,
        max_block_range: 2000,
        documentation_grace_blocks: 7200,
        snapshot_interval_blocks: 50_000,
        // The devnet does not reorg by itself: every record enters the log at once.
        finality_depth: Some(0),
        max_lag_blocks: None,
        explorer_url: None,
        traces: crate::config::TraceMode::Auto,
        balance_check_interval_blocks: 10_000,
        // The devnet deploys the Safe contracts at their mainnet addresses, as the local
        // preset ships them.
        safe_deployments: crate::config::SafeDeployments::of(devnet.chain_id()),
    };
    let signer = Arc::new(LogSigner::new(
        &settings,
        "local",
        LogSigner::key(&settings).context("loading the checkpoint key")?,
    ));
    let follower = Follower::new("local", chain, settings.follower.clone(), store.clone())?
        .with_signer(signer);
    let cancel = CancellationToken::new();
    let task = {
        let cancel = cancel.clone();
        tokio::spawn(async move { follower.run(cancel).await })
    };

    // The group's operators: a webhook receiver that checks each alert's signature.
    let mut receiver = Receiver::start().await?;
    let alerts = AlertsConfig {
        sinks: vec![SinkConfig {
            name: "operators".into(),
            kind: SinkKind::Webhook,
            url: Some(receiver.url.parse()?),
            secret: Some(Secret::new(DEMO_SECRET)),
            secret_env: None,
            min_severity: Severity::Medium,
            groups: vec![],
        }],
        ..AlertsConfig::default()
    };
    let dispatcher = crate::alert::Dispatcher::new(store.clone(), &alerts)?;
    let dispatching = {
        let cancel = cancel.clone();
        tokio::spawn(async move { dispatcher.run(cancel).await })
    };
    // The HTTP API and the status page, as partners read them: at the configured address if it
    // is free, else at any free port.
    let listener = match tokio::net::TcpListener::bind(settings.api.bind.as_str()).await {
        Ok(l) if !settings.api.bind.is_empty() => l,
        _ => tokio::net::TcpListener::bind("127.0.0.1:0").await?,
    };
    let api = listener.local_addr()?;
    let serving = tokio::spawn(crate::api::serve(
        listener,
        crate::api::ApiState::new(store.clone(), vec!["local".into()]),
        cancel.clone(),
    ));
    println!(
        "   alerts go to a signed webhook at {}; the API listens on http://{api}",
        receiver.url
    );
    wait_for(&store, Duration::from_secs(30), |s| async move {
        Ok(s.group("river-guild")
            .await?
            .is_some_and(|g| g.synced_to >= 0))
    })
    .await?;

    println!("== a payment of 1 ETH, signed by two owners");
    let payee = Address::repeat_byte(0x77);
    devnet::exec_transaction(
        &devnet,
        safe,
        payee,
        U256::from(10u64).pow(U256::from(18)),
        Default::default(),
        0,
        &[&keys[0], &keys[1]],
    )
    .await?;

    println!("== a batch (MultiSendCallOnly) paying 1.5 ETH twice: each call under the 2 ETH limit, the transaction over it");
    let half = U256::from(15u64) * U256::from(10u64).pow(U256::from(17));
    contracts
        .multi_send_tx(
            devnet::MultiSendDeployment::V141CallOnly,
            &[
                devnet::MultiSendItem::pay(Address::repeat_byte(0x78), half),
                devnet::MultiSendItem::pay(Address::repeat_byte(0x79), half),
            ],
        )
        .execute(
            &devnet,
            safe,
            &[
                (&keys[0], devnet::SignatureKind::Ecdsa),
                (&keys[1], devnet::SignatureKind::Ecdsa),
            ],
        )
        .await?;
    wait_for(&store, Duration::from_secs(30), |s| async move {
        Ok(s.divergences("river-guild", Some(DivergenceStatus::Open))
            .await?
            .iter()
            .any(|d| d.rule == "treasury.outflow_over_limit"))
    })
    .await?;
    let alert = receiver.next(Duration::from_secs(30)).await?;
    println!("   {}", crate::alert::summary(&alert.body));

    println!(
        "== an owner nobody documented is added: {}",
        keys[3].address()
    );
    let receipt = devnet::add_owner_with_threshold(
        &devnet,
        safe,
        keys[3].address(),
        2,
        &[&keys[0], &keys[1]],
    )
    .await?;
    let mined = Instant::now();
    wait_for(&store, Duration::from_secs(30), |s| async move {
        Ok(s.divergences("river-guild", Some(DivergenceStatus::Open))
            .await?
            .iter()
            .any(|d| d.rule == "safe.owner_undeclared"))
    })
    .await?;
    println!(
        "   caught {} ms after the block was mined (block {})",
        mined.elapsed().as_millis(),
        receipt.block_number.unwrap_or_default()
    );
    let alert = receiver.next(Duration::from_secs(30)).await?;
    println!(
        "\n== the operators' webhook received the alert {} ms after the block was mined",
        mined.elapsed().as_millis()
    );
    println!(
        "   X-Groupstate-Signature valid: {}; idempotency key {}",
        alert.signature_valid, alert.key
    );
    println!("   {}", crate::alert::summary(&alert.body));

    println!("\n== groupstate records river-guild");
    let filter = RecordFilter {
        limit: Some(crate::query::MAX_LIMIT),
        ..RecordFilter::default()
    };
    output::records(
        &crate::query::records_page(&store, "river-guild", &filter).await?,
        false,
    )?;
    println!("\n== groupstate decisions river-guild");
    output::decisions(
        &crate::decisions::decisions(&store, "river-guild").await?,
        false,
    )?;
    println!("\n== groupstate divergences river-guild --status open");
    let filter = DivergenceFilter {
        status: Some(DivergenceStatus::Open),
        limit: Some(crate::query::MAX_LIMIT),
        ..DivergenceFilter::default()
    };
    output::divergences(
        &crate::query::divergences_page(&store, "river-guild", &filter).await?,
        false,
    )?;
    println!("\n== groupstate group state river-guild");
    let group = store
        .group(GROUP)
        .await?
        .context("the demo's group is registered")?;
    let versions = store.manifest_versions(GROUP).await?;
    output::state(
        &crate::state::group_state(&store, &group, &versions).await?,
        false,
        None,
    )?;
    let path = "/v1/groups/river-guild/divergences?status=open&limit=1";
    let answer: serde_json::Value = reqwest::get(format!("http://{api}{path}"))
        .await?
        .json()
        .await?;
    println!("\n== GET {path}");
    println!("{}", serde_json::to_string_pretty(&answer)?);
    // Every record, and the manifest, in the log under a signed checkpoint.
    let logged = store.count_records("river-guild").await? as u64 + 1;
    wait_for(&store, Duration::from_secs(30), |s| async move {
        Ok(s.latest_checkpoint("local")
            .await?
            .is_some_and(|c| c.tree_size >= logged))
    })
    .await?;
    println!("\n== groupstate log checkpoint");
    match store.latest_checkpoint("local").await? {
        Some(c) => print!("{}", c.note),
        None => println!("(no checkpoint signed yet)"),
    }
    let open = store
        .divergences(GROUP, Some(DivergenceStatus::Open))
        .await?
        .len();
    println!(
        "\n== the group's status page, declared beside observed, with its {open} open divergences:"
    );
    println!("   http://{api}/groups/{GROUP}");
    println!("   (the same as JSON: http://{api}/v1/groups/{GROUP}/state)");
    if exit {
        cancel.cancel();
    } else {
        println!("   The devnet, the daemon and the page keep running; Ctrl-C stops them.");
        crate::daemon::cancel_on_signal(cancel.clone());
        cancel.cancelled().await;
    }
    task.await.context("follower task")??;
    dispatching.await.context("alert dispatcher")??;
    serving.await.context("HTTP API")??;
    store.close().await;
    println!("\nThe demo's database is kept at {}.", db.display());
    Ok(())
}

/// The webhook secret the demo's receiver checks.
const DEMO_SECRET: &str = "demo-webhook-secret";

/// An alert as the demo's receiver got it.
struct Received {
    body: String,
    key: String,
    signature_valid: bool,
}

/// A local webhook receiver standing in for the operators' endpoint.
struct Receiver {
    url: String,
    rx: tokio::sync::mpsc::Receiver<Received>,
}

impl Receiver {
    async fn start() -> anyhow::Result<Receiver> {
        use axum::http::HeaderMap;
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: String| {
                let tx = tx.clone();
                async move {
                    let header = |name: &str| {
                        headers
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_string()
                    };
                    let timestamp: u64 = header("x-groupstate-timestamp").parse().unwrap_or(0);
                    let expected = crate::alert::sign(DEMO_SECRET.as_bytes(), timestamp, &body);
                    let _ = tx
                        .send(Received {
                            signature_valid: header("x-groupstate-signature") == expected,
                            key: header("x-groupstate-idempotency-key"),
                            body,
                        })
                        .await;
                    axum::http::StatusCode::NO_CONTENT
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/hook", listener.local_addr()?);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Receiver { url, rx })
    }

    /// The next alert, or an error after `limit`.
    async fn next(&mut self, limit: Duration) -> anyhow::Result<Received> {
        tokio::time::timeout(limit, self.rx.recv())
            .await
            .ok()
            .flatten()
            .with_context(|| format!("no alert reached the webhook within {limit:?}"))
    }
}

async fn wait_for<F, Fut>(store: &Store, limit: Duration, check: F) -> anyhow::Result<()>
where
    F: Fn(Store) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<bool>>,
{
    let start = Instant::now();
    while start.elapsed() < limit {
        if check(store.clone()).await? {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    anyhow::bail!("the follower did not get there within {limit:?}")
}
