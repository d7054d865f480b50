//! The plain work of the engine's install worker (`tufd_engine::workers::install`): extract the
//! verified tar into a fresh staging folder, ask the install hook (or the built-in native plan) for
//! a plan ([`plan_source`]), and run the checked plan through the journaled executor
//! ([`executor`](crate::executor), [`journal`]) (docs/architecture.md, "One update, step by step",
//! steps 8 and 9, and "Design rules", "Never a half install"; docs/hooks.md, "How the daemon runs a
//! plan").
//!
//! Placement: staging, backup and trash live under the data folder (`staging/<app>-<new>`,
//! `backup/<app>-<old>`, `trash/`) when the data folder and the install folder's parent are on
//! the same file system, so that every plan step is a rename. Otherwise they are siblings of
//! the install folder (`<install>.tufd-staging`, `<install>.tufd-backup`,
//! `<install>.tufd-trash`). Only one backup is kept: older ones are removed before the next
//! plan runs.

use std::ffi::OsString;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use tufd_core::Version;
use tufd_core::archive::{self, EntryLimits, ExtractLimits};
use tufd_core::install_plan::InstallContext;
use tufd_hook_host::tree_entries;

use crate::error::InstallError;
use crate::layout::{DataLayout, Sibling};

use crate::executor::execute;
use crate::journal::{self, Roots};
use crate::plan_source::{self, PlanSource};

/// Where staging and backup go for one install.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Placement {
    /// The fresh staging folder.
    pub staging: PathBuf,
    /// The backup folder of the old version.
    pub backup: PathBuf,
    /// Every backup location of this app, cleared before the plan runs.
    pub backup_root: PathBuf,
    /// Where `remove` steps put things until the install is done.
    pub trash: PathBuf,
}

/// Decides staging and backup folders (see the module doc).
pub fn placement(
    layout: &DataLayout,
    install_dir: &Path,
    app: &str,
    from: &Version,
    to: &Version,
) -> Placement {
    let install_parent = install_dir.parent().unwrap_or(Path::new("/"));
    if crate::sys::same_device(layout.root(), install_parent) {
        Placement {
            staging: layout.staging().join(format!("{app}-{to}")),
            backup: layout.backup().join(format!("{app}-{from}")),
            backup_root: layout.backup(),
            trash: layout.trash(),
        }
    } else {
        let sibling = |which: Sibling| {
            which
                .of(install_dir)
                .unwrap_or_else(|| install_parent.join(which.suffix()))
        };
        let backup_root = sibling(Sibling::Backup);
        Placement {
            staging: sibling(Sibling::Staging),
            backup: backup_root.join(format!("{app}-{from}")),
            backup_root,
            trash: sibling(Sibling::Trash),
        }
    }
}

/// Removes folder `path` and everything in it (read-only content included, retried while
/// another program holds a file: [`crate::fsops::remove_tree`]); nothing there is fine.
fn remove_dir_if_present(path: &Path) -> Result<(), InstallError> {
    match crate::fsops::remove_tree(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(InstallError::io(path, e)),
    }
}

