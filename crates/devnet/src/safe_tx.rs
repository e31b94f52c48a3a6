//! Builds, signs and executes Safe transactions (`execTransaction`) with owner keys, and the
//! owner/module/guard/handler changes built on them.
//!
//! Invariant: owners only sign; the devnet's dev account submits and pays for every
//! `execTransaction`, so owner keys never need funds.

use alloy::{
    primitives::{Address, Bytes, B256, U256},
    rpc::types::{TransactionInput, TransactionReceipt, TransactionRequest},
    signers::{local::PrivateKeySigner, SignerSync},
    sol_types::{SolCall, SolEvent},
};
use anyhow::{bail, Context, Result};

use super::{
    anvil::Devnet,
    bindings::ISafe,
    safe::{read_modules, read_nonce, read_owners, view, SENTINEL},
};

/// `Enum.Operation.Call`.
pub const CALL: u8 = 0;
/// `Enum.Operation.DelegateCall`.
pub const DELEGATE_CALL: u8 = 1;

/// How an owner signs a Safe transaction hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SignatureKind {
    /// Raw ECDSA over the Safe transaction hash; `v` is 27 or 28.
    #[default]
    Ecdsa,
    /// `eth_sign`: ECDSA over the EIP-191 message of the hash; `v` is 31 or 32.
    EthSign,
}

/// A Safe transaction: the arguments of `execTransaction` except the signatures. Refund
/// fields default to zero (no refund), so the dev account pays the gas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SafeTx {
    /// Call target.
    pub to: Address,
    /// Wei sent with the call.
    pub value: U256,
    /// Call data.
    pub data: Bytes,
    /// [`CALL`] or [`DELEGATE_CALL`].
    pub operation: u8,
    /// Gas for the inner call; zero means "all", and a failing inner call reverts the whole
    /// transaction.
    pub safe_tx_gas: U256,
    /// Gas charged on top of the inner call for the refund.
    pub base_gas: U256,
    /// Refund gas price; zero means no refund.
    pub gas_price: U256,
    /// Refund token; zero means ether.
    pub gas_token: Address,
    /// Refund receiver; zero means `tx.origin`.
    pub refund_receiver: Address,
    /// The Safe nonce to sign for; `None` reads the Safe's current nonce.
    pub nonce: Option<U256>,
}

impl SafeTx {
    /// A `CALL` of `to` with `value` and `data`.
    pub fn new(to: Address, value: U256, data: impl Into<Bytes>) -> Self {
        Self {
            to,
            value,
            data: data.into(),
            operation: CALL,
            safe_tx_gas: U256::ZERO,
            base_gas: U256::ZERO,
            gas_price: U256::ZERO,
            gas_token: Address::ZERO,
            refund_receiver: Address::ZERO,
            nonce: None,
        }
    }

    /// A call from the Safe to itself (how owners, modules, guard and handler change).
    pub fn self_call(safe: Address, call: impl SolCall) -> Self {
        Self::new(safe, U256::ZERO, call.abi_encode())
    }

    /// Sets the operation ([`CALL`] or [`DELEGATE_CALL`]).
    pub fn with_operation(mut self, operation: u8) -> Self {
        self.operation = operation;
        self
    }

    /// Signs for this nonce instead of the Safe's current one.
    pub fn with_nonce(mut self, nonce: U256) -> Self {
        self.nonce = Some(nonce);
        self
    }

    /// Sets `safeTxGas`; non-zero lets the inner call fail without reverting (the Safe then
    /// emits `ExecutionFailure`).
    pub fn with_safe_tx_gas(mut self, safe_tx_gas: U256) -> Self {
        self.safe_tx_gas = safe_tx_gas;
        self
    }

    /// The Safe transaction hash owners sign, from the Safe's own `getTransactionHash`, and
    /// the nonce it was computed for.
    pub async fn hash(&self, devnet: &Devnet, safe: Address) -> Result<(B256, U256)> {
        let nonce = match self.nonce {
            Some(nonce) => nonce,
            None => read_nonce(devnet, safe).await?,
        };
        let call = ISafe::getTransactionHashCall {
            to: self.to,
            value: self.value,
            data: self.data.clone(),
            operation: self.operation,
            safeTxGas: self.safe_tx_gas,
            baseGas: self.base_gas,
            gasPrice: self.gas_price,
            gasToken: self.gas_token,
            refundReceiver: self.refund_receiver,
            _nonce: nonce,
        };
        let hash = view(devnet, safe, call).await?;
        Ok((hash, nonce))
    }

