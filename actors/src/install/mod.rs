//! InstallActor and its plain work: extract the verified tar into a fresh staging folder, wait
//! for the app to exit, swap folders with a journal ([`journal`]), relaunch (DESIGN "The
//! daemon: actors", InstallActor; contract "Install folder").
//!
//! This is the built-in native plan for Linux and macOS trees (the WASM hooks come later):
//! `wait-for-exit`, `swap`, `relaunch`.
//!
//! Placement: staging and backup live under the data folder (`staging/<app>-<new>`,
//! `backup/<app>-<old>`) when the data folder and the install folder's parent are on the same
//! file system, so that the swap is two renames. Otherwise they are siblings of the install
//! folder (`<install>.tufd-staging`, `<install>.tufd-backup`). Only one backup is kept: older
//! ones are removed before the next swap.

pub mod journal;

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tufd_core::Version;
use tufd_core::archive::{self, ExtractLimits};

use crate::config::DataLayout;
use crate::error::EngineError;

pub use journal::{Journal, Recovery, Step};

/// Most entries an update tar may hold.
pub const MAX_ENTRIES: u64 = 1_000_000;

/// Where staging and backup go for one install.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    /// The fresh staging folder.
    pub staging: PathBuf,
    /// The backup folder of the old version.
    pub backup: PathBuf,
    /// Every backup location of this app, cleared before the swap.
    pub backup_root: PathBuf,
}

/// Whether two existing paths are on the same file system.
#[cfg(unix)]
fn same_device(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_device(_a: &Path, _b: &Path) -> bool {
    false
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
    if same_device(layout.root(), install_parent) {
        Placement {
            staging: layout.staging().join(format!("{app}-{to}")),
            backup: layout.backup().join(format!("{app}-{from}")),
            backup_root: layout.backup(),
        }
    } else {
        let sibling = |suffix: &str| {
            let mut name = install_dir.file_name().unwrap_or_default().to_os_string();
            name.push(suffix);
            install_parent.join(name)
        };
        let backup_root = sibling(".tufd-backup");
        Placement {
            staging: sibling(".tufd-staging"),
            backup: backup_root.join(format!("{app}-{from}")),
            backup_root,
        }
    }
}

fn remove_dir_if_present(path: &Path) -> Result<(), EngineError> {
    match std::fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(EngineError::io(path, e)),
    }
}

/// Extracts `tar` into a fresh `staging` folder (an old one is removed first) with core's
/// safe extraction (no absolute paths, `..`, escaping links or device files; modes kept).
/// Blocking.
///
/// # Errors
/// [`EngineError::InstallFailed`] when extraction refuses the tar; [`EngineError::Io`].
pub fn stage(tar: &Path, staging: &Path) -> Result<(), EngineError> {
    remove_dir_if_present(staging)?;
    if let Some(parent) = staging.parent() {
        std::fs::create_dir_all(parent).map_err(|e| EngineError::io(parent, e))?;
    }
    let file = File::open(tar).map_err(|e| EngineError::io(tar, e))?;
    let size = file.metadata().map_err(|e| EngineError::io(tar, e))?.len();
    let limits = ExtractLimits {
        max_total_bytes: size,
        max_entries: MAX_ENTRIES,
    };
    let summary =
        archive::extract_tar(&mut BufReader::new(file), staging, &limits).map_err(|e| {
            EngineError::InstallFailed {
                message: format!(
                    "extracting {} into {}: {e}",
                    tar.display(),
                    staging.display()
                ),
            }
        })?;
    tracing::info!(staging = %staging.display(), files = summary.files, bytes = summary.bytes, "staged");
    Ok(())
}

