//! Who signed a Safe execution: the owners recovered from the packed `signatures` passed to
//! `execTransaction`, by the rules of Safe's `checkNSignatures` (the same in 1.3.0 and 1.4.1), so
//! that an `ExecutionSuccess` / `ExecutionFailure` can be recorded as a decision with its signers.
//!
//! Invariant: pure — no chain calls. What needs the chain is reported, not checked: a contract
//! signature (EIP-1271) is bounds-checked and reported by its kind but not validated, an approved
//! hash is not looked up in `approvedHashes`, and whether the signers are owners in ascending
//! order (which the Safe requires) is left to the caller ([`is_strictly_ascending`]).
//!
//! A mined execution always passed `checkNSignatures`, so a [`SignatureError`] on chain data means
//! the caller passed the wrong signatures or the wrong threshold; each error names the Safe revert
//! code the same input would have hit.

use alloy::primitives::{eip191_hash_message, Address, Bytes, B256, U256};
use alloy::sol_types::SolCall;
use serde::Serialize;

use crate::abi::v141::SafeL2;
use crate::decode::decimal;

/// `execTransaction(address,uint256,bytes,uint8,uint256,uint256,uint256,address,address,bytes)`.
pub const EXEC_TRANSACTION_SELECTOR: [u8; 4] = SafeL2::execTransactionCall::SELECTOR;

/// The length of one static signature part: `r (32) || s (32) || v (1)`.
pub const STATIC_PART_LEN: usize = 65;

/// How an owner's approval is encoded in a static signature part, told apart by its `v`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SignatureKind {
    /// `v` is 27 or 28: ECDSA over the Safe transaction hash.
    Ecdsa,
    /// `v` is 31 or 32: ECDSA over the EIP-191 (`eth_sign`) message of the hash, `v` raised by 4.
    EthSign,
    /// `v` is 1: the owner in `r` approved the hash with `approveHash`, or is the executor.
    ApprovedHash,
    /// `v` is 0: an EIP-1271 contract owner in `r`, its signature data at offset `s`. Not
    /// validated here (that needs an `eth_call`).
    Contract,
}

impl SignatureKind {
    /// The serialized name, e.g. `eth_sign`.
    pub fn as_str(self) -> &'static str {
        match self {
            SignatureKind::Ecdsa => "ecdsa",
            SignatureKind::EthSign => "eth_sign",
            SignatureKind::ApprovedHash => "approved_hash",
            SignatureKind::Contract => "contract",
        }
    }
}

impl std::fmt::Display for SignatureKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One signer of a Safe execution, in the order of the signature parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct RecoveredSigner {
    pub signer: Address,
    pub kind: SignatureKind,
}

/// Why the signatures of a Safe execution cannot be read; `index` is the signature part (from 0).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error(
        "threshold 0: a Safe that is set up needs at least one signature (Safe reverts GS001)"
    )]
    ZeroThreshold,
    #[error("{len} signature bytes, fewer than the {required} that threshold {threshold} needs (Safe reverts GS020)")]
    TooShort {
        len: usize,
        threshold: usize,
        required: usize,
    },
    #[error("signature {index}: v = {v} is none of 0 (contract), 1 (approved hash), 27/28 (ECDSA), 31/32 (eth_sign); ecrecover would return no owner (Safe reverts GS026)")]
    InvalidV { index: usize, v: u8 },
    #[error(
        "signature {index}: {kind} signature recovers no address: {reason} (Safe reverts GS026)"
    )]
    Unrecoverable {
        index: usize,
        kind: SignatureKind,
        reason: String,
    },
    #[error("signature {index}: contract signature offset {offset} points into the {static_len} bytes of static parts (Safe reverts GS021)")]
    ContractOffsetInStaticPart {
        index: usize,
        offset: U256,
        static_len: usize,
    },
    #[error("signature {index}: contract signature offset {offset} leaves no room for its 32-byte length in {len} signature bytes (Safe reverts GS022)")]
    ContractOffsetOutOfBounds {
        index: usize,
        offset: U256,
        len: usize,
    },
    #[error("signature {index}: contract signature of {data_len} bytes at offset {offset} runs past the {len} signature bytes (Safe reverts GS023)")]
    ContractDataOutOfBounds {
        index: usize,
        offset: usize,
        data_len: U256,
        len: usize,
    },
}

