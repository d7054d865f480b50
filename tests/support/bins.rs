//! Finds the real `tufd` and `tufd-repo` binaries for the tests, building them when needed.
//!
//! A test crate cannot use `CARGO_BIN_EXE_*` of other packages, so the binaries are looked up
//! next to the test executable: `target/<profile>/deps/e2e-…` → `target/<profile>/tufd`. The
//! first call in a test process runs `cargo build -p tufd -p tufd-repo` (same profile, same
//! `CARGO_TARGET_DIR`) when a binary is missing or older than any source file of the crates it
//! is made of; set `TUFD_E2E_NO_BUILD=1` to skip that, or `TUFD_BIN_DIR=DIR` to use binaries
//! from elsewhere.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

/// The folder holding the binaries, built if needed (once per process).
///
/// # Panics
/// When the build fails or a binary is still missing afterwards.
pub fn bin_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        if let Some(dir) = std::env::var_os("TUFD_BIN_DIR") {
            return PathBuf::from(dir);
        }
        let dir = profile_dir();
        if std::env::var_os("TUFD_E2E_NO_BUILD").is_none() && needs_build(&dir) {
            build(&dir);
        }
        for name in ["tufd", "tufd-repo"] {
            assert!(
                dir.join(name).is_file(),
                "{} missing; run `cargo build -p tufd -p tufd-repo` first",
                dir.join(name).display()
            );
        }
        dir
    })
}

/// Path of the `tufd` binary.
pub fn tufd() -> PathBuf {
    bin_dir().join("tufd")
}

/// Path of the `tufd-repo` binary.
pub fn tufd_repo() -> PathBuf {
    bin_dir().join("tufd-repo")
}

/// The workspace root (parent of this crate's folder): from `CARGO_MANIFEST_DIR` at run time
/// (cargo sets it for every test process), so that a build cached from another checkout never
/// points at that checkout; else where this crate was compiled.
pub fn workspace_root() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// `target/<profile>` of the running test executable.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let deps = exe.parent().expect("exe folder");
    // Tests run from target/<profile>/deps/; examples from target/<profile>/examples/.
    deps.parent().expect("profile folder").to_path_buf()
}

/// Crates whose sources go into the two binaries.
const SOURCE_DIRS: [&str; 8] = [
    "core",
    "protocol",
    "net",
    "install",
    "engine",
    "hook-host",
    "daemon",
    "repo-cli",
];

fn needs_build(dir: &Path) -> bool {
    let oldest_bin = ["tufd", "tufd-repo"]
        .iter()
        .map(|name| modified(&dir.join(name)))
        .min()
        .flatten();
    let Some(oldest_bin) = oldest_bin else {
        return true;
    };
    let root = workspace_root();
    let mut newest_src = modified(&root.join("Cargo.lock")).unwrap_or(SystemTime::UNIX_EPOCH);
    for crate_dir in SOURCE_DIRS {
        newest_src = newest_src.max(newest_in(&root.join(crate_dir)));
    }
    newest_src > oldest_bin
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The newest modification time of any file below `dir`, skipping `target` folders.
fn newest_in(dir: &Path) -> SystemTime {
    let mut newest = SystemTime::UNIX_EPOCH;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return newest;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = entry.metadata() else { continue };
        if meta.is_dir() {
            if entry.file_name() != "target" {
                newest = newest.max(newest_in(&path));
            }
        } else if let Ok(time) = meta.modified() {
            newest = newest.max(time);
        }
    }
    newest
}

fn build(dir: &Path) {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace_root())
        .args(["build", "-p", "tufd", "-p", "tufd-repo"]);
    if dir.file_name().is_some_and(|n| n == "release") {
        cmd.arg("--release");
    }
    // Build into the target folder this test runs from, whatever the environment says.
    if let Some(target) = dir.parent() {
        cmd.env("CARGO_TARGET_DIR", target);
    }
    let out = super::process::run(&mut cmd, Duration::from_secs(1800));
    assert!(out.status.success(), "building the binaries failed: {out}");
}
