//! Cleanup after a commit (docs/architecture.md, "One update, step by step", step 11, and "The data
//! folder"): what an installed, committed version no longer needs is removed, so that the data
//! folder does not grow across updates — `.part` files and their records, finished targets, staging
//! folders, cached tars of other versions, temporary files, and backups other than the one kept for
//! `rollback`.
//!
//! [`plan`] is pure: from the entries found in the managed folders ([`inventory`]) and what to
//! [`Keep`], the list to remove. [`run`] does the I/O. Only entries *inside* the managed folders
//! are ever removed — `downloads/`, `staging/`, `cache/`, `backup/`, `rolled-back/` of the data
//! folder and the sibling folders `<install>.tufd-staging`, `<install>.tufd-backup` and
//! `<install>.tufd-rolled-back` — never the install
//! folder, the metadata, the journal or the state file. Cleanup must not run while an
//! operation is in progress (the supervisor runs it after a commit, between operations).

use std::path::{Path, PathBuf};

use crate::layout::{DataLayout, REMOVING_PREFIX, Sibling};

/// What survives a cleanup.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Keep {
    /// The cached tar of the installed version (`cache/<app>-<current>.tar`): the base of the
    /// next patch.
    pub base_tar: Option<PathBuf>,
    /// The backup of the previous version, while a rollback may still need it.
    pub backup: Option<PathBuf>,
    /// A staged update waiting for `install`.
    pub staging: Option<PathBuf>,
}

/// What a cleanup did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Entries removed.
    pub removed: Vec<PathBuf>,
    /// Bytes freed (file lengths; folders counted by their contents).
    pub freed_bytes: u64,
    /// Entries that could not be removed, with the reason (logged; retried next time).
    pub failed: Vec<(PathBuf, String)>,
}

/// The folders whose entries cleanup manages, for `install_dir` and `layout`.
pub fn managed_folders(layout: &DataLayout, install_dir: &Path) -> Vec<PathBuf> {
    let mut folders = vec![
        layout.downloads(),
        layout.staging(),
        layout.cache(),
        layout.backup(),
    ];
    folders.push(layout.root().join("rolled-back"));
    for which in [Sibling::Staging, Sibling::Backup, Sibling::RolledBack] {
        folders.extend(which.of(install_dir));
    }
    folders
}

/// The entries to remove among `entries` (children of the managed folders): everything not in
/// `keep`, and nothing that is an ancestor of a kept path (a kept backup inside a sibling
/// backup folder keeps that folder). Pure.
pub fn plan(entries: &[PathBuf], keep: &Keep) -> Vec<PathBuf> {
    let kept: Vec<&PathBuf> = [&keep.base_tar, &keep.backup, &keep.staging]
        .into_iter()
        .flatten()
        .collect();
    entries
        .iter()
        .filter(|entry| !kept.iter().any(|k| k.starts_with(entry)))
        .cloned()
        .collect()
}

/// The children of every managed folder that exists (sorted). Blocking.
pub fn inventory(layout: &DataLayout, install_dir: &Path) -> Vec<PathBuf> {
    let mut entries = Vec::new();
    for folder in managed_folders(layout, install_dir) {
        if folder == install_dir {
            continue;
        }
        if let Ok(read) = std::fs::read_dir(&folder) {
            entries.extend(read.flatten().map(|e| e.path()));
        }
    }
    entries.sort();
    entries
}

/// Bytes below `path` (a file's length, a folder's contents; links count zero).
fn size_of(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if meta.is_dir() {
        std::fs::read_dir(path)
            .map(|read| read.flatten().map(|e| size_of(&e.path())).sum())
            .unwrap_or(0)
    } else if meta.is_file() {
        meta.len()
    } else {
        0
    }
}

/// Renames folder `path` to `.tufd-removing-<name>` beside it, then removes it; both retried
/// while another program holds a file (Windows), and read-only content made removable
/// ([`crate::fsops`]).
fn remove_folder(path: &Path) -> std::io::Result<()> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let doomed = if name.starts_with(REMOVING_PREFIX) {
        path.to_path_buf()
    } else {
        let doomed = path.with_file_name(format!("{REMOVING_PREFIX}{name}"));
        crate::fsops::rename(path, &doomed)?;
        doomed
    };
    tufd_core::faults::point("cleanup.after-rename");
    crate::fsops::remove_tree(&doomed)
}

