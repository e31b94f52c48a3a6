//! `groupstate statement show COVENANT PERIOD`: one period's compliance statement as stored —
//! its signed note (or, with `--json`, the stored row with the statement itself as JSON).

use anyhow::Context;
use clap::Subcommand;

use super::open_store;
use crate::config::Settings;

#[derive(Debug, Subcommand)]
pub enum StatementCommand {
    /// Print a covenant's statement of one period: its signed note, or its body when the log
    /// has no signing key.
    Show {
        covenant: String,
        period: u32,
        /// The stored statement as JSON: covenant, period, blocks, leaf index, body, note.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(settings: &Settings, c: StatementCommand) -> anyhow::Result<()> {
    match c {
        StatementCommand::Show {
            covenant,
            period,
            json,
        } => {
            let store = open_store(settings).await?;
            let row = store
                .statement(&covenant, i64::from(period))
                .await?
                .with_context(|| {
                    format!("covenant {covenant} has no statement of period {period}")
                })?;
            if json {
                let mut value = serde_json::to_value(&row)?;
                value["statement"] = serde_json::from_str(&row.body)?;
                println!("{}", serde_json::to_string_pretty(&value)?);
            } else {
                match &row.note {
                    Some(note) => print!("{note}"),
                    None => println!("{}", row.body),
                }
            }
            Ok(())
        }
    }
}
