//! Table-driven tests of the public update planner (`tufd_core::planner`, whose rules are numbered
//! in its module documentation), including an oracle modelled on tufup's own test repository
//! (`tufup_fixture_oracle`).

use std::collections::BTreeSet;

use tufd_core::custom::{ArchiveCustom, Codec, PatchCustom, TarDigest, TargetCustom};
use tufd_core::planner::{BaseTar, FullReason, Plan, PlanInput, Policy, TargetInfo, plan};
use tufd_core::{Channel, Sha256, TargetName, Version};

fn v(s: &str) -> Version {
    s.parse().unwrap()
}

fn digest_of(file: &str) -> TarDigest {
    TarDigest {
        sha256: Sha256::digest(file.as_bytes()),
        size_bytes: 10_240,
    }
}

/// A target from its file name, signed length in bytes and custom.
fn target(file: &str, length: u64, custom: TargetCustom) -> TargetInfo {
    TargetInfo {
        name: TargetName::parse(file).unwrap_or_else(|e| panic!("{file}: {e}")),
        length,
        custom,
    }
}

/// An archive with a signed tar digest, not required.
fn archive(file: &str, length: u64) -> TargetInfo {
    target(
        file,
        length,
        TargetCustom::Archive(ArchiveCustom {
            required: false,
            tar: Some(digest_of(file)),
            modes: None,
            control: Default::default(),
            user: None,
        }),
    )
}

/// An archive as tufup publishes it: no tar digest.
fn tufup_archive(file: &str, length: u64) -> TargetInfo {
    target(
        file,
        length,
        TargetCustom::Archive(ArchiveCustom::default()),
    )
}

fn required(mut t: TargetInfo) -> TargetInfo {
    if let TargetCustom::Archive(a) = &mut t.custom {
        a.required = true;
    }
    t
}

/// A patch from the previous release (tufup's kind), with a tar digest.
fn patch(file: &str, length: u64) -> TargetInfo {
    patch_from(file, length, None)
}

/// A patch naming its `from` version.
fn patch_from(file: &str, length: u64, from: Option<&str>) -> TargetInfo {
    target(
        file,
        length,
        TargetCustom::Patch(PatchCustom {
            tar: Some(digest_of(file)),
            codec: Codec::Bsdiff4,
            from: from.map(v),
            user: None,
        }),
    )
}

/// A tufup ≤ 0.5 patch: no tar digest.
fn unverifiable_patch(file: &str, length: u64) -> TargetInfo {
    target(
        file,
        length,
        TargetCustom::Patch(PatchCustom {
            tar: None,
            codec: Codec::Bsdiff4,
            from: None,
            user: None,
        }),
    )
}

/// What a test expects, by file names.
#[derive(Debug, PartialEq)]
enum Expect {
    UpToDate,
    Patches {
        to: &'static str,
        patches: Vec<&'static str>,
        archive: &'static str,
        rebuild: bool,
    },
    Full {
        to: &'static str,
        archive: &'static str,
        reason: FullReason,
    },
}

fn patches(to: &'static str, archive: &'static str, patches: &[&'static str]) -> Expect {
    Expect::Patches {
        to,
        patches: patches.to_vec(),
        archive,
        rebuild: false,
    }
}

fn full(to: &'static str, archive: &'static str, reason: FullReason) -> Expect {
    Expect::Full {
        to,
        archive,
        reason,
    }
}

/// One planner case; the fields not set keep the defaults of [`Case::new`].
struct Case {
    name: &'static str,
    app: &'static str,
    installed: &'static str,
    channel: Channel,
    targets: Vec<TargetInfo>,
    base: BaseTar,
    failed: &'static [&'static str],
    policy: Policy,
    expect: Expect,
}

