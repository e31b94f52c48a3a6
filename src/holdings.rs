//! The treasury at a glance, and its accounting export — read side only, from the flows and
//! balance checks each batch stores: per treasury, what it holds of each asset it touched (the
//! newest balance check plus the flows since, or the flows alone where no check ran), what came
//! in and went out over the last 30 days of block time, the largest outflows with the decision
//! behind each, and a short balance history for a chart; and every movement of value as the
//! rows an accountant imports (CSV, JSON pages).
//!
//! Invariant: amounts are exact — `uint256` base units as decimal text, and the same in token
//! units from the token's stored decimals (never a float). Fiat values are out of scope: there
//! is no price source. Every query here is bounded (see [`crate::store`]'s treasury reads), so
//! the status page stays fast whatever the group holds.

use std::collections::{BTreeMap, HashMap};

use alloy::primitives::U256;
use futures::stream::BoxStream;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::query::ParamError;
use crate::store::{FlowExportRow, FlowRange, GroupRow, Store, StoreError, TokenRow};

/// The window of block time the totals and the largest outflows cover.
pub const WINDOW_DAYS: i64 = 30;
/// Assets shown per group (native first, then tokens by address); more are left out.
pub const MAX_ASSETS: usize = 20;
/// Largest outflows shown.
pub const LARGEST_OUTFLOWS: i64 = 10;
/// Blocks with flows a balance history goes back (the chart has one more point: now).
pub const HISTORY_BLOCKS: i64 = 60;
/// The most rows a JSON page of flows holds, and the default.
pub const MAX_FLOWS_PAGE: i64 = 1000;
pub const DEFAULT_FLOWS_PAGE: i64 = 100;
/// The native currency's symbol and decimals.
pub const NATIVE_SYMBOL: &str = "ETH";
pub const NATIVE_DECIMALS: u8 = 18;

/// An amount: base units, and the same in token units with the symbol.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Amount {
    /// Base units (wei, or the token's smallest unit), a decimal `uint256`.
    pub raw: String,
    /// In token units, exact (`98.5`); the raw amount when the token's decimals are unknown.
    pub units: String,
    /// `units` and the symbol (`98.5 ETH`).
    pub formatted: String,
}

/// What a token says of itself, with fallbacks for what it does not say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AssetInfo {
    /// `native` or the token's checksummed address.
    pub asset: String,
    /// The token's symbol; for a token that answers none, its shortened address.
    pub symbol: String,
    /// Null when the token does not answer `decimals()` sensibly: amounts stay in base units.
    pub decimals: Option<u8>,
    pub name: Option<String>,
}

impl AssetInfo {
    pub fn native() -> AssetInfo {
        AssetInfo {
            asset: "native".into(),
            symbol: NATIVE_SYMBOL.into(),
            decimals: Some(NATIVE_DECIMALS),
            name: Some("native currency".into()),
        }
    }

    fn of(asset: &str, token: Option<&TokenRow>) -> AssetInfo {
        if asset == "native" {
            return AssetInfo::native();
        }
        let short = if asset.len() > 12 {
            format!("{}…{}", &asset[..6], &asset[asset.len() - 4..])
        } else {
            asset.to_string()
        };
        AssetInfo {
            asset: asset.to_string(),
            symbol: token.and_then(|t| t.symbol.clone()).unwrap_or(short),
            decimals: token
                .and_then(|t| t.decimals)
                .and_then(|d| u8::try_from(d).ok()),
            name: token.and_then(|t| t.name.clone()),
        }
    }

    /// `raw` (decimal text) as an [`Amount`] of this asset.
    pub fn amount(&self, raw: &str) -> Amount {
        let units = match (self.decimals, raw.parse::<U256>()) {
            (Some(d), Ok(v)) => format_units(v, d),
            _ => raw.to_string(),
        };
        let formatted = match self.decimals {
            Some(_) => format!("{units} {}", self.symbol),
            None => format!("{units} {} (base units)", self.symbol),
        };
        Amount {
            raw: raw.to_string(),
            units,
            formatted,
        }
    }
}

