//! What differs between operating systems, in one place: each function here has one
//! implementation per OS family ([`unix`] for Linux and macOS, `windows`), so that the rest of
//! the crate has no `cfg` blocks. Pure decisions stay outside (the Win32 error codes below are
//! classified here, without `cfg`, so that Linux tests them); these are the thin calls.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::*;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::*;

#[cfg(not(any(unix, windows)))]
compile_error!("tufd-install supports Unix (Linux, macOS) and Windows");

use std::path::Path;

/// Whether two existing paths are on the same file system (`false` when either cannot be
/// read or the OS does not say).
pub fn same_device(a: &Path, b: &Path) -> bool {
    matches!((device(a), device(b)), (Some(a), Some(b)) if a == b)
}

/// Win32 `ERROR_ACCESS_DENIED`.
pub const WIN32_ACCESS_DENIED: i32 = 5;
/// Win32 `ERROR_SHARING_VIOLATION`: another program opened the file without sharing.
pub const WIN32_SHARING_VIOLATION: i32 = 32;
/// Win32 `ERROR_LOCK_VIOLATION`: another program locked a range of the file.
pub const WIN32_LOCK_VIOLATION: i32 = 33;
/// Win32 `ERROR_INVALID_PARAMETER`.
pub const WIN32_INVALID_PARAMETER: i32 = 87;

/// Whether a Win32 error code (`io::Error::raw_os_error` on Windows) from a rename or removal
/// is one a scanner or indexer holding the file for a moment causes, worth retrying: a sharing
/// violation, a lock violation, or access denied (what a folder rename reports while a file
/// inside is open without delete sharing). Access denied is also what a real permission
/// problem reports; the retry then only delays the same error by the bounded backoff of
/// [`crate::fsops::LOCK_BACKOFF`].
pub fn is_transient_lock_code(code: i32) -> bool {
    matches!(
        code,
        WIN32_SHARING_VIOLATION | WIN32_LOCK_VIOLATION | WIN32_ACCESS_DENIED
    )
}

/// Whether a process exists when `OpenProcess` on its id failed with Win32 error `code`:
/// access denied means it exists but belongs to someone tufd may not inspect (alive), invalid
/// parameter means there is no such process id (gone). Any other error says nothing either
/// way; it counts as alive, so that `wait-for-exit` errs towards waiting (its timeout bounds
/// that) rather than swapping files under a running app.
pub fn alive_after_open_error(code: Option<i32>) -> bool {
    code != Some(WIN32_INVALID_PARAMETER)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sharing_lock_and_access_errors_are_transient_others_are_not() {
        for code in [5, 32, 33] {
            assert!(is_transient_lock_code(code), "{code}");
        }
        // File not found, path not found, disk full, invalid parameter.
        for code in [2, 3, 112, 87] {
            assert!(!is_transient_lock_code(code), "{code}");
        }
    }

    #[test]
    fn open_process_denied_is_alive_and_invalid_id_is_gone() {
        assert!(alive_after_open_error(Some(WIN32_ACCESS_DENIED)));
        assert!(!alive_after_open_error(Some(WIN32_INVALID_PARAMETER)));
        assert!(alive_after_open_error(None));
        assert!(alive_after_open_error(Some(1)));
    }
}
