//! tufup 0.10 for the tests that run the real tufup (its repository tool and its `Client`,
//! python-tuf 4 inside): the Python interpreter of a venv that has it, the Python helpers every
//! tufup script shares ([`PRELUDE`]), a tufup client install and its updates, and a `tufd`
//! client of a tufup repository.
//!
//! The venv comes from `TUFD_TUFUP_PYTHON` (`scripts/test.sh` creates `.venv-tufup/`), else
//! `<workspace>/bench/.venv/tufup/bin/python` (`bench/run.sh` creates it; or
//! `python3 -m venv V && V/bin/pip install 'tufup==0.10.*'`). Without one a test is skipped with
//! a message, unless `TUFD_REQUIRE_TUFUP=1` makes that a failure.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::bins;
use super::copy_tree;
use super::daemon::{Client, DAEMON_TIMEOUT, VersionSource};
use super::nginx::Nginx;
use super::process::{RunOutput, run};

/// The app name of every tufup repository the tests make.
pub const APP: &str = "demo";

/// Python put before every script [`run_script`] runs:
/// - `write_bundle(path, version, blob)` writes the `demo` bundle of `version` at `path` (an
///   executable `bin/demo` launcher, `app.txt` that changes with the version, and `blob` as
///   `lib/blob.bin`, the same in every release: with a 256 KiB incompressible blob the archives
///   are ~260 KB and the patches a few hundred bytes, well under tufup's 0.8 patch/archive
///   ratio) and returns `path`;
/// - `rotate_key(repo, keystore, old, new, encrypted=False)` replaces tufup key `old` by a new
///   key pair `new` in `keystore` and publishes (for the root key: a root rotation, the new root
///   signed by the old and the new key).
pub const PRELUDE: &str = r##"
from tufup.repo import Keys

def write_bundle(path, version, blob):
    (path / "bin").mkdir(parents=True)
    (path / "lib").mkdir()
    launcher = path / "bin" / "demo"
    launcher.write_text(f"#!/bin/sh\necho {version}\n")
    launcher.chmod(0o755)
    (path / "lib" / "blob.bin").write_bytes(blob)
    (path / "app.txt").write_text(f"demo {version}\n" * 200)
    return path

def rotate_key(repo, keystore, old, new, encrypted=False):
    Keys.create_key_pair(private_key_path=keystore / new, encrypted=encrypted)
    repo.replace_key(old_key_name=old, new_public_key_path=keystore / f"{new}.pub",
                     new_private_key_encrypted=encrypted)
    repo.publish_changes(private_key_dirs=[keystore])
"##;

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

/// The start of a tufup test: the Python with tufup 0.10 (as [`python`]) and a fresh work folder
/// named `<prefix>…` in the temp folder; `None` when the test is skipped.
///
/// # Panics
/// As [`python`], or when the folder cannot be made.
pub fn start(prefix: &str) -> Option<(PathBuf, tempfile::TempDir)> {
    let python = python()?;
    let work = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("tempdir");
    Some((python, work))
}

/// Runs `python -c <PRELUDE><script> <args…>` (time limit [`DAEMON_TIMEOUT`]) and asserts it
/// succeeds.
///
/// # Panics
/// When the script fails or times out.
#[track_caller]
pub fn run_script<I, S>(python: &Path, script: &str, args: I) -> RunOutput
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let out = run(
        Command::new(python)
            .arg("-c")
            .arg(format!("{PRELUDE}{script}"))
            .args(args),
        DAEMON_TIMEOUT,
    );
    out.assert_success();
    out
}

/// tufup's `Client` updates an install: arguments `<client folder> <install> <current version>
/// <base url> purge|overwrite`, the client folder holding `metadata/root.json` and `targets/`
/// (its cache). Installs as tufup's installers do, without their exit: `purge` as the macOS one
/// (remove the install folder, copy the new one), `overwrite` as the default one
/// (`purge_dst_dir=False`: new files copied over the old ones, so files a release dropped stay).
/// Prints one JSON line `{"new": …, "targets": [file names]}`, then `updated` once the new
/// archive is in the cache, else `failed` (tufup logs and swallows a failed patch).
const UPDATE: &str = r##"
import json, logging, pathlib, shutil, sys, tempfile
from tufup.client import Client

logging.basicConfig(level=logging.INFO)
folder, install, current, base_url, mode = (pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3],
                                            sys.argv[4], sys.argv[5])
extract = pathlib.Path(tempfile.mkdtemp(dir=folder))

def install_update(src_dir, dst_dir, **kwargs):
    if mode == "purge":
        shutil.rmtree(dst_dir)
    shutil.copytree(src_dir, dst_dir, symlinks=True, dirs_exist_ok=True)

client = Client(app_name="demo", app_install_dir=pathlib.Path(install), current_version=current,
                metadata_dir=folder / "metadata", metadata_base_url=base_url + "/metadata/",
                target_dir=folder / "targets", target_base_url=base_url + "/targets/",
                extract_dir=extract)
