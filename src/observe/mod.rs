//! The observed structure of each watched contract, as the chain says: seeded by a reading
//! (`eth_call`s) at the block before the group starts following it, advanced by each structural
//! event, and corrected by periodic re-reads.
//!
//! Invariant: pure — readings and events in, structure out; the readings were fetched before. Safes in [`safe`]; governors, timelocks, AccessControl roles and Ownable owners in
//! [`governance`].

pub mod governance;
pub mod safe;
pub mod signers;

pub use governance::{GovernorState, OwnableState, RolesState, TimelockState};
pub use safe::SafeState;

use crate::chain::read::Reading;
use crate::decode::GroupEvent;
pub use crate::model::ContractKind;

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

    /// The structure a seed reading shows: the contract as the group starts following it
    /// (role members rebuilt from their history).
    pub fn seed(reading: &Reading) -> Observed {
        match reading {
            Reading::Safe(r) => Observed::Safe(SafeState::from_reading(r)),
            Reading::Governor(r) => Observed::Governor(GovernorState::from_reading(r)),
            Reading::Timelock(r) => Observed::Timelock(TimelockState::from_reading(r)),
            Reading::Roles(r) => Observed::Roles(RolesState::from_reading(r)),
            Reading::Ownable(r) => Observed::Ownable(OwnableState {
                owner: r.owner,
                pending_owner: None,
            }),
            Reading::Singleton(a) => {
                let mut s = SafeState::default();
                s.read_singleton(*a);
                Observed::Safe(s)
            }
            // A treasury's balance is no contract's structure; never asked for as a seed.
            Reading::Balance(_) => Observed::Safe(SafeState::default()),
        }
    }

    /// This state corrected by a periodic re-read: what calls can read replaces what the events
    /// said (role members, which no call lists, are kept; so is a pending owner).
    pub fn refreshed(&self, reading: &Reading) -> Observed {
        match (self, reading) {
            (Observed::Safe(s), Reading::Safe(r)) => Observed::Safe(s.refreshed(r)),
            (Observed::Safe(s), Reading::Singleton(a)) => {
                let mut fresh = s.clone();
                fresh.read_singleton(*a);
                Observed::Safe(fresh)
            }
            (Observed::Governor(_), Reading::Governor(r)) => {
                Observed::Governor(GovernorState::from_reading(r))
            }
            (Observed::Timelock(t), Reading::Timelock(r)) => {
                let mut fresh = t.clone();
                if r.code && r.min_delay.is_some() {
                    fresh.min_delay = r.min_delay;
                }
                Observed::Timelock(fresh)
            }
            (Observed::Ownable(o), Reading::Ownable(r)) => {
                let mut fresh = o.clone();
                fresh.owner = r.owner;
                Observed::Ownable(fresh)
            }
            (same, _) => same.clone(),
        }
    }

    /// Whether a periodic re-read of this kind can show anything (no call lists role members).
    pub fn refreshable(kind: ContractKind) -> bool {
        kind != ContractKind::Roles
    }
}
