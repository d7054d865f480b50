//! [`InstallError`]: every way the install side can fail, each with its typed cause. The engine
//! wraps it whole (`tufd_engine::InstallError::Install`) and maps it to the protocol's error
//! kind; nothing here is turned into text before it reaches the user.

use std::path::PathBuf;

use tufd_core::archive::ArchiveError;
use tufd_core::install_plan::check::PlanError;
use tufd_hook_host::HookError;

/// Result alias of the install side.
pub type Result<T, E = InstallError> = std::result::Result<T, E>;

/// Why staging, the install swap, a commit, a rollback, a cleanup or a pre-flight check failed.
/// Unless a variant says otherwise, the install folder was left (or restored) as it was.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InstallError {
    /// A local file operation failed.
    #[error("i/o error on {}", path.display())]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The verified new tar was refused by safe extraction (a hostile or unusable entry).
    #[error("extracting {} into {}", tar.display(), staging.display())]
    Extract {
        /// The tar.
        tar: PathBuf,
        /// The staging folder (removed again).
        staging: PathBuf,
        /// The entry refused and why.
        #[source]
        source: Box<ArchiveError>,
    },
    /// The WASM install hook failed to load or answer (and no fall-back was configured).
    #[error("install hook failed")]
    Hook {
        /// The hook host's typed error (timeout, memory, trap, bad plan, …).
        #[source]
        source: Box<HookError>,
    },
    /// The built-in plan was refused by the plan checker.
    #[error("the built-in install plan was refused")]
    PlanRefused {
        /// The checker's refusal.
        #[source]
        source: Box<PlanError>,
    },
    /// A folder could not be renamed.
    #[error("cannot rename {} to {}", from.display(), to.display())]
    Rename {
        /// The source.
        from: PathBuf,
        /// The destination.
        to: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A journaled rename cannot be undone: the disk fits neither "taken" nor "not taken".
    #[error(
        "cannot undo rename {} -> {}: source {}, destination {}",
        from.display(),
        to.display(),
        if *from_exists { "exists" } else { "is missing" },
        if *to_exists { "exists" } else { "is missing" }
    )]
    UndoConflict {
        /// The rename's source.
        from: PathBuf,
        /// The rename's destination.
        to: PathBuf,
        /// Whether the source exists now.
        from_exists: bool,
        /// Whether the destination exists now.
        to_exists: bool,
    },
    /// The install journal cannot be parsed.
    #[error("journal {} is unreadable", path.display())]
    JournalUnreadable {
        /// The journal file.
        path: PathBuf,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// A plan step failed. When `rollback` is `None` the completed steps were undone and the
    /// app is unchanged; otherwise the rollback failed too and the journal is kept so that the
    /// next start retries it.
    #[error("step {index} ({step}) failed: {reason}; {}", match rollback {
        None => "rolled back, the app is unchanged".to_owned(),
        Some(e) => format!("the rollback failed too ({e}); the journal is kept and the next start retries it"),
    })]
    StepFailed {
        /// 0-based index of the step.
        index: usize,
        /// The step, described.
        step: String,
        /// Why it failed.
        reason: String,
        /// The rollback's own failure, if any.
        rollback: Option<Box<InstallError>>,
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
    /// A rollback was requested but no backup of a previous version exists.
    #[error("no backup to roll back to: {reason}")]
    NoBackup {
        /// Why (no install yet, backup already removed after commit, …).
        reason: String,
    },
    /// Test only: the executor stopped as if the daemon had been killed.
    #[cfg(test)]
    #[error("simulated crash")]
    SimulatedCrash,
}

pub use tufd_core::error::report;

impl InstallError {
    /// An [`InstallError::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        InstallError::Io {
            path: path.into(),
            source,
        }
    }
}
