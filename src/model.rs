//! The shared vocabulary of every layer: where a block is, what kind of contract a group
//! declares, what kind of record an event makes, which rule a divergence breaks and how bad it
//! is, and what happened to a divergence. One table of names per type (strum), parsed once at
//! the edge (a stored row, a query parameter) so the code matches on variants, never on string
//! literals.
//!
//! Invariant: names only — no I/O and no policy; every module may import this one, and it
//! imports none of ours.

use std::fmt;

use alloy::primitives::B256;
use serde::{Deserialize, Serialize};
use strum::{EnumIter, EnumString, IntoEnumIterator, IntoStaticStr};

/// A block's position in the chain: what the driver keeps to detect reorgs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BlockRef {
    pub number: u64,
    pub hash: B256,
    pub parent_hash: B256,
}

/// Implements `as_str`, `parse` and `Display` from the enum's strum table.
macro_rules! named {
    ($ty:ty) => {
        impl $ty {
            /// The stable name, as stored and served.
            pub fn as_str(self) -> &'static str {
                self.into()
            }

            /// The variant of a stored or requested name.
            pub fn parse(s: &str) -> Option<$ty> {
                s.parse().ok()
            }

            /// Every variant, in declaration order.
            pub fn all() -> impl Iterator<Item = $ty> {
                <$ty>::iter()
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// What kind of contract a group declares at an address; one address may be several (a
/// TimelockController is also an AccessControl contract, but its roles live in its timelock
/// state).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, IntoStaticStr, EnumString, EnumIter,
)]
#[strum(serialize_all = "snake_case")]
pub enum ContractKind {
    Safe,
    Governor,
    Timelock,
    Roles,
    Ownable,
}
named!(ContractKind);

/// What a record says about the group: a change of structure, a decision, or a movement of
/// funds.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, IntoStaticStr, EnumString, EnumIter,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Category {
    Structure,
    Decision,
    Transaction,
    Unknown,
}
named!(Category);

