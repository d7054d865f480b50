//! Helpers for building an [`InstallContext`](tufd_core::install_plan::InstallContext) from disk:
//! the `staging_files` and `installed_files` lists a hook receives.

use std::fs;
use std::io;
use std::path::Path;

/// Most entries listed per tree: 1,000,000 (as the install actor's extraction limit).
pub const MAX_TREE_ENTRIES: usize = 1_000_000;

/// Every entry (files, folders, links) below `root`, as relative `/`-separated paths, sorted
/// (a folder before its content). Links are listed, never followed. A missing `root` gives
/// an empty list; names that are not UTF-8 are listed lossily.
///
/// # Errors
/// An I/O error reading a folder, or [`io::ErrorKind::InvalidData`] past
/// [`MAX_TREE_ENTRIES`] entries.
pub fn tree_entries(root: &Path) -> io::Result<Vec<String>> {
    let mut out = Vec::new();
    if !root.is_dir() {
        return Ok(out);
    }
    let mut pending = vec![(root.to_owned(), String::new())];
    while let Some((dir, prefix)) = pending.pop() {
        for entry in fs::read_dir(&dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            // Exactly as long as the path: `format!` grows its buffer by doubling, which for
            // deep paths nearly doubled the memory a large list holds.
            let rel = if prefix.is_empty() {
                name
            } else {
                let mut rel = String::with_capacity(prefix.len() + 1 + name.len());
                rel.push_str(&prefix);
                rel.push('/');
                rel.push_str(&name);
                rel
            };
            if entry.file_type()?.is_dir() {
                pending.push((entry.path(), rel.clone()));
            }
            out.push(rel);
            if out.len() > MAX_TREE_ENTRIES {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "more than {MAX_TREE_ENTRIES} entries under {}",
                        root.display()
                    ),
                ));
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_every_entry_sorted_and_relative() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("bin")).unwrap();
        fs::create_dir_all(dir.path().join("user-data/cache")).unwrap();
        fs::write(dir.path().join("bin/app"), b"x").unwrap();
        fs::write(dir.path().join("README"), b"x").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink("/etc", dir.path().join("bin/etc")).unwrap();
        let mut expected = vec!["README", "bin", "bin/app", "user-data", "user-data/cache"];
        if cfg!(unix) {
            expected.push("bin/etc");
            expected.sort();
        }
        assert_eq!(tree_entries(dir.path()).unwrap(), expected);
        assert!(
            tree_entries(&dir.path().join("missing"))
                .unwrap()
                .is_empty()
        );
    }
}
