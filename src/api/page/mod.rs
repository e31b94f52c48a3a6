//! `GET /groups/{id}`: the public status page of a group — server-rendered HTML that reads
//! without JavaScript and loads nothing from elsewhere (inline CSS only): its purpose and phase,
//! declared beside observed structure with every disagreement marked, open divergences, recent
//! decisions linked to their evidence, the latest log checkpoint, and how fresh all of it is.
//!
//! Invariant: the HTML comes from compiled maud templates, which escape every value they are
//! given (`& < > "`, attributes always double-quoted): names, purposes and observed values come
//! from manifests and the chain, and are treated as hostile. The page makes a fixed number of
//! queries whatever the group holds, and every list on it is bounded.
//!
//! - this file: the route and the page's data, read side by side;
//! - [`view`]: what the page computes from that data (counts, rows, links, times), no markup;
//! - [`render`]: the templates, one per section;
//! - [`treasury`]: the treasury section's template and its chart;
//! - [`covenant`]: `/covenants/{id}`, a covenant's page, and the group page's covenants.

pub mod covenant;
#[cfg(test)]
mod fixture;
mod history;
mod render;
mod treasury;
mod view;

use std::time::Instant;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;

pub use render::render;
use render::{error_page, html_response};
pub use view::utc;

use super::{ApiError, ApiState};
use crate::decisions::{recent_decisions, Decision};
use crate::query::{group_summary, GroupSummary};
use crate::state::{group_state, GroupState};
use crate::store::{Divergence, DivergenceFilter, DivergenceStatus, StoredCheckpoint};

/// Decisions shown, newest first.
pub const RECENT_DECISIONS: usize = 20;
/// Divergences shown per status (open, acknowledged); the page says when there are more.
pub const MAX_DIVERGENCES: usize = 100;

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/groups/{id}", get(status_page))
        .route("/covenants/{id}", get(covenant::covenant_page))
}

/// A group's public status page (HTML).
#[utoipa::path(get, path = "/groups/{id}", tag = "page",
    params(("id" = String, Path, description = "The group's id")),
    responses((status = 200, description = "The status page", content_type = "text/html", body = String),
              (status = 404, description = "No such group (an HTML page)", content_type = "text/html", body = String),
              (status = 503, description = "The database could not answer (an HTML page)", content_type = "text/html", body = String)))]
pub async fn status_page(State(state): State<ApiState>, Path(id): Path<String>) -> Response {
    let started = Instant::now();
    match load(&state, &id).await {
        Ok(Some(view)) => html_response(StatusCode::OK, render(&view, started)),
        Ok(None) => {
            let id: String = id.chars().take(64).collect();
            error_page(
                StatusCode::NOT_FOUND,
                "No such group",
                &format!("No group {id} is registered here."),
            )
        }
        Err(e) => error_page(e.status, "Status unavailable", &e.message),
    }
}

/// Everything the page shows, read with a fixed number of queries.
pub struct PageView {
    pub group: GroupSummary,
    pub state: GroupState,
    pub open: Vec<Divergence>,
    pub acknowledged: Vec<Divergence>,
    pub decisions: Vec<Decision>,
    pub checkpoint: Option<StoredCheckpoint>,
    /// The follower's checkpoint of the chain: block and hash.
    pub cursor: Option<(i64, String)>,
    /// What this process's follower of the chain last published, if it runs one.
    pub reading: Option<crate::metrics::ChainReading>,
    /// The chain's block explorer, if one is configured (http or https only).
    pub explorer: Option<String>,
    /// The chain's block time, if known: the governor's periods (in blocks) read in time.
    pub block_time: Option<std::time::Duration>,
    /// The treasuries at a glance; `None` when they could not be read.
    pub treasury: Option<crate::holdings::TreasuryView>,
    /// The document's versions: ratification, changes, divergences resolved.
    pub history: Vec<crate::history::VersionHistory>,
    /// The covenants the group is party to, with their standing and open findings.
    pub covenants: Vec<crate::covenants::CovenantSummary>,
}

/// Reads the page's data: `None` if the group is unknown.
#[tracing::instrument(skip_all, fields(group = %id))]
pub async fn load(state: &ApiState, id: &str) -> Result<Option<PageView>, ApiError> {
    let store = &state.store;
    let Some(group) = store.group(id).await? else {
        return Ok(None);
    };
    let versions = store.manifest_versions(id).await?;
    let Some(summary) = group_summary(&group, &versions) else {
        return Ok(None);
    };
    let divergences = |status| {
        let filter = DivergenceFilter {
            status: Some(status),
            limit: Some(MAX_DIVERGENCES as i64 + 1),
            ..DivergenceFilter::default()
        };
        async move { store.divergence_page(id, &filter).await }
    };
    // Independent reads, side by side.
    let (
        state_view,
        open,
        acknowledged,
        history,
        decisions,
        checkpoint,
        cursor,
        treasury,
        covenants,
    ) = tokio::try_join!(
        group_state(store, &group, &versions),
        divergences(DivergenceStatus::Open),
        divergences(DivergenceStatus::Acknowledged),
        crate::history::group_history(store, id),
        recent_decisions(store, id, RECENT_DECISIONS),
        store.latest_checkpoint(&group.chain),
        store.cursor(&group.chain),
        state.treasury_cache.view(store, &group),
        crate::covenants::covenants_of_group(store, id),
    )?;
    let reading = state
        .metrics
        .chains()
        .into_iter()
        .find(|(name, _)| *name == group.chain)
        .map(|(name, m)| m.read(&name));
    let explorer = state
        .explorers
        .get(&group.chain)
        .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
        .map(|u| u.trim_end_matches('/').to_string());
    let block_time = state.block_times.get(&group.chain).copied();
    Ok(Some(PageView {
        group: summary,
        state: state_view,
        open,
        acknowledged,
        decisions,
        checkpoint,
        cursor,
        reading,
        explorer,
        block_time,
        treasury: Some(treasury),
        history,
        covenants,
    }))
}
