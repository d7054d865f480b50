use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::{CheckReport, Downgrade, ErrorKind, PlanSummary, State};

/// A notification from tufd (a JSON-RPC request without an id).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Notification {
    /// `state`: the engine moved to `state`.
    State(State),
    /// `progress` of one download.
    Progress {
        /// The target name.
        target: String,
        /// Bytes downloaded and verified so far.
        done_bytes: u64,
        /// The target's signed length in bytes.
        total_bytes: u64,
    },
    /// `update-available` after a check that found an update.
    UpdateAvailable {
        /// The installed version.
        current: String,
        /// The version the plan goes to.
        latest: String,
        /// How to get there.
        plan: Option<PlanSummary>,
        /// Set when the update goes back from a yanked version (see
        /// [`CheckReport::downgrade`]); the params carry `downgrade` only then.
        downgrade: Option<Downgrade>,
    },
    /// `plan-changed`: the announced patches cannot be used after all, and the full archive is
    /// downloaded instead (the base tar does not rebuild, a patch was refused or failed).
    PlanChanged {
        /// The archive downloaded instead.
        full: String,
        /// Its signed length in bytes.
        bytes: u64,
        /// Why, in words.
        reason: String,
    },
    /// `restart-required`: installed, and no relaunch was configured.
    RestartRequired {
        /// The new version.
        version: String,
    },
    /// `error`: an operation failed.
    Error {
        /// The error kind.
        kind: ErrorKind,
        /// The message, with its causes.
        message: String,
    },
    /// A notification this reader does not know, or whose params did not decode.
    Other {
        /// Its method.
        method: String,
        /// Its params.
        params: Value,
    },
}

impl Notification {
    /// The `update-available` notification of `report`.
    pub fn update_available(report: &CheckReport) -> Self {
        Notification::UpdateAvailable {
            current: report.current.clone(),
            latest: report.latest.clone(),
            plan: report.plan.clone(),
            downgrade: report.downgrade.clone(),
        }
    }

    /// The notification's method name.
    pub fn method(&self) -> &str {
        match self {
            Notification::State(_) => "state",
            Notification::Progress { .. } => "progress",
            Notification::UpdateAvailable { .. } => "update-available",
            Notification::RestartRequired { .. } => "restart-required",
            Notification::PlanChanged { .. } => "plan-changed",
            Notification::Error { .. } => "error",
            Notification::Other { method, .. } => method,
        }
    }

    /// The notification's params object.
    pub fn params(&self) -> Value {
        match self {
            Notification::State(state) => json!({ "state": state }),
            Notification::Progress {
                target,
                done_bytes,
                total_bytes,
            } => json!({ "target": target, "done_bytes": done_bytes, "total_bytes": total_bytes }),
            Notification::UpdateAvailable {
                current,
                latest,
                plan,
                downgrade: None,
            } => json!({ "current": current, "latest": latest, "plan": plan }),
            Notification::UpdateAvailable {
                current,
                latest,
                plan,
                downgrade: Some(downgrade),
            } => {
                json!({ "current": current, "latest": latest, "plan": plan, "downgrade": downgrade })
            }
            Notification::RestartRequired { version } => json!({ "version": version }),
            Notification::PlanChanged {
                full,
                bytes,
                reason,
            } => json!({ "full": full, "bytes": bytes, "reason": reason }),
            Notification::Error { kind, message } => json!({ "kind": kind, "message": message }),
            Notification::Other { params, .. } => params.clone(),
        }
    }

