//! Settings in layers — `config/default.toml`, an optional `--config FILE`, then
//! `GROUPSTATE__SECTION__KEY` environment variables — validated once at start-up so that a wrong
//! setting fails immediately with a message naming its key.

pub mod presets;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

/// Built-in defaults, so the binary runs without a `config/` directory beside it.
const DEFAULTS: &str = include_str!("../../config/default.toml");
/// The chain followed when the configuration names none.
const LOCAL_CHAIN: &str = include_str!("../../config/local-chain.toml");

pub use presets::{chain_name, ChainPreset, SafeDeployments, SafeRelease};

/// How many blocks of `block_time` make up `span`, rounded up (a grace of 10 s on a 12 s chain
/// is one block, not none).
pub fn blocks_in(span: Duration, block_time: Duration) -> u64 {
    let (span, block) = (span.as_nanos(), block_time.as_nanos().max(1));
    u64::try_from(span.div_ceil(block)).unwrap_or(u64::MAX)
}

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
    #[serde(default)]
    pub replica: ReplicaConfig,
}

/// This process as one of several replicas sharing the chains (`[replica]`): each chain is
/// followed by the one replica holding its lease in the database.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReplicaConfig {
    /// This replica's name in the leases; empty: `<hostname>-<pid>`.
    pub id: String,
    /// A holder that has not renewed its lease for this long loses it to a standby.
    #[serde(with = "humantime_serde")]
    pub lease: Duration,
    /// How often a holder renews its leases.
    #[serde(with = "humantime_serde")]
    pub heartbeat: Duration,
    /// The most chains this replica follows at once; 0: no limit.
    pub max_chains: usize,
}

impl Default for ReplicaConfig {
    fn default() -> Self {
        ReplicaConfig {
            id: String::new(),
            lease: Duration::from_secs(6),
            heartbeat: Duration::from_secs(2),
            max_chains: 0,
        }
    }
}

impl ReplicaConfig {
    /// The configured id, or `<hostname>-<pid>`.
    pub fn id(&self) -> String {
        if !self.id.is_empty() {
            return self.id.clone();
        }
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .or_else(|| std::env::var("HOSTNAME").ok())
            .unwrap_or_else(|| "localhost".into());
        format!("{host}-{}", std::process::id())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// Empty for the default SQLite file in `data_dir`; may hold a password, so never printed.
    pub url: Secret,
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
    /// How catch-up progress shows: `auto` (a progress bar on an interactive terminal, log
    /// lines otherwise), `bars`, `lines` or `off`.
    #[serde(default)]
    pub progress: ProgressMode,
    /// How often a progress line is logged per chain while it is catching up.
    #[serde(default = "default_progress_interval", with = "humantime_serde")]
    pub progress_interval: Duration,
}

/// Where catch-up progress goes (`log.progress`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProgressMode {
    #[default]
    Auto,
    Bars,
    Lines,
    Off,
}

fn default_progress_interval() -> Duration {
    Duration::from_secs(10)
}

/// The verifiable log (`[ledger]`): its name and the key that signs its checkpoints.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerConfig {
    /// Each chain's log is named `<origin>/<chain>` on the first line of its checkpoints.
    pub origin: String,
    /// The signing key in note format (`PRIVATE+KEY+…`); empty: `ledger.key` in `data_dir`,
    /// generated on first start. A secret, so never printed.
    pub signing_key: Secret,
    /// During a key rotation, the key signing before `signing_key` (note format): it cosigns
    /// every new checkpoint and statement, and the start check accepts a log whose latest
    /// checkpoint it signed. Removed once every replica signs with the new key.
    #[serde(default)]
    pub previous_signing_key: Secret,
    /// Verifier keys (`name+id+key`) of keys retired by earlier rotations: what they signed
    /// still verifies and the API publishes them; they sign nothing.
    #[serde(default)]
    pub retired_verifier_keys: Vec<String>,
}

impl LedgerConfig {
    /// The origin line of `chain`'s log.
    pub fn origin_of(&self, chain: &str) -> String {
        format!("{}/{chain}", self.origin)
    }
}

/// The HTTP server (`[api]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "raw::Api")]
pub struct ApiConfig {
    /// `host:port` to listen on; empty: no HTTP server.
    pub bind: String,
    /// The bearer token of the admin routes (register and update groups, acknowledge
    /// divergences); empty: those routes answer 403.
    pub admin_token: Secret,
    /// `/readyz` fails when a follower has not completed a step for this long
    /// (`ready_stale = "60s"`; older form `ready_stale_s`).
    pub ready_stale_s: u64,
}

/// A value that must never be printed (`secrecy`: `Debug` shows only whether it is set, and
/// the memory is zeroed when it is dropped).
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Secret(SecretString);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(SecretString::from(value.into()))
    }

    /// The secret itself, for the one place that uses it.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    pub fn is_empty(&self) -> bool {
        self.expose().is_empty()
    }
}

impl Default for Secret {
    fn default() -> Secret {
        Secret::new(String::new())
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Secret) -> bool {
        self.expose() == other.expose()
    }
}

impl Eq for Secret {}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.is_empty() {
            "<unset>"
        } else {
            "<secret>"
        })
    }
}

