//! `GET /covenants/{id}`: a covenant's public status page — its parties with their
//! ratification of the newest version, each clause as a sentence with its verdict and the
//! evidence of its open findings, and the history of its findings; and the section of a
//! group's page that lists the covenants the group is party to.
//!
//! The same templates and style as the group's page: maud escapes every value, and the
//! covenant's text (ids, summaries, evidence) is treated as hostile.

use std::time::Instant;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{html, Markup};

use super::render::{error_page, html_response, layout};
use super::view::{now, short, stored_time, url_part};
use crate::api::ApiState;
use crate::covenants::{
    covenant_detail, findings_in_words, CovenantDetail, CovenantFinding, CovenantSummary, Standing,
    Verdict,
};

/// A covenant's public status page (HTML).
#[utoipa::path(get, path = "/covenants/{id}", tag = "page",
    params(("id" = String, Path, description = "The covenant's id")),
    responses((status = 200, description = "The covenant's page", content_type = "text/html", body = String),
              (status = 404, description = "No such covenant (an HTML page)", content_type = "text/html", body = String),
              (status = 503, description = "The database could not answer (an HTML page)", content_type = "text/html", body = String)))]
pub async fn covenant_page(State(state): State<ApiState>, Path(id): Path<String>) -> Response {
    let started = Instant::now();
    match covenant_detail(&state.store, &id, &state.explorers).await {
        Ok(Some(detail)) => html_response(StatusCode::OK, render(&detail, started)),
        Ok(None) => {
            let id: String = id.chars().take(64).collect();
            error_page(
                StatusCode::NOT_FOUND,
                "No such covenant",
                &format!("No covenant {id} is registered here."),
            )
        }
        Err(e) => {
            let e = crate::api::ApiError::from(e);
            error_page(e.status, "Covenant unavailable", &e.message)
        }
    }
}

/// The standing as a badge: green when every party ratified, red when none did.
fn standing_badge(s: &Standing) -> Markup {
    let class = if s.complete() {
        "verdict ok"
    } else {
        "verdict bad"
    };
    html! { span class=(class) id="standing" { (s.text) } }
}

fn verdict_badge(v: Verdict) -> Markup {
    let (class, text) = match v {
        Verdict::Breach => ("sev sev-critical", "✗ breach"),
        Verdict::AtRisk => ("sev sev-medium", "! at risk"),
        Verdict::Holds => ("sev ok-mark", "✓ holds"),
        Verdict::Unjudged => ("sev muted", "unjudged"),
    };
    html! { span class=(class) data-verdict=(v.as_str()) { (text) } }
}

fn evidence(f: &CovenantFinding) -> Markup {
    html! {
        "block " (f.opened_block) " " span class="mono" title=(f.opened_block_hash) { (short(&f.opened_block_hash)) }
        @if let Some(tx) = &f.opened_tx_hash {
            " · tx "
            @match &f.explorer {
                Some(page) => a class="explorer mono" href=(page) title=(tx) { (short(tx)) },
                None => span class="mono" title=(tx) { (short(tx)) },
            }
        } @else if let Some(page) = &f.explorer {
            " · " a class="explorer" href=(page) { "explorer" }
        }
        " · " a class="evidence" href={ "/groups/" (url_part(&f.group)) } { (f.group) " #" (f.n) }
    }
}

