//! [`EngineError`]: every way an update can fail, with the stable `kind` strings of the daemon
//! interface contract ("JSON-RPC 2.0 over stdio", errors).
//!
//! tough's errors are snafu types whose `Debug` prints backtraces; they are classified by
//! variant in [`EngineError::from_tough`] and kept as their `Display` text only.

use std::path::PathBuf;

use tufd_core::Version;

/// Result alias of the engine.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;

/// Why an engine operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// A TUF role's metadata is past its `expires`.
    #[error("expired metadata: {message}")]
    ExpiredMetadata {
        /// tough's message.
        message: String,
    },
    /// The repository offered metadata older than what the client trusts.
    #[error("metadata rollback: {message}")]
    MetadataRollback {
        /// tough's message.
        message: String,
    },
    /// Any other TUF failure: bad signature, threshold, malformed metadata, size limits.
    #[error("invalid metadata: {message}")]
    MetadataInvalid {
        /// tough's message.
        message: String,
    },
    /// The repository could not be reached.
    #[error("network error on {url}: {message}")]
    Network {
        /// The URL involved.
        url: String,
        /// What failed.
        message: String,
    },
    /// A downloaded target or a rebuilt tar does not match its signed length or hash.
    #[error("target {target} does not match its signed metadata: {message}")]
    TargetMismatch {
        /// The target file name.
        target: String,
        /// Expected and actual values.
        message: String,
    },
    /// A patch could not be applied, and the full archive could not repair it.
    #[error("patch {patch} failed: {message}")]
    PatchFailed {
        /// The patch file name.
        patch: String,
        /// Why.
        message: String,
    },
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
    /// Extraction, swap or relaunch failed; the install folder was left or restored as it was.
    #[error("install failed: {message}")]
    InstallFailed {
        /// Why.
        message: String,
    },
    /// The operation was cancelled by request.
    #[error("cancelled")]
    Cancelled,
    /// A local file operation failed.
    #[error("i/o error on {}: {source}", path.display())]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Pre-flight: a folder the update writes into (the install folder, its parent, the data
    /// folder) is not writable.
    #[error("pre-flight: {} is not writable: {message}", path.display())]
    PreflightNotWritable {
        /// The folder.
        path: PathBuf,
        /// Why the probe file could not be created.
        message: String,
    },
    /// Pre-flight: not enough free space for download, staging and backup.
    #[error("pre-flight: {} has {available_bytes} bytes free, the update needs {needed_bytes}", path.display())]
    PreflightDiskSpace {
        /// A folder on the file system that is short.
        path: PathBuf,
        /// Bytes the update needs there.
        needed_bytes: u64,
        /// Bytes available there.
        available_bytes: u64,
    },
    /// Pre-flight: another install is in progress (its journal exists).
    #[error("pre-flight: another install is in progress (journal {})", journal.display())]
    PreflightInstallInProgress {
        /// The journal file found.
        journal: PathBuf,
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
    /// A rollback was requested but no backup of a previous version exists.
    #[error("no backup to roll back to: {reason}")]
    NoBackup {
        /// Why (no install yet, backup already removed after commit, …).
        reason: String,
    },
    /// A worker actor crashed or stopped while serving a request.
    #[error("internal error: {message}")]
    Internal {
        /// What happened.
        message: String,
    },
}

