//! The write side of the follower: the state a fold starts from ([`Store::load_group`]); a
//! batch's effects — records, observed states, divergences, their alerts, each group's progress
//! and the chain checkpoint — written in one transaction ([`Store::commit_batch`]); and the
//! unwind transaction that removes everything derived from blocks above a fork ([`UnwindTx`]).
//!
//! Invariant: a commit first checks, with its first statement, that nothing the batch was
//! folded from has changed — each group's revision (bumped by every commit, unwind, manifest
//! update and acknowledgement) and progress, and the chain's checkpoint — and writes nothing
//! otherwise ([`StoreError::Stale`]). Nothing here decides what to write.

use std::collections::BTreeMap;

use sqlx::{Any, AnyConnection, Transaction};

use super::alerts::{insert_alerts, NewAlert};
use super::groups::versions;
use super::log::LogTables;
use super::queries::{Divergence, RecordRow};
use super::tokens::TokenRow;
use super::treasury::{self, BalanceRow, FlowRow};
use super::{now, Backend, Ctx, GroupRow, ManifestVersion, Store, StoreError};
use crate::model::{BlockRef, ContractKind, RecordKind};

/// What one group's fold assumed and where it leaves the group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupProgress {
    pub group_id: String,
    /// The group's revision the fold read; the commit moves it one on.
    pub revision: i64,
    /// The group's `synced_to` the fold started from.
    pub synced_to: i64,
    /// Its records are complete up to here after the batch.
    pub advance_to: i64,
}

/// One observed state to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateWrite {
    pub group_id: String,
    pub contract: String,
    pub kind: ContractKind,
    pub block: i64,
    pub log_index: i64,
    /// `snapshot`, `event` or `refresh`.
    pub source: &'static str,
    pub state: String,
}

/// The chain checkpoint's move with a batch of the main lane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CursorMove {
    /// The checkpoint the fold started from (`None`: none yet).
    pub expected: Option<i64>,
    /// The batch's last block: the new checkpoint.
    pub head: BlockRef,
    /// Block refs to remember for reorg detection.
    pub blocks: Vec<BlockRef>,
    /// Remembered blocks older than `head - window` are forgotten.
    pub window: u64,
}

/// Everything one batch writes, decided before the transaction opens.
#[derive(Debug, Clone, Default)]
pub struct BatchWrite {
    pub chain: String,
    pub progress: Vec<GroupProgress>,
    pub records: Vec<RecordRow>,
    pub states: Vec<StateWrite>,
    /// Divergences as the batch leaves them: new ones inserted, existing ones (resolved)
    /// updated.
    pub divergences: Vec<Divergence>,
    pub alerts: Vec<NewAlert>,
    pub cursor: Option<CursorMove>,
    /// Movements of value into and out of the groups' treasuries.
    pub flows: Vec<FlowRow>,
    /// Treasury balances read at the balance check's points.
    pub balances: Vec<BalanceRow>,
    /// Metadata of tokens the batch saw moving for the first time.
    pub tokens: Vec<TokenRow>,
}

/// A group as a fold starts from it, as stored.
#[derive(Debug, Clone)]
pub struct StoredGroup {
    pub row: GroupRow,
    pub versions: Vec<ManifestVersion>,
    /// The newest state of each (contract, kind), as stored JSON.
    pub states: BTreeMap<(String, ContractKind), String>,
    /// Open divergences, acknowledged or not, by number.
    pub open: Vec<Divergence>,
    /// The number the next divergence of the group gets.
    pub next_n: i64,
    /// The `fields` of every record of the kind asked for (e.g. the proposals).
    pub records_of_kind: Vec<String>,
    /// The treasuries' recent flows (see [`treasury::load`]).
    pub flows: Vec<FlowRow>,
    /// The newest balance of each (treasury, asset) the balance check read.
    pub balances: Vec<BalanceRow>,
    /// The newest version of every covenant the group is a party to.
    pub covenants: Vec<super::CovenantVersion>,
}

