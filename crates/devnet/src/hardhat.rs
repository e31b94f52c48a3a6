//! `hardhat node` as a devnet node ([`NodeKind::Hardhat`](super::anvil::NodeKind)): its command
//! line and the line that reports its port.
//!
//! Hardhat runs from the pinned `hardhat` npm package on the machine's Node.js, in-process (its
//! EDR engine is a native module shipped in the npm packages), so the process started here is the
//! only one to kill. It needs a Hardhat config: the crate's `hardhat.config.js`, embedded here
//! and written once into `node_modules`, reads the chain id, gas limit and block time from the
//! environment. Nothing is compiled and nothing is fetched at start: no `compile` task runs,
//! the telemetry prompt is off and, without a terminal, Hardhat sends nothing.

use std::{
    path::{Path, PathBuf},
    sync::atomic::{AtomicU64, Ordering},
};

use anyhow::{Context, Result};
use tokio::process::Command;

use super::anvil::DevnetOptions;

/// Hardhat's command-line entry point inside the project directory.
pub(crate) const HARDHAT_CLI: &str = "node_modules/hardhat/internal/cli/cli.js";

/// The Hardhat config, from the crate's `hardhat.config.js`.
const CONFIG: &str = include_str!("../hardhat.config.js");
/// Where the config is written, relative to the project directory: inside `node_modules`, which
/// the project owns and `npm ci` recreates, so no other directory is written to.
const CONFIG_PATH: &str = "node_modules/.groupstate-hardhat/hardhat.config.js";

/// The command that starts `hardhat node` on a free port of `127.0.0.1`, and the program's
/// path for messages.
pub(crate) fn command(project_dir: &Path, opts: &DevnetOptions) -> Result<(Command, PathBuf)> {
    let config = write_config(project_dir)?;
    let cli = project_dir.join(HARDHAT_CLI);
    let mut cmd = Command::new("node");
    // Hardhat must run from the directory whose `node_modules` holds it; the config may live
    // elsewhere. Port 0: Hardhat binds a free port and prints it, like anvil.
    cmd.current_dir(project_dir)
        .arg(&cli)
        .arg("--config")
        .arg(&config)
        .args(["node", "--hostname", "127.0.0.1", "--port", "0"])
        .args(&opts.extra_args)
        .env("HARDHAT_DISABLE_TELEMETRY_PROMPT", "true")
        // No colour codes in the lines read for the port, whatever the environment forces.
        .env_remove("FORCE_COLOR")
        .env("NO_COLOR", "1")
        .env("GROUPSTATE_HARDHAT_CHAIN_ID", opts.chain_id.to_string())
        .env("GROUPSTATE_HARDHAT_GAS_LIMIT", opts.gas_limit.to_string())
        .env(
            "GROUPSTATE_HARDHAT_BLOCK_TIME_MS",
            opts.block_time
                .map(|secs| ((secs * 1000.0).round() as u64).max(1))
                .unwrap_or(0)
                .to_string(),
        );
    Ok((cmd, cli))
}

/// Writes the config into the project's `node_modules` unless it is already there as it is,
/// through a file of this call's own and a rename, so devnets starting at once (in one test
/// process or several) never read a half-written file.
fn write_config(project_dir: &Path) -> Result<PathBuf> {
    static WRITES: AtomicU64 = AtomicU64::new(0);
    let path = project_dir.join(CONFIG_PATH);
    if std::fs::read_to_string(&path).is_ok_and(|text| text == CONFIG) {
        return Ok(path);
    }
    let dir = path.parent().context("the config path has a directory")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let staging = dir.join(format!(
        ".hardhat.config.js.{}.{}",
        std::process::id(),
        WRITES.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&staging, CONFIG).with_context(|| format!("writing {}", staging.display()))?;
    std::fs::rename(&staging, &path).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// Hardhat's `Started HTTP and WebSocket JSON-RPC server at http://127.0.0.1:PORT/`.
pub(crate) fn parse_started_port(line: &str) -> Option<u16> {
    line.trim()
        .strip_prefix("Started HTTP and WebSocket JSON-RPC server at ")?
        .trim_end_matches('/')
        .rsplit(':')
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::parse_started_port;

    #[test]
    fn parses_hardhat_started_line() {
        assert_eq!(
            parse_started_port(
                "Started HTTP and WebSocket JSON-RPC server at http://127.0.0.1:40307/"
            ),
            Some(40307)
        );
        assert_eq!(
            parse_started_port(&anstream::adapter::strip_str(
                "\u{1b}[32mStarted HTTP and WebSocket JSON-RPC server at http://127.0.0.1:43953/\u{1b}[39m"
            ).to_string()),
            Some(43953)
        );
        assert_eq!(parse_started_port("Accounts"), None);
        assert_eq!(parse_started_port("Account #0: 0xf39F… (10000 ETH)"), None);
    }

    #[test]
    fn the_config_reads_its_settings_from_the_environment() {
        for name in [
            "GROUPSTATE_HARDHAT_CHAIN_ID",
            "GROUPSTATE_HARDHAT_GAS_LIMIT",
            "GROUPSTATE_HARDHAT_BLOCK_TIME_MS",
        ] {
            assert!(super::CONFIG.contains(name), "{name}");
        }
    }
}
