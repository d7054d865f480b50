//! [`EngineError`]: every way an engine operation can fail. Errors of the lower crates are kept
//! whole as the cause (`tufd-net`'s [`TrustedStoreError`] and [`DownloadError`],
//! `tufd-install`'s [`BuildError`] and [`InstallError`]); [`EngineError::kind`] maps each to the
//! protocol's [`ErrorKind`], which the daemon turns into the JSON-RPC error, the exit code and
//! the `error[kind]:` line. Nothing is turned into text before it reaches the user.

use std::path::PathBuf;

use tufd_core::Version;
use tufd_install::InstallError;
use tufd_install::build::BuildError;
use tufd_net::transport::{NetFailure, TransportError};
use tufd_net::{DownloadError, TrustedStoreError, TufFailure};
use tufd_protocol::ErrorKind;

/// Result alias of the engine.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;

/// Why an engine operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The TUF refresh failed or refused the repository (expired, rollback, invalid,
    /// unreachable; see [`TrustedStoreError::failure`]).
    #[error(transparent)]
    Metadata(#[from] TrustedStoreError),
    /// A target could not be downloaded, or what arrived does not match its signed length or
    /// sha256.
    #[error("download of {target} failed")]
    Download {
        /// The target name.
        target: String,
        /// The downloader's error.
        #[source]
        source: Box<DownloadError>,
    },
    /// The new version's tar could not be built from the patches or the archive (after the
    /// fall-backs the engine tries).
    #[error(transparent)]
    Build(#[from] BuildError),
    /// Staging, the install plan, the swap, a commit or a rollback failed.
    #[error(transparent)]
    Install(#[from] InstallError),
    /// The HTTP client could not be built (TLS back-end, proxy settings).
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// Nothing newer on the channel.
    #[error("no update: {current} is the newest version on the channel")]
    NoUpdate {
        /// The installed version.
        current: Version,
    },
    /// Another operation is running.
    #[error("busy: the engine is {state}")]
    Busy {
        /// The state the engine is in.
        state: &'static str,
    },
    /// The operation was cancelled by request.
    #[error("cancelled")]
    Cancelled,
    /// An administrator's policy disables updates on this machine.
    #[error("updates are managed: {reason}")]
    Managed {
        /// What the policy does and where it is.
        reason: String,
    },
    /// The archive was refused before (`state.json`) and the metadata still signs the same
    /// bytes: it is not downloaded again until a fixed release changes them.
    #[error(
        "{target} was refused before and is not downloaded again until the repository publishes different bytes: {reason}"
    )]
    RefusedBefore {
        /// The archive's target name.
        target: String,
        /// The kind of the first refusal.
        kind: ErrorKind,
        /// The first refusal, in words.
        reason: String,
    },
    /// A local file operation of the engine itself failed (data folder, state file).
    #[error("i/o error on {}", path.display())]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The new version did not pass its health check and the previous one was restored; or a
    /// rollback was requested and done.
    #[error("rolled back from {from} to {to}: {reason}")]
    RolledBack {
        /// The version that was removed.
        from: Version,
        /// The version installed again.
        to: Version,
        /// Why.
        reason: String,
    },
    /// A worker actor or a blocking task stopped while serving a request (a bug, or the
    /// engine shutting down).
    #[error("internal error: the {worker} worker stopped: {reason}")]
    WorkerStopped {
        /// Which worker (`metadata`, `download`, `patch`, `install`, `supervisor`, …).
        worker: &'static str,
        /// What happened.
        reason: String,
    },
    /// The planner produced a plan that breaks its own rules (a bug).
    #[error("internal error: {0}")]
    Invariant(&'static str),
}

/// The protocol's error kind of a network failure.
fn net_kind(failure: NetFailure) -> ErrorKind {
    match failure {
        NetFailure::Unreachable => ErrorKind::Unreachable,
        NetFailure::TimedOut => ErrorKind::TimedOut,
        NetFailure::ServerError => ErrorKind::ServerError,
        NetFailure::Broken => ErrorKind::Network,
    }
}

impl EngineError {
    /// The protocol's error kind of this error (docs/protocol.md, "Errors").
    pub fn kind(&self) -> ErrorKind {
        match self {
            EngineError::Metadata(e) => match e.failure() {
                TufFailure::Expired => ErrorKind::ExpiredMetadata,
                TufFailure::Rollback => ErrorKind::MetadataRollback,
                TufFailure::Network(failure) => net_kind(failure),
                TufFailure::TooLarge => ErrorKind::MetadataTooLarge,
                TufFailure::Io => ErrorKind::Io,
                // `Invalid`, and any kind a newer tufd-net adds.
                _ => ErrorKind::MetadataInvalid,
            },
            EngineError::Download { source, .. } => match source.as_ref() {
                DownloadError::LengthExceeded { .. } | DownloadError::HashMismatch { .. } => {
                    ErrorKind::TargetMismatch
                }
                DownloadError::Io { .. } => ErrorKind::Io,
                DownloadError::Cancelled => ErrorKind::Cancelled,
                other => other.net_failure().map_or(ErrorKind::Internal, net_kind),
            },
            EngineError::Build(e) => match e {
                BuildError::PatchFailed { .. } => ErrorKind::PatchFailed,
                BuildError::Io { .. } => ErrorKind::Io,
                _ => ErrorKind::TargetMismatch,
            },
            EngineError::Install(e) => match e {
                InstallError::Io { .. } => ErrorKind::Io,
                InstallError::PreflightNotWritable { .. } => ErrorKind::PreflightNotWritable,
                InstallError::PreflightDiskSpace { .. } => ErrorKind::PreflightDiskSpace,
                InstallError::PreflightInstallInProgress { .. } => {
                    ErrorKind::PreflightInstallInProgress
                }
                InstallError::NoBackup { .. } => ErrorKind::NoBackup,
                _ => ErrorKind::InstallFailed,
            },
            EngineError::Transport(_) => ErrorKind::Network,
            EngineError::NoUpdate { .. } => ErrorKind::NoUpdate,
            EngineError::Busy { .. } => ErrorKind::Busy,
            EngineError::Cancelled => ErrorKind::Cancelled,
            EngineError::RefusedBefore { kind, .. } => *kind,
            EngineError::Managed { .. } => ErrorKind::Managed,
            EngineError::Io { .. } => ErrorKind::Io,
            EngineError::RolledBack { .. } => ErrorKind::RolledBack,
            EngineError::WorkerStopped { .. } | EngineError::Invariant(_) => ErrorKind::Internal,
        }
    }

    /// An [`EngineError::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        EngineError::Io {
            path: path.into(),
            source,
        }
    }

    /// An [`EngineError::Download`] of `target`; a cancelled download is
    /// [`EngineError::Cancelled`].
    pub fn download(target: impl Into<String>, source: DownloadError) -> Self {
        match source {
            DownloadError::Cancelled => EngineError::Cancelled,
            source => EngineError::Download {
                target: target.into(),
                source: Box::new(source),
            },
        }
    }

    /// An [`EngineError::WorkerStopped`] for `worker`.
    pub fn worker(worker: &'static str, reason: impl std::fmt::Display) -> Self {
        EngineError::WorkerStopped {
            worker,
            reason: reason.to_string(),
        }
    }
}

