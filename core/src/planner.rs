//! The update planner: a pure function from what the client trusts and has to a [`Plan`]
//! (DESIGN: "Update planning"). It never looks at the disk or the network: callers describe
//! the cache in [`PlanInput`].
//!
//! CONTRACT (implementation pending).

use std::collections::BTreeSet;

use crate::custom::{TarDigest, TargetCustom};
use crate::target_name::TargetName;
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

/// Plans an update.
pub fn plan(_input: &PlanInput<'_>) -> Plan {
    todo!()
}
