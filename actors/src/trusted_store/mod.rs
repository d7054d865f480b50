//! [`TrustedStore`]: the client's trusted TUF metadata on disk, as the **exact bytes received**
//! under non-versioned names (`root.json`, `timestamp.json`, `snapshot.json`, `targets.json`,
//! `<quoted role>.json`), and the refresh that keeps it (TUF 5.2–5.6, "persist" steps; notes
//! tuf-conformance.md "METADATA_DIR" and tough.md "Client side").
//!
//! tough verifies; this module decides what is persisted and what may be reused:
//! - tough's own datastore is the sub-folder [`TOUGH_DATASTORE`] (its name does not end in
//!   `.json`). Before each load it is emptied and seeded with the store's `timestamp.json` and
//!   `snapshot.json`, tough's rollback baselines; its `latest_known_time.json` clock file goes with
//!   it, so a clock that was once ahead never blocks updates (tough.md trap table).
//! - The load starts from the store's `root.json` when present, the shipped root otherwise
//!   (tough.md "Always load with the newest trusted root").
//! - After every load, success or failure, each role tough wrote (so: verified) is matched with
//!   the body handed to it this run (same JSON value; tough re-serialises) and those bytes are
//!   written atomically under the non-versioned name. When tough dropped its timestamp or
//!   snapshot baseline (fast-forward recovery after a key rotation, TUF 5.3.11), ours goes too.
//! - [`recording::RecordingTransport`] serves unchanged snapshot and targets from the store, so a
//!   no-update check costs the root probe plus `timestamp.json` (tough.md rule 7).

mod recording;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::Value;
use tough::{
    ExpirationEnforcement, IntoVec as _, Limits, Repository, RepositoryLoader, TargetName,
};
use url::Url;

use crate::transport::TufTransport;

pub use recording::quote;
use recording::{RecordingTransport, Session, split_versioned};

/// Name of tough's datastore inside the store folder.
pub const TOUGH_DATASTORE: &str = "tough-datastore";

/// Why a [`TrustedStore`] operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrustedStoreError {
    /// tough refused the repository (signature, version, expiry, hash, length, network).
    #[error("tuf verification failed: {source}")]
    Tuf {
        /// tough's error (log it with `{}`: its `Debug` prints backtraces).
        #[source]
        source: Box<tough::error::Error>,
    },
    /// A local file operation failed.
    #[error("i/o error on {}: {source}", path.display())]
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
}

impl TrustedStore {
    /// The store in `dir` (created on load if missing).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
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
        tokio::fs::create_dir_all(&self.dir)
            .await
            .map_err(io(&self.dir))?;
        self.seed(&tough_dir).await?;
        let root_path = match (&request.shipped_root, self.root_path()) {
            (Some(shipped), persisted) if !persisted.exists() => shipped.clone(),
            (_, persisted) => persisted,
        };
        let initial_root = tokio::fs::read(&root_path).await.map_err(io(&root_path))?;
        let session = Arc::new(Session {
            metadata_url: request.metadata_url.clone(),
            targets_url: request.targets_url.clone(),
            store_dir: self.dir.clone(),
            tough_dir: tough_dir.clone(),
            initial_root: initial_root.clone(),
            handed: Mutex::new(Vec::new()),
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
        let loaded = loader.load().await;
        let synced = self.sync(&session).await;
        let repository = loaded.map_err(|source| TrustedStoreError::Tuf {
            source: Box::new(source),
        })?;
        synced?;
        Ok(LoadedRepository {
            repository,
            session,
        })
    }

    /// Empties tough's datastore and seeds it with the trusted timestamp and snapshot.
    async fn seed(&self, tough_dir: &Path) -> Result<(), TrustedStoreError> {
        match tokio::fs::remove_dir_all(tough_dir).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(tough_dir)(e)),
        }
        tokio::fs::create_dir_all(tough_dir)
            .await
            .map_err(io(tough_dir))?;
        for name in ["timestamp.json", "snapshot.json"] {
            let ours = self.dir.join(name);
            if ours.exists() {
                tokio::fs::copy(&ours, tough_dir.join(name))
                    .await
                    .map_err(io(&ours))?;
            }
        }
        Ok(())
    }

    /// Mirrors what tough accepted into the store as the exact bytes handed to it.
    async fn sync(&self, session: &Session) -> Result<(), TrustedStoreError> {
        let tough_dir = &session.tough_dir;
        let mut entries = tokio::fs::read_dir(tough_dir)
            .await
            .map_err(io(tough_dir))?;
        let handed = session
            .handed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        while let Some(entry) = entries.next_entry().await.map_err(io(tough_dir))? {
            let Ok(file) = entry.file_name().into_string() else {
                continue;
            };
            let name = match file.as_str() {
                "latest_known_time.json" => continue,
                "root.json" | "timestamp.json" | "snapshot.json" | "targets.json" => file.clone(),
                other => match split_versioned(other) {
                    Some((_, name)) => name.to_owned(),
                    None => continue,
                },
            };
            let path = entry.path();
            let written = tokio::fs::read(&path).await.map_err(io(&path))?;
            let Ok(value) = serde_json::from_slice::<Value>(&written) else {
                continue;
            };
            let received = handed
                .iter()
                .rev()
                .map(|h| h.bytes())
                .find(|bytes| serde_json::from_slice::<Value>(bytes).is_ok_and(|v| v == value));
            let bytes = match received {
                Some(bytes) => bytes,
                None if name == "root.json"
                    && serde_json::from_slice::<Value>(&session.initial_root)
                        .is_ok_and(|v| v == value) =>
                {
                    session.initial_root.clone()
                }
                None => {
                    tracing::debug!(file, "no received body matches tough's copy; keeping it");
                    written
                }
            };
            self.write(&name, &bytes).await?;
        }
        // Fast-forward recovery: tough forgot its baseline, so must we.
        for name in ["timestamp.json", "snapshot.json"] {
            if !tough_dir.join(name).exists() {
                let ours = self.dir.join(name);
                match tokio::fs::remove_file(&ours).await {
                    Ok(()) => {
                        tracing::info!(file = name, "trusted copy dropped after key rotation")
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io(&ours)(e)),
                }
            }
        }
        Ok(())
    }

    /// Writes `bytes` as `name` atomically (temp file in the store, then rename), unless the file
    /// already holds them. The temp file's name does not end in `.json`.
    async fn write(&self, name: &str, bytes: &[u8]) -> Result<(), TrustedStoreError> {
        let path = self.dir.join(name);
        if tokio::fs::read(&path).await.is_ok_and(|old| old == bytes) {
            return Ok(());
        }
        write_atomic(&path, bytes).await
    }
}

/// Writes `bytes` to `path` through a temp file in the same folder and a rename; on failure
/// nothing is left behind (bytes, files in the folder).
///
/// # Errors
/// [`TrustedStoreError::Io`] when the folder cannot be written.
pub async fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), TrustedStoreError> {
    let path = path.to_owned();
    let bytes = bytes.to_vec();
    tokio::task::spawn_blocking(move || {
        use std::io::Write as _;
        let dir = path.parent().unwrap_or(Path::new("."));
        let mut tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .suffix(".part")
            .tempfile_in(dir)
            .map_err(io(dir))?;
        tmp.write_all(&bytes).map_err(io(tmp.path()))?;
        tmp.as_file().sync_all().map_err(io(&path))?;
        tmp.persist(&path).map_err(|e| io(&path)(e.error))?;
        Ok(())
    })
    .await
    .map_err(|e| TrustedStoreError::Io {
        path: PathBuf::new(),
        source: std::io::Error::other(e),
    })?
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
