//! `manifest sign` (an owner's EIP-712 signature ratifying a manifest version), the signatures
//! file that `group add` / `group update --signatures FILE` attach, and the history of the
//! document that `group show` lists.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::Args;

use crate::config::Settings;
use crate::history::VersionHistory;
use crate::manifest::ratify::{parse_signatures, signing_hash, OwnerSignature};
use crate::manifest::Manifest;
use crate::store::{GroupRow, ManifestVersion, Store};

/// `groupstate manifest sign`.
#[derive(Debug, Args)]
pub struct SignArgs {
    /// The manifest to ratify (YAML or JSON).
    pub file: PathBuf,
    /// The version number it will take: 1 when the group is registered, the current version
    /// plus one for an update.
    #[arg(long)]
    pub version: u64,
    /// The chain id of the EIP-712 domain (default: the configured chain's).
    #[arg(long)]
    pub chain_id: Option<u64>,
    #[command(flatten)]
    pub key: KeyArgs,
}

/// Where the signer's private key comes from: a file, or an environment variable.
#[derive(Debug, clap::Args)]
pub struct KeyArgs {
    /// A file holding the signer's private key as hex.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "key_env",
        required_unless_present = "key_env"
    )]
    pub key_file: Option<PathBuf>,
    /// An environment variable holding the signer's private key as hex.
    #[arg(long, value_name = "VAR")]
    pub key_env: Option<String>,
}

/// Prints one JSON line `{"signer", "signature"}`: the owner's signature of the manifest's
/// ratification, to append to a signatures file.
pub fn sign(settings: &Settings, args: SignArgs) -> anyhow::Result<()> {
    use alloy::signers::SignerSync;

    let manifest = Manifest::from_file(&args.file)
        .map_err(|e| anyhow::anyhow!("{} is not a valid manifest:\n{e}", args.file.display()))?;
    let chain_id = match args.chain_id {
        Some(id) => id,
        None => {
            settings
                .chain(&manifest.chain)
                .with_context(|| {
                    format!(
                        "chain {} is not configured; give --chain-id",
                        manifest.chain
                    )
                })?
                .chain_id
        }
    };
    let signer = load_key(args.key.key_file.as_deref(), args.key.key_env.as_deref())?;
    if args.version == 0 {
        bail!("--version: versions are numbered from 1");
    }
    let digest = signing_hash(&manifest.id, args.version, &manifest.hash(), chain_id);
    let signature = signer
        .sign_hash_sync(&digest)
        .context("signing the ratification")?;
    let out = OwnerSignature {
        signer: signer.address(),
        signature: signature.as_bytes().to_vec().into(),
    };
    println!("{}", serde_json::to_string(&out)?);
    eprintln!(
        "{} signs version {} of {} (hash {}) on chain {chain_id}: EIP-712 hash {digest}",
        out.signer,
        args.version,
        manifest.id,
        manifest.hash()
    );
    Ok(())
}

/// The signing key from a file (`key_file`) or an environment variable (`key_env`): a hex
/// secp256k1 private key.
pub fn load_key(
    key_file: Option<&Path>,
    key_env: Option<&str>,
) -> anyhow::Result<alloy::signers::local::PrivateKeySigner> {
    let key = match (key_file, key_env) {
        (Some(path), _) => std::fs::read_to_string(path)
            .with_context(|| format!("reading the key file {}", path.display()))?,
        (None, Some(var)) => std::env::var(var)
            .with_context(|| format!("reading the key from environment variable {var}"))?,
        (None, None) => bail!("give --key-file FILE or --key-env VAR"),
    };
    key.trim()
        .parse()
        .map_err(|_| anyhow::anyhow!("the key is not a hex secp256k1 private key"))
}

/// The signatures in `path` (none without a path).
pub fn read_signatures(path: Option<&Path>) -> anyhow::Result<Vec<OwnerSignature>> {
    let Some(path) = path else {
        return Ok(Vec::new());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the signatures file {}", path.display()))?;
    parse_signatures(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// The chain access for `chain` (for checking signatures and governor proposals).
pub fn chain_access(
    settings: &Settings,
    chain: &str,
) -> anyhow::Result<Option<crate::ratify::ChainAccess>> {
    let mut all = crate::ratify::chain_access(settings)?;
    Ok(all.remove(chain))
}

/// `group show`: the group, then its document's history.
pub async fn show(
    store: &Store,
    g: &GroupRow,
    versions: &[ManifestVersion],
    json: bool,
) -> anyhow::Result<()> {
    let history = crate::history::group_history(store, &g.id).await?;
    if json {
        let mut value = serde_json::to_value(crate::query::group_detail(g, versions))?;
        value["history"] = serde_json::to_value(&history)?;
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    super::output::group(g, versions, false)?;
    print_history(&history);
    Ok(())
}

fn print_history(history: &[VersionHistory]) {
    println!();
    println!("history of the document:");
    for v in history {
        println!(
            "version {} ({}), in force from block {}: {}",
            v.version, v.hash, v.effective_block, v.ratified
        );
        if v.version > 1 && v.changes.is_empty() {
            println!("  no structural change");
        }
        for c in &v.changes {
            println!("  {c}");
        }
        for d in &v.resolved {
            println!(
                "  resolved divergence #{} {} ({}) on {} at block {}",
                d.n, d.rule, d.severity, d.subject, d.resolved_block
            );
        }
    }
}
