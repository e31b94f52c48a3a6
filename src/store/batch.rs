//! The write side of one batch of blocks — records, observed states, divergences and the
//! checkpoint in one database transaction — and the roll-back of everything above a fork.

use sqlx::{Any, Row, Transaction};

use super::groups::{group_row, lock_group_row, version_row};
use super::queries::{divergence_row, Divergence, RecordRow};
use super::{now, Backend, Ctx, GroupRow, ManifestVersion, Store, StoreError};
use crate::alert::AlertEvent;
use crate::chain::rpc::BlockRef;
use crate::reconcile::Rule;

/// A divergence to open, with the evidence of the moment it appeared.
#[derive(Debug, Clone)]
pub struct NewDivergence {
    pub group_id: String,
    pub rule: Rule,
    pub subject: String,
    pub item: String,
    pub expected: String,
    pub observed: String,
    pub block: i64,
    pub block_hash: String,
    pub tx_hash: Option<String>,
    pub log_index: Option<i64>,
    pub manifest_hash: String,
}

/// The evidence that a divergence no longer holds: the chain changed, or the manifest did.
#[derive(Debug, Clone)]
pub struct Resolution {
    pub block: i64,
    pub block_hash: String,
    pub tx_hash: Option<String>,
    pub log_index: Option<i64>,
    pub manifest_hash: String,
    /// `chain` or `manifest`.
    pub by: &'static str,
}

/// One batch's transaction. Dropping it without [`BatchTx::commit`] rolls everything back.
pub struct BatchTx {
    pub(super) tx: Transaction<'static, Any>,
    pub(super) chain: String,
    pub(super) backend: Backend,
    /// Whether this batch wrote to the alert outbox; committing then wakes the dispatcher.
    pub(super) alerts_written: bool,
    pub(super) outbox: std::sync::Arc<tokio::sync::Notify>,
}

/// Rows per INSERT statement (a few MiB of JSON at most).
const RECORDS_PER_STATEMENT: usize = 5000;

impl Store {
    pub async fn begin_batch(&self, chain: &str) -> Result<BatchTx, StoreError> {
        Ok(BatchTx {
            tx: self.pool.begin().await.ctx("starting batch")?,
            chain: chain.to_string(),
            backend: self.backend,
            alerts_written: false,
            outbox: self.outbox.clone(),
        })
    }

    /// Removes, in one transaction, every row derived from blocks above `fork` on `chain`, and
    /// moves the checkpoint back to `fork` (`None`: before the first block).
    ///
    /// Leaves of the verifiable log are never removed: if the reorg reaches below what the log
    /// took as final, the same transaction appends a retraction leaf voiding them and opens a
    /// `log.finalized_reorg` divergence for each group they belonged to. Returns the
    /// retraction's index, if one was appended.
    #[tracing::instrument(skip_all, fields(chain, fork = ?fork.map(|f| f.number)))]
    pub async fn rollback_to(
        &self,
        chain: &str,
        fork: Option<BlockRef>,
    ) -> Result<Option<u64>, StoreError> {
        let n = fork.map(|f| f.number as i64).unwrap_or(-1);
        let mut batch = self.begin_batch(chain).await?;
        batch.write_rollback_alerts(n).await?;
        let retraction = batch.retract_above(fork).await?;
        let tx = &mut batch.tx;
        for sql in [
            // By group, so the primary key (group_id, block_number, log_index) serves it.
            "DELETE FROM records WHERE group_id IN (SELECT id FROM groups WHERE chain = $1) \
             AND block_number > $2",
            "DELETE FROM observed_states WHERE chain = $1 AND block_number > $2",
            "DELETE FROM divergences WHERE chain = $1 AND opened_block > $2",
            // An acknowledgement outlives a resolution that is reorged away.
            "UPDATE divergences SET status = CASE WHEN acked_at IS NULL THEN 'open' \
             ELSE 'acknowledged' END, resolved_block = NULL, resolved_block_hash = NULL, \
             resolved_tx_hash = NULL, resolved_log_index = NULL, resolved_manifest_hash = NULL, \
             resolution = NULL WHERE chain = $1 AND resolved_block > $2",
            "DELETE FROM chain_blocks WHERE chain = $1 AND block_number > $2",
            "UPDATE groups SET synced_to = $2 WHERE chain = $1 AND synced_to > $2",
            "UPDATE groups SET sealed_to = $2 WHERE chain = $1 AND sealed_to > $2",
        ] {
            sqlx::query(sql)
                .bind(chain)
                .bind(n)
                .execute(&mut **tx)
                .await
                .ctx("rolling back")?;
        }
        match fork {
            Some(f) => {
                sqlx::query(
                    "UPDATE chain_cursor SET block_number = $2, block_hash = $3, updated_at = $4 \
                     WHERE chain = $1",
                )
                .bind(chain)
                .bind(n)
                .bind(f.hash.to_string())
                .bind(now())
                .execute(&mut **tx)
                .await
                .ctx("rolling back")?;
            }
            None => {
                sqlx::query("DELETE FROM chain_cursor WHERE chain = $1")
                    .bind(chain)
                    .execute(&mut **tx)
                    .await
                    .ctx("rolling back")?;
            }
        }
        batch.commit_rollback().await?;
        Ok(retraction)
    }
}

