//! Live figures each follower publishes as it runs — head, indexed block, events and records,
//! RPC errors by kind — read by `/metrics` and `/readyz`. What the database already knows
//! (divergences, alerts, the log) is counted there at scrape time instead, so replicas agree.
//!
//! Invariant: only counters and last-seen values, updated with atomics or a short lock, so a
//! follower never waits on a scrape.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::chain::rpc::{CallObserver, RpcErrorKind};

/// How far back the per-second rates look.
const RATE_WINDOW: Duration = Duration::from_secs(60);

/// Every chain's figures, by chain name.
#[derive(Debug, Default)]
pub struct Metrics {
    chains: Mutex<BTreeMap<String, Arc<ChainMetrics>>>,
}

impl Metrics {
    pub fn new() -> Arc<Metrics> {
        Arc::new(Metrics::default())
    }

    /// The figures of `chain`, created on first use with the lag it may fall behind by and
    /// still be ready.
    pub fn chain(&self, chain: &str, max_lag: u64) -> Arc<ChainMetrics> {
        let mut chains = self.chains.lock().expect("metrics lock");
        chains
            .entry(chain.to_string())
            .or_insert_with(|| Arc::new(ChainMetrics::new(max_lag)))
            .clone()
    }

    /// Every chain's figures, by name.
    pub fn chains(&self) -> Vec<(String, Arc<ChainMetrics>)> {
        let chains = self.chains.lock().expect("metrics lock");
        chains.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }
}

/// One chain's figures.
#[derive(Debug)]
pub struct ChainMetrics {
    /// The readiness bound: `head - indexed` at most this.
    pub max_lag: u64,
    head: AtomicI64,
    indexed: AtomicI64,
    events: AtomicU64,
    records: AtomicU64,
    /// When the follower last completed a step (None: never this run).
    last_step: Mutex<Option<Instant>>,
    rpc_errors: Mutex<BTreeMap<&'static str, u64>>,
    /// (when, events, records) samples for the per-second rates.
    window: Mutex<VecDeque<(Instant, u64, u64)>>,
}

impl CallObserver for ChainMetrics {
    fn failed(&self, _method: &'static str, kind: RpcErrorKind) {
        self.rpc_error(kind);
    }
}

/// A consistent reading of one chain's figures (the default: a chain nothing follows here).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct ChainReading {
    pub chain: String,
    /// The node's newest block, if the follower has asked yet.
    pub head: Option<u64>,
    /// The newest block every group's records are complete up to (the follower's checkpoint).
    pub indexed: Option<i64>,
    /// `head - indexed`, if both are known.
    pub lag: Option<u64>,
    pub max_lag: u64,
    /// Seconds since the follower last completed a step.
    pub last_step_age_s: Option<f64>,
    pub events_total: u64,
    pub records_total: u64,
    pub events_per_second: f64,
    pub records_per_second: f64,
    pub rpc_errors: BTreeMap<String, u64>,
}

impl ChainMetrics {
    fn new(max_lag: u64) -> ChainMetrics {
        ChainMetrics {
            max_lag,
            head: AtomicI64::new(-1),
            indexed: AtomicI64::new(i64::MIN),
            events: AtomicU64::new(0),
            records: AtomicU64::new(0),
            last_step: Mutex::new(None),
            rpc_errors: Mutex::new(BTreeMap::new()),
            window: Mutex::new(VecDeque::new()),
        }
    }

    pub fn set_head(&self, head: u64) {
        self.head.store(head as i64, Ordering::Relaxed);
    }

    pub fn set_indexed(&self, block: i64) {
        self.indexed.store(block, Ordering::Relaxed);
    }

    /// Counts a written batch.
    pub fn add_batch(&self, events: u64, records: u64) {
        self.events.fetch_add(events, Ordering::Relaxed);
        self.records.fetch_add(records, Ordering::Relaxed);
    }

    /// Marks a completed step and samples the counters for the rates.
    pub fn step_done(&self) {
        let now = Instant::now();
        *self.last_step.lock().expect("metrics lock") = Some(now);
        let mut w = self.window.lock().expect("metrics lock");
        w.push_back((
            now,
            self.events.load(Ordering::Relaxed),
            self.records.load(Ordering::Relaxed),
        ));
        while w.len() > 2 && now.duration_since(w[1].0) > RATE_WINDOW {
            w.pop_front();
        }
    }

