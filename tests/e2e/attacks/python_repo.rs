//! Metadata attacks on repositories written by python-tuf's Metadata API (an independent writer;
//! `tests/python/attack_repo.py`). Each scenario is a series of complete metadata folders
//! ("stages"): the client trusts stage 1, then the attacker serves stage 2 from the same
//! `file://` URL, and `tufd check` must refuse it with the scenario's error kind, keep its
//! trusted versions and leave the install folder alone.

use std::path::{Path, PathBuf};
use std::process::Command;

use tufd_tests::support::bins;
use tufd_tests::support::bundle::{self, APP, SMALL_BLOB_BYTES};
use tufd_tests::support::daemon::DAEMON_TIMEOUT;
use tufd_tests::support::process::{RunOutput, run};
use tufd_tests::support::python;
use tufd_tests::support::{copy_tree, file_url, tree};

use super::{assert_refused, version_of};

/// One scenario's stages and a client whose repository URL points at `live/`.
struct Scenario {
    tmp: tempfile::TempDir,
}

impl Scenario {
    /// Writes scenario `name` with python-tuf and installs version 1.0 of the demo app.
    #[track_caller]
    fn new(name: &str) -> Self {
        Self::with_args(name, &[])
    }

    /// As [`Self::new`], with further arguments for the script.
    #[track_caller]
    fn with_args(name: &str, extra: &[&Path]) -> Self {
        let tmp = tempfile::Builder::new()
            .prefix("tufd-attack-")
            .tempdir()
            .expect("tempdir");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/attack_repo.py");
        let out = run(
            Command::new(python::tuf7())
                .arg(&script)
                .arg(name)
                .arg(tmp.path().join("stages"))
                .args(extra),
            DAEMON_TIMEOUT,
        );
        out.assert_success();
        bundle::write_bundle(&tmp.path().join("install"), "1.0", SMALL_BLOB_BYTES);
        std::fs::create_dir_all(tmp.path().join("live/targets")).expect("targets folder");
        Self { tmp }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.tmp.path().join(rel)
    }

    /// Serves stage `n` (replacing the live metadata folder).
    #[track_caller]
    fn serve(&self, n: u32) {
        let live = self.path("live/metadata");
        if live.exists() {
            std::fs::remove_dir_all(&live).expect("remove live metadata");
        }
        copy_tree(&self.path(&format!("stages/stage-{n}/metadata")), &live);
    }

    /// Serves stage `n`'s target files too (replacing the live targets folder).
    #[track_caller]
    fn serve_targets(&self, n: u32) {
        let live = self.path("live/targets");
        if live.exists() {
            std::fs::remove_dir_all(&live).expect("remove live targets");
        }
        copy_tree(&self.path(&format!("stages/stage-{n}/targets")), &live);
    }

    /// Runs `tufd update --yes` against the live folders.
    fn update(&self) -> RunOutput {
        let mut cmd = self.command("update");
        cmd.arg("--yes");
        run(&mut cmd, DAEMON_TIMEOUT)
    }

    /// The trusted copy of `file` in the daemon's data folder.
    fn trusted(&self, file: &str) -> PathBuf {
        self.path("data/metadata").join(file)
    }

    /// Runs `tufd check --json` against the live folder.
    fn check(&self) -> RunOutput {
        let mut cmd = self.command("check");
        cmd.arg("--json");
        run(&mut cmd, DAEMON_TIMEOUT)
    }

    /// `tufd <subcommand>` with the client's flags.
    fn command(&self, subcommand: &str) -> Command {
        let mut cmd = Command::new(bins::tufd());
        cmd.args([subcommand, "--app-name", APP, "--current-version", "1.0"])
            .arg("--install-dir")
            .arg(self.path("install"))
            .arg("--data-dir")
            .arg(self.path("data"))
            .arg("--metadata-url")
            .arg(file_url(&self.path("live/metadata")))
            .arg("--targets-url")
            .arg(file_url(&self.path("live/targets")))
            .arg("--trusted-root")
            .arg(self.path("stages/stage-1/metadata/1.root.json"))
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1");
        cmd
    }

