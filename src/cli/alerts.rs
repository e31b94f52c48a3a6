//! `groupstate alerts`: the outbox and the state of each alert's deliveries; `alerts retry KEY`
//! re-arms a dead one.

use clap::{Args, Subcommand};

use super::output::{json, short, table};
use crate::config::Settings;
use crate::query::{self, AlertPage, AlertQuery};
use crate::store::StoreError;

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AlertsArgs {
    #[command(subcommand)]
    pub command: Option<AlertsCommand>,
    #[command(flatten)]
    pub list: ListArgs,
}

#[derive(Debug, Subcommand)]
pub enum AlertsCommand {
    /// Re-arm the dead deliveries of an alert (by its idempotency key): due now, attempts from 0.
    Retry { key: String },
}

/// Alerts, newest first, filtered and paged like `GET /v1/alerts`.
#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    query: AlertQuery,
    #[arg(long)]
    json: bool,
}

pub async fn run(settings: &Settings, args: AlertsArgs) -> anyhow::Result<()> {
    let store = super::open_store(settings).await?;
    match args.command {
        Some(AlertsCommand::Retry { key }) => match store.retry_alert(&key).await {
            Ok(0) => println!("alert {key} has no dead delivery"),
            Ok(n) => println!("alert {key}: {n} dead deliver(ies) re-armed"),
            Err(StoreError::NotFound(_)) => anyhow::bail!("no alert has the key {key}"),
            Err(e) => return Err(e.into()),
        },
        None => {
            let a = args.list;
            let filter = a
                .query
                .filter()
                .map_err(super::query::flag_error::<AlertQuery>)?;
            print(&query::alerts_page(&store, &filter).await?, a.json)?;
        }
    }
    Ok(())
}

fn print(page: &AlertPage, as_json: bool) -> anyhow::Result<()> {
    if as_json {
        return json(page);
    }
    let rows = &page.alerts;
    table(
        &[
            "ID",
            "KEY",
            "GROUP",
            "N",
            "EVENT",
            "SEVERITY",
            "RULE",
            "BLOCK",
            "DELIVERIES",
        ],
        rows.iter()
            .map(|a| {
                let deliveries = if !a.fanned_out {
                    "not routed yet".to_string()
                } else if a.deliveries.is_empty() {
                    "no sink".to_string()
                } else {
                    a.deliveries
                        .iter()
                        .map(|d| match &d.last_error {
                            Some(e) if d.status != "delivered" => format!(
                                "{}: {} after {} ({})",
                                d.sink,
                                d.status,
                                d.attempts,
                                e.chars().take(60).collect::<String>()
                            ),
                            _ => format!("{}: {} after {}", d.sink, d.status, d.attempts),
                        })
                        .collect::<Vec<_>>()
                        .join("; ")
                };
                vec![
                    a.id.to_string(),
                    short(&a.key),
                    a.group_id.clone(),
                    a.divergence_n.to_string(),
                    a.event.clone(),
                    a.severity.clone(),
                    a.rule.clone(),
                    a.block_number.to_string(),
                    deliveries,
                ]
            })
            .collect(),
    );
    println!("{} alert(s)", rows.len());
    if let (true, Some(c)) = (page.has_more, &page.next_cursor) {
        eprintln!("more: --cursor {c}");
    }
    Ok(())
}
