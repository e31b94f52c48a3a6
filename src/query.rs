//! The read side both faces share: one parameter struct per query (it is the API's query
//! string, its OpenAPI parameters and the CLI's flags, checked in one place, so both faces
//! refuse the same input with the same words), pages with opaque cursors, and the JSON views
//! of records and divergences.
//!
//! Invariant: a cursor names a position, never an offset, so paging stays exact while the
//! follower writes — records only ever arrive above a group's synced block and divergences
//! only ever get higher numbers.

use std::collections::BTreeSet;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{Object, ObjectBuilder, Type};
use utoipa::IntoParams;

use crate::alert::AlertEvent;
use crate::reconcile::{Rule, Severity};
use crate::store::{
    AlertFilter, AlertRow, DeliveryStatus, Divergence, DivergenceFilter, DivergenceStatus,
    GroupRow, ManifestVersion, RecordFilter, RecordRow, Store, StoreError,
};

/// The most rows one page may hold.
pub const MAX_LIMIT: i64 = 1000;
/// Rows per page when the caller does not say.
pub const DEFAULT_LIMIT: i64 = 100;

/// A parameter that is wrong, named.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("parameter `{name}`: {problem}")]
pub struct ParamError {
    pub name: String,
    pub problem: String,
}

impl ParamError {
    pub fn new(name: &str, problem: impl Into<String>) -> ParamError {
        // Names can come from the caller: cut them.
        ParamError {
            name: name.chars().take(64).collect(),
            problem: problem.into(),
        }
    }
}

/// Reads a query string into the parameter struct `T` of a route.
///
/// serde alone would take the last of a repeated parameter, ignore an unknown one (or refuse
/// it without naming it), and word its errors its own way; so the pairs are checked first —
/// a parameter given twice, or one `T` does not declare, is refused by name — and a value
/// that does not deserialize is refused with the name of its field.
pub fn parse_query<T: DeserializeOwned>(query: Option<&str>) -> Result<T, ParamError> {
    let bytes = query.unwrap_or("").as_bytes();
    let known = serde_aux::serde_introspection::serde_introspect::<T>();
    let mut names = BTreeSet::new();
    for (name, _) in url::form_urlencoded::parse(bytes) {
        if !names.insert(name.clone()) {
            return Err(ParamError::new(&name, "is given more than once"));
        }
    }
    if let Some(name) = names.iter().find(|n| !known.contains(&n.as_ref())) {
        return Err(ParamError::new(
            name,
            format!("is not known here (known: {})", known.join(", ")),
        ));
    }
    let pairs = serde_urlencoded::Deserializer::new(url::form_urlencoded::parse(bytes));
    serde_path_to_error::deserialize(pairs).map_err(|e| {
        let name = match e.path().iter().next_back() {
            Some(serde_path_to_error::Segment::Map { key }) => key.clone(),
            _ => "query".to_string(),
        };
        ParamError::new(&name, e.inner().to_string())
    })
}

/// A route that takes no parameter: any is refused by name.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NoParams {}

/// The names each enumerated parameter accepts, for its check and its schema alike.
const CATEGORIES: [&str; 4] = ["decision", "transaction", "structure", "unknown"];
const SEVERITIES: [&str; 4] = ["low", "medium", "high", "critical"];
const ORDERS: [&str; 2] = ["asc", "desc"];
const DIVERGENCE_STATUSES: [&str; 3] = ["open", "acknowledged", "resolved"];
const DELIVERY_STATUSES: [&str; 3] = ["pending", "delivered", "dead"];
const ALERT_EVENTS: [&str; 5] = [
    "opened",
    "resolved",
    "retracted",
    "reopened",
    "manifest.resolved_critical",
];

/// `GET /v1/groups/{id}/records` and `groupstate records`: a group's records, filtered and
/// paged.
///
/// Values are kept as given and checked by [`RecordQuery::filter`], the one place both faces
/// share, so that the API and the CLI refuse the same input with the same words.
#[derive(Debug, Clone, Default, Deserialize, IntoParams, clap::Args)]
#[into_params(parameter_in = Query)]
pub struct RecordQuery {
    /// An event kind, e.g. safe.execution_success
    #[arg(long)]
    #[param(pattern = "^[A-Za-z0-9_.]{1,64}$")]
    pub kind: Option<String>,
    /// decision | transaction | structure | unknown
    #[arg(long)]
    #[param(schema_with = category_schema)]
    pub category: Option<String>,
    /// First block, inclusive
    #[arg(long)]
    #[param(value_type = Option<u64>)]
    pub from_block: Option<String>,
    /// Last block, inclusive
    #[arg(long)]
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
    /// asc (default) | desc
    #[arg(long)]
    #[param(schema_with = order_schema)]
    pub order: Option<String>,
    /// 1..=1000 (default 100)
    #[arg(long)]
    #[param(value_type = Option<u64>, minimum = 1, maximum = 1000)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page
    #[arg(long)]
    pub cursor: Option<String>,
}

