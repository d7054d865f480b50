//! Staged rollouts and yank (docs/operations.md, "Staged rollouts and yank"): `tufd-repo add
//! --rollout`, `rollout V PERCENT|halt|resume`, `yank V`, `status`, and what real installs are
//! offered.
//!
//! The 1,000 simulated installs are the daemon's own planner (`tufd_core::planner`) run on the
//! published targets metadata with 1,000 injected buckets (derived from sha256 of the install's
//! number); real `tufd check --json` runs with real data folders (whose `rollout-bucket` file is
//! written first, or drawn by tufd) check that the daemon decides the same, also for a
//! `required` release under a rollout (installs outside its share wait before it).

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::time::Duration;

use sha2::Digest;
use tufd_core::planner::{BaseTar, Plan, PlanInput, Policy, TargetInfo, plan};
use tufd_core::rollout::{Audience, BUCKETS, Bucket};
use tufd_core::{Channel, TargetCustom, TargetName, Version};
use tufd_tests::support::bundle::SMALL_BLOB_BYTES;
use tufd_tests::support::daemon::Client;
use tufd_tests::support::fixture::{Fixture, Release};
use tufd_tests::support::nginx::Nginx;
use tufd_tests::support::process::RunOutput;
use tufd_tests::support::tree::assert_same_tree;

/// Simulated installs.
const INSTALLS: u32 = 1_000;

/// The current targets of the published repository, as the planner takes them (read without
/// verification: the real checks below verify).
fn published_targets(repository: &Path) -> Vec<TargetInfo> {
    let metadata = repository.join("metadata");
    let read = |name: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(metadata.join(name)).expect(name)).expect(name)
    };
    let timestamp = read("timestamp.json");
    let snapshot_v = &timestamp["signed"]["meta"]["snapshot.json"]["version"];
    let snapshot = read(&format!("{snapshot_v}.snapshot.json"));
    let targets_v = &snapshot["signed"]["meta"]["targets.json"]["version"];
    let targets = read(&format!("{targets_v}.targets.json"));
    let map = targets["signed"]["targets"].as_object().expect("targets");
    map.iter()
        .map(|(name, t)| {
            let parsed = TargetName::parse(name).expect("target name");
            let custom: HashMap<String, serde_json::Value> =
                serde_json::from_value(t["custom"].clone()).unwrap_or_default();
            let is_patch = name.ends_with(".patch");
            TargetInfo {
                name: parsed,
                length: t["length"].as_u64().expect("length"),
                custom: TargetCustom::parse(name, is_patch, &custom).expect("custom"),
            }
        })
        .collect()
}

/// The bucket of simulated install `i`: sha256 of its number, folded into `0..BUCKETS`.
fn bucket_of(i: u32) -> Bucket {
    let digest = sha2::Sha256::digest(i.to_le_bytes());
    let n = u32::from_le_bytes([digest[0], digest[1], digest[2], digest[3]]) % u32::from(BUCKETS);
    Bucket::new(u16::try_from(n).expect("below BUCKETS")).expect("below BUCKETS")
}

/// The simulated installs (by number) at `installed` that the planner offers `version`.
fn offered(repository: &Path, installed: &str, version: &str) -> BTreeSet<u32> {
    let targets = published_targets(repository);
    let installed: Version = installed.parse().unwrap();
    let want: Version = version.parse().unwrap();
    let (failed, policy) = (BTreeSet::new(), Policy::default());
    (0..INSTALLS)
        .filter(|i| {
            let result = plan(&PlanInput {
                app_name: "demo",
                installed: &installed,
                channel: Channel::Stable,
                targets: &targets,
                base: BaseTar::Cached,
                failed_patches: &failed,
                policy: &policy,
                audience: Audience {
                    bucket: bucket_of(*i),
                    ..Audience::FIRST
                },
            });
            matches!(result, Plan::Patches { to, .. } | Plan::Full { to, .. } if to == want)
        })
        .collect()
}

/// A real install at `installed` whose data folder holds `bucket` (`None`: tufd draws one).
fn install(
    fx: &Fixture,
    nginx: &Nginx,
    name: &str,
    installed: &str,
    bucket: Option<u16>,
) -> Client {
    let client = fx.install(name, installed, &nginx.metadata_url(), &nginx.targets_url());
    if let Some(b) = bucket {
        std::fs::create_dir_all(&client.data_dir).unwrap();
        std::fs::write(client.data_dir.join("rollout-bucket"), format!("{b}\n")).unwrap();
    }
    client
}

