//! A patch on the server that is corrupted after publishing (same length, other bytes), or
//! deleted (404): the daemon falls back to the full archive in the same run, and the install is
//! correct.

use tufd_tests::support::bundle::SMALL_BLOB_BYTES;
use tufd_tests::support::fixture::{Fixture, Release};
use tufd_tests::support::nginx::Nginx;
use tufd_tests::support::tree::assert_same_tree;

/// 1.0 and 2.0 published, and the files of the 2.0 patch (one per consistent-snapshot name).
fn published_with_patch() -> (Fixture, Vec<std::path::PathBuf>) {
    let fx = Fixture::publish(
        &[Release::plain("1.0"), Release::plain("2.0")],
        SMALL_BLOB_BYTES,
    );
    let files = fx.repo.target_files("demo-2.0.patch");
    assert!(!files.is_empty(), "no patch published");
    (fx, files)
}

#[test]
fn corrupted_patch_is_rejected_and_the_full_archive_is_installed() {
    let (fx, files) = published_with_patch();
    for file in &files {
        let mut bytes = std::fs::read(file).expect("read patch");
        let len = bytes.len();
        for byte in &mut bytes {
            *byte ^= 0xa5;
        }
        std::fs::write(file, &bytes).expect("corrupt patch");
        assert_eq!(std::fs::metadata(file).expect("patch").len(), len as u64);
    }
    let archive_len = fx.repo.target_len("demo-2.0.tar.gz");
    let nginx = Nginx::start(&fx.repo.repository());
    let client = fx.install("client", "1.0", &nginx.metadata_url(), &nginx.targets_url());

    let out = client.update();
    out.assert_success();
    assert_same_tree(&fx.bundle("2.0"), &client.install_dir);
    assert_eq!(crate::app_version(&client.install_dir), "2.0");

    let log = nginx.access_log();
    let targets: Vec<_> = log
        .iter()
        .filter(|e| e.is_target() && e.method == "GET")
        .collect();
    let first_patch = targets
        .iter()
        .position(|e| e.path.ends_with("demo-2.0.patch"));
    let first_archive = targets
        .iter()
        .position(|e| e.path.ends_with("demo-2.0.tar.gz"));
    let (Some(patch_at), Some(archive_at)) = (first_patch, first_archive) else {
        panic!("expected the patch, then the archive: {targets:#?}\n{out}");
    };
    assert!(
        patch_at < archive_at,
        "archive fetched before the patch was tried: {targets:#?}"
    );
    let archive_bytes: u64 = targets
        .iter()
        .filter(|e| e.path.ends_with("demo-2.0.tar.gz"))
        .map(|e| e.body_bytes)
        .sum();
    assert_eq!(
        archive_bytes, archive_len,
        "the archive is fetched once, in full: {targets:#?}"
    );
}

/// tufup#71: a patch the metadata lists but the server no longer serves (a cleanup script
/// deleted it) must not block updates forever.
#[test]
fn a_patch_the_server_does_not_serve_falls_back_to_the_full_archive() {
    let (fx, files) = published_with_patch();
    for file in &files {
        std::fs::remove_file(file).expect("delete patch");
    }
    let nginx = Nginx::start(&fx.repo.repository());
    let client = fx.install("client", "1.0", &nginx.metadata_url(), &nginx.targets_url());
    assert!(
        client.check_json()["plan"]["patches"].is_array(),
        "the plan still names the patch"
    );

    let out = client.update();
    out.assert_success();
    assert_same_tree(&fx.bundle("2.0"), &client.install_dir);
    // The changed plan is said on stdout (the `plan-changed` notification), not only logged:
    // the archive named, after the announced patch.
    assert!(
        out.stdout.contains("demo-2.0.patch") && out.stdout.contains("demo-2.0.tar.gz"),
        "stdout names the patch announced and the archive fetched instead: {out}"
    );

    let log = nginx.access_log();
    let patch = log
        .iter()
        .find(|e| e.is_target() && e.path.ends_with("demo-2.0.patch"))
        .unwrap_or_else(|| panic!("the patch was not tried: {log:#?}"));
    assert_eq!(patch.status, 404, "{patch:?}");
    assert!(
        log.iter()
            .any(|e| e.is_target() && e.path.ends_with("demo-2.0.tar.gz") && e.status == 200),
        "the archive was not fetched: {log:#?}"
    );
}
