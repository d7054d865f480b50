//! Expired metadata: the server's timestamp expired (a freeze attack, or a publisher whose cron job
//! stopped re-signing; docs/operations.md, "Keep the metadata fresh: the cron job").
//! `tufd update --yes` must fail with the distinct `expired-metadata` error kind, exit 1, and leave
//! the app untouched.
//!
//! The expired timestamp is made by the publisher's own tool: `tufd-repo sign timestamp
//! --expires-in 1s` re-signs it with an expiry one second from now (a lifetime of 0 is refused),
//! and the test waits past it.

use std::time::Duration;

use tufd_tests::support::bundle::SMALL_BLOB_BYTES;
use tufd_tests::support::fixture::{Fixture, Release};
use tufd_tests::support::nginx::Nginx;
use tufd_tests::support::tree::assert_same_tree;

#[test]
fn expired_timestamp_fails_with_expired_metadata_and_leaves_the_app_untouched() {
    let fx = Fixture::publish(
        &[Release::plain("1.0"), Release::plain("2.0")],
        SMALL_BLOB_BYTES,
    );
    let nginx = Nginx::start(&fx.repo.repository());
    let client = fx.install("client", "1.0", &nginx.metadata_url(), &nginx.targets_url());
    // The client first trusts the fresh metadata, as a deployed app would.
    let check = client.check_json();
    assert_eq!(check["update_available"], true, "{check}");

    let resign = fx.repo.run(&["sign", "timestamp", "--expires-in", "1s"]);
    resign.assert_success();
    std::thread::sleep(Duration::from_millis(3100));
    let mark = nginx.access_log().len();

    let out = client.update();
    assert_eq!(out.code(), Some(1), "{out}");
    assert!(
        out.stderr.contains("expired-metadata"),
        "stderr must name the error kind: {out}"
    );
    assert_same_tree(&fx.bundle("1.0"), &client.install_dir);
    assert_eq!(crate::app_version(&client.install_dir), "1.0");
    let log = nginx.access_log();
    let targets: Vec<_> = log[mark..].iter().filter(|e| e.is_target()).collect();
    assert!(
        targets.is_empty(),
        "targets fetched despite expired metadata: {targets:#?}"
    );

    // The one-shot check reports the same kind.
    let check = client.check();
    assert_eq!(check.code(), Some(1), "{check}");
    assert!(check.stderr.contains("expired-metadata"), "{check}");
}
