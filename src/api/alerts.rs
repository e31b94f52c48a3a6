//! `/v1/alerts`: every alert with the state of its delivery to each sink, newest first;
//! re-arming a dead alert (admin).

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

use super::{ApiError, ApiPath, ApiQuery, ApiState};
use crate::query::{alerts_page, parse_query, AlertPage, AlertQuery, NoParams};
use crate::store::StoreError;

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/v1/alerts", get(list_alerts))
        .route("/v1/alerts/{key}/retry", post(retry_alert))
}

/// Alerts of divergences opened, resolved, retracted or reopened, with each sink's delivery
/// state (pending, delivered, dead), newest first.
#[utoipa::path(get, path = "/v1/alerts", tag = "alerts",
    params(AlertQuery),
    responses((status = 200, body = AlertPage),
              (status = 400, description = "`bad_parameter`, naming it", body = super::openapi::ErrorBody)))]
pub async fn list_alerts(
    State(state): State<ApiState>,
    ApiQuery(q): ApiQuery<AlertQuery>,
) -> Result<Json<AlertPage>, ApiError> {
    let filter = q.filter()?;
    Ok(Json(alerts_page(&state.store, &filter).await?))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Retried {
    pub key: String,
    /// Dead deliveries made due again with their attempts reset.
    pub rearmed: u64,
}

/// Re-arms the dead deliveries of an alert (by its idempotency key). Admin.
#[utoipa::path(post, path = "/v1/alerts/{key}/retry", tag = "alerts",
    params(("key" = String, Path, description = "The alert's idempotency key")),
    security(("admin" = [])),
    responses((status = 200, body = Retried),
              (status = 401, description = "`unauthorized`", body = super::openapi::ErrorBody),
              (status = 403, description = "`admin_disabled`", body = super::openapi::ErrorBody),
              (status = 404, description = "`alert_not_found`", body = super::openapi::ErrorBody)))]
pub async fn retry_alert(
    State(state): State<ApiState>,
    headers: HeaderMap,
    ApiPath(key): ApiPath<String>,
    RawQuery(q): RawQuery,
) -> Result<Json<Retried>, ApiError> {
    state.require_admin(&headers)?;
    parse_query::<NoParams>(q.as_deref())?;
    match state.store.retry_alert(&key).await {
        Ok(rearmed) => Ok(Json(Retried { key, rearmed })),
        Err(StoreError::NotFound(_)) => Err(ApiError {
            status: StatusCode::NOT_FOUND,
            code: "alert_not_found",
            message: format!(
                "no alert has the key {}",
                key.chars().take(80).collect::<String>()
            ),
            details: None,
        }),
        Err(e) => Err(e.into()),
    }
}
