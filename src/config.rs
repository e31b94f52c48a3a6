//! Settings in layers — `config/default.toml`, an optional `--config FILE`, then
//! `GROUPSTATE__SECTION__KEY` environment variables — validated once at start-up so that a wrong
//! setting fails immediately with a message naming its key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Built-in defaults, so the binary runs without a `config/` directory beside it.
const DEFAULTS: &str = include_str!("../config/default.toml");

/// Everything the daemon and the CLI read from configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub database: DatabaseConfig,
    pub log: LogConfig,
    pub ledger: LedgerConfig,
    pub api: ApiConfig,
    pub follower: FollowerConfig,
    #[serde(default)]
    pub chains: BTreeMap<String, ChainConfig>,
    #[serde(default)]
    pub alerts: AlertsConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// Empty for the default SQLite file in `data_dir`; may hold a password, so never printed.
    pub url: String,
    pub max_connections: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    pub format: LogFormat,
    pub level: String,
}

/// The verifiable log (`[ledger]`): its name and the key that signs its checkpoints.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerConfig {
    /// Each chain's log is named `<origin>/<chain>` on the first line of its checkpoints.
    pub origin: String,
    /// The signing key in note format (`PRIVATE+KEY+…`); empty: `ledger.key` in `data_dir`,
    /// generated on first start. A secret, so never printed.
    pub signing_key: String,
}

impl LedgerConfig {
    /// The origin line of `chain`'s log.
    pub fn origin_of(&self, chain: &str) -> String {
        format!("{}/{chain}", self.origin)
    }
}

/// The HTTP server (`[api]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    /// `host:port` to listen on; empty: no HTTP server.
    pub bind: String,
    /// The bearer token of the admin routes (register and update groups, acknowledge
    /// divergences); empty: those routes answer 403.
    #[serde(default)]
    pub admin_token: Secret,
    /// `/readyz` fails when a follower has not completed a step for this long.
    #[serde(default = "default_ready_stale_s")]
    pub ready_stale_s: u64,
}

fn default_ready_stale_s() -> u64 {
    60
}

/// A value that must never be printed: `Debug` shows only whether it is set.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself, for the one place that uses it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() {
            "<unset>"
        } else {
            "<secret>"
        })
    }
}

/// How every chain follower fetches and retries.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FollowerConfig {
    pub concurrency: usize,
    pub reorg_window: u64,
    pub max_retries: u32,
    pub retry_base_ms: u64,
    pub request_timeout_ms: u64,
}

/// One named chain (`[chains.NAME]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainConfig {
    pub rpc_url: String,
    #[serde(default)]
    pub ws_url: Option<String>,
    pub chain_id: u64,
    #[serde(default)]
    pub confirmations: u64,
    #[serde(default = "default_poll_interval_ms")]
    pub poll_interval_ms: u64,
    #[serde(default = "default_max_block_range")]
    pub max_block_range: u64,
    /// How long a structural divergence may stay open before the group's documentation is
    /// itself flagged as stale (`documentation.stale`), in blocks.
    #[serde(default = "default_documentation_grace_blocks")]
    pub documentation_grace_blocks: u64,
    /// Every this many blocks each watched contract is read again with `eth_call`, to catch a
    /// change no event announced (an upgrade, a storage write); 0 turns it off.
    #[serde(default = "default_snapshot_interval_blocks")]
    pub snapshot_interval_blocks: u64,
    /// Records this many blocks below the head are final and enter the verifiable log; unset:
    /// the node's `finalized` block.
    #[serde(default)]
    pub finality_depth: Option<u64>,
    /// `/readyz` fails while the follower is more than this many blocks behind the head;
    /// unset: `confirmations + 16`.
    #[serde(default)]
    pub max_lag_blocks: Option<u64>,
    /// A block explorer's base URL (`https://etherscan.io`); the status page links each
    /// transaction to `<explorer_url>/tx/<hash>`.
    #[serde(default)]
    pub explorer_url: Option<String>,
}

