//! The read side both faces share: query parameters parsed and checked once (the API's query
//! string and the CLI's flags go through the same parser, so both refuse the same input with
//! the same words), pages with opaque cursors, and the JSON views of records and divergences.
//!
//! Invariant: a cursor names a position, never an offset, so paging stays exact while the
//! follower writes — records only ever arrive above a group's synced block and divergences
//! only ever get higher numbers.

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Serialize;

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

/// Named string parameters, from a query string or from flags.
#[derive(Debug, Clone, Default)]
pub struct Params(pub BTreeMap<String, String>);

impl Params {
    /// Reads a query string; a parameter given twice is refused rather than guessed at.
    pub fn from_query(query: Option<&str>) -> Result<Params, ParamError> {
        let mut map = BTreeMap::new();
        for (k, v) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            if map.insert(k.to_string(), v.to_string()).is_some() {
                return Err(ParamError::new(&k, "is given more than once"));
            }
        }
        Ok(Params(map))
    }

    /// From flags: the ones not given are left out.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, Option<String>)>) -> Params {
        Params(
            pairs
                .into_iter()
                .filter_map(|(k, v)| v.map(|v| (k.to_string(), v)))
                .collect(),
        )
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// Refuses parameters the route does not know, so a typo is not silently ignored.
    pub fn only(&self, known: &[&str]) -> Result<(), ParamError> {
        match self.0.keys().find(|k| !known.contains(&k.as_str())) {
            Some(k) => Err(ParamError::new(
                k,
                format!("is not known here (known: {})", known.join(", ")),
            )),
            None => Ok(()),
        }
    }

    pub fn optional_u64(&self, name: &str) -> Result<Option<u64>, ParamError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v
                .parse::<u64>()
                .map(Some)
                .map_err(|_| ParamError::new(name, "must be a non-negative integer")),
        }
    }

    pub fn required_u64(&self, name: &str) -> Result<u64, ParamError> {
        self.optional_u64(name)?
            .ok_or_else(|| ParamError::new(name, "is required"))
    }

    /// A non-negative integer that fits the database's signed 64 bits.
    fn optional_i64(&self, name: &str) -> Result<Option<i64>, ParamError> {
        match self.optional_u64(name)? {
            Some(v) if v > i64::MAX as u64 => Err(ParamError::new(name, "is too large")),
            v => Ok(v.map(|v| v as i64)),
        }
    }

    fn limit(&self) -> Result<i64, ParamError> {
        match self.optional_u64("limit")? {
            None => Ok(DEFAULT_LIMIT),
            Some(n) if n >= 1 && n <= MAX_LIMIT as u64 => Ok(n as i64),
            Some(_) => Err(ParamError::new(
                "limit",
                format!("must be between 1 and {MAX_LIMIT}"),
            )),
        }
    }

    fn descending(&self) -> Result<bool, ParamError> {
        match self.get("order") {
            None | Some("asc") => Ok(false),
            Some("desc") => Ok(true),
            Some(_) => Err(ParamError::new("order", "must be asc or desc")),
        }
    }

    /// One of `allowed`, if given.
    fn one_of(&self, name: &str, allowed: &[&str]) -> Result<Option<String>, ParamError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) if allowed.contains(&v) => Ok(Some(v.to_string())),
            Some(_) => Err(ParamError::new(
                name,
                format!("must be one of {}", allowed.join(", ")),
            )),
        }
    }
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

