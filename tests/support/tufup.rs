//! tufup 0.10 for the tests that run the real tufup (its repository tool and its `Client`,
//! python-tuf 4 inside): the Python interpreter of a venv that has it.
//!
//! The venv comes from `TUFD_TUFUP_PYTHON` (`scripts/test.sh` creates `.venv-tufup/`), else
//! `<workspace>/bench/.venv/tufup/bin/python` (`bench/run.sh` creates it; or
//! `python3 -m venv V && V/bin/pip install 'tufup==0.10.*'`). Without one a test is skipped with
//! a message, unless `TUFD_REQUIRE_TUFUP=1` makes that a failure.

use std::path::PathBuf;
use std::process::Command;

use super::bins;

/// The Python with tufup 0.10, or `None` (after printing why the test is skipped) when there is
/// none.
///
/// # Panics
/// When there is none and `TUFD_REQUIRE_TUFUP` is set.
pub fn python() -> Option<PathBuf> {
    let python = std::env::var_os("TUFD_TUFUP_PYTHON").map_or_else(
        || bins::workspace_root().join("bench/.venv/tufup/bin/python"),
        PathBuf::from,
    );
    let version = Command::new(&python)
        .args([
            "-c",
            "import importlib.metadata as m; print(m.version('tufup'))",
        ])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned());
    match version {
        Some(v) if v.starts_with("0.10") => Some(python),
        other => {
            let why = format!(
                "no tufup 0.10 in {} (found {other:?}); set TUFD_TUFUP_PYTHON",
                python.display()
            );
            assert!(std::env::var_os("TUFD_REQUIRE_TUFUP").is_none(), "{why}");
            eprintln!("skipped: {why}");
            None
        }
    }
}
