//! Install plans: the step vocabulary that install hooks return and the daemon executes
//! (docs/hooks.md, "The interface").
//!
//! A plan is a list of [`Step`]s over [`PlanPath`]s, each a path *relative* to one of three
//! roots the daemon owns for one install ([`Root::Install`], [`Root::Staging`],
//! [`Root::Backup`]). A hook never sees or names an absolute path of its own choosing: the
//! executor joins each relative path to the absolute folder of its root, and only after
//! [`check_plan`] accepted the whole plan (see [`check`]).
//!
//! This module owns the pure data: the context a hook receives ([`InstallContext`]), the
//! update-policy question and answer ([`UpdateInfo`], [`Decision`]), the steps, the checker,
//! and the built-in native plans ([`native`]). Loading and running WASM hooks is
//! `tufd-hook-host`'s job; executing steps on disk with a journal is the install actor's.

pub mod check;
pub mod native;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::version::Version;

pub use check::{CheckedPlan, PlanError, PlanLimits, check_plan};
pub use native::native_plan;

/// One of the folders a plan may touch, each an absolute path the daemon chooses. Serialised
/// as its lower-case name (the install journal, `tufd-install`'s `journal` module).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Root {
    /// The app's install folder (for a macOS app, the `.app` bundle itself).
    Install,
    /// The complete staging folder holding the new version, extracted and verified.
    Staging,
    /// Where the old version goes; this path does not exist before the plan runs.
    Backup,
}

impl Root {
    /// The lower-case name used in messages and in the WIT interface.
    pub fn as_str(self) -> &'static str {
        match self {
            Root::Install => "install",
            Root::Staging => "staging",
            Root::Backup => "backup",
        }
    }
}

impl fmt::Display for Root {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A path inside one [`Root`]: `rel` uses `/` as separator and is relative to the root;
/// the single component `.` ([`PlanPath::ROOT_ITSELF`]) names the root folder itself.
///
/// Any value can be built (hooks send arbitrary text); [`check_plan`] refuses the bad ones
/// (absolute, `..`, empty, `\`, `:` and so on).
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct PlanPath {
    /// The folder the path is relative to.
    pub root: Root,
    /// The relative path, `/`-separated, or `.` for the root folder itself.
    pub rel: String,
}

impl PlanPath {
    /// The `rel` text that names the root folder itself.
    pub const ROOT_ITSELF: &'static str = ".";

    /// A path `rel` inside `root` (not checked here; see [`check_plan`]).
    pub fn new(root: Root, rel: impl Into<String>) -> Self {
        PlanPath {
            root,
            rel: rel.into(),
        }
    }

    /// The root folder itself.
    pub fn root(root: Root) -> Self {
        PlanPath::new(root, Self::ROOT_ITSELF)
    }

    /// Whether this names the root folder itself.
    pub fn is_root(&self) -> bool {
        self.rel == Self::ROOT_ITSELF
    }

    /// The same relative path under another root (`install:bin/app` → `backup:bin/app`).
    pub fn with_root(&self, root: Root) -> Self {
        PlanPath::new(root, self.rel.clone())
    }
}

impl fmt::Display for PlanPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.root, self.rel)
    }
}

/// A program a plan may run or relaunch. Serialised as `{"root", "rel"}` like a [`PlanPath`],
/// with root `system` for [`Program::System`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(into = "ProgramRepr", try_from = "ProgramRepr")]
pub enum Program {
    /// A program inside a root; [`check_plan`] accepts only [`Root::Install`].
    InRoot(PlanPath),
    /// An absolute path outside the roots (`/usr/bin/open`); accepted only when listed in
    /// [`PlanLimits::allowed_programs`].
    System(String),
}

impl fmt::Display for Program {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Program::InRoot(path) => path.fmt(f),
            Program::System(path) => f.write_str(path),
        }
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct ProgramRepr {
    root: String,
    rel: String,
}

impl From<Program> for ProgramRepr {
    fn from(program: Program) -> Self {
        match program {
            Program::InRoot(path) => ProgramRepr {
                root: path.root.as_str().to_owned(),
                rel: path.rel,
            },
            Program::System(abs) => ProgramRepr {
                root: "system".to_owned(),
                rel: abs,
            },
        }
    }
}

impl TryFrom<ProgramRepr> for Program {
    type Error = String;

    fn try_from(repr: ProgramRepr) -> Result<Self, Self::Error> {
        let root = match repr.root.as_str() {
            "system" => return Ok(Program::System(repr.rel)),
            "install" => Root::Install,
            "staging" => Root::Staging,
            "backup" => Root::Backup,
            other => return Err(format!("unknown root `{other}`")),
        };
        Ok(Program::InRoot(PlanPath::new(root, repr.rel)))
    }
}

/// A program and its arguments (the relaunch command of the configuration).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Command {
    /// What to start.
    pub program: Program,
    /// Its arguments, passed as they are (no shell).
    pub args: Vec<String>,
}