impl Store {
    /// A group as a fold starts from it, with the fields of its records of `kind`.
    pub async fn load_group(
        &self,
        group_id: &str,
        kind: RecordKind,
    ) -> Result<StoredGroup, StoreError> {
        let ctx = "loading group";
        let mut conn = self.pool.acquire().await.ctx(ctx)?;
        let row: GroupRow = sqlx::query_as("SELECT * FROM groups WHERE id = $1")
            .bind(group_id)
            .fetch_optional(&mut *conn)
            .await
            .ctx(ctx)?
            .ok_or_else(|| StoreError::NotFound(format!("group {group_id}")))?;
        let versions = versions(
            sqlx::query_as("SELECT * FROM manifest_versions WHERE group_id = $1 ORDER BY version")
                .bind(group_id)
                .fetch_all(&mut *conn)
                .await
                .ctx(ctx)?,
        )?;
        let mut states = BTreeMap::new();
        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT contract, kind, state FROM observed_states WHERE group_id = $1 \
             ORDER BY contract, kind, block_number, log_index",
        )
        .bind(group_id)
        .fetch_all(&mut *conn)
        .await
        .ctx(ctx)?;
        for (contract, kind, state) in rows {
            let kind = ContractKind::parse(&kind)
                .ok_or_else(|| StoreError::Corrupt(format!("observed state of kind {kind:?}")))?;
            // Ordered by position: the last row of each contract is its newest state.
            states.insert((contract, kind), state);
        }
        let open = sqlx::query_as(
            "SELECT * FROM divergences WHERE group_id = $1 \
             AND status IN ('open', 'acknowledged') ORDER BY n",
        )
        .bind(group_id)
        .fetch_all(&mut *conn)
        .await
        .ctx(ctx)?;
        let next_n = next_divergence_n(&mut conn, group_id).await?;
        let records_of_kind = sqlx::query_scalar(
            "SELECT fields FROM records WHERE group_id = $1 AND kind = $2 \
             ORDER BY block_number, log_index",
        )
        .bind(group_id)
        .bind(kind.as_str())
        .fetch_all(&mut *conn)
        .await
        .ctx(ctx)?;
        let (flows, balances) = treasury::load(&mut conn, group_id).await?;
        let covenants = super::covenants::covenants_of_group(&mut conn, group_id).await?;
        Ok(StoredGroup {
            covenants,
            row,
            versions,
            states,
            open,
            next_n,
            records_of_kind,
            flows,
            balances,
        })
    }

    /// Writes a batch's effects in one transaction, or nothing if a group or the checkpoint
    /// is no longer where the batch was folded from ([`StoreError::Stale`]).
    pub async fn commit_batch(&self, w: &BatchWrite) -> Result<(), StoreError> {
        self.begin_batch(w).await?.commit().await
    }

    /// Writes a batch's effects, as [`Store::commit_batch`] does, and leaves the transaction
    /// open for what belongs with them (the log's leaves of a batch already final).
    #[tracing::instrument(skip_all, fields(chain = %w.chain, records = w.records.len()))]
    pub async fn begin_batch(&self, w: &BatchWrite) -> Result<BatchTx, StoreError> {
        let mut tx = self.pool.begin().await.ctx("starting batch")?;
        self.check_fence(&mut tx, &w.chain).await?;
        // The checks are writes, so on SQLite the batch holds the write lock from its first
        // statement (a read first could fail to upgrade if another writer came between), and
        // on PostgreSQL they lock the rows a concurrent update or acknowledgement would change.
        for g in &w.progress {
            let done = sqlx::query(
                "UPDATE groups SET synced_to = $4, revision = revision + 1 WHERE id = $1 \
                 AND revision = $2 AND synced_to = $3",
            )
            .bind(&g.group_id)
            .bind(g.revision)
            .bind(g.synced_to)
            .bind(g.advance_to.max(g.synced_to))
            .execute(&mut *tx)
            .await
            .ctx("advancing group")?;
            if done.rows_affected() != 1 {
                return Err(StoreError::Stale(format!(
                    "group {} changed since the batch was folded",
                    g.group_id
                )));
            }
        }
        if let Some(c) = &w.cursor {
            move_cursor(&mut tx, &w.chain, c).await?;
        }
        insert_records(&mut tx, self.backend, &w.chain, &w.records).await?;
        insert_states(&mut tx, self.backend, &w.chain, &w.states).await?;
        upsert_divergences(&mut tx, &w.chain, &w.divergences).await?;
        treasury::insert_flows(&mut tx, self.backend, &w.chain, &w.flows).await?;
        treasury::insert_balances(&mut tx, &w.chain, &w.balances).await?;
        super::tokens::insert_tokens(&mut tx, &w.chain, &w.tokens).await?;
        insert_alerts(&mut tx, &w.alerts).await?;
        Ok(BatchTx {
            tx,
            chain: w.chain.clone(),
            backend: self.backend,
            alerts_written: !w.alerts.is_empty(),
            outbox: self.outbox.clone(),
        })
    }

    /// Starts removing what was derived from blocks above a fork on `chain`. Its first
    /// statement takes the write lock.
    pub async fn begin_unwind(&self, chain: &str) -> Result<UnwindTx, StoreError> {
        let mut tx = self.pool.begin().await.ctx("starting roll-back")?;
        self.check_fence(&mut tx, chain).await?;
        sqlx::query("UPDATE chain_cursor SET block_number = block_number WHERE chain = $1")
            .bind(chain)
            .execute(&mut *tx)
            .await
            .ctx("locking the chain for a roll-back")?;
        Ok(UnwindTx {
            tx,
            chain: chain.to_string(),
            backend: self.backend,
            alerts_written: false,
            outbox: self.outbox.clone(),
        })
    }
}