impl RecordQuery {
    /// The record filters and page position, checked.
    pub fn filter(&self) -> Result<RecordFilter, ParamError> {
        let kind = match self.kind.as_deref() {
            None => None,
            Some(k)
                if !k.is_empty()
                    && k.len() <= 64
                    && k.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.') =>
            {
                Some(k.to_string())
            }
            Some(_) => return Err(ParamError::new(
                "kind",
                "must be an event kind such as safe.execution_success (letters, digits, _ and .)",
            )),
        };
        let category = one_of("category", self.category.as_deref(), &CATEGORIES)?;
        let descending = descending(self.order.as_deref())?;
        let f = RecordFilter {
            kind,
            category,
            from_block: block_or_time("from_block", self.from_block.as_deref())?,
            to_block: block_or_time("to_block", self.to_block.as_deref())?,
            from_time: block_or_time("from_time", self.from_time.as_deref())?,
            to_time: block_or_time("to_time", self.to_time.as_deref())?,
            after: match self.cursor.as_deref() {
                None => None,
                Some(c) => {
                    let v = decode_cursor(c, "records", descending, 2)?;
                    Some((v[0], v[1]))
                }
            },
            descending,
            limit: Some(limit(self.limit.as_deref())?),
        };
        if let (Some(a), Some(b)) = (f.from_block, f.to_block) {
            if a > b {
                return Err(ParamError::new("from_block", "is after to_block"));
            }
        }
        if let (Some(a), Some(b)) = (f.from_time, f.to_time) {
            if a > b {
                return Err(ParamError::new("from_time", "is after to_time"));
            }
        }
        Ok(f)
    }
}

/// `GET /v1/groups/{id}/divergences` and `groupstate divergences`: a group's divergences,
/// filtered and paged; checked by [`DivergenceQuery::filter`].
#[derive(Debug, Clone, Default, Deserialize, IntoParams, clap::Args)]
#[into_params(parameter_in = Query)]
pub struct DivergenceQuery {
    /// open | acknowledged | resolved
    #[arg(long)]
    #[param(schema_with = divergence_status_schema)]
    pub status: Option<String>,
    /// low | medium | high | critical
    #[arg(long)]
    #[param(schema_with = severity_schema)]
    pub severity: Option<String>,
    /// A rule, e.g. safe.owner_undeclared
    #[arg(long)]
    #[param(schema_with = rule_schema)]
    pub rule: Option<String>,
    /// asc (default) | desc
    #[arg(long)]
    #[param(schema_with = order_schema)]
    pub order: Option<String>,
    /// 1..=1000 (default 100)
    #[arg(long)]
    #[param(value_type = Option<u64>, minimum = 1, maximum = 1000)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page
    #[arg(long)]
    pub cursor: Option<String>,
}

impl DivergenceQuery {
    /// The divergence filters and page position, checked.
    pub fn filter(&self) -> Result<DivergenceFilter, ParamError> {
        let status = match self.status.as_deref() {
            None => None,
            Some(s) => Some(DivergenceStatus::parse(s).ok_or_else(|| {
                ParamError::new(
                    "status",
                    format!("must be one of {}", DIVERGENCE_STATUSES.join(", ")),
                )
            })?),
        };
        let severity = one_of("severity", self.severity.as_deref(), &SEVERITIES)?;
        let rule = match self.rule.as_deref() {
            None => None,
            Some(r) => Some(
                Rule::parse(r)
                    .ok_or_else(|| ParamError::new("rule", "is not a rule groupstate knows"))?
                    .as_str()
                    .to_string(),
            ),
        };
        let descending = descending(self.order.as_deref())?;
        Ok(DivergenceFilter {
            status,
            severity,
            rule,
            after: match self.cursor.as_deref() {
                None => None,
                Some(c) => Some(decode_cursor(c, "divergences", descending, 1)?[0]),
            },
            descending,
            limit: Some(limit(self.limit.as_deref())?),
        })
    }
}

