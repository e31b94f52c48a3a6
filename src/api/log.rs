//! `/v1/log/…`: the latest signed checkpoint, pages of entries, inclusion and consistency
//! proofs of a chain's log (`?chain=NAME`, optional when one chain is configured).

use axum::extract::{RawQuery, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::{ApiError, ApiState, Params};
use crate::ledger::proofs::{self, ConsistencyProof, InclusionProof};

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/v1/log/checkpoint", get(checkpoint))
        .route("/v1/log/entries", get(entries))
        .route("/v1/log/proof/inclusion", get(inclusion))
        .route("/v1/log/proof/consistency", get(consistency))
}

/// The chain a request is about.
fn chain(state: &ApiState, params: &Params) -> Result<String, ApiError> {
    match params.0.get("chain") {
        Some(c) if state.chains.contains(c) => Ok(c.clone()),
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
}

/// The latest signed checkpoint of a chain's log.
#[utoipa::path(get, path = "/v1/log/checkpoint", tag = "log",
    params(("chain" = Option<String>, Query, description = "Required when several chains are configured")),
    responses((status = 200, body = CheckpointView),
              (status = 400, description = "`bad_parameter`", body = super::openapi::ErrorBody),
              (status = 404, description = "`no_checkpoint`", body = super::openapi::ErrorBody)))]
pub async fn checkpoint(
    State(state): State<ApiState>,
    RawQuery(q): RawQuery,
) -> Result<Json<CheckpointView>, ApiError> {
    let params = Params::from_query(q.as_deref())?;
    params.only(&["chain"])?;
    let chain = chain(&state, &params)?;
    let Some(c) = state.store.latest_checkpoint(&chain).await? else {
        return Err(ApiError::not_found(
            "no_checkpoint",
            format!("no checkpoint of the {chain} log has been signed yet"),
        ));
    };
    Ok(Json(CheckpointView {
        chain,
        tree_size: c.tree_size,
        root: c.root,
        note: c.note,
        signed_at: c.signed_at,
        verifier_key: state.verifier.as_ref().map(|k| k.encode()),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EntryView {
    pub index: u64,
    pub leaf_hash: String,
    /// The leaf: a record, a manifest version or a retraction, as canonical JSON.
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
    params(("chain" = Option<String>, Query, description = "Required when several chains are configured"),
           ("start" = Option<u64>, Query, description = "First index, default 0"),
           ("end" = Option<u64>, Query, description = "One past the last index")),
    responses((status = 200, body = EntriesView),
              (status = 400, description = "`bad_parameter`, `out_of_range`", body = super::openapi::ErrorBody)))]
pub async fn entries(
    State(state): State<ApiState>,
    RawQuery(q): RawQuery,
) -> Result<Json<EntriesView>, ApiError> {
    let params = Params::from_query(q.as_deref())?;
    params.only(&["chain", "start", "end"])?;
    let chain = chain(&state, &params)?;
    let start = params.optional_u64("start")?.unwrap_or(0);
    let end = params.optional_u64("end")?;
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
    params(("chain" = Option<String>, Query, description = "Required when several chains are configured"),
           ("index" = u64, Query, description = "The entry"),
           ("size" = Option<u64>, Query, description = "The tree size to prove against")),
    responses((status = 200, body = InclusionView),
              (status = 400, description = "`bad_parameter`, `out_of_range`", body = super::openapi::ErrorBody)))]
pub async fn inclusion(
    State(state): State<ApiState>,
    RawQuery(q): RawQuery,
) -> Result<Json<InclusionView>, ApiError> {
    let params = Params::from_query(q.as_deref())?;
    params.only(&["chain", "index", "size"])?;
    let chain = chain(&state, &params)?;
    let index = params.required_u64("index")?;
    let size = params.optional_u64("size")?;
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
    params(("chain" = Option<String>, Query, description = "Required when several chains are configured"),
           ("from" = u64, Query, description = "The older tree size"),
           ("to" = Option<u64>, Query, description = "The newer tree size")),
    responses((status = 200, body = ConsistencyView),
              (status = 400, description = "`bad_parameter`, `out_of_range`", body = super::openapi::ErrorBody)))]
pub async fn consistency(
    State(state): State<ApiState>,
    RawQuery(q): RawQuery,
) -> Result<Json<ConsistencyView>, ApiError> {
    let params = Params::from_query(q.as_deref())?;
    params.only(&["chain", "from", "to"])?;
    let chain = chain(&state, &params)?;
    let from = params.required_u64("from")?;
    let to = params.optional_u64("to")?;
    let proof = proofs::consistency(&state.store, &chain, from, to).await?;
    Ok(Json(ConsistencyView { chain, proof }))
}