/// The alert filters and page position, checked.
pub fn alert_filter(p: &Params) -> Result<AlertFilter, ParamError> {
    p.only(&["group", "status", "event", "limit", "cursor"])?;
    let group = match p.get("group") {
        None => None,
        Some(g) if !g.is_empty() && g.len() <= 128 => Some(g.to_string()),
        Some(_) => return Err(ParamError::new("group", "must be a group id")),
    };
    Ok(AlertFilter {
        group,
        status: match p.get("status") {
            None => None,
            Some(s) => Some(DeliveryStatus::parse(s).ok_or_else(|| {
                ParamError::new("status", "must be one of pending, delivered, dead")
            })?),
        },
        event: match p.get("event") {
            None => None,
            Some(e) => Some(AlertEvent::parse(e).ok_or_else(|| {
                ParamError::new(
                    "event",
                    "must be one of opened, resolved, retracted, reopened",
                )
            })?),
        },
        before: match p.get("cursor") {
            None => None,
            Some(c) => Some(decode_cursor(c, "alerts", true, 1)?[0]),
        },
        limit: Some(p.limit()?),
    })
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

/// The record filters and page position, checked.
pub fn record_filter(p: &Params) -> Result<RecordFilter, ParamError> {
    p.only(&[
        "kind",
        "category",
        "from_block",
        "to_block",
        "from_time",
        "to_time",
        "order",
        "limit",
        "cursor",
    ])?;
    let kind =
        match p.get("kind") {
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
    let category = p.one_of(
        "category",
        &["decision", "transaction", "structure", "unknown"],
    )?;
    let descending = p.descending()?;
    let f = RecordFilter {
        kind,
        category,
        from_block: p.optional_i64("from_block")?,
        to_block: p.optional_i64("to_block")?,
        from_time: p.optional_i64("from_time")?,
        to_time: p.optional_i64("to_time")?,
        after: match p.get("cursor") {
            None => None,
            Some(c) => {
                let v = decode_cursor(c, "records", descending, 2)?;
                Some((v[0], v[1]))
            }
        },
        descending,
        limit: Some(p.limit()?),
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

/// The divergence filters and page position, checked.
pub fn divergence_filter(p: &Params) -> Result<DivergenceFilter, ParamError> {
    p.only(&["status", "severity", "rule", "order", "limit", "cursor"])?;
    let status = match p.get("status") {
        None => None,
        Some(s) => Some(DivergenceStatus::parse(s).ok_or_else(|| {
            ParamError::new("status", "must be one of open, acknowledged, resolved")
        })?),
    };
    let severity = p.one_of("severity", &["low", "medium", "high", "critical"])?;
    let rule = match p.get("rule") {
        None => None,
        Some(r) => Some(
            Rule::parse(r)
                .ok_or_else(|| ParamError::new("rule", "is not a rule groupstate knows"))?
                .as_str()
                .to_string(),
        ),
    };
    let descending = p.descending()?;
    Ok(DivergenceFilter {
        status,
        severity,
        rule,
        after: match p.get("cursor") {
            None => None,
            Some(c) => Some(decode_cursor(c, "divergences", descending, 1)?[0]),
        },
        descending,
        limit: Some(p.limit()?),
    })
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

    fn params(q: &str) -> Params {
        Params::from_query(Some(q)).unwrap()
    }

    #[test]
    fn cursors_round_trip_and_refuse_anything_else() {
        let c = encode_cursor("records", false, &[12, 3]);
        let f = record_filter(&params(&format!("cursor={c}"))).unwrap();
        assert_eq!(f.after, Some((12, 3)));
        // The other order, the other route, garbage, SQL: all refused, naming the cursor.
        for q in [
            format!("cursor={c}&order=desc"),
            format!("cursor={}", encode_cursor("divergences", false, &[12])),
            "cursor=%27%20OR%201%3D1%20--".to_string(),
            "cursor=cmVjb3Jkczphc2M6MTI6eA".to_string(),
            format!("cursor={}", "A".repeat(5000)),
        ] {
            let e = record_filter(&params(&q)).unwrap_err();
            assert_eq!(e.name, "cursor", "{q}");
        }
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
            let e = Params::from_query(Some(q)).and_then(|p| record_filter(&p));
            assert_eq!(e.unwrap_err().name, name, "{q}");
        }
        for (q, name) in [
            ("status=closed", "status"),
            ("severity=urgent", "severity"),
            ("rule=safe.owners%27--", "rule"),
        ] {
            assert_eq!(divergence_filter(&params(q)).unwrap_err().name, name);
        }
    }

    #[test]
    fn filters_parse() {
        let f = record_filter(&params(
            "kind=safe.execution_success&category=decision&from_block=1&to_block=9&order=desc&limit=5",
        ))
        .unwrap();
        assert_eq!(f.kind.as_deref(), Some("safe.execution_success"));
        assert_eq!(f.category.as_deref(), Some("decision"));
        assert_eq!(
            (f.from_block, f.to_block, f.limit),
            (Some(1), Some(9), Some(5))
        );
        assert!(f.descending);
        let d = divergence_filter(&params("status=open&severity=high&order=desc")).unwrap();
        assert_eq!(d.status, Some(DivergenceStatus::Open));
        assert_eq!(d.severity.as_deref(), Some("high"));
        assert!(d.descending);
    }
}
