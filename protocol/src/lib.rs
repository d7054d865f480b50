//! `tufd-protocol`: the one definition of the sidecar protocol (docs/protocol.md), used by the
//! daemon that speaks it, the engine whose reports it carries, and the Rust client that reads
//! it. JSON-RPC 2.0 over stdio, one message a line.
//!
//! - [`Method`]: the requests an app sends; each has a result type in [`results`].
//! - [`Notification`]: what tufd sends unasked (`state`, `progress`, …).
//! - [`State`]: the engine's states as named on the wire.
//! - [`ErrorKind`]: the stable `data.kind` of every tufd error, and its JSON-RPC code
//!   ([`codes`]).
//!
//! Versions travel as PEP 440 strings; this crate depends on serde alone.
#![warn(missing_docs)]

pub mod codes;
mod error_kind;
mod method;
mod notification;
pub mod results;
mod state;

pub use error_kind::ErrorKind;
pub use method::Method;
pub use notification::Notification;
pub use results::{
    Cancelled, CheckReport, Confirmed, Downgrade, Installed, PlanSummary, RolledBack, Staged,
    Status,
};
pub use state::State;