/// The page, from the covenant's detail.
pub fn render(d: &CovenantDetail, started: Instant) -> String {
    let id = url_part(&d.id);
    let summary = d.document.get("summary").and_then(|s| s.as_str());
    let body = html! {
        header {
            p class="muted" { "Covenant" }
            h1 id="name" { (d.id) }
            @if let Some(s) = summary { p id="summary" { (s) } }
            dl class="facts" {
                dt { "Version" } dd { (d.version) " · " span class="mono" { (d.hash) } }
                dt { "Standing" } dd { (standing_badge(&d.standing)) }
            }
        }
        section id="parties" {
            h2 { "Parties" }
            table {
                thead { tr { th { "Party" } th { "Ratification of version " (d.version) } } }
                tbody {
                    @for p in &d.parties {
                        tr {
                            th {
                                @if p.kind == "group" {
                                    a href={ "/groups/" (url_part(&p.id)) } { (p.id) }
                                } @else {
                                    (p.id) " " span class="muted" { "(outside partner)" }
                                }
                            }
                            td {
                                @match &p.ratification {
                                    Some(r) => {
                                        span class="ratified ok-mark" { "✓ " (r.summary) }
                                        " " span class="muted" { "on " (stored_time(&r.created_at)) }
                                    }
                                    None => span class="unratified differs" { "✗ not ratified" },
                                }
                            }
                        }
                    }
                }
            }
        }
        section id="clauses" {
            h2 { "Clauses" }
            ol start="0" class="clauses" {
                @for c in &d.clauses {
                    li id={ "clause-" (c.index) } {
                        (verdict_badge(c.verdict)) " " (c.text)
                        @if !c.findings.is_empty() {
                            ul class="evidence" {
                                @for f in &c.findings {
                                    li {
                                        span class={ "sev sev-" (f.severity) } { (f.rule) } " "
                                        (f.observed) " — " (evidence(f))
                                        @if f.status == "acknowledged" { " " span class="ack" { "(acknowledged)" } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        section id="history" {
            h2 { "History" }
            @if d.history.is_empty() {
                p class="muted" { "No finding yet." }
            } @else {
                table {
                    thead { tr {
                        th { "Opened" } th { "Finding" } th { "Clause" } th { "Observed" } th { "Status" }
                    } }
                    tbody {
                        @for f in &d.history {
                            tr {
                                td { (evidence(f)) }
                                td { span class={ "sev sev-" (f.severity) } { (f.rule) } }
                                td { "version " (f.version) ", clause " (f.clause)
                                     @if let Some(w) = f.window { ", window " (w) } }
                                td { (f.observed) }
                                td {
                                    (f.status)
                                    @if let Some(b) = f.resolved_block { " at block " (b) }
                                }
                            }
                        }
                    }
                }
                @if d.history_truncated {
                    p class="muted" { "Older findings are left out; the JSON lists the same." }
                }
            }
        }
        section id="versions" {
            h2 { "Versions" }
            ol reversed {
                @for v in d.versions.iter().rev() {
                    li { "Version " (v.version) " · " span class="mono" { (v.hash) } " · " (stored_time(&v.created_at)) }
                }
            }
        }
        footer {
            p class="muted" {
                "Page generated " (now()) " in "
                (format!("{:.1}", started.elapsed().as_secs_f64() * 1000.0))
                " ms. The same data as JSON: "
                a id="covenant-json" href={ "/v1/covenants/" (id) } { "covenant" } "."
            }
        }
    };
    layout(&format!("{} — covenant", d.id), body).into_string()
}

/// The group page's section: the covenants the group is party to, with their standing and
/// open findings.
pub(super) fn group_covenants(covenants: &[CovenantSummary]) -> Markup {
    html! {
        @if !covenants.is_empty() {
            section id="covenants" {
                h2 { "Covenants" }
                ul class="covenants" {
                    @for c in covenants {
                        li {
                            a href={ "/covenants/" (url_part(&c.id)) } { (c.id) }
                            " (version " (c.version) ") · "
                            @if c.standing.complete() {
                                span class="ok-mark standing" { (c.standing.text) }
                            } @else {
                                span class="differs standing" { (c.standing.text) }
                            }
                            " · "
                            @if c.open_breaches > 0 {
                                span class="differs" { (findings_in_words(c)) }
                            } @else {
                                span { (findings_in_words(c)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::covenants::{ClauseState, CovenantVersionEntry, PartyStanding};

    const HOSTILE: &str = "<script>alert(\"x\")</script>&";

    fn detail() -> CovenantDetail {
        let finding = CovenantFinding {
            group: "river-guild".into(),
            n: 7,
            rule: "covenant.breach".into(),
            severity: "critical".into(),
            status: "open".into(),
            version: 1,
            clause: 0,
            window: None,
            expected: HOSTILE.into(),
            observed: HOSTILE.into(),
            opened_block: 42,
            opened_block_hash: format!("0x{}", "2a".repeat(32)),
            opened_tx_hash: Some(format!("0x{}", "42".repeat(32))),
            resolved_block: None,
            resolved_tx_hash: None,
            explorer: Some(format!("https://explorer.example/tx/{HOSTILE}")),
        };
        CovenantDetail {
            id: "river-x-lake".into(),
            version: 1,
            hash: "ab".repeat(32),
            document: serde_json::json!({ "id": "river-x-lake", "summary": HOSTILE }),
            standing: Standing::of(0, 2),
            versions: vec![CovenantVersionEntry {
                version: 1,
                hash: "ab".repeat(32),
                created_at: "0".into(),
            }],
            parties: vec![PartyStanding {
                id: HOSTILE.into(),
                kind: "outside".into(),
                ratification: None,
            }],
            clauses: vec![ClauseState {
                index: 0,
                clause: "min_threshold".into(),
                text: HOSTILE.into(),
                contract: None,
                verdict: Verdict::Breach,
                findings: vec![finding.clone()],
            }],
            history: vec![finding],
            history_truncated: true,
        }
    }

    #[test]
    fn hostile_values_are_escaped_and_verdicts_marked() {
        let html = render(&detail(), Instant::now());
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;"));
        assert!(html.contains("data-verdict=\"breach\""));
        assert!(html.contains("id=\"standing\">unsigned<"));
        assert!(html.contains("Older findings are left out"));
        assert!(html.contains("href=\"/v1/covenants/river-x-lake\""));
    }
}
