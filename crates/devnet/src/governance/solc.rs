//! Compiles the devnet's Solidity contracts (`crates/devnet/contracts/*.sol`) at test time with the
//! pinned solc-js and OpenZeppelin sources from `node_modules`, through `crates/devnet/compile.js`, and
//! loads the resulting artifacts.
//!
//! Invariant: one compilation per set of inputs, machine-wide. The artifact file is named after
//! a hash of everything that decides its content (our sources, the script, the pinned compiler
//! and library versions), so a stale artifact is never reused; within a process a mutex, and
//! across processes a lock file, make parallel tests wait for one `node` run instead of
//! starting their own.

use std::{
    collections::BTreeMap,
    fs::OpenOptions,
    io::{ErrorKind, Write},
    path::{Path, PathBuf},
    time::{Duration, Instant, SystemTime},
};

use alloy::primitives::Bytes;
use anyhow::{bail, ensure, Context, Result};
use sha2::{Digest, Sha256};

use crate::install;

/// The Solidity sources, relative to the project directory.
pub const CONTRACTS_DIR: &str = "crates/devnet/contracts";
/// The compile script, relative to the project directory.
pub const COMPILE_SCRIPT: &str = "crates/devnet/compile.js";
/// Where compiled artifacts are cached, relative to the project directory (ignored by git).
pub const ARTIFACT_CACHE_DIR: &str = "target/devnet-contracts";

/// Files of the pinned npm packages the compilation depends on; their `package.json` carries
/// the version that goes into the cache key.
const SOLC_PACKAGE: &str = "node_modules/solc/package.json";
const SOLC_COMPILER: &str = "node_modules/solc/soljson.js";
const OPENZEPPELIN_PACKAGE: &str = "node_modules/@openzeppelin/contracts/package.json";
const OPENZEPPELIN_GOVERNOR: &str = "node_modules/@openzeppelin/contracts/governance/Governor.sol";

/// A lock older than this is taken to belong to a compiler that died (a compilation takes
/// seconds).
const STALE_LOCK_AFTER: Duration = Duration::from_secs(10 * 60);
/// How long a waiting process waits for another one's compilation.
const COMPILE_WAIT: Duration = Duration::from_secs(15 * 60);

/// Artifacts already compiled (or found) by this process, by project directory. A tokio mutex,
/// held across the compilation, so concurrent callers in one process wait for the first one
/// instead of each running `node`; it works across the runtimes of parallel `#[tokio::test]`s.
static COMPILED: tokio::sync::Mutex<BTreeMap<PathBuf, PathBuf>> =
    tokio::sync::Mutex::const_new(BTreeMap::new());

/// Compiles `crates/devnet/contracts/*.sol` in `project_dir` unless an artifact for exactly these
/// inputs exists, and returns the artifact file's path. Installs the npm packages first if
/// needed.
#[tracing::instrument(skip_all, fields(dir = %project_dir.display()))]
pub async fn compile_contracts(project_dir: &Path) -> Result<PathBuf> {
    let mut compiled = COMPILED.lock().await;
    // Re-checked so that a cache directory cleaned under a running process is rebuilt.
    if let Some(path) = compiled.get(project_dir).filter(|path| path.is_file()) {
        return Ok(path.clone());
    }
    install::ensure_installed(project_dir).await?;
    for file in [SOLC_COMPILER, OPENZEPPELIN_GOVERNOR, COMPILE_SCRIPT] {
        ensure!(
            project_dir.join(file).is_file(),
            "{file} is missing in {}: run `npm ci` there (node_modules may predate the solc and \
             OpenZeppelin pins in package.json)",
            project_dir.display()
        );
    }
    let key = input_hash(project_dir)?;
    let cache_dir = project_dir.join(ARTIFACT_CACHE_DIR);
    std::fs::create_dir_all(&cache_dir)
        .with_context(|| format!("creating {}", cache_dir.display()))?;
    let artifact = cache_dir.join(format!("{key}.json"));
    if !artifact.is_file() {
        compile_under_lock(
            project_dir,
            &artifact,
            &cache_dir.join(format!("{key}.lock")),
        )
        .await?;
    }
    compiled.insert(project_dir.to_path_buf(), artifact.clone());
    Ok(artifact)
}

