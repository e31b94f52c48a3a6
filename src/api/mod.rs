//! The HTTP face of the daemon (axum): JSON under `/v1`, every error as
//! `{"error": {"code": "...", "message": "..."}}` with a stable code, the public status page,
//! health, readiness and Prometheus metrics, and the OpenAPI document of all of it.
//!
//! - [`groups`]: list, show, register, update; declared beside observed state.
//! - [`records`]: a group's records and divergences, paged; acknowledging a divergence.
//! - [`alerts`]: alerts and the state of their deliveries; re-arming a dead one.
//! - [`dao`]: a group as EIP-4824 daoURI documents.
//! - [`log`]: the verifiable log's checkpoint, entries and proofs.
//! - [`ops`]: `/healthz`, `/readyz`, `/metrics`.
//! - [`page`]: `/groups/{id}`, a group's public status page (HTML, no JavaScript).
//! - [`covenants`]: covenants — register, version, ratify (admin); list and show with each
//!   party's standing and each clause's verdict; `/covenants/{id}`, a covenant's status page.
//! - [`treasury`]: a group's treasuries at a glance, and the accounting export of its flows.
//! - [`statements`]: a covenant's compliance statements, signed and proven in the log.
//! - [`openapi`]: `/v1/openapi.json`, generated from the handlers' annotations.
//!
//! Invariant: admin routes check the bearer token before they read anything else, comparing
//! digests in constant time; every other route only reads.

pub mod alerts;
pub mod covenants;
pub mod dao;
pub mod groups;
pub mod log;
pub mod openapi;
pub mod ops;
pub mod page;
mod ratification;
pub mod records;
pub mod statements;
pub mod treasury;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tokio_util::sync::CancellationToken;

use crate::config::Secret;
use crate::ledger::note::Verifiers;
use crate::ledger::LedgerError;
use crate::metrics::Metrics;
use crate::query::{parse_query, ParamError};
use crate::store::{Store, StoreError};

/// What every handler can reach.
#[derive(Clone)]
pub struct ApiState {
    pub store: Store,
    /// The configured chains, by name.
    pub chains: Vec<String>,
    /// The public halves of the keys of the log, if this process knows them: the key that
    /// signs checkpoints first, then the previous key of a rotation and retired keys.
    pub verifier: Option<Verifiers>,
    /// What the followers of this process publish.
    pub metrics: Arc<Metrics>,
    /// The admin routes' bearer token; empty: they answer 403.
    pub admin_token: Secret,
    /// `/readyz` fails when a follower has completed no step for this long.
    pub ready_stale: Duration,
    /// Block explorers by chain name, for links to evidence.
    pub explorers: std::collections::BTreeMap<String, String>,
    /// Block times by chain name, for reading block counts in time on the status page.
    pub block_times: std::collections::BTreeMap<String, Duration>,
    /// RPC access by chain name, to check the ratification a manifest version carries (the
    /// owners of a Safe, EIP-1271 answers); without it, signatures are refused.
    pub chain_access: std::collections::BTreeMap<String, crate::ratify::ChainAccess>,
    /// Each group's treasury view, computed once per revision of the group.
    pub treasury_cache: treasury::TreasuryCache,
    /// The names of the configured alert sinks (`[[alerts.sinks]]`), which a covenant's
    /// `notify` may name; empty: a covenant may name none.
    pub sinks: Vec<String>,
}

impl ApiState {
    /// The keys published beside a signed note: the current verifier key, and every key a
    /// note of this log may carry (current first, then previous and retired ones).
    pub fn published_keys(&self) -> (Option<String>, Vec<String>) {
        let current = self.verifier.as_ref().map(|k| k.current().encode());
        let all = self
            .verifier
            .iter()
            .flat_map(|k| k.keys().iter().map(|k| k.encode()))
            .collect();
        (current, all)
    }

    /// A state for a process without followers (tests, tools): not ready, no admin.
    pub fn new(store: Store, chains: Vec<String>) -> ApiState {
        ApiState {
            store,
            chains,
            verifier: None,
            metrics: Metrics::new(),
            admin_token: Secret::default(),
            ready_stale: Duration::from_secs(60),
            explorers: Default::default(),
            block_times: Default::default(),
            chain_access: Default::default(),
            treasury_cache: Default::default(),
            sinks: Vec::new(),
        }
    }

    /// Refuses the request unless it carries `Authorization: Bearer <admin token>`.
    pub fn require_admin(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        if self.admin_token.is_empty() {
            return Err(ApiError {
                status: StatusCode::FORBIDDEN,
                code: "admin_disabled",
                message: "this server has no api.admin_token; admin routes are off".into(),
                details: None,
            });
        }
        let given = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        // Digests first, so the comparison takes the same time whatever the lengths.
        let a = Sha256::digest(given.as_bytes());
        let b = Sha256::digest(self.admin_token.expose().as_bytes());
        if given.is_empty() || !bool::from(a.ct_eq(&b)) {
            return Err(ApiError {
                status: StatusCode::UNAUTHORIZED,
                code: "unauthorized",
                message: "this route needs `Authorization: Bearer <admin token>`".into(),
                details: None,
            });
        }
        Ok(())
    }
}

