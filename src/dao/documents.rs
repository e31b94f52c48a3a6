//! A group as EIP-4824 documents: the daoURI document and the documents its URIs point at —
//! members (the treasury Safes' owners), proposals (the governors' decisions with their calls),
//! the activity log (who proposed and who voted on each), contracts (every declared contract) —
//! in the shapes the standard gives, with absolute URIs under the server's public base.

use std::collections::BTreeSet;

use alloy::primitives::{Address, U256};
use serde_json::{json, Value};

use super::CONTEXT;
use crate::decisions::{Decision, ProposalDecision};
use crate::manifest::{Manifest, RoleDecl};

/// Where a group's documents are served: `{base}/v1/groups/{id}/…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaoLinks {
    /// `scheme://host[:port]`, without a trailing slash.
    pub base: String,
    pub group: String,
}

impl DaoLinks {
    fn group_url(&self, tail: &str) -> String {
        format!("{}/v1/groups/{}/{tail}", self.base, self.group)
    }
    pub fn dao(&self) -> String {
        self.group_url("dao.json")
    }
    pub fn members(&self) -> String {
        self.group_url("dao/members.json")
    }
    pub fn proposals(&self) -> String {
        self.group_url("dao/proposals.json")
    }
    pub fn activity(&self) -> String {
        self.group_url("dao/activity.json")
    }
    pub fn contracts(&self) -> String {
        self.group_url("dao/contracts.json")
    }
    /// The manifest version in force.
    pub fn governance(&self) -> String {
        self.group_url("dao/governance.json")
    }
    pub fn decisions(&self) -> String {
        self.group_url("decisions")
    }
    /// The public status page.
    pub fn page(&self) -> String {
        format!("{}/groups/{}", self.base, self.group)
    }
}

fn checksum(a: Address) -> String {
    a.to_checksum(None)
}

/// The daoURI document: name, description and the URI of each further document.
pub fn dao_document(manifest: &Manifest, links: &DaoLinks) -> Value {
    let mut doc = json!({
        "@context": CONTEXT,
        "type": "DAO",
        "name": manifest.name,
        "membersURI": links.members(),
        "proposalsURI": links.proposals(),
        "activityLogURI": links.activity(),
        "governanceURI": links.governance(),
        "contractsURI": links.contracts(),
    });
    // The standard asks for an absent field rather than an empty one.
    if !manifest.purpose.is_empty() {
        doc["description"] = json!(manifest.purpose);
    }
    doc
}

/// The members: every owner of a declared treasury Safe, once each, in address order.
pub fn members_document(manifest: &Manifest) -> Value {
    let owners: BTreeSet<Address> = manifest
        .treasury
        .safes
        .iter()
        .flat_map(|s| s.owners.iter().copied())
        .collect();
    let members: Vec<Value> = owners
        .into_iter()
        .map(|a| json!({"type": "EthereumAddress", "id": checksum(a)}))
        .collect();
    json!({"@context": CONTEXT, "type": "DAO", "name": manifest.name, "members": members})
}

