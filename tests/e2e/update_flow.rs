//! The main update flow: an app installed by copying its v1 bundle, with an empty tufd data folder,
//! goes to v3 through two patches over nginx. The base tar of v1 must be rebuilt from the install
//! folder (nothing is cached), the installed tree must equal the v3 bundle, and the bytes nginx
//! sent for targets must be exactly the two patches — no archive.

use tufd_tests::support::bundle::SMALL_BLOB_BYTES;
use tufd_tests::support::daemon::VersionSource;
use tufd_tests::support::fixture::{Fixture, Release};
use tufd_tests::support::nginx::Nginx;
use tufd_tests::support::tree::assert_same_tree;

#[test]
fn copied_v1_with_empty_data_folder_updates_to_v3_through_two_patches() {
    let fx = Fixture::publish(
        &[
            Release::plain("1.0"),
            Release::plain("2.0"),
            Release::plain("3.0"),
        ],
        SMALL_BLOB_BYTES,
    );
    let nginx = Nginx::start(&fx.repo.repository());
    let client = fx.install("client", "1.0", &nginx.metadata_url(), &nginx.targets_url());
    assert_eq!(crate::app_version(&client.install_dir), "1.0");
    let patch_bytes = fx.repo.target_len("demo-2.0.patch") + fx.repo.target_len("demo-3.0.patch");
    let archive_bytes = fx.repo.target_len("demo-3.0.tar.gz");
    assert!(
        patch_bytes < archive_bytes,
        "patches {patch_bytes} B not smaller than archive {archive_bytes} B"
    );

    // `tufd check --json` announces the two-patch plan.
    let check = client.check_json();
    assert_eq!(check["current"], "1.0", "{check}");
    assert_eq!(check["latest"], "3.0", "{check}");
    assert_eq!(check["update_available"], true, "{check}");
    assert_eq!(
        check["plan"]["patches"],
        serde_json::json!(["demo-2.0.patch", "demo-3.0.patch"]),
        "{check}"
    );
    assert_eq!(
        check["plan"]["bytes"], patch_bytes,
        "plan bytes = the two patch lengths: {check}"
    );

    // `tufd update --yes` applies them.
    let before = nginx.access_log().len();
    let out = client.update();
    out.assert_success();
    assert_same_tree(&fx.bundle("3.0"), &client.install_dir);
    assert_eq!(crate::app_version(&client.install_dir), "3.0");
    // The previous version is kept as a backup (docs/protocol.md, "Requests", `install`).
    assert_same_tree(&fx.bundle("1.0"), &client.data_dir.join("backup/demo-1.0"));

    // What went over the wire: exactly the two patches, each fetched once in full.
    let log = nginx.access_log();
    let requests = &log[before..];
    let targets: Vec<_> = requests
        .iter()
        .filter(|e| e.is_target() && e.method == "GET")
        .collect();
    let metadata: Vec<_> = requests.iter().filter(|e| e.is_metadata()).collect();
    assert!(
        targets.iter().all(|e| !e.path.contains(".tar.")),
        "an archive was requested: {targets:#?}"
    );
    assert!(
        targets.iter().all(|e| e.status == 200 || e.status == 206),
        "{targets:#?}"
    );
    for name in ["demo-2.0.patch", "demo-3.0.patch"] {
        assert!(
            targets.iter().any(|e| e.path.ends_with(name)),
            "{name} never requested: {targets:#?}"
        );
    }
    let target_bytes: u64 = targets.iter().map(|e| e.body_bytes).sum();
    let metadata_bytes: u64 = metadata.iter().map(|e| e.body_bytes).sum();
    assert_eq!(
        target_bytes, patch_bytes,
        "target bytes sent by nginx: {targets:#?}"
    );
    println!(
        "v1 -> v3: {target_bytes} B of patches in {} target requests + {metadata_bytes} B of metadata in {} requests (full archive would be {archive_bytes} B); update took {:.2} s",
        targets.len(),
        metadata.len(),
        out.elapsed.as_secs_f64()
    );

    // A second check says the app is up to date.
    let again = client.clone().with_current("3.0").check_json();
    assert_eq!(again["update_available"], false, "{again}");
    assert!(again["plan"].is_null(), "{again}");
}

#[test]
fn version_file_client_updates_and_then_reads_the_new_version() {
    let fx = Fixture::publish(
        &[Release::plain("1.0"), Release::plain("2.0")],
        SMALL_BLOB_BYTES,
    );
    let nginx = Nginx::start(&fx.repo.repository());
    let mut client = fx.install("client", "1.0", &nginx.metadata_url(), &nginx.targets_url());
    client.version = VersionSource::File("VERSION".to_owned());

    let check = client.check_json();
    assert_eq!(check["current"], "1.0", "{check}");
    assert_eq!(
        check["plan"]["patches"],
        serde_json::json!(["demo-2.0.patch"]),
        "{check}"
    );
    client.update().assert_success();
    assert_same_tree(&fx.bundle("2.0"), &client.install_dir);

    // Same flags, no version given: the VERSION file of the new install says 2.0.
    let again = client.check_json();
    assert_eq!(again["current"], "2.0", "{again}");
    assert_eq!(again["update_available"], false, "{again}");
    let out = client.update();
    out.assert_success();
    assert_same_tree(&fx.bundle("2.0"), &client.install_dir);
}