impl Case {
    fn new(
        name: &'static str,
        installed: &'static str,
        targets: Vec<TargetInfo>,
        expect: Expect,
    ) -> Self {
        Self {
            name,
            app: "app",
            installed,
            channel: Channel::Stable,
            targets,
            base: BaseTar::Cached,
            failed: &[],
            policy: Policy::default(),
            expect,
        }
    }
    fn channel(mut self, channel: Channel) -> Self {
        self.channel = channel;
        self
    }
    fn base(mut self, base: BaseTar) -> Self {
        self.base = base;
        self
    }
    fn failed(mut self, failed: &'static [&'static str]) -> Self {
        self.failed = failed;
        self
    }
    fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }
    fn app(mut self, app: &'static str) -> Self {
        self.app = app;
        self
    }

    /// Runs the planner on the targets as given and reversed, checks both agree, and
    /// compares with the expectation.
    fn check(&self) {
        let installed = v(self.installed);
        let failed: BTreeSet<String> = self.failed.iter().map(|s| s.to_string()).collect();
        let run = |targets: &[TargetInfo]| {
            plan(&PlanInput {
                app_name: self.app,
                installed: &installed,
                channel: self.channel,
                targets,
                base: self.base,
                failed_patches: &failed,
                policy: &self.policy,
                audience: Default::default(),
            })
        };
        let outcome = run(&self.targets);
        let mut reversed = self.targets.clone();
        reversed.reverse();
        assert_eq!(
            run(&reversed),
            outcome,
            "{}: depends on target order",
            self.name
        );
        let got = match &outcome {
            Plan::UpToDate => Expect::UpToDate,
            Plan::Patches {
                to,
                patches,
                archive,
                rebuild_base,
            } => {
                assert_eq!(to, archive.name.version(), "{}", self.name);
                if let Some(digest) = rebuild_base {
                    let signed = self.targets.iter().any(|t| {
                        t.name.app() == self.app
                            && t.name.version() == &installed
                            && matches!(&t.custom, TargetCustom::Archive(a) if a.tar.as_ref() == Some(digest))
                    });
                    assert!(
                        signed,
                        "{}: rebuild digest is not the installed archive's",
                        self.name
                    );
                }
                Expect::Patches {
                    to: leak(to.to_string()),
                    patches: patches.iter().map(|p| leak(p.name.to_string())).collect(),
                    archive: leak(archive.name.to_string()),
                    rebuild: rebuild_base.is_some(),
                }
            }
            Plan::Full {
                to,
                archive,
                reason,
            } => {
                assert_eq!(to, archive.name.version(), "{}", self.name);
                Expect::Full {
                    to: leak(to.to_string()),
                    archive: leak(archive.name.to_string()),
                    reason: reason.clone(),
                }
            }
        };
        assert_eq!(got, self.expect, "{}", self.name);
    }
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// A stable line `1.0 → 2.0 → 3.0` of 1000-byte archives with 100-byte patches.
fn line() -> Vec<TargetInfo> {
    vec![
        archive("app-1.0.tar.gz", 1000),
        archive("app-2.0.tar.gz", 1000),
        patch("app-2.0.patch", 100),
        archive("app-3.0.tar.gz", 1000),
        patch("app-3.0.patch", 100),
    ]
}

#[test]
fn basics() {
    let cases = [
        Case::new("up to date", "3.0", line(), Expect::UpToDate),
        Case::new("newer than everything", "9.0", line(), Expect::UpToDate),
        Case::new("nothing published", "1.0", vec![], Expect::UpToDate),
        Case::new(
            "one patch",
            "2.0",
            line(),
            patches("3.0", "app-3.0.tar.gz", &["app-3.0.patch"]),
        ),
        Case::new(
            "two-patch chain",
            "1.0",
            line(),
            patches("3.0", "app-3.0.tar.gz", &["app-2.0.patch", "app-3.0.patch"]),
        ),
        Case::new(
            "installed 1.0.0 matches archive 1.0 (PEP 440, not tufup's string)",
            "1.0.0",
            line(),
            patches("3.0", "app-3.0.tar.gz", &["app-2.0.patch", "app-3.0.patch"]),
        ),
        Case::new("installed 3.0.0 is 3.0", "3.0.0", line(), Expect::UpToDate),
        Case::new(
            "no patches at all",
            "1.0",
            vec![
                archive("app-1.0.tar.gz", 1000),
                archive("app-2.0.tar.gz", 1000),
            ],
            full(
                "2.0",
                "app-2.0.tar.gz",
                FullReason::ChainGap { from: v("1.0") },
            ),
        ),
        Case::new(
            "patches disabled",
            "1.0",
            line(),
            full("3.0", "app-3.0.tar.gz", FullReason::PatchesDisabled),
        )
        .policy(Policy {
            allow_patches: false,
            ..Policy::default()
        }),
        Case::new(
            "installed version unknown to the repository, base cached",
            "1.5",
            vec![
                archive("app-1.0.tar.gz", 1000),
                archive("app-2.0.tar.gz", 1000),
                patch_from("app-2.0.patch", 100, Some("1.5")),
            ],
            patches("2.0", "app-2.0.tar.gz", &["app-2.0.patch"]),
        ),
    ];
    for case in cases {
        case.check();
    }
}

