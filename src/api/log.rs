//! `/v1/log/…`: the latest signed checkpoint, pages of entries, inclusion and consistency
//! proofs of a chain's log (`?chain=NAME`, optional when one chain is configured).

use axum::extract::{RawQuery, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::{ApiError, ApiState, Params};
use crate::ledger::proofs;

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

async fn checkpoint(
    State(state): State<ApiState>,
    RawQuery(q): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let params = Params::parse(q.as_deref())?;
    params.only(&["chain"])?;
    let chain = chain(&state, &params)?;
    let Some(c) = state.store.latest_checkpoint(&chain).await? else {
        return Err(ApiError::not_found(
            "no_checkpoint",
            format!("no checkpoint of the {chain} log has been signed yet"),
        ));
    };
    Ok(Json(json!({
        "chain": chain,
        "tree_size": c.tree_size,
        "root": c.root,
        "note": c.note,
        "signed_at": c.signed_at,
        "verifier_key": state.verifier.as_ref().map(|k| k.encode()),
    })))
}

async fn entries(
    State(state): State<ApiState>,
    RawQuery(q): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let params = Params::parse(q.as_deref())?;
    params.only(&["chain", "start", "end"])?;
    let chain = chain(&state, &params)?;
    let start = params.optional_u64("start")?.unwrap_or(0);
    let end = params.optional_u64("end")?;
    let size = state.store.log_size(&chain).await?;
    let page = proofs::entries(&state.store, &chain, start, end).await?;
    let entries: Vec<Value> = page
        .iter()
        .map(|e| {
            json!({
                "index": e.index,
                "leaf_hash": e.leaf_hash,
                "leaf": serde_json::from_str::<Value>(&e.leaf).unwrap_or(Value::Null),
                "voided_by": e.voided_by,
            })
        })
        .collect();
    Ok(Json(json!({
        "chain": chain,
        "tree_size": size,
        "start": start,
        "end": start + entries.len() as u64,
        "entries": entries,
    })))
}

async fn inclusion(
    State(state): State<ApiState>,
    RawQuery(q): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let params = Params::parse(q.as_deref())?;
    params.only(&["chain", "index", "size"])?;
    let chain = chain(&state, &params)?;
    let index = params.required_u64("index")?;
    let size = params.optional_u64("size")?;
    let proof = proofs::inclusion(&state.store, &chain, index, size).await?;
    Ok(Json(json!({"chain": chain, "proof": proof})))
}

async fn consistency(
    State(state): State<ApiState>,
    RawQuery(q): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let params = Params::parse(q.as_deref())?;
    params.only(&["chain", "from", "to"])?;
    let chain = chain(&state, &params)?;
    let from = params.required_u64("from")?;
    let to = params.optional_u64("to")?;
    let proof = proofs::consistency(&state.store, &chain, from, to).await?;
    Ok(Json(json!({"chain": chain, "proof": proof})))
}
