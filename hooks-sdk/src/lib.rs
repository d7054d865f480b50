//! `tufd-hooks-sdk`: write a tufd install hook in Rust (guide: `docs/hooks.md`).
//!
//! The interface is `wit/hook.wit` (package `tufd:hook@0.1.0`, world `install-hook`). A hook
//! implements [`Hook`] (the world's exports), registers itself with [`export_hook!`], and is
//! built with `cargo build --release --target wasm32-wasip2`:
//!
//! ```ignore
//! use tufd_hooks_sdk::{Hook, InstallContext, Step, UpdateInfo, Decision, plans};
//!
//! struct MyHook;
//!
//! impl Hook for MyHook {
//!     fn plan_install(ctx: InstallContext) -> Result<Vec<Step>, String> {
//!         Ok(plans::replace_tree_keeping(&ctx, &["user-data"]))
//!     }
//!     fn on_update_available(_info: UpdateInfo) -> Decision {
//!         Decision::InstallNow
//!     }
//! }
//!
//! tufd_hooks_sdk::export_hook!(MyHook);
//! ```
//!
//! The bindings, step constructors and plans exist only when compiling for `wasm32`; the pure
//! path helpers in [`path`] build everywhere (and are unit-tested on the host).
#![deny(unsafe_code)]

pub mod path;

#[cfg(target_arch = "wasm32")]
mod guest;
#[cfg(target_arch = "wasm32")]
pub use guest::*;
