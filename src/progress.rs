//! Catch-up progress people can see: per chain, and per group registered behind its chain's
//! checkpoint, the blocks and events per second, the blocks left, the share done and an
//! estimate of the time left — logged at a steady cadence, or drawn as progress bars
//! (`indicatif`) on an interactive terminal. It reads the followers' figures ([`Metrics`]) and
//! writes to the terminal alone; the status page and `status` format the same figures with
//! [`summary`].

use std::collections::{BTreeMap, BTreeSet};
use std::io::IsTerminal;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio_util::sync::CancellationToken;

use crate::config::{LogConfig, LogFormat, ProgressMode};
use crate::metrics::{ChainReading, Metrics};

/// The bars being drawn, if any: log lines are written around them (see [`suspend`]).
static BARS: OnceLock<MultiProgress> = OnceLock::new();

/// How often bars are redrawn.
const BAR_TICK: Duration = Duration::from_millis(500);

/// Runs `write` with the progress bars, if any, cleared from the terminal, so that a log line
/// never lands inside a bar.
pub fn suspend<R>(write: impl FnOnce() -> R) -> R {
    match BARS.get() {
        Some(bars) => bars.suspend(write),
        None => write(),
    }
}

/// Whether a chain has catching up to do: more than its readiness lag behind, or a group
/// registered behind its checkpoint.
pub fn is_catching_up(r: &ChainReading) -> bool {
    r.blocks_left.is_some_and(|n| n > r.max_lag) || !r.catching_up.is_empty()
}

/// One line on where a chain stands: "42.0% done, 1,234 blocks left at 56 blocks/s and
/// 7.5 events/s, about 22s left".
pub fn summary(r: &ChainReading) -> String {
    let mut out = String::new();
    if let Some(p) = r.progress {
        out.push_str(&format!("{:.1}% done, ", p * 100.0));
    }
    match r.blocks_left {
        Some(n) => out.push_str(&format!("{} blocks left", thousands(n))),
        None => out.push_str("blocks left unknown"),
    }
    out.push_str(&format!(
        " at {} blocks/s and {:.1} events/s",
        thousands(r.blocks_per_second.round() as u64),
        r.events_per_second
    ));
    match r.eta_s {
        Some(s) if r.blocks_left.unwrap_or(0) > 0 => {
            out.push_str(&format!(", about {} left", human_secs(s)))
        }
        Some(_) => {}
        None => out.push_str(", time left unknown"),
    }
    out
}

/// Seconds as people read them: "3m 12s", "2h 5m".
pub fn human_secs(s: f64) -> String {
    let s = s.max(0.0).round() as u64;
    let rounded = if s >= 3600 { s - s % 60 } else { s };
    humantime::format_duration(Duration::from_secs(rounded)).to_string()
}

/// 1234567 → "1,234,567".
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Reports progress as `log` says until `cancel` fires.
pub async fn report(metrics: Arc<Metrics>, log: &LogConfig, cancel: CancellationToken) {
    let mode = match log.progress {
        ProgressMode::Auto if std::io::stderr().is_terminal() && log.format == LogFormat::Text => {
            ProgressMode::Bars
        }
        ProgressMode::Auto => ProgressMode::Lines,
        mode => mode,
    };
    match mode {
        ProgressMode::Bars => bars(metrics, cancel).await,
        ProgressMode::Lines | ProgressMode::Auto => {
            lines(metrics, log.progress_interval, cancel).await
        }
        ProgressMode::Off => cancel.cancelled().await,
    }
}

