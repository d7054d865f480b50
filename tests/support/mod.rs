//! The support library of the end-to-end tests, one module per concern:
//! [`bins`] finds (and if needed builds) the real binaries, [`process`] runs child processes
//! with time limits and kills them on drop, [`bundle`] writes deterministic app bundles,
//! [`repo`] publishes them with `tufd-repo`, [`fixture`] sets up a scenario (bundles + published
//! releases + a copied install), [`nginx`] serves a repository and reads its access
//! log, [`daemon`] runs the one-shot `tufd` commands, [`sidecar`] speaks JSON-RPC to
//! `tufd sidecar`, [`tree`] compares folders, [`python`] finds a Python with python-tuf 7,
//! [`tufup`] one with tufup 0.10 and runs tufup's client, and [`wine`] runs the cross-built
//! `tufd.exe` under Wine.

pub mod apps;
pub mod bins;
pub mod bundle;
pub mod daemon;
pub mod fixture;
pub mod nginx;
pub mod process;
pub mod python;
pub mod repo;
pub mod sidecar;
pub mod tree;
pub mod tufup;
pub mod wine;

use std::path::Path;
use std::time::{Duration, Instant};

/// Polls `probe` every 50 ms until it returns `Some` or `timeout` passes.
///
/// Returns the first `Some` value, or `None` on time-out.
pub fn wait_for<T>(timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = probe() {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The JSON document in the file at `path`.
///
/// # Panics
/// When the file cannot be read or is not JSON.
#[track_caller]
pub fn read_json(path: &Path) -> serde_json::Value {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A `file://` URL for an absolute folder, with a trailing slash (the form `--metadata-url`
/// and `--targets-url` take).
///
/// # Panics
/// If `dir` is not absolute or not UTF-8 (test folders always are).
pub fn file_url(dir: &Path) -> String {
    assert!(
        dir.is_absolute(),
        "file url needs an absolute path: {}",
        dir.display()
    );
    let text = dir.to_str().expect("test paths are utf-8");
    format!("file://{}/", text.trim_end_matches('/'))
}

/// Copies the folder `from` to `to` (created), keeping file modes and symlinks (not followed).
///
/// This is how the tests "install" a version: the way an installer or a user would, leaving
/// tufd's data folder empty.
///
/// # Panics
/// On any I/O error.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("create {}: {e}", to.display()));
    let mut entries: Vec<_> = std::fs::read_dir(from)
        .unwrap_or_else(|e| panic!("read {}: {e}", from.display()))
        .map(|e| e.expect("dir entry"))
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let src = entry.path();
        let dst = to.join(entry.file_name());
        let meta = std::fs::symlink_metadata(&src).expect("metadata");
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&src).expect("read link");
            std::os::unix::fs::symlink(&target, &dst).expect("symlink");
        } else if meta.is_dir() {
            copy_tree(&src, &dst);
            std::fs::set_permissions(&dst, meta.permissions()).expect("chmod dir");
        } else {
            std::fs::copy(&src, &dst)
                .unwrap_or_else(|e| panic!("copy {} -> {}: {e}", src.display(), dst.display()));
            std::fs::set_permissions(&dst, meta.permissions()).expect("chmod");
        }
    }
}
