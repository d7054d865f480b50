//! The file work of a [`super::TrustedStore`] load, as plain `std::fs` meant to run in one
//! blocking section before the load ([`prepare`]) and one after it ([`mirror`]), instead of one
//! tokio blocking-pool hop per file operation.
//!
//! - [`prepare`] leaves tough's datastore holding exactly the store's `timestamp.json` and
//!   `snapshot.json` (tough's rollback baselines, TUF 5.4.3 and 5.5.5) and nothing else: its
//!   `latest_known_time.json` clock file goes every time, so a clock that was once ahead never
//!   blocks updates; every other file tough wrote last time goes too, so that what [`mirror`]
//!   finds afterwards was written by this load. A baseline already there
//!   with the same JSON value (tough keeps its own re-serialisation) is left alone, so an
//!   unchanged repository costs no writes; a different or missing one is replaced.
//! - [`mirror`] copies what tough wrote (so: verified) into the store as the exact bytes handed to
//!   it this load, writing only files whose bytes change, and drops the store's baselines when
//!   tough dropped its own (fast-forward recovery after a key rotation, TUF 5.3.11).
//!
//! Both share a [`Stored`] cache of the store's files read in [`prepare`]: the store changes only
//! in [`mirror`], so the transport's trusted local copies and [`mirror`]'s "unchanged?" checks do
//! not read the same files again. JSON values are compared through the store's [`Memo`], so the
//! same documents are not parsed again on every check.

use std::collections::HashMap;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::Value;

use super::memo::Memo;
use super::recording::split_versioned;
use super::{TrustedStoreError, io};

/// The rollback baselines tough reads back from its datastore.
const BASELINES: [&str; 2] = ["timestamp.json", "snapshot.json"];

/// The store files [`prepare`] reads up front: the root to start from and what a no-update
/// check serves locally or compares against.
const PRELOADED: [&str; 4] = [
    "root.json",
    "timestamp.json",
    "snapshot.json",
    "targets.json",
];

/// tough's clock file (not a role; never mirrored).
const CLOCK_FILE: &str = "latest_known_time.json";

/// The store's files as they are on disk (`None`: absent), by non-versioned name; what is not
/// cached is read on demand.
#[derive(Debug, Default, Clone)]
pub(crate) struct Stored {
    dir: PathBuf,
    files: HashMap<String, Option<Vec<u8>>>,
}

impl Stored {
    /// An empty cache of the store in `dir`.
    pub(crate) fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_owned(),
            files: HashMap::new(),
        }
    }

    /// The bytes of store file `name` (`None` when absent), read once.
    ///
    /// # Errors
    /// [`TrustedStoreError::Io`] when the file exists but cannot be read.
    pub(crate) fn get(&mut self, name: &str) -> Result<Option<&[u8]>, TrustedStoreError> {
        if !self.files.contains_key(name) {
            let path = self.dir.join(name);
            let bytes = read_optional(&path)?;
            self.files.insert(name.to_owned(), bytes);
        }
        Ok(self.files.get(name).and_then(Option::as_deref))
    }

    /// The cached bytes of `name` without touching the disk (`None`: absent or not cached).
    pub(crate) fn cached(&self, name: &str) -> Option<&[u8]> {
        self.files.get(name).and_then(Option::as_deref)
    }

    /// Writes `bytes` as store file `name` atomically unless it already holds them; returns
    /// whether it wrote.
    fn put(&mut self, name: &str, bytes: &[u8]) -> Result<bool, TrustedStoreError> {
        if self.get(name)? == Some(bytes) {
            return Ok(false);
        }
        write_atomic_blocking(&self.dir.join(name), bytes)?;
        self.files.insert(name.to_owned(), Some(bytes.to_vec()));
        Ok(true)
    }

    /// Removes store file `name` if present; returns whether it was there.
    fn remove(&mut self, name: &str) -> Result<bool, TrustedStoreError> {
        let path = self.dir.join(name);
        let known_absent = self.files.get(name).is_some_and(Option::is_none);
        let removed = !known_absent && remove_optional(&path)?;
        self.files.insert(name.to_owned(), None);
        Ok(removed)
    }
}

/// What [`prepare`] hands to the load.
#[derive(Debug)]
pub(crate) struct Prepared {
    /// The root bytes the load starts from (the store's `root.json`, else the shipped root).
    pub(crate) initial_root: Vec<u8>,
    /// The store's files read so far.
    pub(crate) stored: Stored,
}

