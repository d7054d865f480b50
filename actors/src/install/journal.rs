//! The install journal (`<data>/journal.json`) and the journaled swap (DESIGN "The daemon:
//! actors", InstallActor; contract "Install folder").
//!
//! The swap is two renames: install → backup, then staging → install. Before each step the
//! journal `{"step", "install_dir", "staging", "backup", "from", "to"}` is written and synced
//! (file, then its folder), so a daemon killed at any point finds on restart a journal that
//! tells [`recover`] how to finish or roll back. The staging folder is complete before the
//! first journal is written, so a journal implies a complete staging folder.
//!
//! Recovery, by the step recorded and what exists on disk:
//!
//! | step | install | backup | staging | action |
//! |---|---|---|---|---|
//! | `backup` | yes | – | – | nothing happened: roll back (keep staging for a retry) |
//! | `backup`/`swap` | no | yes | yes | finish: staging → install |
//! | `backup`/`swap` | no | yes | no | roll back: backup → install |
//! | `swap` | yes | – | – | the second rename happened: finished |
//! | `done` | – | – | – | finished |
//!
//! The installed tree after recovery is therefore always the old version or the new one,
//! never a mix.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tufd_core::Version;

use crate::error::EngineError;

/// A step of the swap, written before it is taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    /// About to rename the install folder to the backup.
    Backup,
    /// About to rename staging to the install folder.
    Swap,
    /// Both renames done.
    Done,
}

/// The journal's content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journal {
    /// The next step.
    pub step: Step,
    /// The install folder.
    pub install_dir: PathBuf,
    /// The complete staging folder holding the new version.
    pub staging: PathBuf,
    /// Where the old version goes.
    pub backup: PathBuf,
    /// The version being replaced.
    pub from: Version,
    /// The version being installed.
    pub to: Version,
}

/// What [`recover`] did.
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

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> EngineError + '_ {
    move |source| EngineError::io(path, source)
}

/// Syncs a folder so that renames and creations in it are durable.
fn sync_dir(dir: &Path) -> Result<(), EngineError> {
    File::open(dir).and_then(|f| f.sync_all()).map_err(io(dir))
}

fn parent(path: &Path) -> &Path {
    path.parent().unwrap_or(Path::new("/"))
}

/// Writes `journal` to `path` durably: a temporary file, synced, renamed over `path`, and the
/// folder synced.
///
/// # Errors
/// [`EngineError::Io`] with the path that failed.
pub fn write(path: &Path, journal: &Journal) -> Result<(), EngineError> {
    let dir = parent(path);
    let tmp = path.with_extension("json.tmp");
    let bytes = serde_json::to_vec_pretty(journal).expect("journal serialises");
    let mut file = File::create(&tmp).map_err(io(&tmp))?;
    file.write_all(&bytes).map_err(io(&tmp))?;
    file.sync_all().map_err(io(&tmp))?;
    fs::rename(&tmp, path).map_err(io(path))?;
    sync_dir(dir)
}

/// Reads the journal at `path`; `None` when there is none.
///
/// # Errors
/// [`EngineError::Io`] when it cannot be read, [`EngineError::InstallFailed`] when it does not
/// parse.
pub fn read(path: &Path) -> Result<Option<Journal>, EngineError> {
    match fs::read(path) {
        Ok(bytes) => {
            serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| EngineError::InstallFailed {
                    message: format!("journal {} is unreadable: {e}", path.display()),
                })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(EngineError::io(path, e)),
    }
}

