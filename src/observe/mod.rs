//! The observed structure of each watched contract, as the chain says: seeded by an `eth_call`
//! snapshot at the block before the group starts following it, then advanced by each structural
//! event. Safes in [`safe`]; governors, timelocks, AccessControl roles and Ownable owners in
//! [`governance`].

pub mod governance;
pub mod safe;
pub mod signers;

pub use governance::{GovernorState, OwnableState, RolesState, TimelockState};
pub use safe::{
    snapshot_safe, SafeState, FALLBACK_HANDLER_STORAGE_SLOT, GUARD_STORAGE_SLOT, SENTINEL,
};

use alloy::primitives::Address;

use crate::chain::rpc::{Rpc, RpcError};
use crate::decode::GroupEvent;

/// What kind of contract a group declares at an address; one address may be several (a
/// TimelockController is also an AccessControl contract, but its roles live in its timelock
/// state).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ContractKind {
    Safe,
    Governor,
    Timelock,
    Roles,
    Ownable,
}

impl ContractKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ContractKind::Safe => "safe",
            ContractKind::Governor => "governor",
            ContractKind::Timelock => "timelock",
            ContractKind::Roles => "roles",
            ContractKind::Ownable => "ownable",
        }
    }

    pub fn parse(s: &str) -> Option<ContractKind> {
        [
            ContractKind::Safe,
            ContractKind::Governor,
            ContractKind::Timelock,
            ContractKind::Roles,
            ContractKind::Ownable,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// The observed structure of one contract, of any kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observed {
    Safe(SafeState),
    Governor(GovernorState),
    Timelock(TimelockState),
    Roles(RolesState),
    Ownable(OwnableState),
}

/// A stored observed state that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("observed {kind} state: {source}")]
pub struct StateFormatError {
    kind: &'static str,
    #[source]
    source: serde_json::Error,
}

impl Observed {
    pub fn kind(&self) -> ContractKind {
        match self {
            Observed::Safe(_) => ContractKind::Safe,
            Observed::Governor(_) => ContractKind::Governor,
            Observed::Timelock(_) => ContractKind::Timelock,
            Observed::Roles(_) => ContractKind::Roles,
            Observed::Ownable(_) => ContractKind::Ownable,
        }
    }

    /// Applies an event emitted by the contract; returns whether its structure changed.
    pub fn apply(&mut self, event: &GroupEvent) -> bool {
        match (self, event) {
            (Observed::Safe(s), GroupEvent::Safe(e)) => s.apply(e),
            (Observed::Governor(s), GroupEvent::Governance(e)) => s.apply(e),
            (Observed::Timelock(s), GroupEvent::Governance(e)) => s.apply(e),
            (Observed::Roles(s), GroupEvent::Governance(e)) => s.apply(e),
            (Observed::Ownable(s), GroupEvent::Governance(e)) => s.apply(e),
            _ => false,
        }
    }

    pub fn to_json(&self) -> String {
        let v = match self {
            Observed::Safe(s) => serde_json::to_string(s),
            Observed::Governor(s) => serde_json::to_string(s),
            Observed::Timelock(s) => serde_json::to_string(s),
            Observed::Roles(s) => serde_json::to_string(s),
            Observed::Ownable(s) => serde_json::to_string(s),
        };
        v.expect("observed states always serialise")
    }

    pub fn from_json(kind: ContractKind, json: &str) -> Result<Observed, StateFormatError> {
        let err = |source| StateFormatError {
            kind: kind.as_str(),
            source,
        };
        Ok(match kind {
            ContractKind::Safe => Observed::Safe(serde_json::from_str(json).map_err(err)?),
            ContractKind::Governor => Observed::Governor(serde_json::from_str(json).map_err(err)?),
            ContractKind::Timelock => Observed::Timelock(serde_json::from_str(json).map_err(err)?),
            ContractKind::Roles => Observed::Roles(serde_json::from_str(json).map_err(err)?),
            ContractKind::Ownable => Observed::Ownable(serde_json::from_str(json).map_err(err)?),
        })
    }

    /// Nothing known yet: the state before the chain's first block.
    pub fn empty(kind: ContractKind) -> Observed {
        match kind {
            ContractKind::Safe => Observed::Safe(SafeState::default()),
            ContractKind::Governor => Observed::Governor(GovernorState::default()),
            ContractKind::Timelock => Observed::Timelock(TimelockState::default()),
            ContractKind::Roles => Observed::Roles(RolesState::default()),
            ContractKind::Ownable => Observed::Ownable(OwnableState::default()),
        }
    }

    /// This state corrected by a periodic `eth_call` snapshot at `block`: what calls can read
    /// replaces what the events said (role members, which no call lists, are kept).
    pub async fn refreshed(
        &self,
        rpc: &Rpc,
        address: Address,
        block: u64,
    ) -> Result<Observed, RpcError> {
        Ok(match self {
            Observed::Safe(_) => Observed::Safe(snapshot_safe(rpc, address, block).await?),
            Observed::Governor(_) => {
                Observed::Governor(governance::snapshot_governor(rpc, address, block).await?)
            }
            Observed::Timelock(t) => {
                let mut fresh = t.clone();
                let read = governance::snapshot_timelock_delay(rpc, address, block).await?;
                if read.is_some() {
                    fresh.min_delay = read;
                }
                Observed::Timelock(fresh)
            }
            Observed::Roles(r) => Observed::Roles(r.clone()),
            Observed::Ownable(o) => {
                let mut fresh = o.clone();
                fresh.owner = governance::snapshot_ownable(rpc, address, block)
                    .await?
                    .owner;
                Observed::Ownable(fresh)
            }
        })
    }

    /// The contract's structure at `block`, read from the chain; `log_range` bounds the
    /// `eth_getLogs` ranges of a role-history scan.
    pub async fn snapshot(
        kind: ContractKind,
        rpc: &Rpc,
        address: Address,
        block: u64,
        log_range: u64,
    ) -> Result<Observed, RpcError> {
        Ok(match kind {
            ContractKind::Safe => Observed::Safe(snapshot_safe(rpc, address, block).await?),
            ContractKind::Governor => {
                Observed::Governor(governance::snapshot_governor(rpc, address, block).await?)
            }
            ContractKind::Timelock => Observed::Timelock(
                governance::snapshot_timelock(rpc, address, block, log_range).await?,
            ),
            ContractKind::Roles => {
                Observed::Roles(governance::snapshot_roles(rpc, address, block, log_range).await?)
            }
            ContractKind::Ownable => {
                Observed::Ownable(governance::snapshot_ownable(rpc, address, block).await?)
            }
        })
    }
}