/// The kind of a record: one per event of the catalog, and `unknown` for a log the catalog
/// could not decode (kept, never dropped).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, IntoStaticStr, EnumString, EnumIter,
)]
pub enum RecordKind {
    #[strum(serialize = "safe.setup")]
    SafeSetup,
    #[strum(serialize = "safe.added_owner")]
    SafeAddedOwner,
    #[strum(serialize = "safe.removed_owner")]
    SafeRemovedOwner,
    #[strum(serialize = "safe.changed_threshold")]
    SafeChangedThreshold,
    #[strum(serialize = "safe.enabled_module")]
    SafeEnabledModule,
    #[strum(serialize = "safe.disabled_module")]
    SafeDisabledModule,
    #[strum(serialize = "safe.changed_guard")]
    SafeChangedGuard,
    #[strum(serialize = "safe.changed_fallback_handler")]
    SafeChangedFallbackHandler,
    #[strum(serialize = "safe.execution_success")]
    SafeExecutionSuccess,
    #[strum(serialize = "safe.execution_failure")]
    SafeExecutionFailure,
    #[strum(serialize = "safe.received")]
    SafeReceived,
    #[strum(serialize = "safe.module_execution_success")]
    SafeModuleExecutionSuccess,
    #[strum(serialize = "safe.module_execution_failure")]
    SafeModuleExecutionFailure,
    #[strum(serialize = "safe.multisig_transaction")]
    SafeMultisigTransaction,
    #[strum(serialize = "safe.module_transaction")]
    SafeModuleTransaction,
    #[strum(serialize = "safe.approve_hash")]
    SafeApproveHash,
    #[strum(serialize = "safe.sign_msg")]
    SafeSignMsg,
    #[strum(serialize = "governor.proposal_created")]
    ProposalCreated,
    #[strum(serialize = "governor.proposal_queued")]
    ProposalQueued,
    #[strum(serialize = "governor.proposal_executed")]
    ProposalExecuted,
    #[strum(serialize = "governor.proposal_canceled")]
    ProposalCanceled,
    #[strum(serialize = "governor.vote_cast")]
    VoteCast,
    #[strum(serialize = "governor.vote_cast_with_params")]
    VoteCastWithParams,
    #[strum(serialize = "governor.voting_delay_set")]
    VotingDelaySet,
    #[strum(serialize = "governor.voting_period_set")]
    VotingPeriodSet,
    #[strum(serialize = "governor.proposal_threshold_set")]
    ProposalThresholdSet,
    #[strum(serialize = "governor.quorum_numerator_updated")]
    QuorumNumeratorUpdated,
    #[strum(serialize = "governor.timelock_change")]
    TimelockChange,
    #[strum(serialize = "governor.proposal_extended")]
    ProposalExtended,
    #[strum(serialize = "timelock.call_scheduled")]
    CallScheduled,
    #[strum(serialize = "timelock.call_executed")]
    CallExecuted,
    #[strum(serialize = "timelock.call_salt")]
    CallSalt,
    #[strum(serialize = "timelock.cancelled")]
    Cancelled,
    #[strum(serialize = "timelock.min_delay_change")]
    MinDelayChange,
    #[strum(serialize = "role.granted")]
    RoleGranted,
    #[strum(serialize = "role.revoked")]
    RoleRevoked,
    #[strum(serialize = "role.admin_changed")]
    RoleAdminChanged,
    #[strum(serialize = "ownership.transferred")]
    OwnershipTransferred,
    #[strum(serialize = "ownership.transfer_started")]
    OwnershipTransferStarted,
    #[strum(serialize = "token.transfer")]
    TokenTransfer,
    /// ERC-20 `Approval` with a treasury as owner.
    #[strum(serialize = "token.approval")]
    TokenApproval,
    /// ERC-721 `Transfer` (four topics: the token id is indexed).
    #[strum(serialize = "nft.transfer")]
    NftTransfer,
    /// ERC-721 `Approval` of one token (four topics).
    #[strum(serialize = "nft.approval")]
    NftApproval,
    /// ERC-721 / ERC-1155 `ApprovalForAll` with a treasury as owner.
    #[strum(serialize = "nft.approval_for_all")]
    NftApprovalForAll,
    /// ERC-1155 `TransferSingle`.
    #[strum(serialize = "nft.transfer_single")]
    NftTransferSingle,
    /// ERC-1155 `TransferBatch`.
    #[strum(serialize = "nft.transfer_batch")]
    NftTransferBatch,
    /// EIP-1967 `Upgraded` (a new implementation behind a proxy).
    #[strum(serialize = "proxy.upgraded")]
    ProxyUpgraded,
    /// EIP-1967 `AdminChanged`.
    #[strum(serialize = "proxy.admin_changed")]
    ProxyAdminChanged,
    /// EIP-1967 `BeaconUpgraded`.
    #[strum(serialize = "proxy.beacon_upgraded")]
    ProxyBeaconUpgraded,
    #[strum(serialize = "bravo.new_admin")]
    BravoNewAdmin,
    #[strum(serialize = "bravo.new_pending_admin")]
    BravoNewPendingAdmin,
    #[strum(serialize = "bravo.new_implementation")]
    BravoNewImplementation,
    #[strum(serialize = "bravo.queue_transaction")]
    BravoQueueTransaction,
    #[strum(serialize = "bravo.execute_transaction")]
    BravoExecuteTransaction,
    #[strum(serialize = "bravo.cancel_transaction")]
    BravoCancelTransaction,
    #[strum(serialize = "bravo.new_delay")]
    BravoNewDelay,
    #[strum(serialize = "unknown")]
    Unknown,
}
named!(RecordKind);

/// How bad a divergence is; sinks and queries filter on it.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    IntoStaticStr,
    EnumString,
    EnumIter,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}
named!(Severity);

