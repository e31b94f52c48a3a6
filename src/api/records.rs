//! `/v1/groups/{id}/records` and `/v1/groups/{id}/divergences`: filtered pages with cursors
//! that stay exact while the follower writes; acknowledging a divergence (admin).

use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use utoipa::ToSchema;

use super::groups::load_group;
use super::{ApiBody, ApiError, ApiPath, ApiQuery, ApiState};
use crate::query::{
    divergences_page, parse_query, records_page, DivergencePage, DivergenceQuery, NoParams,
    RecordPage, RecordQuery,
};
use crate::store::Divergence;

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/v1/groups/{id}/records", get(list_records))
        .route("/v1/groups/{id}/divergences", get(list_divergences))
        .route("/v1/groups/{id}/decisions", get(list_decisions))
        .route("/v1/groups/{id}/divergences/{n}/ack", post(ack_divergence))
}

/// A group's decision and transaction records with their chain evidence, in chain order.
#[utoipa::path(get, path = "/v1/groups/{id}/records", tag = "records",
    params(("id" = String, Path, description = "The group's id"), RecordQuery),
    responses((status = 200, body = RecordPage),
              (status = 400, description = "`bad_parameter`, naming it", body = super::openapi::ErrorBody),
              (status = 404, description = "`group_not_found`", body = super::openapi::ErrorBody)))]
pub async fn list_records(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<RecordQuery>,
) -> Result<Json<RecordPage>, ApiError> {
    let filter = q.filter()?;
    if state.store.group(&id).await?.is_none() {
        return Err(ApiError::group_not_found(&id));
    }
    Ok(Json(records_page(&state.store, &id, &filter).await?))
}

/// A group's divergences between declared and observed structure, by number.
#[utoipa::path(get, path = "/v1/groups/{id}/divergences", tag = "records",
    params(("id" = String, Path, description = "The group's id"), DivergenceQuery),
    responses((status = 200, body = DivergencePage),
              (status = 400, description = "`bad_parameter`, naming it", body = super::openapi::ErrorBody),
              (status = 404, description = "`group_not_found`", body = super::openapi::ErrorBody)))]
pub async fn list_divergences(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<DivergenceQuery>,
) -> Result<Json<DivergencePage>, ApiError> {
    let filter = q.filter()?;
    if state.store.group(&id).await?.is_none() {
        return Err(ApiError::group_not_found(&id));
    }
    Ok(Json(divergences_page(&state.store, &id, &filter).await?))
}

/// One decision: `type` is `proposal` (a Governor proposal with its votes, queue, execution,
/// timelock operation and outflows) or `safe_execution` (a Safe execution signed by its owners
/// or run by a module, with its signers or `module`, and `calls`: each call's `path`, `to`,
/// `value`, `operation`, `function` and arguments, the `asset` and `amount` it moved, and the
/// `verdict` — the rules it broke, empty when none).
#[derive(Debug, serde::Serialize, ToSchema)]
#[schema(value_type = Object)]
pub struct DecisionView(crate::decisions::Decision);

/// A group's decisions, in chain order of their first record: proposals and Safe executions
/// with the calls each made and the policy's verdict on each call.
#[utoipa::path(get, path = "/v1/groups/{id}/decisions", tag = "records",
    params(("id" = String, Path, description = "The group's id")),
    responses((status = 200, body = Vec<DecisionView>),
              (status = 400, description = "`bad_parameter`: this route takes no parameters", body = super::openapi::ErrorBody),
              (status = 404, description = "`group_not_found`", body = super::openapi::ErrorBody)))]
pub async fn list_decisions(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(_): ApiQuery<NoParams>,
) -> Result<Json<Vec<DecisionView>>, ApiError> {
    if state.store.group(&id).await?.is_none() {
        return Err(ApiError::group_not_found(&id));
    }
    let decisions = crate::decisions::decisions(&state.store, &id).await?;
    Ok(Json(decisions.into_iter().map(DecisionView).collect()))
}

/// The body of an acknowledgement.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Ack {
    /// Why the divergence is accepted for now (1 to 2000 characters).
    #[schema(min_length = 1, max_length = 2000)]
    pub note: String,
    /// The block hash the divergence opened at, as you saw it: if a reorg replaced the
    /// divergence under this number, the acknowledgement is refused with `conflict`.
    pub opened_block_hash: Option<String>,
}

/// The longest acknowledgement note.
const MAX_NOTE: usize = 2000;

/// Acknowledges an open divergence with a note. It stays open (the chain or a manifest can
/// still resolve it) but is marked acknowledged. Admin.
#[utoipa::path(post, path = "/v1/groups/{id}/divergences/{n}/ack", tag = "records",
    params(("id" = String, Path, description = "The group's id"),
           ("n" = u32, Path, description = "The divergence's number within the group")),
    request_body = Ack,
    security(("admin" = [])),
    responses((status = 200, body = Divergence),
              (status = 400, description = "`bad_parameter`, `bad_body`", body = super::openapi::ErrorBody),
              (status = 401, description = "`unauthorized`", body = super::openapi::ErrorBody),
              (status = 403, description = "`admin_disabled`", body = super::openapi::ErrorBody),
              (status = 404, description = "`group_not_found`, `not_found`", body = super::openapi::ErrorBody),
              (status = 409, description = "`conflict`: resolved, or replaced by a reorg", body = super::openapi::ErrorBody)))]
pub async fn ack_divergence(
    State(state): State<ApiState>,
    headers: HeaderMap,
    ApiPath((id, n)): ApiPath<(String, String)>,
    RawQuery(q): RawQuery,
    ApiBody(body): ApiBody,
) -> Result<Json<Divergence>, ApiError> {
    state.require_admin(&headers)?;
    parse_query::<NoParams>(q.as_deref())?;
    let n: i64 = n
        .parse::<u32>()
        .map_err(|_| ApiError::bad_parameter("n", "must be a divergence number"))?
        .into();
    let ack: Ack = serde_json::from_slice(&body).map_err(ApiError::bad_body)?;
    let note = ack.note.trim();
    if note.is_empty() || note.chars().count() > MAX_NOTE {
        return Err(ApiError::bad_body(format!(
            "note must hold 1 to {MAX_NOTE} characters"
        )));
    }
    load_group(&state, &id).await?;
    let d = state
        .store
        .acknowledge_divergence(&id, n, note, ack.opened_block_hash.as_deref())
        .await?;
    tracing::info!(group = %id, n, "divergence acknowledged over the API");
    Ok(Json(d))
}