impl SignatureError {
    /// The signature part at fault, if the error is about one part.
    pub fn index(&self) -> Option<usize> {
        match self {
            SignatureError::ZeroThreshold | SignatureError::TooShort { .. } => None,
            SignatureError::InvalidV { index, .. }
            | SignatureError::Unrecoverable { index, .. }
            | SignatureError::ContractOffsetInStaticPart { index, .. }
            | SignatureError::ContractOffsetOutOfBounds { index, .. }
            | SignatureError::ContractDataOutOfBounds { index, .. } => Some(*index),
        }
    }

    /// The revert reason Safe 1.4.1 gives for the same input, e.g. `GS020`.
    pub fn safe_code(&self) -> &'static str {
        match self {
            SignatureError::ZeroThreshold => "GS001",
            SignatureError::TooShort { .. } => "GS020",
            SignatureError::InvalidV { .. } | SignatureError::Unrecoverable { .. } => "GS026",
            SignatureError::ContractOffsetInStaticPart { .. } => "GS021",
            SignatureError::ContractOffsetOutOfBounds { .. } => "GS022",
            SignatureError::ContractDataOutOfBounds { .. } => "GS023",
        }
    }
}

/// The arguments of an `execTransaction` call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExecTransaction {
    pub to: Address,
    #[serde(serialize_with = "decimal")]
    pub value: U256,
    pub data: Bytes,
    /// 0 for `CALL`, 1 for `DELEGATECALL`.
    pub operation: u8,
    #[serde(serialize_with = "decimal")]
    pub safe_tx_gas: U256,
    #[serde(serialize_with = "decimal")]
    pub base_gas: U256,
    #[serde(serialize_with = "decimal")]
    pub gas_price: U256,
    pub gas_token: Address,
    pub refund_receiver: Address,
    /// The packed signatures, for [`recover_signers`].
    pub signatures: Bytes,
}

/// Decodes `execTransaction` call data (selector `0x6a761202`); `None` for any other call or
/// malformed data. Only a transaction sent straight to the Safe carries this as its input; an
/// execution through a relayer contract or a multisend needs the call trace instead.
pub fn decode_exec_transaction(input: &[u8]) -> Option<ExecTransaction> {
    let call = SafeL2::execTransactionCall::abi_decode(input).ok()?;
    Some(ExecTransaction {
        to: call.to,
        value: call.value,
        data: call.data,
        operation: call.operation,
        safe_tx_gas: call.safeTxGas,
        base_gas: call.baseGas,
        gas_price: call.gasPrice,
        gas_token: call.gasToken,
        refund_receiver: call.refundReceiver,
        signatures: call.signatures,
    })
}

/// Recovers the signers of a Safe execution, as Safe's `checkNSignatures` does: reads the first
/// `threshold` static parts of `signatures` (any further parts are ignored, as the Safe ignores
/// them) and returns one signer per part, in order.
///
/// `safe_tx_hash` is the hash owners sign (the `txHash` of `ExecutionSuccess` /
/// `ExecutionFailure`). `threshold` must be the one the Safe checked: its threshold just before
/// the execution, not after it (an execution may change the threshold).
///
/// Like the Safe, a signature with a high `s` is accepted (ecrecover has no malleability check);
/// an approved-hash or contract owner is the low 20 bytes of `r`, upper bytes ignored.
pub fn recover_signers(
    safe_tx_hash: B256,
    signatures: &[u8],
    threshold: usize,
) -> Result<Vec<RecoveredSigner>, SignatureError> {
    recover_signers_with(safe_tx_hash, signatures, threshold, |_, _| None)
}

