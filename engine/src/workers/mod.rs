//! The workers the supervisor owns, one actor per concern and one job at a time each: each is a
//! thin shell that runs its crate's function (blocking work on a blocking thread) and answers.
//!
//! - [`metadata`]: TUF refresh (`tufd_net::tuf::refresh`) through one trusted store for its life.
//! - [`download`]: one verified, resumable target download (`tufd_net::download`).
//! - [`patch`]: building the new tar (`tufd_install::build`).
//! - [`install`]: staging, the journaled install, and the commit and rollback after it
//!   (`tufd_install`), so that its mailbox serialises every change to the install folder.

pub mod download;
pub mod install;
pub mod metadata;
pub mod patch;
