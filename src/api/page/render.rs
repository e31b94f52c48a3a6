//! The status page's HTML: a small writer that escapes every value it is given, and one
//! function per section of the page.

use std::fmt::{Display, Write as _};
use std::time::Instant;

use alloy::primitives::Address;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::{PageView, MAX_DIVERGENCES};
use crate::decisions::{Decision, Evidence};
use crate::state::{ContractState, Disagreement, GroupState};
use crate::store::{Divergence, DivergenceStatus};

/// HTML being written; everything not written with [`Html::raw`] is escaped.
#[derive(Default)]
pub struct Html(String);

impl Html {
    /// Markup from this file, never data.
    pub fn raw(&mut self, markup: &str) -> &mut Self {
        self.0.push_str(markup);
        self
    }

    /// A value, escaped for element content.
    pub fn text(&mut self, value: impl Display) -> &mut Self {
        struct Escaper<'a>(&'a mut String);
        impl std::fmt::Write for Escaper<'_> {
            fn write_str(&mut self, s: &str) -> std::fmt::Result {
                for c in s.chars() {
                    match c {
                        '&' => self.0.push_str("&amp;"),
                        '<' => self.0.push_str("&lt;"),
                        '>' => self.0.push_str("&gt;"),
                        '"' => self.0.push_str("&quot;"),
                        '\'' => self.0.push_str("&#39;"),
                        c => self.0.push(c),
                    }
                }
                Ok(())
            }
        }
        let _ = write!(Escaper(&mut self.0), "{value}");
        self
    }

    /// A value for a quoted attribute: the same escaping.
    pub fn attr(&mut self, value: impl Display) -> &mut Self {
        self.text(value)
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// Escapes one value.
pub fn escape(value: impl Display) -> String {
    let mut h = Html::default();
    h.text(value);
    h.into_string()
}

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
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}dl.facts dt{font-weight:bold}dl.facts dd{margin:0}";

