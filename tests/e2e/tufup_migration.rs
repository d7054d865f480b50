//! A tufup 0.10 repository adopted by `tufd-repo import-tufup`, keys and all, then published to
//! with `tufd-repo` in tufup-compatible mode, while tufup's own `Client` (python-tuf 4 inside)
//! keeps updating installs from it. All parts real: tufup and its client from the venv of
//! `tufd_tests::support::tufup`, python-tuf 7 from `.venv/`, nginx on 127.0.0.1.
//!
//! The story:
//! 1. tufup creates a repository with encrypted root and targets keys (plain snapshot and
//!    timestamp keys) and publishes 1.0, a root key rotation to another encrypted key (root 2),
//!    and 1.1; a tufup client at 1.0 updates to 1.1 through tufup's patch (its cache then holds
//!    the 1.1 archive tufup gzipped again), another stays at 1.0;
//! 2. `tufd-repo import-tufup --dry-run` writes nothing; `import-tufup` writes `tufd-repo.toml`
//!    and leaves the repository byte for byte as it was;
//! 3. `tufd-repo sign timestamp`, `keys replace timestamp` (root 3, kept as `root.json` too),
//!    `add` 1.5 then `remove-latest`, and `add` 2.0: a `.tar.gz` archive and a bsdiff4 patch
//!    under plain names, every signature under a key id the root declares;
//! 4. the tufup client at 1.1 updates to 2.0 through the patch tufd-repo wrote (nginx's access
//!    log: that patch, no archive), and its install equals the 2.0 bundle;
//! 5. the tufup client still at 1.0 also reaches 2.0, through tufup's 1.1 patch and tufd-repo's
//!    2.0 patch;
//!
//! and python-tuf 7 refreshes the repository from `1.root.json` and downloads every target
//! after every step. A second test feeds `import-tufup` bad input: each case exits 1 with one
//! line `error[<kind>]`, writes no `tufd-repo.toml` and changes nothing in the repository.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use tufd_tests::support::daemon::DAEMON_TIMEOUT;
use tufd_tests::support::nginx::Nginx;
use tufd_tests::support::process::run;
use tufd_tests::support::python;
use tufd_tests::support::repo::{REPO_TIMEOUT, Repo};
use tufd_tests::support::tree::{self, assert_same_tree, sha256_hex};
use tufd_tests::support::tufup::{self, Installer, TufupInstall, TufupUpdate};
use tufd_tests::support::{bins, copy_tree, read_json};

/// The passphrase of the encrypted keys (tufup asks for one per key; the same for all here, as
/// `tufd-repo` reads one).
const PASSPHRASE: &str = "tufup migration";

/// tufup publishes 1.0, rotates the root key, publishes 1.1: arguments `<work> <passphrase>`.
/// tufup asks for key passwords on the terminal (securesystemslib's `get_password`); the script
/// answers with the passphrase. Bundles 1.0, 1.1, 1.5 and 2.0 go to `<work>/bundles/<v>` (1.5
/// and 2.0 unpublished). Prints `published`.
///
/// The bundles are `tufup::PRELUDE`'s (archives ~260 KB, patches a few hundred bytes, well under
/// tufup's 0.8 patch/archive ratio).
const PUBLISH: &str = r##"
import os, pathlib, random, sys
import securesystemslib.interface as ssl_interface
from tufup.repo import Repository

work, passphrase = pathlib.Path(sys.argv[1]), sys.argv[2]
ssl_interface.get_password = lambda prompt="", confirm=False: passphrase
os.chdir(work)  # tufup keeps its config file in the working directory
keystore = work / "keystore"
repo = Repository(app_name="demo", repo_dir="repository", keys_dir="keystore",
                  encrypted_keys=["root", "targets"])
repo.initialize()
blob = random.Random(15).randbytes(256 * 1024)

def bundle(version):
    return write_bundle(work / "bundles" / version, version, blob)

def release(version):
    repo.add_bundle(new_bundle_dir=bundle(version), new_version=version)
    repo.publish_changes(private_key_dirs=[keystore])

release("1.0")
rotate_key(repo, keystore, "root", "root2", encrypted=True)
release("1.1")
bundle("1.5")
bundle("2.0")
for name in ("root2", "targets"):
    assert "@@@@" in (keystore / name).read_text(), f"{name} is not encrypted"
