//! `groupstate log …` and `groupstate verify`: the verifiable log from the command line —
//! the latest checkpoint, an inclusion proof, an export, the verifier key, and the audit.

use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::Subcommand;

use super::open_store;
use crate::chain::rpc::{RetryPolicy, Rpc};
use crate::config::Settings;
use crate::ledger::note::{Checkpoint, SigningKey, VerifierKey, Verifiers};
use crate::ledger::verify::{self, Audit, Expected};
use crate::ledger::{proofs, LogSigner};
use crate::query::{CheckpointQuery, InclusionQuery};

#[derive(Debug, Subcommand)]
pub enum LogCommand {
    /// Print the latest signed checkpoint (a signed note).
    Checkpoint(CheckpointQuery),
    /// Print entry INDEX with its inclusion proof (JSON).
    Proof(InclusionQuery),
    /// Write the log as JSON lines: a header with the latest checkpoint, then every entry.
    Export {
        /// Write here instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        #[arg(long = "log", value_name = "CHAIN")]
        log: Option<String>,
    },
    /// Print the verifier key of this daemon's checkpoints (name+id+key); during a key
    /// rotation the previous key's on the next line, then the retired keys'.
    Key,
    /// Generate a new signing key (for `ledger.signing_key`, e.g. to rotate): prints the
    /// secret key on standard output and its verifier key on standard error. Stores nothing.
    NewKey {
        /// The key name (default: `ledger.origin`).
        #[arg(long)]
        name: Option<String>,
    },
}

/// `groupstate verify`'s options.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// Also check every record against the chain: its receipt, its log and its block.
    #[arg(long)]
    pub chain: bool,
    /// An older checkpoint (signed note file) the log must be consistent with.
    #[arg(long, value_name = "CHECKPOINT_FILE")]
    pub against: Option<PathBuf>,
    /// Audit an export (`groupstate log export`) instead of the database.
    #[arg(long, value_name = "EXPORT")]
    pub from: Option<PathBuf>,
    /// A verifier key (name+id+key) to trust; repeat it to trust several (the keys before and
    /// after a rotation). Default: this daemon's keys: the signing key, the previous key of a
    /// rotation and the retired verifier keys.
    #[arg(long)]
    pub key: Vec<String>,
    /// Which chain's log (default: the export's, or the only configured chain).
    #[arg(long = "log", value_name = "CHAIN")]
    pub log: Option<String>,
    /// The RPC endpoint for --chain (default: the chain's rpc_url).
    #[arg(long)]
    pub rpc: Option<String>,
    #[arg(long)]
    pub json: bool,
}

