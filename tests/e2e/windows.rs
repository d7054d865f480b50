//! The cross-built `tufd.exe` under Wine (issue "Windows for real"): the host `tufd-repo`
//! publishes releases 1.0 and 2.0 of a Windows app (`app.exe` built from
//! `tests/windows/app.c` with mingw-w64, plus a `data/` folder), nginx serves them, and
//! `tufd.exe` updates an installed copy, given `Z:\…` paths. One test per Windows behaviour:
//! the patch path, waiting for the running app and relaunching it, the sidecar shipped inside
//! the bundle handing off its own replacement, a refused folder swap rolled back, and the
//! `windows-locked-exe` hook replacing a running exe.
//!
//! The tools are found by `support::wine` (which says what is missing and skips, or fails with
//! `TUFD_REQUIRE_WINE=1` as scripts/test.sh sets). Each test has its own temp folder, nginx and
//! Wine prefix; `wineserver -k` ends whatever still runs in the prefix when the test ends.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tufd_tests::support::bundle;
use tufd_tests::support::nginx::Nginx;
use tufd_tests::support::process::ChildGuard;
use tufd_tests::support::repo::Repo;
use tufd_tests::support::tree::assert_same_tree;
use tufd_tests::support::wait_for;
use tufd_tests::support::wine::{self, Toolchain, WinClient, Wine, win_path};

/// The app name of the Windows repositories.
const APP: &str = "winapp";
/// Size of the pseudo-random `data/blob.bin`: random bytes do not compress, so the archive is
/// at least this large while the patch stays small.
const BLOB_BYTES: usize = 256 << 10;
/// How long a Wine program may take to get somewhere (a debug `tufd.exe` is slow to start).
const LONG: Duration = Duration::from_secs(240);

/// One scenario: bundles 1.0 and 2.0 published and served, 1.0 installed by copying its
/// bundle, a Wine prefix.
struct Scenario {
    // Dropped first: its processes end before the folders they use are removed.
    wine: Wine,
    nginx: Nginx,
    repo: Repo,
    client: WinClient,
    tmp: tempfile::TempDir,
}

impl Scenario {
    /// Sets up a scenario, or `None` when the Windows tools are missing (one line printed).
    /// With `ship_tufd`, both bundles carry `tufd.exe` (stripped of its debug information).
    fn new(ship_tufd: bool) -> Option<Self> {
        let tools = wine::toolchain()?;
        let tmp = tempfile::Builder::new()
            .prefix("tufd-win-")
            .tempdir()
            .expect("tempdir");
        let repo = Repo::init(&tmp.path().join("repo"), APP);
        for version in ["1.0", "2.0"] {
            let dir = tmp.path().join("bundles").join(version);
            write_bundle(tools, &dir, version, ship_tufd);
            let start = Instant::now();
            repo.add(&dir, version, &[]);
            println!(
                "published {version} in {:.1} s",
                start.elapsed().as_secs_f64()
            );
        }
        let nginx = Nginx::start(&repo.repository());
        let client_root = tmp.path().join("client");
        let client = WinClient {
            app: APP.to_owned(),
            current: "1.0".to_owned(),
            install_dir: client_root.join("install"),
            data_dir: client_root.join("data"),
            metadata_url: nginx.metadata_url(),
            targets_url: nginx.targets_url(),
            trusted_root: repo.root_json(),
            extra: Vec::new(),
        };
        tufd_tests::support::copy_tree(&tmp.path().join("bundles/1.0"), &client.install_dir);
        std::fs::create_dir_all(tmp.path().join("run")).expect("create run folder");
        let wine = Wine::new(tools, tmp.path());
        Some(Self {
            wine,
            nginx,
            repo,
            client,
            tmp,
        })
    }

