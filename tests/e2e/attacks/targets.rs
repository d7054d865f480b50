//! Target and transport attacks on a `tufd-repo` repository: bytes that differ from the signed
//! hash, a server that sends more than the signed length (endless data, for a target and for
//! `timestamp.json`), and a slow server that stalls a request (slow retrieval).

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;
use tufd_tests::support::bundle::SMALL_BLOB_BYTES;
use tufd_tests::support::file_url;
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

/// Every regular file under `dir` (recursively) with its length in bytes.
fn files_with_len(dir: &Path) -> Vec<(std::path::PathBuf, u64)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_with_len(&path));
        } else if let Ok(meta) = entry.metadata() {
            out.push((path, meta.len()));
        }
    }
    out
}

#[test]
fn target_bytes_that_differ_from_the_signed_hash_are_refused() {
    let fx = two_releases();
    // Same length, other bytes: both the patch and the archive of 2.0.
    for name in ["demo-2.0.patch", "demo-2.0.tar.gz"] {
        for file in fx.repo.target_files(name) {
            let mut bytes = std::fs::read(&file).expect("read target");
            for byte in &mut bytes {
                *byte ^= 0x5a;
            }
            std::fs::write(&file, &bytes).expect("corrupt target");
        }
    }
    let client = fx.install(
        "client",
        "1.0",
        &file_url(&fx.repo.metadata_dir()),
        &file_url(&fx.repo.targets_dir()),
    );
    let out = client.update();
    assert_refused(&out, "target-mismatch");
    assert_same_tree(&fx.bundle("1.0"), &client.install_dir);
    assert_eq!(crate::app_version(&client.install_dir), "1.0");
}

#[test]
fn endless_target_data_is_cut_at_the_signed_length() {
    let fx = two_releases();
    let server = HostileServer::start(&fx.repo.repository(), &[("/targets/", Fault::Endless)]);
    let client = fx.install(
        "client",
        "1.0",
        &server.metadata_url(),
        &server.targets_url(),
    );
    let longest = fx
        .repo
        .target_len("demo-2.0.tar.gz")
        .max(fx.repo.target_len("demo-2.0.patch"));
    let out = client.update();
    assert_refused(&out, "target-mismatch");
    assert_same_tree(&fx.bundle("1.0"), &client.install_dir);
    // Nothing past the signed length was kept on disk.
    for (path, len) in files_with_len(&client.data_dir.join("downloads")) {
        assert!(
            len <= longest,
            "{} holds {len} bytes, more than any signed length ({longest})",
            path.display()
        );
    }
    // The daemon hung up instead of reading the endless body (the bound is generous: socket
    // buffers take some megabytes beyond what the daemon read).
    assert!(
        server.endless_sent() < longest + (64 << 20),
        "the server wrote {} bytes into endless bodies",
        server.endless_sent()
    );
}

#[test]
fn endless_timestamp_is_refused_at_the_size_limit() {
    let fx = two_releases();
    let server = HostileServer::start(&fx.repo.repository(), &[("timestamp.json", Fault::Endless)]);
    let client = fx.install(
        "client",
        "1.0",
        &server.metadata_url(),
        &server.targets_url(),
    );
    let out = client.check();
    // The size limit has a kind of its own, not `network`.
    assert_refused(&out, "metadata-too-large");
    assert!(
        server.endless_sent() < 64 << 20,
        "the server wrote {} bytes of timestamp",
        server.endless_sent()
    );
    assert_same_tree(&fx.bundle("1.0"), &client.install_dir);
}

#[test]
fn a_stalled_request_is_given_up_and_the_sidecar_keeps_serving() {
    let fx = two_releases();
    let server = HostileServer::start(
        &fx.repo.repository(),
        &[("timestamp.json", Fault::StallFirst)],
    );
    let client = fx.install(
        "client",
        "1.0",
        &server.metadata_url(),
        &server.targets_url(),
    );
    let mut sc = client.spawn_sidecar(&["--poll-interval", "0"]);
    let started = Instant::now();
    let check = sc.request("check", None);
    // While the check waits on the stalled server, the sidecar still answers.
    std::thread::sleep(Duration::from_millis(500));
    let status = sc
        .call("status", None, Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("status during a stalled check: {e}\n{}", sc.report()));
    assert_eq!(status["current"], "1.0", "{status}");
    // The daemon's idle timeout (30 s) ends the stalled attempt; the retry succeeds.
    let response = sc.wait_response(&json!(check), Duration::from_secs(120));
    let elapsed = started.elapsed();
    assert_eq!(
        response["result"]["update_available"],
        true,
        "{response}\n{}",
        sc.report()
    );
    assert!(
        elapsed < Duration::from_secs(100),
        "the stalled request was not given up in time: {elapsed:?}"
    );
    let asked = server
        .requests()
        .iter()
        .filter(|p| p.ends_with("/timestamp.json"))
        .count();
    assert!(asked >= 2, "timestamp.json asked {asked} times");
    let status = sc
        .call("status", None, Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("status after the stall: {e}\n{}", sc.report()));
    assert_eq!(status["state"], "available", "{status}");
    sc.call("shutdown", None, Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("shutdown: {e}\n{}", sc.report()));
    assert_same_tree(&fx.bundle("1.0"), &client.install_dir);
}

#[test]
fn archives_beyond_the_entry_and_path_limits_are_refused_and_nothing_installed() {
    let fx = two_releases();
    let nginx = tufd_tests::support::nginx::Nginx::start(&fx.repo.repository());
    for limit in [
        ["--max-archive-entries", "3"],
        ["--max-archive-path-bytes", "8"],
    ] {
        let mut client = fx.install(
            &format!("client{}", limit[0]),
            "1.0",
            &nginx.metadata_url(),
            &nginx.targets_url(),
        );
        client.extra = limit.iter().map(|s| (*s).to_owned()).collect();
        let before = tufd_tests::support::tree::snapshot(&client.install_dir);
        assert_refused(&client.update(), "install-failed");
        assert_eq!(
            tufd_tests::support::tree::snapshot(&client.install_dir),
            before,
            "{limit:?}"
        );
        // Within the defaults the same update installs.
        client.extra.clear();
        client.update().assert_success();
        assert_same_tree(&fx.bundle("2.0"), &client.install_dir);
    }
}
