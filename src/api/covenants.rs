//! `/v1/covenants…`: register (`POST`) and version (`PUT`) a covenant from its document, and a
//! party's ratification of a version (admin); list the covenants with their standing, and show
//! one with every party's ratification, every clause's verdict with its evidence, and the
//! covenant's history.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::ratification::bad_signatures;
use super::{ApiBody, ApiError, ApiPath, ApiQuery, ApiState};
use crate::covenants::{
    covenant_detail, covenant_list, CovenantDetail, CovenantError, CovenantList, PartySignatures,
};
use crate::manifest::ratify::{OwnerSignature, MAX_SIGNATURES};
use crate::query::{parse_query, CovenantUpdateQuery, NoParams};

/// The covenant routes of the API (the page is in [`super::page`]).
pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/v1/covenants", get(list_covenants).post(register_covenant))
        .route(
            "/v1/covenants/{id}",
            get(show_covenant).put(update_covenant),
        )
        .route("/v1/covenants/{id}/ratifications", post(ratify_covenant))
}

impl From<CovenantError> for ApiError {
    fn from(e: CovenantError) -> ApiError {
        match e {
            CovenantError::Invalid(e) => ApiError {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                code: "invalid_covenant",
                message: format!("the covenant is refused:\n{e}"),
                details: Some(serde_json::json!({ "problems": e.problems })),
            },
            CovenantError::Ratify(e) => e.into(),
            CovenantError::Store(e) => e.into(),
        }
    }
}

/// The body of `POST /v1/covenants/{id}/ratifications`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RatificationRequest {
    /// The ratifying party's id, as the covenant names it.
    pub party: String,
    /// The version ratified (default: the newest).
    #[serde(default)]
    pub version: Option<i64>,
    /// EIP-712 `CovenantRatification(string covenantId,uint256 version,bytes32 covenantHash,string party)`
    /// signatures, in domain `{name: "groupstate", version: "1", chainId}` of the first party
    /// group's chain.
    pub signatures: Vec<OwnerSignature>,
}

/// The covenant in a request body and the parties' signatures with it: the document alone
/// (YAML or JSON), or a JSON envelope `{"covenant": …, "signatures": {"party": [{"signer",
/// "signature"}]}}` with the document as an object or as text.
fn submission(body: &[u8]) -> Result<(String, PartySignatures), ApiError> {
    let text = std::str::from_utf8(body).map_err(|_| ApiError::bad_body("is not UTF-8"))?;
    let Some((covenant, signatures)) = super::ratification::envelope(text, "covenant")? else {
        return Ok((text.to_string(), PartySignatures::new()));
    };
    let signatures: PartySignatures = match signatures {
        Some(v) => serde_json::from_value(v)
            .map_err(|e| bad_signatures(format!("not a list of signatures by party: {e}")))?,
        None => PartySignatures::new(),
    };
    let count: usize = signatures.values().map(Vec::len).sum();
    if count > MAX_SIGNATURES {
        return Err(bad_signatures(format!(
            "{count} signatures; at most {MAX_SIGNATURES} are accepted"
        )));
    }
    Ok((covenant, signatures))
}

/// A covenant's detail, or a 404 naming it.
async fn detail(state: &ApiState, id: &str) -> Result<CovenantDetail, ApiError> {
    covenant_detail(&state.store, id, &state.explorers)
        .await?
        .ok_or_else(|| covenant_not_found(id))
}

fn covenant_not_found(id: &str) -> ApiError {
    let id: String = id.chars().take(64).collect();
    ApiError::not_found(
        "covenant_not_found",
        format!("no covenant {id} is registered"),
    )
}

/// Every covenant: its newest version and hash, parties, standing, open findings.
#[utoipa::path(get, path = "/v1/covenants", tag = "covenants",
    responses((status = 200, body = CovenantList)))]
pub async fn list_covenants(
    State(state): State<ApiState>,
    ApiQuery(NoParams {}): ApiQuery<NoParams>,
) -> Result<Json<CovenantList>, ApiError> {
    Ok(Json(covenant_list(&state.store).await?))
}

/// One covenant: the newest document and hash, every version, each party's ratification of
/// the newest, each clause's verdict (`breach`, `at_risk`, `holds`, `unjudged`) with its open
/// findings and their evidence, and the history of its findings (newest first, at most 200).
#[utoipa::path(get, path = "/v1/covenants/{id}", tag = "covenants",
    params(("id" = String, Path, description = "The covenant's id")),
    responses((status = 200, body = CovenantDetail),
              (status = 404, description = "`covenant_not_found`", body = super::openapi::ErrorBody)))]
pub async fn show_covenant(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(NoParams {}): ApiQuery<NoParams>,
) -> Result<Json<CovenantDetail>, ApiError> {
    Ok(Json(detail(&state, &id).await?))
}

/// Registers a covenant from its document (YAML or JSON body): version 1. Its party groups
/// must be registered, the Safes and timelocks its clauses name declared by a party group's
/// newest manifest, and the sinks it notifies configured. Admin.
#[utoipa::path(post, path = "/v1/covenants", tag = "covenants",
    request_body(content = String, content_type = "application/yaml",
                 description = "The covenant, YAML or JSON; or a JSON envelope `{\"covenant\": …, \"signatures\": {\"party\": [{\"signer\", \"signature\"}]}}` whose parties' ratifications of version 1 are checked before anything is stored (EIP-712, see `POST /v1/covenants/{id}/ratifications`)"),
    security(("admin" = [])),
    responses((status = 201, body = CovenantDetail),
              (status = 400, description = "`bad_body`, `bad_signatures`", body = super::openapi::ErrorBody),
              (status = 401, description = "`unauthorized`", body = super::openapi::ErrorBody),
              (status = 403, description = "`admin_disabled`", body = super::openapi::ErrorBody),
              (status = 409, description = "`conflict`: already registered", body = super::openapi::ErrorBody),
              (status = 422, description = "`invalid_covenant`: every problem by path in `details.problems`; `invalid_ratification`", body = super::openapi::ErrorBody),
              (status = 503, description = "`chain_unavailable`: a ratification could not be checked", body = super::openapi::ErrorBody)))]
