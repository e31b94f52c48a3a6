//! The alert outbox: alerts written with the divergence change they report (in the batch's
//! transaction), their delivery rows per sink, and the dispatcher's claims on them.
//!
//! Claims are single `UPDATE … RETURNING` statements, so they start as writes (no read
//! snapshot for SQLite to refuse to upgrade) and, on PostgreSQL, skip rows another replica
//! holds (`FOR UPDATE SKIP LOCKED`).

use serde::Serialize;

use super::{now, Backend, Ctx, Store, StoreError};
use crate::model::AlertEvent;

/// Unix time in milliseconds, the unit of `next_attempt_at` and `delivered_at`.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as i64
}

/// Where a delivery is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    Dead,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Dead => "dead",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "delivered" => Some(Self::Delivered),
            "dead" => Some(Self::Dead),
            _ => None,
        }
    }
}

/// One alert with the state of its delivery to each sink.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct AlertRow {
    pub id: i64,
    pub key: String,
    pub group_id: String,
    pub chain: String,
    pub divergence_n: i64,
    pub event: String,
    pub rule: String,
    pub severity: String,
    pub block_number: i64,
    /// The body sent to webhooks.
    #[schema(value_type = Object)]
    #[sqlx(flatten, try_from = "StoredPayload")]
    pub payload: serde_json::Value,
    /// Unix seconds.
    pub created_at: String,
    /// Whether the delivery rows of the configured sinks exist yet.
    #[sqlx(flatten, try_from = "FannedOut")]
    pub fanned_out: bool,
    /// Read with a query of their own.
    #[sqlx(skip)]
    pub deliveries: Vec<DeliveryRow>,
}

/// The `payload` column: JSON text, read as a value (as a string if it is not JSON).
#[derive(sqlx::FromRow)]
pub struct StoredPayload {
    payload: String,
}

impl From<StoredPayload> for serde_json::Value {
    fn from(p: StoredPayload) -> serde_json::Value {
        serde_json::from_str(&p.payload).unwrap_or(serde_json::Value::String(p.payload))
    }
}

/// The `fanned_out` column, an integer flag (neither backend's integer decodes as a `bool`
/// through `Any`).
#[derive(sqlx::FromRow)]
pub struct FannedOut {
    fanned_out: i64,
}

impl From<FannedOut> for bool {
    fn from(f: FannedOut) -> bool {
        f.fanned_out != 0
    }
}

/// The delivery of one alert to one sink.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct DeliveryRow {
    pub sink: String,
    pub status: String,
    pub attempts: i64,
    /// Unix ms: when a pending delivery is next tried (or its claim expires).
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
    /// Unix ms.
    pub delivered_at: Option<i64>,
}

/// Which alerts to return, newest first.
#[derive(Debug, Clone, Default)]
pub struct AlertFilter {
    pub group: Option<String>,
    /// Alerts with at least one delivery in this state.
    pub status: Option<DeliveryStatus>,
    pub event: Option<AlertEvent>,
    /// Keyset cursor: only alerts with an id below this one (the last id of the previous page).
    pub before: Option<i64>,
    pub limit: Option<i64>,
}

/// Deliveries by state, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AlertCounts {
    pub pending: i64,
    pub delivered: i64,
    pub dead: i64,
}

/// An alert waiting for its delivery rows.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UnroutedAlert {
    pub id: i64,
    pub group_id: String,
    pub severity: String,
    pub rule: String,
    /// The JSON body (its `divergence.item` names a covenant finding's covenant).
    pub payload: String,
}

impl UnroutedAlert {
    /// The item of the divergence the alert is about.
    pub fn item(&self) -> Option<String> {
        let v: serde_json::Value = serde_json::from_str(&self.payload).ok()?;
        v["divergence"]["item"].as_str().map(str::to_string)
    }
}

/// A delivery this dispatcher claimed until its lease expires.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    pub alert_id: i64,
    pub sink: String,
    /// Including this one.
    pub attempts: i64,
    pub key: String,
    pub event: String,
    pub payload: String,
}

/// An alert as the outbox stores it: its columns, and the JSON body every sink starts from
/// (built by the alert module; stored here as it is).
#[derive(Debug, Clone)]
pub struct NewAlert {
    pub key: String,
    pub event: AlertEvent,
    pub group_id: String,
    pub chain: String,
    pub divergence_n: i64,
    pub rule: String,
    pub severity: String,
    pub block_number: i64,
    pub payload: String,
}