/// Every file under the served metadata folder with its bytes: "nothing published" compares two.
fn metadata_files(repository: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(repository.join("metadata"))
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

/// A refused command: exit non-zero, one `error[<kind>]` line on stderr.
#[track_caller]
fn assert_refused(out: &RunOutput, kind: &str) {
    assert!(!out.status.success(), "{out}");
    let stderr = out.stderr.trim();
    assert_eq!(stderr.lines().count(), 1, "{out}");
    assert!(stderr.starts_with(&format!("error[{kind}]")), "{out}");
}

#[test]
fn a_staged_rollout_offers_its_share_grows_halts_and_resumes() {
    let fx = Fixture::publish(
        &[
            Release::plain("1.0"),
            Release {
                version: "2.0",
                flags: &["--rollout", "10"],
            },
        ],
        SMALL_BLOB_BYTES,
    );
    let repository = fx.repo.repository();
    let nginx = Nginx::start(&repository);
    let inside = install(&fx, &nginx, "inside", "1.0", Some(5));
    let outside = install(&fx, &nginx, "outside", "1.0", Some(9_999));

    // 10 %: about a tenth of the installs, and the real daemon agrees on both sides.
    let at_10 = offered(&repository, "1.0", "2.0");
    eprintln!("offered 2.0 at 10 %: {} of {INSTALLS}", at_10.len());
    assert!(
        (70..=130).contains(&at_10.len()),
        "{} of {INSTALLS} offered 2.0 at 10 %",
        at_10.len()
    );
    assert_eq!(inside.check_json()["latest"], "2.0");
    assert_eq!(outside.check_json()["update_available"], false);

    // An install without a bucket draws one once and keeps it.
    let fresh = install(&fx, &nginx, "fresh", "1.0", None);
    fresh.check_json();
    let kept = std::fs::read_to_string(fresh.data_dir.join("rollout-bucket")).unwrap();
    assert!(
        kept.trim().parse::<u16>().is_ok_and(|b| b < BUCKETS),
        "{kept}"
    );
    fresh.check_json();
    assert_eq!(
        std::fs::read_to_string(fresh.data_dir.join("rollout-bucket")).unwrap(),
        kept
    );

    // 50 %: everyone offered at 10 % still is.
    fx.repo.run(&["rollout", "2.0", "50"]).assert_success();
    let at_50 = offered(&repository, "1.0", "2.0");
    assert!(
        at_10.is_subset(&at_50),
        "an install offered at 10 % lost 2.0 at 50 %"
    );
    eprintln!("offered 2.0 at 50 %: {} of {INSTALLS}", at_50.len());
    assert!((400..=600).contains(&at_50.len()), "{}", at_50.len());

    // Halted: nobody new, at once.
    fx.repo.run(&["rollout", "2.0", "halt"]).assert_success();
    assert!(offered(&repository, "1.0", "2.0").is_empty());
    assert_eq!(inside.check_json()["update_available"], false);

    // Resumed at 100 %: everyone.
    fx.repo
        .run(&["rollout", "2.0", "resume", "100"])
        .assert_success();
    assert_eq!(offered(&repository, "1.0", "2.0").len(), INSTALLS as usize);
    assert_eq!(outside.check_json()["latest"], "2.0");

    // An administrator deferring releases by a day: 2.0, published just now, waits.
    let policy = fx.root().join("policy.toml");
    std::fs::write(&policy, "defer = 1\n").unwrap();
    let mut deferred = outside.clone();
    deferred.extra = vec!["--admin-policy".into(), policy.to_str().unwrap().to_owned()];
    let check = deferred.check_json();
    assert_eq!(check["update_available"], false, "{check}");
    assert!(check["managed"].is_string(), "{check}");

    outside.update().assert_success();
    assert_eq!(crate::app_version(&outside.install_dir), "2.0");

    // status: one line per release, as signed.
    let status = fx.repo.run(&["status", "--json"]);
    status.assert_success();
    let lines: Vec<serde_json::Value> = status
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("status line"))
        .collect();
    assert_eq!(lines.len(), 2, "{status}");
    assert_eq!(lines[1]["version"], "2.0");
    assert_eq!(lines[1]["rollout_percent"], 100);
    assert_eq!(lines[1]["halted"], false);
    assert_eq!(lines[1]["signed_by"], "targets");
    assert!(lines[1]["published"].is_string(), "{status}");

    // Bad input: nothing published.
    let before = metadata_files(&repository);
    assert_refused(&fx.repo.run(&["rollout", "2.0", "150"]), "release");
    assert_refused(&fx.repo.run(&["rollout", "2.0", "halt", "10"]), "release");
    assert_refused(&fx.repo.run(&["rollout", "3.0", "10"]), "release");
    let bundle = fx.ensure_bundle("3.0");
    assert_refused(
        &fx.repo.run(&[
            "add",
            bundle.to_str().unwrap(),
            "--version",
            "3.0",
            "--rollout",
            "101",
        ]),
        "release",
    );
    assert_eq!(
        metadata_files(&repository),
        before,
        "a refused command published"
    );
}

