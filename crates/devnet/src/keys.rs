//! Deterministic owner keys, so tests and the demo create the same Safes on every run.
//!
//! Invariant: `signer(i)` is the same key on every machine and run; owners only sign, so the
//! keys need no funds.

use alloy::{
    primitives::{keccak256, B256},
    signers::local::PrivateKeySigner,
};

/// Domain separator for the key derivation, so these keys collide with nothing else.
const KEY_DOMAIN: &[u8] = b"groupstate devnet owner key";

/// The `index`-th deterministic owner key: `keccak256(domain || index)`, re-hashed in the
/// (astronomically unlikely) case that is not a valid secp256k1 scalar.
pub fn signer(index: u64) -> PrivateKeySigner {
    let mut seed = [KEY_DOMAIN, &index.to_be_bytes()].concat();
    loop {
        let key: B256 = keccak256(&seed);
        match PrivateKeySigner::from_bytes(&key) {
            Ok(signer) => return signer,
            Err(_) => seed = key.to_vec(),
        }
    }
}

/// The first `n` deterministic owner keys, [`signer`]`(0..n)`.
pub fn signers(n: usize) -> Vec<PrivateKeySigner> {
    (0..n as u64).map(signer).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signers_are_deterministic_and_distinct() {
        let a = signers(3);
        let b = signers(3);
        assert_eq!(
            a.iter().map(|s| s.address()).collect::<Vec<_>>(),
            b.iter().map(|s| s.address()).collect::<Vec<_>>()
        );
        assert_ne!(a[0].address(), a[1].address());
        assert_eq!(signer(2).address(), a[2].address());
    }
}