print("published")
"##;

/// python-tuf 7 refreshes the repository at `<base url>` from the trusted root `<root>` into
/// `<workdir>` (empty), downloads every target, and prints one JSON line with the versions of
/// root and timestamp and the target names.
const REFRESH: &str = r##"
import json, os, sys
from tuf.ngclient import Updater

base, root, workdir = sys.argv[1], sys.argv[2], sys.argv[3]
for sub in ("metadata", "targets"):
    os.makedirs(os.path.join(workdir, sub))
with open(root, "rb") as f:
    bootstrap = f.read()
updater = Updater(metadata_dir=os.path.join(workdir, "metadata"),
                  metadata_base_url=base + "/metadata/",
                  target_dir=os.path.join(workdir, "targets"),
                  target_base_url=base + "/targets/", bootstrap=bootstrap)
updater.refresh()
trusted = updater._trusted_set
names = sorted(trusted.targets.targets)
for name in names:
    updater.download_target(updater.get_targetinfo(name))
print(json.dumps({"root": trusted.root.version, "timestamp": trusted.timestamp.version,
                  "targets": names}))
"##;

/// `tufd-repo` in `work` with the passphrase in the environment.
fn tufd_repo(work: &Path) -> Repo {
    Repo::open(work).with_env("TUFD_REPO_PASSPHRASE", PASSPHRASE)
}

/// Every signature of every current metadata file carries a key id the root in force declares
/// for that role (tufup's legacy ids for the keys it made).
#[track_caller]
fn assert_signatures_use_root_key_ids(repository: &Path) {
    let metadata = repository.join("metadata");
    let root = read_json(&metadata.join("root.json"));
    for role in ["root", "targets", "snapshot", "timestamp"] {
        let file = read_json(&metadata.join(format!("{role}.json")));
        let declared = &root["signed"]["roles"][role]["keyids"];
        let signatures = file["signatures"].as_array().expect("signatures");
        assert!(!signatures.is_empty(), "{role}.json unsigned");
        for sig in signatures {
            let id = &sig["keyid"];
            let listed = declared.as_array().expect("keyids").contains(id)
                // a rotated root also carries the previous root's signatures
                || role == "root";
            assert!(
                listed,
                "{role}.json signed by {id}, root declares {declared}"
            );
            assert!(
                root["signed"]["keys"].get(id.as_str().unwrap()).is_some() || role == "root",
                "{role}.json: key {id} not in root"
            );
        }
    }
}

/// The targets metadata file the current snapshot names (`N.targets.json` with consistent
/// snapshots).
fn snapshot_named_targets(metadata: &Path) -> PathBuf {
    let timestamp = read_json(&metadata.join("timestamp.json"));
    let snapshot_version = &timestamp["signed"]["meta"]["snapshot.json"]["version"];
    let snapshot = read_json(&metadata.join(format!("{snapshot_version}.snapshot.json")));
    let version = &snapshot["signed"]["meta"]["targets.json"]["version"];
    metadata.join(format!("{version}.targets.json"))
}

/// The signed sha256 of target `name` in a targets metadata file.
fn target_sha(targets: &serde_json::Value, name: &str) -> String {
    targets["signed"]["targets"][name]["hashes"]["sha256"]
        .as_str()
        .unwrap_or_else(|| panic!("{name} not in {targets}"))
        .to_owned()
}

struct Story {
    work: tempfile::TempDir,
    nginx: Nginx,
    tufup_python: PathBuf,
    refreshes: usize,
}

impl Story {
    fn path(&self) -> &Path {
        self.work.path()
    }

    fn repository(&self) -> PathBuf {
        self.path().join("repository")
    }

    fn bundle(&self, version: &str) -> PathBuf {
        self.path().join("bundles").join(version)
    }

