use std::fmt;

use serde::{Deserialize, Serialize};

/// The engine's state as the `state` notification and the `status` result name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum State {
    /// Nothing running (up to date, or not checked yet).
    Idle,
    /// Refreshing TUF metadata and planning.
    Checking,
    /// A check found an update that is not downloaded yet.
    Available,
    /// Fetching patches or the archive.
    Downloading,
    /// Applying patches, verifying the tar, extracting into staging.
    Verifying,
    /// The new version is staged, waiting for `install`.
    Staged,
    /// Swapping the install folder.
    Installing,
    /// The new version is installed.
    Done,
    /// The last operation failed.
    Failed,
    /// The new version failed its health check (or a rollback was requested) and the previous
    /// version is installed again.
    RolledBack,
    /// A state this reader does not know (sent by a newer tufd).
    #[serde(other)]
    Unknown,
}

impl State {
    /// The name on the wire (`idle`, `checking`, …, `rolled-back`).
    pub fn as_str(self) -> &'static str {
        match self {
            State::Idle => "idle",
            State::Checking => "checking",
            State::Available => "available",
            State::Downloading => "downloading",
            State::Verifying => "verifying",
            State::Staged => "staged",
            State::Installing => "installing",
            State::Done => "done",
            State::Failed => "failed",
            State::RolledBack => "rolled-back",
            State::Unknown => "unknown",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_name_is_as_str() {
        for s in [State::Idle, State::RolledBack, State::Downloading] {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        let later: State = serde_json::from_value("paused".into()).unwrap();
        assert_eq!(later, State::Unknown);
    }
}
