//! Pays ether into Safes from the dev account: one transfer, or many at once through
//! `MultiSendCallOnly` so a benchmark can make ~100,000 `SafeReceived` events in a few hundred
//! transactions.
//!
//! Invariant: `fund_many` either returns one successful receipt per chunk, in target order, or
//! an error; it never reports success for a chunk that reverted.

use alloy::{
    primitives::{Address, U256},
    rpc::types::{TransactionInput, TransactionReceipt, TransactionRequest},
    sol_types::SolCall,
};
use anyhow::{bail, Context, Result};

use super::{
    anvil::Devnet,
    bindings::IMultiSendCallOnly,
    create2::{self, code_at},
    install::SAFE_141_ARTIFACTS,
    multisend::pack_raw,
    safe::{safe_deployment, wait_all, MULTI_SEND_CALL_ONLY_141},
    safe_tx::CALL,
};

/// Payments per `multiSend` transaction.
pub const FUND_CHUNK: usize = 300;
/// Gas reserved per payment: paying a Safe costs about 14k, a transfer that creates an account
/// about 35k; unused gas is refunded. 300 payments stay under the 2^24 per-transaction gas cap
/// of EIP-7825, should anvil enforce it.
const GAS_PER_PAYMENT: u64 = 50_000;
const GAS_PER_CHUNK: u64 = 100_000;
/// Gas limit batches stay under: the 2^24 per-transaction cap of EIP-7825, with a margin.
pub(crate) const MAX_BATCH_GAS: u64 = 16_000_000;

/// Sends `wei` from the dev account to `to` (a Safe emits `SafeReceived`).
pub async fn fund(devnet: &Devnet, to: Address, wei: U256) -> Result<TransactionReceipt> {
    let tx = TransactionRequest::default().to(to).value(wei);
    devnet
        .transact(tx)
        .await
        .with_context(|| format!("paying {wei} wei to {to}"))
}

/// Pays `wei_each` to every target (repeats allowed) through `MultiSendCallOnly.multiSend`,
/// [`FUND_CHUNK`] payments per transaction. The transactions are sent back to back and their
/// receipts awaited together; every one must succeed. Returns the receipts in chunk order.
#[tracing::instrument(skip_all, fields(targets = targets.len(), %wei_each))]
pub async fn fund_many(
    devnet: &Devnet,
    targets: &[Address],
    wei_each: U256,
) -> Result<Vec<TransactionReceipt>> {
    let multi_send = multi_send(devnet).await?;
    let mut hashes = Vec::with_capacity(targets.len().div_ceil(FUND_CHUNK));
    let mut txs = Vec::with_capacity(hashes.capacity());
    for chunk in targets.chunks(FUND_CHUNK) {
        let call = IMultiSendCallOnly::multiSendCall {
            transactions: pack_payments(chunk, wei_each).into(),
        };
        let count = chunk.len() as u64;
        let tx = TransactionRequest::default()
            .to(multi_send)
            .value(wei_each * U256::from(count))
            .gas_limit(GAS_PER_CHUNK + GAS_PER_PAYMENT * count)
            .input(TransactionInput::new(call.abi_encode().into()));
        hashes.push(
            devnet
                .send(tx.clone())
                .await
                .context("sending a multiSend payment")?,
        );
        txs.push(tx);
    }
    let receipts = wait_all(devnet, &hashes).await?;
    for (receipt, tx) in receipts.iter().zip(txs) {
        if !receipt.status() {
            bail!(
                "multiSend payment {} reverted: {}",
                receipt.transaction_hash,
                devnet.revert_reason(tx, receipt).await
            );
        }
    }
    Ok(receipts)
}

/// `multiSend`'s packed encoding of plain payments (no call data).
fn pack_payments(targets: &[Address], wei_each: U256) -> Vec<u8> {
    pack_raw(targets.iter().map(|to| (CALL, *to, wei_each, &[][..])))
}

/// The `MultiSendCallOnly` used for batches: the one [`super::SafeContracts::deploy`]
/// deployed, or the 1.4.1 one deployed now at its mainnet address if there is none (or a
/// revert removed it).
pub(crate) async fn multi_send(devnet: &Devnet) -> Result<Address> {
    let mut slot = devnet.multi_send.lock().await;
    if let Some(address) = *slot {
        if !code_at(devnet, address).await?.is_empty() {
            return Ok(address);
        }
    }
    let deployment = safe_deployment(
        devnet.project_dir(),
        SAFE_141_ARTIFACTS,
        MULTI_SEND_CALL_ONLY_141,
    )?;
    let address = create2::deploy(devnet, deployment).await?;
    *slot = Some(address);
    Ok(address)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_payments_as_multisend_expects() {
        let to = Address::repeat_byte(0xab);
        let packed = pack_payments(&[to, to], U256::from(7));
        assert_eq!(packed.len(), 2 * 85);
        assert_eq!(packed[0], 0);
        assert_eq!(&packed[1..21], to.as_slice());
        assert_eq!(packed[52], 7);
        assert!(packed[53..85].iter().all(|b| *b == 0));
    }
}