new = client.check_for_updates()
print(json.dumps({"new": str(new.version) if new else None,
                  "targets": sorted(m.filename for m in client.new_targets or {})}))
client.download_and_apply_update(skip_confirmation=True, install=install_update)
shutil.rmtree(extract)
print("updated" if client.new_archive_local_path.exists() else "failed")
"##;

/// How tufup's client puts a new release in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Installer {
    /// The install folder removed, then the new release copied (tufup's macOS installer).
    Purge,
    /// The new release copied over the old one, so files a release dropped stay (tufup's
    /// default, `purge_dst_dir=False`).
    Overwrite,
}

/// A tufup client install: tufup's folder (`metadata/root.json`, its trusted root, and
/// `targets/`, its cache of archives) and the app's install folder.
#[derive(Debug, Clone)]
pub struct TufupInstall {
    /// The tufup client's folder.
    pub folder: PathBuf,
    /// The app's install folder.
    pub install: PathBuf,
}

/// What one update by tufup's client did.
#[derive(Debug, Clone)]
pub struct TufupUpdate {
    /// The version tufup found (`None`: none).
    pub new: Option<String>,
    /// The target files nginx served it (GET), sorted.
    pub fetched: Vec<String>,
    /// Whether the new archive reached tufup's cache (tufup swallows a failed patch).
    pub updated: bool,
}

impl TufupUpdate {
    /// Asserts that the new archive reached tufup's cache; returns the update.
    ///
    /// # Panics
    /// When tufup's update failed.
    #[track_caller]
    pub fn assert_updated(self) -> Self {
        assert!(self.updated, "tufup's update failed: {self:?}");
        self
    }
}

impl TufupInstall {
    /// An install as tufup's installer leaves `version` of `repository` (plain names): the bundle
    /// `bundle` copied to `install`, `repository/metadata/<root>` as the trusted `root.json` and
    /// the archive `demo-<version>.tar.gz` in the cache.
    ///
    /// # Panics
    /// On any I/O error.
    pub fn new(
        repository: &Path,
        root: &str,
        version: &str,
        bundle: &Path,
        folder: PathBuf,
        install: PathBuf,
    ) -> Self {
        std::fs::create_dir_all(folder.join("metadata")).expect("metadata folder");
        std::fs::create_dir_all(folder.join("targets")).expect("targets folder");
        std::fs::copy(
            repository.join("metadata").join(root),
            folder.join("metadata/root.json"),
        )
        .expect("root");
        let archive = format!("{APP}-{version}.tar.gz");
        std::fs::copy(
            repository.join("targets").join(&archive),
            folder.join("targets").join(&archive),
        )
        .expect("cached archive");
        copy_tree(bundle, &install);
        Self { folder, install }
    }

    /// tufup's client at `current` updates from the repository `nginx` serves, placing the new
    /// release with `installer`; the update may fail (see [`TufupUpdate::updated`] and
    /// [`TufupUpdate::assert_updated`]).
    ///
    /// # Panics
    /// When the script itself fails.
    #[track_caller]
    pub fn update(
        &self,
        python: &Path,
        nginx: &Nginx,
        current: &str,
        installer: Installer,
    ) -> TufupUpdate {
        let before = nginx.access_log().len();
        let mode = match installer {
            Installer::Purge => "purge",
            Installer::Overwrite => "overwrite",
        };
        let out = run_script(
            python,
            UPDATE,
            [
                self.folder.as_os_str(),
                self.install.as_os_str(),
                OsStr::new(current),
                OsStr::new(&nginx.base_url()),
                OsStr::new(mode),
            ],
        );
        let updated = out.stdout.contains("updated");
        assert!(updated || out.stdout.contains("failed"), "{out}");
        let plan = out.stdout.lines().next().expect("plan line");
        let plan: serde_json::Value =
            serde_json::from_str(plan).unwrap_or_else(|e| panic!("{e}: {out}"));
        let mut fetched = nginx.targets_fetched_since(before);
        fetched.sort();
        TufupUpdate {
            new: plan["new"].as_str().map(str::to_owned),
            fetched,
            updated,
        }
    }
}

/// A `tufd` client of the `demo` app served by `nginx`, at `version` in `install` with data in
/// `data`, trusting `trusted_root` (no further flags).
pub fn tufd_client(
    nginx: &Nginx,
    trusted_root: PathBuf,
    version: &str,
    install: PathBuf,
    data: PathBuf,
) -> Client {
    Client {
        app: APP.to_owned(),
        version: VersionSource::Flag(version.to_owned()),
        install_dir: install,
        data_dir: data,
        metadata_url: nginx.metadata_url(),
        targets_url: nginx.targets_url(),
        trusted_root,
        extra: Vec::new(),
    }
}

/// The `version` in the `signed` part of the metadata file at `path`.
///
/// # Panics
/// When the file is missing or not JSON.
#[track_caller]
pub fn metadata_version(path: &Path) -> serde_json::Value {
    super::read_json(path)["signed"]["version"].clone()
}