pub async fn register_covenant(
    State(state): State<ApiState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    ApiBody(body): ApiBody,
) -> Result<(StatusCode, Json<CovenantDetail>), ApiError> {
    state.require_admin(&headers)?;
    parse_query::<NoParams>(q.as_deref())?;
    let (text, signatures) = submission(&body)?;
    let v = crate::covenants::add(
        &state.store,
        &state.chain_access,
        &text,
        &state.sinks,
        &signatures,
    )
    .await?;
    tracing::info!(covenant = %v.covenant_id, "covenant registered over the API");
    Ok((
        StatusCode::CREATED,
        Json(detail(&state, &v.covenant_id).await?),
    ))
}

/// Stores a new version of a covenant (same checks as registering it). Admin.
#[utoipa::path(put, path = "/v1/covenants/{id}", tag = "covenants",
    params(("id" = String, Path, description = "The covenant's id; must match the document's"),
           CovenantUpdateQuery),
    request_body(content = String, content_type = "application/yaml",
                 description = "The new version of the covenant, YAML or JSON; or a JSON envelope `{\"covenant\": …, \"signatures\": {\"party\": […]}}` whose ratifications of the version it becomes are checked before anything is stored"),
    security(("admin" = [])),
    responses((status = 200, body = CovenantDetail),
              (status = 400, description = "`bad_parameter`, `bad_body`, `bad_signatures`", body = super::openapi::ErrorBody),
              (status = 401, description = "`unauthorized`", body = super::openapi::ErrorBody),
              (status = 403, description = "`admin_disabled`", body = super::openapi::ErrorBody),
              (status = 404, description = "`covenant_not_found`", body = super::openapi::ErrorBody),
              (status = 409, description = "`conflict`: identical to the newest version, or not the expected version", body = super::openapi::ErrorBody),
              (status = 422, description = "`invalid_covenant`: every problem by path in `details.problems`; `invalid_ratification`", body = super::openapi::ErrorBody),
              (status = 503, description = "`chain_unavailable`: a ratification could not be checked", body = super::openapi::ErrorBody)))]
pub async fn update_covenant(
    State(state): State<ApiState>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
    RawQuery(q): RawQuery,
    ApiBody(body): ApiBody,
) -> Result<Json<CovenantDetail>, ApiError> {
    state.require_admin(&headers)?;
    let expected = parse_query::<CovenantUpdateQuery>(q.as_deref())?.expected_version()?;
    if state.store.covenant_versions(&id).await?.is_empty() {
        return Err(covenant_not_found(&id));
    }
    let (text, signatures) = submission(&body)?;
    crate::covenants::update(
        &state.store,
        &state.chain_access,
        &text,
        Some(&id),
        expected,
        &state.sinks,
        &signatures,
    )
    .await?;
    tracing::info!(covenant = %id, "covenant updated over the API");
    Ok(Json(detail(&state, &id).await?))
}

/// Stores a party's ratification of a covenant version: signatures of the owners of the first
/// Safe the party group's newest manifest declares, at its threshold (or of the Safe itself,
/// EIP-1271), or of an outside party's signers. Admin.
#[utoipa::path(post, path = "/v1/covenants/{id}/ratifications", tag = "covenants",
    params(("id" = String, Path, description = "The covenant's id")),
    request_body = RatificationRequest,
    security(("admin" = [])),
    responses((status = 200, body = CovenantDetail),
              (status = 400, description = "`bad_body`, `bad_signatures`", body = super::openapi::ErrorBody),
              (status = 401, description = "`unauthorized`", body = super::openapi::ErrorBody),
              (status = 403, description = "`admin_disabled`", body = super::openapi::ErrorBody),
              (status = 404, description = "`covenant_not_found`, `not_found`: no such version", body = super::openapi::ErrorBody),
              (status = 422, description = "`invalid_ratification`: the signatures do not ratify the version", body = super::openapi::ErrorBody),
              (status = 503, description = "`chain_unavailable`: the ratification could not be checked", body = super::openapi::ErrorBody)))]
pub async fn ratify_covenant(
    State(state): State<ApiState>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
    RawQuery(q): RawQuery,
    ApiBody(body): ApiBody,
) -> Result<Json<CovenantDetail>, ApiError> {
    state.require_admin(&headers)?;
    parse_query::<NoParams>(q.as_deref())?;
    let request: RatificationRequest = serde_json::from_slice(&body).map_err(ApiError::bad_body)?;
    if request.signatures.len() > MAX_SIGNATURES {
        return Err(bad_signatures(format!(
            "{} signatures; at most {MAX_SIGNATURES} are accepted",
            request.signatures.len()
        )));
    }
    if state.store.covenant_versions(&id).await?.is_empty() {
        return Err(covenant_not_found(&id));
    }
    crate::covenants::ratify(
        &state.store,
        &state.chain_access,
        &id,
        &request.party,
        request.version,
        &request.signatures,
    )
    .await?;
    tracing::info!(covenant = %id, party = %request.party, "covenant ratified over the API");
    Ok(Json(detail(&state, &id).await?))
}
