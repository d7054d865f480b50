//! The result object of each [`Method`](crate::Method). Fields a reader may not get from an
//! older tufd default to empty on decoding.

use serde::{Deserialize, Serialize};

use crate::State;

/// Result of `status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// Where the engine stands.
    pub state: State,
    /// The installed version.
    pub current: String,
    /// The newest version the last check found, if newer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest: Option<String>,
    /// The staged version waiting for `install`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<String>,
    /// Set when an administrator's policy file manages updates on this machine: what it does
    /// and where it is (`updates disabled by /etc/tufd/demo.toml`), or why it could not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed: Option<String>,
    /// The platform whose releases this install takes, `<os>-<arch>` (`linux-x86_64`): the
    /// one tufd was built for, or the `--platform` override. Absent when tufd was built for a
    /// platform that has no such name and none was given (only flat releases are considered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// Top-level entries that were in the install folder, are not part of the installed
    /// version and were not kept: the update that installed it moved them to the backup with
    /// the old version, and the next update deletes them. Empty when none (or the installed
    /// version was not installed by tufd).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub left_behind: Vec<String>,
    /// The kept paths (`--keep`) the update that installed this version carried over.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kept: Vec<String>,
}

/// Result of `check`, the `update-available` notification's params and `tufd check --json`'s
/// output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckReport {
    /// The installed version.
    pub current: String,
    /// The version the plan goes to; the installed one when up to date.
    pub latest: String,
    /// Whether an update is planned.
    pub update_available: bool,
    /// How to get there; `null` when up to date.
    pub plan: Option<PlanSummary>,
    /// Set when an administrator's policy file manages updates (see [`Status::managed`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed: Option<String>,
    /// Set when the installed version was yanked by its publisher and the plan goes back to
    /// an older release (a signed downgrade); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub downgrade: Option<Downgrade>,
}

/// Why a check goes back to an older version: the installed one was yanked (marked bad, signed
/// in the repository's targets metadata).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Downgrade {
    /// The installed, yanked version.
    pub yanked: String,
    /// The publisher's reason, if one was given.
    #[serde(default)]
    pub reason: Option<String>,
}

/// How an update is downloaded: a chain of patches or the full archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PlanSummary {
    /// Patches applied in order to the installed version.
    Patches {
        /// Patch target names, first applied first.
        patches: Vec<String>,
        /// Σ signed lengths, in bytes.
        bytes: u64,
    },
    /// The full archive.
    Full {
        /// The archive's target name.
        full: String,
        /// Why not patches, in words.
        #[serde(default)]
        reason: String,
        /// Its signed length, in bytes.
        bytes: u64,
    },
}

impl PlanSummary {
    /// Bytes to download.
    pub fn bytes(&self) -> u64 {
        match self {
            Self::Patches { bytes, .. } | Self::Full { bytes, .. } => *bytes,
        }
    }
}

/// Result of `download`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Staged {
    /// The staged version.
    pub version: String,
    /// Always true.
    pub staged: bool,
}

/// Result of `install`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Installed {
    /// The installed version (the version being installed when `handed_off`).
    pub version: String,
    /// True once the new version is in place; false when `handed_off`.
    pub installed: bool,
    /// True when tufd runs from inside the install folder on Windows, which cannot rename it
    /// while tufd runs: a copy of tufd outside the folder swaps once the app and this daemon
    /// have exited (and relaunches the app if `--relaunch` is set). Absent means false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub handed_off: bool,
}

/// Result of `cancel`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cancelled {
    /// Whether a running operation was stopped.
    pub cancelled: bool,
}

/// Result of `confirm`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmed {
    /// The version committed by this request; `None` when no version was on trial.
    pub confirmed: Option<String>,
}

/// Result of `rollback`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolledBack {
    /// The version installed again.
    pub version: String,
    /// Always true.
    pub rolled_back: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn status_leaves_out_absent_versions_and_reads_them_back() {
        let s = Status {
            state: State::Idle,
            current: "1.0".into(),
            latest: None,
            pending: None,
            managed: None,
            platform: None,
            left_behind: Vec::new(),
            kept: Vec::new(),
        };
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v, json!({"state": "idle", "current": "1.0"}));
        assert_eq!(serde_json::from_value::<Status>(v).unwrap(), s);
        let s = Status {
            platform: Some("linux-x86_64".into()),
            left_behind: vec!["notes.txt".into()],
            kept: vec!["settings.ini".into()],
            ..s
        };
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["left_behind"], json!(["notes.txt"]));
        assert_eq!(v["platform"], "linux-x86_64");
        assert_eq!(serde_json::from_value::<Status>(v).unwrap(), s);
    }

    #[test]
    fn plan_summary_is_untagged_both_ways() {
        let full = json!({"full": "a-2.0.tar.gz", "reason": "patches are disabled", "bytes": 9});
        let p: PlanSummary = serde_json::from_value(full.clone()).unwrap();
        assert!(matches!(p, PlanSummary::Full { bytes: 9, .. }));
        assert_eq!(serde_json::to_value(&p).unwrap(), full);
        let patches = json!({"patches": ["a-2.0.patch"], "bytes": 3});
        let p: PlanSummary = serde_json::from_value(patches.clone()).unwrap();
        assert_eq!(p.bytes(), 3);
        assert_eq!(serde_json::to_value(&p).unwrap(), patches);
    }
}
