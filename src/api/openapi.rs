//! The OpenAPI 3.1 document of the HTTP API, generated from the handlers' `#[utoipa::path]`
//! annotations and the response types' `ToSchema` derives, served at `/v1/openapi.json`.
//! The tests walk it and call every route it lists, checking answers against its schemas.

use axum::Json;
use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use super::{alerts, covenants, dao, groups, log, ops, page, records, statements, treasury};

/// Every error answer: `{"error": {"code", "message"}}`, with `details` for some codes.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable: bad_parameter, bad_body, unauthorized, admin_disabled, not_found,
    /// group_not_found, alert_not_found, covenant_not_found, statement_not_found,
    /// invalid_covenant, conflict, id_mismatch, invalid_manifest, unknown_chain, no_checkpoint,
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
        groups::show_history,
        records::list_records,
        records::list_divergences,
        records::list_decisions,
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
        dao::dao,
        dao::members,
        dao::proposals,
        dao::activity,
        dao::contracts,
        dao::governance,
        treasury::show_treasury,
        treasury::list_flows,
        statements::list_statements,
        statements::show_statement,
        covenants::list_covenants,
        covenants::register_covenant,
        covenants::show_covenant,
        covenants::update_covenant,
        covenants::ratify_covenant,
        page::covenant::covenant_page,
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_aux::serde_introspection::serde_introspect;

    use super::*;
    use crate::query::{
        parse_query, AlertQuery, CheckpointQuery, ConsistencyQuery, CovenantUpdateQuery,
        DivergenceQuery, EntriesQuery, InclusionQuery, NoParams, ParamError, RecordQuery,
        UpdateQuery,
    };

    /// Reads a query string and checks it as the route does (without the state a route needs).
    type Check = fn(Option<&str>) -> Result<(), ParamError>;

    /// Every documented operation, with the fields of the struct its query string is read into
    /// and its check.
    fn operations() -> Vec<(&'static str, &'static str, &'static [&'static str], Check)> {
        let none = serde_introspect::<NoParams>();
        let no_params: Check = |q| parse_query::<NoParams>(q).map(drop);
        vec![
            ("get", "/v1/groups", none, no_params),
            ("post", "/v1/groups", none, no_params),
            ("get", "/v1/groups/{id}", none, no_params),
            (
                "put",
                "/v1/groups/{id}",
                serde_introspect::<UpdateQuery>(),
                |q| parse_query::<UpdateQuery>(q)?.effective_block().map(drop),
            ),
            ("get", "/v1/groups/{id}/state", none, no_params),
            ("get", "/v1/groups/{id}/history", none, no_params),
            (
                "get",
                "/v1/groups/{id}/records",
                serde_introspect::<RecordQuery>(),
                |q| parse_query::<RecordQuery>(q)?.filter().map(drop),
            ),
            (
                "get",
                "/v1/groups/{id}/divergences",
                serde_introspect::<DivergenceQuery>(),
                |q| parse_query::<DivergenceQuery>(q)?.filter().map(drop),
            ),
            (
                "post",
                "/v1/groups/{id}/divergences/{n}/ack",
                none,
                no_params,
            ),
            ("get", "/v1/groups/{id}/decisions", none, no_params),
            ("get", "/v1/alerts", serde_introspect::<AlertQuery>(), |q| {
                parse_query::<AlertQuery>(q)?.filter().map(drop)
            }),
            ("post", "/v1/alerts/{key}/retry", none, no_params),
            (
                "get",
                "/v1/log/checkpoint",
                serde_introspect::<CheckpointQuery>(),
                |q| parse_query::<CheckpointQuery>(q).map(drop),
            ),
            (
                "get",
                "/v1/log/entries",
                serde_introspect::<EntriesQuery>(),
                |q| parse_query::<EntriesQuery>(q)?.range().map(drop),
            ),
            (
                "get",
                "/v1/log/proof/inclusion",
                serde_introspect::<InclusionQuery>(),
                |q| parse_query::<InclusionQuery>(q)?.position().map(drop),
            ),
            (
                "get",
                "/v1/log/proof/consistency",
                serde_introspect::<ConsistencyQuery>(),
                |q| parse_query::<ConsistencyQuery>(q)?.sizes().map(drop),
            ),
            // Operations and the status page read no query parameter.
            ("get", "/healthz", none, no_params),
            ("get", "/readyz", none, no_params),
            ("get", "/metrics", none, no_params),
            ("get", "/groups/{id}", none, no_params),
            ("get", "/v1/groups/{id}/dao.json", none, no_params),
            ("get", "/v1/groups/{id}/dao/members.json", none, no_params),
            ("get", "/v1/groups/{id}/dao/proposals.json", none, no_params),
            ("get", "/v1/groups/{id}/dao/activity.json", none, no_params),
            ("get", "/v1/groups/{id}/dao/contracts.json", none, no_params),
            (
                "get",
                "/v1/groups/{id}/dao/governance.json",
                none,
                no_params,
            ),
            ("get", "/v1/groups/{id}/treasury", none, no_params),
            ("get", "/v1/covenants/{id}/statements", none, no_params),
            (
                "get",
                "/v1/covenants/{id}/statements/{period}",
                none,
                no_params,
            ),
            ("get", "/v1/covenants", none, no_params),
            ("post", "/v1/covenants", none, no_params),
            ("get", "/v1/covenants/{id}", none, no_params),
            (
                "put",
                "/v1/covenants/{id}",
                serde_introspect::<CovenantUpdateQuery>(),
                |q| {
                    parse_query::<CovenantUpdateQuery>(q)?
                        .expected_version()
                        .map(drop)
                },
            ),
            ("post", "/v1/covenants/{id}/ratifications", none, no_params),
            ("get", "/covenants/{id}", none, no_params),
            (
                "get",
                "/v1/groups/{id}/flows",
                serde_introspect::<crate::holdings::FlowQuery>(),
                |q| {
                    parse_query::<crate::holdings::FlowQuery>(q)?
                        .range()
                        .map(drop)
                },
            ),
        ]
    }

    /// The parameters the document lists for an operation, `in` → names, and the required ones.
    fn documented(
        doc: &serde_json::Value,
        method: &str,
        path: &str,
    ) -> (Vec<String>, Vec<String>, Vec<String>) {
        let op = &doc["paths"][path][method];
        assert!(op.is_object(), "{method} {path} is not documented");
        let (mut query, mut in_path, mut required) = (Vec::new(), Vec::new(), Vec::new());
        for p in op["parameters"].as_array().into_iter().flatten() {
            let name = p["name"].as_str().unwrap().to_string();
            match p["in"].as_str() {
                Some("query") => {
                    if p["required"] == true {
                        required.push(name.clone());
                    }
                    query.push(name);
                }
                Some("path") => {
                    assert_eq!(p["required"], true, "{method} {path}: {name}");
                    in_path.push(name);
                }
                // Headers (the signatures of a manifest) are no query or path parameter.
                Some("header") => assert_ne!(p["required"], true, "{method} {path}: {name}"),
                other => panic!("{method} {path}: {name} in {other:?}"),
            }
        }
        (query, in_path, required)
    }

    /// The document lists every route and, for each, exactly the parameters its struct
    /// declares (the same names, in the same order), the required ones as required, and the
    /// path's own segments.
    #[test]
    fn the_document_lists_every_parameter_of_every_route() {
        let doc = document_value();
        let mut listed = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                listed.insert((method.clone(), path.clone()));
            }
        }
        let table = operations();
        let known: BTreeSet<_> = table
            .iter()
            .map(|(m, p, _, _)| (m.to_string(), p.to_string()))
            .collect();
        assert_eq!(
            listed, known,
            "the routes documented are the routes checked here"
        );

        for (method, path, fields, check) in table {
            let (query, in_path, required) = documented(&doc, method, path);
            assert_eq!(query, fields, "{method} {path}: query parameters");
            let segments: Vec<&str> = path
                .split('/')
                .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
                .collect();
            assert_eq!(in_path, segments, "{method} {path}: path parameters");
            // What the check says is missing from an empty query is what the document says
            // is required.
            match check(None) {
                Ok(()) => assert!(required.is_empty(), "{method} {path}: {required:?}"),
                Err(e) => {
                    assert_eq!(e.problem, "is required", "{method} {path}");
                    assert_eq!(required, [e.name], "{method} {path}");
                }
            }
            // And every parameter the document lists is one the route reads.
            for name in &query {
                let e = check(Some(&format!("{name}=1&{name}=1"))).unwrap_err();
                assert_eq!(
                    e.problem, "is given more than once",
                    "{method} {path}: {name}"
                );
            }
            let e = check(Some("not_a_parameter=1")).unwrap_err();
            assert_eq!(e.name, "not_a_parameter", "{method} {path}");
        }
    }
}
