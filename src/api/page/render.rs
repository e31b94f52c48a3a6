//! The status page's HTML: maud templates, one function per section of the page, laid out
//! from the page's data and what [`super::view`] computes from it. maud escapes every value
//! spliced into the markup (`& < > "`; attribute values are always double-quoted); only the
//! style sheet below is inserted as it is.

use std::time::Instant;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::view::{
    acknowledgement, address_page, checksummed, contract_verdict, divergence_rows, json_text, now,
    plural, short, signers, stored_time, truncated_statuses, url_part, ContractVerdict,
    EvidenceLinks, Verdict,
};
use super::{PageView, MAX_DIVERGENCES};
use crate::decisions::Decision;
use crate::state::rows::{field_rows, short_address, Cell, Check, Leaf};
use crate::state::ContractState;

const STYLE: &str = "\
body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1200px;padding:1rem 1.5rem;color:#1b1b1b;background:#fff}\
h1{margin:.2rem 0}h2{margin-top:2rem;border-bottom:1px solid #ccc;padding-bottom:.2rem}\
.muted{color:#555}.mono,code,pre{font-family:ui-monospace,monospace;font-size:13px}\
pre{background:#f4f4f4;padding:.6rem;overflow-x:auto;white-space:pre-wrap;word-break:break-all}\
table{border-collapse:collapse;width:100%;margin:.5rem 0}th,td{border:1px solid #ccc;padding:.3rem .5rem;text-align:left;vertical-align:top}\
th{background:#f0f0f0}td.mono,td .mono{word-break:break-all}td ul{margin:0;padding-left:1.1rem}\
.verdict{font-size:1.2rem;font-weight:bold;padding:.5rem .8rem;border:2px solid;display:inline-block;margin:.6rem 0}\
.verdict.ok{border-color:#2a7a2a;color:#1d5e1d}.verdict.bad{border-color:#b00020;color:#8a0018}\
.differs{color:#8a0018;font-weight:bold}tr.differs td{background:#fdecee}\
.ok-mark{color:#1d5e1d}\
.sev{font-weight:bold;font-size:12px;padding:0 .3rem;border:1px solid}\
.sev-critical{color:#8a0018}.sev-high{color:#a04000}.sev-warning,.sev-medium{color:#7a5b00}.sev-info,.sev-low{color:#2f4f7f}\
.ack{color:#555;font-style:italic}\
svg.chart{display:block}\
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}dl.facts dt{font-weight:bold}dl.facts dd{margin:0}";

/// A whole page: the head with the inline style sheet, and `body`.
pub(super) fn layout(title: &str, body: Markup) -> Markup {
    layout_with(title, html! {}, body)
}

/// A whole page with `head_extra` (links to other forms of the page) in its head.
fn layout_with(title: &str, head_extra: Markup, body: Markup) -> Markup {
    html! {
        (DOCTYPE) "\n"
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (PreEscaped(STYLE)) }
                (head_extra)
            }
            body { "\n" (body) "\n" }
        }
        "\n"
    }
}

pub(super) fn html_response(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // No script may run and nothing may load from elsewhere, whatever a value smuggles in.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// A page that says why there is no status to show.
pub(super) fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    let body = html! {
        h1 { (title) }
        p { (message) }
        p class="muted" { "HTTP " (status.as_u16()) }
    };
    html_response(status, layout(title, body).into_string())
}

/// The page, from its data.
pub fn render(v: &PageView, started: Instant) -> String {
    let g = &v.group;
    let id = url_part(&g.id);
    let body = html! {
        header {
            p class="muted" { "Group status" }
            h1 id="name" { (g.name) }
            dl class="facts" {
                dt { "Id" } dd class="mono" { (g.id) }
                dt { "Purpose" } dd id="purpose" { (g.purpose) }
                dt { "Phase" } dd id="phase" { (g.phase) }
                dt { "Chain" } dd { (g.chain) }
                dt { "Manifest" }
                dd {
                    "version " (g.manifest_version) " · " span class="mono" { (g.manifest_hash) }
                    @if v.state.manifest_version != g.manifest_version {
                        " (version " (v.state.manifest_version) " is in force at the synced block)"
                    }
                }
            }
            (verdict(&Verdict::of(&v.state)))
            (freshness(v))
        }
        "\n"
        (structure(v))
        (super::treasury::treasury(v))
        (divergences(v))
        (decisions(v))
        (super::history::history(&v.history))
        (super::covenant::group_covenants(&v.covenants))
        (checkpoint(v))
        footer {
            p class="muted" {
                "Page generated " (now()) " in "
                (format!("{:.1}", started.elapsed().as_secs_f64() * 1000.0))
                " ms. The same data as JSON: "
                a href={ "/v1/groups/" (id) "/state" } { "state" } ", "
                a href={ "/v1/groups/" (id) "/divergences" } { "divergences" } ", "
                a href={ "/v1/groups/" (id) "/records" } { "records" } "."
            }
            p class="muted" {
                "As an EIP-4824 DAO document: "
                a id="dao-json" href={ "/v1/groups/" (id) "/dao.json" } { "dao.json" } "."
            }
        }
    };
    let alternate = html! {
        link rel="alternate" type="application/ld+json" href={ "/v1/groups/" (id) "/dao.json" };
    };
    layout_with(&format!("{} — group status", g.name), alternate, body).into_string()
}

