//! The dispatcher: routes new alerts to their sinks, claims due deliveries with a lease, sends
//! them, and records the outcome — delivered, retried later with backoff, or dead.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::{FuturesUnordered, StreamExt};
use tokio_util::sync::CancellationToken;

use super::{AlertError, Sink};
use crate::config::AlertsConfig;
use crate::metrics::Metrics;
use crate::retry::Backoff;
use crate::store::{now_ms, ClaimedDelivery, Store};

/// Alerts routed per statement.
const ROUTE_BATCH: i64 = 200;
/// Deliveries claimed (and sent concurrently) per round.
const CLAIM_BATCH: i64 = 32;

/// Delivers the outbox. Several may run against one PostgreSQL database (one per replica):
/// routing is idempotent and claims skip rows another holds.
pub struct Dispatcher {
    store: Store,
    config: AlertsConfig,
    sinks: Vec<Sink>,
    client: reqwest::Client,
    /// Times each send.
    metrics: Option<Arc<Metrics>>,
    /// The sinks each covenant names, and when they were read.
    covenant_sinks: std::sync::Mutex<Option<(Instant, Arc<CovenantSinks>)>>,
}

/// The sinks each covenant names, by covenant id.
type CovenantSinks = std::collections::BTreeMap<String, Vec<String>>;

/// How long the sinks covenants name are used before they are read again.
const COVENANT_SINKS_TTL: Duration = Duration::from_secs(1);

/// How long to wait before attempt `attempts + 1` after attempt `attempts` (≥ 1) failed: the
/// shared [`Backoff`] from `backoff_initial` doubling up to `backoff_max`, of which a random
/// half (`jitter` in [0, 1)) so that alerts failing together do not retry together; never less
/// than what the receiver asked for with `Retry-After`, itself capped at the max. The wait is
/// stored with the delivery (the outbox outlives the process), so it is computed here, not
/// slept.
pub fn backoff(
    config: &AlertsConfig,
    attempts: u32,
    retry_after: Option<Duration>,
    jitter: f64,
) -> Duration {
    let policy = Backoff {
        initial: Duration::from_millis(config.backoff_initial_ms),
        max: Duration::from_millis(config.backoff_max_ms),
        retries: Some(config.max_attempts.saturating_sub(1) as usize),
    };
    let asked = retry_after.unwrap_or_default().min(policy.max);
    policy.delay(attempts, jitter).max(asked)
}

/// A send's outcome, for its timing: `delivered`, `failed` (retried later, or dead when it was
/// the last attempt) or `refused` (the receiver refused it for good: dead at once).
fn outcome(result: &Result<(), AlertError>) -> &'static str {
    match result {
        Ok(()) => "delivered",
        Err(AlertError::Delivery {
            permanent: true, ..
        }) => "refused",
        Err(_) => "failed",
    }
}

