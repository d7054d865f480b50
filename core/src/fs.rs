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
/// On failure the temporary file is removed and `path` is as it was (except after a failed
/// folder sync: the rename was done). Syncs: the file with `File::sync_all` (`fsync`;
/// `FlushFileBuffers` on Windows), the folder with [`sync_dir`].
///
/// # Errors
/// The failing path (the temporary file, `path` for the rename, or the folder for its sync)
/// and the OS error.
pub fn write_atomic(
    path: &Path,
    bytes: &[u8],
    durability: Durability,
) -> Result<(), (PathBuf, io::Error)> {
    write_with(
        path,
        bytes,
        durability,
        Syncs::Required,
        &File::sync_all,
        &sync_dir,
    )
    .map(drop)
}

/// A sync [`write_atomic_lenient`] could not do: the path (the temporary file or the folder)
/// and the OS error.
pub type SkippedSync = (PathBuf, io::Error);

/// [`write_atomic`] for a write whose durability is a bonus: a failed sync (of the file or of
/// the folder) does not stop it; the write and the rename still happen, and the syncs that
/// failed are returned for the caller to log. For the install journal rewritten during a
/// rollback or a recovery, whose steps are idempotent: a journal lost to a power cut is undone
/// again from its older copy (install/src/journal.rs), while failing the recovery over a
/// folder that cannot be synced would leave the app half installed.
///
/// # Errors
/// As [`write_atomic`], for the write and the rename only.
pub fn write_atomic_lenient(
    path: &Path,
    bytes: &[u8],
    durability: Durability,
) -> Result<Vec<SkippedSync>, (PathBuf, io::Error)> {
    write_with(
        path,
        bytes,
        durability,
        Syncs::BestEffort,
        &File::sync_all,
        &sync_dir,
    )
}

/// Whether a failed sync fails the write.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Syncs {
    Required,
    BestEffort,
}

/// [`write_atomic`] with the syncs passed in (tests make them fail).
fn write_with(
    path: &Path,
    bytes: &[u8],
    durability: Durability,
    syncs: Syncs,
    sync_file: &dyn Fn(&File) -> io::Result<()>,
    sync_folder: &dyn Fn(&Path) -> io::Result<()>,
) -> Result<Vec<SkippedSync>, (PathBuf, io::Error)> {
    let tmp = temp_path(path);
    let mut skipped = Vec::new();
    let written = (|| {
        let mut file = File::create(&tmp)?;
        file.write_all(bytes)?;
        if durability != Durability::Atomic {
            match sync_file(&file) {
                Err(e) if syncs == Syncs::BestEffort => skipped.push((tmp.clone(), e)),
                result => result?,
            }
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
        match sync_folder(dir) {
            Err(e) if syncs == Syncs::BestEffort => skipped.push((dir.to_path_buf(), e)),
            result => result.map_err(|e| (dir.to_path_buf(), e))?,
        }
    }
    Ok(skipped)
}

/// The folder holding `path` (`.` for a bare name).
pub fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Makes renames and creations in folder `dir` durable. Unix: fsync of the folder. Windows
/// cannot open a folder as a file to flush it (`FlushFileBuffers` wants a file opened for
/// writing), and NTFS journals renames itself: nothing to do, and never an error. Callers in
/// recovery pass a failure on as a log line, not an error (install/src/journal.rs, `Syncs`).
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

    #[test]
    fn a_failed_sync_fails_a_durable_write_but_not_a_lenient_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.json");
        let broken_file = |_: &File| Err(io::Error::other("no fsync here"));
        let broken_dir = |_: &Path| Err(io::Error::other("no folder fsync here"));

        let (failed, _) = write_with(
            &path,
            b"1",
            Durability::Durable,
            Syncs::Required,
            &broken_file,
            &sync_dir,
        )
        .unwrap_err();
        assert_eq!(failed, temp_path(&path));
        assert!(!path.exists() && !temp_path(&path).exists());
        let (failed, _) = write_with(
            &path,
            b"2",
            Durability::Durable,
            Syncs::Required,
            &File::sync_all,
            &broken_dir,
        )
        .unwrap_err();
        assert_eq!(failed, dir.path());

        let skipped = write_with(
            &path,
            b"3",
            Durability::Durable,
            Syncs::BestEffort,
            &broken_file,
            &broken_dir,
        )
        .unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "3");
        let paths: Vec<&Path> = skipped.iter().map(|(p, _)| p.as_path()).collect();
        assert_eq!(paths, [temp_path(&path).as_path(), dir.path()]);
        assert!(
            write_atomic_lenient(&path, b"4", Durability::Durable)
                .unwrap()
                .is_empty()
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "4");
    }
}
