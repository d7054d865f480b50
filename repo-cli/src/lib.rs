//! `tufd_repo`: the library under the `tufd-repo` command, the app developer's publishing
//! tool. It turns app bundle folders into signed TUF releases in a static tree
//! (`repository/metadata/` + `repository/targets/`) and edits that tree: the same operations as
//! the subcommands, usable and testable without the command line (as `tough::editor` sits under
//! `tuftool`).
//!
//! - [`commands`]: one module per operation — [`commands::init`], [`commands::add`],
//!   [`commands::remove_latest`], [`commands::sign`], [`commands::keys`] (root key
//!   rotation), [`commands::verify`], [`commands::serve`] — each taking its arguments and a
//!   [`Ctx`] and returning what it did; plus the shared context, lock and re-signing chain.
//! - [`config`]: the `tufd-repo.toml` configuration.
//! - [`keys`]: the keystore (plain or encrypted PKCS#8 ed25519 keys) and the passphrase.
//! - [`repo`]: the published tree on disk: layout, current state, signing, atomic publication.
//! - [`error`]: [`Error`], keeping every lower error whole as its cause, and its stable
//!   [`ErrorKind`].
//! - [`cli`]: the command line and [`cli::run`], which prints each command's outcome.
//!
//! ```no_run
//! # async fn demo() -> tufd_repo::Result<()> {
//! use tufd_repo::commands::add::{self, AddArgs};
//! use tufd_repo::keys::Passphrase;
//! use tufd_repo::{Ctx, ErrorKind};
//!
//! let ctx = Ctx::load("tufd-repo.toml".as_ref(), Passphrase::none())?;
//! let _lock = ctx.lock()?;
//! let args = AddArgs {
//!     bundle_dir: "dist".into(),
//!     version: "1.1".into(),
//!     required: false,
//!     meta: None,
//!     skip_patch: false,
//!     codec: None,
//!     allow_single_folder: false,
//!     rollout: None,
//!     platform: None,
//! };
//! match add::run(&ctx, args).await {
//!     Ok(done) => println!("{done}"),
//!     Err(e) if e.kind() == ErrorKind::Release => eprintln!("not published: {e}"),
//!     Err(e) => return Err(e),
//! }
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

pub mod cli;
pub mod commands;
pub mod config;
pub mod error;
pub mod keys;
pub mod lifetime;
mod progress;
pub mod repo;
pub mod tufup;

pub use commands::{Ctx, RepoLock};
pub use config::Config;
pub use error::{Error, ErrorKind, Result};
