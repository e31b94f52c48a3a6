//! `groupstate alerts`: the outbox and the state of each alert's deliveries; `alerts retry KEY`
//! re-arms a dead one.

use anyhow::Context;
use clap::{Args, Subcommand};

use super::output::{json, short, table};
use crate::alert::AlertEvent;
use crate::config::Settings;
use crate::store::{AlertFilter, AlertRow, DeliveryStatus, StoreError};

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

/// Alerts, newest first.
#[derive(Debug, Args)]
pub struct ListArgs {
    #[arg(long)]
    group: Option<String>,
    /// Alerts with a delivery in this state: pending | delivered | dead
    #[arg(long)]
    status: Option<String>,
    /// opened | resolved | retracted | reopened
    #[arg(long)]
    event: Option<String>,
    #[arg(long, default_value_t = 50)]
    limit: i64,
    /// Only alerts older than this alert id (the last id of the previous page).
    #[arg(long)]
    before: Option<i64>,
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
            let filter = AlertFilter {
                group: a.group,
                status: a
                    .status
                    .map(|s| {
                        DeliveryStatus::parse(&s).with_context(|| {
                            format!("--status {s}: expected pending, delivered or dead")
                        })
                    })
                    .transpose()?,
                event: a
                    .event
                    .map(|e| {
                        AlertEvent::parse(&e).with_context(|| {
                            format!("--event {e}: expected opened, resolved, retracted or reopened")
                        })
                    })
                    .transpose()?,
                before: a.before,
                limit: Some(a.limit),
            };
            print(&store.alerts(&filter).await?, a.json)?;
        }
    }
    Ok(())
}

fn print(rows: &[AlertRow], as_json: bool) -> anyhow::Result<()> {
    if as_json {
        return json(&rows);
    }
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
    Ok(())
}
