//! Safe events: one typed enum for every supported version; 1.3.0 and 1.4.1 share each event's
//! topic0 but index different parameters, so a log is decoded with the 1.4.1 layout first and
//! the 1.3.0 layout second.

use alloy::primitives::{Address, Bytes, B256, U256};
use alloy::sol_types::{SolEvent, SolEventInterface};
use serde::Serialize;

use super::abi::v130::GnosisSafeL2::GnosisSafeL2Events as V130;
use super::abi::v141::SafeL2::SafeL2Events as V141;
use super::{decimal, Category, DecodeError, RecordKind};

/// A typed event emitted by a Safe (any supported version and layout).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum SafeEvent {
    SafeSetup {
        initiator: Address,
        owners: Vec<Address>,
        #[serde(serialize_with = "decimal")]
        threshold: U256,
        initializer: Address,
        fallback_handler: Address,
    },
    AddedOwner {
        owner: Address,
    },
    RemovedOwner {
        owner: Address,
    },
    ChangedThreshold {
        #[serde(serialize_with = "decimal")]
        threshold: U256,
    },
    EnabledModule {
        module: Address,
    },
    DisabledModule {
        module: Address,
    },
    ChangedGuard {
        guard: Address,
    },
    ChangedFallbackHandler {
        handler: Address,
    },
    ExecutionSuccess {
        safe_tx_hash: B256,
        #[serde(serialize_with = "decimal")]
        payment: U256,
    },
    ExecutionFailure {
        safe_tx_hash: B256,
        #[serde(serialize_with = "decimal")]
        payment: U256,
    },
    SafeReceived {
        sender: Address,
        #[serde(serialize_with = "decimal")]
        value: U256,
    },
    ExecutionFromModuleSuccess {
        module: Address,
    },
    ExecutionFromModuleFailure {
        module: Address,
    },
    SafeMultiSigTransaction {
        to: Address,
        #[serde(serialize_with = "decimal")]
        value: U256,
        data: Bytes,
        operation: u8,
        #[serde(serialize_with = "decimal")]
        safe_tx_gas: U256,
        #[serde(serialize_with = "decimal")]
        base_gas: U256,
        #[serde(serialize_with = "decimal")]
        gas_price: U256,
        gas_token: Address,
        refund_receiver: Address,
        signatures: Bytes,
        additional_info: Bytes,
    },
    SafeModuleTransaction {
        module: Address,
        to: Address,
        #[serde(serialize_with = "decimal")]
        value: U256,
        data: Bytes,
        operation: u8,
    },
    ApproveHash {
        approved_hash: B256,
        owner: Address,
    },
    SignMsg {
        msg_hash: B256,
    },
}

impl SafeEvent {
    /// A stable record kind, e.g. `safe.added_owner`.
    pub fn kind(&self) -> RecordKind {
        match self {
            SafeEvent::SafeSetup { .. } => RecordKind::SafeSetup,
            SafeEvent::AddedOwner { .. } => RecordKind::SafeAddedOwner,
            SafeEvent::RemovedOwner { .. } => RecordKind::SafeRemovedOwner,
            SafeEvent::ChangedThreshold { .. } => RecordKind::SafeChangedThreshold,
            SafeEvent::EnabledModule { .. } => RecordKind::SafeEnabledModule,
            SafeEvent::DisabledModule { .. } => RecordKind::SafeDisabledModule,
            SafeEvent::ChangedGuard { .. } => RecordKind::SafeChangedGuard,
            SafeEvent::ChangedFallbackHandler { .. } => RecordKind::SafeChangedFallbackHandler,
            SafeEvent::ExecutionSuccess { .. } => RecordKind::SafeExecutionSuccess,
            SafeEvent::ExecutionFailure { .. } => RecordKind::SafeExecutionFailure,
            SafeEvent::SafeReceived { .. } => RecordKind::SafeReceived,
            SafeEvent::ExecutionFromModuleSuccess { .. } => RecordKind::SafeModuleExecutionSuccess,
            SafeEvent::ExecutionFromModuleFailure { .. } => RecordKind::SafeModuleExecutionFailure,
            SafeEvent::SafeMultiSigTransaction { .. } => RecordKind::SafeMultisigTransaction,
            SafeEvent::SafeModuleTransaction { .. } => RecordKind::SafeModuleTransaction,
            SafeEvent::ApproveHash { .. } => RecordKind::SafeApproveHash,
            SafeEvent::SignMsg { .. } => RecordKind::SafeSignMsg,
        }
    }

