//! Never a broken install (docs/architecture.md, "Design rules", "Never a half install"): the
//! v1 → v2 update is crashed at every named crash point and killed with SIGKILL at random
//! instants, and after each crash a restarted daemon must find the install folder whole.
//!
//! - Crash points: `tufd-faults` (the daemon built with the `fault-injection` feature, built
//!   here once) first runs the update with `TUFD_FAULT_LIST` to learn the points one update
//!   passes; then the update runs once per point with `TUFD_FAULT_AT=<n>`, which aborts the
//!   process there (`abort()`: as abrupt as a power cut for the files we write, since every
//!   durable step is fsync'd).
//! - Random kills: the real `tufd update --yes` is killed with SIGKILL after a random delay
//!   spread over a clean update's duration (download, patching, extraction, swap), with a
//!   seeded generator (`TUFD_CRASH_SEED` to replay).
//!
//! After every crash: the install folder is v1, v2, or (only between the two renames of the
//! swap, with the journal present) absent; `tufd status` (recovery only) must leave it
//! byte-identical to v1 or v2 with a working `bin/demo-app --version`; `tufd update --yes` must
//! then finish at v2. The counts of runs and outcomes are printed.
//!
//! Runs: one per crash point plus `TUFD_CRASH_RUNS` random kills (default 200); the repository
//! is a `file://` folder and the bundles are small (64 KiB blob), so one run (crash, restart,
//! update) takes about 0.2 s.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tufd_tests::support::bins;
use tufd_tests::support::daemon::{Client, DAEMON_TIMEOUT, VersionSource};
use tufd_tests::support::fixture::{Fixture, Release};
use tufd_tests::support::process::{ChildGuard, run};
use tufd_tests::support::{file_url, tree};

/// Size of the bundles' data blob (bytes): small, so that one run is quick.
const BLOB_BYTES: usize = 64 * 1024;

/// Random kills unless `TUFD_CRASH_RUNS` says otherwise (the crash points come on top).
const DEFAULT_RUNS: usize = 200;

/// The `tufd-faults` binary, built once per test process next to `tufd`.
fn faults_tufd() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let dir = bins::bin_dir();
        let path = dir.join("tufd-faults");
        if std::env::var_os("TUFD_E2E_NO_BUILD").is_none()
            && std::env::var_os("TUFD_BIN_DIR").is_none()
        {
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let mut cmd = Command::new(cargo);
            cmd.current_dir(bins::workspace_root()).args([
                "build",
                "-p",
                "tufd",
                "--features",
                "fault-injection",
                "--bin",
                "tufd-faults",
            ]);
            if dir.file_name().is_some_and(|n| n == "release") {
                cmd.arg("--release");
            }
            if let Some(target) = dir.parent() {
                cmd.env("CARGO_TARGET_DIR", target);
            }
            let out = run(&mut cmd, Duration::from_secs(1800));
            assert!(out.status.success(), "building tufd-faults failed: {out}");
        }
        assert!(path.is_file(), "{} missing", path.display());
        path
    })
}

/// SplitMix64: seeded, so a failing run can be replayed.
use tufd_testkit::rng::SplitMix64 as Rng;

/// What the install folder holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Tree {
    V1,
    V2,
    /// Missing (between the two renames of the swap).
    Absent,
}

/// The scenario: v1 and v2 published in a `file://` repository.
struct Scenario {
    fx: Fixture,
    runs: usize,
}

impl Scenario {
    fn new() -> Self {
        let fx = Fixture::publish(&[Release::plain("1.0"), Release::plain("2.0")], BLOB_BYTES);
        Self { fx, runs: 0 }
    }

    /// A fresh client: v1 copied into `install/`, empty data folder, version read from the
    /// installed `VERSION` file (so a restart sees what is really installed).
    fn client(&mut self, label: &str) -> Client {
        self.runs += 1;
        let repo = &self.fx.repo;
        let mut client = self.fx.install(
            &format!("{label}-{}", self.runs),
            "1.0",
            &file_url(&repo.metadata_dir()),
            &file_url(&repo.targets_dir()),
        );
        client.version = VersionSource::File("VERSION".into());
        client
    }

    fn tree_of(&self, client: &Client) -> Tree {
        let dir = &client.install_dir;
        if !dir.exists() {
            return Tree::Absent;
        }
        if tree::diff(&self.fx.bundle("1.0"), dir).is_empty() {
            Tree::V1
        } else if tree::diff(&self.fx.bundle("2.0"), dir).is_empty() {
            Tree::V2
        } else {
            panic!(
                "{} is a mix of v1 and v2:\n  vs v1: {:?}\n  vs v2: {:?}",
                dir.display(),
                tree::diff(&self.fx.bundle("1.0"), dir),
                tree::diff(&self.fx.bundle("2.0"), dir)
            )
        }
    }

