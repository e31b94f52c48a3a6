//! The read commands that mirror the HTTP API — records, divergences, acknowledgement, state,
//! status and the OpenAPI document. Flags are the API's own parameter structs, checked by the
//! same code, and `--json` prints exactly what the API answers.

use anyhow::Context;
use clap::Args;

use super::{open_store, output, require_group};
use crate::chain::rpc::{RetryPolicy, Rpc};
use crate::config::Settings;
use crate::query::{self, DivergenceQuery, ParamError, RecordQuery};

/// `records ID …`
#[derive(Debug, Args)]
pub struct RecordsArgs {
    pub id: String,
    #[command(flatten)]
    pub query: RecordQuery,
    #[arg(long)]
    pub json: bool,
}

/// `divergences ID …`
#[derive(Debug, Args)]
pub struct DivergencesArgs {
    pub id: String,
    #[command(flatten)]
    pub query: DivergenceQuery,
    #[arg(long)]
    pub json: bool,
}

/// `ack ID N --note TEXT`
#[derive(Debug, Args)]
pub struct AckArgs {
    pub id: String,
    /// The divergence's number within the group
    pub n: i64,
    /// Why the divergence is accepted for now
    #[arg(long)]
    pub note: String,
    /// Refuse if the divergence under this number no longer opened at this block hash
    #[arg(long)]
    pub opened_block_hash: Option<String>,
    #[arg(long)]
    pub json: bool,
}

/// A parameter error in the CLI's words, naming the flag (`--from-block: must be …`) or the
/// argument (`INDEX: …`) that the parameter struct `A` gives it.
pub(super) fn flag_error<A: Args>(e: ParamError) -> anyhow::Error {
    let command = A::augment_args(clap::Command::new("groupstate"));
    let arg = command
        .get_arguments()
        .find(|a| a.get_id().as_str() == e.name);
    let name = match arg {
        Some(a) => match (a.get_long(), a.get_value_names()) {
            (Some(long), _) => format!("--{long}"),
            (None, Some([value, ..])) => value.to_string(),
            (None, _) => e.name.to_uppercase(),
        },
        None => format!("--{}", e.name.replace('_', "-")),
    };
    anyhow::anyhow!("{name}: {}", e.problem)
}

pub async fn records(settings: &Settings, a: RecordsArgs) -> anyhow::Result<()> {
    let filter = a.query.filter().map_err(flag_error::<RecordQuery>)?;
    let store = open_store(settings).await?;
    require_group(&store, &a.id).await?;
    let page = query::records_page(&store, &a.id, &filter).await?;
    output::records(&page, a.json)
}

pub async fn divergences(settings: &Settings, a: DivergencesArgs) -> anyhow::Result<()> {
    let filter = a.query.filter().map_err(flag_error::<DivergenceQuery>)?;
    let store = open_store(settings).await?;
    require_group(&store, &a.id).await?;
    let page = query::divergences_page(&store, &a.id, &filter).await?;
    output::divergences(&page, a.json)
}

pub async fn ack(settings: &Settings, a: AckArgs) -> anyhow::Result<()> {
    let note = a.note.trim();
    if note.is_empty() {
        anyhow::bail!("--note: must not be empty");
    }
    let store = open_store(settings).await?;
    require_group(&store, &a.id).await?;
    let d = store
        .acknowledge_divergence(&a.id, a.n, note, a.opened_block_hash.as_deref())
        .await?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&d)?);
    } else {
        println!(
            "acknowledged divergence {} of {} ({} {}): {}",
            d.n, d.group_id, d.severity, d.rule, note
        );
    }
    Ok(())
}

pub async fn state(settings: &Settings, id: &str, json: bool) -> anyhow::Result<()> {
    let store = open_store(settings).await?;
    let group = store
        .group(id)
        .await?
        .with_context(|| format!("no group {id} is registered"))?;
    let versions = store.manifest_versions(id).await?;
    let state = crate::state::group_state(&store, &group, &versions).await?;
    // Block counts read in time at the chain's block time, when the chain is configured.
    let block_time = settings.chain(&group.chain).ok().and_then(|c| c.block_time);
    output::state(&state, json, block_time)
}

/// What `/readyz` and `/metrics` answer from a running daemon, computed here from the node
/// and the database: each chain's head, indexed block and lag, open divergences by severity,
/// and the log's size.
#[derive(Debug, serde::Serialize)]
pub struct Status {
    pub ready: bool,
    pub chains: Vec<ChainStatus>,
    pub divergences_open: std::collections::BTreeMap<String, i64>,
}

