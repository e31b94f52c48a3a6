//! Governance events: OpenZeppelin 5.x Governor and its extensions, TimelockController,
//! AccessControl, Ownable / Ownable2Step, ERC-20 `Transfer`, and Compound's GovernorBravo /
//! Timelock where their events differ (GovernorBravo's proposal and vote events have the same
//! signatures as OpenZeppelin's and decode as those).

use alloy::primitives::{b256, Address, Bytes, B256, U256};
use alloy::sol_types::{SolEvent, SolEventInterface};
use serde::Serialize;

use super::abi::gov::IAccessControlEvents::{self as AC, IAccessControlEventsEvents as AcEvents};
use super::abi::gov::IBravoEvents::{self as BR, IBravoEventsEvents as BravoEvents};
use super::abi::gov::ICompoundTimelockEvents::{
    self as CT, ICompoundTimelockEventsEvents as CompoundEvents,
};
use super::abi::gov::IERC20Events::{self as ERC20, IERC20EventsEvents as TokenEvents};
use super::abi::gov::IGovernorEvents::{self as GOV, IGovernorEventsEvents as GovernorEvents};
use super::abi::gov::IOwnableEvents::{self as OWN, IOwnableEventsEvents as OwnableEvents};
use super::abi::gov::ITimelockEvents::{self as TL, ITimelockEventsEvents as TimelockEvents};
use super::{decimal, decimals, Category, DecodeError, RecordKind};

/// `keccak256("Transfer(address,address,uint256)")`.
pub const TRANSFER_TOPIC: B256 =
    b256!("0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef");

/// A typed governance event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum GovernanceEvent {
    ProposalCreated {
        #[serde(serialize_with = "decimal")]
        proposal_id: U256,
        proposer: Address,
        targets: Vec<Address>,
        #[serde(serialize_with = "decimals")]
        values: Vec<U256>,
        signatures: Vec<String>,
        calldatas: Vec<Bytes>,
        #[serde(serialize_with = "decimal")]
        vote_start: U256,
        #[serde(serialize_with = "decimal")]
        vote_end: U256,
        description: String,
    },
    ProposalQueued {
        #[serde(serialize_with = "decimal")]
        proposal_id: U256,
        #[serde(serialize_with = "decimal")]
        eta: U256,
    },
    ProposalExecuted {
        #[serde(serialize_with = "decimal")]
        proposal_id: U256,
    },
    ProposalCanceled {
        #[serde(serialize_with = "decimal")]
        proposal_id: U256,
    },
    VoteCast {
        voter: Address,
        #[serde(serialize_with = "decimal")]
        proposal_id: U256,
        /// 0 against, 1 for, 2 abstain.
        support: u8,
        #[serde(serialize_with = "decimal")]
        weight: U256,
        reason: String,
        /// Only for `VoteCastWithParams`.
        #[serde(skip_serializing_if = "Option::is_none")]
        params: Option<Bytes>,
    },
    VotingDelaySet {
        #[serde(serialize_with = "decimal")]
        old: U256,
        #[serde(serialize_with = "decimal")]
        new: U256,
    },
    VotingPeriodSet {
        #[serde(serialize_with = "decimal")]
        old: U256,
        #[serde(serialize_with = "decimal")]
        new: U256,
    },
    ProposalThresholdSet {
        #[serde(serialize_with = "decimal")]
        old: U256,
        #[serde(serialize_with = "decimal")]
        new: U256,
    },
    QuorumNumeratorUpdated {
        #[serde(serialize_with = "decimal")]
        old: U256,
        #[serde(serialize_with = "decimal")]
        new: U256,
    },
    TimelockChange {
        old: Address,
        new: Address,
    },
    ProposalExtended {
        #[serde(serialize_with = "decimal")]
        proposal_id: U256,
        extended_deadline: u64,
    },
    CallScheduled {
        id: B256,
        #[serde(serialize_with = "decimal")]
        index: U256,
        target: Address,
        #[serde(serialize_with = "decimal")]
        value: U256,
        data: Bytes,
        predecessor: B256,
        #[serde(serialize_with = "decimal")]
        delay: U256,
    },
    CallExecuted {
        id: B256,
        #[serde(serialize_with = "decimal")]
        index: U256,
        target: Address,
        #[serde(serialize_with = "decimal")]
        value: U256,
        data: Bytes,
    },
    CallSalt {
        id: B256,
        salt: B256,
    },
    Cancelled {
        id: B256,
    },
    MinDelayChange {
        #[serde(serialize_with = "decimal")]
        old: U256,
        #[serde(serialize_with = "decimal")]
        new: U256,
    },
    RoleGranted {
        role: B256,
        account: Address,
        sender: Address,
    },
    RoleRevoked {
        role: B256,
        account: Address,
        sender: Address,
    },
    RoleAdminChanged {
        role: B256,
        previous_admin_role: B256,
        new_admin_role: B256,
    },
    OwnershipTransferred {
        previous_owner: Address,
        new_owner: Address,
    },
    OwnershipTransferStarted {
        previous_owner: Address,
        new_owner: Address,
    },
    Transfer {
        from: Address,
        to: Address,
        #[serde(serialize_with = "decimal")]
        value: U256,
    },
    /// GovernorBravo `NewAdmin(old, new)` or Compound Timelock `NewAdmin(new)`.
    NewAdmin {
        #[serde(skip_serializing_if = "Option::is_none")]
        old: Option<Address>,
        new: Address,
    },
    NewPendingAdmin {
        #[serde(skip_serializing_if = "Option::is_none")]
        old: Option<Address>,
        new: Address,
    },
    NewImplementation {
        old: Address,
        new: Address,
    },
    QueueTransaction {
        tx_hash: B256,
        target: Address,
        #[serde(serialize_with = "decimal")]
        value: U256,
        signature: String,
        data: Bytes,
        #[serde(serialize_with = "decimal")]
        eta: U256,
    },
    ExecuteTransaction {
        tx_hash: B256,
        target: Address,
        #[serde(serialize_with = "decimal")]
        value: U256,
        signature: String,
        data: Bytes,
        #[serde(serialize_with = "decimal")]
        eta: U256,
    },
    CancelTransaction {
        tx_hash: B256,
        target: Address,
        #[serde(serialize_with = "decimal")]
        value: U256,
        signature: String,
        data: Bytes,
        #[serde(serialize_with = "decimal")]
        eta: U256,
    },
    NewDelay {
        #[serde(serialize_with = "decimal")]
        delay: U256,
    },
}

