//! Health check, rollback and cleanup beyond the crash test (docs/protocol.md, "Health check and
//! rollback"): the health check and automatic rollback (a v2 whose app fails its health command, a
//! v2 that is never confirmed), `rollback` on request (one-shot and sidecar), a pre-flight
//! refusal, and cleanup across ten consecutive updates.
//!
//! Every repository here is a `file://` folder and the bundles are small (64 KiB blob).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use serde_json::json;
use tufd_tests::support::bundle::app_script;
use tufd_tests::support::daemon::{Client, VersionSource};
use tufd_tests::support::file_url;
use tufd_tests::support::fixture::{Fixture, Release};
use tufd_tests::support::tree::assert_same_tree;

const BLOB_BYTES: usize = 64 * 1024;

/// A client of `fx` with v1 installed, reading its version from the installed `VERSION` file.
fn client(fx: &Fixture, name: &str, extra: &[&str]) -> Client {
    let repo = &fx.repo;
    let mut client = fx.install(
        name,
        "1.0",
        &file_url(&repo.metadata_dir()),
        &file_url(&repo.targets_dir()),
    );
    client.version = VersionSource::File("VERSION".into());
    client.extra = extra.iter().map(|s| (*s).to_owned()).collect();
    client
}

/// Publishes `version` with an app that answers `--version` but exits 3 for anything else (it
/// "crashes at start").
fn publish_broken(fx: &mut Fixture, version: &str) {
    let dir = fx.ensure_bundle(version);
    let script = app_script(version).replace(
        "echo \"demo-app",
        "echo \"demo-app is broken\" >&2\nexit 3\necho \"demo-app",
    );
    let app = dir.join("bin/demo-app");
    std::fs::write(&app, script).expect("write broken app");
    std::fs::set_permissions(&app, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    fx.add(Release::plain(version));
}

fn bad_versions(data_dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(data_dir.join("health.json")).unwrap_or_default();
    serde_json::from_str::<serde_json::Value>(&text).map_or(json!(null), |v| v["bad"].clone())
}

#[test]
fn failing_health_command_rolls_back_marks_the_version_bad_and_v3_installs() {
    let mut fx = Fixture::publish(&[Release::plain("1.0")], BLOB_BYTES);
    publish_broken(&mut fx, "2.0");
    let client = client(
        &fx,
        "client",
        &["--health-command", "bin/demo-app --self-test"],
    );

    let out = client.update();
    assert_eq!(out.code(), Some(1), "{out}");
    assert!(out.stderr.contains("error[rolled-back]"), "{out}");
    assert_same_tree(&fx.bundle("1.0"), &client.install_dir);
    assert_eq!(crate::app_version(&client.install_dir), "1.0");
    assert_eq!(bad_versions(&client.data_dir), json!(["2.0"]));

    // v2 is never offered again.
    let check = client.check_json();
    assert_eq!(check["update_available"], false, "{check}");

    // A newer release installs normally (by its full archive: the patch chain ran through v2).
    fx.add(Release::plain("3.0"));
    let check = client.check_json();
    assert_eq!(check["latest"], "3.0", "{check}");
    assert!(check["plan"]["full"].is_string(), "{check}");
    client.update().assert_success();
    assert_same_tree(&fx.bundle("3.0"), &client.install_dir);
    assert_eq!(crate::app_version(&client.install_dir), "3.0");
}

#[test]
fn unconfirmed_version_rolls_back_and_a_confirmed_one_stays() {
    let fx = Fixture::publish(&[Release::plain("1.0"), Release::plain("2.0")], BLOB_BYTES);
    let timeout = Duration::from_secs(30);

    // Never confirmed: rolled back after the 1 s health timeout.
    let lazy = client(
        &fx,
        "lazy",
        &["--health-timeout", "1", "--poll-interval", "0"],
    );
    let mut sidecar = lazy.spawn_sidecar(&[]);
    let installed = sidecar.call("install", None, timeout).expect("install");
    assert_eq!(installed["version"], "2.0", "{installed}");
    assert_same_tree(&fx.bundle("2.0"), &lazy.install_dir);
    let error = sidecar
        .wait_notification("error", Duration::from_secs(10), |p| {
            p["kind"] == "rolled-back"
        })
        .unwrap_or_else(|| panic!("no rolled-back notification: {}", sidecar.report()));
    assert!(
        error["message"].as_str().unwrap_or("").contains("confirm"),
        "{error}"
    );
    assert_same_tree(&fx.bundle("1.0"), &lazy.install_dir);
    let status = sidecar.call("status", None, timeout).expect("status");
    assert_eq!(status["current"], "1.0", "{status}");
    assert_eq!(status["state"], "rolled-back", "{status}");
    assert_eq!(bad_versions(&lazy.data_dir), json!(["2.0"]));
    drop(sidecar);

    // Confirmed in time: stays, and its backup is still there for a rollback on request.
    let keen = client(
        &fx,
        "keen",
        &["--health-timeout", "1", "--poll-interval", "0"],
    );
    let mut sidecar = keen.spawn_sidecar(&[]);
    sidecar.call("install", None, timeout).expect("install");
    let confirmed = sidecar.call("confirm", None, timeout).expect("confirm");
    assert_eq!(confirmed, json!({"confirmed": "2.0"}));
    std::thread::sleep(Duration::from_millis(1500));
    assert_same_tree(&fx.bundle("2.0"), &keen.install_dir);
    assert!(
        sidecar.notifications("error").is_empty(),
        "{}",
        sidecar.report()
    );
    let again = sidecar.call("confirm", None, timeout).expect("confirm");
    assert_eq!(again, json!({"confirmed": null}));
}

/// The Rust client (`tufd-client`) speaks `confirm` and `rollback`: an app that turns on
/// `--health-timeout` confirms its new version from Rust and keeps it, then rolls it back on
/// request.
#[test]
fn a_rust_app_confirms_its_new_version_under_a_health_timeout() {
    let fx = Fixture::publish(&[Release::plain("1.0"), Release::plain("2.0")], BLOB_BYTES);
    let app = client(&fx, "rust-app", &[]);
    let options = tufd_client::SidecarOptions::new(&app.app, "1.0")
        .program(tufd_tests::support::bins::tufd())
        .install_dir(&app.install_dir)
        .data_dir(&app.data_dir)
        .metadata_url(&app.metadata_url)
        .targets_url(&app.targets_url)
        .trusted_root(&app.trusted_root)
        .poll_interval(Duration::ZERO)
        .health_timeout(Duration::from_secs(1));
    let timeout = Duration::from_secs(30);
    let sidecar = tufd_client::Client::spawn(&options, |_| {}).expect("spawn tufd");
    let installed = sidecar.install(timeout).expect("install");
    assert_eq!(installed.version, "2.0");
    let confirmed = sidecar.confirm(timeout).expect("confirm");
    assert_eq!(confirmed.confirmed.as_deref(), Some("2.0"));
    // Past the health deadline: still 2.0, nothing rolled back.
    std::thread::sleep(Duration::from_millis(1500));
    assert_same_tree(&fx.bundle("2.0"), &app.install_dir);
    let status = sidecar.status(timeout).expect("status");
    assert_eq!(status.current, "2.0");
    assert_eq!(status.state, tufd_client::State::Done);
    assert_eq!(
        sidecar.confirm(timeout).expect("confirm again").confirmed,
        None
    );
    // Rollback on request, from Rust.
    let rolled = sidecar.rollback(timeout).expect("rollback");
    assert_eq!(rolled.version, "1.0");
    assert_same_tree(&fx.bundle("1.0"), &app.install_dir);
    sidecar.shutdown(timeout).expect("shutdown");
}

#[test]
fn rollback_restores_the_previous_version_while_its_backup_exists() {
    let fx = Fixture::publish(&[Release::plain("1.0"), Release::plain("2.0")], BLOB_BYTES);

    // One-shot.
    let one = client(&fx, "oneshot", &[]);
    one.update().assert_success();
    assert_same_tree(&fx.bundle("2.0"), &one.install_dir);
    let out =
        tufd_tests::support::process::run(&mut one.command(&["rollback"]), Duration::from_secs(60));
    out.assert_success();
    assert!(out.stdout.contains("rolled back from 2.0 to 1.0"), "{out}");
    assert_same_tree(&fx.bundle("1.0"), &one.install_dir);
    assert_eq!(crate::app_version(&one.install_dir), "1.0");
    // The backup was used up: a second rollback has nothing to restore.
    let again =
        tufd_tests::support::process::run(&mut one.command(&["rollback"]), Duration::from_secs(60));
    assert_eq!(again.code(), Some(1), "{again}");
    assert!(again.stderr.contains("error[no-backup]"), "{again}");
    assert_same_tree(&fx.bundle("1.0"), &one.install_dir);

    // Sidecar request.
    let side = client(&fx, "sidecar", &["--poll-interval", "0"]);
    side.update().assert_success();
    let mut sidecar = side.spawn_sidecar(&[]);
    let answer = sidecar
        .call("rollback", None, Duration::from_secs(30))
        .expect("rollback");
    assert_eq!(answer, json!({"version": "1.0", "rolled_back": true}));
    assert_same_tree(&fx.bundle("1.0"), &side.install_dir);
    let error = sidecar
        .call("rollback", None, Duration::from_secs(30))
        .expect_err("second rollback");
    assert_eq!(error["data"]["kind"], "no-backup", "{error}");
}

#[test]
fn preflight_refuses_an_unwritable_install_folder_before_downloading() {
    let fx = Fixture::publish(&[Release::plain("1.0"), Release::plain("2.0")], BLOB_BYTES);
    let mut client = client(&fx, "client", &[]);
    // `/proc` refuses new entries even to root: the swap could not rename the install folder.
    client.install_dir = format!("/proc/{}", std::process::id()).into();
    client.version = VersionSource::Flag("1.0".into());
    let out = client.update();
    assert_eq!(out.code(), Some(1), "{out}");
    assert!(
        out.stderr.contains("error[preflight-not-writable]"),
        "{out}"
    );
    let downloads = std::fs::read_dir(client.data_dir.join("downloads"))
        .map(Iterator::count)
        .unwrap_or(0);
    assert_eq!(
        downloads, 0,
        "nothing may be downloaded after a pre-flight refusal"
    );
}

/// Bytes below `dir`.
fn size_of(dir: &Path) -> u64 {
    let Ok(read) = std::fs::read_dir(dir) else {
        return 0;
    };
    read.flatten()
        .map(|e| {
            let meta = std::fs::symlink_metadata(e.path()).expect("metadata");
            if meta.is_dir() {
                size_of(&e.path())
            } else {
                meta.len()
            }
        })
        .sum()
}

fn count(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, Iterator::count)
}

#[test]
fn ten_consecutive_updates_keep_the_data_folder_bounded() {
    let mut fx = Fixture::publish(&[Release::plain("1.0")], BLOB_BYTES);
    let client = client(&fx, "client", &[]);
    let mut sizes = Vec::new();
    for n in 2..=11 {
        let version = format!("{n}.0");
        fx.add(Release::plain(&version));
        client.update().assert_success();
        assert_eq!(crate::app_version(&client.install_dir), version);
        let data = &client.data_dir;
        assert_eq!(
            count(&data.join("downloads")),
            0,
            "downloads after {version}"
        );
        assert_eq!(count(&data.join("staging")), 0, "staging after {version}");
        assert_eq!(
            count(&data.join("cache")),
            1,
            "one base tar after {version}"
        );
        assert_eq!(count(&data.join("backup")), 1, "one backup after {version}");
        sizes.push(size_of(data));
    }
    assert_same_tree(&fx.bundle("11.0"), &client.install_dir);
    let (first, last) = (sizes[0], sizes[sizes.len() - 1]);
    println!("data folder after each of 10 updates (bytes): {sizes:?}");
    assert!(
        last <= first + first / 4,
        "data folder grew from {first} to {last} bytes over 10 updates: {sizes:?}"
    );
}