/// `GET /v1/alerts` and `groupstate alerts`: alerts, newest first, filtered and paged;
/// checked by [`AlertQuery::filter`].
#[derive(Debug, Clone, Default, Deserialize, IntoParams, clap::Args)]
#[into_params(parameter_in = Query)]
pub struct AlertQuery {
    /// Only this group's alerts
    #[arg(long)]
    #[param(min_length = 1, max_length = 128)]
    pub group: Option<String>,
    /// Alerts with a delivery in this state: pending | delivered | dead
    #[arg(long)]
    #[param(schema_with = delivery_status_schema)]
    pub status: Option<String>,
    /// opened | resolved | retracted | reopened
    #[arg(long)]
    #[param(schema_with = alert_event_schema)]
    pub event: Option<String>,
    /// 1..=1000 (default 100)
    #[arg(long)]
    #[param(value_type = Option<u64>, minimum = 1, maximum = 1000)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page
    #[arg(long)]
    pub cursor: Option<String>,
}

impl AlertQuery {
    /// The alert filters and page position, checked.
    pub fn filter(&self) -> Result<AlertFilter, ParamError> {
        let group = match self.group.as_deref() {
            None => None,
            Some(g) if !g.is_empty() && g.len() <= 128 => Some(g.to_string()),
            Some(_) => return Err(ParamError::new("group", "must be a group id")),
        };
        Ok(AlertFilter {
            group,
            status: match self.status.as_deref() {
                None => None,
                Some(s) => Some(DeliveryStatus::parse(s).ok_or_else(|| {
                    ParamError::new(
                        "status",
                        format!("must be one of {}", DELIVERY_STATUSES.join(", ")),
                    )
                })?),
            },
            event: match self.event.as_deref() {
                None => None,
                Some(e) => Some(AlertEvent::parse(e).ok_or_else(|| {
                    ParamError::new(
                        "event",
                        format!("must be one of {}", ALERT_EVENTS.join(", ")),
                    )
                })?),
            },
            before: match self.cursor.as_deref() {
                None => None,
                Some(c) => Some(decode_cursor(c, "alerts", true, 1)?[0]),
            },
            limit: Some(limit(self.limit.as_deref())?),
        })
    }
}

/// `PUT /v1/groups/{id}`: when the new manifest version takes force.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UpdateQuery {
    /// First block the version is in force at (default: the first block not processed yet)
    #[param(value_type = Option<u64>)]
    pub effective_block: Option<String>,
}

impl UpdateQuery {
    pub fn effective_block(&self) -> Result<Option<u64>, ParamError> {
        u64_param("effective_block", self.effective_block.as_deref())
    }
}

/// `PUT /v1/covenants/{id}`: which version the document must become.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CovenantUpdateQuery {
    /// The version the document must become (the newest plus one); otherwise 409
    #[param(value_type = Option<u64>)]
    pub expected_version: Option<String>,
}

impl CovenantUpdateQuery {
    pub fn expected_version(&self) -> Result<Option<i64>, ParamError> {
        Ok(u64_param("expected_version", self.expected_version.as_deref())?.map(|v| v as i64))
    }
}

/// `GET /v1/log/checkpoint` and `groupstate log checkpoint`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams, clap::Args)]
#[into_params(parameter_in = Query)]
pub struct CheckpointQuery {
    /// Which chain's log (default: the only configured chain; required when several are)
    #[arg(long = "log", value_name = "CHAIN")]
    pub chain: Option<String>,
}

/// `GET /v1/log/entries`: a page of the log's entries (at most 1000).
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EntriesQuery {
    /// Which chain's log (default: the only configured chain; required when several are)
    pub chain: Option<String>,
    /// First index, default 0
    #[param(value_type = Option<u64>)]
    pub start: Option<String>,
    /// One past the last index
    #[param(value_type = Option<u64>)]
    pub end: Option<String>,
}

impl EntriesQuery {
    /// The first index and the one past the last, if given.
    pub fn range(&self) -> Result<(u64, Option<u64>), ParamError> {
        Ok((
            u64_param("start", self.start.as_deref())?.unwrap_or(0),
            u64_param("end", self.end.as_deref())?,
        ))
    }
}

/// `GET /v1/log/proof/inclusion` and `groupstate log proof`: the audit path of an entry.
#[derive(Debug, Clone, Default, Deserialize, IntoParams, clap::Args)]
#[into_params(parameter_in = Query)]
pub struct InclusionQuery {
    /// The entry
    #[arg(value_name = "INDEX", required = true)]
    #[param(value_type = u64, required = true)]
    pub index: Option<String>,
    /// The tree size the proof is for (default: the latest checkpoint's)
    #[arg(long)]
    #[param(value_type = Option<u64>)]
    pub size: Option<String>,
    /// Which chain's log (default: the only configured chain; required when several are)
    #[arg(long = "log", value_name = "CHAIN")]
    pub chain: Option<String>,
}