impl GovernanceEvent {
    /// A stable record kind, e.g. `governor.proposal_created`.
    pub fn kind(&self) -> RecordKind {
        use GovernanceEvent::*;
        match self {
            ProposalCreated { .. } => RecordKind::ProposalCreated,
            ProposalQueued { .. } => RecordKind::ProposalQueued,
            ProposalExecuted { .. } => RecordKind::ProposalExecuted,
            ProposalCanceled { .. } => RecordKind::ProposalCanceled,
            VoteCast { params: None, .. } => RecordKind::VoteCast,
            VoteCast {
                params: Some(_), ..
            } => RecordKind::VoteCastWithParams,
            VotingDelaySet { .. } => RecordKind::VotingDelaySet,
            VotingPeriodSet { .. } => RecordKind::VotingPeriodSet,
            ProposalThresholdSet { .. } => RecordKind::ProposalThresholdSet,
            QuorumNumeratorUpdated { .. } => RecordKind::QuorumNumeratorUpdated,
            TimelockChange { .. } => RecordKind::TimelockChange,
            ProposalExtended { .. } => RecordKind::ProposalExtended,
            CallScheduled { .. } => RecordKind::CallScheduled,
            CallExecuted { .. } => RecordKind::CallExecuted,
            CallSalt { .. } => RecordKind::CallSalt,
            Cancelled { .. } => RecordKind::Cancelled,
            MinDelayChange { .. } => RecordKind::MinDelayChange,
            RoleGranted { .. } => RecordKind::RoleGranted,
            RoleRevoked { .. } => RecordKind::RoleRevoked,
            RoleAdminChanged { .. } => RecordKind::RoleAdminChanged,
            OwnershipTransferred { .. } => RecordKind::OwnershipTransferred,
            OwnershipTransferStarted { .. } => RecordKind::OwnershipTransferStarted,
            Transfer { .. } => RecordKind::TokenTransfer,
            NewAdmin { .. } => RecordKind::BravoNewAdmin,
            NewPendingAdmin { .. } => RecordKind::BravoNewPendingAdmin,
            NewImplementation { .. } => RecordKind::BravoNewImplementation,
            QueueTransaction { .. } => RecordKind::BravoQueueTransaction,
            ExecuteTransaction { .. } => RecordKind::BravoExecuteTransaction,
            CancelTransaction { .. } => RecordKind::BravoCancelTransaction,
            NewDelay { .. } => RecordKind::BravoNewDelay,
        }
    }