impl BatchTx {
    /// Inserts records in bulk: each chunk travels as one JSON array bound to one parameter and
    /// is unpacked by the database (`json_each` / `jsonb_array_elements`). Binding 16 values
    /// per row costs far more than the database's own JSON parsing.
    pub async fn insert_records(&mut self, rows: &[RecordRow]) -> Result<(), StoreError> {
        const COLUMNS: &str = "group_id, chain, chain_id, block_number, block_hash, \
            block_timestamp, tx_hash, tx_index, log_index, address, kind, category, fields, \
            topics, data, manifest_hash";
        let sql = match self.backend {
            Backend::Sqlite => format!(
                "INSERT INTO records ({COLUMNS}) SELECT value->>0, value->>1, value->>2, \
                 value->>3, value->>4, value->>5, value->>6, value->>7, value->>8, value->>9, \
                 value->>10, value->>11, value->>12, value->>13, value->>14, value->>15 \
                 FROM json_each($1)"
            ),
            Backend::Postgres => format!(
                "INSERT INTO records ({COLUMNS}) SELECT e->>0, e->>1, (e->>2)::bigint, \
                 (e->>3)::bigint, e->>4, (e->>5)::bigint, e->>6, (e->>7)::bigint, \
                 (e->>8)::bigint, e->>9, e->>10, e->>11, e->>12, e->>13, e->>14, e->>15 \
                 FROM jsonb_array_elements($1::jsonb) AS e"
            ),
        };
        for chunk in rows.chunks(RECORDS_PER_STATEMENT) {
            let packed: Vec<serde_json::Value> = chunk
                .iter()
                .map(|r| {
                    serde_json::json!([
                        r.group_id,
                        self.chain,
                        r.chain_id,
                        r.block_number,
                        r.block_hash,
                        r.block_timestamp,
                        r.tx_hash,
                        r.tx_index,
                        r.log_index,
                        r.address,
                        r.kind,
                        r.category,
                        r.fields,
                        r.topics,
                        r.data,
                        r.manifest_hash
                    ])
                })
                .collect();
            let json = serde_json::to_string(&packed).expect("records serialise");
            sqlx::query(&sql)
                .bind(json)
                .execute(&mut *self.tx)
                .await
                .ctx("inserting records")?;
        }
        Ok(())
    }

