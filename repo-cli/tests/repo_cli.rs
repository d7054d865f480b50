//! End-to-end tests of the `tufd-repo` binary: publishing real bundles, python-tuf's ngclient
//! as an independent client (over `tufd-repo serve`), bsdiff4 interop, root rotation,
//! reproducible archives, refusals that leave the repository untouched, and `verify`.

mod support;

use std::path::Path;

use serde_json::Value;
use support::*;

fn target_names(targets: &Value) -> Vec<String> {
    let mut v: Vec<String> = targets.as_object().unwrap().keys().cloned().collect();
    v.sort();
    v
}

#[test]
fn three_releases_are_read_by_python_tuf_over_http() {
    let work = init_repo(&[]);
    let w = work.path();
    add_release(
        w,
        1,
        "1.0",
        &["--meta", r#"{"changes": ["first release"]}"#],
    );
    add_release(w, 2, "1.1", &[]);
    let out = add_release(w, 3, "2.0", &["--required"]);
    assert!(out.contains("my_app-2.0.patch"), "{out}");
    ok(w, &["verify"]);

    let server = Server::start(w);
    let client = tempfile::tempdir().unwrap();
    let report = ngclient(
        &server.url,
        &w.join("repository/metadata/1.root.json"),
        client.path(),
    );
    assert_eq!(
        target_names(&report["targets"]),
        [
            "my_app-1.0.tar.gz",
            "my_app-1.1.patch",
            "my_app-1.1.tar.gz",
            "my_app-2.0.patch",
            "my_app-2.0.tar.gz"
        ]
    );
    assert_eq!(report["targets_version"], 4, "init + three releases");
    assert_eq!(report["timestamp_version"], 4);
    let t = &report["targets"];
    assert_eq!(
        t["my_app-1.0.tar.gz"]["custom"]["user"]["changes"][0],
        "first release"
    );
    assert_eq!(t["my_app-2.0.tar.gz"]["custom"]["tufup"]["required"], true);
    assert_eq!(t["my_app-1.1.tar.gz"]["custom"]["tufup"]["required"], false);
    assert_eq!(t["my_app-2.0.patch"]["custom"]["tufup"]["from"], "1.1");
    assert_eq!(
        t["my_app-2.0.patch"]["custom"]["tufup"]["codec"],
        "bsdiff-lzma"
    );
    assert_eq!(
        t["my_app-2.0.patch"]["custom"]["tufup"]["tar_hash"],
        t["my_app-2.0.tar.gz"]["custom"]["tufup"]["tar_hash"],
        "a patch produces the new release's tar"
    );
    let checks = report["checks"].as_array().unwrap();
    assert_eq!(
        checks.len(),
        3,
        "python checked every archive's tar_hash: {checks:?}"
    );
    // Patches of a 2 MB bundle with 64 changed bytes are tiny next to the archive.
    let patch = t["my_app-2.0.patch"]["length"].as_u64().unwrap();
    let archive = t["my_app-2.0.tar.gz"]["length"].as_u64().unwrap();
    assert!(
        patch * 100 < archive,
        "patch {patch} bytes vs archive {archive}"
    );
    // Consistent snapshots: targets stored as <sha256>.<name>.
    let files: Vec<String> = std::fs::read_dir(w.join("repository/targets"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(files.len(), 5);
    assert!(
        files
            .iter()
            .all(|f| f.len() > 65 && f.as_bytes()[64] == b'.'),
        "{files:?}"
    );
}

#[test]
fn sign_timestamp_bumps_version_and_python_still_refreshes() {
    let work = init_repo(&[]);
    let w = work.path();
    add_release(w, 1, "1.0", &[]);
    let server = Server::start(w);
    let client = tempfile::tempdir().unwrap();
    let root = w.join("repository/metadata/1.root.json");
    let before = ngclient(&server.url, &root, client.path());
    assert_eq!(before["timestamp_version"], 2);
    let out = ok(w, &["sign", "timestamp"]);
    assert!(out.contains("timestamp version 3"), "{out}");
    // Same client folder: a refresh from cached metadata accepts the new timestamp.
    let after = ngclient(&server.url, &root, client.path());
    assert_eq!(after["timestamp_version"], 3);
    assert_eq!(
        after["snapshot_version"], before["snapshot_version"],
        "snapshot kept"
    );
    ok(w, &["sign", "snapshot", "--expires-in", "3"]);
    let again = ngclient(&server.url, &root, client.path());
    assert_eq!(again["timestamp_version"], 4);
    assert_eq!(again["snapshot_version"], 3);
    // Lifetimes shorter than a day: a 12-hour timestamp is accepted by python-tuf too.
    ok(w, &["sign", "timestamp", "--expires-in", "12h"]);
    let hourly = ngclient(&server.url, &root, client.path());
    assert_eq!(hourly["timestamp_version"], 5);
    let timestamp: Value = serde_json::from_slice(
        &std::fs::read(w.join("repository/metadata/timestamp.json")).unwrap(),
    )
    .unwrap();
    let expires: jiff::Timestamp = timestamp["signed"]["expires"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let left = expires.as_second() - jiff::Timestamp::now().as_second();
    assert!(
        (12 * 3600 - 60..=12 * 3600).contains(&left),
        "expires in {left} s, not 12 h"
    );
    ok(w, &["verify"]);
}

#[test]
fn bsdiff4_patch_is_applied_by_python_bsdiff4_in_a_tufup_style_layout() {
    let work = init_repo(&["--no-consistent-snapshot"]);
    let w = work.path();
    add_release(w, 1, "1.0", &[]);
    add_release(w, 2, "1.1", &["--codec", "bsdiff4"]);
    let targets_dir = w.join("repository/targets");
    assert!(
        targets_dir.join("my_app-1.1.patch").is_file(),
        "plain names without consistent snapshots"
    );
    assert!(w.join("repository/metadata/targets.json").is_file());
    let server = Server::start(w);
    let client = tempfile::tempdir().unwrap();
    let report = ngclient(
        &server.url,
        &w.join("repository/metadata/1.root.json"),
        client.path(),
    );
    assert_eq!(
        report["targets"]["my_app-1.1.patch"]["custom"]["tufup"]["codec"],
        "bsdiff4"
    );
    let checks: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert!(
        checks.contains(&"bsdiff4-patch:my_app-1.1.patch"),
        "{checks:?}"
    );
    let patch = std::fs::read(targets_dir.join("my_app-1.1.patch")).unwrap();
    assert_eq!(&patch[..8], b"BSDIFF40");
}

#[test]
fn root_rotation_is_followed_by_python_tuf() {
    let work = init_repo(&[]);
    let w = work.path();
    add_release(w, 1, "1.0", &[]);
    ok(w, &["keys", "replace", "root"]);
    let meta = w.join("repository/metadata");
    let v2 = std::fs::read(meta.join("2.root.json")).unwrap();
    assert_eq!(v2, std::fs::read(meta.join("root.json")).unwrap());
    let v2: Value = serde_json::from_slice(&v2).unwrap();
    assert_eq!(
        v2["signatures"].as_array().unwrap().len(),
        2,
        "old and new root keys sign"
    );
    ok(w, &["verify"]);
    let server = Server::start(w);
    let client = tempfile::tempdir().unwrap();
    let report = ngclient(&server.url, &meta.join("1.root.json"), client.path());
    assert_eq!(report["root_version"], 2);
    // Rotating the timestamp key re-signs the timestamp with the new key.
    ok(w, &["keys", "replace", "timestamp"]);
    let report = ngclient(&server.url, &meta.join("1.root.json"), client.path());
    assert_eq!(report["root_version"], 3);
    assert_eq!(report["timestamp_version"], 3);
    // The config names the new root key.
    let config = std::fs::read_to_string(w.join("tufd-repo.toml")).unwrap();
    assert!(config.contains("root-2"), "{config}");
    // A second targets key with threshold 2: targets is re-signed by both, python agrees.
    ok(w, &["keys", "add", "targets", "--threshold", "2"]);
    let report = ngclient(&server.url, &meta.join("1.root.json"), client.path());
    assert_eq!(report["root_version"], 4);
    assert_eq!(report["targets_version"], 3);
    add_release(w, 2, "1.1", &[]);
    let report = ngclient(&server.url, &meta.join("1.root.json"), client.path());
    assert_eq!(report["targets_version"], 4);
    // Without the second key the threshold cannot be met: refused, nothing changes.
    std::fs::rename(w.join("keystore/targets-4.der"), w.join("away.der")).unwrap();
    make_bundle(&w.join("bundles/3"), 3);
    let before = tree_hash(&w.join("repository"));
    let out = run(w, &["add", "bundles/3", "--version", "1.2"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("error[key]: "), "{stderr}");
    assert_eq!(tree_hash(&w.join("repository")), before);
}

#[test]
fn a_second_command_is_refused_while_another_holds_the_lock() {
    let work = init_repo(&[]);
    let w = work.path();
    let lock = std::fs::OpenOptions::new()
        .write(true)
        .open(w.join(".tufd-repo/lock"))
        .unwrap();
    lock.lock().unwrap();
    let before = tree_hash(w);
    let out = run(w, &["sign", "timestamp"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("error[locked]: "), "{stderr}");
    assert_eq!(tree_hash(w), before);
    drop(lock);
    ok(w, &["sign", "timestamp"]);
}

#[test]
fn archives_are_byte_identical_across_runs_and_copies() {
    let a = init_repo(&[]);
    let b = init_repo(&[]);
    let bundle = a.path().join("bundle");
    make_bundle(&bundle, 1);
    let copy = b.path().join("elsewhere/bundle-copy");
    copy_tree(&bundle, &copy);
    ok(
        a.path(),
        &["add", bundle.to_str().unwrap(), "--version", "1.0"],
    );
    ok(
        b.path(),
        &["add", copy.to_str().unwrap(), "--version", "1.0"],
    );
    let ta = published_targets(a.path());
    let tb = published_targets(b.path());
    assert_eq!(
        ta["my_app-1.0.tar.gz"]["hashes"],
        tb["my_app-1.0.tar.gz"]["hashes"]
    );
    assert_eq!(
        ta["my_app-1.0.tar.gz"]["custom"]["tufup"]["tar_hash"],
        tb["my_app-1.0.tar.gz"]["custom"]["tufup"]["tar_hash"]
    );
    let files = |w: &Path| -> Vec<Vec<u8>> {
        std::fs::read_dir(w.join("repository/targets"))
            .unwrap()
            .map(|e| std::fs::read(e.unwrap().path()).unwrap())
            .collect()
    };
    assert_eq!(files(a.path()), files(b.path()));
}

/// Runs a command that must be refused: one line `error[<kind>]: …` on stderr (holding `hint`
/// when given: the guidance the user needs), exit code 1 (2 for `usage`), and the working
/// folder unchanged.
fn assert_refused(w: &Path, args: &[&str], env: &[(&str, &str)], kind: &str, hint: Option<&str>) {
    let before = tree_hash(w);
    let out = run_env(w, args, env);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let code = if kind == "usage" { 2 } else { 1 };
    assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr:?}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(
        lines.len(),
        1,
        "{args:?}: one line expected, got {stderr:?}"
    );
    assert!(
        lines[0].starts_with(&format!("error[{kind}]: ")),
        "{args:?}: {stderr:?} is not of kind {kind}"
    );
    if let Some(hint) = hint {
        assert!(
            lines[0].contains(hint),
            "{args:?}: {stderr:?} lacks {hint:?}"
        );
    }
    assert_eq!(tree_hash(w), before, "{args:?} changed the working folder");
}

#[test]
fn bad_input_is_refused_with_one_line_and_nothing_changes() {
    let work = init_repo(&[]);
    let w = work.path();
    add_release(w, 1, "1.0", &[]);
    make_bundle(&w.join("bundles/2"), 2);
    std::fs::create_dir_all(w.join("empty")).unwrap();
    std::fs::write(w.join("afile"), b"x").unwrap();
    let cases: &[(&[&str], &str, Option<&str>)] = &[
        (&["add", "missing", "--version", "2.0"], "bundle", None),
        (&["add", "afile", "--version", "2.0"], "bundle", None),
        (&["add", "empty", "--version", "2.0"], "bundle", None),
        (
            &["add", "bundles/2", "--version", "two"],
            "release",
            Some("PEP 440"),
        ),
        (&["add", "bundles/2", "--version", "1.0"], "release", None),
        (&["add", "bundles/2", "--version", "1.0.0"], "release", None),
        (&["add", "bundles/2", "--version", "0.9"], "release", None),
        (
            &["add", "bundles/2", "--version", "2.0+local"],
            "release",
            None,
        ),
        (
            &["add", "bundles/2", "--version", "2.0", "--meta", "[1]"],
            "release",
            None,
        ),
        (
            &["add", "bundles/2", "--version", "2.0", "--codec", "xdelta"],
            "usage",
            Some("xdelta"),
        ),
        // A lifetime of zero would publish a timestamp every client refuses as expired.
        (
            &["sign", "timestamp", "--expires-in", "0"],
            "usage",
            Some("already refuse as expired"),
        ),
        (
            &["sign", "timestamp", "--expires-in", "soon"],
            "usage",
            Some("12h"),
        ),
        (
            &[
                "add",
                "bundles/2",
                "--version",
                "2.0",
                "--config",
                "nope.toml",
            ],
            "config",
            Some("tufd-repo init"),
        ),
        (&["init", "--app-name", "my_app"], "already-exists", None),
        (
            &["init", "--app-name", "bad name", "--config", "other.toml"],
            "config",
            None,
        ),
        (&["sign", "targets", "--key", "afile"], "key", None),
        (&["remove-latest", "--config", "nope.toml"], "config", None),
    ];
    for (args, kind, hint) in cases {
        assert_refused(w, args, &[], kind, *hint);
    }
    // A missing key: the keystore lacks the targets key.
    std::fs::rename(w.join("keystore/targets.der"), w.join("targets.der.away")).unwrap();
    assert_refused(
        w,
        &["add", "bundles/2", "--version", "2.0"],
        &[],
        "key",
        Some("keystore/targets.der"),
    );
    std::fs::rename(w.join("targets.der.away"), w.join("keystore/targets.der")).unwrap();
    // A published target that no longer matches its metadata is not used as a patch base.
    let targets = w.join("repository/targets");
    let archive = std::fs::read_dir(&targets)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let good = std::fs::read(&archive).unwrap();
    std::fs::write(&archive, b"tampered").unwrap();
    assert_refused(
        w,
        &["add", "bundles/2", "--version", "2.0"],
        &[],
        "target-mismatch",
        Some("--skip-patch"),
    );
    std::fs::write(&archive, good).unwrap();
    ok(w, &["add", "bundles/2", "--version", "2.0"]);
    ok(w, &["verify"]);
}

/// tufup#55: `add dist` where `dist/` holds only `dist/app/` would install the app one level
/// too deep; it is refused with the folder to pass instead, and `--allow-single-folder`
/// publishes it as it is.
#[test]
fn a_bundle_holding_only_one_folder_is_refused_unless_allowed() {
    let work = init_repo(&[]);
    let w = work.path();
    make_bundle(&w.join("dist/app"), 1);
    assert_refused(
        w,
        &["add", "dist", "--version", "1.0"],
        &[],
        "bundle",
        Some("--allow-single-folder"),
    );
    let out = ok(
        w,
        &["add", "dist", "--version", "1.0", "--allow-single-folder"],
    );
    assert!(out.contains("1.0"), "{out}");
    // A macOS `.app` bundle holds only `Contents/`: accepted without the flag.
    make_bundle(&w.join("Demo.app/Contents"), 2);
    ok(w, &["add", "Demo.app", "--version", "2.0"]);
}

#[test]
fn a_failing_command_prints_its_kind_and_cause_chain_and_exits_1() {
    let work = init_repo(&[]);
    let w = work.path();
    let out = run(w, &["remove-latest"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error[release]: no flat release of my_app is published: nothing to remove\n"
    );
    assert!(out.stdout.is_empty());
    // The cause (the io error) follows the message after ": ", once.
    let out = run(w, &["sign", "timestamp", "--config", "missing.toml"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let not_found = std::fs::read(w.join("missing.toml")).unwrap_err();
    let expected = format!(
        "error[config]: cannot read config missing.toml: run `tufd-repo init --app-name NAME` in the working folder or pass --config FILE: {not_found}\n"
    );
    assert_eq!(stderr, expected);
    // Usage errors keep exit code 2, in the same format.
    let out = run(w, &["sign", "everything"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("error[usage]: ") && stderr.trim_end().ends_with("(see --help)"),
        "{stderr}"
    );
}

#[test]
fn encrypted_keys_need_the_right_passphrase() {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path();
    let pass = [("TUFD_REPO_PASSPHRASE", "correct horse")];
    let out = run_env(
        w,
        &["init", "--app-name", "my_app", "--encrypt-keys"],
        &pass,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let der = std::fs::read(w.join("keystore/targets.der")).unwrap();
    // PKCS#8 v1/v2 starts SEQUENCE, INTEGER version; encrypted PKCS#8 starts SEQUENCE, SEQUENCE.
    let body = if der[1] & 0x80 != 0 {
        2 + (der[1] & 0x7f) as usize
    } else {
        2
    };
    assert_eq!(
        der[body], 0x30,
        "encrypted PKCS#8 (AlgorithmIdentifier first)"
    );
    make_bundle(&w.join("b"), 1);
    assert_refused(
        w,
        &["add", "b", "--version", "1.0"],
        &[],
        "passphrase",
        Some("TUFD_REPO_PASSPHRASE"),
    );
    assert_refused(
        w,
        &["add", "b", "--version", "1.0"],
        &[("TUFD_REPO_PASSPHRASE", "wrong")],
        "passphrase",
        None,
    );
    std::fs::write(w.join("empty.txt"), "\n").unwrap();
    assert_refused(
        w,
        &[
            "add",
            "b",
            "--version",
            "1.0",
            "--passphrase-file",
            "empty.txt",
        ],
        &[],
        "passphrase",
        None,
    );
    std::fs::write(w.join("pass.txt"), "correct horse\n").unwrap();
    ok(
        w,
        &[
            "add",
            "b",
            "--version",
            "1.0",
            "--passphrase-file",
            "pass.txt",
        ],
    );
    ok(w, &["verify"]);
    let no_pass = run(
        w,
        &[
            "init",
            "--app-name",
            "x",
            "--encrypt-keys",
            "--config",
            "o.toml",
        ],
    );
    assert_eq!(no_pass.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&no_pass.stderr).starts_with("error[passphrase]: "),
        "{no_pass:?}"
    );
}

#[test]
fn remove_latest_unlists_the_newest_release() {
    let work = init_repo(&[]);
    let w = work.path();
    add_release(w, 1, "1.0", &[]);
    add_release(w, 2, "1.1", &[]);
    let out = ok(w, &["remove-latest"]);
    assert!(out.contains("1.1"), "{out}");
    assert_eq!(target_names(&published_targets(w)), ["my_app-1.0.tar.gz"]);
    assert_eq!(
        std::fs::read_dir(w.join("repository/targets"))
            .unwrap()
            .count(),
        1
    );
    ok(w, &["verify"]);
    add_release(w, 3, "1.1", &[]);
    let names = target_names(&published_targets(w));
    assert_eq!(
        names,
        ["my_app-1.0.tar.gz", "my_app-1.1.patch", "my_app-1.1.tar.gz"]
    );
}

#[test]
fn verify_reports_missing_corrupt_and_expired() {
    let work = init_repo(&[]);
    let w = work.path();
    add_release(w, 1, "1.0", &[]);
    add_release(w, 2, "1.1", &[]);
    ok(w, &["verify"]);
    let targets = w.join("repository/targets");
    let archive = std::fs::read_dir(&targets)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with("my_app-1.0.tar.gz"))
        .unwrap();
    std::fs::remove_file(&archive).unwrap();
    // The patch keeps its length with one byte changed; the 1.1 archive grows by one byte.
    let published = |suffix: &str| {
        std::fs::read_dir(&targets)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.to_string_lossy().ends_with(suffix))
            .unwrap()
    };
    let patch = published("my_app-1.1.patch");
    let mut bytes = std::fs::read(&patch).unwrap();
    bytes[0] ^= 0xff;
    std::fs::write(&patch, bytes).unwrap();
    let archive = published("my_app-1.1.tar.gz");
    let mut bytes = std::fs::read(&archive).unwrap();
    bytes.push(0);
    std::fs::write(&archive, bytes).unwrap();
    ok(w, &["sign", "timestamp", "--expires-in", "1s"]);
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let out = run(w, &["verify"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("target my_app-1.0.tar.gz is listed but cannot be found"),
        "{stdout}"
    );
    assert!(stdout.contains("timestamp expired"), "{stdout}");
    assert!(
        stdout.lines().any(|l| l.contains("my_app-1.1.patch")
            && l.contains("does not match its signed hash")),
        "{stdout}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.contains("my_app-1.1.tar.gz") && l.contains("more than the signed length")),
        "{stdout}"
    );
    let problems = stdout
        .lines()
        .filter(|l| l.starts_with("problem: "))
        .count();
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("error[verify-failed]: {problems} problem(s) in ./repository\n")
    );
}

#[test]
fn zstd_archives_and_normalised_versions() {
    let work = init_repo(&["--compression", "zstd"]);
    let w = work.path();
    add_release(w, 1, "1.0", &[]);
    // `2.0-rc1` is PEP 440 for `2.0rc1`; the published name uses the normal form.
    add_release(w, 2, "2.0-rc1", &[]);
    let names = target_names(&published_targets(w));
    assert_eq!(
        names,
        [
            "my_app-1.0.tar.zst",
            "my_app-2.0rc1.patch",
            "my_app-2.0rc1.tar.zst"
        ]
    );
    ok(w, &["verify"]);
}

#[test]
fn expiry_alerts_and_renew_re_signs_what_expires_soon() {
    let work = init_repo(&[]);
    let w = work.path();
    add_release(w, 1, "1.0", &[]);
    // Fresh metadata: the one-day timestamp is not within the default 12 hours.
    let fresh = ok(w, &["expiry"]);
    assert_eq!(fresh.lines().count(), 4, "{fresh}");
    assert_eq!(ok(w, &["renew"]).trim(), "nothing to renew");

    // A timestamp signed for one hour: `expiry` fails with its own kind, `renew` fixes it.
    ok(w, &["sign", "timestamp", "--expires-in", "1h"]);
    let out = run(w, &["expiry"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("error[expiring]: "), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("EXPIRES SOON"));
    let renewed = ok(w, &["renew"]);
    assert!(renewed.starts_with("renewed timestamp"), "{renewed}");
    ok(w, &["expiry"]);

    // A snapshot expiring within a wider threshold: renewed with the timestamp that hashes it.
    ok(w, &["sign", "snapshot", "--expires-in", "2d"]);
    let out = run(w, &["expiry", "--within", "3d"]);
    assert_eq!(out.status.code(), Some(1));
    let renewed = ok(w, &["renew", "--within", "3d"]);
    assert!(
        renewed.starts_with("renewed snapshot, timestamp"),
        "{renewed}"
    );
    ok(w, &["verify"]);
}
