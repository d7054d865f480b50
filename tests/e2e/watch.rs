//! Watching (docs/protocol.md, "Background checks"): a release published into a watched `file://`
//! repository is installed without a poll. The sidecar runs with `--poll-interval 0` (never poll)
//! and `--auto-install`; only the file watcher on `metadata/timestamp.json` can notice
//! `tufd-repo add`.

use std::time::{Duration, Instant};

use tufd_tests::support::bundle::SMALL_BLOB_BYTES;
use tufd_tests::support::fixture::{Fixture, Release};
use tufd_tests::support::tree::assert_same_tree;
use tufd_tests::support::{file_url, wait_for};

#[test]
fn release_published_into_watched_file_repository_is_installed_without_polling() {
    let mut fx = Fixture::publish(&[Release::plain("1.0")], SMALL_BLOB_BYTES);
    let metadata_url = file_url(&fx.repo.metadata_dir());
    let targets_url = file_url(&fx.repo.targets_dir());
    let client = fx.install("client", "1.0", &metadata_url, &targets_url);
    fx.ensure_bundle("2.0");

    let mut sidecar = client.spawn_sidecar(&["--auto-install", "--poll-interval", "0"]);
    let status = sidecar.call("status", None, Duration::from_secs(30));
    let status = status.unwrap_or_else(|e| panic!("status failed: {e}\n{}", sidecar.report()));
    assert_eq!(status["current"], "1.0", "{status}");

    // Publish v2 into the watched folder; the clock starts when `add` has finished.
    fx.add(Release::plain("2.0"));
    let published = Instant::now();
    let version_file = client.install_dir.join("VERSION");
    let installed = wait_for(Duration::from_secs(15), || {
        (std::fs::read_to_string(&version_file).ok()? == "2.0\n").then_some(())
    });
    assert!(
        installed.is_some(),
        "v2 not installed 15 s after publishing\n{}",
        sidecar.report()
    );
    let latency = published.elapsed();
    let restart = sidecar.wait_notification("restart-required", Duration::from_secs(10), |p| {
        p["version"] == "2.0"
    });
    assert!(
        restart.is_some(),
        "no restart-required for 2.0\n{}",
        sidecar.report()
    );
    assert_same_tree(&fx.bundle("2.0"), &client.install_dir);
    assert_eq!(crate::app_version(&client.install_dir), "2.0");
    println!(
        "watch: v2 installed {:.2} s after publishing",
        latency.as_secs_f64()
    );

    sidecar.close_stdin();
    let exit = sidecar.wait_exit(Duration::from_secs(15));
    assert!(
        exit.is_some_and(|s| s.success()),
        "no clean exit on stdin EOF: {exit:?}\n{}",
        sidecar.report()
    );
}