impl ChainConfig {
    /// How far behind the head the follower may be and still be ready.
    pub fn max_lag(&self) -> u64 {
        self.max_lag_blocks.unwrap_or(self.confirmations + 16)
    }
}

fn default_snapshot_interval_blocks() -> u64 {
    50_000
}

fn default_documentation_grace_blocks() -> u64 {
    7200
}

fn default_poll_interval_ms() -> u64 {
    1000
}

fn default_max_block_range() -> u64 {
    2000
}

/// Alert delivery (`[alerts]`): retries of the dispatcher and the sinks alerts go to.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    /// Attempts per delivery before it is marked dead.
    pub max_attempts: u32,
    /// The first retry waits about this long; each further one twice as long, up to the max.
    pub backoff_initial_ms: u64,
    pub backoff_max_ms: u64,
    /// Per HTTP request.
    pub timeout_ms: u64,
    /// How often the outbox is checked when no new alert wakes the dispatcher.
    pub poll_interval_ms: u64,
    /// How long a claimed delivery stays claimed; a dispatcher that dies mid-send is retried
    /// after it. Must exceed `timeout_ms`.
    pub lease_ms: u64,
    pub sinks: Vec<SinkConfig>,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            max_attempts: 12,
            backoff_initial_ms: 1000,
            backoff_max_ms: 300_000,
            timeout_ms: 10_000,
            poll_interval_ms: 200,
            lease_ms: 60_000,
            sinks: Vec::new(),
        }
    }
}

/// Where a sink sends its alerts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SinkKind {
    /// A signed JSON POST to any URL.
    Webhook,
    /// A Slack incoming webhook.
    Slack,
    /// A Discord webhook.
    Discord,
    /// The daemon's own log.
    Log,
}

impl SinkKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SinkKind::Webhook => "webhook",
            SinkKind::Slack => "slack",
            SinkKind::Discord => "discord",
            SinkKind::Log => "log",
        }
    }
}

/// One sink (`[[alerts.sinks]]`).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinkConfig {
    /// Unique; names the sink in delivery rows.
    pub name: String,
    pub kind: SinkKind,
    /// Required for webhook, slack and discord. Slack and Discord URLs carry their own token,
    /// so only the scheme and host are ever printed.
    #[serde(default)]
    pub url: String,
    /// The webhook's HMAC key; or `secret_env`, the environment variable holding it.
    #[serde(default)]
    pub secret: Option<Secret>,
    #[serde(default)]
    pub secret_env: Option<String>,
    /// Alerts of divergences below this severity are not sent here.
    #[serde(default = "default_min_severity")]
    pub min_severity: crate::model::Severity,
    /// Only these groups' alerts; empty: every group.
    #[serde(default)]
    pub groups: Vec<String>,
}

fn default_min_severity() -> crate::model::Severity {
    crate::model::Severity::Low
}

impl SinkConfig {
    /// The webhook secret: `secret`, or the value of the variable `secret_env` names.
    pub fn resolve_secret(&self) -> Option<Secret> {
        self.secret.clone().or_else(|| {
            self.secret_env
                .as_deref()
                .and_then(|v| std::env::var(v).ok())
                .filter(|v| !v.is_empty())
                .map(Secret)
        })
    }
}

impl std::fmt::Debug for SinkConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let origin = url::Url::parse(&self.url)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default();
        f.debug_struct("SinkConfig")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("url", &origin)
            .field("secret", &self.secret)
            .field("secret_env", &self.secret_env)
            .field("min_severity", &self.min_severity)
            .field("groups", &self.groups)
            .finish()
    }
}

/// A configuration that could not be loaded, or a value that is wrong; always names the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Load(#[from] config::ConfigError),
    #[error("configuration key `{key}`: {message}")]
    Invalid { key: String, message: String },
}

