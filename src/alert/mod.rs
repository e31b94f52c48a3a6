//! Alerts: tell people the moment a divergence is opened, resolved, retracted (the block that
//! opened it was reorged away) or reopened (the block that resolved it was).
//!
//! Invariant: an alert is written to the outbox (`alerts`) by the same database transaction
//! that changes the divergence (a batch's commit, or an unwind), so no divergence change is ever
//! without its alert and no alert survives a change that was rolled back. The [`Dispatcher`]
//! then delivers every alert *at least once* to each sink that wants it, retrying with
//! exponential backoff; a receiver drops duplicates by the alert's stable idempotency key.

mod dispatcher;
mod sink;

pub use dispatcher::{backoff, Dispatcher};
pub use sink::{sign, summary, Sink};

use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::manifest::covenant::CovenantItem;
pub use crate::model::AlertEvent;
pub use crate::store::NewAlert;
use crate::store::{Divergence, StoreError};

/// An alert that could not be handled.
#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("building the HTTP client for alert sinks: {0}")]
    Client(#[source] reqwest::Error),
    /// One attempt to deliver to a sink failed; it will be retried unless out of attempts.
    #[error("sink {sink}: {message}")]
    Delivery {
        sink: String,
        message: String,
        /// What the receiver asked for with `Retry-After` (429, 503).
        retry_after: Option<Duration>,
        /// The receiver refused this request for good (a 4xx that retrying cannot change):
        /// the delivery is dead at once, to be re-armed by hand once the receiver is fixed.
        permanent: bool,
    },
}

/// The block an alert is about: where the divergence was opened, or where the resolution
/// (made, or reorged away) was.
fn event_block(event: AlertEvent, d: &Divergence) -> i64 {
    match event {
        AlertEvent::Opened | AlertEvent::Retracted => d.opened_block,
        AlertEvent::Resolved | AlertEvent::Reopened | AlertEvent::ManifestResolvedCritical => {
            d.resolved_block.unwrap_or(d.opened_block)
        }
    }
}

/// The covenant a divergence is a finding of, if it is one.
pub fn covenant_of(d: &Divergence) -> Option<CovenantItem> {
    crate::model::Rule::parse(&d.rule)
        .filter(|r| r.is_covenant())
        .and_then(|_| CovenantItem::parse(&d.item))
}

/// Where an alert goes: every configured sink that accepts its group and severity, except the
/// sinks a covenant names (`notify`: a partner's), which hear only of the findings of the
/// covenants that name them. `covenants` maps each covenant id to the sinks it names.
pub fn route(
    sinks: &[Sink],
    covenants: &std::collections::BTreeMap<String, Vec<String>>,
    group: &str,
    rule: &str,
    item: Option<&str>,
    severity: &str,
) -> Vec<String> {
    let partner = |name: &str| covenants.values().any(|s| s.iter().any(|n| n == name));
    let covenant = crate::model::Rule::parse(rule)
        .filter(|r| r.is_covenant())
        .and(item)
        .and_then(CovenantItem::parse);
    let named: &[String] = covenant
        .as_ref()
        .and_then(|c| covenants.get(&c.covenant))
        .map_or(&[], Vec::as_slice);
    let mut out: Vec<String> = sinks
        .iter()
        .filter(|s| !partner(&s.name) && s.accepts(group, severity))
        .map(|s| s.name.clone())
        .collect();
    for name in named {
        if sinks.iter().any(|s| &s.name == name) && !out.contains(name) {
            out.push(name.clone());
        }
    }
    out
}

/// The outbox row: built here (its key and body are alert policy), stored as it is.
impl NewAlert {
    /// The alert of `event` on `d` (as it is after the event; for `reopened`, as it was
    /// resolved, since the resolution is what the alert is about).
    pub fn new(chain: &str, event: AlertEvent, d: &Divergence) -> NewAlert {
        let key = idempotency_key(chain, event, d);
        let mut payload = serde_json::json!({
            "key": key,
            "event": event,
            "group": d.group_id,
            "chain": chain,
            "divergence": d,
        });
        if let Some(item) = covenant_of(d) {
            payload["covenant"] = serde_json::json!({
                "id": item.covenant,
                "version": item.version,
                "clause": item.clause,
                "window": item.window,
            });
        }
        NewAlert {
            event,
            group_id: d.group_id.clone(),
            chain: chain.to_string(),
            divergence_n: d.n,
            rule: d.rule.clone(),
            severity: d.severity.clone(),
            block_number: event_block(event, d),
            payload: payload.to_string(),
            key,
        }
    }

