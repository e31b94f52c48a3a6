//! `groupstate covenant …`: register and version covenants, list and show them with their
//! standing and clause verdicts, sign a party's ratification with a key, and store a party's
//! ratification from a signatures file. The checks are the API's ([`crate::covenants`]); the
//! `--json` forms print what the API answers.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};

use super::output::{json, short, table};
use crate::config::Settings;
use crate::covenants::{covenant_detail, covenant_list, findings_in_words, CovenantDetail};
use crate::manifest::covenant::signing_hash;
use crate::manifest::ratify::OwnerSignature;
use crate::manifest::ManifestHash;
use crate::store::Store;

/// `groupstate covenant`.
#[derive(Debug, Subcommand)]
pub enum CovenantCommand {
    /// Register a covenant from its document (YAML or JSON): its party groups registered, the
    /// Safes and timelocks of its clauses declared by a party, its sinks configured.
    Add { file: PathBuf },
    /// Store a new version of a covenant.
    Update {
        file: PathBuf,
        /// The version it must become (the newest plus one); refused otherwise.
        #[arg(long)]
        expected_version: Option<i64>,
    },
    /// Every covenant: newest version, parties, standing, open findings.
    List {
        #[arg(long)]
        json: bool,
    },
    /// One covenant: parties and their ratification, each clause's verdict with its evidence,
    /// and its history (`--json`: what `GET /v1/covenants/{id}` answers).
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Sign a party's ratification of a covenant version with a signer's key (EIP-712); prints
    /// one JSON line to append to a signatures file.
    Sign(SignArgs),
    /// Store a party's ratification of a covenant version from a signatures file (`covenant
    /// sign` output: one JSON object per line, or a JSON list).
    Ratify {
        id: String,
        #[arg(long)]
        party: String,
        #[arg(long, value_name = "FILE")]
        signatures: PathBuf,
        /// The version ratified (default: the newest).
        #[arg(long)]
        version: Option<i64>,
    },
}

/// `groupstate covenant sign`.
#[derive(Debug, Args)]
pub struct SignArgs {
    /// The covenant's id.
    pub id: String,
    /// The party the signature ratifies for.
    #[arg(long)]
    pub party: String,
    /// The version ratified (default: the newest).
    #[arg(long)]
    pub version: Option<i64>,
    /// The chain id of the EIP-712 domain (default: the chain of the covenant's first party
    /// group).
    #[arg(long)]
    pub chain_id: Option<u64>,
    #[command(flatten)]
    pub key: super::ratify::KeyArgs,
}

/// The configured sinks' names, which a covenant's `notify` may name.
fn sinks(settings: &Settings) -> Vec<String> {
    settings
        .alerts
        .sinks
        .iter()
        .map(|s| s.name.clone())
        .collect()
}

/// Block explorers by chain name, as the daemon's API has them.
fn explorers(settings: &Settings) -> BTreeMap<String, String> {
    settings
        .chains
        .iter()
        .filter_map(|(name, c)| Some((name.clone(), c.explorer_base()?)))
        .collect()
}

fn read(file: &std::path::Path) -> anyhow::Result<String> {
    std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))
}

/// Runs a `covenant` command.
pub async fn run(settings: &Settings, cmd: CovenantCommand) -> anyhow::Result<()> {
    let store = super::open_store(settings).await?;
    match cmd {
        CovenantCommand::Add { file } => {
            let (chains, signatures) = (Default::default(), Default::default());
            let v = crate::covenants::add(
                &store,
                &chains,
                &read(&file)?,
                &sinks(settings),
                &signatures,
            )
            .await
            .with_context(|| format!("{} was not registered", file.display()))?;
            println!(
                "registered covenant {} (version {}, {})",
                v.covenant_id, v.version, v.hash
            );
        }
        CovenantCommand::Update {
            file,
            expected_version,
        } => {
            let v = crate::covenants::update(
                &store,
                &Default::default(),
                &read(&file)?,
                None,
                expected_version,
                &sinks(settings),
                &Default::default(),
            )
            .await
            .with_context(|| format!("{} was not stored", file.display()))?;
            println!("{}: version {} ({})", v.covenant_id, v.version, v.hash);
        }
        CovenantCommand::List { json: as_json } => {
            let list = covenant_list(&store).await?;
            if as_json {
                return json(&list);
            }
            table(
                &["ID", "VERSION", "HASH", "PARTIES", "STANDING", "FINDINGS"],
                list.covenants
                    .iter()
                    .map(|c| {
                        vec![
                            c.id.clone(),
                            c.version.to_string(),
                            short(&c.hash),
                            c.parties.join(", "),
                            c.standing.text.clone(),
                            findings_in_words(c),
                        ]
                    })
                    .collect(),
            );
        }
        CovenantCommand::Show { id, json: as_json } => {
            let detail = covenant_detail(&store, &id, &explorers(settings))
                .await?
                .with_context(|| format!("no covenant {id} is registered"))?;
            if as_json {
                return json(&detail);
            }
            show(&detail);
        }
        CovenantCommand::Sign(args) => sign(settings, &store, args).await?,
        CovenantCommand::Ratify {
            id,
            party,
            signatures,
            version,
        } => {
            let signatures = super::ratify::read_signatures(Some(&signatures))?;
            let chains = crate::ratify::chain_access(settings)?;
            let r = crate::covenants::ratify(&store, &chains, &id, &party, version, &signatures)
                .await?;
            let detail = covenant_detail(&store, &id, &explorers(settings))
                .await?
                .with_context(|| format!("no covenant {id} is registered"))?;
            println!("{id}: {party} {}; {}", r.summary(), detail.standing.text);
        }
    }
    Ok(())
}