/// [`recover_signers`], taking ECDSA recoveries already done from `known(digest, part)` (the
/// digest the part signs: the Safe transaction hash, or its EIP-191 message for `eth_sign`).
pub fn recover_signers_with(
    safe_tx_hash: B256,
    signatures: &[u8],
    threshold: usize,
    known: impl Fn(&B256, &[u8; STATIC_PART_LEN]) -> Option<Address>,
) -> Result<Vec<RecoveredSigner>, SignatureError> {
    if threshold == 0 {
        return Err(SignatureError::ZeroThreshold);
    }
    let static_len = threshold.saturating_mul(STATIC_PART_LEN);
    if signatures.len() < static_len {
        return Err(SignatureError::TooShort {
            len: signatures.len(),
            threshold,
            required: static_len,
        });
    }
    signatures
        .chunks_exact(STATIC_PART_LEN)
        .take(threshold)
        .enumerate()
        .map(|(index, part)| {
            let r = B256::from_slice(&part[..32]);
            let s = B256::from_slice(&part[32..64]);
            let v = part[64];
            let (signer, kind) = match v {
                0 => {
                    check_contract_signature(index, s, signatures, static_len)?;
                    (Address::from_word(r), SignatureKind::Contract)
                }
                1 => (Address::from_word(r), SignatureKind::ApprovedHash),
                27 | 28 | 31 | 32 => {
                    let (kind, digest) = signed_digest(safe_tx_hash, v);
                    let whole: &[u8; STATIC_PART_LEN] = part.try_into().expect("exact chunks");
                    let signer = match known(&digest, whole) {
                        Some(a) => a,
                        None => ecrecover(index, kind, &digest, r, s, ecdsa_v(v))?,
                    };
                    (signer, kind)
                }
                // Anything else reaches ecrecover with a v other than 27/28, which returns no
                // address, and address(0) is never an owner.
                _ => return Err(SignatureError::InvalidV { index, v }),
            };
            Ok(RecoveredSigner { signer, kind })
        })
        .collect()
}

/// Whether the signers are in strictly ascending address order, none of them zero: the order the
/// Safe requires (`currentOwner > lastOwner`, starting from `address(0)`). Duplicates fail.
pub fn is_strictly_ascending(signers: &[RecoveredSigner]) -> bool {
    let mut last = Address::ZERO;
    signers.iter().all(|s| {
        let ascending = s.signer > last;
        last = s.signer;
        ascending
    })
}

/// The kind of an ECDSA part (`v` 27/28 or 31/32) and the digest it signs: the Safe transaction
/// hash, or for `eth_sign` `keccak256("\x19Ethereum Signed Message:\n32" || safeTxHash)`.
fn signed_digest(safe_tx_hash: B256, v: u8) -> (SignatureKind, B256) {
    if v > 30 {
        (SignatureKind::EthSign, eip191_hash_message(safe_tx_hash))
    } else {
        (SignatureKind::Ecdsa, safe_tx_hash)
    }
}

/// The `v` ecrecover sees: `eth_sign` parts carry it raised by 4.
fn ecdsa_v(v: u8) -> u8 {
    if v > 30 {
        v - 4
    } else {
        v
    }
}

/// Recovers one static part ahead of knowing the threshold: `None` unless it is an ECDSA or
/// `eth_sign` part that recovers; else the digest it signs and its signer.
pub fn recover_part(safe_tx_hash: B256, part: &[u8; STATIC_PART_LEN]) -> Option<(B256, Address)> {
    let v = part[64];
    if !matches!(v, 27 | 28 | 31 | 32) {
        return None;
    }
    let (kind, digest) = signed_digest(safe_tx_hash, v);
    let r = B256::from_slice(&part[..32]);
    let s = B256::from_slice(&part[32..64]);
    ecrecover(0, kind, &digest, r, s, ecdsa_v(v))
        .ok()
        .map(|a| (digest, a))
}

/// `ecrecover(hash, v, r, s)` for `v` in 27/28, with libsecp256k1. Like the precompile, a high
/// `s` recovers (libsecp256k1 does not normalise for recovery); r or s zero or not below the
/// curve order, or an r that is no point's x, fail.
fn ecrecover(
    index: usize,
    kind: SignatureKind,
    hash: &B256,
    r: B256,
    s: B256,
    v: u8,
) -> Result<Address, SignatureError> {
    use secp256k1::ecdsa::{RecoverableSignature, RecoveryId};
    let fail = |reason: String| SignatureError::Unrecoverable {
        index,
        kind,
        reason,
    };
    let id = RecoveryId::try_from(i32::from(v) - 27).map_err(|e| fail(e.to_string()))?;
    let mut compact = [0u8; 64];
    compact[..32].copy_from_slice(r.as_slice());
    compact[32..].copy_from_slice(s.as_slice());
    let key = RecoverableSignature::from_compact(&compact, id)
        .and_then(|sig| sig.recover(secp256k1::Message::from_digest(hash.0)))
        .map_err(|e| fail(e.to_string()))?;
    let uncompressed = key.serialize_uncompressed();
    Ok(Address::from_raw_public_key(&uncompressed[1..]))
}