#[test]
fn a_required_release_under_a_rollout_holds_back_later_ones_outside_its_share() {
    let fx = Fixture::publish(
        &[
            Release::plain("1.0"),
            Release {
                version: "2.0",
                flags: &["--required", "--rollout", "10"],
            },
            Release::plain("3.0"),
        ],
        SMALL_BLOB_BYTES,
    );
    let repository = fx.repo.repository();
    let nginx = Nginx::start(&repository);

    // Simulated installs on 1.0: those inside the 10 % are offered the required 2.0, the others
    // nothing; no install on 1.0 is offered 3.0 past a required release it has not taken.
    let to_two = offered(&repository, "1.0", "2.0");
    eprintln!(
        "required 2.0 at 10 % offered to {} of {INSTALLS}",
        to_two.len()
    );
    assert!((70..=130).contains(&to_two.len()), "{}", to_two.len());
    assert!(offered(&repository, "1.0", "3.0").is_empty());
    // On the required release itself, 3.0 is for everyone.
    assert_eq!(offered(&repository, "2.0", "3.0").len(), INSTALLS as usize);

    // Real installs agree: outside the share, held on 1.0 although 3.0 is out for everyone.
    let outside = install(&fx, &nginx, "outside", "1.0", Some(9_999));
    let check = outside.check_json();
    assert_eq!(check["update_available"], false, "{check}");
    let on_two = install(&fx, &nginx, "on-two", "2.0", Some(9_999));
    assert_eq!(on_two.check_json()["latest"], "3.0");

    // Inside: the required 2.0 first, then 3.0.
    let inside = install(&fx, &nginx, "inside", "1.0", Some(5));
    assert_eq!(inside.check_json()["latest"], "2.0");
    inside.update().assert_success();
    assert_eq!(crate::app_version(&inside.install_dir), "2.0");
    let inside = inside.with_current("2.0");
    assert_eq!(inside.check_json()["latest"], "3.0");
    inside.update().assert_success();
    assert_eq!(crate::app_version(&inside.install_dir), "3.0");

    // The rollout widened to everyone: the held install goes to 2.0 first too.
    fx.repo.run(&["rollout", "2.0", "100"]).assert_success();
    assert_eq!(outside.check_json()["latest"], "2.0");
    assert_eq!(offered(&repository, "1.0", "2.0").len(), INSTALLS as usize);
}

#[test]
fn a_yanked_release_goes_back_to_the_newest_good_one_and_a_fix_is_offered_normally() {
    let mut fx = Fixture::publish(
        &[Release::plain("1.0"), Release::plain("2.0")],
        SMALL_BLOB_BYTES,
    );
    let repository = fx.repo.repository();
    let nginx = Nginx::start(&repository);
    let on_two = install(&fx, &nginx, "on-two", "2.0", Some(0));
    let on_one = install(&fx, &nginx, "on-one", "1.0", Some(0));

    let dest = fx.root().join("published");
    fx.repo
        .run(&[
            "yank",
            "2.0",
            "--reason",
            "crashes at start",
            "--publish",
            dest.to_str().unwrap(),
        ])
        .assert_success();
    assert_eq!(
        std::fs::read(dest.join("metadata/timestamp.json")).unwrap(),
        std::fs::read(repository.join("metadata/timestamp.json")).unwrap(),
        "--publish uploaded the new timestamp"
    );

    // Not taken: never offered.
    let check = on_one.check_json();
    assert_eq!(check["update_available"], false, "{check}");

    // Taken: a signed downgrade to 1.0, by the full archive, said so in check.
    let check = on_two.check_json();
    assert_eq!(check["latest"], "1.0", "{check}");
    assert_eq!(check["downgrade"]["yanked"], "2.0", "{check}");
    assert_eq!(check["downgrade"]["reason"], "crashes at start", "{check}");
    assert_eq!(check["plan"]["full"], "demo-1.0.tar.gz", "{check}");
    let mut sidecar = on_two.spawn_sidecar(&["--poll-interval", "0"]);
    let check = sidecar
        .call("check", None, Duration::from_secs(120))
        .unwrap_or_else(|e| panic!("check: {e}\n{}", sidecar.report()));
    assert_eq!(check["downgrade"]["yanked"], "2.0", "{check}");
    let notified = sidecar.wait_notification("update-available", Duration::from_secs(10), |p| {
        p["downgrade"]["yanked"] == "2.0"
    });
    assert!(
        notified.is_some(),
        "no downgrade notified\n{}",
        sidecar.report()
    );
    sidecar.close_stdin();
    assert!(sidecar.wait_exit(Duration::from_secs(30)).is_some());
    on_two.update().assert_success();
    assert_eq!(crate::app_version(&on_two.install_dir), "1.0");
    assert_same_tree(&fx.bundle("1.0"), &on_two.install_dir);
    let on_two = on_two.with_current("1.0");
    assert_eq!(on_two.check_json()["update_available"], false);

    // status shows the yank.
    let status = fx.repo.run(&["status"]);
    status.assert_success();
    assert!(status.stdout.contains("YANKED"), "{status}");

    // A later 2.1 is offered normally (forward, by patches).
    fx.add(Release::plain("2.1"));
    let check = on_two.check_json();
    assert_eq!(check["latest"], "2.1", "{check}");
    assert!(check.get("downgrade").is_none(), "{check}");
    on_two.update().assert_success();
    assert_eq!(crate::app_version(&on_two.install_dir), "2.1");
}

