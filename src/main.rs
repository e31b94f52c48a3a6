//! The `groupstate` binary: everything lives in the library; this only parses and reports.

use clap::Parser;

/// jemalloc: the write path allocates and frees large buffers from many threads (tokio's, and
/// one per SQLite connection), where glibc's per-thread arenas held on to half the peak again.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = groupstate::cli::Cli::parse();
    match groupstate::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
