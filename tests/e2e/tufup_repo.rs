//! tufd reads a repository made by real tufup 0.10 (the updater tufd succeeds), served by nginx:
//! its root carries legacy securesystemslib key ids (not the sha256 of the key as written), which
//! the TUF specification treats as opaque and tufd's TUF client accepts.
//!
//! tufup comes from a Python venv: `TUFD_TUFUP_PYTHON`, else
//! `<workspace>/bench/.venv/tufup/bin/python` (`bench/run.sh` creates it; or
//! `python3 -m venv V && V/bin/pip install 'tufup==0.10.*'`). Without one the test is skipped with
//! a message, unless `TUFD_REQUIRE_TUFUP=1` makes that a failure.

use std::path::PathBuf;
use std::process::Command;

use tufd_tests::support::bins;
use tufd_tests::support::daemon::DAEMON_TIMEOUT;
use tufd_tests::support::nginx::Nginx;
use tufd_tests::support::process::run;

/// Publishes releases 1.0, 1.1, 2.0 (required) and 2.1 of app `demo` with tufup into
/// `<work>/repository`, then checks that every key id of the root differs from the sha256 of the
/// key's canonical JSON (so the repository really exercises legacy key ids) and prints `legacy`.
const PUBLISH: &str = r#"
import hashlib, json, os, pathlib, sys
from securesystemslib.formats import encode_canonical
from tufup.repo import Repository

work = pathlib.Path(sys.argv[1])
os.chdir(work)
repo = Repository(app_name="demo", repo_dir=work / "repository", keys_dir=work / "keystore")
repo.initialize()
for version, required in [("1.0", False), ("1.1", False), ("2.0", True), ("2.1", False)]:
    bundle = work / "bundles" / version
    bundle.mkdir(parents=True)
    (bundle / "app.txt").write_text(f"demo {version}\n" * 200)
    repo.add_bundle(new_bundle_dir=bundle, new_version=version, required=required)
    repo.publish_changes(private_key_dirs=[work / "keystore"])

root = json.loads((work / "repository" / "metadata" / "root.json").read_text())
for key_id, key in root["signed"]["keys"].items():
    fields = {name: key[name] for name in ("keytype", "scheme", "keyval")}
    computed = hashlib.sha256(encode_canonical(fields).encode()).hexdigest()
    assert computed != key_id, f"key id {key_id} is the sha256 of the key"
print("legacy")
"#;

/// The Python with tufup 0.10, or `None` (after a message) when there is none.
fn tufup_python() -> Option<PathBuf> {
    let python = std::env::var_os("TUFD_TUFUP_PYTHON").map_or_else(
        || bins::workspace_root().join("bench/.venv/tufup/bin/python"),
        PathBuf::from,
    );
    let version = Command::new(&python)
        .args([
            "-c",
            "import importlib.metadata as m; print(m.version('tufup'))",
        ])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned());
    match version {
        Some(v) if v.starts_with("0.10") => Some(python),
        other => {
            let why = format!(
                "no tufup 0.10 in {} (found {other:?}); set TUFD_TUFUP_PYTHON",
                python.display()
            );
            assert!(std::env::var_os("TUFD_REQUIRE_TUFUP").is_none(), "{why}");
            eprintln!("skipped: {why}");
            None
        }
    }
}

#[test]
fn a_tufup_repository_with_legacy_key_ids_is_read() {
    let Some(python) = tufup_python() else {
        return;
    };
    let work = tempfile::Builder::new()
        .prefix("tufd-tufup-")
        .tempdir()
        .expect("tempdir");
    let out = run(
        Command::new(&python).args(["-c", PUBLISH]).arg(work.path()),
        DAEMON_TIMEOUT,
    );
    out.assert_success();
    assert!(out.stdout.contains("legacy"), "{out}");

    let repository = work.path().join("repository");
    let nginx = Nginx::start(&repository);
    let install = work.path().join("install");
    std::fs::create_dir_all(&install).expect("install folder");
    let check = |channel: &str| {
        let out = run(
            Command::new(bins::tufd())
                .args([
                    "check",
                    "--json",
                    "--app-name",
                    "demo",
                    "--current-version",
                    "1.0",
                ])
                .arg("--install-dir")
                .arg(&install)
                .arg("--data-dir")
                .arg(work.path().join("data"))
                .args(["--metadata-url", &nginx.metadata_url()])
                .args(["--targets-url", &nginx.targets_url()])
                .arg("--trusted-root")
                .arg(repository.join("metadata/1.root.json"))
                .args(["--channel", channel]),
            DAEMON_TIMEOUT,
        );
        out.assert_success();
        let report: serde_json::Value =
            serde_json::from_str(out.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
        report
    };
    // The required 2.0 stops the way to 2.1; with an empty data folder there is no base tar to
    // patch, so the full archive.
    for channel in ["stable", "rc"] {
        let report = check(channel);
        assert_eq!(report["update_available"], true, "{report}");
        assert_eq!(report["latest"], "2.0", "{report}");
        assert_eq!(report["plan"]["full"], "demo-2.0.tar.gz", "{report}");
    }
    // The verified metadata was kept as the exact bytes tufup wrote.
    for role in ["root", "timestamp", "snapshot", "targets"] {
        assert_eq!(
            std::fs::read(work.path().join(format!("data/metadata/{role}.json"))).expect("kept"),
            std::fs::read(repository.join(format!("metadata/{role}.json"))).expect("published"),
            "{role}.json"
        );
    }
}
