//! The verifiable log's tables: leaves, the complete subtrees of the Merkle tree, signed
//! checkpoints, and each group's sealed height; the rows an append writes and the reads proofs
//! need. What a leaf says and how the tree hashes is the ledger's business: here a node is a
//! `(level, index)` key and a 32-byte hash.
//!
//! Invariant: leaves and the nodes they complete are written in the same transaction as the
//! head's new size, under the head row's lock ([`LogTables::lock_head`]), so the tree on disk is
//! always a whole tree and two writers (replicas on one PostgreSQL) append one after the other.

use std::collections::HashMap;

use alloy::primitives::B256;
use sqlx::{Any, AnyConnection, Transaction};

use super::groups::versions;
use super::{now, Backend, Ctx, Divergence, ManifestVersion, RecordRow, Store, StoreError};

/// One stored leaf.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct LogEntry {
    #[sqlx(rename = "idx", try_from = "i64")]
    pub index: u64,
    pub kind: String,
    pub group_id: Option<String>,
    pub block_number: i64,
    pub leaf_hash: String,
    pub leaf: String,
    #[sqlx(flatten, try_from = "VoidedBy")]
    pub voided_by: Option<u64>,
}

/// The `voided_by` column, a leaf index (never negative), read as a [`LogEntry`]'s.
#[derive(sqlx::FromRow)]
pub struct VoidedBy {
    voided_by: Option<i64>,
}

impl From<VoidedBy> for Option<u64> {
    fn from(v: VoidedBy) -> Option<u64> {
        v.voided_by.map(|i| i as u64)
    }
}

/// One stored leaf as an audit or an export reads it: its index, its stored hash and its
/// bytes, and nothing else.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredLeaf {
    #[sqlx(rename = "idx", try_from = "i64")]
    pub index: u64,
    pub leaf_hash: String,
    pub leaf: String,
}

/// A checkpoint as signed and stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct StoredCheckpoint {
    #[sqlx(try_from = "i64")]
    pub tree_size: u64,
    pub root: String,
    pub note: String,
    pub signed_at: String,
}

/// A group as the sealer sees it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SealGroup {
    pub id: String,
    /// The first block the group is followed from.
    pub start_block: i64,
    pub synced_to: i64,
    /// In the log up to this block.
    pub sealed_to: i64,
}

/// A stored node's key: `(level, index)` of the perfect subtree it is the root of.
pub type NodeKey = (u32, u64);

/// One leaf to store, already numbered, encoded and hashed by the ledger.
#[derive(Debug, Clone)]
pub struct NewLogEntry {
    pub index: u64,
    pub kind: &'static str,
    pub group_id: Option<String>,
    pub block_number: i64,
    pub leaf_hash: B256,
    pub leaf: String,
}

/// Leaf and node hashes are stored as 64 hex digits without `0x`, as transparency logs write
/// them.
/// Whether an aggregated read of `start..end` (its `count(*)`, `min(idx)`, `max(idx)`) holds
/// every index of the range once: the indexes are a primary key, so a count equal to the
/// range's length with the right ends means no gap.
fn whole_page(start: u64, end: u64, count: i64, first: Option<i64>, last: Option<i64>) -> bool {
    count as u64 == end.saturating_sub(start)
        && first.is_none_or(|f| f as u64 == start)
        && last.is_none_or(|l| l as u64 + 1 == end)
}

/// The `count` values a `string_agg(…, sep)` joined, or `None` if splitting does not give
/// exactly that many (a value holding the separator): the caller reads row by row instead.
fn split_page<'a>(joined: &'a str, sep: &str, count: i64) -> Option<Vec<&'a str>> {
    if count == 0 {
        return Some(Vec::new());
    }
    let parts: Vec<&str> = joined.split(sep).collect();
    (parts.len() as i64 == count).then_some(parts)
}

fn parse_hash(s: &str) -> Result<B256, StoreError> {
    s.parse()
        .map_err(|_| StoreError::Corrupt(format!("log hash {s:?}")))
}

/// `(chain = $1 AND level = a AND idx = b) OR …` for a list of node keys; integers only, so
/// nothing to bind. The chain is repeated in every term so that SQLite plans one primary-key
/// lookup per node: with `chain = $1 AND (… OR …)` it scanned every node of the chain.
fn node_condition(ids: &[NodeKey]) -> String {
    ids.iter()
        .map(|(level, index)| format!("(chain = $1 AND level = {level} AND idx = {index})"))
        .collect::<Vec<_>>()
        .join(" OR ")
}

