//! How the CLI prints: aligned tables for people, JSON for machines.

use super::query::Status;
use crate::decisions::Decision;
use crate::query::{DivergencePage, GroupList, RecordPage};
use crate::state::GroupState;
use crate::store::{GroupRow, ManifestVersion};

pub(super) fn table(headers: &[&str], rows: Vec<Vec<String>>) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let parts: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
            .collect();
        println!("{}", parts.join("  ").trim_end());
    };
    line(headers.iter().map(|s| s.to_string()).collect());
    for r in rows {
        line(r);
    }
}

pub(super) fn json<T: serde::Serialize>(v: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

pub(super) fn short(h: &str) -> String {
    if h.len() > 12 {
        format!("{}…{}", &h[..8], &h[h.len() - 4..])
    } else {
        h.to_string()
    }
}

/// Tells a person how to get the next page.
fn next_page(has_more: bool, cursor: &Option<String>) {
    if let (true, Some(c)) = (has_more, cursor) {
        eprintln!("more: --cursor {c}");
    }
}

pub fn records(page: &RecordPage, as_json: bool) -> anyhow::Result<()> {
    if as_json {
        return json(page);
    }
    let rows = &page.records;
    table(
        &["BLOCK", "LOG", "TX", "SAFE", "KIND", "CATEGORY", "FIELDS"],
        rows.iter()
            .map(|r| {
                let mut fields = r.fields.to_string();
                if fields.len() > 80 {
                    fields.truncate(77);
                    fields.push_str("...");
                }
                vec![
                    r.block_number.to_string(),
                    r.log_index.to_string(),
                    short(&r.tx_hash),
                    short(&r.address),
                    r.kind.clone(),
                    r.category.clone(),
                    fields,
                ]
            })
            .collect(),
    );
    println!("{} record(s)", rows.len());
    next_page(page.has_more, &page.next_cursor);
    Ok(())
}

/// A Safe execution's calls in one cell: each call's path, function, target and amount, with
/// the rules it broke.
fn calls_summary(e: &crate::decisions::SafeExecutionDecision) -> String {
    let Some(calls) = e.calls.as_array().filter(|c| !c.is_empty()) else {
        return e
            .calls_unknown
            .as_ref()
            .map(|_| "unknown".to_string())
            .unwrap_or_default();
    };
    let text = |v: &serde_json::Value| {
        v.as_str()
            .map(String::from)
            .unwrap_or_else(|| v.to_string())
    };
    calls
        .iter()
        .filter(|c| c["function"] != "multi_send")
        .map(|c| {
            let mut s = format!(
                "{} {} {}",
                text(&c["path"]),
                text(&c["function"]),
                short(&text(&c["to"]))
            );
            if !c["amount"].is_null() {
                s.push_str(&format!(
                    " {} {}",
                    text(&c["amount"]),
                    short(&text(&c["asset"]))
                ));
            }
            if let Some(v) = c["verdict"].as_array().filter(|v| !v.is_empty()) {
                let rules: Vec<String> = v.iter().map(text).collect();
                s.push_str(&format!(" [{}]", rules.join(", ")));
            }
            s
        })
        .collect::<Vec<_>>()
        .join("; ")
}

pub fn decisions(rows: &[Decision], as_json: bool) -> anyhow::Result<()> {
    if as_json {
        return json(&rows);
    }
    table(
        &["BLOCK", "TYPE", "CONTRACT", "WHAT", "STATE", "WHO", "CALLS"],
        rows.iter()
            .map(|d| match d {
                Decision::Proposal(p) => vec![
                    p.created.block_number.to_string(),
                    "proposal".to_string(),
                    short(&p.governor),
                    {
                        let mut w = p.description.clone();
                        if w.chars().count() > 40 {
                            w = w.chars().take(37).collect::<String>() + "...";
                        }
                        w
                    },
                    p.state.clone(),
                    format!(
                        "for {} / against {} / abstain {} ({} votes)",
                        p.votes_for,
                        p.votes_against,
                        p.votes_abstain,
                        p.votes.len()
                    ),
                    String::new(),
                ],
                Decision::SafeExecution(e) => vec![
                    e.evidence.block_number.to_string(),
                    if e.module.is_some() {
                        "module execution"
                    } else {
                        "safe execution"
                    }
                    .to_string(),
                    short(&e.safe),
                    short(&e.safe_tx_hash),
                    if e.success { "success" } else { "failure" }.to_string(),
                    e.signers
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .map(|s| {
                                    format!(
                                        "{} ({})",
                                        short(s["signer"].as_str().unwrap_or("?")),
                                        s["kind"].as_str().unwrap_or("?")
                                    )
                                })
                                .collect::<Vec<_>>()
                                .join(", ")
                        })
                        .unwrap_or_else(|| match &e.module {
                            Some(m) => format!("module {}", short(m)),
                            None => "signers unknown".to_string(),
                        }),
                    calls_summary(e),
                ],
            })
            .collect(),
    );
    println!("{} decision(s)", rows.len());
    Ok(())
}