#[derive(Debug, serde::Serialize)]
pub struct ChainStatus {
    pub chain: String,
    pub head: Option<u64>,
    pub indexed: Option<i64>,
    pub lag: Option<u64>,
    pub max_lag: u64,
    pub ready: bool,
    pub log_entries: u64,
    /// The balance check's interval (0: off) and the first and last block it read: a check
    /// that starts late says the node had no state for the blocks before.
    pub balance_check_interval: u64,
    pub balance_checked: Option<(i64, i64)>,
    /// Why the head is unknown.
    pub error: Option<String>,
    /// The newest block the follower may index (the head less confirmations), what is left
    /// of it, and the indexed share of the span from the groups' first start block.
    pub target: Option<u64>,
    pub blocks_left: Option<u64>,
    pub progress: Option<f64>,
    /// What the running daemon reports of this chain (rates, time left, failure, groups
    /// catching up), when one answers at `api.bind`.
    pub daemon: Option<crate::metrics::ChainReading>,
    /// The chain's lease: which replica follows it, at which epoch, until when.
    pub lease: Option<crate::store::LeaseRow>,
}

/// The chains' readings of the daemon answering at `api.bind`, if one does (its `/readyz`
/// body, ready or not).
async fn daemon_readings(settings: &Settings) -> Option<Vec<crate::metrics::ChainReading>> {
    #[derive(serde::Deserialize)]
    struct Body {
        chains: Vec<crate::metrics::ChainReading>,
    }
    if settings.api.bind.is_empty() {
        return None;
    }
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(2))
        .build()
        .ok()?;
    let response = client
        .get(format!("http://{}/readyz", settings.api.bind))
        .send()
        .await
        .ok()?;
    response.json::<Body>().await.ok().map(|b| b.chains)
}

pub async fn status(settings: &Settings, json: bool) -> anyhow::Result<()> {
    let store = open_store(settings).await?;
    let daemon = daemon_readings(settings).await;
    let leases = store.leases().await?;
    let mut chains = Vec::new();
    for (name, chain) in &settings.chains {
        let policy = RetryPolicy::from(&settings.follower);
        let head = match Rpc::new(chain.rpc_url.as_str(), policy) {
            Ok(rpc) => rpc.head().await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        let indexed = store.cursor(name).await?.map(|(n, _)| n);
        let lag = match (&head, indexed) {
            (Ok(h), Some(i)) => Some((*h as i64 - i).max(0) as u64),
            _ => None,
        };
        let target = head
            .as_ref()
            .ok()
            .map(|h| h.saturating_sub(chain.confirmations));
        let blocks_left = match (target, indexed) {
            (Some(t), Some(i)) => Some((t as i64 - i).max(0) as u64),
            _ => None,
        };
        let first = store
            .chain_group_rows(name)
            .await?
            .iter()
            .map(|g| g.start_block)
            .min();
        let progress = match (target, indexed, first) {
            (Some(t), Some(i), Some(f)) => Some(crate::metrics::share_done(f, i, t as i64)),
            _ => None,
        };
        let reading = daemon
            .as_ref()
            .and_then(|d| d.iter().find(|r| &r.chain == name).cloned());
        let failing = reading.as_ref().is_some_and(|r| r.failing.is_some());
        chains.push(ChainStatus {
            chain: name.clone(),
            head: head.as_ref().ok().copied(),
            indexed,
            lag,
            max_lag: chain.max_lag(),
            ready: lag.is_some_and(|l| l <= chain.max_lag()) && !failing,
            target,
            blocks_left,
            progress,
            daemon: reading,
            lease: leases.iter().find(|l| &l.chain == name).cloned(),
            log_entries: store.log_size(name).await?,
            balance_check_interval: chain.balance_check_interval_blocks,
            balance_checked: store.balance_check_span(name).await?,
            error: head.err(),
        });
    }
    let status = Status {
        ready: !chains.is_empty() && chains.iter().all(|c| c.ready),
        chains,
        divergences_open: store.open_divergence_counts().await?.into_iter().collect(),
    };
    output::status(&status, json)?;
    if !status.ready {
        let unhealthy: Vec<&str> = status
            .chains
            .iter()
            .filter(|c| !c.ready)
            .map(|c| c.chain.as_str())
            .collect();
        anyhow::bail!(
            "not ready: chain {} unreachable, failing or behind by more than its max lag",
            unhealthy.join(", ")
        );
    }
    Ok(())
}
