//! Resumed downloads (docs/architecture.md, "One update, step by step", step 6): the daemon is
//! killed with SIGKILL half-way through a large target; restarted, it asks nginx only for the
//! remainder (a `Range` request starting past 0) and the update completes with the right tree.
//!
//! v2 is published with `--skip-patch`, so the only way from v1 to v2 is the full ~24 MiB
//! archive; nginx serves it at 2 MiB/s (`limit_rate`) so "half-way" is reachable.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tufd_tests::support::bundle::LARGE_BLOB_BYTES;
use tufd_tests::support::fixture::{Fixture, Release};
use tufd_tests::support::nginx::{Nginx, NginxOptions};
use tufd_tests::support::process::ChildGuard;
use tufd_tests::support::tree::assert_same_tree;
use tufd_tests::support::wait_for;

/// The `.part` file in `<data>/downloads/` and its length, if there is one.
fn part_file(data_dir: &Path) -> Option<(PathBuf, u64)> {
    let entries = std::fs::read_dir(data_dir.join("downloads")).ok()?;
    entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "part"))
        .find_map(|p| std::fs::metadata(&p).ok().map(|m| (p, m.len())))
}

#[test]
fn download_killed_half_way_resumes_with_a_range_request() {
    let fx = Fixture::publish(
        &[
            Release::plain("1.0"),
            Release {
                version: "2.0",
                flags: &["--skip-patch"],
            },
        ],
        LARGE_BLOB_BYTES,
    );
    assert!(
        fx.repo.target_files("demo-2.0.patch").is_empty(),
        "--skip-patch published a patch"
    );
    let archive = "demo-2.0.tar.gz";
    let archive_len = fx.repo.target_len(archive);
    assert!(archive_len >= 20 << 20, "archive only {archive_len} B");
    let nginx = Nginx::start_with(
        &fx.repo.repository(),
        &NginxOptions {
            limit_rate: Some("2m".to_owned()),
        },
    );
    let client = fx.install("client", "1.0", &nginx.metadata_url(), &nginx.targets_url());

    // First run: killed once the .part file holds half the archive.
    let log_path = fx.root().join("first-run.log");
    let child = client
        .command(&["update", "--yes"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(File::create(&log_path).expect("log file"))
        .spawn()
        .expect("start tufd update");
    let mut first = ChildGuard::new(child, "tufd update");
    let half = archive_len / 2;
    let reached = wait_for(Duration::from_secs(120), || {
        if first.try_status().is_some() {
            return Some(None);
        }
        part_file(&client.data_dir)
            .filter(|(_, len)| *len >= half)
            .map(Some)
    });
    let stderr = || std::fs::read_to_string(&log_path).unwrap_or_default();
    let Some(Some((part, _))) = reached else {
        panic!(
            "no .part file reached {half} B (daemon exited: {:?}); nginx log: {:#?}\nstderr:\n{}",
            first.try_status(),
            nginx.access_log(),
            stderr()
        );
    };
    first.kill();
    let killed_len = std::fs::metadata(&part)
        .expect("part file survives a kill")
        .len();
    assert!(
        killed_len < archive_len,
        "download finished before the kill"
    );
    // nginx logs the cut connection when its next write fails; give it a moment.
    std::thread::sleep(Duration::from_secs(2));
    let mark = nginx.access_log().len();
    assert_eq!(
        crate::app_version(&client.install_dir),
        "1.0",
        "killed daemon touched the app"
    );

    // Second run: resumes and finishes.
    let out = client.update();
    out.assert_success();
    assert_same_tree(&fx.bundle("2.0"), &client.install_dir);
    assert_eq!(crate::app_version(&client.install_dir), "2.0");

    let log = nginx.access_log();
    let resumed: Vec<_> = log[mark..]
        .iter()
        .filter(|e| e.method == "GET" && e.path.ends_with(archive))
        .collect();
    assert!(
        !resumed.is_empty(),
        "archive not requested after restart: {log:#?}"
    );
    let start = resumed[0].range_start().unwrap_or(0);
    assert!(
        start > 0 && start <= killed_len,
        "first request after restart starts at {start}, .part held {killed_len} B: {resumed:#?}"
    );
    let resumed_bytes: u64 = resumed.iter().map(|e| e.body_bytes).sum();
    assert_eq!(
        resumed_bytes,
        archive_len - start,
        "after restart nginx must send exactly the remainder: {resumed:#?}"
    );
    println!(
        "resume: killed at {killed_len} of {archive_len} B; restart asked from byte {start} and fetched {resumed_bytes} B in {} requests",
        resumed.len()
    );
}
