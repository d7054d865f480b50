//! `tufd-core`: what the repository tool (`tufd-repo`) and the daemon (`tufd`) share.
//!
//! Nothing here touches the network. The modules (docs/architecture.md, "The crates in more
//! detail"):
//!
//! - [`target_name`]: `<name>-<version><suffix>` target names (docs/repository-format.md, "Target
//!   names").
//! - [`platform`]: `<os>-<arch>` platform names, the folders of per-platform releases.
//! - [`version`]: PEP 440 versions and update channels.
//! - [`hash`]: the [`Sha256`] digest newtype.
//! - [`custom`]: the custom target metadata in tufup's `{"user", "tufup"}` shape.
//! - [`archive`]: deterministic tar archives, compression and safe extraction.
//! - [`patch`]: binary patch codecs between uncompressed tars.
//! - [`planner`]: the pure update planner, its rules numbered in the module documentation.
//! - [`rollout`]: who is offered a release: staged rollouts, yanks, deferral.
//! - [`fs`]: atomic file writes with explicit durability.
//! - [`faults`]: named crash points for the crash test (feature `fault-injection`).
//! - [`install_plan`]: install plans, the step vocabulary hooks return, and its checker
//!   (docs/hooks.md).
#![warn(missing_docs)]

pub mod archive;
pub mod custom;
pub mod error;
pub mod faults;
pub mod fs;
pub mod hash;
pub mod install_plan;
pub mod patch;
pub mod planner;
pub mod platform;
pub mod rollout;
pub mod target_name;
pub mod version;

pub use custom::{ArchiveCustom, Codec, PatchCustom, TargetCustom};
pub use error::{Error, Result};
pub use hash::Sha256;
pub use platform::Platform;
pub use target_name::{Suffix, TargetName};
pub use version::{Channel, Version};

/// Seconds since the Unix epoch, now (0 on a clock set before 1970).
pub fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
