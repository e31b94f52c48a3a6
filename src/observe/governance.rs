//! Observed governance structure: a Governor's parameters, a Timelock's minimum delay and role
//! holders, an AccessControl contract's role members and admins, an Ownable contract's owner —
//! from `eth_call` snapshots (and, for role members, which no contract lists, the role events
//! since the contract's first block), then advanced by events.

use std::collections::{BTreeMap, BTreeSet};

use alloy::primitives::{Address, B256, U256};
use alloy::rpc::types::Filter;
use alloy::sol_types::SolEvent;
use serde::{Deserialize, Serialize};

use crate::chain::rpc::{Rpc, RpcError, RpcErrorKind};
use crate::decode::abi::gov::{IAccessControlEvents as AC, IGovernorEvents as GOV};
use crate::decode::abi::gov::{IOwnableEvents as OWN, ITimelockEvents as TL};
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

/// An `eth_call` that may revert because the contract lacks the function: `None` then.
async fn optional<C: alloy::sol_types::SolCall>(
    rpc: &Rpc,
    to: Address,
    call: &C,
    block: u64,
) -> Result<Option<C::Return>, RpcError> {
    match rpc.call_decode(to, call, block).await {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.kind == RpcErrorKind::Fatal => Ok(None),
        Err(e) => Err(e),
    }
}

/// A Governor's settings at `block`.
pub async fn snapshot_governor(
    rpc: &Rpc,
    governor: Address,
    block: u64,
) -> Result<GovernorState, RpcError> {
    if rpc.code_at(governor, block).await?.is_empty() {
        return Ok(GovernorState::default());
    }
    Ok(GovernorState {
        deployed: true,
        voting_delay: optional(rpc, governor, &GOV::votingDelayCall {}, block).await?,
        voting_period: optional(rpc, governor, &GOV::votingPeriodCall {}, block).await?,
        proposal_threshold: optional(rpc, governor, &GOV::proposalThresholdCall {}, block).await?,
        quorum_numerator: optional(rpc, governor, &GOV::quorumNumeratorCall {}, block).await?,
        timelock: optional(rpc, governor, &GOV::timelockCall {}, block).await?,
    })
}

/// Role members and admins of `contract` as of `block`, rebuilt from its role events since
/// block 0 (AccessControl does not enumerate members), fetched `range` blocks at a time.
pub async fn snapshot_roles(
    rpc: &Rpc,
    contract: Address,
    block: u64,
    range: u64,
) -> Result<RolesState, RpcError> {
    let mut state = RolesState {
        deployed: !rpc.code_at(contract, block).await?.is_empty(),
        ..RolesState::default()
    };
    let topics = vec![
        AC::RoleGranted::SIGNATURE_HASH,
        AC::RoleRevoked::SIGNATURE_HASH,
        AC::RoleAdminChanged::SIGNATURE_HASH,
    ];
    let mut from = 0u64;
    while from <= block {
        let to = block.min(from.saturating_add(range.max(1) - 1));
        let filter = Filter::new()
            .address(contract)
            .event_signature(topics.clone())
            .from_block(from)
            .to_block(to);
        let mut logs = rpc.logs(&filter).await?;
        logs.sort_by_key(|l| (l.block_number, l.log_index));
        for log in logs {
            if let Ok(e) = crate::decode::governance::decode(log.topics(), &log.data().data) {
                state.apply(&e);
            }
        }
        from = to + 1;
    }
    Ok(state)
}

/// A TimelockController at `block`: minimum delay and role holders.
pub async fn snapshot_timelock(
    rpc: &Rpc,
    timelock: Address,
    block: u64,
    range: u64,
) -> Result<TimelockState, RpcError> {
    if rpc.code_at(timelock, block).await?.is_empty() {
        return Ok(TimelockState::default());
    }
    Ok(TimelockState {
        deployed: true,
        min_delay: optional(rpc, timelock, &TL::getMinDelayCall {}, block).await?,
        roles: snapshot_roles(rpc, timelock, block, range).await?,
    })
}

/// A TimelockController's minimum delay at `block` (`None` without code or without the call).
pub async fn snapshot_timelock_delay(
    rpc: &Rpc,
    timelock: Address,
    block: u64,
) -> Result<Option<U256>, RpcError> {
    if rpc.code_at(timelock, block).await?.is_empty() {
        return Ok(None);
    }
    optional(rpc, timelock, &TL::getMinDelayCall {}, block).await
}

/// An Ownable contract's owner at `block` (pending owner only from events).
pub async fn snapshot_ownable(
    rpc: &Rpc,
    contract: Address,
    block: u64,
) -> Result<OwnableState, RpcError> {
    Ok(OwnableState {
        owner: optional(rpc, contract, &OWN::ownerCall {}, block).await?,
        pending_owner: None,
    })
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
