//! The signers of real Safe 1.4.1 executions on anvil, recovered from nothing but the mined
//! transaction's input and the `ExecutionSuccess` log: two ECDSA signatures, `eth_sign` with
//! ECDSA, an approved hash, a high-`s` signature the Safe accepts, and a contract owner (another
//! Safe, via EIP-1271). Also measures what recovery costs per execution.

use std::time::Instant;

use alloy::{
    consensus::Transaction as _,
    primitives::{uint, Address, Bytes, B256, U256},
    providers::Provider,
    rpc::types::{TransactionInput, TransactionReceipt, TransactionRequest},
    signers::local::PrivateKeySigner,
    sol,
    sol_types::{SolCall, SolEvent},
};
use anyhow::{ensure, Context, Result};
use devnet::{
    self, sign_safe_hash, Devnet, DevnetOptions, SafeContracts, SafeTx, SafeVersion,
    SignatureKind as Signing,
};
use groupstate::decode::abi::v141::SafeL2;
use groupstate::observe::signers::{
    decode_exec_transaction, is_strictly_ascending, recover_signers, RecoveredSigner, SignatureKind,
};

sol! {
    /// The `CompatibilityFallbackHandler` 1.4.1 function that gives the hash a Safe's owners sign
    /// for an EIP-1271 signature by that Safe.
    interface IFallbackHandler {
        function getMessageHashForSafe(address safe, bytes memory message) external view returns (bytes32);
    }
}

/// The order of secp256k1.
const N: U256 = uint!(0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141_U256);

const THRESHOLD: usize = 2;

struct World {
    devnet: Devnet,
    safe: Address,
    keys: Vec<PrivateKeySigner>,
    /// An unlocked anvil account that is an owner, for `approveHash`.
    approver: Address,
    /// A 1-of-1 Safe owned by `keys[3]` that is an owner of `safe`.
    wallet: Address,
    /// The `CompatibilityFallbackHandler` both Safes use; it answers EIP-1271 for `wallet`.
    handler: Address,
}

async fn world() -> Result<World> {
    let devnet = Devnet::start(DevnetOptions::default()).await?;
    let contracts = SafeContracts::deploy(&devnet).await?;
    let keys = devnet::signers(4);
    let approver = devnet.accounts()[1];
    ensure!(approver != devnet.dev_account());
    let wallet = contracts
        .create_safe(&devnet, SafeVersion::V141, &[keys[3].address()], 1, 1)
        .await?;
    let owners = [
        keys[0].address(),
        keys[1].address(),
        keys[2].address(),
        approver,
        wallet,
    ];
    let safe = contracts
        .create_safe(&devnet, SafeVersion::V141, &owners, THRESHOLD as u64, 0)
        .await?;
    ensure!(devnet::read_threshold(&devnet, safe).await? == THRESHOLD as u64);
    Ok(World {
        devnet,
        safe,
        keys,
        approver,
        wallet,
        handler: contracts.fallback_handler,
    })
}

fn payment() -> SafeTx {
    SafeTx::new(Address::repeat_byte(0x42), U256::ZERO, Bytes::new())
}

/// A static signature part `r || s || v`.
fn part(r: B256, s: U256, v: u8) -> [u8; 65] {
    let mut part = [0u8; 65];
    part[..32].copy_from_slice(r.as_slice());
    part[32..64].copy_from_slice(&s.to_be_bytes::<32>());
    part[64] = v;
    part
}

/// One owner's ECDSA part over `hash`.
fn sign_hash(hash: B256, key: &PrivateKeySigner) -> Result<[u8; 65]> {
    let packed = sign_safe_hash(hash, &[(key, Signing::Ecdsa)])?;
    Ok(packed[..].try_into()?)
}

/// Packs static parts in ascending owner order, then the dynamic data.
fn pack(mut parts: Vec<(Address, [u8; 65])>, dynamic: &[u8]) -> Bytes {
    parts.sort_by_key(|(owner, _)| *owner);
    let mut packed: Vec<u8> = parts.iter().flat_map(|(_, p)| *p).collect();
    packed.extend_from_slice(dynamic);
    packed.into()
}

