//! Page data for the page's tests: every section filled, and every free-text value replaceable
//! by a hostile one.

use serde_json::json;

use super::PageView;
use crate::decisions::{Decision, Evidence, ProposalDecision, SafeExecutionDecision};
use crate::metrics::ChainReading;
use crate::query::GroupSummary;
use crate::state::{ContractState, Disagreement, GroupState};
use crate::store::{Divergence, StoredCheckpoint};

/// `text` with a script, both quotes and an ampersand appended: each place the page shows it
/// must escape it.
pub fn hostile(text: &str) -> String {
    format!("{text}\"'><script>alert('{text}')</script>&amp;")
}

fn evidence(block: i64, tx: &str) -> Evidence {
    Evidence {
        block_number: block,
        block_hash: format!("0x{}", "b".repeat(64)),
        tx_hash: tx.into(),
        log_index: 0,
    }
}

pub fn divergence(n: i64, status: &str, t: &dyn Fn(&str) -> String) -> Divergence {
    Divergence {
        group_id: t("river-guild"),
        n,
        rule: t("safe.owner_undeclared"),
        severity: t("critical"),
        subject: t("0x00000000000000000000000000000000000000AA"),
        item: t("0x02"),
        expected: t("not an owner"),
        observed: t("an owner"),
        status: status.into(),
        opened_block: 9 + n,
        opened_block_hash: "0x99".into(),
        opened_tx_hash: (n % 3 != 0).then(|| t(&format!("0x{}", "c".repeat(64)))),
        opened_log_index: Some(0),
        opened_manifest_hash: "ab".into(),
        ack_note: (status == "acknowledged").then(|| t("rotation planned")),
        acked_at: (status == "acknowledged" && n % 2 == 0).then(|| "1700000000".into()),
        ..Divergence::default()
    }
}

