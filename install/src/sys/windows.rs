//! Windows: no mode bits, no owner ids, no folder sync through `File::open`; process handles
//! through `windows-sys`.

use std::fs;
use std::io;
use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle, RawHandle};
use std::path::Path;

use windows_sys::Win32::Foundation::{HANDLE, WAIT_TIMEOUT};
use windows_sys::Win32::System::Threading::{
    OpenProcess, PROCESS_QUERY_LIMITED_INFORMATION, PROCESS_SYNCHRONIZE, WaitForSingleObject,
};

/// Windows has no mode bits: `0o444` for a read-only file, else `0o644`.
pub fn mode_of(meta: &fs::Metadata) -> u32 {
    if meta.permissions().readonly() {
        0o444
    } else {
        0o644
    }
}

/// Maps the owner-write bit onto the read-only attribute.
///
/// # Errors
/// The OS error.
pub fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    let mut perms = fs::metadata(path)?.permissions();
    perms.set_readonly(mode & 0o200 == 0);
    fs::set_permissions(path, perms)
}

/// Symbolic links need a privilege on Windows; a release with links is refused here.
///
/// # Errors
/// Always [`io::ErrorKind::Unsupported`].
pub fn symlink(_target: &str, at: &Path) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        format!("symbolic links are not supported here ({})", at.display()),
    ))
}

/// Windows has no numeric owner ids.
pub fn owner(_path: &Path) -> Option<(u32, u32)> {
    None
}

/// Whether `dir` exists, is a folder and is not read-only.
///
/// # Errors
/// Why not, in words.
pub fn permits_write(dir: &Path, _who: Option<(u32, u32)>) -> Result<(), String> {
    match fs::metadata(dir) {
        Ok(m) if !m.is_dir() => Err("not a folder".into()),
        Ok(m) if m.permissions().readonly() => Err("read-only".into()),
        Ok(_) => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}

/// Not known through the standard library on Windows.
pub fn device(_path: &Path) -> Option<u64> {
    None
}

/// Whether process `pid` is still running: `OpenProcess` with synchronize and limited query
/// rights, then `WaitForSingleObject` with a zero timeout (`WAIT_TIMEOUT`: not signalled, so
/// still running; a process handle is signalled when the process exits). When the process
/// cannot be opened, [`super::alive_after_open_error`] decides (access denied: alive; invalid
/// parameter: no such process). The handle is owned and closed on every path.
pub fn process_alive(pid: u32) -> bool {
    // SAFETY: OpenProcess takes no pointers; any pid is a valid argument (an unknown one fails
    // with ERROR_INVALID_PARAMETER and a null handle, handled below).
    #[allow(unsafe_code)]
    let raw: HANDLE = unsafe {
        OpenProcess(
            PROCESS_SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION,
            0,
            pid,
        )
    };
    if raw.is_null() {
        let code = io::Error::last_os_error().raw_os_error();
        return super::alive_after_open_error(code);
    }
    // SAFETY: `raw` is a fresh, non-null process handle that nothing else owns; the
    // OwnedHandle closes it exactly once (CloseHandle) when dropped.
    #[allow(unsafe_code)]
    let handle = unsafe { OwnedHandle::from_raw_handle(raw as RawHandle) };
    // SAFETY: the handle is open (owned above) and has SYNCHRONIZE access; a zero timeout
    // never blocks.
    #[allow(unsafe_code)]
    let waited = unsafe { WaitForSingleObject(handle.as_raw_handle() as HANDLE, 0) };
    waited == WAIT_TIMEOUT
}

/// Whether `error` from a rename or removal is a transient lock worth retrying: a sharing
/// violation, lock violation or access denied ([`super::is_transient_lock_code`]).
pub fn is_transient_lock_error(error: &io::Error) -> bool {
    error
        .raw_os_error()
        .is_some_and(super::is_transient_lock_code)
}

/// Makes `path` (not a link; `meta` its `symlink_metadata`) removable: clears the read-only
/// attribute (what tufd sets for a release's `0444` files, [`set_mode`]), which otherwise
/// makes deleting the file, or the folder holding it, fail with access denied.
///
/// # Errors
/// The OS error of setting the attributes.
// The lint warns that on Unix this makes a file world-writable; this is the Windows file, where
// it clears the read-only attribute and nothing else.
#[allow(clippy::permissions_set_readonly_false)]
pub fn make_removable(path: &Path, meta: &fs::Metadata) -> io::Result<()> {
    let mut perms = meta.permissions();
    if perms.readonly() {
        perms.set_readonly(false);
        fs::set_permissions(path, perms)?;
    }
    Ok(())
}

/// Makes the tree at `root` durable ([`crate::tree_sync`]): `FlushFileBuffers` of every file
/// ([`crate::tree_sync::sync_each`]); no folder sync (`tufd_core::fs::sync_dir`: NTFS journals
/// folder entries itself, and a folder cannot be flushed).
///
/// # Errors
/// The first path that failed and the OS error.
pub fn sync_tree(root: &Path) -> Result<(), crate::tree_sync::SyncFailure> {
    crate::tree_sync::sync_each(root, &sync_file, &tufd_core::fs::sync_dir)
}

/// `FlushFileBuffers` of the file `path`, which wants a handle opened for writing: a file with
/// the read-only attribute (a release's `0444` file, [`set_mode`]) has it cleared for the
/// flush and set again.
#[allow(clippy::permissions_set_readonly_false)]
fn sync_file(path: &Path) -> io::Result<()> {
    let open = || fs::OpenOptions::new().write(true).open(path);
    match open() {
        Ok(file) => file.sync_all(),
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            let mut perms = fs::symlink_metadata(path)?.permissions();
            if !perms.readonly() {
                return Err(e);
            }
            perms.set_readonly(false);
            fs::set_permissions(path, perms.clone())?;
            let flushed = open().and_then(|file| file.sync_all());
            perms.set_readonly(true);
            let restored = fs::set_permissions(path, perms);
            flushed.and(restored)
        }
        Err(e) => Err(e),
    }
}

