//! Persistence with sqlx on SQLite (the embedded default) or PostgreSQL, behind one [`Store`].
//! The SQL is written once with `$N` placeholders, which both backends accept through sqlx's
//! `Any` driver; each backend has its own migrations (`migrations/sqlite`, `migrations/postgres`).
//!
//! Invariant: the store writes what it is given and decides nothing. Whatever a batch of blocks
//! derives — records, observed states, divergences and their alerts — is written by one
//! [`Store::commit_batch`] together with each group's progress and the chain checkpoint, so it
//! commits or rolls back as a unit, and only if nothing it was folded from changed meanwhile;
//! an [`UnwindTx`] removes everything derived from blocks above a fork in one transaction.

mod alerts;
mod batch;
mod covenant_read;
mod covenants;
mod groups;
mod leases;
mod log;
mod queries;
mod statements;
mod tokens;
mod treasury;
mod treasury_read;

pub use alerts::{
    now_ms, AlertCounts, AlertFilter, AlertRow, ClaimedDelivery, DeliveryRow, DeliveryStatus,
    NewAlert, UnroutedAlert,
};
pub use batch::{
    BatchTx, BatchWrite, CursorMove, GroupProgress, StateWrite, StoredGroup, UnwindTx,
};
pub use covenants::{CovenantRatificationRow, CovenantVersion};
pub use groups::{GroupRow, ManifestVersion};
pub use leases::{Fence, LeaseRow, ReplicaRow, WriterLock};
pub use log::{
    LogEntry, LogTables, NewLogEntry, NodeKey, SealGroup, SealTx, StoredCheckpoint, StoredLeaf,
};
pub use queries::{
    Divergence, DivergenceFilter, DivergenceStatus, RecordFilter, RecordRow, StateRow,
};
pub use statements::{NewStatement, StatementRow};
pub use tokens::TokenRow;
pub use treasury::{BalanceRow, FlowRow, FLOW_WINDOW_SECS};
pub use treasury_read::{
    AssetSums, BalancePoint, FlowExportRow, FlowRange, LargeOutflow, WindowTotal,
};

use std::str::FromStr;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, ConnectOptions, Executor};

/// Which database is behind the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// Rows per bulk INSERT statement (each travels as one JSON array). SQLite parses and
    /// copies the whole text in this process, so its statements stay near 1 MiB (larger ones
    /// were no faster and raised the peak memory); PostgreSQL does that in its own process and
    /// gains from fewer, larger statements.
    pub(crate) fn rows_per_statement(self) -> usize {
        match self {
            Backend::Sqlite => 1000,
            Backend::Postgres => 5000,
        }
    }
}

/// A storage failure, with what was being done.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database {context}: {source}")]
    Db {
        context: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0}")]
    Conflict(String),
    #[error("{0} not found")]
    NotFound(String),
    /// What a batch was folded from changed before it could commit (a manifest update, an
    /// acknowledgement, another writer): nothing was written; fold it again.
    #[error("stale batch: {0}")]
    Stale(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The writer no longer holds the chain it writes for (another replica took it over):
    /// nothing was written, and this writer must stop writing for that chain.
    #[error("lease lost: {0}")]
    Fenced(String),
}

pub(crate) trait Ctx<T> {
    fn ctx(self, context: impl Into<String>) -> Result<T, StoreError>;
}

impl<T> Ctx<T> for Result<T, sqlx::Error> {
    fn ctx(self, context: impl Into<String>) -> Result<T, StoreError> {
        self.map_err(|source| StoreError::Db {
            context: context.into(),
            source,
        })
    }
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// The database: a pool and the backend it talks to. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// Signalled when a batch that wrote alerts commits, so the dispatcher need not poll.
    outbox: std::sync::Arc<tokio::sync::Notify>,
    /// The covenants as last read, with the fingerprint they were read at.
    covenants: std::sync::Arc<std::sync::Mutex<Option<covenants::Cached>>>,
    /// The SQLite file, if the store is one.
    sqlite_path: Option<std::path::PathBuf>,
    /// The chain lease this store's chain writes are checked against ([`Store::fenced`]).
    fence: Option<std::sync::Arc<Fence>>,
}

