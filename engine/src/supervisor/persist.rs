//! `state.json`: what the engine remembers between runs (docs/architecture.md, "The data
//! folder"): the version it last installed, the patches that failed (never planned again, rule 5
//! of [`tufd_core::planner`]), when it last checked, and the versions the hook's update policy
//! skipped or deferred, and the archives it refused. Written atomically (temporary file +
//! rename).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};
use tufd_core::Version;

use crate::error::EngineError;

/// The persisted engine state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersistedState {
    /// The version the engine last installed, if any.
    #[serde(default)]
    pub installed_version: Option<Version>,
    /// File names of patches that failed to apply or verify.
    #[serde(default)]
    pub failed_patches: BTreeSet<String>,
    /// When the last check finished, in seconds since the Unix epoch.
    #[serde(default)]
    pub last_check_unix: Option<u64>,
    /// Versions the hook's update policy answered `skip` for (never auto-installed).
    #[serde(default)]
    pub skipped_versions: BTreeSet<String>,
    /// The hook's last `defer-until` answer (no auto-install of that version before then).
    #[serde(default)]
    pub deferred: Option<super::policy::Deferral>,
    /// Archives this client refused (extraction, or their signed tar hash), by target name:
    /// not downloaded again while the metadata signs the same digest.
    #[serde(default)]
    pub refused_archives: BTreeMap<String, RefusedArchive>,
}

/// An archive that was downloaded, verified against TUF, and then refused by this client (its
/// tar did not match the signed `tar_hash`, or extraction found an entry it never writes).
/// Downloading the same bytes again would fail the same way.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusedArchive {
    /// The signed digest of the archive refused (`sha256:<hex>`); a different digest in newer
    /// metadata (a fixed release) is tried again.
    pub digest: String,
    /// The error kind of the refusal (`install-failed`, `target-mismatch`).
    pub kind: tufd_protocol::ErrorKind,
    /// Why, in words.
    pub reason: String,
}

impl PersistedState {
    /// Reads `path`; a missing or unreadable file gives the default (logged), since the state
    /// is an optimisation, never a source of trust.
    pub fn load(path: &Path) -> Self {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!(path = %path.display(), error = %e, "state file unreadable; starting afresh");
                Self::default()
            }),
            Err(_) => Self::default(),
        }
    }

    /// Writes the state to `path` atomically, unless the file already holds exactly these
    /// bytes (a no-update check within the same second changes nothing); returns whether it
    /// wrote.
    ///
    /// # Errors
    /// [`EngineError::Io`] with the path that failed.
    pub fn save(&self, path: &Path) -> Result<bool, EngineError> {
        let bytes = serde_json::to_vec_pretty(self).expect("state serialises");
        if std::fs::read(path).is_ok_and(|old| old == bytes) {
            return Ok(false);
        }
        // Recomputed by the next check when lost: no sync needed.
        tufd_core::fs::write_atomic(path, &bytes, tufd_core::fs::Durability::Atomic)
            .map_err(|(p, e)| EngineError::io(p, e))?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_garbage_tolerance() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        assert_eq!(PersistedState::load(&path), PersistedState::default());
        let state = PersistedState {
            installed_version: Some("2.0".parse().unwrap()),
            failed_patches: ["demo-2.0.patch".to_owned()].into(),
            last_check_unix: Some(5),
            skipped_versions: ["3.0".to_owned()].into(),
            deferred: Some(super::super::policy::Deferral {
                version: "2.1".parse().unwrap(),
                until_unix: 99,
            }),
            refused_archives: [(
                "demo-3.0.tar.gz".to_owned(),
                RefusedArchive {
                    digest: "sha256:ab".into(),
                    kind: tufd_protocol::ErrorKind::InstallFailed,
                    reason: "an entry leaves the folder".into(),
                },
            )]
            .into(),
        };
        state.save(&path).unwrap();
        assert_eq!(PersistedState::load(&path), state);
        std::fs::write(&path, "garbage").unwrap();
        assert_eq!(PersistedState::load(&path), PersistedState::default());
    }

    #[cfg(unix)]
    #[test]
    fn an_unchanged_state_is_not_rewritten() {
        use std::os::unix::fs::MetadataExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let mut state = PersistedState {
            last_check_unix: Some(5),
            ..PersistedState::default()
        };
        assert!(state.save(&path).unwrap(), "first save writes");
        let inode = std::fs::metadata(&path).unwrap().ino();
        assert!(!state.save(&path).unwrap(), "same content: no write");
        assert_eq!(std::fs::metadata(&path).unwrap().ino(), inode);
        assert!(!dir.path().join("state.json.tmp").exists());
        state.last_check_unix = Some(6);
        assert!(state.save(&path).unwrap(), "changed content is written");
        assert_ne!(std::fs::metadata(&path).unwrap().ino(), inode);
        assert_eq!(PersistedState::load(&path), state);
        // A file changed behind our back is rewritten.
        std::fs::write(&path, "garbage").unwrap();
        assert!(state.save(&path).unwrap());
        assert_eq!(PersistedState::load(&path), state);
    }
}
