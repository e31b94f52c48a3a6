//! `/healthz` (the process answers), `/readyz` (every chain followed here is within its lag
//! of the head and stepped recently; a standby replica holding none is ready), `/metrics`
//! (Prometheus text format), and the middleware that times every request for it.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

use super::{ApiError, ApiState};
use crate::metrics::{ChainReading, StoredFigures};

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    pub status: String,
}

/// The process is up and answering.
#[utoipa::path(get, path = "/healthz", tag = "ops",
    responses((status = 200, description = "The process answers", body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// `ready`.
    pub status: String,
    pub chains: Vec<ChainReading>,
}

/// The 503 of `/readyz`: the error, and every chain's figures.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotReady {
    pub error: super::openapi::ErrorDetail,
    pub chains: Vec<ChainReading>,
}

/// Ready only when every chain this process follows is within its configured lag of the head
/// (`chains.NAME.max_lag_blocks`) and has completed a step recently. Among replicas, a chain's
/// readiness is its holder's: a standby holding no chain is ready as soon as it serves.
#[utoipa::path(get, path = "/readyz", tag = "ops", responses(
    (status = 200, description = "Every chain followed here is within its lag (a standby: none is)", body = Readiness),
    (status = 503, description = "A follower is behind, stalled or not running (code `not_ready`)",
     body = NotReady)))]
pub async fn readyz(State(state): State<ApiState>) -> Response {
    let chains: Vec<ChainReading> = state
        .chains
        .iter()
        .map(|name| state.metrics.reading(name))
        .collect();
    let problems: Vec<String> = chains
        .iter()
        .filter(|c| c.held_here != Some(false))
        .filter_map(|c| c.is_ready(state.ready_stale).err())
        .collect();
    if problems.is_empty() && !chains.is_empty() {
        return Json(Readiness {
            status: "ready".into(),
            chains,
        })
        .into_response();
    }
    let message = if chains.is_empty() {
        "no chain is configured".to_string()
    } else {
        problems.join("; ")
    };
    let body = NotReady {
        error: super::openapi::ErrorDetail {
            code: "not_ready".into(),
            message,
            details: None,
        },
        chains,
    };
    (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
}

/// Prometheus metrics: chain head, indexed block and lag, events and records, RPC errors by
/// kind, open divergences by severity, alert deliveries by state, the log's size, readiness,
/// and histograms of batch commits, RPC calls, alert deliveries and API requests (the names
/// are listed in [`crate::metrics`]).
#[utoipa::path(get, path = "/metrics", tag = "ops", responses(
    (status = 200, description = "Prometheus text exposition format", content_type = "text/plain", body = String)))]
pub async fn metrics(State(state): State<ApiState>) -> Result<Response, ApiError> {
    let open = state.store.open_divergence_counts().await?;
    let alerts = state.store.alert_counts().await?;
    let mut log_entries = Vec::with_capacity(state.chains.len());
    for chain in &state.chains {
        log_entries.push((chain.clone(), state.store.log_size(chain).await?));
    }
    let stored = StoredFigures {
        divergences_open: ["low", "medium", "high", "critical"]
            .into_iter()
            .map(|sev| {
                let n = open.iter().find(|(s, _)| s == sev).map_or(0, |(_, n)| *n);
                (sev, n)
            })
            .collect(),
        alert_deliveries: vec![
            ("pending", alerts.pending),
            ("delivered", alerts.delivered),
            ("dead", alerts.dead),
        ],
        log_entries,
    };
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(state.ready_stale, &stored),
    )
        .into_response())
}

/// Times every request into `groupstate_api_request_seconds`, labelled by the matched route's
/// template (`/v1/groups/{id}`; `unmatched` for the fallback), never by the raw path, so that
/// callers cannot grow the label set.
pub async fn time_request(State(state): State<ApiState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let method = match *req.method() {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    };
    let started = Instant::now();
    let response = next.run(req).await;
    state.metrics.api_request(
        &route,
        method,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}