/// One step of an install plan. The executor runs steps in order, journaled, and undoes the
/// ones already taken when a later step fails. Serialised (in the install journal) as an
/// object tagged by `step` in kebab-case (`{"step": "move", "from": …, "to": …}`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case", tag = "step")]
pub enum Step {
    /// Wait until process `pid` has exited, at most `timeout`; the step fails after that.
    WaitForExit {
        /// The process id (the app's, from the context).
        pid: u32,
        /// The longest wait (`timeout_ms` in the journal).
        #[serde(rename = "timeout_ms", with = "millis")]
        timeout: Duration,
    },
    /// Rename `from` to `to`; `to` must not exist; its missing parent folders are created.
    Move {
        /// The existing path.
        from: PlanPath,
        /// The new path.
        to: PlanPath,
    },
    /// Exchange `a` and `b` (both must exist), atomically where the OS allows it.
    Swap {
        /// One path.
        a: PlanPath,
        /// The other path.
        b: PlanPath,
    },
    /// Remove a file or a folder tree.
    Remove {
        /// What to remove.
        path: PlanPath,
    },
    /// Copy a file or a folder tree; `to` must not exist; its missing parent folders are
    /// created.
    Copy {
        /// The source.
        from: PlanPath,
        /// The destination.
        to: PlanPath,
    },
    /// Set the Unix permission bits (ignored on Windows); only `0o777` bits, never world
    /// writable.
    SetMode {
        /// The file or folder.
        path: PlanPath,
        /// The permission bits.
        mode: u32,
    },
    /// Create a symbolic link at `path` whose relative `target` resolves inside the same root.
    Symlink {
        /// Where the link is created.
        path: PlanPath,
        /// The link text, relative to the link's folder (`../lib/libfoo.so.2`).
        target: String,
    },
    /// Run a program to completion (no shell); a non-zero exit fails the step.
    Run {
        /// The program.
        program: Program,
        /// Its arguments.
        args: Vec<String>,
    },
    /// Start the app again, detached; the daemon does not wait for it.
    Relaunch {
        /// The program.
        program: Program,
        /// Its arguments.
        args: Vec<String>,
    },
}

/// What an install hook (or the built-in plan) is told about one install.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstallContext {
    /// The OS, as [`std::env::consts::OS`] (`linux`, `macos`, `windows`).
    pub os: String,
    /// The CPU architecture, as [`std::env::consts::ARCH`] (`x86_64`, `aarch64`).
    pub arch: String,
    /// The app name (the target name prefix).
    pub app_name: String,
    /// The version installed now.
    pub installed_version: Version,
    /// The version being installed.
    pub new_version: Version,
    /// The absolute install folder ([`Root::Install`]); for information only.
    pub install_dir: PathBuf,
    /// The absolute staging folder ([`Root::Staging`]); for information only.
    pub staging_dir: PathBuf,
    /// The absolute backup folder ([`Root::Backup`]); for information only.
    pub backup_dir: PathBuf,
    /// The app's process id, when the app spawned the daemon and is still running.
    pub app_pid: Option<u32>,
    /// The relaunch command of the configuration, if any.
    pub relaunch: Option<Command>,
    /// Every entry (files and folders) of the staging folder, `/`-separated and relative.
    pub staging_files: Vec<String>,
    /// Every entry (files and folders) of the install folder, `/`-separated and relative.
    pub installed_files: Vec<String>,
    /// The hook's settings from the configuration (`[hook-settings]`), sorted by key.
    pub settings: Vec<(String, String)>,
}

impl InstallContext {
    /// The value of setting `key`, if configured.
    pub fn setting(&self, key: &str) -> Option<&str> {
        setting(&self.settings, key)
    }
}

/// What an update-policy hook is told when an update is available.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpdateInfo {
    /// The app name.
    pub app_name: String,
    /// The version installed now.
    pub installed_version: Version,
    /// The version on offer.
    pub new_version: Version,
    /// Whether the release is marked required (`tufup.required`).
    pub required: bool,
    /// Now, in seconds since the Unix epoch (UTC).
    pub now_unix_seconds: u64,
    /// The local time zone's offset from UTC now, in seconds (east positive).
    pub utc_offset_seconds: i32,
    /// The hook's settings from the configuration.
    pub settings: Vec<(String, String)>,
}

/// An update-policy answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Decision {
    /// Go ahead now.
    InstallNow,
    /// Ask again at this time, in seconds since the Unix epoch (UTC).
    DeferUntil {
        /// When to ask again, in seconds since the Unix epoch.
        unix_seconds: u64,
    },
    /// Skip this version (offer the next one).
    Skip,
}

fn setting<'a>(settings: &'a [(String, String)], key: &str) -> Option<&'a str> {
    settings
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_path_display_and_root() {
        let p = PlanPath::new(Root::Install, "bin/app");
        assert_eq!(p.to_string(), "install:bin/app");
        assert!(!p.is_root());
        assert!(PlanPath::root(Root::Backup).is_root());
        assert_eq!(p.with_root(Root::Backup).to_string(), "backup:bin/app");
    }

    #[test]
    fn setting_finds_first_value() {
        let s = vec![
            ("keep".to_owned(), "user-data".to_owned()),
            ("keep".to_owned(), "other".to_owned()),
        ];
        assert_eq!(setting(&s, "keep"), Some("user-data"));
        assert_eq!(setting(&s, "missing"), None);
    }
}

/// A [`Duration`] as whole milliseconds.
mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}