/// The readable form of `covenant show`.
fn show(d: &CovenantDetail) {
    println!("covenant {} version {} ({})", d.id, d.version, d.hash);
    if let Some(s) = d.document.get("summary").and_then(|s| s.as_str()) {
        println!("{s}");
    }
    println!("standing: {}", d.standing.text);
    println!();
    println!("parties:");
    for p in &d.parties {
        match &p.ratification {
            Some(r) => println!("  {} ({}): {}", p.id, p.kind, r.summary),
            None => println!("  {} ({}): not ratified", p.id, p.kind),
        }
    }
    println!();
    println!("clauses:");
    for c in &d.clauses {
        println!("  [{}] {} — {}", c.index, c.verdict.as_str(), c.text);
        for f in &c.findings {
            println!(
                "      {} ({} #{}): {} at block {}{}",
                f.rule,
                f.group,
                f.n,
                f.observed,
                f.opened_block,
                f.opened_tx_hash
                    .as_deref()
                    .map(|tx| format!(", tx {tx}"))
                    .unwrap_or_default()
            );
        }
    }
    if !d.history.is_empty() {
        println!();
        println!("history (newest first):");
        table(
            &[
                "OPENED", "GROUP", "N", "RULE", "CLAUSE", "STATUS", "OBSERVED",
            ],
            d.history
                .iter()
                .map(|f| {
                    vec![
                        f.opened_block.to_string(),
                        f.group.clone(),
                        f.n.to_string(),
                        f.rule.clone(),
                        format!("v{}#{}", f.version, f.clause),
                        f.status.clone(),
                        f.observed.clone(),
                    ]
                })
                .collect(),
        );
    }
    println!();
    println!("versions:");
    for v in &d.versions {
        println!("  {} {}", v.version, v.hash);
    }
}

/// Prints one JSON line `{"signer", "signature"}`: the signer's signature of the party's
/// ratification of the covenant version, to append to a signatures file.
async fn sign(settings: &Settings, store: &Store, args: SignArgs) -> anyhow::Result<()> {
    use alloy::signers::SignerSync;

    let cv = crate::covenants::version(store, &args.id, args.version).await?;
    if cv.covenant.party(&args.party).is_none() {
        bail!("{} is not a party to covenant {}", args.party, args.id);
    }
    let chain_id = match args.chain_id {
        Some(id) => id,
        None => {
            let chain = crate::covenants::chain_of(store, &cv.covenant)
                .await?
                .context("the covenant has no registered party group; give --chain-id")?;
            settings
                .chain(&chain)
                .with_context(|| format!("chain {chain} is not configured; give --chain-id"))?
                .chain_id
        }
    };
    let signer =
        super::ratify::load_key(args.key.key_file.as_deref(), args.key.key_env.as_deref())?;
    let hash: ManifestHash = cv
        .hash
        .parse()
        .map_err(|e| anyhow::anyhow!("stored covenant hash: {e}"))?;
    let digest = signing_hash(
        &cv.covenant_id,
        cv.version as u64,
        &hash,
        &args.party,
        chain_id,
    );
    let signature = signer
        .sign_hash_sync(&digest)
        .context("signing the ratification")?;
    let out = OwnerSignature {
        signer: signer.address(),
        signature: signature.as_bytes().to_vec().into(),
    };
    println!("{}", serde_json::to_string(&out)?);
    eprintln!(
        "{} signs for {} version {} of covenant {} (hash {}) on chain {chain_id}: EIP-712 hash {digest}",
        out.signer, args.party, cv.version, cv.covenant_id, cv.hash
    );
    Ok(())
}
