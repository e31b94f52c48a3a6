//! `groupstate manifest draft` (a manifest of what the chain shows now, read with the readers
//! `manifest check --chain` uses) and `groupstate manifest import` (a manifest skeleton from an
//! EIP-4824 daoURI document): YAML on stdout or in `--out FILE`, every gap also on stderr.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use alloy::primitives::{Address, B256};
use anyhow::{bail, Context};

use crate::chain::range::AdaptiveRange;
use crate::chain::read::{self, ReadRequest, ReadScope};
use crate::chain::rpc::{RetryPolicy, Rpc};
use crate::config::Settings;
use crate::draft::{DraftInput, ObservedContract};
use crate::manifest::write::ManifestDraft;
use crate::manifest::{parse_address, Manifest};
use crate::model::ContractKind;
use crate::observe::Observed;
use crate::roles_catalog::{role_id, KNOWN_ROLES};

/// `manifest draft`'s arguments.
#[derive(Debug, clap::Args)]
pub struct DraftArgs {
    /// A configured chain's name.
    #[arg(long)]
    pub chain: String,
    /// The treasury's Safes.
    #[arg(long = "safe", value_name = "ADDR", num_args = 1.., required = true)]
    pub safes: Vec<String>,
    /// OpenZeppelin Governors (their timelocks are read too).
    #[arg(long = "governor", value_name = "ADDR", num_args = 1..)]
    pub governors: Vec<String>,
    /// TimelockControllers.
    #[arg(long = "timelock", value_name = "ADDR", num_args = 1..)]
    pub timelocks: Vec<String>,
    /// AccessControl contracts whose role members to declare.
    #[arg(long = "roles", value_name = "ADDR", num_args = 1..)]
    pub roles: Vec<String>,
    /// The group's id.
    #[arg(long, default_value = "my-group")]
    pub id: String,
    /// The group's display name (default: the id).
    #[arg(long)]
    pub name: Option<String>,
    /// The block to read at (default: the head).
    #[arg(long)]
    pub block: Option<u64>,
    /// Write the manifest here instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Replace `--out FILE` if it exists.
    #[arg(long)]
    pub force: bool,
}

/// `manifest import`'s arguments.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// An EIP-4824 daoURI document (JSON).
    pub file: PathBuf,
    /// Write the skeleton here instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Replace `--out FILE` if it exists.
    #[arg(long)]
    pub force: bool,
}

fn addresses(flag: &str, texts: &[String]) -> anyhow::Result<Vec<Address>> {
    let mut out: Vec<Address> = Vec::new();
    for t in texts {
        let a = parse_address(t.trim()).map_err(|e| anyhow::anyhow!("--{flag} {t}: {e}"))?;
        if !out.contains(&a) {
            out.push(a);
        }
    }
    Ok(out)
}