/// `v` base units in units of `10^decimals`, exact, without trailing zeros (`98.5`, `0.001`,
/// `12`).
pub fn format_units(v: U256, decimals: u8) -> String {
    let digits = v.to_string();
    let d = decimals as usize;
    if d == 0 {
        return digits;
    }
    let padded = format!("{digits:0>width$}", width = d + 1);
    let (int, frac) = padded.split_at(padded.len() - d);
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        int.to_string()
    } else {
        format!("{int}.{frac}")
    }
}

/// Unix seconds as ISO 8601 UTC (`2024-05-01T12:00:00Z`); a time before 1970 (no block has one)
/// reads as the epoch.
pub fn iso8601(unix: i64) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix.max(0).unsigned_abs());
    humantime::format_rfc3339_seconds(time).to_string()
}

/// The decision a flow belongs to: the record of its transaction that carried it out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FlowDecision {
    /// `proposal` (a Governor's executed proposal), `timelock_operation`, `safe_execution`
    /// (signed by the owners) or `module_execution`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The Governor, timelock or Safe that recorded it.
    pub contract: String,
    /// The proposal id, the timelock operation id, the Safe transaction hash, or the module.
    pub id: String,
}

impl FlowDecision {
    /// From the store's `kind address id` text.
    fn parse(text: &str) -> Option<FlowDecision> {
        let mut parts = text.split(' ');
        let (kind, contract, id) = (parts.next()?, parts.next()?, parts.next().unwrap_or(""));
        let kind = match kind {
            "governor.proposal_executed" => "proposal",
            "timelock.call_executed" => "timelock_operation",
            "safe.execution_success" | "safe.execution_failure" => "safe_execution",
            "safe.module_execution_success" | "safe.module_execution_failure" => "module_execution",
            _ => return None,
        };
        Some(FlowDecision {
            kind: kind.into(),
            contract: contract.into(),
            id: id.into(),
        })
    }

    /// One cell of the export: `safe_execution 0x… (Safe 0x…)`.
    pub fn label(&self) -> String {
        format!("{} {} ({})", self.kind, self.id, self.contract)
    }
}

/// One point of a balance history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct HistoryPoint {
    pub block_number: i64,
    pub block_time: Option<String>,
    /// Base units after the block's flows.
    pub balance: String,
}

/// What a treasury holds of one asset, and how it moved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AssetHolding {
    #[serde(flatten)]
    pub info: AssetInfo,
    /// At the group's indexed block.
    pub balance: Amount,
    /// `balance_check` (the newest check plus the flows since) or `flows` (no check ran: the
    /// flows alone, from the group's start block).
    pub balance_source: String,
    /// The block of the balance check it starts from.
    pub checked_block: Option<i64>,
    /// Over the window.
    pub inflow: Amount,
    pub outflow: Amount,
    pub inflow_count: i64,
    pub outflow_count: i64,
    /// Oldest first, the last point being `balance`; at most [`HISTORY_BLOCKS`] + 1 points.
    pub history: Vec<HistoryPoint>,
}

/// One of the largest outflows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct OutflowView {
    pub treasury: String,
    #[serde(flatten)]
    pub info: AssetInfo,
    pub amount: Amount,
    pub counterparty: String,
    pub block_number: i64,
    pub block_time: Option<String>,
    pub tx_hash: String,
    /// The decision the outflow belongs to; null when none was recorded (funds moved
    /// without a decision the group follows).
    pub decision: Option<FlowDecision>,
}

/// One treasury of the group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TreasuryHoldings {
    pub address: String,
    /// Native first, then tokens by address.
    pub assets: Vec<AssetHolding>,
    /// Largest first, over the window.
    pub largest_outflows: Vec<OutflowView>,
}

/// `GET /v1/groups/{id}/treasury`: the group's treasuries at a glance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TreasuryView {
    pub group_id: String,
    /// The block the group is indexed to: balances are as of it.
    pub synced_block: i64,
    /// The window of block time the totals and the largest outflows cover: the
    /// [`WINDOW_DAYS`] days up to the newest block time the group recorded.
    pub window_days: i64,
    pub window_from: Option<i64>,
    pub window_to: Option<i64>,
    pub window_from_time: Option<String>,
    pub window_to_time: Option<String>,
    pub treasuries: Vec<TreasuryHoldings>,
    /// Whether more assets were touched than [`MAX_ASSETS`] (the rest are left out).
    pub truncated: bool,
}

