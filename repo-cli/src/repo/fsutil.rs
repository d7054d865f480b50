//! Small file helpers: atomic replace through a temporary sibling, and create-new private files
//! (mode 0600 on Unix) for keys.

use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename, so a
/// reader sees the old or the new content, never a mix.
///
/// # Errors
/// [`Error::Io`]; the temporary file is removed on failure.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .map_err(Error::io("create a temporary file in", dir))?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(Error::io("write", path))?;
    tmp.persist(path)
        .map_err(|e| e.error)
        .map_err(Error::io("rename into", path))?;
    Ok(())
}

/// Creates `path` (which must not exist) with `bytes`, readable by the owner only on Unix.
///
/// # Errors
/// [`Error::Io`]; an existing file gives [`std::io::ErrorKind::AlreadyExists`] as the cause.
pub fn write_new_private(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .map_err(Error::io("create key file", path))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(Error::io("write", path))
}