/// The chain whose log a command is about.
fn log_chain(settings: &Settings, log: Option<String>) -> anyhow::Result<String> {
    match log {
        Some(name) => Ok(name),
        None if settings.chains.len() == 1 => Ok(settings.chains.keys().next().cloned().unwrap()),
        None => bail!(
            "several chains are configured ({}): name one with --log",
            settings
                .chains
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// This daemon's verifier keys (signing, previous, retired), without generating a key that
/// does not exist yet.
fn own_verifier(settings: &Settings) -> anyhow::Result<Verifiers> {
    if settings.ledger.signing_key.is_empty() {
        let path = settings.data_dir.join("ledger.key");
        if !path.exists() {
            bail!(
                "no checkpoint key at {}: start the daemon once, or pass --key",
                path.display()
            );
        }
    }
    Ok(LogSigner::key(settings)?.verifier())
}

pub async fn run(settings: &Settings, command: LogCommand) -> anyhow::Result<()> {
    match command {
        LogCommand::Checkpoint(CheckpointQuery { chain: log }) => {
            let chain = log_chain(settings, log)?;
            let store = open_store(settings).await?;
            let Some(c) = store.latest_checkpoint(&chain).await? else {
                bail!("no checkpoint of the {chain} log has been signed yet");
            };
            print!("{}", c.note);
            Ok(())
        }
        LogCommand::Proof(q) => {
            let (index, size) = q
                .position()
                .map_err(super::query::flag_error::<InclusionQuery>)?;
            let chain = log_chain(settings, q.chain)?;
            let store = open_store(settings).await?;
            let proof = proofs::inclusion(&store, &chain, index, size).await?;
            let entry = store.log_entries(&chain, index, index + 1).await?;
            let leaf = entry
                .first()
                .map(|e| serde_json::from_str::<serde_json::Value>(&e.leaf))
                .transpose()?;
            let out = serde_json::json!({"chain": chain, "leaf": leaf, "proof": proof});
            println!("{}", serde_json::to_string_pretty(&out)?);
            Ok(())
        }
        LogCommand::Export { out, log } => {
            let chain = log_chain(settings, log)?;
            let store = open_store(settings).await?;
            let n = match &out {
                Some(path) => {
                    let file = std::fs::File::create(path)
                        .with_context(|| format!("creating {}", path.display()))?;
                    let mut w = std::io::BufWriter::new(file);
                    let n = verify::export(&store, &chain, &mut w).await?;
                    w.flush()?;
                    n
                }
                None => {
                    let stdout = std::io::stdout();
                    let mut w = std::io::BufWriter::new(stdout.lock());
                    let n = verify::export(&store, &chain, &mut w).await?;
                    w.flush()?;
                    n
                }
            };
            if let Some(path) = out {
                eprintln!(
                    "exported {n} entries of the {chain} log to {}",
                    path.display()
                );
            }
            Ok(())
        }
        LogCommand::NewKey { name } => {
            let key = SigningKey::generate(name.as_deref().unwrap_or(&settings.ledger.origin))?;
            println!("{}", key.encode());
            eprintln!("verifier key: {}", key.verifier().encode());
            Ok(())
        }
        LogCommand::Key => {
            // The signing key first, then the previous and retired keys, one per line.
            for key in own_verifier(settings)?.keys() {
                println!("{}", key.encode());
            }
            Ok(())
        }
    }
}

fn read_note(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

/// Audits a log, printing what was checked; any disagreement is the returned error, naming
/// the entry, node or checkpoint at fault.
pub async fn verify_command(settings: &Settings, args: VerifyArgs) -> anyhow::Result<()> {
    let key = match args.key.split_first() {
        Some((first, rest)) => {
            let parse = |k: &String| VerifierKey::parse(k.trim()).context("--key");
            Verifiers::new(
                parse(first)?,
                rest.iter().map(parse).collect::<Result<Vec<_>, _>>()?,
            )
        }
        None => own_verifier(settings)?,
    };
    let mut expected: Vec<Expected> = Vec::new();
    let mut against = None;
    if let Some(path) = &args.against {
        let label = path.display().to_string();
        let e = verify::open_checkpoint(&read_note(path)?, &key, &label)?;
        against = Some(e.checkpoint.clone());
        expected.push(e);
    }
    let chain;
    let latest: Option<Checkpoint>;
    let mut audit;
    let mut store_for_checks = None;
    if let Some(path) = &args.from {
        let mut reader = BufReader::new(
            std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?,
        );
        let header = verify::read_export_header(&mut reader)
            .with_context(|| format!("reading {}", path.display()))?;
        chain = args.log.clone().unwrap_or(header.chain);
        latest = match &header.checkpoint {
            Some(note) => {
                let e = verify::open_checkpoint(note, &key, "in the export")?;
                let c = e.checkpoint.clone();
                expected.push(e);
                Some(c)
            }
            None => None,
        };
        audit = Audit::new(expected, args.chain);
        verify::read_export_entries(reader, &mut audit)?;
    } else {
        chain = log_chain(settings, args.log.clone())?;
        let store = open_store(settings).await?;
        latest = match store.latest_checkpoint(&chain).await? {
            Some(c) => {
                let e = verify::open_checkpoint(&c.note, &key, "latest stored")?;
                let c = e.checkpoint.clone();
                expected.push(e);
                Some(c)
            }
            None => None,
        };
        audit = Audit::new(expected, true);
        verify::read_store(&store, &chain, &mut audit).await?;
        store_for_checks = Some(store);
    }
    if let (Some(latest), Some(against), Some(path)) = (&latest, &against, &args.against) {
        if against.origin != latest.origin {
            bail!(
                "checkpoint {}: is of log {:?}, not {:?}",
                path.display(),
                against.origin,
                latest.origin
            );
        }
    }
    let hashes = audit.leaf_hashes().to_vec();
    let (mut summary, live, voided) = audit.finish()?;
    if let Some(store) = &store_for_checks {
        verify::check_stored_nodes(store, &chain, &hashes).await?;
        verify::check_store_records(store, &live).await?;
        summary.statements_signed =
            verify::check_store_statements(store, &chain, &key, &hashes).await?;
    }
    if args.chain {
        let cfg = settings
            .chain(&chain)
            .with_context(|| format!("--chain: chain {chain} is not configured"))?;
        let url = args.rpc.clone().unwrap_or_else(|| cfg.rpc_url.to_string());
        let rpc = Rpc::new(&url, RetryPolicy::from(&settings.follower))?;
        let (found, confirmed) =
            verify::check_chain(&rpc, cfg.chain_id, &live, &voided, 16).await?;
        summary.checked_on_chain = found;
        summary.retractions_confirmed = confirmed;
    }
    if latest.is_none() {
        summary
            .checkpoints
            .push("none: no checkpoint has been signed yet".into());
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        println!("log {chain}: {} entries verified", summary.entries);
        println!(
            "  {} records, {} manifest versions, {} retractions voiding {} entries",
            summary.records, summary.manifests, summary.retractions, summary.voided
        );
        if summary.statements > 0 {
            println!(
                "  {} covenant statements, {} signed notes verified",
                summary.statements, summary.statements_signed
            );
        }
        if let Some(root) = summary.root {
            println!("  root {root}");
        }
        for c in &summary.checkpoints {
            println!("  checkpoint {c}: signature and root verified");
        }
        if let Some(l) = &latest {
            if l.size < summary.entries {
                println!(
                    "  entries {}..{} are not yet covered by a signed checkpoint",
                    l.size, summary.entries
                );
            }
        }
        if args.chain {
            println!(
                "  {} records found on the canonical chain; {} voided records confirmed off it",
                summary.checked_on_chain, summary.retractions_confirmed
            );
        }
    }
    Ok(())
}
