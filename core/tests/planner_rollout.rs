//! The planner's rules 2 and 3 with staged rollouts, yanks and deferral
//! (`tufd_core::planner`, `tufd_core::rollout`): who is offered which release.

use std::collections::BTreeSet;

use tufd_core::custom::{ArchiveCustom, Codec, PatchCustom, TarDigest, TargetCustom};
use tufd_core::planner::{BaseTar, FullReason, Plan, PlanInput, Policy, TargetInfo, plan};
use tufd_core::rollout::{Audience, BUCKETS, Bucket, Percent, ReleaseControl, Rollout, Yank};
use tufd_core::{Channel, Sha256, TargetName, Version};

fn v(s: &str) -> Version {
    s.parse().unwrap()
}

fn archive(version: &str, control: ReleaseControl) -> TargetInfo {
    let file = format!("app-{version}.tar.gz");
    TargetInfo {
        name: TargetName::parse(&file).unwrap(),
        length: 100_000,
        custom: TargetCustom::Archive(ArchiveCustom {
            tar: Some(TarDigest {
                sha256: Sha256::digest(file.as_bytes()),
                size_bytes: 200_000,
            }),
            control,
            ..ArchiveCustom::default()
        }),
    }
}

fn required(mut t: TargetInfo) -> TargetInfo {
    if let TargetCustom::Archive(a) = &mut t.custom {
        a.required = true;
    }
    t
}

fn patch(version: &str, from: &str) -> TargetInfo {
    let file = format!("app-{version}.patch");
    TargetInfo {
        name: TargetName::parse(&file).unwrap(),
        length: 1_000,
        custom: TargetCustom::Patch(PatchCustom {
            tar: Some(TarDigest {
                sha256: Sha256::digest(file.as_bytes()),
                size_bytes: 200_000,
            }),
            codec: Codec::Bsdiff4,
            from: Some(v(from)),
            user: None,
        }),
    }
}

fn everyone() -> ReleaseControl {
    ReleaseControl::default()
}

fn rollout(percent: u8) -> ReleaseControl {
    ReleaseControl {
        rollout: Some(Rollout {
            percent: Percent::new(percent).unwrap(),
            halted: false,
        }),
        ..ReleaseControl::default()
    }
}

fn halted(percent: u8) -> ReleaseControl {
    let mut c = rollout(percent);
    c.rollout.as_mut().unwrap().halted = true;
    c
}

fn yanked() -> ReleaseControl {
    ReleaseControl {
        yanked: Some(Yank {
            reason: Some("crashes".into()),
        }),
        ..ReleaseControl::default()
    }
}

fn bucket(b: u16) -> Audience {
    Audience {
        bucket: Bucket::new(b).unwrap(),
        ..Audience::FIRST
    }
}

/// The version the plan goes to (`None`: up to date) and the full-archive reason, if any.
fn plan_at(
    targets: &[TargetInfo],
    installed: &str,
    audience: Audience,
) -> (Option<Version>, Option<FullReason>) {
    let installed = v(installed);
    let failed = BTreeSet::new();
    let policy = Policy::default();
    match plan(&PlanInput {
        app_name: "app",
        installed: &installed,
        channel: Channel::Stable,
        targets,
        base: BaseTar::Cached,
        failed_patches: &failed,
        policy: &policy,
        audience,
    }) {
        Plan::UpToDate => (None, None),
        Plan::Patches { to, .. } => (Some(to), None),
        Plan::Full { to, reason, .. } => (Some(to), Some(reason)),
    }
}

#[test]
fn a_rollout_offers_the_release_to_its_share_of_buckets_only() {
    let repo = [
        archive("1.0", everyone()),
        archive("2.0", rollout(10)),
        patch("2.0", "1.0"),
    ];
    let offered = (0..BUCKETS)
        .filter(|b| plan_at(&repo, "1.0", bucket(*b)).0.is_some())
        .count();
    assert_eq!(offered, usize::from(BUCKETS) / 10);
    assert_eq!(plan_at(&repo, "1.0", bucket(0)), (Some(v("2.0")), None));
    assert_eq!(plan_at(&repo, "1.0", bucket(BUCKETS - 1)), (None, None));
}