    /// Counts one failed RPC attempt (retried or not).
    pub fn rpc_error(&self, kind: RpcErrorKind) {
        let name = match kind {
            RpcErrorKind::Transient => "transient",
            RpcErrorKind::RangeTooLarge => "range_too_large",
            RpcErrorKind::MissingBlock => "missing_block",
            RpcErrorKind::Fatal => "fatal",
        };
        *self
            .rpc_errors
            .lock()
            .expect("metrics lock")
            .entry(name)
            .or_default() += 1;
    }

    pub fn read(&self, chain: &str) -> ChainReading {
        let head = self.head.load(Ordering::Relaxed);
        let head = (head >= 0).then_some(head as u64);
        let indexed = self.indexed.load(Ordering::Relaxed);
        let indexed = (indexed != i64::MIN).then_some(indexed);
        let lag = match (head, indexed) {
            (Some(h), Some(i)) => Some((h as i64 - i).max(0) as u64),
            _ => None,
        };
        let events_total = self.events.load(Ordering::Relaxed);
        let records_total = self.records.load(Ordering::Relaxed);
        let (events_per_second, records_per_second) = {
            let w = self.window.lock().expect("metrics lock");
            match (w.front(), w.back()) {
                (Some(a), Some(b)) if b.0 > a.0 => {
                    let s = b.0.duration_since(a.0).as_secs_f64();
                    ((b.1 - a.1) as f64 / s, (b.2 - a.2) as f64 / s)
                }
                _ => (0.0, 0.0),
            }
        };
        ChainReading {
            chain: chain.to_string(),
            head,
            indexed,
            lag,
            max_lag: self.max_lag,
            last_step_age_s: self
                .last_step
                .lock()
                .expect("metrics lock")
                .map(|t| t.elapsed().as_secs_f64()),
            events_total,
            records_total,
            events_per_second,
            records_per_second,
            rpc_errors: self
                .rpc_errors
                .lock()
                .expect("metrics lock")
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
        }
    }
}

impl ChainReading {
    /// Ready: the follower has stepped recently and is within its lag of the head.
    pub fn is_ready(&self, stale_after: Duration) -> Result<(), String> {
        let Some(lag) = self.lag else {
            return Err(format!("chain {}: not followed yet", self.chain));
        };
        if lag > self.max_lag {
            return Err(format!(
                "chain {}: {lag} blocks behind the head (at most {})",
                self.chain, self.max_lag
            ));
        }
        match self.last_step_age_s {
            Some(age) if age <= stale_after.as_secs_f64() => Ok(()),
            Some(age) => Err(format!(
                "chain {}: no completed step for {age:.0} s",
                self.chain
            )),
            None => Err(format!("chain {}: no completed step yet", self.chain)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_follows_lag_and_steps() {
        let m = Metrics::new();
        let c = m.chain("dev", 5);
        assert!(c.read("dev").is_ready(Duration::from_secs(60)).is_err());
        c.set_head(100);
        c.set_indexed(90);
        c.step_done();
        let r = c.read("dev");
        assert_eq!(r.lag, Some(10));
        assert!(r
            .is_ready(Duration::from_secs(60))
            .unwrap_err()
            .contains("10 blocks"));
        c.set_indexed(96);
        assert!(c.read("dev").is_ready(Duration::from_secs(60)).is_ok());
        c.rpc_error(RpcErrorKind::Transient);
        c.rpc_error(RpcErrorKind::Transient);
        assert_eq!(c.read("dev").rpc_errors["transient"], 2);
    }

    #[test]
    fn rates_span_the_window() {
        let m = Metrics::new();
        let c = m.chain("dev", 5);
        c.step_done();
        std::thread::sleep(Duration::from_millis(20));
        c.add_batch(10, 4);
        c.step_done();
        let r = c.read("dev");
        assert_eq!((r.events_total, r.records_total), (10, 4));
        assert!(r.events_per_second > 0.0 && r.events_per_second > r.records_per_second);
    }
}