    /// python-tuf 7 reads the whole repository from `1.root.json`; returns its report.
    #[track_caller]
    fn refresh(&mut self) -> serde_json::Value {
        self.refreshes += 1;
        let workdir = self.path().join(format!("tuf7-{}", self.refreshes));
        let out = run(
            Command::new(python::tuf7())
                .args(["-c", REFRESH, &self.nginx.base_url()])
                .arg(self.repository().join("metadata/1.root.json"))
                .arg(&workdir),
            DAEMON_TIMEOUT,
        );
        out.assert_success();
        std::fs::remove_dir_all(&workdir).expect("remove python-tuf folder");
        serde_json::from_str(out.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {out}"))
    }

    /// A tufup client install `name` at `version`: the bundle, the root it trusts (`root`, a
    /// file of the repository's metadata), the cached archive.
    fn tufup_client(&self, name: &str, version: &str, root: &str) -> TufupInstall {
        TufupInstall::new(
            &self.repository(),
            root,
            version,
            &self.bundle(version),
            self.path().join(name),
            self.path().join(format!("{name}-install")),
        )
    }

    /// tufup's client of `client` updates it from `current` (installing as tufup's macOS
    /// installer does), asserting it succeeded.
    #[track_caller]
    fn tufup_update(&self, client: &TufupInstall, current: &str) -> TufupUpdate {
        self.tufup_try_update(client, current).assert_updated()
    }

    /// As [`Story::tufup_update`], the update allowed to fail.
    #[track_caller]
    fn tufup_try_update(&self, client: &TufupInstall, current: &str) -> TufupUpdate {
        client.update(&self.tufup_python, &self.nginx, current, Installer::Purge)
    }
}

#[test]
fn a_tufup_repository_imported_by_tufd_repo_keeps_updating_tufup_clients_through_its_patches() {
    let Some((tufup_python, work)) = tufup::start("tufd-tufup-import-") else {
        return;
    };
    let out = tufup::run_script(
        &tufup_python,
        PUBLISH,
        [work.path().as_os_str(), OsStr::new(PASSPHRASE)],
    );
    assert!(out.stdout.contains("published"), "{out}");
    let repository = work.path().join("repository");
    let nginx = Nginx::start(&repository);
    let mut story = Story {
        work,
        nginx,
        tufup_python,
        refreshes: 0,
    };
    let repo = tufd_repo(story.path());
    let report = story.refresh();
    assert_eq!(report["root"], 2, "{report}");

    // 1. Client A goes 1.0 -> 1.1 with tufup's own patch; client B stays at 1.0.
    let a = story.tufup_client("client-a", "1.0", "1.root.json");
    let b = story.tufup_client("client-b", "1.0", "1.root.json");
    let update = story.tufup_update(&a, "1.0");
    assert_eq!(update.new.as_deref(), Some("1.1"), "{update:?}");
    assert_eq!(update.fetched, ["demo-1.1.patch"]);
    assert_same_tree(&story.bundle("1.1"), &a.install);

    // 2. The import: a dry run writes nothing, the import only the config.
    let before = tree::snapshot(&repository);
    let config = story.path().join("tufd-repo.toml");
    let out = repo.run(&["import-tufup", "--dry-run"]);
    out.assert_success();
    assert!(!config.exists(), "dry run wrote {}", config.display());
    let out = repo.run(&["import-tufup"]);
    out.assert_success();
    let text = std::fs::read_to_string(&config).expect("tufd-repo.toml");
    assert!(text.contains("compat = \"tufup\""), "{text}");
    assert!(text.contains("consistent_snapshot = false"), "{text}");
    assert_eq!(
        tree::snapshot(&repository),
        before,
        "import changed the repository"
    );
    let again = repo.run(&["import-tufup"]);
    assert_eq!(again.code(), Some(1), "{again}");
    assert!(again.stderr.starts_with("error[already-exists]"), "{again}");

    // 3. Every changing command keeps the repository readable by python-tuf 7 (and the tufup
    //    clients below): signatures under the root's key ids, plain names, root.json current.
    let metadata = repository.join("metadata");
    let timestamp = read_json(&metadata.join("timestamp.json"))["signed"]["version"]
        .as_u64()
        .expect("timestamp version");
    repo.run(&["sign", "timestamp"]).assert_success();
    assert_signatures_use_root_key_ids(&repository);
    assert_eq!(story.refresh()["timestamp"], timestamp + 1);
    repo.run(&["keys", "replace", "timestamp"]).assert_success();
    assert_eq!(
        std::fs::read(metadata.join("root.json")).expect("root.json"),
        std::fs::read(metadata.join("3.root.json")).expect("3.root.json"),
    );
    assert_signatures_use_root_key_ids(&repository);
    assert_eq!(story.refresh()["root"], 3);
    let bundle_15 = story.bundle("1.5");
    let bundle_20 = story.bundle("2.0");
    repo.add(&bundle_15, "1.5", &[]);
    assert!(
        story.refresh()["targets"]
            .as_array()
            .unwrap()
            .contains(&"demo-1.5.patch".into())
    );
    repo.run(&["remove-latest"]).assert_success();
    let listed = story.refresh()["targets"].clone();
    assert_eq!(
        listed,
        serde_json::json!(["demo-1.0.tar.gz", "demo-1.1.patch", "demo-1.1.tar.gz"])
    );
    repo.add(&bundle_20, "2.0", &[]);
    for name in ["demo-2.0.tar.gz", "demo-2.0.patch"] {
        assert!(repository.join("targets").join(name).is_file(), "{name}");
    }
    let targets = read_json(&metadata.join("targets.json"));
    let patch = &targets["signed"]["targets"]["demo-2.0.patch"]["custom"];
    assert_eq!(patch["tufup"]["codec"], "bsdiff4", "{patch}");
    assert_eq!(patch["tufup"]["tar_hash_algorithm"], "sha256", "{patch}");
    assert!(patch["user"].is_null(), "{patch}");
    assert_signatures_use_root_key_ids(&repository);
    story.refresh();

    // 4. Client A (1.1, its own re-gzipped 1.1 archive) reaches 2.0 by tufd-repo's patch.
    let update = story.tufup_update(&a, "1.1");
    assert_eq!(update.new.as_deref(), Some("2.0"), "{update:?}");
    assert_eq!(
        update.fetched,
        ["demo-2.0.patch"],
        "client A's target requests"
    );
    assert_same_tree(&bundle_20, &a.install);

    // 5. Client B (1.0) reaches 2.0 by tufup's 1.1 patch and tufd-repo's 2.0 patch.
    let update = story.tufup_update(&b, "1.0");
    assert_eq!(update.new.as_deref(), Some("2.0"), "{update:?}");
    assert_eq!(
        update.fetched,
        ["demo-1.1.patch", "demo-2.0.patch"],
        "client B"
    );
    assert_same_tree(&bundle_20, &b.install);

    // tufd reads the same repository: from the shipped 1.root.json it offers 2.0 at 1.1.
    let tufd = tufup::tufd_client(
        &story.nginx,
        metadata.join("1.root.json"),
        "1.1",
        story.path().join("tufd-install"),
        story.path().join("tufd-data"),
    );
    copy_tree(&story.bundle("1.1"), &tufd.install_dir);
    let report = tufd.check_json();
    assert_eq!(report["latest"], "2.0", "{report}");
    let report = story.refresh();
    assert_eq!(report["root"], 3, "{report}");

    // Leaving the mode once every install runs tufd: without `compat`, consistent snapshots on
    // (`sign root` writes root 4 with them and every current target under its hash-prefixed
    // name) and bidiff-zstd patches; python-tuf 7 and tufd read the result.
    let text = std::fs::read_to_string(&config)
        .expect("tufd-repo.toml")
        .replace("compat = \"tufup\"\n", "")
        .replace("consistent_snapshot = false", "consistent_snapshot = true")
        .replace("codec = \"bsdiff4\"", "codec = \"bidiff-zstd\"");
    assert!(
        !text.contains("compat") && text.contains("bidiff-zstd"),
        "{text}"
    );
    std::fs::write(&config, &text).expect("edit tufd-repo.toml");
    repo.run(&["sign", "root"]).assert_success();
    let root = read_json(&metadata.join("4.root.json"));
    assert_eq!(root["signed"]["consistent_snapshot"], true);
    let sha = sha256_hex(&std::fs::read(repository.join("targets/demo-2.0.patch")).expect("patch"));
    assert!(
        repository
            .join(format!("targets/{sha}.demo-2.0.patch"))
            .is_file()
    );
    assert_eq!(story.refresh()["root"], 4);
    let bundle_21 = story.path().join("bundles/2.1");
    copy_tree(&bundle_20, &bundle_21);
    std::fs::write(bundle_21.join("app.txt"), "demo 2.1\n".repeat(200)).expect("2.1 bundle");
    repo.add(&bundle_21, "2.1", &[]);
    let targets = read_json(&snapshot_named_targets(&metadata));
    let patch = &targets["signed"]["targets"]["demo-2.1.patch"]["custom"];
    assert_eq!(patch["tufup"]["codec"], "bidiff-zstd", "{patch}");
    let report = story.refresh();
    assert!(
        report["targets"]
            .as_array()
            .unwrap()
            .contains(&"demo-2.1.patch".into()),
        "{report}"
    );
    let mut tufd = tufd.with_current("2.0");
    tufd.data_dir = story.path().join("tufd-data-2");
    let report = tufd.check_json();
    assert_eq!(report["latest"], "2.1", "{report}");
    // A tufup client left behind reads the consistent layout, fails the bidiff-zstd patch once
    // (tufup marks it failed) and takes the full archive at its next check.
    let update = story.tufup_try_update(&a, "2.0");
    assert_eq!(update.new.as_deref(), Some("2.1"), "{update:?}");
    assert!(!update.updated, "tufup applied a bidiff-zstd patch?");
    assert_eq!(
        update.fetched,
        [format!(
            "{}.demo-2.1.patch",
            target_sha(&targets, "demo-2.1.patch")
        )]
    );
    let update = story.tufup_update(&a, "2.0");
    assert_eq!(
        update.fetched,
        [format!(
            "{}.demo-2.1.tar.gz",
            target_sha(&targets, "demo-2.1.tar.gz")
        )]
    );
    assert_same_tree(&bundle_21, &a.install);
    println!(
        "tufup import: 2.0 patch {} B, archive {} B",
        std::fs::metadata(repository.join("targets/demo-2.0.patch"))
            .expect("patch")
            .len(),
        std::fs::metadata(repository.join("targets/demo-2.0.tar.gz"))
            .expect("archive")
            .len()
    );
}

/// tufup publishes 1.0 (encrypted root and targets keys) and, given a third argument, re-signs
/// the timestamp to expire one second later (the expired-repository case).
const PUBLISH_ONE: &str = r##"
import os, pathlib, sys
import securesystemslib.interface as ssl_interface
from tufup.repo import Repository

work, passphrase = pathlib.Path(sys.argv[1]), sys.argv[2]
ssl_interface.get_password = lambda prompt="", confirm=False: passphrase
os.chdir(work)
if len(sys.argv) > 3:
    repo = Repository.from_config()
    repo.refresh_expiration_date("timestamp", days=1 / 86400)
    repo.publish_changes(private_key_dirs=[work / "keystore"])
else:
    repo = Repository(app_name="demo", repo_dir="repository", keys_dir="keystore",
                      encrypted_keys=["root", "targets"])
    repo.initialize()
    bundle = work / "bundle"
    bundle.mkdir()
    (bundle / "app.txt").write_text("demo 1.0\n")
    repo.add_bundle(new_bundle_dir=bundle, new_version="1.0")
    repo.publish_changes(private_key_dirs=[work / "keystore"])
print("published")
"##;

/// An encrypted PKCS#8 PEM key, the format of securesystemslib's newer `CryptoSigner`, which
/// tufup 0.10 never writes.
const PEM_KEY: &str = r##"
import sys
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
pem = Ed25519PrivateKey.generate().private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
    serialization.BestAvailableEncryption(sys.argv[2].encode()))