#[test]
fn the_only_release_cannot_be_yanked() {
    let fx = Fixture::publish(&[Release::plain("1.0")], SMALL_BLOB_BYTES);
    let repository = fx.repo.repository();
    let before = metadata_files(&repository);
    assert_refused(&fx.repo.run(&["yank", "1.0"]), "release");
    assert_refused(&fx.repo.run(&["yank", "2.0"]), "release");
    assert_eq!(
        metadata_files(&repository),
        before,
        "a refused yank published"
    );
}

#[test]
fn a_platform_release_is_rolled_out_and_yanked_with_its_delegated_key_alone() {
    const LINUX: &str = "linux-x86_64";
    let fx = Fixture::empty(SMALL_BLOB_BYTES);
    let repo = &fx.repo;
    repo.run(&["keygen", LINUX]).assert_success();
    repo.run(&[
        "delegate",
        LINUX,
        "--key",
        &format!("keystore/{LINUX}.pub.json"),
    ])
    .assert_success();
    let offline = fx.root().join("offline");
    std::fs::create_dir_all(&offline).unwrap();
    std::fs::rename(
        repo.work().join("keystore/targets.der"),
        offline.join("targets.der"),
    )
    .unwrap();
    repo.add(&fx.ensure_bundle("1.0"), "1.0", &["--platform", LINUX]);
    repo.add(
        &fx.ensure_bundle("2.0"),
        "2.0",
        &["--platform", LINUX, "--rollout", "10"],
    );
    let nginx = Nginx::start(&repo.repository());
    let with_platform = |mut c: Client| {
        c.extra = vec!["--platform".into(), LINUX.into()];
        c
    };
    let inside = with_platform(install(&fx, &nginx, "inside", "1.0", Some(5)));
    let on_two = with_platform(install(&fx, &nginx, "on-two", "2.0", Some(9_999)));
    assert_eq!(inside.check_json()["latest"], "2.0");

    // The targets key is offline: the platform's role signs the change.
    repo.run(&["rollout", "2.0", "halt", "--platform", LINUX])
        .assert_success();
    assert_eq!(inside.check_json()["update_available"], false);
    let status = repo.run(&["status", "--json"]);
    status.assert_success();
    let two: serde_json::Value = status
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|r| r["version"] == "2.0")
        .expect("2.0 in status");
    assert_eq!(two["platform"], LINUX, "{status}");
    assert_eq!(two["signed_by"], LINUX, "{status}");
    assert_eq!(two["halted"], true, "{status}");
    assert_eq!(two["rollout_percent"], 10, "{status}");

    repo.run(&["yank", "2.0", "--platform", LINUX])
        .assert_success();
    let check = on_two.check_json();
    assert_eq!(check["latest"], "1.0", "{check}");
    assert_eq!(check["downgrade"]["yanked"], "2.0", "{check}");
    // The flat scope has no 2.0: nothing to yank there.
    assert_refused(&repo.run(&["yank", "2.0"]), "release");
}