    pub fn category(&self) -> Category {
        use GovernanceEvent::*;
        match self {
            ProposalCreated { .. }
            | ProposalQueued { .. }
            | ProposalExecuted { .. }
            | ProposalCanceled { .. }
            | VoteCast { .. }
            | ProposalExtended { .. }
            | CallScheduled { .. }
            | CallExecuted { .. }
            | CallSalt { .. }
            | Cancelled { .. }
            | QueueTransaction { .. }
            | ExecuteTransaction { .. }
            | CancelTransaction { .. } => Category::Decision,
            Transfer { .. } => Category::Transaction,
            _ => Category::Structure,
        }
    }
}

/// Every governance topic0 (including [`TRANSFER_TOPIC`]).
pub fn topics() -> Vec<B256> {
    vec![
        GOV::ProposalCreated::SIGNATURE_HASH,
        GOV::ProposalQueued::SIGNATURE_HASH,
        GOV::ProposalExecuted::SIGNATURE_HASH,
        GOV::ProposalCanceled::SIGNATURE_HASH,
        GOV::VoteCast::SIGNATURE_HASH,
        GOV::VoteCastWithParams::SIGNATURE_HASH,
        GOV::VotingDelaySet::SIGNATURE_HASH,
        GOV::VotingPeriodSet::SIGNATURE_HASH,
        GOV::ProposalThresholdSet::SIGNATURE_HASH,
        GOV::QuorumNumeratorUpdated::SIGNATURE_HASH,
        GOV::TimelockChange::SIGNATURE_HASH,
        GOV::ProposalExtended::SIGNATURE_HASH,
        TL::CallScheduled::SIGNATURE_HASH,
        TL::CallExecuted::SIGNATURE_HASH,
        TL::CallSalt::SIGNATURE_HASH,
        TL::Cancelled::SIGNATURE_HASH,
        TL::MinDelayChange::SIGNATURE_HASH,
        AC::RoleGranted::SIGNATURE_HASH,
        AC::RoleRevoked::SIGNATURE_HASH,
        AC::RoleAdminChanged::SIGNATURE_HASH,
        OWN::OwnershipTransferred::SIGNATURE_HASH,
        OWN::OwnershipTransferStarted::SIGNATURE_HASH,
        ERC20::Transfer::SIGNATURE_HASH,
        BR::NewAdmin::SIGNATURE_HASH,
        BR::NewPendingAdmin::SIGNATURE_HASH,
        BR::NewImplementation::SIGNATURE_HASH,
        BR::QueueTransaction::SIGNATURE_HASH,
        BR::ExecuteTransaction::SIGNATURE_HASH,
        BR::CancelTransaction::SIGNATURE_HASH,
        BR::NewDelay::SIGNATURE_HASH,
        CT::NewAdmin::SIGNATURE_HASH,
        CT::NewPendingAdmin::SIGNATURE_HASH,
    ]
}

fn bad(topics: &[B256], data: &[u8], e: alloy::sol_types::Error) -> DecodeError {
    DecodeError::BadLayout {
        topic0: topics.first().copied().unwrap_or_default(),
        topics: topics.len(),
        data_len: data.len(),
        reason: e.to_string(),
    }
}

