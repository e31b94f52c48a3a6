//! Sinks: where an alert goes, and how it is formatted and signed for each kind.

use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use super::AlertError;
use crate::config::{Secret, SinkConfig, SinkKind};
use crate::model::{AlertEvent, Severity};
use crate::store::ClaimedDelivery;

/// Discord refuses a `content` longer than this.
const DISCORD_MAX_CHARS: usize = 2000;

/// A configured sink, ready to send.
#[derive(Debug, Clone)]
pub struct Sink {
    pub name: String,
    pub kind: SinkKind,
    url: String,
    secret: Option<Secret>,
    min_severity: Severity,
    groups: Vec<String>,
}

impl Sink {
    /// The sink of a validated configuration (`secret_env` is read here).
    pub fn from_config(c: &SinkConfig) -> Sink {
        Sink {
            name: c.name.clone(),
            kind: c.kind,
            url: c.url.as_ref().map(|u| u.to_string()).unwrap_or_default(),
            secret: c.resolve_secret(),
            min_severity: c.min_severity,
            groups: c.groups.clone(),
        }
    }

    /// Whether alerts of this group and severity go here. An unknown severity is sent
    /// everywhere rather than dropped.
    pub fn accepts(&self, group: &str, severity: &str) -> bool {
        let severity = serde_json::from_value::<Severity>(Value::String(severity.to_string()))
            .unwrap_or(Severity::Critical);
        severity >= self.min_severity
            && (self.groups.is_empty() || self.groups.iter().any(|g| g == group))
    }

    /// One attempt to deliver `alert`.
    #[tracing::instrument(skip_all, fields(sink = %self.name, key = %alert.key, attempt = alert.attempts))]
    pub async fn send(
        &self,
        client: &reqwest::Client,
        alert: &ClaimedDelivery,
    ) -> Result<(), AlertError> {
        let request = match self.kind {
            SinkKind::Log => {
                log_alert(alert);
                return Ok(());
            }
            SinkKind::Webhook => {
                let timestamp = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_secs();
                let secret = self.secret.as_ref().map(|s| s.expose()).unwrap_or("");
                client
                    .post(&self.url)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .header("X-Groupstate-Timestamp", timestamp.to_string())
                    .header(
                        "X-Groupstate-Signature",
                        sign(secret.as_bytes(), timestamp, &alert.payload),
                    )
                    .header("X-Groupstate-Idempotency-Key", &alert.key)
                    .header("X-Groupstate-Event", &alert.event)
                    .body(alert.payload.clone())
            }
            SinkKind::Slack => {
                let text = summary(&alert.payload);
                client.post(&self.url).json(&serde_json::json!({
                    "text": text,
                    "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
                }))
            }
            SinkKind::Discord => {
                let mut content = summary(&alert.payload);
                if content.chars().count() > DISCORD_MAX_CHARS {
                    content = content.chars().take(DISCORD_MAX_CHARS - 1).collect();
                    content.push('…');
                }
                client
                    .post(&self.url)
                    .json(&serde_json::json!({ "content": content }))
            }
        };
        let failed = |message: String, retry_after, permanent| AlertError::Delivery {
            sink: self.name.clone(),
            message,
            retry_after,
            permanent,
        };
        // Slack and Discord URLs hold their token: errors never show the URL.
        let response = request
            .send()
            .await
            .map_err(|e| failed(error_chain(&e.without_url()), None, false))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = response.text().await.unwrap_or_default();
        let body: String = body.chars().take(200).collect();
        Err(failed(
            format!("HTTP {status}: {}", body.trim()),
            retry_after,
            is_permanent(status.as_u16()),
        ))
    }
}

/// Answers that retrying the same request cannot change: a malformed or refused request, an
/// endpoint that is gone or was never there (Slack and Discord answer 404 or 410 for a revoked
/// webhook). 408, 425 and 429 are about timing, and every 5xx may pass: those are retried.
pub fn is_permanent(status: u16) -> bool {
    matches!(status, 400 | 401 | 403 | 404 | 405 | 410 | 413 | 422)
}