impl Dispatcher {
    pub fn new(store: Store, config: &AlertsConfig) -> Result<Dispatcher, AlertError> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(config.timeout_ms))
            .user_agent(concat!("groupstate/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(AlertError::Client)?;
        Ok(Dispatcher {
            store,
            config: config.clone(),
            sinks: config.sinks.iter().map(Sink::from_config).collect(),
            client,
            metrics: None,
            covenant_sinks: std::sync::Mutex::new(None),
        })
    }

    /// Times each send into `metrics`, by sink kind and outcome.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Dispatcher {
        self.metrics = Some(metrics);
        self
    }

    /// Delivers until `cancel` fires. Woken by every batch that writes alerts in this process,
    /// and polls every `poll_interval_ms` for retries and other processes' alerts. A database
    /// error is logged and retried at the next poll. On cancellation, sends in flight are
    /// abandoned and given back (or, if that fails, retried when their lease expires).
    pub async fn run(&self, cancel: CancellationToken) -> Result<(), AlertError> {
        let poll = Duration::from_millis(self.config.poll_interval_ms);
        tracing::info!(sinks = self.sinks.len(), "alert dispatcher started");
        while !cancel.is_cancelled() {
            let busy = match self.step(&cancel).await {
                Ok(n) => n == CLAIM_BATCH as usize,
                Err(e) => {
                    tracing::warn!(error = %e, "alert dispatch failed; retrying");
                    false
                }
            };
            if busy {
                continue;
            }
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = self.store.alerts_written() => {}
                _ = tokio::time::sleep(poll) => {}
            }
        }
        Ok(())
    }

    /// One round: routes every new alert, then claims and sends the deliveries due now.
    /// Returns how many deliveries were attempted.
    pub async fn step(&self, cancel: &CancellationToken) -> Result<usize, AlertError> {
        // The sinks covenants name (a partner's) hear only of those covenants' findings.
        let covenants = self.covenant_sinks().await?;
        while self
            .store
            .route_alerts(ROUTE_BATCH, |a| {
                let item = crate::model::Rule::parse(&a.rule)
                    .is_some_and(|r| r.is_covenant())
                    .then(|| a.item())
                    .flatten();
                super::route(
                    &self.sinks,
                    &covenants,
                    &a.group_id,
                    &a.rule,
                    item.as_deref(),
                    &a.severity,
                )
            })
            .await?
            == ROUTE_BATCH as usize
        {}
        let now = now_ms();
        let claimed = self
            .store
            .claim_deliveries(now, now + self.config.lease_ms as i64, CLAIM_BATCH)
            .await?;
        let count = claimed.len();
        let mut unfinished: HashSet<(i64, String)> = claimed
            .iter()
            .map(|c| (c.alert_id, c.sink.clone()))
            .collect();
        let mut sends: FuturesUnordered<_> = claimed
            .into_iter()
            .map(|c| async move {
                let result = match self.sinks.iter().find(|s| s.name == c.sink) {
                    Some(sink) => {
                        let started = Instant::now();
                        let result = sink.send(&self.client, &c).await;
                        if let Some(m) = &self.metrics {
                            m.alert_delivery(
                                sink.kind.as_str(),
                                outcome(&result),
                                started.elapsed(),
                            );
                        }
                        result
                    }
                    None => Err(AlertError::Delivery {
                        sink: c.sink.clone(),
                        message: "the sink is no longer configured".into(),
                        retry_after: None,
                        // It may come back with the next configuration: keep trying.
                        permanent: false,
                    }),
                };
                (c, result)
            })
            .collect();
        loop {
            tokio::select! {
                biased;
                _ = cancel.cancelled() => {
                    drop(sends);
                    for (alert_id, sink) in unfinished {
                        if let Err(e) = self.store.release_delivery(alert_id, &sink).await {
                            tracing::warn!(error = %e, alert_id, %sink, "could not give back an alert delivery; it is retried when its lease expires");
                        }
                    }
                    return Ok(count);
                }
                next = sends.next() => match next {
                    None => break,
                    Some((c, result)) => {
                        unfinished.remove(&(c.alert_id, c.sink.clone()));
                        self.record(&c, result).await?;
                    }
                },
            }
        }
        Ok(count)
    }

    /// The sinks each covenant names, read again at most once per [`COVENANT_SINKS_TTL`].
    async fn covenant_sinks(&self) -> Result<Arc<CovenantSinks>, AlertError> {
        if let Some((at, sinks)) = &*self.covenant_sinks.lock().expect("covenant sinks lock") {
            if at.elapsed() < COVENANT_SINKS_TTL {
                return Ok(sinks.clone());
            }
        }
        let sinks = Arc::new(self.store.covenant_sinks().await?);
        *self.covenant_sinks.lock().expect("covenant sinks lock") =
            Some((Instant::now(), sinks.clone()));
        Ok(sinks)
    }

    async fn record(
        &self,
        c: &ClaimedDelivery,
        result: Result<(), AlertError>,
    ) -> Result<(), AlertError> {
        let error = match result {
            Ok(()) => {
                tracing::debug!(key = %c.key, sink = %c.sink, attempts = c.attempts, "alert delivered");
                return Ok(self.store.mark_delivered(c.alert_id, &c.sink).await?);
            }
            Err(e) => e,
        };
        let (retry_after, permanent) = match &error {
            AlertError::Delivery {
                retry_after,
                permanent,
                ..
            } => (*retry_after, *permanent),
            _ => (None, false),
        };
        let message = error.to_string();
        if permanent {
            tracing::error!(key = %c.key, sink = %c.sink, attempts = c.attempts, error = %message, "alert delivery dead: the receiver refused it for good");
            self.store
                .mark_failed(c.alert_id, &c.sink, &message, None)
                .await?;
        } else if c.attempts >= self.config.max_attempts as i64 {
            tracing::error!(key = %c.key, sink = %c.sink, attempts = c.attempts, error = %message, "alert delivery dead: out of attempts");
            self.store
                .mark_failed(c.alert_id, &c.sink, &message, None)
                .await?;
        } else {
            let wait = backoff(
                &self.config,
                c.attempts as u32,
                retry_after,
                rand::random::<f64>(),
            );
            tracing::warn!(key = %c.key, sink = %c.sink, attempts = c.attempts, error = %message, retry_in_ms = wait.as_millis() as u64, "alert delivery failed; will retry");
            self.store
                .mark_failed(
                    c.alert_id,
                    &c.sink,
                    &message,
                    Some(now_ms() + wait.as_millis() as i64),
                )
                .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_up_to_the_max() {
        let c = AlertsConfig {
            backoff_initial_ms: 1000,
            backoff_max_ms: 10_000,
            ..AlertsConfig::default()
        };
        let ms = |attempts, jitter| backoff(&c, attempts, None, jitter).as_millis();
        assert_eq!((ms(1, 0.0), ms(1, 0.999_999)), (500, 999));
        assert_eq!((ms(2, 0.0), ms(3, 0.0), ms(4, 0.0)), (1000, 2000, 4000));
        assert_eq!((ms(5, 0.0), ms(9, 1.0), ms(200, 0.5)), (5000, 10_000, 7500));
    }

    #[test]
    fn retry_after_is_honoured_up_to_the_max() {
        let c = AlertsConfig {
            backoff_initial_ms: 100,
            backoff_max_ms: 10_000,
            ..AlertsConfig::default()
        };
        let ra = |s| Some(Duration::from_secs(s));
        assert_eq!(backoff(&c, 1, ra(3), 0.0), Duration::from_secs(3));
        assert_eq!(backoff(&c, 1, ra(3600), 0.0), Duration::from_secs(10));
        // A shorter Retry-After than the backoff does not shorten it.
        assert_eq!(backoff(&c, 9, ra(0), 0.0), Duration::from_secs(5));
    }
}