/// Takes the machine-wide lock for `artifact` and compiles it, unless another process produced
/// it meanwhile.
async fn compile_under_lock(project_dir: &Path, artifact: &Path, lock_path: &Path) -> Result<()> {
    let deadline = tokio::time::Instant::now() + COMPILE_WAIT;
    loop {
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(lock_path)
        {
            Ok(mut lock) => {
                let _ = writeln!(lock, "{}", std::process::id());
                let _guard = LockGuard(lock_path.to_path_buf());
                if artifact.is_file() {
                    return Ok(());
                }
                return run_compile_script(project_dir, artifact).await;
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                if lock_is_stale(lock_path) {
                    tracing::warn!(lock = %lock_path.display(), "removing stale compile lock");
                    let _ = std::fs::remove_file(lock_path);
                    continue;
                }
                if tokio::time::Instant::now() > deadline {
                    bail!(
                        "timed out waiting for another process to compile the devnet contracts \
                         (lock {})",
                        lock_path.display()
                    );
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
                // The script renames a complete file into place, so existence means done.
                if artifact.is_file() {
                    return Ok(());
                }
            }
            Err(e) => {
                return Err(e).with_context(|| format!("creating {}", lock_path.display()));
            }
        }
    }
}

/// Runs `node crates/devnet/compile.js ARTIFACT` in the project directory.
async fn run_compile_script(project_dir: &Path, artifact: &Path) -> Result<()> {
    tracing::info!("compiling the devnet contracts with solc-js");
    let started = Instant::now();
    let output = tokio::process::Command::new("node")
        .arg(COMPILE_SCRIPT)
        .arg(artifact)
        .current_dir(project_dir)
        .kill_on_drop(true)
        .output()
        .await
        .context("running `node crates/devnet/compile.js` (is node installed and on PATH?)")?;
    let log = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        bail!(
            "`node {COMPILE_SCRIPT}` failed with {}:\n{}",
            output.status,
            log.trim()
        );
    }
    ensure!(
        artifact.is_file(),
        "`node {COMPILE_SCRIPT}` succeeded but wrote no {}",
        artifact.display()
    );
    tracing::info!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        compiler = %log.trim(),
        "compiled the devnet contracts"
    );
    Ok(())
}

/// A hex digest of every input that decides the artifacts: each `.sol` file under
/// [`CONTRACTS_DIR`] (name and content), the compile script, and the pinned solc and
/// OpenZeppelin package manifests.
fn input_hash(project_dir: &Path) -> Result<String> {
    let contracts_dir = project_dir.join(CONTRACTS_DIR);
    let mut inputs: Vec<String> = std::fs::read_dir(&contracts_dir)
        .with_context(|| format!("listing {}", contracts_dir.display()))?
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".sol"))
        .map(|name| format!("{CONTRACTS_DIR}/{name}"))
        .collect();
    ensure!(
        !inputs.is_empty(),
        "no .sol files in {}",
        contracts_dir.display()
    );
    inputs.sort();
    inputs.extend(
        [COMPILE_SCRIPT, SOLC_PACKAGE, OPENZEPPELIN_PACKAGE]
            .iter()
            .map(|s| s.to_string()),
    );
    let mut hasher = Sha256::new();
    for relative in &inputs {
        let path = project_dir.join(relative);
        let content =
            std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        // Length-prefixed, so no two different input sets hash the same bytes.
        for part in [relative.as_bytes(), &content[..]] {
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part);
        }
    }
    Ok(hex::encode(&hasher.finalize()[..16]))
}

fn lock_is_stale(lock_path: &Path) -> bool {
    std::fs::metadata(lock_path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|modified| SystemTime::now().duration_since(modified).ok())
        .is_some_and(|age| age > STALE_LOCK_AFTER)
}

/// Removes the compile lock when the compiler finishes, whether it succeeded or not.
struct LockGuard(PathBuf);

impl Drop for LockGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The compiled contracts from one artifact file: `{name: {abi, bytecode}}`.
#[derive(Debug, Clone)]
pub struct Artifacts {
    path: PathBuf,
    contracts: BTreeMap<String, serde_json::Value>,
}

impl Artifacts {
    /// Reads an artifact file written by `crates/devnet/compile.js`.
    pub fn load(path: &Path) -> Result<Artifacts> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let contracts =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        Ok(Artifacts {
            path: path.to_path_buf(),
            contracts,
        })
    }

    /// Compiles (or finds) the project's contracts and loads them.
    pub async fn compile(project_dir: &Path) -> Result<Artifacts> {
        Self::load(&compile_contracts(project_dir).await?)
    }

    /// The names of the compiled contracts.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.contracts.keys().map(String::as_str)
    }

    /// A contract's creation bytecode (constructor arguments not included).
    pub fn bytecode(&self, contract: &str) -> Result<Bytes> {
        let hex_code = self
            .contract(contract)?
            .get("bytecode")
            .and_then(|b| b.as_str())
            .with_context(|| format!("{contract} in {} has no bytecode", self.path.display()))?;
        let code: Bytes = hex_code
            .parse()
            .with_context(|| format!("decoding the bytecode of {contract}"))?;
        ensure!(!code.is_empty(), "{contract} has empty bytecode");
        Ok(code)
    }

    /// A contract's ABI as the compiler wrote it (a JSON array).
    pub fn abi(&self, contract: &str) -> Result<&serde_json::Value> {
        self.contract(contract)?
            .get("abi")
            .with_context(|| format!("{contract} in {} has no abi", self.path.display()))
    }

    fn contract(&self, contract: &str) -> Result<&serde_json::Value> {
        self.contracts.get(contract).with_context(|| {
            format!(
                "no contract {contract} in {} (have: {})",
                self.path.display(),
                self.names().collect::<Vec<_>>().join(", ")
            )
        })
    }
}

/// A contract's creation bytecode from an artifact file written by `crates/devnet/compile.js`.
pub fn load_bytecode(artifact: &Path, contract: &str) -> Result<Bytes> {
    Artifacts::load(artifact)?.bytecode(contract)
}