/// A page with every section filled; `t` transforms each free-text value.
pub fn rich(t: &dyn Fn(&str) -> String) -> PageView {
    let safe = "0x00000000000000000000000000000000000000aa";
    let owner = "0x0000000000000000000000000000000000000001";
    let intruder = "0x0000000000000000000000000000000000000002";
    PageView {
        group: GroupSummary {
            id: t("river-guild"),
            name: t("River Guild"),
            purpose: t("Fund the river network's shared tooling."),
            phase: t("coordination"),
            chain: t("local"),
            start_block: 0,
            synced_to: 120,
            manifest_version: 3,
            manifest_hash: t(&"ab".repeat(32)),
            created_at: "0".into(),
        },
        state: GroupState {
            group_id: t("river-guild"),
            chain: t("local"),
            manifest_version: 2,
            manifest_hash: t(&"ab".repeat(32)),
            synced_to: 120,
            contracts: vec![
                ContractState {
                    address: t(safe),
                    kind: t("safe"),
                    declared: json!({
                        "address": safe,
                        "owners": [owner],
                        "threshold": 1,
                        "modules": [],
                        "note": t("declared text"),
                    }),
                    observed: Some(json!({
                        "owners": [owner, intruder, t("0x03")],
                        "threshold": 2,
                        "modules": {},
                        "fallback": null,
                        "paused": false,
                        "extra": {"nested": [t("deep"), 1.5]},
                    })),
                    observed_raw: None,
                    observed_block: Some(99),
                    observed_source: Some(t("event")),
                    disagreements: vec![
                        Disagreement {
                            rule: t("safe.owner_undeclared"),
                            severity: t("critical"),
                            item: intruder.into(),
                            expected: t("not an owner"),
                            observed: t("owner"),
                        },
                        Disagreement {
                            rule: t("safe.threshold_mismatch"),
                            severity: t("high"),
                            item: String::new(),
                            expected: t("1"),
                            observed: t("2"),
                        },
                        Disagreement {
                            rule: t("safe.owner_undeclared"),
                            severity: t("critical"),
                            item: t("0x03"),
                            expected: t("not an owner"),
                            observed: t("owner"),
                        },
                    ],
                },
                ContractState {
                    address: t("0x00000000000000000000000000000000000000bb"),
                    kind: t("roles"),
                    declared: json!({"members": {t("MINTER_ROLE"): [owner]}}),
                    observed: Some(json!({"members": {t("MINTER_ROLE"): [owner]}})),
                    observed_raw: None,
                    observed_block: Some(50),
                    observed_source: Some(t("snapshot")),
                    disagreements: Vec::new(),
                },
                ContractState {
                    address: t("0x00000000000000000000000000000000000000cc"),
                    kind: t("governor"),
                    declared: json!({"voting_delay": 1, "voting_period": 10}),
                    observed: Some(json!({"voting_delay": 5, "voting_period": 10})),
                    observed_raw: None,
                    observed_block: None,
                    observed_source: None,
                    disagreements: vec![Disagreement {
                        rule: t("governor.param_mismatch"),
                        severity: t("warning"),
                        item: "voting_delay=5".into(),
                        expected: t("1"),
                        observed: t("5"),
                    }],
                },
                ContractState {
                    address: t("0x00000000000000000000000000000000000000dd"),
                    kind: t("timelock"),
                    declared: json!({"min_delay": 2}),
                    observed: None,
                    observed_raw: None,
                    observed_block: None,
                    observed_source: None,
                    disagreements: Vec::new(),
                },
            ],
            consistent: false,
        },
        open: vec![divergence(4, "open", t), divergence(3, "open", t)],
        acknowledged: vec![
            divergence(2, "acknowledged", t),
            divergence(1, "acknowledged", t),
        ],
        decisions: vec![
            Decision::SafeExecution(Box::new(SafeExecutionDecision {
                safe: t(safe),
                safe_tx_hash: "0x01".into(),
                success: true,
                transaction: Some(json!({"to": t(intruder), "value": 1000})),
                signers: json!([{"signer": owner}, t(intruder), {"other": 1}]),
                evidence: evidence(100, &t(&format!("0x{}", "d".repeat(64)))),
                outflows: Vec::new(),
                calls: json!([]),
                calls_unknown: None,
                module: None,
                caller: None,
                refund: None,
            })),
            Decision::SafeExecution(Box::new(SafeExecutionDecision {
                safe: t(safe),
                safe_tx_hash: "0x02".into(),
                success: false,
                transaction: None,
                signers: json!([]),
                evidence: evidence(101, "0xe"),
                outflows: Vec::new(),
                calls: json!([]),
                calls_unknown: None,
                module: None,
                caller: None,
                refund: None,
            })),
            Decision::Proposal(Box::new(ProposalDecision {
                governor: t("0x00000000000000000000000000000000000000cc"),
                proposal_id: "1".into(),
                proposer: owner.into(),
                description: format!("{}\nsecond line", t("Pay the maintainers")),
                targets: json!([]),
                values: json!([]),
                calldatas: json!([]),
                state: t("executed"),
                votes_for: t("10"),
                votes_against: t("2"),
                votes_abstain: t("0"),
                votes: Vec::new(),
                created: evidence(90, "0xf0"),
                queued: Some(evidence(95, "0xf1")),
                eta: None,
                executed: Some(evidence(97, &t("0xf2"))),
                canceled: Some(evidence(98, "0xf3")),
                timelock_operation_id: None,
                timelock_calls: Vec::new(),
                outflows: Vec::new(),
            })),
        ],
        checkpoint: Some(StoredCheckpoint {
            tree_size: 42,
            root: t(&"07".repeat(32)),
            note: t("local\n42\nroot\n\n— local+1234abcd+sig\n"),
            signed_at: "1700000000".into(),
        }),
        cursor: Some((118, t(&format!("0x{}", "9".repeat(64))))),
        reading: Some(ChainReading {
            chain: "local".into(),
            head: Some(125),
            lag: Some(5),
            last_step_age_s: Some(1.25),
            ..ChainReading::default()
        }),
        explorer: Some(t("https://explorer.example")),
        block_time: Some(std::time::Duration::from_secs(12)),
        treasury: Some(treasury(t, safe)),
        history: vec![crate::history::VersionHistory {
            version: 3,
            hash: t(&"ab".repeat(32)),
            effective_block: 100,
            created_at: "0".into(),
            ratified: t("unratified"),
            ratification: None,
            changes: vec![crate::manifest::Change {
                section: "treasury".into(),
                subject: t(&format!("safe {safe} owners")),
                change: t(&format!("added {intruder}")),
            }],
            resolved: vec![crate::history::ResolvedByVersion {
                n: 1,
                rule: t("safe.owner_undeclared"),
                severity: t("critical"),
                subject: t(safe),
                item: t(intruder),
                resolved_block: 100,
            }],
        }],
        covenants: vec![crate::covenants::CovenantSummary {
            id: t("river-x-lake"),
            summary: Some(t("Keeps the river's Safe safe.")),
            version: 2,
            hash: t(&"cd".repeat(32)),
            parties: vec![t("river-guild"), t("lake-collective")],
            standing: crate::covenants::Standing {
                text: t("partially ratified (1 of 2 parties)"),
                ratified: 1,
                parties: 2,
            },
            open_breaches: 1,
            at_risk: 0,
        }],
    }
}

