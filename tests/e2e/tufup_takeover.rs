//! tufd takes over an install that tufup 0.10 kept up to date, without a full download: it starts
//! from the tufup client's own trusted `root.json` (`--trusted-root`, a root several versions
//! old by then) and uses the archive tufup cached for the installed version (`--tufup-cache`,
//! tufup's target folder) as the patch base, once it verified it against the signed metadata.
//!
//! The story, all parts real (tufup's repository tool and `Client` from the venv of
//! `tufd_tests::support::tufup`, nginx on 127.0.0.1):
//! 1. tufup publishes 1.0, 1.1, a root key rotation (root 2) and 2.0;
//! 2. tufup's `Client`, installed at 1.0 with the 1.0 archive in its cache and the shipped
//!    `root.json`, updates to 2.0 through the 1.1 and 2.0 patches: its cache now holds
//!    `demo-2.0.tar.gz` *re-gzipped* by tufup (other bytes than the published archive, the same
//!    tar) and its metadata folder the rotated root 2;
//! 3. tufup publishes another rotation (root 3) and 2.1;
//! 4. tufd, started on that install with an empty data folder, `--trusted-root` the tufup
//!    client's `root.json` and `--tufup-cache` its target folder, plans 2.1 through
//!    `demo-2.1.patch` and updates through it (nginx's access log: that patch, no archive); the
//!    tree equals the 2.1 bundle and tufd trusts root 3;
//! 5. the same with a tampered cached archive (one byte of its tar changed, gzipped again): tufd
//!    does not use it, logs why (`tufup_cache = "refused"`) and updates by the full archive.
//!
//! A second test runs the same takeover on a repository `tufd-repo import-tufup` adopted, with
//! 2.0 and 2.1 published by `tufd-repo add`, and shows what the flag saves there: tufup installs
//! without purging, so the install folder does not rebuild to the signed tar and, without
//! `--tufup-cache`, the update is the full archive.

use std::ffi::OsStr;

use tufd_tests::support::copy_tree;
use tufd_tests::support::nginx::Nginx;
use tufd_tests::support::repo::Repo;
use tufd_tests::support::tree::assert_same_tree;
use tufd_tests::support::tufup::{self, Installer, TufupInstall};

/// Steps 1–3 in one Python process (tufup keeps its rotated key names in memory): arguments
/// `<work> <base url>`. Bundles go to `<work>/bundles/<v>`, the repository to
/// `<work>/repository`, the tufup client's folders to `<work>/tufup-client/{metadata,targets}`,
/// its install to `<work>/install`, a tampered copy of its cached 2.0 archive to
/// `<work>/tampered/demo-2.0.tar.gz`. Prints `taken-over-ready` at the end.
/// The bundles are `tufup::PRELUDE`'s (archives ~260 KB, patches a few hundred bytes).
const STORY: &str = r##"
import gzip, json, os, pathlib, random, shutil, sys, time
from tufup.client import Client
from tufup.repo import Repository

work, base_url = pathlib.Path(sys.argv[1]), sys.argv[2]
os.chdir(work)  # tufup keeps its config file in the working directory
keystore = work / "keystore"
published = work / "repository"
repo = Repository(app_name="demo", repo_dir=published, keys_dir=keystore)
repo.initialize()
blob = random.Random(15).randbytes(256 * 1024)

def release(version):
    bundle = write_bundle(work / "bundles" / version, version, blob)
    repo.add_bundle(new_bundle_dir=bundle, new_version=version)
    repo.publish_changes(private_key_dirs=[keystore])

def rotate(old, new):
    rotate_key(repo, keystore, old, new)

def root_version(path):
    return json.loads(path.read_text())["signed"]["version"]

# 1.
release("1.0")
release("1.1")
rotate("root", "root2")
release("2.0")

# 2. The install as tufup's installer left it at 1.0: the bundle, the shipped root, the archive.
metadata_dir = work / "tufup-client" / "metadata"
target_dir = work / "tufup-client" / "targets"
install = work / "install"
extract = work / "extract"
for folder in (metadata_dir, target_dir, extract):
    folder.mkdir(parents=True)
