//! The long-running service: one [`Follower`] task per configured chain, each sealing its log
//! and signing checkpoints, the alert dispatcher, and the HTTP API, under one cancellation
//! token. A task that fails fatally cancels the others and the daemon exits with its error,
//! rather than staying half alive.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::api::ApiState;
use crate::config::Settings;
use crate::ledger::LogSigner;
use crate::metrics::Metrics;
use crate::store::Store;
use crate::sync::Follower;

/// How often the recorder's recent timings are folded into their histograms.
const METRICS_UPKEEP: Duration = Duration::from_secs(5);

/// Runs followers for every configured chain until `cancel` fires or one fails fatally.
pub async fn run(
    settings: &Settings,
    store: Store,
    cancel: CancellationToken,
) -> anyhow::Result<()> {
    let key = LogSigner::key(settings).context("loading the checkpoint signing key")?;
    let mut tasks: JoinSet<(String, anyhow::Result<()>)> = JoinSet::new();
    let metrics = Metrics::new();
    if !settings.api.bind.is_empty() {
        let listener = tokio::net::TcpListener::bind(&settings.api.bind)
            .await
            .with_context(|| format!("listening on {}", settings.api.bind))?;
        let state = ApiState {
            store: store.clone(),
            chains: settings.chains.keys().cloned().collect(),
            verifier: Some(key.verifier()),
            metrics: metrics.clone(),
            admin_token: settings.api.admin_token.clone(),
            ready_stale: Duration::from_secs(settings.api.ready_stale_s),
            explorers: settings
                .chains
                .iter()
                .filter_map(|(name, c)| Some((name.clone(), c.explorer_base()?)))
                .collect(),
        };
        let token = cancel.child_token();
        tasks.spawn(async move {
            let r = crate::api::serve(listener, state, token).await;
            ("HTTP API".to_string(), r.map_err(anyhow::Error::new))
        });
    }
    {
        // Runs with no sink too: new alerts are then marked routed (to nobody), so a sink
        // added later does not receive the whole history.
        let dispatcher = crate::alert::Dispatcher::new(store.clone(), &settings.alerts)
            .context("starting the alert dispatcher")?
            .with_metrics(metrics.clone());
        let token = cancel.child_token();
        tasks.spawn(async move {
            let r = dispatcher.run(token).await;
            (
                "alert dispatcher".to_string(),
                r.map_err(anyhow::Error::new),
            )
        });
    }
    {
        // Timings wait in the recorder until a scrape folds them into their buckets; fold them
        // regularly too, so that a daemon nobody scrapes does not keep them all.
        let metrics = metrics.clone();
        let token = cancel.child_token();
        tasks.spawn(async move {
            let mut every = tokio::time::interval(METRICS_UPKEEP);
            loop {
                tokio::select! {
                    _ = token.cancelled() => break,
                    _ = every.tick() => metrics.run_upkeep(),
                }
            }
            ("metrics upkeep".to_string(), Ok(()))
        });
    }
    for (name, chain) in &settings.chains {
        let signer = Arc::new(LogSigner::new(settings, name, key.clone()));
        let follower = Follower::new(
            name,
            chain.clone(),
            settings.follower.clone(),
            store.clone(),
        )
        .with_context(|| format!("starting the follower of chain {name}"))?
        .with_signer(signer)
        .with_metrics(metrics.chain(name, chain.max_lag()));
        let token = cancel.child_token();
        let name = name.clone();
        tasks.spawn(async move {
            tracing::info!(chain = %name, "follower started");
            let r = follower.run(token).await;
            (
                format!("follower of chain {name}"),
                r.map_err(anyhow::Error::new),
            )
        });
    }
    let mut result = Ok(());
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((name, Ok(()))) => tracing::info!(task = %name, "stopped"),
            Ok((name, Err(e))) => {
                tracing::error!(task = %name, error = %e, "failed; shutting down");
                cancel.cancel();
                if result.is_ok() {
                    result = Err(e.context(name));
                }
            }
            Err(e) => {
                cancel.cancel();
                if result.is_ok() {
                    result = Err(anyhow::anyhow!("a task panicked: {e}"));
                }
            }
        }
    }
    result
}

/// Cancels `token` on Ctrl-C or SIGTERM.
pub fn cancel_on_signal(token: CancellationToken) {
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("installing the SIGTERM handler");
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down");
        token.cancel();
        // A second signal, or a stuck task, must not keep the process alive for ever.
        tokio::time::sleep(Duration::from_secs(30)).await;
    });
}
