//! `/v1/groups/{id}/dao.json` and the documents its URIs name under `/v1/groups/{id}/dao/`:
//! the group as EIP-4824 describes a DAO (members, proposals, activity log, contracts, and the
//! manifest version in force as its governance document), built by [`crate::dao::documents`].
//! URIs are absolute, from the request's `X-Forwarded-Proto` / `X-Forwarded-Host` or `Host`.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::groups::load_group;
use super::{ApiError, ApiPath, ApiQuery, ApiState};
use crate::dao::documents::{self, DaoLinks};
use crate::dao::CONTEXT;
use crate::manifest::Manifest;
use crate::query::NoParams;
use crate::store::ManifestVersion;

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/v1/groups/{id}/dao.json", get(dao))
        .route("/v1/groups/{id}/dao/members.json", get(members))
        .route("/v1/groups/{id}/dao/proposals.json", get(proposals))
        .route("/v1/groups/{id}/dao/activity.json", get(activity))
        .route("/v1/groups/{id}/dao/contracts.json", get(contracts))
        .route("/v1/groups/{id}/dao/governance.json", get(governance))
}

/// `scheme://host` as the client reached this server; a host that is not a plain name, address
/// and port is refused rather than written into documents.
fn base_url(headers: &HeaderMap) -> Result<String, ApiError> {
    let value = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let host = value("x-forwarded-host")
        .or_else(|| value(header::HOST.as_str()))
        .map(|h| h.split(',').next().unwrap_or("").trim())
        .unwrap_or("localhost");
    let plain = |b: u8| b.is_ascii_alphanumeric() || b".-:[]_".contains(&b);
    if host.is_empty() || host.len() > 255 || !host.bytes().all(plain) {
        return Err(ApiError::bad_parameter(
            "Host",
            "is not a host name and port",
        ));
    }
    let scheme = match value("x-forwarded-proto").map(str::trim) {
        Some("https") => "https",
        _ => "http",
    };
    Ok(format!("{scheme}://{host}"))
}

/// The group, its manifest version in force at the synced block, and its documents' links.
async fn group(
    state: &ApiState,
    id: &str,
    headers: &HeaderMap,
) -> Result<(ManifestVersion, DaoLinks), ApiError> {
    let base = base_url(headers)?;
    let (group, versions) = load_group(state, id).await?;
    let version = ManifestVersion::in_force_at(&versions, group.synced_to)
        .cloned()
        .ok_or_else(|| ApiError::group_not_found(id))?;
    Ok((
        version,
        DaoLinks {
            base,
            group: group.id,
        },
    ))
}

/// JSON-LD, as EIP-4824 documents are.
fn ld(doc: Value) -> Response {
    let mut r = (StatusCode::OK, Json(doc)).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/ld+json"),
    );
    r
}

fn manifest_of(v: &ManifestVersion) -> &Manifest {
    &v.manifest
}

/// EIP-4824 document (JSON-LD); its schema is in the repository under
/// `docs/schemas/eip4824/`.
#[derive(utoipa::ToSchema)]
#[schema(value_type = Object)]
pub struct DaoDocument(pub Value);

/// The group as an EIP-4824 daoURI document: `@context`, `type` "DAO", `name`, `description`,
/// and `membersURI`, `proposalsURI`, `activityLogURI`, `governanceURI`, `contractsURI`.
#[utoipa::path(get, path = "/v1/groups/{id}/dao.json", tag = "dao",
    params(("id" = String, Path, description = "The group's id")),
    responses((status = 200, content_type = "application/ld+json", body = DaoDocument),
              (status = 400, description = "`bad_parameter`: a parameter, or a Host header that is not a host", body = super::openapi::ErrorBody),
              (status = 404, description = "`group_not_found`", body = super::openapi::ErrorBody)))]
pub async fn dao(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(_): ApiQuery<NoParams>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (v, links) = group(&state, &id, &headers).await?;
    Ok(ld(documents::dao_document(manifest_of(&v), &links)))
}

