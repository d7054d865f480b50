//! `tufd-engine`: the update engine the daemon drives (docs/architecture.md). A thin actor
//! layer (ractor) over the crates that do the work: `tufd-net` fetches and verifies,
//! `tufd-install` builds, stages and swaps, `tufd-core` plans.
//!
//! - [`config`]: the validated [`config::EngineConfig`].
//! - [`engine`]: the [`engine::Engine`] handle the daemon drives.
//! - [`supervisor`]: the state machine, the orchestration of one operation as plain functions
//!   (the patch → archive fall-back in [`supervisor::fallback`]) and the actor that owns the
//!   workers.
//! - [`workers`]: one actor per concern — metadata refresh, download, patch build, install —
//!   each a thin shell around its crate's functions.
//! - [`watch`]: `file://` repository watching and polling with jitter.
//! - [`handoff`]: the helper copy's side of an install handed off by a tufd inside the install
//!   folder (Windows).
//! - [`event`]: notifications and the check report, in the protocol's types.
//! - [`error`]: [`error::EngineError`], keeping every lower error whole, and its protocol kind.
#![warn(missing_docs)]

pub mod config;
pub mod engine;
pub mod error;
pub mod event;
pub mod handoff;
pub mod supervisor;
pub mod watch;
pub mod workers;

pub use config::{EngineConfig, ValidConfig};
pub use engine::{Engine, StartOptions};
pub use error::EngineError;
pub use event::{CheckReport, Event};
/// Finishing or rolling back an install a crash interrupted: the caller runs it on the data
/// folder's journal, under the data folder lock, before [`Engine::start`].
pub use tufd_install::{Recovery, recover};