    pub fn category(&self) -> Category {
        match self {
            SafeEvent::SafeSetup { .. }
            | SafeEvent::AddedOwner { .. }
            | SafeEvent::RemovedOwner { .. }
            | SafeEvent::ChangedThreshold { .. }
            | SafeEvent::EnabledModule { .. }
            | SafeEvent::DisabledModule { .. }
            | SafeEvent::ChangedGuard { .. }
            | SafeEvent::ChangedFallbackHandler { .. } => Category::Structure,
            SafeEvent::ExecutionSuccess { .. }
            | SafeEvent::ExecutionFailure { .. }
            | SafeEvent::SafeMultiSigTransaction { .. }
            | SafeEvent::ApproveHash { .. }
            | SafeEvent::SignMsg { .. } => Category::Decision,
            SafeEvent::SafeReceived { .. }
            | SafeEvent::ExecutionFromModuleSuccess { .. }
            | SafeEvent::ExecutionFromModuleFailure { .. }
            | SafeEvent::SafeModuleTransaction { .. } => Category::Transaction,
        }
    }
}

/// Every Safe topic0.
pub fn topics() -> Vec<B256> {
    use super::abi::v141::SafeL2 as S;
    vec![
        S::SafeSetup::SIGNATURE_HASH,
        S::AddedOwner::SIGNATURE_HASH,
        S::RemovedOwner::SIGNATURE_HASH,
        S::ChangedThreshold::SIGNATURE_HASH,
        S::EnabledModule::SIGNATURE_HASH,
        S::DisabledModule::SIGNATURE_HASH,
        S::ChangedGuard::SIGNATURE_HASH,
        S::ChangedFallbackHandler::SIGNATURE_HASH,
        S::ExecutionSuccess::SIGNATURE_HASH,
        S::ExecutionFailure::SIGNATURE_HASH,
        S::SafeReceived::SIGNATURE_HASH,
        S::ExecutionFromModuleSuccess::SIGNATURE_HASH,
        S::ExecutionFromModuleFailure::SIGNATURE_HASH,
        S::SafeMultiSigTransaction::SIGNATURE_HASH,
        S::SafeModuleTransaction::SIGNATURE_HASH,
        S::ApproveHash::SIGNATURE_HASH,
        S::SignMsg::SIGNATURE_HASH,
    ]
}

/// Decodes a Safe event from its topics and data, trying the 1.4.1 layout, then 1.3.0.
pub fn decode_safe_event(topics: &[B256], data: &[u8]) -> Result<SafeEvent, DecodeError> {
    let topic0 = *topics.first().ok_or(DecodeError::Anonymous)?;
    match V141::decode_raw_log(topics, data) {
        Ok(e) => Ok(from_v141(e)),
        Err(first) => match V130::decode_raw_log(topics, data) {
            Ok(e) => Ok(from_v130(e)),
            Err(_) => Err(DecodeError::BadLayout {
                topic0,
                topics: topics.len(),
                data_len: data.len(),
                reason: first.to_string(),
            }),
        },
    }
}

