//! An install folder that no longer rebuilds to its signed tar (the app wrote a file into it,
//! e.g. `__pycache__/`) cannot be a patch base. tufd must find that out before it fetches any
//! patch and go straight to the full archive (found by the Python example app: the patches
//! were downloaded, then thrown away).

use tufd_tests::support::bundle::SMALL_BLOB_BYTES;
use tufd_tests::support::fixture::{Fixture, Release};
use tufd_tests::support::nginx::Nginx;
use tufd_tests::support::tree::assert_same_tree;

#[test]
fn a_changed_install_folder_fetches_the_archive_and_no_patch() {
    let fx = Fixture::publish(
        &[Release::plain("1.0"), Release::plain("2.0")],
        SMALL_BLOB_BYTES,
    );
    let nginx = Nginx::start(&fx.repo.repository());
    let client = fx.install("client", "1.0", &nginx.metadata_url(), &nginx.targets_url());
    std::fs::create_dir_all(client.install_dir.join("__pycache__")).unwrap();
    std::fs::write(
        client.install_dir.join("__pycache__/app.pyc"),
        b"not in the bundle",
    )
    .unwrap();

    let before = nginx.access_log().len();
    client.update().assert_success();
    assert_same_tree(&fx.bundle("2.0"), &client.install_dir);

    let log = nginx.access_log();
    let targets: Vec<_> = log[before..]
        .iter()
        .filter(|e| e.is_target() && e.method == "GET")
        .collect();
    assert!(
        targets.iter().all(|e| !e.path.ends_with(".patch")),
        "a patch was fetched although the base cannot be rebuilt: {targets:#?}"
    );
    assert!(
        targets.iter().any(|e| e.path.ends_with("demo-2.0.tar.gz")),
        "the archive was not fetched: {targets:#?}"
    );
}
