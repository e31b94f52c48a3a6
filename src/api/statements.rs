//! `/v1/covenants/{id}/statements…`: a covenant's compliance statements — one per period, each
//! a leaf of its chain's log — with the signed note of each and its inclusion proof against the
//! latest checkpoint.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::{ApiError, ApiPath, ApiQuery, ApiState};
use crate::ledger::proofs::{self, InclusionProof};
use crate::query::NoParams;
use crate::store::StatementRow;

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/v1/covenants/{id}/statements", get(list_statements))
        .route(
            "/v1/covenants/{id}/statements/{period}",
            get(show_statement),
        )
}

/// One statement of a covenant, as listed.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatementItem {
    pub covenant_id: String,
    /// The period's index: it covers blocks `period * P ..= (period + 1) * P - 1`.
    pub period: i64,
    /// The chain whose log holds the statement.
    pub chain: String,
    pub from_block: i64,
    pub to_block: i64,
    /// The covenant version stated.
    pub version: i64,
    /// The statement's entry in the log.
    pub leaf_index: i64,
    /// The statement: covenant, period, each clause's verdict with its findings, and the log
    /// it covers (the log leaf, as JSON).
    #[schema(value_type = Object)]
    pub statement: Value,
    /// When this server made it (not part of the statement).
    pub created_at: String,
}

impl From<&StatementRow> for StatementItem {
    fn from(r: &StatementRow) -> StatementItem {
        StatementItem {
            covenant_id: r.covenant_id.clone(),
            period: r.period,
            chain: r.chain.clone(),
            from_block: r.from_block,
            to_block: r.to_block,
            version: r.version,
            leaf_index: r.leaf_index,
            statement: serde_json::from_str(&r.body).unwrap_or(Value::Null),
            created_at: r.created_at.clone(),
        }
    }
}

/// One statement with what proves it: its exact bytes, its signed note, and its inclusion in
/// the log under the latest signed checkpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatementView {
    #[serde(flatten)]
    pub item: StatementItem,
    /// The canonical body: exactly the bytes of the log leaf (what the note signs).
    pub body: String,
    /// The body signed with the log's key (C2SP signed note: an origin line naming the
    /// covenant and period, then the body); absent when the log has no signing key.
    pub note: Option<String>,
    /// The verifier key (`name+id+key`) of the signer, if this server knows it.
    pub verifier_key: Option<String>,
    /// Every verifier key of this log that this server knows: the signing key first, then,
    /// during a key rotation, the previous key (which cosigns), then keys retired earlier. A
    /// note signed by any of them is the log's.
    pub verifier_keys: Vec<String>,
    /// The size of the latest signed checkpoint, when it covers the statement.
    pub checkpoint_size: Option<u64>,
    /// The statement's audit path in that checkpoint's tree.
    pub inclusion: Option<InclusionProof>,
}

/// 404 unless the covenant is registered.
async fn known_covenant(state: &ApiState, id: &str) -> Result<(), ApiError> {
    if state.store.covenant_versions(id).await?.is_empty() {
        return Err(ApiError::not_found(
            "covenant_not_found",
            format!("no covenant {id:?}"),
        ));
    }
    Ok(())
}

/// A covenant's compliance statements, oldest period first.
#[utoipa::path(get, path = "/v1/covenants/{id}/statements", tag = "covenants",
    params(("id" = String, Path, description = "The covenant's id")),
    responses((status = 200, body = Vec<StatementItem>),
              (status = 404, description = "`covenant_not_found`", body = super::openapi::ErrorBody)))]
pub async fn list_statements(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(NoParams {}): ApiQuery<NoParams>,
) -> Result<Json<Vec<StatementItem>>, ApiError> {
    known_covenant(&state, &id).await?;
    let rows = state.store.statements(&id).await?;
    Ok(Json(rows.iter().map(StatementItem::from).collect()))
}

/// One period's statement: its body, signed note, log entry and inclusion proof against the
/// latest checkpoint.
#[utoipa::path(get, path = "/v1/covenants/{id}/statements/{period}", tag = "covenants",
    params(("id" = String, Path, description = "The covenant's id"),
           ("period" = u64, Path, description = "The period's index")),
    responses((status = 200, body = StatementView),
              (status = 400, description = "`bad_parameter`", body = super::openapi::ErrorBody),
              (status = 404, description = "`covenant_not_found`, `statement_not_found`", body = super::openapi::ErrorBody)))]
pub async fn show_statement(
    State(state): State<ApiState>,
    ApiPath((id, period)): ApiPath<(String, String)>,
    ApiQuery(NoParams {}): ApiQuery<NoParams>,
) -> Result<Json<StatementView>, ApiError> {
    let period: i64 = period
        .parse::<u32>()
        .map_err(|_| ApiError::bad_parameter("period", "must be a period index"))?
        .into();
    known_covenant(&state, &id).await?;
    let Some(row) = state.store.statement(&id, period).await? else {
        return Err(ApiError::not_found(
            "statement_not_found",
            format!("covenant {id} has no statement of period {period}"),
        ));
    };
    let index = row.leaf_index.max(0) as u64;
    let checkpoint = state
        .store
        .latest_checkpoint(&row.chain)
        .await?
        .filter(|c| c.tree_size > index);
    let inclusion = match &checkpoint {
        Some(c) => {
            Some(proofs::inclusion(&state.store, &row.chain, index, Some(c.tree_size)).await?)
        }
        None => None,
    };
    let (verifier_key, verifier_keys) = state.published_keys();
    Ok(Json(StatementView {
        item: StatementItem::from(&row),
        body: row.body,
        note: row.note,
        verifier_key,
        verifier_keys,
        checkpoint_size: checkpoint.map(|c| c.tree_size),
        inclusion,
    }))
}
