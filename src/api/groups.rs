//! `/v1/groups…`: list and show groups, register (`POST`) and version (`PUT`) them from a
//! manifest (admin), and a group's declared-beside-observed state.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::{Json, Router};

use super::{ApiBody, ApiError, ApiPath, ApiQuery, ApiState};
use crate::manifest::ratify::OwnerSignature;
use crate::manifest::Manifest;
use crate::query::{
    group_detail, group_list, parse_query, GroupDetail, GroupList, NoParams, UpdateQuery,
};
use crate::state::{group_state, GroupState};
use crate::store::{GroupRow, ManifestVersion};

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/v1/groups", get(list_groups).post(register_group))
        .route("/v1/groups/{id}", get(show_group).put(update_group))
        .route("/v1/groups/{id}/state", get(show_state))
        .route("/v1/groups/{id}/history", get(show_history))
}

/// A group and its versions, or a 404 naming it.
pub(super) async fn load_group(
    state: &ApiState,
    id: &str,
) -> Result<(GroupRow, Vec<ManifestVersion>), ApiError> {
    let Some(group) = state.store.group(id).await? else {
        return Err(ApiError::group_not_found(id));
    };
    let versions = state.store.manifest_versions(id).await?;
    Ok((group, versions))
}

/// Every registered group.
#[utoipa::path(get, path = "/v1/groups", tag = "groups",
    responses((status = 200, body = GroupList)))]
pub async fn list_groups(
    State(state): State<ApiState>,
    ApiQuery(NoParams {}): ApiQuery<NoParams>,
) -> Result<Json<GroupList>, ApiError> {
    Ok(Json(group_list(&state.store).await?))
}

/// One group: its current manifest and every version.
#[utoipa::path(get, path = "/v1/groups/{id}", tag = "groups",
    params(("id" = String, Path, description = "The group's id")),
    responses((status = 200, body = GroupDetail),
              (status = 404, description = "`group_not_found`", body = super::openapi::ErrorBody)))]
pub async fn show_group(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(NoParams {}): ApiQuery<NoParams>,
) -> Result<Json<GroupDetail>, ApiError> {
    let (group, versions) = load_group(&state, &id).await?;
    group_detail(&group, &versions)
        .map(Json)
        .ok_or_else(|| ApiError::group_not_found(&id))
}

/// The manifest in a request body (YAML or JSON, or in a JSON envelope with signatures),
/// checked, on a configured chain, and the signatures that ratify it.
fn manifest_of(
    state: &ApiState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Manifest, Vec<OwnerSignature>), ApiError> {
    let (text, signatures) = super::ratification::submission(headers, body)?;
    let manifest = Manifest::parse(&text).map_err(|e| ApiError {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        code: "invalid_manifest",
        message: format!("the manifest is refused:\n{e}"),
        details: Some(serde_json::json!({ "problems": e.problems })),
    })?;
    if !state.chains.contains(&manifest.chain) {
        return Err(ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "unknown_chain",
            message: format!(
                "chain: {} is not configured here (configured: {})",
                manifest.chain,
                state.chains.join(", ")
            ),
            details: None,
        });
    }
    Ok((manifest, signatures))
}

/// Registers a group from its manifest (YAML or JSON body). Admin.
#[utoipa::path(post, path = "/v1/groups", tag = "groups",
    params(("X-Groupstate-Signatures" = Option<String>, Header,
            description = "Owners' signatures ratifying the manifest: a JSON list of `{signer, signature}`")),
    request_body(content = String, content_type = "application/yaml",
                 description = "The group state manifest, YAML or JSON; or a JSON envelope `{\"manifest\": …, \"signatures\": [{\"signer\", \"signature\"}]}`. Signatures are EIP-712 `ManifestRatification(string groupId,uint256 version,bytes32 manifestHash)` in domain `{name: \"groupstate\", version: \"1\", chainId}`, by the owners of the first declared Safe as the chain has them"),
    security(("admin" = [])),
    responses((status = 201, body = GroupDetail),
              (status = 400, description = "`bad_body`, `bad_signatures`", body = super::openapi::ErrorBody),
              (status = 401, description = "`unauthorized`", body = super::openapi::ErrorBody),
              (status = 403, description = "`admin_disabled`", body = super::openapi::ErrorBody),
              (status = 409, description = "`conflict`: already registered", body = super::openapi::ErrorBody),
              (status = 422, description = "`invalid_manifest`, `unknown_chain`, `invalid_ratification`, `ratification_required`", body = super::openapi::ErrorBody),
              (status = 503, description = "`chain_unavailable`: the ratification could not be checked", body = super::openapi::ErrorBody)))]