async fn fetch_nodes(
    conn: &mut AnyConnection,
    chain: &str,
    ids: &[NodeKey],
) -> Result<HashMap<NodeKey, B256>, StoreError> {
    let mut out = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(200) {
        let sql = format!(
            "SELECT level, idx, hash FROM log_nodes WHERE {}",
            node_condition(chunk)
        );
        let rows: Vec<(i64, i64, String)> = sqlx::query_as(&sql)
            .bind(chain)
            .fetch_all(&mut *conn)
            .await
            .ctx("reading log nodes")?;
        for (level, idx, hash) in rows {
            out.insert((level as u32, idx as u64), parse_hash(&hash)?);
        }
    }
    Ok(out)
}

/// The log tables of one chain inside an open transaction (a seal or an unwind): what the
/// ledger appends and voids with.
pub struct LogTables<'c> {
    conn: &'c mut AnyConnection,
    chain: &'c str,
    backend: Backend,
}

impl<'c> LogTables<'c> {
    pub(super) fn new(conn: &'c mut AnyConnection, chain: &'c str, backend: Backend) -> Self {
        LogTables {
            conn,
            chain,
            backend,
        }
    }

    /// Takes the log's write lock for the rest of the transaction (creating its head row) and
    /// returns its size.
    pub async fn lock_head(&mut self) -> Result<u64, StoreError> {
        lock_head(self.conn, self.chain).await
    }

    /// The stored hashes of the given nodes; absent ones are left out.
    pub async fn nodes(&mut self, ids: &[NodeKey]) -> Result<HashMap<NodeKey, B256>, StoreError> {
        fetch_nodes(self.conn, self.chain, ids).await
    }

    /// Writes leaves and the nodes they complete, and the log's new size.
    pub async fn append(
        &mut self,
        entries: &[NewLogEntry],
        nodes: &[(NodeKey, B256)],
        size: u64,
    ) -> Result<(), StoreError> {
        let (entries_sql, nodes_sql) = match self.backend {
            Backend::Sqlite => (
                // Each row parsed once into a blob, as for records (`store::batch`).
                "WITH r AS MATERIALIZED (SELECT jsonb(value) AS b FROM json_each($2)) \
                 INSERT INTO log_entries (chain, idx, kind, group_id, block_number, leaf_hash, leaf) \
                 SELECT $1, b->>0, b->>1, b->>2, b->>3, b->>4, b->>5 FROM r",
                "WITH r AS MATERIALIZED (SELECT jsonb(value) AS b FROM json_each($2)) \
                 INSERT INTO log_nodes (chain, level, idx, hash) \
                 SELECT $1, b->>0, b->>1, b->>2 FROM r",
            ),
            Backend::Postgres => (
                "INSERT INTO log_entries (chain, idx, kind, group_id, block_number, leaf_hash, leaf) \
                 SELECT $1, (e->>0)::bigint, e->>1, e->>2, (e->>3)::bigint, e->>4, e->>5 \
                 FROM jsonb_array_elements($2::jsonb) AS e",
                "INSERT INTO log_nodes (chain, level, idx, hash) \
                 SELECT $1, (e->>0)::integer, (e->>1)::bigint, e->>2 \
                 FROM jsonb_array_elements($2::jsonb) AS e",
            ),
        };
        for chunk in entries.chunks(self.backend.rows_per_statement()) {
            let packed: Vec<_> = chunk
                .iter()
                .map(|e| {
                    (
                        e.index,
                        e.kind,
                        &e.group_id,
                        e.block_number,
                        hex::encode(e.leaf_hash),
                        &e.leaf,
                    )
                })
                .collect();
            sqlx::query(entries_sql)
                .bind(self.chain)
                .bind(serde_json::to_string(&packed).expect("entries serialise"))
                .execute(&mut *self.conn)
                .await
                .ctx("appending log entries")?;
        }
        for chunk in nodes.chunks(self.backend.rows_per_statement()) {
            let packed: Vec<_> = chunk
                .iter()
                .map(|((level, idx), h)| (level, idx, hex::encode(h)))
                .collect();
            sqlx::query(nodes_sql)
                .bind(self.chain)
                .bind(serde_json::to_string(&packed).expect("nodes serialise"))
                .execute(&mut *self.conn)
                .await
                .ctx("appending log nodes")?;
        }
        sqlx::query("UPDATE log_heads SET tree_size = $2 WHERE chain = $1")
            .bind(self.chain)
            .bind(size as i64)
            .execute(&mut *self.conn)
            .await
            .ctx("appending to log")?;
        Ok(())
    }

