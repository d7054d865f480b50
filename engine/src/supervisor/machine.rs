//! The update state machine as a pure function ([`next`]), tested exhaustively.
//!
//! ```text
//! idle → checking → available → downloading → verifying → staged → installing → done
//!           ↘ idle (up to date)                                              ↘ failed
//! ```
//!
//! A rollback (a new version failing its health check during `installing`, or a `rollback`
//! request in any resting state) leads to `rolled-back`, a resting state.
//!
//! A check may start from any resting state (idle, available, staged, done, failed); a
//! cancel returns a busy state to idle, except `installing`, which cannot be interrupted
//! (the swap runs to its end or rolls back through the journal).

/// Where the engine stands: the protocol's [`tufd_protocol::State`], one definition for the
/// machine and the wire (a `state` notification carries the phase as it is).
pub use tufd_protocol::State as Phase;

/// Every phase the machine uses, for exhaustive tests (the protocol's `Unknown` is a reader's
/// fallback, never a phase).
pub const PHASES: [Phase; 10] = [
    Phase::Idle,
    Phase::Checking,
    Phase::Available,
    Phase::Downloading,
    Phase::Verifying,
    Phase::Staged,
    Phase::Installing,
    Phase::Done,
    Phase::Failed,
    Phase::RolledBack,
];

/// Whether an operation is running in `phase`.
pub fn is_busy(phase: Phase) -> bool {
    matches!(
        phase,
        Phase::Checking | Phase::Downloading | Phase::Verifying | Phase::Installing
    )
}

/// What happened, as the supervisor feeds it to [`next`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Input {
    /// A check starts.
    CheckStarted,
    /// The check found an update.
    UpdateFound,
    /// The check found nothing newer.
    UpToDate,
    /// Downloading starts.
    DownloadStarted,
    /// Every target is downloaded and verified against TUF.
    Downloaded,
    /// The new tar is built, verified and extracted into staging.
    Staged,
    /// The swap starts.
    InstallStarted,
    /// The swap finished.
    Installed,
    /// The running operation failed.
    Failed,
    /// The running operation was cancelled.
    Cancelled,
    /// The previous version was restored (health check failed, or on request).
    RolledBack,
}

impl Input {
    /// All inputs, for exhaustive tests.
    pub const ALL: [Input; 11] = [
        Input::CheckStarted,
        Input::UpdateFound,
        Input::UpToDate,
        Input::DownloadStarted,
        Input::Downloaded,
        Input::Staged,
        Input::InstallStarted,
        Input::Installed,
        Input::Failed,
        Input::Cancelled,
        Input::RolledBack,
    ];
}

/// The phase after `input` in `phase`, or `None` when the input is not allowed there.
pub fn next(phase: Phase, input: Input) -> Option<Phase> {
    use Input as I;
    use Phase as P;
    Some(match (phase, input) {
        (
            P::Idle | P::Available | P::Staged | P::Done | P::Failed | P::RolledBack,
            I::CheckStarted,
        ) => P::Checking,
        (P::Checking, I::UpdateFound) => P::Available,
        (P::Checking, I::UpToDate) => P::Idle,
        (P::Available, I::DownloadStarted) => P::Downloading,
        (P::Downloading, I::Downloaded) => P::Verifying,
        (P::Verifying, I::Staged) => P::Staged,
        (P::Staged, I::InstallStarted) => P::Installing,
        (P::Installing, I::Installed) => P::Done,
        (P::Checking | P::Downloading | P::Verifying | P::Installing, I::Failed) => P::Failed,
        (P::Checking | P::Downloading | P::Verifying, I::Cancelled) => P::Idle,
        (
            P::Installing
            | P::Idle
            | P::Available
            | P::Staged
            | P::Done
            | P::Failed
            | P::RolledBack,
            I::RolledBack,
        ) => P::RolledBack,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The full transition table: every (phase, input) pair is listed with its outcome.
    fn expected(phase: Phase, input: Input) -> Option<Phase> {
        use Input as I;
        use Phase as P;
        let table: &[(P, I, P)] = &[
            (P::Idle, I::CheckStarted, P::Checking),
            (P::Available, I::CheckStarted, P::Checking),
            (P::Staged, I::CheckStarted, P::Checking),
            (P::Done, I::CheckStarted, P::Checking),
            (P::Failed, I::CheckStarted, P::Checking),
            (P::RolledBack, I::CheckStarted, P::Checking),
            (P::Installing, I::RolledBack, P::RolledBack),
            (P::Idle, I::RolledBack, P::RolledBack),
            (P::Available, I::RolledBack, P::RolledBack),
            (P::Staged, I::RolledBack, P::RolledBack),
            (P::Done, I::RolledBack, P::RolledBack),
            (P::Failed, I::RolledBack, P::RolledBack),
            (P::RolledBack, I::RolledBack, P::RolledBack),
            (P::Checking, I::UpdateFound, P::Available),
            (P::Checking, I::UpToDate, P::Idle),
            (P::Available, I::DownloadStarted, P::Downloading),
            (P::Downloading, I::Downloaded, P::Verifying),
            (P::Verifying, I::Staged, P::Staged),
            (P::Staged, I::InstallStarted, P::Installing),
            (P::Installing, I::Installed, P::Done),
            (P::Checking, I::Failed, P::Failed),
            (P::Downloading, I::Failed, P::Failed),
            (P::Verifying, I::Failed, P::Failed),
            (P::Installing, I::Failed, P::Failed),
            (P::Checking, I::Cancelled, P::Idle),
            (P::Downloading, I::Cancelled, P::Idle),
            (P::Verifying, I::Cancelled, P::Idle),
        ];
        table
            .iter()
            .find(|(p, i, _)| *p == phase && *i == input)
            .map(|(_, _, to)| *to)
    }

    #[test]
    fn every_pair_follows_the_table() {
        for phase in PHASES {
            for input in Input::ALL {
                assert_eq!(
                    next(phase, input),
                    expected(phase, input),
                    "{phase} + {input:?}"
                );
            }
        }
    }

    #[test]
    fn the_happy_path_reaches_done() {
        let mut phase = Phase::Idle;
        for input in [
            Input::CheckStarted,
            Input::UpdateFound,
            Input::DownloadStarted,
            Input::Downloaded,
            Input::Staged,
            Input::InstallStarted,
            Input::Installed,
        ] {
            phase = next(phase, input).unwrap();
        }
        assert_eq!(phase, Phase::Done);
    }

    #[test]
    fn installing_cannot_be_cancelled_and_busy_phases_cannot_restart() {
        assert_eq!(next(Phase::Installing, Input::Cancelled), None);
        for phase in PHASES.into_iter().filter(|p| is_busy(*p)) {
            assert_eq!(next(phase, Input::CheckStarted), None, "{phase}");
            assert!(next(phase, Input::Failed).is_some(), "{phase}");
        }
    }

    #[test]
    fn names_are_the_protocol_names() {
        let names: Vec<_> = PHASES.iter().map(|p| p.as_str()).collect();
        assert_eq!(
            names,
            [
                "idle",
                "checking",
                "available",
                "downloading",
                "verifying",
                "staged",
                "installing",
                "done",
                "failed",
                "rolled-back"
            ]
        );
        assert_eq!(serde_json::to_value(Phase::Staged).unwrap(), "staged");
    }
}