fn sub(a: U256, b: &str) -> U256 {
    a.saturating_sub(b.parse().unwrap_or_default())
}

fn add(a: U256, b: &str) -> U256 {
    a.saturating_add(b.parse().unwrap_or_default())
}

/// The group's treasuries at a glance.
#[tracing::instrument(skip_all, fields(group = %group.id))]
pub async fn treasury_view(store: &Store, group: &GroupRow) -> Result<TreasuryView, StoreError> {
    let id = group.id.as_str();
    let mut pairs = store.treasury_assets(id, MAX_ASSETS + 1).await?;
    let truncated = pairs.len() > MAX_ASSETS;
    pairs.truncate(MAX_ASSETS);
    let token_addresses: Vec<String> = pairs
        .iter()
        .filter(|(_, a)| a != "native")
        .map(|(_, a)| a.clone())
        .collect();
    let tokens: HashMap<String, TokenRow> = store
        .tokens(&group.chain, &token_addresses)
        .await?
        .into_iter()
        .map(|t| (t.address.clone(), t))
        .collect();
    let info = |asset: &str| AssetInfo::of(asset, tokens.get(asset));

    let newest_time = store.newest_block_time(id).await?;
    let window = newest_time.map(|to| (to - WINDOW_DAYS * 86_400, to));
    let (totals, largest) = match window {
        Some((from, to)) => (
            store.window_totals(id, from, to).await?,
            store
                .largest_outflows(id, from, to, LARGEST_OUTFLOWS)
                .await?,
        ),
        None => (Vec::new(), Vec::new()),
    };
    let mut totals_by: BTreeMap<(String, String, String), (String, i64)> = BTreeMap::new();
    for t in totals {
        totals_by.insert((t.treasury, t.asset, t.direction), (t.total, t.count));
    }

    let mut treasuries: BTreeMap<String, TreasuryHoldings> = BTreeMap::new();
    for (treasury, asset) in &pairs {
        let info = info(asset);
        let checked = store.newest_balance(id, treasury, asset).await?;
        let after = checked.as_ref().map(|c| c.block_number).unwrap_or(-1);
        let since = store.flow_sums_after(id, treasury, asset, after).await?;
        let start: U256 = checked
            .as_ref()
            .and_then(|c| c.balance.parse().ok())
            .unwrap_or_default();
        let balance = sub(add(start, &since.inflow), &since.outflow);
        // Walk back from the balance through the newest blocks with flows.
        let mut history = Vec::new();
        let mut at = balance;
        for (block, time, sums) in store
            .flow_history(id, treasury, asset, HISTORY_BLOCKS)
            .await?
        {
            history.push(HistoryPoint {
                block_number: block,
                block_time: time.map(iso8601),
                balance: at.to_string(),
            });
            at = add(sub(at, &sums.inflow), &sums.outflow);
        }
        if history.len() < HISTORY_BLOCKS as usize {
            // The balance before the oldest flow (the group's start).
            if let Some(first) = history.last() {
                history.push(HistoryPoint {
                    block_number: first.block_number - 1,
                    block_time: None,
                    balance: at.to_string(),
                });
            }
        }
        history.reverse();
        let total = |direction: &str| {
            totals_by
                .get(&(treasury.clone(), asset.clone(), direction.to_string()))
                .cloned()
                .unwrap_or_else(|| ("0".into(), 0))
        };
        let (inflow, inflow_count) = total("in");
        let (outflow, outflow_count) = total("out");
        let holding = AssetHolding {
            balance: info.amount(&balance.to_string()),
            balance_source: if checked.is_some() {
                "balance_check"
            } else {
                "flows"
            }
            .into(),
            checked_block: checked.map(|c| c.block_number),
            inflow: info.amount(&inflow),
            outflow: info.amount(&outflow),
            inflow_count,
            outflow_count,
            history,
            info,
        };
        treasuries
            .entry(treasury.clone())
            .or_insert_with(|| TreasuryHoldings {
                address: treasury.clone(),
                assets: Vec::new(),
                largest_outflows: Vec::new(),
            })
            .assets
            .push(holding);
    }
    for row in largest {
        let view = outflow_view(&row, info(&row.asset));
        if let Some(t) = treasuries.get_mut(&row.treasury) {
            t.largest_outflows.push(view);
        }
    }
    let mut treasuries: Vec<TreasuryHoldings> = treasuries.into_values().collect();
    for t in &mut treasuries {
        // Native first.
        t.assets.sort_by_key(|a| a.info.asset != "native");
    }
    Ok(TreasuryView {
        group_id: id.to_string(),
        synced_block: group.synced_to,
        window_days: WINDOW_DAYS,
        window_from: window.map(|w| w.0),
        window_to: window.map(|w| w.1),
        window_from_time: window.map(|w| iso8601(w.0)),
        window_to_time: window.map(|w| iso8601(w.1)),
        treasuries,
        truncated,
    })
}