    /// Record leaves about blocks above `block` that no retraction has voided yet, oldest
    /// first: what a reorg to `block` takes away from the log.
    pub async fn live_records_above(&mut self, block: i64) -> Result<Vec<LogEntry>, StoreError> {
        sqlx::query_as(
            "SELECT * FROM log_entries WHERE chain = $1 AND block_number > $2 AND kind = 'record' \
             AND voided_by IS NULL ORDER BY idx",
        )
        .bind(self.chain)
        .bind(block)
        .fetch_all(&mut *self.conn)
        .await
        .ctx("reading log entries")
    }

    /// The groups following the chain, with how far each is indexed and sealed.
    pub async fn groups(&mut self) -> Result<Vec<SealGroup>, StoreError> {
        sqlx::query_as(
            "SELECT id, start_block, synced_to, COALESCE(sealed_to, start_block - 1) AS sealed_to \
             FROM groups WHERE chain = $1 ORDER BY id",
        )
        .bind(self.chain)
        .fetch_all(&mut *self.conn)
        .await
        .ctx("reading groups")
    }

    /// Marks a group's rows in the log up to `block`.
    pub async fn set_sealed_to(&mut self, group_id: &str, block: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE groups SET sealed_to = $2 WHERE id = $1")
            .bind(group_id)
            .bind(block)
            .execute(&mut *self.conn)
            .await
            .ctx("sealing group")?;
        Ok(())
    }

    /// Marks leaves as voided by the retraction at `by`.
    pub async fn void(&mut self, indexes: &[u64], by: u64) -> Result<(), StoreError> {
        for chunk in indexes.chunks(500) {
            let list = chunk
                .iter()
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(",");
            sqlx::query(&format!(
                "UPDATE log_entries SET voided_by = $2 WHERE chain = $1 AND idx IN ({list})"
            ))
            .bind(self.chain)
            .bind(by as i64)
            .execute(&mut *self.conn)
            .await
            .ctx("voiding log entries")?;
        }
        Ok(())
    }
}

/// Takes the log's write lock (creating its head row) and returns its size.
async fn lock_head(conn: &mut AnyConnection, chain: &str) -> Result<u64, StoreError> {
    sqlx::query(
        "INSERT INTO log_heads (chain, tree_size, updated_at) VALUES ($1, 0, $2) \
         ON CONFLICT (chain) DO NOTHING",
    )
    .bind(chain)
    .bind(now())
    .execute(&mut *conn)
    .await
    .ctx("locking log")?;
    let size: i64 = sqlx::query_scalar(
        "UPDATE log_heads SET updated_at = $2 WHERE chain = $1 RETURNING tree_size",
    )
    .bind(chain)
    .bind(now())
    .fetch_one(&mut *conn)
    .await
    .ctx("locking log")?;
    Ok(size as u64)
}

impl Store {
    /// The number of leaves in `chain`'s log.
    pub async fn log_size(&self, chain: &str) -> Result<u64, StoreError> {
        let size: Option<i64> =
            sqlx::query_scalar("SELECT tree_size FROM log_heads WHERE chain = $1")
                .bind(chain)
                .fetch_optional(&self.pool)
                .await
                .ctx("reading log size")?;
        Ok(size.unwrap_or(0) as u64)
    }

    /// Leaves `start..end` of `chain`'s log.
    pub async fn log_entries(
        &self,
        chain: &str,
        start: u64,
        end: u64,
    ) -> Result<Vec<LogEntry>, StoreError> {
        sqlx::query_as(
            "SELECT * FROM log_entries WHERE chain = $1 AND idx >= $2 AND idx < $3 ORDER BY idx",
        )
        .bind(chain)
        .bind(start as i64)
        .bind(end as i64)
        .fetch_all(&self.pool)
        .await
        .ctx("reading log entries")
    }

