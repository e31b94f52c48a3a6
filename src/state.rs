//! A group's structure as its manifest declares it beside what the chain shows, contract by
//! contract, with every disagreement marked — the answer of `GET /v1/groups/{id}/state`, the
//! status page and `groupstate group state`.
//!
//! Invariant: the disagreements are recomputed with the same pure [`reconcile`] the follower
//! uses, against the newest observed state the store holds and the manifest version in force at
//! the group's synced block, so this view and the divergences it opened never disagree in rule.
//!
//! - [`form`]: the observed structure in the form of its declaration (decimals, named roles);
//! - [`rows`]: both sides as rows for people (short addresses, durations in human units), laid
//!   out by the status page and the CLI.

pub mod form;
pub mod rows;

use alloy::primitives::Address;
use serde::Serialize;

use crate::manifest::{Manifest, RoleDecl};
use crate::observe::{ContractKind, Observed};
use crate::reconcile::reconcile;
use crate::store::{GroupRow, ManifestVersion, Store, StoreError};

/// One declared contract, declared beside observed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ContractState {
    pub address: String,
    /// safe | governor | timelock | roles | ownable
    pub kind: String,
    /// The manifest's declaration for this contract.
    #[schema(value_type = Object)]
    pub declared: serde_json::Value,
    /// The newest observed structure in the form of `declared` — numbers in decimal, amounts
    /// as decimal strings, addresses checksummed, a timelock's role holders under `proposers`,
    /// `executors`, `cancellers` and `admins`, roles by name (the manifest's, else a well-known
    /// OpenZeppelin name, else the role hash) — or null if the follower has not observed it yet.
    #[schema(value_type = Option<Object>)]
    pub observed: Option<serde_json::Value>,
    /// The same structure as the follower stores it (integers as 0x-hex, roles by hash), or
    /// null.
    #[schema(value_type = Option<Object>)]
    pub observed_raw: Option<serde_json::Value>,
    /// Where the observed structure was last changed (or snapshotted).
    pub observed_block: Option<i64>,
    pub observed_source: Option<String>,
    /// Every way the observed structure differs from the declared one; empty if they agree.
    pub disagreements: Vec<Disagreement>,
}

/// One disagreement, in the words of the rule that finds it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Disagreement {
    pub rule: String,
    pub severity: String,
    /// What distinguishes two findings of one rule on one contract (an owner, a module), or "".
    pub item: String,
    pub expected: String,
    pub observed: String,
}

/// A group's whole state.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct GroupState {
    pub group_id: String,
    pub chain: String,
    /// The manifest version in force after the synced block.
    pub manifest_version: i64,
    pub manifest_hash: String,
    /// Records and observed states are complete up to this block.
    pub synced_to: i64,
    pub contracts: Vec<ContractState>,
    /// Whether every declared contract is observed and agrees with its declaration.
    pub consistent: bool,
}

/// Declared beside observed for one group.
#[tracing::instrument(skip_all, fields(group = %group.id))]
pub async fn group_state(
    store: &Store,
    group: &GroupRow,
    versions: &[ManifestVersion],
) -> Result<GroupState, StoreError> {
    let version = ManifestVersion::in_force_at(versions, group.synced_to + 1)
        .ok_or_else(|| StoreError::Corrupt(format!("group {} has no manifest", group.id)))?;
    let observed = store.current_states(&group.id).await?;
    let manifest = &version.manifest;
    let mut contracts = Vec::new();
    for (address, kind) in manifest.declared_contracts() {
        let row = observed.iter().find(|s| {
            s.kind == kind.as_str() && s.contract.parse::<Address>().ok() == Some(address)
        });
        let parsed = match row {
            Some(r) => Some(
                Observed::from_json(kind, &r.state)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            ),
            None => None,
        };
        let disagreements = parsed
            .as_ref()
            .map(|o| {
                reconcile(manifest, address, o)
                    .into_iter()
                    .map(|f| Disagreement {
                        rule: f.rule.as_str().to_string(),
                        severity: f.rule.severity().as_str().to_string(),
                        item: f.key,
                        expected: f.expected,
                        observed: f.observed,
                    })
                    .collect()
            })
            .unwrap_or_default();
        contracts.push(ContractState {
            address: address.to_checksum(None),
            kind: kind.as_str().to_string(),
            declared: declaration(manifest, address, kind),
            observed: parsed
                .as_ref()
                .map(|o| form::declared_form(manifest, address, o)),
            observed_raw: row.and_then(|r| serde_json::from_str(&r.state).ok()),
            observed_block: row.map(|r| r.block_number),
            observed_source: row.map(|r| r.source.clone()),
            disagreements,
        });
    }
    let consistent = contracts
        .iter()
        .all(|c| c.observed.is_some() && c.disagreements.is_empty());
    Ok(GroupState {
        group_id: group.id.clone(),
        chain: group.chain.clone(),
        manifest_version: version.version,
        manifest_hash: version.hash.clone(),
        synced_to: group.synced_to,
        contracts,
        consistent,
    })
}

/// What the manifest says about one contract, as JSON.
fn declaration(m: &Manifest, address: Address, kind: ContractKind) -> serde_json::Value {
    let value = match kind {
        ContractKind::Safe => m.safe(&address).map(serde_json::to_value),
        ContractKind::Governor => m.governor(&address).map(serde_json::to_value),
        ContractKind::Timelock => m.timelock(&address).map(serde_json::to_value),
        ContractKind::Roles | ContractKind::Ownable => m
            .roles
            .iter()
            .find(|r| r.contract() == address)
            .map(|r: &RoleDecl| serde_json::to_value(r)),
    };
    match value {
        Some(Ok(v)) => v,
        _ => serde_json::Value::Null,
    }
}