impl Settings {
    /// Loads defaults, then `file` if given, then `GROUPSTATE__…` environment variables.
    pub fn load(file: Option<&Path>) -> Result<Settings, ConfigError> {
        let mut builder = config::Config::builder()
            .add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml));
        if let Some(file) = file {
            builder = builder.add_source(config::File::from(file).required(true));
        }
        builder = builder.add_source(
            config::Environment::with_prefix("GROUPSTATE")
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true),
        );
        let settings: Settings = builder.build()?.try_deserialize()?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: String, message: &str| ConfigError::Invalid {
            key,
            message: message.to_string(),
        };
        let url = &self.database.url;
        if !(url.is_empty()
            || url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            return Err(invalid(
                "database.url".into(),
                "must be empty (SQLite in data_dir), sqlite:… or postgres://…",
            ));
        }
        if self.database.max_connections == 0 {
            return Err(invalid(
                "database.max_connections".into(),
                "must be at least 1",
            ));
        }
        if self.ledger.origin.is_empty()
            || self
                .ledger
                .origin
                .chars()
                .any(|c| c.is_whitespace() || c == '+')
        {
            return Err(invalid(
                "ledger.origin".into(),
                "must be non-empty, without spaces or '+'",
            ));
        }
        if !self.api.bind.is_empty() && self.api.bind.parse::<std::net::SocketAddr>().is_err() {
            return Err(invalid(
                "api.bind".into(),
                "must be host:port, e.g. 127.0.0.1:8080",
            ));
        }
        let token = self.api.admin_token.expose();
        if !token.is_empty() && (token.len() < 16 || token.chars().any(|c| c.is_whitespace())) {
            return Err(invalid(
                "api.admin_token".into(),
                "must be at least 16 characters, without spaces (or empty: no admin routes)",
            ));
        }
        if self.follower.concurrency == 0 {
            return Err(invalid("follower.concurrency".into(), "must be at least 1"));
        }
        if self.follower.reorg_window == 0 {
            return Err(invalid(
                "follower.reorg_window".into(),
                "must be at least 1",
            ));
        }
        for (name, chain) in &self.chains {
            let key = |field: &str| format!("chains.{name}.{field}");
            if !name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
            {
                return Err(invalid(
                    format!("chains.{name}"),
                    "chain names use [a-z0-9_-]",
                ));
            }
            match url::Url::parse(&chain.rpc_url) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => {}
                _ => return Err(invalid(key("rpc_url"), "must be an http(s):// URL")),
            }
            if let Some(ws) = &chain.ws_url {
                match url::Url::parse(ws) {
                    Ok(u) if matches!(u.scheme(), "ws" | "wss") => {}
                    _ => return Err(invalid(key("ws_url"), "must be a ws(s):// URL")),
                }
            }
            if let Some(e) = &chain.explorer_url {
                match url::Url::parse(e) {
                    Ok(u) if matches!(u.scheme(), "http" | "https") => {}
                    _ => return Err(invalid(key("explorer_url"), "must be an http(s):// URL")),
                }
            }
            if chain.max_block_range == 0 {
                return Err(invalid(key("max_block_range"), "must be at least 1"));
            }
            if chain.poll_interval_ms == 0 {
                return Err(invalid(key("poll_interval_ms"), "must be at least 1"));
            }
            if chain.max_lag() < chain.confirmations {
                return Err(invalid(
                    key("max_lag_blocks"),
                    "must be at least chains.NAME.confirmations (the follower stays that far back)",
                ));
            }
            if chain.confirmations >= self.follower.reorg_window {
                return Err(invalid(
                    key("confirmations"),
                    "must be below follower.reorg_window",
                ));
            }
        }
        self.alerts.validate()
    }

    /// The database URL in effect: the configured one, or the SQLite file in `data_dir`.
    pub fn database_url(&self) -> String {
        if self.database.url.is_empty() {
            format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("groupstate.db").display()
            )
        } else {
            self.database.url.clone()
        }
    }

    /// The chain called `name`, or an error naming the missing key.
    pub fn chain(&self, name: &str) -> Result<&ChainConfig, ConfigError> {
        self.chains.get(name).ok_or_else(|| ConfigError::Invalid {
            key: format!("chains.{name}"),
            message: "no such chain is configured".into(),
        })
    }
}

