//! [`TrustedStore`]: the client's trusted TUF metadata on disk, as the **exact bytes received**
//! under non-versioned names (`root.json`, `timestamp.json`, `snapshot.json`, `targets.json`,
//! `<quoted role>.json`), and the refresh that keeps it (TUF specification 5.2–5.6, the "persist"
//! steps). The layout is the data folder's `metadata/` (docs/architecture.md, "The data folder")
//! and the conformance client's metadata folder (conformance/README.md, "CLI").
//!
//! tough verifies; this module decides what is persisted and what may be reused:
//! - tough's own datastore is the sub-folder [`TOUGH_DATASTORE`] (its name does not end in
//!   `.json`). Before each load it is left holding exactly the store's `timestamp.json` and
//!   `snapshot.json`, tough's rollback baselines, and nothing else; its `latest_known_time.json`
//!   clock file is deleted every time, so a clock that was once ahead never blocks updates. A
//!   baseline tough already holds with the same JSON value is not rewritten ([`datastore`]).
//! - The load starts from the store's `root.json` when present, the shipped root otherwise:
//!   starting from an older root would let a key rotation erase the rollback baselines.
//! - After every load, success or failure, each role tough wrote (so: verified) is matched with
//!   the body handed to it this run (same JSON value; tough re-serialises) and those bytes are
//!   written atomically under the non-versioned name, only when they differ from the store's.
//!   When tough dropped its timestamp or snapshot baseline (fast-forward recovery after a key
//!   rotation, TUF 5.3.11), ours goes too.
//! - [`recording::RecordingTransport`] serves unchanged snapshot and targets from the store, so a
//!   no-update check costs the root probe plus `timestamp.json` (transport rule 7 in
//!   [`crate::transport`]).
//! - The file work before and after a load runs in one blocking section each (plain `std::fs`),
//!   and the store's files are read once per load. tough still parses and verifies every role
//!   on every load, and checks expiry against the clock each time.

mod datastore;
mod memo;
mod recording;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use tough::{
    ExpirationEnforcement, IntoVec as _, Limits, Repository, RepositoryLoader, TargetName,
};
use url::Url;

use crate::transport::TufTransport;

pub use recording::quote;
use recording::{RecordingTransport, Session};

/// Name of tough's datastore inside the store folder.
pub const TOUGH_DATASTORE: &str = "tough-datastore";

/// Why a [`TrustedStore`] operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrustedStoreError {
    /// tough refused the repository (signature, version, expiry, hash, length, network).
    #[error("tuf verification failed")]
    Tuf {
        /// tough's error (log it with `{}`: its `Debug` prints backtraces).
        #[source]
        source: Box<tough::error::Error>,
    },
    /// A local file operation failed.
    #[error("i/o error on {}", path.display())]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The target is not listed in the trusted targets.
    #[error("target {target} is not in the trusted targets")]
    UnknownTarget {
        /// The target path.
        target: String,
    },
    /// The target's name does not make a URL under the targets URL.
    #[error("target {target} has no valid URL")]
    TargetUrl {
        /// The target path.
        target: String,
        /// The URL error.
        #[source]
        source: url::ParseError,
    },
}

/// What kind of failure a [`TrustedStoreError`] is, for the user and the protocol's error
/// kinds (TUF specification, "Detailed client workflow": each refusal names the step).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TufFailure {
    /// A role's metadata is past its `expires`.
    Expired,
    /// The repository offered metadata older than what the client trusts (rollback or freeze).
    Rollback,
    /// The repository could not be reached.
    Network,
    /// Bad signature, threshold, malformed metadata, size limits, unknown target.
    Invalid,
    /// A local file operation failed.
    Io,
}