impl InclusionQuery {
    /// The entry and the tree size, if given.
    pub fn position(&self) -> Result<(u64, Option<u64>), ParamError> {
        Ok((
            required("index", u64_param("index", self.index.as_deref())?)?,
            u64_param("size", self.size.as_deref())?,
        ))
    }
}

/// `GET /v1/log/proof/consistency`: that one tree size extends another.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConsistencyQuery {
    /// Which chain's log (default: the only configured chain; required when several are)
    pub chain: Option<String>,
    /// The older tree size
    #[param(value_type = u64, required = true)]
    pub from: Option<String>,
    /// The newer tree size (default: the latest checkpoint's)
    #[param(value_type = Option<u64>)]
    pub to: Option<String>,
}

impl ConsistencyQuery {
    /// The older tree size and the newer one, if given.
    pub fn sizes(&self) -> Result<(u64, Option<u64>), ParamError> {
        Ok((
            required("from", u64_param("from", self.from.as_deref())?)?,
            u64_param("to", self.to.as_deref())?,
        ))
    }
}

/// A non-negative integer.
fn parse_u64(name: &str, value: Option<&str>) -> Result<Option<u64>, ParamError> {
    value
        .map(|v| {
            v.parse::<u64>()
                .map_err(|_| ParamError::new(name, "must be a non-negative integer"))
        })
        .transpose()
}

/// A block, a timestamp or a log position: a non-negative integer that fits the database's
/// signed 64 bits (the document's `int64`).
fn u64_param(name: &str, value: Option<&str>) -> Result<Option<u64>, ParamError> {
    match parse_u64(name, value)? {
        Some(v) if v > i64::MAX as u64 => Err(ParamError::new(name, "is too large")),
        v => Ok(v),
    }
}

fn required<T>(name: &str, value: Option<T>) -> Result<T, ParamError> {
    value.ok_or_else(|| ParamError::new(name, "is required"))
}

fn block_or_time(name: &str, value: Option<&str>) -> Result<Option<i64>, ParamError> {
    Ok(u64_param(name, value)?.map(|v| v as i64))
}

fn limit(value: Option<&str>) -> Result<i64, ParamError> {
    match parse_u64("limit", value)? {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if n >= 1 && n <= MAX_LIMIT as u64 => Ok(n as i64),
        Some(_) => Err(ParamError::new(
            "limit",
            format!("must be between 1 and {MAX_LIMIT}"),
        )),
    }
}

fn descending(order: Option<&str>) -> Result<bool, ParamError> {
    match order {
        None | Some("asc") => Ok(false),
        Some("desc") => Ok(true),
        Some(_) => Err(ParamError::new("order", "must be asc or desc")),
    }
}

/// One of `allowed`, if given.
fn one_of(name: &str, value: Option<&str>, allowed: &[&str]) -> Result<Option<String>, ParamError> {
    match value {
        None => Ok(None),
        Some(v) if allowed.contains(&v) => Ok(Some(v.to_string())),
        Some(_) => Err(ParamError::new(
            name,
            format!("must be one of {}", allowed.join(", ")),
        )),
    }
}

/// The schema of a string parameter that takes one of `names`. (A parameter whose schema is
/// built here takes its description from the schema: utoipa leaves the doc comment out.)
fn names_schema<'a>(description: &str, names: impl IntoIterator<Item = &'a str>) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .enum_values(Some(names))
        .build()
}

fn category_schema() -> Object {
    names_schema("The record's category", CATEGORIES)
}

fn severity_schema() -> Object {
    names_schema("The divergence's severity", SEVERITIES)
}

fn order_schema() -> Object {
    names_schema("asc (default) or desc", ORDERS)
}

fn rule_schema() -> Object {
    names_schema(
        "A rule, e.g. safe.owner_undeclared",
        Rule::all().map(Rule::as_str),
    )
}

fn divergence_status_schema() -> Object {
    names_schema("The divergence's status", DIVERGENCE_STATUSES)
}

fn delivery_status_schema() -> Object {
    names_schema("Alerts with a delivery in this state", DELIVERY_STATUSES)
}

fn alert_event_schema() -> Object {
    names_schema("What happened to the divergence", ALERT_EVENTS)
}

/// A page of a group's records, as the API answers and `records --json` prints.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RecordPage {
    pub records: Vec<RecordView>,
    /// The position after the last record: pass it as `cursor` for the next page, or later to
    /// poll for newer records. Null when the page is empty.
    pub next_cursor: Option<String>,
    /// Whether the page is full, so more may follow right away.
    pub has_more: bool,
}