async fn next_divergence_n(conn: &mut AnyConnection, group_id: &str) -> Result<i64, StoreError> {
    sqlx::query_scalar(
        "SELECT COALESCE(MAX(n), 0) + 1 AS next FROM divergences WHERE group_id = $1",
    )
    .bind(group_id)
    .fetch_one(&mut *conn)
    .await
    .ctx("numbering divergence")
}

async fn move_cursor(
    tx: &mut Transaction<'static, Any>,
    chain: &str,
    c: &CursorMove,
) -> Result<(), StoreError> {
    let ctx = "advancing checkpoint";
    let done = match c.expected {
        Some(expected) => sqlx::query(
            "UPDATE chain_cursor SET block_number = $2, block_hash = $3, updated_at = $4 \
             WHERE chain = $1 AND block_number = $5",
        )
        .bind(chain)
        .bind(c.head.number as i64)
        .bind(c.head.hash.to_string())
        .bind(now())
        .bind(expected)
        .execute(&mut **tx)
        .await
        .ctx(ctx)?,
        None => sqlx::query(
            "INSERT INTO chain_cursor (chain, block_number, block_hash, updated_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (chain) DO NOTHING",
        )
        .bind(chain)
        .bind(c.head.number as i64)
        .bind(c.head.hash.to_string())
        .bind(now())
        .execute(&mut **tx)
        .await
        .ctx(ctx)?,
    };
    if done.rows_affected() != 1 {
        return Err(StoreError::Stale(format!(
            "the checkpoint of chain {chain} moved since the batch was folded"
        )));
    }
    for b in c.blocks.iter().chain(std::iter::once(&c.head)) {
        sqlx::query(
            "INSERT INTO chain_blocks (chain, block_number, block_hash, parent_hash) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (chain, block_number) DO UPDATE SET \
             block_hash = excluded.block_hash, parent_hash = excluded.parent_hash",
        )
        .bind(chain)
        .bind(b.number as i64)
        .bind(b.hash.to_string())
        .bind(b.parent_hash.to_string())
        .execute(&mut **tx)
        .await
        .ctx(ctx)?;
    }
    sqlx::query("DELETE FROM chain_blocks WHERE chain = $1 AND block_number < $2")
        .bind(chain)
        .bind(c.head.number as i64 - c.window as i64)
        .execute(&mut **tx)
        .await
        .ctx(ctx)?;
    Ok(())
}

