//! The `groupstate` command: parses arguments, loads settings, and calls the library. Output is
//! a table for people and `--json` for machines.

mod alerts;
mod covenant;
mod demo;
mod draft;
mod log;
mod output;
mod query;
mod ratify;
mod statement;
mod treasury;

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use crate::config::Settings;
use crate::manifest::Manifest;
use crate::store::Store;

#[derive(Debug, Parser)]
#[command(
    name = "groupstate",
    version,
    about = "Watches a group's treasury onchain and reconciles it with its documented group state."
)]
pub struct Cli {
    /// A TOML file layered over config/default.toml (GROUPSTATE__… variables override both).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The daemon: migrations, then a follower for every configured chain.
    Run,
    /// A self-contained demonstration on a local anvil devnet with a real Safe 1.4.1; ends by
    /// serving the group's status page until Ctrl-C.
    Demo {
        /// Leave once the story is told, instead of serving the status page until Ctrl-C
        #[arg(long)]
        exit: bool,
    },
    /// Apply database migrations.
    Migrate,
    /// Register, version, list and show groups.
    #[command(subcommand)]
    Group(GroupCommand),
    /// Validate a manifest.
    #[command(subcommand)]
    Manifest(ManifestCommand),
    /// Covenants between groups and their partners: register, version, list, show, sign and
    /// ratify.
    #[command(subcommand)]
    Covenant(covenant::CovenantCommand),
    /// A group's decision and transaction records, filtered and paged like the API's.
    Records(query::RecordsArgs),
    /// A group's decisions: Governor proposals with their whole lifecycle, and Safe executions
    /// with their recovered signers.
    Decisions {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// The verifiable log: checkpoint, proofs, export, verifier key.
    #[command(subcommand)]
    Log(log::LogCommand),
    /// A covenant's compliance statements: `statement show COVENANT PERIOD`.
    #[command(subcommand)]
    Statement(statement::StatementCommand),
    /// Audit a log: recompute the tree, check checkpoint signatures and roots, entries, stored
    /// nodes, records and covenant statements, and with --chain every record against the chain.
    /// Exits non-zero naming the first bad entry.
    Verify(log::VerifyArgs),
    /// A group's divergences between declared and observed structure, filtered and paged.
    Divergences(query::DivergencesArgs),
    /// Acknowledge an open divergence with a note (it stays open until resolved).
    Ack(query::AckArgs),
    /// Each chain's head, indexed block and lag, open divergences by severity, the log's size;
    /// exits non-zero unless every chain is within its max lag (like `/readyz`).
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Print the HTTP API's OpenAPI document.
    Openapi,
    /// Alerts of divergences and their delivery to each sink; `alerts retry KEY` re-arms a
    /// dead one.
    Alerts(alerts::AlertsArgs),
    /// A group's treasuries at a glance: balances, 30-day inflows and outflows, the largest
    /// outflows with their decisions.
    Treasury(treasury::TreasuryArgs),
    /// Every movement of value into or out of a group's treasuries (`--format csv` for an
    /// accountant's import).
    Flows(treasury::FlowsArgs),
}

#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// Register a group from its manifest (YAML or JSON).
    Add {
        file: PathBuf,
        /// Owners' signatures ratifying it (`manifest sign` output: one JSON object per line,
        /// or a JSON list).
        #[arg(long, value_name = "FILE")]
        signatures: Option<PathBuf>,
    },
    /// Store a new version of a group's manifest.
    Update {
        file: PathBuf,
        /// Signatures ratifying the version, by the owners the previous version declares.
        #[arg(long, value_name = "FILE")]
        signatures: Option<PathBuf>,
        /// The first block the version is in force at (default: the next block to process).
        #[arg(long)]
        effective_block: Option<u64>,
    },
    List {
        #[arg(long)]
        json: bool,
    },
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Declared beside observed, contract by contract, with every disagreement.
    State {
        id: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ManifestCommand {
    /// Validate a manifest offline; with --chain, also compare it with the chain now.
    Check {
        file: PathBuf,
        #[arg(long)]
        chain: bool,
    },
    /// Draft a manifest of what the chain shows now: Safes, governors and their timelocks,
    /// timelocks, AccessControl role members; comments where a person must decide.
    Draft(draft::DraftArgs),
    /// A manifest skeleton from an EIP-4824 daoURI document, every gap listed.
    Import(draft::ImportArgs),
    /// Sign the ratification of a manifest version with an owner's key (EIP-712); prints one
    /// JSON line to append to a signatures file.
    Sign(ratify::SignArgs),
}

/// Runs the command; the returned error is printed by `main` with its context chain.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::load(cli.config.as_deref())?;
    // The demo tells its own story, and keeps its log in a file of its own.
    if !matches!(cli.command, Command::Demo { .. }) {
        crate::telemetry::init(&settings.log);
    }
    match cli.command {
        Command::Run => {
            let store = open_store(&settings).await?;
            let cancel = CancellationToken::new();
            crate::daemon::cancel_on_signal(cancel.clone());
            crate::daemon::run(&settings, store, cancel).await
        }
        Command::Demo { exit } => demo::run(settings, exit).await,
        Command::Log(c) => log::run(&settings, c).await,
        Command::Verify(args) => log::verify_command(&settings, args).await,
        Command::Statement(c) => statement::run(&settings, c).await,
        Command::Alerts(args) => alerts::run(&settings, args).await,
        Command::Treasury(args) => treasury::treasury(&settings, args).await,
        Command::Flows(args) => treasury::flows(&settings, args).await,
        Command::Migrate => {
            open_store(&settings).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Group(g) => group(&settings, g).await,
        Command::Covenant(c) => covenant::run(&settings, c).await,
        Command::Manifest(ManifestCommand::Check { file, chain }) => {
            manifest_check(&settings, &file, chain).await
        }
        Command::Manifest(ManifestCommand::Draft(args)) => draft::draft(&settings, args).await,
        Command::Manifest(ManifestCommand::Import(args)) => draft::import(args),
        Command::Manifest(ManifestCommand::Sign(args)) => ratify::sign(&settings, args),
        Command::Records(args) => query::records(&settings, args).await,
        Command::Decisions { id, json } => {
            let store = open_store(&settings).await?;
            require_group(&store, &id).await?;
            let decisions = crate::decisions::decisions(&store, &id).await?;
            output::decisions(&decisions, json)
        }
        Command::Divergences(args) => query::divergences(&settings, args).await,
        Command::Ack(args) => query::ack(&settings, args).await,
        Command::Status { json } => query::status(&settings, json).await,
        Command::Openapi => {
            let doc = crate::api::openapi::document_value();
            println!("{}", serde_json::to_string_pretty(&doc)?);
            Ok(())
        }
    }
}

/// Connects to the configured database and applies migrations.
pub async fn open_store(settings: &Settings) -> anyhow::Result<Store> {
    let store = Store::connect(&settings.database_url(), settings.database.max_connections)
        .await
        .context("opening the database (database.url)")?;
    store.migrate().await.context("applying migrations")?;
    Ok(store)
}

async fn require_group(store: &Store, id: &str) -> anyhow::Result<()> {
    if store.group(id).await?.is_none() {
        bail!("no group {id} is registered");
    }
    Ok(())
}

fn load_manifest(settings: &Settings, file: &std::path::Path) -> anyhow::Result<Manifest> {
    let manifest = Manifest::from_file(file)
        .map_err(|e| anyhow::anyhow!("{} is not a valid manifest:\n{e}", file.display()))?;
    settings.chain(&manifest.chain).with_context(|| {
        format!(
            "{}: chain: {} is not configured",
            file.display(),
            manifest.chain
        )
    })?;
    Ok(manifest)
}

async fn group(settings: &Settings, cmd: GroupCommand) -> anyhow::Result<()> {
    let store = open_store(settings).await?;
    match cmd {
        GroupCommand::Add { file, signatures } => {
            let m = load_manifest(settings, &file)?;
            let signatures = ratify::read_signatures(signatures.as_deref())?;
            let chain = ratify::chain_access(settings, &m.chain)?;
            let v = crate::ratify::register(&store, chain.as_ref(), &m, &signatures).await?;
            println!(
                "registered {} (version {}, {}), following chain {} from block {}; {}",
                v.group_id,
                v.version,
                v.hash,
                m.chain,
                v.effective_block,
                crate::history::ratified(&v)
            );
        }
        GroupCommand::Update {
            file,
            signatures,
            effective_block,
        } => {
            let m = load_manifest(settings, &file)?;
            let signatures = ratify::read_signatures(signatures.as_deref())?;
            let chain = ratify::chain_access(settings, &m.chain)?;
            let v = crate::ratify::update(&store, chain.as_ref(), &m, effective_block, &signatures)
                .await?;
            println!(
                "{}: version {} ({}) in force from block {}; {}",
                v.group_id,
                v.version,
                v.hash,
                v.effective_block,
                crate::history::ratified(&v)
            );
        }
        GroupCommand::List { json } => {
            output::groups(&crate::query::group_list(&store).await?, json)?
        }
        GroupCommand::State { id, json } => query::state(settings, &id, json).await?,
        GroupCommand::Show { id, json } => {
            let g = store
                .group(&id)
                .await?
                .with_context(|| format!("no group {id} is registered"))?;
            let versions = store.manifest_versions(&id).await?;
            ratify::show(&store, &g, &versions, json).await?;
        }
    }
    Ok(())
}

async fn manifest_check(
    settings: &Settings,
    file: &std::path::Path,
    chain: bool,
) -> anyhow::Result<()> {
    let m = Manifest::from_file(file)
        .map_err(|e| anyhow::anyhow!("{} is not a valid manifest:\n{e}", file.display()))?;
    println!("{}: valid, hash {}", file.display(), m.hash());
    if !chain {
        return Ok(());
    }
    let cfg = settings.chain(&m.chain)?;
    let rpc = crate::chain::rpc::Rpc::new(
        cfg.rpc_url.as_str(),
        crate::chain::rpc::RetryPolicy::from(&settings.follower),
    )?;
    let head = rpc.head().await?;
    let range = crate::chain::range::AdaptiveRange::new(cfg.max_block_range);
    let mut disagreements = 0;
    // Every declared contract, read at the head and compared with what the manifest says.
    for (address, kind) in m.declared_contracts() {
        let declared = m.deployed_at(&address);
        let req = crate::chain::read::ReadRequest {
            address,
            kind,
            block: head,
            scope: crate::chain::read::ReadScope::Seed {
                deployed_at: declared,
            },
        };
        let reading = crate::chain::read::read(&rpc, &range, req).await?;
        let observed = crate::observe::Observed::seed(&reading);
        let findings = crate::reconcile::reconcile(&m, address, &observed);
        if findings.is_empty() && rpc.code_at(address, head).await?.is_empty() {
            println!(
                "{} {address}: no contract deployed at block {head}",
                kind.as_str()
            );
            disagreements += 1;
        }
        if let Some(d) = declared {
            let created = crate::chain::read::creation_block(&rpc, address, head, None).await?;
            if created.is_some_and(|c| c != d) {
                println!(
                    "{} {address}: deployed_at {d}, but the contract was created at block {}",
                    kind.as_str(),
                    created.unwrap_or_default()
                );
                disagreements += 1;
            }
        }
        for f in findings {
            println!(
                "{} {address}: expected {}, observed {}",
                f.rule, f.expected, f.observed
            );
            disagreements += 1;
        }
    }
    if disagreements > 0 {
        bail!(
            "{disagreements} disagreement(s) with chain {} at block {head}",
            m.chain
        );
    }
    println!("agrees with chain {} at block {head}", m.chain);
    Ok(())
}
