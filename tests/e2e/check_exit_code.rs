//! `tufd check --exit-code` (as `git diff --exit-code` and `dnf check-update`): exit status 100
//! when an update is available, 0 when up to date, against a real `file://` repository made by
//! `tufd-repo`. Failures (exit 1, the JSON error object of `--json`) are tested in the daemon's
//! own tests (`daemon/tests/exit_status.rs`).

use tufd_tests::support::daemon::DAEMON_TIMEOUT;
use tufd_tests::support::file_url;
use tufd_tests::support::fixture::{Fixture, Release};
use tufd_tests::support::process::run;

const BLOB_BYTES: usize = 64 * 1024;

#[test]
fn check_exit_code_is_100_with_an_update_and_0_without() {
    let fx = Fixture::publish(&[Release::plain("1.0"), Release::plain("2.0")], BLOB_BYTES);
    let metadata = file_url(&fx.repo.metadata_dir());
    let targets = file_url(&fx.repo.targets_dir());

    let old = fx.install("old", "1.0", &metadata, &targets);
    let out = run(&mut old.command(&["check", "--exit-code"]), DAEMON_TIMEOUT);
    assert_eq!(out.code(), Some(100), "{out}");
    let out = run(
        &mut old.command(&["check", "--json", "--exit-code"]),
        DAEMON_TIMEOUT,
    );
    assert_eq!(out.code(), Some(100), "{out}");
    let report: serde_json::Value = serde_json::from_str(out.stdout.trim()).expect("json");
    assert_eq!(report["update_available"], true, "{report}");
    // Without the flag, an available update is a success.
    assert_eq!(old.check().code(), Some(0));

    let new = fx.install("new", "2.0", &metadata, &targets);
    let out = run(&mut new.command(&["check", "--exit-code"]), DAEMON_TIMEOUT);
    assert_eq!(out.code(), Some(0), "{out}");
}