fn remove(path: &Path) -> Result<(), EngineError> {
    match fs::remove_file(path) {
        Ok(()) => sync_dir(parent(path)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(EngineError::io(path, e)),
    }
}

fn rename(from: &Path, to: &Path) -> Result<(), EngineError> {
    fs::rename(from, to).map_err(|e| EngineError::InstallFailed {
        message: format!("cannot rename {} to {}: {e}", from.display(), to.display()),
    })?;
    sync_dir(parent(from))?;
    if parent(from) != parent(to) {
        sync_dir(parent(to))?;
    }
    Ok(())
}

/// Swaps the install folder for `journal.staging`, keeping the old one at `journal.backup`
/// (which must not exist), writing the journal at `path` before each step. A failed second
/// rename puts the backup back.
///
/// # Errors
/// [`EngineError::InstallFailed`] when a rename fails (the install folder is then as before);
/// [`EngineError::Io`] when the journal cannot be written.
pub fn swap(path: &Path, journal: &Journal) -> Result<(), EngineError> {
    let mut j = journal.clone();
    j.step = Step::Backup;
    write(path, &j)?;
    if let Err(e) = rename(&j.install_dir, &j.backup) {
        remove(path)?;
        return Err(e);
    }
    j.step = Step::Swap;
    write(path, &j)?;
    if let Err(e) = rename(&j.staging, &j.install_dir) {
        tracing::error!(error = %e, "second rename failed; restoring the backup");
        rename(&j.backup, &j.install_dir)?;
        remove(path)?;
        return Err(e);
    }
    j.step = Step::Done;
    write(path, &j)?;
    remove(path)
}

/// Finishes or rolls back an interrupted swap recorded at `path` (see the module doc's table);
/// `None` when there is no journal.
///
/// # Errors
/// [`EngineError::InstallFailed`] when a rename fails or the disk state fits no row (the
/// journal is then kept for a human to look at); [`EngineError::Io`] otherwise.
pub fn recover(path: &Path) -> Result<Option<Recovery>, EngineError> {
    let Some(j) = read(path)? else {
        return Ok(None);
    };
    let install = j.install_dir.exists();
    let backup = j.backup.exists();
    let staging = j.staging.exists();
    let outcome = match (j.step, install, backup, staging) {
        (Step::Done, ..) | (Step::Swap, true, _, _) => Recovery::Completed {
            version: j.to.clone(),
        },
        (Step::Backup, true, _, _) => Recovery::RolledBack {
            version: j.from.clone(),
        },
        (Step::Backup | Step::Swap, false, true, true) => {
            rename(&j.staging, &j.install_dir)?;
            Recovery::Completed {
                version: j.to.clone(),
            }
        }
        (Step::Backup | Step::Swap, false, true, false) => {
            rename(&j.backup, &j.install_dir)?;
            Recovery::RolledBack {
                version: j.from.clone(),
            }
        }
        (_, false, false, _) => {
            return Err(EngineError::InstallFailed {
                message: format!(
                    "journal {}: neither {} nor its backup {} exists",
                    path.display(),
                    j.install_dir.display(),
                    j.backup.display()
                ),
            });
        }
    };
    remove(path)?;
    tracing::info!(?outcome, "recovered an interrupted install");
    Ok(Some(outcome))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tree whose only file says which version it is.
    fn tree(dir: &Path, version: &str) {
        fs::create_dir_all(dir.join("sub")).unwrap();
        fs::write(dir.join("sub/version.txt"), version).unwrap();
        fs::write(dir.join(format!("only-in-{version}")), "").unwrap();
    }

    fn version_of(dir: &Path) -> String {
        let v = fs::read_to_string(dir.join("sub/version.txt")).unwrap();
        let files: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.starts_with("only-in-"))
            .collect();
        assert_eq!(files, [format!("only-in-{v}")], "a mix of versions");
        v
    }

    struct Fixture {
        _dir: tempfile::TempDir,
        journal_path: PathBuf,
        journal: Journal,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let install = dir.path().join("app");
        let staging = dir.path().join("data/staging/demo-2.0");
        let backup = dir.path().join("data/backup/demo-1.0");
        tree(&install, "1.0");
        tree(&staging, "2.0");
        fs::create_dir_all(backup.parent().unwrap()).unwrap();
        Fixture {
            journal_path: dir.path().join("data/journal.json"),
            journal: Journal {
                step: Step::Backup,
                install_dir: install,
                staging,
                backup,
                from: "1.0".parse().unwrap(),
                to: "2.0".parse().unwrap(),
            },
            _dir: dir,
        }
    }

    #[test]
    fn swap_installs_the_new_tree_and_keeps_the_old_one() {
        let f = fixture();
        swap(&f.journal_path, &f.journal).unwrap();
        assert_eq!(version_of(&f.journal.install_dir), "2.0");
        assert_eq!(version_of(&f.journal.backup), "1.0");
        assert!(!f.journal.staging.exists());
        assert!(!f.journal_path.exists());
        assert_eq!(recover(&f.journal_path).unwrap(), None);
    }

    #[test]
    fn swap_with_existing_backup_fails_and_leaves_install_untouched() {
        let f = fixture();
        // The backup path is occupied by a non-empty folder: the first rename fails.
        tree(&f.journal.backup, "0.9");
        assert!(swap(&f.journal_path, &f.journal).is_err());
        assert_eq!(version_of(&f.journal.install_dir), "1.0");
        assert!(!f.journal_path.exists());
    }

    /// A crash after each point of the swap: the journal as written before the step, and the
    /// renames done so far. Recovery must leave exactly the old or the new tree.
    #[test]
    fn crash_at_every_point_recovers_old_or_new() {
        // (step in journal, renames done before the crash, expected version)
        let cases = [
            (Step::Backup, 0, "1.0"),
            (Step::Backup, 1, "2.0"),
            (Step::Swap, 1, "2.0"),
            (Step::Swap, 2, "2.0"),
            (Step::Done, 2, "2.0"),
        ];
        for (step, renames, expected) in cases {
            let f = fixture();
            let j = &f.journal;
            if renames >= 1 {
                fs::rename(&j.install_dir, &j.backup).unwrap();
            }
            if renames >= 2 {
                fs::rename(&j.staging, &j.install_dir).unwrap();
            }
            write(&f.journal_path, &Journal { step, ..j.clone() }).unwrap();
            let outcome = recover(&f.journal_path).unwrap().unwrap();
            assert_eq!(
                version_of(&j.install_dir),
                expected,
                "{step:?} after {renames}"
            );
            let version = match outcome {
                Recovery::Completed { version } | Recovery::RolledBack { version } => version,
            };
            assert_eq!(version.to_string(), expected);
            assert!(!f.journal_path.exists());
        }
    }

    #[test]
    fn crash_after_first_rename_with_staging_lost_rolls_back() {
        let f = fixture();
        let j = &f.journal;
        fs::rename(&j.install_dir, &j.backup).unwrap();
        fs::remove_dir_all(&j.staging).unwrap();
        write(&f.journal_path, j).unwrap();
        assert_eq!(
            recover(&f.journal_path).unwrap(),
            Some(Recovery::RolledBack {
                version: "1.0".parse().unwrap()
            })
        );
        assert_eq!(version_of(&j.install_dir), "1.0");
    }

    #[test]
    fn unreadable_journal_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.json");
        fs::write(&path, "{not json").unwrap();
        assert!(matches!(
            recover(&path),
            Err(EngineError::InstallFailed { .. })
        ));
    }
}