    fn tools(&self) -> &'static Toolchain {
        self.wine.tools()
    }

    fn bundle(&self, version: &str) -> PathBuf {
        self.tmp.path().join("bundles").join(version)
    }

    /// A path in `<tmp>/run/`, outside the install folder (pid files, stop files, logs).
    fn run_file(&self, name: &str) -> PathBuf {
        self.tmp.path().join("run").join(name)
    }

    /// The backup of `version`: beside the install folder (where tufd keeps it when it cannot
    /// tell whether the data folder is on the same volume), or in the data folder.
    fn backup_of(&self, version: &str) -> PathBuf {
        let name = format!("{APP}-{version}");
        let sibling = PathBuf::from(format!("{}.tufd-backup", self.client.install_dir.display()));
        if sibling.join(&name).is_dir() {
            sibling.join(name)
        } else {
            self.client.data_dir.join("backup").join(name)
        }
    }

    /// `app.exe --version` of the installed app, under Wine.
    fn installed_version(&self) -> String {
        let out = self
            .wine
            .run(&self.client.install_dir.join("app.exe"), &["--version"]);
        out.assert_success();
        out.stdout.trim().to_owned()
    }

    /// Starts the installed `app.exe --run PIDFILE STOPFILE` and returns it, its Windows
    /// process id and the stop file that ends it.
    fn start_app(&self) -> (ChildGuard, u32, PathBuf) {
        let pidfile = self.run_file("app.pid");
        let stop = self.run_file("app.stop");
        let mut cmd = self.wine.command(&self.client.install_dir.join("app.exe"));
        cmd.args(["--run", &win_path(&pidfile), &win_path(&stop)]);
        let mut app = self.wine.spawn(cmd, &self.run_file("app.log"));
        let pid = wait_for(LONG, || {
            let text = std::fs::read_to_string(&pidfile).ok()?;
            text.trim().parse::<u32>().ok()
        })
        .unwrap_or_else(|| panic!("the app wrote no pid; exited: {:?}", app.try_status()));
        (app, pid, stop)
    }

    /// `--relaunch` making the new version append its version to `<run>/relaunched.txt`.
    fn relaunch_flag(&self) -> [String; 2] {
        [
            "--relaunch".to_owned(),
            format!(
                "app.exe --record {}",
                win_path(&self.run_file("relaunched.txt"))
            ),
        ]
    }

    /// Waits until the relaunched app recorded `version`.
    fn assert_relaunched(&self, version: &str, context: &dyn Fn() -> String) {
        let file = self.run_file("relaunched.txt");
        let seen = wait_for(LONG, || {
            let text = std::fs::read_to_string(&file).ok()?;
            text.lines().any(|l| l == version).then_some(text)
        });
        assert!(
            seen.is_some(),
            "no relaunch of {version} recorded in {}: {:?}\n{}",
            file.display(),
            std::fs::read_to_string(&file).ok(),
            context()
        );
    }

    /// `tufd.exe status --json` succeeds and reports `current`.
    fn assert_status(&self, current: &str) {
        let out = self.client.run(&self.wine, &["status", "--json"], &[]);
        out.assert_success();
        let status: serde_json::Value = serde_json::from_str(out.stdout.trim())
            .unwrap_or_else(|e| panic!("status --json is not JSON ({e}): {out}"));
        assert_eq!(status["current"], current, "{out}");
    }
}