impl TrustedStoreError {
    /// Classifies this error by the TUF client's variant: expired role → [`TufFailure::Expired`];
    /// older metadata, snapshot or role versions → [`TufFailure::Rollback`]; transport failures
    /// → [`TufFailure::Network`]; disk failures → [`TufFailure::Io`]; anything else →
    /// [`TufFailure::Invalid`].
    pub fn failure(&self) -> TufFailure {
        use tough::error::Error as T;
        match self {
            TrustedStoreError::Io { .. } => TufFailure::Io,
            TrustedStoreError::Tuf { source } => match source.as_ref() {
                T::ExpiredMetadata { .. } => TufFailure::Expired,
                T::OlderMetadata { .. }
                | T::OlderSnapshotInTimestamp { .. }
                | T::SnapshotRoleRollback { .. }
                | T::SnapshotRoleMissing { .. } => TufFailure::Rollback,
                T::Transport { .. } => TufFailure::Network,
                _ => TufFailure::Invalid,
            },
            TrustedStoreError::UnknownTarget { .. } | TrustedStoreError::TargetUrl { .. } => {
                TufFailure::Invalid
            }
        }
    }

    /// The URL a transport failure was about, when the TUF client names one.
    pub fn url(&self) -> Option<String> {
        match self {
            TrustedStoreError::Tuf { source } => match source.as_ref() {
                tough::error::Error::Transport { url, .. } => Some(url.to_string()),
                _ => None,
            },
            _ => None,
        }
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TrustedStoreError + '_ {
    move |source| TrustedStoreError::Io {
        path: path.to_owned(),
        source,
    }
}

/// What a load needs besides the store.
#[derive(Debug, Clone)]
pub struct LoadRequest {
    /// Base URL of the metadata, ending in `/`.
    pub metadata_url: Url,
    /// Base URL of the targets, ending in `/`.
    pub targets_url: Url,
    /// The transport (the daemon's shared client).
    pub transport: TufTransport,
    /// The root to start from when the store holds no `root.json` yet (the shipped root).
    pub shipped_root: Option<PathBuf>,
    /// tough's size and root-update limits; `None` for tough's defaults.
    pub limits: Option<Limits>,
}

/// The trusted metadata folder of one client (see the module documentation).
#[derive(Debug, Clone)]
pub struct TrustedStore {
    dir: PathBuf,
    /// What the loads of this store (and its clones) remember between them; see [`memo`].
    memo: Arc<Mutex<memo::Memo>>,
}

impl TrustedStore {
    /// The store in `dir` (created on load if missing).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            memo: Arc::default(),
        }
    }

    /// The store folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `root.json`: the newest trusted root, exact bytes.
    pub fn root_path(&self) -> PathBuf {
        self.dir.join("root.json")
    }

    /// Runs the TUF refresh (root, timestamp, snapshot, targets, delegated roles) through a
    /// recording wrapper of `request.transport`, persists the exact bytes of every role that
    /// verified, and returns the loaded repository.
    ///
    /// # Errors
    /// [`TrustedStoreError::Io`] when the store or the root cannot be read or written;
    /// [`TrustedStoreError::Tuf`] when tough refuses the repository (roles verified before the
    /// failure are persisted all the same).
    pub async fn load(&self, request: LoadRequest) -> Result<LoadedRepository, TrustedStoreError> {
        let tough_dir = self.dir.join(TOUGH_DATASTORE);
        let started = std::time::Instant::now();
        let prepared = {
            let (dir, tough_dir) = (self.dir.clone(), tough_dir.clone());
            let (shipped, memo) = (request.shipped_root.clone(), Arc::clone(&self.memo));
            blocking(move || datastore::prepare(&dir, &tough_dir, shipped.as_deref(), &memo))
                .await?
        };
        let initial_root = prepared.initial_root;
        let session = Arc::new(Session {
            metadata_url: request.metadata_url.clone(),
            targets_url: request.targets_url.clone(),
            stored: Mutex::new(prepared.stored),
            tough_dir: tough_dir.clone(),
            initial_root: initial_root.clone(),
            handed: Mutex::new(Vec::new()),
            memo: Arc::clone(&self.memo),
            target_file: Mutex::new(None),
        });
        let transport = RecordingTransport {
            inner: request.transport,
            session: Arc::clone(&session),
        };
        let mut loader =
            RepositoryLoader::new(&initial_root, request.metadata_url, request.targets_url)
                .transport(transport)
                .datastore(&tough_dir)
                .expiration_enforcement(ExpirationEnforcement::Safe);
        if let Some(limits) = request.limits {
            loader = loader.limits(limits);
        }
        let prepared_at = started.elapsed();
        let loaded = loader.load().await;
        let loaded_at = started.elapsed();
        let synced = self.sync(&session).await;
        tracing::debug!(
            prepare_us = prepared_at.as_micros(),
            load_us = (loaded_at - prepared_at).as_micros(),
            mirror_us = (started.elapsed() - loaded_at).as_micros(),
            "trusted store load"
        );
        let repository = loaded.map_err(|source| TrustedStoreError::Tuf {
            source: Box::new(source),
        })?;
        synced?;
        Ok(LoadedRepository {
            repository,
            session,
        })
    }

    /// Mirrors what tough accepted into the store as the exact bytes handed to it, in one
    /// blocking section ([`datastore::mirror`]).
    async fn sync(&self, session: &Arc<Session>) -> Result<(), TrustedStoreError> {
        let handed: Vec<datastore::HandedBody> = session
            .handed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|h| (h.file.clone(), h.bytes()))
            .collect();
        let mut stored = std::mem::replace(
            &mut *session
                .stored
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
            datastore::Stored::new(&self.dir),
        );
        let session_for_task = Arc::clone(session);
        let (result, stored) = blocking(move || {
            let s = &session_for_task;
            let result =
                datastore::mirror(&s.tough_dir, &handed, &s.initial_root, &mut stored, &s.memo);
            Ok((result, stored))
        })
        .await?;
        *session
            .stored
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = stored;
        let changed = result?;
        if !changed.is_empty() {
            tracing::debug!(?changed, "trusted store updated");
        }
        Ok(())
    }
}

