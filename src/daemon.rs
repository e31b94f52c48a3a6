//! The long-running service: one [`Follower`] task per configured chain that has groups, under
//! one cancellation token. A follower that fails fatally cancels the others and the daemon exits
//! with its error, rather than staying half alive.

use std::time::Duration;

use anyhow::Context;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::chain::Follower;
use crate::config::Settings;
use crate::store::Store;

/// Runs followers for every configured chain until `cancel` fires or one fails fatally.
pub async fn run(
    settings: &Settings,
    store: Store,
    cancel: CancellationToken,
) -> anyhow::Result<()> {
    let mut tasks = JoinSet::new();
    for (name, chain) in &settings.chains {
        let follower = Follower::new(
            name,
            chain.clone(),
            settings.follower.clone(),
            store.clone(),
        )
        .with_context(|| format!("starting the follower of chain {name}"))?;
        let token = cancel.child_token();
        let name = name.clone();
        tasks.spawn(async move {
            tracing::info!(chain = %name, "follower started");
            let r = follower.run(token).await;
            (name, r)
        });
    }
    let mut result = Ok(());
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((name, Ok(()))) => tracing::info!(chain = %name, "follower stopped"),
            Ok((name, Err(e))) => {
                tracing::error!(chain = %name, error = %e, "follower failed; shutting down");
                cancel.cancel();
                if result.is_ok() {
                    result = Err(anyhow::Error::new(e));
                }
            }
            Err(e) => {
                cancel.cancel();
                if result.is_ok() {
                    result = Err(anyhow::anyhow!("a follower task panicked: {e}"));
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