/// Inserts records in bulk: each chunk travels as one JSON array bound to one parameter and is
/// unpacked by the database (`json_each` / `jsonb_array_elements`). Binding 16 values per row
/// costs far more than the database's own JSON parsing.
async fn insert_records(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
    chain: &str,
    rows: &[RecordRow],
) -> Result<(), StoreError> {
    const COLUMNS: &str = "group_id, chain, chain_id, block_number, block_hash, \
        block_timestamp, tx_hash, tx_index, log_index, address, kind, category, fields, \
        topics, data, manifest_hash";
    let sql = match backend {
        // Each row's text is parsed once into a JSONB blob (materialised, so the expression
        // is not copied into each column), and the columns are read from the blob: `->>` on
        // the row's text would parse all of it again for every column.
        Backend::Sqlite => format!(
            "WITH r AS MATERIALIZED (SELECT jsonb(value) AS b FROM json_each($1)) \
             INSERT INTO records ({COLUMNS}) SELECT b->>0, b->>1, b->>2, b->>3, b->>4, b->>5, \
             b->>6, b->>7, b->>8, b->>9, b->>10, b->>11, b->>12, b->>13, b->>14, b->>15 FROM r"
        ),
        Backend::Postgres => format!(
            "INSERT INTO records ({COLUMNS}) SELECT e->>0, e->>1, (e->>2)::bigint, \
             (e->>3)::bigint, e->>4, (e->>5)::bigint, e->>6, (e->>7)::bigint, \
             (e->>8)::bigint, e->>9, e->>10, e->>11, e->>12, e->>13, e->>14, e->>15 \
             FROM jsonb_array_elements($1::jsonb) AS e"
        ),
    };
    for chunk in rows.chunks(backend.rows_per_statement()) {
        // Rows as JSON arrays of borrowed columns: nothing is copied on the way.
        let packed: Vec<_> = chunk
            .iter()
            .map(|r| {
                (
                    &r.group_id,
                    chain,
                    r.chain_id,
                    r.block_number,
                    &r.block_hash,
                    r.block_timestamp,
                    &r.tx_hash,
                    r.tx_index,
                    r.log_index,
                    &r.address,
                    &r.kind,
                    &r.category,
                    &r.fields,
                    &r.topics,
                    &r.data,
                    &r.manifest_hash,
                )
            })
            .collect();
        let json = serde_json::to_string(&packed).expect("records serialise");
        sqlx::query(&sql)
            .bind(json)
            .execute(&mut **tx)
            .await
            .ctx("inserting records")?;
    }
    Ok(())
}

async fn insert_states(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
    chain: &str,
    states: &[StateWrite],
) -> Result<(), StoreError> {
    const COLUMNS: &str = "group_id, chain, contract, kind, block_number, log_index, source, state";
    let sql = match backend {
        Backend::Sqlite => format!(
            "WITH r AS MATERIALIZED (SELECT jsonb(value) AS b FROM json_each($1)) \
             INSERT INTO observed_states ({COLUMNS}) SELECT b->>0, b->>1, b->>2, b->>3, b->>4, \
             b->>5, b->>6, b->>7 FROM r"
        ),
        Backend::Postgres => format!(
            "INSERT INTO observed_states ({COLUMNS}) SELECT e->>0, e->>1, e->>2, e->>3, \
             (e->>4)::bigint, (e->>5)::bigint, e->>6, e->>7 \
             FROM jsonb_array_elements($1::jsonb) AS e"
        ),
    };
    for chunk in states.chunks(backend.rows_per_statement()) {
        let packed: Vec<serde_json::Value> = chunk
            .iter()
            .map(|s| {
                serde_json::json!([
                    s.group_id,
                    chain,
                    s.contract,
                    s.kind.as_str(),
                    s.block,
                    s.log_index,
                    s.source,
                    s.state
                ])
            })
            .collect();
        sqlx::query(&sql)
            .bind(serde_json::Value::Array(packed).to_string())
            .execute(&mut **tx)
            .await
            .ctx("storing observed states")?;
    }
    Ok(())
}

