//! The read side: records and divergences of a group, with filters.

use serde::Serialize;

use super::{now, Ctx, Store, StoreError};

/// A decision or transaction record with its chain evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
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

/// Which records to return, and where a page starts.
#[derive(Debug, Clone, Default)]
pub struct RecordFilter {
    pub kind: Option<String>,
    pub category: Option<String>,
    pub from_block: Option<i64>,
    pub to_block: Option<i64>,
    /// Block timestamps (unix seconds), inclusive.
    pub from_time: Option<i64>,
    pub to_time: Option<i64>,
    /// Only records strictly after this position (`(block, log_index)`) in the page's order.
    pub after: Option<(i64, i64)>,
    /// Newest first.
    pub descending: bool,
    pub limit: Option<i64>,
}

/// Which divergences to return, and where a page starts.
#[derive(Debug, Clone, Default)]
pub struct DivergenceFilter {
    pub status: Option<DivergenceStatus>,
    pub severity: Option<String>,
    pub rule: Option<String>,
    /// Only divergences strictly after this number in the page's order.
    pub after: Option<i64>,
    /// Newest first.
    pub descending: bool,
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

/// A stored divergence with the evidence of its opening and, if any, its resolution. The
/// default is an empty row, for building one field by field.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema, sqlx::FromRow)]
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
    pub acked_at: Option<String>,
}

/// The newest observed structure of one contract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct StateRow {
    pub contract: String,
    pub kind: String,
    pub block_number: i64,
    pub log_index: i64,
    pub source: String,
    /// The structure, as JSON.
    pub state: String,
}

impl Store {
    /// The newest observed structure of each of a group's contracts.
    pub async fn current_states(&self, group_id: &str) -> Result<Vec<StateRow>, StoreError> {
        // Structural changes are rare: every row of the group, newest last per contract.
        let rows: Vec<StateRow> = sqlx::query_as(
            "SELECT contract, kind, block_number, log_index, source, state FROM observed_states \
             WHERE group_id = $1 ORDER BY contract, kind, block_number, log_index",
        )
        .bind(group_id)
        .fetch_all(&self.pool)
        .await
        .ctx("reading observed states")?;
        let mut out: Vec<StateRow> = Vec::new();
        for row in rows {
            match out.last_mut() {
                Some(last) if last.contract == row.contract && last.kind == row.kind => *last = row,
                _ => out.push(row),
            }
        }
        Ok(out)
    }

    /// A page of a group's records in chain order (or newest first), after a position.
    ///
    /// Pages are keyed by position, not offset: a group's records only ever arrive above its
    /// synced block, so a page boundary stays put while new records are written. Only the
    /// conditions asked for are in the statement, so each can use its index; a time range is
    /// first turned into the blocks whose timestamps fall in it (timestamps grow with blocks).
    pub async fn records(
        &self,
        group_id: &str,
        f: &RecordFilter,
    ) -> Result<Vec<RecordRow>, StoreError> {
        let mut lo = f.from_block;
        let mut hi = f.to_block;
        if let Some(t) = f.from_time {
            match self.block_at_time(group_id, t, true).await? {
                Some(b) => lo = Some(lo.map_or(b, |l| l.max(b))),
                None => return Ok(Vec::new()),
            }
        }
        if let Some(t) = f.to_time {
            match self.block_at_time(group_id, t, false).await? {
                Some(b) => hi = Some(hi.map_or(b, |h| h.min(b))),
                None => return Ok(Vec::new()),
            }
        }
        enum Arg<'a> {
            Int(i64),
            Text(&'a str),
        }
        let mut sql = String::from("SELECT * FROM records WHERE group_id = $1");
        let mut args = vec![Arg::Text(group_id)];
        // Appends ` AND <text>$n` binding `arg` as the next parameter.
        macro_rules! and {
            ($text:expr, $arg:expr) => {{
                args.push($arg);
                sql.push_str(&format!(" AND {}${}", $text, args.len()));
            }};
        }
        if let Some(k) = &f.kind {
            and!("kind = ", Arg::Text(k));
        }
        if let Some(c) = &f.category {
            and!("category = ", Arg::Text(c));
        }
        if let Some(l) = lo {
            and!("block_number >= ", Arg::Int(l));
        }
        if let Some(h) = hi {
            and!("block_number <= ", Arg::Int(h));
        }
        let order = if f.descending { "DESC" } else { "ASC" };
        if let Some((block, log)) = f.after {
            // The plain bound on block_number lets the planner start the index scan there.
            let (cmp, bound) = if f.descending {
                ("<", "block_number <= ")
            } else {
                (">", "block_number >= ")
            };
            and!(bound, Arg::Int(block));
            let n = args.len();
            and!(
                format!("(block_number, log_index) {cmp} (${n}, "),
                Arg::Int(log)
            );
            sql.push(')');
        }
        sql.push_str(&format!(
            " ORDER BY block_number {order}, log_index {order} LIMIT {}",
            f.limit.unwrap_or(i64::MAX)
        ));
        let mut query = sqlx::query_as(&sql);
        for a in args {
            query = match a {
                Arg::Int(v) => query.bind(v),
                Arg::Text(v) => query.bind(v),
            };
        }
        query.fetch_all(&self.pool).await.ctx("reading records")
    }