/// Extracts `tar` into a fresh `staging` folder (an old one is removed first) with core's
/// safe extraction (no absolute paths, `..`, escaping links or device files; modes kept),
/// within `limits` (entry count, path length), then makes the whole tree durable in one step
/// ([`crate::tree_sync::sync_tree`]) before the swap may use it. Blocking.
///
/// # Errors
/// [`InstallError::Extract`] when extraction refuses the tar (beyond `limits`:
/// [`archive::ArchiveError::TooManyEntries`], [`archive::ArchiveError::PathTooLong`]);
/// [`InstallError::Io`].
pub fn stage(tar: &Path, staging: &Path, limits: &EntryLimits) -> Result<(), InstallError> {
    tufd_core::faults::point("stage.before-clear");
    remove_dir_if_present(staging)?;
    tufd_core::faults::point("stage.before-extract");
    if let Some(parent) = staging.parent() {
        std::fs::create_dir_all(parent).map_err(|e| InstallError::io(parent, e))?;
    }
    let file = File::open(tar).map_err(|e| InstallError::io(tar, e))?;
    let size = file.metadata().map_err(|e| InstallError::io(tar, e))?.len();
    let extract = ExtractLimits {
        max_total_bytes: size,
        max_entries: limits.max_entries,
        max_path_bytes: limits.max_path_bytes,
        windows_names: ExtractLimits::WINDOWS_NAMES,
    };
    let summary =
        archive::extract_tar(&mut BufReader::new(file), staging, &extract).map_err(|source| {
            InstallError::Extract {
                tar: tar.to_path_buf(),
                staging: staging.to_path_buf(),
                source: Box::new(source),
            }
        })?;
    // The journaled swap renames these entries into the install: they must be on disk first.
    // Once for the whole tree, not per file (`tree_sync`: one sync of the file system on Linux).
    crate::tree_sync::sync_tree(staging).map_err(|(path, e)| InstallError::io(path, e))?;
    tufd_core::faults::point("stage.after-extract");
    tracing::info!(staging = %staging.display(), files = summary.files, bytes = summary.bytes, "staged");
    Ok(())
}

/// One install: what to put in place.
#[derive(Clone, Debug)]
pub struct InstallJob {
    /// The data folder.
    pub layout: DataLayout,
    /// The install folder.
    pub install_dir: PathBuf,
    /// Staging and backup.
    pub placement: Placement,
    /// The installed version.
    pub from: Version,
    /// The staged version.
    pub to: Version,
    /// The app's process id, for the plan's `wait-for-exit`.
    pub app_pid: Option<u32>,
    /// Relaunch command (program and arguments).
    pub relaunch: Option<Vec<String>>,
    /// The app name.
    pub app_name: String,
}

/// The context a hook (or the native plan) is told for `job` (file lists read from disk).
/// Blocking.
///
/// # Errors
/// [`InstallError::Io`] when a folder cannot be listed.
pub fn install_context(
    job: &InstallJob,
    settings: &[(String, String)],
) -> Result<InstallContext, InstallError> {
    let list = |dir: &Path| tree_entries(dir).map_err(|e| InstallError::io(dir, e));
    Ok(InstallContext {
        os: std::env::consts::OS.to_owned(),
        arch: std::env::consts::ARCH.to_owned(),
        app_name: job.app_name.clone(),
        installed_version: job.from.clone(),
        new_version: job.to.clone(),
        install_dir: job.install_dir.clone(),
        staging_dir: job.placement.staging.clone(),
        backup_dir: job.placement.backup.clone(),
        app_pid: job.app_pid,
        relaunch: job
            .relaunch
            .as_deref()
            .and_then(|c| plan_source::relaunch_command(c, &job.placement.staging)),
        staging_files: list(&job.placement.staging)?,
        installed_files: list(&job.install_dir)?,
        settings: settings.to_vec(),
    })
}

/// Records the release just installed ([`crate::release`]): its entries (the staging tree as
/// the plan found it), `left_behind` and the kept paths the old version had. A failure is
/// logged, not returned: the install is done, and without a record the next base tar is rebuilt
/// from the whole install folder as before.
fn record_release(job: &InstallJob, ctx: &InstallContext, left_behind: Vec<String>) {
    let kept = tufd_core::install_plan::native::kept_paths(&ctx.settings)
        .into_iter()
        .filter(|k| ctx.installed_files.binary_search(k).is_ok())
        .collect();
    let summary = crate::release::Summary {
        version: job.to.to_string(),
        left_behind,
        kept,
    };
    if let Err((path, error)) = crate::release::record(&job.layout, &ctx.staging_files, &summary) {
        tracing::warn!(path = %path.display(), %error, "could not record the installed release");
    }
}

/// What [`install_blocking`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InstallRun {
    /// The plan ran to its end.
    Ran {
        /// Whether the app was relaunched.
        relaunched: bool,
    },
    /// The swap was handed to a copy of tufd outside the install folder
    /// ([`crate::handoff`]); nothing was touched yet.
    HandedOff {
        /// The copy that runs the install once this process has exited.
        helper: PathBuf,
    },
}

