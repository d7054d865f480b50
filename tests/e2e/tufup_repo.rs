//! tufd updates an app published with real tufup 0.10 (the updater tufd succeeds), served by
//! nginx: releases 1.0, 1.1, a required 2.0, a root key rotation, 2.1rc1 and 2.1, with the
//! archives and bsdiff4 patches tufup's own repository tool makes. Its root carries legacy
//! securesystemslib key ids (not the sha256 of the key as written), which the TUF specification
//! treats as opaque and tufd's TUF client accepts; the app ships `1.root.json` and tufd walks the
//! rotation to `2.root.json`.
//!
//! The story, for an install at 1.0 (a copy of the 1.0 bundle) with an empty data folder:
//! 1. `tufd check --json` offers the required 2.0, on `stable` and on `rc`, as the full archive:
//!    tufup signs no tar digest for an archive (its custom is only `{"required": …}`), and the
//!    one it signs for a patch is that of the patch's *result*, so nothing vouches for a 1.0 tar
//!    rebuilt from the install folder (tufup's own client also goes full with an empty cache);
//! 2. `tufd update --yes` installs a tree equal to the 2.0 bundle;
//! 3. the next `tufd update --yes` (stable) reaches 2.1 through the 2.1rc1 and 2.1 patches
//!    applied to the 2.0 tar kept from step 2, as tufup's client does (its stable channel skips
//!    the 2.1rc1 *archive* but applies every patch up to 2.1); nginx's access log shows the two
//!    patches and no archive.
//!
//! tufup comes from a Python venv (`tufd_tests::support::tufup`); without one the test is
//! skipped with a message, unless `TUFD_REQUIRE_TUFUP=1` makes that a failure.

use std::path::Path;

use tufd_tests::support::copy_tree;
use tufd_tests::support::daemon::{Client, VersionSource};
use tufd_tests::support::nginx::Nginx;
use tufd_tests::support::repo::Repo;
use tufd_tests::support::tree::{assert_same_tree, sha256_hex};
use tufd_tests::support::tufup;

/// Publishes releases 1.0, 1.1, 2.0 (required), a root key rotation, 2.1rc1 and 2.1 of app
/// `demo` with tufup's `Repository` into `<work>/repository` (bundles in `<work>/bundles/<v>`),
/// checks that root 2 is the rotation (another root key, signed by the old and the new one) and
/// that every key id differs from the sha256 of the key's canonical JSON (so the repository
/// really exercises legacy key ids), and prints `legacy`.
///
/// The bundles are `tufup::PRELUDE`'s (archives ~260 KB, patches a few hundred bytes, well under
/// tufup's and tufd's 0.8 patch/archive ratio).
const PUBLISH: &str = r##"
import hashlib, json, os, pathlib, random, sys
from securesystemslib.formats import encode_canonical
from tufup.repo import Repository

work = pathlib.Path(sys.argv[1])
os.chdir(work)  # tufup keeps its config file in the working directory
keystore = work / "keystore"
repo = Repository(app_name="demo", repo_dir=work / "repository", keys_dir=keystore)
repo.initialize()
blob = random.Random(14).randbytes(256 * 1024)

def release(version, required=False):
    bundle = write_bundle(work / "bundles" / version, version, blob)
    repo.add_bundle(new_bundle_dir=bundle, new_version=version, required=required)
    repo.publish_changes(private_key_dirs=[keystore])

release("1.0")
release("1.1")
release("2.0", required=True)
# Root key rotation: root 2 names a new root key and is signed by the old and the new one.
rotate_key(repo, keystore, "root", "root2")
release("2.1rc1")
release("2.1")

metadata = work / "repository" / "metadata"
roots = [json.loads((metadata / f"{v}.root.json").read_text()) for v in (1, 2)]
assert not (metadata / "3.root.json").exists()
old, new = (r["signed"]["roles"]["root"]["keyids"] for r in roots)
assert set(old).isdisjoint(new), (old, new)
assert {s["keyid"] for s in roots[1]["signatures"]} == set(old) | set(new), roots[1]["signatures"]
for key_id, key in roots[1]["signed"]["keys"].items():
    fields = {name: key[name] for name in ("keytype", "scheme", "keyval")}
    computed = hashlib.sha256(encode_canonical(fields).encode()).hexdigest()
    assert computed != key_id, f"key id {key_id} is the sha256 of the key"