fn sorted(mut signers: Vec<RecoveredSigner>) -> Vec<RecoveredSigner> {
    signers.sort_by_key(|s| s.signer);
    signers
}

fn signer(signer: Address, kind: SignatureKind) -> RecoveredSigner {
    RecoveredSigner { signer, kind }
}

/// Submits `execTransaction` with hand-packed signatures from the dev account.
async fn exec_with(w: &World, tx: &SafeTx, signatures: Bytes) -> Result<TransactionReceipt> {
    let request = TransactionRequest::default()
        .to(w.safe)
        .input(TransactionInput::new(tx.exec_calldata(signatures)));
    w.devnet.transact(request).await
}

/// What an indexer sees of an execution: the Safe transaction hash from its `ExecutionSuccess`
/// log and the signatures from the transaction's input.
async fn observed(w: &World, receipt: &TransactionReceipt) -> Result<(B256, Bytes)> {
    let safe_tx_hash = receipt
        .logs()
        .iter()
        .filter(|log| log.address() == w.safe)
        .find_map(|log| SafeL2::ExecutionSuccess::decode_log_data(log.data()).ok())
        .context("no ExecutionSuccess from the Safe")?
        .txHash;
    let tx = w
        .devnet
        .http_provider()
        .get_transaction_by_hash(receipt.transaction_hash)
        .await?
        .context("mined transaction not found")?;
    let exec = decode_exec_transaction(tx.input()).context("input is not execTransaction")?;
    Ok((safe_tx_hash, exec.signatures))
}