/// A stable rule identifier.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    IntoStaticStr,
    EnumString,
    EnumIter,
)]
pub enum Rule {
    #[serde(rename = "safe.owner_undeclared")]
    #[strum(serialize = "safe.owner_undeclared")]
    SafeOwnerUndeclared,
    #[serde(rename = "safe.owner_missing")]
    #[strum(serialize = "safe.owner_missing")]
    SafeOwnerMissing,
    #[serde(rename = "safe.threshold_mismatch")]
    #[strum(serialize = "safe.threshold_mismatch")]
    SafeThresholdMismatch,
    #[serde(rename = "safe.module_undeclared")]
    #[strum(serialize = "safe.module_undeclared")]
    SafeModuleUndeclared,
    #[serde(rename = "safe.guard_changed")]
    #[strum(serialize = "safe.guard_changed")]
    SafeGuardChanged,
    #[serde(rename = "safe.not_a_safe")]
    #[strum(serialize = "safe.not_a_safe")]
    SafeNotASafe,
    #[serde(rename = "governor.param_mismatch")]
    #[strum(serialize = "governor.param_mismatch")]
    GovernorParamMismatch,
    #[serde(rename = "timelock.min_delay_mismatch")]
    #[strum(serialize = "timelock.min_delay_mismatch")]
    TimelockMinDelayMismatch,
    #[serde(rename = "timelock.role_undeclared")]
    #[strum(serialize = "timelock.role_undeclared")]
    TimelockRoleUndeclared,
    #[serde(rename = "timelock.role_missing")]
    #[strum(serialize = "timelock.role_missing")]
    TimelockRoleMissing,
    #[serde(rename = "role.undeclared_member")]
    #[strum(serialize = "role.undeclared_member")]
    RoleUndeclaredMember,
    #[serde(rename = "role.missing_member")]
    #[strum(serialize = "role.missing_member")]
    RoleMissingMember,
    #[serde(rename = "role.admin_changed")]
    #[strum(serialize = "role.admin_changed")]
    RoleAdminChanged,
    #[serde(rename = "ownership.undeclared_owner")]
    #[strum(serialize = "ownership.undeclared_owner")]
    OwnershipUndeclaredOwner,
    #[serde(rename = "treasury.outflow_over_limit")]
    #[strum(serialize = "treasury.outflow_over_limit")]
    TreasuryOutflowOverLimit,
    #[serde(rename = "treasury.recipient_not_allowed")]
    #[strum(serialize = "treasury.recipient_not_allowed")]
    TreasuryRecipientNotAllowed,
    /// An ERC-20 allowance (or an NFT operator approval) above what the policy allows.
    #[serde(rename = "treasury.approval_over_limit")]
    #[strum(serialize = "treasury.approval_over_limit")]
    TreasuryApprovalOverLimit,
    /// An allowance or operator approval granted to a spender the policy does not list.
    #[serde(rename = "treasury.spender_not_allowed")]
    #[strum(serialize = "treasury.spender_not_allowed")]
    TreasurySpenderNotAllowed,
    /// A treasury's balance fell by more than every recorded outflow explains.
    #[serde(rename = "treasury.unexplained_outflow")]
    #[strum(serialize = "treasury.unexplained_outflow")]
    TreasuryUnexplainedOutflow,
    /// A treasury's balance rose by more than every recorded inflow explains.
    #[serde(rename = "treasury.unexplained_inflow")]
    #[strum(serialize = "treasury.unexplained_inflow")]
    TreasuryUnexplainedInflow,
    /// A Safe delegatecalled a contract that is neither a known library nor declared.
    #[serde(rename = "safe.delegatecall_undeclared")]
    #[strum(serialize = "safe.delegatecall_undeclared")]
    SafeDelegatecallUndeclared,
    /// A Safe's singleton (storage slot 0) is not the one it had, or not a known one.
    #[serde(rename = "safe.singleton_changed")]
    #[strum(serialize = "safe.singleton_changed")]
    SafeSingletonChanged,
    /// A Safe's fallback handler is neither declared nor a known handler.
    #[serde(rename = "safe.fallback_handler_changed")]
    #[strum(serialize = "safe.fallback_handler_changed")]
    SafeFallbackHandlerChanged,
    /// A declared contract's proxy points at an implementation the manifest does not declare.
    #[serde(rename = "proxy.upgraded")]
    #[strum(serialize = "proxy.upgraded")]
    ProxyUpgraded,
    #[serde(rename = "timelock.unexplained_call")]
    #[strum(serialize = "timelock.unexplained_call")]
    TimelockUnexplainedCall,
    #[serde(rename = "documentation.stale")]
    #[strum(serialize = "documentation.stale")]
    DocumentationStale,
    #[serde(rename = "safe.signer_undeclared")]
    #[strum(serialize = "safe.signer_undeclared")]
    SafeSignerUndeclared,
    /// A reorg removed blocks the verifiable log had already taken as final: the log keeps the
    /// voided leaves and appends a retraction.
    #[serde(rename = "log.finalized_reorg")]
    #[strum(serialize = "log.finalized_reorg")]
    LogFinalizedReorg,
    /// A covenant's clause is broken, by the chain or by a party's document.
    #[serde(rename = "covenant.breach")]
    #[strum(serialize = "covenant.breach")]
    CovenantBreach,
    /// A covenant's clause is close to breaking: a budget past 80%, a ratification due
    /// within 7 days.
    #[serde(rename = "covenant.at_risk")]
    #[strum(serialize = "covenant.at_risk")]
    CovenantAtRisk,
}
named!(Rule);

impl Rule {
    /// Whether the rule is about one event (a payment, a scheduled call), which stays open
    /// until acknowledged, rather than about a structure the chain or the manifest can fix.
    pub fn is_about_an_event(self) -> bool {
        matches!(
            self,
            Rule::TreasuryOutflowOverLimit
                | Rule::TreasuryRecipientNotAllowed
                | Rule::TimelockUnexplainedCall
                | Rule::SafeSignerUndeclared
                | Rule::LogFinalizedReorg
                | Rule::TreasuryApprovalOverLimit
                | Rule::TreasurySpenderNotAllowed
                | Rule::TreasuryUnexplainedOutflow
                | Rule::TreasuryUnexplainedInflow
                | Rule::SafeDelegatecallUndeclared
                | Rule::ProxyUpgraded
        )
    }

