//! Who may write what a chain derives: per-chain leases with a fencing epoch, the replicas that
//! hold them or stand by, and the check every chain write makes in its own transaction.
//!
//! The store decides nothing here: it takes a lease when it is free (expired, released, or held
//! by the asker), renews and releases the asker's own, and refuses a fenced write whose writer
//! no longer holds its chain at its epoch. Which chains to ask for is the replica's business.
//!
//! Invariant: a fenced transaction reads its lease row `FOR KEY SHARE` as its first statement,
//! and a takeover locks the row `FOR UPDATE`, so a takeover waits for every write the old
//! holder had begun, and any write begun after it sees the new epoch and is refused. Renewal
//! changes no key, so it never waits for the holder's own writes. Times are the database's.

use std::path::{Path, PathBuf};

use sqlx::{Any, Executor, Transaction};

use super::{Backend, Ctx, Store, StoreError};

/// A claim on one chain's writes: `holder` acquired it at `epoch`. On PostgreSQL a fenced
/// transaction waits at most `bound_ms` for a lock, and is ended by the server when it stays
/// idle that long (a writer paused inside it), so it never holds up a successor for longer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    pub chain: String,
    pub holder: String,
    pub epoch: i64,
    pub bound_ms: i64,
}

/// A chain's lease as stored, with times relative to the database's clock now.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct LeaseRow {
    pub chain: String,
    /// The replica holding (or last holding) the chain; empty before anyone did.
    pub holder: String,
    pub epoch: i64,
    /// Milliseconds until the lease expires (negative: expired that long ago).
    pub expires_in_ms: i64,
    /// Milliseconds since the holder last renewed it.
    pub renewed_ms_ago: i64,
}

impl LeaseRow {
    /// Held by someone now.
    pub fn is_held(&self) -> bool {
        !self.holder.is_empty() && self.expires_in_ms > 0
    }
}

/// A replica as it last reported itself.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct ReplicaRow {
    pub id: String,
    /// Milliseconds since it last reported.
    pub seen_ms_ago: i64,
    /// The most chains it may hold (0: no limit).
    pub max_chains: i64,
}

#[derive(sqlx::FromRow)]
struct RawLease {
    chain: String,
    holder: String,
    epoch: i64,
    expires_at_ms: i64,
    renewed_at_ms: i64,
    now_ms: i64,
}

/// The database's clock in milliseconds since the epoch, as an SQL expression.
fn now_ms(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)",
        Backend::Postgres => "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
    }
}