fn outflow_view(row: &FlowExportRow, info: AssetInfo) -> OutflowView {
    OutflowView {
        treasury: row.treasury.clone(),
        amount: info.amount(&row.amount),
        info,
        counterparty: row.counterparty.clone(),
        block_number: row.block_number,
        block_time: row.block_timestamp.map(iso8601),
        tx_hash: row.tx_hash.clone(),
        decision: row.decision.as_deref().and_then(FlowDecision::parse),
    }
}

/// `GET /v1/groups/{id}/flows` and `groupstate flows`: every movement of value into or out of
/// a group's treasuries, in chain order, optionally within blocks or block times (inclusive).
#[derive(Debug, Clone, Default, Deserialize, IntoParams, clap::Args)]
#[into_params(parameter_in = Query)]
pub struct FlowQuery {
    /// First block, inclusive
    #[arg(long, alias = "from")]
    #[param(value_type = Option<u64>)]
    pub from_block: Option<String>,
    /// Last block, inclusive
    #[arg(long, alias = "to")]
    #[param(value_type = Option<u64>)]
    pub to_block: Option<String>,
    /// Earliest block timestamp (unix seconds), inclusive
    #[arg(long)]
    #[param(value_type = Option<u64>)]
    pub from_time: Option<String>,
    /// Latest block timestamp (unix seconds), inclusive
    #[arg(long)]
    #[param(value_type = Option<u64>)]
    pub to_time: Option<String>,
    /// JSON pages only: 1..=1000 (default 100); the CSV export has every row
    #[arg(long)]
    #[param(value_type = Option<u64>, minimum = 1, maximum = 1000)]
    pub limit: Option<String>,
    /// JSON pages only: the `next_cursor` of the previous page
    #[arg(long)]
    pub cursor: Option<String>,
}

fn bound(name: &str, value: Option<&str>) -> Result<Option<i64>, ParamError> {
    value
        .map(|v| {
            v.parse::<u64>()
                .ok()
                .filter(|v| *v <= i64::MAX as u64)
                .map(|v| v as i64)
                .ok_or_else(|| ParamError::new(name, "must be a non-negative integer"))
        })
        .transpose()
}

impl FlowQuery {
    /// The range and page position, checked.
    pub fn range(&self) -> Result<FlowRange, ParamError> {
        let limit = match bound("limit", self.limit.as_deref())? {
            None => DEFAULT_FLOWS_PAGE,
            Some(n) if (1..=MAX_FLOWS_PAGE).contains(&n) => n,
            Some(_) => {
                return Err(ParamError::new(
                    "limit",
                    format!("must be between 1 and {MAX_FLOWS_PAGE}"),
                ))
            }
        };
        let r = FlowRange {
            from_block: bound("from_block", self.from_block.as_deref())?,
            to_block: bound("to_block", self.to_block.as_deref())?,
            from_time: bound("from_time", self.from_time.as_deref())?,
            to_time: bound("to_time", self.to_time.as_deref())?,
            after: self.cursor.as_deref().map(decode_cursor).transpose()?,
            limit: Some(limit),
        };
        if let (Some(a), Some(b)) = (r.from_block, r.to_block) {
            if a > b {
                return Err(ParamError::new("from_block", "is after to_block"));
            }
        }
        if let (Some(a), Some(b)) = (r.from_time, r.to_time) {
            if a > b {
                return Err(ParamError::new("from_time", "is after to_time"));
            }
        }
        Ok(r)
    }
}

