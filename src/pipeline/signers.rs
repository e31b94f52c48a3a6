//! Who signed a Safe execution: which transactions need their input fetched (plain Safes), and
//! the recovery from the SafeL2 event or the `execTransaction` input.

use super::*;
use crate::observe::signers;

/// The transactions whose input a batch needs: those with a Safe `ExecutionSuccess` or
/// `ExecutionFailure` but no `SafeMultiSigTransaction` (a plain, non-L2 Safe).
pub fn transactions_needing_input(logs: &[Log]) -> Vec<B256> {
    use crate::decode::abi::v141::SafeL2 as S;
    use alloy::sol_types::SolEvent;
    let mut executed = BTreeSet::new();
    let mut described = BTreeSet::new();
    for log in logs {
        let (Some(tx), Some(t0)) = (log.transaction_hash, log.topic0()) else {
            continue;
        };
        if *t0 == S::ExecutionSuccess::SIGNATURE_HASH || *t0 == S::ExecutionFailure::SIGNATURE_HASH
        {
            executed.insert((tx, log.address()));
        } else if *t0 == S::SafeMultiSigTransaction::SIGNATURE_HASH {
            described.insert((tx, log.address()));
        }
    }
    let mut out: Vec<B256> = executed.difference(&described).map(|(tx, _)| *tx).collect();
    out.dedup();
    out
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
pub(super) async fn safe_execution(
    view: &BatchView<'_>,
    d: &DecodedLog,
    executions: &mut SafeExecutions,
    current_threshold: u64,
) -> Result<Option<Result<Vec<RecoveredSigner>, String>>, ApplyError> {
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
            Ok(None)
        }
        Ok(GroupEvent::Safe(
            SafeEvent::ExecutionSuccess { safe_tx_hash, .. }
            | SafeEvent::ExecutionFailure { safe_tx_hash, .. },
        )) => execution_signers(
            view.chain.rpc,
            &view.batch.tx_inputs,
            d,
            *safe_tx_hash,
            executions,
            current_threshold,
        )
        .await
        .map(Some),
        _ => Ok(None),
    }
}

/// Who signed a Safe execution: from the SafeL2 event of the same transaction, or else from the
/// `execTransaction` input of the transaction itself. `Err` says why they are unknown (an
/// execution through a relayer or a module call needs call traces).
async fn execution_signers(
    rpc: &Rpc,
    tx_inputs: &HashMap<B256, (Option<Address>, Bytes)>,
    d: &DecodedLog,
    safe_tx_hash: B256,
    executions: &mut SafeExecutions,
    current_threshold: u64,
) -> Result<Result<Vec<RecoveredSigner>, String>, ApplyError> {
    let fetched = match tx_inputs.get(&d.evidence.tx_hash) {
        Some(known) => Some(known.clone()),
        None if executions.announced.contains_key(&d.address) => None,
        None => rpc.transaction_input(d.evidence.tx_hash).await?,
    };
    let (signatures, announced_threshold) = match executions.announced.remove(&d.address) {
        Some(x) => x,
        None => match fetched {
            Some((Some(to), input)) if to == d.address => {
                match signers::decode_exec_transaction(&input) {
                    Some(exec) => (exec.signatures, None),
                    None => return Ok(Err("the transaction is not an execTransaction".into())),
                }
            }
            Some(_) => {
                return Ok(Err(
                    "executed through another contract; signatures need call traces".into(),
                ))
            }
            None => return Ok(Err("the node does not know the transaction".into())),
        },
    };
    let threshold = announced_threshold
        .or_else(|| executions.threshold_before.get(&d.address).copied())
        .unwrap_or(current_threshold);
    Ok(
        signers::recover_signers(safe_tx_hash, &signatures, threshold as usize)
            .map_err(|e| e.to_string()),
    )
}
