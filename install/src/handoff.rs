//! Handing the swap to a copy of tufd outside the install folder (docs/architecture.md, "Where
//! tufd runs from").
//!
//! Windows cannot rename a folder while an exe inside it runs, so a `tufd.exe` shipped inside
//! the app's own bundle (the layout most apps use) cannot swap the folder it runs from. tufup
//! had the same problem and solved it with a batch script started by `move_and_exit` that
//! outlives the app. tufd does it with itself: when the plan is ready and the running
//! executable lies inside the install folder, it
//!
//! 1. records what to install in `<data>/handoff.json` ([`Handoff`]: versions and folders);
//! 2. copies its own executable to `<data>/helper/` (outside the install folder);
//! 3. starts that copy with its own command line plus `--finish-install-after <its pid>`
//!    (stdin and stdout closed, logs to `<data>/helper/finish-install.log`), and answers the
//!    app that the install is handed off; the app exits, which ends this daemon.
//!
//! The copy waits for that pid to exit, takes the data folder's lock, and runs the ordinary
//! install ([`finish`]: the same plan source, the same journal, the same wait for `--app-pid`
//! and relaunch), then commits or puts the new version on trial as any install does. Nothing on
//! disk changes before the copy runs, so a copy that never starts leaves the app exactly as it
//! was; the next daemon start discards the stale hand-off ([`discard_stale`]).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};
use tufd_core::Version;
use tufd_core::fs::{Durability, write_atomic};

use crate::commit::{self, AfterInstall};
use crate::error::InstallError;
use crate::layout::DataLayout;
use crate::plan_source::PlanSource;
use crate::settings::InstallSettings;
use crate::stage::{InstallJob, Placement, install_blocking};

/// The flag a helper copy is started with: `--finish-install-after <pid>` (the pid of the
/// daemon that handed the install off).
pub const FINISH_FLAG: &str = "--finish-install-after";

/// What a daemon hands to its copy (`<data>/handoff.json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handoff {
    /// The installed version.
    pub from: Version,
    /// The staged version to install.
    pub to: Version,
    /// Staging and backup folders, as the handing daemon staged them.
    pub placement: Placement,
    /// The process id of the daemon that handed off; the copy starts once it has exited.
    pub handed_by: u32,
}

/// Whether the executable `exe` lies inside `install_dir` (both absolute; compared component
/// by component, ASCII case-insensitively when `case_insensitive`, as NTFS compares names).
/// Pure.
pub fn exe_inside(install_dir: &Path, exe: &Path, case_insensitive: bool) -> bool {
    let mut dir = install_dir.components();
    let mut file = exe.components();
    loop {
        match (dir.next(), file.next()) {
            (None, Some(_)) => return true,
            (None, None) | (Some(_), None) => return false,
            (Some(d), Some(f)) => {
                let (d, f) = (d.as_os_str(), f.as_os_str());
                let same = if case_insensitive {
                    d.to_string_lossy()
                        .eq_ignore_ascii_case(&f.to_string_lossy())
                } else {
                    d == f
                };
                if !same {
                    return false;
                }
            }
        }
    }
}

/// Whether this process must hand the swap of `install_dir` off: the OS pins the folder of a
/// running executable ([`crate::sys::RUNNING_EXE_PINS_FOLDER`]: Windows) and the running
/// executable lies inside `install_dir`.
pub fn needed(install_dir: &Path) -> bool {
    if !crate::sys::RUNNING_EXE_PINS_FOLDER {
        return false;
    }
    let Ok(exe) = std::env::current_exe() else {
        return false;
    };
    let exe = exe.canonicalize().unwrap_or(exe);
    let dir = install_dir
        .canonicalize()
        .unwrap_or_else(|_| install_dir.to_path_buf());
    exe_inside(&dir, &exe, cfg!(windows))
}

fn helper_dir(layout: &DataLayout) -> PathBuf {
    layout.root().join("helper")
}

fn handoff_path(layout: &DataLayout) -> PathBuf {
    layout.root().join("handoff.json")
}

/// Hands the install of `job` off: writes the hand-off file, copies the running executable to
/// `<data>/helper/` and starts the copy with `args` (this daemon's own arguments, without the
/// program name) plus [`FINISH_FLAG`] and this process id. Returns the copy's path. Nothing in
/// the install folder is touched. Blocking.
///
/// # Errors
/// [`InstallError::Io`] when the file cannot be written, the executable cannot be copied or the
/// copy cannot be started (the hand-off file is then removed again).
pub fn hand_off(job: &InstallJob, args: &[OsString]) -> Result<PathBuf, InstallError> {
    let exe = std::env::current_exe().map_err(|e| InstallError::io("current executable", e))?;
    let dir = helper_dir(&job.layout);
    std::fs::create_dir_all(&dir).map_err(|e| InstallError::io(&dir, e))?;
    let copy = dir.join(exe.file_name().unwrap_or_else(|| "tufd".as_ref()));
    std::fs::copy(&exe, &copy).map_err(|e| InstallError::io(&copy, e))?;
    let handoff = Handoff {
        from: job.from.clone(),
        to: job.to.clone(),
        placement: job.placement.clone(),
        handed_by: std::process::id(),
    };
    let path = handoff_path(&job.layout);
    let json = serde_json::to_vec_pretty(&handoff).expect("a hand-off serialises");
    write_atomic(&path, &json, Durability::Synced).map_err(|(at, e)| InstallError::io(at, e))?;
    let log = dir.join("finish-install.log");
    let started = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .and_then(|log| {
            let mut cmd = Command::new(&copy);
            cmd.args(args)
                .arg(FINISH_FLAG)
                .arg(std::process::id().to_string())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log);
            crate::sys::detach(&mut cmd);
            cmd.spawn()
        });
    if let Err(e) = started {
        let _ = std::fs::remove_file(&path);
        return Err(InstallError::io(&copy, e));
    }
    tracing::info!(
        helper = %copy.display(),
        log = %log.display(),
        to = %job.to,
        "tufd runs from inside the install folder, which Windows cannot rename while it runs: \
         the install is handed to a copy outside it, which swaps once this process has exited"
    );
    Ok(copy)
}