pub fn divergences(page: &DivergencePage, as_json: bool) -> anyhow::Result<()> {
    if as_json {
        return json(page);
    }
    let rows = &page.divergences;
    table(
        &[
            "N", "STATUS", "SEVERITY", "RULE", "SAFE", "EXPECTED", "OBSERVED", "EVIDENCE",
        ],
        rows.iter()
            .map(|d| {
                let evidence = match (&d.opened_tx_hash, d.opened_log_index) {
                    (Some(tx), Some(i)) => {
                        format!("block {} tx {} log {i}", d.opened_block, short(tx))
                    }
                    _ => format!("block {}", d.opened_block),
                };
                let status = match (&d.resolution, d.resolved_block) {
                    (Some(by), Some(b)) => format!("{} ({by}, block {b})", d.status),
                    _ => d.status.clone(),
                };
                vec![
                    d.n.to_string(),
                    status,
                    d.severity.clone(),
                    d.rule.clone(),
                    short(&d.subject),
                    d.expected.clone(),
                    d.observed.clone(),
                    evidence,
                ]
            })
            .collect(),
    );
    println!("{} divergence(s)", rows.len());
    next_page(page.has_more, &page.next_cursor);
    Ok(())
}

pub fn groups(list: &GroupList, as_json: bool) -> anyhow::Result<()> {
    if as_json {
        return json(list);
    }
    table(
        &[
            "ID",
            "NAME",
            "PHASE",
            "CHAIN",
            "START",
            "SYNCED TO",
            "VERSION",
        ],
        list.groups
            .iter()
            .map(|g| {
                vec![
                    g.id.clone(),
                    g.name.clone(),
                    g.phase.clone(),
                    g.chain.clone(),
                    g.start_block.to_string(),
                    g.synced_to.to_string(),
                    g.manifest_version.to_string(),
                ]
            })
            .collect(),
    );
    Ok(())
}

/// Declared beside observed, a table per contract: each field with both sides in the declared
/// form (decimals, named roles, durations in human units), and the disagreements under it.
pub fn state(
    s: &GroupState,
    as_json: bool,
    block_time: Option<std::time::Duration>,
) -> anyhow::Result<()> {
    use crate::state::rows::{field_rows, Check};
    if as_json {
        return json(s);
    }
    let differing: usize = s.contracts.iter().map(|c| c.disagreements.len()).sum();
    println!(
        "{} on chain {}: manifest version {} ({}), records complete to block {}",
        s.group_id, s.chain, s.manifest_version, s.manifest_hash, s.synced_to
    );
    println!(
        "{}",
        if s.consistent {
            "consistent: every declared contract is observed and agrees".to_string()
        } else {
            format!("{differing} disagreement(s)")
        }
    );
    for c in &s.contracts {
        let seen = match (c.observed_block, &c.observed_source) {
            (Some(b), Some(source)) => format!("observed at block {b}, {source}"),
            (Some(b), None) => format!("observed at block {b}"),
            _ => "not observed yet".to_string(),
        };
        let verdict = match (&c.observed, c.disagreements.len()) {
            (None, _) => "✗ not observed yet".to_string(),
            (Some(_), 0) => "✓ agrees".to_string(),
            (Some(_), n) => format!("✗ {n} disagreement(s)"),
        };
        println!("\n{} {} ({seen}): {verdict}", c.kind, c.address);
        let mut rows = Vec::new();
        for row in field_rows(c, block_time) {
            let declared = row
                .declared
                .as_ref()
                .map_or_else(|| vec!["not declared".to_string()], cell_lines);
            let observed = row
                .observed
                .as_ref()
                .map_or_else(|| vec!["—".to_string()], cell_lines);
            let check = match row.check {
                Check::Differs => "✗ differs",
                Check::Agrees => "✓",
                Check::Blank => "",
            };
            for i in 0..declared.len().max(observed.len()) {
                let first = i == 0;
                rows.push(vec![
                    match (first, row.role) {
                        (true, Some(role)) => format!("{} ({role})", row.field),
                        (true, None) => row.field.to_string(),
                        (false, _) => String::new(),
                    },
                    declared.get(i).cloned().unwrap_or_default(),
                    observed.get(i).cloned().unwrap_or_default(),
                    if first {
                        check.to_string()
                    } else {
                        String::new()
                    },
                ]);
            }
        }
        table(&["FIELD", "DECLARED", "OBSERVED", "CHECK"], rows);
        for d in &c.disagreements {
            let item = if d.item.is_empty() {
                String::new()
            } else {
                format!(" [{}]", d.item)
            };
            println!(
                "  ✗ {} ({}){item}: expected {}, observed {}",
                d.rule, d.severity, d.expected, d.observed
            );
        }
    }
    Ok(())
}