#[test]
fn other_apps_are_ignored() {
    let mut targets = line();
    targets.extend([
        archive("other-9.0.tar.gz", 10),
        patch("other-9.0.patch", 1),
        archive("app-extra-9.0.tar.gz", 10),
        patch_from("app-extra-3.0.patch", 1, Some("1.0")),
    ]);
    Case::new(
        "other apps and app-extra do not count",
        "1.0",
        targets.clone(),
        patches("3.0", "app-3.0.tar.gz", &["app-2.0.patch", "app-3.0.patch"]),
    )
    .check();
    Case::new(
        "app-extra's view: its own 1.0 → 3.0 patch counts, then the gap",
        "1.0",
        targets,
        full(
            "9.0",
            "app-extra-9.0.tar.gz",
            FullReason::ChainGap { from: v("3.0") },
        ),
    )
    .app("app-extra")
    .check();
}

#[test]
fn cheapest_path() {
    let repo = |direct: u64, first: u64, second: u64| {
        vec![
            archive("app-1.0.tar.gz", 1000),
            archive("app-2.0.tar.gz", 1000),
            patch("app-2.0.patch", first),
            archive("app-3.0.tar.gz", 1000),
            patch("app-3.0.patch", second),
            // A direct 1.0 → 3.0 patch published beside the chain (tufd's `from`).
            patch_from("app-3.0.patch", direct, Some("1.0")),
        ]
    };
    // Two targets named app-3.0.patch cannot coexist in TUF; give the direct one its own app
    // version text instead (3.0.0 == 3.0 by PEP 440).
    let fix = |mut targets: Vec<TargetInfo>| {
        targets[5].name = TargetName::parse("app-3.0.0.patch").unwrap();
        targets
    };
    let cases = [
        Case::new(
            "direct patch is cheaper",
            "1.0",
            fix(repo(150, 100, 100)),
            patches("3.0", "app-3.0.tar.gz", &["app-3.0.0.patch"]),
        ),
        Case::new(
            "chain is cheaper",
            "1.0",
            fix(repo(250, 100, 100)),
            patches("3.0", "app-3.0.tar.gz", &["app-2.0.patch", "app-3.0.patch"]),
        ),
        Case::new(
            "tie goes to fewer patches",
            "1.0",
            fix(repo(200, 100, 100)),
            patches("3.0", "app-3.0.tar.gz", &["app-3.0.0.patch"]),
        ),
        Case::new(
            "from 2.0 the direct patch does not apply",
            "2.0",
            fix(repo(1, 100, 100)),
            patches("3.0", "app-3.0.tar.gz", &["app-3.0.patch"]),
        ),
        Case::new(
            "failed direct patch falls back to the chain",
            "1.0",
            fix(repo(150, 100, 100)),
            patches("3.0", "app-3.0.tar.gz", &["app-2.0.patch", "app-3.0.patch"]),
        )
        .failed(&["app-3.0.0.patch"]),
        Case::new(
            "failed chain patch falls back to the direct patch",
            "1.0",
            fix(repo(250, 100, 100)),
            patches("3.0", "app-3.0.tar.gz", &["app-3.0.0.patch"]),
        )
        .failed(&["app-2.0.patch"]),
        Case::new(
            "detour after a failure must still fit the ratio",
            "1.0",
            fix(repo(900, 100, 100)),
            full(
                "3.0",
                "app-3.0.tar.gz",
                FullReason::ChainTooLarge {
                    chain_bytes: 900,
                    archive_bytes: 1000,
                },
            ),
        )
        .failed(&["app-3.0.patch"]),
        Case::new(
            "every path failed",
            "1.0",
            fix(repo(150, 100, 100)),
            full(
                "3.0",
                "app-3.0.tar.gz",
                FullReason::PatchFailedBefore {
                    patch: "app-3.0.0.patch".into(),
                },
            ),
        )
        .failed(&["app-3.0.0.patch", "app-3.0.patch"]),
    ];
    for case in cases {
        case.check();
    }
}

