//! The published repository on disk: its layout ([`Layout`]), reading its current signed state
//! without verifying expiry ([`State`]), signing roles ([`sign`]) and publishing changes
//! atomically ([`txn`]).
//!
//! Editing reads the files directly rather than through tough's `RepositoryLoader` so that a
//! repository whose timestamp has expired, or whose keys were just rotated, can still be
//! re-signed (tough's loader refuses expired metadata). `verify` is the command that reads
//! the tree as a client does.

pub mod delegation;
pub mod fsutil;
pub mod sign;
pub mod txn;

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use tough::schema::{Root, Signed, Snapshot, Targets, Timestamp};
use tufd_core::{TargetName, Version};

use crate::error::{Error, Result};

/// Paths of the served tree.
#[derive(Clone, Debug)]
pub struct Layout {
    /// The repository folder (served as is).
    pub dir: PathBuf,
    /// `<dir>/metadata`.
    pub metadata: PathBuf,
    /// `<dir>/targets`.
    pub targets: PathBuf,
}

impl Layout {
    /// The layout under `dir`.
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
            metadata: dir.join("metadata"),
            targets: dir.join("targets"),
        }
    }
}

/// A parsed metadata file and the exact bytes it was read from.
#[derive(Clone, Debug)]
pub struct Loaded<T> {
    /// The parsed, signed role.
    pub signed: Signed<T>,
    /// The file's bytes (what snapshot/timestamp hash).
    pub bytes: Vec<u8>,
    /// File name inside `metadata/`.
    pub file_name: String,
}

fn read_json<T: DeserializeOwned>(dir: &Path, file_name: &str) -> Result<Loaded<T>> {
    read_with(dir, file_name, |bytes| serde_json::from_slice(bytes))
}

fn read_with<T>(
    dir: &Path,
    file_name: &str,
    parse: impl FnOnce(&[u8]) -> serde_json::Result<Signed<T>>,
) -> Result<Loaded<T>> {
    let path = dir.join(file_name);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(source) => return Err(Error::MetadataRead { path, source }),
    };
    let signed = match parse(&bytes) {
        Ok(s) => s,
        Err(source) => return Err(Error::MetadataParse { path, source }),
    };
    Ok(Loaded {
        signed,
        bytes,
        file_name: file_name.to_owned(),
    })
}

/// Parses a root file keeping its key ids as written. tough's `Root` deserialiser refuses a key
/// id that is not the sha256 of the key's canonical JSON, which the key ids of tufup (legacy
/// securesystemslib ids, computed over fields the file does not hold) are not; the TUF
/// specification treats key ids as opaque, so the keys map is read on its own, unchecked.
/// Signing looks keys up by their public half ([`sign::signers_for`]), never by a computed id.
///
/// # Errors
/// The JSON error when the bytes are not a signed root.
pub fn parse_root(bytes: &[u8]) -> serde_json::Result<Signed<Root>> {
    use std::collections::HashMap;
    use tough::schema::decoded::{Decoded, Hex};
    use tough::schema::key::Key;
    let mut value: serde_json::Value = serde_json::from_slice(bytes)?;
    let keys = value
        .get_mut("signed")
        .and_then(|s| s.get_mut("keys"))
        .map(|k| std::mem::replace(k, serde_json::Value::Object(Default::default())));
    let mut root: Signed<Root> = serde_json::from_value(value)?;
    if let Some(keys) = keys {
        root.signed.keys = serde_json::from_value::<HashMap<Decoded<Hex>, Key>>(keys)?;
    }
    Ok(root)
}

/// The current top-level metadata of a repository, as published.
#[derive(Clone, Debug)]
pub struct State {
    /// The newest `N.root.json`.
    pub root: Loaded<Root>,
    /// The targets role the current snapshot names.
    pub targets: Loaded<Targets>,
    /// The snapshot role the current timestamp names.
    pub snapshot: Loaded<Snapshot>,
    /// `timestamp.json`.
    pub timestamp: Loaded<Timestamp>,
}

