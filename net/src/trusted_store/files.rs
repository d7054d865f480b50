//! [`StoreFiles`]: the store folder as the TUF client's `MetadataStore`, with the file work of a
//! load in one blocking section before it ([`StoreFiles::prepare`]) and one after it
//! ([`StoreFiles::flush`]), instead of file operations on the async runtime.
//!
//! - The TUF client reads its local copies through [`MetadataStore::load`]: the four top-level
//!   roles are read in [`StoreFiles::prepare`]; a delegated role is read when asked for.
//! - It hands every role it verified to [`MetadataStore::store`] as the exact bytes received;
//!   they wait in memory and [`StoreFiles::flush`] writes them atomically under their
//!   non-versioned name, only when they differ from the file's bytes.
//! - A stored role that lists one key under two ids of a role ([`super::keys`]) is not handed to
//!   the client.
//! - Names the store does not keep are neither read nor written: the client's root history
//!   (`root_history/N.root.json`; `root.json` is the newest trusted root and a refresh starts
//!   from it), version-prefixed copies (`N.snapshot.json`, kept as `snapshot.json`) and cached
//!   targets (`targets/…`; tufd downloads targets itself).

use std::collections::{BTreeMap, HashMap};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use sigstore_tuf::MetadataStore;

use super::keys::{MetadataKind, check_metadata};
use super::{TrustedStoreError, io};

/// The store files read before every load: the root to start from and the local copies the TUF
/// client compares with (version floors across runs, reuse of unchanged metadata).
const PRELOADED: [&str; 4] = [
    "root.json",
    "timestamp.json",
    "snapshot.json",
    "targets.json",
];

/// The datastore folder of the TUF library tufd used before (removed on the next load).
const LEGACY_DATASTORE: &str = "tough-datastore";

/// The store folder of one load (see the module documentation).
#[derive(Debug)]
pub(crate) struct StoreFiles {
    dir: PathBuf,
    /// File contents as on disk by name (`None`: absent), as far as read.
    disk: Mutex<HashMap<String, Option<Vec<u8>>>>,
    /// Verified bytes not yet written, by name (the last one handed over wins).
    pending: Mutex<BTreeMap<String, Vec<u8>>>,
}

/// Whether the store keeps a file named `name` (see the module documentation).
fn kept(name: &str) -> bool {
    let versioned = name.split_once('.').is_some_and(|(head, rest)| {
        !head.is_empty() && head.bytes().all(|b| b.is_ascii_digit()) && rest.ends_with(".json")
    });
    name.ends_with(".json") && !name.contains(['/', '\\']) && !versioned
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl StoreFiles {
    /// The store in `dir`, nothing read yet.
    pub(crate) fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_owned(),
            disk: Mutex::default(),
            pending: Mutex::default(),
        }
    }

    /// Creates the folder, removes the legacy datastore, reads the preloaded files and returns
    /// the root to start from: the store's `root.json` when present, else `shipped_root`.
    /// Blocking.
    ///
    /// # Errors
    /// [`TrustedStoreError::Io`] when the folder cannot be created or a file read, or when there
    /// is neither a stored nor a shipped root.
    pub(crate) fn prepare(
        &self,
        shipped_root: Option<&Path>,
    ) -> Result<Vec<u8>, TrustedStoreError> {
        std::fs::create_dir_all(&self.dir).map_err(io(&self.dir))?;
        let legacy = self.dir.join(LEGACY_DATASTORE);
        if legacy.is_dir() {
            std::fs::remove_dir_all(&legacy).map_err(io(&legacy))?;
        }
        for name in PRELOADED {
            self.read(name)?;
        }
        match (self.read("root.json")?, shipped_root) {
            (Some(root), _) => Ok(root),
            (None, Some(shipped)) => std::fs::read(shipped).map_err(io(shipped)),
            (None, None) => {
                let path = self.dir.join("root.json");
                Err(io(&path)(std::io::Error::from(ErrorKind::NotFound)))
            }
        }
    }

    /// The bytes of file `name` (`None`: absent), read from disk once.
    fn read(&self, name: &str) -> Result<Option<Vec<u8>>, TrustedStoreError> {
        if let Some(bytes) = lock(&self.disk).get(name) {
            return Ok(bytes.clone());
        }
        let path = self.dir.join(name);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => Some(bytes),
            Err(e) if e.kind() == ErrorKind::NotFound => None,
            Err(e) => return Err(io(&path)(e)),
        };
        lock(&self.disk).insert(name.to_owned(), bytes.clone());
        Ok(bytes)
    }

    /// Writes the pending files whose bytes differ from the file's; returns the names written.
    /// Blocking.
    ///
    /// # Errors
    /// [`TrustedStoreError::Io`] when a file cannot be read or written (the files not written
    /// stay pending).
    pub(crate) fn flush(&self) -> Result<Vec<String>, TrustedStoreError> {
        let pending = std::mem::take(&mut *lock(&self.pending));
        let mut written = Vec::new();
        let mut entries = pending.into_iter();
        while let Some((name, bytes)) = entries.next() {
            let result = self.read(&name).and_then(|current| {
                if current.as_deref() == Some(bytes.as_slice()) {
                    return Ok(false);
                }
                write_atomic_blocking(&self.dir.join(&name), &bytes)?;
                Ok(true)
            });
            match result {
                Ok(changed) => {
                    if changed {
                        written.push(name.clone());
                    }
                    lock(&self.disk).insert(name, Some(bytes));
                }
                Err(e) => {
                    let mut pending = lock(&self.pending);
                    pending.insert(name, bytes);
                    pending.extend(entries);
                    return Err(e);
                }
            }
        }
        Ok(written)
    }
}