#[test]
fn gaps_and_unusable_patches() {
    // 2.0 was added with `--skip-patch`; the 3.0 patch was diffed from 2.0.
    let skip = vec![
        archive("app-1.0.tar.gz", 1000),
        archive("app-2.0.tar.gz", 1000),
        archive("app-3.0.tar.gz", 1000),
        patch("app-3.0.patch", 100),
    ];
    let cases = [
        Case::new(
            "gap after a --skip-patch release",
            "1.0",
            skip.clone(),
            full(
                "3.0",
                "app-3.0.tar.gz",
                FullReason::ChainGap { from: v("1.0") },
            ),
        ),
        Case::new(
            "from the skipped release the patch works",
            "2.0",
            skip,
            patches("3.0", "app-3.0.tar.gz", &["app-3.0.patch"]),
        ),
        Case::new(
            "gap further along reports the furthest reachable version",
            "1.0",
            vec![
                archive("app-1.0.tar.gz", 1000),
                archive("app-2.0.tar.gz", 1000),
                patch("app-2.0.patch", 10),
                archive("app-3.0.tar.gz", 1000),
                archive("app-4.0.tar.gz", 1000),
                patch("app-4.0.patch", 10),
            ],
            full(
                "4.0",
                "app-4.0.tar.gz",
                FullReason::ChainGap { from: v("2.0") },
            ),
        ),
        Case::new(
            "patch without tar digest (tufup <= 0.5) is a gap",
            "1.0",
            vec![
                archive("app-1.0.tar.gz", 1000),
                archive("app-2.0.tar.gz", 1000),
                unverifiable_patch("app-2.0.patch", 10),
            ],
            full(
                "2.0",
                "app-2.0.tar.gz",
                FullReason::ChainGap { from: v("1.0") },
            ),
        ),
        Case::new(
            "failed patch on the only chain",
            "1.0",
            line(),
            full(
                "3.0",
                "app-3.0.tar.gz",
                FullReason::PatchFailedBefore {
                    patch: "app-3.0.patch".into(),
                },
            ),
        )
        .failed(&["app-3.0.patch"]),
        Case::new(
            "a failed patch off the chain does not matter",
            "2.0",
            line(),
            patches("3.0", "app-3.0.tar.gz", &["app-3.0.patch"]),
        )
        .failed(&["app-2.0.patch"]),
        Case::new(
            "patch whose from is not an archive still chains (from names it)",
            "1.0",
            vec![
                archive("app-1.0.tar.gz", 1000),
                patch_from("app-1.5.patch", 10, Some("1.0")),
                archive("app-2.0.tar.gz", 1000),
                patch_from("app-2.0.patch", 10, Some("1.5")),
            ],
            patches("2.0", "app-2.0.tar.gz", &["app-1.5.patch", "app-2.0.patch"]),
        ),
    ];
    for case in cases {
        case.check();
    }
}

#[test]
fn required_releases() {
    let repo = vec![
        archive("app-1.0.tar.gz", 1000),
        required(archive("app-2.0.tar.gz", 1000)),
        patch("app-2.0.patch", 100),
        required(archive("app-3.0.tar.gz", 1000)),
        patch("app-3.0.patch", 100),
        archive("app-4.0.tar.gz", 1000),
        patch("app-4.0.patch", 100),
    ];
    let cases = [
        Case::new(
            "first required stops the walk",
            "1.0",
            repo.clone(),
            patches("2.0", "app-2.0.tar.gz", &["app-2.0.patch"]),
        ),
        Case::new(
            "the next run continues to the next required",
            "2.0",
            repo.clone(),
            patches("3.0", "app-3.0.tar.gz", &["app-3.0.patch"]),
        ),
        Case::new(
            "then to the newest",
            "3.0",
            repo.clone(),
            patches("4.0", "app-4.0.tar.gz", &["app-4.0.patch"]),
        ),
        Case::new(
            "ignore_required goes to the newest",
            "1.0",
            repo.clone(),
            patches(
                "4.0",
                "app-4.0.tar.gz",
                &["app-2.0.patch", "app-3.0.patch", "app-4.0.patch"],
            ),
        )
        .policy(Policy {
            ignore_required: true,
            max_patch_ratio: 0.5,
            ..Policy::default()
        }),
        Case::new(
            "a required release the channel does not admit does not stop the walk",
            "1.0",
            vec![
                archive("app-1.0.tar.gz", 1000),
                required(archive("app-2.0rc1.tar.gz", 1000)),
                patch("app-2.0rc1.patch", 10),
                archive("app-2.0.tar.gz", 1000),
                patch("app-2.0.patch", 10),
            ],
            patches(
                "2.0",
                "app-2.0.tar.gz",
                &["app-2.0rc1.patch", "app-2.0.patch"],
            ),
        ),
        Case::new(
            "required older than installed is ignored",
            "2.5",
            vec![
                required(archive("app-2.0.tar.gz", 1000)),
                archive("app-2.5.tar.gz", 1000),
                archive("app-3.0.tar.gz", 1000),
                patch("app-3.0.patch", 10),
            ],
            patches("3.0", "app-3.0.tar.gz", &["app-3.0.patch"]),
        ),
        Case::new(
            "required on either archive of a version counts",
            "1.0",
            vec![
                archive("app-1.0.tar.gz", 1000),
                archive("app-2.0.tar.gz", 1000),
                required(archive("app-2.0.tar.zst", 1200)),
                patch("app-2.0.patch", 10),
                archive("app-3.0.tar.gz", 1000),
                patch("app-3.0.patch", 10),
            ],
            patches("2.0", "app-2.0.tar.gz", &["app-2.0.patch"]),
        ),
    ];
    for case in cases {
        case.check();
    }
}