/// Whether process `pid` is still running. Linux: `/proc/<pid>` exists and is not a zombie.
/// Other systems: TODO (macOS needs `kill(pid, 0)`, which wants `libc`); treated as exited.
pub fn process_alive(pid: u32) -> bool {
    let proc_dir = PathBuf::from(format!("/proc/{pid}"));
    if !proc_dir.exists() {
        return false;
    }
    // `/proc/<pid>/stat` is `pid (comm) S …`; `Z` is a zombie that has already exited.
    match std::fs::read_to_string(proc_dir.join("stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .map(|(_, rest)| !rest.trim_start().starts_with('Z'))
            .unwrap_or(true),
        Err(_) => false,
    }
}

/// Waits until `pid` exits, checking every 100 ms.
pub async fn wait_for_exit(pid: u32) {
    let mut logged = false;
    while process_alive(pid) {
        if !logged {
            tracing::info!(pid, "waiting for the app to exit before swapping");
            logged = true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Swaps `install_dir` for the staged new version with a journal at `layout.journal()`,
/// removing older backups first. Blocking.
///
/// # Errors
/// As [`journal::swap`]; the install folder is left as it was on error.
pub fn swap(
    layout: &DataLayout,
    install_dir: &Path,
    placement: &Placement,
    from: &Version,
    to: &Version,
) -> Result<(), EngineError> {
    remove_dir_if_present(&placement.backup_root)?;
    std::fs::create_dir_all(&placement.backup_root)
        .map_err(|e| EngineError::io(&placement.backup_root, e))?;
    let j = Journal {
        step: Step::Backup,
        install_dir: install_dir.to_path_buf(),
        staging: placement.staging.clone(),
        backup: placement.backup.clone(),
        from: from.clone(),
        to: to.clone(),
    };
    journal::swap(&layout.journal(), &j)
}

/// Starts `command` (program and arguments) detached, with the install folder as working
/// folder and no stdin/stdout (stdout belongs to the protocol). A relative program resolves
/// inside `install_dir` when such a file exists there, else through `PATH`.
///
/// # Errors
/// [`EngineError::InstallFailed`] when the program cannot be started.
pub fn relaunch(command: &[String], install_dir: &Path) -> Result<(), EngineError> {
    let Some((program, args)) = command.split_first() else {
        return Ok(());
    };
    let mut path = PathBuf::from(program);
    if path.is_relative() && install_dir.join(&path).is_file() {
        path = install_dir.join(&path);
    }
    let mut child = std::process::Command::new(&path)
        .args(args)
        .current_dir(install_dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .spawn()
        .map_err(|e| EngineError::InstallFailed {
            message: format!("cannot relaunch {}: {e}", path.display()),
        })?;
    tracing::info!(program = %path.display(), pid = child.id(), "relaunched the app");
    // Reap it when it exits so it does not linger as a zombie while the daemon lives.
    std::thread::spawn(move || child.wait());
    Ok(())
}

/// One install: what to swap in.
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
    /// Wait for this process first.
    pub app_pid: Option<u32>,
    /// Relaunch command.
    pub relaunch: Option<Vec<String>>,
}

/// Messages of the [`InstallActor`].
pub enum InstallMsg {
    /// Extract `tar` into `staging` (blocking thread).
    Stage {
        /// The verified new tar.
        tar: PathBuf,
        /// The fresh staging folder.
        staging: PathBuf,
        /// Where to answer.
        reply: RpcReplyPort<Result<(), EngineError>>,
    },
    /// Wait for the app, swap, relaunch. Answers whether a relaunch happened.
    Install {
        /// What to install.
        job: InstallJob,
        /// Where to answer.
        reply: RpcReplyPort<Result<bool, EngineError>>,
    },
}

/// The InstallActor: staging and the journaled swap, one at a time.
pub struct InstallActor;

impl Actor for InstallActor {
    type Msg = InstallMsg;
    type State = ();
    type Arguments = ();

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        _args: (),
    ) -> Result<(), ActorProcessingErr> {
        Ok(())
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        _state: &mut (),
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            InstallMsg::Stage {
                tar,
                staging,
                reply,
            } => {
                let result = tokio::task::spawn_blocking(move || stage(&tar, &staging)).await?;
                let _ = reply.send(result);
            }
            InstallMsg::Install { job, reply } => {
                let _ = reply.send(install(job).await);
            }
        }
        Ok(())
    }
}

/// Runs an [`InstallJob`]: wait for the app, swap (blocking thread), relaunch. Returns whether
/// the app was relaunched.
///
/// # Errors
/// As [`swap`] and [`relaunch`].
pub async fn install(job: InstallJob) -> Result<bool, EngineError> {
    if let Some(pid) = job.app_pid {
        wait_for_exit(pid).await;
    }
    let swap_job = job.clone();
    tokio::task::spawn_blocking(move || {
        swap(
            &swap_job.layout,
            &swap_job.install_dir,
            &swap_job.placement,
            &swap_job.from,
            &swap_job.to,
        )
    })
    .await
    .map_err(|e| EngineError::Internal {
        message: format!("install thread: {e}"),
    })??;
    tracing::info!(from = %job.from, to = %job.to, install = %job.install_dir.display(), "installed");
    match &job.relaunch {
        Some(command) => {
            relaunch(command, &job.install_dir)?;
            Ok(true)
        }
        None => Ok(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(process_alive(std::process::id()));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(!process_alive(pid));
    }

    #[test]
    fn zombie_counts_as_exited() {
        let child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        // Not reaped: after it exits it stays a zombie until `child` is waited on.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while process_alive(pid) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(!process_alive(pid));
        drop(child);
    }

    #[test]
    fn relaunch_resolves_inside_the_install_folder() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("run.sh");
        std::fs::write(&script, "#!/bin/sh\necho ran > \"$PWD/ran.txt\"\n").unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        relaunch(&["run.sh".into()], dir.path()).unwrap();
        let marker = dir.path().join("ran.txt");
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !marker.exists() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(std::fs::read_to_string(marker).unwrap(), "ran\n");
    }
}