    /// Trusts stage 1 (root v1), follows stage 2's root v2, then serves stage 3 and expects
    /// `kind`: the trusted root stays at v2 and the install folder is untouched.
    #[track_caller]
    fn follow_root_2_then_refuse_root_3(&self, kind: &str) {
        self.serve(1);
        self.check().assert_success();
        assert_eq!(version_of(&self.trusted("root.json")), 1);
        self.serve(2);
        let out = self.check();
        out.assert_success();
        assert_eq!(version_of(&self.trusted("root.json")), 2, "{out}");
        let before = tree::snapshot(&self.path("install"));
        self.serve(3);
        assert_refused(&self.check(), kind);
        assert_eq!(version_of(&self.trusted("root.json")), 2);
        assert_eq!(tree::snapshot(&self.path("install")), before);
    }

    /// Trusts stage 1, then serves stage 2 and expects `kind`; the trusted copy of the attacked
    /// role (`role_file`) keeps its version (roles verified before the refusal may move on, as
    /// TUF persists each role once verified).
    #[track_caller]
    fn trust_then_attack(&self, kind: &str, role_file: &str) {
        self.serve(1);
        self.check().assert_success();
        let before_install = tree::snapshot(&self.path("install"));
        let before_metadata = version_of(&self.trusted(role_file));
        self.serve(2);
        assert_refused(&self.check(), kind);
        assert_eq!(
            tree::snapshot(&self.path("install")),
            before_install,
            "install folder changed"
        );
        assert_eq!(
            version_of(&self.trusted(role_file)),
            before_metadata,
            "trusted {role_file} moved to the attacker's version"
        );
    }
}

#[test]
fn timestamp_rollback_is_refused() {
    let s = Scenario::new("rollback-timestamp");
    s.trust_then_attack("metadata-rollback", "timestamp.json");
    assert_eq!(version_of(&s.trusted("timestamp.json")), 3);
}

#[test]
fn snapshot_rollback_is_refused() {
    let s = Scenario::new("rollback-snapshot");
    s.trust_then_attack("metadata-rollback", "timestamp.json");
    assert_eq!(version_of(&s.trusted("snapshot.json")), 2);
}

#[test]
fn targets_rollback_through_a_snapshot_listing_an_older_targets_is_refused() {
    let s = Scenario::new("rollback-targets");
    s.trust_then_attack("metadata-rollback", "snapshot.json");
    assert_eq!(version_of(&s.trusted("targets.json")), 2);
}

#[test]
fn mix_and_match_targets_bytes_are_refused() {
    let s = Scenario::new("mix-and-match");
    // Stage 1 is honest; stage 2 serves targets v1's bytes under 2.targets.json, which the
    // client only fetches on first contact: start from an empty data folder.
    s.serve(2);
    let before = tree::snapshot(&s.path("install"));
    assert_refused(&s.check(), "metadata-invalid");
    assert_eq!(tree::snapshot(&s.path("install")), before);
    assert!(
        !s.trusted("targets.json").exists(),
        "the mismatched targets must not be trusted"
    );
}

#[test]
fn expired_timestamp_is_a_freeze() {
    Scenario::new("freeze-timestamp").trust_then_attack("expired-metadata", "timestamp.json");
}

#[test]
fn expired_snapshot_is_a_freeze() {
    Scenario::new("freeze-snapshot").trust_then_attack("expired-metadata", "snapshot.json");
}

#[test]
fn expired_targets_is_a_freeze() {
    Scenario::new("freeze-targets").trust_then_attack("expired-metadata", "targets.json");
}

#[test]
fn expired_root_is_a_freeze() {
    let s = Scenario::new("freeze-root");
    s.serve(1);
    s.check().assert_success();
    let before = tree::snapshot(&s.path("install"));
    s.serve(2);
    assert_refused(&s.check(), "expired-metadata");
    assert_eq!(tree::snapshot(&s.path("install")), before);
}

#[test]
fn root_rotation_two_of_three_is_followed_and_new_keys_only_is_refused() {
    // v2: three new keys (threshold 2), signed by 2 of the 3 old keys and the new ones; v3
    // signed only by its own new keys: no threshold of v2's keys.
    Scenario::new("rotate-root").follow_root_2_then_refuse_root_3("metadata-invalid");
}