/// Row-lock clauses (SQLite has one writer at a time and no row locks).
fn locking(backend: Backend, clause: &'static str) -> &'static str {
    match backend {
        Backend::Sqlite => "",
        Backend::Postgres => clause,
    }
}

impl Store {
    /// This store, refusing every write of `fence.chain` (batch, roll-back, seal, statement,
    /// checkpoint) unless `fence.holder` still holds the chain at `fence.epoch`.
    pub fn fenced(&self, fence: Fence) -> Store {
        let mut store = self.clone();
        store.fence = Some(std::sync::Arc::new(fence));
        store
    }

    /// The fence of `chain` this store writes under, if any.
    pub fn fence_of(&self, chain: &str) -> Option<&Fence> {
        self.fence.as_deref().filter(|f| f.chain == chain)
    }

    /// Bounds what a stalled writer can hold up (PostgreSQL: the transaction's own lock and
    /// idle timeouts, set per transaction so that they work behind any pooler), then checks
    /// this store's fence of `chain`. The first statement of every chain write.
    pub(crate) async fn check_fence(
        &self,
        tx: &mut Transaction<'static, Any>,
        chain: &str,
    ) -> Result<(), StoreError> {
        let Some(fence) = self.fence_of(chain) else {
            return Ok(());
        };
        if self.backend == Backend::Postgres {
            let ms = fence.bound_ms.max(1000);
            let sql = format!(
                "SET LOCAL lock_timeout = {ms}; SET LOCAL idle_in_transaction_session_timeout = {ms}"
            );
            (&mut **tx)
                .execute(sql.as_str())
                .await
                .ctx("bounding the transaction's waits")?;
        }
        if self.backend == Backend::Sqlite {
            // A write, so that the transaction holds SQLite's write lock from its first
            // statement (a read first could fail to upgrade if another writer came between).
            let done = sqlx::query(
                "UPDATE chain_leases SET epoch = epoch WHERE chain = $1 AND holder = $2 \
                 AND epoch = $3",
            )
            .bind(chain)
            .bind(&fence.holder)
            .bind(fence.epoch)
            .execute(&mut **tx)
            .await
            .ctx("checking the chain's lease")?;
            if done.rows_affected() == 1 {
                return Ok(());
            }
        }
        let row: Option<(String, i64)> = sqlx::query_as(&format!(
            "SELECT holder, epoch FROM chain_leases WHERE chain = $1{}",
            locking(self.backend, " FOR KEY SHARE")
        ))
        .bind(chain)
        .fetch_optional(&mut **tx)
        .await
        .ctx("checking the chain's lease")?;
        match row {
            Some((holder, epoch)) if holder == fence.holder && epoch == fence.epoch => Ok(()),
            Some((holder, epoch)) => Err(StoreError::Fenced(format!(
                "chain {chain}: this replica ({}) held it at epoch {}; {holder} holds it at epoch {epoch} now",
                fence.holder, fence.epoch
            ))),
            None => Err(StoreError::Fenced(format!(
                "chain {chain}: no lease is stored (this replica, {}, held it at epoch {})",
                fence.holder, fence.epoch
            ))),
        }
    }

    /// Takes `chain` for `holder` when it is free: never held, expired, held by `holder`
    /// itself, or held by one of `dead` (holders known to be gone). The new epoch, or `None`
    /// if another holds it (or a takeover could not get the row in time).
    pub async fn acquire_lease(
        &self,
        chain: &str,
        holder: &str,
        lease_ms: i64,
        dead: &[String],
    ) -> Result<Option<i64>, StoreError> {
        let now = now_ms(self.backend);
        let mut tx = self.pool.begin().await.ctx("starting lease acquisition")?;
        if self.backend == Backend::Postgres {
            // A holder's open write keeps the row; give up and ask again at the next tick
            // rather than queue behind a stalled one.
            let sql = format!("SET LOCAL lock_timeout = {}", (lease_ms / 2).max(500));
            (&mut *tx)
                .execute(sql.as_str())
                .await
                .ctx("bounding the lease wait")?;
        }
        sqlx::query(
            "INSERT INTO chain_leases (chain, holder, epoch, expires_at_ms, renewed_at_ms) \
             VALUES ($1, '', 0, 0, 0) ON CONFLICT (chain) DO NOTHING",
        )
        .bind(chain)
        .execute(&mut *tx)
        .await
        .ctx("adding the chain's lease")?;
        let row = sqlx::query_as::<_, RawLease>(&format!(
            "SELECT chain, holder, epoch, expires_at_ms, renewed_at_ms, {now} AS now_ms \
             FROM chain_leases WHERE chain = $1{}",
            locking(self.backend, " FOR UPDATE")
        ))
        .bind(chain)
        .fetch_one(&mut *tx)
        .await;
        let row = match row {
            Ok(r) => r,
            Err(e) if is_lock_timeout(&e) => return Ok(None),
            Err(e) => return Err(e).ctx("reading the chain's lease"),
        };
        let free = row.holder.is_empty()
            || row.expires_at_ms <= row.now_ms
            || row.holder == holder
            || dead.contains(&row.holder);
        if !free {
            return Ok(None);
        }
        let epoch: i64 = sqlx::query_scalar(&format!(
            "UPDATE chain_leases SET holder = $2, epoch = epoch + 1, \
             expires_at_ms = {now} + $3, renewed_at_ms = {now} WHERE chain = $1 RETURNING epoch"
        ))
        .bind(chain)
        .bind(holder)
        .bind(lease_ms)
        .fetch_one(&mut *tx)
        .await
        .ctx("taking the chain's lease")?;
        tx.commit().await.ctx("committing lease acquisition")?;
        Ok(Some(epoch))
    }

    /// Extends every lease `holder` holds by `lease_ms` from now; returns the chains still held
    /// with their epochs (one missing from the answer was taken over).
    pub async fn renew_leases(
        &self,
        holder: &str,
        lease_ms: i64,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let now = now_ms(self.backend);
        sqlx::query_as(&format!(
            "UPDATE chain_leases SET expires_at_ms = {now} + $2, renewed_at_ms = {now} \
             WHERE holder = $1 RETURNING chain, epoch"
        ))
        .bind(holder)
        .bind(lease_ms)
        .fetch_all(&self.pool)
        .await
        .ctx("renewing leases")
    }

    /// Hands `chain` back at once, if `holder` still holds it at `epoch`.
    pub async fn release_lease(
        &self,
        chain: &str,
        holder: &str,
        epoch: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE chain_leases SET expires_at_ms = 0 \
             WHERE chain = $1 AND holder = $2 AND epoch = $3",
        )
        .bind(chain)
        .bind(holder)
        .bind(epoch)
        .execute(&self.pool)
        .await
        .ctx("releasing a lease")?;
        Ok(done.rows_affected() == 1)
    }

    /// Every chain's lease.
    pub async fn leases(&self) -> Result<Vec<LeaseRow>, StoreError> {
        let rows = sqlx::query_as::<_, RawLease>(&format!(
            "SELECT chain, holder, epoch, expires_at_ms, renewed_at_ms, {} AS now_ms \
             FROM chain_leases ORDER BY chain",
            now_ms(self.backend)
        ))
        .fetch_all(&self.pool)
        .await
        .ctx("reading leases")?;
        Ok(rows
            .into_iter()
            .map(|r| LeaseRow {
                chain: r.chain,
                holder: r.holder,
                epoch: r.epoch,
                expires_in_ms: r.expires_at_ms - r.now_ms,
                renewed_ms_ago: r.now_ms - r.renewed_at_ms,
            })
            .collect())
    }

    /// Records that replica `id` is alive now.
    pub async fn replica_seen(&self, id: &str, max_chains: i64) -> Result<(), StoreError> {
        let now = now_ms(self.backend);
        sqlx::query(&format!(
            "INSERT INTO replicas (id, seen_at_ms, started_at_ms, max_chains) \
             VALUES ($1, {now}, {now}, $2) ON CONFLICT (id) DO UPDATE \
             SET seen_at_ms = excluded.seen_at_ms, max_chains = excluded.max_chains"
        ))
        .bind(id)
        .bind(max_chains)
        .execute(&self.pool)
        .await
        .ctx("recording the replica")?;
        Ok(())
    }

    /// Forgets replica `id` (it stopped), and every replica not seen for `forget_after_ms`.
    pub async fn replica_gone(&self, id: &str, forget_after_ms: i64) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "DELETE FROM replicas WHERE id = $1 OR seen_at_ms < {} - $2",
            now_ms(self.backend)
        ))
        .bind(id)
        .bind(forget_after_ms)
        .execute(&self.pool)
        .await
        .ctx("forgetting replicas")?;
        Ok(())
    }

    /// The replicas seen within `within_ms`.
    pub async fn replicas(&self, within_ms: i64) -> Result<Vec<ReplicaRow>, StoreError> {
        let now = now_ms(self.backend);
        sqlx::query_as::<_, (String, i64, i64)>(&format!(
            "SELECT id, {now} - seen_at_ms, max_chains FROM replicas \
             WHERE seen_at_ms >= {now} - $1 ORDER BY id"
        ))
        .bind(within_ms)
        .fetch_all(&self.pool)
        .await
        .ctx("reading replicas")
        .map(|rows| {
            rows.into_iter()
                .map(|(id, seen_ms_ago, max_chains)| ReplicaRow {
                    id,
                    seen_ms_ago,
                    max_chains,
                })
                .collect()
        })
    }

    /// Makes this process the SQLite file's only writer for as long as the returned lock
    /// lives: a second daemon on the same file is refused at once instead of contending with
    /// the first. The lock is the operating system's, so a killed process leaves none behind.
    /// `None` on PostgreSQL and for an in-memory database.
    pub fn lock_single_writer(&self) -> Result<Option<WriterLock>, StoreError> {
        let Some(db) = self.sqlite_path.as_deref() else {
            return Ok(None);
        };
        WriterLock::take(db).map(Some)
    }
}

/// The operating-system lock that makes one process the writer of a SQLite file.
#[derive(Debug)]
pub struct WriterLock {
    _file: std::fs::File,
    pub path: PathBuf,
}

impl WriterLock {
    fn take(db: &Path) -> Result<WriterLock, StoreError> {
        let mut name = db.as_os_str().to_owned();
        name.push(".writer-lock");
        let path = PathBuf::from(name);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| StoreError::Conflict(format!("opening {}: {e}", path.display())))?;
        match file.try_lock() {
            Ok(()) => Ok(WriterLock { _file: file, path }),
            Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Conflict(format!(
                "another `groupstate run` already writes {} (it holds {}); SQLite has one writer: \
                 stop it first, or use PostgreSQL to run several replicas",
                db.display(),
                path.display()
            ))),
            Err(std::fs::TryLockError::Error(e)) => Err(StoreError::Conflict(format!(
                "locking {}: {e}",
                path.display()
            ))),
        }
    }
}

/// PostgreSQL's `lock_not_available` (a `lock_timeout` ran out).
fn is_lock_timeout(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|c| c == "55P03")
}