#[test]
fn channels() {
    let repo = || {
        vec![
            archive("app-1.0.tar.gz", 1000),
            archive("app-1.0.post1.tar.gz", 1000),
            patch("app-1.0.post1.patch", 10),
            archive("app-2.0.dev1.tar.gz", 1000),
            patch("app-2.0.dev1.patch", 10),
            archive("app-2.0a1.tar.gz", 1000),
            patch("app-2.0a1.patch", 10),
            archive("app-2.0b1.tar.gz", 1000),
            patch("app-2.0b1.patch", 10),
            archive("app-2.0rc1.tar.gz", 1000),
            patch("app-2.0rc1.patch", 10),
        ]
    };
    let chain = |n: usize| -> Vec<&'static str> {
        [
            "app-1.0.post1.patch",
            "app-2.0.dev1.patch",
            "app-2.0a1.patch",
            "app-2.0b1.patch",
            "app-2.0rc1.patch",
        ][..n]
            .to_vec()
    };
    let cases = [
        (Channel::Stable, "1.0.post1", 1),
        (Channel::Rc, "2.0rc1", 5),
        (Channel::Beta, "2.0rc1", 5),
        (Channel::Alpha, "2.0rc1", 5),
        (Channel::Dev, "2.0rc1", 5),
    ];
    for (channel, to, steps) in cases {
        let archive_name = leak(format!("app-{to}.tar.gz"));
        Case::new(
            "channel widening",
            "1.0",
            repo(),
            Expect::Patches {
                to: leak(to.to_owned()),
                patches: chain(steps),
                archive: archive_name,
                rebuild: false,
            },
        )
        .channel(channel)
        .check();
    }

    // Without the rc, the newest each channel admits differs.
    let mut no_rc = repo();
    no_rc.truncate(9);
    let cases = [
        (Channel::Stable, "1.0.post1", 1),
        (Channel::Rc, "1.0.post1", 1),
        (Channel::Beta, "2.0b1", 4),
        (Channel::Alpha, "2.0b1", 4),
        (Channel::Dev, "2.0b1", 4),
    ];
    for (channel, to, steps) in cases {
        Case::new(
            "channel picks",
            "1.0",
            no_rc.clone(),
            Expect::Patches {
                to: leak(to.to_owned()),
                patches: chain(steps),
                archive: leak(format!("app-{to}.tar.gz")),
                rebuild: false,
            },
        )
        .channel(channel)
        .check();
    }

    // A dev release alone: offered only on the dev channel (tufup offers it on stable).
    let dev_only = vec![
        archive("app-1.0.tar.gz", 1000),
        archive("app-2.0.dev3.tar.gz", 1000),
        patch("app-2.0.dev3.patch", 10),
    ];
    for channel in [Channel::Stable, Channel::Rc, Channel::Beta, Channel::Alpha] {
        Case::new(
            "dev is not stable",
            "1.0",
            dev_only.clone(),
            Expect::UpToDate,
        )
        .channel(channel)
        .check();
    }
    Case::new(
        "dev channel sees dev",
        "1.0",
        dev_only,
        patches("2.0.dev3", "app-2.0.dev3.tar.gz", &["app-2.0.dev3.patch"]),
    )
    .channel(Channel::Dev)
    .check();
}

