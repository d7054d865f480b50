//! `tufd-actors`: the tufd update engine (DESIGN "The daemon: actors").
//!
//! - [`config`]: the validated [`config::EngineConfig`] and the data folder layout.
//! - [`error`]: [`error::EngineError`] with the contract's error kinds.
//! - [`event`]: notifications and the check report.
//! - [`engine`]: the [`engine::Engine`] handle the daemon drives.
//! - [`metadata`]: TUF refresh with tough (MetadataActor).
//! - [`transport`]: tufd's tough transport on one shared HTTP client.
//! - [`trusted_store`]: the trusted metadata as exact received bytes, and the refresh keeping it.
//! - [`download`]: chunked, resumable, verified target downloads; [`fetcher`]: its actor.
//! - [`watch`]: `file://` repository watching and polling with jitter.
//! - [`patcher`]: building the new tar from patches or the archive (PatchActor).
//! - [`install`]: staging, the journaled swap, recovery, relaunch (InstallActor).
//! - [`supervisor`]: the state machine and the actor that owns the workers.
//! - [`faults`]: named crash points for the crash test (feature `fault-injection`).
//! - [`preflight`]: checks before a download (writable folders, free space, no install running).
//! - [`cleanup`]: removing what a committed update no longer needs.
//! - [`health`]: the pending commit of a new version: confirm, health command, rollback.
//! - [`rollback`]: restoring the previous version from its backup.
#![warn(missing_docs)]

pub mod cleanup;
pub mod config;
pub mod download;
pub mod engine;
pub mod error;
pub mod event;
pub mod faults;
pub mod fetcher;
pub mod health;
pub mod install;
pub mod metadata;
pub mod patcher;
pub mod preflight;
pub mod rollback;
pub mod supervisor;
pub mod transport;
pub mod trusted_store;
pub mod watch;

pub use config::EngineConfig;
pub use engine::{Engine, StartOptions};
pub use error::EngineError;
pub use event::{CheckReport, Event};