/// Inserts new divergences and writes the resolution of existing ones.
async fn upsert_divergences(
    conn: &mut AnyConnection,
    chain: &str,
    divergences: &[Divergence],
) -> Result<(), StoreError> {
    for d in divergences {
        sqlx::query(
            "INSERT INTO divergences (group_id, n, chain, rule, severity, subject, item, expected, \
             observed, status, opened_block, opened_block_hash, opened_tx_hash, opened_log_index, \
             opened_manifest_hash, resolved_block, resolved_block_hash, resolved_tx_hash, \
             resolved_log_index, resolved_manifest_hash, resolution, ack_note, acked_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
             $18, $19, $20, $21, $22, $23) ON CONFLICT (group_id, n) DO UPDATE SET \
             status = excluded.status, resolved_block = excluded.resolved_block, \
             resolved_block_hash = excluded.resolved_block_hash, \
             resolved_tx_hash = excluded.resolved_tx_hash, \
             resolved_log_index = excluded.resolved_log_index, \
             resolved_manifest_hash = excluded.resolved_manifest_hash, \
             resolution = excluded.resolution",
        )
        .bind(&d.group_id)
        .bind(d.n)
        .bind(chain)
        .bind(&d.rule)
        .bind(&d.severity)
        .bind(&d.subject)
        .bind(&d.item)
        .bind(&d.expected)
        .bind(&d.observed)
        .bind(&d.status)
        .bind(d.opened_block)
        .bind(&d.opened_block_hash)
        .bind(&d.opened_tx_hash)
        .bind(d.opened_log_index)
        .bind(&d.opened_manifest_hash)
        .bind(d.resolved_block)
        .bind(&d.resolved_block_hash)
        .bind(&d.resolved_tx_hash)
        .bind(d.resolved_log_index)
        .bind(&d.resolved_manifest_hash)
        .bind(&d.resolution)
        .bind(&d.ack_note)
        .bind(&d.acked_at)
        .execute(&mut *conn)
        .await
        .ctx("writing divergence")?;
    }
    Ok(())
}

/// A batch's transaction after its effects are written; dropping it without
/// [`BatchTx::commit`] rolls everything back.
pub struct BatchTx {
    tx: Transaction<'static, Any>,
    chain: String,
    backend: Backend,
    alerts_written: bool,
    outbox: std::sync::Arc<tokio::sync::Notify>,
}

impl BatchTx {
    /// The chain's log tables, inside this transaction.
    pub fn log(&mut self) -> LogTables<'_> {
        LogTables::new(&mut self.tx, &self.chain, self.backend)
    }

    pub async fn commit(self) -> Result<(), StoreError> {
        self.tx.commit().await.ctx("committing batch")?;
        if self.alerts_written {
            self.outbox.notify_one();
        }
        Ok(())
    }
}

/// The removal of everything derived from blocks above a fork of one chain, in one
/// transaction. Dropping it without [`UnwindTx::commit`] rolls everything back.
pub struct UnwindTx {
    tx: Transaction<'static, Any>,
    chain: String,
    backend: Backend,
    alerts_written: bool,
    outbox: std::sync::Arc<tokio::sync::Notify>,
}

impl UnwindTx {
    pub fn chain(&self) -> &str {
        &self.chain
    }

    /// Divergences of the chain opened or resolved above block `fork`.
    pub async fn divergences_above(&mut self, fork: i64) -> Result<Vec<Divergence>, StoreError> {
        sqlx::query_as(
            "SELECT * FROM divergences WHERE chain = $1 AND (opened_block > $2 OR \
             resolved_block > $2) ORDER BY group_id, n",
        )
        .bind(&self.chain)
        .bind(fork)
        .fetch_all(&mut *self.tx)
        .await
        .ctx("reading divergences for their alerts")
    }

    /// The number the next divergence of a group gets.
    pub async fn next_divergence_n(&mut self, group_id: &str) -> Result<i64, StoreError> {
        next_divergence_n(&mut self.tx, group_id).await
    }