/// Windows refuses to rename a folder while an executable inside it runs: a tufd inside the
/// install folder hands the swap to a copy outside it ([`crate::handoff`]).
pub const RUNNING_EXE_PINS_FOLDER: bool = true;

/// Starts `cmd` without a console and outside this process's group (`DETACHED_PROCESS |
/// CREATE_NEW_PROCESS_GROUP`), so that it outlives this process and the app's console.
pub fn detach(cmd: &mut std::process::Command) {
    use std::os::windows::process::CommandExt;
    const DETACHED_PROCESS: u32 = 0x0000_0008;
    const CREATE_NEW_PROCESS_GROUP: u32 = 0x0000_0200;
    cmd.creation_flags(DETACHED_PROCESS | CREATE_NEW_PROCESS_GROUP);
}

/// Windows has no atomic exchange of two folders: always [`io::ErrorKind::Unsupported`] (the
/// executor renames three times instead).
///
/// # Errors
/// Always.
pub fn exchange(_a: &Path, _b: &Path) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "no atomic exchange on Windows",
    ))
}

/// Not used on Windows (there is no exchange to recognise): `None`.
pub fn file_id(_path: &Path) -> Option<(u64, u64)> {
    None
}

/// Windows-only tests, run under Wine by scripts/test.sh (filter `sys::windows`).
#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;
    use std::os::windows::fs::OpenOptionsExt;
    use std::process::{Command, Stdio};
    use std::time::Duration;

    #[test]
    fn process_alive_sees_a_running_child_and_not_an_exited_one() {
        assert!(process_alive(std::process::id()));
        // `cmd /c pause` waits for a key on its stdin (a pipe held open here).
        let mut running = Command::new("cmd")
            .args(["/c", "pause"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        assert!(process_alive(running.id()));
        running.kill().unwrap();
        running.wait().unwrap();
        assert!(!process_alive(running.id()));

        let mut exited = Command::new("cmd").args(["/c", "exit"]).spawn().unwrap();
        exited.wait().unwrap();
        assert!(!process_alive(exited.id()));
        // Process ids are multiples of 4; 0 is the idle process, which OpenProcess refuses
        // with ERROR_INVALID_PARAMETER.
        assert!(!process_alive(0));
        assert!(!process_alive(0xFFFF_FFF1));
    }

    #[test]
    fn a_rename_held_by_a_sharing_violation_succeeds_once_released() {
        let dir = tempfile::tempdir().unwrap();
        let (from, to) = (dir.path().join("app.exe"), dir.path().join("app.old"));
        std::fs::write(&from, "x").unwrap();
        // Another program's handle without delete sharing, as a scanner holds a file.
        let held = std::fs::OpenOptions::new()
            .read(true)
            .share_mode(0)
            .open(&from)
            .unwrap();
        let error = std::fs::rename(&from, &to).unwrap_err();
        assert!(is_transient_lock_error(&error), "{error:?}");
        let release = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(150));
            drop(held);
        });
        crate::fsops::rename(&from, &to).unwrap();
        release.join().unwrap();
        assert!(to.exists() && !from.exists());
    }

    #[test]
    fn a_read_only_file_blocks_plain_removal_but_not_remove_tree() {
        let dir = tempfile::tempdir().unwrap();
        let tree = dir.path().join("backup");
        std::fs::create_dir_all(tree.join("bin")).unwrap();
        let file = tree.join("bin/app.exe");
        std::fs::File::create(&file)
            .unwrap()
            .write_all(b"x")
            .unwrap();
        set_mode(&file, 0o444).unwrap();
        assert!(fs::metadata(&file).unwrap().permissions().readonly());
        assert!(
            std::fs::remove_file(&file).is_err(),
            "DeleteFile refuses a read-only file"
        );
        crate::fsops::remove_tree(&tree).unwrap();
        assert!(!tree.exists());
    }

    /// A folder name of 60 characters; five of them nest past the 260 of `MAX_PATH`.
    fn long_name(i: usize) -> String {
        format!("{i}-{}", "n".repeat(58))
    }

    #[test]
    fn paths_past_max_path_stage_rename_and_remove() {
        let dir = tempfile::tempdir().unwrap();
        let rel: std::path::PathBuf = (0..5).map(long_name).collect();
        let bundle = dir.path().join("bundle");
        std::fs::create_dir_all(bundle.join(&rel)).unwrap();
        std::fs::write(bundle.join(&rel).join("app.exe"), "v2").unwrap();
        let tar = dir.path().join("v2.tar");
        let mut out = std::fs::File::create(&tar).unwrap();
        tufd_core::archive::write_tar(&bundle, &mut out, &mut |_| {}).unwrap();
        drop(out);

        let staging = dir.path().join("staging").join(long_name(9));
        crate::stage::stage(&tar, &staging, &tufd_core::archive::EntryLimits::DEFAULT).unwrap();
        let staged = staging.join(&rel).join("app.exe");
        assert!(staged.as_os_str().len() > 300, "{}", staged.display());
        assert_eq!(std::fs::read_to_string(&staged).unwrap(), "v2");

        let install = dir.path().join("app");
        crate::journal::rename(&staging, &install, crate::journal::Syncs::Required).unwrap();
        let installed = install.join(&rel).join("app.exe");
        set_mode(&installed, 0o444).unwrap();
        assert_eq!(std::fs::read_to_string(&installed).unwrap(), "v2");
        crate::journal::remove_any(&install, crate::journal::Syncs::Required).unwrap();
        assert!(!install.exists());
    }
}