/// A bundle: `app.exe` of `version`, `data/readme.txt`, `data/blob.bin` (changes a little per
/// version) and, with `ship_tufd`, `tufd.exe`. Modes are what Wine gives the files it creates
/// (the umask applied to 0o777 for `.exe` files, as the linker's output has, to 0o666 for the
/// rest), so that an installed tree compares equal, mode bits included.
fn write_bundle(tools: &Toolchain, dir: &Path, version: &str, ship_tufd: bool) {
    std::fs::create_dir_all(dir.join("data")).expect("create bundle");
    let copy = |from: &Path, name: &str| {
        std::fs::copy(from, dir.join(name))
            .unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
    };
    copy(&tools.app_exe(version), "app.exe");
    if ship_tufd {
        copy(tools.tufd_exe_stripped(), "tufd.exe");
    }
    std::fs::write(dir.join("data/readme.txt"), format!("{APP} {version}\r\n"))
        .expect("write readme");
    std::fs::write(dir.join("data/blob.bin"), bundle::blob(version, BLOB_BYTES))
        .expect("write blob");
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Waits until `log` contains `needle`; panics with the log otherwise.
fn wait_for_line(log: &Path, needle: &str, child: &mut ChildGuard) {
    let found = wait_for(LONG, || {
        if read(log).contains(needle) {
            return Some(true);
        }
        child.try_status().map(|_| false)
    });
    if found != Some(true) {
        let status = child.try_status();
        panic!(
            "`{needle}` never appeared ({} exited: {status:?}):\n{}",
            child.name(),
            read(log)
        );
    }
}

/// `tufd.exe check` plans the 2.0 patch, `tufd.exe update --yes` fetches that patch and no
/// archive (the base tar rebuilt from the install folder on Windows must hash as signed), and
/// the install folder becomes the 2.0 bundle, whose `app.exe` says 2.0.
#[test]
fn windows_update_applies_the_patch_not_the_archive() {
    let Some(s) = Scenario::new(false) else {
        return;
    };
    let start = Instant::now();
    let patch = s.repo.target_len("winapp-2.0.patch");
    let archive = s.repo.target_len("winapp-2.0.tar.gz");
    assert!(
        patch < archive,
        "patch {patch} B not smaller than archive {archive} B"
    );
    assert_eq!(s.installed_version(), "1.0");

    let out = s.client.run(&s.wine, &["check", "--json"], &[]);
    out.assert_success();
    let check: serde_json::Value = serde_json::from_str(out.stdout.trim())
        .unwrap_or_else(|e| panic!("check --json is not JSON ({e}): {out}"));
    assert_eq!(check["latest"], "2.0", "{check}");
    assert_eq!(
        check["plan"]["patches"],
        serde_json::json!(["winapp-2.0.patch"]),
        "{check}"
    );

    let before = s.nginx.access_log().len();
    let out = s.client.run(&s.wine, &["update", "--yes"], &[]);
    out.assert_success();
    assert_same_tree(&s.bundle("2.0"), &s.client.install_dir);
    assert_eq!(s.installed_version(), "2.0");

    let log = s.nginx.access_log();
    let targets: Vec<_> = log[before..]
        .iter()
        .filter(|e| e.is_target() && e.method == "GET")
        .collect();
    assert!(
        targets
            .iter()
            .any(|e| e.path.ends_with(".winapp-2.0.patch")),
        "the patch was never fetched: {targets:#?}\n{out}"
    );
    assert!(
        targets.iter().all(|e| !e.path.contains(".tar.")),
        "an archive was fetched: {targets:#?}\n{out}"
    );
    println!(
        "update under Wine took {:.1} s ({} B patch instead of {archive} B archive); test body {:.1} s",
        out.elapsed.as_secs_f64(),
        patch,
        start.elapsed().as_secs_f64()
    );
}

/// With `--app-pid` of the running app, `tufd.exe update` stages 2.0 but does not swap while
/// the app runs (the install folder stays the 1.0 bundle); once the app exits it swaps and
/// `--relaunch` starts the new `app.exe`, which records 2.0.
#[test]
fn windows_update_waits_for_the_running_app_then_relaunches_the_new_version() {
    let Some(s) = Scenario::new(false) else {
        return;
    };
    let (mut app, pid, stop) = s.start_app();
    let log = s.run_file("tufd.log");
    let mut more = vec!["--app-pid".to_owned(), pid.to_string()];
    more.extend(s.relaunch_flag());
    let more: Vec<&str> = more.iter().map(String::as_str).collect();
    let mut tufd = s
        .wine
        .spawn(s.client.command(&s.wine, &["update", "--yes"], &more), &log);
    wait_for_line(&log, "waiting for the app to exit", &mut tufd);

    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        tufd.try_status().is_none(),
        "tufd.exe ended while the app runs:\n{}",
        read(&log)
    );
    assert_same_tree(&s.bundle("1.0"), &s.client.install_dir);

    std::fs::write(&stop, b"").expect("write stop file");
    assert!(app.wait_timeout(LONG).is_some(), "the app did not stop");
    let status = tufd.wait_timeout(LONG);
    assert!(
        status.is_some_and(|s| s.success()),
        "tufd.exe update: {status:?}\n{}",
        read(&log)
    );
    s.assert_relaunched("2.0", &|| read(&log));
    assert_same_tree(&s.bundle("2.0"), &s.client.install_dir);
}