#[test]
fn outside_a_rollout_the_newest_offered_release_is_taken() {
    let repo = [
        archive("1.0", everyone()),
        archive("1.1", everyone()),
        archive("2.0", rollout(10)),
    ];
    assert_eq!(plan_at(&repo, "1.0", bucket(5_000)).0, Some(v("1.1")));
    assert_eq!(plan_at(&repo, "1.0", bucket(5)).0, Some(v("2.0")));
}

#[test]
fn a_halt_stops_every_new_offer() {
    let repo = [archive("1.0", everyone()), archive("2.0", halted(100))];
    assert_eq!(plan_at(&repo, "1.0", bucket(0)), (None, None));
    assert_eq!(
        plan_at(&repo, "2.0", bucket(0)),
        (None, None),
        "installs on a halted release stay"
    );
}

#[test]
fn a_required_release_outside_the_rollout_holds_back_what_follows() {
    let repo = [
        archive("1.0", everyone()),
        required(archive("2.0", rollout(10))),
        archive("2.1", everyone()),
    ];
    assert_eq!(plan_at(&repo, "1.0", bucket(5)).0, Some(v("2.0")));
    assert_eq!(
        plan_at(&repo, "1.0", bucket(9_000)).0,
        None,
        "never past a required release not offered yet"
    );
    assert_eq!(plan_at(&repo, "2.0", bucket(9_000)).0, Some(v("2.1")));
    let yanked_required = [
        archive("1.0", everyone()),
        required(archive("2.0", yanked())),
        archive("2.1", everyone()),
    ];
    assert_eq!(
        plan_at(&yanked_required, "1.0", bucket(9_000)).0,
        Some(v("2.1")),
        "a yanked release is not required"
    );
}

#[test]
fn a_yanked_release_is_never_offered_and_its_installs_go_back() {
    let repo = [
        archive("1.0", everyone()),
        archive("2.0", yanked()),
        patch("2.0", "1.0"),
    ];
    assert_eq!(plan_at(&repo, "1.0", bucket(0)), (None, None));
    assert_eq!(
        plan_at(&repo, "2.0", bucket(0)),
        (
            Some(v("1.0")),
            Some(FullReason::Downgrade { from: v("2.0") })
        )
    );
    let later = [
        archive("1.0", everyone()),
        archive("2.0", yanked()),
        archive("2.1", everyone()),
        patch("2.1", "2.0"),
    ];
    assert_eq!(
        plan_at(&later, "2.0", bucket(0)),
        (Some(v("2.1")), None),
        "a newer release: forward, by patch"
    );
    assert_eq!(plan_at(&later, "1.0", bucket(0)).0, Some(v("2.1")));
}

#[test]
fn a_downgrade_goes_to_the_newest_older_release_the_install_is_offered() {
    let repo = [
        archive("1.0", everyone()),
        archive("1.5", rollout(10)),
        archive("1.6rc1", everyone()),
        archive("2.0", yanked()),
    ];
    assert_eq!(plan_at(&repo, "2.0", bucket(0)).0, Some(v("1.5")));
    assert_eq!(
        plan_at(&repo, "2.0", bucket(5_000)).0,
        Some(v("1.0")),
        "outside 1.5's rollout; 1.6rc1 is not stable"
    );
    let only = [archive("2.0", yanked())];
    assert_eq!(plan_at(&only, "2.0", bucket(0)), (None, None));
}

#[test]
fn a_deferral_holds_a_release_until_its_time() {
    let published = |at| ReleaseControl {
        published: Some(at),
        ..ReleaseControl::default()
    };
    let repo = [
        archive("1.0", everyone()),
        archive("1.1", published(1_000)),
        archive("2.0", published(100_000)),
    ];
    let at = |now| Audience {
        now_unix: now,
        defer_secs: 7 * 86_400,
        ..Audience::FIRST
    };
    assert_eq!(plan_at(&repo, "1.0", at(2_000)).0, None);
    assert_eq!(
        plan_at(&repo, "1.0", at(1_000 + 7 * 86_400)).0,
        Some(v("1.1"))
    );
    assert_eq!(
        plan_at(&repo, "1.0", at(100_000 + 7 * 86_400)).0,
        Some(v("2.0"))
    );
}
