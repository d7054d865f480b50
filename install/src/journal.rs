//! The install journal (`<data>/journal.json`): the checked plan being executed, the index of
//! the step about to run, and every disk action taken so far, written ahead and synced
//! (docs/hooks.md, "How the daemon runs a plan"; docs/architecture.md, "The data folder"). One
//! journaled executor runs every plan: a hook's, the built-in native plan, and a rollback.
//!
//! Every step kind is carried out as a few primitive [`Action`]s, each undoable by looking at
//! the disk, and each recorded here *before* it is taken:
//!
//! | action | taken as | undone as (idempotent) |
//! |---|---|---|
//! | [`ActionKind::Rename`] | `rename(from, to)` (`to` did not exist) | `to` exists and `from` does not → `rename(to, from)`; `from` exists and `to` does not → not taken, nothing |
//! | [`ActionKind::Created`] | a folder, link or copied tree made at `path` (which did not exist) | remove `path` if it exists (never following a link) |
//! | [`ActionKind::Mode`] | `chmod` | put the recorded old mode back |
//!
//! `move` is [`ActionKind::Created`] for each missing parent folder, then a rename; `swap` is
//! three renames through a temporary name; `remove` is a rename into the trash folder (so it
//! can be put back); `copy` and `symlink` are [`ActionKind::Created`]; `set-mode` is
//! [`ActionKind::Mode`]; `wait-for-exit`, `run` and `relaunch` take no undoable action (a
//! program that ran cannot be un-run).
//!
//! Rollback undoes the actions in reverse, rewriting the journal after each one, so a crash
//! during a rollback resumes it. The **point of no return** is the start of the first
//! `relaunch` step ([`Journal::committed`]): from then on the new version is running and the
//! plan is finished forward, never rolled back (see [`super::executor`]).

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tufd_core::Version;
use tufd_core::fs::{Durability, write_atomic};
use tufd_core::install_plan::{self, Root};

use crate::error::InstallError;

/// The absolute folders a plan's roots stand for, plus the trash folder of `remove` steps.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Roots {
    /// [`Root::Install`]: the app's install folder.
    pub install: PathBuf,
    /// [`Root::Staging`]: the complete staging folder of the new version.
    pub staging: PathBuf,
    /// [`Root::Backup`]: where the old version goes (absent before the plan runs).
    pub backup: PathBuf,
    /// Where `remove` steps put what they remove (on the same file system as the roots);
    /// emptied after the install, so a rollback can put things back.
    pub trash: PathBuf,
}

impl Roots {
    /// The absolute folder of `root`.
    pub fn dir(&self, root: Root) -> &Path {
        match root {
            Root::Install => &self.install,
            Root::Staging => &self.staging,
            Root::Backup => &self.backup,
        }
    }
}

/// A primitive disk action (see the module doc's table).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "action")]
pub enum ActionKind {
    /// `from` renamed to `to`.
    Rename {
        /// The old path.
        from: PathBuf,
        /// The new path (did not exist).
        to: PathBuf,
    },
    /// `path` created (a folder, a link, a copied file or tree); it did not exist.
    Created {
        /// What was created.
        path: PathBuf,
    },
    /// Permission bits of `path` changed from `old_mode`.
    Mode {
        /// The file or folder.
        path: PathBuf,
        /// Its permission bits before.
        old_mode: u32,
    },
}

/// An action and the plan step it belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Action {
    /// The 0-based index of the plan step.
    pub step: usize,
    /// What was done.
    #[serde(flatten)]
    pub kind: ActionKind,
}

/// The journal's content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journal {
    /// The version being replaced.
    pub from: Version,
    /// The version being installed.
    pub to: Version,
    /// The absolute folders of the roots.
    pub roots: Roots,
    /// The checked plan.
    pub plan: Vec<install_plan::Step>,
    /// The 0-based index of the step about to run (`plan.len()` when all ran).
    pub next_step: usize,
    /// Whether the point of no return (the start of the first `relaunch`) was passed.
    pub committed: bool,
    /// Every action taken (or about to be taken: the last one), in order.
    pub actions: Vec<Action>,
}

/// What [`super::executor::recover`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recovery {
    /// The new version is installed.
    Completed {
        /// The version now installed.
        version: Version,
    },
    /// The old version is installed (again).
    RolledBack {
        /// The version now installed.
        version: Version,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> InstallError + '_ {
    move |source| InstallError::io(path, source)
}

/// Syncs a folder so that renames and creations in it are durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), InstallError> {
    tufd_core::fs::sync_dir(dir).map_err(io(dir))
}

pub(crate) fn parent(path: &Path) -> &Path {
    path.parent().unwrap_or(Path::new("/"))
}

/// Writes `journal` to `path` durably: a temporary file, synced, renamed over `path`, and the
/// folder synced.
///
/// # Errors
/// [`InstallError::Io`] with the path that failed.
pub fn write(path: &Path, journal: &Journal) -> Result<(), InstallError> {
    let bytes = serde_json::to_vec_pretty(journal).expect("journal serialises");
    tufd_core::faults::point("journal.before-write");
    write_atomic(path, &bytes, Durability::Durable).map_err(|(p, e)| InstallError::io(p, e))?;
    tufd_core::faults::point("journal.after-write");
    Ok(())
}

/// Reads the journal at `path`; `None` when there is none.
///
/// # Errors
/// [`InstallError::Io`] when it cannot be read, [`InstallError::JournalUnreadable`] when it does not
/// parse (for instance a journal of the format before plans; it is then kept for a human).
pub fn read(path: &Path) -> Result<Option<Journal>, InstallError> {
    match fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|source| {
            InstallError::JournalUnreadable {
                path: path.to_path_buf(),
                source,
            }
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(InstallError::io(path, e)),
    }
}