/// Decodes a governance event whose topic0 is one of [`topics`].
pub fn decode(topics: &[B256], data: &[u8]) -> Result<GovernanceEvent, DecodeError> {
    use GovernanceEvent as G;
    let t0 = topics.first().copied().unwrap_or_default();
    let err = |e| bad(topics, data, e);
    let event = if governor_topic(t0) {
        match GovernorEvents::decode_raw_log(topics, data).map_err(err)? {
            GovernorEvents::ProposalCreated(e) => G::ProposalCreated {
                proposal_id: e.proposalId,
                proposer: e.proposer,
                targets: e.targets,
                values: e.values,
                signatures: e.signatures,
                calldatas: e.calldatas,
                vote_start: e.voteStart,
                vote_end: e.voteEnd,
                description: e.description,
            },
            GovernorEvents::ProposalQueued(e) => G::ProposalQueued {
                proposal_id: e.proposalId,
                eta: e.etaSeconds,
            },
            GovernorEvents::ProposalExecuted(e) => G::ProposalExecuted {
                proposal_id: e.proposalId,
            },
            GovernorEvents::ProposalCanceled(e) => G::ProposalCanceled {
                proposal_id: e.proposalId,
            },
            GovernorEvents::VoteCast(e) => G::VoteCast {
                voter: e.voter,
                proposal_id: e.proposalId,
                support: e.support,
                weight: e.weight,
                reason: e.reason,
                params: None,
            },
            GovernorEvents::VoteCastWithParams(e) => G::VoteCast {
                voter: e.voter,
                proposal_id: e.proposalId,
                support: e.support,
                weight: e.weight,
                reason: e.reason,
                params: Some(e.params),
            },
            GovernorEvents::VotingDelaySet(e) => G::VotingDelaySet {
                old: e.oldVotingDelay,
                new: e.newVotingDelay,
            },
            GovernorEvents::VotingPeriodSet(e) => G::VotingPeriodSet {
                old: e.oldVotingPeriod,
                new: e.newVotingPeriod,
            },
            GovernorEvents::ProposalThresholdSet(e) => G::ProposalThresholdSet {
                old: e.oldProposalThreshold,
                new: e.newProposalThreshold,
            },
            GovernorEvents::QuorumNumeratorUpdated(e) => G::QuorumNumeratorUpdated {
                old: e.oldQuorumNumerator,
                new: e.newQuorumNumerator,
            },
            GovernorEvents::TimelockChange(e) => G::TimelockChange {
                old: e.oldTimelock,
                new: e.newTimelock,
            },
            GovernorEvents::ProposalExtended(e) => G::ProposalExtended {
                proposal_id: e.proposalId,
                extended_deadline: e.extendedDeadline,
            },
        }
    } else if let Ok(e) = TimelockEvents::decode_raw_log(topics, data) {
        match e {
            TimelockEvents::CallScheduled(e) => G::CallScheduled {
                id: e.id,
                index: e.index,
                target: e.target,
                value: e.value,
                data: e.data,
                predecessor: e.predecessor,
                delay: e.delay,
            },
            TimelockEvents::CallExecuted(e) => G::CallExecuted {
                id: e.id,
                index: e.index,
                target: e.target,
                value: e.value,
                data: e.data,
            },
            TimelockEvents::CallSalt(e) => G::CallSalt {
                id: e.id,
                salt: e.salt,
            },
            TimelockEvents::Cancelled(e) => G::Cancelled { id: e.id },
            TimelockEvents::MinDelayChange(e) => G::MinDelayChange {
                old: e.oldDuration,
                new: e.newDuration,
            },
        }
    } else if let Ok(e) = AcEvents::decode_raw_log(topics, data) {
        match e {
            AcEvents::RoleGranted(e) => G::RoleGranted {
                role: e.role,
                account: e.account,
                sender: e.sender,
            },
            AcEvents::RoleRevoked(e) => G::RoleRevoked {
                role: e.role,
                account: e.account,
                sender: e.sender,
            },
            AcEvents::RoleAdminChanged(e) => G::RoleAdminChanged {
                role: e.role,
                previous_admin_role: e.previousAdminRole,
                new_admin_role: e.newAdminRole,
            },
        }
    } else if let Ok(e) = OwnableEvents::decode_raw_log(topics, data) {
        match e {
            OwnableEvents::OwnershipTransferred(e) => G::OwnershipTransferred {
                previous_owner: e.previousOwner,
                new_owner: e.newOwner,
            },
            OwnableEvents::OwnershipTransferStarted(e) => G::OwnershipTransferStarted {
                previous_owner: e.previousOwner,
                new_owner: e.newOwner,
            },
        }
    } else if let Ok(TokenEvents::Transfer(e)) = TokenEvents::decode_raw_log(topics, data) {
        G::Transfer {
            from: e.from,
            to: e.to,
            value: e.value,
        }
    } else if let Ok(e) = BravoEvents::decode_raw_log(topics, data) {
        match e {
            BravoEvents::NewAdmin(e) => G::NewAdmin {
                old: Some(e.oldAdmin),
                new: e.newAdmin,
            },
            BravoEvents::NewPendingAdmin(e) => G::NewPendingAdmin {
                old: Some(e.oldPendingAdmin),
                new: e.newPendingAdmin,
            },
            BravoEvents::NewImplementation(e) => G::NewImplementation {
                old: e.oldImplementation,
                new: e.newImplementation,
            },
            BravoEvents::QueueTransaction(e) => G::QueueTransaction {
                tx_hash: e.txHash,
                target: e.target,
                value: e.value,
                signature: e.signature,
                data: e.data,
                eta: e.eta,
            },
            BravoEvents::ExecuteTransaction(e) => G::ExecuteTransaction {
                tx_hash: e.txHash,
                target: e.target,
                value: e.value,
                signature: e.signature,
                data: e.data,
                eta: e.eta,
            },
            BravoEvents::CancelTransaction(e) => G::CancelTransaction {
                tx_hash: e.txHash,
                target: e.target,
                value: e.value,
                signature: e.signature,
                data: e.data,
                eta: e.eta,
            },
            BravoEvents::NewDelay(e) => G::NewDelay { delay: e.newDelay },
        }
    } else {
        match CompoundEvents::decode_raw_log(topics, data).map_err(err)? {
            CompoundEvents::NewAdmin(e) => G::NewAdmin {
                old: None,
                new: e.newAdmin,
            },
            CompoundEvents::NewPendingAdmin(e) => G::NewPendingAdmin {
                old: None,
                new: e.newPendingAdmin,
            },
        }
    };
    Ok(event)
}

