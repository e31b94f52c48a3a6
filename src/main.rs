//! The `groupstate` binary: everything lives in the library; this only parses and reports.

use clap::Parser;

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