/// The app ships `tufd.exe` inside its install folder and runs it as its sidecar
/// (`app.exe --sidecar`: `install` request, then the app exits): tufd cannot replace the exe
/// it runs from, so it hands off to a copy of itself outside the install folder, which swaps
/// once the app and the sidecar have exited; the relaunched app records 2.0, the install
/// folder is the 2.0 bundle (its `tufd.exe` included) and no Wine process is left running.
#[test]
fn windows_sidecar_inside_the_bundle_hands_off_and_installs_itself() {
    let Some(s) = Scenario::new(true) else {
        return;
    };
    let mut args = s.client.flags();
    let relaunch = s.relaunch_flag();
    args.push(relaunch[0].clone());
    args.push(format!("\"{}\"", relaunch[1]));
    let args = args.join(" ");
    let app_log = s.run_file("app.log");
    let mut cmd = s.wine.command(&s.client.install_dir.join("app.exe"));
    cmd.args(["--sidecar", &win_path(&s.run_file("app.pid")), &args])
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1");
    let mut app = s.wine.spawn(cmd, &app_log);
    let status = app.wait_timeout(LONG);
    assert!(
        status.is_some_and(|s| s.success()),
        "app.exe --sidecar: {status:?}\n{}",
        read(&app_log)
    );
    assert!(
        read(&app_log).contains("\"installing\""),
        "the sidecar never reported `installing`:\n{}",
        read(&app_log)
    );
    // Wine, unlike Windows, would let the sidecar rename the folder its exe runs from, so the
    // hand-off shows only in its traces: the helper copy's log (docs/architecture.md, "Where
    // tufd runs from").
    let helper_log = s.client.data_dir.join("helper/finish-install.log");
    let context = || {
        format!(
            "--- app.exe --sidecar ---\n{}\n--- {} ---\n{}",
            read(&app_log),
            helper_log.display(),
            read(&helper_log)
        )
    };
    s.assert_relaunched("2.0", &context);
    assert!(
        s.wine.wait_idle(LONG),
        "Wine processes still running after the hand-off:\n{}",
        context()
    );
    assert!(
        helper_log.is_file(),
        "no helper copy of tufd.exe finished the install:\n{}",
        context()
    );
    assert_same_tree(&s.bundle("2.0"), &s.client.install_dir);
    assert_eq!(s.installed_version(), "2.0");
}