/// Writes alerts to the outbox; one already there under its key is left as it is.
pub(super) async fn insert_alerts(
    conn: &mut sqlx::AnyConnection,
    alerts: &[NewAlert],
) -> Result<(), StoreError> {
    for a in alerts {
        sqlx::query(
            "INSERT INTO alerts (key, group_id, chain, divergence_n, event, rule, severity, \
             block_number, payload, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (key) DO NOTHING",
        )
        .bind(&a.key)
        .bind(&a.group_id)
        .bind(&a.chain)
        .bind(a.divergence_n)
        .bind(a.event.as_str())
        .bind(&a.rule)
        .bind(&a.severity)
        .bind(a.block_number)
        .bind(&a.payload)
        .bind(now())
        .execute(&mut *conn)
        .await
        .ctx("writing alert")?;
    }
    Ok(())
}

/// A delivery row with the alert it belongs to.
#[derive(sqlx::FromRow)]
struct AlertDelivery {
    alert_id: i64,
    #[sqlx(flatten)]
    delivery: DeliveryRow,
}

impl Store {
    /// Waits until a batch that wrote alerts commits (in this process), or returns at once if
    /// one did since the last call. The dispatcher polls as well, for other processes.
    pub async fn alerts_written(&self) {
        self.outbox.notified().await
    }

    /// Alerts with their deliveries, newest first.
    pub async fn alerts(&self, f: &AlertFilter) -> Result<Vec<AlertRow>, StoreError> {
        let mut sql = String::from("SELECT * FROM alerts a WHERE 1 = 1");
        let mut n = 0;
        let mut p = || {
            n += 1;
            format!("${n}")
        };
        if f.group.is_some() {
            sql += &format!(" AND a.group_id = {}", p());
        }
        if f.status.is_some() {
            sql += &format!(
                " AND EXISTS (SELECT 1 FROM alert_deliveries d WHERE d.alert_id = a.id \
                 AND d.status = {})",
                p()
            );
        }
        if f.event.is_some() {
            sql += &format!(" AND a.event = {}", p());
        }
        if f.before.is_some() {
            sql += &format!(" AND a.id < {}", p());
        }
        sql += &format!(" ORDER BY a.id DESC LIMIT {}", p());
        let mut q = sqlx::query_as(&sql);
        if let Some(g) = &f.group {
            q = q.bind(g);
        }
        if let Some(s) = f.status {
            q = q.bind(s.as_str());
        }
        if let Some(e) = f.event {
            q = q.bind(e.as_str());
        }
        if let Some(b) = f.before {
            q = q.bind(b);
        }
        q = q.bind(f.limit.unwrap_or(100).clamp(1, 10_000));
        let mut alerts: Vec<AlertRow> = q.fetch_all(&self.pool).await.ctx("reading alerts")?;
        if alerts.is_empty() {
            return Ok(alerts);
        }
        let placeholders: Vec<String> = (1..=alerts.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT * FROM alert_deliveries WHERE alert_id IN ({}) ORDER BY alert_id, sink",
            placeholders.join(", ")
        );
        let mut q = sqlx::query_as(&sql);
        for a in &alerts {
            q = q.bind(a.id);
        }
        let mut by_alert: std::collections::HashMap<i64, Vec<DeliveryRow>> = Default::default();
        let rows: Vec<AlertDelivery> = q.fetch_all(&self.pool).await.ctx("reading alerts")?;
        for r in rows {
            by_alert.entry(r.alert_id).or_default().push(r.delivery);
        }
        for a in &mut alerts {
            a.deliveries = by_alert.remove(&a.id).unwrap_or_default();
        }
        Ok(alerts)
    }

