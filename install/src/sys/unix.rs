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

/// Whether process `pid` is still running. Linux: `/proc/<pid>` exists and is not a zombie.
/// Elsewhere (macOS) the process is treated as exited.
pub fn process_alive(pid: u32) -> bool {
    let proc_dir = std::path::PathBuf::from(format!("/proc/{pid}"));
    if !proc_dir.exists() {
        return false;
    }
    // `/proc/<pid>/stat` is `pid (comm) S …`; `Z` is a zombie that has already exited.
    match fs::read_to_string(proc_dir.join("stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .map(|(_, rest)| !rest.trim_start().starts_with('Z'))
            .unwrap_or(true),
        Err(_) => false,
    }
}