/// A page of a group's divergences, as the API answers and `divergences --json` prints.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DivergencePage {
    pub divergences: Vec<Divergence>,
    /// The position after the last divergence: pass it as `cursor` for the next page, or
    /// later to poll for newer ones. Null when the page is empty.
    pub next_cursor: Option<String>,
    /// Whether the page is full, so more may follow right away.
    pub has_more: bool,
}

/// A page of alerts, newest first, as the API answers and `alerts --json` prints.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AlertPage {
    pub alerts: Vec<AlertRow>,
    /// The position after the last alert: pass it as `cursor` for the next (older) page.
    pub next_cursor: Option<String>,
    /// Whether the page is full, so more may follow.
    pub has_more: bool,
}

/// One page of alerts with their deliveries.
pub async fn alerts_page(store: &Store, f: &AlertFilter) -> Result<AlertPage, StoreError> {
    let alerts = store.alerts(f).await?;
    Ok(AlertPage {
        has_more: alerts.len() as i64 == f.limit.unwrap_or(i64::MAX),
        next_cursor: alerts
            .last()
            .map(|a| encode_cursor("alerts", true, &[a.id])),
        alerts,
    })
}

/// Every registered group, as the API answers and `group list --json` prints.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct GroupList {
    pub groups: Vec<GroupSummary>,
}

/// Encodes a position with the route and order it belongs to, so a cursor cannot be replayed
/// elsewhere or in the other direction.
fn encode_cursor(kind: &str, descending: bool, position: &[i64]) -> String {
    let position: Vec<String> = position.iter().map(i64::to_string).collect();
    let dir = if descending { "desc" } else { "asc" };
    URL_SAFE_NO_PAD.encode(format!("{kind}:{dir}:{}", position.join(":")))
}

fn decode_cursor(
    cursor: &str,
    kind: &str,
    descending: bool,
    len: usize,
) -> Result<Vec<i64>, ParamError> {
    let bad = || ParamError::new("cursor", "is not a cursor this route and order issued");
    if cursor.len() > 200 {
        return Err(bad());
    }
    let text = URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(bad)?;
    let mut parts = text.split(':');
    let dir = if descending { "desc" } else { "asc" };
    if parts.next() != Some(kind) || parts.next() != Some(dir) {
        return Err(bad());
    }
    let position: Vec<i64> = parts
        .map(|p| p.parse::<i64>())
        .collect::<Result<_, _>>()
        .map_err(|_| bad())?;
    if position.len() != len {
        return Err(bad());
    }
    Ok(position)
}

/// A record as the API and `--json` show it: decoded fields and topics as JSON.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RecordView {
    pub group_id: String,
    pub chain_id: i64,
    pub block_number: i64,
    pub block_hash: String,
    /// Unix seconds.
    pub block_timestamp: Option<i64>,
    pub tx_hash: String,
    pub tx_index: i64,
    pub log_index: i64,
    /// The emitting contract.
    pub address: String,
    /// The event, e.g. `safe.execution_success`, `governor.proposal_created`.
    pub kind: String,
    /// decision | transaction | structure | unknown
    pub category: String,
    #[schema(value_type = Object)]
    pub fields: serde_json::Value,
    pub topics: Vec<String>,
    pub data: String,
    /// The manifest version in force at the block.
    pub manifest_hash: Option<String>,
}

impl From<RecordRow> for RecordView {
    fn from(r: RecordRow) -> RecordView {
        RecordView {
            fields: serde_json::from_str(&r.fields).unwrap_or(serde_json::Value::Null),
            topics: serde_json::from_str(&r.topics).unwrap_or_default(),
            group_id: r.group_id,
            chain_id: r.chain_id,
            block_number: r.block_number,
            block_hash: r.block_hash,
            block_timestamp: r.block_timestamp,
            tx_hash: r.tx_hash,
            tx_index: r.tx_index,
            log_index: r.log_index,
            address: r.address,
            kind: r.kind,
            category: r.category,
            data: r.data,
            manifest_hash: r.manifest_hash,
        }
    }
}

/// One page of a group's records.
pub async fn records_page(
    store: &Store,
    group_id: &str,
    f: &RecordFilter,
) -> Result<RecordPage, StoreError> {
    let rows = store.records(group_id, f).await?;
    let next_cursor = rows.last().map(|last| {
        encode_cursor(
            "records",
            f.descending,
            &[last.block_number, last.log_index],
        )
    });
    Ok(RecordPage {
        has_more: rows.len() as i64 == f.limit.unwrap_or(i64::MAX),
        records: rows.into_iter().map(RecordView::from).collect(),
        next_cursor,
    })
}

