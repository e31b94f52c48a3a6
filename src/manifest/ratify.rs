//! Ratification of a manifest version: the EIP-712 message by which the authority in force
//! before a version approves its hash, the signatures an owner hands in, and the record of who
//! ratified a version under which authority, with every check that needs no chain.
//!
//! The signed message (defined here once, for the CLI that signs, the API that checks and the
//! verifier that checks again):
//!
//! - domain `EIP712Domain(string name,string version,uint256 chainId)` with
//!   `name = "groupstate"`, `version = "1"`, `chainId` the group's chain;
//! - type `ManifestRatification(string groupId,uint256 version,bytes32 manifestHash)`: the
//!   group's id, the number the version takes (1 for a registration) and its
//!   [`ManifestHash`](super::ManifestHash) (SHA-256 of the canonical JSON).
//!
//! Invariant: a [`Ratification`] names its authority (the owners and threshold of the first
//! declared Safe of the previous version, or, for a first version, of that Safe as read on the
//! chain at registration) and each signer with the scheme that proved it; [`Ratification::check`]
//! checks all of it again from the record alone, except EIP-1271 answers, which only the chain
//! gives.

use std::fmt;

use alloy::primitives::{Address, Bytes, Signature, B256, U256};
use alloy::sol_types::{Eip712Domain, SolStruct};
use serde::{Deserialize, Serialize};

use super::ManifestHash;

alloy::sol! {
    /// What an owner signs to ratify a manifest version.
    struct ManifestRatification {
        string groupId;
        uint256 version;
        bytes32 manifestHash;
    }
}

/// The EIP-712 domain name.
pub const DOMAIN_NAME: &str = "groupstate";
/// The EIP-712 domain version.
pub const DOMAIN_VERSION: &str = "1";

/// The EIP-712 domain of ratifications on chain `chain_id`.
pub fn domain(chain_id: u64) -> Eip712Domain {
    alloy::sol_types::eip712_domain! {
        name: DOMAIN_NAME,
        version: DOMAIN_VERSION,
        chain_id: chain_id,
    }
}

/// The EIP-712 hash an owner signs to ratify version `version` of group `group_id`, whose
/// manifest hashes to `hash`, on chain `chain_id`.
pub fn signing_hash(group_id: &str, version: u64, hash: &ManifestHash, chain_id: u64) -> B256 {
    let message = ManifestRatification {
        groupId: group_id.to_string(),
        version: U256::from(version),
        manifestHash: B256::from(*hash.as_bytes()),
    };
    message.eip712_signing_hash(&domain(chain_id))
}

/// One owner's signature, as `groupstate manifest sign` writes it and a signatures file or the
/// API carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OwnerSignature {
    /// The owner: the key's address (ECDSA) or a contract owner's (EIP-1271).
    #[schema(value_type = String)]
    #[serde(with = "super::address::one")]
    pub signer: Address,
    /// 65 bytes `r || s || v` for ECDSA; whatever the contract's `isValidSignature` accepts
    /// for EIP-1271.
    #[schema(value_type = String)]
    pub signature: Bytes,
}

/// The most signatures one version may carry.
pub const MAX_SIGNATURES: usize = 256;

/// Reads a signatures file: a JSON array of `{signer, signature}`, or one such object per
/// line (what appending the output of several `manifest sign` gives).
pub fn parse_signatures(text: &str) -> Result<Vec<OwnerSignature>, String> {
    let trimmed = text.trim_start();
    let sigs: Vec<OwnerSignature> = if trimmed.starts_with('[') {
        serde_json::from_str(trimmed).map_err(|e| format!("not a list of signatures: {e}"))?
    } else {
        trimmed
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| {
                serde_json::from_str(l).map_err(|e| format!("line {}: not a signature: {e}", i + 1))
            })
            .collect::<Result<_, _>>()?
    };
    if sigs.len() > MAX_SIGNATURES {
        return Err(format!(
            "{} signatures; at most {MAX_SIGNATURES} are accepted",
            sigs.len()
        ));
    }
    Ok(sigs)
}

/// How a signer's approval was proved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// The signature recovers to the signer's key.
    Ecdsa,
    /// The signer is a contract whose `isValidSignature(hash, signature)` answered the EIP-1271
    /// magic value at registration.
    Eip1271,
}

/// One approval of a ratification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Signed {
    #[schema(value_type = String)]
    #[serde(with = "super::address::one")]
    pub signer: Address,
    pub scheme: Scheme,
    #[schema(value_type = String)]
    pub signature: Bytes,
}

