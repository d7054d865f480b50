//! The pending commit of a new version (docs/protocol.md, "Health check and rollback";
//! docs/architecture.md, "One update, step by step", step 10).
//!
//! After an install and relaunch, the new version is *pending*: it is committed when the app
//! sends `confirm` over the sidecar protocol or the configured health command exits 0; it is
//! rolled back when the health command fails, the relaunched app exits non-zero, the health
//! timeout passes, or the daemon was started more than the allowed number of times while still
//! pending. A rollback restores the backup, relaunches the old version, and marks the new
//! version *bad*: [`skip_bad`] removes its targets from the planner's input, so it is never
//! offered again while a newer release is the only way forward.
//!
//! Everything here is pure: [`step`] is the state machine (`(pending, policy, event) →
//! verdict`), [`PendingCommit`] and [`BadVersions`] are persisted by the supervisor in
//! `state.json`, and time comes in as seconds since the Unix epoch. The only I/O is
//! [`run_health_command`], a thin blocking wrapper around the configured command.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use tufd_core::fs::{Durability, write_atomic};

use crate::process::{RunOutcome, run_with_deadline};
use tufd_core::Version;
use tufd_core::planner::TargetInfo;

/// How a new version proves itself (from `--health-command`, `--health-timeout`,
/// `--health-launches`). With none of them set, a new version is committed at once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HealthPolicy {
    /// How long the new version may stay pending before it is rolled back.
    pub timeout: Option<Duration>,
    /// How many daemon starts may see the version still pending; the next one rolls back.
    pub max_launches: Option<u32>,
    /// A command (program and arguments, run in the install folder) whose exit status 0
    /// commits the new version and any other status rolls it back.
    pub command: Option<Vec<String>>,
}

impl HealthPolicy {
    /// Whether new versions are put on trial at all.
    pub fn enabled(&self) -> bool {
        self.timeout.is_some() || self.max_launches.is_some() || self.command.is_some()
    }

    /// The health command's own time limit: the health timeout, else 60 s.
    pub fn command_timeout(&self) -> Duration {
        self.timeout.unwrap_or(Duration::from_secs(60))
    }
}

/// A new version on trial, persisted until it is committed or rolled back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingCommit {
    /// The new version, installed and on trial.
    pub version: Version,
    /// The version it replaced, restored on rollback.
    pub previous: Version,
    /// Where the previous version is kept.
    pub backup: PathBuf,
    /// When the new version was installed, in seconds since the Unix epoch.
    pub installed_unix: u64,
    /// Daemon starts seen while this version was pending.
    #[serde(default)]
    pub launches: u32,
}

impl PendingCommit {
    /// A pending commit of `version` (replacing `previous`, kept at `backup`) installed at
    /// `now_unix` (seconds since the Unix epoch).
    pub fn new(version: Version, previous: Version, backup: PathBuf, now_unix: u64) -> Self {
        Self {
            version,
            previous,
            backup,
            installed_unix: now_unix,
            launches: 0,
        }
    }

    /// When the trial ends under `policy`, in seconds since the Unix epoch (`None`: no time
    /// limit).
    pub fn deadline_unix(&self, policy: &HealthPolicy) -> Option<u64> {
        policy
            .timeout
            .map(|t| self.installed_unix.saturating_add(t.as_secs().max(1)))
    }
}

/// What happened to a pending version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HealthEvent {
    /// The app sent `confirm`.
    Confirmed,
    /// The health command exited 0.
    CommandPassed,
    /// The health command failed (exit status, or `None` when it could not run or was killed
    /// at its time limit), with what it said.
    CommandFailed {
        /// Its exit code.
        code: Option<i32>,
        /// Why, for the report.
        detail: String,
    },
    /// The relaunched app exited; `code` is its exit status (`None`: killed by a signal).
    AppExited {
        /// Its exit code.
        code: Option<i32>,
    },
    /// A daemon started (or restarted) while the version was pending.
    Launched,
    /// Time passed: the clock reads `now_unix` (seconds since the Unix epoch).
    Tick {
        /// Now, in seconds since the Unix epoch.
        now_unix: u64,
    },
}