fn verdict(v: &Verdict) -> Markup {
    html! {
        @if v.consistent {
            p class="verdict ok" id="verdict" {
                "✓ Consistent: the chain matches the declared structure"
            }
        } @else {
            p class="verdict bad" id="verdict" {
                "✗ " (v.disagreements) " disagreement" (plural(v.disagreements))
                @if v.unobserved > 0 {
                    ", " (v.unobserved) " contract" (plural(v.unobserved)) " not observed yet"
                }
                " between the declared and the observed structure"
            }
        }
    }
}

fn freshness(v: &PageView) -> Markup {
    html! {
        p id="freshness" {
            "Data fresh to block " strong { (v.state.synced_to) } " of " (v.group.chain)
            @if let Some((block, hash)) = &v.cursor {
                " (chain indexed to block " (block) " " span class="mono" { (short(hash)) } ")"
            }
            @match &v.reading {
                Some(r) => {
                    @if let Some(head) = r.head { "; chain head " (head) }
                    @if let Some(lag) = r.lag { ", " (lag) " blocks behind" }
                    @match r.last_step_age_s {
                        Some(age) => { "; last follower step " (format!("{age:.1}")) " s ago" }
                        None => { "; the follower has not completed a step yet" }
                    }
                    @if let Some(error) = &r.failing {
                        "; " span class="differs" { "the chain's follower is failing" }
                        " (retried alone): " (error)
                    } @else if crate::progress::is_catching_up(r) {
                        "; catching up: " (crate::progress::summary(r))
                    }
                    @for g in r.catching_up.iter().filter(|g| g.group == v.group.id) {
                        "; this group is catching up: "
                        (format!("{:.1}", g.progress() * 100.0)) "% done, "
                        (crate::progress::thousands(g.blocks_left())) " blocks left"
                    }
                }
                None => {
                    "; chain head unknown (no follower of this chain runs in this process)"
                }
            }
            "."
        }
    }
}

fn structure(v: &PageView) -> Markup {
    html! {
        section id="structure" {
            h2 { "Declared beside observed" }
            @if v.state.contracts.is_empty() {
                p class="muted" { "The manifest declares no contracts." }
            }
            @for c in &v.state.contracts { (contract(v, c)) }
        }
        "\n"
    }
}

/// An address: its short form, the full value on hover, a link to the explorer's page of it
/// when one is configured; text that is no address as it is.
fn address(v: &PageView, full: &str, short: Option<&str>) -> Markup {
    html! {
        @match (short, address_page(v, full)) {
            (Some(short), Some(page)) => {
                a class="mono address" href=(page) title=(full) { (short) }
            }
            (Some(short), None) => span class="mono address" title=(full) { (short) },
            (None, _) => span class="mono" { (full) },
        }
    }
}