macro_rules! convert_events {
    ($name:ident, $enum:ident) => {
        fn $name(e: $enum) -> SafeEvent {
            match e {
                $enum::SafeSetup(e) => SafeEvent::SafeSetup {
                    initiator: e.initiator,
                    owners: e.owners,
                    threshold: e.threshold,
                    initializer: e.initializer,
                    fallback_handler: e.fallbackHandler,
                },
                $enum::AddedOwner(e) => SafeEvent::AddedOwner { owner: e.owner },
                $enum::RemovedOwner(e) => SafeEvent::RemovedOwner { owner: e.owner },
                $enum::ChangedThreshold(e) => SafeEvent::ChangedThreshold {
                    threshold: e.threshold,
                },
                $enum::EnabledModule(e) => SafeEvent::EnabledModule { module: e.module },
                $enum::DisabledModule(e) => SafeEvent::DisabledModule { module: e.module },
                $enum::ChangedGuard(e) => SafeEvent::ChangedGuard { guard: e.guard },
                $enum::ChangedFallbackHandler(e) => {
                    SafeEvent::ChangedFallbackHandler { handler: e.handler }
                }
                $enum::ExecutionSuccess(e) => SafeEvent::ExecutionSuccess {
                    safe_tx_hash: e.txHash,
                    payment: e.payment,
                },
                $enum::ExecutionFailure(e) => SafeEvent::ExecutionFailure {
                    safe_tx_hash: e.txHash,
                    payment: e.payment,
                },
                $enum::SafeReceived(e) => SafeEvent::SafeReceived {
                    sender: e.sender,
                    value: e.value,
                },
                $enum::ExecutionFromModuleSuccess(e) => {
                    SafeEvent::ExecutionFromModuleSuccess { module: e.module }
                }
                $enum::ExecutionFromModuleFailure(e) => {
                    SafeEvent::ExecutionFromModuleFailure { module: e.module }
                }
                $enum::SafeMultiSigTransaction(e) => SafeEvent::SafeMultiSigTransaction {
                    to: e.to,
                    value: e.value,
                    data: e.data,
                    operation: e.operation,
                    safe_tx_gas: e.safeTxGas,
                    base_gas: e.baseGas,
                    gas_price: e.gasPrice,
                    gas_token: e.gasToken,
                    refund_receiver: e.refundReceiver,
                    signatures: e.signatures,
                    additional_info: e.additionalInfo,
                },
                $enum::SafeModuleTransaction(e) => SafeEvent::SafeModuleTransaction {
                    module: e.module,
                    to: e.to,
                    value: e.value,
                    data: e.data,
                    operation: e.operation,
                },
                $enum::ApproveHash(e) => SafeEvent::ApproveHash {
                    approved_hash: e.approvedHash,
                    owner: e.owner,
                },
                $enum::SignMsg(e) => SafeEvent::SignMsg {
                    msg_hash: e.msgHash,
                },
            }
        }
    };
}

convert_events!(from_v141, V141);
convert_events!(from_v130, V130);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::abi;
    use alloy::primitives::address;

    fn owner() -> Address {
        address!("0x1111111111111111111111111111111111111111")
    }

    #[test]
    fn both_layouts_of_added_owner_decode_to_the_same_event() {
        let v141 = abi::v141::SafeL2::AddedOwner { owner: owner() }.encode_log_data();
        let v130 = abi::v130::GnosisSafeL2::AddedOwner { owner: owner() }.encode_log_data();
        assert_eq!(v141.topics()[0], v130.topics()[0], "same topic0");
        assert_eq!(v141.topics().len(), 2);
        assert_eq!(v130.topics().len(), 1);
        for d in [v141, v130] {
            assert_eq!(
                decode_safe_event(d.topics(), &d.data).unwrap(),
                SafeEvent::AddedOwner { owner: owner() }
            );
        }
    }

    #[test]
    fn a_truncated_log_is_a_clear_error() {
        let d = abi::v141::SafeL2::ChangedThreshold {
            threshold: U256::from(2),
        }
        .encode_log_data();
        let err = decode_safe_event(d.topics(), &d.data[..10]).unwrap_err();
        assert!(
            matches!(
                err,
                DecodeError::BadLayout {
                    topics: 1,
                    data_len: 10,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn an_unknown_topic_is_named() {
        let err = crate::decode::decode_event(&[B256::repeat_byte(7)], &[]).unwrap_err();
        assert_eq!(err, DecodeError::UnknownTopic(B256::repeat_byte(7)));
    }
}