/// Readies the store folder and tough's datastore for a load (see the module documentation)
/// and reads the root to start from: the store's `root.json` when present, else `shipped_root`.
///
/// # Errors
/// [`TrustedStoreError::Io`] when a folder cannot be created or cleared, or a file read.
pub(crate) fn prepare(
    store_dir: &Path,
    tough_dir: &Path,
    shipped_root: Option<&Path>,
    memo: &Mutex<Memo>,
) -> Result<Prepared, TrustedStoreError> {
    std::fs::create_dir_all(store_dir).map_err(io(store_dir))?;
    std::fs::create_dir_all(tough_dir).map_err(io(tough_dir))?;
    let mut stored = Stored::new(store_dir);
    for name in PRELOADED {
        stored.get(name)?;
    }
    for entry in std::fs::read_dir(tough_dir).map_err(io(tough_dir))? {
        let entry = entry.map_err(io(tough_dir))?;
        let name = entry.file_name();
        if BASELINES.iter().any(|b| name == *b) {
            continue;
        }
        let path = entry.path();
        match entry.file_type() {
            Ok(kind) if kind.is_dir() => std::fs::remove_dir_all(&path).map_err(io(&path))?,
            Ok(_) => drop(remove_optional(&path)?),
            Err(_) => remove_any(&path)?,
        }
    }
    for name in BASELINES {
        let theirs = tough_dir.join(name);
        let current = match std::fs::read(&theirs) {
            Ok(bytes) => Some(bytes),
            Err(e) if e.kind() == ErrorKind::NotFound => None,
            Err(_) => {
                remove_any(&theirs)?;
                None
            }
        };
        match (stored.cached(name), current) {
            (None, None) => {}
            (None, Some(_)) => {
                remove_optional(&theirs)?;
            }
            (Some(ours), Some(current)) if same_json(memo, ours, &current) => {}
            (Some(ours), _) => std::fs::write(&theirs, ours).map_err(io(&theirs))?,
        }
    }
    let initial_root = match (stored.cached("root.json"), shipped_root) {
        (Some(root), _) => root.to_vec(),
        (None, Some(shipped)) => std::fs::read(shipped).map_err(io(shipped))?,
        (None, None) => {
            let path = store_dir.join("root.json");
            return Err(io(&path)(std::io::Error::from(ErrorKind::NotFound)));
        }
    };
    Ok(Prepared {
        initial_root,
        stored,
    })
}

/// One metadata body handed to tough during the load: the file name it was fetched as and the
/// bytes tough read.
pub(crate) type HandedBody = (String, Vec<u8>);

/// Mirrors what tough wrote into its datastore during the load into the store, as the exact
/// bytes handed to it (`handed`, oldest first) or, for the root the load started from,
/// `initial_root`; returns the store names written or removed, for logs and tests.
///
/// A role tough wrote whose value matches no received body is kept as tough wrote it, unless
/// the store already holds the same value (a baseline tough did not rewrite this load).
///
/// # Errors
/// [`TrustedStoreError::Io`] when the datastore cannot be listed or a store file not written.
pub(crate) fn mirror(
    tough_dir: &Path,
    handed: &[HandedBody],
    initial_root: &[u8],
    stored: &mut Stored,
    memo: &Mutex<Memo>,
) -> Result<Vec<String>, TrustedStoreError> {
    let value = |bytes: &[u8]| lock(memo).value(bytes);
    // Parsed once, newest first: the last body handed for a role is the one tough kept.
    let received: Vec<(Arc<Value>, &[u8])> = handed
        .iter()
        .rev()
        .filter_map(|(_, bytes)| Some((value(bytes)?, bytes.as_slice())))
        .collect();
    let mut changed = Vec::new();
    let mut present = Vec::new();
    for entry in std::fs::read_dir(tough_dir).map_err(io(tough_dir))? {
        let entry = entry.map_err(io(tough_dir))?;
        let Ok(file) = entry.file_name().into_string() else {
            continue;
        };
        let name = match file.as_str() {
            CLOCK_FILE => continue,
            "root.json" | "timestamp.json" | "snapshot.json" | "targets.json" => file.clone(),
            other => match split_versioned(other) {
                Some((_, name)) => name.to_owned(),
                None => continue,
            },
        };
        present.push(file.clone());
        let path = entry.path();
        let written = std::fs::read(&path).map_err(io(&path))?;
        let Some(written_value) = value(&written) else {
            continue;
        };
        let same = |bytes: &[u8]| value(bytes).is_some_and(|v| v == written_value);
        let bytes = match received.iter().find(|(v, _)| *v == written_value) {
            Some((_, bytes)) => bytes.to_vec(),
            None if name == "root.json" && same(initial_root) => initial_root.to_vec(),
            None => {
                if stored.get(&name)?.is_some_and(same) {
                    continue;
                }
                tracing::debug!(file, "no received body matches tough's copy; keeping it");
                written
            }
        };
        if stored.put(&name, &bytes)? {
            changed.push(name);
        }
    }
    // Fast-forward recovery: tough forgot its baseline, so must we.
    for name in BASELINES {
        if !present.iter().any(|p| p == name) && stored.remove(name)? {
            tracing::info!(file = name, "trusted copy dropped after key rotation");
            changed.push(name.to_owned());
        }
    }
    Ok(changed)
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

/// Whether two JSON documents hold the same value.
fn same_json(memo: &Mutex<Memo>, a: &[u8], b: &[u8]) -> bool {
    if a == b {
        return true;
    }
    let mut memo = lock(memo);
    memo.value(a)
        .is_some_and(|a| memo.value(b).is_some_and(|b| a == b))
}

fn lock(memo: &Mutex<Memo>) -> std::sync::MutexGuard<'_, Memo> {
    memo.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Reads `path`; `None` when it does not exist.
fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, TrustedStoreError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(path)(e)),
    }
}

/// Removes the file `path`; `false` when it did not exist.
fn remove_optional(path: &Path) -> Result<bool, TrustedStoreError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io(path)(e)),
    }
}

/// Removes `path` whatever it is (file, link or folder tree); absent is fine.
fn remove_any(path: &Path) -> Result<(), TrustedStoreError> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(path).map_err(io(path)),
        Ok(_) => remove_optional(path).map(drop),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io(path)(e)),
    }
}
