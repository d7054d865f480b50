//! Windows: no mode bits, no owner ids, no folder sync through `File::open`.

use std::fs;
use std::io;
use std::path::Path;

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

/// Not known yet on Windows: treated as exited.
pub fn process_alive(_pid: u32) -> bool {
    false
}