/// Removes the journal at `path` (done or rolled back), durably.
///
/// # Errors
/// [`InstallError::Io`].
pub fn remove(path: &Path) -> Result<(), InstallError> {
    tufd_core::faults::point("journal.before-remove");
    match fs::remove_file(path) {
        Ok(()) => sync_dir(parent(path)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(InstallError::io(path, e)),
    }
}

/// Whether anything (a file, folder or link, not followed) is at `path`.
pub(crate) fn exists(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok()
}

/// Renames durably (both folders synced).
pub(crate) fn rename(from: &Path, to: &Path) -> Result<(), InstallError> {
    tufd_core::faults::point("install.before-rename");
    fs::rename(from, to).map_err(|source| InstallError::Rename {
        from: from.to_path_buf(),
        to: to.to_path_buf(),
        source,
    })?;
    tufd_core::faults::point("install.after-rename");
    sync_dir(parent(from))?;
    if parent(from) != parent(to) {
        sync_dir(parent(to))?;
    }
    tufd_core::faults::point("install.after-rename-sync");
    Ok(())
}

/// Removes whatever is at `path` without following links; nothing there is fine.
pub(crate) fn remove_any(path: &Path) -> Result<(), InstallError> {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return Ok(());
    };
    let result = if meta.is_dir() {
        fs::remove_dir_all(path)
    } else {
        fs::remove_file(path)
    };
    result.map_err(io(path))?;
    sync_dir(parent(path))
}

impl ActionKind {
    /// Undoes this action if it was taken (see the module doc's table); idempotent.
    ///
    /// # Errors
    /// [`InstallError::UndoConflict`] when the disk fits neither "taken" nor "not taken";
    /// [`InstallError::Io`].
    pub fn undo(&self) -> Result<(), InstallError> {
        match self {
            ActionKind::Rename { from, to } => match (exists(from), exists(to)) {
                (false, true) => rename(to, from),
                (true, false) => Ok(()),
                (from_exists, to_exists) => Err(InstallError::UndoConflict {
                    from: from.clone(),
                    to: to.clone(),
                    from_exists,
                    to_exists,
                }),
            },
            ActionKind::Created { path } => remove_any(path),
            ActionKind::Mode { path, old_mode } => set_mode_no_follow(path, *old_mode),
        }
    }
}

/// Sets permission bits of `path` unless it is a link (links are never followed); nothing
/// there is fine (used by undo). Ignored off Unix.
pub(crate) fn set_mode_no_follow(path: &Path, mode: u32) -> Result<(), InstallError> {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return Ok(());
    };
    if meta.file_type().is_symlink() {
        return Ok(());
    }
    crate::sys::set_mode(path, mode).map_err(io(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    use tufd_core::install_plan::{PlanPath, Program, Step};

    #[test]
    fn steps_round_trip_through_the_journal_form() {
        let steps = [
            Step::WaitForExit {
                pid: 7,
                timeout: Duration::from_millis(1500),
            },
            Step::Move {
                from: PlanPath::root(Root::Install),
                to: PlanPath::root(Root::Backup),
            },
            Step::Relaunch {
                program: Program::System("/usr/bin/open".into()),
                args: vec!["-a".into()],
            },
            Step::Run {
                program: Program::InRoot(PlanPath::new(Root::Install, "bin/x")),
                args: vec![],
            },
        ];
        for step in steps {
            let text = serde_json::to_string(&step).unwrap();
            let back: Step = serde_json::from_str(&text).unwrap();
            assert_eq!(back, step, "{text}");
        }
        // The journal form as earlier releases wrote it still reads.
        let old = r#"{"step":"wait-for-exit","pid":7,"timeout_ms":1500}"#;
        let step: Step = serde_json::from_str(old).unwrap();
        assert_eq!(
            step,
            Step::WaitForExit {
                pid: 7,
                timeout: Duration::from_millis(1500)
            }
        );
        let old = r#"{"step":"relaunch","program":{"root":"system","rel":"/usr/bin/open"},"args":["-a"]}"#;
        assert!(matches!(
            serde_json::from_str::<Step>(old).unwrap(),
            Step::Relaunch { program: Program::System(p), .. } if p == "/usr/bin/open"
        ));
        assert!(
            serde_json::from_str::<Step>(r#"{"step":"remove","path":{"root":"etc","rel":"x"}}"#)
                .is_err()
        );
    }

    #[test]
    fn rename_undo_is_idempotent_and_refuses_a_strange_disk() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        fs::write(&a, "x").unwrap();
        let action = ActionKind::Rename {
            from: a.clone(),
            to: b.clone(),
        };
        action.undo().unwrap(); // not taken: nothing
        assert!(a.exists() && !b.exists());
        fs::rename(&a, &b).unwrap();
        action.undo().unwrap();
        action.undo().unwrap();
        assert!(a.exists() && !b.exists());
        fs::write(&b, "y").unwrap();
        assert!(matches!(
            action.undo(),
            Err(InstallError::UndoConflict { .. })
        ));
    }

    #[test]
    fn unreadable_journal_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.json");
        fs::write(&path, "{not json").unwrap();
        assert!(matches!(
            read(&path),
            Err(InstallError::JournalUnreadable { .. })
        ));
        assert_eq!(read(&dir.path().join("none.json")).unwrap(), None);
    }
}
