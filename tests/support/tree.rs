//! Folder comparison: relative paths, entry kinds, file contents, permission bits and symlink
//! targets (links are never followed). Used to check that an installed folder is exactly the
//! bundle of the version it claims to be (docs/architecture.md, "Design rules", "Never a half
//! install").

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// One entry of a folder, as compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A folder with its permission bits.
    Dir {
        /// `mode & 0o7777`.
        mode: u32,
    },
    /// A regular file with its permission bits and the sha256 of its content.
    File {
        /// `mode & 0o7777`.
        mode: u32,
        /// Length in bytes.
        len: u64,
        /// Lower-case hex sha256 of the content.
        sha256: String,
    },
    /// A symlink and the path it points to.
    Symlink {
        /// The link text, not resolved.
        target: PathBuf,
    },
    /// Anything else (device, fifo, socket).
    Other,
}

/// All entries below `root` (not `root` itself), keyed by their relative path.
///
/// # Panics
/// When `root` cannot be read.
pub fn snapshot(root: &Path) -> BTreeMap<PathBuf, Entry> {
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Entry>) {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("read folder {}: {e}", dir.display()));
    for entry in entries {
        let entry = entry.expect("dir entry");
        let path = entry.path();
        let rel = path.strip_prefix(root).expect("below root").to_path_buf();
        let meta = std::fs::symlink_metadata(&path).expect("metadata");
        let mode = meta.permissions().mode() & 0o7777;
        let kind = meta.file_type();
        let item = if kind.is_symlink() {
            Entry::Symlink {
                target: std::fs::read_link(&path).expect("read link"),
            }
        } else if kind.is_dir() {
            walk(root, &path, out);
            Entry::Dir { mode }
        } else if kind.is_file() {
            let bytes = std::fs::read(&path).expect("read file");
            Entry::File {
                mode,
                len: meta.len(),
                sha256: sha256_hex(&bytes),
            }
        } else {
            Entry::Other
        };
        out.insert(rel, item);
    }
}

/// Lower-case hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Every difference between the trees below `expected` and `actual`, one readable line each;
/// empty when they are identical.
///
/// # Panics
/// When either folder cannot be read.
pub fn diff(expected: &Path, actual: &Path) -> Vec<String> {
    let want = snapshot(expected);
    let got = snapshot(actual);
    let mut problems = Vec::new();
    for (path, entry) in &want {
        match got.get(path) {
            None => problems.push(format!("missing {}: {entry:?}", path.display())),
            Some(other) if other != entry => problems.push(format!(
                "differs {}: expected {entry:?}, found {other:?}",
                path.display()
            )),
            Some(_) => {}
        }
    }
    for (path, entry) in &got {
        if !want.contains_key(path) {
            problems.push(format!("unexpected {}: {entry:?}", path.display()));
        }
    }
    problems
}

/// Panics listing every difference unless `actual` is identical to `expected`.
///
/// # Panics
/// When the trees differ.
#[track_caller]
pub fn assert_same_tree(expected: &Path, actual: &Path) {
    let problems = diff(expected, actual);
    assert!(
        problems.is_empty(),
        "{} differs from {}:\n  {}",
        actual.display(),
        expected.display(),
        problems.join("\n  ")
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_reports_content_mode_link_and_missing() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let a = tmp.path().join("a");
        let b = tmp.path().join("b");
        for dir in [&a, &b] {
            std::fs::create_dir_all(dir.join("sub")).expect("mkdir");
            std::fs::write(dir.join("sub/f"), b"same").expect("write");
        }
        assert!(diff(&a, &b).is_empty());

        std::fs::write(b.join("sub/f"), b"other").expect("write");
        std::fs::write(a.join("only-a"), b"x").expect("write");
        std::os::unix::fs::symlink("sub/f", a.join("link")).expect("symlink");
        std::os::unix::fs::symlink("sub/g", b.join("link")).expect("symlink");
        std::fs::write(a.join("mode"), b"m").expect("write");
        std::fs::write(b.join("mode"), b"m").expect("write");
        std::fs::set_permissions(b.join("mode"), std::fs::Permissions::from_mode(0o700))
            .expect("chmod");
        let problems = diff(&a, &b);
        assert_eq!(problems.len(), 4, "{problems:#?}");
        assert!(problems.iter().any(|p| p.starts_with("missing only-a")));
        assert!(problems.iter().any(|p| p.starts_with("differs sub/f")));
        assert!(problems.iter().any(|p| p.starts_with("differs link")));
        assert!(problems.iter().any(|p| p.starts_with("differs mode")));
    }
}