impl MetadataStore for StoreFiles {
    fn load(&self, name: &str) -> sigstore_tuf::Result<Option<Vec<u8>>> {
        if !kept(name) {
            return Ok(None);
        }
        if let Some(bytes) = lock(&self.pending).get(name) {
            return Ok(Some(bytes.clone()));
        }
        let bytes = self.read(name).map_err(|e| match e {
            TrustedStoreError::Io { path, source } => {
                sigstore_tuf::Error::io(format!("reading {}", path.display()), source)
            }
            other => sigstore_tuf::Error::Malformed(other.to_string()),
        })?;
        // A copy stored before tufd refused one key under two ids is no local copy: the
        // repository's is fetched, and refused, instead.
        if let Some(reuse) = bytes
            .as_deref()
            .and_then(|b| check_metadata(name, MetadataKind::of(name), b).err())
        {
            tracing::warn!(error = %reuse, "stored metadata ignored");
            return Ok(None);
        }
        Ok(bytes)
    }

    fn store(&self, name: &str, bytes: &[u8]) -> sigstore_tuf::Result<()> {
        if kept(name) {
            lock(&self.pending).insert(name.to_owned(), bytes.to_vec());
        }
        Ok(())
    }
}

/// Writes `bytes` to `path` through a temp file in the same folder, an fsync and a rename; on
/// failure nothing is left behind. The temp file's name does not end in `.json`.
///
/// # Errors
/// [`TrustedStoreError::Io`] when the folder cannot be written.
pub(crate) fn write_atomic_blocking(path: &Path, bytes: &[u8]) -> Result<(), TrustedStoreError> {
    tufd_core::fs::write_atomic(path, bytes, tufd_core::fs::Durability::Synced)
        .map_err(|(p, e)| io(&p)(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_non_versioned_role_files_are_kept() {
        for name in [
            "root.json",
            "timestamp.json",
            "snapshot.json",
            "%2Fx.json",
            "role1.json",
            "2019.json",
        ] {
            assert!(kept(name), "{name}");
        }
        for name in [
            "root_history/2.root.json",
            "2.root.json",
            "3.snapshot.json",
            "12.%2Fx.json",
            "targets/a.txt",
            "a.txt",
        ] {
            assert!(!kept(name), "{name}");
        }
    }

    #[test]
    fn only_changed_bytes_are_written() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("timestamp.json"), b"same").unwrap();
        let files = StoreFiles::new(dir.path());
        files.prepare(None).unwrap_err();
        files.store("timestamp.json", b"same").unwrap();
        files.store("snapshot.json", b"new").unwrap();
        files.store("3.snapshot.json", b"new").unwrap();
        files.store("root_history/1.root.json", b"r").unwrap();
        assert_eq!(files.flush().unwrap(), ["snapshot.json"]);
        assert_eq!(
            std::fs::read(dir.path().join("snapshot.json")).unwrap(),
            b"new"
        );
        assert!(!dir.path().join("3.snapshot.json").exists());
        assert!(!dir.path().join("root_history").exists());
        assert_eq!(files.load("snapshot.json").unwrap().unwrap(), b"new");
        assert_eq!(files.load("2.root.json").unwrap(), None);
    }
}
