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
//! | [`ActionKind::Exchanged`] | one atomic exchange of `a` and `b` (both exist) | what was at `a` (recorded identity) is now at `b` → exchange again; still at `a` → not taken, nothing |
//! | [`ActionKind::Mode`] | `chmod` | put the recorded old mode back |
//!
//! `move` is [`ActionKind::Created`] for each missing parent folder, then a rename; `swap` is
//! one atomic exchange where the OS has one (Linux, macOS), else three renames through a
//! temporary name; `remove` is a rename into the trash folder (so it
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
use tufd_core::fs::{Durability, write_atomic, write_atomic_lenient};
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
    /// `a` and `b` exchanged in one atomic step ([`crate::sys::exchange`]); `a_id` is the
    /// identity (device, inode) of what was at `a` before, which tells after a crash whether
    /// the exchange happened (both paths exist either way).
    Exchanged {
        /// One path.
        a: PathBuf,
        /// The other.
        b: PathBuf,
        /// What was at `a` before the exchange.
        a_id: (u64, u64),
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

/// Whether a failed sync (a step that exists only for durability: `fsync` of the journal or
/// of a folder after a rename or removal) fails the operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Syncs {
    /// Running a plan forward: the journal must be on disk before the action it records, and a
    /// rename before the next step, or a power cut could leave actions no journal lists. A
    /// failed sync fails the step (which is then rolled back).
    Required,
    /// Undoing (a rollback) and recovery: a failed sync is logged at warn and the work goes
    /// on. Undo is idempotent (the module doc's table): if a power cut loses a rewritten
    /// journal or an undone rename, the next start undoes again from the older journal, while
    /// stopping here would leave the app half installed over a folder that cannot be synced
    /// (a file system without folder `fsync`, a full or failing disk).
    BestEffort,
}

/// Applies `syncs` to the outcome of syncing `path`: the error under [`Syncs::Required`], a
/// warning under [`Syncs::BestEffort`].
///
/// # Errors
/// [`InstallError::Io`] with `path`, under [`Syncs::Required`] only.
pub(crate) fn settle_sync(
    path: &Path,
    result: std::io::Result<()>,
    syncs: Syncs,
) -> Result<(), InstallError> {
    match (result, syncs) {
        (Ok(()), _) => Ok(()),
        (Err(e), Syncs::Required) => Err(InstallError::io(path, e)),
        (Err(e), Syncs::BestEffort) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot sync; going on (undo and recovery can repeat)");
            Ok(())
        }
    }
}

/// Syncs a folder so that renames and creations in it are durable, as `syncs` says.
pub(crate) fn sync_dir(dir: &Path, syncs: Syncs) -> Result<(), InstallError> {
    settle_sync(dir, tufd_core::fs::sync_dir(dir), syncs)
}

pub(crate) fn parent(path: &Path) -> &Path {
    path.parent().unwrap_or(Path::new("/"))
}

