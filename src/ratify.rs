//! Registering and versioning a group with the ratification of the authority in force before
//! the version: owners' signatures (ECDSA, or EIP-1271 `isValidSignature` for a contract owner)
//! over the version's EIP-712 hash ([`crate::manifest::ratify`]), or an executed proposal of the
//! previously declared governor that commits the hash; and the refusal of an unratified version
//! of a group that requires ratification; and the parties' ratifications of a covenant, by the
//! same signatures over the covenant's EIP-712 hash.
//!
//! Invariant: everything the decision needs is fetched first (the Safe's owners on the chain for
//! a first version, EIP-1271 answers, the group's decisions), then the version is stored in one
//! transaction that also checks it still follows the version it was checked against.

use alloy::primitives::Address;

use crate::chain::read::{is_valid_signature, read_safe};
use crate::chain::rpc::{Rpc, RpcError};
use crate::manifest::covenant::{signing_hash as covenant_signing_hash, Party};
use crate::manifest::ratify::{
    recover, signing_hash, Authority, GovernorApproval, OwnerSignature, Ratification, Scheme,
    Signed,
};
use crate::manifest::{Manifest, ManifestHash, SafeDecl};
use crate::store::{CovenantVersion, ManifestVersion, Store, StoreError};

/// A chain's RPC endpoint and id, to read owners and ask contract owners.
#[derive(Debug, Clone)]
pub struct ChainAccess {
    pub rpc: Rpc,
    pub chain_id: u64,
}

/// Why a version was not stored.
#[derive(Debug, thiserror::Error)]
pub enum RatifyError {
    /// The signatures given do not ratify the version: a signer who is no owner, a signature
    /// that proves nothing, too few of them.
    #[error("{0}")]
    Invalid(String),
    /// The group requires ratification, and the version has none.
    #[error("{0}")]
    Required(String),
    /// The chain needed to check the ratification is not reachable from here.
    #[error("{0}")]
    NoChain(String),
    #[error("reading the chain to check the ratification: {0}")]
    Rpc(#[from] RpcError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Registers a group from `manifest`, its first version ratified by `signatures` of the owners
/// of its first declared Safe as the chain has them now.
#[tracing::instrument(skip_all, fields(group = %manifest.id))]
pub async fn register(
    store: &Store,
    chain: Option<&ChainAccess>,
    manifest: &Manifest,
    signatures: &[OwnerSignature],
) -> Result<ManifestVersion, RatifyError> {
    let hash = manifest.hash();
    let ratification = if signatures.is_empty() {
        None
    } else {
        let chain = need(chain, manifest)?;
        let safe = first_safe(manifest)?;
        let head = chain.rpc.head().await?;
        let reading = read_safe(&chain.rpc, safe.address, head).await?;
        let answers = match (reading.code, reading.answers) {
            (true, Ok(a)) => a,
            (false, _) => {
                return Err(RatifyError::Invalid(format!(
                    "no Safe is deployed at {} (block {head}): its owners cannot ratify",
                    safe.address
                )))
            }
            (true, Err(e)) => {
                return Err(RatifyError::Invalid(format!(
                    "{} does not answer as a Safe ({e}): its owners cannot ratify",
                    safe.address
                )))
            }
        };
        let mut owners = answers.owners;
        owners.sort();
        let authority = Authority {
            version: None,
            block: Some(head),
            safe: safe.address,
            owners,
            threshold: answers.threshold.saturating_to(),
        };
        let pending = Pending {
            group: &manifest.id,
            version: 1,
            hash: &hash,
        };
        Some(check_signatures(chain, head, authority, &pending, signatures).await?)
    };
    check_covenant_refs(store, manifest).await?;
    if manifest.require_ratification && ratification.is_none() {
        return Err(RatifyError::Required(format!(
            "group {} requires ratification: its first version must be signed by the owners of \
             Safe {} as the chain has them, at their threshold; no signature was given",
            manifest.id,
            first_safe(manifest)?.address
        )));
    }
    Ok(store
        .add_group_ratified(manifest, ratification.as_ref())
        .await?)
}

/// Stores a new version of a group's manifest, ratified by `signatures` of the owners the
/// version before it declares (its first Safe's, at its threshold) or, without signatures, by
/// an executed proposal of a governor it declares whose calldata carries the new hash.
#[tracing::instrument(skip_all, fields(group = %manifest.id))]
pub async fn update(
    store: &Store,
    chain: Option<&ChainAccess>,
    manifest: &Manifest,
    effective_block: Option<u64>,
    signatures: &[OwnerSignature],
) -> Result<ManifestVersion, RatifyError> {
    let versions = store.manifest_versions(&manifest.id).await?;
    let Some(previous) = versions.last() else {
        return Err(StoreError::NotFound(format!("group {}", manifest.id)).into());
    };
    check_covenant_refs(store, manifest).await?;
    let version = previous.version + 1;
    let hash = manifest.hash();
    let pending = Pending {
        group: &manifest.id,
        version: version as u64,
        hash: &hash,
    };
    let safe = first_safe(&previous.manifest)?;
    let authority = Authority {
        version: Some(previous.version as u64),
        block: None,
        safe: safe.address,
        owners: safe.owners.clone(),
        threshold: safe.threshold,
    };
    let ratification = if !signatures.is_empty() {
        let chain = need(chain, manifest)?;
        let head = chain.rpc.head().await?;
        Some(check_signatures(chain, head, authority.clone(), &pending, signatures).await?)
    } else if let Some(chain) = chain {
        by_governor(store, chain, previous, authority.clone(), &pending).await?
    } else {
        None
    };
    let required = previous.manifest.require_ratification || manifest.require_ratification;
    if required && ratification.is_none() {
        let governors: Vec<String> = previous
            .manifest
            .governance
            .governors
            .iter()
            .map(|g| g.address.to_string())
            .collect();
        let by_governor = if governors.is_empty() {
            String::new()
        } else {
            format!(
                ", or by an executed proposal of governor {} whose calldata carries {hash}",
                governors.join(" or ")
            )
        };
        return Err(RatifyError::Required(format!(
            "group {} requires ratification: version {version} must be signed by {} of the {} \
             {} ({}){by_governor}; no signature was given",
            manifest.id,
            authority.threshold,
            authority.owners.len(),
            authority,
            list(&authority.owners),
        )));
    }
    Ok(store
        .update_group_ratified(
            manifest,
            effective_block,
            ratification.as_ref(),
            Some(version),
        )
        .await?)
}

/// The version being ratified.
struct Pending<'a> {
    group: &'a str,
    version: u64,
    hash: &'a ManifestHash,
}

fn need<'a>(
    chain: Option<&'a ChainAccess>,
    manifest: &Manifest,
) -> Result<&'a ChainAccess, RatifyError> {
    chain.ok_or_else(|| {
        RatifyError::NoChain(format!(
            "chain {}: no RPC endpoint here to check the ratification with",
            manifest.chain
        ))
    })
}

