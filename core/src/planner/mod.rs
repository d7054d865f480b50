//! The update planner: a pure function from what the client trusts and has to a [`Plan`]
//! (docs/architecture.md, "One update, step by step", step 3). It never looks at the disk or the
//! network: callers describe the cache in [`PlanInput`]. The patch graph and its cheapest path live
//! in `graph`.
//!
//! # Rules
//!
//! 0. The caller first keeps the targets of the client's platform ([`platform::select`]).
//! 1. Only targets whose name's app is [`PlanInput::app_name`] count. Archives are the
//!    `.tar.gz` and `.tar.zst` targets; where a version has both, the shorter one (signed
//!    length, ties by file name) is that version's archive. Patches are the `.patch` targets.
//! 2. Candidates are the archives newer than the installed version (PEP 440 order) that the
//!    channel admits ([`Channel::admits`]) and that are offered to [`PlanInput::audience`]
//!    ([`crate::rollout::withheld`]: not yanked, not halted, the install's bucket inside the
//!    rollout, not deferred). None: [`Plan::UpToDate`].
//! 3. Unless [`Policy::ignore_required`], the first candidate in version order marked
//!    `required` is the target (the next run continues from there); else the newest candidate.
//!    A `required` release that is withheld from this install for any reason but a yank (a
//!    rollout it is outside of, a halt, a deferral) holds back every release after it: an
//!    install never skips a required release it has not been offered yet. A yanked release is
//!    never required.
//!    When the installed version is yanked and nothing newer is found, the target is the
//!    newest older release the channel admits and the install is offered: a signed downgrade,
//!    always by the full archive ([`FullReason::Downgrade`]; patches only lead up). No such
//!    release: [`Plan::UpToDate`] (the install stays).
//! 4. Patches form a graph over versions (see `graph`): a patch leads from its `from` (or, for
//!    tufup's patches, from the previous archive of any channel) to its own version. Patches
//!    without a signed `tar` digest are unusable. The chain may pass through versions the
//!    channel does not admit, as tufup's linear chain does. Among several paths the cheapest
//!    by Σ bytes wins, ties going to fewer patches.
//! 5. The full archive instead, with a [`FullReason`], checked in this order:
//!    patches disabled by policy; no path at all ([`FullReason::ChainGap`]); every path uses a
//!    patch listed in [`PlanInput::failed_patches`] ([`FullReason::PatchFailedBefore`]; when
//!    the cheapest path does but another does not, the other is taken); no base tar and no
//!    signed `tar` digest of the installed archive to rebuild it from
//!    ([`FullReason::BaseUnavailable`]); Σ patch bytes > [`Policy::max_patch_ratio`] × the
//!    archive's bytes ([`FullReason::ChainTooLarge`]).
//!
//! The outcome depends only on the input's content, never on the order of
//! [`PlanInput::targets`].
//!
//! # Differences from tufup
//!
//! - A `.devN` release is not stable (tufup looks only at the pre-release part, so its
//!   stable channel offers `2.0.dev3`); `.postN` releases are stable in both.
//! - A gap in the chain (a release published with `--skip-patch`) is seen up front and gives
//!   the full archive at once; tufup applies the next patch to the wrong tar, fails its hash
//!   check and only downloads the archive on the next run.
//! - The installed version matches its archive by PEP 440 equality: an app reporting `1.0.0`
//!   finds the base of `my_app-1.0.tar.gz` (tufup builds the base file name from the raw
//!   string and always downloads the full archive).
//! - A missing base tar can be rebuilt from the install folder when the installed archive
//!   carries a signed `tar` digest (tufd repositories), instead of always going full.
//! - Patches may name their `from` version, and among several paths the cheapest is chosen;
//!   tufup knows only the linear chain of every patch between the two versions.

mod graph;
pub mod platform;

use std::collections::{BTreeMap, BTreeSet};

use crate::custom::{TarDigest, TargetCustom};
use crate::rollout::{Audience, ReleaseControl, withheld};
use crate::target_name::{Suffix, TargetName};
use crate::version::{Channel, Version};

/// One trusted target as the planner sees it: parsed name, signed length, parsed custom.
#[derive(Clone, Debug, PartialEq)]
pub struct TargetInfo {
    /// The parsed file name.
    pub name: TargetName,
    /// Signed length in bytes.
    pub length: u64,
    /// Parsed custom metadata.
    pub custom: TargetCustom,
}

/// Whether the client holds a verified uncompressed tar of the installed version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BaseTar {
    /// The cache holds it, already verified.
    Cached,
    /// Not cached; it may be rebuilt from the install folder if the installed archive's
    /// `tar_hash` is signed.
    Missing,
}