shutil.copytree(work / "bundles" / "1.0", install, symlinks=True)
shutil.copy(published / "metadata" / "1.root.json", metadata_dir / "root.json")
shutil.copy(published / "targets" / "demo-1.0.tar.gz", target_dir)

def install_update(src_dir, dst_dir, **kwargs):
    shutil.rmtree(dst_dir)
    shutil.copytree(src_dir, dst_dir, symlinks=True)

client = Client(app_name="demo", app_install_dir=install, current_version="1.0",
                metadata_dir=metadata_dir, metadata_base_url=base_url + "/metadata/",
                target_dir=target_dir, target_base_url=base_url + "/targets/",
                extract_dir=extract)
# gzip headers carry the time in whole seconds: let a second pass, so that the archive tufup
# compresses again after patching has other bytes than the published one.
time.sleep(1.1)
new = client.check_for_updates()
assert str(new.version) == "2.0", new
assert sorted(m.filename for m in client.new_targets) == ["demo-1.1.patch", "demo-2.0.patch"], \
    client.new_targets
client.download_and_apply_update(skip_confirmation=True, install=install_update)

cached = (target_dir / "demo-2.0.tar.gz").read_bytes()
original = (published / "targets" / "demo-2.0.tar.gz").read_bytes()
assert cached != original, "tufup re-gzips the archive it patched"
tar = gzip.decompress(cached)
assert tar == gzip.decompress(original)
assert root_version(metadata_dir / "root.json") == 2

# A tampered copy: one byte of the tar changed, same length, gzipped again.
at = tar.index(b"demo 2.0\n")
evil = tar[:at] + b"evil" + tar[at + 4:]
assert len(evil) == len(tar) and evil != tar
(work / "tampered").mkdir()
(work / "tampered" / "demo-2.0.tar.gz").write_bytes(gzip.compress(evil))

# 3.
rotate("root2", "root3")
release("2.1")
assert root_version(published / "metadata" / "root.json") == 3
print("taken-over-ready")
"##;