/// Reads every contract asked for at one block, as a group starting to follow it would.
pub async fn draft(settings: &Settings, args: DraftArgs) -> anyhow::Result<()> {
    if let Some(out) = &args.out {
        refuse_overwrite(out, args.force)?;
    }
    let safes = addresses("safe", &args.safes)?;
    let governors = addresses("governor", &args.governors)?;
    let mut timelocks = addresses("timelock", &args.timelocks)?;
    let roles = addresses("roles", &args.roles)?;
    let cfg = settings
        .chain(&args.chain)
        .with_context(|| format!("--chain {}", args.chain))?;
    let rpc = Rpc::new(cfg.rpc_url.as_str(), RetryPolicy::from(&settings.follower))?;
    let range = AdaptiveRange::new(cfg.max_block_range);
    let head = rpc.head().await?;
    let block = match args.block {
        Some(b) if b > head => bail!("--block {b} is past the chain's head {head}"),
        Some(b) => b,
        None => head,
    };
    let mut contracts = Vec::new();
    let mut asked: Vec<(Address, ContractKind)> = Vec::new();
    asked.extend(safes.iter().map(|a| (*a, ContractKind::Safe)));
    asked.extend(governors.iter().map(|a| (*a, ContractKind::Governor)));
    // Safes and governors first, so that each governor's timelock is read as well.
    for (address, kind) in asked {
        let c = observe(&rpc, &range, address, kind, block).await?;
        if let Observed::Governor(g) = &c.observed {
            if let Some(t) = g
                .timelock
                .filter(|t| !t.is_zero() && !timelocks.contains(t))
            {
                timelocks.push(t);
            }
        }
        contracts.push(c);
    }
    for t in &timelocks {
        contracts.push(observe(&rpc, &range, *t, ContractKind::Timelock, block).await?);
    }
    for r in &roles {
        let mut c = observe(&rpc, &range, *r, ContractKind::Roles, block).await?;
        enumerate(&rpc, &mut c, block).await?;
        contracts.push(c);
    }
    let input = DraftInput {
        id: args.id.clone(),
        name: args.name.clone(),
        chain: args.chain.clone(),
        block,
        contracts,
    };
    let d = crate::draft::draft(&input).map_err(|e| anyhow::anyhow!("cannot draft:\n{e}"))?;
    let text = d.to_yaml();
    // What is written must read back; a draft the manifest refuses names why.
    Manifest::parse(&text).map_err(|e| anyhow::anyhow!("the draft does not validate:\n{e}"))?;
    emit(&d, &text, args.out.as_deref())
}

async fn observe(
    rpc: &Rpc,
    range: &AdaptiveRange,
    address: Address,
    kind: ContractKind,
    block: u64,
) -> anyhow::Result<ObservedContract> {
    let req = ReadRequest {
        address,
        kind,
        block,
        scope: ReadScope::Seed { deployed_at: None },
    };
    let reading = read::read(rpc, range, req)
        .await
        .with_context(|| format!("reading {kind} {address} at block {block}"))?;
    let created_at = read::creation_block(rpc, address, block, None).await?;
    Ok(ObservedContract {
        address,
        observed: Observed::seed(&reading),
        created_at,
    })
}

/// An AccessControlEnumerable contract lists its members itself: for the roles its history
/// shows and the well-known names, those lists replace what the history rebuilt.
async fn enumerate(rpc: &Rpc, c: &mut ObservedContract, block: u64) -> anyhow::Result<()> {
    let Observed::Roles(state) = &mut c.observed else {
        return Ok(());
    };
    let mut roles: BTreeSet<B256> = state.members.keys().copied().collect();
    roles.extend(KNOWN_ROLES.iter().map(|n| role_id(n)));
    let roles: Vec<B256> = roles.into_iter().collect();
    if let Some(listed) = read::enumerate_role_members(rpc, c.address, &roles, block).await? {
        state.members.clear();
        for (role, members) in listed.into_iter().filter(|(_, m)| !m.is_empty()) {
            state.members.insert(role, members.into_iter().collect());
        }
    }
    Ok(())
}

/// Turns a daoURI document into a manifest skeleton.
pub fn import(args: ImportArgs) -> anyhow::Result<()> {
    if let Some(out) = &args.out {
        refuse_overwrite(out, args.force)?;
    }
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("reading {}", args.file.display()))?;
    let d = crate::dao::import::skeleton_from_text(&text)
        .map_err(|e| anyhow::anyhow!("{} is not a daoURI document: {e}", args.file.display()))?;
    emit(&d, &d.to_yaml(), args.out.as_deref())
}

fn refuse_overwrite(out: &Path, force: bool) -> anyhow::Result<()> {
    if out.exists() && !force {
        bail!("--out {} exists; pass --force to replace it", out.display());
    }
    Ok(())
}

/// The YAML on stdout or into `out`; the gaps on stderr.
fn emit(d: &ManifestDraft, text: &str, out: Option<&Path>) -> anyhow::Result<()> {
    match out {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
            eprintln!("wrote {}", path.display());
        }
        None => print!("{text}"),
    }
    for g in &d.gaps {
        eprintln!("gap: {}: {}", g.path, g.why);
    }
    Ok(())
}
