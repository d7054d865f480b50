//! End-to-end tests: the real `tufd-repo` publishes releases of a real bundle, Debian's nginx
//! (or a `file://` folder) serves them, and the real `tufd` updates an installed copy; one module
//! per area (the update flow, resumed downloads, a bad patch, watching, the sidecar protocol,
//! expired metadata, attacks, crashes, health checks, hooks, the guide, the example apps, the
//! cross-built `tufd.exe` under Wine, a repository made by tufup, …), plus an `#[ignore]`d
//! benchmark.
//!
//! Run with `cargo test -p tufd-tests` (the support code builds `tufd` and `tufd-repo` first if
//! they are missing or stale). Each test works in its own temp folder with its own nginx on a
//! free port, so they run in parallel.

mod admin_policy;
mod attacks;
mod base_mismatch;
mod benchmark;
mod check_exit_code;
mod corrupt_patch;
mod crash;
mod docs;
mod examples;
mod expired;
mod health;
mod hooks;
mod keep;
mod object_storage;
mod platforms;
mod resume;
mod rollout_yank;
mod sidecar;
mod tufup_migration;
mod tufup_repo;
mod tufup_takeover;
mod update_flow;
mod watch;
mod windows;

use std::path::Path;
use std::process::Command;

/// Runs the installed demo app's `bin/demo-app --version` and returns its trimmed output.
pub(crate) fn app_version(install_dir: &Path) -> String {
    let out = Command::new(install_dir.join("bin/demo-app"))
        .arg("--version")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run the installed app in {}: {e}",
                install_dir.display()
            )
        });
    assert!(out.status.success(), "installed app failed: {out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}
