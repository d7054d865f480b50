//! Deterministic app bundles for versions 1.0, 2.0, 3.0, …: the folder a developer hands to
//! `tufd-repo add`.
//!
//! Each bundle has several files in nested folders, an executable shell script
//! `bin/demo-app` that prints its version with `--version`, a relative symlink to it, a symlink
//! into another folder, a private file (mode 0600), a `VERSION` file, files that appear or
//! disappear between versions, and a large pseudo-random `data/blob.bin` (deterministic seed)
//! that changes only a little from version to version, so that patches are small while the
//! archives are as large as the blob (random bytes do not compress).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Size of `data/blob.bin` for ordinary tests: 1 MiB.
pub const SMALL_BLOB_BYTES: usize = 1 << 20;
/// Size of `data/blob.bin` for the resume scenario and the benchmark: 24 MiB.
pub const LARGE_BLOB_BYTES: usize = 24 << 20;

/// The app name every test repository uses.
pub const APP: &str = "demo";

/// Writes the bundle of `version` into `dir` (created; must not exist or be empty) with a
/// `blob_bytes`-byte data file (plus a small version-specific tail). Returns `dir`.
///
/// The same arguments always give the same tree, byte for byte.
///
/// # Panics
/// On any I/O error.
pub fn write_bundle(dir: &Path, version: &str, blob_bytes: usize) -> PathBuf {
    let step = version_step(version);
    for sub in [
        "bin",
        "lib",
        "data",
        "links",
        "config",
        "share/demo/nested/deep",
    ] {
        std::fs::create_dir_all(dir.join(sub)).expect("create bundle folder");
    }
    write(dir, "VERSION", format!("{version}\n").as_bytes(), 0o644);
    write(dir, "bin/demo-app", app_script(version).as_bytes(), 0o755);
    symlink("demo-app", &dir.join("bin/demo"));
    symlink("../data/blob.bin", &dir.join("links/blob"));
    write(
        dir,
        "lib/libdemo.txt",
        format!("libdemo for {version}\n").repeat(200).as_bytes(),
        0o644,
    );
    write(
        dir,
        "share/demo/nested/deep/notes.txt",
        format!("release notes of demo {version}: nothing to see here\n").as_bytes(),
        0o644,
    );
    write(
        dir,
        "config/secret.conf",
        format!("token = \"not-a-secret-{step}\"\n").as_bytes(),
        0o600,
    );
    write(dir, "data/blob.bin", &blob(version, blob_bytes), 0o644);
    if step == 1 {
        std::fs::create_dir_all(dir.join("old")).expect("create old/");
        write(dir, "old/legacy.txt", b"only in the first release\n", 0o644);
    }
    if step >= 2 {
        std::fs::create_dir_all(dir.join("plugins")).expect("create plugins/");
        write(
            dir,
            "plugins/new.txt",
            format!("plugin since 2.0, now {version}\n").as_bytes(),
            0o644,
        );
    }
    if step >= 3 {
        write(dir, "bin/helper.sh", b"#!/bin/sh\necho helper\n", 0o755);
    }
    dir.to_path_buf()
}

/// The shell script of the demo app: `--version` prints the bare version, otherwise a greeting.
pub fn app_script(version: &str) -> String {
    format!(
        "#!/bin/sh\n# demo app of the tufd end-to-end tests\nif [ \"$1\" = \"--version\" ]; then\n  echo \"{version}\"\n  exit 0\nfi\necho \"demo-app {version}: hello\"\n"
    )
}

/// A small integer per version (1 for "1.0", 2 for "2.0", …), used to seed the differences.
fn version_step(version: &str) -> u64 {
    version
        .split('.')
        .next()
        .and_then(|major| major.parse().ok())
        .unwrap_or(1)
}

/// The data file of `version`: a fixed pseudo-random base of `len` bytes, with a handful of
/// 256-byte regions rewritten per version and a 4 KiB version-specific tail.
pub fn blob(version: &str, len: usize) -> Vec<u8> {
    use tufd_testkit::rng::SplitMix64;

    let mut data = vec![0u8; len];
    let mut base = SplitMix64(0x7475_6664_2d65_3265); // "tufd-e2e"
    base.fill(&mut data);
    let seed = version.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let mut rng = SplitMix64(seed);
    if len > 256 {
        for _ in 0..16 {
            let at = usize::try_from(rng.next_u64() % (len as u64 - 256)).unwrap_or(0);
            rng.fill(&mut data[at..at + 256]);
        }
    }
    let mut tail = vec![0u8; 4096];
    rng.fill(&mut tail);
    data.extend_from_slice(&tail);
    data
}

fn write(dir: &Path, rel: &str, bytes: &[u8], mode: u32) {
    let path = dir.join(rel);
    std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

fn symlink(target: &str, link: &Path) {
    std::os::unix::fs::symlink(target, link)
        .unwrap_or_else(|e| panic!("symlink {}: {e}", link.display()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundles_are_deterministic_and_differ_a_little() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let a = write_bundle(&tmp.path().join("a"), "2.0", 64 * 1024);
        let b = write_bundle(&tmp.path().join("b"), "2.0", 64 * 1024);
        assert!(crate::support::tree::diff(&a, &b).is_empty());

        let v1 = blob("1.0", 1 << 20);
        let v2 = blob("2.0", 1 << 20);
        assert_eq!(v1.len(), v2.len());
        let differing = v1.iter().zip(&v2).filter(|(x, y)| x != y).count();
        assert!(differing > 0, "versions must differ");
        assert!(
            differing < 16 * 1024,
            "versions differ in {differing} bytes, expected a few KiB"
        );
    }

    #[test]
    fn app_script_prints_its_version() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = write_bundle(&tmp.path().join("b"), "3.0", 1024);
        let out = std::process::Command::new(dir.join("bin/demo"))
            .arg("--version")
            .output()
            .expect("run demo app");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "3.0\n");
        assert!(dir.join("bin/helper.sh").is_file());
        assert!(!dir.join("old").exists());
    }
}
