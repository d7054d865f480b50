//! Shared setup: build the hooks workspace once, locate its components, build contexts.

use std::time::Duration;

use tufd_core::install_plan::{self, InstallContext, PlanPath, Program, Root};
use tufd_hook_host::{HookHost, HookHostBuilder};

pub use tufd_testkit::hooks::workspace_root as repo_root;

pub use tufd_testkit::hooks::hook;

/// A builder with a short timeout, so hostile tests stay quick.
pub fn quick() -> HookHostBuilder {
    HookHost::builder().timeout(Duration::from_millis(500))
}

/// Loads hook `name` with the default limits.
pub fn host(name: &str) -> HookHost {
    HookHost::builder()
        .build(hook(name))
        .unwrap_or_else(|e| panic!("load {name}: {e}"))
}

/// Strings from string slices.
pub fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// A path inside a root.
pub fn p(root: Root, rel: &str) -> PlanPath {
    PlanPath::new(root, rel)
}

/// A relaunch command for a program inside the install folder.
pub fn relaunch(rel: &str) -> install_plan::Command {
    install_plan::Command {
        program: Program::InRoot(p(Root::Install, rel)),
        args: strings(&["--updated"]),
    }
}

/// A context for app `Demo` 1.0 → 2.0 on `os`.
pub fn context(os: &str, installed: &[&str], staged: &[&str]) -> InstallContext {
    InstallContext {
        os: os.to_owned(),
        arch: "x86_64".to_owned(),
        app_name: "Demo".to_owned(),
        installed_version: "1.0".parse().unwrap(),
        new_version: "2.0".parse().unwrap(),
        install_dir: "/opt/demo".into(),
        staging_dir: "/var/lib/tufd/staging/Demo-2.0".into(),
        backup_dir: "/var/lib/tufd/backup/Demo-1.0".into(),
        app_pid: None,
        relaunch: None,
        staging_files: strings(staged),
        installed_files: strings(installed),
        settings: Vec::new(),
    }
}