fn contract(v: &PageView, c: &ContractState) -> Markup {
    html! {
        h3 {
            (c.kind) " " (address(v, &c.address, short_address(&c.address).as_deref())) " "
            @match contract_verdict(c) {
                ContractVerdict::Unobserved => span class="differs" { "✗ not observed yet" },
                ContractVerdict::Agrees => span class="ok-mark" { "✓ agrees" },
                ContractVerdict::Disagrees(n) => {
                    span class="differs" { "✗ " (n) " disagreement" (plural(n)) }
                }
            }
        }
        @if let (Some(block), Some(source)) = (c.observed_block, &c.observed_source) {
            p class="muted" { "Observed at block " (block) " (" (source) ")" }
        }
        table class="contract" {
            thead { tr { th { "Field" } th { "Declared" } th { "Observed" } th { "Check" } } }
            tbody {
                @for row in field_rows(c, v.block_time) {
                    tr class=[(row.check == Check::Differs).then_some("differs")] {
                        th class="mono" {
                            (row.field)
                            @if let Some(role) = row.role {
                                " " span class="muted role" { "(" (role) ")" }
                            }
                        }
                        td {
                            @match &row.declared {
                                Some(cell) => (value(v, cell)),
                                None => span class="muted" { "not declared" },
                            }
                        }
                        td {
                            @match &row.observed {
                                Some(cell) => (value(v, cell)),
                                None => span class="muted" { "—" },
                            }
                        }
                        td {
                            @match row.check {
                                Check::Differs => span class="differs" { "✗ differs" },
                                Check::Agrees => span class="ok-mark" { "✓" },
                                Check::Blank => {},
                            }
                        }
                    }
                }
            }
        }
        @if !c.disagreements.is_empty() {
            ul class="disagreements" {
                @for d in &c.disagreements {
                    li class="differs" {
                        "✗ differs: " (severity(&d.severity)) " " code { (d.rule) }
                        @if !d.item.is_empty() { " " span class="mono" { (d.item) } }
                        " — expected " span class="mono" { (d.expected) }
                        ", observed " span class="mono" { (d.observed) }
                    }
                }
            }
        }
    }
}

/// A value of one side as nested lists; a leaf a disagreement names gets the marker beside it.
fn value(v: &PageView, cell: &Cell) -> Markup {
    html! {
        @match cell {
            Cell::Null => span class="muted" { "—" },
            Cell::Empty => span class="muted" { "none" },
            Cell::Leaf(leaf) => (leaf_value(v, leaf)),
            Cell::List(items) => ul { @for item in items { li { (value(v, item)) } } },
            Cell::Map(items) => ul {
                @for (key, item) in items {
                    li { span class="mono" { (key) } ": " (value(v, item)) }
                }
            },
        }
    }
}

fn leaf_value(v: &PageView, leaf: &Leaf) -> Markup {
    html! {
        (address(v, &leaf.text, leaf.short.as_deref()))
        @if let Some(unit) = &leaf.unit { " " span class="unit" { (unit) } }
        @if let Some(rule) = leaf.mark {
            " " span class="differs" { "✗ differs (" (rule) ")" }
        }
    }
}

fn severity(severity: &str) -> Markup {
    html! { span class={ "sev sev-" (severity) } { (severity) } }
}

fn evidence(links: &EvidenceLinks) -> Markup {
    html! {
        "block " (links.block)
        @match &links.tx {
            Some((tx, Some(page))) => {
                " · " a class="explorer" href=(page) { "tx " span class="mono" { (tx) } }
            }
            Some((tx, None)) => { " · tx " span class="mono" { (tx) } }
            None => {}
        }
        " · " a class="evidence" href=(links.records) { "records" }
    }
}

fn divergences(v: &PageView) -> Markup {
    let rows = divergence_rows(v);
    let id = url_part(&v.group.id);
    html! {
        section id="divergences" {
            h2 { "Open divergences" }
            @if rows.is_empty() {
                p class="ok-mark" { "✓ No open divergences." }
            } @else {
                table {
                    thead { tr {
                        th { "#" } th { "Severity" } th { "Rule" } th { "Contract" } th { "Item" }
                        th { "Expected" } th { "Observed" } th { "Opened" } th { "Status" }
                    } }
                    tbody {
                        @for d in rows {
                            tr class={ "divergence " (d.status) } {
                                td { (d.n) }
                                td { (severity(&d.severity)) }
                                td { code { (d.rule) } }
                                td class="mono" { (d.subject) }
                                td class="mono" { (d.item) }
                                td class="mono" { (d.expected) }
                                td class="mono" { (d.observed) }
                                td {
                                    (evidence(&EvidenceLinks::new(
                                        v, d.opened_block, d.opened_tx_hash.as_deref())))
                                }
                                td {
                                    @match acknowledgement(d) {
                                        Some(ack) => span class="ack" {
                                            "acknowledged"
                                            @if let Some(at) = ack.at { " " (at) }
                                            ": " (ack.note)
                                        },
                                        None => (d.status),
                                    }
                                }
                            }
                        }
                    }
                }
                @for status in truncated_statuses(v) {
                    p {
                        "More than " (MAX_DIVERGENCES) " " (status) " divergences; all of them: "
                        a href={ "/v1/groups/" (id) "/divergences?status=" (status) } { "the API" }
                        "."
                    }
                }
            }
        }
        "\n"
    }
}

