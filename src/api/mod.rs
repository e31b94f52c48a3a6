//! The HTTP face of the daemon (axum): JSON under `/v1`, every error as
//! `{"error": {"code": "...", "message": "..."}}` with a stable code, and health.
//!
//! - [`log`]: the verifiable log's checkpoint, entries and proofs.

pub mod log;

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tokio_util::sync::CancellationToken;

use crate::ledger::note::VerifierKey;
use crate::ledger::LedgerError;
use crate::store::{Store, StoreError};

/// What every handler can reach.
#[derive(Clone)]
pub struct ApiState {
    pub store: Store,
    /// The configured chains, by name.
    pub chains: Vec<String>,
    /// The public half of the key that signs checkpoints, if this process knows it.
    pub verifier: Option<VerifierKey>,
}

/// An error answer: status, stable code, message.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    /// A 400 naming the parameter (cut to 64 characters: names come from the caller).
    pub fn bad_parameter(name: &str, problem: impl std::fmt::Display) -> ApiError {
        let name: String = name.chars().take(64).collect();
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "bad_parameter",
            message: format!("parameter `{name}`: {problem}"),
        }
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::NOT_FOUND,
            code,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"error": {"code": self.code, "message": self.message}});
        (self.status, Json(body)).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        tracing::error!(error = %e, "API request failed in the store");
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "storage_unavailable",
            message: "the database could not answer; try again".into(),
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
            },
            LedgerError::Store(e) => e.into(),
            other => {
                tracing::error!(error = %other, "API request failed in the log");
                ApiError {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    code: "log_error",
                    message: other.to_string(),
                }
            }
        }
    }
}

/// Query parameters, read by hand so that a bad one is a 400 naming it.
pub struct Params(pub HashMap<String, String>);

impl Params {
    /// Reads a query string; a parameter given twice is refused rather than guessed at.
    pub fn parse(query: Option<&str>) -> Result<Params, ApiError> {
        let mut map = HashMap::new();
        for (k, v) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            if map.insert(k.to_string(), v.to_string()).is_some() {
                return Err(ApiError::bad_parameter(&k, "is given more than once"));
            }
        }
        Ok(Params(map))
    }

    pub fn optional_u64(&self, name: &str) -> Result<Option<u64>, ApiError> {
        match self.0.get(name) {
            None => Ok(None),
            Some(v) => v
                .parse::<u64>()
                .map(Some)
                .map_err(|_| ApiError::bad_parameter(name, "must be a non-negative integer")),
        }
    }

    pub fn required_u64(&self, name: &str) -> Result<u64, ApiError> {
        self.optional_u64(name)?
            .ok_or_else(|| ApiError::bad_parameter(name, "is required"))
    }

    /// Refuses parameters the route does not know, so a typo is not silently ignored.
    pub fn only(&self, known: &[&str]) -> Result<(), ApiError> {
        match self.0.keys().find(|k| !known.contains(&k.as_str())) {
            Some(k) => Err(ApiError::bad_parameter(
                k,
                format!("is not known here (known: {})", known.join(", ")),
            )),
            None => Ok(()),
        }
    }
}

async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

async fn not_found() -> ApiError {
    ApiError::not_found("not_found", "no such route")
}

/// Every route.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .merge(log::routes())
        .fallback(not_found)
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
