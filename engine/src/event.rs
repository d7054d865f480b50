//! What the engine tells the outside world, in the protocol's own types (`tufd-protocol`):
//! [`Event`]s on a broadcast channel (each forwarded as the notification of the same name) and
//! the [`CheckReport`] a check answers with, built from the planner's [`Plan`] here.

use tufd_core::Version;
use tufd_core::planner::{FullReason, Plan};
pub use tufd_protocol::{CheckReport, Downgrade, Notification as Event, PlanSummary, State};

/// The report of `plan` for an app at `current`.
pub fn check_report(current: &Version, plan: &Plan) -> CheckReport {
    match plan {
        Plan::UpToDate => CheckReport {
            current: current.to_string(),
            latest: current.to_string(),
            update_available: false,
            plan: None,
            managed: None,
            downgrade: None,
        },
        Plan::Patches { to, patches, .. } => CheckReport {
            current: current.to_string(),
            latest: to.to_string(),
            update_available: true,
            plan: Some(PlanSummary::Patches {
                patches: patches.iter().map(|p| p.name.as_str().to_owned()).collect(),
                bytes: patches.iter().map(|p| p.length).sum(),
            }),
            managed: None,
            downgrade: None,
        },
        Plan::Full {
            to,
            archive,
            reason,
        } => CheckReport {
            current: current.to_string(),
            latest: to.to_string(),
            update_available: true,
            plan: Some(PlanSummary::Full {
                full: archive.name.as_str().to_owned(),
                reason: describe_reason(reason),
                bytes: archive.length,
            }),
            managed: None,
            downgrade: match reason {
                FullReason::Downgrade { from } => Some(Downgrade {
                    yanked: from.to_string(),
                    reason: None,
                }),
                _ => None,
            },
        },
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
        FullReason::Downgrade { from } => {
            format!("a downgrade from the yanked {from}: patches only lead up")
        }
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
        let r = check_report(&v, &Plan::UpToDate);
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            json!({"current": "1.0", "latest": "1.0", "update_available": false, "plan": null})
        );
    }
}
