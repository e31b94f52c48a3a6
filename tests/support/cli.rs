//! The `groupstate` binary run against a test's database, data directory and devnet.

#![allow(dead_code)]

use std::path::Path;
use std::process::Output;

/// Runs `groupstate ARGS` with a configuration in `dir` (its data directory) following chain
/// `local` at `rpc_url` (`chain_extra`: more lines of `[chains.local]`), on database `db_url`.
pub fn groupstate(
    dir: &Path,
    db_url: &str,
    rpc_url: &str,
    chain_id: u64,
    chain_extra: &str,
    args: &[&str],
) -> Output {
    let config = dir.join("groupstate.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {:?}\n[chains.local]\nrpc_url = {:?}\nchain_id = {}\n{chain_extra}",
            dir.display().to_string(),
            rpc_url,
            chain_id
        ),
    )
    .unwrap();
    let mut full = vec!["--config", config.to_str().unwrap()];
    full.extend_from_slice(args);
    std::process::Command::new(env!("CARGO_BIN_EXE_groupstate"))
        .args(&full)
        .env("GROUPSTATE__DATABASE__URL", db_url)
        .env("RUST_LOG", "error")
        .output()
        .unwrap()
}