    /// The hash of the manifest version of a group in force at `block`, if any.
    pub async fn manifest_hash_at(
        &mut self,
        group_id: &str,
        block: i64,
    ) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar(
            "SELECT hash FROM manifest_versions WHERE group_id = $1 AND effective_block <= $2 \
             ORDER BY version DESC LIMIT 1",
        )
        .bind(group_id)
        .bind(block.max(0))
        .fetch_optional(&mut *self.tx)
        .await
        .ctx("reading manifest")
    }

    /// Inserts divergences (and writes their resolutions).
    pub async fn write_divergences(&mut self, d: &[Divergence]) -> Result<(), StoreError> {
        upsert_divergences(&mut self.tx, &self.chain, d).await
    }

    /// Writes alerts to the outbox.
    pub async fn write_alerts(&mut self, alerts: &[NewAlert]) -> Result<(), StoreError> {
        insert_alerts(&mut self.tx, alerts).await?;
        self.alerts_written |= !alerts.is_empty();
        Ok(())
    }

    /// The chain's log tables, inside this transaction.
    pub fn log(&mut self) -> LogTables<'_> {
        LogTables::new(&mut self.tx, &self.chain, self.backend)
    }

    /// Removes every row derived from blocks above `fork` on the chain (`None`: all of them)
    /// and moves the checkpoint back to `fork`. Divergences resolved above it are open again
    /// (acknowledged, if they were: an acknowledgement outlives a resolution reorged away).
    /// Leaves of the log are not touched: retracting them is the ledger's business.
    pub async fn delete_above(&mut self, fork: Option<BlockRef>) -> Result<(), StoreError> {
        let n = fork.map(|f| f.number as i64).unwrap_or(-1);
        for sql in [
            // By group, so the primary key (group_id, block_number, log_index) serves it.
            "DELETE FROM records WHERE group_id IN (SELECT id FROM groups WHERE chain = $1) \
             AND block_number > $2",
            "DELETE FROM observed_states WHERE chain = $1 AND block_number > $2",
            "DELETE FROM divergences WHERE chain = $1 AND opened_block > $2",
            "UPDATE divergences SET status = CASE WHEN acked_at IS NULL THEN 'open' \
             ELSE 'acknowledged' END, resolved_block = NULL, resolved_block_hash = NULL, \
             resolved_tx_hash = NULL, resolved_log_index = NULL, resolved_manifest_hash = NULL, \
             resolution = NULL WHERE chain = $1 AND resolved_block > $2",
            "DELETE FROM chain_blocks WHERE chain = $1 AND block_number > $2",
            "DELETE FROM treasury_flows WHERE chain = $1 AND block_number > $2",
            "DELETE FROM treasury_balances WHERE chain = $1 AND block_number > $2",
            // Each group's progress moves back, and its revision on: whatever was folded from
            // the rows removed is stale, wherever it is held.
            "UPDATE groups SET synced_to = CASE WHEN synced_to > $2 THEN $2 ELSE synced_to END, \
             revision = revision + 1 WHERE chain = $1",
            "UPDATE groups SET sealed_to = $2 WHERE chain = $1 AND sealed_to > $2",
        ] {
            sqlx::query(sql)
                .bind(&self.chain)
                .bind(n)
                .execute(&mut *self.tx)
                .await
                .ctx("rolling back")?;
        }
        match fork {
            Some(f) => {
                sqlx::query(
                    "UPDATE chain_cursor SET block_number = $2, block_hash = $3, updated_at = $4 \
                     WHERE chain = $1",
                )
                .bind(&self.chain)
                .bind(n)
                .bind(f.hash.to_string())
                .bind(now())
                .execute(&mut *self.tx)
                .await
                .ctx("rolling back")?;
            }
            None => {
                sqlx::query("DELETE FROM chain_cursor WHERE chain = $1")
                    .bind(&self.chain)
                    .execute(&mut *self.tx)
                    .await
                    .ctx("rolling back")?;
            }
        }
        Ok(())
    }

    pub async fn commit(self) -> Result<(), StoreError> {
        self.tx.commit().await.ctx("rolling back")?;
        if self.alerts_written {
            self.outbox.notify_one();
        }
        Ok(())
    }
}
