//! Who signed a Safe execution: which transactions need their input fetched (plain Safes), the
//! ECDSA recoveries done ahead while the batch is prepared, and the recovery from the SafeL2
//! event or the `execTransaction` input during the fold.

use std::collections::{BTreeSet, HashMap};

use alloy::primitives::{Address, Bytes, B256, U256};
use alloy::rpc::types::Log;
use alloy::sol_types::SolEvent;

use super::Prepared;
use crate::abi::v141::SafeL2 as S;
use crate::chain::rpc::TxInput;
use crate::decode::{DecodedLog, GroupEvent, SafeEvent};
use crate::observe::signers::{self, RecoveredSigner, STATIC_PART_LEN};

/// The transactions whose input a batch needs: those with a Safe `ExecutionSuccess` /
/// `ExecutionFailure` but no `SafeMultiSigTransaction` (a plain, non-L2 Safe: its signers and
/// calls are in the input), and those with a module execution but no `SafeModuleTransaction`
/// (a module that is an account calls the Safe directly: its call is the input).
pub fn transactions_needing_input(logs: &[Log]) -> Vec<B256> {
    let mut executed = BTreeSet::new();
    let mut described = BTreeSet::new();
    for log in logs {
        let (Some(tx), Some(t0)) = (log.transaction_hash, log.topic0()) else {
            continue;
        };
        if *t0 == S::ExecutionSuccess::SIGNATURE_HASH
            || *t0 == S::ExecutionFailure::SIGNATURE_HASH
            || *t0 == S::ExecutionFromModuleSuccess::SIGNATURE_HASH
            || *t0 == S::ExecutionFromModuleFailure::SIGNATURE_HASH
        {
            executed.insert((tx, log.address()));
        } else if *t0 == S::SafeMultiSigTransaction::SIGNATURE_HASH
            || *t0 == S::SafeModuleTransaction::SIGNATURE_HASH
        {
            described.insert((tx, log.address()));
        }
    }
    let mut out: Vec<B256> = executed.difference(&described).map(|(tx, _)| *tx).collect();
    out.sort();
    out.dedup();
    out
}

/// At most this many signature parts per execution are recovered ahead (the threshold is only
/// known during the fold; parts past it are ignored there, as the Safe ignores them).
const PARTS_AHEAD: usize = 16;

/// Signers recovered ahead from ECDSA signature parts: (signed digest, part) → signer.
#[derive(Debug, Clone, Default)]
pub struct Recovered(HashMap<(B256, [u8; STATIC_PART_LEN]), Address>);

impl Recovered {
    /// Recovers, ahead of the fold and off the writer's path, every ECDSA part that may be
    /// read: the signatures a SafeL2 event announces and those of the `execTransaction` inputs
    /// fetched, for each execution's Safe transaction hash.
    pub fn ahead(logs: &[DecodedLog], inputs: &HashMap<B256, TxInput>) -> Self {
        let mut out = HashMap::new();
        let mut announced: HashMap<(B256, Address), Bytes> = HashMap::new();
        for d in logs {
            match &d.event {
                Ok(GroupEvent::Safe(SafeEvent::SafeMultiSigTransaction { signatures, .. })) => {
                    announced.insert((d.evidence.tx_hash, d.address), signatures.clone());
                }
                Ok(GroupEvent::Safe(
                    SafeEvent::ExecutionSuccess { safe_tx_hash, .. }
                    | SafeEvent::ExecutionFailure { safe_tx_hash, .. },
                )) => {
                    let from_input = || {
                        inputs
                            .get(&d.evidence.tx_hash)
                            .and_then(|tx| signers::decode_exec_transaction(&tx.input))
                            .map(|e| e.signatures)
                    };
                    let sigs = announced
                        .get(&(d.evidence.tx_hash, d.address))
                        .cloned()
                        .or_else(from_input);
                    for part in sigs
                        .iter()
                        .flat_map(|s| s.chunks_exact(STATIC_PART_LEN).take(PARTS_AHEAD))
                    {
                        let part: [u8; STATIC_PART_LEN] = part.try_into().expect("exact chunks");
                        if let Some((digest, signer)) = signers::recover_part(*safe_tx_hash, &part)
                        {
                            out.insert((digest, part), signer);
                        }
                    }
                }
                _ => {}
            }
        }
        Recovered(out)
    }

    fn get(&self, digest: &B256, part: &[u8; STATIC_PART_LEN]) -> Option<Address> {
        self.0.get(&(*digest, *part)).copied()
    }
}

/// What one transaction told about Safe executions so far: signatures a SafeL2 announced,
/// and each Safe's threshold before the transaction changed it.
#[derive(Default)]
pub(super) struct SafeExecutions {
    pub(super) announced: HashMap<Address, (Bytes, Option<u64>)>,
    pub(super) threshold_before: HashMap<Address, u64>,
}

/// What a Safe's log tells about its executions: a SafeL2 `SafeMultiSigTransaction` is
/// remembered for the execution that follows in the same transaction; an `ExecutionSuccess` /
/// `ExecutionFailure` returns its recovered signers (or why they are unknown). `None` for any
/// other log.
pub(super) fn safe_execution(
    batch: &Prepared,
    d: &DecodedLog,
    executions: &mut SafeExecutions,
    current_threshold: u64,
) -> Option<Result<Vec<RecoveredSigner>, String>> {
    match &d.event {
        Ok(GroupEvent::Safe(SafeEvent::SafeMultiSigTransaction {
            signatures,
            additional_info,
            ..
        })) => {
            // SafeL2: `additionalInfo` is abi.encode(nonce, sender, threshold).
            let threshold = additional_info
                .get(64..96)
                .map(|w| U256::from_be_slice(w).saturating_to::<u64>());
            executions
                .announced
                .insert(d.address, (signatures.clone(), threshold));
            None
        }
        Ok(GroupEvent::Safe(
            SafeEvent::ExecutionSuccess { safe_tx_hash, .. }
            | SafeEvent::ExecutionFailure { safe_tx_hash, .. },
        )) => Some(execution_signers(
            batch,
            d,
            *safe_tx_hash,
            executions,
            current_threshold,
        )),
        _ => None,
    }
}

/// Who signed a Safe execution: from the SafeL2 event of the same transaction, or else from the
/// `execTransaction` input of the transaction itself. `Err` says why they are unknown (an
/// execution through a relayer or a module call needs call traces).
fn execution_signers(
    batch: &Prepared,
    d: &DecodedLog,
    safe_tx_hash: B256,
    executions: &mut SafeExecutions,
    current_threshold: u64,
) -> Result<Vec<RecoveredSigner>, String> {
    let (signatures, announced_threshold) = match executions.announced.remove(&d.address) {
        Some(x) => x,
        None => match batch.tx_inputs.get(&d.evidence.tx_hash) {
            Some(tx) if tx.to == Some(d.address) => {
                match signers::decode_exec_transaction(&tx.input) {
                    Some(exec) => (exec.signatures, None),
                    None => return Err("the transaction is not an execTransaction".into()),
                }
            }
            Some(_) => {
                return Err("executed through another contract; signatures need call traces".into())
            }
            None => return Err("the node does not know the transaction".into()),
        },
    };
    let threshold = announced_threshold
        .or_else(|| executions.threshold_before.get(&d.address).copied())
        .unwrap_or(current_threshold);
    signers::recover_signers_with(
        safe_tx_hash,
        &signatures,
        threshold as usize,
        |digest, part| batch.recovered.get(digest, part),
    )
    .map_err(|e| e.to_string())
}