/// Tunables of the planner.
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    /// Ignore `required` markers (tufup's `ignore_required`). Default false.
    pub ignore_required: bool,
    /// Use patches only while Σ patch bytes ≤ this × archive bytes. Default 0.8 (tufup's).
    pub max_patch_ratio: f64,
    /// Allow patches at all. Default true.
    pub allow_patches: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            ignore_required: false,
            max_patch_ratio: 0.8,
            allow_patches: true,
        }
    }
}

/// Everything the planner decides from.
#[derive(Clone, Debug)]
pub struct PlanInput<'a> {
    /// The app whose targets count; others are ignored.
    pub app_name: &'a str,
    /// The installed version.
    pub installed: &'a Version,
    /// The channel the client follows.
    pub channel: Channel,
    /// All trusted targets (any app, any kind).
    pub targets: &'a [TargetInfo],
    /// State of the base tar.
    pub base: BaseTar,
    /// File names of patches that failed before; never planned again.
    pub failed_patches: &'a BTreeSet<String>,
    /// Tunables.
    pub policy: &'a Policy,
    /// The install's rollout bucket, the time and the administrator's deferral
    /// ([`crate::rollout`]); [`Audience::FIRST`] when the caller has none.
    pub audience: Audience,
}

/// Why the planner chose the full archive.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FullReason {
    /// Patches are disabled by policy.
    PatchesDisabled,
    /// No usable chain: a step from `from` has no patch.
    ChainGap {
        /// The version no patch leaves from.
        from: Version,
    },
    /// No base tar and none can be rebuilt (the installed archive has no signed `tar_hash`
    /// or is not in the repository).
    BaseUnavailable,
    /// A patch on the chain failed before.
    PatchFailedBefore {
        /// Its file name.
        patch: String,
    },
    /// The chain costs more than `max_patch_ratio` × the archive.
    ChainTooLarge {
        /// Σ patch lengths in bytes.
        chain_bytes: u64,
        /// Archive length in bytes.
        archive_bytes: u64,
    },
    /// The installed version is yanked and the target is older: patches only lead up.
    Downgrade {
        /// The yanked installed version.
        from: Version,
    },
}

/// The planner's outcome.
#[derive(Clone, Debug, PartialEq)]
pub enum Plan {
    /// Nothing newer on the channel.
    UpToDate,
    /// Apply `patches` in order to the base tar.
    Patches {
        /// The version reached.
        to: Version,
        /// The chain, first patch first.
        patches: Vec<TargetInfo>,
        /// The archive of `to`, the fallback when a patch fails.
        archive: TargetInfo,
        /// `Some(digest)` when the base must first be rebuilt from the install folder and
        /// checked against this signed digest of the installed version's tar.
        rebuild_base: Option<TarDigest>,
    },
    /// Download the whole archive of `to`.
    Full {
        /// The version reached.
        to: Version,
        /// Its archive.
        archive: TargetInfo,
        /// Why not patches.
        reason: FullReason,
    },
}

/// One released version of the app, as its archives describe it.
struct Release<'a> {
    /// The archive to download: the shortest of the version's archives.
    archive: &'a TargetInfo,
    /// Whether any archive of the version is marked `required`.
    required: bool,
    /// Who is offered it: yanked when any archive is, the first rollout found, the latest
    /// publication time.
    control: ReleaseControl,
    /// The signed digest of the version's uncompressed tar: the chosen archive's, else the
    /// first other archive's that has one.
    tar: Option<TarDigest>,
}

/// The app's releases by version (PEP 440 equality: `1.0` and `1.0.0` are one release).
fn releases<'a>(app_name: &str, targets: &'a [TargetInfo]) -> BTreeMap<&'a Version, Release<'a>> {
    let mut archives: Vec<(&TargetInfo, bool, Option<TarDigest>, &ReleaseControl)> = targets
        .iter()
        .filter(|t| t.name.app() == app_name && t.name.suffix().is_archive())
        .filter_map(|t| match &t.custom {
            TargetCustom::Archive(custom) => {
                Some((t, custom.required, custom.tar, &custom.control))
            }
            TargetCustom::Patch(_) => None,
        })
        .collect();
    archives.sort_by(|(a, ..), (b, ..)| {
        (a.name.version(), a.length, a.name.as_str()).cmp(&(
            b.name.version(),
            b.length,
            b.name.as_str(),
        ))
    });
    let mut releases: BTreeMap<&Version, Release<'a>> = BTreeMap::new();
    for (target, required, tar, control) in archives {
        let release = releases.entry(target.name.version()).or_insert(Release {
            archive: target,
            required: false,
            tar: None,
            control: ReleaseControl::default(),
        });
        release.required |= required;
        release.tar = release.tar.or(tar);
        let merged = &mut release.control;
        merged.yanked = merged.yanked.take().or_else(|| control.yanked.clone());
        merged.rollout = merged.rollout.or(control.rollout);
        merged.published = merged.published.max(control.published);
    }
    releases
}

