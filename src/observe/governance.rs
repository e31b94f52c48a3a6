//! Observed governance structure: a Governor's parameters, a Timelock's minimum delay and role
//! holders, an AccessControl contract's role members and admins, an Ownable contract's owner —
//! from readings (and, for role members, which no contract lists, the role events since the
//! contract's creation block), then advanced by events.

use std::collections::{BTreeMap, BTreeSet};

use alloy::primitives::{Address, B256, U256};
use serde::{Deserialize, Serialize};

use crate::chain::read::{GovernorReading, RolesReading, TimelockReading};
use crate::decode::GovernanceEvent;

/// A Governor's settings; `None` where the contract does not expose one (no such extension).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GovernorState {
    pub deployed: bool,
    pub voting_delay: Option<U256>,
    pub voting_period: Option<U256>,
    pub proposal_threshold: Option<U256>,
    pub quorum_numerator: Option<U256>,
    pub timelock: Option<Address>,
}

impl GovernorState {
    /// Applies one event; returns whether the settings changed.
    pub fn apply(&mut self, e: &GovernanceEvent) -> bool {
        use GovernanceEvent as G;
        let before = self.clone();
        match e {
            G::VotingDelaySet { new, .. } => self.voting_delay = Some(*new),
            G::VotingPeriodSet { new, .. } => self.voting_period = Some(*new),
            G::ProposalThresholdSet { new, .. } => self.proposal_threshold = Some(*new),
            G::QuorumNumeratorUpdated { new, .. } => self.quorum_numerator = Some(*new),
            G::TimelockChange { new, .. } => self.timelock = Some(*new),
            _ => {}
        }
        if *self != before {
            self.deployed = true;
        }
        *self != before
    }
}

/// Role members and role admins of an AccessControl contract (a TimelockController is one).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolesState {
    /// False until the contract has code or emitted a role event: before that, no member is
    /// missing, there is no contract yet.
    #[serde(default)]
    pub deployed: bool,
    pub members: BTreeMap<B256, BTreeSet<Address>>,
    /// Roles whose admin is not `DEFAULT_ADMIN_ROLE`.
    pub admins: BTreeMap<B256, B256>,
}

impl RolesState {
    pub fn apply(&mut self, e: &GovernanceEvent) -> bool {
        use GovernanceEvent as G;
        if matches!(
            e,
            G::RoleGranted { .. } | G::RoleRevoked { .. } | G::RoleAdminChanged { .. }
        ) {
            self.deployed = true;
        }
        match e {
            G::RoleGranted { role, account, .. } => {
                self.members.entry(*role).or_default().insert(*account)
            }
            G::RoleRevoked { role, account, .. } => {
                let removed = self
                    .members
                    .get_mut(role)
                    .is_some_and(|m| m.remove(account));
                self.members.retain(|_, m| !m.is_empty());
                removed
            }
            G::RoleAdminChanged {
                role,
                new_admin_role,
                ..
            } => {
                let before = self.admins.get(role).copied().unwrap_or_default();
                if *new_admin_role == B256::ZERO {
                    self.admins.remove(role);
                } else {
                    self.admins.insert(*role, *new_admin_role);
                }
                before != *new_admin_role
            }
            _ => false,
        }
    }

    pub fn holders(&self, role: &B256) -> BTreeSet<Address> {
        self.members.get(role).cloned().unwrap_or_default()
    }
}

/// A TimelockController: its minimum delay and its role holders.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelockState {
    pub deployed: bool,
    pub min_delay: Option<U256>,
    pub roles: RolesState,
}

impl TimelockState {
    pub fn apply(&mut self, e: &GovernanceEvent) -> bool {
        let changed = match e {
            GovernanceEvent::MinDelayChange { new, .. } => {
                let changed = self.min_delay != Some(*new);
                self.min_delay = Some(*new);
                changed
            }
            other => self.roles.apply(other),
        };
        // Its constructor's events are the first sign of a timelock followed from before it.
        self.deployed |= changed;
        changed
    }
}

/// An Ownable (or Ownable2Step) contract's owner and pending owner.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnableState {
    pub owner: Option<Address>,
    pub pending_owner: Option<Address>,
}

impl OwnableState {
    pub fn apply(&mut self, e: &GovernanceEvent) -> bool {
        use GovernanceEvent as G;
        let before = self.clone();
        match e {
            G::OwnershipTransferred { new_owner, .. } => {
                self.owner = Some(*new_owner);
                self.pending_owner = None;
            }
            G::OwnershipTransferStarted { new_owner, .. } => self.pending_owner = Some(*new_owner),
            _ => {}
        }
        *self != before
    }
}

impl GovernorState {
    /// A Governor's settings as read; the default before it has code.
    pub fn from_reading(r: &GovernorReading) -> GovernorState {
        if !r.code {
            return GovernorState::default();
        }
        GovernorState {
            deployed: true,
            voting_delay: r.voting_delay,
            voting_period: r.voting_period,
            proposal_threshold: r.proposal_threshold,
            quorum_numerator: r.quorum_numerator,
            timelock: r.timelock,
        }
    }
}

impl RolesState {
    /// Members and admins rebuilt from the role history read with the contract (AccessControl
    /// does not enumerate members); a log the catalog cannot decode is skipped.
    pub fn from_reading(r: &RolesReading) -> RolesState {
        let mut state = RolesState {
            deployed: r.code,
            ..RolesState::default()
        };
        for log in r.history.iter().flatten() {
            if let Ok(e) = crate::decode::governance::decode(log.topics(), &log.data().data) {
                state.apply(&e);
            }
        }
        state
    }
}

impl TimelockState {
    /// Minimum delay and role holders as read; the default before it has code.
    pub fn from_reading(r: &TimelockReading) -> TimelockState {
        if !r.code {
            return TimelockState::default();
        }
        TimelockState {
            deployed: true,
            min_delay: r.min_delay,
            roles: RolesState::from_reading(&RolesReading {
                code: true,
                history: r.history.clone(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_follow_grants_revokes_and_admin_changes() {
        let role = B256::repeat_byte(1);
        let a = Address::repeat_byte(0xa);
        let mut s = RolesState::default();
        let grant = GovernanceEvent::RoleGranted {
            role,
            account: a,
            sender: a,
        };
        assert!(s.apply(&grant));
        assert!(!s.apply(&grant), "granting twice changes nothing");
        assert_eq!(s.holders(&role), BTreeSet::from([a]));
        assert!(s.apply(&GovernanceEvent::RoleRevoked {
            role,
            account: a,
            sender: a
        }));
        assert!(s.members.is_empty());
        assert!(s.apply(&GovernanceEvent::RoleAdminChanged {
            role,
            previous_admin_role: B256::ZERO,
            new_admin_role: B256::repeat_byte(2)
        }));
        assert_eq!(s.admins[&role], B256::repeat_byte(2));
    }

    #[test]
    fn governor_settings_and_ownership_follow_events() {
        let mut g = GovernorState::default();
        assert!(g.apply(&GovernanceEvent::VotingPeriodSet {
            old: U256::from(10),
            new: U256::from(20)
        }));
        assert_eq!(g.voting_period, Some(U256::from(20)));
        let mut o = OwnableState::default();
        let (a, b) = (Address::repeat_byte(1), Address::repeat_byte(2));
        assert!(o.apply(&GovernanceEvent::OwnershipTransferStarted {
            previous_owner: a,
            new_owner: b
        }));
        assert!(o.apply(&GovernanceEvent::OwnershipTransferred {
            previous_owner: a,
            new_owner: b
        }));
        assert_eq!((o.owner, o.pending_owner), (Some(b), None));
    }
}