/// Runs `work` on tokio's blocking pool (one hop for a whole batch of file operations).
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, TrustedStoreError> + Send + 'static,
) -> Result<T, TrustedStoreError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| TrustedStoreError::Io {
            path: PathBuf::new(),
            source: std::io::Error::other(e),
        })?
}

/// Writes `bytes` to `path` through a temp file in the same folder and a rename; on failure
/// nothing is left behind (bytes, files in the folder).
///
/// # Errors
/// [`TrustedStoreError::Io`] when the folder cannot be written.
pub async fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), TrustedStoreError> {
    let (path, bytes) = (path.to_owned(), bytes.to_vec());
    blocking(move || datastore::write_atomic_blocking(&path, &bytes)).await
}

/// A repository loaded through a [`TrustedStore`].
#[derive(Debug)]
pub struct LoadedRepository {
    repository: Repository,
    session: Arc<Session>,
}

impl LoadedRepository {
    /// The verified repository.
    pub fn repository(&self) -> &Repository {
        &self.repository
    }

    /// Reads target `name` from the repository, verified against its signed length and hashes
    /// (TUF 5.7); with `local`, the bytes come from that file instead of the network, so a cached
    /// copy is checked by the same rules.
    ///
    /// # Errors
    /// [`TrustedStoreError::UnknownTarget`] when no trusted role lists `name`;
    /// [`TrustedStoreError::Tuf`] for an expired repository, a network failure, or bytes that do
    /// not match the signed length or hashes (nothing is returned then).
    pub async fn read_target(
        &self,
        name: &TargetName,
        local: Option<&Path>,
    ) -> Result<Vec<u8>, TrustedStoreError> {
        *self
            .session
            .target_file
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = local.map(Path::to_owned);
        let result = async {
            let stream = self
                .repository
                .read_target(name)
                .await
                .map_err(|source| TrustedStoreError::Tuf {
                    source: Box::new(source),
                })?
                .ok_or_else(|| TrustedStoreError::UnknownTarget {
                    target: name.raw().to_owned(),
                })?;
            stream
                .into_vec()
                .await
                .map_err(|source| TrustedStoreError::Tuf {
                    source: Box::new(source),
                })
        }
        .await;
        *self
            .session
            .target_file
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = None;
        result
    }
}

// Unix: the tests tell rewrites apart by inode.
#[cfg(all(test, unix))]
mod tests;