type Position = (i64, String, String, String, String, String);

fn encode_cursor(row: &FlowExportRow) -> String {
    use base64::Engine;
    let v = serde_json::json!([
        "flows",
        row.block_number,
        row.tx_hash,
        row.locator,
        row.asset,
        row.direction,
        row.treasury
    ]);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

fn decode_cursor(cursor: &str) -> Result<Position, ParamError> {
    use base64::Engine;
    let bad = || ParamError::new("cursor", "is not a cursor this route issued");
    if cursor.len() > 1000 {
        return Err(bad());
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| bad())?;
    let (tag, block, tx, locator, asset, direction, treasury): (
        String,
        i64,
        String,
        String,
        String,
        String,
        String,
    ) = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    if tag != "flows" {
        return Err(bad());
    }
    Ok((block, tx, locator, asset, direction, treasury))
}

/// One movement of value, as an accountant imports it (the CSV's columns, in order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FlowView {
    pub block_number: i64,
    /// ISO 8601 UTC; empty when the node gave no timestamp.
    pub block_time: String,
    pub treasury: String,
    /// `in` or `out`.
    pub direction: String,
    /// The token's symbol (or its shortened address), `ETH` for the native currency.
    pub asset_symbol: String,
    /// `native` or the token's address.
    pub asset: String,
    /// In token units, exact; base units when the token's decimals are unknown.
    pub amount: String,
    /// Base units, a decimal `uint256`.
    pub raw_amount: String,
    /// The recipient of an outflow, the sender of an inflow.
    pub counterparty: String,
    /// The decision the flow belongs to (`safe_execution <safe tx hash> (<safe>)`, `proposal
    /// <id> (<governor>)`, …); empty when none was recorded.
    pub decision: String,
    pub tx_hash: String,
}

/// The export's view of a stored flow.
fn flow_view(row: FlowExportRow, info: &AssetInfo) -> FlowView {
    FlowView {
        block_number: row.block_number,
        block_time: row.block_timestamp.map(iso8601).unwrap_or_default(),
        amount: info.amount(&row.amount).units,
        asset_symbol: info.symbol.clone(),
        asset: row.asset,
        treasury: row.treasury,
        direction: row.direction,
        raw_amount: row.amount,
        counterparty: row.counterparty,
        decision: row
            .decision
            .as_deref()
            .and_then(FlowDecision::parse)
            .map(|d| d.label())
            .unwrap_or_default(),
        tx_hash: row.tx_hash,
    }
}

/// A page of a group's flows, as the API answers (JSON) and `flows --format json` prints.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FlowPage {
    pub flows: Vec<FlowView>,
    /// The position after the last flow: pass it as `cursor` for the next page. Null when the
    /// page is empty.
    pub next_cursor: Option<String>,
    /// Whether the page is full, so more may follow right away.
    pub has_more: bool,
}

/// The token metadata of `chain` by address, for the export.
async fn token_infos(store: &Store, chain: &str) -> Result<HashMap<String, AssetInfo>, StoreError> {
    Ok(store
        .chain_tokens(chain)
        .await?
        .into_iter()
        .map(|t| {
            (
                t.address.clone(),
                AssetInfo::of(&t.address.clone(), Some(&t)),
            )
        })
        .collect())
}

fn info_of(infos: &HashMap<String, AssetInfo>, asset: &str) -> AssetInfo {
    infos
        .get(asset)
        .cloned()
        .unwrap_or_else(|| AssetInfo::of(asset, None))
}

/// One page of a group's flows.
pub async fn flows_page(
    store: &Store,
    group: &GroupRow,
    range: &FlowRange,
) -> Result<FlowPage, StoreError> {
    let rows = store.flows_page(&group.id, range).await?;
    let infos = token_infos(store, &group.chain).await?;
    let has_more = rows.len() as i64 == range.limit.unwrap_or(i64::MAX);
    let next_cursor = rows.last().map(encode_cursor);
    Ok(FlowPage {
        flows: rows
            .into_iter()
            .map(|r| {
                let info = info_of(&infos, &r.asset);
                flow_view(r, &info)
            })
            .collect(),
        next_cursor,
        has_more,
    })
}