#[test]
fn tufd_takes_over_a_tufup_install_through_a_patch_on_tufups_cached_archive() {
    let Some((python, work)) = tufup::start("tufd-takeover-") else {
        return;
    };
    let repo = Repo::open(work.path());
    let repository = repo.repository();
    std::fs::create_dir_all(&repository).expect("repository folder");
    let nginx = Nginx::start(&repository);

    // Steps 1-3.
    let out = tufup::run_script(
        &python,
        STORY,
        [work.path().as_os_str(), OsStr::new(&nginx.base_url())],
    );
    assert!(out.stdout.contains("taken-over-ready"), "{out}");
    let bundle = |version: &str| work.path().join("bundles").join(version);
    let tufup_client = work.path().join("tufup-client");
    let install = work.path().join("install");
    // tufup's client went 1.0 -> 2.0 by its patches, never by an archive.
    let mut by_tufup = nginx.targets_fetched_since(0);
    by_tufup.sort();
    assert_eq!(
        by_tufup,
        ["demo-1.1.patch", "demo-2.0.patch"],
        "tufup client's target requests"
    );
    assert_same_tree(&bundle("2.0"), &install);
    assert_eq!(
        tufup::metadata_version(&tufup_client.join("metadata/root.json")),
        2
    );

    // Step 4: tufd from the tufup install, empty data folder.
    let mut client = tufup::tufd_client(
        &nginx,
        tufup_client.join("metadata/root.json"),
        "2.0",
        install.clone(),
        work.path().join("data"),
    );
    client.extra = vec![
        "--tufup-cache".to_owned(),
        tufup_client.join("targets").display().to_string(),
    ];
    let patch_bytes = repo.target_len("demo-2.1.patch");
    let report = client.check_json();
    assert_eq!(report["latest"], "2.1", "{report}");
    assert_eq!(
        report["plan"]["patches"],
        serde_json::json!(["demo-2.1.patch"]),
        "{report}"
    );
    assert_eq!(report["plan"]["bytes"], patch_bytes, "{report}");
    // tufd chained from the tufup client's root 2 to root 3.
    assert_eq!(
        tufup::metadata_version(&client.data_dir.join("metadata/root.json")),
        3
    );

    let before = nginx.access_log().len();
    let out = client.update();
    out.assert_success();
    assert_eq!(
        nginx.targets_fetched_since(before),
        ["demo-2.1.patch"],
        "tufd's target requests"
    );
    assert_same_tree(&bundle("2.1"), &install);
    let at_2_1 = client.clone().with_current("2.1");
    assert_eq!(at_2_1.check_json()["update_available"], false);

    // Step 5: a tampered cached archive is refused, with the reason logged; the full archive.
    let install_b = work.path().join("install-b");
    copy_tree(&bundle("2.0"), &install_b);
    let mut tampered = client.clone();
    tampered.install_dir = install_b.clone();
    tampered.data_dir = work.path().join("data-b");
    tampered.extra = vec![
        "--tufup-cache".to_owned(),
        work.path().join("tampered").display().to_string(),
        "--log-format".to_owned(),
        "json".to_owned(),
    ];
    let out = tampered.check();
    out.assert_success();
    let report: serde_json::Value = serde_json::from_str(out.stdout.trim()).expect("JSON");
    assert_eq!(report["plan"]["full"], "demo-2.1.tar.gz", "{report}");
    let refused = out
        .stderr
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|event| event["fields"]["tufup_cache"] == "refused")
        .unwrap_or_else(|| panic!("no refusal logged: {out}"));
    assert_eq!(refused["level"], "WARN", "{refused}");
    assert!(refused["fields"]["reason"].is_string(), "{refused}");
    assert!(
        !tampered.data_dir.join("cache/demo-2.0.tar").exists(),
        "the tampered tar was kept"
    );
    let before = nginx.access_log().len();
    tampered.update().assert_success();
    assert_eq!(
        nginx.targets_fetched_since(before),
        ["demo-2.1.tar.gz"],
        "tampered: target requests"
    );
    assert_same_tree(&bundle("2.1"), &install_b);
    println!(
        "tufup takeover: 2.0 -> 2.1 by {patch_bytes} B of patch instead of {} B of archive",
        repo.target_len("demo-2.1.tar.gz")
    );
}

/// tufup publishes 1.0 and 1.1 (plain keys) of `demo`: arguments `<work>`. The 1.0 bundle also
/// holds `lib/old.txt`, which later releases drop; bundles 2.0 and 2.1 are made for
/// `tufd-repo add` but not published. Prints `published`.
const PUBLISH_1X: &str = r##"
import os, pathlib, random, sys
from tufup.repo import Repository

work = pathlib.Path(sys.argv[1])
os.chdir(work)  # tufup keeps its config file in the working directory
repo = Repository(app_name="demo", repo_dir="repository", keys_dir="keystore")
repo.initialize()
blob = random.Random(16).randbytes(256 * 1024)

def bundle(version):
    path = write_bundle(work / "bundles" / version, version, blob)
    if version == "1.0":
        (path / "lib" / "old.txt").write_text("only in 1.0\n")
    return path

for version in ("1.0", "1.1"):
    repo.add_bundle(new_bundle_dir=bundle(version), new_version=version)
    repo.publish_changes(private_key_dirs=[work / "keystore"])
bundle("2.0")
bundle("2.1")
print("published")
"##;