    /// Leaves `start..end` of `chain`'s log, with only what an audit reads.
    pub async fn log_leaves(
        &self,
        chain: &str,
        start: u64,
        end: u64,
    ) -> Result<Vec<StoredLeaf>, StoreError> {
        // As for `log_level`: a complete page in one aggregated row. A canonical leaf never
        // holds an unescaped control character, so U+001E separates leaves; a page where the
        // split does not give one leaf per index is read row by row.
        const SEP: &str = "\u{1e}";
        let (count, first, last, hashes, leaves): (
            i64,
            Option<i64>,
            Option<i64>,
            Option<String>,
            Option<String>,
        ) = sqlx::query_as(
            "SELECT count(*), min(idx), max(idx), string_agg(leaf_hash, $4 ORDER BY idx), \
             string_agg(leaf, $4 ORDER BY idx) FROM log_entries WHERE chain = $1 \
             AND idx >= $2 AND idx < $3",
        )
        .bind(chain)
        .bind(start as i64)
        .bind(end as i64)
        .bind(SEP)
        .fetch_one(&self.pool)
        .await
        .ctx("reading log entries")?;
        if whole_page(start, end, count, first, last) {
            let (hashes, leaves) = (hashes.unwrap_or_default(), leaves.unwrap_or_default());
            if let (Some(hashes), Some(leaves)) = (
                split_page(&hashes, SEP, count),
                split_page(&leaves, SEP, count),
            ) {
                return Ok((start..end)
                    .zip(hashes.into_iter().zip(leaves))
                    .map(|(index, (leaf_hash, leaf))| StoredLeaf {
                        index,
                        leaf_hash: leaf_hash.to_string(),
                        leaf: leaf.to_string(),
                    })
                    .collect());
            }
        }
        sqlx::query_as(
            "SELECT idx, leaf_hash, leaf FROM log_entries WHERE chain = $1 AND idx >= $2 \
             AND idx < $3 ORDER BY idx",
        )
        .bind(chain)
        .bind(start as i64)
        .bind(end as i64)
        .fetch_all(&self.pool)
        .await
        .ctx("reading log entries")
    }

    /// The stored hashes of the given complete subtrees; absent ones are left out.
    pub async fn log_nodes(
        &self,
        chain: &str,
        ids: &[NodeKey],
    ) -> Result<HashMap<NodeKey, B256>, StoreError> {
        let mut conn = self.pool.acquire().await.ctx("reading log nodes")?;
        fetch_nodes(&mut conn, chain, ids).await
    }

    /// Every stored node of one level with index in `start..end`, in order (for a full audit).
    pub async fn log_level(
        &self,
        chain: &str,
        level: u32,
        start: u64,
        end: u64,
    ) -> Result<Vec<(u64, B256)>, StoreError> {
        // One row per page when the page is complete: a row per node costs more in the driver
        // than the node itself (2,000,000 of them per million leaves). `string_agg … ORDER BY`
        // is PostgreSQL's and SQLite's (3.44+) alike.
        let (count, first, last, hashes): (i64, Option<i64>, Option<i64>, Option<String>) =
            sqlx::query_as(
                "SELECT count(*), min(idx), max(idx), string_agg(hash, ',' ORDER BY idx) \
                 FROM log_nodes WHERE chain = $1 AND level = $2 AND idx >= $3 AND idx < $4",
            )
            .bind(chain)
            .bind(i64::from(level))
            .bind(start as i64)
            .bind(end as i64)
            .fetch_one(&self.pool)
            .await
            .ctx("reading log nodes")?;
        if whole_page(start, end, count, first, last) {
            let hashes = hashes.unwrap_or_default();
            if let Some(split) = split_page(&hashes, ",", count) {
                return (start..end)
                    .zip(split)
                    .map(|(idx, hash)| Ok((idx, parse_hash(hash)?)))
                    .collect();
            }
        }
        // A page with a gap (or a hash holding the separator): node by node, so the audit
        // can name what is missing.
        let rows: Vec<(i64, String)> = sqlx::query_as(
            "SELECT idx, hash FROM log_nodes WHERE chain = $1 AND level = $2 AND idx >= $3 \
             AND idx < $4 ORDER BY idx",
        )
        .bind(chain)
        .bind(i64::from(level))
        .bind(start as i64)
        .bind(end as i64)
        .fetch_all(&self.pool)
        .await
        .ctx("reading log nodes")?;
        rows.into_iter()
            .map(|(idx, hash)| Ok((idx as u64, parse_hash(&hash)?)))
            .collect()
    }

    /// The chains that have a log.
    pub async fn log_chains(&self) -> Result<Vec<String>, StoreError> {
        sqlx::query_scalar("SELECT chain FROM log_heads ORDER BY chain")
            .fetch_all(&self.pool)
            .await
            .ctx("reading logs")
    }

    /// The newest signed checkpoint of `chain`'s log.
    pub async fn latest_checkpoint(
        &self,
        chain: &str,
    ) -> Result<Option<StoredCheckpoint>, StoreError> {
        sqlx::query_as(
            "SELECT * FROM log_checkpoints WHERE chain = $1 ORDER BY tree_size DESC LIMIT 1",
        )
        .bind(chain)
        .fetch_optional(&self.pool)
        .await
        .ctx("reading checkpoint")
    }

