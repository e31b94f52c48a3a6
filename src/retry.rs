//! One retry policy — exponential backoff with jitter, capped — shared by RPC calls, the
//! follower's steps and alert deliveries, built on `backon`. What is worth retrying stays with
//! each caller's own classifier (`RpcError::is_retryable`, `FollowerError::is_retryable`, a
//! receiver's answer); this module only says how long to wait and how often.
//!
//! Invariant: the n-th delay (n ≥ 1) is `initial · 2^(n-1)` capped at `max`, before jitter;
//! jitter adds up to that delay again (backon's), or, where a delay is computed ahead and
//! stored ([`Backoff::delay`], the alert outbox), keeps half of it and randomises the other half.

use std::time::Duration;

use backon::ExponentialBuilder;

/// The retry policy of one caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first retry waits about this long.
    pub initial: Duration,
    /// No single wait is longer.
    pub max: Duration,
    /// Retries after the first attempt; `None`: until the caller stops (cancellation).
    pub retries: Option<usize>,
}

impl Backoff {
    /// The backon builder for `Retryable::retry`: exponential from `initial`, capped at
    /// `max`, with jitter, at most `retries` times.
    pub fn builder(&self) -> ExponentialBuilder {
        let b = ExponentialBuilder::default()
            .with_min_delay(self.initial)
            .with_max_delay(self.max)
            .with_factor(2.0)
            .with_jitter();
        match self.retries {
            Some(n) => b.with_max_times(n),
            None => b.without_max_times(),
        }
    }

    /// The nominal wait before retry number `attempt` (1-based), without jitter: what the
    /// builder's backoff waits before its jitter, in exact integer arithmetic (backon computes
    /// in `f32`).
    pub fn nominal(&self, attempt: u32) -> Duration {
        let doublings = attempt.max(1) - 1;
        self.initial
            .saturating_mul(1u32 << doublings.min(31))
            .min(self.max)
    }

    /// The wait before retry number `attempt`, for a delay computed ahead and stored: half the
    /// nominal wait, plus `jitter` (in [0, 1)) of the other half, so that failures that
    /// happened together do not retry together.
    pub fn delay(&self, attempt: u32, jitter: f64) -> Duration {
        let nominal = self.nominal(attempt);
        let half = nominal / 2;
        half + half.mul_f64(jitter.clamp(0.0, 1.0))
    }
}

#[cfg(test)]
mod tests {
    use backon::BackoffBuilder;

    use super::*;

    fn policy() -> Backoff {
        Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
            retries: Some(5),
        }
    }

    #[test]
    fn the_nominal_wait_doubles_up_to_the_max() {
        let p = policy();
        let ms: Vec<u128> = (1..=6).map(|n| p.nominal(n).as_millis()).collect();
        assert_eq!(ms, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(p.nominal(0), p.nominal(1));
        assert_eq!(p.nominal(10_000), Duration::from_secs(1));
    }

    #[test]
    fn a_stored_delay_keeps_half_and_randomises_half() {
        let p = policy();
        assert_eq!(p.delay(3, 0.0), Duration::from_millis(200));
        assert_eq!(p.delay(3, 0.5), Duration::from_millis(300));
        assert_eq!(p.delay(3, 7.0), Duration::from_millis(400));
    }

    #[test]
    fn the_builder_waits_within_bounds_and_stops_after_its_retries() {
        let p = policy();
        let waits: Vec<Duration> = p.builder().build().collect();
        assert_eq!(waits.len(), 5);
        for (i, w) in waits.iter().enumerate() {
            let nominal = p.nominal(i as u32 + 1);
            assert!(*w >= nominal && *w <= nominal * 2, "{i}: {w:?}");
        }
        let forever = Backoff {
            retries: None,
            ..policy()
        };
        assert_eq!(forever.builder().build().take(100).count(), 100);
    }
}
