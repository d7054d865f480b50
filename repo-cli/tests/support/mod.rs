//! Shared helpers of the `tufd-repo` integration tests: running the built binary, making real
//! multi-file bundles, hashing trees, serving a repository and running python-tuf's ngclient.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use sha2::{Digest, Sha256};

/// The built `tufd-repo` binary.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_tufd-repo")
}

/// Runs `tufd-repo ARGS` in `dir` with a clean passphrase environment.
pub fn run(dir: &Path, args: &[&str]) -> Output {
    run_env(dir, args, &[])
}

/// Runs `tufd-repo ARGS` in `dir` with extra environment variables.
pub fn run_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(bin());
    cmd.current_dir(dir)
        .args(args)
        .env_remove("TUFD_REPO_PASSPHRASE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run tufd-repo")
}

/// Runs and asserts success; returns stdout.
pub fn ok(dir: &Path, args: &[&str]) -> String {
    let out = run(dir, args);
    assert!(
        out.status.success(),
        "tufd-repo {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Deterministic incompressible bytes from `seed`.
pub use tufd_testkit::rng::bytes as pseudo_random;

/// Writes a real multi-file bundle for release number `n` into `dir`: several files, a nested
/// folder, an executable, a symlink and a ~2 MB pseudo-random file that changes a little between
/// releases.
pub fn make_bundle(dir: &Path, n: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir.join("lib/nested")).unwrap();
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    std::fs::write(dir.join("README.txt"), format!("my app release {n}\n")).unwrap();
    std::fs::write(
        dir.join("lib/nested/data.json"),
        format!("{{\"release\": {n}}}\n"),
    )
    .unwrap();
    std::fs::write(dir.join("lib/common.txt"), "same in every release\n").unwrap();
    let exe = dir.join("bin/my_app");
    std::fs::write(&exe, format!("#!/bin/sh\necho release {n}\n")).unwrap();
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut big = pseudo_random(2 * 1024 * 1024, 42);
    for i in 0..n as usize {
        let at = 100_000 + i * 300_000;
        big[at..at + 64].copy_from_slice(&pseudo_random(64, 1000 + i as u64));
    }
    std::fs::write(dir.join("lib/big.bin"), big).unwrap();
    let link = dir.join("my_app");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink("bin/my_app", &link).unwrap();
}

/// Copies a folder preserving permission bits and symlinks (like `cp -a` without times).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let t = e.file_type().unwrap();
        let dest = to.join(e.file_name());
        if t.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(e.path()).unwrap(), &dest).unwrap();
        } else if t.is_dir() {
            copy_tree(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), &dest).unwrap();
        }
    }
}

/// sha256 over every path, type, mode and content below `dir` (sorted): equal trees give equal
/// digests, and any added, removed or changed file changes it.
pub fn tree_hash(dir: &Path) -> String {
    use std::os::unix::fs::PermissionsExt;
    fn walk(base: &Path, dir: &Path, h: &mut Sha256) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap())
            .collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let p = e.path();
            let rel = p.strip_prefix(base).unwrap().to_string_lossy().into_owned();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            h.update(rel.as_bytes());
            h.update(meta.permissions().mode().to_le_bytes());
            if meta.is_dir() {
                h.update(b"/dir");
                walk(base, &p, h);
            } else if meta.file_type().is_symlink() {
                h.update(std::fs::read_link(&p).unwrap().to_string_lossy().as_bytes());
            } else {
                h.update(std::fs::read(&p).unwrap());
            }
        }
    }
    let mut h = Sha256::new();
    walk(dir, dir, &mut h);
    hex::encode(h.finalize())
}

/// A working folder with `tufd-repo init` done.
pub fn init_repo(extra: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["init", "--app-name", "my_app"];
    args.extend_from_slice(extra);
    ok(dir.path(), &args);
    dir
}

/// Makes bundle `n` under `<work>/bundles/<n>` and publishes it as `version`.
pub fn add_release(work: &Path, n: u32, version: &str, extra: &[&str]) -> String {
    let bundle = work.join("bundles").join(n.to_string());
    make_bundle(&bundle, n);
    let b = bundle.to_str().unwrap().to_owned();
    let mut args = vec!["add", b.as_str(), "--version", version];
    args.extend_from_slice(extra);
    ok(work, &args)
}

/// A running `tufd-repo serve --port 0`; killed on drop.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT/`.
    pub url: String,
}

impl Server {
    /// Starts the server for the repository of the config in `work` and reads its URL.
    pub fn start(work: &Path) -> Self {
        let mut child = Command::new(bin())
            .current_dir(work)
            .args(["serve", "--port", "0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn tufd-repo serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("serving ")
            .unwrap_or_else(|| panic!("unexpected serve output {line:?}"))
            .to_owned();
        assert!(url.starts_with("http://127.0.0.1:"), "{url}");
        Self { child, url }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Python interpreter with `tuf` 7.x and `bsdiff4`: `TUFD_PYTHON`, else
/// `<workspace>/.venv/bin/python`. Panics (never skips) when missing.
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("TUFD_PYTHON") {
        return PathBuf::from(p);
    }
    let p = workspace().join(".venv/bin/python");
    assert!(
        p.exists(),
        "python with tuf 7.x and bsdiff4 not found at {} (or TUFD_PYTHON): run scripts/test.sh, which creates the venv",
        p.display()
    );
    p
}

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Runs `tests/python/ngclient_check.py` against `url` trusting `root`; returns its JSON report.
pub fn ngclient(url: &str, root: &Path, client_dir: &Path) -> serde_json::Value {
    let script = workspace().join("tests/python/ngclient_check.py");
    let out = Command::new(python())
        .arg(&script)
        .args(["--base-url", url, "--root"])
        .arg(root)
        .arg("--workdir")
        .arg(client_dir)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "python-tuf ngclient check failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The signed targets metadata's `targets` object of the newest published targets role.
pub fn published_targets(work: &Path) -> serde_json::Value {
    let meta = work.join("repository/metadata");
    let ts: serde_json::Value =
        serde_json::from_slice(&std::fs::read(meta.join("timestamp.json")).unwrap()).unwrap();
    let snap_v = ts["signed"]["meta"]["snapshot.json"]["version"]
        .as_u64()
        .unwrap();
    let snap_file = if meta.join(format!("{snap_v}.snapshot.json")).exists() {
        format!("{snap_v}.snapshot.json")
    } else {
        "snapshot.json".into()
    };
    let snap: serde_json::Value =
        serde_json::from_slice(&std::fs::read(meta.join(snap_file)).unwrap()).unwrap();
    let t_v = snap["signed"]["meta"]["targets.json"]["version"]
        .as_u64()
        .unwrap();
    let t_file = if meta.join(format!("{t_v}.targets.json")).exists() {
        format!("{t_v}.targets.json")
    } else {
        "targets.json".into()
    };
    let t: serde_json::Value =
        serde_json::from_slice(&std::fs::read(meta.join(t_file)).unwrap()).unwrap();
    t["signed"]["targets"].clone()
}
