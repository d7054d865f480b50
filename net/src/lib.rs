//! `tufd-net`: everything tufd fetches, and the TUF verification of it (docs/architecture.md).
//! Async, no actors: the engine's workers and the conformance client both drive it.
//!
//! - [`transport`]: one shared HTTP client (proxies, timeouts, loopback never proxied) as the
//!   TUF client's transport, and `file://` repositories.
//! - [`trusted_store`]: the TUF client (`sigstore-tuf`) over that transport, the trusted metadata
//!   as the exact received bytes, and the refresh keeping it.
//! - [`tuf`]: one refresh and the trusted targets as the planner sees them ([`tuf::RepoView`]).
//! - [`download`]: chunked, resumable target downloads checked against the signed length and
//!   hashes.
#![warn(missing_docs)]

pub mod download;
pub mod transport;
pub mod trusted_store;
pub mod tuf;

pub use download::DownloadError;
pub use trusted_store::{TrustedStoreError, TufFailure};
pub use tuf::{RepoView, TargetFile};
