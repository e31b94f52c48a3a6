//! How the CLI prints: aligned tables for people, JSON for machines.

use crate::decisions::Decision;
use crate::store::{Divergence, GroupRow, ManifestVersion, RecordRow};

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

pub fn records(rows: &[RecordRow], as_json: bool) -> anyhow::Result<()> {
    if as_json {
        let v: Vec<serde_json::Value> = rows
            .iter()
            .map(|r| {
                let mut v = serde_json::to_value(r).expect("records serialise");
                // Show the decoded fields as JSON, not as a string holding JSON.
                v["fields"] = serde_json::from_str(&r.fields).unwrap_or(serde_json::Value::Null);
                v["topics"] = serde_json::from_str(&r.topics).unwrap_or(serde_json::Value::Null);
                v
            })
            .collect();
        return json(&v);
    }
    table(
        &["BLOCK", "LOG", "TX", "SAFE", "KIND", "CATEGORY", "FIELDS"],
        rows.iter()
            .map(|r| {
                let mut fields = r.fields.clone();
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
    Ok(())
}

pub fn decisions(rows: &[Decision], as_json: bool) -> anyhow::Result<()> {
    if as_json {
        return json(&rows);
    }
    table(
        &["BLOCK", "TYPE", "CONTRACT", "WHAT", "STATE", "WHO"],
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
                ],
                Decision::SafeExecution(e) => vec![
                    e.evidence.block_number.to_string(),
                    "safe execution".to_string(),
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
                        .unwrap_or_else(|| "signers unknown".to_string()),
                ],
            })
            .collect(),
    );
    println!("{} decision(s)", rows.len());
    Ok(())
}

pub fn divergences(rows: &[Divergence], as_json: bool) -> anyhow::Result<()> {
    if as_json {
        return json(&rows);
    }
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
    Ok(())
}

pub fn groups(rows: &[GroupRow], as_json: bool) -> anyhow::Result<()> {
    if as_json {
        return json(&rows);
    }
    table(
        &["ID", "CHAIN", "START", "SYNCED TO"],
        rows.iter()
            .map(|g| {
                vec![
                    g.id.clone(),
                    g.chain.clone(),
                    g.start_block.to_string(),
                    g.synced_to.to_string(),
                ]
            })
            .collect(),
    );
    Ok(())
}

pub fn group(g: &GroupRow, versions: &[ManifestVersion], as_json: bool) -> anyhow::Result<()> {
    if as_json {
        return json(&serde_json::json!({ "group": g, "versions": versions }));
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
