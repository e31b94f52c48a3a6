//! The treasury's read side: which assets a group's treasuries touched, each one's newest
//! checked balance and the flows since, totals over a window of block time, the largest
//! outflows with the decision record of their transaction, a balance history by block, and
//! the flows themselves for export (a page with a cursor, or every row as a stream).
//!
//! Invariant: every query is indexed and bounded — by a `LIMIT`, by the newest balance check,
//! or by a window of block time — except the export stream, which reads what it is asked for
//! row by row. Amounts are decimal `uint256` text, so they are summed exactly in SQL as nine
//! 9-digit limbs (an `i64` holds the sum of a billion limbs), and put back together here. No
//! policy: what the sums mean is the read side's business.

use alloy::primitives::U256;
use futures::stream::BoxStream;
use futures::StreamExt;
use sqlx::Row;

use super::{Backend, Ctx, Store, StoreError};

/// Digits in a limb, and limbs in an amount (81 digits ≥ the 78 of `uint256::MAX`).
const LIMB_DIGITS: usize = 9;
const LIMBS: usize = 9;

/// The decision records a flow's transaction may carry, most specific first.
const DECISION_KINDS: [&str; 6] = [
    "governor.proposal_executed",
    "timelock.call_executed",
    "safe.execution_success",
    "safe.execution_failure",
    "safe.module_execution_success",
    "safe.module_execution_failure",
];

/// Inflows and outflows of one asset, as decimal `uint256` text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AssetSums {
    pub inflow: String,
    pub outflow: String,
}

/// A balance the balance check read.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct BalancePoint {
    pub block_number: i64,
    pub balance: String,
}

/// The sum of one (treasury, asset, direction) over a window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowTotal {
    pub treasury: String,
    pub asset: String,
    /// `in` or `out`.
    pub direction: String,
    pub total: String,
    pub count: i64,
}

/// One movement of value with the decision record of its transaction, if it has one.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct FlowExportRow {
    pub treasury: String,
    pub asset: String,
    pub direction: String,
    pub block_number: i64,
    pub block_timestamp: Option<i64>,
    pub tx_hash: String,
    pub locator: String,
    pub counterparty: String,
    pub amount: String,
    /// `kind address id` of the decision record (a Governor's executed proposal, a timelock
    /// call, a Safe or module execution) in the same transaction, most specific first.
    pub decision: Option<String>,
}

/// The same, among the largest outflows.
pub type LargeOutflow = FlowExportRow;

/// Which flows an export or page covers: blocks and block times, both inclusive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlowRange {
    pub from_block: Option<i64>,
    pub to_block: Option<i64>,
    pub from_time: Option<i64>,
    pub to_time: Option<i64>,
    /// After this position: (block, tx hash, locator, asset, direction, treasury).
    pub after: Option<(i64, String, String, String, String, String)>,
    pub limit: Option<i64>,
}

/// The columns of a flow export row, `f` being `treasury_flows`.
fn export_columns(backend: Backend) -> String {
    let id = match backend {
        Backend::Sqlite => {
            "COALESCE(r.fields ->> '$.proposal_id', r.fields ->> '$.safe_tx_hash', \
             r.fields ->> '$.module', r.fields ->> '$.id', '')"
        }
        Backend::Postgres => {
            "COALESCE(r.fields::jsonb ->> 'proposal_id', r.fields::jsonb ->> 'safe_tx_hash', \
             r.fields::jsonb ->> 'module', r.fields::jsonb ->> 'id', '')"
        }
    };
    let kinds: Vec<String> = DECISION_KINDS.iter().map(|k| format!("'{k}'")).collect();
    let rank: String = DECISION_KINDS
        .iter()
        .enumerate()
        .map(|(i, k)| format!(" WHEN '{k}' THEN {i}"))
        .collect();
    format!(
        "f.treasury, f.asset, f.direction, f.block_number, f.block_timestamp, f.tx_hash, \
         f.locator, f.counterparty, f.amount, \
         (SELECT r.kind || ' ' || r.address || ' ' || {id} FROM records r \
          WHERE r.group_id = f.group_id AND r.block_number = f.block_number \
          AND r.tx_hash = f.tx_hash AND r.kind IN ({kinds}) \
          ORDER BY CASE r.kind{rank} END, r.log_index LIMIT 1) AS decision",
        kinds = kinds.join(", ")
    )
}

