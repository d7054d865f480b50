//! Refusals of `tufd-repo` that tests and scripts tell apart. Everything else is an
//! `anyhow` chain with context; `main` prints either as one line.

use std::path::PathBuf;

/// A refused input to `tufd-repo add`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AddError {
    /// The bundle path does not exist.
    #[error("bundle folder {path} does not exist: pass the folder holding the built app")]
    BundleMissing {
        /// The given path.
        path: PathBuf,
    },
    /// The bundle path is a file.
    #[error("bundle {path} is a file, not a folder: pass the folder holding the built app")]
    BundleNotFolder {
        /// The given path.
        path: PathBuf,
    },
    /// The bundle folder is empty.
    #[error("bundle folder {path} is empty: build the app into it first")]
    BundleEmpty {
        /// The given path.
        path: PathBuf,
    },
    /// The version is not newer than the newest published one.
    #[error("version {given} is not newer than the latest release {latest}: pass a higher version")]
    NotNewer {
        /// The given version.
        given: String,
        /// The newest published version.
        latest: String,
    },
    /// `--meta` is not a JSON object.
    #[error("--meta must be a JSON object such as '{{\"changes\": [\"...\"]}}': {reason}")]
    BadMeta {
        /// Why.
        reason: String,
    },
}