/// Every flow of a group in `range`, row by row (the page bounds of `range` are ignored).
pub async fn flows_stream(
    store: &Store,
    group: &GroupRow,
    range: &FlowRange,
) -> Result<BoxStream<'static, Result<FlowView, StoreError>>, StoreError> {
    let infos = token_infos(store, &group.chain).await?;
    Ok(store
        .flows_stream(&group.id, range)
        .map(move |r| {
            r.map(|row| {
                let info = info_of(&infos, &row.asset);
                flow_view(row, &info)
            })
        })
        .boxed())
}

/// One CSV record as bytes (the export writes the header, then one line per flow).
fn csv_record(
    record: impl FnOnce(&mut csv::Writer<Vec<u8>>) -> Result<(), csv::Error>,
) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    record(&mut w)?;
    w.into_inner().map_err(|e| e.into_error().into())
}

/// The export's line of `flow`.
pub fn csv_line(flow: &FlowView) -> Result<Vec<u8>, csv::Error> {
    csv_record(|w| w.serialize(flow))
}

/// The export's header line: [`FLOW_COLUMNS`].
pub fn csv_header() -> Result<Vec<u8>, csv::Error> {
    csv_record(|w| w.write_record(FLOW_COLUMNS))
}

/// The export's columns, in order.
pub const FLOW_COLUMNS: [&str; 11] = [
    "block_number",
    "block_time",
    "treasury",
    "direction",
    "asset_symbol",
    "asset",
    "amount",
    "raw_amount",
    "counterparty",
    "decision",
    "tx_hash",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_are_exact() {
        let wei = |s: &str| s.parse::<U256>().unwrap();
        assert_eq!(format_units(wei("98500000000000000000"), 18), "98.5");
        assert_eq!(format_units(wei("1000"), 18), "0.000000000000001");
        assert_eq!(format_units(wei("0"), 18), "0");
        assert_eq!(format_units(wei("12000000"), 6), "12");
        assert_eq!(format_units(wei("7"), 0), "7");
        assert_eq!(format_units(U256::MAX, 18).len(), 79);
    }

    #[test]
    fn times_are_iso8601_utc() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(1_714_564_800), "2024-05-01T12:00:00Z");
    }

    #[test]
    fn a_token_without_metadata_shows_its_address_and_base_units() {
        let info = AssetInfo::of("0x1234567890123456789012345678901234567890", None);
        assert_eq!(info.symbol, "0x1234…7890");
        let a = info.amount("1500");
        assert_eq!(a.units, "1500");
        assert_eq!(a.formatted, "1500 0x1234…7890 (base units)");
        assert_eq!(
            AssetInfo::native().amount("1500000000000000000").formatted,
            "1.5 ETH"
        );
    }

    #[test]
    fn the_header_names_the_columns() {
        let flow = FlowView {
            block_number: 1,
            block_time: iso8601(0),
            treasury: "t".into(),
            direction: "out".into(),
            asset_symbol: "ETH".into(),
            asset: "native".into(),
            amount: "1.5".into(),
            raw_amount: "1500000000000000000".into(),
            counterparty: "c".into(),
            decision: "safe_execution 0xab (0xcd)".into(),
            tx_hash: "0x01".into(),
        };
        let mut text = csv_header().unwrap();
        text.extend(csv_line(&flow).unwrap());
        text.extend(csv_line(&flow).unwrap());
        let mut reader = csv::Reader::from_reader(text.as_slice());
        let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
        assert_eq!(header, FLOW_COLUMNS);
        let rows: Vec<FlowView> = reader.deserialize().map(|r| r.unwrap()).collect();
        assert_eq!(rows, vec![flow.clone(), flow]);
    }

    #[test]
    fn decisions_are_named() {
        let d = FlowDecision::parse("safe.execution_success 0xSafe 0xhash").unwrap();
        assert_eq!(d.kind, "safe_execution");
        assert_eq!(d.label(), "safe_execution 0xhash (0xSafe)");
        assert_eq!(FlowDecision::parse("safe.setup 0x 0x"), None);
    }
}