impl AlertsConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: String, message: String| Err(ConfigError::Invalid { key, message });
        if self.max_attempts == 0 {
            return invalid("alerts.max_attempts".into(), "must be at least 1".into());
        }
        if self.backoff_initial_ms == 0 {
            return invalid(
                "alerts.backoff_initial_ms".into(),
                "must be at least 1".into(),
            );
        }
        if self.backoff_max_ms < self.backoff_initial_ms {
            return invalid(
                "alerts.backoff_max_ms".into(),
                "must be at least alerts.backoff_initial_ms".into(),
            );
        }
        if self.timeout_ms == 0 {
            return invalid("alerts.timeout_ms".into(), "must be at least 1".into());
        }
        if self.poll_interval_ms == 0 {
            return invalid(
                "alerts.poll_interval_ms".into(),
                "must be at least 1".into(),
            );
        }
        if self.lease_ms <= self.timeout_ms {
            return invalid(
                "alerts.lease_ms".into(),
                "must exceed alerts.timeout_ms, or a slow send would be claimed twice".into(),
            );
        }
        let mut names = std::collections::BTreeSet::new();
        for (i, sink) in self.sinks.iter().enumerate() {
            let key = |field: &str| format!("alerts.sinks[{i}].{field}");
            if sink.name.is_empty()
                || !sink
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return invalid(key("name"), "must be non-empty, of [A-Za-z0-9_-]".into());
            }
            if !names.insert(sink.name.as_str()) {
                return invalid(
                    key("name"),
                    format!("{} names another sink already", sink.name),
                );
            }
            if sink.kind == SinkKind::Log {
                if !sink.url.is_empty() {
                    return invalid(key("url"), "a log sink has no URL".into());
                }
            } else {
                match url::Url::parse(&sink.url) {
                    Ok(u) if matches!(u.scheme(), "http" | "https") => {}
                    _ if sink.url.is_empty() => {
                        return invalid(
                            key("url"),
                            format!("required for a {} sink", sink.kind.as_str()),
                        )
                    }
                    _ => return invalid(key("url"), "must be an http(s):// URL".into()),
                }
            }
            match sink.kind {
                SinkKind::Webhook => {
                    if sink.secret.is_some() && sink.secret_env.is_some() {
                        return invalid(
                            key("secret"),
                            "give secret or secret_env, not both".into(),
                        );
                    }
                    if let Some(var) = &sink.secret_env {
                        if sink.resolve_secret().is_none() {
                            return invalid(
                                key("secret_env"),
                                format!("the environment variable {var} is not set"),
                            );
                        }
                    } else if sink.resolve_secret().is_none_or(|s| s.0.is_empty()) {
                        return invalid(
                            key("secret"),
                            "a webhook needs a secret (or secret_env) to sign with".into(),
                        );
                    }
                }
                _ => {
                    if sink.secret.is_some() || sink.secret_env.is_some() {
                        return invalid(key("secret"), "only webhook sinks are signed".into());
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_load_and_validate() {
        let s = Settings::load(None).unwrap();
        assert_eq!(s.chains["local"].chain_id, 31337);
        assert!(s.database_url().starts_with("sqlite://"));
    }

    #[test]
    fn a_wrong_value_names_its_key() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.toml");
        std::fs::write(
            &file,
            "[chains.local]\nrpc_url = \"ftp://x\"\nchain_id = 1\n",
        )
        .unwrap();
        let err = Settings::load(Some(&file)).unwrap_err().to_string();
        assert_eq!(
            err,
            "configuration key `chains.local.rpc_url`: must be an http(s):// URL"
        );
    }

    #[test]
    fn an_unknown_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.toml");
        std::fs::write(&file, "[follower]\nconcurency = 3\n").unwrap();
        let err = Settings::load(Some(&file)).unwrap_err().to_string();
        assert!(err.contains("concurency"), "{err}");
    }

    #[test]
    fn a_bad_log_origin_or_api_address_names_its_key() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.toml");
        for (toml, key) in [
            ("[ledger]\norigin = \"my log\"\n", "ledger.origin"),
            ("[ledger]\norigin = \"\"\n", "ledger.origin"),
            ("[api]\nbind = \"localhost\"\n", "api.bind"),
        ] {
            std::fs::write(&file, toml).unwrap();
            let err = Settings::load(Some(&file)).unwrap_err().to_string();
            assert!(
                err.starts_with(&format!("configuration key `{key}`")),
                "{err}"
            );
        }
        std::fs::write(&file, "[api]\nbind = \"\"\n").unwrap();
        assert!(Settings::load(Some(&file)).unwrap().api.bind.is_empty());
    }

    #[test]
    fn alert_sinks_load_and_wrong_ones_name_their_key() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("alerts.toml");
        let ok = "[alerts]\nmax_attempts = 3\n[[alerts.sinks]]\nname = \"ops\"\nkind = \"webhook\"\n\
            url = \"https://ops.example/hook\"\nsecret = \"s3cret\"\nmin_severity = \"high\"\n\
            [[alerts.sinks]]\nname = \"chat\"\nkind = \"slack\"\n\
            url = \"https://hooks.slack.example/services/T0/B0/token\"\ngroups = [\"river-guild\"]\n";
        std::fs::write(&file, ok).unwrap();
        let s = Settings::load(Some(&file)).unwrap();
        assert_eq!(s.alerts.max_attempts, 3);
        assert_eq!(s.alerts.backoff_initial_ms, 1000);
        assert_eq!(s.alerts.sinks.len(), 2);
        assert_eq!(s.alerts.sinks[0].min_severity, crate::model::Severity::High);
        // Neither the secret nor the Slack token is ever printed.
        let printed = format!("{s:?}");
        assert!(
            !printed.contains("s3cret") && !printed.contains("/services/T0/B0/token"),
            "{printed}"
        );

        let sink = |body: &str| format!("[[alerts.sinks]]\nname = \"a\"\n{body}");
        for (toml, key) in [
            (sink("kind = \"webhook\"\nsecret = \"x\"\n"), "alerts.sinks[0].url"),
            (
                sink("kind = \"webhook\"\nurl = \"ftp://x\"\nsecret = \"x\"\n"),
                "alerts.sinks[0].url",
            ),
            (
                sink("kind = \"webhook\"\nurl = \"http://x\"\n"),
                "alerts.sinks[0].secret",
            ),
            (
                sink("kind = \"webhook\"\nurl = \"http://x\"\nsecret_env = \"GROUPSTATE_TEST_UNSET_VAR\"\n"),
                "alerts.sinks[0].secret_env",
            ),
            (
                sink("kind = \"discord\"\nurl = \"http://x\"\nsecret = \"x\"\n"),
                "alerts.sinks[0].secret",
            ),
            (
                format!("{}{}", sink("kind = \"log\"\n"), sink("kind = \"log\"\n")),
                "alerts.sinks[1].name",
            ),
            ("[alerts]\nlease_ms = 5000\ntimeout_ms = 10000\n".to_string(), "alerts.lease_ms"),
            ("[alerts]\nmax_attempts = 0\n".to_string(), "alerts.max_attempts"),
        ] {
            std::fs::write(&file, &toml).unwrap();
            let err = Settings::load(Some(&file)).unwrap_err().to_string();
            assert!(
                err.starts_with(&format!("configuration key `{key}`")),
                "{toml}: {err}"
            );
        }
        std::fs::write(&file, sink("kind = \"email\"\n")).unwrap();
        let err = Settings::load(Some(&file)).unwrap_err().to_string();
        assert!(err.contains("email"), "{err}");
    }
}