async fn check(
    w: &World,
    receipt: &TransactionReceipt,
    expected: Vec<RecoveredSigner>,
) -> Result<(B256, Bytes)> {
    let (safe_tx_hash, signatures) = observed(w, receipt).await?;
    let recovered = recover_signers(safe_tx_hash, &signatures, THRESHOLD)?;
    assert_eq!(recovered, sorted(expected));
    assert!(is_strictly_ascending(&recovered));
    Ok((safe_tx_hash, signatures))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovers_the_signers_of_real_executions() -> Result<()> {
    let w = world().await?;
    let k = &w.keys;

    // (a) Two ECDSA signatures.
    let receipt = payment()
        .execute(
            &w.devnet,
            w.safe,
            &[(&k[2], Signing::Ecdsa), (&k[0], Signing::Ecdsa)],
        )
        .await?;
    let (ecdsa_hash, ecdsa_signatures) = check(
        &w,
        &receipt,
        vec![
            signer(k[0].address(), SignatureKind::Ecdsa),
            signer(k[2].address(), SignatureKind::Ecdsa),
        ],
    )
    .await?;

    // (b) One eth_sign and one ECDSA signature.
    let receipt = payment()
        .execute(
            &w.devnet,
            w.safe,
            &[(&k[1], Signing::EthSign), (&k[2], Signing::Ecdsa)],
        )
        .await?;
    check(
        &w,
        &receipt,
        vec![
            signer(k[1].address(), SignatureKind::EthSign),
            signer(k[2].address(), SignatureKind::Ecdsa),
        ],
    )
    .await?;

    // (c) An approved hash: the owner approves on chain first, then its part is
    // r = owner, s = 0, v = 1. The dev account executes and is not an owner, so the Safe
    // must find the approval.
    let tx = payment();
    let (hash, _) = tx.hash(&w.devnet, w.safe).await?;
    let approve = TransactionRequest::default()
        .from(w.approver)
        .to(w.safe)
        .input(TransactionInput::new(
            SafeL2::approveHashCall {
                hashToApprove: hash,
            }
            .abi_encode()
            .into(),
        ));
    w.devnet.transact(approve).await?;
    let signatures = pack(
        vec![
            (w.approver, part(w.approver.into_word(), U256::ZERO, 1)),
            (k[0].address(), sign_hash(hash, &k[0])?),
        ],
        &[],
    );
    let receipt = exec_with(&w, &tx, signatures).await?;
    check(
        &w,
        &receipt,
        vec![
            signer(w.approver, SignatureKind::ApprovedHash),
            signer(k[0].address(), SignatureKind::Ecdsa),
        ],
    )
    .await?;

    // (d) A high-s ECDSA signature (s' = n - s, parity flipped): the Safe has no malleability
    // check and accepts it, and so does recovery.
    let tx = payment();
    let (hash, _) = tx.hash(&w.devnet, w.safe).await?;
    let low = sign_hash(hash, &k[1])?;
    let high = part(
        B256::from_slice(&low[..32]),
        N - U256::from_be_slice(&low[32..64]),
        55 - low[64],
    );
    let signatures = pack(
        vec![
            (k[1].address(), high),
            (k[2].address(), sign_hash(hash, &k[2])?),
        ],
        &[],
    );
    let receipt = exec_with(&w, &tx, signatures).await?;
    check(
        &w,
        &receipt,
        vec![
            signer(k[1].address(), SignatureKind::Ecdsa),
            signer(k[2].address(), SignatureKind::Ecdsa),
        ],
    )
    .await?;

    // (e) A contract owner: the 1-of-1 wallet Safe signs by EIP-1271. Its static part is
    // r = wallet, s = offset of the dynamic part, v = 0; the dynamic part is the wallet owner's
    // ECDSA signature over the wallet's SafeMessage hash of the outer transaction data.
    let tx = payment();
    let (hash, nonce) = tx.hash(&w.devnet, w.safe).await?;
    let tx_data = w
        .devnet
        .call(
            w.safe,
            SafeL2::encodeTransactionDataCall {
                to: tx.to,
                value: tx.value,
                data: tx.data.clone(),
                operation: tx.operation,
                safeTxGas: tx.safe_tx_gas,
                baseGas: tx.base_gas,
                gasPrice: tx.gas_price,
                gasToken: tx.gas_token,
                refundReceiver: tx.refund_receiver,
                _nonce: nonce,
            }
            .abi_encode(),
        )
        .await?;
    let tx_data = SafeL2::encodeTransactionDataCall::abi_decode_returns(&tx_data)?;
    let message_hash = w
        .devnet
        .call(
            w.handler,
            IFallbackHandler::getMessageHashForSafeCall {
                safe: w.wallet,
                message: tx_data,
            }
            .abi_encode(),
        )
        .await?;
    let message_hash =
        IFallbackHandler::getMessageHashForSafeCall::abi_decode_returns(&message_hash)?;
    let inner = sign_safe_hash(message_hash, &[(&k[3], Signing::Ecdsa)])?;
    let mut dynamic = U256::from(inner.len()).to_be_bytes::<32>().to_vec();
    dynamic.extend_from_slice(&inner);
    let offset = U256::from(THRESHOLD * 65);
    let signatures = pack(
        vec![
            (w.wallet, part(w.wallet.into_word(), offset, 0)),
            (k[0].address(), sign_hash(hash, &k[0])?),
        ],
        &dynamic,
    );
    let receipt = exec_with(&w, &tx, signatures).await?;
    check(
        &w,
        &receipt,
        vec![
            signer(w.wallet, SignatureKind::Contract),
            signer(k[0].address(), SignatureKind::Ecdsa),
        ],
    )
    .await?;

    // The cost per execution of recovering two ECDSA signers.
    const RUNS: u32 = 10_000;
    let start = Instant::now();
    for _ in 0..RUNS {
        let signers = recover_signers(
            std::hint::black_box(ecdsa_hash),
            std::hint::black_box(&ecdsa_signatures),
            THRESHOLD,
        )?;
        std::hint::black_box(signers);
    }
    let elapsed = start.elapsed();
    eprintln!(
        "recover_signers, 2 ECDSA signatures: {:.1} µs per Safe execution ({RUNS} runs in {elapsed:?}, {} build)",
        elapsed.as_secs_f64() * 1e6 / f64::from(RUNS),
        if cfg!(debug_assertions) { "debug" } else { "release" },
    );
    Ok(())
}