/// Step 2 of the install (staging → install) fails for real: another process holds the
/// staging folder open without `FILE_SHARE_DELETE`, so Windows (and Wine) refuse to rename it.
/// (Wine does not refuse the rename when only a file *inside* the folder is held, as Windows
/// would, hence the folder itself.) `tufd.exe update` exits non-zero with the install folder
/// exactly the 1.0 bundle again, `tufd.exe status` still answers, and once the folder is
/// released the next `tufd.exe update` installs 2.0.
#[test]
fn windows_swap_refused_by_a_held_staging_folder_rolls_back_and_the_next_update_succeeds() {
    let Some(s) = Scenario::new(false) else {
        return;
    };
    let (mut app, pid, stop) = s.start_app();
    let log = s.run_file("tufd.log");
    let pid = pid.to_string();
    let mut tufd = s.wine.spawn(
        s.client
            .command(&s.wine, &["update", "--yes"], &["--app-pid", &pid]),
        &log,
    );
    wait_for_line(&log, "waiting for the app to exit", &mut tufd);

    // The staged 2.0: beside the install folder, or in the data folder.
    let sibling = PathBuf::from(format!("{}.tufd-staging", s.client.install_dir.display()));
    let staging = if sibling.is_dir() {
        sibling
    } else {
        s.client.data_dir.join("staging")
    };
    assert!(
        staging.join("app.exe").is_file(),
        "no staged app.exe in {}:\n{}",
        staging.display(),
        read(&log)
    );
    let hold_log = s.run_file("hold.log");
    let release = s.run_file("hold.stop");
    let mut hold_cmd = s.wine.command(&s.tools().app_exe("1.0"));
    hold_cmd.args(["--hold", &win_path(&staging), &win_path(&release)]);
    let mut holder = s.wine.spawn(hold_cmd, &hold_log);
    wait_for_line(&hold_log, "held", &mut holder);

    std::fs::write(&stop, b"").expect("write stop file");
    assert!(app.wait_timeout(LONG).is_some(), "the app did not stop");
    let status = tufd
        .wait_timeout(LONG)
        .unwrap_or_else(|| panic!("tufd.exe update hangs:\n{}", read(&log)));
    // `tufd --help`: exit status 1 and one line `error[<kind>]: <message>` on stderr.
    assert_eq!(
        status.code(),
        Some(1),
        "tufd.exe update did not fail as documented though the staging folder was held:\n{}",
        read(&log)
    );
    assert!(
        read(&log).contains("error[install-failed]"),
        "no install-failed error line:\n{}",
        read(&log)
    );
    println!("the refused swap, as tufd.exe logged it:\n{}", read(&log));
    assert_same_tree(&s.bundle("1.0"), &s.client.install_dir);
    assert_eq!(s.installed_version(), "1.0");
    s.assert_status("1.0");

    std::fs::write(&release, b"").expect("write release file");
    assert!(
        holder.wait_timeout(LONG).is_some(),
        "the holder did not stop"
    );
    let out = s.client.run(&s.wine, &["update", "--yes"], &[]);
    out.assert_success();
    assert_same_tree(&s.bundle("2.0"), &s.client.install_dir);
    assert_eq!(s.installed_version(), "2.0");
}

/// The `windows-locked-exe` hook (examples/hooks) installs while the app keeps running: the
/// running `app.exe` is renamed aside, the 2.0 files move in, the relaunched app records 2.0,
/// and `app.exe.old` leaves the install folder (to the backup) when the install completes,
/// the old process still running.
#[test]
fn windows_locked_exe_hook_replaces_the_running_exe() {
    let Some(mut s) = Scenario::new(false) else {
        return;
    };
    let hook = s.run_file("windows_locked_exe.wasm");
    std::fs::copy(tufd_testkit::hooks::hook("windows-locked-exe"), &hook).expect("copy hook");
    s.client.extra = vec![
        "--hook".to_owned(),
        win_path(&hook),
        "--hook-timeout-ms".to_owned(),
        "20000".to_owned(),
    ];
    let (mut app, _pid, stop) = s.start_app();
    let relaunch = s.relaunch_flag();
    let out = s.client.run(
        &s.wine,
        &["update", "--yes"],
        &[relaunch[0].as_str(), relaunch[1].as_str()],
    );
    out.assert_success();
    // The only outside sign of whose plan ran (the native plan would also end in 2.0 here).
    assert!(
        out.stderr.contains("hook=true"),
        "the hook's plan did not run: {out}"
    );
    assert!(
        app.try_status().is_none(),
        "the old app stopped during the install: {out}"
    );
    s.assert_relaunched("2.0", &|| out.to_string());
    assert!(
        !s.client.install_dir.join("app.exe.old").exists(),
        "app.exe.old left in the install folder: {out}"
    );
    assert_same_tree(&s.bundle("2.0"), &s.client.install_dir);
    assert_eq!(s.installed_version(), "2.0");
    // The backup holds 1.0 whole: its other files moved first, `app.exe.old` last.
    assert_same_tree(&s.bundle("1.0"), &s.backup_of("1.0"));
    std::fs::write(&stop, b"").expect("write stop file");
    assert!(app.wait_timeout(LONG).is_some(), "the old app did not stop");
}
