//! `groupstate treasury ID` (the treasuries at a glance, as `/v1/groups/{id}/treasury`) and
//! `groupstate flows ID --format table|json|csv` (the accounting export: a page for people or
//! machines, or every row in the range as CSV on standard output, streamed).

use std::io::Write;

use anyhow::Context;
use clap::{Args, ValueEnum};
use futures::StreamExt;

use super::output;
use super::query::flag_error;
use super::{open_store, require_group};
use crate::config::Settings;
use crate::holdings::{self, csv_header, csv_line, FlowQuery};

/// How `flows` prints.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum FlowFormat {
    /// An aligned table of one page.
    #[default]
    Table,
    /// One page, exactly as the API answers.
    Json,
    /// Every flow in the range, for an accountant's import.
    Csv,
}

/// `flows ID …`
#[derive(Debug, Args)]
pub struct FlowsArgs {
    pub id: String,
    #[command(flatten)]
    pub query: FlowQuery,
    #[arg(long, value_enum, default_value_t = FlowFormat::Table)]
    pub format: FlowFormat,
}

/// `treasury ID [--json]`
#[derive(Debug, Args)]
pub struct TreasuryArgs {
    pub id: String,
    #[arg(long)]
    pub json: bool,
}

pub async fn flows(settings: &Settings, a: FlowsArgs) -> anyhow::Result<()> {
    let range = a.query.range().map_err(flag_error::<FlowQuery>)?;
    let store = open_store(settings).await?;
    require_group(&store, &a.id).await?;
    let group = store.group(&a.id).await?.context("the group")?;
    match a.format {
        FlowFormat::Csv => {
            let mut rows = holdings::flows_stream(&store, &group, &range).await?;
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            out.write_all(&csv_header()?)?;
            while let Some(row) = rows.next().await {
                out.write_all(&csv_line(&row?)?)?;
            }
            out.flush()?;
            Ok(())
        }
        FlowFormat::Json => output::json(&holdings::flows_page(&store, &group, &range).await?),
        FlowFormat::Table => {
            let page = holdings::flows_page(&store, &group, &range).await?;
            let rows = page
                .flows
                .iter()
                .map(|f| {
                    vec![
                        f.block_number.to_string(),
                        f.block_time.clone(),
                        output::short(&f.treasury),
                        f.direction.clone(),
                        format!("{} {}", f.amount, f.asset_symbol),
                        output::short(&f.counterparty),
                        f.decision.clone(),
                        output::short(&f.tx_hash),
                    ]
                })
                .collect();
            output::table(
                &[
                    "block",
                    "time",
                    "treasury",
                    "dir",
                    "amount",
                    "counterparty",
                    "decision",
                    "tx",
                ],
                rows,
            );
            if let Some(c) = page.next_cursor.filter(|_| page.has_more) {
                println!("more: --cursor {c}");
            }
            Ok(())
        }
    }
}

pub async fn treasury(settings: &Settings, a: TreasuryArgs) -> anyhow::Result<()> {
    let store = open_store(settings).await?;
    require_group(&store, &a.id).await?;
    let group = store.group(&a.id).await?.context("the group")?;
    let view = holdings::treasury_view(&store, &group).await?;
    if a.json {
        return output::json(&view);
    }
    let mut rows = Vec::new();
    for t in &view.treasuries {
        for h in &t.assets {
            rows.push(vec![
                output::short(&t.address),
                h.info.symbol.clone(),
                h.balance.units.clone(),
                h.inflow.units.clone(),
                h.outflow.units.clone(),
            ]);
        }
    }
    output::table(
        &[
            "treasury",
            "asset",
            "balance",
            "in (30 days)",
            "out (30 days)",
        ],
        rows,
    );
    for t in &view.treasuries {
        for o in &t.largest_outflows {
            println!(
                "largest out of {}: {} to {} at block {} ({})",
                output::short(&t.address),
                o.amount.formatted,
                o.counterparty,
                o.block_number,
                o.decision
                    .as_ref()
                    .map(|d| d.label())
                    .unwrap_or_else(|| "no recorded decision".into())
            );
        }
    }
    Ok(())
}