/// The highest `N` of the `N.root.json` files in `metadata`, if any.
///
/// # Errors
/// [`Error::Io`] for a folder that exists but cannot be listed.
pub fn latest_root_version(metadata: &Path) -> Result<Option<u64>> {
    let mut best = None;
    let entries = match std::fs::read_dir(metadata) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("list", metadata)(e)),
    };
    for entry in entries {
        let name = entry.map_err(Error::io("list", metadata))?.file_name();
        let Some(n) = name
            .to_str()
            .and_then(|n| n.strip_suffix(".root.json"))
            .and_then(|n| n.parse::<u64>().ok())
        else {
            continue;
        };
        best = best.max(Some(n));
    }
    Ok(best)
}

/// The metadata file name of a role at `version`.
pub fn role_file(role: &str, version: u64, consistent: bool) -> String {
    if consistent || role == "root" {
        format!("{version}.{role}.json")
    } else {
        format!("{role}.json")
    }
}

/// The file name of a target in `targets/`: `<sha256>.<name>` with consistent snapshots; for a
/// path in a folder the hash prefixes the file name, not the folder (TUF 5.7.3:
/// `linux-x86_64/<sha256>.<name>`).
pub fn target_file(name: &str, sha256_hex: &str, consistent: bool) -> String {
    match (consistent, name.rsplit_once('/')) {
        (false, _) => name.to_owned(),
        (true, Some((dir, base))) => format!("{dir}/{sha256_hex}.{base}"),
        (true, None) => format!("{sha256_hex}.{name}"),
    }
}

impl State {
    /// Reads the newest root, then timestamp → snapshot → targets as they name each other.
    ///
    /// # Errors
    /// [`Error::NotARepository`], [`Error::MetadataRead`], [`Error::MetadataParse`],
    /// [`Error::MetadataMissingEntry`] (kind `metadata-invalid`), [`Error::Io`].
    pub fn load(layout: &Layout) -> Result<Self> {
        let Some(n) = latest_root_version(&layout.metadata)? else {
            return Err(Error::NotARepository {
                metadata: layout.metadata.clone(),
            });
        };
        let root: Loaded<Root> =
            read_with(&layout.metadata, &format!("{n}.root.json"), parse_root)?;
        let consistent = root.signed.signed.consistent_snapshot;
        let timestamp: Loaded<Timestamp> = read_json(&layout.metadata, "timestamp.json")?;
        let snap_v = timestamp
            .signed
            .signed
            .meta
            .get("snapshot.json")
            .ok_or(Error::MetadataMissingEntry {
                file: "timestamp.json",
                entry: "snapshot.json",
            })?
            .version
            .get();
        let snapshot: Loaded<Snapshot> =
            read_json(&layout.metadata, &role_file("snapshot", snap_v, consistent))?;
        let targets_v = snapshot
            .signed
            .signed
            .meta
            .get("targets.json")
            .ok_or(Error::MetadataMissingEntry {
                file: "snapshot",
                entry: "targets.json",
            })?
            .version
            .get();
        let targets: Loaded<Targets> = read_json(
            &layout.metadata,
            &role_file("targets", targets_v, consistent),
        )?;
        Ok(Self {
            root,
            targets,
            snapshot,
            timestamp,
        })
    }

    /// Whether the repository uses consistent snapshots.
    pub fn consistent(&self) -> bool {
        self.root.signed.signed.consistent_snapshot
    }

    /// The releases of `app` listed in targets, parsed, sorted by version (oldest first).
    /// Names that do not parse are skipped.
    pub fn releases(&self, app: &str) -> Vec<(TargetName, tough::schema::Target)> {
        let mut out: Vec<_> = self
            .targets
            .signed
            .signed
            .targets
            .iter()
            .filter_map(|(name, t)| {
                let parsed = TargetName::parse(name.raw()).ok()?;
                (parsed.app() == app).then(|| (parsed, t.clone()))
            })
            .collect();
        out.sort_by(|a, b| {
            a.0.version()
                .cmp(b.0.version())
                .then(a.0.suffix().cmp(&b.0.suffix()))
        });
        out
    }

    /// The newest archive of `app` (its name and target), if any.
    pub fn latest_archive(&self, app: &str) -> Option<(TargetName, tough::schema::Target)> {
        self.releases(app)
            .into_iter()
            .filter(|(n, _)| n.suffix().is_archive())
            .max_by(|a, b| a.0.version().cmp(b.0.version()))
    }

    /// The newest version of `app` among all its targets (archives and patches).
    pub fn latest_version(&self, app: &str) -> Option<Version> {
        self.releases(app)
            .into_iter()
            .map(|(n, _)| n.version().clone())
            .max()
    }
}