    /// The `execTransaction` call data with the given packed signatures.
    pub fn exec_calldata(&self, signatures: Bytes) -> Bytes {
        ISafe::execTransactionCall {
            to: self.to,
            value: self.value,
            data: self.data.clone(),
            operation: self.operation,
            safeTxGas: self.safe_tx_gas,
            baseGas: self.base_gas,
            gasPrice: self.gas_price,
            gasToken: self.gas_token,
            refundReceiver: self.refund_receiver,
            signatures,
        }
        .abi_encode()
        .into()
    }

    /// The signed `execTransaction` request (from the dev account) and the nonce it is for.
    pub async fn signed_request(
        &self,
        devnet: &Devnet,
        safe: Address,
        signers: &[(&PrivateKeySigner, SignatureKind)],
    ) -> Result<(TransactionRequest, U256)> {
        let (hash, nonce) = self.hash(devnet, safe).await?;
        let signatures = sign_safe_hash(hash, signers)?;
        let tx = TransactionRequest::default()
            .to(safe)
            .input(TransactionInput::new(self.exec_calldata(signatures)));
        Ok((tx, nonce))
    }

    /// Signs and submits `execTransaction` and returns the receipt whatever happened: for
    /// tests that want a reverted transaction or an `ExecutionFailure` on chain.
    pub async fn execute_unchecked(
        &self,
        devnet: &Devnet,
        safe: Address,
        signers: &[(&PrivateKeySigner, SignatureKind)],
    ) -> Result<TransactionReceipt> {
        let (tx, _) = self.signed_request(devnet, safe, signers).await?;
        let hash = devnet.send(tx).await?;
        devnet.wait_receipt(hash).await
    }

    /// Signs with every signer and submits `execTransaction` from the dev account. Fails if
    /// the transaction reverts or the Safe reports `ExecutionFailure`.
    #[tracing::instrument(skip_all, fields(%safe, to = %self.to, signers = signers.len()))]
    pub async fn execute(
        &self,
        devnet: &Devnet,
        safe: Address,
        signers: &[(&PrivateKeySigner, SignatureKind)],
    ) -> Result<TransactionReceipt> {
        let (tx, nonce) = self.signed_request(devnet, safe, signers).await?;
        let receipt = devnet
            .transact(tx)
            .await
            .with_context(|| format!("execTransaction on Safe {safe} (nonce {nonce})"))?;
        let emitted = |topic: &B256| {
            receipt
                .logs()
                .iter()
                .any(|log| log.address() == safe && log.topic0() == Some(topic))
        };
        if emitted(&ISafe::ExecutionFailure::SIGNATURE_HASH) {
            bail!(
                "Safe {safe} emitted ExecutionFailure (nonce {nonce}, tx {})",
                receipt.transaction_hash
            );
        }
        if !emitted(&ISafe::ExecutionSuccess::SIGNATURE_HASH) {
            bail!(
                "Safe {safe} emitted no ExecutionSuccess (nonce {nonce}, tx {})",
                receipt.transaction_hash
            );
        }
        Ok(receipt)
    }
}

/// Signs a Safe transaction hash with each signer and packs the signatures as the Safe expects:
/// sorted by signer address ascending, each `r || s || v`.
pub fn sign_safe_hash(hash: B256, signers: &[(&PrivateKeySigner, SignatureKind)]) -> Result<Bytes> {
    let mut signed = signers
        .iter()
        .map(|(signer, kind)| {
            let bytes = match kind {
                SignatureKind::Ecdsa => signer.sign_hash_sync(&hash)?.as_bytes(),
                SignatureKind::EthSign => {
                    let mut bytes = signer.sign_message_sync(hash.as_slice())?.as_bytes();
                    // The Safe tells eth_sign signatures apart by v > 30.
                    bytes[64] += 4;
                    bytes
                }
            };
            Ok((signer.address(), bytes))
        })
        .collect::<Result<Vec<_>, alloy::signers::Error>>()
        .context("signing a Safe transaction hash")?;
    signed.sort_by_key(|(address, _)| *address);
    Ok(signed.iter().flat_map(|(_, bytes)| *bytes).collect())
}

/// Executes a Safe transaction signed by `signers` with plain ECDSA signatures.
pub async fn exec_transaction(
    devnet: &Devnet,
    safe: Address,
    to: Address,
    value: U256,
    data: Bytes,
    operation: u8,
    signers: &[&PrivateKeySigner],
) -> Result<TransactionReceipt> {
    SafeTx::new(to, value, data)
        .with_operation(operation)
        .execute(devnet, safe, &ecdsa(signers))
        .await
}