    /// Stores a signed checkpoint; `false` if one of that size was already stored (by another
    /// replica), which is then left as it is.
    pub async fn insert_checkpoint(
        &self,
        chain: &str,
        tree_size: u64,
        root: &B256,
        note: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await.ctx("starting checkpoint")?;
        self.check_fence(&mut tx, chain).await?;
        let done = sqlx::query(
            "INSERT INTO log_checkpoints (chain, tree_size, root, note, signed_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (chain, tree_size) DO NOTHING",
        )
        .bind(chain)
        .bind(tree_size as i64)
        .bind(hex::encode(root))
        .bind(note)
        .bind(now())
        .execute(&mut *tx)
        .await
        .ctx("storing checkpoint")?;
        tx.commit().await.ctx("committing checkpoint")?;
        Ok(done.rows_affected() == 1)
    }

    /// Starts sealing `chain`: takes the log's write lock for the transaction.
    pub async fn begin_seal(&self, chain: &str) -> Result<SealTx, StoreError> {
        let mut tx = self.pool.begin().await.ctx("starting seal")?;
        self.check_fence(&mut tx, chain).await?;
        lock_head(&mut tx, chain).await?;
        Ok(SealTx {
            tx,
            chain: chain.to_string(),
            backend: self.backend,
        })
    }

    /// A transaction on `chain`'s log alone (for tools and benchmarks that append leaves; the
    /// daemon appends through [`SealTx`] and the driver's unwind).
    pub async fn begin_log(&self, chain: &str) -> Result<SealTx, StoreError> {
        let mut tx = self.pool.begin().await.ctx("starting log append")?;
        self.check_fence(&mut tx, chain).await?;
        Ok(SealTx {
            tx,
            chain: chain.to_string(),
            backend: self.backend,
        })
    }
}

/// One sealing step: reads what has become final and appends it, under the log's lock.
pub struct SealTx {
    pub(super) tx: Transaction<'static, Any>,
    pub(super) chain: String,
    backend: Backend,
}

impl SealTx {
    /// A group's records in blocks `after+1..=upto`.
    pub async fn records(
        &mut self,
        group_id: &str,
        after: i64,
        upto: i64,
    ) -> Result<Vec<RecordRow>, StoreError> {
        sqlx::query_as(
            "SELECT * FROM records WHERE group_id = $1 AND block_number > $2 \
             AND block_number <= $3 ORDER BY block_number, log_index",
        )
        .bind(group_id)
        .bind(after)
        .bind(upto)
        .fetch_all(&mut *self.tx)
        .await
        .ctx("reading records")
    }

    /// A group's manifest versions in force from a block in `after+1..=upto`.
    pub async fn versions(
        &mut self,
        group_id: &str,
        after: i64,
        upto: i64,
    ) -> Result<Vec<ManifestVersion>, StoreError> {
        let rows = sqlx::query_as(
            "SELECT * FROM manifest_versions WHERE group_id = $1 AND effective_block > $2 \
             AND effective_block <= $3 ORDER BY version",
        )
        .bind(group_id)
        .bind(after)
        .bind(upto)
        .fetch_all(&mut *self.tx)
        .await
        .ctx("reading manifest versions")?;
        versions(rows)
    }

    /// A group's divergences opened or resolved by a log in blocks `after+1..=upto`.
    pub async fn verdicts(
        &mut self,
        group_id: &str,
        after: i64,
        upto: i64,
    ) -> Result<Vec<Divergence>, StoreError> {
        sqlx::query_as(
            "SELECT * FROM divergences WHERE group_id = $1 AND ( \
             (opened_block > $2 AND opened_block <= $3 AND opened_log_index IS NOT NULL) OR \
             (resolved_block > $2 AND resolved_block <= $3 AND resolved_log_index IS NOT NULL))",
        )
        .bind(group_id)
        .bind(after)
        .bind(upto)
        .fetch_all(&mut *self.tx)
        .await
        .ctx("reading divergences")
    }

    /// The log tables, inside this transaction.
    pub fn log(&mut self) -> LogTables<'_> {
        LogTables {
            conn: &mut self.tx,
            chain: &self.chain,
            backend: self.backend,
        }
    }

    pub async fn commit(self) -> Result<(), StoreError> {
        self.tx.commit().await.ctx("committing seal")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_condition_lists_every_id() {
        let c = node_condition(&[(0, 5), (3, 1)]);
        assert_eq!(
            c,
            "(chain = $1 AND level = 0 AND idx = 5) OR (chain = $1 AND level = 3 AND idx = 1)"
        );
    }
}
