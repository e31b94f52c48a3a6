//! Covenant statements as stored: one row per covenant and period, with the chain whose log
//! holds it, its canonical body (the bytes of its leaf), the leaf's index and its signed note;
//! and the reads a statement is built from, inside the seal's transaction.

use std::collections::HashMap;

use super::{now, Ctx, Divergence, SealGroup, SealTx, Store, StoreError};

/// A statement as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct StatementRow {
    pub covenant_id: String,
    pub period: i64,
    pub chain: String,
    pub from_block: i64,
    pub to_block: i64,
    pub version: i64,
    /// The canonical body: exactly the bytes of its log leaf.
    pub body: String,
    pub leaf_index: i64,
    /// The body signed with the log's key (C2SP signed note); absent without a key.
    pub note: Option<String>,
    pub created_at: String,
}

/// A statement to store, in the seal's transaction that appends its leaf.
#[derive(Debug, Clone)]
pub struct NewStatement {
    pub covenant_id: String,
    pub period: i64,
    pub from_block: i64,
    pub to_block: i64,
    pub version: i64,
    pub body: String,
    pub leaf_index: u64,
    pub note: Option<String>,
}

impl SealTx {
    /// The newest period stated of each covenant whose statements are in this chain's log.
    pub async fn stated_periods(&mut self) -> Result<HashMap<String, i64>, StoreError> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT covenant_id, MAX(period) FROM covenant_statements WHERE chain = $1 \
             GROUP BY covenant_id",
        )
        .bind(&self.chain)
        .fetch_all(&mut *self.tx)
        .await
        .ctx("reading stated periods")?;
        Ok(rows.into_iter().collect())
    }

    /// The covenant findings (`covenant.breach`, `covenant.at_risk`) of `groups` about any
    /// version of `covenant_id` that were open at some block of `from..=to`: opened at or
    /// before `to` and not resolved at or before `from`.
    pub async fn covenant_findings(
        &mut self,
        groups: &[String],
        covenant_id: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<Divergence>, StoreError> {
        if groups.is_empty() {
            return Ok(Vec::new());
        }
        let list: Vec<String> = (0..groups.len()).map(|i| format!("${}", i + 4)).collect();
        let sql = format!(
            "SELECT * FROM divergences WHERE rule IN ('covenant.breach', 'covenant.at_risk') \
             AND item LIKE $1 AND opened_block <= $2 \
             AND (resolved_block IS NULL OR resolved_block > $3) \
             AND group_id IN ({}) ORDER BY group_id, n",
            list.join(", ")
        );
        let mut q = sqlx::query_as(&sql)
            .bind(format!("{covenant_id}@%"))
            .bind(to)
            .bind(from);
        for g in groups {
            q = q.bind(g);
        }
        q.fetch_all(&mut *self.tx)
            .await
            .ctx("reading covenant findings")
    }

    /// Stores a statement whose leaf this transaction appends.
    pub async fn insert_statement(&mut self, s: &NewStatement) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO covenant_statements (covenant_id, period, chain, from_block, to_block, \
             version, body, leaf_index, note, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&s.covenant_id)
        .bind(s.period)
        .bind(&self.chain)
        .bind(s.from_block)
        .bind(s.to_block)
        .bind(s.version)
        .bind(&s.body)
        .bind(s.leaf_index as i64)
        .bind(&s.note)
        .bind(now())
        .execute(&mut *self.tx)
        .await
        .ctx("storing statement")?;
        Ok(())
    }
}

impl Store {
    /// The groups following `chain`, with how far each is indexed and sealed (as the sealer
    /// sees them, outside its transaction).
    pub async fn seal_groups(&self, chain: &str) -> Result<Vec<SealGroup>, StoreError> {
        sqlx::query_as(
            "SELECT id, start_block, synced_to, COALESCE(sealed_to, start_block - 1) AS sealed_to \
             FROM groups WHERE chain = $1 ORDER BY id",
        )
        .bind(chain)
        .fetch_all(&self.pool)
        .await
        .ctx("reading groups")
    }

    /// The newest period stated of each covenant whose statements are in `chain`'s log.
    pub async fn stated_periods(&self, chain: &str) -> Result<HashMap<String, i64>, StoreError> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT covenant_id, MAX(period) FROM covenant_statements WHERE chain = $1 \
             GROUP BY covenant_id",
        )
        .bind(chain)
        .fetch_all(&self.pool)
        .await
        .ctx("reading stated periods")?;
        Ok(rows.into_iter().collect())
    }

    /// A covenant's statements, oldest period first.
    pub async fn statements(&self, covenant_id: &str) -> Result<Vec<StatementRow>, StoreError> {
        sqlx::query_as("SELECT * FROM covenant_statements WHERE covenant_id = $1 ORDER BY period")
            .bind(covenant_id)
            .fetch_all(&self.pool)
            .await
            .ctx("reading statements")
    }

    /// A covenant's statement of one period.
    pub async fn statement(
        &self,
        covenant_id: &str,
        period: i64,
    ) -> Result<Option<StatementRow>, StoreError> {
        sqlx::query_as("SELECT * FROM covenant_statements WHERE covenant_id = $1 AND period = $2")
            .bind(covenant_id)
            .bind(period)
            .fetch_optional(&self.pool)
            .await
            .ctx("reading statement")
    }

    /// Every statement in `chain`'s log, by leaf index.
    pub async fn chain_statements(&self, chain: &str) -> Result<Vec<StatementRow>, StoreError> {
        sqlx::query_as("SELECT * FROM covenant_statements WHERE chain = $1 ORDER BY leaf_index")
            .bind(chain)
            .fetch_all(&self.pool)
            .await
            .ctx("reading statements")
    }
}
