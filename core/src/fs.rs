//! Writing a small file so that a crash never leaves it half written: [`write_atomic`] with an
//! explicit [`Durability`]. The one implementation behind the install journal, the health file,
//! the engine's state file, the trusted metadata and the download checkpoints.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// How much of a write must survive a power loss (a crash of the process alone never leaves a
/// torn file at any level).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// Temp file and rename, no sync: after a power loss the file may hold the previous
    /// content (state that is recomputed when lost, e.g. the engine's `state.json`).
    Atomic,
    /// The temp file's data is synced before the rename: after a power loss the file holds the
    /// old or the new bytes, never a mix (download checkpoints, trusted metadata).
    Synced,
    /// Synced, and the folder synced after the rename, so that the rename itself survives a
    /// power loss (the install journal, the health file holding a pending commit).
    Durable,
}

/// The temporary sibling [`write_atomic`] writes first: `<name>.tmp`.
pub fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".tmp");
    PathBuf::from(name)
}

/// Writes `bytes` to `path` through `<path>.tmp` and a rename, syncing as `durability` asks.
/// On failure the temporary file is removed and `path` is as it was.
///
/// # Errors
/// The failing path (the temporary file, `path` for the rename, or the folder for its sync)
/// and the OS error.
pub fn write_atomic(
    path: &Path,
    bytes: &[u8],
    durability: Durability,
) -> Result<(), (PathBuf, io::Error)> {
    let tmp = temp_path(path);
    let written = (|| {
        let mut file = File::create(&tmp)?;
        file.write_all(bytes)?;
        if durability != Durability::Atomic {
            file.sync_all()?;
        }
        Ok(())
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err((tmp, e));
    }
    crate::faults::point("fs.before-rename");
    if let Err(e) = std::fs::rename(&tmp, path) {
        let _ = std::fs::remove_file(&tmp);
        return Err((path.to_path_buf(), e));
    }
    crate::faults::point("fs.after-rename");
    if durability == Durability::Durable {
        let dir = parent(path);
        sync_dir(dir).map_err(|e| (dir.to_path_buf(), e))?;
    }
    Ok(())
}

/// The folder holding `path` (`.` for a bare name).
pub fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Makes renames and creations in folder `dir` durable. Unix: fsync of the folder. Windows
/// cannot open a folder as a file to flush it, and NTFS journals renames itself: nothing to
/// do, and never an error (recovery must not fail on a step that exists only for durability).
///
/// # Errors
/// The OS error (Unix only).
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir).and_then(|f| f.sync_all())
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_durability_replaces_the_file_whole_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        for (i, durability) in [Durability::Atomic, Durability::Synced, Durability::Durable]
            .into_iter()
            .enumerate()
        {
            let bytes = format!("{{\"n\": {i}}}");
            write_atomic(&path, bytes.as_bytes(), durability).unwrap();
            assert_eq!(std::fs::read_to_string(&path).unwrap(), bytes);
            assert!(!temp_path(&path).exists());
        }
    }

    #[test]
    fn a_failed_write_names_the_path_and_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no-such-folder").join("x.json");
        let (path, _) = write_atomic(&missing, b"{}", Durability::Durable).unwrap_err();
        assert_eq!(path, temp_path(&missing));
        assert_eq!(parent(Path::new("x.json")), Path::new("."));
    }
}
