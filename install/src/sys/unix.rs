//! Linux and macOS.

use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

/// Permission bits of `meta` (`0o7777` mask).
pub fn mode_of(meta: &fs::Metadata) -> u32 {
    meta.permissions().mode() & 0o7777
}

/// Sets the permission bits of `path` (follows nothing: callers check for links first).
///
/// # Errors
/// The OS error.
pub fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}

/// Creates a symbolic link at `at` pointing to `target`.
///
/// # Errors
/// The OS error.
pub fn symlink(target: &str, at: &Path) -> io::Result<()> {
    std::os::unix::fs::symlink(target, at)
}

/// The user and group that own `path`.
pub fn owner(path: &Path) -> Option<(u32, u32)> {
    fs::metadata(path).ok().map(|m| (m.uid(), m.gid()))
}

/// Whether `dir`'s permission bits let `who` (user, group) write into it; root always may.
/// No probe file is made: a crash at that instant would leave a stray file in the app.
///
/// # Errors
/// Why not, in words.
pub fn permits_write(dir: &Path, who: Option<(u32, u32)>) -> Result<(), String> {
    let meta = fs::metadata(dir).map_err(|e| e.to_string())?;
    if !meta.is_dir() {
        return Err("not a folder".into());
    }
    let Some((uid, gid)) = who else {
        return Ok(());
    };
    let mode = meta.mode();
    let allowed = uid == 0
        || (meta.uid() == uid && mode & 0o200 != 0)
        || (meta.uid() != uid && meta.gid() == gid && mode & 0o020 != 0)
        || (meta.uid() != uid && meta.gid() != gid && mode & 0o002 != 0);
    if allowed {
        Ok(())
    } else {
        Err(format!(
            "permission bits {:o} do not allow writing",
            mode & 0o7777
        ))
    }
}

/// The device id of the file system holding `path`.
pub fn device(path: &Path) -> Option<u64> {
    fs::metadata(path).ok().map(|m| m.dev())
}

/// Whether process `pid` is still running: `kill(pid, 0)` finds it (a process of another user
/// counts), and on Linux it is not a zombie (`/proc/<pid>/stat` state `Z`: exited, not yet
/// reaped by its parent). `kill(2)`, POSIX.
pub fn process_alive(pid: u32) -> bool {
    let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return false;
    };
    match rustix::process::test_kill_process(pid) {
        Ok(()) => !is_zombie(pid),
        Err(e) => e == rustix::io::Errno::PERM,
    }
}

/// Makes the tree at `root` durable ([`crate::tree_sync`]): one `syncfs` on a handle to
/// `root`, which writes out every dirty file and folder of its file system (one sync of the file
/// system instead of one `fsync` per file). Since Linux 5.8 it reports a writeback error of
/// that file system.
///
/// # Errors
/// `root` and the OS error (it cannot be opened, or the sync failed).
#[cfg(target_os = "linux")]
pub fn sync_tree(root: &Path) -> Result<(), crate::tree_sync::SyncFailure> {
    fs::File::open(root)
        .and_then(|handle| rustix::fs::syncfs(&handle).map_err(io::Error::from))
        .map_err(|e| (root.to_path_buf(), e))
}

/// Makes the tree at `root` durable ([`crate::tree_sync`]): `fsync` of every file and folder
/// ([`crate::tree_sync::sync_each`]); macOS has no `syncfs`.
///
/// # Errors
/// The first path that failed and the OS error.
#[cfg(not(target_os = "linux"))]
pub fn sync_tree(root: &Path) -> Result<(), crate::tree_sync::SyncFailure> {
    crate::tree_sync::sync_each(
        root,
        &|file| fs::File::open(file)?.sync_all(),
        &tufd_core::fs::sync_dir,
    )
}

#[cfg(target_os = "linux")]
fn is_zombie(pid: rustix::process::Pid) -> bool {
    // `/proc/<pid>/stat` is `pid (comm) S …`; the state follows the last `)`.
    fs::read_to_string(format!("/proc/{}/stat", pid.as_raw_nonzero()))
        .ok()
        .and_then(|stat| {
            stat.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

#[cfg(not(target_os = "linux"))]
fn is_zombie(_pid: rustix::process::Pid) -> bool {
    false
}

/// Whether `error` from a rename or removal is a transient lock worth retrying: never on Unix
/// (nothing there holds a file against renames or removal).
pub fn is_transient_lock_error(_error: &io::Error) -> bool {
    false
}

/// Makes `path` (not a link; `meta` its `symlink_metadata`) removable with what it holds: a
/// folder gets owner read, write and search bits (unlinking an entry needs write and search on
/// its folder, listing it needs read: a release's `0555` folder otherwise stops the removal of
/// a backup, staging or trash folder for anyone but root). Files need nothing: their own mode
/// does not matter to `unlink`.
///
/// # Errors
/// The OS error of `chmod`.
pub fn make_removable(path: &Path, meta: &fs::Metadata) -> io::Result<()> {
    let mode = mode_of(meta);
    if meta.is_dir() && mode & 0o700 != 0o700 {
        set_mode(path, mode | 0o700)?;
    }
    Ok(())
}

/// Unix lets a folder be renamed while a program inside it runs: no hand-off is needed.
pub const RUNNING_EXE_PINS_FOLDER: bool = false;

/// Starts `cmd` in a process group of its own, so that it outlives this process and is not
/// signalled with the app's terminal or process group.
pub fn detach(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    cmd.process_group(0);
}

/// Exchanges `a` and `b` in one atomic step (both exist, on one file system): Linux
/// `renameat2(RENAME_EXCHANGE)`, macOS `renameatx_np(RENAME_SWAP)`, through rustix. At every
/// instant both paths exist, each holding one of the two whole trees.
///
/// # Errors
/// [`io::ErrorKind::Unsupported`] where the OS or the file system has no atomic exchange (an old
/// kernel, some network and FUSE file systems): the caller renames three times instead. Other
/// OS errors as they are.
pub fn exchange(a: &Path, b: &Path) -> io::Result<()> {
    #[cfg(any(target_os = "linux", target_os = "android", target_vendor = "apple"))]
    {
        use rustix::fs::{CWD, RenameFlags, renameat_with};
        use rustix::io::Errno;
        match renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE) {
            Ok(()) => Ok(()),
            Err(e) if e == Errno::INVAL || e == Errno::NOSYS || e == Errno::NOTSUP => {
                Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    format!("no atomic exchange: {e}"),
                ))
            }
            Err(e) => Err(e.into()),
        }
    }
    #[cfg(not(any(target_os = "linux", target_os = "android", target_vendor = "apple")))]
    {
        let _ = (a, b);
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "no atomic exchange on this OS",
        ))
    }
}

/// The identity of the file or folder at `path` (device, inode; links not followed), to tell
/// after a crash whether an exchange happened.
pub fn file_id(path: &Path) -> Option<(u64, u64)> {
    fs::symlink_metadata(path).ok().map(|m| (m.dev(), m.ino()))
}