open(sys.argv[1], "wb").write(pem)
"##;

#[test]
fn import_tufup_refuses_bad_input_with_one_line_and_writes_nothing() {
    let Some((python, base)) = tufup::start("tufd-tufup-import-bad-") else {
        return;
    };
    let original = base.path().join("original");
    std::fs::create_dir_all(&original).expect("folder");
    tufup::run_script(
        &python,
        PUBLISH_ONE,
        [original.as_os_str(), OsStr::new(PASSPHRASE)],
    );

    let mut cases = 0;
    // Each case: a fresh copy of the working folder, spoiled by `spoil`; `import-tufup` with
    // `args` (and the passphrase in the environment unless `passphrase` is None) must fail with
    // `kind`, one line, exit 1, no config written and the repository unchanged.
    let mut case =
        |name: &str, kind: &str, args: &[&str], passphrase: Option<&str>, spoil: &dyn Fn(&Path)| {
            cases += 1;
            let work = base.path().join(name);
            copy_tree(&original, &work);
            spoil(&work);
            let repository = work.join("repository");
            let before = repository.is_dir().then(|| tree::snapshot(&repository));
            let mut cmd = Command::new(bins::tufd_repo());
            cmd.current_dir(&work)
                .arg("import-tufup")
                .args(args)
                .env_remove("TUFD_REPO_PASSPHRASE");
            if let Some(p) = passphrase {
                cmd.env("TUFD_REPO_PASSPHRASE", p);
            }
            let out = run(&mut cmd, REPO_TIMEOUT);
            assert_eq!(out.code(), Some(1), "{name}: {out}");
            let stderr = out.stderr.trim_end();
            assert_eq!(stderr.lines().count(), 1, "{name}: {out}");
            assert!(
                stderr.starts_with(&format!("error[{kind}]: ")),
                "{name}: {out}"
            );
            assert!(
                !work.join("tufd-repo.toml").exists(),
                "{name}: config written"
            );
            if let Some(before) = before {
                assert_eq!(
                    tree::snapshot(&repository),
                    before,
                    "{name}: repository changed"
                );
            }
            std::fs::remove_dir_all(&work).expect("remove case folder");
        };
    let edit_config = |work: &Path, key: &str, value: &str| {
        let path = work.join(".tufup-repo-config");
        let mut cfg = read_json(&path);
        cfg[key] = value.into();
        std::fs::write(&path, cfg.to_string()).expect("write tufup config");
    };

    case("no-keys-dir", "config", &[], Some(PASSPHRASE), &|w| {
        edit_config(w, "keys_dir", "nowhere")
    });
    case("no-repo-dir", "config", &[], Some(PASSPHRASE), &|w| {
        edit_config(w, "repo_dir", "gone/repository")
    });
    case("no-tufup-config", "config", &[], Some(PASSPHRASE), &|w| {
        std::fs::remove_file(w.join(".tufup-repo-config")).expect("remove")
    });
    case("missing-key", "key", &[], Some(PASSPHRASE), &|w| {
        std::fs::remove_file(w.join("keystore/timestamp")).expect("remove key")
    });
    case(
        "wrong-passphrase",
        "passphrase",
        &[],
        Some("not it"),
        &|_| {},
    );
    case("no-passphrase", "passphrase", &[], None, &|_| {});
    let pem = |w: &Path| {
        tufup::run_script(
            &python,
            PEM_KEY,
            [
                w.join("keystore/targets").as_os_str(),
                OsStr::new(PASSPHRASE),
            ],
        );
    };
    case("pem-key", "key", &[], Some(PASSPHRASE), &pem);
    let expire = |w: &Path| {
        tufup::run_script(
            &python,
            PUBLISH_ONE,
            [w.as_os_str(), OsStr::new(PASSPHRASE), OsStr::new("expire")],
        );
        std::thread::sleep(std::time::Duration::from_secs(2));
    };
    case("expired", "expiring", &[], Some(PASSPHRASE), &expire);

    // Twice: the second import refuses to replace the config without --force.
    let work = base.path().join("twice");
    copy_tree(&original, &work);
    tufd_repo(&work).run(&["import-tufup"]).assert_success();
    let config = std::fs::read(work.join("tufd-repo.toml")).expect("config");
    let out = tufd_repo(&work).run(&["import-tufup"]);
    assert_eq!(out.code(), Some(1), "{out}");
    assert_eq!(out.stderr.trim_end().lines().count(), 1, "{out}");
    assert!(out.stderr.starts_with("error[already-exists]: "), "{out}");
    assert_eq!(
        std::fs::read(work.join("tufd-repo.toml")).expect("config"),
        config
    );
    tufd_repo(&work)
        .run(&["import-tufup", "--force"])
        .assert_success();
    println!("import-tufup bad input: {cases} cases refused");
}