/// One page of a group's divergences.
pub async fn divergences_page(
    store: &Store,
    group_id: &str,
    f: &DivergenceFilter,
) -> Result<DivergencePage, StoreError> {
    let rows = store.divergence_page(group_id, f).await?;
    let next_cursor = rows
        .last()
        .map(|last| encode_cursor("divergences", f.descending, &[last.n]));
    Ok(DivergencePage {
        has_more: rows.len() as i64 == f.limit.unwrap_or(i64::MAX),
        divergences: rows,
        next_cursor,
    })
}

/// A registered group at a glance.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct GroupSummary {
    pub id: String,
    pub name: String,
    pub purpose: String,
    /// formation | organization | coordination | completion
    pub phase: String,
    pub chain: String,
    pub start_block: i64,
    /// Records are complete up to this block.
    pub synced_to: i64,
    /// The newest manifest version.
    pub manifest_version: i64,
    pub manifest_hash: String,
    pub created_at: String,
}

/// One manifest version.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct VersionView {
    pub version: i64,
    pub hash: String,
    /// The first block the version is in force at.
    pub effective_block: i64,
    pub created_at: String,
    /// `ratified by 0xA…, 0xB… (2 of 3 owners of version 1, threshold 2)`, or `unratified`.
    pub ratified: String,
    /// Who ratified the version under which authority, with their signatures.
    #[schema(value_type = Option<Object>)]
    pub ratification: Option<crate::manifest::ratify::Ratification>,
}

/// A group with its newest manifest and every version.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct GroupDetail {
    pub group: GroupSummary,
    /// The newest manifest, in canonical form.
    #[schema(value_type = Object)]
    pub manifest: serde_json::Value,
    pub versions: Vec<VersionView>,
}

/// The summary of a group from its row and versions (none: no version, a corrupt group).
pub fn group_summary(g: &GroupRow, versions: &[ManifestVersion]) -> Option<GroupSummary> {
    let v = versions.last()?;
    Some(GroupSummary {
        id: g.id.clone(),
        name: v.manifest.name.clone(),
        purpose: v.manifest.purpose.clone(),
        phase: v.manifest.phase.as_str().to_string(),
        chain: g.chain.clone(),
        start_block: g.start_block,
        synced_to: g.synced_to,
        manifest_version: v.version,
        manifest_hash: v.hash.clone(),
        created_at: g.created_at.clone(),
    })
}

/// Every registered group.
pub async fn group_list(store: &Store) -> Result<GroupList, StoreError> {
    let mut groups = Vec::new();
    for g in store.groups().await? {
        let versions = store.manifest_versions(&g.id).await?;
        groups.extend(group_summary(&g, &versions));
    }
    Ok(GroupList { groups })
}

pub fn group_detail(g: &GroupRow, versions: &[ManifestVersion]) -> Option<GroupDetail> {
    Some(GroupDetail {
        group: group_summary(g, versions)?,
        manifest: serde_json::to_value(&versions.last()?.manifest).ok()?,
        versions: versions
            .iter()
            .map(|v| VersionView {
                version: v.version,
                hash: v.hash.clone(),
                effective_block: v.effective_block,
                created_at: v.created_at.clone(),
                ratified: crate::history::ratified(v),
                ratification: v.ratification.clone(),
            })
            .collect(),
    })
}