#[test]
fn base_tar() {
    let cases = [
        Case::new(
            "base missing, installed archive has tar digest: rebuild",
            "1.0",
            line(),
            Expect::Patches {
                to: "3.0",
                patches: vec!["app-2.0.patch", "app-3.0.patch"],
                archive: "app-3.0.tar.gz",
                rebuild: true,
            },
        )
        .base(BaseTar::Missing),
        Case::new(
            "base missing, installed 1.0.0 matches archive 1.0 by PEP 440",
            "1.0.0",
            line(),
            Expect::Patches {
                to: "3.0",
                patches: vec!["app-2.0.patch", "app-3.0.patch"],
                archive: "app-3.0.tar.gz",
                rebuild: true,
            },
        )
        .base(BaseTar::Missing),
        Case::new(
            "base missing, installed archive without tar digest (tufup repo)",
            "1.0",
            vec![
                tufup_archive("app-1.0.tar.gz", 1000),
                archive("app-2.0.tar.gz", 1000),
                patch("app-2.0.patch", 10),
            ],
            full("2.0", "app-2.0.tar.gz", FullReason::BaseUnavailable),
        )
        .base(BaseTar::Missing),
        Case::new(
            "base cached, installed archive without tar digest is fine",
            "1.0",
            vec![
                tufup_archive("app-1.0.tar.gz", 1000),
                archive("app-2.0.tar.gz", 1000),
                patch("app-2.0.patch", 10),
            ],
            patches("2.0", "app-2.0.tar.gz", &["app-2.0.patch"]),
        ),
        Case::new(
            "base missing, installed archive gone from the repository",
            "1.0",
            vec![
                archive("app-2.0.tar.gz", 1000),
                patch_from("app-2.0.patch", 10, Some("1.0")),
            ],
            full("2.0", "app-2.0.tar.gz", FullReason::BaseUnavailable),
        )
        .base(BaseTar::Missing),
        Case::new(
            "base missing: the digest may come from the other archive of the version",
            "1.0",
            vec![
                tufup_archive("app-1.0.tar.gz", 900),
                archive("app-1.0.tar.zst", 1000),
                archive("app-2.0.tar.gz", 1000),
                patch("app-2.0.patch", 10),
            ],
            Expect::Patches {
                to: "2.0",
                patches: vec!["app-2.0.patch"],
                archive: "app-2.0.tar.gz",
                rebuild: true,
            },
        )
        .base(BaseTar::Missing),
    ];
    for case in cases {
        case.check();
    }
}

#[test]
fn ratio_and_archive_choice() {
    let repo = |patch_bytes: u64| {
        vec![
            archive("app-1.0.tar.gz", 1000),
            archive("app-2.0.tar.gz", 1000),
            archive("app-2.0.tar.zst", 800),
            patch("app-2.0.patch", patch_bytes),
        ]
    };
    let cases = [
        Case::new(
            "zst is smaller and is the archive; 640 = 0.8 × 800 still fits",
            "1.0",
            repo(640),
            patches("2.0", "app-2.0.tar.zst", &["app-2.0.patch"]),
        ),
        Case::new(
            "641 > 0.8 × 800",
            "1.0",
            repo(641),
            full(
                "2.0",
                "app-2.0.tar.zst",
                FullReason::ChainTooLarge {
                    chain_bytes: 641,
                    archive_bytes: 800,
                },
            ),
        ),
        Case::new(
            "ratio 1.0 admits more",
            "1.0",
            repo(700),
            patches("2.0", "app-2.0.tar.zst", &["app-2.0.patch"]),
        )
        .policy(Policy {
            max_patch_ratio: 1.0,
            ..Policy::default()
        }),
        Case::new(
            "ratio 0 refuses any patch",
            "1.0",
            repo(1),
            full(
                "2.0",
                "app-2.0.tar.zst",
                FullReason::ChainTooLarge {
                    chain_bytes: 1,
                    archive_bytes: 800,
                },
            ),
        )
        .policy(Policy {
            max_patch_ratio: 0.0,
            ..Policy::default()
        }),
        Case::new(
            "NaN ratio refuses",
            "1.0",
            repo(1),
            full(
                "2.0",
                "app-2.0.tar.zst",
                FullReason::ChainTooLarge {
                    chain_bytes: 1,
                    archive_bytes: 800,
                },
            ),
        )
        .policy(Policy {
            max_patch_ratio: f64::NAN,
            ..Policy::default()
        }),
        Case::new(
            "gz smaller than zst",
            "1.0",
            vec![
                archive("app-1.0.tar.gz", 1000),
                archive("app-2.0.tar.gz", 700),
                archive("app-2.0.tar.zst", 800),
            ],
            full(
                "2.0",
                "app-2.0.tar.gz",
                FullReason::ChainGap { from: v("1.0") },
            ),
        ),
        Case::new(
            "equal lengths: ties by file name",
            "1.0",
            vec![
                archive("app-1.0.tar.gz", 1000),
                archive("app-2.0.tar.zst", 800),
                archive("app-2.0.tar.gz", 800),
            ],
            full(
                "2.0",
                "app-2.0.tar.gz",
                FullReason::ChainGap { from: v("1.0") },
            ),
        ),
        Case::new(
            "chain bytes are summed over the path",
            "1.0",
            vec![
                archive("app-1.0.tar.gz", 1000),
                archive("app-2.0.tar.gz", 1000),
                patch("app-2.0.patch", 500),
                archive("app-3.0.tar.gz", 1000),
                patch("app-3.0.patch", 500),
            ],
            full(
                "3.0",
                "app-3.0.tar.gz",
                FullReason::ChainTooLarge {
                    chain_bytes: 1000,
                    archive_bytes: 1000,
                },
            ),
        ),
        Case::new(
            "huge lengths do not overflow",
            "1.0",
            vec![
                archive("app-1.0.tar.gz", 1000),
                archive("app-2.0.tar.gz", 1000),
                patch("app-2.0.patch", u64::MAX),
                archive("app-3.0.tar.gz", 1000),
                patch("app-3.0.patch", u64::MAX),
            ],
            full(
                "3.0",
                "app-3.0.tar.gz",
                FullReason::ChainTooLarge {
                    chain_bytes: u64::MAX,
                    archive_bytes: 1000,
                },
            ),
        ),
    ];
    for case in cases {
        case.check();
    }
}