pub async fn register_group(
    State(state): State<ApiState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    ApiBody(body): ApiBody,
) -> Result<(StatusCode, Json<GroupDetail>), ApiError> {
    state.require_admin(&headers)?;
    parse_query::<NoParams>(q.as_deref())?;
    let (manifest, signatures) = manifest_of(&state, &headers, &body)?;
    let chain = state.chain_access.get(&manifest.chain);
    crate::ratify::register(&state.store, chain, &manifest, &signatures).await?;
    let (group, versions) = load_group(&state, &manifest.id).await?;
    tracing::info!(group = %manifest.id, "group registered over the API");
    let detail =
        group_detail(&group, &versions).ok_or_else(|| ApiError::group_not_found(&group.id))?;
    Ok((StatusCode::CREATED, Json(detail)))
}

/// Stores a new version of a group's manifest, in force from `effective_block` (default: the
/// first block the group has not processed). Admin.
#[utoipa::path(put, path = "/v1/groups/{id}", tag = "groups",
    params(("id" = String, Path, description = "The group's id; must match the manifest's"),
           UpdateQuery,
           ("X-Groupstate-Signatures" = Option<String>, Header,
            description = "Owners' signatures ratifying the version: a JSON list of `{signer, signature}`")),
    request_body(content = String, content_type = "application/yaml",
                 description = "The new manifest, YAML or JSON; or a JSON envelope `{\"manifest\": …, \"signatures\": […]}`. Signed by the owners the previous version declares for its first Safe, at its threshold (EIP-712, see `POST /v1/groups`); without signatures, an executed proposal of a governor the previous version declares whose calldata carries the new hash ratifies it"),
    security(("admin" = [])),
    responses((status = 200, body = GroupDetail),
              (status = 400, description = "`bad_parameter`, `id_mismatch`, `bad_body`, `bad_signatures`", body = super::openapi::ErrorBody),
              (status = 401, description = "`unauthorized`", body = super::openapi::ErrorBody),
              (status = 403, description = "`admin_disabled`", body = super::openapi::ErrorBody),
              (status = 404, description = "`group_not_found`", body = super::openapi::ErrorBody),
              (status = 409, description = "`conflict`: identical, or an effective block already processed", body = super::openapi::ErrorBody),
              (status = 422, description = "`invalid_manifest`, `unknown_chain`, `invalid_ratification`, `ratification_required`", body = super::openapi::ErrorBody),
              (status = 503, description = "`chain_unavailable`: the ratification could not be checked", body = super::openapi::ErrorBody)))]
pub async fn update_group(
    State(state): State<ApiState>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
    RawQuery(q): RawQuery,
    ApiBody(body): ApiBody,
) -> Result<Json<GroupDetail>, ApiError> {
    state.require_admin(&headers)?;
    let effective_block = parse_query::<UpdateQuery>(q.as_deref())?.effective_block()?;
    let (manifest, signatures) = manifest_of(&state, &headers, &body)?;
    if manifest.id != id {
        return Err(ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "id_mismatch",
            message: format!(
                "the manifest's id is {}, the path's is {}",
                manifest.id,
                id.chars().take(64).collect::<String>()
            ),
            details: None,
        });
    }
    if state.store.group(&id).await?.is_none() {
        return Err(ApiError::group_not_found(&id));
    }
    let chain = state.chain_access.get(&manifest.chain);
    crate::ratify::update(&state.store, chain, &manifest, effective_block, &signatures).await?;
    let (group, versions) = load_group(&state, &id).await?;
    tracing::info!(group = %id, "group updated over the API");
    group_detail(&group, &versions)
        .map(Json)
        .ok_or_else(|| ApiError::group_not_found(&id))
}

/// The group's structure as declared beside as observed, contract by contract, with every
/// disagreement.
#[utoipa::path(get, path = "/v1/groups/{id}/state", tag = "groups",
    params(("id" = String, Path, description = "The group's id")),
    responses((status = 200, body = GroupState),
              (status = 404, description = "`group_not_found`", body = super::openapi::ErrorBody)))]
pub async fn show_state(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(NoParams {}): ApiQuery<NoParams>,
) -> Result<Json<GroupState>, ApiError> {
    let (group, versions) = load_group(&state, &id).await?;
    Ok(Json(group_state(&state.store, &group, &versions).await?))
}

/// The group's document version by version: whether and by whom each was ratified, what
/// changed from the version before, and the divergences it resolved.
#[utoipa::path(get, path = "/v1/groups/{id}/history", tag = "groups",
    params(("id" = String, Path, description = "The group's id")),
    responses((status = 200, body = Vec<crate::history::VersionHistory>),
              (status = 404, description = "`group_not_found`", body = super::openapi::ErrorBody)))]
pub async fn show_history(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(NoParams {}): ApiQuery<NoParams>,
) -> Result<Json<Vec<crate::history::VersionHistory>>, ApiError> {
    if state.store.group(&id).await?.is_none() {
        return Err(ApiError::group_not_found(&id));
    }
    Ok(Json(
        crate::history::group_history(&state.store, &id).await?,
    ))
}