/// Parses a severity name (`low` … `critical`).
pub fn parse_severity(s: &str) -> Option<Severity> {
    [
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ]
    .into_iter()
    .find(|v| v.as_str() == s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(q: &str) -> Result<RecordFilter, ParamError> {
        parse_query::<RecordQuery>(Some(q))?.filter()
    }

    fn divergences(q: &str) -> Result<DivergenceFilter, ParamError> {
        parse_query::<DivergenceQuery>(Some(q))?.filter()
    }

    fn alerts(q: &str) -> Result<AlertFilter, ParamError> {
        parse_query::<AlertQuery>(Some(q))?.filter()
    }

    #[test]
    fn cursors_round_trip_and_refuse_anything_else() {
        let c = encode_cursor("records", false, &[12, 3]);
        let f = records(&format!("cursor={c}")).unwrap();
        assert_eq!(f.after, Some((12, 3)));
        // The other order, the other route, garbage, SQL: all refused, naming the cursor.
        for q in [
            format!("cursor={c}&order=desc"),
            format!("cursor={}", encode_cursor("divergences", false, &[12])),
            "cursor=%27%20OR%201%3D1%20--".to_string(),
            "cursor=cmVjb3Jkczphc2M6MTI6eA".to_string(),
            format!("cursor={}", "A".repeat(5000)),
        ] {
            let e = records(&q).unwrap_err();
            assert_eq!(e.name, "cursor", "{q}");
        }
        let c = encode_cursor("alerts", true, &[7]);
        assert_eq!(alerts(&format!("cursor={c}")).unwrap().before, Some(7));
    }

    #[test]
    fn hostile_values_are_named() {
        for (q, name) in [
            ("limit=0", "limit"),
            ("limit=1001", "limit"),
            ("limit=99999999999999999999999", "limit"),
            ("limit=-1", "limit"),
            ("from_block=9223372036854775808", "from_block"),
            ("kind=x%27%3B%20DROP%20TABLE%20records%3B--", "kind"),
            ("category=decisions", "category"),
            ("order=sideways", "order"),
            ("from_block=5&to_block=4", "from_block"),
            ("from_time=5&to_time=4", "from_time"),
            ("limit=1&limit=2", "limit"),
            ("colour=blue", "colour"),
        ] {
            assert_eq!(records(q).unwrap_err().name, name, "{q}");
        }
        for (q, name) in [
            ("status=closed", "status"),
            ("severity=urgent", "severity"),
            ("rule=safe.owners%27--", "rule"),
            ("order=asc&order=asc", "order"),
            ("kind=safe.execution_success", "kind"),
        ] {
            assert_eq!(divergences(q).unwrap_err().name, name, "{q}");
        }
        for (q, name) in [
            ("status=closed", "status"),
            ("event=happened", "event"),
            ("group=", "group"),
            ("limit=0", "limit"),
            ("group=a&group=b", "group"),
            ("order=desc", "order"),
        ] {
            assert_eq!(alerts(q).unwrap_err().name, name, "{q}");
        }
    }

    /// Unknown, repeated and malformed parameters are refused by name on every query.
    #[test]
    fn every_query_refuses_unknown_repeated_and_malformed_parameters() {
        fn check<T: DeserializeOwned>(
            route: &str,
            first: &str,
            malformed: &str,
            validate: impl Fn(T) -> Result<(), ParamError>,
        ) {
            let run = |q: &str| parse_query::<T>(Some(q)).and_then(&validate);
            let e = run("colour=blue").unwrap_err();
            assert_eq!(e.name, "colour", "{route}");
            assert!(e.problem.starts_with("is not known here"), "{route}: {e}");
            if first.is_empty() {
                return;
            }
            let e = run(&format!("{first}=1&{first}=1")).unwrap_err();
            assert_eq!(
                (e.name.as_str(), e.problem.as_str()),
                (first, "is given more than once"),
                "{route}"
            );
            let e = run(&format!("{malformed}=x%27")).unwrap_err();
            assert_eq!(e.name, malformed, "{route}: {e}");
        }
        check::<NoParams>("no parameters", "", "", |_| Ok(()));
        check::<RecordQuery>("records", "limit", "from_time", |q| q.filter().map(drop));
        check::<DivergenceQuery>("divergences", "status", "limit", |q| q.filter().map(drop));
        check::<AlertQuery>("alerts", "event", "status", |q| q.filter().map(drop));
        check::<UpdateQuery>("update", "effective_block", "effective_block", |q| {
            q.effective_block().map(drop)
        });
        check::<CheckpointQuery>("checkpoint", "chain", "chain", |_| {
            Err(ParamError::new("chain", "resolved by the caller"))
        });
        check::<EntriesQuery>("entries", "start", "end", |q| q.range().map(drop));
        check::<InclusionQuery>("inclusion", "size", "index", |q| q.position().map(drop));
        check::<ConsistencyQuery>("consistency", "to", "from", |q| q.sizes().map(drop));
        // Above the signed 64 bits the document promises: refused, not wrapped.
        for q in ["start=9223372036854775808", "end=18446744073709551615"] {
            let e = parse_query::<EntriesQuery>(Some(q)).unwrap().range();
            assert_eq!(e.unwrap_err().problem, "is too large", "{q}");
        }
        let q = parse_query::<UpdateQuery>(Some("effective_block=9223372036854775808")).unwrap();
        assert_eq!(q.effective_block().unwrap_err().problem, "is too large");
        // Required values are named when missing.
        let e = parse_query::<InclusionQuery>(None).unwrap().position();
        assert_eq!(e.unwrap_err().to_string(), "parameter `index`: is required");
        let e = parse_query::<ConsistencyQuery>(Some("to=3"))
            .unwrap()
            .sizes();
        assert_eq!(e.unwrap_err().to_string(), "parameter `from`: is required");
    }

    #[test]
    fn the_words_stay_the_same() {
        for (q, message) in [
            (
                "limit=x",
                "parameter `limit`: must be a non-negative integer",
            ),
            ("limit=0", "parameter `limit`: must be between 1 and 1000"),
            ("order=up", "parameter `order`: must be asc or desc"),
            (
                "category=x",
                "parameter `category`: must be one of decision, transaction, structure, unknown",
            ),
            (
                "limit=1&limit=2",
                "parameter `limit`: is given more than once",
            ),
            (
                "x=1",
                "parameter `x`: is not known here (known: kind, category, from_block, to_block, \
                 from_time, to_time, order, limit, cursor)",
            ),
        ] {
            assert_eq!(records(q).unwrap_err().to_string(), message, "{q}");
        }
        assert_eq!(
            divergences("status=x").unwrap_err().to_string(),
            "parameter `status`: must be one of open, acknowledged, resolved"
        );
        assert_eq!(
            alerts("event=x").unwrap_err().to_string(),
            "parameter `event`: must be one of opened, resolved, retracted, reopened, manifest.resolved_critical"
        );
        assert_eq!(
            parse_query::<NoParams>(Some("a=1"))
                .unwrap_err()
                .to_string(),
            "parameter `a`: is not known here (known: )"
        );
    }

    #[test]
    fn filters_parse() {
        let f = records(
            "kind=safe.execution_success&category=decision&from_block=1&to_block=9&order=desc&limit=5",
        )
        .unwrap();
        assert_eq!(f.kind.as_deref(), Some("safe.execution_success"));
        assert_eq!(f.category.as_deref(), Some("decision"));
        assert_eq!(
            (f.from_block, f.to_block, f.limit),
            (Some(1), Some(9), Some(5))
        );
        assert!(f.descending);
        let d = divergences("status=open&severity=high&order=desc").unwrap();
        assert_eq!(d.status, Some(DivergenceStatus::Open));
        assert_eq!(d.severity.as_deref(), Some("high"));
        assert!(d.descending);
        let a = alerts("group=g&status=dead&event=reopened").unwrap();
        assert_eq!(
            (a.group.as_deref(), a.status, a.event),
            (
                Some("g"),
                Some(DeliveryStatus::Dead),
                Some(AlertEvent::Reopened)
            )
        );
        let q = parse_query::<ConsistencyQuery>(Some("from=3&to=9&chain=local")).unwrap();
        assert_eq!(
            (q.sizes().unwrap(), q.chain.as_deref()),
            ((3, Some(9)), Some("local"))
        );
    }

    /// The enumerated parameters' schemas offer exactly what their checks accept.
    #[test]
    fn enumerated_schemas_match_their_checks() {
        for name in Rule::all().map(Rule::as_str) {
            assert!(divergences(&format!("rule={name}")).is_ok(), "{name}");
        }
        for name in CATEGORIES {
            assert!(records(&format!("category={name}")).is_ok(), "{name}");
        }
        for name in SEVERITIES.iter().chain(&DIVERGENCE_STATUSES).chain(&ORDERS) {
            let key = if SEVERITIES.contains(name) {
                "severity"
            } else if ORDERS.contains(name) {
                "order"
            } else {
                "status"
            };
            assert!(divergences(&format!("{key}={name}")).is_ok(), "{name}");
        }
        for name in DELIVERY_STATUSES {
            assert!(alerts(&format!("status={name}")).is_ok(), "{name}");
        }
        for name in ALERT_EVENTS {
            assert!(alerts(&format!("event={name}")).is_ok(), "{name}");
        }
        assert_eq!(ALERT_EVENTS.len(), AlertEvent::all().count());
    }

    /// The commands that mirror a query take its parameters as their flags, one for one.
    #[test]
    fn the_cli_flags_are_the_parameters() {
        fn flags<A: clap::Args + DeserializeOwned>() {
            let command = A::augment_args(clap::Command::new("groupstate"));
            let ids: Vec<&str> = command
                .get_arguments()
                .map(|a| a.get_id().as_str())
                .collect();
            assert_eq!(ids, serde_aux::serde_introspection::serde_introspect::<A>());
        }
        flags::<RecordQuery>();
        flags::<DivergenceQuery>();
        flags::<AlertQuery>();
        flags::<CheckpointQuery>();
        flags::<InclusionQuery>();
    }
}