    /// After a crash: checks the folder, restarts the daemon (`status`: recovery only), checks
    /// again, then updates to the end. Returns (after the crash, after recovery).
    fn verify(&self, client: &Client, what: &str) -> (Tree, Tree) {
        let crashed = self.tree_of(client);
        if crashed == Tree::Absent {
            assert!(
                client.data_dir.join("journal.json").exists(),
                "{what}: install folder missing and no journal to recover it"
            );
        }
        let status = run(&mut client.command(&["status", "--json"]), DAEMON_TIMEOUT);
        assert!(status.status.success(), "{what}: restart failed: {status}");
        let recovered = self.tree_of(client);
        assert_ne!(
            recovered,
            Tree::Absent,
            "{what}: recovery left no install folder: {status}"
        );
        let expected = if recovered == Tree::V1 { "1.0" } else { "2.0" };
        assert_eq!(crate::app_version(&client.install_dir), expected, "{what}");
        let json: serde_json::Value = serde_json::from_str(status.stdout.trim())
            .unwrap_or_else(|e| panic!("{what}: status is not JSON ({e}): {status}"));
        assert_eq!(json["current"], expected, "{what}: {json}");

        let update = client.update();
        assert!(
            update.status.success(),
            "{what}: update after restart failed: {update}"
        );
        assert_eq!(self.tree_of(client), Tree::V2, "{what}: {update}");
        assert_eq!(crate::app_version(&client.install_dir), "2.0");
        (crashed, recovered)
    }

    fn faults_command(client: &Client, env: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(faults_tufd());
        cmd.args(["update", "--yes"])
            .args(client.flags())
            .env("RUST_LOG", "warn")
            .env("NO_COLOR", "1");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd
    }

    fn done(&self, client: &Client) {
        if let Some(root) = client.install_dir.parent() {
            let _ = std::fs::remove_dir_all(root);
        }
    }
}

fn total_runs() -> usize {
    std::env::var("TUFD_CRASH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_RUNS)
}

fn print_outcomes(title: &str, outcomes: &BTreeMap<(Tree, Tree), usize>, started: Instant) {
    let runs: usize = outcomes.values().sum();
    println!(
        "{title}: {runs} runs in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    for ((crashed, recovered), n) in outcomes {
        println!("  after crash {crashed:?}, after restart {recovered:?} → updated to v2: {n}");
    }
}

#[test]
fn crash_at_every_fault_point_leaves_v1_or_v2() {
    let started = Instant::now();
    let mut s = Scenario::new();

    // The points one update passes, in order.
    let client = s.client("list");
    let list = s.fx.root().join("fault-points.txt");
    let list_text = list.to_str().expect("utf-8 path").to_owned();
    let out = run(
        &mut Scenario::faults_command(&client, &[("TUFD_FAULT_LIST", &list_text)]),
        DAEMON_TIMEOUT,
    );
    assert!(
        out.status.success(),
        "clean run of tufd-faults failed: {out}"
    );
    assert_eq!(s.tree_of(&client), Tree::V2);
    s.done(&client);
    let points: Vec<String> = std::fs::read_to_string(&list)
        .expect("fault point list")
        .lines()
        .map(|l| l.split_once(' ').map_or(l, |(_, name)| name).to_owned())
        .collect();
    assert!(
        points.len() >= 10,
        "an update passes only {} crash points: {points:?}",
        points.len()
    );
    let mut names: BTreeMap<&str, usize> = BTreeMap::new();
    for p in &points {
        *names.entry(p).or_default() += 1;
    }
    println!("an update passes {} crash points: {names:?}", points.len());

    let mut outcomes = BTreeMap::new();
    let mut aborted = 0;
    for (n, name) in points.iter().enumerate() {
        let at = (n + 1).to_string();
        let client = s.client("point");
        let out = run(
            &mut Scenario::faults_command(&client, &[("TUFD_FAULT_AT", &at)]),
            DAEMON_TIMEOUT,
        );
        // The point list is deterministic for one update, so the abort must happen.
        assert!(
            !out.status.success() && out.code().is_none(),
            "point {at} ({name}) did not abort: {out}"
        );
        aborted += 1;
        let outcome = s.verify(&client, &format!("point {at} ({name})"));
        *outcomes.entry(outcome).or_insert(0) += 1;
        s.done(&client);
    }
    assert_eq!(aborted, points.len());
    print_outcomes("crash points", &outcomes, started);
}

#[test]
fn random_sigkill_during_the_update_leaves_v1_or_v2() {
    let started = Instant::now();
    let mut s = Scenario::new();
    // A clean run's duration spreads the kills over download, patching and install.
    let client = s.client("clean");
    let out = client.update();
    out.assert_success();
    let clean = out.elapsed;
    s.done(&client);

    let seed = std::env::var("TUFD_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x7475_6664_6b69_6c6c_u64);
    let mut rng = Rng(seed);
    // On top of the one run per crash point of the other test.
    let kills = total_runs();
    let window_us = (u64::try_from(clean.as_micros()).unwrap_or(u64::MAX) * 9 / 10).max(1);
    let mut outcomes = BTreeMap::new();
    let mut finished_before_kill = 0;
    for k in 0..kills {
        let client = s.client("kill");
        let delay = Duration::from_micros(rng.next_u64() % window_us);
        let child = client
            .command(&["update", "--yes"])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start tufd update");
        let mut guard = ChildGuard::new(child, "tufd update");
        std::thread::sleep(delay);
        if guard.try_status().is_some() {
            finished_before_kill += 1;
        }
        guard.kill();
        let outcome = s.verify(&client, &format!("kill {k} after {delay:?} (seed {seed})"));
        *outcomes.entry(outcome).or_insert(0) += 1;
        s.done(&client);
    }
    println!(
        "random kills: seed {seed}, clean update {:.0} ms, {finished_before_kill} finished before their kill",
        clean.as_secs_f64() * 1000.0
    );
    print_outcomes("random kills", &outcomes, started);
    assert!(
        outcomes.keys().any(|(crashed, _)| *crashed == Tree::V1),
        "no kill landed before the swap: {outcomes:?}"
    );
}
