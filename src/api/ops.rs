//! `/healthz` (the process answers), `/readyz` (every chain's follower is within its lag of the
//! head and stepped recently) and `/metrics` (Prometheus text format).

use std::fmt::Write;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

use super::{ApiError, ApiState};
use crate::metrics::ChainReading;

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

/// Ready only when every configured chain's follower is within its configured lag of the
/// head (`chains.NAME.max_lag_blocks`) and has completed a step recently.
#[utoipa::path(get, path = "/readyz", tag = "ops", responses(
    (status = 200, description = "Every follower is within its lag", body = Readiness),
    (status = 503, description = "A follower is behind, stalled or not running (code `not_ready`)",
     body = NotReady)))]
pub async fn readyz(State(state): State<ApiState>) -> Response {
    let followed = state.metrics.chains();
    let chains: Vec<ChainReading> = state
        .chains
        .iter()
        .map(|name| match followed.iter().find(|(n, _)| n == name) {
            Some((_, m)) => m.read(name),
            None => ChainReading {
                chain: name.clone(),
                ..ChainReading::default()
            },
        })
        .collect();
    let problems: Vec<String> = chains
        .iter()
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
/// kind, open divergences by severity, alert deliveries by state, the log's size, and
/// readiness.
#[utoipa::path(get, path = "/metrics", tag = "ops", responses(
    (status = 200, description = "Prometheus text exposition format", content_type = "text/plain", body = String)))]
pub async fn metrics(State(state): State<ApiState>) -> Result<Response, ApiError> {
    let mut out = String::with_capacity(4096);
    let readings: Vec<ChainReading> = state
        .metrics
        .chains()
        .into_iter()
        .map(|(name, m)| m.read(&name))
        .collect();
    let mut family = |name: &str, kind: &str, help: &str, samples: Vec<(String, String)>| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for (labels, value) in samples {
            let _ = writeln!(out, "{name}{labels} {value}");
        }
    };
    let per_chain = |f: &dyn Fn(&ChainReading) -> Option<String>| -> Vec<(String, String)> {
        readings
            .iter()
            .filter_map(|r| f(r).map(|v| (format!("{{chain=\"{}\"}}", r.chain), v)))
            .collect()
    };
    family(
        "groupstate_chain_head_block",
        "gauge",
        "The node's newest block.",
        per_chain(&|r| r.head.map(|v| v.to_string())),
    );
    family(
        "groupstate_chain_indexed_block",
        "gauge",
        "The newest block every group's records are complete up to.",
        per_chain(&|r| r.indexed.map(|v| v.to_string())),
    );
    family(
        "groupstate_chain_lag_blocks",
        "gauge",
        "Blocks between the head and the indexed block.",
        per_chain(&|r| r.lag.map(|v| v.to_string())),
    );
    family(
        "groupstate_chain_max_lag_blocks",
        "gauge",
        "The lag above which the daemon is not ready.",
        per_chain(&|r| Some(r.max_lag.to_string())),
    );
    family(
        "groupstate_events_total",
        "counter",
        "Logs fetched and applied since start.",
        per_chain(&|r| Some(r.events_total.to_string())),
    );
    family(
        "groupstate_records_total",
        "counter",
        "Records written since start.",
        per_chain(&|r| Some(r.records_total.to_string())),
    );
    family(
        "groupstate_events_per_second",
        "gauge",
        "Logs applied per second over the last minute.",
        per_chain(&|r| Some(format!("{:.3}", r.events_per_second))),
    );
    family(
        "groupstate_records_per_second",
        "gauge",
        "Records written per second over the last minute.",
        per_chain(&|r| Some(format!("{:.3}", r.records_per_second))),
    );
    family(
        "groupstate_rpc_errors_total",
        "counter",
        "Failed RPC attempts (retried or not), by kind.",
        readings
            .iter()
            .flat_map(|r| {
                r.rpc_errors.iter().map(move |(kind, n)| {
                    (
                        format!("{{chain=\"{}\",kind=\"{kind}\"}}", r.chain),
                        n.to_string(),
                    )
                })
            })
            .collect(),
    );
    family(
        "groupstate_ready",
        "gauge",
        "1 when the follower is within its lag and stepped recently.",
        per_chain(&|r| Some(u8::from(r.is_ready(state.ready_stale).is_ok()).to_string())),
    );
    let open = state.store.open_divergence_counts().await?;
    family(
        "groupstate_divergences_open",
        "gauge",
        "Open divergences (acknowledged or not) over every group, by severity.",
        ["low", "medium", "high", "critical"]
            .iter()
            .map(|sev| {
                let n = open.iter().find(|(s, _)| s == sev).map_or(0, |(_, n)| *n);
                (format!("{{severity=\"{sev}\"}}"), n.to_string())
            })
            .collect(),
    );
    let alerts = state.store.alert_counts().await?;
    family(
        "groupstate_alert_deliveries",
        "gauge",
        "Alert deliveries by state (pending: not yet delivered; dead: gave up after the configured attempts).",
        [
            ("pending", alerts.pending),
            ("delivered", alerts.delivered),
            ("dead", alerts.dead),
        ]
        .iter()
        .map(|(s, n)| (format!("{{status=\"{s}\"}}"), n.to_string()))
        .collect(),
    );
    let mut sizes = Vec::new();
    for chain in &state.chains {
        sizes.push((
            format!("{{chain=\"{chain}\"}}"),
            state.store.log_size(chain).await?.to_string(),
        ));
    }
    family(
        "groupstate_log_entries",
        "gauge",
        "Entries in the chain's verifiable log.",
        sizes,
    );
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response())
}
