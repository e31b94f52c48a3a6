//! The OpenAPI 3.1 document of the HTTP API, generated from the handlers' `#[utoipa::path]`
//! annotations and the response types' `ToSchema` derives, served at `/v1/openapi.json`.
//! The tests walk it and call every route it lists, checking answers against its schemas.

use axum::Json;
use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use super::{alerts, groups, log, ops, page, records};

/// Every error answer: `{"error": {"code", "message"}}`, with `details` for some codes.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable: bad_parameter, bad_body, unauthorized, admin_disabled, not_found,
    /// group_not_found, alert_not_found, conflict, id_mismatch, invalid_manifest, unknown_chain, no_checkpoint,
    /// out_of_range, not_ready, storage_unavailable, log_error, method_not_allowed,
    /// payload_too_large.
    pub code: String,
    /// For people; may change.
    pub message: String,
    /// Structured detail (the problems of a refused manifest).
    #[schema(value_type = Option<Object>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}

struct AdminAuth;

impl Modify for AdminAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "admin",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("`api.admin_token` from the configuration"))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "groupstate",
        description = "Declared governance beside onchain reality: groups, their records and \
                       divergences, and the verifiable log.",
    ),
    paths(
        groups::list_groups,
        groups::register_group,
        groups::show_group,
        groups::update_group,
        groups::show_state,
        records::list_records,
        records::list_divergences,
        records::ack_divergence,
        alerts::list_alerts,
        alerts::retry_alert,
        log::checkpoint,
        log::entries,
        log::inclusion,
        log::consistency,
        ops::healthz,
        ops::readyz,
        ops::metrics,
        page::status_page,
    ),
    components(schemas(ErrorBody, ErrorDetail)),
    modifiers(&AdminAuth),
)]
pub struct ApiDoc;

/// The document, built once per call (it is small and rarely fetched).
pub fn document_value() -> serde_json::Value {
    serde_json::to_value(ApiDoc::openapi()).expect("the OpenAPI document serialises")
}

/// `GET /v1/openapi.json`.
pub async fn document() -> Json<serde_json::Value> {
    Json(document_value())
}