fn decisions(v: &PageView) -> Markup {
    html! {
        section id="decisions" {
            h2 { "Recent decisions" }
            @if v.decisions.is_empty() {
                p class="muted" { "No decisions recorded yet." }
            } @else {
                p class="muted" { "The " (v.decisions.len()) " newest, newest first." }
                ol class="decisions" {
                    @for d in &v.decisions { li class="decision" { (decision(v, d)) } }
                }
            }
        }
        "\n"
    }
}

fn decision(v: &PageView, d: &Decision) -> Markup {
    html! {
        @match d {
            Decision::SafeExecution(s) => {
                strong { "Safe execution" } " "
                @if s.success {
                    span class="ok-mark" { "succeeded" }
                } @else {
                    span class="differs" { "failed" }
                }
                " on " span class="mono" { (s.safe) }
                @if let Some(t) = &s.transaction {
                    ": to " span class="mono" { (checksummed(&json_text(&t["to"]))) }
                    ", value " (json_text(&t["value"])) " wei"
                }
                @let signers = signers(&s.signers);
                @if let Some(m) = &s.module {
                    "; run by module " span class="mono" { (m) }
                } @else if !signers.is_empty() {
                    "; signed by "
                    @for (i, signer) in signers.iter().enumerate() {
                        @if i > 0 { ", " }
                        span class="mono" { (signer) }
                    }
                }
                @if let Some(calls) = s.calls.as_array().filter(|c| !c.is_empty()) {
                    ul class="calls" {
                        @for c in calls {
                            li { (call_line(c)) }
                        }
                    }
                } @else if let Some(why) = &s.calls_unknown {
                    br; span class="muted" { "Calls unknown: " (why) }
                }
                br;
                "Evidence: " (evidence(&EvidenceLinks::of(v, &s.evidence)))
            }
            Decision::Proposal(p) => {
                strong { "Proposal" } " " (p.state)
                " on governor " span class="mono" { (p.governor) } ": "
                (p.description.lines().next().unwrap_or(""))
                " " span class="muted" {
                    "(for " (p.votes_for) ", against " (p.votes_against)
                    ", abstain " (p.votes_abstain) ")"
                }
                br;
                "Evidence: created " (evidence(&EvidenceLinks::of(v, &p.created)))
                @for (label, e) in [("queued", &p.queued), ("executed", &p.executed), ("canceled", &p.canceled)] {
                    @if let Some(e) = e {
                        "; " (label) " " (evidence(&EvidenceLinks::of(v, e)))
                    }
                }
            }
        }
    }
}

/// One call of a Safe execution: where it sits, what it called, what it moved, and the rules
/// it broke.
fn call_line(c: &serde_json::Value) -> Markup {
    let verdict: Vec<String> = c["verdict"]
        .as_array()
        .map(|v| v.iter().map(json_text).collect())
        .unwrap_or_default();
    html! {
        span class="mono" { (json_text(&c["path"])) } " "
        (json_text(&c["function"])) " → " span class="mono" { (checksummed(&json_text(&c["to"]))) }
        @if c["operation"] == 1 { " " span class="differs" { "(delegatecall)" } }
        @if !c["amount"].is_null() {
            ", moves " (json_text(&c["amount"])) " of " span class="mono" { (json_text(&c["asset"])) }
            @if !c["recipient"].is_null() {
                " to " span class="mono" { (checksummed(&json_text(&c["recipient"]))) }
            }
        }
        @if verdict.is_empty() {
            " " span class="ok-mark" { "within policy" }
        } @else {
            " " span class="differs" { (verdict.join(", ")) }
        }
    }
}