print("legacy")
"##;

/// The signed `custom` of target `name` in the published `targets.json`.
fn custom(repository: &Path, name: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(repository.join("metadata/targets.json")).expect("targets");
    let targets: serde_json::Value = serde_json::from_str(&text).expect("targets.json is JSON");
    targets["signed"]["targets"][name]["custom"].clone()
}

/// The data folder's cached tar of `version` is the one tufup signed in `demo-<version>.patch`.
#[track_caller]
fn assert_cached_tar(client: &Client, repository: &Path, version: &str) {
    let signed = custom(repository, &format!("demo-{version}.patch"))["tufup"].clone();
    let tar = std::fs::read(client.data_dir.join(format!("cache/demo-{version}.tar")))
        .unwrap_or_else(|e| panic!("no cached {version} tar: {e}"));
    assert_eq!(signed["tar_size"], tar.len(), "{version}: {signed}");
    assert_eq!(signed["tar_hash"], sha256_hex(&tar), "{version}: {signed}");
}

#[test]
fn a_tufup_repository_updates_an_install_from_1_0_to_2_0_in_full_then_to_2_1_by_patches() {
    let Some((python, work)) = tufup::start("tufd-tufup-") else {
        return;
    };
    let out = tufup::run_script(&python, PUBLISH, [work.path()]);
    assert!(out.stdout.contains("legacy"), "{out}");
    let repo = Repo::open(work.path());
    let repository = repo.repository();
    let bundle = |version: &str| work.path().join("bundles").join(version);

    // What tufup signs: an archive's custom is only `required`; a patch's carries the size and
    // sha256 of the uncompressed tar it produces. No signed digest of the 1.0 tar exists.
    assert_eq!(
        custom(&repository, "demo-1.0.tar.gz"),
        serde_json::json!({"user": null, "tufup": {"required": false}})
    );
    assert_eq!(
        custom(&repository, "demo-2.0.tar.gz")["tufup"],
        serde_json::json!({"required": true})
    );
    for patch in [
        "demo-1.1.patch",
        "demo-2.0.patch",
        "demo-2.1rc1.patch",
        "demo-2.1.patch",
    ] {
        let internal = custom(&repository, patch)["tufup"].clone();
        assert_eq!(
            internal["tar_hash_algorithm"], "sha256",
            "{patch}: {internal}"
        );
        assert!(internal["tar_hash"].is_string(), "{patch}: {internal}");
    }

    let nginx = Nginx::start(&repository);
    let install = work.path().join("install");
    copy_tree(&bundle("1.0"), &install);
    let mut client = tufup::tufd_client(
        &nginx,
        repository.join("metadata/1.root.json"),
        "1.0",
        install.clone(),
        work.path().join("data"),
    );
    let on_channel = |client: &Client, channel: &str| {
        let mut client = client.clone();
        client.extra = vec!["--channel".to_owned(), channel.to_owned()];
        client
    };

    // 1. The required 2.0 stops the way to 2.1rc1 and 2.1 on both channels; with an empty data
    //    folder there is no base tar and nothing signed to rebuild one against: the full archive.
    for channel in ["stable", "rc"] {
        let report = on_channel(&client, channel).check_json();
        assert_eq!(report["current"], "1.0", "{channel}: {report}");
        assert_eq!(report["update_available"], true, "{channel}: {report}");
        assert_eq!(report["latest"], "2.0", "{channel}: {report}");
        assert_eq!(
            report["plan"]["full"], "demo-2.0.tar.gz",
            "{channel}: {report}"
        );
        let reason = report["plan"]["reason"].as_str().unwrap_or_default();
        assert!(
            reason.contains("no signed tar digest"),
            "{channel}: {report}"
        );
        assert_eq!(
            report["plan"]["bytes"],
            repo.target_len("demo-2.0.tar.gz"),
            "{channel}: {report}"
        );
    }
    // The verified metadata was kept as the exact bytes tufup wrote, root 2 (the rotation)
    // included.
    for role in ["root", "timestamp", "snapshot", "targets"] {
        assert_eq!(
            std::fs::read(client.data_dir.join(format!("metadata/{role}.json"))).expect("kept"),
            std::fs::read(repository.join(format!("metadata/{role}.json"))).expect("published"),
            "{role}.json"
        );
    }
    assert_eq!(
        tufup::metadata_version(&client.data_dir.join("metadata/root.json")),
        2,
        "the rotated root is trusted"
    );

    // 2. The full 2.0 archive installs a tree equal to the 2.0 bundle. tufup's tar (Python's
    //    tarfile, PAX) has a `./` entry for the bundle folder itself and, per entry, the mode
    //    read from the bundle, owner root/root (uid, gid and names) and the mtime; what matters
    //    is compared (kinds, contents, permission bits, link targets), not owner or mtime, nor
    //    the install folder's own mode. The modes are the bundle's whatever the umask (checked
    //    under 002 and 077): both sides come from the same files.
    let before = nginx.access_log().len();
    let out = client.update();
    out.assert_success();
    assert_same_tree(&bundle("2.0"), &install);
    assert_eq!(
        nginx.targets_fetched_since(before),
        ["demo-2.0.tar.gz"],
        "step 2 target requests"
    );
    // The uncompressed 2.0 tar is kept as the next base: byte for byte tufup's, the tar whose
    // size and sha256 tufup signed in demo-2.0.patch's custom.
    assert_cached_tar(&client, &repository, "2.0");
    let full_secs = out.elapsed.as_secs_f64();

    // 3. At 2.0, both channels plan 2.1 through the 2.1rc1 and 2.1 patches on the kept 2.0 tar
    //    (stable does not offer the 2.1rc1 release, but its patch is a link of the chain).
    client.version = VersionSource::Flag("2.0".to_owned());
    let patches = ["demo-2.1rc1.patch", "demo-2.1.patch"];
    let patch_bytes: u64 = patches.iter().map(|p| repo.target_len(p)).sum();
    for channel in ["stable", "rc"] {
        let report = on_channel(&client, channel).check_json();
        assert_eq!(report["latest"], "2.1", "{channel}: {report}");
        assert_eq!(
            report["plan"]["patches"],
            serde_json::json!(patches),
            "{channel}: {report}"
        );
        assert_eq!(report["plan"]["bytes"], patch_bytes, "{channel}: {report}");
    }
    let before = nginx.access_log().len();
    let out = client.update();
    out.assert_success();
    assert_same_tree(&bundle("2.1"), &install);
    let requests = &nginx.access_log()[before..];
    let targets: Vec<_> = requests
        .iter()
        .filter(|e| e.is_target() && e.method == "GET")
        .collect();
    assert!(
        targets.iter().all(|e| !e.path.contains(".tar.")),
        "an archive was requested: {targets:#?}"
    );
    for name in patches {
        assert!(
            targets
                .iter()
                .any(|e| e.file_name() == name && e.status == 200),
            "{name} never fetched: {targets:#?}"
        );
    }
    let target_bytes: u64 = targets.iter().map(|e| e.body_bytes).sum();
    assert_eq!(target_bytes, patch_bytes, "{targets:#?}");
    assert_cached_tar(&client, &repository, "2.1");

    client.version = VersionSource::Flag("2.1".to_owned());
    let report = client.check_json();
    assert_eq!(report["update_available"], false, "{report}");
    println!(
        "tufup repository: 1.0 -> 2.0 full ({} B) in {full_secs:.2} s, 2.0 -> 2.1 by {target_bytes} B of patches in {:.2} s",
        repo.target_len("demo-2.0.tar.gz"),
        out.elapsed.as_secs_f64()
    );
}