fn ecdsa<'a>(signers: &[&'a PrivateKeySigner]) -> Vec<(&'a PrivateKeySigner, SignatureKind)> {
    signers.iter().map(|s| (*s, SignatureKind::Ecdsa)).collect()
}

async fn self_call(
    devnet: &Devnet,
    safe: Address,
    call: impl SolCall,
    signers: &[&PrivateKeySigner],
) -> Result<TransactionReceipt> {
    SafeTx::self_call(safe, call)
        .execute(devnet, safe, &ecdsa(signers))
        .await
}

/// The element before `item` in a Safe linked list returned in order, or the sentinel.
fn previous(list: &[Address], item: Address, what: &str) -> Result<Address> {
    match list.iter().position(|a| *a == item) {
        Some(0) => Ok(SENTINEL),
        Some(i) => Ok(list[i - 1]),
        None => bail!("{item} is not a {what} of the Safe"),
    }
}

/// `addOwnerWithThreshold(owner, threshold)`.
pub async fn add_owner_with_threshold(
    devnet: &Devnet,
    safe: Address,
    owner: Address,
    threshold: u64,
    signers: &[&PrivateKeySigner],
) -> Result<TransactionReceipt> {
    let call = ISafe::addOwnerWithThresholdCall {
        owner,
        _threshold: U256::from(threshold),
    };
    self_call(devnet, safe, call, signers).await
}

/// `removeOwner(prevOwner, owner, threshold)`, finding `prevOwner` from `getOwners()`.
pub async fn remove_owner(
    devnet: &Devnet,
    safe: Address,
    owner: Address,
    threshold: u64,
    signers: &[&PrivateKeySigner],
) -> Result<TransactionReceipt> {
    let owners = read_owners(devnet, safe).await?;
    let call = ISafe::removeOwnerCall {
        prevOwner: previous(&owners, owner, "owner")?,
        owner,
        _threshold: U256::from(threshold),
    };
    self_call(devnet, safe, call, signers).await
}

/// `swapOwner(prevOwner, old, new)`, finding `prevOwner` from `getOwners()`.
pub async fn swap_owner(
    devnet: &Devnet,
    safe: Address,
    old_owner: Address,
    new_owner: Address,
    signers: &[&PrivateKeySigner],
) -> Result<TransactionReceipt> {
    let owners = read_owners(devnet, safe).await?;
    let call = ISafe::swapOwnerCall {
        prevOwner: previous(&owners, old_owner, "owner")?,
        oldOwner: old_owner,
        newOwner: new_owner,
    };
    self_call(devnet, safe, call, signers).await
}

/// `changeThreshold(threshold)`.
pub async fn change_threshold(
    devnet: &Devnet,
    safe: Address,
    threshold: u64,
    signers: &[&PrivateKeySigner],
) -> Result<TransactionReceipt> {
    let call = ISafe::changeThresholdCall {
        _threshold: U256::from(threshold),
    };
    self_call(devnet, safe, call, signers).await
}

/// `enableModule(module)`.
pub async fn enable_module(
    devnet: &Devnet,
    safe: Address,
    module: Address,
    signers: &[&PrivateKeySigner],
) -> Result<TransactionReceipt> {
    self_call(devnet, safe, ISafe::enableModuleCall { module }, signers).await
}

/// `disableModule(prevModule, module)`, finding `prevModule` from `getModulesPaginated`.
pub async fn disable_module(
    devnet: &Devnet,
    safe: Address,
    module: Address,
    signers: &[&PrivateKeySigner],
) -> Result<TransactionReceipt> {
    let modules = read_modules(devnet, safe).await?;
    let call = ISafe::disableModuleCall {
        prevModule: previous(&modules, module, "module")?,
        module,
    };
    self_call(devnet, safe, call, signers).await
}

/// `setGuard(guard)`; zero removes the guard. Safe 1.4.1 accepts only contracts that report
/// the guard interface (e.g. [`super::SafeContracts::guard`]).
pub async fn set_guard(
    devnet: &Devnet,
    safe: Address,
    guard: Address,
    signers: &[&PrivateKeySigner],
) -> Result<TransactionReceipt> {
    self_call(devnet, safe, ISafe::setGuardCall { guard }, signers).await
}

/// `setFallbackHandler(handler)`.
pub async fn set_fallback_handler(
    devnet: &Devnet,
    safe: Address,
    handler: Address,
    signers: &[&PrivateKeySigner],
) -> Result<TransactionReceipt> {
    self_call(
        devnet,
        safe,
        ISafe::setFallbackHandlerCall { handler },
        signers,
    )
    .await
}
