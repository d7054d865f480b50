//! The end of an operation, as pure decisions: what it records in `state.json`, which phase it
//! leaves the machine in, and what it tells the app. The supervisor's `finish` applies them.

use tufd_core::Version;
use tufd_core::install_plan::Decision;

use crate::error::EngineError;
use crate::supervisor::machine::{Input, Phase, is_busy};
use crate::supervisor::persist::PersistedState;
use crate::supervisor::policy::Deferral;

/// What one operation learned that outlives it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Learned {
    /// Whether a check ran (its time is recorded).
    pub checked: bool,
    /// Patches that failed (never planned again).
    pub failed_patches: Vec<String>,
    /// The hook's update-policy answer for a version.
    pub decision: Option<(Version, Decision)>,
    /// The version installed, if one was.
    pub installed: Option<Version>,
    /// An archive refused after download (target name and what is remembered of it).
    pub refused: Option<(String, super::persist::RefusedArchive)>,
}

/// Records `learned` in `state` at `now_unix` (seconds since the Unix epoch).
pub fn record(state: &mut PersistedState, learned: Learned, now_unix: u64) {
    if learned.checked {
        state.last_check_unix = Some(now_unix);
    }
    state.failed_patches.extend(learned.failed_patches);
    if let Some((name, refused)) = learned.refused {
        state.refused_archives.insert(name, refused);
    }
    match learned.decision {
        Some((version, Decision::Skip)) => {
            state.skipped_versions.insert(version.to_string());
        }
        Some((version, Decision::DeferUntil { unix_seconds })) => {
            state.deferred = Some(Deferral {
                version,
                until_unix: unix_seconds,
            });
        }
        Some((_, Decision::InstallNow)) | None => {}
    }
    if let Some(version) = learned.installed {
        state.installed_version = Some(version);
    }
}

/// The machine input for a failed operation while the machine is in `phase`: `cancelled`
/// returns a busy phase to idle, anything else fails it; `None` when the phase already rests
/// (a rollback moved it, say).
pub fn failure_input(phase: Phase, err: &EngineError) -> Option<Input> {
    if !is_busy(phase) {
        return None;
    }
    Some(if matches!(err, EngineError::Cancelled) {
        Input::Cancelled
    } else {
        Input::Failed
    })
}

/// Whether a failure is told to the app as an `error` notification: everything but `no-update`,
/// which is an answer, not a failure.
pub fn notifies(err: &EngineError) -> bool {
    !matches!(err, EngineError::NoUpdate { .. })
}

/// Whether the app is told `restart-required`: the operation installed a new version (the
/// machine is `done`) and nothing relaunched the app.
pub fn restart_required(succeeded: bool, phase: Phase, relaunched: bool) -> bool {
    succeeded && phase == Phase::Done && !relaunched
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        s.parse().unwrap()
    }

    #[test]
    fn record_keeps_failed_patches_decisions_and_the_installed_version() {
        let mut state = PersistedState::default();
        record(
            &mut state,
            Learned {
                checked: true,
                failed_patches: vec!["a-2.0.patch".into()],
                decision: Some((v("2.0"), Decision::Skip)),
                installed: None,
                refused: None,
            },
            100,
        );
        record(
            &mut state,
            Learned {
                checked: false,
                failed_patches: vec!["a-3.0.patch".into()],
                decision: Some((v("3.0"), Decision::DeferUntil { unix_seconds: 500 })),
                installed: Some(v("3.0")),
                refused: Some((
                    "a-3.0.tar.gz".into(),
                    super::super::persist::RefusedArchive {
                        digest: "sha256:00".into(),
                        kind: tufd_protocol::ErrorKind::InstallFailed,
                        reason: "an entry leaves the folder".into(),
                    },
                )),
            },
            200,
        );
        assert_eq!(
            state.last_check_unix,
            Some(100),
            "no check ran the second time"
        );
        assert_eq!(state.failed_patches.len(), 2);
        assert_eq!(
            state.refused_archives["a-3.0.tar.gz"].kind,
            tufd_protocol::ErrorKind::InstallFailed
        );
        assert!(state.skipped_versions.contains("2.0"));
        assert_eq!(
            state.deferred,
            Some(Deferral {
                version: v("3.0"),
                until_unix: 500
            })
        );
        assert_eq!(state.installed_version, Some(v("3.0")));
    }

    #[test]
    fn a_cancel_returns_to_idle_a_failure_fails_and_a_resting_phase_stays() {
        let err = EngineError::io("/d", std::io::Error::other("x"));
        assert_eq!(
            failure_input(Phase::Downloading, &EngineError::Cancelled),
            Some(Input::Cancelled)
        );
        assert_eq!(failure_input(Phase::Verifying, &err), Some(Input::Failed));
        assert_eq!(failure_input(Phase::RolledBack, &err), None);
    }

    #[test]
    fn no_update_is_not_an_error_notification() {
        assert!(!notifies(&EngineError::NoUpdate { current: v("1.0") }));
        assert!(notifies(&EngineError::Cancelled));
    }

    #[test]
    fn restart_is_required_only_after_an_install_without_relaunch() {
        assert!(restart_required(true, Phase::Done, false));
        assert!(!restart_required(true, Phase::Done, true));
        assert!(!restart_required(true, Phase::Available, false));
        assert!(!restart_required(false, Phase::Done, false));
    }
}
