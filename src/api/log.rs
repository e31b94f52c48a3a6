//! `/v1/log/…`: the latest signed checkpoint, pages of entries, inclusion and consistency
//! proofs of a chain's log (`?chain=NAME`, optional when one chain is configured).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::{ApiError, ApiQuery, ApiState};
use crate::ledger::proofs::{self, ConsistencyProof, InclusionProof};
use crate::query::{CheckpointQuery, ConsistencyQuery, EntriesQuery, InclusionQuery};

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/v1/log/checkpoint", get(checkpoint))
        .route("/v1/log/entries", get(entries))
        .route("/v1/log/proof/inclusion", get(inclusion))
        .route("/v1/log/proof/consistency", get(consistency))
}

/// The chain a request is about.
fn chain(state: &ApiState, given: Option<&str>) -> Result<String, ApiError> {
    match given {
        Some(c) if state.chains.iter().any(|k| k == c) => Ok(c.to_string()),
        Some(_) => Err(ApiError::bad_parameter(
            "chain",
            format!("unknown chain (known: {})", state.chains.join(", ")),
        )),
        None if state.chains.len() == 1 => Ok(state.chains[0].clone()),
        None => Err(ApiError::bad_parameter(
            "chain",
            format!("is required: several chains ({})", state.chains.join(", ")),
        )),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckpointView {
    pub chain: String,
    pub tree_size: u64,
    /// The root, hex.
    pub root: String,
    /// The signed note (C2SP tlog-checkpoint).
    pub note: String,
    pub signed_at: String,
    /// The verifier key (`name+id+key`) of the signer, if this server knows it.
    pub verifier_key: Option<String>,
    /// Every verifier key of this log that this server knows: the signing key first, then,
    /// during a key rotation, the previous key (which cosigns), then keys retired earlier. A
    /// note signed by any of them is the log's.
    pub verifier_keys: Vec<String>,
}

/// The latest signed checkpoint of a chain's log.
#[utoipa::path(get, path = "/v1/log/checkpoint", tag = "log",
    params(CheckpointQuery),
    responses((status = 200, body = CheckpointView),
              (status = 400, description = "`bad_parameter`", body = super::openapi::ErrorBody),
              (status = 404, description = "`no_checkpoint`", body = super::openapi::ErrorBody)))]
pub async fn checkpoint(
    State(state): State<ApiState>,
    ApiQuery(q): ApiQuery<CheckpointQuery>,
) -> Result<Json<CheckpointView>, ApiError> {
    let chain = chain(&state, q.chain.as_deref())?;
    let Some(c) = state.store.latest_checkpoint(&chain).await? else {
        return Err(ApiError::not_found(
            "no_checkpoint",
            format!("no checkpoint of the {chain} log has been signed yet"),
        ));
    };
    let (verifier_key, verifier_keys) = state.published_keys();
    Ok(Json(CheckpointView {
        chain,
        tree_size: c.tree_size,
        root: c.root,
        note: c.note,
        signed_at: c.signed_at,
        verifier_key,
        verifier_keys,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EntryView {
    pub index: u64,
    pub leaf_hash: String,
    /// The leaf: a record, a manifest version, a retraction or a covenant statement, as
    /// canonical JSON.
    #[schema(value_type = Object)]
    pub leaf: Value,
    /// The retraction that voided this entry, after a reorg below finality.
    pub voided_by: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EntriesView {
    pub chain: String,
    pub tree_size: u64,
    pub start: u64,
    /// One past the last entry returned.
    pub end: u64,
    pub entries: Vec<EntryView>,
}

/// A page of the log's entries (at most 1000).
#[utoipa::path(get, path = "/v1/log/entries", tag = "log",
    params(EntriesQuery),
    responses((status = 200, body = EntriesView),
              (status = 400, description = "`bad_parameter`, `out_of_range`", body = super::openapi::ErrorBody)))]
pub async fn entries(
    State(state): State<ApiState>,
    ApiQuery(q): ApiQuery<EntriesQuery>,
) -> Result<Json<EntriesView>, ApiError> {
    let chain = chain(&state, q.chain.as_deref())?;
    let (start, end) = q.range()?;
    let size = state.store.log_size(&chain).await?;
    let page = proofs::entries(&state.store, &chain, start, end).await?;
    let entries: Vec<EntryView> = page
        .iter()
        .map(|e| EntryView {
            index: e.index,
            leaf_hash: e.leaf_hash.clone(),
            leaf: serde_json::from_str::<Value>(&e.leaf).unwrap_or(Value::Null),
            voided_by: e.voided_by,
        })
        .collect();
    Ok(Json(EntriesView {
        chain,
        tree_size: size,
        start,
        end: start + entries.len() as u64,
        entries,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InclusionView {
    pub chain: String,
    pub proof: InclusionProof,
}

/// The audit path of entry `index` in the tree of `size` entries (default: the latest
/// checkpoint's).
#[utoipa::path(get, path = "/v1/log/proof/inclusion", tag = "log",
    params(InclusionQuery),
    responses((status = 200, body = InclusionView),
              (status = 400, description = "`bad_parameter`, `out_of_range`", body = super::openapi::ErrorBody)))]
pub async fn inclusion(
    State(state): State<ApiState>,
    ApiQuery(q): ApiQuery<InclusionQuery>,
) -> Result<Json<InclusionView>, ApiError> {
    let chain = chain(&state, q.chain.as_deref())?;
    let (index, size) = q.position()?;
    let proof = proofs::inclusion(&state.store, &chain, index, size).await?;
    Ok(Json(InclusionView { chain, proof }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsistencyView {
    pub chain: String,
    pub proof: ConsistencyProof,
}

/// Proves the tree of `to` entries (default: the latest checkpoint's) extends the tree of
/// `from` entries.
#[utoipa::path(get, path = "/v1/log/proof/consistency", tag = "log",
    params(ConsistencyQuery),
    responses((status = 200, body = ConsistencyView),
              (status = 400, description = "`bad_parameter`, `out_of_range`", body = super::openapi::ErrorBody)))]
pub async fn consistency(
    State(state): State<ApiState>,
    ApiQuery(q): ApiQuery<ConsistencyQuery>,
) -> Result<Json<ConsistencyView>, ApiError> {
    let chain = chain(&state, q.chain.as_deref())?;
    let (from, to) = q.sizes()?;
    let proof = proofs::consistency(&state.store, &chain, from, to).await?;
    Ok(Json(ConsistencyView { chain, proof }))
}