/// A proposal's identifier as the standard asks: the governor's address, `?proposalId=`, and
/// the proposal's id.
fn proposal_id(p: &ProposalDecision) -> String {
    format!("{}?proposalId={}", p.governor, p.proposal_id)
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .map(|x| match x {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect()
}

/// A wei amount as decimal digits, whether recorded as hex or decimal.
fn decimal(v: &str) -> String {
    v.parse::<U256>()
        .map_or_else(|_| v.to_owned(), |n| n.to_string())
}

/// The proposals of the group's governors, with each call they make, from the executor's
/// address (the governor's declared timelock, else the governor).
pub fn proposals_document(manifest: &Manifest, decisions: &[Decision], links: &DaoLinks) -> Value {
    let proposals: Vec<Value> = governor_proposals(decisions)
        .map(|p| {
            let executor = p
                .governor
                .parse::<Address>()
                .ok()
                .and_then(|g| manifest.governor(&g))
                .and_then(|g| g.timelock)
                .map_or_else(|| p.governor.clone(), checksum);
            let (targets, values, datas) = (
                strings(&p.targets),
                strings(&p.values),
                strings(&p.calldatas),
            );
            let calls: Vec<Value> = targets
                .iter()
                .enumerate()
                .map(|(i, to)| {
                    json!({
                        "type": "CallDataEVM",
                        "operation": "call",
                        "from": executor,
                        "to": to,
                        "value": decimal(values.get(i).map_or("0", String::as_str)),
                        "data": datas.get(i).cloned().unwrap_or_else(|| "0x".into()),
                    })
                })
                .collect();
            let title = p.description.lines().next().unwrap_or("").trim();
            let name = if title.is_empty() {
                format!("Proposal {}", p.proposal_id)
            } else {
                title.trim_start_matches('#').trim().to_owned()
            };
            json!({
                "type": "proposal",
                "id": proposal_id(p),
                "name": name,
                "contentURI": format!("{}#{}", links.decisions(), p.proposal_id),
                "status": p.state,
                "calls": calls,
            })
        })
        .collect();
    json!({"@context": CONTEXT, "type": "DAO", "name": manifest.name, "proposals": proposals})
}

fn governor_proposals(decisions: &[Decision]) -> impl Iterator<Item = &ProposalDecision> {
    decisions.iter().filter_map(|d| match d {
        Decision::Proposal(p) => Some(p.as_ref()),
        Decision::SafeExecution(_) => None,
    })
}

/// The activity log: each proposal's creation by its proposer and each vote on it, in chain
/// order; an activity's id is where it happened (transaction hash and log index).
pub fn activity_document(manifest: &Manifest, decisions: &[Decision]) -> Value {
    let mut activities = Vec::new();
    for p in governor_proposals(decisions) {
        let proposal = json!({"type": "proposal", "id": proposal_id(p)});
        let member = |a: &str| json!({"type": "EthereumAddress", "id": a});
        activities.push(json!({
            "id": format!("{}:{}", p.created.tx_hash, p.created.log_index),
            "type": "activity",
            "description": "proposed",
            "proposal": proposal,
            "member": member(&p.proposer),
        }));
        for v in &p.votes {
            activities.push(json!({
                "id": format!("{}:{}", v.evidence.tx_hash, v.evidence.log_index),
                "type": "activity",
                "description": format!("voted {}", v.support),
                "proposal": proposal,
                "member": member(&v.voter),
            }));
        }
    }
    json!({"@context": CONTEXT, "type": "DAO", "name": manifest.name, "activities": activities})
}

/// Every contract the manifest declares, named by its kind and described by what is declared
/// of it.
pub fn contracts_document(manifest: &Manifest) -> Value {
    let mut contracts = Vec::new();
    for s in &manifest.treasury.safes {
        contracts.push(contract(
            s.address,
            "Treasury Safe",
            format!(
                "Safe holding the group's funds; {} of {} owners sign.",
                s.threshold,
                s.owners.len()
            ),
        ));
    }
    for g in &manifest.governance.governors {
        let executes = match g.timelock {
            Some(t) => format!("its proposals run through the timelock {}", checksum(t)),
            None => "it runs its proposals itself".into(),
        };
        contracts.push(contract(
            g.address,
            "Governor",
            format!(
                "OpenZeppelin Governor: voting delay {}, voting period {}, quorum {}%; {executes}.",
                g.voting_delay, g.voting_period, g.quorum_numerator
            ),
        ));
    }
    for t in &manifest.governance.timelocks {
        contracts.push(contract(
            t.address,
            "Timelock",
            format!(
                "TimelockController with a minimum delay of {} seconds.",
                t.min_delay
            ),
        ));
    }
    for r in &manifest.roles {
        let (name, description) = match r {
            RoleDecl::AccessControl { members, .. } => (
                "Roles contract",
                format!(
                    "AccessControl contract; declared roles: {}.",
                    members
                        .values()
                        .map(|m| m.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
            RoleDecl::Ownable { owner, .. } => (
                "Owned contract",
                format!("Ownable contract owned by {}.", checksum(*owner)),
            ),
        };
        contracts.push(contract(r.contract(), name, description));
    }
    json!({"@context": CONTEXT, "type": "DAO", "name": manifest.name, "contracts": contracts})
}

fn contract(address: Address, name: &str, description: String) -> Value {
    json!({
        "type": "EthereumAddress",
        "id": checksum(address),
        "name": name,
        "description": description,
    })
}
