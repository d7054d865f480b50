//! Making a freshly written tree durable in one step, after it is complete rather than file by
//! file: the staging folder before the journaled swap uses it (docs/architecture.md, "Design
//! rules", "Never a half install"). Afterwards every file's data and every folder entry of the
//! tree (the tree's own entry in its parent included) survive a power loss.
//!
//! - [`sync_tree`]: the call, one implementation per OS ([`crate::sys::sync_tree`]). On Linux one
//!   `syncfs` of the file system holding the tree: one sync of the file system instead of one
//!   `fsync` per file, which made staging a release of 50,000 small files take a minute or
//!   more (each `fsync` waits for a journal commit). Elsewhere [`sync_each`].
//! - [`sync_each`]: the portable walk, syncing every regular file and (where the OS can) every
//!   folder, then the tree's parent folder. Symbolic links are never followed: their entry is
//!   made durable with the folder holding it.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// A failed sync: the path and the OS error.
pub type SyncFailure = (PathBuf, io::Error);

/// Makes the tree at `root` durable (see the module doc): on Linux `syncfs` on a handle to
/// `root`, on macOS [`sync_each`] with `fsync` of every file and folder, on Windows
/// [`sync_each`] with `FlushFileBuffers` of every file (Windows cannot flush a folder, and NTFS
/// journals its entries itself: `tufd_core::fs::sync_dir`).
///
/// # Errors
/// The path that failed (`root` for `syncfs`) and the OS error.
pub fn sync_tree(root: &Path) -> Result<(), SyncFailure> {
    crate::sys::sync_tree(root)
}

/// Syncs every regular file below `root` with `sync_file`, every folder (`root` included, each
/// after its content) with `sync_folder`, and last `root`'s parent folder, which holds `root`'s
/// own entry. Symbolic links are not followed (their entries are in their folder).
///
/// # Errors
/// The first path that cannot be listed or synced, and the OS error; later entries are not
/// synced.
pub fn sync_each(
    root: &Path,
    sync_file: &dyn Fn(&Path) -> io::Result<()>,
    sync_folder: &dyn Fn(&Path) -> io::Result<()>,
) -> Result<(), SyncFailure> {
    sync_folder_tree(root, sync_file, sync_folder)?;
    let parent = tufd_core::fs::parent(root);
    sync_folder(parent).map_err(|e| (parent.to_path_buf(), e))
}

fn sync_folder_tree(
    dir: &Path,
    sync_file: &dyn Fn(&Path) -> io::Result<()>,
    sync_folder: &dyn Fn(&Path) -> io::Result<()>,
) -> Result<(), SyncFailure> {
    let failed = |path: &Path| {
        let path = path.to_path_buf();
        move |e| (path, e)
    };
    for child in fs::read_dir(dir).map_err(failed(dir))? {
        let child = child.map_err(failed(dir))?;
        let path = child.path();
        let kind = child.file_type().map_err(failed(&path))?;
        if kind.is_dir() {
            sync_folder_tree(&path, sync_file, sync_folder)?;
        } else if kind.is_file() {
            sync_file(&path).map_err(failed(&path))?;
        }
    }
    sync_folder(dir).map_err(failed(dir))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    /// A tree with nested folders, a read-only file and a symlink to a folder.
    fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("staging");
        fs::create_dir_all(root.join("lib/deep")).unwrap();
        fs::write(root.join("top.txt"), b"top").unwrap();
        fs::write(root.join("lib/deep/a.bin"), b"a").unwrap();
        let ro = root.join("lib/ro.txt");
        fs::write(&ro, b"ro").unwrap();
        let mut perms = fs::metadata(&ro).unwrap().permissions();
        perms.set_readonly(true);
        fs::set_permissions(&ro, perms).unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink("lib", root.join("link")).unwrap();
        dir
    }

    #[test]
    fn sync_tree_succeeds_on_a_staged_tree() {
        let dir = tree();
        sync_tree(&dir.path().join("staging")).unwrap();
    }

    #[test]
    fn a_missing_tree_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("absent");
        let (path, error) = sync_tree(&missing).unwrap_err();
        assert_eq!(path, missing);
        assert_eq!(error.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn sync_each_syncs_every_file_then_every_folder_and_the_parent() {
        let dir = tree();
        let root = dir.path().join("staging");
        let files = RefCell::new(Vec::new());
        let folders = RefCell::new(Vec::new());
        sync_each(
            &root,
            &|p| {
                files
                    .borrow_mut()
                    .push(p.strip_prefix(&root).unwrap().to_owned());
                // The walk is under test; the real syncs are `sync_tree`'s test.
                Ok(())
            },
            &|p| {
                folders.borrow_mut().push(p.to_owned());
                Ok(())
            },
        )
        .unwrap();
        let mut files = files.into_inner();
        files.sort();
        let want: Vec<PathBuf> = ["lib/deep/a.bin", "lib/ro.txt", "top.txt"]
            .iter()
            .map(PathBuf::from)
            .collect();
        assert_eq!(files, want, "regular files only, links not followed");
        let folders = folders.into_inner();
        let want = [
            root.join("lib/deep"),
            root.join("lib"),
            root.clone(),
            dir.path().to_path_buf(),
        ];
        assert_eq!(folders.len(), want.len());
        for folder in &want {
            assert!(folders.contains(folder), "{}", folder.display());
        }
        let position = |p: &Path| folders.iter().position(|f| f == p).unwrap();
        assert!(position(&root.join("lib/deep")) < position(&root.join("lib")));
        assert!(position(&root.join("lib")) < position(&root));
        assert_eq!(folders.last().unwrap(), dir.path());
    }

    #[test]
    fn the_first_failed_sync_names_its_path() {
        let dir = tree();
        let root = dir.path().join("staging");
        let (path, _) = sync_each(
            &root,
            &|p| {
                if p.ends_with("a.bin") {
                    Err(io::Error::other("no fsync here"))
                } else {
                    Ok(())
                }
            },
            &|_| Ok(()),
        )
        .unwrap_err();
        assert_eq!(path, root.join("lib/deep/a.bin"));
    }
}
