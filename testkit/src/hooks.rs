//! The hooks workspace `examples/hooks` (example and hostile hooks), built for
//! `wasm32-wasip2` in release mode once per test binary, into `<target>/hooks`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The workspace root: found at run time from the package under test (cargo sets
/// `CARGO_MANIFEST_DIR` for every test process) by walking up to the folder holding
/// `examples/hooks/Cargo.toml`, so that a build cached from another checkout of the workspace
/// never points at that checkout; else where this crate was compiled (`<root>/testkit`).
pub fn workspace_root() -> PathBuf {
    let holds_hooks = |dir: &Path| dir.join("examples/hooks/Cargo.toml").is_file();
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .and_then(|dir| {
            dir.ancestors()
                .find(|d| holds_hooks(d))
                .map(Path::to_path_buf)
        })
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .parent()
                .expect("testkit sits in the workspace root")
                .to_path_buf()
        })
}

/// The cargo target folder of the running test binary (`<target>/<profile>/deps/<test>`).
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.ancestors()
        .nth(3)
        .expect("test binary sits in <target>/<profile>/deps")
        .to_path_buf()
}

/// Builds `examples/hooks` once and returns the folder holding the `.wasm` files.
///
/// # Panics
/// When cargo fails (a missing `wasm32-wasip2` target: `scripts/test.sh` installs it).
pub fn hooks_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let target = target_dir().join("hooks");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let manifest = workspace_root().join("examples/hooks/Cargo.toml");
        let output = Command::new(cargo)
            .args(["build", "--release", "--target", "wasm32-wasip2"])
            .arg("--manifest-path")
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
///
/// # Panics
/// When the build did not produce it.
pub fn hook(name: &str) -> PathBuf {
    let file = hooks_dir().join(format!("{}.wasm", name.replace('-', "_")));
    assert!(file.is_file(), "missing {}", file.display());
    file
}
