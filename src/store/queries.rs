//! The read side: records and divergences of a group, with filters.

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

use super::{Ctx, Store, StoreError};

/// A decision or transaction record with its chain evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordRow {
    pub group_id: String,
    pub chain_id: i64,
    pub block_number: i64,
    pub block_hash: String,
    pub block_timestamp: Option<i64>,
    pub tx_hash: String,
    pub tx_index: i64,
    pub log_index: i64,
    pub address: String,
    pub kind: String,
    pub category: String,
    /// The decoded fields, as JSON.
    pub fields: String,
    /// The raw topics (JSON array of hex) and data (hex), so the record can be checked.
    pub topics: String,
    pub data: String,
    /// The manifest version in force at the block.
    pub manifest_hash: Option<String>,
}

/// Which records to return.
#[derive(Debug, Clone, Default)]
pub struct RecordFilter {
    pub kind: Option<String>,
    pub category: Option<String>,
    pub from_block: Option<i64>,
    pub to_block: Option<i64>,
    pub limit: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DivergenceStatus {
    Open,
    Resolved,
    Acknowledged,
}

impl DivergenceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DivergenceStatus::Open => "open",
            DivergenceStatus::Resolved => "resolved",
            DivergenceStatus::Acknowledged => "acknowledged",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "open" => Some(Self::Open),
            "resolved" => Some(Self::Resolved),
            "acknowledged" => Some(Self::Acknowledged),
            _ => None,
        }
    }
}

/// A stored divergence with the evidence of its opening and, if any, its resolution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Divergence {
    pub group_id: String,
    pub n: i64,
    pub rule: String,
    pub severity: String,
    pub subject: String,
    pub item: String,
    pub expected: String,
    pub observed: String,
    pub status: String,
    pub opened_block: i64,
    pub opened_block_hash: String,
    pub opened_tx_hash: Option<String>,
    pub opened_log_index: Option<i64>,
    pub opened_manifest_hash: String,
    pub resolved_block: Option<i64>,
    pub resolved_block_hash: Option<String>,
    pub resolved_tx_hash: Option<String>,
    pub resolved_log_index: Option<i64>,
    pub resolved_manifest_hash: Option<String>,
    pub resolution: Option<String>,
    pub ack_note: Option<String>,
}

pub(crate) fn divergence_row(r: &AnyRow) -> Result<Divergence, StoreError> {
    let get = || -> Result<Divergence, sqlx::Error> {
        Ok(Divergence {
            group_id: r.try_get("group_id")?,
            n: r.try_get("n")?,
            rule: r.try_get("rule")?,
            severity: r.try_get("severity")?,
            subject: r.try_get("subject")?,
            item: r.try_get("item")?,
            expected: r.try_get("expected")?,
            observed: r.try_get("observed")?,
            status: r.try_get("status")?,
            opened_block: r.try_get("opened_block")?,
            opened_block_hash: r.try_get("opened_block_hash")?,
            opened_tx_hash: r.try_get("opened_tx_hash")?,
            opened_log_index: r.try_get("opened_log_index")?,
            opened_manifest_hash: r.try_get("opened_manifest_hash")?,
            resolved_block: r.try_get("resolved_block")?,
            resolved_block_hash: r.try_get("resolved_block_hash")?,
            resolved_tx_hash: r.try_get("resolved_tx_hash")?,
            resolved_log_index: r.try_get("resolved_log_index")?,
            resolved_manifest_hash: r.try_get("resolved_manifest_hash")?,
            resolution: r.try_get("resolution")?,
            ack_note: r.try_get("ack_note")?,
        })
    };
    get().ctx("reading divergence")
}

pub(super) fn record_row(r: &AnyRow) -> Result<RecordRow, sqlx::Error> {
    Ok(RecordRow {
        group_id: r.try_get("group_id")?,
        chain_id: r.try_get("chain_id")?,
        block_number: r.try_get("block_number")?,
        block_hash: r.try_get("block_hash")?,
        block_timestamp: r.try_get("block_timestamp")?,
        tx_hash: r.try_get("tx_hash")?,
        tx_index: r.try_get("tx_index")?,
        log_index: r.try_get("log_index")?,
        address: r.try_get("address")?,
        kind: r.try_get("kind")?,
        category: r.try_get("category")?,
        fields: r.try_get("fields")?,
        topics: r.try_get("topics")?,
        data: r.try_get("data")?,
        manifest_hash: r.try_get("manifest_hash")?,
    })
}

impl Store {
    /// A group's records in chain order.
    pub async fn records(
        &self,
        group_id: &str,
        f: &RecordFilter,
    ) -> Result<Vec<RecordRow>, StoreError> {
        let sql = "SELECT * FROM records WHERE group_id = $1 \
             AND ($2 IS NULL OR kind = $2) AND ($3 IS NULL OR category = $3) \
             AND block_number >= $4 AND block_number <= $5 \
             ORDER BY block_number, log_index LIMIT $6";
        sqlx::query(sql)
            .bind(group_id)
            .bind(&f.kind)
            .bind(&f.category)
            .bind(f.from_block.unwrap_or(i64::MIN))
            .bind(f.to_block.unwrap_or(i64::MAX))
            .bind(f.limit.unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await
            .ctx("reading records")?
            .iter()
            .map(record_row)
            .collect::<Result<_, _>>()
            .ctx("reading records")
    }

    pub async fn count_records(&self, group_id: &str) -> Result<i64, StoreError> {
        sqlx::query("SELECT COUNT(*) AS n FROM records WHERE group_id = $1")
            .bind(group_id)
            .fetch_one(&self.pool)
            .await
            .ctx("counting records")?
            .try_get("n")
            .ctx("counting records")
    }

    /// A group's divergences, optionally of one status, oldest first.
    pub async fn divergences(
        &self,
        group_id: &str,
        status: Option<DivergenceStatus>,
    ) -> Result<Vec<Divergence>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM divergences WHERE group_id = $1 AND ($2 IS NULL OR status = $2) \
             ORDER BY n",
        )
        .bind(group_id)
        .bind(status.map(|s| s.as_str()))
        .fetch_all(&self.pool)
        .await
        .ctx("reading divergences")?;
        rows.iter().map(divergence_row).collect()
    }
}
