//! Files the app writes into its install folder: `--keep PATH` carries them from the old
//! version into the new one; any other file the app added goes to the backup with the old
//! version, and the log names it (before this, such files vanished at the second update
//! without a word).

use tufd_tests::support::bundle::SMALL_BLOB_BYTES;
use tufd_tests::support::daemon::{Client, DAEMON_TIMEOUT};
use tufd_tests::support::fixture::{Fixture, Release};
use tufd_tests::support::nginx::Nginx;
use tufd_tests::support::process::run;

/// `tufd status --json` of `client`, parsed.
#[track_caller]
fn status_json(client: &Client) -> serde_json::Value {
    let out = run(&mut client.command(&["status", "--json"]), DAEMON_TIMEOUT);
    out.assert_success();
    serde_json::from_str(out.stdout.trim()).unwrap_or_else(|e| panic!("status json ({e}): {out}"))
}

/// The target paths `nginx` served since access log entry `from`.
fn targets_since(nginx: &Nginx, from: usize) -> Vec<String> {
    nginx.access_log()[from..]
        .iter()
        .filter(|e| e.is_target())
        .map(|e| e.path.clone())
        .collect()
}

#[test]
fn kept_paths_survive_updates_and_other_added_files_are_named_in_the_log() {
    let mut fx = Fixture::publish(
        &[Release::plain("1.0"), Release::plain("2.0")],
        SMALL_BLOB_BYTES,
    );
    let nginx = Nginx::start(&fx.repo.repository());
    let mut client = fx.install("client", "1.0", &nginx.metadata_url(), &nginx.targets_url());
    client.extra = vec![
        "--keep".into(),
        "settings.ini".into(),
        "--keep".into(),
        "logs".into(),
    ];
    // What the running app wrote into its own folder.
    let install = client.install_dir.clone();
    std::fs::write(install.join("settings.ini"), "theme = dark\n").unwrap();
    std::fs::create_dir_all(install.join("logs")).unwrap();
    std::fs::write(install.join("logs/app.log"), "started\n").unwrap();
    std::fs::write(install.join("notes.txt"), "scratch\n").unwrap();

    let out = client.update();
    out.assert_success();
    assert_eq!(crate::app_version(&install), "2.0");
    assert_eq!(
        std::fs::read_to_string(install.join("settings.ini")).unwrap(),
        "theme = dark\n"
    );
    assert_eq!(
        std::fs::read_to_string(install.join("logs/app.log")).unwrap(),
        "started\n"
    );
    assert!(!install.join("notes.txt").exists());
    assert_eq!(
        std::fs::read_to_string(client.data_dir.join("backup/demo-1.0/notes.txt")).unwrap(),
        "scratch\n",
        "the added file went to the backup with 1.0"
    );
    assert!(
        out.stderr.contains("notes.txt") && !out.stderr.contains("settings.ini,"),
        "the log names the file left behind: {out}"
    );
    // `status` reports them too: what went to the backup, and what was kept.
    // (1.0 was not installed by tufd, so its own `old/`, which 2.0 dropped, is listed too.)
    let status = status_json(&client.clone().with_current("2.0"));
    assert_eq!(
        status["left_behind"],
        serde_json::json!(["notes.txt", "old"]),
        "{status}"
    );
    assert_eq!(
        status["kept"],
        serde_json::json!(["settings.ini", "logs"]),
        "{status}"
    );

    // The second update keeps them again (the backup of 1.0, and its notes.txt, are replaced).
    fx.add(Release::plain("3.0"));
    let second = client.clone().with_current("2.0").update();
    second.assert_success();
    assert_eq!(crate::app_version(&install), "3.0");
    assert_eq!(
        std::fs::read_to_string(install.join("settings.ini")).unwrap(),
        "theme = dark\n"
    );
    assert!(install.join("logs/app.log").is_file());
}

#[test]
fn kept_files_do_not_cost_the_patch() {
    let fx = Fixture::publish(
        &[Release::plain("1.0"), Release::plain("2.0")],
        SMALL_BLOB_BYTES,
    );
    let nginx = Nginx::start(&fx.repo.repository());
    let mut client = fx.install("client", "1.0", &nginx.metadata_url(), &nginx.targets_url());
    client.extra = vec!["--keep".into(), "settings.ini".into()];
    std::fs::write(client.install_dir.join("settings.ini"), "theme = dark\n").unwrap();
    let before = nginx.access_log().len();
    client.update().assert_success();
    assert_eq!(crate::app_version(&client.install_dir), "2.0");
    // The base tar of 1.0 is rebuilt from the install folder without the kept file, so it
    // matches its signed hash and the patch applies: no archive is fetched.
    let targets: Vec<_> = nginx.access_log()[before..]
        .iter()
        .filter(|e| e.is_target())
        .map(|e| e.path.clone())
        .collect();
    assert!(
        targets.iter().any(|p| p.ends_with(".patch"))
            && targets.iter().all(|p| !p.contains(".tar.")),
        "{targets:?}"
    );
    assert_eq!(
        std::fs::read_to_string(client.install_dir.join("settings.ini")).unwrap(),
        "theme = dark\n"
    );
}

#[test]
fn added_files_do_not_cost_the_patch_once_tufd_installed_the_release() {
    let mut fx = Fixture::publish(
        &[Release::plain("1.0"), Release::plain("2.0")],
        SMALL_BLOB_BYTES,
    );
    let nginx = Nginx::start(&fx.repo.repository());
    let client = fx.install("client", "1.0", &nginx.metadata_url(), &nginx.targets_url());
    client.update().assert_success();
    let client = client.with_current("2.0");
    // Files added to 2.0's install folder, not kept: at the top and inside a release folder.
    let install = client.install_dir.clone();
    std::fs::write(install.join("notes.txt"), "scratch\n").unwrap();
    let nested = std::fs::read_dir(&install)
        .unwrap()
        .flatten()
        .find(|e| e.path().is_dir())
        .expect("a folder in the release")
        .path();
    std::fs::write(nested.join("crash.dmp"), "dump\n").unwrap();
    fx.add(Release::plain("3.0"));
    let before = nginx.access_log().len();
    let out = client.update();
    out.assert_success();
    assert_eq!(crate::app_version(&install), "3.0");
    // 2.0's base tar is rebuilt from the entries recorded when tufd installed it, so the added
    // files do not change it: the patch is fetched, no archive.
    let targets = targets_since(&nginx, before);
    assert!(
        targets.iter().any(|p| p.ends_with(".patch"))
            && targets.iter().all(|p| !p.contains(".tar.")),
        "{targets:?}\n{out}"
    );
    // Only the added top-level file is left behind: tufd recorded 2.0's own entries.
    let status = status_json(&client.clone().with_current("3.0"));
    assert_eq!(
        status["left_behind"],
        serde_json::json!(["notes.txt"]),
        "{status}"
    );
}
