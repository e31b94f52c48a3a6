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
        Ok(())
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
}