/// Reads and removes the hand-off file; `None` when there is none. Blocking.
///
/// # Errors
/// [`InstallError::Io`] when it cannot be read or removed; [`InstallError::JournalUnreadable`]
/// when it is not a hand-off.
pub fn take(layout: &DataLayout) -> Result<Option<Handoff>, InstallError> {
    let path = handoff_path(layout);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(InstallError::io(&path, e)),
    };
    std::fs::remove_file(&path).map_err(|e| InstallError::io(&path, e))?;
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|source| InstallError::JournalUnreadable { path, source })
}

/// At an ordinary start: a hand-off file whose copy never ran is discarded (the app was never
/// touched), and helper copies left by earlier hand-offs are removed where the OS lets go of
/// them. Blocking; failures are logged.
pub fn discard_stale(layout: &DataLayout) {
    match take(layout) {
        Ok(Some(stale)) => tracing::warn!(
            from = %stale.from,
            to = %stale.to,
            "an install handed to a helper copy never ran; the app is as it was, and the next \
             install starts over"
        ),
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "cannot discard a stale hand-off"),
    }
    let dir = helper_dir(layout);
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "log") {
                continue;
            }
            // A copy still running (Windows keeps its file) stays until a later start.
            let _ = std::fs::remove_file(&path);
        }
    }
}

/// What [`finish`] did.
#[derive(Debug)]
pub enum Finished {
    /// No hand-off file: nothing to do.
    Nothing,
    /// The install ran; what followed it.
    Installed {
        /// The version installed.
        to: Version,
        /// Commit, trial or health rollback.
        after: AfterInstall,
    },
}

/// Runs a handed-off install in the helper copy: the ordinary [`install_blocking`] with the
/// plan made again by `source` (so the same checks apply), then [`commit::after_install`].
/// The caller has waited for the handing daemon to exit and holds the data folder's lock.
/// Blocking.
///
/// # Errors
/// As [`take`] and [`install_blocking`] (a failed install is rolled back by its journal);
/// [`InstallError::Io`] when the staged folder is gone.
pub fn finish(settings: &InstallSettings, source: &PlanSource) -> Result<Finished, InstallError> {
    let layout = settings.layout();
    let Some(handoff) = take(&layout)? else {
        return Ok(Finished::Nothing);
    };
    if !handoff.placement.staging.is_dir() {
        return Err(InstallError::io(
            &handoff.placement.staging,
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "the staged update handed off is gone",
            ),
        ));
    }
    let job = InstallJob {
        layout: layout.clone(),
        install_dir: settings.install_dir.clone(),
        placement: handoff.placement.clone(),
        from: handoff.from.clone(),
        to: handoff.to.clone(),
        app_pid: settings.app_pid,
        relaunch: settings.relaunch.clone(),
        app_name: settings.app_name.clone(),
    };
    // No hand-off arguments: this copy runs outside the install folder and swaps itself.
    install_blocking(&job, source, None)?;
    let after = commit::after_install(
        settings,
        &handoff.from,
        &handoff.to,
        &handoff.placement.backup,
    );
    Ok(Finished::Installed {
        to: handoff.to,
        after,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exe_inside_the_install_folder_is_found_case_insensitively_on_windows_rules() {
        let dir = Path::new("/apps/Demo");
        assert!(exe_inside(dir, Path::new("/apps/Demo/bin/tufd"), false));
        assert!(!exe_inside(dir, Path::new("/apps/demo/bin/tufd"), false));
        assert!(exe_inside(dir, Path::new("/apps/demo/bin/tufd"), true));
        assert!(!exe_inside(dir, Path::new("/apps/Demo2/tufd"), true));
        assert!(!exe_inside(dir, Path::new("/apps/Demo"), true));
        assert!(!exe_inside(dir, Path::new("/data/helper/tufd"), true));
    }

    #[test]
    fn a_stale_handoff_is_discarded_and_taken_only_once() {
        let dir = tempfile::tempdir().unwrap();
        let layout = DataLayout::new(&dir.path().join("data"));
        layout.create_dirs().unwrap();
        let handoff = Handoff {
            from: "1.0".parse().unwrap(),
            to: "2.0".parse().unwrap(),
            placement: Placement {
                staging: dir.path().join("staging"),
                backup: dir.path().join("backup/demo-1.0"),
                backup_root: dir.path().join("backup"),
                trash: dir.path().join("trash"),
            },
            handed_by: 1,
        };
        std::fs::write(handoff_path(&layout), serde_json::to_vec(&handoff).unwrap()).unwrap();
        assert_eq!(take(&layout).unwrap(), Some(handoff));
        assert_eq!(take(&layout).unwrap(), None);
        std::fs::write(handoff_path(&layout), b"{}").unwrap();
        assert!(matches!(
            take(&layout),
            Err(InstallError::JournalUnreadable { .. })
        ));
        std::fs::create_dir_all(helper_dir(&layout)).unwrap();
        std::fs::write(helper_dir(&layout).join("tufd"), b"copy").unwrap();
        std::fs::write(handoff_path(&layout), b"{}").unwrap();
        discard_stale(&layout);
        assert!(!handoff_path(&layout).exists());
        assert!(!helper_dir(&layout).join("tufd").exists());
    }
}
