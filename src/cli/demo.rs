//! The `groupstate demo` command.
use crate::config::Settings;
pub async fn run(_settings: Settings) -> anyhow::Result<()> { anyhow::bail!("not yet") }