    /// The `manifest.resolved_critical` alert of `d`, resolved by `version`: its payload also
    /// names the version and who ratified it (`ratified_by`: empty when no one did).
    pub fn manifest_resolved_critical(
        chain: &str,
        d: &Divergence,
        version: Option<&crate::store::ManifestVersion>,
    ) -> NewAlert {
        let mut alert = NewAlert::new(chain, AlertEvent::ManifestResolvedCritical, d);
        let mut payload: serde_json::Value =
            serde_json::from_str(&alert.payload).expect("the payload was just written");
        let ratifiers: Vec<String> = version
            .and_then(|v| v.ratification.as_ref())
            .map(|r| r.ratifiers().iter().map(ToString::to_string).collect())
            .unwrap_or_default();
        payload["manifest_version"] = version.map(|v| v.version).into();
        payload["ratified_by"] = ratifiers.into();
        payload["ratified"] = version
            .and_then(|v| v.ratification.as_ref())
            .map_or_else(|| "unratified".to_string(), |r| r.summary())
            .into();
        alert.payload = payload.to_string();
        // Whatever a sink's minimum severity, it hears of this.
        alert.severity = crate::model::Severity::Critical.as_str().to_string();
        alert
    }
}

/// The alert's idempotency key: hex SHA-256 of chain, group, divergence number, the hash of the
/// block that opened it, the event, and for resolutions the hash of the resolving block.
/// Divergence numbers are reused after a reorg, block hashes are not, so a key names one
/// event once; a retried delivery carries the key it was written with.
pub fn idempotency_key(chain: &str, event: AlertEvent, d: &Divergence) -> String {
    let mut h = Sha256::new();
    for part in [
        chain,
        &d.group_id,
        &d.n.to_string(),
        &d.opened_block_hash,
        event.as_str(),
    ] {
        h.update(part.as_bytes());
        h.update(b"|");
    }
    if matches!(
        event,
        AlertEvent::Resolved | AlertEvent::Reopened | AlertEvent::ManifestResolvedCritical
    ) {
        h.update(d.resolved_block_hash.as_deref().unwrap_or("").as_bytes());
    }
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn divergence() -> Divergence {
        Divergence {
            group_id: "river-guild".into(),
            n: 1,
            rule: "safe.owner_undeclared".into(),
            severity: "critical".into(),
            subject: "0x1".into(),
            item: "0x2".into(),
            expected: "3 owners".into(),
            observed: "4 owners".into(),
            status: "open".into(),
            opened_block: 10,
            opened_block_hash: "0xaa".into(),
            opened_tx_hash: None,
            opened_log_index: None,
            opened_manifest_hash: "m".into(),
            resolved_block: None,
            resolved_block_hash: None,
            resolved_tx_hash: None,
            resolved_log_index: None,
            resolved_manifest_hash: None,
            resolution: None,
            ack_note: None,
            acked_at: None,
        }
    }

    #[test]
    fn keys_differ_by_event_block_and_resolution() {
        let d = divergence();
        let opened = idempotency_key("local", AlertEvent::Opened, &d);
        assert_eq!(opened, idempotency_key("local", AlertEvent::Opened, &d));
        assert_eq!(opened.len(), 64);
        assert_ne!(opened, idempotency_key("local", AlertEvent::Retracted, &d));
        assert_ne!(opened, idempotency_key("other", AlertEvent::Opened, &d));
        // The same number reused on another block after a reorg.
        let mut again = d.clone();
        again.opened_block_hash = "0xbb".into();
        assert_ne!(opened, idempotency_key("local", AlertEvent::Opened, &again));
        let mut r1 = d.clone();
        r1.resolved_block_hash = Some("0x01".into());
        let mut r2 = d.clone();
        r2.resolved_block_hash = Some("0x02".into());
        assert_ne!(
            idempotency_key("local", AlertEvent::Resolved, &r1),
            idempotency_key("local", AlertEvent::Resolved, &r2)
        );
    }

    #[test]
    fn payload_carries_the_divergence() {
        let a = NewAlert::new("local", AlertEvent::Opened, &divergence());
        let v: serde_json::Value = serde_json::from_str(&a.payload).unwrap();
        assert_eq!(v["event"], "opened");
        assert_eq!(v["key"], a.key.as_str());
        assert_eq!(v["group"], "river-guild");
        assert_eq!(v["divergence"]["rule"], "safe.owner_undeclared");
        assert_eq!(a.block_number, 10);
        assert_eq!(AlertEvent::parse("retracted"), Some(AlertEvent::Retracted));
    }
}