fn governor_topic(t0: B256) -> bool {
    GovernorEvents::SELECTORS
        .iter()
        .any(|s| B256::from(*s) == t0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_transfer_topic_constant_is_right() {
        assert_eq!(TRANSFER_TOPIC, ERC20::Transfer::SIGNATURE_HASH);
    }

    #[test]
    fn governance_events_round_trip() {
        let granted = AC::RoleGranted {
            role: B256::repeat_byte(1),
            account: Address::repeat_byte(2),
            sender: Address::repeat_byte(3),
        }
        .encode_log_data();
        assert_eq!(
            decode(granted.topics(), &granted.data).unwrap(),
            GovernanceEvent::RoleGranted {
                role: B256::repeat_byte(1),
                account: Address::repeat_byte(2),
                sender: Address::repeat_byte(3),
            }
        );
        let created = GOV::ProposalCreated {
            proposalId: U256::from(7),
            proposer: Address::repeat_byte(4),
            targets: vec![Address::repeat_byte(5)],
            values: vec![U256::from(1)],
            signatures: vec![String::new()],
            calldatas: vec![Bytes::new()],
            voteStart: U256::from(10),
            voteEnd: U256::from(20),
            description: "pay".into(),
        }
        .encode_log_data();
        let e = decode(created.topics(), &created.data).unwrap();
        assert_eq!(e.kind().as_str(), "governor.proposal_created");
        assert_eq!(e.category(), Category::Decision);
        let compound = CT::NewAdmin {
            newAdmin: Address::repeat_byte(9),
        }
        .encode_log_data();
        assert_eq!(
            decode(compound.topics(), &compound.data).unwrap(),
            GovernanceEvent::NewAdmin {
                old: None,
                new: Address::repeat_byte(9)
            }
        );
    }
}