/// Whose approval a version needs: the owners and threshold of a Safe, as the previous version
/// declared them or, for a first version, as the chain had them at registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Authority {
    /// The version whose declared owners ratify; absent: the owners observed on the chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    /// The block the owners were read at, when observed on the chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block: Option<u64>,
    #[schema(value_type = String)]
    #[serde(with = "super::address::one")]
    pub safe: Address,
    #[schema(value_type = Vec<String>)]
    #[serde(with = "super::address::many")]
    pub owners: Vec<Address>,
    pub threshold: u64,
}

impl fmt::Display for Authority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.version, self.block) {
            (Some(v), _) => write!(f, "owners of version {v}"),
            (None, Some(b)) => write!(f, "owners of Safe {} at block {b}", self.safe),
            (None, None) => write!(f, "owners of Safe {}", self.safe),
        }
    }
}

/// An executed proposal of the governor the previous version declared, whose calldata carries
/// the version's hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GovernorApproval {
    #[schema(value_type = String)]
    #[serde(with = "super::address::one")]
    pub governor: Address,
    pub proposal_id: String,
    pub tx_hash: String,
    pub block_number: i64,
}

/// Who ratified a manifest version, and under which authority.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Ratification {
    pub chain_id: u64,
    /// The EIP-712 hash that was signed ([`signing_hash`]).
    #[schema(value_type = String)]
    pub digest: B256,
    pub authority: Authority,
    /// The owners who signed, in address order; empty when a governor ratified.
    #[serde(default)]
    pub signers: Vec<Signed>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub governor: Option<GovernorApproval>,
}

impl Ratification {
    /// One line: `ratified by 0xA…, 0xB… (2 of 3 owners of version 1)`, or by which governor
    /// proposal.
    pub fn summary(&self) -> String {
        if let Some(g) = &self.governor {
            return format!(
                "ratified by governor {} (proposal {}, executed at block {})",
                g.governor, g.proposal_id, g.block_number
            );
        }
        let who: Vec<String> = self
            .signers
            .iter()
            .map(|s| match s.scheme {
                Scheme::Ecdsa => s.signer.to_string(),
                Scheme::Eip1271 => format!("{} (EIP-1271)", s.signer),
            })
            .collect();
        format!(
            "ratified by {} ({} of {} {}, threshold {})",
            who.join(", "),
            self.signers.len(),
            self.authority.owners.len(),
            self.authority,
            self.authority.threshold
        )
    }

    /// The accounts that ratified: the signers, or the governor.
    pub fn ratifiers(&self) -> Vec<Address> {
        match &self.governor {
            Some(g) => vec![g.governor],
            None => self.signers.iter().map(|s| s.signer).collect(),
        }
    }

    /// Checks what needs no chain: the digest is the one of (`group_id`, `version`, `hash`) on
    /// the ratification's chain, every ECDSA signature recovers to its signer, every signer is
    /// one of the authority's owners and signs once, and enough of them signed.
    pub fn check(&self, group_id: &str, version: u64, hash: &ManifestHash) -> Result<(), String> {
        let digest = signing_hash(group_id, version, hash, self.chain_id);
        if digest != self.digest {
            return Err(format!(
                "the ratification signs {}, but version {version} of {group_id} with hash {hash} \
                 on chain {} gives {digest}",
                self.digest, self.chain_id
            ));
        }
        if self.governor.is_some() {
            return Ok(());
        }
        self.check_signers()
    }

    /// Checks the signers against the authority: each is one of its owners and signs once,
    /// every ECDSA signature recovers to its signer over [`Ratification::digest`], and enough
    /// of them signed (what a covenant ratification, whose digest is computed elsewhere,
    /// needs checked).
    pub fn check_signers(&self) -> Result<(), String> {
        let digest = self.digest;
        let mut seen = Vec::new();
        for s in &self.signers {
            if !self.authority.owners.contains(&s.signer) {
                return Err(format!(
                    "{} signed, but is not one of the {}",
                    s.signer, self.authority
                ));
            }
            if seen.contains(&s.signer) {
                return Err(format!("{} signed twice", s.signer));
            }
            seen.push(s.signer);
            if s.scheme == Scheme::Ecdsa {
                let recovered = recover(&s.signature, &digest)?;
                if recovered != s.signer {
                    return Err(format!(
                        "the signature given for {} recovers to {recovered}",
                        s.signer
                    ));
                }
            }
        }
        if (seen.len() as u64) < self.authority.threshold {
            return Err(format!(
                "{} of the {} signed; the threshold is {}",
                seen.len(),
                self.authority,
                self.authority.threshold
            ));
        }
        Ok(())
    }
}