impl Store {
    /// Connects to `url` (`sqlite://…` or `postgres://…`), creating a SQLite file if needed.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("postgres") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        };
        let mut sqlite_path = None;
        let url = match backend {
            Backend::Sqlite => {
                let (created, path) = sqlite_url_creating(url);
                sqlite_path = path.clone().map(std::path::PathBuf::from);
                if let Some(dir) = path
                    .as_deref()
                    .and_then(|p| std::path::Path::new(p).parent())
                {
                    if !dir.as_os_str().is_empty() {
                        std::fs::create_dir_all(dir).map_err(|e| {
                            StoreError::Conflict(format!("creating {}: {e}", dir.display()))
                        })?;
                    }
                }
                created
            }
            Backend::Postgres => url.to_string(),
        };
        let url = url.as_str();
        let options = AnyConnectOptions::from_str(url)
            .ctx("parsing database.url")?
            .disable_statement_logging();
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers (API, CLI) work while the follower writes; NORMAL
                        // sync is durable across process crashes, which is what kill -9 tests.
                        // A 16 MiB page cache per connection: larger ones bought no speed and,
                        // as the pool hands the writer whichever connection is idle, several
                        // of them filled (the daemon's peak memory); a larger WAL checkpoint
                        // interval batches the copy-back.
                        conn.execute(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                             PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; \
                             PRAGMA cache_size = -16384; PRAGMA wal_autocheckpoint = 16384; \
                             PRAGMA temp_store = MEMORY;",
                        )
                        .await?;
                    } else {
                        // sqlx prepares every statement; after five runs PostgreSQL may keep a
                        // generic plan that ignores the values (a kind no record has, a status
                        // few have) and scans a million rows for them. Plan with the values.
                        conn.execute("SET plan_cache_mode = force_custom_plan")
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .ctx("connecting")?;
        Ok(Store {
            pool,
            backend,
            outbox: Default::default(),
            covenants: Default::default(),
            sqlite_path,
            fence: None,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Applies pending migrations of this backend.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&self.pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&self.pool).await?,
        }
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// A SQLite URL that creates its file when it does not exist yet (`mode=rwc`, unless the URL
/// names a mode of its own), and the file's path (none for an in-memory database).
fn sqlite_url_creating(url: &str) -> (String, Option<String>) {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    let memory = path.is_empty() || path == ":memory:";
    let has_mode = query.is_some_and(|q| q.split('&').any(|kv| kv.starts_with("mode=")));
    let url = match (memory || has_mode, query) {
        (true, _) => url.to_string(),
        (false, Some(_)) => format!("{url}&mode=rwc"),
        (false, None) => format!("{url}?mode=rwc"),
    };
    (url, (!memory).then(|| path.to_string()))
}

pub(crate) fn now() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    d.as_secs().to_string()
}

#[cfg(test)]
mod tests {
    use super::sqlite_url_creating;

    #[test]
    fn a_sqlite_url_creates_its_file_unless_it_names_a_mode() {
        assert_eq!(
            sqlite_url_creating("sqlite:///some/dir/gs.db"),
            (
                "sqlite:///some/dir/gs.db?mode=rwc".into(),
                Some("/some/dir/gs.db".into())
            )
        );
        assert_eq!(
            sqlite_url_creating("sqlite://gs.db?cache=shared").0,
            "sqlite://gs.db?cache=shared&mode=rwc"
        );
        assert_eq!(
            sqlite_url_creating("sqlite://gs.db?mode=ro").0,
            "sqlite://gs.db?mode=ro"
        );
        assert_eq!(
            sqlite_url_creating("sqlite::memory:"),
            ("sqlite::memory:".into(), None)
        );
    }
}
