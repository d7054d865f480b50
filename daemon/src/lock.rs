//! One daemon per data folder: an exclusive `fs4` lock on `<data-dir>/lock`, held for the
//! life of the returned [`DataLock`] (docs/protocol.md, "Starting the sidecar").

use std::fs::File;
use std::path::{Path, PathBuf};

use fs4::fs_std::FileExt;

/// Why the lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds it.
    #[error("another tufd is running on {}", data_dir.display())]
    Held {
        /// The data folder.
        data_dir: PathBuf,
    },
    /// The lock file cannot be created or locked.
    #[error("cannot lock {}", path.display())]
    Io {
        /// The lock file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// The held lock; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct DataLock {
    _file: File,
}

/// Takes the lock of `data_dir` without waiting (creating the folder if needed).
///
/// # Errors
/// [`LockError::Held`] when another process holds it, [`LockError::Io`] otherwise.
pub fn lock(data_dir: &Path) -> Result<DataLock, LockError> {
    let path = data_dir.join("lock");
    let io = |source| LockError::Io {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(data_dir).map_err(io)?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io)?;
    match FileExt::try_lock_exclusive(&file) {
        Ok(true) => Ok(DataLock { _file: file }),
        Ok(false) => Err(LockError::Held {
            data_dir: data_dir.to_path_buf(),
        }),
        Err(e) => Err(io(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let first = lock(dir.path()).unwrap();
        let err = lock(dir.path()).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("another tufd is running on {}", dir.path().display())
        );
        drop(first);
        assert!(lock(dir.path()).is_ok());
    }
}