/// Removes every entry of the managed folders that `keep` does not hold. Blocking; never fails
/// as a whole (an entry that cannot be removed is reported and retried next time).
pub fn run(layout: &DataLayout, install_dir: &Path, keep: &Keep) -> Report {
    let mut report = Report::default();
    for path in plan(&inventory(layout, install_dir), keep) {
        tufd_core::faults::point("cleanup.before-remove");
        let bytes = size_of(&path);
        let is_dir = std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir());
        let result = if is_dir {
            // Renamed first (atomic), so a crash mid-removal never leaves a partial folder under
            // a name that looks like a backup or a staged version.
            remove_folder(&path)
        } else {
            crate::fsops::remove_file(&path)
        };
        match result {
            Ok(()) => {
                report.freed_bytes += bytes;
                report.removed.push(path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => report.failed.push((path, e.to_string())),
        }
    }
    if !report.removed.is_empty() {
        tracing::info!(
            entries = report.removed.len(),
            bytes = report.freed_bytes,
            "cleaned up the data folder"
        );
    }
    for (path, error) in &report.failed {
        tracing::warn!(path = %path.display(), error, "cannot remove during cleanup");
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_keeps_the_base_tar_the_backup_and_their_folders() {
        let entries: Vec<PathBuf> = [
            "/d/downloads/demo-2.0.patch.part",
            "/d/downloads/demo-2.0.patch.part.json",
            "/d/cache/demo-1.0.tar",
            "/d/cache/demo-2.0.tar",
            "/d/cache/.tmpX",
            "/d/staging/demo-2.0",
            "/d/backup/demo-0.9",
            "/d/backup/demo-1.0",
            "/opt/app.tufd-backup",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        let keep = Keep {
            base_tar: Some("/d/cache/demo-2.0.tar".into()),
            backup: Some("/d/backup/demo-1.0".into()),
            staging: None,
        };
        let expected: Vec<PathBuf> = [
            "/d/downloads/demo-2.0.patch.part",
            "/d/downloads/demo-2.0.patch.part.json",
            "/d/cache/demo-1.0.tar",
            "/d/cache/.tmpX",
            "/d/staging/demo-2.0",
            "/d/backup/demo-0.9",
            "/opt/app.tufd-backup",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        assert_eq!(plan(&entries, &keep), expected);
        // A kept path inside an entry keeps the entry.
        let keep = Keep {
            backup: Some("/opt/app.tufd-backup/demo-1.0".into()),
            ..Keep::default()
        };
        assert!(!plan(&entries, &keep).contains(&PathBuf::from("/opt/app.tufd-backup")));
    }

    #[test]
    fn run_empties_the_managed_folders_but_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let layout = DataLayout::new(&dir.path().join("data"));
        layout.create_dirs().unwrap();
        let install = dir.path().join("app");
        std::fs::create_dir_all(install.join("bin")).unwrap();
        std::fs::write(install.join("bin/app"), "app").unwrap();
        std::fs::write(layout.journal(), "{}").unwrap();
        std::fs::write(layout.state(), "{}").unwrap();
        std::fs::write(layout.downloads().join("demo-2.0.patch.part"), [0u8; 100]).unwrap();
        std::fs::write(layout.cache().join("demo-1.0.tar"), [0u8; 1000]).unwrap();
        std::fs::write(layout.cache().join("demo-2.0.tar"), [0u8; 10]).unwrap();
        std::fs::create_dir_all(layout.staging().join("demo-3.0/sub")).unwrap();
        std::fs::write(layout.staging().join("demo-3.0/sub/f"), [0u8; 7]).unwrap();
        std::fs::create_dir_all(layout.backup().join("demo-1.0")).unwrap();
        let sibling = dir.path().join("app.tufd-staging/demo-3.0");
        std::fs::create_dir_all(&sibling).unwrap();
        // A release's read-only file and folder (0444, 0555) in an old backup.
        let old_backup = layout.backup().join("demo-0.9/bin");
        std::fs::create_dir_all(&old_backup).unwrap();
        std::fs::write(old_backup.join("app"), [0u8; 3]).unwrap();
        crate::sys::set_mode(&old_backup.join("app"), 0o444).unwrap();
        crate::sys::set_mode(&old_backup, 0o555).unwrap();

        let keep = Keep {
            base_tar: Some(layout.cache().join("demo-2.0.tar")),
            backup: Some(layout.backup().join("demo-1.0")),
            staging: None,
        };
        let report = run(&layout, &install, &keep);
        assert!(report.failed.is_empty(), "{report:?}");
        assert_eq!(report.freed_bytes, 1110);
        assert_eq!(report.removed.len(), 5, "{report:?}");
        assert!(!sibling.exists());
        assert!(!layout.backup().join("demo-0.9").exists());
        assert!(layout.cache().join("demo-2.0.tar").exists());
        assert!(layout.backup().join("demo-1.0").exists());
        assert!(layout.journal().exists() && layout.state().exists());
        assert_eq!(
            std::fs::read_to_string(install.join("bin/app")).unwrap(),
            "app"
        );
        // A second run finds nothing more.
        assert!(run(&layout, &install, &keep).removed.is_empty());
    }
}