fn first_safe(manifest: &Manifest) -> Result<&SafeDecl, RatifyError> {
    manifest.treasury.safes.first().ok_or_else(|| {
        RatifyError::Invalid(format!(
            "group {} declares no Safe whose owners could ratify",
            manifest.id
        ))
    })
}

fn list(addresses: &[Address]) -> String {
    addresses
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Checks each signature (ECDSA first, then EIP-1271 at `block` for a signer with code) and
/// that the signers are distinct owners of `authority`, at least its threshold of them.
async fn check_signatures(
    chain: &ChainAccess,
    block: u64,
    authority: Authority,
    pending: &Pending<'_>,
    signatures: &[OwnerSignature],
) -> Result<Ratification, RatifyError> {
    let digest = signing_hash(pending.group, pending.version, pending.hash, chain.chain_id);
    let what = format!(
        "version {} of {} (hash {})",
        pending.version, pending.group, pending.hash
    );
    check_signed(chain, block, authority, digest, &what, signatures).await
}

/// Checks the covenants the manifest's agreements name: a covenant registered here must have a
/// version with the hash named, and the group must be one of its parties. A covenant not
/// registered here (yet: its parties register first) is accepted as named.
async fn check_covenant_refs(store: &Store, manifest: &Manifest) -> Result<(), RatifyError> {
    let mut problems = Vec::new();
    for (i, a) in manifest.agreements.iter().enumerate() {
        let Some(r) = &a.covenant else { continue };
        let versions = store.covenant_versions(&r.id).await?;
        if versions.is_empty() {
            continue;
        }
        let hash = r.hash.to_string();
        match versions.iter().find(|v| v.hash == hash) {
            None => problems.push(format!(
                "agreements[{i}].covenant: covenant {} has no version with hash {hash} (its \
                 newest, version {}, has {})",
                r.id,
                versions.last().map_or(0, |v| v.version),
                versions.last().map_or("", |v| v.hash.as_str())
            )),
            Some(v) if v.covenant.party(&manifest.id).is_none() => problems.push(format!(
                "agreements[{i}].covenant: group {} is not a party to covenant {} version {}",
                manifest.id, r.id, v.version
            )),
            Some(_) => {}
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(RatifyError::Invalid(problems.join("\n")))
    }
}

/// Checks each signature of `digest` (ECDSA first, then EIP-1271 at `block` for a signer with
/// code) and that the signers are distinct owners of `authority`, at least its threshold of
/// them; `what` names what is ratified in the messages.
async fn check_signed(
    chain: &ChainAccess,
    block: u64,
    authority: Authority,
    digest: alloy::primitives::B256,
    what: &str,
    signatures: &[OwnerSignature],
) -> Result<Ratification, RatifyError> {
    let mut signed: Vec<Signed> = Vec::new();
    let mut problems = Vec::new();
    for s in signatures {
        if signed.iter().any(|x| x.signer == s.signer) {
            problems.push(format!("{} signed twice", s.signer));
            continue;
        }
        if !authority.owners.contains(&s.signer) {
            problems.push(format!(
                "{} is not one of the {} ({})",
                s.signer,
                authority,
                list(&authority.owners)
            ));
            continue;
        }
        let ecdsa = recover(&s.signature, &digest).is_ok_and(|a| a == s.signer);
        let scheme = if ecdsa {
            Scheme::Ecdsa
        } else if is_valid_signature(&chain.rpc, s.signer, digest, &s.signature, block).await? {
            Scheme::Eip1271
        } else {
            problems.push(format!(
                "the signature given for {} does not sign {digest} ({what}, chain {}), by ECDSA \
                 or EIP-1271",
                s.signer, chain.chain_id
            ));
            continue;
        };
        signed.push(Signed {
            signer: s.signer,
            scheme,
            signature: s.signature.clone(),
        });
    }
    if !problems.is_empty() {
        return Err(RatifyError::Invalid(format!(
            "the ratification of {what} is refused:\n  {}",
            problems.join("\n  ")
        )));
    }
    if (signed.len() as u64) < authority.threshold {
        let signers: Vec<Address> = signed.iter().map(|s| s.signer).collect();
        let missing: Vec<Address> = authority
            .owners
            .iter()
            .filter(|o| !signers.contains(o))
            .copied()
            .collect();
        return Err(RatifyError::Invalid(format!(
            "the ratification of {what} is incomplete: signed by {} ({} of the {} \
             {}); the threshold is {}, so {} more of {} must sign",
            list(&signers),
            signers.len(),
            authority.owners.len(),
            authority,
            authority.threshold,
            authority.threshold - signers.len() as u64,
            list(&missing),
        )));
    }
    signed.sort_by_key(|s| s.signer);
    Ok(Ratification {
        chain_id: chain.chain_id,
        digest,
        authority,
        signers: signed,
        governor: None,
    })
}

/// The ratification by an executed proposal of a governor `previous` declares whose calldata
/// carries the new version's hash, if the group's records hold one.
async fn by_governor(
    store: &Store,
    chain: &ChainAccess,
    previous: &ManifestVersion,
    authority: Authority,
    pending: &Pending<'_>,
) -> Result<Option<Ratification>, RatifyError> {
    let governors: Vec<Address> = previous
        .manifest
        .governance
        .governors
        .iter()
        .map(|g| g.address)
        .collect();
    if governors.is_empty() {
        return Ok(None);
    }
    let decisions = crate::decisions::decisions(store, pending.group).await?;
    let Some(p) =
        crate::decisions::proposal_committing(&decisions, &governors, pending.hash.as_bytes())
    else {
        return Ok(None);
    };
    let Some(executed) = &p.executed else {
        return Ok(None);
    };
    let governor = p
        .governor
        .parse()
        .map_err(|_| StoreError::Corrupt(format!("governor address {}", p.governor)))?;
    Ok(Some(Ratification {
        chain_id: chain.chain_id,
        digest: signing_hash(pending.group, pending.version, pending.hash, chain.chain_id),
        authority,
        signers: Vec::new(),
        governor: Some(GovernorApproval {
            governor,
            proposal_id: p.proposal_id.clone(),
            tx_hash: executed.tx_hash.clone(),
            block_number: executed.block_number,
        }),
    }))
}

/// Checks and stores the ratification of covenant version `cv` by `party`: signatures of
/// `covenant::signing_hash` by the owners of the first Safe the party's newest manifest version
/// declares, at its threshold — or one signature of the Safe itself (EIP-1271, which checks
/// its owners' signatures at its threshold) — or, for an outside partner, by the signers the
/// covenant names at its threshold.
#[tracing::instrument(skip_all, fields(covenant = %cv.covenant_id, party))]
pub async fn ratify_covenant(
    store: &Store,
    chain: Option<&ChainAccess>,
    cv: &CovenantVersion,
    party: &str,
    signatures: &[OwnerSignature],
) -> Result<Ratification, RatifyError> {
    let r = check_covenant_ratification(store, chain, cv, party, signatures).await?;
    store
        .add_covenant_ratification(&cv.covenant_id, cv.version, party, &r)
        .await?;
    Ok(r)
}

/// Checks the ratification of covenant version `cv` by `party` as [`ratify_covenant`] does,
/// and stores nothing: for a version that is stored only once its parties' signatures are
/// known to ratify it.
pub async fn check_covenant_ratification(
    store: &Store,
    chain: Option<&ChainAccess>,
    cv: &CovenantVersion,
    party: &str,
    signatures: &[OwnerSignature],
) -> Result<Ratification, RatifyError> {
    let Some(p) = cv.covenant.party(party) else {
        return Err(RatifyError::Invalid(format!(
            "{party} is not a party to covenant {}",
            cv.covenant_id
        )));
    };
    let Some(chain) = chain else {
        return Err(RatifyError::NoChain(format!(
            "covenant {}: no RPC endpoint here to check the ratification with",
            cv.covenant_id
        )));
    };
    if signatures.is_empty() {
        return Err(RatifyError::Invalid(format!(
            "no signature was given for {party}'s ratification of covenant {}",
            cv.covenant_id
        )));
    }
    let mut authority = match p {
        Party::Group(group) => {
            let versions = store.manifest_versions(group).await?;
            let Some(last) = versions.last() else {
                return Err(StoreError::NotFound(format!("group {group}")).into());
            };
            let safe = first_safe(&last.manifest)?;
            Authority {
                version: Some(last.version as u64),
                block: None,
                safe: safe.address,
                owners: safe.owners.clone(),
                threshold: safe.threshold,
            }
        }
        Party::Outside(o) => Authority {
            version: None,
            block: None,
            safe: Address::ZERO,
            owners: o.signers.clone(),
            threshold: o.threshold,
        },
    };
    let mut signatures = signatures.to_vec();
    if !authority.safe.is_zero() {
        if let Some(by_safe) = signatures
            .iter()
            .find(|s| s.signer == authority.safe)
            .cloned()
        {
            // The Safe signs for itself: its own EIP-1271 check is the threshold.
            authority.owners = vec![authority.safe];
            authority.threshold = 1;
            signatures = vec![by_safe];
        }
    }
    let hash: ManifestHash = cv
        .hash
        .parse()
        .map_err(|e| RatifyError::Invalid(format!("stored covenant hash: {e}")))?;
    let digest = covenant_signing_hash(
        &cv.covenant_id,
        cv.version as u64,
        &hash,
        party,
        chain.chain_id,
    );
    let what = format!(
        "covenant {} version {} (hash {}) by {party}",
        cv.covenant_id, cv.version, cv.hash
    );
    let head = chain.rpc.head().await?;
    check_signed(chain, head, authority, digest, &what, &signatures).await
}

/// RPC access to every configured chain.
pub fn chain_access(
    settings: &crate::config::Settings,
) -> Result<std::collections::BTreeMap<String, ChainAccess>, RpcError> {
    settings
        .chains
        .iter()
        .map(|(name, cfg)| {
            let rpc = Rpc::new(
                cfg.rpc_url.as_str(),
                crate::chain::rpc::RetryPolicy::from(&settings.follower),
            )?;
            Ok((
                name.clone(),
                ChainAccess {
                    rpc,
                    chain_id: cfg.chain_id,
                },
            ))
        })
        .collect()
}