/// An error answer: status, stable code, message.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Structured detail beside the message (the problems of a refused manifest).
    pub details: Option<serde_json::Value>,
}

impl ApiError {
    /// A 400 naming the parameter (cut to 64 characters: names come from the caller).
    pub fn bad_parameter(name: &str, problem: impl std::fmt::Display) -> ApiError {
        let name: String = name.chars().take(64).collect();
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "bad_parameter",
            message: format!("parameter `{name}`: {problem}"),
            details: None,
        }
    }

    pub fn bad_body(problem: impl std::fmt::Display) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "bad_body",
            message: format!("request body: {problem}"),
            details: None,
        }
    }

    pub fn group_not_found(id: &str) -> ApiError {
        let id: String = id.chars().take(64).collect();
        ApiError::not_found("group_not_found", format!("no group {id} is registered"))
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::NOT_FOUND,
            code,
            message: message.into(),
            details: None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = serde_json::json!({"code": self.code, "message": self.message});
        if let Some(details) = self.details {
            error["details"] = details;
        }
        let body = serde_json::json!({ "error": error });
        (self.status, Json(body)).into_response()
    }
}

impl From<ParamError> for ApiError {
    fn from(e: ParamError) -> ApiError {
        ApiError::bad_parameter(&e.name, e.problem)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::NotFound(what) => ApiError::not_found("not_found", format!("no {what}")),
            StoreError::Conflict(message) => ApiError {
                status: StatusCode::CONFLICT,
                code: "conflict",
                message,
                details: None,
            },
            e => {
                tracing::error!(error = %e, "API request failed in the store");
                ApiError {
                    status: StatusCode::SERVICE_UNAVAILABLE,
                    code: "storage_unavailable",
                    message: "the database could not answer; try again".into(),
                    details: None,
                }
            }
        }
    }
}

impl From<LedgerError> for ApiError {
    fn from(e: LedgerError) -> ApiError {
        match e {
            LedgerError::Range(message) => ApiError {
                status: StatusCode::BAD_REQUEST,
                code: "out_of_range",
                message,
                details: None,
            },
            LedgerError::Store(e) => e.into(),
            other => {
                tracing::error!(error = %other, "API request failed in the log");
                ApiError {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    code: "log_error",
                    message: other.to_string(),
                    details: None,
                }
            }
        }
    }
}

/// A path segment, with a JSON 400 naming it when it does not parse (axum's own rejection is
/// plain text).
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(v)) => Ok(ApiPath(v)),
            Err(e) => Err(ApiError::bad_parameter("path", e.body_text())),
        }
    }
}

/// A route's query parameters: a parameter struct of [`crate::query`], read by
/// [`parse_query`], so an unknown, repeated or malformed parameter is a JSON 400 naming it.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned + Send> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        Ok(ApiQuery(parse_query(parts.uri.query())?))
    }
}

/// A request body, with JSON errors: 413 `payload_too_large` above axum's limit (2 MiB),
/// 400 `bad_body` when it cannot be read.
pub struct ApiBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for ApiBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match Bytes::from_request(req, state).await {
            Ok(b) => Ok(ApiBody(b)),
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(ApiError {
                status: StatusCode::PAYLOAD_TOO_LARGE,
                code: "payload_too_large",
                message: "the request body is larger than 2 MiB".into(),
                details: None,
            }),
            Err(e) => Err(ApiError::bad_body(e.body_text())),
        }
    }
}

async fn method_not_allowed() -> ApiError {
    ApiError {
        status: StatusCode::METHOD_NOT_ALLOWED,
        code: "method_not_allowed",
        message: "this route does not take that method".into(),
        details: None,
    }
}

async fn not_found() -> ApiError {
    ApiError::not_found("not_found", "no such route")
}

/// Every route.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .merge(ops::routes())
        .merge(groups::routes())
        .merge(records::routes())
        .merge(alerts::routes())
        .merge(log::routes())
        .merge(page::routes())
        .merge(dao::routes())
        .merge(treasury::routes())
        .merge(statements::routes())
        .merge(covenants::routes())
        .route("/v1/openapi.json", get(openapi::document))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            ops::time_request,
        ))
        .with_state(state)
}

/// Serves until `cancel` fires.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: ApiState,
    cancel: CancellationToken,
) -> std::io::Result<()> {
    let addr: Option<SocketAddr> = listener.local_addr().ok();
    tracing::info!(addr = ?addr, "HTTP API listening");
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async move { cancel.cancelled().await })
        .await
}
