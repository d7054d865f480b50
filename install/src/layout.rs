//! [`DataLayout`]: the paths inside the daemon's data folder (docs/architecture.md, "The data
//! folder").

use std::path::{Path, PathBuf};

use tufd_core::Version;

/// Paths inside the data folder (docs/architecture.md, "The data folder").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataLayout {
    root: PathBuf,
}

impl DataLayout {
    /// The layout rooted at `data_dir`.
    pub fn new(data_dir: &Path) -> Self {
        Self {
            root: data_dir.to_path_buf(),
        }
    }

    /// The data folder itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `metadata/`: tough's datastore.
    pub fn metadata(&self) -> PathBuf {
        self.root.join("metadata")
    }

    /// `metadata/root.json`: the newest trusted root, once a refresh succeeded.
    pub fn persisted_root(&self) -> PathBuf {
        self.metadata().join("root.json")
    }

    /// `cache/`: verified uncompressed tars.
    pub fn cache(&self) -> PathBuf {
        self.root.join("cache")
    }

    /// `cache/<app>-<version>.tar`: the verified tar of an installed version.
    pub fn base_tar(&self, app: &str, version: &Version) -> PathBuf {
        self.cache().join(format!("{app}-{version}.tar"))
    }

    /// `installed/`: the record of the installed release (its entries, what its install moved
    /// aside and kept; [`crate::release`]).
    pub fn installed(&self) -> PathBuf {
        self.root.join("installed")
    }

    /// `downloads/`: `.part` files and finished targets.
    pub fn downloads(&self) -> PathBuf {
        self.root.join("downloads")
    }

    /// `staging/`: extracted new versions.
    pub fn staging(&self) -> PathBuf {
        self.root.join("staging")
    }

    /// `backup/`: previous versions.
    pub fn backup(&self) -> PathBuf {
        self.root.join("backup")
    }

    /// `trash/`: what `remove` plan steps took away, until the install is done.
    pub fn trash(&self) -> PathBuf {
        self.root.join("trash")
    }

    /// `hook-cache/`: precompiled hooks.
    pub fn hook_cache(&self) -> PathBuf {
        self.root.join("hook-cache")
    }

    /// `journal.json`: the install in progress.
    pub fn journal(&self) -> PathBuf {
        self.root.join("journal.json")
    }

    /// `state.json`: persisted engine state.
    pub fn state(&self) -> PathBuf {
        self.root.join("state.json")
    }

    /// `lock`: the one-daemon-per-folder lock file.
    pub fn lock(&self) -> PathBuf {
        self.root.join("lock")
    }

    /// Creates the folders the engine writes into.
    ///
    /// # Errors
    /// The first folder that cannot be created, with its path.
    pub fn create_dirs(&self) -> Result<(), (PathBuf, std::io::Error)> {
        for dir in [
            self.root.clone(),
            self.metadata(),
            self.cache(),
            self.downloads(),
            self.staging(),
            self.backup(),
        ] {
            std::fs::create_dir_all(&dir).map_err(|e| (dir.clone(), e))?;
        }
        Ok(())
    }
}

/// A folder beside the install folder (`<install>.tufd-staging`, …), used instead of the data
/// folder's own when the data folder is on another file system than the install folder's
/// parent (every install step must be a rename).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sibling {
    /// The new version, extracted and verified.
    Staging,
    /// The previous version, kept for a rollback.
    Backup,
    /// What `remove` steps put aside until the install is done.
    Trash,
    /// A version taken off by a rollback, until cleanup.
    RolledBack,
}

impl Sibling {
    /// The suffix appended to the install folder's name.
    pub fn suffix(self) -> &'static str {
        match self {
            Sibling::Staging => ".tufd-staging",
            Sibling::Backup => ".tufd-backup",
            Sibling::Trash => ".tufd-trash",
            Sibling::RolledBack => ".tufd-rolled-back",
        }
    }

    /// `<install_dir>.tufd-…`; `None` for a root path with no name.
    pub fn of(self, install_dir: &Path) -> Option<PathBuf> {
        let mut name = install_dir.file_name()?.to_os_string();
        name.push(self.suffix());
        Some(install_dir.parent()?.join(name))
    }
}

/// The prefix of a folder being removed (renamed first, so that a crash never leaves a half
/// removed folder under its old name).
pub const REMOVING_PREFIX: &str = ".tufd-removing-";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn siblings_sit_beside_the_install_folder() {
        assert_eq!(
            Sibling::Backup.of(Path::new("/opt/app")),
            Some(PathBuf::from("/opt/app.tufd-backup"))
        );
        assert_eq!(Sibling::Staging.of(Path::new("/")), None);
    }

    #[test]
    fn layout_paths() {
        let l = DataLayout::new(Path::new("/d"));
        assert_eq!(
            l.base_tar("demo", &"2.0".parse().unwrap()),
            Path::new("/d/cache/demo-2.0.tar")
        );
        assert_eq!(l.journal(), Path::new("/d/journal.json"));
        assert_eq!(l.persisted_root(), Path::new("/d/metadata/root.json"));
    }
}
