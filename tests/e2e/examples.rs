//! Both example apps (`examples/`) end to end, and the Python client module
//! (`clients/python/tufd_client.py`) on the system Python with no extra packages.
//!
//! For each app: `tufd-repo` publishes 1.0 (the bundle ships `1.root.json`), nginx serves it,
//! 1.0 is "installed" by copying its bundle; the app's first run finds nothing newer; 1.1 is
//! published; the second run shows the plan and progress, installs (`--yes`), exits, and tufd
//! swaps the folder and relaunches the app at 1.1, which greets on stderr. The install folder
//! must then be the 1.1 bundle exactly, reached by the patch alone (the app must not dirty its
//! own folder, e.g. with `__pycache__`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tufd_tests::support::apps::{GroupChild, rust_example_app, system_python};
use tufd_tests::support::bins::{self, workspace_root};
use tufd_tests::support::nginx::Nginx;
use tufd_tests::support::process::run;
use tufd_tests::support::repo::Repo;
use tufd_tests::support::tree::assert_same_tree;
use tufd_tests::support::{copy_tree, file_url, wait_for};

const APP_RUN: Duration = Duration::from_secs(300);

/// One example app: how to build its bundle and how to start it.
trait ExampleApp {
    /// The app name published (`tufd-repo init --app-name`).
    fn name(&self) -> &'static str;
    /// Writes the bundle of `version` into `out`, shipping `root`.
    fn bundle(&self, version: &str, out: &Path, root: &Path);
    /// The command that starts the app installed in `install`.
    fn command(&self, install: &Path) -> Command;
}

struct PythonApp;

impl ExampleApp for PythonApp {
    fn name(&self) -> &'static str {
        "hello_py"
    }

    fn bundle(&self, version: &str, out: &Path, root: &Path) {
        let script = workspace_root().join("examples/python-app/make_bundle.sh");
        run(
            Command::new("sh")
                .arg(script)
                .arg(version)
                .arg(out)
                .arg(root),
            Duration::from_secs(60),
        )
        .assert_success();
    }

    fn command(&self, install: &Path) -> Command {
        let mut cmd = Command::new(system_python());
        // Isolated mode: no user site-packages, no PYTHON* variables — standard library only.
        cmd.arg("-I").arg(install.join("hello_app.py"));
        cmd
    }
}

struct RustApp(PathBuf);

impl ExampleApp for RustApp {
    fn name(&self) -> &'static str {
        "hello_rs"
    }

    fn bundle(&self, version: &str, out: &Path, root: &Path) {
        std::fs::create_dir_all(out.join("bin")).expect("mkdir bin");
        std::fs::copy(&self.0, out.join("bin/hello_rs")).expect("copy hello_rs");
        std::fs::write(out.join("VERSION"), format!("{version}\n")).expect("VERSION");
        std::fs::copy(root, out.join("1.root.json")).expect("copy root");
    }

    fn command(&self, install: &Path) -> Command {
        Command::new(install.join("bin/hello_rs"))
    }
}

/// Publish 1.0, install, run (up to date), publish 1.1, run (update, relaunch at 1.1).
fn update_end_to_end(app: &dyn ExampleApp) {
    let tmp = tempfile::Builder::new()
        .prefix("tufd-example-")
        .tempdir()
        .expect("tempdir");
    let root = tmp.path();
    let repo = Repo::init(&root.join("repo"), app.name());
    let bundle = |version: &str| {
        let dir = root.join(format!("bundle-{version}"));
        app.bundle(version, &dir, &repo.root_json());
        dir
    };
    let v1 = bundle("1.0");
    repo.add(&v1, "1.0", &[]);
    let nginx = Nginx::start(&repo.repository());
    let install = root.join("install");
    copy_tree(&v1, &install);
    let data = root.join("data");

    let start = |run_name: &str| {
        let mut cmd = app.command(&install);
        cmd.args(["--yes", "--server", &nginx.base_url(), "--data-dir"])
            .arg(&data)
            .arg("--tufd")
            .arg(bins::tufd())
            .current_dir(root)
            .env("RUST_LOG", "info");
        GroupChild::spawn(&mut cmd, &root.join(run_name))
    };

    // First run: nothing newer.
    let mut first = start("run-1");
    assert!(first.wait(APP_RUN).success(), "{}", first.report());
    let out = first.stdout();
    assert!(
        out.contains(&format!("{} 1.0: hello!", app.name())),
        "{}",
        first.report()
    );
    assert!(out.contains("1.0 is up to date"), "{}", first.report());

    // Second run after publishing 1.1: update, exit, relaunch.
    let v2 = bundle("1.1");
    repo.add(&v2, "1.1", &[]);
    let requests_before = nginx.access_log().len();
    let mut second = start("run-2");
    assert!(second.wait(APP_RUN).success(), "{}", second.report());
    let out = second.stdout();
    assert!(
        out.contains("update available: 1.0 -> 1.1"),
        "{}",
        second.report()
    );
    assert!(
        out.contains("(100%)"),
        "no progress shown: {}",
        second.report()
    );
    assert!(out.contains("installing 1.1"), "{}", second.report());
    let greeting = format!("{} 1.1: hello! (relaunched after the update)", app.name());
    let relaunched = wait_for(Duration::from_secs(120), || {
        second.stderr().contains(&greeting).then_some(())
    });
    let tufd_log = std::fs::read_to_string(data.join("tufd.log")).unwrap_or_default();
    assert!(
        relaunched.is_some(),
        "no relaunch at 1.1: {}\n--- tufd.log ---\n{tufd_log}",
        second.report()
    );
    assert_eq!(
        std::fs::read_to_string(install.join("VERSION"))
            .expect("VERSION")
            .trim(),
        "1.1"
    );
    assert_same_tree(&v2, &install);

    // The update went over the patch alone: the app left its folder as installed.
    let targets: Vec<String> = nginx.access_log()[requests_before..]
        .iter()
        .filter(|e| e.is_target())
        .map(|e| e.file_name().to_owned())
        .collect();
    assert!(
        targets.iter().any(|t| t.ends_with("-1.1.patch")),
        "no patch downloaded: {targets:?}"
    );
    assert!(
        !targets.iter().any(|t| t.ends_with(".tar.gz")),
        "the full archive was downloaded: {targets:?}\n--- tufd.log ---\n{tufd_log}"
    );
}

