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
                    observed_block: Some(50),
                    observed_source: Some(t("snapshot")),
                    disagreements: Vec::new(),
                },
                ContractState {
                    address: t("0x00000000000000000000000000000000000000cc"),
                    kind: t("governor"),
                    declared: json!({"voting_delay": 1, "voting_period": 10}),
                    observed: Some(json!({"voting_delay": 5, "voting_period": 10})),
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
