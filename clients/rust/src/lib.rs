//! `tufd-client`: start the tufd update sidecar from a Rust app and talk to it.
//!
//! The app spawns `tufd sidecar` as a child and speaks JSON-RPC 2.0 over the child's stdin and
//! stdout, one message per line (`docs/protocol.md`). This crate owns that conversation: the
//! typed messages ([`message`]), the daemon's flags ([`SidecarOptions`]), a blocking
//! [`Client`] (a reader thread, notifications to a callback) and, with the `async` feature, an
//! `AsyncClient` on tokio (notifications on a channel). Error answers become
//! [`ClientError::Rpc`] with the JSON-RPC code, the message and the update error `kind`.
//!
//! ```no_run
//! use std::time::Duration;
//! use tufd_client::{Client, Notification, SidecarOptions};
//!
//! let options = SidecarOptions::new("hello", "1.0")
//!     .install_dir("/opt/hello".as_ref())
//!     .data_dir("/var/lib/hello-tufd".as_ref())
//!     .repository("https://updates.example.com")
//!     .trusted_root("/opt/hello/1.root.json".as_ref());
//! let client = Client::spawn(&options, |note| {
//!     if let Notification::Progress { target, done_bytes, total_bytes } = note {
//!         eprintln!("{target}: {done_bytes}/{total_bytes} bytes");
//!     }
//! })?;
//! let report = client.check(Duration::from_secs(120))?;
//! if report.update_available {
//!     client.download(Duration::from_secs(3600))?;
//!     client.install(Duration::from_secs(600))?;
//! }
//! client.shutdown(Duration::from_secs(30))?;
//! # Ok::<(), tufd_client::ClientError>(())
//! ```

#![warn(missing_docs)]

pub mod blocking;
pub mod error;
pub mod message;
#[cfg(feature = "async")]
pub mod nonblocking;
pub mod options;

pub use blocking::{Client, PendingCall};
pub use error::{ClientError, Result};
pub use message::{
    Cancelled, CheckReport, Confirmed, ErrorKind, Installed, Method, Notification, PlanSummary,
    RolledBack, Staged, State, Status,
};
#[cfg(feature = "async")]
pub use nonblocking::AsyncClient;
pub use options::SidecarOptions;
