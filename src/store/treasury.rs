//! The treasuries' movements of value and their balances at the balance check's points: written
//! with each batch, removed above a fork with everything else, and read back when a fold starts
//! (the recent flows for the rolling limits, the newest balances for the next check). No policy
//! here: what a flow or a balance means is the fold's business.

use sqlx::{Any, AnyConnection, Transaction};

use super::{Backend, Ctx, StoreError};

/// One movement of value into (`in`) or out of (`out`) a treasury.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct FlowRow {
    pub group_id: String,
    pub treasury: String,
    /// `native` or the token's address.
    pub asset: String,
    /// `in` or `out`.
    pub direction: String,
    pub block_number: i64,
    pub block_timestamp: Option<i64>,
    pub tx_hash: String,
    /// Where in the transaction (a call's path, a log index, a trace path).
    pub locator: String,
    /// The recipient of an outflow, the sender of an inflow.
    pub counterparty: String,
    /// A decimal `uint256`.
    pub amount: String,
}

/// A treasury's balance of one asset at one block.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct BalanceRow {
    pub group_id: String,
    pub treasury: String,
    pub asset: String,
    pub block_number: i64,
    /// A decimal `uint256`.
    pub balance: String,
}

/// Seconds of block time the rolling windows look back (30 days, and a day to spare).
pub const FLOW_WINDOW_SECS: i64 = 31 * 86_400;

pub(super) async fn insert_flows(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
    chain: &str,
    rows: &[FlowRow],
) -> Result<(), StoreError> {
    const COLUMNS: &str = "group_id, chain, treasury, asset, direction, block_number, \
                           block_timestamp, tx_hash, locator, counterparty, amount";
    let sql = match backend {
        Backend::Sqlite => format!(
            "WITH r AS MATERIALIZED (SELECT jsonb(value) AS b FROM json_each($1)) \
             INSERT INTO treasury_flows ({COLUMNS}) SELECT b->>0, b->>1, b->>2, b->>3, b->>4, \
             b->>5, b->>6, b->>7, b->>8, b->>9, b->>10 FROM r"
        ),
        Backend::Postgres => format!(
            "INSERT INTO treasury_flows ({COLUMNS}) SELECT e->>0, e->>1, e->>2, e->>3, e->>4, \
             (e->>5)::bigint, (e->>6)::bigint, e->>7, e->>8, e->>9, e->>10 \
             FROM jsonb_array_elements($1::jsonb) AS e"
        ),
    };
    for chunk in rows.chunks(backend.rows_per_statement()) {
        let packed: Vec<serde_json::Value> = chunk
            .iter()
            .map(|f| {
                serde_json::json!([
                    f.group_id,
                    chain,
                    f.treasury,
                    f.asset,
                    f.direction,
                    f.block_number,
                    f.block_timestamp,
                    f.tx_hash,
                    f.locator,
                    f.counterparty,
                    f.amount
                ])
            })
            .collect();
        sqlx::query(&sql)
            .bind(serde_json::Value::Array(packed).to_string())
            .execute(&mut **tx)
            .await
            .ctx("storing treasury flows")?;
    }
    Ok(())
}

pub(super) async fn insert_balances(
    tx: &mut Transaction<'static, Any>,
    chain: &str,
    rows: &[BalanceRow],
) -> Result<(), StoreError> {
    for b in rows {
        sqlx::query(
            "INSERT INTO treasury_balances (group_id, chain, treasury, asset, block_number, \
             balance) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&b.group_id)
        .bind(chain)
        .bind(&b.treasury)
        .bind(&b.asset)
        .bind(b.block_number)
        .bind(&b.balance)
        .execute(&mut **tx)
        .await
        .ctx("storing treasury balances")?;
    }
    Ok(())
}

/// A group's newest balance of each (treasury, asset), and its flows since the oldest of them
/// or within [`FLOW_WINDOW_SECS`] of its newest flow, whichever reaches further back.
pub(super) async fn load(
    conn: &mut AnyConnection,
    group_id: &str,
) -> Result<(Vec<FlowRow>, Vec<BalanceRow>), StoreError> {
    let ctx = "loading treasury flows";
    let balances: Vec<BalanceRow> = sqlx::query_as(
        "SELECT b.group_id, b.treasury, b.asset, b.block_number, b.balance \
         FROM treasury_balances b WHERE b.group_id = $1 AND b.block_number = \
         (SELECT MAX(c.block_number) FROM treasury_balances c WHERE c.group_id = b.group_id \
          AND c.treasury = b.treasury AND c.asset = b.asset) ORDER BY b.treasury, b.asset",
    )
    .bind(group_id)
    .fetch_all(&mut *conn)
    .await
    .ctx(ctx)?;
    let since_check = balances.iter().map(|b| b.block_number).min();
    let newest: Option<i64> =
        sqlx::query_scalar("SELECT MAX(block_timestamp) FROM treasury_flows WHERE group_id = $1")
            .bind(group_id)
            .fetch_one(&mut *conn)
            .await
            .ctx(ctx)?;
    let since_time = newest.map(|t| t - FLOW_WINDOW_SECS).unwrap_or(i64::MAX);
    let flows = sqlx::query_as(
        "SELECT group_id, treasury, asset, direction, block_number, block_timestamp, tx_hash, \
         locator, counterparty, amount FROM treasury_flows WHERE group_id = $1 \
         AND (block_timestamp >= $2 OR block_number > $3) \
         ORDER BY block_number, tx_hash, locator, asset, direction",
    )
    .bind(group_id)
    .bind(since_time)
    .bind(since_check.unwrap_or(i64::MAX))
    .fetch_all(&mut *conn)
    .await
    .ctx(ctx)?;
    Ok((flows, balances))
}

impl super::Store {
    /// The first and the last block the balance check read on `chain`, if it read any: the
    /// check begins later than the group when the node no longer held the older state.
    pub async fn balance_check_span(&self, chain: &str) -> Result<Option<(i64, i64)>, StoreError> {
        let span: (Option<i64>, Option<i64>) = sqlx::query_as(
            "SELECT MIN(block_number), MAX(block_number) FROM treasury_balances WHERE chain = $1",
        )
        .bind(chain)
        .fetch_one(&self.pool)
        .await
        .ctx("reading the balance check's span")?;
        Ok(span.0.zip(span.1))
    }
}