/// Logs a line per chain (and per group) catching up every `every`, and one when it is done.
async fn lines(metrics: Arc<Metrics>, every: Duration, cancel: CancellationToken) {
    let mut tick = tokio::time::interval(every.max(Duration::from_millis(100)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut catching_up: BTreeSet<String> = BTreeSet::new();
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        for (name, m) in metrics.chains() {
            let r = m.read(&name);
            if r.failing.is_some() || r.indexed.is_none() {
                continue;
            }
            if is_catching_up(&r) {
                catching_up.insert(name.clone());
                tracing::info!(
                    chain = %name,
                    indexed = r.indexed.unwrap_or_default(),
                    target = r.target.unwrap_or_default(),
                    blocks_left = r.blocks_left.unwrap_or_default(),
                    percent = format!("{:.1}", r.progress.unwrap_or(0.0) * 100.0),
                    blocks_per_s = format!("{:.1}", r.blocks_per_second),
                    events_per_s = format!("{:.1}", r.events_per_second),
                    eta = r.eta_s.map(human_secs).unwrap_or_else(|| "unknown".into()),
                    "catching up: {}", summary(&r)
                );
                for g in &r.catching_up {
                    tracing::info!(
                        chain = %name,
                        group = %g.group,
                        synced_to = g.synced_to,
                        target = g.target,
                        blocks_left = g.blocks_left(),
                        percent = format!("{:.1}", g.progress() * 100.0),
                        "group catching up: {:.1}% done, {} blocks left",
                        g.progress() * 100.0,
                        thousands(g.blocks_left())
                    );
                }
            } else if catching_up.remove(&name) {
                tracing::info!(chain = %name, indexed = r.indexed.unwrap_or_default(),
                    "caught up with the head");
            }
        }
    }
}

/// Draws a bar per chain and per group catching up on stderr until `cancel` fires.
async fn bars(metrics: Arc<Metrics>, cancel: CancellationToken) {
    let multi = BARS.get_or_init(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
    let style = ProgressStyle::with_template("{prefix:>16} [{bar:30}] {percent:>3}% {msg}")
        .expect("a valid template")
        .progress_chars("=> ");
    let mut drawn: BTreeMap<String, ProgressBar> = BTreeMap::new();
    let mut tick = tokio::time::interval(BAR_TICK);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tick.tick() => {}
        }
        let mut live = BTreeSet::new();
        for (name, m) in metrics.chains() {
            let r = m.read(&name);
            let mut rows = vec![(name.clone(), r.progress, chain_message(&r))];
            for g in &r.catching_up {
                rows.push((
                    format!("{name}/{}", g.group),
                    Some(g.progress()),
                    format!("{} blocks left", thousands(g.blocks_left())),
                ));
            }
            for (key, progress, message) in rows {
                live.insert(key.clone());
                let bar = drawn.entry(key.clone()).or_insert_with(|| {
                    let bar = multi.add(ProgressBar::new(1000));
                    bar.set_style(style.clone());
                    bar.set_prefix(key);
                    bar
                });
                bar.set_position((progress.unwrap_or(0.0) * 1000.0) as u64);
                bar.set_message(message);
            }
        }
        drawn.retain(|key, bar| {
            let keep = live.contains(key);
            if !keep {
                bar.finish_and_clear();
                multi.remove(bar);
            }
            keep
        });
    }
    for bar in drawn.values() {
        bar.finish_and_clear();
    }
}

fn chain_message(r: &ChainReading) -> String {
    match &r.failing {
        Some(e) => format!("FAILING: {e}"),
        None if r.indexed.is_none() => "starting".into(),
        None if !is_catching_up(r) => format!(
            "following the head at block {}",
            r.indexed.unwrap_or_default()
        ),
        None => summary(r),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_read_as_people_say_them() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(20_000_000), "20,000,000");
        assert_eq!(human_secs(192.4), "3m 12s");
        assert_eq!(human_secs(7530.0), "2h 5m");
        let r = ChainReading {
            chain: "eth".into(),
            blocks_left: Some(12_345),
            progress: Some(0.42),
            blocks_per_second: 250.0,
            events_per_second: 7.5,
            eta_s: Some(49.38),
            max_lag: 10,
            ..ChainReading::default()
        };
        assert_eq!(
            summary(&r),
            "42.0% done, 12,345 blocks left at 250 blocks/s and 7.5 events/s, about 49s left"
        );
        assert!(is_catching_up(&r));
        let done = ChainReading {
            blocks_left: Some(3),
            ..r
        };
        assert!(
            !is_catching_up(&done),
            "within the lag is following, not catching up"
        );
    }
}
