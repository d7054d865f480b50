//! The error type of the hook host: one variant per outcome a caller (and a test) must tell
//! apart, typed from wasmtime's trap codes and our own limiter, never by comparing error
//! strings (docs/hooks.md, "What a hook can and cannot do", lists the variants).

use std::path::PathBuf;
use std::time::Duration;

use tufd_core::install_plan::PlanError;

/// Result alias for the hook host.
pub type Result<T, E = HookError> = std::result::Result<T, E>;

/// Why a hook could not be loaded or did not give a usable answer. In every case nothing
/// has been done to the install folder.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HookError {
    /// The hook file cannot be read (missing, unreadable).
    #[error("cannot read hook `{path}`")]
    Read {
        /// The hook file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a valid WASM component for this interface (not WASM, a core module,
    /// a component that fails to compile or misses an export or import of `tufd:hook`).
    #[error("hook `{path}` is not a valid tufd:hook component: {reason}")]
    Load {
        /// The hook file.
        path: PathBuf,
        /// wasmtime's explanation.
        reason: String,
    },
    /// The component imports an interface hooks may not use (sockets, HTTP, anything
    /// outside the allow-list of [`crate::ALLOWED_IMPORTS`]).
    #[error("hook `{path}` imports `{import}`, which hooks may not use")]
    ForbiddenImport {
        /// The hook file.
        path: PathBuf,
        /// The import name, e.g. `wasi:sockets/tcp@0.2.6`.
        import: String,
    },
    /// The wasmtime engine could not be set up.
    #[error("cannot set up the wasmtime engine: {reason}")]
    Engine {
        /// wasmtime's explanation.
        reason: String,
    },
    /// The call ran past its time limit (epoch deadline).
    #[error("hook `{hook}` ran past its time limit of {limit:?}")]
    Timeout {
        /// The hook's file name.
        hook: String,
        /// The limit.
        limit: Duration,
    },
    /// The guest asked for more linear memory than allowed (then failed).
    #[error("hook `{hook}` went over its memory limit of {limit_bytes} bytes")]
    OutOfMemory {
        /// The hook's file name.
        hook: String,
        /// The limit in bytes.
        limit_bytes: usize,
    },
    /// The guest trapped (a panic, `unreachable`, a stack overflow, a bad memory access).
    #[error("hook `{hook}` trapped: {reason}{}", stderr_suffix(.stderr))]
    Trap {
        /// The hook's file name.
        hook: String,
        /// The trap code, when wasmtime gave one.
        code: Option<wasmtime::Trap>,
        /// wasmtime's explanation, with the guest backtrace.
        reason: String,
        /// What the guest wrote to stderr (a Rust panic message), at most 16 KiB.
        stderr: String,
    },
    /// The hook answered `err(message)` to `plan-install`.
    #[error("hook `{hook}` refused to plan the install: {message}")]
    HookRefused {
        /// The hook's file name.
        hook: String,
        /// The hook's message.
        message: String,
    },
    /// The plan failed the checker ([`tufd_core::install_plan::check_plan`]).
    #[error("hook `{hook}` returned a plan that was refused")]
    BadPlan {
        /// The hook's file name.
        hook: String,
        /// The first refusal.
        #[source]
        source: PlanError,
    },
}

fn stderr_suffix(stderr: &str) -> String {
    if stderr.trim().is_empty() {
        String::new()
    } else {
        format!(" (stderr: {})", stderr.trim())
    }
}
