//! Logging through `tracing`: readable text by default, JSON lines when `log.format = "json"`.

use tracing_subscriber::EnvFilter;

use crate::config::{LogConfig, LogFormat};

/// Installs the global subscriber once; `RUST_LOG` overrides the configured level.
pub fn init(log: &LogConfig) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&log.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
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
