//! Waiting for the next head: a WebSocket `newHeads` subscription when the chain has a
//! `ws_url`, resubscribed with backoff whenever it ends (a server restart, an idle
//! disconnect), and the poll interval always beside it, so that a follower whose subscription
//! is down keeps polling meanwhile.

use std::sync::Arc;
use std::time::Duration;

use futures::stream::BoxStream;
use futures::StreamExt;
use tokio::time::Instant;

use crate::chain::rpc::subscribe_heads;
use crate::metrics::ChainMetrics;
use crate::retry::Backoff;

/// How long one subscription attempt may take.
const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(10);

/// Resubscription waits: from one second, doubling, up to a minute.
const RESUBSCRIBE: Backoff = Backoff {
    initial: Duration::from_secs(1),
    max: Duration::from_secs(60),
    retries: None,
};

/// One chain's source of new heads.
pub(crate) struct Heads {
    chain: String,
    url: Option<String>,
    stream: Option<BoxStream<'static, ()>>,
    /// Failed attempts since the last subscription; the next may start at `next_attempt`.
    failures: u32,
    next_attempt: Instant,
    /// Subscriptions made so far.
    subscriptions: u64,
    metrics: Option<Arc<ChainMetrics>>,
}

impl Heads {
    /// Heads of `chain`: subscribed over `url` when there is one (first attempt at the first
    /// wait), by polling otherwise.
    pub(crate) fn new(chain: &str, url: Option<&str>, metrics: Option<Arc<ChainMetrics>>) -> Heads {
        Heads {
            chain: chain.to_string(),
            url: url.map(str::to_string),
            stream: None,
            failures: 0,
            next_attempt: Instant::now(),
            subscriptions: 0,
            metrics,
        }
    }

    /// Returns at the next announced head, or after `poll`, whichever comes first; first
    /// subscribes again if the subscription is down and its backoff has passed.
    pub(crate) async fn wait(&mut self, poll: Duration) {
        self.resubscribe_if_due().await;
        let deadline = tokio::time::sleep(poll);
        let Some(stream) = self.stream.as_mut() else {
            // Polling; wake early when the next subscription attempt is due.
            match &self.url {
                Some(_) => {
                    tokio::select! {
                        _ = deadline => {}
                        _ = tokio::time::sleep_until(self.next_attempt) => {}
                    }
                }
                None => deadline.await,
            }
            return;
        };
        tokio::select! {
            _ = deadline => {}
            next = stream.next() => {
                if next.is_none() {
                    self.ended();
                }
            }
        }
    }

    fn ended(&mut self) {
        self.stream = None;
        self.failures = 0;
        self.next_attempt = Instant::now() + RESUBSCRIBE.initial;
        if let Some(m) = &self.metrics {
            m.set_head_subscribed(false);
        }
        tracing::warn!(chain = %self.chain,
            "the newHeads subscription ended; polling until it is back");
    }

    async fn resubscribe_if_due(&mut self) {
        let Some(url) = &self.url else { return };
        if self.stream.is_some() || Instant::now() < self.next_attempt {
            return;
        }
        let attempt = tokio::time::timeout(SUBSCRIBE_TIMEOUT, subscribe_heads(url)).await;
        match attempt {
            Ok(Ok(stream)) => {
                self.subscriptions += 1;
                if self.subscriptions == 1 {
                    tracing::info!(chain = %self.chain, "subscribed to new heads");
                } else {
                    tracing::info!(chain = %self.chain, after_failures = self.failures,
                        "subscribed to new heads again");
                }
                self.stream = Some(stream);
                self.failures = 0;
                if let Some(m) = &self.metrics {
                    m.set_head_subscribed(true);
                }
            }
            failed => {
                let error = match failed {
                    Ok(Err(e)) => e.to_string(),
                    _ => format!("no answer within {SUBSCRIBE_TIMEOUT:?}"),
                };
                self.failures = self.failures.saturating_add(1);
                let wait = RESUBSCRIBE.delay(self.failures, rand::random::<f64>());
                self.next_attempt = Instant::now() + wait;
                tracing::warn!(chain = %self.chain, %error, retry_in_ms = wait.as_millis() as u64,
                    "newHeads subscription failed; polling meanwhile");
            }
        }
    }
}