fn checkpoint(v: &PageView) -> Markup {
    html! {
        section id="checkpoint" {
            h2 { "Log checkpoint" }
            @match &v.checkpoint {
                None => p { "No checkpoint yet: the " (v.group.chain) " log has not been signed." },
                Some(c) => {
                    dl class="facts" {
                        dt { "Tree size" } dd { (c.tree_size) }
                        dt { "Root" } dd class="mono" { (c.root) }
                        dt { "Signed at" } dd { (stored_time(&c.signed_at)) }
                    }
                    pre class="note" { (c.note) }
                    p class="muted" {
                        "Check it with " code { "groupstate verify" } "; proofs: "
                        a href={ "/v1/log/checkpoint?chain=" (url_part(&v.group.chain)) } {
                            "/v1/log/checkpoint"
                        }
                        "."
                    }
                }
            }
        }
        "\n"
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{self, hostile};
    use super::super::view::utc;
    use super::*;
    use crate::query::GroupSummary;
    use crate::state::{ContractState, Disagreement, GroupState};
    use crate::store::Divergence;

    fn view(purpose: &str) -> PageView {
        PageView {
            group: GroupSummary {
                id: "river-guild".into(),
                name: "River <b>Guild</b>".into(),
                purpose: purpose.into(),
                phase: "coordination".into(),
                chain: "local".into(),
                start_block: 0,
                synced_to: 12,
                manifest_version: 1,
                manifest_hash: "ab".repeat(32),
                created_at: "0".into(),
            },
            state: GroupState {
                group_id: "river-guild".into(),
                chain: "local".into(),
                manifest_version: 1,
                manifest_hash: "ab".repeat(32),
                synced_to: 12,
                contracts: vec![ContractState {
                    address: "0x00000000000000000000000000000000000000AA".into(),
                    kind: "safe".into(),
                    declared: serde_json::json!({"owners": ["0x01"], "threshold": 1}),
                    observed: Some(serde_json::json!({
                        "owners": ["0x01", "0x02\"><script>alert(2)</script>"],
                        "threshold": 1
                    })),
                    observed_raw: None,
                    observed_block: Some(9),
                    observed_source: Some("event".into()),
                    disagreements: vec![Disagreement {
                        rule: "safe.owner_undeclared".into(),
                        severity: "critical".into(),
                        item: "0x02\"><script>alert(2)</script>".into(),
                        expected: "not an owner".into(),
                        observed: "owner".into(),
                    }],
                }],
                consistent: false,
            },
            open: Vec::new(),
            acknowledged: Vec::new(),
            decisions: Vec::new(),
            checkpoint: None,
            cursor: None,
            reading: None,
            explorer: Some("https://explorer.example".into()),
            block_time: None,
            treasury: None,
            history: Vec::new(),
            covenants: Vec::new(),
        }
    }

    /// `s` as the page writes it: `& < > "` escaped (attributes are double-quoted, so `'` may
    /// stay as it is).
    fn escaped(s: &str) -> String {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    }

    #[test]
    fn hostile_values_are_escaped() {
        let page = render(
            &view("Fund tooling <script>alert('x')</script> & more"),
            Instant::now(),
        );
        assert!(!page.contains("<script"), "{page}");
        assert!(
            page.contains("Fund tooling &lt;script&gt;alert('x')&lt;/script&gt; &amp; more"),
            "{page}"
        );
        assert!(page.contains("River &lt;b&gt;Guild&lt;/b&gt;"));
        assert!(page.contains("<title>River &lt;b&gt;Guild&lt;/b&gt; — group status</title>"));
    }

    /// Every free-text value the page shows, each carrying a script, both quotes and an
    /// ampersand, comes out escaped wherever it is shown (as text or in an attribute).
    #[test]
    fn every_free_text_field_is_escaped() {
        let page = render(&fixture::rich(&hostile), Instant::now());
        assert!(!page.contains("<script"), "{page}");
        // No value closes its attribute or element.
        assert!(!page.contains("\"'>"), "{page}");
        for text in [
            // The group and its manifest.
            "river-guild",
            "River Guild",
            "Fund the river network's shared tooling.",
            "coordination",
            "local",
            &"ab".repeat(32),
            // Declared beside observed.
            "safe",
            "0x00000000000000000000000000000000000000aa",
            "event",
            "snapshot",
            "declared text",
            "deep",
            "MINTER_ROLE",
            "0x03",
            "safe.threshold_mismatch",
            "high",
            "not an owner",
            "owner",
            // Divergences.
            "safe.owner_undeclared",
            "critical",
            "0x00000000000000000000000000000000000000AA",
            "0x02",
            "an owner",
            "rotation planned",
            // Decisions.
            "0x0000000000000000000000000000000000000002",
            "executed",
            "0x00000000000000000000000000000000000000cc",
            "Pay the maintainers",
            "10",
            // The checkpoint and the explorer.
            &"07".repeat(32),
            "local\n42\nroot\n\n— local+1234abcd+sig\n",
            "https://explorer.example",
        ] {
            let shown = escaped(&hostile(text));
            assert!(
                page.contains(&shown),
                "`{shown}` is not on the page:\n{page}"
            );
        }
        // Into links, percent-encoded.
        assert!(page.contains("href=\"/v1/groups/river-guild%22%27%3E%3Cscript%3E"));
    }

    #[test]
    fn disagreements_are_marked_in_text() {
        let page = render(&view("Testing."), Instant::now());
        assert!(page.contains("✗ 1 disagreement"), "{page}");
        // The owners row is marked, and the undeclared owner carries the marker beside it.
        assert!(page.contains("<tr class=\"differs\"><th class=\"mono\">owners</th>"));
        assert!(page.contains("</span> <span class=\"differs\">✗ differs (safe.owner_undeclared)"));
        // The threshold agrees.
        assert!(page.contains("<tr><th class=\"mono\">threshold</th>"));
        assert!(page.contains("No checkpoint yet"));
    }

    fn divergence(n: i64, status: &str, note: Option<&str>) -> Divergence {
        Divergence {
            group_id: "river-guild".into(),
            n,
            rule: "safe.owner_undeclared".into(),
            severity: "critical".into(),
            subject: "0x00000000000000000000000000000000000000AA".into(),
            item: "0x02".into(),
            expected: "not an owner".into(),
            observed: "an owner".into(),
            status: status.into(),
            opened_block: 9,
            opened_block_hash: "0x99".into(),
            opened_tx_hash: Some("0xabc".into()),
            opened_log_index: Some(0),
            opened_manifest_hash: "ab".into(),
            ack_note: note.map(String::from),
            acked_at: note.map(|_| "0".into()),
            ..Divergence::default()
        }
    }

    #[test]
    fn acknowledged_divergences_show_their_note() {
        let mut v = view("Testing.");
        v.open = vec![divergence(2, "open", None)];
        v.acknowledged = vec![divergence(
            1,
            "acknowledged",
            Some("rotation <b>planned</b>"),
        )];
        let page = render(&v, Instant::now());
        assert!(page.contains("<tr class=\"divergence open\"><td>2</td>"));
        assert!(page
            .contains("acknowledged 1970-01-01 00:00:00 UTC: rotation &lt;b&gt;planned&lt;/b&gt;"));
        assert!(page.contains("href=\"https://explorer.example/tx/0xabc\""));
        assert!(
            page.contains("href=\"/v1/groups/river-guild/records?from_block=9&amp;to_block=9\"")
        );
    }

    #[test]
    fn long_lists_link_to_the_api() {
        let page = render(&fixture::crowded(), Instant::now());
        assert_eq!(
            page.matches("<tr class=\"divergence ").count(),
            2 * MAX_DIVERGENCES
        );
        for status in ["open", "acknowledged"] {
            assert!(page.contains(&format!(
                "<p>More than {MAX_DIVERGENCES} {status} divergences; all of them: \
                 <a href=\"/v1/groups/river-guild/divergences?status={status}\">the API</a>.</p>"
            )));
        }
        assert!(page.contains("2 contracts not observed yet"), "{page}");
        assert!(page.contains("; the follower has not completed a step yet."));
    }

    #[test]
    fn an_empty_group_reads_as_such() {
        let page = render(&fixture::bare(), Instant::now());
        for text in [
            "✓ Consistent: the chain matches the declared structure",
            "The manifest declares no contracts.",
            "✓ No open divergences.",
            "No decisions recorded yet.",
            "No checkpoint yet: the local log has not been signed.",
            "; chain head unknown (no follower of this chain runs in this process).",
        ] {
            assert!(page.contains(text), "`{text}` in\n{page}");
        }
    }

    #[test]
    fn the_page_is_in_the_openapi_document() {
        let doc = crate::api::openapi::document_value();
        let get = &doc["paths"]["/groups/{id}"]["get"];
        assert!(
            get["responses"]["200"]["content"]["text/html"].is_object(),
            "{get}"
        );
    }

    #[test]
    fn utc_formats_unix_seconds() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_709_251_199), "2024-02-29 23:59:59 UTC");
        assert_eq!(utc(1_795_571_258), "2026-11-25 01:47:38 UTC");
    }
}