/// The decision after an event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Still on trial.
    Pending,
    /// The new version is good: delete the backup, forget the pending commit.
    Commit,
    /// The new version is bad: restore the backup, relaunch the old version, mark it bad.
    RollBack {
        /// Why, for the `error` notification and the log.
        reason: String,
    },
}

/// Feeds `event` to the pending commit under `policy` (which counts launches in `pending`) and
/// decides. Pure.
///
/// An app exiting with status 0 is neither good nor bad news (it may just have been closed);
/// any other exit status counts as a failed start.
pub fn step(pending: &mut PendingCommit, policy: &HealthPolicy, event: &HealthEvent) -> Verdict {
    let version = &pending.version;
    match event {
        HealthEvent::Confirmed | HealthEvent::CommandPassed => Verdict::Commit,
        HealthEvent::CommandFailed { code, detail } => Verdict::RollBack {
            reason: match code {
                Some(code) => format!("health command failed with status {code}: {detail}"),
                None => format!("health command failed: {detail}"),
            },
        },
        HealthEvent::AppExited { code: Some(0) } => Verdict::Pending,
        HealthEvent::AppExited { code } => Verdict::RollBack {
            reason: match code {
                Some(code) => format!("{version} exited with status {code} at start"),
                None => format!("{version} was killed by a signal at start"),
            },
        },
        HealthEvent::Launched => {
            pending.launches = pending.launches.saturating_add(1);
            match policy.max_launches {
                Some(max) if pending.launches > max => Verdict::RollBack {
                    reason: format!(
                        "{version} was started {} times without confirming",
                        pending.launches
                    ),
                },
                _ => expired(pending, policy, None),
            }
        }
        HealthEvent::Tick { now_unix } => expired(pending, policy, Some(*now_unix)),
    }
}

fn expired(pending: &PendingCommit, policy: &HealthPolicy, now_unix: Option<u64>) -> Verdict {
    match (pending.deadline_unix(policy), now_unix) {
        (Some(deadline), Some(now)) if now >= deadline => Verdict::RollBack {
            reason: format!(
                "{} did not confirm within {} s",
                pending.version,
                deadline - pending.installed_unix
            ),
        },
        _ => Verdict::Pending,
    }
}

/// Versions that failed their health check (or were rolled back on request), persisted in
/// `state.json`; never offered again.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BadVersions(pub BTreeSet<Version>);

impl BadVersions {
    /// Marks `version` bad.
    pub fn mark(&mut self, version: Version) {
        self.0.insert(version);
    }

    /// Whether `version` is bad (PEP 440 equality: `2.0` and `2.0.0` are one version).
    pub fn contains(&self, version: &Version) -> bool {
        self.0.iter().any(|bad| bad == version)
    }
}

/// The planner's input without the targets of bad versions (their archives and the patches
/// leading to them), so the planner goes to the newest good release, by the full archive when
/// the patch chain passed through a bad one. The planner ([`tufd_core::planner`]) stays pure;
/// this filter is applied by its caller.
pub fn skip_bad(targets: &[TargetInfo], bad: &BadVersions) -> Vec<TargetInfo> {
    targets
        .iter()
        .filter(|t| !bad.contains(t.name.version()))
        .cloned()
        .collect()
}

/// `<data>/health.json`: the pending commit and the bad versions, kept apart from `state.json`
/// so that this module owns its file. Written atomically (temporary file, sync, rename).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthFile {
    /// The version on trial, if any.
    #[serde(default)]
    pub pending: Option<PendingCommit>,
    /// Versions never offered again.
    #[serde(default)]
    pub bad: BadVersions,
}

