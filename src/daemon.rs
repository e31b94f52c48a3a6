//! The long-running service: one supervised [`Follower`] per chain this replica holds the lease
//! of (see [`crate::replica`]), each sealing its log and signing checkpoints, the alert
//! dispatcher, the HTTP API and the progress report, under one cancellation token.
//!
//! A chain's failure is that chain's alone: its follower is restarted with backoff, loudly (an
//! error log line, `groupstate_chain_failing`, `/readyz` naming the chain), while the other
//! chains keep going, and no chain needs to be reachable at start. A failure of the API or the
//! dispatcher still cancels the whole daemon, which exits with its error rather than staying
//! half alive.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::api::ApiState;
use crate::config::{ChainConfig, FollowerConfig, Settings};
use crate::ledger::LogSigner;
use crate::metrics::{ChainMetrics, Metrics};
use crate::retry::Backoff;
use crate::store::{Fence, Store};
use crate::sync::Follower;

/// How often the recorder's recent timings are folded into their histograms.
const METRICS_UPKEEP: Duration = Duration::from_secs(5);

/// Runs followers for every configured chain, each restarted alone when it fails, until
/// `cancel` fires or the API or the dispatcher fails.
pub async fn run(
    settings: &Settings,
    store: Store,
    cancel: CancellationToken,
) -> anyhow::Result<()> {
    // SQLite has one writer: a second daemon on the same file is refused here, at once.
    let _single_writer = store
        .lock_single_writer()
        .context("taking the database's single-writer lock")?;
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
            block_times: settings
                .chains
                .iter()
                .filter_map(|(name, c)| Some((name.clone(), c.block_time?)))
                .collect(),
            chain_access: crate::ratify::chain_access(settings)
                .context("connecting to the chains for ratification checks")?,
            treasury_cache: Default::default(),
            sinks: settings
                .alerts
                .sinks
                .iter()
                .map(|s| s.name.clone())
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
    {
        // Each chain is followed by the replica holding its lease; the keeper starts and stops
        // this replica's followers as it takes and loses leases.
        let keeper = crate::replica::Keeper::new(
            &settings.replica,
            store.clone(),
            settings.chains.keys().cloned().collect(),
            metrics.clone(),
            _single_writer.is_some(),
        );
        let chains = settings.chains.clone();
        let follower = settings.follower.clone();
        let (settings_for, key_for, metrics_for) = (settings.clone(), key.clone(), metrics.clone());
        let store_for = store.clone();
        let start: Arc<crate::replica::StartFollower> =
            Arc::new(move |name: &str, fence: Fence, token: CancellationToken| {
                let chain = chains[name].clone();
                let supervisor = ChainSupervisor {
                    name: name.to_string(),
                    metrics: metrics_for.chain(name, chain.max_lag()),
                    chain,
                    settings: follower.clone(),
                    store: store_for.fenced(fence),
                    signer: Arc::new(LogSigner::new(&settings_for, name, key_for.clone())),
                };
                tokio::spawn(supervisor.run(token))
            });
        let token = cancel.child_token();
        tasks.spawn(async move {
            keeper.run(token, start).await;
            ("replica leases".to_string(), Ok(()))
        });
    }
    {
        let token = cancel.child_token();
        let metrics = metrics.clone();
        let log = settings.log.clone();
        tasks.spawn(async move {
            crate::progress::report(metrics, &log, token).await;
            ("progress report".to_string(), Ok(()))
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

/// Restart waits of a failed follower: from one second, doubling, up to half a minute.
const RESTART: Backoff = Backoff {
    initial: Duration::from_secs(1),
    max: Duration::from_secs(30),
    retries: None,
};

/// A follower that ran this long before failing had recovered: its next restart waits the
/// shortest time again.
const HEALTHY_RUN: Duration = Duration::from_secs(300);

/// Runs one chain's follower, and starts it again whenever it fails or panics.
struct ChainSupervisor {
    name: String,
    chain: ChainConfig,
    settings: FollowerConfig,
    store: Store,
    signer: Arc<LogSigner>,
    metrics: Arc<ChainMetrics>,
}

impl ChainSupervisor {
    async fn run(self, cancel: CancellationToken) {
        let mut failures = 0u32;
        loop {
            let started = Instant::now();
            let error = match self.follower() {
                Ok(follower) => {
                    tracing::info!(chain = %self.name, "follower started");
                    let token = cancel.clone();
                    match tokio::spawn(async move { follower.run(token).await }).await {
                        Ok(Ok(())) => return,
                        Ok(Err(e)) if e.is_fenced() => {
                            // Another replica holds the chain now: this one stops writing it.
                            tracing::warn!(chain = %self.name, error = %e,
                                "lease lost; this replica stops following the chain");
                            return;
                        }
                        Ok(Err(e)) => e.to_string(),
                        Err(e) => format!("the follower panicked: {e}"),
                    }
                }
                Err(e) => e.to_string(),
            };
            if cancel.is_cancelled() {
                return;
            }
            if started.elapsed() >= HEALTHY_RUN {
                failures = 0;
            }
            failures = failures.saturating_add(1);
            let wait = RESTART.delay(failures, rand::random::<f64>());
            self.metrics.failed(&error);
            tracing::error!(chain = %self.name, %error, failures,
                restart_in_ms = wait.as_millis() as u64,
                "follower failed; restarting this chain alone, the others go on");
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
            self.metrics.restarted();
        }
    }

    fn follower(&self) -> Result<Follower, crate::sync::FollowerError> {
        Ok(Follower::new(
            &self.name,
            self.chain.clone(),
            self.settings.clone(),
            self.store.clone(),
        )?
        .with_signer(self.signer.clone())
        .with_metrics(self.metrics.clone()))
    }
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
