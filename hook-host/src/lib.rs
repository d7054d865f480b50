//! `tufd-hook-host`: the wasmtime host for install hooks (docs/hooks.md, "Host side (for tufd
//! developers)"). The interface is `hooks-sdk/wit/hook.wit`; the plan vocabulary and its checker
//! are [`tufd_core::install_plan`]; executing a plan on disk is the job of `tufd-install`'s
//! journaled executor (`tufd_install::executor`).
//!
//! ```no_run
//! # fn demo(ctx: &tufd_core::install_plan::InstallContext) -> Result<(), tufd_hook_host::HookError> {
//! use std::time::Duration;
//! use tufd_hook_host::HookHost;
//!
//! let host = HookHost::builder()
//!     .timeout(Duration::from_secs(2))
//!     .memory_limit_bytes(64 << 20)
//!     .cache_dir("/var/lib/tufd/hook-cache")
//!     .build("/etc/tufd/linux_tree.wasm")?; // loads and checks now
//! let plan = host.plan_install(ctx)?; // checked by tufd_core::install_plan::check_plan
//! # let _ = plan; Ok(()) }
//! ```
//!
//! Modules: [`host`] (builder, calls, reload), [`context`] (file lists for the context), `load` (compile, precompiled cache, import
//! allow-list), `ticker` (the epoch thread), `state` (store data, WASI context granting
//! nothing, the log import), `convert` (WIT types to and from `tufd_core::install_plan`), [`error`].

pub mod context;
pub mod error;
pub mod host;

mod bindings;
mod convert;
mod load;
mod state;
mod ticker;

pub use context::tree_entries;
pub use error::{HookError, Result};
pub use host::{DEFAULT_MEMORY_LIMIT_BYTES, DEFAULT_TIMEOUT, HookHost, HookHostBuilder};
pub use load::{ALLOWED_IMPORTS, LoadReport, LoadSource};
pub use ticker::TICK;