impl HealthFile {
    /// The file's path in the data folder `data_dir`.
    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join("health.json")
    }

    /// Reads `path`; a missing file is the default, an unreadable one too (logged): losing it
    /// commits a pending version, which is what happened before health checks existed.
    pub fn load(path: &Path) -> Self {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!(path = %path.display(), error = %e, "health file unreadable; starting afresh");
                Self::default()
            }),
            Err(_) => Self::default(),
        }
    }

    /// Writes the file durably (it holds the pending commit: a power loss must not undo it).
    ///
    /// # Errors
    /// [`crate::InstallError::Io`] with the path that failed.
    pub fn save(&self, path: &Path) -> Result<(), crate::InstallError> {
        let bytes = serde_json::to_vec_pretty(self).expect("health file serialises");
        write_atomic(path, &bytes, Durability::Durable)
            .map_err(|(p, e)| crate::InstallError::io(p, e))
    }
}

/// Runs the health command `command` (program and arguments; a relative program resolves inside
/// `install_dir` when such a file exists there) in `install_dir` with no stdin, and waits at
/// most `timeout` (then kills it). Blocking.
pub fn run_health_command(
    command: &[String],
    install_dir: &Path,
    timeout: Duration,
) -> HealthEvent {
    let Some((program, args)) = command.split_first() else {
        return HealthEvent::CommandPassed;
    };
    let mut path = PathBuf::from(program);
    if path.is_relative() && install_dir.join(&path).is_file() {
        path = install_dir.join(&path);
    }
    match run_with_deadline(&path, args, install_dir, timeout) {
        Ok(RunOutcome::Exited(status)) if status.success() => HealthEvent::CommandPassed,
        Ok(RunOutcome::Exited(status)) => HealthEvent::CommandFailed {
            code: status.code(),
            detail: format!("{} exited with {status}", path.display()),
        },
        Ok(RunOutcome::TimedOut) => HealthEvent::CommandFailed {
            code: None,
            detail: format!(
                "{} still running after {} s",
                path.display(),
                timeout.as_secs()
            ),
        },
        Err(e) => HealthEvent::CommandFailed {
            code: None,
            detail: crate::error::report(&e),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tufd_core::custom::ArchiveCustom;
    use tufd_core::{TargetCustom, TargetName};

    fn pending() -> PendingCommit {
        PendingCommit::new(
            "2.0".parse().unwrap(),
            "1.0".parse().unwrap(),
            "/data/backup/demo-1.0".into(),
            1_000,
        )
    }

    fn policy(timeout_s: Option<u64>, launches: Option<u32>) -> HealthPolicy {
        HealthPolicy {
            timeout: timeout_s.map(Duration::from_secs),
            max_launches: launches,
            command: None,
        }
    }

    fn is_rollback(v: &Verdict) -> bool {
        matches!(v, Verdict::RollBack { .. })
    }

    #[test]
    fn confirm_or_a_passing_command_commits() {
        let p = policy(Some(30), None);
        for event in [HealthEvent::Confirmed, HealthEvent::CommandPassed] {
            assert_eq!(step(&mut pending(), &p, &event), Verdict::Commit);
        }
    }

    #[test]
    fn failures_roll_back_with_a_reason() {
        let p = policy(Some(30), None);
        let failed = HealthEvent::CommandFailed {
            code: Some(3),
            detail: "bin/check exited".into(),
        };
        let Verdict::RollBack { reason } = step(&mut pending(), &p, &failed) else {
            panic!("no rollback")
        };
        assert!(reason.contains("status 3"), "{reason}");
        for code in [Some(1), Some(127), None] {
            let v = step(&mut pending(), &p, &HealthEvent::AppExited { code });
            assert!(is_rollback(&v), "{code:?}: {v:?}");
        }
        assert_eq!(
            step(
                &mut pending(),
                &p,
                &HealthEvent::AppExited { code: Some(0) }
            ),
            Verdict::Pending
        );
    }

    #[test]
    fn the_timeout_rolls_back_exactly_at_the_deadline() {
        let p = policy(Some(30), None);
        let mut c = pending();
        assert_eq!(c.deadline_unix(&p), Some(1_030));
        for (now, rollback) in [(1_000, false), (1_029, false), (1_030, true), (5_000, true)] {
            let v = step(&mut c, &p, &HealthEvent::Tick { now_unix: now });
            assert_eq!(is_rollback(&v), rollback, "at {now}: {v:?}");
        }
        // Without a timeout, time alone never decides.
        let none = policy(None, None);
        assert_eq!(
            step(&mut c, &none, &HealthEvent::Tick { now_unix: u64::MAX }),
            Verdict::Pending
        );
    }

    #[test]
    fn launches_beyond_the_limit_roll_back() {
        let p = policy(None, Some(2));
        let mut c = pending();
        assert_eq!(step(&mut c, &p, &HealthEvent::Launched), Verdict::Pending);
        assert_eq!(step(&mut c, &p, &HealthEvent::Launched), Verdict::Pending);
        assert!(is_rollback(&step(&mut c, &p, &HealthEvent::Launched)));
        assert_eq!(c.launches, 3);
    }

    #[test]
    fn policy_enabled_only_when_configured() {
        assert!(!HealthPolicy::default().enabled());
        assert!(policy(Some(1), None).enabled());
        assert!(policy(None, Some(1)).enabled());
        let cmd = HealthPolicy {
            command: Some(vec!["true".into()]),
            ..HealthPolicy::default()
        };
        assert!(cmd.enabled());
        assert_eq!(cmd.command_timeout(), Duration::from_secs(60));
    }

    #[test]
    fn pending_commit_round_trips_through_json() {
        let c = pending();
        let text = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<PendingCommit>(&text).unwrap(), c);
        let mut bad = BadVersions::default();
        bad.mark("2.0".parse().unwrap());
        let text = serde_json::to_string(&bad).unwrap();
        assert_eq!(text, r#"["2.0"]"#);
        assert_eq!(serde_json::from_str::<BadVersions>(&text).unwrap(), bad);
    }

    #[test]
    fn health_file_round_trips_and_tolerates_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let path = HealthFile::path(dir.path());
        assert_eq!(HealthFile::load(&path), HealthFile::default());
        let mut file = HealthFile {
            pending: Some(pending()),
            ..HealthFile::default()
        };
        file.bad.mark("1.5".parse().unwrap());
        file.save(&path).unwrap();
        assert_eq!(HealthFile::load(&path), file);
        std::fs::write(&path, "{garbage").unwrap();
        assert_eq!(HealthFile::load(&path), HealthFile::default());
    }

    #[test]
    fn bad_versions_are_removed_from_the_planner_input() {
        let target = |name: &str| TargetInfo {
            name: TargetName::parse(name).unwrap(),
            length: 1,
            custom: TargetCustom::Archive(ArchiveCustom::default()),
        };
        let targets = vec![
            target("demo-1.0.tar.gz"),
            target("demo-2.0.tar.gz"),
            target("demo-2.0.0.tar.zst"),
            target("demo-3.0.tar.gz"),
        ];
        let mut bad = BadVersions::default();
        bad.mark("2.0".parse().unwrap());
        let kept: Vec<String> = skip_bad(&targets, &bad)
            .iter()
            .map(|t| t.name.as_str().to_owned())
            .collect();
        assert_eq!(kept, ["demo-1.0.tar.gz", "demo-3.0.tar.gz"]);
    }

    #[test]
    fn health_command_status_decides() {
        let dir = tempfile::tempdir().unwrap();
        let t = Duration::from_secs(10);
        assert_eq!(
            run_health_command(&["true".into()], dir.path(), t),
            HealthEvent::CommandPassed
        );
        assert!(matches!(
            run_health_command(&["sh".into(), "-c".into(), "exit 4".into()], dir.path(), t),
            HealthEvent::CommandFailed { code: Some(4), .. }
        ));
        assert!(matches!(
            run_health_command(&["/nonexistent/check".into()], dir.path(), t),
            HealthEvent::CommandFailed { code: None, .. }
        ));
        let slow = ["sleep".to_owned(), "5".to_owned()];
        let started = std::time::Instant::now();
        assert!(matches!(
            run_health_command(&slow, dir.path(), Duration::from_millis(200)),
            HealthEvent::CommandFailed { code: None, .. }
        ));
        assert!(started.elapsed() < Duration::from_secs(4));
    }
}
