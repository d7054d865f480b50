//! Logs with `tracing-subscriber`: to stderr (never stdout, which belongs to the protocol) or a
//! file, filtered by `RUST_LOG` (default `info`), as text or JSON lines.

use std::path::Path;

use tracing_subscriber::EnvFilter;

use crate::cli::LogFormat;
use crate::error::DaemonError;

/// Installs the global subscriber.
///
/// # Errors
/// [`DaemonError::LogFile`] when the log file cannot be opened.
pub fn init(format: LogFormat, file: Option<&Path>) -> Result<(), DaemonError> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let writer = match file {
        Some(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|source| DaemonError::LogFile {
                    path: path.to_path_buf(),
                    source,
                })?;
            tracing_subscriber::fmt::writer::BoxMakeWriter::new(std::sync::Mutex::new(file))
        }
        None => tracing_subscriber::fmt::writer::BoxMakeWriter::new(std::io::stderr),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(file.is_none() && std::io::IsTerminal::is_terminal(&std::io::stderr()));
    // A second init (tests) keeps the first subscriber.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    Ok(())
}
