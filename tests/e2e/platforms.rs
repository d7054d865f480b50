//! One repository for two platforms, each signed by its own delegated key
//! (docs/repository-format.md, "Platforms"; docs/operations.md, "Build machines per
//! platform"): `tufd-repo keygen` and `delegate` per platform, the targets key taken offline,
//! `add --platform` for `linux-x86_64` and `windows-x86_64` releases of 1.0 and 2.0. A Linux
//! tufd updates 1.0 → 2.0 through the Linux patch and never asks nginx for anything of
//! Windows (and `tufd status` names the platform in use); python-tuf 7 finds every target
//! through the delegations; what a compromised Linux build machine can sign for Windows is
//! refused (`tests/python/platforms.py forge`). Bad input: a platform that is not
//! `<os>-<arch>`, a delegated key missing when publishing.

use std::path::{Path, PathBuf};
use std::process::Command;

use tufd_tests::support::bins;
use tufd_tests::support::bundle::SMALL_BLOB_BYTES;
use tufd_tests::support::daemon::{Client, DAEMON_TIMEOUT};
use tufd_tests::support::fixture::Fixture;
use tufd_tests::support::nginx::Nginx;
use tufd_tests::support::process::{RunOutput, run};
use tufd_tests::support::python;
use tufd_tests::support::repo::REPO_TIMEOUT;

const LINUX: &str = "linux-x86_64";
const WINDOWS: &str = "windows-x86_64";

/// `tests/python/platforms.py <args>`.
fn platforms_py(args: &[&str]) -> RunOutput {
    let script = bins::workspace_root().join("tests/python/platforms.py");
    let mut cmd = Command::new(python::tuf7());
    cmd.arg(script).args(args);
    run(&mut cmd, REPO_TIMEOUT)
}