/// `SUM` of `column` (decimal text) as [`LIMBS`] integer columns `s0..s8`, most significant
/// first.
fn limb_sums(backend: Backend, column: &str) -> String {
    let width = LIMB_DIGITS * LIMBS;
    let padded = match backend {
        Backend::Sqlite => format!("substr('{}' || {column}, -{width})", "0".repeat(width)),
        Backend::Postgres => format!("lpad({column}, {width}, '0')"),
    };
    (0..LIMBS)
        .map(|i| {
            format!(
                "CAST(SUM(CAST(substr({padded}, {}, {LIMB_DIGITS}) AS BIGINT)) AS BIGINT) AS s{i}",
                i * LIMB_DIGITS + 1
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The amount the limb columns `s0..s8` of `row` add up to (a limb's sum may exceed a limb:
/// Horner's rule carries it).
fn limb_total(row: &sqlx::any::AnyRow) -> Result<String, sqlx::Error> {
    let base = U256::from(10u64.pow(LIMB_DIGITS as u32));
    let mut total = U256::ZERO;
    for i in 0..LIMBS {
        let limb: Option<i64> = row.try_get(format!("s{i}").as_str())?;
        total = total
            .saturating_mul(base)
            .saturating_add(U256::from(limb.unwrap_or(0).max(0) as u64));
    }
    Ok(total.to_string())
}

impl Store {
    /// The (treasury, asset) pairs of a group's flows, in order, at most `max`: one indexed
    /// step each, so a treasury with many flows costs no more than one with few.
    pub async fn treasury_assets(
        &self,
        group_id: &str,
        max: usize,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let mut out: Vec<(String, String)> = Vec::new();
        while out.len() < max {
            let (t, a) = out
                .last()
                .cloned()
                .unwrap_or_else(|| (String::new(), String::new()));
            // Two seeks, each an index range: the next asset of the same treasury, else the
            // first of the next treasury (one row-value comparison would scan instead).
            let mut next: Option<(String, String)> = None;
            for sql in [
                "SELECT treasury, asset FROM treasury_flows WHERE group_id = $1 \
                 AND treasury = $2 AND asset > $3 ORDER BY asset LIMIT 1",
                "SELECT treasury, asset FROM treasury_flows WHERE group_id = $1 \
                 AND treasury > $2 AND $3 = $3 ORDER BY treasury, asset LIMIT 1",
            ] {
                next = sqlx::query_as(sql)
                    .bind(group_id)
                    .bind(&t)
                    .bind(&a)
                    .fetch_optional(&self.pool)
                    .await
                    .ctx("reading the treasury's assets")?;
                if next.is_some() {
                    break;
                }
            }
            match next {
                Some(n) => out.push(n),
                None => break,
            }
        }
        Ok(out)
    }

    /// The newest block time a group's records or flows carry.
    pub async fn newest_block_time(&self, group_id: &str) -> Result<Option<i64>, StoreError> {
        sqlx::query_scalar(
            "SELECT MAX(t) FROM (SELECT MAX(block_timestamp) AS t FROM records \
             WHERE group_id = $1 UNION ALL SELECT MAX(block_timestamp) AS t \
             FROM treasury_flows WHERE group_id = $1) x",
        )
        .bind(group_id)
        .fetch_one(&self.pool)
        .await
        .ctx("reading the newest block time")
    }

    /// The newest balance the balance check read of (treasury, asset).
    pub async fn newest_balance(
        &self,
        group_id: &str,
        treasury: &str,
        asset: &str,
    ) -> Result<Option<BalancePoint>, StoreError> {
        sqlx::query_as(
            "SELECT block_number, balance FROM treasury_balances WHERE group_id = $1 \
             AND treasury = $2 AND asset = $3 ORDER BY block_number DESC LIMIT 1",
        )
        .bind(group_id)
        .bind(treasury)
        .bind(asset)
        .fetch_optional(&self.pool)
        .await
        .ctx("reading the newest balance")
    }

    /// The inflows and outflows of (treasury, asset) above `after_block`.
    pub async fn flow_sums_after(
        &self,
        group_id: &str,
        treasury: &str,
        asset: &str,
        after_block: i64,
    ) -> Result<AssetSums, StoreError> {
        let sql = format!(
            "SELECT direction, {} FROM treasury_flows WHERE group_id = $1 AND treasury = $2 \
             AND asset = $3 AND block_number > $4 GROUP BY direction",
            limb_sums(self.backend, "amount")
        );
        let rows = sqlx::query(&sql)
            .bind(group_id)
            .bind(treasury)
            .bind(asset)
            .bind(after_block)
            .fetch_all(&self.pool)
            .await
            .ctx("summing the flows since the balance check")?;
        let mut sums = AssetSums {
            inflow: "0".into(),
            outflow: "0".into(),
        };
        for row in rows {
            let direction: String = row.try_get("direction").ctx("reading a sum")?;
            let total = limb_total(&row).ctx("reading a sum")?;
            match direction.as_str() {
                "in" => sums.inflow = total,
                _ => sums.outflow = total,
            }
        }
        Ok(sums)
    }

    /// The sums of a group's flows by (treasury, asset, direction) with block time in
    /// `from_time..=to_time`.
    pub async fn window_totals(
        &self,
        group_id: &str,
        from_time: i64,
        to_time: i64,
    ) -> Result<Vec<WindowTotal>, StoreError> {
        let sql = format!(
            "SELECT treasury, asset, direction, COUNT(*) AS n, {} FROM treasury_flows \
             WHERE group_id = $1 AND block_timestamp >= $2 AND block_timestamp <= $3 \
             GROUP BY treasury, asset, direction ORDER BY treasury, asset, direction",
            limb_sums(self.backend, "amount")
        );
        let rows = sqlx::query(&sql)
            .bind(group_id)
            .bind(from_time)
            .bind(to_time)
            .fetch_all(&self.pool)
            .await
            .ctx("summing the window's flows")?;
        rows.iter()
            .map(|row| {
                Ok(WindowTotal {
                    treasury: row.try_get("treasury")?,
                    asset: row.try_get("asset")?,
                    direction: row.try_get("direction")?,
                    count: row.try_get("n")?,
                    total: limb_total(row)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .ctx("reading the window's sums")
    }

    /// The `limit` largest outflows (by amount, any asset) with block time in
    /// `from_time..=to_time`, largest first, each with its decision.
    pub async fn largest_outflows(
        &self,
        group_id: &str,
        from_time: i64,
        to_time: i64,
        limit: i64,
    ) -> Result<Vec<LargeOutflow>, StoreError> {
        // Decimal text without leading zeros: longer is larger, and equal lengths compare
        // as text.
        // The decision of a flow is looked up for the few flows kept, not for every flow of
        // the window: PostgreSQL computes the select list below the sort, so the lookup goes
        // outside the `LIMIT`.
        const ORDER: &str = "length(f.amount) DESC, f.amount DESC, f.block_number DESC, \
                             f.tx_hash, f.locator";
        let sql = format!(
            "SELECT {} FROM (SELECT * FROM treasury_flows f WHERE f.group_id = $1 \
             AND f.direction = 'out' AND f.block_timestamp >= $2 AND f.block_timestamp <= $3 \
             ORDER BY {ORDER} LIMIT $4) f ORDER BY {ORDER}",
            export_columns(self.backend)
        );
        sqlx::query_as(&sql)
            .bind(group_id)
            .bind(from_time)
            .bind(to_time)
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .ctx("reading the largest outflows")
    }

    /// The net movement of (treasury, asset) in each of its `limit` newest blocks with flows,
    /// newest first: (block, block time, inflow, outflow). The oldest of those blocks is found
    /// first, once, so the sums read one index range (an `IN (…)` of the blocks was planned by
    /// PostgreSQL as a pass over every flow of the asset: seconds at a million flows).
    pub async fn flow_history(
        &self,
        group_id: &str,
        treasury: &str,
        asset: &str,
        limit: i64,
    ) -> Result<Vec<(i64, Option<i64>, AssetSums)>, StoreError> {
        let sql = format!(
            "SELECT block_number, MAX(block_timestamp) AS t, direction, {} FROM treasury_flows \
             WHERE group_id = $1 AND treasury = $2 AND asset = $3 AND block_number >= \
             (SELECT MIN(b) FROM (SELECT DISTINCT block_number AS b FROM treasury_flows \
              WHERE group_id = $1 AND treasury = $2 AND asset = $3 \
              ORDER BY block_number DESC LIMIT $4) newest) \
             GROUP BY block_number, direction ORDER BY block_number DESC",
            limb_sums(self.backend, "amount")
        );
        let rows = sqlx::query(&sql)
            .bind(group_id)
            .bind(treasury)
            .bind(asset)
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .ctx("reading the balance history")?;
        let mut out: Vec<(i64, Option<i64>, AssetSums)> = Vec::new();
        for row in &rows {
            let block: i64 = row.try_get("block_number").ctx("reading the history")?;
            let time: Option<i64> = row.try_get("t").ctx("reading the history")?;
            let direction: String = row.try_get("direction").ctx("reading the history")?;
            let total = limb_total(row).ctx("reading the history")?;
            if out.last().map(|(b, ..)| *b) != Some(block) {
                out.push((
                    block,
                    time,
                    AssetSums {
                        inflow: "0".into(),
                        outflow: "0".into(),
                    },
                ));
            }
            let sums = &mut out.last_mut().expect("pushed above").2;
            match direction.as_str() {
                "in" => sums.inflow = total,
                _ => sums.outflow = total,
            }
        }
        Ok(out)
    }

    /// A page of a group's flows in chain order, after `range.after`, at most `range.limit`.
    pub async fn flows_page(
        &self,
        group_id: &str,
        range: &FlowRange,
    ) -> Result<Vec<FlowExportRow>, StoreError> {
        let (sql, after) = flows_sql(self.backend, range);
        let mut q = sqlx::query_as(&sql)
            .bind(group_id.to_string())
            .bind(range.from_block.unwrap_or(i64::MIN))
            .bind(range.to_block.unwrap_or(i64::MAX))
            .bind(range.from_time.unwrap_or(i64::MIN))
            .bind(range.to_time.unwrap_or(i64::MAX));
        if let Some(a) = after {
            q = q
                .bind(a.0)
                .bind(a.1)
                .bind(a.2)
                .bind(a.3)
                .bind(a.4)
                .bind(a.5);
        }
        q.fetch_all(&self.pool).await.ctx("reading flows")
    }

    /// Every flow of a group in `range` in chain order, row by row as the database yields
    /// them (no page, nothing held but the row in hand).
    pub fn flows_stream(
        &self,
        group_id: &str,
        range: &FlowRange,
    ) -> BoxStream<'static, Result<FlowExportRow, StoreError>> {
        let range = FlowRange {
            after: None,
            limit: None,
            ..range.clone()
        };
        let (sql, _) = flows_sql(self.backend, &range);
        let pool = self.pool.clone();
        let group_id = group_id.to_string();
        async_stream::try_stream! {
            let mut rows = sqlx::query_as::<_, FlowExportRow>(&sql)
                .bind(group_id)
                .bind(range.from_block.unwrap_or(i64::MIN))
                .bind(range.to_block.unwrap_or(i64::MAX))
                .bind(range.from_time.unwrap_or(i64::MIN))
                .bind(range.to_time.unwrap_or(i64::MAX))
                .fetch(&pool);
            while let Some(row) = rows.next().await {
                yield row.ctx("streaming flows")?;
            }
        }
        .boxed()
    }
}

type After = (i64, String, String, String, String, String);

/// The flows query of `range` (parameters `$1` group, `$2..$5` bounds, `$6..$11` the
/// position after which the page starts, if any).
fn flows_sql(backend: Backend, range: &FlowRange) -> (String, Option<After>) {
    let time = if range.from_time.is_some() || range.to_time.is_some() {
        " AND f.block_timestamp >= $4 AND f.block_timestamp <= $5"
    } else {
        " AND ($4 = $4 AND $5 = $5)"
    };
    let after = if range.after.is_some() {
        // The plain bound lets the index seek; the row value says where in the block.
        " AND f.block_number >= $6 AND (f.block_number, f.tx_hash, f.locator, f.asset, \
         f.direction, f.treasury) > ($6, $7, $8, $9, $10, $11)"
    } else {
        ""
    };
    let limit = range
        .limit
        .map(|n| format!(" LIMIT {n}"))
        .unwrap_or_default();
    (
        format!(
            "SELECT {} FROM treasury_flows f WHERE f.group_id = $1 AND f.block_number >= $2 \
             AND f.block_number <= $3{time}{after} ORDER BY f.block_number, f.tx_hash, \
             f.locator, f.asset, f.direction, f.treasury{limit}",
            export_columns(backend)
        ),
        range.after.clone(),
    )
}
