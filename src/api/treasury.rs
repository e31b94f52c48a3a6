//! `/v1/groups/{id}/treasury` (the treasuries at a glance: balances, 30-day totals, the largest
//! outflows with their decisions, a balance history) and `/v1/groups/{id}/flows` (every
//! movement of value: JSON pages with a cursor, or with `Accept: text/csv` the whole export,
//! streamed from the database row by row).

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures::StreamExt;

use super::{ApiError, ApiPath, ApiQuery, ApiState};
use crate::holdings::{
    csv_header, csv_line, flows_page, flows_stream, treasury_view, FlowPage, FlowQuery,
    TreasuryView,
};
use crate::query::NoParams;
use crate::store::GroupRow;

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/v1/groups/{id}/treasury", get(show_treasury))
        .route("/v1/groups/{id}/flows", get(list_flows))
}

/// Each group's treasury view at the revision it was computed for. The view reads a window of
/// flows that grows with a group's activity, and it changes only when a batch is committed (or
/// unwound, or a version added), each of which bumps the group's revision: the page and the
/// API compute it once per revision however many read it, and readers arriving together wait
/// for the one computation instead of each starting their own.
#[derive(Clone, Default)]
pub struct TreasuryCache(
    std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, Entry>>>,
);

type Entry = (i64, std::sync::Arc<tokio::sync::OnceCell<TreasuryView>>);

impl TreasuryCache {
    /// The view of `group` at its revision: from the cache, or computed (once) and kept.
    pub async fn view(
        &self,
        store: &crate::store::Store,
        group: &GroupRow,
    ) -> Result<TreasuryView, crate::store::StoreError> {
        let cell = {
            // A poisoned lock only means a reader panicked between two lines below; the map
            // is still whole.
            let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
            let entry = map
                .entry(group.id.clone())
                .or_insert_with(|| (group.revision, Default::default()));
            if entry.0 != group.revision {
                *entry = (group.revision, Default::default());
            }
            entry.1.clone()
        };
        cell.get_or_try_init(|| treasury_view(store, group))
            .await
            .cloned()
    }
}

async fn group(state: &ApiState, id: &str) -> Result<GroupRow, ApiError> {
    state
        .store
        .group(id)
        .await?
        .ok_or_else(|| ApiError::group_not_found(id))
}

/// A group's treasuries at a glance: per treasury and asset, the balance at the indexed block
/// (base units and token units), the inflows and outflows of the last 30 days of block time,
/// a balance history, and the largest outflows of those 30 days with the decision behind each.
/// Amounts carry no fiat value (there is no price source).
#[utoipa::path(get, path = "/v1/groups/{id}/treasury", tag = "treasury",
    params(("id" = String, Path, description = "The group's id")),
    responses((status = 200, body = TreasuryView),
              (status = 400, description = "`bad_parameter`: this route takes no parameters", body = super::openapi::ErrorBody),
              (status = 404, description = "`group_not_found`", body = super::openapi::ErrorBody)))]
pub async fn show_treasury(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(_): ApiQuery<NoParams>,
) -> Result<Json<TreasuryView>, ApiError> {
    let g = group(&state, &id).await?;
    Ok(Json(state.treasury_cache.view(&state.store, &g).await?))
}

/// Whether the client asked for CSV.
fn wants_csv(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|m| {
            m.split(';')
                .next()
                .is_some_and(|m| m.trim().eq_ignore_ascii_case("text/csv"))
        })
}

/// Every movement of value into or out of a group's treasuries, in chain order: block, block
/// time (ISO 8601 UTC), treasury, direction, asset (symbol and address), amount in token units
/// and in base units, counterparty, the decision it belongs to, and the transaction. JSON pages
/// with a cursor; with `Accept: text/csv`, every row in the range as one CSV document
/// (`limit` and `cursor` do not apply), for an accountant's import.
#[utoipa::path(get, path = "/v1/groups/{id}/flows", tag = "treasury",
    params(("id" = String, Path, description = "The group's id"), FlowQuery),
    responses((status = 200, description = "A page of flows (JSON), or with `Accept: text/csv` the whole export",
               content((FlowPage = "application/json"), (String = "text/csv"))),
              (status = 400, description = "`bad_parameter`, naming it", body = super::openapi::ErrorBody),
              (status = 404, description = "`group_not_found`", body = super::openapi::ErrorBody)))]
pub async fn list_flows(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<FlowQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let range = q.range()?;
    let g = group(&state, &id).await?;
    if !wants_csv(&headers) {
        return Ok(Json(flows_page(&state.store, &g, &range).await?).into_response());
    }
    let rows = flows_stream(&state.store, &g, &range).await?;
    let header_line = csv_header().map_err(csv_failed)?;
    let body =
        futures::stream::once(async move { Ok::<_, std::io::Error>(Bytes::from(header_line)) })
            .chain(rows.map(|row| {
                let row = row.map_err(|e| {
                    // The status line is gone: the client sees the body cut short.
                    tracing::error!(error = %e, "the flows export failed in the store");
                    std::io::Error::other("the database could not answer")
                })?;
                csv_line(&row)
                    .map(Bytes::from)
                    .map_err(std::io::Error::other)
            }));
    let filename = format!("attachment; filename=\"{}-flows.csv\"", g.id);
    let mut response = (StatusCode::OK, Body::from_stream(body)).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&filename) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}

fn csv_failed(e: csv::Error) -> ApiError {
    tracing::error!(error = %e, "writing the CSV header");
    ApiError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        code: "export_failed",
        message: "the export could not be written".into(),
        details: None,
    }
}