impl EngineError {
    /// The contract's error kind: `expired-metadata`, `metadata-rollback`, `metadata-invalid`,
    /// `network`, `target-mismatch`, `patch-failed`, `no-update`, `busy`, `install-failed`,
    /// `cancelled`, `io`, `preflight-not-writable`, `preflight-disk-space`,
    /// `preflight-install-in-progress`, `rolled-back`, `no-backup`, or `internal`.
    pub fn kind(&self) -> &'static str {
        match self {
            EngineError::ExpiredMetadata { .. } => "expired-metadata",
            EngineError::MetadataRollback { .. } => "metadata-rollback",
            EngineError::MetadataInvalid { .. } => "metadata-invalid",
            EngineError::Network { .. } => "network",
            EngineError::TargetMismatch { .. } => "target-mismatch",
            EngineError::PatchFailed { .. } => "patch-failed",
            EngineError::NoUpdate { .. } => "no-update",
            EngineError::Busy { .. } => "busy",
            EngineError::InstallFailed { .. } => "install-failed",
            EngineError::Cancelled => "cancelled",
            EngineError::Io { .. } => "io",
            EngineError::PreflightNotWritable { .. } => "preflight-not-writable",
            EngineError::PreflightDiskSpace { .. } => "preflight-disk-space",
            EngineError::PreflightInstallInProgress { .. } => "preflight-install-in-progress",
            EngineError::RolledBack { .. } => "rolled-back",
            EngineError::NoBackup { .. } => "no-backup",
            EngineError::Internal { .. } => "internal",
        }
    }

    /// An [`EngineError::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        EngineError::Io {
            path: path.into(),
            source,
        }
    }

    /// Classifies a tough error by variant: expired role → [`EngineError::ExpiredMetadata`];
    /// older metadata, snapshot or role versions → [`EngineError::MetadataRollback`]; transport
    /// failures → [`EngineError::Network`]; anything else → [`EngineError::MetadataInvalid`].
    pub fn from_tough(err: &tough::error::Error) -> Self {
        use tough::error::Error as T;
        let message = err.to_string();
        match err {
            T::ExpiredMetadata { .. } => EngineError::ExpiredMetadata { message },
            T::OlderMetadata { .. }
            | T::OlderSnapshotInTimestamp { .. }
            | T::SnapshotRoleRollback { .. }
            | T::SnapshotRoleMissing { .. } => EngineError::MetadataRollback { message },
            T::Transport { url, .. } => EngineError::Network {
                url: url.to_string(),
                message,
            },
            _ => EngineError::MetadataInvalid { message },
        }
    }
}

impl From<crate::download::DownloadError> for EngineError {
    /// Length or hash mismatch → `target-mismatch`; http and network failures → `network`;
    /// disk failures → `io`; cancellation → `cancelled`.
    fn from(err: crate::download::DownloadError) -> Self {
        use crate::download::DownloadError as D;
        match err {
            D::LengthExceeded { ref url, .. } | D::HashMismatch { ref url, .. } => {
                let url = url.to_string();
                EngineError::TargetMismatch {
                    target: url.rsplit('/').next().unwrap_or_default().to_owned(),
                    message: err_text(&err),
                }
            }
            D::Http { ref url, .. } | D::Network { ref url, .. } => EngineError::Network {
                url: url.to_string(),
                message: err_text(&err),
            },
            D::Io { path, source } => EngineError::Io { path, source },
            D::Cancelled => EngineError::Cancelled,
            other => EngineError::Internal {
                message: err_text(&other),
            },
        }
    }
}

impl From<crate::trusted_store::TrustedStoreError> for EngineError {
    /// tough's refusals → [`EngineError::from_tough`]; disk failures → `io`; an unknown target →
    /// `metadata-invalid`.
    fn from(err: crate::trusted_store::TrustedStoreError) -> Self {
        use crate::trusted_store::TrustedStoreError as S;
        match err {
            S::Tuf { ref source } => EngineError::from_tough(source),
            S::Io { path, source } => EngineError::Io { path, source },
            other => EngineError::MetadataInvalid {
                message: err_text(&other),
            },
        }
    }
}

fn err_text(err: &dyn std::error::Error) -> String {
    err.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_the_contract_strings() {
        let cases = [
            (
                EngineError::ExpiredMetadata {
                    message: String::new(),
                },
                "expired-metadata",
            ),
            (
                EngineError::MetadataRollback {
                    message: String::new(),
                },
                "metadata-rollback",
            ),
            (EngineError::Busy { state: "checking" }, "busy"),
            (EngineError::Cancelled, "cancelled"),
            (
                EngineError::PreflightNotWritable {
                    path: "/x".into(),
                    message: String::new(),
                },
                "preflight-not-writable",
            ),
            (
                EngineError::PreflightDiskSpace {
                    path: "/x".into(),
                    needed_bytes: 2,
                    available_bytes: 1,
                },
                "preflight-disk-space",
            ),
            (
                EngineError::PreflightInstallInProgress {
                    journal: "/x".into(),
                },
                "preflight-install-in-progress",
            ),
            (
                EngineError::NoBackup {
                    reason: String::new(),
                },
                "no-backup",
            ),
            (EngineError::io("/x", std::io::Error::other("boom")), "io"),
            (
                EngineError::NoUpdate {
                    current: "1.0".parse().unwrap(),
                },
                "no-update",
            ),
        ];
        for (err, kind) in cases {
            assert_eq!(err.kind(), kind, "{err}");
        }
    }

    #[test]
    fn messages_are_lower_case() {
        let e = EngineError::io("/data/x", std::io::Error::other("denied"));
        assert_eq!(e.to_string(), "i/o error on /data/x: denied");
    }
}