#[test]
fn python_example_app_updates_and_relaunches() {
    update_end_to_end(&PythonApp);
}

#[test]
fn rust_example_app_updates_and_relaunches() {
    update_end_to_end(&RustApp(rust_example_app()));
}

/// The client module's API against the real sidecar, on the system Python in isolated mode.
const PYTHON_CLIENT_CHECK: &str = r#"
import sys, threading
sys.path.insert(0, sys.argv[1])
from tufd_client import Tufd, TufdError, sidecar_args, METHOD_NOT_FOUND, UPDATE_ERROR

tufd, install, data, meta, targets, root = sys.argv[2:8]
notes = []
lock = threading.Lock()
def on_note(method, params):
    with lock:
        notes.append((method, params))

args = sidecar_args(app_name="demo", current_version="1.0", install_dir=install, data_dir=data,
                    metadata_url=meta, targets_url=targets, trusted_root=root, poll_interval=0)
client = Tufd(args, tufd=tufd, on_notification=on_note)
status = client.status()
assert status["current"] == "1.0" and status["state"] == "idle", status
try:
    client.request("fly", timeout=30)
    raise SystemExit("fly did not fail")
except TufdError as e:
    assert e.code == METHOD_NOT_FOUND, (e.code, e.message, e.kind)
report = client.check(timeout=120)
assert report["update_available"] and report["latest"] == "2.0", report
staged = client.download(timeout=300)
assert staged == {"version": "2.0", "staged": True}, staged
installed = client.install(timeout=300)
assert installed == {"version": "2.0", "installed": True}, installed
try:
    client.download(timeout=120)
    raise SystemExit("download after install did not fail")
except TufdError as e:
    assert e.code == UPDATE_ERROR and e.kind == "no-update", (e.code, e.message, e.kind)
status = client.shutdown()
assert status == 0, status
with lock:
    methods = [m for m, _ in notes]
    progress = [p for m, p in notes if m == "progress"]
assert "update-available" in methods, methods
assert ("restart-required", {"version": "2.0"}) in notes, notes
assert progress and progress[-1]["done_bytes"] == progress[-1]["total_bytes"], progress
states = [p["state"] for m, p in notes if m == "state"]
assert states.index("checking") < states.index("staged") < states.index("done"), states
print("python client ok")
"#;

#[test]
fn python_client_module_works_on_the_system_python() {
    use tufd_tests::support::bundle::SMALL_BLOB_BYTES;
    use tufd_tests::support::fixture::{Fixture, Release};

    let fx = Fixture::publish(
        &[Release::plain("1.0"), Release::plain("2.0")],
        SMALL_BLOB_BYTES / 16,
    );
    let meta = file_url(&fx.repo.metadata_dir());
    let targets = file_url(&fx.repo.targets_dir());
    let client = fx.install("py-client", "1.0", &meta, &targets);
    let script = fx.root().join("check_client.py");
    std::fs::write(&script, PYTHON_CLIENT_CHECK).expect("write script");
    let out = run(
        Command::new(system_python())
            // Isolated (standard library only) and no __pycache__ in the source tree.
            .args(["-I", "-B"])
            .arg(&script)
            .arg(workspace_root().join("clients/python"))
            .arg(bins::tufd())
            .arg(&client.install_dir)
            .arg(&client.data_dir)
            .arg(&meta)
            .arg(&targets)
            .arg(&client.trusted_root)
            .env("RUST_LOG", "warn"),
        Duration::from_secs(600),
    );
    out.assert_success();
    assert!(out.stdout.contains("python client ok"), "{out}");
    assert_same_tree(&fx.bundle("2.0"), &client.install_dir);
}