/// Runs an [`InstallJob`] (blocking): asks `source` for the checked plan, hands it off when
/// this process runs from inside the install folder on an OS that pins it (and
/// `handoff_args`, this daemon's own command line, is given; see [`crate::handoff`]), else
/// clears older backups and executes the plan with the journal.
///
/// # Errors
/// [`InstallError::Hook`] or [`InstallError::StepFailed`] when the hook fails or returns a bad plan (nothing was
/// touched) or a step fails (rolled back); [`InstallError::Io`].
pub fn install_blocking(
    job: &InstallJob,
    source: &PlanSource,
    handoff_args: Option<&[OsString]>,
) -> Result<InstallRun, InstallError> {
    let ctx = install_context(job, source.settings())?;
    let plan = source.plan(&ctx)?;
    tracing::info!(
        steps = plan.steps().len(),
        hook = source.has_hook(),
        "install plan ready"
    );
    let mut left = tufd_core::install_plan::native::left_behind(&ctx);
    // Entries of the old release that the new one dropped are the publisher's, not added
    // files: told apart when tufd recorded the old release.
    if let Some(old) = crate::release::files(&job.layout, &job.from.to_string()) {
        left.retain(|entry| !old.contains(entry));
    }
    if !left.is_empty() && !source.has_hook() {
        tracing::warn!(
            entries = %left.join(", "),
            version = %job.to,
            "not part of the new version: moved to the backup with the old one and deleted at \
             the next update; `--keep PATH` carries such paths over"
        );
    }
    if let Some(args) = handoff_args
        && crate::handoff::needed(&job.install_dir)
    {
        let helper = crate::handoff::hand_off(job, args)?;
        return Ok(InstallRun::HandedOff { helper });
    }
    // Renamed away first (atomic): a crash mid-removal must not leave a partial backup that a
    // later `rollback` would restore (docs/architecture.md, "The data folder").
    let doomed = job.placement.backup_root.with_extension("tufd-removing");
    remove_dir_if_present(&doomed)?;
    if journal::exists(&job.placement.backup_root) {
        crate::fsops::rename(&job.placement.backup_root, &doomed)
            .map_err(|e| InstallError::io(&job.placement.backup_root, e))?;
    }
    remove_dir_if_present(&doomed)?;
    std::fs::create_dir_all(&job.placement.backup_root)
        .map_err(|e| InstallError::io(&job.placement.backup_root, e))?;
    let roots = Roots {
        install: job.install_dir.clone(),
        staging: job.placement.staging.clone(),
        backup: job.placement.backup.clone(),
        trash: job.placement.trash.clone(),
    };
    let executed = execute(&job.layout.journal(), &roots, &plan, &job.from, &job.to)?;
    if let Some(failure) = &executed.late_failure {
        tracing::warn!(%failure, "installed, but a step after the relaunch failed");
    }
    tracing::info!(from = %job.from, to = %job.to, install = %job.install_dir.display(), "installed");
    record_release(job, &ctx, if source.has_hook() { Vec::new() } else { left });
    Ok(InstallRun::Ran {
        relaunched: executed.relaunched,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn placement_under_data_on_the_same_file_system() {
        let dir = tempfile::tempdir().unwrap();
        let layout = DataLayout::new(&dir.path().join("data"));
        layout.create_dirs().unwrap();
        let install = dir.path().join("app");
        let p = placement(
            &layout,
            &install,
            "demo",
            &"1.0".parse().unwrap(),
            &"2.0".parse().unwrap(),
        );
        assert_eq!(p.staging, layout.staging().join("demo-2.0"));
        assert_eq!(p.backup, layout.backup().join("demo-1.0"));
    }

    #[test]
    fn own_process_is_alive_and_a_dead_one_is_not() {
        assert!(crate::sys::process_alive(std::process::id()));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(!crate::sys::process_alive(pid));
    }

    #[test]
    fn zombie_counts_as_exited() {
        let child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        // Not reaped: after it exits it stays a zombie until `child` is waited on.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while crate::sys::process_alive(pid) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(!crate::sys::process_alive(pid));
        drop(child);
    }
}