    /// The first block of a group's records at or after `time` (`from`), or the last at or
    /// before it; `None` if there is none.
    async fn block_at_time(
        &self,
        group_id: &str,
        time: i64,
        from: bool,
    ) -> Result<Option<i64>, StoreError> {
        let sql = if from {
            "SELECT block_number FROM records WHERE group_id = $1 AND block_timestamp >= $2 \
             ORDER BY block_timestamp, block_number LIMIT 1"
        } else {
            "SELECT block_number FROM records WHERE group_id = $1 AND block_timestamp <= $2 \
             ORDER BY block_timestamp DESC, block_number DESC LIMIT 1"
        };
        sqlx::query_scalar(sql)
            .bind(group_id)
            .bind(time)
            .fetch_optional(&self.pool)
            .await
            .ctx("reading records")
    }

    pub async fn count_records(&self, group_id: &str) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT COUNT(*) AS n FROM records WHERE group_id = $1")
            .bind(group_id)
            .fetch_one(&self.pool)
            .await
            .ctx("counting records")
    }

    /// A group's divergences, optionally of one status, oldest first.
    pub async fn divergences(
        &self,
        group_id: &str,
        status: Option<DivergenceStatus>,
    ) -> Result<Vec<Divergence>, StoreError> {
        let filter = DivergenceFilter {
            status,
            ..DivergenceFilter::default()
        };
        self.divergence_page(group_id, &filter).await
    }

    /// A page of a group's divergences by number (oldest first unless `descending`). As for
    /// records, only the conditions asked for are in the statement, so the planner walks the
    /// primary key in order rather than sorting every divergence of the group.
    pub async fn divergence_page(
        &self,
        group_id: &str,
        f: &DivergenceFilter,
    ) -> Result<Vec<Divergence>, StoreError> {
        let mut sql = String::from("SELECT * FROM divergences WHERE group_id = $1");
        let mut texts: Vec<&str> = vec![group_id];
        for (column, value) in [
            ("status", f.status.map(|s| s.as_str())),
            ("severity", f.severity.as_deref()),
            ("rule", f.rule.as_deref()),
        ] {
            if let Some(v) = value {
                texts.push(v);
                sql.push_str(&format!(" AND {column} = ${}", texts.len()));
            }
        }
        let order = if f.descending { "DESC" } else { "ASC" };
        if f.after.is_some() {
            let cmp = if f.descending { "<" } else { ">" };
            sql.push_str(&format!(" AND n {cmp} ${}", texts.len() + 1));
        }
        sql.push_str(&format!(
            " ORDER BY n {order} LIMIT {}",
            f.limit.unwrap_or(i64::MAX)
        ));
        let mut query = sqlx::query_as(&sql);
        for t in texts {
            query = query.bind(t);
        }
        if let Some(after) = f.after {
            query = query.bind(after);
        }
        query.fetch_all(&self.pool).await.ctx("reading divergences")
    }

    /// One divergence of a group.
    pub async fn divergence(
        &self,
        group_id: &str,
        n: i64,
    ) -> Result<Option<Divergence>, StoreError> {
        sqlx::query_as("SELECT * FROM divergences WHERE group_id = $1 AND n = $2")
            .bind(group_id)
            .bind(n)
            .fetch_optional(&self.pool)
            .await
            .ctx("reading divergence")
    }

    /// How many divergences are open (acknowledged or not), by severity, over every group.
    pub async fn open_divergence_counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        sqlx::query_as(
            "SELECT severity, COUNT(*) AS n FROM divergences \
             WHERE status IN ('open', 'acknowledged') GROUP BY severity ORDER BY severity",
        )
        .fetch_all(&self.pool)
        .await
        .ctx("counting divergences")
    }

    /// Acknowledges an open divergence with a note (again: replaces the note). Numbers can be
    /// reused after a reorg removed a divergence, so a caller that names the block hash the
    /// divergence opened at gets a conflict rather than acknowledging a different one.
    pub async fn acknowledge_divergence(
        &self,
        group_id: &str,
        n: i64,
        note: &str,
        opened_block_hash: Option<&str>,
    ) -> Result<Divergence, StoreError> {
        let mut tx = self.pool.begin().await.ctx("acknowledging divergence")?;
        // A write first (the lock, and a batch folded before this is folded again).
        super::groups::lock_group_row(&mut tx, group_id).await?;
        let current: Divergence =
            sqlx::query_as("SELECT * FROM divergences WHERE group_id = $1 AND n = $2")
                .bind(group_id)
                .bind(n)
                .fetch_optional(&mut *tx)
                .await
                .ctx("acknowledging divergence")?
                .ok_or_else(|| {
                    StoreError::NotFound(format!("divergence {n} of group {group_id}"))
                })?;
        if let Some(expected) = opened_block_hash {
            if !expected.eq_ignore_ascii_case(&current.opened_block_hash) {
                return Err(StoreError::Conflict(format!(
                    "divergence {n} of group {group_id} now opened at block {} ({}), not at {expected}: \
                     the one you saw was removed by a reorg",
                    current.opened_block, current.opened_block_hash
                )));
            }
        }
        if current.status == DivergenceStatus::Resolved.as_str() {
            return Err(StoreError::Conflict(format!(
                "divergence {n} of group {group_id} is already resolved (block {})",
                current.resolved_block.unwrap_or_default()
            )));
        }
        sqlx::query(
            "UPDATE divergences SET status = 'acknowledged', ack_note = $3, acked_at = $4 \
             WHERE group_id = $1 AND n = $2",
        )
        .bind(group_id)
        .bind(n)
        .bind(note)
        .bind(now())
        .execute(&mut *tx)
        .await
        .ctx("acknowledging divergence")?;
        let updated = sqlx::query_as("SELECT * FROM divergences WHERE group_id = $1 AND n = $2")
            .bind(group_id)
            .bind(n)
            .fetch_one(&mut *tx)
            .await
            .ctx("acknowledging divergence")?;
        tx.commit().await.ctx("acknowledging divergence")?;
        Ok(updated)
    }
}

impl Store {
    /// The blocks of a group's newest `limit` records of one kind, newest first: a range scan
    /// of the `(group_id, kind, block_number)` index however many records the group holds.
    pub async fn latest_blocks_of_kind(
        &self,
        group_id: &str,
        kind: &str,
        limit: i64,
    ) -> Result<Vec<i64>, StoreError> {
        sqlx::query_scalar(
            "SELECT block_number FROM records WHERE group_id = $1 AND kind = $2 \
             ORDER BY block_number DESC LIMIT $3",
        )
        .bind(group_id)
        .bind(kind)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .ctx("reading latest records")
    }
}
