//! `tufd-install`: everything tufd does to the app on disk, all of it blocking file-system work
//! (docs/architecture.md).
//!
//! - [`build`]: the new version's verified tar, from patches applied to the base tar (cached or
//!   rebuilt from the install folder) or from the full archive.
//! - [`stage`]: extracting the tar into staging, and running one install ([`stage::InstallJob`]).
//! - [`tree_sync`]: making the staged tree durable in one step before the swap uses it.
//! - [`plan_source`]: the install plan, from the WASM hook or the built-in native plan.
//! - [`journal`] and [`executor`]: the journaled install swap and its recovery after a crash.
//! - [`handoff`]: handing the swap to a copy of tufd outside the install folder (Windows).
//! - [`commit`], [`health`], [`rollback`], [`cleanup`]: what follows an install.
//! - [`fsops`]: renames retried while another program holds a file (Windows), and removals
//!   that clear read-only attributes and closed folder modes first.
//! - [`process`]: running a program under a deadline (plan `run` steps, the health command).
//! - [`preflight`]: checks before a download (writable folders, free space, no install running).
//! - [`release`]: the record of the installed release (its entries, what its install moved
//!   aside or kept), for `status` and the base tar rebuild.
//! - [`layout`]: the data folder's paths; [`settings`]: what the install side knows of the app.
//! - [`sys`]: the per-OS calls (modes, owners, folder sync, process wait).
//! - [`error`]: [`InstallError`], every failure with its typed cause.
#![warn(missing_docs)]

pub mod build;
pub mod cleanup;
pub mod commit;
pub mod error;
pub mod executor;
pub mod fsops;
pub mod handoff;
pub mod health;
pub mod journal;
pub mod layout;
pub mod plan_source;
pub mod preflight;
pub mod process;
pub mod release;
pub mod rollback;
pub mod settings;
pub mod stage;
pub mod sys;
pub mod tree_sync;

pub use error::InstallError;
pub use executor::{Executed, execute, recover};
pub use journal::{Journal, Recovery, Roots};
pub use layout::DataLayout;
pub use plan_source::PlanSource;
pub use settings::{HookConfig, InstallSettings};
