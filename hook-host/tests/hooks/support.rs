//! Shared setup: build the hooks workspace once, locate its components, build contexts.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use tufd_core::plan::{self, InstallContext, PlanPath, Program, Root};
use tufd_hook_host::{HookHost, HookHostBuilder};

/// The repository root (`hook-host/..`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("hook-host has a parent")
        .to_owned()
}

/// The target folder of this test binary (`<target>/debug/deps/hooks-*` → `<target>`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.ancestors()
        .nth(3)
        .expect("test binary sits in <target>/<profile>/deps")
        .to_owned()
}

/// Builds `examples/hooks` for `wasm32-wasip2` (release) once per test run, into
/// `<target>/hooks`, and returns the folder holding the `.wasm` files.
pub fn hooks_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let target = target_dir().join("hooks");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let manifest = repo_root().join("examples/hooks/Cargo.toml");
        let output = Command::new(cargo)
            .args([
                "build",
                "--release",
                "--target",
                "wasm32-wasip2",
                "--manifest-path",
            ])
            .arg(&manifest)
            .env("CARGO_TARGET_DIR", &target)
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .output()
            .expect("run cargo for the hooks workspace");
        assert!(
            output.status.success(),
            "building the hooks failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        target.join("wasm32-wasip2/release")
    })
}

/// The component of hooks crate `name` (dashes as in the crate name).
pub fn hook(name: &str) -> PathBuf {
    let file = hooks_dir().join(format!("{}.wasm", name.replace('-', "_")));
    assert!(file.is_file(), "missing {}", file.display());
    file
}

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
pub fn relaunch(rel: &str) -> plan::Command {
    plan::Command {
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