/// The bounds Safe checks on a contract signature (GS021, GS022, GS023): its offset `s` lies past
/// the static parts, leaves room for a 32-byte length, and the data of that length fits.
fn check_contract_signature(
    index: usize,
    s: B256,
    signatures: &[u8],
    static_len: usize,
) -> Result<(), SignatureError> {
    let offset = U256::from_be_bytes(s.0);
    let len = signatures.len();
    if offset < U256::from(static_len) {
        return Err(SignatureError::ContractOffsetInStaticPart {
            index,
            offset,
            static_len,
        });
    }
    let start = usize::try_from(offset)
        .ok()
        .filter(|start| start.checked_add(32).is_some_and(|end| end <= len))
        .ok_or(SignatureError::ContractOffsetOutOfBounds { index, offset, len })?;
    let data_len = U256::from_be_slice(&signatures[start..start + 32]);
    let fits = usize::try_from(data_len)
        .ok()
        .and_then(|data_len| (start + 32).checked_add(data_len))
        .is_some_and(|end| end <= len);
    if !fits {
        return Err(SignatureError::ContractDataOutOfBounds {
            index,
            offset: start,
            data_len,
            len,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::{b256, keccak256, uint};
    use alloy::signers::{local::PrivateKeySigner, SignerSync};

    /// libsecp256k1 recovers what alloy's pure-Rust k256 recovers, for ECDSA and `eth_sign`
    /// parts, recovered in the fold or ahead of it.
    #[test]
    fn libsecp256k1_agrees_with_k256() {
        for i in 0..64u8 {
            let key = PrivateKeySigner::random();
            let hash = keccak256([i]);
            let eth_sign = i % 2 == 1;
            let digest = if eth_sign {
                eip191_hash_message(hash)
            } else {
                hash
            };
            let sig = key.sign_hash_sync(&digest).unwrap();
            let by_k256 = sig.recover_address_from_prehash(&digest).unwrap();
            let mut part = sig.as_bytes();
            if eth_sign {
                part[64] += 4;
            }
            let got = recover_signers(hash, &part, 1).unwrap();
            assert_eq!(got[0].signer, by_k256);
            assert_eq!(got[0].signer, key.address());
            assert_eq!(recover_part(hash, &part), Some((digest, by_k256)));
            let known = recover_signers_with(hash, &part, 1, |d, p| {
                (*d == digest && p == &part).then_some(Address::repeat_byte(7))
            })
            .unwrap();
            assert_eq!(
                known[0].signer,
                Address::repeat_byte(7),
                "what is known is used"
            );
        }
    }

    /// The order of secp256k1.
    const N: U256 = uint!(0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141_U256);

    fn hash() -> B256 {
        keccak256("a Safe transaction")
    }

    fn key(byte: u8) -> PrivateKeySigner {
        PrivateKeySigner::from_bytes(&B256::repeat_byte(byte)).expect("valid key")
    }

    fn ecdsa(key: &PrivateKeySigner, hash: B256) -> [u8; 65] {
        key.sign_hash_sync(&hash).expect("sign").as_bytes()
    }

    fn eth_sign(key: &PrivateKeySigner, hash: B256) -> [u8; 65] {
        let mut part = key
            .sign_message_sync(hash.as_slice())
            .expect("sign")
            .as_bytes();
        part[64] += 4;
        part
    }

    fn part(r: B256, s: U256, v: u8) -> [u8; 65] {
        let mut part = [0u8; 65];
        part[..32].copy_from_slice(r.as_slice());
        part[32..64].copy_from_slice(&s.to_be_bytes::<32>());
        part[64] = v;
        part
    }

    fn approved(owner: Address) -> [u8; 65] {
        part(owner.into_word(), U256::ZERO, 1)
    }

    fn contract(owner: Address, offset: usize) -> [u8; 65] {
        part(owner.into_word(), U256::from(offset), 0)
    }

    fn packed(parts: &[[u8; 65]]) -> Vec<u8> {
        parts.iter().flatten().copied().collect()
    }

    fn signer(signer: Address, kind: SignatureKind) -> RecoveredSigner {
        RecoveredSigner { signer, kind }
    }

    fn ascending_keys() -> (PrivateKeySigner, PrivateKeySigner) {
        let (a, b) = (key(1), key(2));
        if a.address() < b.address() {
            (a, b)
        } else {
            (b, a)
        }
    }

    #[test]
    fn recovers_ecdsa_signers_in_order() {
        let (a, b) = ascending_keys();
        let sigs = packed(&[ecdsa(&a, hash()), ecdsa(&b, hash())]);
        let signers = recover_signers(hash(), &sigs, 2).unwrap();
        assert_eq!(
            signers,
            [
                signer(a.address(), SignatureKind::Ecdsa),
                signer(b.address(), SignatureKind::Ecdsa)
            ]
        );
        assert!(is_strictly_ascending(&signers));
    }

    #[test]
    fn recovers_eth_sign_signers() {
        let (a, b) = ascending_keys();
        let sigs = packed(&[eth_sign(&a, hash()), ecdsa(&b, hash())]);
        assert!(matches!(sigs[64], 31 | 32));
        assert_eq!(
            recover_signers(hash(), &sigs, 2).unwrap(),
            [
                signer(a.address(), SignatureKind::EthSign),
                signer(b.address(), SignatureKind::Ecdsa)
            ]
        );
    }

    #[test]
    fn an_eth_sign_signature_read_as_ecdsa_recovers_someone_else() {
        // The v offset is what tells the two apart: without it the recovered address is wrong.
        let a = key(1);
        let mut part = eth_sign(&a, hash());
        part[64] -= 4;
        let signers = recover_signers(hash(), &part, 1).unwrap();
        assert_ne!(signers[0].signer, a.address());
    }

    #[test]
    fn reads_approved_hash_owner_from_r() {
        let owner = Address::repeat_byte(0x11);
        let b = key(2);
        let sigs = packed(&[approved(owner), ecdsa(&b, hash())]);
        assert_eq!(
            recover_signers(hash(), &sigs, 2).unwrap(),
            [
                signer(owner, SignatureKind::ApprovedHash),
                signer(b.address(), SignatureKind::Ecdsa)
            ]
        );
    }

    #[test]
    fn approved_hash_owner_ignores_upper_bytes_of_r_like_safe() {
        let owner = Address::repeat_byte(0x11);
        let mut r = owner.into_word();
        r[0] = 0xff;
        let sigs = part(r, U256::ZERO, 1);
        assert_eq!(recover_signers(hash(), &sigs, 1).unwrap()[0].signer, owner);
    }

    #[test]
    fn reads_contract_owner_and_checks_its_dynamic_part() {
        let a = key(1);
        let wallet = Address::repeat_byte(0xee);
        let inner = [0xab_u8; 70];
        let mut sigs = packed(&[ecdsa(&a, hash()), contract(wallet, 130)]);
        sigs.extend_from_slice(&U256::from(inner.len()).to_be_bytes::<32>());
        sigs.extend_from_slice(&inner);
        assert_eq!(
            recover_signers(hash(), &sigs, 2).unwrap(),
            [
                signer(a.address(), SignatureKind::Ecdsa),
                signer(wallet, SignatureKind::Contract)
            ]
        );
        // An empty contract signature (the Safe's "pre-signed message" form) is in bounds.
        let mut empty = packed(&[contract(wallet, 65)]);
        empty.extend_from_slice(&[0u8; 32]);
        assert_eq!(
            recover_signers(hash(), &empty, 1).unwrap(),
            [signer(wallet, SignatureKind::Contract)]
        );
    }

    #[test]
    fn accepts_high_s_like_safe() {
        let a = key(1);
        let low = ecdsa(&a, hash());
        let s = U256::from_be_slice(&low[32..64]);
        assert!(s <= N >> 1, "alloy signs with low s");
        let high = part(
            B256::from_slice(&low[..32]),
            N - s,
            if low[64] == 27 { 28 } else { 27 },
        );
        assert_eq!(
            recover_signers(hash(), &high, 1).unwrap(),
            [signer(a.address(), SignatureKind::Ecdsa)]
        );
    }

    #[test]
    fn ignores_parts_beyond_the_threshold() {
        let (a, b) = ascending_keys();
        let mut sigs = packed(&[ecdsa(&a, hash()), ecdsa(&b, hash())]);
        sigs.extend_from_slice(&[0xff; 10]);
        assert_eq!(
            recover_signers(hash(), &sigs, 1).unwrap(),
            [signer(a.address(), SignatureKind::Ecdsa)]
        );
    }

    #[test]
    fn reports_but_does_not_enforce_order() {
        let (a, b) = ascending_keys();
        let sigs = packed(&[ecdsa(&b, hash()), ecdsa(&a, hash())]);
        let signers = recover_signers(hash(), &sigs, 2).unwrap();
        assert_eq!(signers[0].signer, b.address());
        assert!(!is_strictly_ascending(&signers));

        let twice = recover_signers(hash(), &packed(&[ecdsa(&a, hash()); 2]), 2).unwrap();
        assert!(!is_strictly_ascending(&twice));
        let zero = recover_signers(hash(), &approved(Address::ZERO), 1).unwrap();
        assert!(!is_strictly_ascending(&zero));
        assert!(is_strictly_ascending(&[]));
    }

    #[test]
    fn rejects_zero_threshold_and_short_signatures() {
        let a = key(1);
        assert_eq!(
            recover_signers(hash(), &[], 0).unwrap_err(),
            SignatureError::ZeroThreshold
        );
        let err = recover_signers(hash(), &ecdsa(&a, hash()), 2).unwrap_err();
        assert_eq!(
            err,
            SignatureError::TooShort {
                len: 65,
                threshold: 2,
                required: 130
            }
        );
        assert_eq!((err.index(), err.safe_code()), (None, "GS020"));
        assert!(matches!(
            recover_signers(hash(), &[0; 64], 1),
            Err(SignatureError::TooShort { .. })
        ));
        assert!(matches!(
            recover_signers(hash(), &[0; 65], usize::MAX),
            Err(SignatureError::TooShort {
                required: usize::MAX,
                ..
            })
        ));
    }

    #[test]
    fn rejects_a_bad_v() {
        let a = key(1);
        for v in [2, 26, 29, 30, 33, 255] {
            let mut sigs = packed(&[approved(Address::repeat_byte(1)), ecdsa(&a, hash())]);
            sigs[65 + 64] = v;
            let err = recover_signers(hash(), &sigs, 2).unwrap_err();
            assert_eq!(err, SignatureError::InvalidV { index: 1, v });
            assert_eq!((err.index(), err.safe_code()), (Some(1), "GS026"));
        }
    }

    #[test]
    fn rejects_an_unrecoverable_signature() {
        let good = ecdsa(&key(1), hash());
        let r = B256::from_slice(&good[..32]);
        let s = U256::from_be_slice(&good[32..64]);
        // Not a point's x: 5 is no curve point's x-coordinate on secp256k1 (5^3 + 7 = 132 is
        // not a square mod p).
        let not_on_curve = B256::from(U256::from(5));
        let cases = [
            ("r = 0", part(B256::ZERO, s, 27), SignatureKind::Ecdsa),
            ("s = 0", part(r, U256::ZERO, 27), SignatureKind::Ecdsa),
            ("s = n", part(r, N, 28), SignatureKind::Ecdsa),
            ("s = 2^256-1", part(r, U256::MAX, 27), SignatureKind::Ecdsa),
            (
                "r = 2^256-1",
                part(B256::repeat_byte(0xff), s, 27),
                SignatureKind::Ecdsa,
            ),
            (
                "r not an x",
                part(not_on_curve, s, 27),
                SignatureKind::Ecdsa,
            ),
            (
                "eth_sign r = 0",
                part(B256::ZERO, s, 31),
                SignatureKind::EthSign,
            ),
        ];
        for (case, sig, kind) in cases {
            match recover_signers(hash(), &sig, 1) {
                Err(SignatureError::Unrecoverable {
                    index: 0,
                    kind: k,
                    reason,
                }) => {
                    assert_eq!(k, kind, "{case}");
                    assert!(!reason.is_empty(), "{case}");
                }
                other => panic!("{case}: {other:?}"),
            }
        }
    }

    #[test]
    fn rejects_contract_offsets_out_of_bounds() {
        let wallet = Address::repeat_byte(0xee);
        let a = key(1);

        // Pointing into the static parts (GS021), even at the other part.
        let sigs = packed(&[ecdsa(&a, hash()), contract(wallet, 64)]);
        let err = recover_signers(hash(), &sigs, 2).unwrap_err();
        assert_eq!(
            err,
            SignatureError::ContractOffsetInStaticPart {
                index: 1,
                offset: U256::from(64),
                static_len: 130
            }
        );
        assert_eq!((err.index(), err.safe_code()), (Some(1), "GS021"));

        // No room for the length word (GS022): 31 bytes after the offset, or a huge offset.
        let mut sigs = packed(&[contract(wallet, 65)]);
        sigs.extend_from_slice(&[0; 31]);
        let err = recover_signers(hash(), &sigs, 1).unwrap_err();
        assert_eq!(
            err,
            SignatureError::ContractOffsetOutOfBounds {
                index: 0,
                offset: U256::from(65),
                len: 96
            }
        );
        assert_eq!(err.safe_code(), "GS022");
        let huge = part(wallet.into_word(), U256::MAX, 0);
        assert!(matches!(
            recover_signers(hash(), &huge, 1),
            Err(SignatureError::ContractOffsetOutOfBounds { .. })
        ));
        let past_usize = part(wallet.into_word(), U256::from(u64::MAX) + U256::from(1), 0);
        assert!(matches!(
            recover_signers(hash(), &past_usize, 1),
            Err(SignatureError::ContractOffsetOutOfBounds { .. })
        ));

        // Data longer than what follows its length word (GS023), by one byte or overflowing.
        for data_len in [U256::from(11), U256::MAX, U256::from(usize::MAX)] {
            let mut sigs = packed(&[contract(wallet, 65)]);
            sigs.extend_from_slice(&data_len.to_be_bytes::<32>());
            sigs.extend_from_slice(&[0; 10]);
            let err = recover_signers(hash(), &sigs, 1).unwrap_err();
            assert_eq!(
                err,
                SignatureError::ContractDataOutOfBounds {
                    index: 0,
                    offset: 65,
                    data_len,
                    len: 107
                }
            );
            assert_eq!(err.safe_code(), "GS023");
        }
    }

    #[test]
    fn error_messages_name_the_part_and_the_reason() {
        let err = SignatureError::InvalidV { index: 3, v: 29 };
        let message = err.to_string();
        assert!(message.starts_with("signature 3: v = 29"), "{message}");
        assert!(message.contains("GS026"), "{message}");
    }

    #[test]
    fn kinds_serialize_in_snake_case() {
        let json =
            serde_json::to_value(signer(Address::ZERO, SignatureKind::ApprovedHash)).unwrap();
        assert_eq!(json["kind"], "approved_hash");
        for kind in [
            SignatureKind::Ecdsa,
            SignatureKind::EthSign,
            SignatureKind::ApprovedHash,
            SignatureKind::Contract,
        ] {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
    }

    #[test]
    fn decodes_exec_transaction_calldata() {
        let call = SafeL2::execTransactionCall {
            to: Address::repeat_byte(0x42),
            value: U256::from(7),
            data: Bytes::from_static(b"\x12\x34"),
            operation: 1,
            safeTxGas: U256::from(1),
            baseGas: U256::from(2),
            gasPrice: U256::from(3),
            gasToken: Address::repeat_byte(0x01),
            refundReceiver: Address::repeat_byte(0x02),
            signatures: Bytes::from(approved(Address::repeat_byte(0x11)).to_vec()),
        };
        let input = call.abi_encode();
        assert_eq!(input[..4], [0x6a, 0x76, 0x12, 0x02]);
        let exec = decode_exec_transaction(&input).unwrap();
        assert_eq!(exec.to, call.to);
        assert_eq!(exec.value, call.value);
        assert_eq!(exec.data, call.data);
        assert_eq!(exec.operation, 1);
        assert_eq!(
            (exec.safe_tx_gas, exec.base_gas, exec.gas_price),
            (call.safeTxGas, call.baseGas, call.gasPrice)
        );
        assert_eq!(
            (exec.gas_token, exec.refund_receiver),
            (call.gasToken, call.refundReceiver)
        );
        assert_eq!(exec.signatures, call.signatures);
        assert_eq!(serde_json::to_value(&exec).unwrap()["value"], "7");

        // Like Solidity's decoder, trailing padding may be missing, but not data.
        assert!(decode_exec_transaction(&input[..input.len() - 31]).is_some());
        assert_eq!(decode_exec_transaction(&input[..input.len() - 32]), None);
        assert_eq!(decode_exec_transaction(&input[..4]), None);
        assert_eq!(decode_exec_transaction(&[]), None);
        let mut other = input.clone();
        other[0] ^= 1;
        assert_eq!(decode_exec_transaction(&other), None);
    }

    #[test]
    fn an_unrelated_hash_recovers_a_different_signer() {
        let a = key(1);
        let other = b256!("0x0000000000000000000000000000000000000000000000000000000000000001");
        let sigs = ecdsa(&a, hash());
        assert_ne!(
            recover_signers(other, &sigs, 1).unwrap()[0].signer,
            a.address()
        );
    }
}