/// The whole migration on a repository `tufd-repo import-tufup` adopted: tufup publishes 1.0
/// and 1.1; a tufup client installed at 1.0 updates to 1.1 with tufup's patch; the import;
/// `tufd-repo add` 2.0 (the release that ships tufd); the tufup client reaches 2.0 through the
/// bsdiff4 patch tufd-repo wrote; `tufd-repo keys replace timestamp` rotates the root and
/// `tufd-repo add` publishes 2.1. Then tufd, started on that install with the tufup client's
/// root and `--tufup-cache`, reaches 2.1 through the 2.1 patch alone. Without `--tufup-cache`
/// the same install costs the full archive: tufup installed without purging, so the folder
/// still holds 1.0's `lib/old.txt` and does not rebuild to the signed 2.0 tar.
#[test]
fn tufd_takes_over_a_tufup_install_on_a_repository_imported_by_tufd_repo() {
    let Some((python, work)) = tufup::start("tufd-takeover-import-") else {
        return;
    };
    let out = tufup::run_script(&python, PUBLISH_1X, [work.path()]);
    assert!(out.stdout.contains("published"), "{out}");
    let repo = Repo::open(work.path());
    let repository = repo.repository();
    let nginx = Nginx::start(&repository);
    let bundle = |version: &str| work.path().join("bundles").join(version);

    // The tufup install at 1.0: the bundle, the shipped root, the 1.0 archive in its cache.
    let tufup_client = TufupInstall::new(
        &repository,
        "1.root.json",
        "1.0",
        &bundle("1.0"),
        work.path().join("tufup-client"),
        work.path().join("install"),
    );
    let (folder, install) = (&tufup_client.folder, &tufup_client.install);
    let tufup_update = |current: &str| {
        tufup_client
            .update(&python, &nginx, current, Installer::Overwrite)
            .assert_updated()
    };
    let update = tufup_update("1.0");
    assert_eq!(update.new.as_deref(), Some("1.1"));
    assert_eq!(update.fetched, ["demo-1.1.patch"], "tufup 1.0 -> 1.1");

    // The import, and the release that ships tufd.
    repo.run(&["import-tufup"]).assert_success();
    repo.add(&bundle("2.0"), "2.0", &[]);
    let update = tufup_update("1.1");
    assert_eq!(update.new.as_deref(), Some("2.0"));
    assert_eq!(update.fetched, ["demo-2.0.patch"], "tufup 1.1 -> 2.0");
    assert!(install.join("lib/old.txt").is_file(), "tufup purged");
    assert_eq!(
        tufup::metadata_version(&folder.join("metadata/root.json")),
        1
    );

    // From here tufd-repo alone: a root rotation, then 2.1.
    repo.run(&["keys", "replace", "timestamp"]).assert_success();
    repo.add(&bundle("2.1"), "2.1", &[]);
    assert_eq!(
        tufup::metadata_version(&repository.join("metadata/root.json")),
        2
    );

    let client = tufup::tufd_client(
        &nginx,
        folder.join("metadata/root.json"),
        "2.0",
        install.clone(),
        work.path().join("data"),
    );

    // Without --tufup-cache (a copy of the install): the install folder does not rebuild to the
    // signed 2.0 tar, so the full archive.
    let mut without = client.clone();
    without.install_dir = work.path().join("install-without");
    without.data_dir = work.path().join("data-without");
    copy_tree(install, &without.install_dir);
    let before = nginx.access_log().len();
    without.update().assert_success();
    assert_eq!(
        nginx.targets_fetched_since(before),
        ["demo-2.1.tar.gz"],
        "without --tufup-cache"
    );
    assert_same_tree(&bundle("2.1"), &without.install_dir);

    // With it: the 2.1 patch on tufup's re-gzipped 2.0 archive.
    let mut with = client;
    with.extra = vec![
        "--tufup-cache".to_owned(),
        folder.join("targets").display().to_string(),
    ];
    let before = nginx.access_log().len();
    with.update().assert_success();
    assert_eq!(
        nginx.targets_fetched_since(before),
        ["demo-2.1.patch"],
        "with --tufup-cache"
    );
    assert_same_tree(&bundle("2.1"), install);
    assert_eq!(
        tufup::metadata_version(&with.data_dir.join("metadata/root.json")),
        2
    );
    println!(
        "tufup takeover on an imported repository: 2.0 -> 2.1 by {} B of patch instead of {} B",
        repo.target_len("demo-2.1.patch"),
        repo.target_len("demo-2.1.tar.gz")
    );
}