/// python-tuf's lookup of `names` through the delegations (`platforms.py read`).
fn python_reads(fx: &Fixture, nginx: &Nginx, work: &str, names: &[&str]) -> serde_json::Value {
    let root = fx.repo.root_json();
    let work = fx.root().join(work);
    let mut args = vec![
        "read",
        &nginx.base_url(),
        root.to_str().expect("utf-8"),
        work.to_str().expect("utf-8"),
    ]
    .into_iter()
    .map(str::to_owned)
    .collect::<Vec<_>>();
    args.extend(names.iter().map(|n| (*n).to_owned()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = platforms_py(&args);
    out.assert_success();
    serde_json::from_str(out.stdout.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

/// A client of `platform` (`--platform`), installed at `version`.
fn client(fx: &Fixture, nginx: &Nginx, name: &str, version: &str, platform: &str) -> Client {
    let mut c = fx.install(name, version, &nginx.metadata_url(), &nginx.targets_url());
    c.extra = vec!["--platform".into(), platform.into()];
    c
}

/// `tufd status --json` of `client`, parsed.
#[track_caller]
fn status_json(client: &Client) -> serde_json::Value {
    let out = run(&mut client.command(&["status", "--json"]), DAEMON_TIMEOUT);
    out.assert_success();
    serde_json::from_str(out.stdout.trim()).unwrap_or_else(|e| panic!("status json ({e}): {out}"))
}

/// The Windows bundle of `version`: the Linux one plus a file of its own, so the two
/// platforms' archives differ.
fn windows_bundle(fx: &Fixture, version: &str) -> PathBuf {
    let dir = fx.root().join("bundles-windows").join(version);
    tufd_tests::support::copy_tree(&fx.ensure_bundle(version), &dir);
    std::fs::write(dir.join("windows.txt"), format!("windows {version}\n")).unwrap();
    dir
}

/// Asserts that a `tufd-repo` command failed with `error[<kind>]` and left `timestamp.json`
/// as it was (nothing published).
#[track_caller]
fn assert_refused(out: &RunOutput, kind: &str, timestamp: &Path, before: &[u8]) {
    assert_ne!(out.code(), Some(0), "{out}");
    assert!(out.stderr.contains(&format!("error[{kind}]")), "{out}");
    assert_eq!(out.stderr.trim().lines().count(), 1, "one line: {out}");
    assert_eq!(
        std::fs::read(timestamp).unwrap(),
        before,
        "published: {out}"
    );
}

#[test]
fn two_platforms_each_signed_by_its_own_key_and_a_linux_client_sees_only_linux() {
    let fx = Fixture::empty(SMALL_BLOB_BYTES);
    let repo = &fx.repo;
    let keystore = repo.work().join("keystore");
    for platform in [LINUX, WINDOWS] {
        repo.run(&["keygen", platform]).assert_success();
        let public = format!("keystore/{platform}.pub.json");
        repo.run(&["delegate", platform, "--key", &public])
            .assert_success();
    }
    // The targets key goes offline: publishing needs only the platform's key plus the online
    // snapshot and timestamp keys.
    let offline = fx.root().join("offline");
    std::fs::create_dir_all(&offline).unwrap();
    std::fs::rename(keystore.join("targets.der"), offline.join("targets.der")).unwrap();
    let targets_files = || {
        std::fs::read_dir(repo.metadata_dir())
            .unwrap()
            .filter(|e| {
                let name = e.as_ref().unwrap().file_name();
                name.to_str().unwrap().ends_with(".targets.json")
            })
            .count()
    };
    let targets_before = targets_files();
    for version in ["1.0", "2.0"] {
        repo.add(&fx.ensure_bundle(version), version, &["--platform", LINUX]);
        repo.add(
            &windows_bundle(&fx, version),
            version,
            &["--platform", WINDOWS],
        );
    }
    assert_eq!(targets_files(), targets_before, "targets was re-signed");
    for platform in [LINUX, WINDOWS] {
        let dir = repo.targets_dir().join(platform);
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .map(|n| n.split_once('.').unwrap().1.to_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["demo-1.0.tar.gz", "demo-2.0.patch", "demo-2.0.tar.gz"],
            "{}",
            dir.display()
        );
    }
    repo.run(&["verify"]).assert_success();

    // `renew` re-signs the platforms' roles too when they expire soon and their keys are here
    // (targets as well, so its key comes back for this step).
    std::fs::rename(offline.join("targets.der"), keystore.join("targets.der")).unwrap();
    repo.run(&["renew", "--within", "100d"]).assert_success();
    std::fs::rename(keystore.join("targets.der"), offline.join("targets.der")).unwrap();
    for platform in [LINUX, WINDOWS] {
        let renewed = repo.metadata_dir().join(format!("3.{platform}.json"));
        assert!(renewed.is_file(), "{} missing", renewed.display());
    }
    repo.run(&["verify"]).assert_success();

    // Bad input: one line, non-zero exit, nothing published.
    let timestamp = repo.metadata_dir().join("timestamp.json");
    let before = std::fs::read(&timestamp).unwrap();
    let bundle3 = fx.ensure_bundle("3.0");
    let bundle3 = bundle3.to_str().unwrap();
    for bad in ["linux-amd64", "linux", "Windows-x86_64", "linux-x86_64/x"] {
        let out = repo.run(&["add", bundle3, "--version", "3.0", "--platform", bad]);
        assert_refused(&out, "config", &timestamp, &before);
    }
    let out = repo.run(&[
        "delegate",
        "macos-arm64",
        "--key",
        "keystore/linux-x86_64.pub.json",
    ]);
    assert_refused(&out, "config", &timestamp, &before);
    let windows_key = keystore.join("windows-x86_64.der");
    std::fs::rename(&windows_key, offline.join("windows-x86_64.der")).unwrap();
    let out = repo.run(&["add", bundle3, "--version", "3.0", "--platform", WINDOWS]);
    assert_refused(&out, "key", &timestamp, &before);
    std::fs::rename(offline.join("windows-x86_64.der"), &windows_key).unwrap();

    let nginx = Nginx::start(&repo.repository());

    // python-tuf 7 finds each target through the delegations; the top-level role lists none.
    let all = [
        "linux-x86_64/demo-1.0.tar.gz",
        "linux-x86_64/demo-2.0.tar.gz",
        "linux-x86_64/demo-2.0.patch",
        "windows-x86_64/demo-1.0.tar.gz",
        "windows-x86_64/demo-2.0.tar.gz",
        "windows-x86_64/demo-2.0.patch",
    ];
    let report = python_reads(&fx, &nginx, "python-1", &all);
    assert_eq!(
        report["top_level_targets"],
        serde_json::json!([]),
        "{report}"
    );
    assert_eq!(report["missing"], serde_json::json!([]), "{report}");
    assert_eq!(
        report["found"].as_object().map(|o| o.len()),
        Some(all.len())
    );

    // Linux: 1.0 -> 2.0 through the Linux patch; nothing of Windows is asked for.
    let logged = nginx.access_log().len();
    let linux = client(&fx, &nginx, "linux", "1.0", LINUX);
    let check = linux.check_json();
    assert_eq!(check["latest"], "2.0", "{check}");
    linux.update().assert_success();
    assert_eq!(crate::app_version(&linux.install_dir), "2.0");
    assert!(!linux.install_dir.join("windows.txt").exists());
    let requests: Vec<_> = nginx.access_log().into_iter().skip(logged).collect();
    assert!(
        requests.iter().all(|r| !r.path.contains(WINDOWS)),
        "{requests:#?}"
    );
    let fetched: Vec<&str> = requests
        .iter()
        .filter(|r| r.is_target())
        .map(|r| r.path.as_str())
        .collect();
    assert!(
        fetched.iter().all(|p| p.contains("/targets/linux-x86_64/")),
        "{fetched:?}"
    );
    assert!(
        fetched.iter().any(|p| p.ends_with(".demo-2.0.patch")),
        "{fetched:?}"
    );
    assert!(
        !fetched.iter().any(|p| p.ends_with(".tar.gz")),
        "{fetched:?}"
    );
    let linux = linux.with_current("2.0");

    // A Windows install on 2.0 is up to date.
    let windows = client(&fx, &nginx, "windows", "2.0", WINDOWS);
    assert_eq!(windows.check_json()["update_available"], false);

    // `status` names the platform in use: the `--platform` override, else the build's own.
    assert_eq!(status_json(&windows)["platform"], WINDOWS);
    let out = run(&mut windows.command(&["status"]), DAEMON_TIMEOUT);
    out.assert_success();
    assert!(
        out.stdout
            .lines()
            .any(|l| l == format!("platform {WINDOWS}")),
        "{out}"
    );
    let own = fx.install("own", "2.0", &nginx.metadata_url(), &nginx.targets_url());
    let build = tufd_core::Platform::current().map(|p| p.to_string());
    assert_eq!(
        status_json(&own).get("platform").and_then(|p| p.as_str()),
        build.as_deref()
    );

    // The compromised Linux build machine lists a Windows 3.0 in the Linux role: the
    // delegation's path pattern does not cover it, so no client and no python-tuf sees it.
    let forge = |mode: &str| {
        platforms_py(&[
            "forge",
            mode,
            repo.repository().to_str().unwrap(),
            keystore.to_str().unwrap(),
        ])
        .assert_success();
    };
    forge("linux-lists-windows");
    assert_eq!(windows.check_json()["update_available"], false);
    assert_eq!(linux.check_json()["update_available"], false);
    let report = python_reads(&fx, &nginx, "python-2", &["windows-x86_64/demo-3.0.tar.gz"]);
    assert_eq!(
        report["missing"],
        serde_json::json!(["windows-x86_64/demo-3.0.tar.gz"]),
        "{report}"
    );

    // It signs the Windows role with the Linux key: a Windows client refuses the repository
    // (the role's signature threshold is not met) and keeps 2.0; a Linux client never loads
    // the Windows role and carries on.
    forge("windows-signed-by-linux");
    let out = windows.check();
    assert_eq!(out.code(), Some(1), "{out}");
    let error: serde_json::Value =
        serde_json::from_str(out.stdout.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"));
    assert_eq!(error["error"]["kind"], "metadata-invalid", "{error}");
    let out = windows.update();
    assert_eq!(out.code(), Some(1), "{out}");
    assert!(out.stderr.contains("error[metadata-invalid]"), "{out}");
    assert_eq!(crate::app_version(&windows.install_dir), "2.0");
    let logged = nginx.access_log().len();
    assert_eq!(linux.check_json()["update_available"], false);
    let requests: Vec<_> = nginx.access_log().into_iter().skip(logged).collect();
    assert!(
        requests.iter().all(|r| !r.path.contains(WINDOWS)),
        "{requests:#?}"
    );
    let out = repo.run(&["verify"]);
    assert_eq!(out.code(), Some(1), "verify reports the forged role: {out}");
}
