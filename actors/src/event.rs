//! What the engine tells the outside world: [`Event`]s on a broadcast channel, and the
//! [`CheckReport`] a check answers with (contract: "`tufd check --json` output" and the
//! JSON-RPC notifications).

use serde::Serialize;
use tufd_core::Version;
use tufd_core::planner::{FullReason, Plan};

use crate::supervisor::machine::Phase;

/// A notification from the engine. The daemon forwards each as the JSON-RPC notification of
/// the same name (`state`, `progress`, `update-available`, `restart-required`, `error`).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// The state machine moved.
    State {
        /// The new phase.
        state: Phase,
    },
    /// Bytes of one target fetched so far.
    Progress {
        /// The target file name.
        target: String,
        /// Bytes verified so far.
        done_bytes: u64,
        /// The signed length in bytes.
        total_bytes: u64,
    },
    /// A check found an update.
    UpdateAvailable(CheckReport),
    /// The new version is installed and no relaunch was configured.
    RestartRequired {
        /// The installed version.
        version: Version,
    },
    /// An operation failed.
    Error {
        /// The contract's error kind.
        kind: &'static str,
        /// Human-readable text.
        message: String,
    },
}

impl Event {
    /// The notification's method name.
    pub fn method(&self) -> &'static str {
        match self {
            Event::State { .. } => "state",
            Event::Progress { .. } => "progress",
            Event::UpdateAvailable(_) => "update-available",
            Event::RestartRequired { .. } => "restart-required",
            Event::Error { .. } => "error",
        }
    }

    /// The notification's params object.
    pub fn params(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            Event::State { state } => json!({ "state": state }),
            Event::Progress {
                target,
                done_bytes,
                total_bytes,
            } => json!({ "target": target, "done_bytes": done_bytes, "total_bytes": total_bytes }),
            Event::UpdateAvailable(report) => json!({
                "current": report.current,
                "latest": report.latest,
                "plan": report.plan,
            }),
            Event::RestartRequired { version } => json!({ "version": version }),
            Event::Error { kind, message } => json!({ "kind": kind, "message": message }),
        }
    }
}

/// The outcome of a check, as `tufd check --json` prints it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CheckReport {
    /// The installed version.
    pub current: Version,
    /// The version the plan goes to, or the current one when up to date.
    pub latest: Version,
    /// Whether an update is planned.
    pub update_available: bool,
    /// How to get there; `null` when up to date.
    pub plan: Option<PlanSummary>,
}

/// The plan in brief: patch file names or the archive, with the bytes to fetch.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum PlanSummary {
    /// Apply patches.
    Patches {
        /// Patch file names, first applied first.
        patches: Vec<String>,
        /// Σ signed lengths in bytes.
        bytes: u64,
    },
    /// Download the full archive.
    Full {
        /// The archive file name.
        full: String,
        /// Why not patches.
        reason: String,
        /// Its signed length in bytes.
        bytes: u64,
    },
}

impl CheckReport {
    /// The report of `plan` for an app at `current`.
    pub fn from_plan(current: &Version, plan: &Plan) -> Self {
        match plan {
            Plan::UpToDate => CheckReport {
                current: current.clone(),
                latest: current.clone(),
                update_available: false,
                plan: None,
            },
            Plan::Patches { to, patches, .. } => CheckReport {
                current: current.clone(),
                latest: to.clone(),
                update_available: true,
                plan: Some(PlanSummary::Patches {
                    patches: patches.iter().map(|p| p.name.as_str().to_owned()).collect(),
                    bytes: patches.iter().map(|p| p.length).sum(),
                }),
            },
            Plan::Full {
                to,
                archive,
                reason,
            } => CheckReport {
                current: current.clone(),
                latest: to.clone(),
                update_available: true,
                plan: Some(PlanSummary::Full {
                    full: archive.name.as_str().to_owned(),
                    reason: describe_reason(reason),
                    bytes: archive.length,
                }),
            },
        }
    }
}

/// A short lower-case sentence for a [`FullReason`].
pub fn describe_reason(reason: &FullReason) -> String {
    match reason {
        FullReason::PatchesDisabled => "patches are disabled".into(),
        FullReason::ChainGap { from } => format!("no patch leads on from {from}"),
        FullReason::BaseUnavailable => {
            "no cached base tar and no signed tar digest to rebuild it".into()
        }
        FullReason::PatchFailedBefore { patch } => format!("patch {patch} failed before"),
        FullReason::ChainTooLarge {
            chain_bytes,
            archive_bytes,
        } => format!(
            "patches ({chain_bytes} bytes) cost more than the archive ({archive_bytes} bytes)"
        ),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn up_to_date_report_has_null_plan() {
        let v: Version = "1.0".parse().unwrap();
        let r = CheckReport::from_plan(&v, &Plan::UpToDate);
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            json!({"current": "1.0", "latest": "1.0", "update_available": false, "plan": null})
        );
    }

    #[test]
    fn events_have_contract_methods() {
        let e = Event::Progress {
            target: "demo-2.0.patch".into(),
            done_bytes: 5,
            total_bytes: 10,
        };
        assert_eq!(e.method(), "progress");
        assert_eq!(
            e.params(),
            json!({"target": "demo-2.0.patch", "done_bytes": 5, "total_bytes": 10})
        );
        assert_eq!(
            Event::State {
                state: Phase::Checking
            }
            .params(),
            json!({"state": "checking"})
        );
    }
}