/// The tufup fixture oracle, modelled on the tufup project's test repository
/// (`tests/data/repository` there): example_app 1.0, 2.0 (required), 3.0rc0, 4.0a0 with patches
/// 2.0, 3.0rc0, 4.0a0; client at 1.0 with the base cached.
#[test]
fn tufup_fixture_oracle() {
    let repo = vec![
        tufup_archive("example_app-1.0.tar.gz", 10_000),
        required(tufup_archive("example_app-2.0.tar.gz", 10_000)),
        patch("example_app-2.0.patch", 1_000),
        tufup_archive("example_app-3.0rc0.tar.gz", 10_000),
        patch("example_app-3.0rc0.patch", 1_000),
        tufup_archive("example_app-4.0a0.tar.gz", 10_000),
        patch("example_app-4.0a0.patch", 7_000),
    ];
    let ignore_required = Policy {
        ignore_required: true,
        ..Policy::default()
    };
    let cases = [
        Case::new(
            "stable: required 2.0 by one patch",
            "1.0",
            repo.clone(),
            patches("2.0", "example_app-2.0.tar.gz", &["example_app-2.0.patch"]),
        ),
        Case::new(
            "rc, ignoring required: 3.0rc0 by two patches",
            "1.0",
            repo.clone(),
            patches(
                "3.0rc0",
                "example_app-3.0rc0.tar.gz",
                &["example_app-2.0.patch", "example_app-3.0rc0.patch"],
            ),
        )
        .channel(Channel::Rc)
        .policy(ignore_required.clone()),
        Case::new(
            "alpha, ignoring required: 4.0a0 in full (ratio > 0.8)",
            "1.0",
            repo.clone(),
            full(
                "4.0a0",
                "example_app-4.0a0.tar.gz",
                FullReason::ChainTooLarge {
                    chain_bytes: 9_000,
                    archive_bytes: 10_000,
                },
            ),
        )
        .channel(Channel::Alpha)
        .policy(ignore_required.clone()),
        Case::new(
            "alpha, from 4.0a0: up to date",
            "4.0a0",
            repo.clone(),
            Expect::UpToDate,
        )
        .channel(Channel::Alpha),
        Case::new(
            "alpha, required honoured: still stops at 2.0",
            "1.0",
            repo,
            patches("2.0", "example_app-2.0.tar.gz", &["example_app-2.0.patch"]),
        )
        .channel(Channel::Alpha),
    ];
    for case in cases {
        case.app("example_app").check();
    }
}