/// How every chain follower fetches and retries.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "raw::Follower")]
pub struct FollowerConfig {
    pub concurrency: usize,
    pub reorg_window: u64,
    pub max_retries: u32,
    /// `retry_base = "200ms"`; older form `retry_base_ms`.
    pub retry_base_ms: u64,
    /// `request_timeout = "30s"`; older form `request_timeout_ms`.
    pub request_timeout_ms: u64,
}

/// Which trace API a chain's node is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TraceMode {
    /// Detected at start: `debug` if the node answers it, else `parity`, else `off`.
    Auto,
    /// `debug_traceTransaction` with `{"tracer": "callTracer"}`.
    Debug,
    /// `trace_transaction`.
    Parity,
    /// No traces: calls are decoded from inputs and events only.
    Off,
}

impl std::fmt::Display for TraceMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TraceMode::Auto => "auto",
            TraceMode::Debug => "debug",
            TraceMode::Parity => "parity",
            TraceMode::Off => "off",
        })
    }
}

impl std::str::FromStr for TraceMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(TraceMode::Auto),
            "debug" => Ok(TraceMode::Debug),
            "parity" => Ok(TraceMode::Parity),
            "off" => Ok(TraceMode::Off),
            other => Err(format!(
                "expected \"auto\", \"debug\", \"parity\" or \"off\", found {other:?}"
            )),
        }
    }
}

/// One named chain (`[chains.NAME]`). A `preset` fills in what is known of a public chain
/// (see [`presets`]); each key given explicitly wins over it. The settings that are spans of
/// blocks may be given as durations (`documentation_grace = "48h"`), which become blocks through
/// the chain's block time, rounded up.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "raw::Chain")]
pub struct ChainConfig {
    pub rpc_url: Url,
    pub ws_url: Option<Url>,
    /// The preset the chain was configured from, if any.
    pub preset: Option<&'static ChainPreset>,
    pub chain_id: u64,
    /// The chain's target block time (`block_time = "12s"`, or the preset's): durations become
    /// blocks through it. Unset: settings are given in blocks only.
    pub block_time: Option<Duration>,
    pub confirmations: u64,
    /// `poll_interval = "1s"`; older form `poll_interval_ms`.
    pub poll_interval_ms: u64,
    pub max_block_range: u64,
    /// How long a structural divergence may stay open before the group's documentation is
    /// itself flagged as stale (`documentation.stale`), in blocks (`documentation_grace =
    /// "24h"` or `documentation_grace_blocks`; default a day of blocks, or 7200 blocks on a
    /// chain without a block time).
    pub documentation_grace_blocks: u64,
    /// Every this many blocks each watched contract is read again with `eth_call`, to catch a
    /// change no event announced (an upgrade, a storage write); 0 turns it off
    /// (`snapshot_interval = "7d"` or `snapshot_interval_blocks`; default a week of blocks, or
    /// 50000 blocks on a chain without a block time).
    pub snapshot_interval_blocks: u64,
    /// Records this many blocks below the head are final and enter the verifiable log; unset:
    /// the node's `finalized` block.
    pub finality_depth: Option<u64>,
    /// `/readyz` fails while the follower is more than this many blocks behind the head
    /// (`max_lag = "2m"` or `max_lag_blocks`); unset: see [`ChainConfig::max_lag`].
    pub max_lag_blocks: Option<u64>,
    /// A block explorer's base URL (`explorer_url = "https://etherscan.io"`, or `explorer`;
    /// the preset's when unset); the status page links each transaction to
    /// `<explorer_url>/tx/<hash>` and each address to `<explorer_url>/address/<address>`.
    pub explorer_url: Option<Url>,
    /// Which call-trace API to ask (`traces = "auto" | "debug" | "parity" | "off"`); `auto`
    /// detects it at start.
    pub traces: TraceMode,
    /// Each treasury's balances are read at every multiple of this block number and compared
    /// with the recorded flows in between; 0 turns the check off.
    pub balance_check_interval_blocks: u64,
    /// The Safe contracts deployed on the chain, shipped for the presets' chains (empty for
    /// another chain without a preset).
    pub safe_deployments: SafeDeployments,
}

impl ChainConfig {
    /// How far behind the head the follower may be and still be ready: `max_lag_blocks`, or
    /// else `confirmations` plus 16 blocks or two minutes of blocks, whichever is more (16
    /// blocks alone would be 4 s on a 250 ms chain, less than one poll and fetch).
    pub fn max_lag(&self) -> u64 {
        self.max_lag_blocks.unwrap_or_else(|| {
            let slack = self
                .block_time
                .map_or(16, |t| blocks_in(Duration::from_secs(120), t).max(16));
            self.confirmations + slack
        })
    }

    /// Who expects `chain_id`: `"the preset base"` when the preset gave it, else `"the
    /// configuration"`; for the error that a node reports another chain.
    pub fn chain_id_source(&self) -> String {
        match self.preset {
            Some(p) if p.chain_id == self.chain_id => format!("the preset {}", p.name),
            _ => "the configuration".to_string(),
        }
    }

    /// The explorer's base URL without a trailing `/`, for building links.
    pub fn explorer_base(&self) -> Option<String> {
        self.explorer_url
            .as_ref()
            .map(|u| u.as_str().trim_end_matches('/').to_string())
    }
}

