//! [`DaemonError`]: every way a `tufd` run can fail, each keeping its typed cause and mapped to
//! the protocol's [`ErrorKind`] by [`DaemonError::kind`]. [`crate::main`] prints it as one line
//! `error[<kind>]: <report>` on stderr (plus a JSON error object on stdout for `--json`, see
//! [`json_error`]) and exits 1.

use std::path::PathBuf;

use tufd_engine::EngineError;
use tufd_protocol::ErrorKind;

use crate::config::ConfigError;
use crate::lock::LockError;

/// Why `tufd` failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DaemonError {
    /// A setting, a flag or the config file cannot be used.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The data folder's lock was not taken (another daemon holds it, or the lock file cannot
    /// be created).
    #[error(transparent)]
    Lock(#[from] LockError),
    /// The log file (`--log-file`) cannot be opened.
    #[error("cannot open the log file {}", path.display())]
    LogFile {
        /// The log file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The async runtime cannot start.
    #[error("cannot start the async runtime")]
    Runtime {
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// An install interrupted mid-swap could not be finished or rolled back from its journal.
    #[error("cannot recover the interrupted install")]
    Recovery {
        /// The cause, with the kind it maps to.
        #[source]
        source: EngineError,
    },
    /// The engine failed to start or an operation failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// Reading stdin or writing stdout or stderr failed (e.g. a closed pipe).
    #[error("cannot {action}")]
    Io {
        /// What was being done (`write to stdout`, …).
        action: &'static str,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// `tufd update` without `--yes` cannot ask: stdin is not a terminal.
    #[error("not a terminal: run `tufd update --yes` to install without asking")]
    NotATerminal,
    /// A result could not be serialised to JSON (a bug).
    #[error("cannot serialise the result to JSON")]
    Json {
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
}

impl DaemonError {
    /// The protocol's error kind: [`ErrorKind::Config`] for settings, flags, the log file and
    /// a missing `--yes`; [`ErrorKind::Busy`] when another daemon holds the data folder;
    /// [`ErrorKind::Io`] for local I/O; an engine error's own kind (also for a failed
    /// recovery); [`ErrorKind::Internal`] for bugs.
    pub fn kind(&self) -> ErrorKind {
        match self {
            DaemonError::Config(_) | DaemonError::LogFile { .. } | DaemonError::NotATerminal => {
                ErrorKind::Config
            }
            DaemonError::Lock(LockError::Held { .. }) => ErrorKind::Busy,
            DaemonError::Lock(LockError::Io { .. })
            | DaemonError::Runtime { .. }
            | DaemonError::Io { .. } => ErrorKind::Io,
            DaemonError::Recovery { source } | DaemonError::Engine(source) => source.kind(),
            DaemonError::Json { .. } => ErrorKind::Internal,
        }
    }

    /// A [`DaemonError::Io`] while doing `action`.
    pub fn io(action: &'static str, source: std::io::Error) -> Self {
        DaemonError::Io { action, source }
    }

    /// The error with its causes joined by `: `, on one line (`tufd_core::error::report`).
    pub fn report(&self) -> String {
        tufd_engine::error::report(self)
    }
}

/// The line `tufd check --json` and `tufd status --json` print on stdout when they fail:
/// `{"error": {"kind": "<kind>", "message": "<report>"}}`.
pub fn json_error(err: &DaemonError) -> String {
    serde_json::json!({
        "error": { "kind": err.kind().as_str(), "message": err.report() }
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_maps_to_its_kind() {
        let cases = [
            (
                DaemonError::from(ConfigError::Missing { flag: "app-name" }),
                ErrorKind::Config,
            ),
            (DaemonError::NotATerminal, ErrorKind::Config),
            (
                DaemonError::LogFile {
                    path: "/x".into(),
                    source: std::io::Error::other("denied"),
                },
                ErrorKind::Config,
            ),
            (
                DaemonError::from(LockError::Held {
                    data_dir: "/d".into(),
                }),
                ErrorKind::Busy,
            ),
            (
                DaemonError::from(LockError::Io {
                    path: "/d/lock".into(),
                    source: std::io::Error::other("denied"),
                }),
                ErrorKind::Io,
            ),
            (
                DaemonError::io("write to stdout", std::io::Error::other("closed")),
                ErrorKind::Io,
            ),
            (
                DaemonError::from(EngineError::Cancelled),
                ErrorKind::Cancelled,
            ),
            (
                DaemonError::Recovery {
                    source: EngineError::worker("recovery", "gone"),
                },
                ErrorKind::Internal,
            ),
        ];
        for (err, kind) in cases {
            assert_eq!(err.kind(), kind, "{err}");
        }
    }

    #[test]
    fn the_report_is_one_line_with_every_cause() {
        let err = DaemonError::io(
            "write to stdout",
            std::io::Error::other("first\n  second\n"),
        );
        let report = err.report();
        assert!(!report.contains('\n'), "{report}");
        assert!(
            report.contains("first") && report.contains("second"),
            "{report}"
        );
        assert!(std::error::Error::source(&err).is_some());
    }

    #[test]
    fn the_json_error_names_the_kind() {
        let err = DaemonError::from(EngineError::Cancelled);
        let value: serde_json::Value = serde_json::from_str(&json_error(&err)).unwrap();
        assert_eq!(value["error"]["kind"], "cancelled");
        assert!(value["error"]["message"].is_string());
    }
}
