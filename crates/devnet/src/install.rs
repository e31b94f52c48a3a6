//! Finds the project's pinned npm tooling (anvil, Hardhat, the Safe artifacts) and installs it on
//! first use, so a fresh machine needs nothing by hand.
//!
//! Invariant: at most one `npm ci` runs per project directory at a time, even when many test
//! processes start a devnet at once; the others wait for it and then reuse its result.

use std::{
    fs::OpenOptions,
    io::{ErrorKind, Write},
    path::{Path, PathBuf},
    time::{Duration, SystemTime},
};

use anyhow::{bail, Context, Result};

/// Environment variable naming the directory that holds `package.json`.
pub const DEVNET_DIR_ENV: &str = "GROUPSTATE_DEVNET_DIR";

/// The anvil binary inside the project directory.
pub(crate) const ANVIL_BIN: &str = "node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil";
/// Root of the Safe 1.4.1 build artifacts.
pub(crate) const SAFE_141_ARTIFACTS: &str =
    "node_modules/@safe-global/safe-contracts/build/artifacts/contracts";
/// Root of the Safe 1.3.0 build artifacts.
pub(crate) const SAFE_130_ARTIFACTS: &str =
    "node_modules/@gnosis.pm/safe-contracts/build/artifacts/contracts";
/// The published Safe deployment lists, one JSON file per contract and release
/// (`v1.4.1/safe.json`), against which the chain presets' addresses are tested.
pub const SAFE_DEPLOYMENTS: &str = "node_modules/@safe-global/safe-deployments/dist/assets";

/// The lock file guarding the first install. It lives beside `package.json`, not inside
/// `node_modules`, because `npm ci` deletes `node_modules` before it installs.
const INSTALL_LOCK: &str = ".groupstate-install.lock";
/// A lock older than this is taken to belong to an installer that died.
const STALE_LOCK_AFTER: Duration = Duration::from_secs(15 * 60);
/// How long a waiting process waits for another one's install.
const INSTALL_WAIT: Duration = Duration::from_secs(20 * 60);

/// Files whose presence means the install is complete.
fn required_files(dir: &Path) -> [PathBuf; 7] {
    [
        dir.join(SAFE_DEPLOYMENTS).join("v1.4.1/safe.json"),
        dir.join(ANVIL_BIN),
        dir.join(super::hardhat::HARDHAT_CLI),
        dir.join(SAFE_141_ARTIFACTS).join("SafeL2.sol/SafeL2.json"),
        dir.join(SAFE_130_ARTIFACTS)
            .join("GnosisSafeL2.sol/GnosisSafeL2.json"),
        dir.join("node_modules/solc/soljson.js"),
        dir.join("node_modules/@openzeppelin/contracts/governance/Governor.sol"),
    ]
}

fn is_installed(dir: &Path) -> bool {
    required_files(dir).iter().all(|p| p.is_file())
}

/// Whether `dir` holds *our* `package.json` (the one pinning anvil), not some unrelated one.
fn is_project_dir(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("package.json"))
        .map(|text| text.contains("@foundry-rs/anvil-linux-amd64"))
        .unwrap_or(false)
}

/// The directory holding the pinned `package.json`: `$GROUPSTATE_DEVNET_DIR` if set, else the
/// current directory or its nearest ancestor that has one, else the nearest ancestor of this crate's
/// directory that has one (the workspace root).
pub fn project_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os(DEVNET_DIR_ENV) {
        let dir = PathBuf::from(dir);
        if !dir.join("package.json").is_file() {
            bail!(
                "{DEVNET_DIR_ENV}={} has no package.json",
                dir.to_string_lossy()
            );
        }
        return Ok(dir);
    }
    if let Ok(cwd) = std::env::current_dir() {
        if let Some(dir) = cwd.ancestors().find(|d| is_project_dir(d)) {
            return Ok(dir.to_path_buf());
        }
    }
    // This crate lives in `crates/devnet` of the project: its ancestors hold `package.json`.
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    if let Some(dir) = manifest_dir.ancestors().find(|d| is_project_dir(d)) {
        return Ok(dir.to_path_buf());
    }
    bail!(
        "no package.json pinning anvil found: set {DEVNET_DIR_ENV} or run from the project directory"
    )
}

/// Makes sure the npm packages are installed in `dir`, running `npm ci` once if they are not.
#[tracing::instrument(skip_all, fields(dir = %dir.display()))]
pub async fn ensure_installed(dir: &Path) -> Result<()> {
    if is_installed(dir) {
        return Ok(());
    }
    let lock_path = dir.join(INSTALL_LOCK);
    let deadline = tokio::time::Instant::now() + INSTALL_WAIT;
    loop {
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&lock_path)
        {
            Ok(mut lock) => {
                let _ = writeln!(lock, "{}", std::process::id());
                let _guard = LockGuard(lock_path.clone());
                // Another process may have finished between our check and taking the lock.
                if is_installed(dir) {
                    return Ok(());
                }
                return run_npm_ci(dir).await;
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                if lock_is_stale(&lock_path) {
                    tracing::warn!(lock = %lock_path.display(), "removing stale install lock");
                    let _ = std::fs::remove_file(&lock_path);
                    continue;
                }
                if tokio::time::Instant::now() > deadline {
                    bail!(
                        "timed out waiting for another process's npm install (lock {})",
                        lock_path.display()
                    );
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
                if is_installed(dir) && !lock_path.exists() {
                    return Ok(());
                }
            }
            Err(e) => {
                return Err(e).with_context(|| format!("creating {}", lock_path.display()));
            }
        }
    }
}

fn lock_is_stale(lock_path: &Path) -> bool {
    std::fs::metadata(lock_path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|modified| SystemTime::now().duration_since(modified).ok())
        .is_some_and(|age| age > STALE_LOCK_AFTER)
}

async fn run_npm_ci(dir: &Path) -> Result<()> {
    tracing::info!("installing the pinned devnet tooling with npm ci");
    let output = tokio::process::Command::new("npm")
        .args(["ci", "--ignore-scripts", "--no-audit", "--no-fund"])
        .current_dir(dir)
        .kill_on_drop(true)
        .output()
        .await
        .context("running `npm ci` (is npm installed and on PATH?)")?;
    if !output.status.success() {
        bail!(
            "`npm ci` failed with {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    if !is_installed(dir) {
        bail!("`npm ci` succeeded but {} is still missing", ANVIL_BIN);
    }
    Ok(())
}

/// Removes the install lock when the installer finishes, whether it succeeded or not.
struct LockGuard(PathBuf);

impl Drop for LockGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