/// EIP-4824 members: the owners of the group's declared treasury Safes.
#[utoipa::path(get, path = "/v1/groups/{id}/dao/members.json", tag = "dao",
    params(("id" = String, Path, description = "The group's id")),
    responses((status = 200, content_type = "application/ld+json", body = DaoDocument),
              (status = 400, description = "`bad_parameter`", body = super::openapi::ErrorBody),
              (status = 404, description = "`group_not_found`", body = super::openapi::ErrorBody)))]
pub async fn members(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(_): ApiQuery<NoParams>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (v, _) = group(&state, &id, &headers).await?;
    Ok(ld(documents::members_document(manifest_of(&v))))
}

/// EIP-4824 proposals: the governors' proposals, their status and their calls.
#[utoipa::path(get, path = "/v1/groups/{id}/dao/proposals.json", tag = "dao",
    params(("id" = String, Path, description = "The group's id")),
    responses((status = 200, content_type = "application/ld+json", body = DaoDocument),
              (status = 400, description = "`bad_parameter`", body = super::openapi::ErrorBody),
              (status = 404, description = "`group_not_found`", body = super::openapi::ErrorBody)))]
pub async fn proposals(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(_): ApiQuery<NoParams>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (v, links) = group(&state, &id, &headers).await?;
    let decisions = crate::decisions::decisions(&state.store, &id).await?;
    Ok(ld(documents::proposals_document(
        manifest_of(&v),
        &decisions,
        &links,
    )))
}

/// EIP-4824 activity log: who proposed and who voted on each proposal.
#[utoipa::path(get, path = "/v1/groups/{id}/dao/activity.json", tag = "dao",
    params(("id" = String, Path, description = "The group's id")),
    responses((status = 200, content_type = "application/ld+json", body = DaoDocument),
              (status = 400, description = "`bad_parameter`", body = super::openapi::ErrorBody),
              (status = 404, description = "`group_not_found`", body = super::openapi::ErrorBody)))]
pub async fn activity(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(_): ApiQuery<NoParams>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (v, _) = group(&state, &id, &headers).await?;
    let decisions = crate::decisions::decisions(&state.store, &id).await?;
    Ok(ld(documents::activity_document(
        manifest_of(&v),
        &decisions,
    )))
}

/// EIP-4824 contracts: every contract the manifest declares, with its name and description.
#[utoipa::path(get, path = "/v1/groups/{id}/dao/contracts.json", tag = "dao",
    params(("id" = String, Path, description = "The group's id")),
    responses((status = 200, content_type = "application/ld+json", body = DaoDocument),
              (status = 400, description = "`bad_parameter`", body = super::openapi::ErrorBody),
              (status = 404, description = "`group_not_found`", body = super::openapi::ErrorBody)))]
pub async fn contracts(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(_): ApiQuery<NoParams>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (v, _) = group(&state, &id, &headers).await?;
    Ok(ld(documents::contracts_document(manifest_of(&v))))
}

/// The governance document: the manifest version in force at the synced block (its number,
/// hash and first block, and the manifest in canonical form).
#[utoipa::path(get, path = "/v1/groups/{id}/dao/governance.json", tag = "dao",
    params(("id" = String, Path, description = "The group's id")),
    responses((status = 200, content_type = "application/ld+json", body = DaoDocument),
              (status = 400, description = "`bad_parameter`", body = super::openapi::ErrorBody),
              (status = 404, description = "`group_not_found`", body = super::openapi::ErrorBody)))]
pub async fn governance(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(_): ApiQuery<NoParams>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (v, links) = group(&state, &id, &headers).await?;
    let manifest: Value =
        serde_json::from_str(&v.manifest.canonical_json()).expect("the canonical form is JSON");
    Ok(ld(json!({
        "@context": CONTEXT,
        "type": "DAO",
        "name": v.manifest.name,
        "daoURI": links.dao(),
        "version": v.version,
        "hash": v.hash,
        "effective_block": v.effective_block,
        "manifest": manifest,
    })))
}
