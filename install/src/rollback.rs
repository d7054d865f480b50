//! Rolling back to the previous version while its backup exists, on request or after a failed
//! health check (docs/protocol.md, "Health check and rollback").
//!
//! The backup of the previous version is the folder `<app>-<version>` in a backup root (the data
//! folder's `backup/`, or `<install>.tufd-backup` beside an install folder on another file
//! system; see [`crate::stage::placement`]). A rollback is an install in reverse, run by the
//! same journaled executor with the built-in native plan, so a crash during it is finished or
//! undone on the next start like any install: the backup plays the staging folder, and the
//! current version goes to `rolled-back/<app>-<current>` (or `<install>.tufd-rolled-back/…`),
//! which [`crate::cleanup`] removes later.

use std::path::{Path, PathBuf};

use tufd_core::Version;

use crate::error::InstallError;
use crate::layout::{DataLayout, Sibling};
use crate::plan_source::PlanSource;
use crate::settings::InstallSettings;
use crate::stage::{self as install, InstallJob, Placement};

/// A backup of a previous version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backup {
    /// Its version.
    pub version: Version,
    /// Its folder.
    pub path: PathBuf,
}

/// The folders that may hold backups of `install_dir`'s app.
pub fn backup_roots(layout: &DataLayout, install_dir: &Path) -> Vec<PathBuf> {
    let mut roots = vec![layout.backup()];
    roots.extend(Sibling::Backup.of(install_dir));
    roots
}

/// The folders a rolled-back version is moved to (removed by cleanup).
pub fn rolled_back_roots(layout: &DataLayout, install_dir: &Path) -> Vec<PathBuf> {
    let mut roots = vec![layout.root().join("rolled-back")];
    roots.extend(Sibling::RolledBack.of(install_dir));
    roots
}

/// The version of a backup folder named `<app>-<version>`, if `name` is one. Pure.
pub fn backup_version(app: &str, name: &str) -> Option<Version> {
    name.strip_prefix(app)?.strip_prefix('-')?.parse().ok()
}

/// The newest backup among `names` (folder names found in a backup root) of a version other
/// than `current`. Pure.
pub fn pick_backup<'a>(
    app: &str,
    current: &Version,
    names: impl IntoIterator<Item = &'a str>,
) -> Option<(Version, &'a str)> {
    names
        .into_iter()
        .filter_map(|n| backup_version(app, n).map(|v| (v, n)))
        .filter(|(v, _)| v != current)
        .max_by(|a, b| a.0.cmp(&b.0))
}

/// The backup a rollback would restore, if one exists. Blocking (lists the backup roots).
pub fn find_backup(
    layout: &DataLayout,
    install_dir: &Path,
    app: &str,
    current: &Version,
) -> Option<Backup> {
    for root in backup_roots(layout, install_dir) {
        let Ok(read) = std::fs::read_dir(&root) else {
            continue;
        };
        let names: Vec<String> = read
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        if let Some((version, name)) = pick_backup(app, current, names.iter().map(String::as_str)) {
            return Some(Backup {
                version,
                path: root.join(name),
            });
        }
    }
    None
}

/// Puts the backup of the previous version back in place of `current` with the journaled
/// executor, relaunching the app when `relaunch` is set and a relaunch command is configured;
/// `wait_for_app` waits for the configured app process first (a rollback on request; the
/// automatic rollback does not wait, the new version having failed). Returns the restored
/// backup. Blocking.
///
/// # Errors
/// [`InstallError::NoBackup`] when there is no backup; as [`install::install_blocking`] otherwise
/// (the install folder is then as before).
pub fn rollback_blocking(
    config: &InstallSettings,
    current: &Version,
    relaunch: bool,
    wait_for_app: bool,
) -> Result<Backup, InstallError> {
    let layout = config.layout();
    let install_dir = &config.install_dir;
    let backup = find_backup(&layout, install_dir, &config.app_name, current).ok_or_else(|| {
        InstallError::NoBackup {
            reason: format!(
                "no backup of a version other than {current} in {}",
                backup_roots(&layout, install_dir)
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(" or ")
            ),
        }
    })?;
    // The rolled-back version goes next to the backup it replaces (same file system).
    let backup_root = backup.path.parent().unwrap_or(Path::new("/"));
    let rolled_root = if backup_root == layout.backup() {
        layout.root().join("rolled-back")
    } else {
        Sibling::RolledBack
            .of(install_dir)
            .unwrap_or_else(|| layout.root().join("rolled-back"))
    };
    let trash = if backup_root == layout.backup() {
        layout.trash()
    } else {
        Sibling::Trash
            .of(install_dir)
            .unwrap_or_else(|| layout.trash())
    };
    let job = InstallJob {
        layout: layout.clone(),
        install_dir: install_dir.clone(),
        placement: Placement {
            staging: backup.path.clone(),
            backup: rolled_root.join(format!("{}-{current}", config.app_name)),
            backup_root: rolled_root,
            trash,
        },
        from: current.clone(),
        to: backup.version.clone(),
        app_pid: if wait_for_app { config.app_pid } else { None },
        relaunch: if relaunch {
            config.relaunch.clone()
        } else {
            None
        },
        app_name: config.app_name.clone(),
    };
    tracing::warn!(from = %current, to = %backup.version, backup = %backup.path.display(), "rolling back");
    install::install_blocking(&job, &PlanSource::native(), None)?;
    Ok(backup)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        s.parse().unwrap()
    }

    #[test]
    fn backup_names_parse_and_the_newest_other_version_wins() {
        assert_eq!(backup_version("demo", "demo-1.0"), Some(v("1.0")));
        assert_eq!(backup_version("demo", "demo-app-1.0"), None);
        assert_eq!(backup_version("demo", "other-1.0"), None);
        assert_eq!(backup_version("demo", "demo-"), None);
        let names = ["demo-1.0", "demo-2.0", "junk", "demo-3.0"];
        assert_eq!(
            pick_backup("demo", &v("3.0"), names),
            Some((v("2.0"), "demo-2.0"))
        );
        assert_eq!(pick_backup("demo", &v("1.0"), ["demo-1.0"]), None);
    }

    #[test]
    fn find_backup_looks_in_the_data_folder() {
        let dir = tempfile::tempdir().unwrap();
        let layout = DataLayout::new(&dir.path().join("data"));
        layout.create_dirs().unwrap();
        let install = dir.path().join("app");
        assert_eq!(find_backup(&layout, &install, "demo", &v("2.0")), None);
        std::fs::create_dir_all(layout.backup().join("demo-1.0")).unwrap();
        std::fs::write(layout.backup().join("demo-0.5"), "a file, not a backup").unwrap();
        assert_eq!(
            find_backup(&layout, &install, "demo", &v("2.0")),
            Some(Backup {
                version: v("1.0"),
                path: layout.backup().join("demo-1.0"),
            })
        );
    }
}
