//! Atomic publication: everything a command produces is first written into a staging folder
//! beside the repository (same file system, so renames are atomic), then moved in: target files
//! first (new files only), then metadata, and `timestamp.json` last, so a client never sees a
//! timestamp naming files that are not there yet (docs/operations.md, "Hosting").
//!
//! On any failure during the move, what was created is removed and what was replaced is put back:
//! the published tree is exactly as before. A staging folder left by a crash (`.tufd-staging-*`
//! beside the repository) is never served and can be deleted.

use std::path::{Path, PathBuf};

use super::Layout;
use crate::error::{Error, Result};

/// Files waiting to be published.
#[derive(Debug)]
pub struct Staging {
    dir: tempfile::TempDir,
    targets: Vec<(PathBuf, String)>,
    metadata: Vec<String>,
}

enum Undo {
    Created(PathBuf),
    Replaced { dest: PathBuf, backup: PathBuf },
}

impl Staging {
    /// A fresh staging folder beside `layout.dir`.
    ///
    /// # Errors
    /// [`Error::Io`]: the repository's parent folder is not writable.
    pub fn new(layout: &Layout) -> Result<Self> {
        let parent = match layout.dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let dir = tempfile::Builder::new()
            .prefix(".tufd-staging-")
            .tempdir_in(&parent)
            .map_err(Error::io("create a staging folder in", &parent))?;
        for sub in ["targets", "metadata", "work", "backup"] {
            let path = dir.path().join(sub);
            std::fs::create_dir(&path).map_err(Error::io("create", &path))?;
        }
        Ok(Self {
            dir,
            targets: Vec::new(),
            metadata: Vec::new(),
        })
    }