#[test]
fn root_rotation_below_the_old_threshold_is_refused() {
    let s = Scenario::new("rotate-root-below-threshold");
    s.trust_then_attack("metadata-invalid", "root.json");
    assert_eq!(version_of(&s.trusted("root.json")), 1);
}

#[test]
fn a_refused_archive_is_not_downloaded_again_until_the_repository_changes_it() {
    let bundles = tempfile::tempdir().expect("tempdir");
    let fixed = bundles.path().join("2.0");
    bundle::write_bundle(&fixed, "2.0", SMALL_BLOB_BYTES);
    let s = Scenario::with_args("refused-archive", &[&fixed]);
    let before = tree::snapshot(&s.path("install"));
    // Stage 1: the signed archive holds `../evil.txt`; extraction refuses it.
    s.serve(1);
    s.serve_targets(1);
    assert_refused(&s.update(), "install-failed");
    assert_eq!(tree::snapshot(&s.path("install")), before);
    // The archive is gone from the server: a second download would fail differently. The
    // refusal is remembered by its signed digest, so nothing is fetched and the kind is the
    // first refusal's.
    std::fs::remove_dir_all(s.path("live/targets")).expect("remove targets");
    std::fs::create_dir_all(s.path("live/targets")).expect("targets folder");
    assert_refused(&s.update(), "install-failed");
    assert_eq!(tree::snapshot(&s.path("install")), before);
    // Stage 2: the repository signs a fixed archive (other bytes): it is tried, and installs.
    s.serve(2);
    s.serve_targets(2);
    s.update().assert_success();
    tree::assert_same_tree(&fixed, &s.path("install"));
}

#[test]
fn a_root_listing_one_key_under_two_ids_does_not_meet_a_threshold_of_two() {
    let s = Scenario::new("duplicate-key-root");
    s.trust_then_attack("metadata-invalid", "root.json");
    assert_eq!(version_of(&s.trusted("root.json")), 1);
    // Shipped as the trusted root of a fresh install, the same root is refused and nothing is
    // stored.
    let fresh = s.path("fresh-data");
    let mut cmd = s.command("check");
    cmd.arg("--data-dir")
        .arg(&fresh)
        .arg("--trusted-root")
        .arg(s.path("stages/stage-2/metadata/2.root.json"));
    assert_refused(&run(&mut cmd, DAEMON_TIMEOUT), "metadata-invalid");
    assert!(!fresh.join("metadata/root.json").exists());
}

#[test]
fn a_timestamp_role_listing_one_key_under_two_ids_is_refused_with_its_root() {
    let s = Scenario::new("duplicate-key-timestamp");
    s.trust_then_attack("metadata-invalid", "root.json");
    assert_eq!(version_of(&s.trusted("root.json")), 1);
    assert_eq!(version_of(&s.trusted("timestamp.json")), 2);
}

#[test]
fn a_delegation_to_one_key_under_two_ids_is_refused() {
    let s = Scenario::new("duplicate-key-delegation");
    s.trust_then_attack("metadata-invalid", "targets.json");
    assert_eq!(version_of(&s.trusted("targets.json")), 2);
    assert!(!s.trusted("team.json").exists());
}

#[test]
fn keys_of_an_unknown_type_are_ignored_and_their_signatures_do_not_count() {
    // Root v2 lists an `x-unknown` key beside the real one (threshold 1): accepted. Root v3
    // needs two keys and only the unknown one is the second: refused.
    Scenario::new("unknown-keytype").follow_root_2_then_refuse_root_3("metadata-invalid");
}

#[test]
fn a_delegation_cycle_ends_the_search_without_a_release() {
    let s = Scenario::new("delegation-cycle");
    s.serve(2);
    let before = tree::snapshot(&s.path("install"));
    let out = s.check();
    out.assert_success();
    let report: serde_json::Value = serde_json::from_str(out.stdout.trim()).expect("check json");
    assert_eq!(report["update_available"], false, "{out}");
    // `update` finds nothing to install either (exit 0, up to date) and touches nothing.
    s.update().assert_success();
    assert_eq!(tree::snapshot(&s.path("install")), before);
    // Both roles of the cycle were loaded once and kept.
    assert_eq!(version_of(&s.trusted("a.json")), 1);
    assert_eq!(version_of(&s.trusted("b.json")), 1);
}