    /// The newest observed state of every contract of a group that has one, by (contract,
    /// kind), as stored JSON.
    pub async fn latest_states(
        &mut self,
        group_id: &str,
    ) -> Result<std::collections::HashMap<(String, String), String>, StoreError> {
        let rows = sqlx::query(
            "SELECT contract, kind, state FROM observed_states WHERE group_id = $1 \
             ORDER BY contract, kind, block_number, log_index",
        )
        .bind(group_id)
        .fetch_all(&mut *self.tx)
        .await
        .ctx("reading observed states")?;
        let mut out = std::collections::HashMap::new();
        for r in rows {
            let get = |c: &str| r.try_get::<String, _>(c).ctx("reading observed states");
            // Ordered by position: the last row of each contract is its newest state.
            out.insert((get("contract")?, get("kind")?), get("state")?);
        }
        Ok(out)
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn insert_state(
        &mut self,
        group_id: &str,
        contract: &str,
        kind: &str,
        block: i64,
        log_index: i64,
        source: &str,
        state_json: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO observed_states (group_id, chain, contract, kind, block_number, \
             log_index, source, state) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(group_id)
        .bind(&self.chain)
        .bind(contract)
        .bind(kind)
        .bind(block)
        .bind(log_index)
        .bind(source)
        .bind(state_json)
        .execute(&mut *self.tx)
        .await
        .ctx("storing observed state")?;
        Ok(())
    }

    /// The timelock operation ids of every proposal recorded for a group (the
    /// `timelock_operation_id` derived into each `governor.proposal_created` record).
    pub async fn proposal_operation_ids(
        &mut self,
        group_id: &str,
    ) -> Result<Vec<alloy::primitives::B256>, StoreError> {
        let rows = sqlx::query(
            "SELECT fields FROM records WHERE group_id = $1 AND kind = 'governor.proposal_created'",
        )
        .bind(group_id)
        .fetch_all(&mut *self.tx)
        .await
        .ctx("reading proposals")?;
        let mut out = Vec::new();
        for r in rows {
            let fields: String = r.try_get("fields").ctx("reading proposals")?;
            let v: serde_json::Value = serde_json::from_str(&fields)
                .map_err(|e| StoreError::Corrupt(format!("proposal record: {e}")))?;
            if let Some(id) = v["timelock_operation_id"]
                .as_str()
                .and_then(|s| s.parse().ok())
            {
                out.push(id);
            }
        }
        Ok(out)
    }

    /// Every open divergence of a group, acknowledged or not.
    pub async fn open_group_divergences(
        &mut self,
        group_id: &str,
    ) -> Result<Vec<Divergence>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM divergences WHERE group_id = $1 \
             AND status IN ('open', 'acknowledged') ORDER BY n",
        )
        .bind(group_id)
        .fetch_all(&mut *self.tx)
        .await
        .ctx("reading divergences")?;
        rows.iter().map(divergence_row).collect()
    }

    /// Open divergences of a group about one subject.
    pub async fn open_divergences(
        &mut self,
        group_id: &str,
        subject: &str,
    ) -> Result<Vec<Divergence>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM divergences WHERE group_id = $1 AND subject = $2 \
             AND status IN ('open', 'acknowledged') \
             ORDER BY n",
        )
        .bind(group_id)
        .bind(subject)
        .fetch_all(&mut *self.tx)
        .await
        .ctx("reading divergences")?;
        rows.iter().map(divergence_row).collect()
    }

    /// Opens a divergence; returns its number within the group.
    pub async fn open_divergence(&mut self, d: &NewDivergence) -> Result<i64, StoreError> {
        let next: i64 = sqlx::query(
            "SELECT COALESCE(MAX(n), 0) + 1 AS next FROM divergences WHERE group_id = $1",
        )
        .bind(&d.group_id)
        .fetch_one(&mut *self.tx)
        .await
        .ctx("numbering divergence")?
        .try_get("next")
        .ctx("numbering divergence")?;
        sqlx::query(
            "INSERT INTO divergences (group_id, n, chain, rule, severity, subject, item, expected, \
             observed, status, opened_block, opened_block_hash, opened_tx_hash, opened_log_index, \
             opened_manifest_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'open', $10, $11, \
             $12, $13, $14)",
        )
        .bind(&d.group_id)
        .bind(next)
        .bind(&self.chain)
        .bind(d.rule.as_str())
        .bind(d.rule.severity().as_str())
        .bind(&d.subject)
        .bind(&d.item)
        .bind(&d.expected)
        .bind(&d.observed)
        .bind(d.block)
        .bind(&d.block_hash)
        .bind(&d.tx_hash)
        .bind(d.log_index)
        .bind(&d.manifest_hash)
        .execute(&mut *self.tx)
        .await
        .ctx("opening divergence")?;
        self.write_alert(&d.group_id, next, AlertEvent::Opened)
            .await?;
        Ok(next)
    }

    pub async fn resolve_divergence(
        &mut self,
        group_id: &str,
        n: i64,
        r: &Resolution,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE divergences SET status = 'resolved', resolved_block = $3, \
             resolved_block_hash = $4, resolved_tx_hash = $5, resolved_log_index = $6, \
             resolved_manifest_hash = $7, resolution = $8 WHERE group_id = $1 AND n = $2",
        )
        .bind(group_id)
        .bind(n)
        .bind(r.block)
        .bind(&r.block_hash)
        .bind(&r.tx_hash)
        .bind(r.log_index)
        .bind(&r.manifest_hash)
        .bind(r.by)
        .execute(&mut *self.tx)
        .await
        .ctx("resolving divergence")?;
        self.write_alert(group_id, n, AlertEvent::Resolved).await?;
        Ok(())
    }

    /// Locks a group for this batch and reads its manifest versions and progress as they are
    /// now. `update_group` takes the same lock first, so a new version is either seen by this
    /// batch or gets an effective block after it — never one inside a batch that missed it.
    pub async fn lock_group(
        &mut self,
        group_id: &str,
    ) -> Result<(GroupRow, Vec<ManifestVersion>), StoreError> {
        lock_group_row(&mut self.tx, group_id).await?;
        let row = sqlx::query("SELECT * FROM groups WHERE id = $1")
            .bind(group_id)
            .fetch_one(&mut *self.tx)
            .await
            .ctx("locking group")?;
        let group = group_row(&row).ctx("locking group")?;
        let versions =
            sqlx::query("SELECT * FROM manifest_versions WHERE group_id = $1 ORDER BY version")
                .bind(group_id)
                .fetch_all(&mut *self.tx)
                .await
                .ctx("locking group")?
                .iter()
                .map(version_row)
                .collect::<Result<_, _>>()?;
        Ok((group, versions))
    }

    /// Marks a group's records complete up to `block`.
    pub async fn set_group_synced(&mut self, group_id: &str, block: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE groups SET synced_to = $2 WHERE id = $1 AND synced_to < $2")
            .bind(group_id)
            .bind(block)
            .execute(&mut *self.tx)
            .await
            .ctx("advancing group")?;
        Ok(())
    }

    /// Moves the chain's checkpoint to `head`, remembers `blocks` (with hashes, for reorg
    /// detection) and forgets those older than `window` blocks.
    pub async fn advance_cursor(
        &mut self,
        head: &BlockRef,
        blocks: &[BlockRef],
        window: u64,
    ) -> Result<(), StoreError> {
        let ctx = "advancing checkpoint";
        sqlx::query(
            "INSERT INTO chain_cursor (chain, block_number, block_hash, updated_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (chain) DO UPDATE SET \
             block_number = excluded.block_number, block_hash = excluded.block_hash, \
             updated_at = excluded.updated_at",
        )
        .bind(&self.chain)
        .bind(head.number as i64)
        .bind(head.hash.to_string())
        .bind(now())
        .execute(&mut *self.tx)
        .await
        .ctx(ctx)?;
        for b in blocks.iter().chain(std::iter::once(head)) {
            sqlx::query(
                "INSERT INTO chain_blocks (chain, block_number, block_hash, parent_hash) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (chain, block_number) DO UPDATE SET \
                 block_hash = excluded.block_hash, parent_hash = excluded.parent_hash",
            )
            .bind(&self.chain)
            .bind(b.number as i64)
            .bind(b.hash.to_string())
            .bind(b.parent_hash.to_string())
            .execute(&mut *self.tx)
            .await
            .ctx(ctx)?;
        }
        sqlx::query("DELETE FROM chain_blocks WHERE chain = $1 AND block_number < $2")
            .bind(&self.chain)
            .bind(head.number as i64 - window as i64)
            .execute(&mut *self.tx)
            .await
            .ctx(ctx)?;
        Ok(())
    }

    pub async fn commit(self) -> Result<(), StoreError> {
        self.tx.commit().await.ctx("committing batch")?;
        if self.alerts_written {
            self.outbox.notify_one();
        }
        Ok(())
    }

    async fn commit_rollback(self) -> Result<(), StoreError> {
        self.tx.commit().await.ctx("rolling back")?;
        if self.alerts_written {
            self.outbox.notify_one();
        }
        Ok(())
    }
}
