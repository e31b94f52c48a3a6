//! Logging through `tracing`: readable text by default, JSON lines when `log.format = "json"`;
//! colours only on a terminal. A command that tells a story of its own (`demo`) sends the log
//! to a file instead, and only errors to the terminal.

use std::path::Path;

use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::{LogConfig, LogFormat};

/// The configured filter; `RUST_LOG` overrides it.
fn filter(log: &LogConfig) -> EnvFilter {
    EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&log.level))
        .unwrap_or_else(|_| EnvFilter::new("info"))
}

/// Installs the global subscriber once; `RUST_LOG` overrides the configured level.
pub fn init(log: &LogConfig) {
    let filter = filter(log);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| BarAwareStderr(Vec::new()))
        // Colours on a terminal only: a log file or a pipe gets plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let _ = match log.format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Installs the global subscriber once, writing the log (at the configured level, in the
/// configured format, without colours) to a new file at `path`, and only errors to the
/// terminal, so the command's own output reads without log lines in between.
pub fn init_to_file(log: &LogConfig, path: &Path) -> std::io::Result<()> {
    let file = std::sync::Mutex::new(std::fs::File::create(path)?);
    let to_file = tracing_subscriber::fmt::layer()
        .with_writer(file)
        .with_ansi(false);
    let to_file = match log.format {
        LogFormat::Json => to_file.json().with_filter(filter(log)).boxed(),
        LogFormat::Text => to_file.with_filter(filter(log)).boxed(),
    };
    let to_terminal = tracing_subscriber::fmt::layer()
        .with_writer(|| BarAwareStderr(Vec::new()))
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_filter(LevelFilter::ERROR);
    let _ = tracing_subscriber::registry()
        .with(to_file)
        .with(to_terminal)
        .try_init();
    Ok(())
}

/// Stderr that holds each log line until it is complete and then writes it with the progress
/// bars, if any, cleared from the terminal.
struct BarAwareStderr(Vec<u8>);

impl std::io::Write for BarAwareStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.0.is_empty() {
            return Ok(());
        }
        let line = std::mem::take(&mut self.0);
        crate::progress::suspend(|| std::io::stderr().write_all(&line))
    }
}

impl Drop for BarAwareStderr {
    fn drop(&mut self) {
        let _ = std::io::Write::flush(self);
    }
}