/// A treasury holding ETH and a token whose symbol is free text, with a history, totals and
/// one outflow with its decision and one without.
fn treasury(t: &dyn Fn(&str) -> String, safe: &str) -> crate::holdings::TreasuryView {
    use crate::holdings::{
        AssetHolding, AssetInfo, FlowDecision, HistoryPoint, OutflowView, TreasuryHoldings,
        TreasuryView,
    };
    let token = AssetInfo {
        asset: "0x00000000000000000000000000000000000000cc".into(),
        symbol: t("MKR"),
        decimals: Some(18),
        name: Some(t("Maker")),
    };
    let holding = |info: AssetInfo, balances: &[&str]| AssetHolding {
        balance: info.amount(balances.last().unwrap()),
        balance_source: "flows".into(),
        checked_block: None,
        inflow: info.amount("100000000000000000000"),
        outflow: info.amount("1500000000000000000"),
        inflow_count: 1,
        outflow_count: 1,
        history: balances
            .iter()
            .enumerate()
            .map(|(i, b)| HistoryPoint {
                block_number: 100 + i as i64,
                block_time: None,
                balance: b.to_string(),
            })
            .collect(),
        info,
    };
    let outflow = |decision: Option<FlowDecision>| OutflowView {
        treasury: safe.into(),
        info: AssetInfo::native(),
        amount: AssetInfo::native().amount("1500000000000000000"),
        counterparty: "0x0000000000000000000000000000000000000003".into(),
        block_number: 101,
        block_time: Some("2023-11-14T22:13:20Z".into()),
        tx_hash: format!("0x{}", "5".repeat(64)),
        decision,
    };
    TreasuryView {
        group_id: t("river-guild"),
        synced_block: 120,
        window_days: crate::holdings::WINDOW_DAYS,
        window_from: Some(1_697_408_000),
        window_to: Some(1_700_000_000),
        window_from_time: Some("2023-10-15T22:13:20Z".into()),
        window_to_time: Some("2023-11-14T22:13:20Z".into()),
        treasuries: vec![TreasuryHoldings {
            address: safe.into(),
            assets: vec![
                holding(
                    AssetInfo::native(),
                    &["0", "100000000000000000000", "98500000000000000000"],
                ),
                holding(token, &["0", "5"]),
            ],
            largest_outflows: vec![
                outflow(Some(FlowDecision {
                    kind: "safe_execution".into(),
                    contract: safe.into(),
                    id: t(&format!("0x{}", "6".repeat(64))),
                })),
                outflow(None),
            ],
        }],
        truncated: false,
    }
}

/// A page with nothing in it: a consistent group that declares nothing, no follower here.
pub fn bare() -> PageView {
    let mut v = rich(&|s| s.to_string());
    v.state.contracts.clear();
    v.state.consistent = true;
    v.state.manifest_version = v.group.manifest_version;
    v.open.clear();
    v.acknowledged.clear();
    v.decisions.clear();
    v.checkpoint = None;
    v.cursor = None;
    v.reading = None;
    v.explorer = None;
    v
}

/// More divergences than the page shows, a follower that has not stepped, one unobserved
/// contract among several disagreements.
pub fn crowded() -> PageView {
    let mut v = rich(&|s| s.to_string());
    v.open = (0..=super::MAX_DIVERGENCES as i64)
        .map(|n| divergence(n + 200, "open", &|s| s.to_string()))
        .collect();
    v.acknowledged = (0..=super::MAX_DIVERGENCES as i64)
        .map(|n| divergence(n + 400, "acknowledged", &|s| s.to_string()))
        .collect();
    v.state.contracts.truncate(1);
    v.state
        .contracts
        .push(rich(&|s| s.to_string()).state.contracts[3].clone());
    v.state
        .contracts
        .push(rich(&|s| s.to_string()).state.contracts[3].clone());
    v.reading = Some(ChainReading::default());
    v.explorer = None;
    v
}