/// `sha256=` and the hex HMAC-SHA256 of `"{timestamp}.{body}"` under `secret`: the value of
/// `X-Groupstate-Signature`. A receiver recomputes it over the raw body and the
/// `X-Groupstate-Timestamp` header, compares in constant time, and refuses old timestamps.
pub fn sign(secret: &[u8], timestamp: u64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// One readable line (two with the evidence) about an alert, from its JSON payload.
pub fn summary(payload: &str) -> String {
    let v: Value = serde_json::from_str(payload).unwrap_or(Value::Null);
    let d = &v["divergence"];
    let s = |v: &Value| v.as_str().unwrap_or("?").to_string();
    let event = v["event"].as_str().and_then(AlertEvent::parse);
    let what = match event {
        Some(AlertEvent::Opened) => "divergence opened",
        Some(AlertEvent::Resolved) => "divergence resolved",
        Some(AlertEvent::Retracted) => "divergence retracted (its block was reorged away)",
        Some(AlertEvent::Reopened) => "divergence reopened (its resolution was reorged away)",
        Some(AlertEvent::ManifestResolvedCritical) => {
            "critical divergence resolved by a new manifest version"
        }
        None => "divergence",
    };
    let (block, tx) = match event {
        Some(
            AlertEvent::Resolved | AlertEvent::Reopened | AlertEvent::ManifestResolvedCritical,
        ) => (&d["resolved_block"], &d["resolved_tx_hash"]),
        _ => (&d["opened_block"], &d["opened_tx_hash"]),
    };
    let mut evidence = format!("chain {} block {}", s(&v["chain"]), block);
    if let Some(tx) = tx.as_str() {
        evidence.push_str(&format!(" tx {tx}"));
    }
    if event == Some(AlertEvent::Resolved) {
        if let Some(by) = d["resolution"].as_str() {
            evidence.push_str(&format!(" (by the {by})"));
        }
    }
    if event == Some(AlertEvent::ManifestResolvedCritical) {
        evidence.push_str(&format!(
            " (manifest version {}, {})",
            v["manifest_version"],
            v["ratified"].as_str().unwrap_or("unratified")
        ));
    }
    format!(
        "[{}] {} #{}: {} {} — {} on {}: expected {}, observed {}\n{}",
        s(&d["severity"]).to_uppercase(),
        s(&v["group"]),
        d["n"],
        s(&d["rule"]),
        what,
        s(&d["item"]),
        s(&d["subject"]),
        s(&d["expected"]),
        s(&d["observed"]),
        evidence
    )
}

/// The `log` sink: a warning for what needs attention, information for what no longer does.
fn log_alert(alert: &ClaimedDelivery) {
    let v: Value = serde_json::from_str(&alert.payload).unwrap_or(Value::Null);
    let d = &v["divergence"];
    let field = |k: &str| d[k].as_str().unwrap_or("").to_string();
    let (group, rule, severity) = (
        v["group"].as_str().unwrap_or(""),
        field("rule"),
        field("severity"),
    );
    let (item, observed) = (field("item"), field("observed"));
    match AlertEvent::parse(&alert.event) {
        Some(AlertEvent::Opened | AlertEvent::Reopened) => tracing::warn!(
            key = %alert.key, event = %alert.event, group, n = %d["n"], %rule, %severity,
            %item, %observed, "divergence alert"
        ),
        _ => tracing::info!(
            key = %alert.key, event = %alert.event, group, n = %d["n"], %rule, %severity,
            %item, %observed, "divergence alert"
        ),
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_refusals_retrying_cannot_change_are_permanent() {
        for s in [400, 401, 403, 404, 410, 422] {
            assert!(is_permanent(s), "{s}");
        }
        for s in [408, 409, 425, 429, 500, 502, 503, 504] {
            assert!(!is_permanent(s), "{s}");
        }
    }

    #[test]
    fn signature_matches_a_known_vector() {
        // printf '%s' '1700000000.{"event":"opened"}' | openssl dgst -sha256 -hmac 's3cret'
        assert_eq!(
            sign(b"s3cret", 1_700_000_000, r#"{"event":"opened"}"#),
            "sha256=c466f682b3aa3c8c39a1813992fe6bf8a87c8cfe13e36515b0bf2e968b83170f"
        );
    }

    #[test]
    fn a_sink_filters_by_severity_and_group() {
        let mut c: SinkConfig =
            toml_sink("name = \"ops\"\nkind = \"log\"\nmin_severity = \"high\"\n");
        let s = Sink::from_config(&c);
        assert!(s.accepts("a", "critical") && s.accepts("a", "high"));
        assert!(!s.accepts("a", "medium"));
        c.groups = vec!["b".into()];
        let s = Sink::from_config(&c);
        assert!(!s.accepts("a", "critical") && s.accepts("b", "critical"));
    }

    #[test]
    fn summary_reads_well_and_discord_is_cut() {
        let payload = serde_json::json!({
            "event": "opened", "group": "river-guild", "chain": "local", "key": "k",
            "divergence": {"n": 3, "rule": "safe.owner_undeclared", "severity": "critical",
                "subject": "0xSafe", "item": "0xIntruder", "expected": "not an owner",
                "observed": "owner", "opened_block": 12, "opened_tx_hash": "0xtx"}
        })
        .to_string();
        let s = summary(&payload);
        assert!(
            s.starts_with("[CRITICAL] river-guild #3: safe.owner_undeclared divergence opened"),
            "{s}"
        );
        assert!(s.contains("chain local block 12 tx 0xtx"), "{s}");
    }

    fn toml_sink(s: &str) -> SinkConfig {
        #[derive(serde::Deserialize)]
        struct W {
            sink: SinkConfig,
        }
        let w: W = config::Config::builder()
            .add_source(config::File::from_str(
                &format!("[sink]\n{s}"),
                config::FileFormat::Toml,
            ))
            .build()
            .unwrap()
            .try_deserialize()
            .unwrap();
        w.sink
    }
}