/// Writes `journal` to `path` durably: a temporary file, synced, renamed over `path`, and the
/// folder synced; under [`Syncs::BestEffort`] a failed sync is logged and the write stands.
///
/// # Errors
/// [`InstallError::Io`] with the path that failed.
pub fn write(path: &Path, journal: &Journal, syncs: Syncs) -> Result<(), InstallError> {
    let bytes = serde_json::to_vec_pretty(journal).expect("journal serialises");
    tufd_core::faults::point("journal.before-write");
    match syncs {
        Syncs::Required => write_atomic(path, &bytes, Durability::Durable)
            .map_err(|(p, e)| InstallError::io(p, e))?,
        Syncs::BestEffort => {
            let skipped = write_atomic_lenient(path, &bytes, Durability::Durable)
                .map_err(|(p, e)| InstallError::io(p, e))?;
            for (p, e) in skipped {
                settle_sync(&p, Err(e), syncs)?;
            }
        }
    }
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

/// Removes the journal at `path` (done or rolled back), durably as `syncs` says.
///
/// # Errors
/// [`InstallError::Io`].
pub fn remove(path: &Path, syncs: Syncs) -> Result<(), InstallError> {
    tufd_core::faults::point("journal.before-remove");
    match fs::remove_file(path) {
        Ok(()) => sync_dir(parent(path), syncs),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(InstallError::io(path, e)),
    }
}

/// Whether anything (a file, folder or link, not followed) is at `path`.
pub(crate) fn exists(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok()
}

/// Renames, retried while another program holds a file (Windows, [`crate::fsops::rename`]),
/// then both folders synced as `syncs` says.
pub(crate) fn rename(from: &Path, to: &Path, syncs: Syncs) -> Result<(), InstallError> {
    move_between(from, to, syncs, crate::fsops::rename)
}

/// Exchanges `a` and `b` atomically ([`crate::sys::exchange`]), then syncs their folders as
/// `syncs` says.
///
/// # Errors
/// [`InstallError::Rename`] (with the OS error; [`std::io::ErrorKind::Unsupported`] where there
/// is no atomic exchange), or a failed sync under [`Syncs::Required`].
pub(crate) fn exchange(a: &Path, b: &Path, syncs: Syncs) -> Result<(), InstallError> {
    move_between(a, b, syncs, crate::sys::exchange)
}

/// Runs `op` (a rename or an exchange of `a` and `b`) between the crash points of a rename, then
/// syncs both folders as `syncs` says.
fn move_between(
    a: &Path,
    b: &Path,
    syncs: Syncs,
    op: fn(&Path, &Path) -> std::io::Result<()>,
) -> Result<(), InstallError> {
    tufd_core::faults::point("install.before-rename");
    op(a, b).map_err(|source| InstallError::Rename {
        from: a.to_path_buf(),
        to: b.to_path_buf(),
        source,
    })?;
    tufd_core::faults::point("install.after-rename");
    sync_dir(parent(a), syncs)?;
    if parent(a) != parent(b) {
        sync_dir(parent(b), syncs)?;
    }
    tufd_core::faults::point("install.after-rename-sync");
    Ok(())
}

/// Removes whatever is at `path` without following links (read-only files and folders
/// included, [`crate::fsops::remove_tree`]); nothing there is fine. The folder is then synced
/// as `syncs` says.
pub(crate) fn remove_any(path: &Path, syncs: Syncs) -> Result<(), InstallError> {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return Ok(());
    };
    let result = if meta.is_dir() {
        crate::fsops::remove_tree(path)
    } else {
        crate::fsops::remove_file(path)
    };
    match result {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        other => other.map_err(io(path))?,
    }
    sync_dir(parent(path), syncs)
}

impl ActionKind {
    /// Undoes this action if it was taken (see the module doc's table); idempotent. Folder
    /// syncs are [`Syncs::BestEffort`]: a failed one is logged, not an error.
    ///
    /// # Errors
    /// [`InstallError::UndoConflict`] when the disk fits neither "taken" nor "not taken";
    /// [`InstallError::Io`].
    pub fn undo(&self) -> Result<(), InstallError> {
        match self {
            ActionKind::Rename { from, to } => match (exists(from), exists(to)) {
                (false, true) => rename(to, from, Syncs::BestEffort),
                (true, false) => Ok(()),
                (from_exists, to_exists) => Err(InstallError::UndoConflict {
                    from: from.clone(),
                    to: to.clone(),
                    from_exists,
                    to_exists,
                }),
            },
            ActionKind::Exchanged { a, b, a_id } => {
                match (crate::sys::file_id(a), crate::sys::file_id(b)) {
                    (Some(at_a), Some(_)) if at_a == *a_id => Ok(()),
                    (Some(_), Some(at_b)) if at_b == *a_id => exchange(a, b, Syncs::BestEffort),
                    (at_a, at_b) => Err(InstallError::UndoConflict {
                        from: a.clone(),
                        to: b.clone(),
                        from_exists: at_a.is_some(),
                        to_exists: at_b.is_some(),
                    }),
                }
            }
            ActionKind::Created { path } => remove_any(path, Syncs::BestEffort),
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
    fn a_failed_sync_fails_forward_work_but_only_warns_during_undo() {
        let failed = || Err(std::io::Error::other("no fsync"));
        let dir = Path::new("/data");
        assert!(matches!(
            settle_sync(dir, failed(), Syncs::Required),
            Err(InstallError::Io { path, .. }) if path == dir
        ));
        settle_sync(dir, failed(), Syncs::BestEffort).unwrap();
        settle_sync(dir, Ok(()), Syncs::Required).unwrap();
    }

    #[test]
    fn undo_of_a_created_read_only_tree_removes_it() {
        let dir = tempfile::tempdir().unwrap();
        let made = dir.path().join("made");
        fs::create_dir_all(made.join("lib")).unwrap();
        fs::write(made.join("lib/x"), "x").unwrap();
        crate::sys::set_mode(&made.join("lib/x"), 0o444).unwrap();
        crate::sys::set_mode(&made.join("lib"), 0o555).unwrap();
        let action = ActionKind::Created { path: made.clone() };
        action.undo().unwrap();
        assert!(!exists(&made));
        action.undo().unwrap();
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