/// The address a 65-byte ECDSA signature of `digest` recovers to.
pub fn recover(signature: &[u8], digest: &B256) -> Result<Address, String> {
    let sig = Signature::from_raw(signature)
        .map_err(|e| format!("not a 65-byte ECDSA signature: {e}"))?;
    sig.recover_address_from_prehash(digest)
        .map_err(|e| format!("the signature recovers to no key: {e}"))
}

#[cfg(test)]
mod tests {
    use alloy::signers::local::PrivateKeySigner;
    use alloy::signers::SignerSync;

    use super::*;

    fn key(i: u8) -> PrivateKeySigner {
        PrivateKeySigner::from_bytes(&B256::repeat_byte(i)).unwrap()
    }

    fn hash() -> ManifestHash {
        ManifestHash::of(b"{}")
    }

    fn signed(k: &PrivateKeySigner, digest: &B256) -> Signed {
        Signed {
            signer: k.address(),
            scheme: Scheme::Ecdsa,
            signature: k.sign_hash_sync(digest).unwrap().as_bytes().to_vec().into(),
        }
    }

    fn ratification(signers: &[&PrivateKeySigner]) -> Ratification {
        let digest = signing_hash("river-guild", 2, &hash(), 31337);
        let mut owners: Vec<Address> = (1..=3).map(|i| key(i).address()).collect();
        owners.sort();
        Ratification {
            chain_id: 31337,
            digest,
            authority: Authority {
                version: Some(1),
                block: None,
                safe: Address::repeat_byte(0x55),
                owners,
                threshold: 2,
            },
            signers: signers.iter().map(|k| signed(k, &digest)).collect(),
            governor: None,
        }
    }

    #[test]
    fn the_digest_is_the_eip712_hash_of_the_documented_type_and_domain() {
        use alloy::primitives::keccak256;
        use alloy::sol_types::SolValue;
        let h = hash();
        let type_hash =
            keccak256("ManifestRatification(string groupId,uint256 version,bytes32 manifestHash)");
        let struct_hash = keccak256(
            (
                type_hash,
                keccak256("river-guild"),
                U256::from(2),
                B256::from(*h.as_bytes()),
            )
                .abi_encode(),
        );
        let domain_type = keccak256("EIP712Domain(string name,string version,uint256 chainId)");
        let separator = keccak256(
            (
                domain_type,
                keccak256("groupstate"),
                keccak256("1"),
                U256::from(31337),
            )
                .abi_encode(),
        );
        let digest = keccak256([&[0x19, 0x01][..], &separator[..], &struct_hash[..]].concat());
        assert_eq!(signing_hash("river-guild", 2, &h, 31337), digest);
        assert_ne!(signing_hash("river-guild", 3, &h, 31337), digest);
        assert_ne!(signing_hash("river-guild", 2, &h, 1), digest);
    }

    #[test]
    fn two_of_three_owners_ratify_and_say_so() {
        let r = ratification(&[&key(1), &key(2)]);
        r.check("river-guild", 2, &hash()).unwrap();
        let summary = r.summary();
        assert!(summary.starts_with("ratified by 0x"), "{summary}");
        assert!(
            summary.ends_with("(2 of 3 owners of version 1, threshold 2)"),
            "{summary}"
        );
        // The record survives JSON (the store and the log keep it so).
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<Ratification>(&json).unwrap(), r);
    }

    #[test]
    fn an_undeclared_key_a_forged_signature_or_too_few_are_caught() {
        let err = ratification(&[&key(1), &key(9)])
            .check("river-guild", 2, &hash())
            .unwrap_err();
        assert!(
            err.contains("is not one of the owners of version 1"),
            "{err}"
        );
        let err = ratification(&[&key(1)])
            .check("river-guild", 2, &hash())
            .unwrap_err();
        assert!(err.contains("1 of the owners of version 1 signed; the threshold is 2"));
        let mut forged = ratification(&[&key(1), &key(2)]);
        forged.signers[1].signer = key(3).address();
        let err = forged.check("river-guild", 2, &hash()).unwrap_err();
        assert!(err.contains("recovers to"), "{err}");
        let err = ratification(&[&key(1), &key(2)])
            .check("river-guild", 3, &hash())
            .unwrap_err();
        assert!(err.contains("gives"), "{err}");
    }

    #[test]
    fn signatures_files_are_a_list_or_one_per_line() {
        let a = format!(
            r#"{{"signer":"{}","signature":"0x01"}}"#,
            Address::repeat_byte(1)
        );
        let lines = parse_signatures(&format!("{a}\n\n{a}\n")).unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!(parse_signatures(&format!("[{a},{a}]")).unwrap(), lines);
        let err = parse_signatures("{\"signer\": 1}\n").unwrap_err();
        assert!(err.starts_with("line 1: not a signature"), "{err}");
    }
}