    /// Whether the rule compares a contract's structure with the manifest (what documentation
    /// can fall behind on).
    pub fn is_structural(self) -> bool {
        !self.is_about_an_event() && self != Rule::DocumentationStale && !self.is_covenant()
    }

    /// Whether the rule is a covenant's verdict (a finding reported to the covenant's sinks
    /// besides the group's).
    pub fn is_covenant(self) -> bool {
        matches!(self, Rule::CovenantBreach | Rule::CovenantAtRisk)
    }

    /// The kind of contract whose structure the rule is about.
    pub fn kind(self) -> ContractKind {
        use ContractKind as K;
        match self {
            Rule::GovernorParamMismatch => K::Governor,
            Rule::TimelockMinDelayMismatch
            | Rule::TimelockRoleUndeclared
            | Rule::TimelockRoleMissing
            | Rule::TimelockUnexplainedCall => K::Timelock,
            Rule::RoleUndeclaredMember | Rule::RoleMissingMember | Rule::RoleAdminChanged => {
                K::Roles
            }
            Rule::OwnershipUndeclaredOwner => K::Ownable,
            _ => K::Safe,
        }
    }

    pub fn severity(self) -> Severity {
        match self {
            // Someone nobody documented can sign, propose, execute or administer, or code
            // nobody documented can move funds.
            Rule::SafeOwnerUndeclared
            | Rule::SafeModuleUndeclared
            | Rule::TimelockRoleUndeclared
            | Rule::RoleUndeclaredMember
            | Rule::OwnershipUndeclaredOwner
            | Rule::TimelockUnexplainedCall
            | Rule::SafeSignerUndeclared
            | Rule::LogFinalizedReorg
            | Rule::TreasuryUnexplainedOutflow
            | Rule::SafeDelegatecallUndeclared
            | Rule::SafeSingletonChanged
            | Rule::ProxyUpgraded
            | Rule::CovenantBreach => Severity::Critical,
            Rule::TreasuryOutflowOverLimit
            | Rule::TreasuryRecipientNotAllowed
            | Rule::TreasuryApprovalOverLimit
            | Rule::TreasurySpenderNotAllowed
            | Rule::SafeFallbackHandlerChanged => Severity::High,
            Rule::SafeThresholdMismatch
            | Rule::SafeGuardChanged
            | Rule::SafeNotASafe
            | Rule::GovernorParamMismatch
            | Rule::TimelockMinDelayMismatch
            | Rule::RoleAdminChanged => Severity::High,
            Rule::SafeOwnerMissing
            | Rule::TimelockRoleMissing
            | Rule::RoleMissingMember
            | Rule::DocumentationStale
            | Rule::CovenantAtRisk => Severity::Medium,
            Rule::TreasuryUnexplainedInflow => Severity::Low,
        }
    }
}

/// What happened to a divergence: what an alert announces.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, IntoStaticStr, EnumString, EnumIter,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum AlertEvent {
    Opened,
    Resolved,
    /// The block that opened the divergence was reorged away: it never happened.
    Retracted,
    /// The block that resolved the divergence was reorged away: it is open again.
    Reopened,
    /// A critical divergence was resolved by a new manifest version (the document was changed
    /// to agree with the chain), announced to every sink of the group with who ratified the
    /// version, if anyone.
    #[serde(rename = "manifest.resolved_critical")]
    #[strum(serialize = "manifest.resolved_critical")]
    ManifestResolvedCritical,
}
named!(AlertEvent);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_parses_back_to_its_variant() {
        for r in Rule::all() {
            assert_eq!(Rule::parse(r.as_str()), Some(r));
            // The serde name (API, stored findings) is the strum name.
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
        }
        for k in RecordKind::all() {
            assert_eq!(RecordKind::parse(k.as_str()), Some(k));
        }
        for s in Severity::all() {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert_eq!(Rule::all().count(), 30);
        assert_eq!(
            ContractKind::parse("timelock"),
            Some(ContractKind::Timelock)
        );
        assert_eq!(RecordKind::parse("safe.nope"), None);
        assert_eq!(AlertEvent::Retracted.to_string(), "retracted");
    }

    #[test]
    fn rules_know_their_contract_kind() {
        assert_eq!(Rule::GovernorParamMismatch.kind(), ContractKind::Governor);
        assert_eq!(Rule::RoleAdminChanged.kind(), ContractKind::Roles);
        assert_eq!(Rule::SafeNotASafe.kind(), ContractKind::Safe);
        assert!(Rule::SafeThresholdMismatch.is_structural());
        assert!(!Rule::DocumentationStale.is_structural());
        assert!(Rule::TimelockUnexplainedCall.is_about_an_event());
    }
}