/// The version to go to (rules 2 and 3): the first offered `required` candidate unless
/// ignored, else the newest offered one, never past a required release withheld from this
/// install; else, when the installed version is yanked, the newest older offered release.
fn choose_target<'r, 'a>(
    releases: &'r BTreeMap<&'a Version, Release<'a>>,
    input: &PlanInput<'_>,
) -> Option<(&'a Version, &'r Release<'a>)> {
    let mut admitted = releases
        .iter()
        .filter(|(version, _)| input.channel.admits(version))
        .map(|(version, release)| (*version, release));
    let mut newest = None;
    for candidate in admitted.clone().filter(|(v, _)| *v > input.installed) {
        let offered = withheld(&candidate.1.control, &input.audience).is_none();
        let gates = candidate.1.required
            && candidate.1.control.yanked.is_none()
            && !input.policy.ignore_required;
        match (offered, gates) {
            (true, true) => return Some(candidate),
            (true, false) => newest = Some(candidate),
            (false, true) => break,
            (false, false) => {}
        }
    }
    let installed_yanked = releases
        .get(input.installed)
        .is_some_and(|r| r.control.yanked.is_some());
    if newest.is_none() && installed_yanked {
        return admitted.rfind(|(v, r)| {
            *v < input.installed && withheld(&r.control, &input.audience).is_none()
        });
    }
    newest
}

/// Whether `chain_bytes` stays within `ratio` × `archive_bytes`. A NaN ratio admits nothing.
fn within_ratio(chain_bytes: u64, archive_bytes: u64, ratio: f64) -> bool {
    // f64 loses precision only past 2^53 bytes, far beyond any real archive.
    let limit = ratio * archive_bytes as f64;
    matches!(
        (chain_bytes as f64).partial_cmp(&limit),
        Some(std::cmp::Ordering::Less | std::cmp::Ordering::Equal)
    )
}

/// Plans an update from `input` by the rules in the module documentation.
///
/// Returns [`Plan::UpToDate`] when the channel offers nothing newer than the installed
/// version, [`Plan::Patches`] when a complete, affordable chain of never-failed patches leads
/// to the chosen version and a base tar is at hand or can be rebuilt, and [`Plan::Full`]
/// with the reason otherwise. Pure and deterministic; never fails.
pub fn plan(input: &PlanInput<'_>) -> Plan {
    let releases = releases(input.app_name, input.targets);
    let Some((to, release)) = choose_target(&releases, input) else {
        return Plan::UpToDate;
    };
    let archive = release.archive;
    let full = |reason| Plan::Full {
        to: to.clone(),
        archive: archive.clone(),
        reason,
    };
    if to < input.installed {
        return full(FullReason::Downgrade {
            from: input.installed.clone(),
        });
    }
    if !input.policy.allow_patches {
        return full(FullReason::PatchesDisabled);
    }

    let archive_versions: Vec<&Version> = releases.keys().copied().collect();
    let patches = input
        .targets
        .iter()
        .filter(|t| t.name.app() == input.app_name && t.name.suffix() == Suffix::Patch);
    let edges = graph::edges(patches, &archive_versions);
    let failed = |t: &TargetInfo| input.failed_patches.contains(t.name.as_str());
    let chain = match graph::cheapest_path(&edges, input.installed, to, |_| false) {
        Err(from) => return full(FullReason::ChainGap { from }),
        Ok(chain) => match chain.patches.iter().find(|p| failed(p)) {
            None => chain,
            Some(failed_patch) => match graph::cheapest_path(&edges, input.installed, to, failed) {
                Ok(detour) => detour,
                Err(_) => {
                    return full(FullReason::PatchFailedBefore {
                        patch: failed_patch.name.as_str().to_owned(),
                    });
                }
            },
        },
    };

    let rebuild_base = match input.base {
        BaseTar::Cached => None,
        BaseTar::Missing => match releases.get(input.installed).and_then(|r| r.tar) {
            Some(digest) => Some(digest),
            None => return full(FullReason::BaseUnavailable),
        },
    };

    if !within_ratio(chain.bytes, archive.length, input.policy.max_patch_ratio) {
        return full(FullReason::ChainTooLarge {
            chain_bytes: chain.bytes,
            archive_bytes: archive.length,
        });
    }
    Plan::Patches {
        to: to.clone(),
        patches: chain.patches.into_iter().cloned().collect(),
        archive: archive.clone(),
        rebuild_base,
    }
}