    /// Decodes the notification `method` with `params`; unknown or malformed ones become
    /// [`Notification::Other`].
    pub fn decode(method: &str, params: Value) -> Self {
        #[derive(Deserialize)]
        struct StateParams {
            state: State,
        }
        #[derive(Deserialize)]
        struct ProgressParams {
            target: String,
            done_bytes: u64,
            total_bytes: u64,
        }
        #[derive(Deserialize)]
        struct AvailableParams {
            current: String,
            latest: String,
            plan: Option<PlanSummary>,
            #[serde(default)]
            downgrade: Option<Downgrade>,
        }
        #[derive(Deserialize)]
        struct RestartParams {
            version: String,
        }
        #[derive(Deserialize)]
        struct PlanChangedParams {
            full: String,
            bytes: u64,
            reason: String,
        }
        #[derive(Deserialize)]
        struct ErrorParams {
            kind: ErrorKind,
            message: String,
        }
        fn as_<T: DeserializeOwned>(params: &Value) -> Option<T> {
            serde_json::from_value(params.clone()).ok()
        }
        let decoded = match method {
            "state" => as_::<StateParams>(&params).map(|p| Notification::State(p.state)),
            "progress" => as_::<ProgressParams>(&params).map(|p| Notification::Progress {
                target: p.target,
                done_bytes: p.done_bytes,
                total_bytes: p.total_bytes,
            }),
            "update-available" => {
                as_::<AvailableParams>(&params).map(|p| Notification::UpdateAvailable {
                    current: p.current,
                    latest: p.latest,
                    plan: p.plan,
                    downgrade: p.downgrade,
                })
            }
            "restart-required" => as_::<RestartParams>(&params)
                .map(|p| Notification::RestartRequired { version: p.version }),
            "plan-changed" => {
                as_::<PlanChangedParams>(&params).map(|p| Notification::PlanChanged {
                    full: p.full,
                    bytes: p.bytes,
                    reason: p.reason,
                })
            }
            "error" => as_::<ErrorParams>(&params).map(|p| Notification::Error {
                kind: p.kind,
                message: p.message,
            }),
            _ => None,
        };
        decoded.unwrap_or_else(|| Notification::Other {
            method: method.to_owned(),
            params,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_notification_decodes_what_it_encodes() {
        let all = [
            Notification::State(State::RolledBack),
            Notification::Progress {
                target: "demo-2.0.patch".into(),
                done_bytes: 5,
                total_bytes: 10,
            },
            Notification::UpdateAvailable {
                current: "1.0".into(),
                latest: "2.0".into(),
                plan: Some(PlanSummary::Patches {
                    patches: vec!["demo-2.0.patch".into()],
                    bytes: 10,
                }),
                downgrade: None,
            },
            Notification::UpdateAvailable {
                current: "2.0".into(),
                latest: "1.0".into(),
                plan: Some(PlanSummary::Full {
                    full: "demo-1.0.tar.gz".into(),
                    reason: "going back from yanked 2.0".into(),
                    bytes: 10,
                }),
                downgrade: Some(Downgrade {
                    yanked: "2.0".into(),
                    reason: Some("crashes at start".into()),
                }),
            },
            Notification::RestartRequired {
                version: "2.0".into(),
            },
            Notification::PlanChanged {
                full: "demo-2.0.tar.gz".into(),
                bytes: 5_000_000,
                reason: "patch demo-2.0.patch was refused".into(),
            },
            Notification::Error {
                kind: ErrorKind::Network,
                message: "unreachable".into(),
            },
        ];
        for n in all {
            assert_eq!(Notification::decode(n.method(), n.params()), n);
        }
    }

    #[test]
    fn progress_params_are_the_documented_shape() {
        let n = Notification::Progress {
            target: "demo-2.0.patch".into(),
            done_bytes: 5,
            total_bytes: 10,
        };
        assert_eq!(n.method(), "progress");
        assert_eq!(
            n.params(),
            json!({"target": "demo-2.0.patch", "done_bytes": 5, "total_bytes": 10})
        );
    }

    #[test]
    fn malformed_or_unknown_notifications_are_other() {
        let n = Notification::decode("state", json!({"state": 5}));
        assert!(matches!(n, Notification::Other { ref method, .. } if method == "state"));
        let n = Notification::decode("hello", json!({}));
        assert!(matches!(n, Notification::Other { ref method, .. } if method == "hello"));
    }
}