/// One side of a field as lines: a list one item a line, a map `key: value` (nested ones
/// indented), a value a disagreement names followed by ✗.
fn cell_lines(cell: &crate::state::rows::Cell) -> Vec<String> {
    use crate::state::rows::Cell;
    match cell {
        Cell::Null => vec!["—".to_string()],
        Cell::Empty => vec!["none".to_string()],
        Cell::Leaf(leaf) => {
            let mark = if leaf.mark.is_some() { " ✗" } else { "" };
            vec![format!("{}{mark}", leaf.with_unit(&leaf.text))]
        }
        Cell::List(items) => items.iter().flat_map(cell_lines).collect(),
        Cell::Map(items) => items
            .iter()
            .flat_map(|(key, item)| {
                let lines = cell_lines(item);
                if lines.len() == 1 {
                    vec![format!("{key}: {}", lines[0])]
                } else {
                    std::iter::once(format!("{key}:"))
                        .chain(lines.into_iter().map(|l| format!("  {l}")))
                        .collect()
                }
            })
            .collect(),
    }
}

pub fn status(s: &Status, as_json: bool) -> anyhow::Result<()> {
    if as_json {
        return json(s);
    }
    table(
        &[
            "CHAIN",
            "HEAD",
            "INDEXED",
            "LAG",
            "MAX LAG",
            "READY",
            "LOG ENTRIES",
            "HOLDER",
        ],
        s.chains
            .iter()
            .map(|c| {
                let opt = |v: Option<String>| v.unwrap_or_else(|| "?".into());
                vec![
                    c.chain.clone(),
                    opt(c.head.map(|v| v.to_string())),
                    opt(c.indexed.map(|v| v.to_string())),
                    opt(c.lag.map(|v| v.to_string())),
                    c.max_lag.to_string(),
                    if c.ready { "yes" } else { "no" }.to_string(),
                    c.log_entries.to_string(),
                    match &c.lease {
                        Some(l) if l.is_held() => format!("{} (epoch {})", l.holder, l.epoch),
                        Some(l) if !l.holder.is_empty() => {
                            format!("none ({} expired {} ms ago)", l.holder, -l.expires_in_ms)
                        }
                        _ => "none".to_string(),
                    },
                ]
            })
            .collect(),
    );
    for c in &s.chains {
        if let Some(e) = &c.error {
            println!("{}: {e}", c.chain);
        }
        match &c.daemon {
            Some(r) => {
                if let Some(e) = &r.failing {
                    println!(
                        "{}: FAILING for {:.0} s, retried alone ({} restarts): {e}",
                        c.chain,
                        r.failing_for_s.unwrap_or(0.0),
                        r.restarts
                    );
                } else if crate::progress::is_catching_up(r) {
                    println!("{}: catching up: {}", c.chain, crate::progress::summary(r));
                }
                for g in &r.catching_up {
                    println!(
                        "{}: group {} catching up: {:.1}% done, {} blocks left",
                        c.chain,
                        g.group,
                        g.progress() * 100.0,
                        crate::progress::thousands(g.blocks_left())
                    );
                }
            }
            None => {
                if let (Some(left), Some(p)) = (c.blocks_left, c.progress) {
                    if left > c.max_lag {
                        println!(
                            "{}: {:.1}% done, {} blocks left (no daemon answers at api.bind: \
                             rates and time left unknown)",
                            c.chain,
                            p * 100.0,
                            crate::progress::thousands(left)
                        );
                    }
                }
            }
        }
        match (c.balance_check_interval, c.balance_checked) {
            (0, _) => println!("{}: balance check off", c.chain),
            (n, Some((from, to))) => println!(
                "{}: balances checked every {n} blocks, from block {from} to {to} (a later start \
                 than the groups' means the node held no state for the blocks before)",
                c.chain
            ),
            (n, None) => println!("{}: balance check every {n} blocks, none read yet", c.chain),
        }
    }
    let open: Vec<String> = s
        .divergences_open
        .iter()
        .map(|(sev, n)| format!("{n} {sev}"))
        .collect();
    println!(
        "open divergences: {}",
        if open.is_empty() {
            "none".to_string()
        } else {
            open.join(", ")
        }
    );
    Ok(())
}

pub fn group(g: &GroupRow, versions: &[ManifestVersion], as_json: bool) -> anyhow::Result<()> {
    if as_json {
        return json(&crate::query::group_detail(g, versions));
    }
    let latest = versions.last();
    println!(
        "{} on chain {} (records complete to block {})",
        g.id, g.chain, g.synced_to
    );
    if let Some(v) = latest {
        let m = &v.manifest;
        println!("name:    {}", m.name);
        println!("purpose: {}", m.purpose);
        println!("phase:   {:?}", m.phase);
        for s in &m.treasury.safes {
            let owners: Vec<String> = s.owners.iter().map(|o| o.to_checksum(None)).collect();
            println!(
                "safe {}: {} of [{}], modules {}",
                s.address,
                s.threshold,
                owners.join(", "),
                s.modules.len()
            );
        }
    }
    table(
        &["VERSION", "HASH", "IN FORCE FROM"],
        versions
            .iter()
            .map(|v| {
                vec![
                    v.version.to_string(),
                    v.hash.clone(),
                    v.effective_block.to_string(),
                ]
            })
            .collect(),
    );
    Ok(())
}