/// Alert delivery (`[alerts]`): retries of the dispatcher and the sinks alerts go to. Each
/// duration may be given as people write it (`backoff_initial = "1s"`) or in its older form
/// (`backoff_initial_ms = 1000`).
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "raw::Alerts")]
pub struct AlertsConfig {
    /// Attempts per delivery before it is marked dead.
    pub max_attempts: u32,
    /// The first retry waits about this long; each further one twice as long, up to the max.
    pub backoff_initial_ms: u64,
    pub backoff_max_ms: u64,
    /// Per HTTP request (`timeout`).
    pub timeout_ms: u64,
    /// How often the outbox is checked when no new alert wakes the dispatcher.
    pub poll_interval_ms: u64,
    /// How long a claimed delivery stays claimed; a dispatcher that dies mid-send is retried
    /// after it. Must exceed `timeout`.
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
    pub url: Option<Url>,
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
                .map(Secret::new)
        })
    }
}

impl std::fmt::Debug for SinkConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let origin = self
            .url
            .as_ref()
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
        let layered = |with_local_chain: bool| {
            let mut builder = config::Config::builder()
                .add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml));
            if with_local_chain {
                builder = builder.add_source(config::File::from_str(
                    LOCAL_CHAIN,
                    config::FileFormat::Toml,
                ));
            }
            if let Some(file) = file {
                builder = builder.add_source(config::File::from(file).required(true));
            }
            builder
                .add_source(
                    config::Environment::with_prefix("GROUPSTATE")
                        .prefix_separator("__")
                        .separator("__")
                        .try_parsing(true),
                )
                .build()
        };
        // The local devnet is followed only when no chain is configured: a deployment that
        // names its chains must not also follow (and wait on) a node at 127.0.0.1:8545.
        let mut built = layered(false)?;
        if built
            .get_table("chains")
            .map(|t| t.is_empty())
            .unwrap_or(true)
        {
            built = layered(true)?;
        }
        let settings: Settings = built.try_deserialize().map_err(ConfigError::keyed)?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: String, message: &str| ConfigError::Invalid {
            key,
            message: message.to_string(),
        };
        let url = self.database.url.expose();
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
        // The keys' forms are checked where they are read (`ledger::LogKey`), naming their key.
        let previous = &self.ledger.previous_signing_key;
        if !previous.is_empty() && self.ledger.signing_key.is_empty() {
            return Err(invalid(
                "ledger.previous_signing_key".into(),
                "needs ledger.signing_key: a rotation names the new key explicitly",
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
        if self.replica.heartbeat.is_zero() || self.replica.heartbeat * 2 > self.replica.lease {
            return Err(invalid(
                "replica.heartbeat".into(),
                "must be more than 0 and at most half of replica.lease, so that a holder renews \
                 at least twice before its lease runs out",
            ));
        }
        if self.replica.lease < Duration::from_secs(1) {
            return Err(invalid("replica.lease".into(), "must be at least 1s"));
        }
        if self
            .replica
            .id
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(invalid(
                "replica.id".into(),
                "must be without spaces or control characters",
            ));
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
            if !matches!(chain.rpc_url.scheme(), "http" | "https") {
                return Err(invalid(key("rpc_url"), "must be an http(s):// URL"));
            }
            if chain
                .ws_url
                .as_ref()
                .is_some_and(|u| !matches!(u.scheme(), "ws" | "wss"))
            {
                return Err(invalid(key("ws_url"), "must be a ws(s):// URL"));
            }
            if chain
                .explorer_url
                .as_ref()
                .is_some_and(|u| !matches!(u.scheme(), "http" | "https"))
            {
                return Err(invalid(key("explorer_url"), "must be an http(s):// URL"));
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
            self.database.url.expose().to_string()
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
            match (&sink.url, sink.kind) {
                (Some(_), SinkKind::Log) => {
                    return invalid(key("url"), "a log sink has no URL".into());
                }
                (None, SinkKind::Log) => {}
                (Some(u), _) if matches!(u.scheme(), "http" | "https") => {}
                (Some(_), _) => return invalid(key("url"), "must be an http(s):// URL".into()),
                (None, kind) => {
                    return invalid(key("url"), format!("required for a {} sink", kind.as_str()))
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
                    } else if sink.resolve_secret().is_none_or(|s| s.is_empty()) {
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

impl ConfigError {
    /// A deserialization error that config-rs located at a key (a wrong URL, both forms of a
    /// duration) becomes an error naming that key, like the ones `validate` gives.
    fn keyed(e: config::ConfigError) -> ConfigError {
        match e {
            config::ConfigError::At {
                error,
                key: Some(key),
                ..
            } => ConfigError::Invalid {
                // config-rs joins an index and the field after it without a dot.
                key: key
                    .replace("].", "]")
                    .replace(']', "].")
                    .replace("].[", "][")
                    .trim_end_matches('.')
                    .to_string(),
                message: error.to_string(),
            },
            other => ConfigError::Load(other),
        }
    }
}

/// The sections as written: each duration in either of its two forms (`"30s"`, or the older
/// number of milliseconds or seconds), resolved into the settings the daemon reads.
mod raw {
    use std::time::Duration;

    use serde::Deserialize;
    use url::Url;

    use super::{
        presets, AlertsConfig, ApiConfig, ChainConfig, FollowerConfig, SafeDeployments, Secret,
        SinkConfig, TraceMode,
    };

    const MS: Duration = Duration::from_millis(1);
    const S: Duration = Duration::from_secs(1);

    /// One duration given as `name = "30s"` or in its older form `older = 30000` (in `unit`s),
    /// in `unit`s; `default` when neither is set. Both set is an error naming both.
    fn either(
        name: &str,
        human: Option<Duration>,
        older: (&str, Option<u64>),
        unit: Duration,
        default: u64,
    ) -> Result<u64, String> {
        match (human, older.1) {
            (Some(_), Some(_)) => Err(format!(
                "`{name}` and `{}` (its older form) are both set; keep one",
                older.0
            )),
            (Some(d), None) => {
                let units = d.as_nanos() / unit.as_nanos();
                if units * unit.as_nanos() != d.as_nanos() {
                    let unit = if unit == S { "seconds" } else { "milliseconds" };
                    return Err(format!("`{name}` must be a whole number of {unit}"));
                }
                u64::try_from(units).map_err(|_| format!("`{name}` is too long"))
            }
            (None, Some(v)) => Ok(v),
            (None, None) => Ok(default),
        }
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct Api {
        bind: String,
        #[serde(default)]
        admin_token: Secret,
        #[serde(default, with = "humantime_serde")]
        ready_stale: Option<Duration>,
        ready_stale_s: Option<u64>,
    }

    impl TryFrom<Api> for ApiConfig {
        type Error = String;
        fn try_from(r: Api) -> Result<ApiConfig, String> {
            Ok(ApiConfig {
                bind: r.bind,
                admin_token: r.admin_token,
                ready_stale_s: either(
                    "ready_stale",
                    r.ready_stale,
                    ("ready_stale_s", r.ready_stale_s),
                    S,
                    60,
                )?,
            })
        }
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct Follower {
        concurrency: usize,
        reorg_window: u64,
        max_retries: u32,
        #[serde(default, with = "humantime_serde")]
        retry_base: Option<Duration>,
        retry_base_ms: Option<u64>,
        #[serde(default, with = "humantime_serde")]
        request_timeout: Option<Duration>,
        request_timeout_ms: Option<u64>,
    }

    impl TryFrom<Follower> for FollowerConfig {
        type Error = String;
        fn try_from(r: Follower) -> Result<FollowerConfig, String> {
            Ok(FollowerConfig {
                concurrency: r.concurrency,
                reorg_window: r.reorg_window,
                max_retries: r.max_retries,
                retry_base_ms: either(
                    "retry_base",
                    r.retry_base,
                    ("retry_base_ms", r.retry_base_ms),
                    MS,
                    200,
                )?,
                request_timeout_ms: either(
                    "request_timeout",
                    r.request_timeout,
                    ("request_timeout_ms", r.request_timeout_ms),
                    MS,
                    30_000,
                )?,
            })
        }
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct Chain {
        rpc_url: Url,
        #[serde(default)]
        ws_url: Option<Url>,
        #[serde(default)]
        preset: Option<String>,
        chain_id: Option<u64>,
        #[serde(default, with = "humantime_serde")]
        block_time: Option<Duration>,
        confirmations: Option<u64>,
        #[serde(default, with = "humantime_serde")]
        poll_interval: Option<Duration>,
        poll_interval_ms: Option<u64>,
        max_block_range: Option<u64>,
        #[serde(default, with = "humantime_serde")]
        documentation_grace: Option<Duration>,
        documentation_grace_blocks: Option<u64>,
        #[serde(default, with = "humantime_serde")]
        snapshot_interval: Option<Duration>,
        snapshot_interval_blocks: Option<u64>,
        finality_depth: Option<u64>,
        #[serde(default, with = "humantime_serde")]
        max_lag: Option<Duration>,
        max_lag_blocks: Option<u64>,
        #[serde(default, alias = "explorer")]
        explorer_url: Option<Url>,
        #[serde(default = "default_traces")]
        traces: TraceMode,
        #[serde(default = "default_balance_check_interval_blocks")]
        balance_check_interval_blocks: u64,
    }

    fn default_traces() -> TraceMode {
        TraceMode::Auto
    }

    fn default_balance_check_interval_blocks() -> u64 {
        10_000
    }

    /// Without a block time: the defaults of old, in blocks (a day and about a week of 12 s
    /// blocks).
    const DEFAULT_DOCUMENTATION_GRACE_BLOCKS: u64 = 7200;
    const DEFAULT_SNAPSHOT_INTERVAL_BLOCKS: u64 = 50_000;
    /// With a block time: a day, and a week.
    const DEFAULT_DOCUMENTATION_GRACE: Duration = Duration::from_secs(24 * 3600);
    const DEFAULT_SNAPSHOT_INTERVAL: Duration = Duration::from_secs(7 * 24 * 3600);
    const DEFAULT_MAX_BLOCK_RANGE: u64 = 2000;

    /// One span of blocks given as `name = "48h"` (blocks of `block_time`, rounded up) or as
    /// `blocks.0 = 14400`; `default` when neither is set. Both set is an error naming both, and
    /// so is a duration on a chain without a block time.
    fn either_blocks(
        name: &str,
        human: Option<Duration>,
        blocks: (&str, Option<u64>),
        block_time: Option<Duration>,
        default: Option<u64>,
    ) -> Result<Option<u64>, String> {
        match (human, blocks.1) {
            (Some(_), Some(_)) => Err(format!(
                "`{name}` and `{}` (the same in blocks) are both set; keep one",
                blocks.0
            )),
            (Some(d), None) => match block_time {
                Some(t) => Ok(Some(super::blocks_in(d, t))),
                None => Err(format!(
                    "`{name}` is a duration, and the chain has no block time to turn it into \
                     blocks: set `preset` or `block_time`, or give `{}`",
                    blocks.0
                )),
            },
            (None, Some(n)) => Ok(Some(n)),
            (None, None) => Ok(default),
        }
    }

    impl TryFrom<Chain> for ChainConfig {
        type Error = String;
        fn try_from(r: Chain) -> Result<ChainConfig, String> {
            let preset = r.preset.as_deref().map(presets::preset).transpose()?;
            let chain_id = match (r.chain_id, preset) {
                (Some(id), _) => id,
                (None, Some(p)) => p.chain_id,
                (None, None) => {
                    return Err(format!(
                        "`chain_id` is required without a `preset` (one of {})",
                        presets::preset_names()
                    ))
                }
            };
            if r.block_time == Some(Duration::ZERO) {
                return Err("`block_time` must be more than zero".into());
            }
            let block_time = r.block_time.or(preset.map(|p| p.block_time));
            let poll_default = preset.map_or(1000, |p| p.poll_interval.as_millis() as u64);
            let blocks = |d: Duration| block_time.map(|t| super::blocks_in(d, t));
            let documentation_grace_blocks = either_blocks(
                "documentation_grace",
                r.documentation_grace,
                ("documentation_grace_blocks", r.documentation_grace_blocks),
                block_time,
                Some(
                    blocks(DEFAULT_DOCUMENTATION_GRACE)
                        .unwrap_or(DEFAULT_DOCUMENTATION_GRACE_BLOCKS),
                ),
            )?
            .unwrap_or_default();
            let snapshot_interval_blocks = either_blocks(
                "snapshot_interval",
                r.snapshot_interval,
                ("snapshot_interval_blocks", r.snapshot_interval_blocks),
                block_time,
                Some(blocks(DEFAULT_SNAPSHOT_INTERVAL).unwrap_or(DEFAULT_SNAPSHOT_INTERVAL_BLOCKS)),
            )?
            .unwrap_or_default();
            let max_lag_blocks = either_blocks(
                "max_lag",
                r.max_lag,
                ("max_lag_blocks", r.max_lag_blocks),
                block_time,
                None,
            )?;
            Ok(ChainConfig {
                rpc_url: r.rpc_url,
                ws_url: r.ws_url,
                preset,
                chain_id,
                block_time,
                confirmations: r
                    .confirmations
                    .or(preset.map(|p| p.confirmations))
                    .unwrap_or(0),
                poll_interval_ms: either(
                    "poll_interval",
                    r.poll_interval,
                    ("poll_interval_ms", r.poll_interval_ms),
                    MS,
                    poll_default,
                )?,
                max_block_range: r
                    .max_block_range
                    .or(preset.map(|p| p.max_block_range))
                    .unwrap_or(DEFAULT_MAX_BLOCK_RANGE),
                documentation_grace_blocks,
                snapshot_interval_blocks,
                finality_depth: r.finality_depth.or(preset.and_then(|p| p.finality_depth)),
                max_lag_blocks,
                explorer_url: match r.explorer_url {
                    Some(url) => Some(url),
                    None => preset
                        .and_then(|p| p.explorer)
                        .map(|e| e.parse().map_err(|e| format!("preset explorer: {e}")))
                        .transpose()?,
                },
                traces: r.traces,
                balance_check_interval_blocks: r.balance_check_interval_blocks,
                // The chain's own, where its id is a preset's (a `chain_id` given beside a
                // preset may name a fork of another chain), else the preset's.
                safe_deployments: Some(SafeDeployments::of(chain_id))
                    .filter(|d| !d.is_empty())
                    .or(preset.map(|p| SafeDeployments::of(p.chain_id)))
                    .unwrap_or_default(),
            })
        }
    }

    #[derive(Default, Deserialize)]
    #[serde(deny_unknown_fields, default)]
    pub(super) struct Alerts {
        max_attempts: Option<u32>,
        #[serde(with = "humantime_serde")]
        backoff_initial: Option<Duration>,
        backoff_initial_ms: Option<u64>,
        #[serde(with = "humantime_serde")]
        backoff_max: Option<Duration>,
        backoff_max_ms: Option<u64>,
        #[serde(with = "humantime_serde")]
        timeout: Option<Duration>,
        timeout_ms: Option<u64>,
        #[serde(with = "humantime_serde")]
        poll_interval: Option<Duration>,
        poll_interval_ms: Option<u64>,
        #[serde(with = "humantime_serde")]
        lease: Option<Duration>,
        lease_ms: Option<u64>,
        sinks: Vec<SinkConfig>,
    }

    impl TryFrom<Alerts> for AlertsConfig {
        type Error = String;
        fn try_from(r: Alerts) -> Result<AlertsConfig, String> {
            let d = AlertsConfig::default();
            Ok(AlertsConfig {
                max_attempts: r.max_attempts.unwrap_or(d.max_attempts),
                backoff_initial_ms: either(
                    "backoff_initial",
                    r.backoff_initial,
                    ("backoff_initial_ms", r.backoff_initial_ms),
                    MS,
                    d.backoff_initial_ms,
                )?,
                backoff_max_ms: either(
                    "backoff_max",
                    r.backoff_max,
                    ("backoff_max_ms", r.backoff_max_ms),
                    MS,
                    d.backoff_max_ms,
                )?,
                timeout_ms: either(
                    "timeout",
                    r.timeout,
                    ("timeout_ms", r.timeout_ms),
                    MS,
                    d.timeout_ms,
                )?,
                poll_interval_ms: either(
                    "poll_interval",
                    r.poll_interval,
                    ("poll_interval_ms", r.poll_interval_ms),
                    MS,
                    d.poll_interval_ms,
                )?,
                lease_ms: either("lease", r.lease, ("lease_ms", r.lease_ms), MS, d.lease_ms)?,
                sinks: r.sinks,
            })
        }
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
        // A rotation names the new key: a previous key beside a generated one is refused.
        std::fs::write(
            &file,
            "[ledger]\nprevious_signing_key = \"PRIVATE+KEY+groupstate+00000000+AAAA\"\n",
        )
        .unwrap();
        let err = Settings::load(Some(&file)).unwrap_err().to_string();
        assert!(err.contains("needs ledger.signing_key"), "{err}");
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

    fn load_str(toml: &str) -> Result<Settings, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, toml).unwrap();
        Settings::load(Some(&file))
    }

    #[test]
    fn the_local_devnet_is_followed_only_when_no_chain_is_named() {
        let s = load_str("[api]\nready_stale = \"5s\"\n").unwrap();
        assert_eq!(s.chains.keys().collect::<Vec<_>>(), ["local"]);
        let s = load_str("[chains.mainnet]\nrpc_url = \"https://rpc.example\"\nchain_id = 1\n")
            .unwrap();
        assert_eq!(
            s.chains.keys().collect::<Vec<_>>(),
            ["mainnet"],
            "a configuration that names its chains follows only those"
        );
    }

    #[test]
    fn durations_read_as_people_write_them() {
        let s = load_str(
            "[follower]\nretry_base = \"1s\"\nrequest_timeout = \"2m\"\n\
             [api]\nready_stale = \"1h 30m\"\n\
             [chains.local]\nrpc_url = \"http://127.0.0.1:8545\"\nchain_id = 1\npoll_interval = \"250ms\"\n\
             [alerts]\nbackoff_initial = \"2s\"\nbackoff_max = \"1h\"\ntimeout = \"5s\"\n\
             poll_interval = \"100ms\"\nlease = \"2m\"\n",
        )
        .unwrap();
        assert_eq!(
            (s.follower.retry_base_ms, s.follower.request_timeout_ms),
            (1000, 120_000)
        );
        assert_eq!(s.api.ready_stale_s, 5400);
        assert_eq!(s.chains["local"].poll_interval_ms, 250);
        let a = &s.alerts;
        assert_eq!(
            (a.backoff_initial_ms, a.backoff_max_ms, a.timeout_ms),
            (2000, 3_600_000, 5000)
        );
        assert_eq!((a.poll_interval_ms, a.lease_ms), (100, 120_000));

        // The older forms still load, and the built-in defaults apply when neither is given.
        let s = load_str("[follower]\nretry_base_ms = 10\n[api]\nready_stale_s = 5\n").unwrap();
        assert_eq!(s.follower.retry_base_ms, 10);
        assert_eq!(s.follower.request_timeout_ms, 30_000);
        assert_eq!(s.api.ready_stale_s, 5);
        assert_eq!(s.chains["local"].poll_interval_ms, 1000);
        assert_eq!(s.alerts.lease_ms, 60_000);
    }

    #[test]
    fn both_forms_of_one_duration_are_refused_naming_both() {
        for (toml, key, name, older) in [
            (
                "[follower]\nretry_base = \"1s\"\nretry_base_ms = 10\n",
                "follower",
                "retry_base",
                "retry_base_ms",
            ),
            (
                "[chains.local]\nrpc_url = \"http://x\"\nchain_id = 1\npoll_interval = \"1s\"\npoll_interval_ms = 5\n",
                "chains.local",
                "poll_interval",
                "poll_interval_ms",
            ),
            (
                "[alerts]\nlease = \"2m\"\nlease_ms = 120000\n",
                "alerts",
                "lease",
                "lease_ms",
            ),
            (
                "[api]\nready_stale = \"1m\"\nready_stale_s = 60\n",
                "api",
                "ready_stale",
                "ready_stale_s",
            ),
        ] {
            let err = load_str(toml).unwrap_err().to_string();
            assert_eq!(
                err,
                format!(
                    "configuration key `{key}`: `{name}` and `{older}` (its older form) are both set; keep one"
                ),
            );
        }
        let err = load_str("[api]\nready_stale = \"1500ms\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("whole number of seconds"), "{err}");
        let err = load_str("[follower]\nretry_base = \"soon\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("follower"), "{err}");
    }

    /// A configuration with one chain `c` (beside the built-in `local`) made of `body`.
    fn chain(body: &str) -> Result<ChainConfig, String> {
        load_str(&format!(
            "[chains.c]\nrpc_url = \"http://127.0.0.1:8545\"\n{body}"
        ))
        .map(|s| s.chains["c"].clone())
        .map_err(|e| e.to_string())
    }

    #[test]
    fn a_preset_fills_in_its_chain() {
        let c = chain("preset = \"base\"\n").unwrap();
        assert_eq!(c.preset.map(|p| p.name), Some("base"));
        assert_eq!(c.chain_id, 8453);
        assert_eq!(c.block_time, Some(Duration::from_secs(2)));
        assert_eq!((c.confirmations, c.finality_depth), (3, None));
        assert_eq!((c.max_block_range, c.poll_interval_ms), (10_000, 1000));
        // A day and a week of 2 s blocks; two minutes of blocks beyond the confirmations.
        assert_eq!(c.documentation_grace_blocks, 43_200);
        assert_eq!(c.snapshot_interval_blocks, 302_400);
        assert_eq!(c.max_lag(), 3 + 60);
        let v141 = c
            .safe_deployments
            .releases()
            .find(|(v, _)| *v == "1.4.1")
            .unwrap()
            .1;
        assert_eq!(
            v141.multi_send_call_only,
            [alloy::primitives::address!(
                "9641d764fc13c8B624c04430C7356C1C7C8102e2"
            )]
        );
        assert_eq!(c.chain_id_source(), "the preset base");
        assert_eq!(c.explorer_base().as_deref(), Some("https://basescan.org"));

        for p in presets::PRESETS {
            let c = chain(&format!("preset = \"{}\"\n", p.name)).unwrap();
            assert_eq!(c.chain_id, p.chain_id);
            assert_eq!(c.block_time, Some(p.block_time));
            assert_eq!(c.confirmations, p.confirmations);
            assert_eq!(c.finality_depth, p.finality_depth);
            assert_eq!(c.max_block_range, p.max_block_range);
            assert_eq!(Duration::from_millis(c.poll_interval_ms), p.poll_interval);
            assert!(!c.safe_deployments.is_empty(), "{}", p.name);
            assert_eq!(c.explorer_base().as_deref(), p.explorer, "{}", p.name);
        }
        // The built-in local chain is the local preset.
        let s = Settings::load(None).unwrap();
        assert_eq!(s.chains["local"].preset.map(|p| p.name), Some("local"));
    }

    #[test]
    fn each_preset_value_yields_to_its_key() {
        let c = chain(
            "preset = \"ethereum\"\nchain_id = 31337\nblock_time = \"6s\"\nconfirmations = 5\n\
             finality_depth = 64\nmax_block_range = 500\npoll_interval = \"250ms\"\n\
             documentation_grace_blocks = 10\nsnapshot_interval_blocks = 0\nmax_lag_blocks = 40\n",
        )
        .unwrap();
        assert_eq!(c.chain_id, 31337);
        assert_eq!(c.block_time, Some(Duration::from_secs(6)));
        assert_eq!((c.confirmations, c.finality_depth), (5, Some(64)));
        assert_eq!((c.max_block_range, c.poll_interval_ms), (500, 250));
        assert_eq!(
            (c.documentation_grace_blocks, c.snapshot_interval_blocks),
            (10, 0)
        );
        assert_eq!(c.max_lag(), 40);
        // The node is then expected to be the configured chain, not the preset's.
        assert_eq!(c.chain_id_source(), "the configuration");
        let c = chain("preset = \"ethereum\"\npoll_interval_ms = 300\n").unwrap();
        assert_eq!(c.poll_interval_ms, 300);
        assert_eq!(
            c.explorer_base().as_deref(),
            Some("https://etherscan.io"),
            "the preset's explorer"
        );
        // The explorer, under either name, wins over the preset's; a devnet has none.
        for key in ["explorer", "explorer_url"] {
            let c = chain(&format!(
                "preset = \"ethereum\"\n{key} = \"https://eth.blockscout.com/\"\n"
            ))
            .unwrap();
            assert_eq!(
                c.explorer_base().as_deref(),
                Some("https://eth.blockscout.com")
            );
        }
        assert_eq!(chain("preset = \"local\"\n").unwrap().explorer_base(), None);
    }

    #[test]
    fn durations_become_blocks_of_the_chains_block_time() {
        // 12 s blocks: 48 h is 14400 blocks; 61 s rounds up to six blocks.
        let c = chain(
            "preset = \"ethereum\"\ndocumentation_grace = \"48h\"\nsnapshot_interval = \"1h\"\n\
             max_lag = \"61s\"\n",
        )
        .unwrap();
        assert_eq!(
            (c.documentation_grace_blocks, c.snapshot_interval_blocks),
            (14_400, 300)
        );
        assert_eq!(c.max_lag(), 6);
        // 0.25 s blocks.
        let c = chain(
            "preset = \"arbitrum\"\ndocumentation_grace = \"48h\"\nsnapshot_interval = \"1h\"\n\
             max_lag = \"10m\"\n",
        )
        .unwrap();
        assert_eq!(
            (c.documentation_grace_blocks, c.snapshot_interval_blocks),
            (691_200, 14_400)
        );
        assert_eq!(c.max_lag(), 2400);
        // Without a preset, through `block_time`; a part block rounds up.
        let c = chain(
            "chain_id = 5\nblock_time = \"12s\"\ndocumentation_grace = \"1h 1s\"\n\
             snapshot_interval = \"0s\"\n",
        )
        .unwrap();
        assert_eq!(
            (c.documentation_grace_blocks, c.snapshot_interval_blocks),
            (301, 0)
        );
        assert_eq!(c.max_lag(), 16);
        // The block counts are still accepted, and without any block time the defaults of
        // old apply.
        let c =
            chain("chain_id = 5\ndocumentation_grace_blocks = 3\nmax_lag_blocks = 7\n").unwrap();
        assert_eq!(
            (c.documentation_grace_blocks, c.snapshot_interval_blocks),
            (3, 50_000)
        );
        assert_eq!(c.max_lag(), 7);
        assert_eq!(
            chain("chain_id = 5\n").unwrap().documentation_grace_blocks,
            7200
        );
        assert_eq!(chain("chain_id = 5\n").unwrap().max_lag(), 16);
        assert_eq!(
            super::blocks_in(Duration::from_secs(1), Duration::from_millis(250)),
            4
        );
        assert_eq!(
            super::blocks_in(Duration::from_millis(1), Duration::from_millis(250)),
            1
        );
        assert_eq!(super::blocks_in(Duration::ZERO, Duration::from_secs(12)), 0);
    }

    #[test]
    fn both_forms_of_a_span_of_blocks_are_refused_naming_both() {
        for (name, blocks) in [
            ("documentation_grace", "documentation_grace_blocks"),
            ("snapshot_interval", "snapshot_interval_blocks"),
            ("max_lag", "max_lag_blocks"),
        ] {
            let err = chain(&format!(
                "preset = \"gnosis\"\n{name} = \"1h\"\n{blocks} = 10\n"
            ))
            .unwrap_err();
            assert_eq!(
                err,
                format!(
                    "configuration key `chains.c`: `{name}` and `{blocks}` (the same in blocks) \
                     are both set; keep one"
                )
            );
            // A duration needs a block time.
            let err = chain(&format!("chain_id = 5\n{name} = \"1h\"\n")).unwrap_err();
            assert!(
                err.starts_with("configuration key `chains.c`: ")
                    && err.contains(&format!("`{name}` is a duration"))
                    && err.contains("`block_time`"),
                "{err}"
            );
        }
        let err = chain("chain_id = 5\nblock_time = \"0s\"\n").unwrap_err();
        assert!(err.contains("`block_time` must be more than zero"), "{err}");
    }

    #[test]
    fn an_unknown_preset_names_the_known_ones() {
        let err = chain("preset = \"mainnet\"\n").unwrap_err();
        assert_eq!(
            err,
            "configuration key `chains.c`: `preset = \"mainnet\"` is not a known chain; the \
             presets are ethereum, optimism, base, arbitrum, polygon, gnosis, sepolia, local"
        );
    }

    #[test]
    fn chain_id_is_optional_with_a_preset_and_required_without() {
        assert_eq!(chain("preset = \"polygon\"\n").unwrap().chain_id, 137);
        assert_eq!(chain("chain_id = 5\n").unwrap().chain_id, 5);
        let err = chain("confirmations = 1\n").unwrap_err();
        assert!(
            err.starts_with(
                "configuration key `chains.c`: `chain_id` is required without a `preset`"
            ),
            "{err}"
        );
        // A chain without a preset has no block time and ships no Safe deployments, but a
        // preset's chain id still finds them.
        let c = chain("chain_id = 5\n").unwrap();
        assert!(c.block_time.is_none() && c.safe_deployments.is_empty());
        assert!(!chain("chain_id = 100\n")
            .unwrap()
            .safe_deployments
            .is_empty());
    }

    #[test]
    fn a_malformed_url_names_its_key() {
        for (toml, key) in [
            (
                "[chains.local]\nrpc_url = \"not a url\"\nchain_id = 1\n",
                "chains.local.rpc_url",
            ),
            (
                "[chains.local]\nrpc_url = \"http://x\"\nws_url = \"::\"\nchain_id = 1\n",
                "chains.local.ws_url",
            ),
            (
                "[[alerts.sinks]]\nname = \"a\"\nkind = \"slack\"\nurl = \"hooks\"\n",
                "alerts.sinks[0].url",
            ),
        ] {
            let err = load_str(toml).unwrap_err().to_string();
            assert!(
                err.starts_with(&format!("configuration key `{key}`")),
                "{toml}: {err}"
            );
        }
    }

    #[test]
    fn secrets_never_print() {
        let s = load_str(
            "[database]\nurl = \"postgres://gs:hunter2@db.example/gs\"\n\
             [ledger]\nsigning_key = \"PRIVATE+KEY+groupstate+00000000+AAAAsecretkeymaterial\"\n\
             [api]\nbind = \"\"\nadmin_token = \"an-admin-token-of-some-length\"\n",
        )
        .unwrap();
        let printed = format!("{s:?}");
        for secret in ["hunter2", "secretkeymaterial", "an-admin-token"] {
            assert!(!printed.contains(secret), "{secret} printed: {printed}");
        }
        assert_eq!(s.database_url(), "postgres://gs:hunter2@db.example/gs");
        assert!(s.ledger.signing_key.expose().ends_with("secretkeymaterial"));
    }
}