    /// A scratch folder for intermediate files (tars), never published.
    pub fn work_dir(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    /// The folder where target files are prepared.
    pub fn targets_dir(&self) -> PathBuf {
        self.dir.path().join("targets")
    }

    /// Publishes the already written file `staged` as `targets/<final_name>`.
    pub fn add_target(&mut self, staged: PathBuf, final_name: String) {
        self.targets.push((staged, final_name));
    }

    /// Writes `bytes` now (so a full disk fails before anything is published) as
    /// `metadata/<file_name>`.
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn add_metadata(&mut self, file_name: &str, bytes: &[u8]) -> Result<()> {
        let path = self.dir.path().join("metadata").join(file_name);
        std::fs::write(&path, bytes)
            .and_then(|()| std::fs::File::open(&path)?.sync_all())
            .map_err(Error::io("write staged metadata", &path))?;
        self.metadata.retain(|n| n != file_name);
        self.metadata.push(file_name.to_owned());
        Ok(())
    }

    /// Moves everything in: targets, metadata, `timestamp.json` last. Rolls back on failure.
    ///
    /// # Errors
    /// The first failure, after the rollback: [`Error::TargetConflict`] (a target file exists
    /// with other content), [`Error::NotRegularFile`], [`Error::Io`].
    pub fn commit(self, layout: &Layout) -> Result<()> {
        let mut undo = Vec::new();
        let result = self.commit_inner(layout, &mut undo);
        if result.is_err() {
            for step in undo.into_iter().rev() {
                match step {
                    Undo::Created(p) => {
                        let _ = std::fs::remove_file(&p);
                    }
                    Undo::Replaced { dest, backup } => {
                        let _ = std::fs::rename(&backup, &dest);
                    }
                }
            }
        }
        result
    }

    fn commit_inner(&self, layout: &Layout, undo: &mut Vec<Undo>) -> Result<()> {
        for d in [&layout.targets, &layout.metadata] {
            if !d.is_dir() {
                std::fs::create_dir_all(d).map_err(Error::io("create", d))?;
                // The folder itself is left in place on rollback: empty folders change no hash.
            }
        }
        for (staged, name) in &self.targets {
            let dest = layout.targets.join(name);
            // A platform's targets live in `targets/<platform>/`.
            if let Some(dir) = dest.parent()
                && !dir.is_dir()
            {
                std::fs::create_dir_all(dir).map_err(Error::io("create", dir))?;
            }
            if dest.symlink_metadata().is_ok() {
                if same_content(staged, &dest)? {
                    continue;
                }
                return Err(Error::TargetConflict { path: dest });
            }
            std::fs::rename(staged, &dest)
                .map_err(Error::io("move a staged target into", &dest))?;
            undo.push(Undo::Created(dest));
        }
        let mut order: Vec<&String> = self
            .metadata
            .iter()
            .filter(|n| *n != "timestamp.json")
            .collect();
        order.extend(self.metadata.iter().filter(|n| *n == "timestamp.json"));
        for name in order {
            let staged = self.dir.path().join("metadata").join(name);
            let dest = layout.metadata.join(name);
            if dest.symlink_metadata().is_ok() {
                if same_content(&staged, &dest)? {
                    continue;
                }
                let backup = self.dir.path().join("backup").join(name);
                std::fs::copy(&dest, &backup).map_err(Error::io("back up", &dest))?;
                std::fs::rename(&staged, &dest).map_err(Error::io("replace", &dest))?;
                undo.push(Undo::Replaced { dest, backup });
            } else {
                std::fs::rename(&staged, &dest).map_err(Error::io("move metadata into", &dest))?;
                undo.push(Undo::Created(dest));
            }
        }
        Ok(())
    }
}

fn same_content(a: &Path, b: &Path) -> Result<bool> {
    let ma = std::fs::metadata(a).map_err(Error::io("read", a))?;
    let mb = std::fs::metadata(b).map_err(Error::io("read", b))?;
    if !mb.is_file() {
        return Err(Error::NotRegularFile { path: b.into() });
    }
    if ma.len() != mb.len() {
        return Ok(false);
    }
    let read = |p: &Path| std::fs::read(p).map_err(Error::io("read", p));
    Ok(read(a)? == read(b)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_moves_files_and_timestamp_last() {
        let tmp = tempfile::tempdir().unwrap();
        let layout = Layout::new(&tmp.path().join("repository"));
        std::fs::create_dir_all(&layout.metadata).unwrap();
        std::fs::write(layout.metadata.join("timestamp.json"), b"old").unwrap();
        let mut s = Staging::new(&layout).unwrap();
        let t = s.targets_dir().join("a");
        std::fs::write(&t, b"target").unwrap();
        s.add_target(t, "app-1.tar.gz".into());
        s.add_metadata("timestamp.json", b"new").unwrap();
        s.add_metadata("2.snapshot.json", b"snap").unwrap();
        s.commit(&layout).unwrap();
        assert_eq!(
            std::fs::read(layout.targets.join("app-1.tar.gz")).unwrap(),
            b"target"
        );
        assert_eq!(
            std::fs::read(layout.metadata.join("timestamp.json")).unwrap(),
            b"new"
        );
        assert_eq!(
            std::fs::read(layout.metadata.join("2.snapshot.json")).unwrap(),
            b"snap"
        );
        let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, ["repository"], "staging folder removed");
    }

    #[test]
    fn failure_rolls_everything_back() {
        let tmp = tempfile::tempdir().unwrap();
        let layout = Layout::new(&tmp.path().join("repository"));
        std::fs::create_dir_all(&layout.metadata).unwrap();
        std::fs::create_dir_all(&layout.targets).unwrap();
        std::fs::write(layout.metadata.join("targets.json"), b"old targets").unwrap();
        // A folder where timestamp.json must go makes the last step fail.
        std::fs::create_dir(layout.metadata.join("timestamp.json")).unwrap();
        let mut s = Staging::new(&layout).unwrap();
        let t = s.targets_dir().join("a");
        std::fs::write(&t, b"target").unwrap();
        s.add_target(t, "app-2.tar.gz".into());
        s.add_metadata("targets.json", b"new targets").unwrap();
        s.add_metadata("timestamp.json", b"new").unwrap();
        assert!(matches!(
            s.commit(&layout),
            Err(Error::NotRegularFile { .. })
        ));
        assert!(!layout.targets.join("app-2.tar.gz").exists());
        assert_eq!(
            std::fs::read(layout.metadata.join("targets.json")).unwrap(),
            b"old targets"
        );
    }
}