fn page_start(h: &mut Html, title: &str) {
    h.raw("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
        .raw("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
        .raw("<title>")
        .text(title)
        .raw("</title><style>")
        .raw(STYLE)
        .raw("</style></head><body>\n");
}

fn page_end(h: &mut Html) {
    h.raw("\n</body></html>\n");
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

pub(super) fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    let mut h = Html::default();
    page_start(&mut h, title);
    h.raw("<h1>")
        .text(title)
        .raw("</h1><p>")
        .text(message)
        .raw("</p><p class=\"muted\">HTTP ")
        .text(status.as_u16())
        .raw("</p>");
    page_end(&mut h);
    html_response(status, h.into_string())
}

/// Unix seconds as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn utc(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// A stored time (unix seconds as text) for people, or the text as it is.
fn stored_time(s: &str) -> String {
    s.parse::<i64>().map(utc).unwrap_or_else(|_| s.to_string())
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// Percent-encodes a path segment or query value.
fn url_part(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The page, from its data.
pub fn render(v: &PageView, started: Instant) -> String {
    let g = &v.group;
    let mut h = Html::default();
    page_start(&mut h, &format!("{} — group status", g.name));
    h.raw("<header><p class=\"muted\">Group status</p><h1 id=\"name\">")
        .text(&g.name)
        .raw("</h1><dl class=\"facts\"><dt>Id</dt><dd class=\"mono\">")
        .text(&g.id)
        .raw("</dd><dt>Purpose</dt><dd id=\"purpose\">")
        .text(&g.purpose)
        .raw("</dd><dt>Phase</dt><dd id=\"phase\">")
        .text(&g.phase)
        .raw("</dd><dt>Chain</dt><dd>")
        .text(&g.chain)
        .raw("</dd><dt>Manifest</dt><dd>version ")
        .text(g.manifest_version)
        .raw(" · <span class=\"mono\">")
        .text(&g.manifest_hash)
        .raw("</span>");
    if v.state.manifest_version != g.manifest_version {
        h.raw(" (version ")
            .text(v.state.manifest_version)
            .raw(" is in force at the synced block)");
    }
    h.raw("</dd></dl>");
    verdict(&mut h, v);
    freshness(&mut h, v);
    h.raw("</header>\n");

    structure(&mut h, &v.state);
    divergences(&mut h, v);
    decisions(&mut h, v);
    checkpoint(&mut h, v);

    h.raw("<footer><p class=\"muted\">Page generated ")
        .text(utc(now_unix()))
        .raw(" in ")
        .text(format!("{:.1}", started.elapsed().as_secs_f64() * 1000.0))
        .raw(" ms. The same data as JSON: <a href=\"/v1/groups/")
        .attr(url_part(&g.id))
        .raw("/state\">state</a>, <a href=\"/v1/groups/")
        .attr(url_part(&g.id))
        .raw("/divergences\">divergences</a>, <a href=\"/v1/groups/")
        .attr(url_part(&g.id))
        .raw("/records\">records</a>.</p></footer>");
    page_end(&mut h);
    h.into_string()
}

fn verdict(h: &mut Html, v: &PageView) {
    let n: usize = v
        .state
        .contracts
        .iter()
        .map(|c| c.disagreements.len())
        .sum();
    let unobserved = v
        .state
        .contracts
        .iter()
        .filter(|c| c.observed.is_none())
        .count();
    if v.state.consistent {
        h.raw("<p class=\"verdict ok\" id=\"verdict\">✓ Consistent: the chain matches the declared structure</p>");
        return;
    }
    h.raw("<p class=\"verdict bad\" id=\"verdict\">✗ ");
    if n == 1 {
        h.raw("1 disagreement");
    } else {
        h.text(n).raw(" disagreements");
    }
    if unobserved > 0 {
        h.raw(", ").text(unobserved).raw(" contract");
        if unobserved > 1 {
            h.raw("s");
        }
        h.raw(" not observed yet");
    }
    h.raw(" between the declared and the observed structure</p>");
}

fn freshness(h: &mut Html, v: &PageView) {
    h.raw("<p id=\"freshness\">Data fresh to block <strong>")
        .text(v.state.synced_to)
        .raw("</strong> of ")
        .text(&v.group.chain);
    if let Some((block, hash)) = &v.cursor {
        h.raw(" (chain indexed to block ")
            .text(block)
            .raw(" <span class=\"mono\">")
            .text(short(hash))
            .raw("</span>)");
    }
    match &v.reading {
        Some(r) => {
            if let Some(head) = r.head {
                h.raw("; chain head ").text(head);
            }
            if let Some(lag) = r.lag {
                h.raw(", ").text(lag).raw(" blocks behind");
            }
            match r.last_step_age_s {
                Some(age) => h
                    .raw("; last follower step ")
                    .text(format!("{age:.1}"))
                    .raw(" s ago"),
                None => h.raw("; the follower has not completed a step yet"),
            };
        }
        None => {
            h.raw("; chain head unknown (no follower of this chain runs in this process)");
        }
    }
    h.raw(".</p>");
}

fn short(hash: &str) -> String {
    if hash.len() > 14 {
        format!("{}…{}", &hash[..10], &hash[hash.len() - 4..])
    } else {
        hash.to_string()
    }
}

/// Whether a string shown on the page is what a disagreement is about: its item, or the last
/// part of an item such as `MINTER_ROLE:0x…` or `voting_delay=5`.
fn names_item(d: &Disagreement, s: &str) -> bool {
    let item = d.item.as_str();
    !item.is_empty()
        && (item.eq_ignore_ascii_case(s)
            || item
                .rsplit([':', '='])
                .next()
                .is_some_and(|last| last.eq_ignore_ascii_case(s)))
}

/// Whether a disagreement is about a field of the declaration: `safe.owner_undeclared` is about
/// `owners`, `safe.threshold_mismatch` about `threshold`, `voting_delay=5` about `voting_delay`.
fn about_field(d: &Disagreement, field: &str) -> bool {
    let subject = d
        .rule
        .split_once('.')
        .map(|(_, r)| r.split('_').next().unwrap_or(r))
        .unwrap_or("");
    let singular = field.strip_suffix('s').unwrap_or(field);
    (!subject.is_empty() && (subject == field || subject == singular))
        || d.item
            .strip_prefix(field)
            .is_some_and(|r| r.starts_with('='))
        || d.item
            .strip_prefix(field)
            .is_some_and(|r| r.starts_with(':'))
}

/// A JSON value as nested lists; strings a disagreement names get the marker beside them.
fn value(h: &mut Html, v: &Value, marks: &[&Disagreement], marked: &mut bool) {
    match v {
        Value::Null => {
            h.raw("<span class=\"muted\">—</span>");
        }
        Value::String(s) => {
            h.raw("<span class=\"mono\">")
                .text(checksummed(s))
                .raw("</span>");
            mark_leaf(h, s, marks, marked);
        }
        Value::Array(items) if items.is_empty() => {
            h.raw("<span class=\"muted\">none</span>");
        }
        Value::Array(items) => {
            h.raw("<ul>");
            for item in items {
                h.raw("<li>");
                value(h, item, marks, marked);
                h.raw("</li>");
            }
            h.raw("</ul>");
        }
        Value::Object(map) if map.is_empty() => {
            h.raw("<span class=\"muted\">none</span>");
        }
        Value::Object(map) => {
            h.raw("<ul>");
            for (k, item) in map {
                h.raw("<li><span class=\"mono\">").text(k).raw("</span>: ");
                value(h, item, marks, marked);
                h.raw("</li>");
            }
            h.raw("</ul>");
        }
        other => {
            let s = other.to_string();
            h.raw("<span class=\"mono\">").text(&s).raw("</span>");
            mark_leaf(h, &s, marks, marked);
        }
    }
}

/// Addresses as the manifest shows them (checksummed), whichever side they come from; other
/// text as it is.
fn checksummed(s: &str) -> String {
    match s.parse::<Address>() {
        Ok(a) if s.len() == 42 => a.to_checksum(None),
        _ => s.to_string(),
    }
}

fn mark_leaf(h: &mut Html, s: &str, marks: &[&Disagreement], marked: &mut bool) {
    if let Some(d) = marks.iter().find(|d| names_item(d, s)) {
        *marked = true;
        h.raw(" <span class=\"differs\">✗ differs (")
            .text(&d.rule)
            .raw(")</span>");
    }
}

fn structure(h: &mut Html, state: &GroupState) {
    h.raw("<section id=\"structure\"><h2>Declared beside observed</h2>");
    if state.contracts.is_empty() {
        h.raw("<p class=\"muted\">The manifest declares no contracts.</p>");
    }
    for c in &state.contracts {
        contract(h, c);
    }
    h.raw("</section>\n");
}

fn contract(h: &mut Html, c: &ContractState) {
    h.raw("<h3>")
        .text(&c.kind)
        .raw(" <span class=\"mono\">")
        .text(&c.address)
        .raw("</span> ");
    if c.observed.is_none() {
        h.raw("<span class=\"differs\">✗ not observed yet</span>");
    } else if c.disagreements.is_empty() {
        h.raw("<span class=\"ok-mark\">✓ agrees</span>");
    } else {
        h.raw("<span class=\"differs\">✗ ")
            .text(c.disagreements.len())
            .raw(if c.disagreements.len() == 1 {
                " disagreement"
            } else {
                " disagreements"
            })
            .raw("</span>");
    }
    h.raw("</h3>");
    if let (Some(block), Some(source)) = (c.observed_block, &c.observed_source) {
        h.raw("<p class=\"muted\">Observed at block ")
            .text(block)
            .raw(" (")
            .text(source)
            .raw(")</p>");
    }
    // The fields of both sides, declared order first.
    let empty = serde_json::Map::new();
    let declared = c.declared.as_object().unwrap_or(&empty);
    let observed = c
        .observed
        .as_ref()
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let mut fields: Vec<&String> = declared.keys().filter(|k| *k != "address").collect();
    fields.extend(observed.keys().filter(|k| !declared.contains_key(*k)));
    h.raw("<table class=\"contract\"><thead><tr><th>Field</th><th>Declared</th><th>Observed</th><th>Check</th></tr></thead><tbody>");
    for field in fields {
        let marks: Vec<&Disagreement> = c.disagreements.iter().collect();
        let mut cell = Html::default();
        let mut marked = false;
        cell.raw("<td>");
        match declared.get(field) {
            Some(d) => value(&mut cell, d, &marks, &mut marked),
            None => {
                cell.raw("<span class=\"muted\">not declared</span>");
            }
        }
        cell.raw("</td><td>");
        match observed.get(field) {
            Some(o) => value(&mut cell, o, &marks, &mut marked),
            None => {
                cell.raw("<span class=\"muted\">—</span>");
            }
        }
        cell.raw("</td>");
        let about: Vec<&Disagreement> = c
            .disagreements
            .iter()
            .filter(|d| about_field(d, field))
            .collect();
        let differs = marked || !about.is_empty();
        h.raw(if differs {
            "<tr class=\"differs\">"
        } else {
            "<tr>"
        })
        .raw("<th class=\"mono\">")
        .text(field)
        .raw("</th>")
        .raw(&cell.into_string())
        .raw("<td>");
        if differs {
            h.raw("<span class=\"differs\">✗ differs</span>");
        } else if declared.contains_key(field) && observed.contains_key(field) {
            h.raw("<span class=\"ok-mark\">✓</span>");
        }
        h.raw("</td></tr>");
    }
    h.raw("</tbody></table>");
    if !c.disagreements.is_empty() {
        h.raw("<ul class=\"disagreements\">");
        for d in &c.disagreements {
            h.raw("<li class=\"differs\">✗ differs: <span class=\"sev sev-")
                .attr(&d.severity)
                .raw("\">")
                .text(&d.severity)
                .raw("</span> <code>")
                .text(&d.rule)
                .raw("</code>");
            if !d.item.is_empty() {
                h.raw(" <span class=\"mono\">").text(&d.item).raw("</span>");
            }
            h.raw(" — expected ")
                .raw("<span class=\"mono\">")
                .text(&d.expected)
                .raw("</span>, observed <span class=\"mono\">")
                .text(&d.observed)
                .raw("</span></li>");
        }
        h.raw("</ul>");
    }
}

/// A link to a piece of chain evidence: the explorer's page of the transaction when the chain
/// has one, and always the API's records of that block.
fn evidence_links(h: &mut Html, v: &PageView, block: i64, tx_hash: Option<&str>) {
    h.raw("block ").text(block);
    if let (Some(explorer), Some(tx)) = (&v.explorer, tx_hash) {
        h.raw(" · <a class=\"explorer\" href=\"")
            .attr(format!("{explorer}/tx/{}", url_part(tx)))
            .raw("\">tx <span class=\"mono\">")
            .text(short(tx))
            .raw("</span></a>");
    } else if let Some(tx) = tx_hash {
        h.raw(" · tx <span class=\"mono\">")
            .text(short(tx))
            .raw("</span>");
    }
    h.raw(" · <a class=\"evidence\" href=\"")
        .attr(format!(
            "/v1/groups/{}/records?from_block={block}&to_block={block}",
            url_part(&v.group.id)
        ))
        .raw("\">records</a>");
}

fn divergences(h: &mut Html, v: &PageView) {
    h.raw("<section id=\"divergences\"><h2>Open divergences</h2>");
    let rows: Vec<&Divergence> = v
        .open
        .iter()
        .take(MAX_DIVERGENCES)
        .chain(v.acknowledged.iter().take(MAX_DIVERGENCES))
        .collect();
    if rows.is_empty() {
        h.raw("<p class=\"ok-mark\">✓ No open divergences.</p></section>\n");
        return;
    }
    h.raw("<table><thead><tr><th>#</th><th>Severity</th><th>Rule</th><th>Contract</th><th>Item</th><th>Expected</th><th>Observed</th><th>Opened</th><th>Status</th></tr></thead><tbody>");
    for d in rows {
        h.raw("<tr class=\"divergence ")
            .attr(&d.status)
            .raw("\"><td>")
            .text(d.n)
            .raw("</td><td><span class=\"sev sev-")
            .attr(&d.severity)
            .raw("\">")
            .text(&d.severity)
            .raw("</span></td><td><code>")
            .text(&d.rule)
            .raw("</code></td><td class=\"mono\">")
            .text(&d.subject)
            .raw("</td><td class=\"mono\">")
            .text(&d.item)
            .raw("</td><td class=\"mono\">")
            .text(&d.expected)
            .raw("</td><td class=\"mono\">")
            .text(&d.observed)
            .raw("</td><td>");
        evidence_links(h, v, d.opened_block, d.opened_tx_hash.as_deref());
        h.raw("</td><td>");
        if DivergenceStatus::parse(&d.status) == Some(DivergenceStatus::Acknowledged) {
            h.raw("<span class=\"ack\">acknowledged");
            if let Some(at) = &d.acked_at {
                h.raw(" ").text(stored_time(at));
            }
            h.raw(": ")
                .text(d.ack_note.as_deref().unwrap_or(""))
                .raw("</span>");
        } else {
            h.text(&d.status);
        }
        h.raw("</td></tr>");
    }
    h.raw("</tbody></table>");
    for (list, status) in [(&v.open, "open"), (&v.acknowledged, "acknowledged")] {
        if list.len() > MAX_DIVERGENCES {
            h.raw("<p>More than ")
                .text(MAX_DIVERGENCES)
                .raw(" ")
                .text(status)
                .raw(" divergences; all of them: <a href=\"/v1/groups/")
                .attr(url_part(&v.group.id))
                .raw("/divergences?status=")
                .attr(status)
                .raw("\">the API</a>.</p>");
        }
    }
    h.raw("</section>\n");
}

fn decisions(h: &mut Html, v: &PageView) {
    h.raw("<section id=\"decisions\"><h2>Recent decisions</h2>");
    if v.decisions.is_empty() {
        h.raw("<p class=\"muted\">No decisions recorded yet.</p></section>\n");
        return;
    }
    h.raw("<p class=\"muted\">The ")
        .text(v.decisions.len())
        .raw(" newest, newest first.</p><ol class=\"decisions\">");
    for d in &v.decisions {
        h.raw("<li class=\"decision\">");
        match d {
            Decision::SafeExecution(s) => {
                h.raw("<strong>Safe execution</strong> ")
                    .raw(if s.success {
                        "<span class=\"ok-mark\">succeeded</span>"
                    } else {
                        "<span class=\"differs\">failed</span>"
                    })
                    .raw(" on <span class=\"mono\">")
                    .text(&s.safe)
                    .raw("</span>");
                if let Some(t) = &s.transaction {
                    h.raw(": to <span class=\"mono\">")
                        .text(checksummed(&json_text(&t["to"])))
                        .raw("</span>, value ")
                        .text(json_text(&t["value"]))
                        .raw(" wei");
                }
                if let Some(signers) = s.signers.as_array().filter(|a| !a.is_empty()) {
                    h.raw("; signed by ");
                    for (i, signer) in signers.iter().enumerate() {
                        if i > 0 {
                            h.raw(", ");
                        }
                        let who = signer
                            .get("signer")
                            .map(json_text)
                            .unwrap_or_else(|| json_text(signer));
                        h.raw("<span class=\"mono\">")
                            .text(checksummed(&who))
                            .raw("</span>");
                    }
                }
                h.raw("<br>Evidence: ");
                evidence(h, v, &s.evidence);
            }
            Decision::Proposal(p) => {
                h.raw("<strong>Proposal</strong> ")
                    .text(&p.state)
                    .raw(" on governor <span class=\"mono\">")
                    .text(&p.governor)
                    .raw("</span>: ")
                    .text(p.description.lines().next().unwrap_or(""))
                    .raw(" <span class=\"muted\">(for ")
                    .text(&p.votes_for)
                    .raw(", against ")
                    .text(&p.votes_against)
                    .raw(", abstain ")
                    .text(&p.votes_abstain)
                    .raw(")</span><br>Evidence: created ");
                evidence(h, v, &p.created);
                for (label, e) in [
                    ("queued", &p.queued),
                    ("executed", &p.executed),
                    ("canceled", &p.canceled),
                ] {
                    if let Some(e) = e {
                        h.raw("; ").raw(label).raw(" ");
                        evidence(h, v, e);
                    }
                }
            }
        }
        h.raw("</li>");
    }
    h.raw("</ol></section>\n");
}

fn evidence(h: &mut Html, v: &PageView, e: &Evidence) {
    evidence_links(h, v, e.block_number, Some(&e.tx_hash));
}

fn json_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn checkpoint(h: &mut Html, v: &PageView) {
    h.raw("<section id=\"checkpoint\"><h2>Log checkpoint</h2>");
    match &v.checkpoint {
        None => {
            h.raw("<p>No checkpoint yet: the ")
                .text(&v.group.chain)
                .raw(" log has not been signed.</p>");
        }
        Some(c) => {
            h.raw("<dl class=\"facts\"><dt>Tree size</dt><dd>")
                .text(c.tree_size)
                .raw("</dd><dt>Root</dt><dd class=\"mono\">")
                .text(&c.root)
                .raw("</dd><dt>Signed at</dt><dd>")
                .text(stored_time(&c.signed_at))
                .raw("</dd></dl><pre class=\"note\">")
                .text(&c.note)
                .raw("</pre><p class=\"muted\">Check it with <code>groupstate verify</code>; proofs: <a href=\"/v1/log/checkpoint?chain=")
                .attr(url_part(&v.group.chain))
                .raw("\">/v1/log/checkpoint</a>.</p>");
        }
    }
    h.raw("</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::GroupSummary;

    #[test]
    fn escapes_every_special_character() {
        assert_eq!(
            escape("<a href=\"x\" title='y'>&</a>"),
            "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;"
        );
        assert_eq!(escape("plain text ✓"), "plain text ✓");
    }

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
        }
    }

    #[test]
    fn hostile_values_are_escaped() {
        let page = render(
            &view("Fund tooling <script>alert('x')</script> & more"),
            Instant::now(),
        );
        assert!(!page.contains("<script"), "{page}");
        assert!(page
            .contains("Fund tooling &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; more"));
        assert!(page.contains("River &lt;b&gt;Guild&lt;/b&gt;"));
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
            resolved_block: None,
            resolved_block_hash: None,
            resolved_tx_hash: None,
            resolved_log_index: None,
            resolved_manifest_hash: None,
            resolution: None,
            ack_note: note.map(String::from),
            acked_at: note.map(|_| "0".into()),
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