    /// Deliveries by state.
    pub async fn alert_counts(&self) -> Result<AlertCounts, StoreError> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT status, COUNT(*) AS count FROM alert_deliveries GROUP BY status",
        )
        .fetch_all(&self.pool)
        .await
        .ctx("counting alert deliveries")?;
        let mut out = AlertCounts::default();
        for (status, count) in rows {
            match DeliveryStatus::parse(&status) {
                Some(DeliveryStatus::Pending) => out.pending = count,
                Some(DeliveryStatus::Delivered) => out.delivered = count,
                Some(DeliveryStatus::Dead) => out.dead = count,
                None => {}
            }
        }
        Ok(out)
    }

    /// Gives up to `limit` alerts their delivery rows: `route` names the sinks each goes to.
    /// Idempotent, and safe with several dispatchers: the alerts are marked first (skipping
    /// those another PostgreSQL replica holds), and delivery rows are inserted only if absent.
    /// Returns how many alerts were routed.
    pub async fn route_alerts(
        &self,
        limit: i64,
        route: impl Fn(&UnroutedAlert) -> Vec<String>,
    ) -> Result<usize, StoreError> {
        let ctx = "routing alerts";
        let lock = match self.backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let mut tx = self.pool.begin().await.ctx(ctx)?;
        let rows: Vec<UnroutedAlert> = sqlx::query_as(&format!(
            "UPDATE alerts SET fanned_out = 1 WHERE id IN (SELECT id FROM alerts WHERE \
             fanned_out = 0 ORDER BY id LIMIT $1{lock}) RETURNING id, group_id, severity, rule, payload"
        ))
        .bind(limit)
        .fetch_all(&mut *tx)
        .await
        .ctx(ctx)?;
        let now = now_ms();
        for alert in &rows {
            for sink in route(alert) {
                sqlx::query(
                    "INSERT INTO alert_deliveries (alert_id, sink, status, attempts, \
                     next_attempt_at) VALUES ($1, $2, 'pending', 0, $3) \
                     ON CONFLICT (alert_id, sink) DO NOTHING",
                )
                .bind(alert.id)
                .bind(&sink)
                .bind(now)
                .execute(&mut *tx)
                .await
                .ctx(ctx)?;
            }
        }
        tx.commit().await.ctx(ctx)?;
        Ok(rows.len())
    }

    /// Claims up to `limit` due deliveries until `lease_until` (unix ms), counting the attempt.
    pub async fn claim_deliveries(
        &self,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        let ctx = "claiming alert deliveries";
        let lock = match self.backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let rows: Vec<(i64, String, i64)> = sqlx::query_as(&format!(
            "UPDATE alert_deliveries SET next_attempt_at = $2, attempts = attempts + 1 \
             WHERE (alert_id, sink) IN (SELECT alert_id, sink FROM alert_deliveries \
             WHERE status = 'pending' AND next_attempt_at <= $1 \
             ORDER BY next_attempt_at LIMIT $3{lock}) RETURNING alert_id, sink, attempts"
        ))
        .bind(now)
        .bind(lease_until)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .ctx(ctx)?;
        let mut out = Vec::with_capacity(rows.len());
        for (alert_id, sink, attempts) in rows {
            let (key, event, payload) =
                sqlx::query_as("SELECT key, event, payload FROM alerts WHERE id = $1")
                    .bind(alert_id)
                    .fetch_one(&self.pool)
                    .await
                    .ctx(ctx)?;
            out.push(ClaimedDelivery {
                alert_id,
                sink,
                attempts,
                key,
                event,
                payload,
            });
        }
        Ok(out)
    }

    pub async fn mark_delivered(&self, alert_id: i64, sink: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE alert_deliveries SET status = 'delivered', delivered_at = $3, \
             last_error = NULL WHERE alert_id = $1 AND sink = $2",
        )
        .bind(alert_id)
        .bind(sink)
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .ctx("marking alert delivered")?;
        Ok(())
    }

    /// Records a failed attempt: retried at `retry_at` (unix ms), or `None`: dead.
    pub async fn mark_failed(
        &self,
        alert_id: i64,
        sink: &str,
        error: &str,
        retry_at: Option<i64>,
    ) -> Result<(), StoreError> {
        let (status, at) = match retry_at {
            Some(at) => ("pending", at),
            None => ("dead", now_ms()),
        };
        // Not over a delivery another dispatcher completed meanwhile.
        sqlx::query(
            "UPDATE alert_deliveries SET status = $3, next_attempt_at = $4, last_error = $5 \
             WHERE alert_id = $1 AND sink = $2 AND status = 'pending'",
        )
        .bind(alert_id)
        .bind(sink)
        .bind(status)
        .bind(at)
        .bind(error)
        .execute(&self.pool)
        .await
        .ctx("recording a failed alert delivery")?;
        Ok(())
    }

    /// Gives back a claimed delivery that was not attempted to its end (shutdown): due now,
    /// and the attempt not counted.
    pub async fn release_delivery(&self, alert_id: i64, sink: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE alert_deliveries SET next_attempt_at = $3, attempts = attempts - 1 \
             WHERE alert_id = $1 AND sink = $2 AND status = 'pending' AND attempts > 0",
        )
        .bind(alert_id)
        .bind(sink)
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .ctx("releasing an alert delivery")?;
        Ok(())
    }

    /// Re-arms the dead deliveries of the alert with this key: pending, due now, attempts from
    /// zero. Returns how many; `NotFound` if no alert has the key.
    pub async fn retry_alert(&self, key: &str) -> Result<u64, StoreError> {
        let ctx = "re-arming alert";
        let id: Option<i64> = sqlx::query_scalar("SELECT id FROM alerts WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .ctx(ctx)?;
        let id = id.ok_or_else(|| StoreError::NotFound(format!("alert {key}")))?;
        let done = sqlx::query(
            "UPDATE alert_deliveries SET status = 'pending', attempts = 0, \
             next_attempt_at = $2 WHERE alert_id = $1 AND status = 'dead'",
        )
        .bind(id)
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .ctx(ctx)?;
        if done.rows_affected() > 0 {
            self.outbox.notify_one();
        }
        Ok(done.rows_affected())
    }
}