pub use tufd_install::error::report;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_cause_maps_to_its_kind() {
        let url = url::Url::parse("http://127.0.0.1/t").unwrap();
        let cases = [
            (EngineError::Busy { state: "checking" }, ErrorKind::Busy),
            (EngineError::Cancelled, ErrorKind::Cancelled),
            (
                EngineError::Install(InstallError::PreflightNotWritable {
                    path: "/x".into(),
                    message: String::new(),
                }),
                ErrorKind::PreflightNotWritable,
            ),
            (
                EngineError::Install(InstallError::PreflightDiskSpace {
                    path: "/x".into(),
                    needed_bytes: 2,
                    available_bytes: 1,
                }),
                ErrorKind::PreflightDiskSpace,
            ),
            (
                EngineError::Install(InstallError::PreflightInstallInProgress {
                    journal: "/x".into(),
                }),
                ErrorKind::PreflightInstallInProgress,
            ),
            (
                EngineError::Install(InstallError::NoBackup {
                    reason: String::new(),
                }),
                ErrorKind::NoBackup,
            ),
            (
                EngineError::Install(InstallError::StepFailed {
                    index: 1,
                    step: "rename".into(),
                    reason: String::new(),
                    rollback: None,
                }),
                ErrorKind::InstallFailed,
            ),
            (
                EngineError::io("/x", std::io::Error::other("boom")),
                ErrorKind::Io,
            ),
            (
                EngineError::NoUpdate {
                    current: "1.0".parse().unwrap(),
                },
                ErrorKind::NoUpdate,
            ),
            (
                EngineError::download(
                    "a-2.0.patch",
                    DownloadError::Http {
                        url: url.clone(),
                        status: 404,
                    },
                ),
                ErrorKind::ServerError,
            ),
            (
                EngineError::download(
                    "a-2.0.patch",
                    DownloadError::TimedOut {
                        url: url.clone(),
                        after: std::time::Duration::from_secs(30),
                    },
                ),
                ErrorKind::TimedOut,
            ),
            (
                EngineError::download(
                    "a-2.0.patch",
                    DownloadError::LengthExceeded { url, limit: 1 },
                ),
                ErrorKind::TargetMismatch,
            ),
            (
                EngineError::Build(BuildError::PatchFailed {
                    patch: "a-2.0.patch".into(),
                    reason: String::new(),
                }),
                ErrorKind::PatchFailed,
            ),
            (
                EngineError::Metadata(TrustedStoreError::UnknownTarget { target: "x".into() }),
                ErrorKind::MetadataInvalid,
            ),
            (EngineError::worker("install", "gone"), ErrorKind::Internal),
        ];
        for (err, kind) in cases {
            assert_eq!(err.kind(), kind, "{err}");
        }
        assert!(matches!(
            EngineError::download("a", DownloadError::Cancelled),
            EngineError::Cancelled
        ));
    }

    #[test]
    fn a_report_names_every_cause_once() {
        let err = EngineError::from(InstallError::Hook {
            source: Box::new(tufd_hook_host::HookError::Timeout {
                hook: "h.wasm".into(),
                limit: std::time::Duration::from_secs(2),
            }),
        });
        assert_eq!(
            report(&err),
            format!(
                "install hook failed: {}",
                std::error::Error::source(&err).unwrap()
            )
        );
        let io = EngineError::io("/d", std::io::Error::other("denied"));
        assert_eq!(report(&io), "i/o error on /d: denied");
    }

    #[test]
    fn an_install_error_keeps_its_typed_cause() {
        let err = EngineError::from(InstallError::io("/data/x", std::io::Error::other("denied")));
        let source = std::error::Error::source(&err).expect("a cause");
        assert_eq!(source.to_string(), "denied");
    }
}
