//! Network failures a user must be able to tell apart (`unreachable`, `timed-out`,
//! `server-error`), and a dripping server that no idle timeout stops (slow retrieval): the
//! overall deadline (`--network-timeout`, plus one second per 16 KiB of a signed length) ends
//! it. The app is untouched every time.

use std::time::{Duration, Instant};

use tufd_tests::support::bundle::SMALL_BLOB_BYTES;
use tufd_tests::support::daemon::Client;
use tufd_tests::support::fixture::{Fixture, Release};
use tufd_tests::support::tree::assert_same_tree;

use super::assert_refused;
use super::hostile_server::{Fault, HostileServer};

fn two_releases() -> Fixture {
    Fixture::publish(
        &[Release::plain("1.0"), Release::plain("2.0")],
        SMALL_BLOB_BYTES,
    )
}

/// Two releases behind a server that drips the files whose path contains `path`, and a 1.0
/// client with a 2 s network timeout.
fn dripping(path: &str) -> (Fixture, HostileServer, Client) {
    let fx = two_releases();
    let server = HostileServer::start(&fx.repo.repository(), &[(path, Fault::Drip)]);
    let mut client = fx.install(
        "client",
        "1.0",
        &server.metadata_url(),
        &server.targets_url(),
    );
    client.extra = vec!["--network-timeout".into(), "2".into()];
    (fx, server, client)
}

#[test]
fn a_dripping_timestamp_is_given_up_at_the_deadline_as_timed_out() {
    let (fx, _server, client) = dripping("timestamp.json");
    let started = Instant::now();
    let out = client.check();
    let elapsed = started.elapsed();
    assert_refused(&out, "timed-out");
    // 2 s plus 1 s per 16 KiB of the 16 KiB maximum timestamp length: about 3 s, never the
    // minutes a byte-every-second body would take.
    assert!(
        elapsed < Duration::from_secs(15),
        "gave up after {elapsed:?}"
    );
    assert_same_tree(&fx.bundle("1.0"), &client.install_dir);
}

#[test]
fn a_dripping_patch_download_times_out_and_leaves_the_app_untouched() {
    let (fx, server, client) = dripping(".patch");
    let started = Instant::now();
    let out = client.update();
    assert_refused(&out, "timed-out");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "gave up after {:?}",
        started.elapsed()
    );
    assert_same_tree(&fx.bundle("1.0"), &client.install_dir);
    assert!(
        server.requests().iter().any(|p| p.ends_with(".patch")),
        "the patch was requested: {:?}",
        server.requests()
    );
}

#[test]
fn an_unreachable_repository_and_a_failing_server_have_their_own_kinds() {
    let fx = two_releases();
    // A port nothing listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let closed = format!("http://127.0.0.1:{port}");
    let client = fx.install(
        "unreachable",
        "1.0",
        &format!("{closed}/metadata/"),
        &format!("{closed}/targets/"),
    );
    assert_refused(&client.check(), "unreachable");

    let server = HostileServer::start(
        &fx.repo.repository(),
        &[("timestamp.json", Fault::ServerError)],
    );
    let client = fx.install(
        "failing",
        "1.0",
        &server.metadata_url(),
        &server.targets_url(),
    );
    assert_refused(&client.check(), "server-error");
    assert_same_tree(&fx.bundle("1.0"), &client.install_dir);
}
