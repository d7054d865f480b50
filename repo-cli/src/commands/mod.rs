//! The repository operations, one module per subcommand: its arguments (`XArgs`, clap-derived
//! plain structs that are also the library's options), a `run` that does the work and returns
//! what it did (`XOutcome`, whose `Display` is the line the command prints; `serve` has
//! [`serve::bind`] and [`serve::Server::run`] instead), and nothing printed. [`crate::cli`]
//! wires them to the command line.
//!
//! What they share lives here: the loaded context ([`Ctx`]), the working folder's lock
//! ([`RepoLock`]) and the re-signing chain targets → snapshot → timestamp ([`resign`]).
//!
//! A caller that changes the repository (`add`, `remove-latest`, `sign`, `keys`) holds
//! [`Ctx::lock`] while it runs, as the command line does.

pub mod add;
pub mod delegate;
pub mod expiry;
pub mod import_tufup;
pub mod init;
pub mod keys;
pub mod platform;
pub mod publish;
pub mod remove_latest;
pub mod rollout;
pub mod serve;
pub mod sign;
pub mod status;
pub mod verify;

use std::path::{Path, PathBuf};

use tough::schema::{RoleType, Root, Targets};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::keys::{Passphrase, Signer};
use crate::lifetime::Lifetime;
use crate::repo::sign::{build_snapshot, build_timestamp, bump, expiry, metafile, sign_role};
use crate::repo::txn::Staging;
use crate::repo::{Layout, State, role_file};

/// What most commands start from: the config, the repository layout and the passphrase.
#[derive(Debug)]
pub struct Ctx {
    /// The parsed config.
    pub config: Config,
    /// The served tree.
    pub layout: Layout,
    /// Keystore passphrase, if any.
    pub passphrase: Passphrase,
}

impl Ctx {
    /// Loads the config at `path`.
    ///
    /// # Errors
    /// As [`Config::load`] (kind `config`).
    pub fn load(path: &Path, passphrase: Passphrase) -> Result<Self> {
        let config = Config::load(path)?;
        let layout = Layout::new(&config.repository_dir());
        Ok(Self {
            config,
            layout,
            passphrase,
        })
    }

    /// Loads the keys the config names for `roles` (each key once).
    ///
    /// # Errors
    /// As [`crate::keys::load`]: a missing key file ([`Error::KeyRead`]), a wrong or missing
    /// passphrase.
    pub async fn signers(&self, roles: &[RoleType]) -> Result<Vec<Signer>> {
        let mut names: Vec<&str> = Vec::new();
        for r in roles {
            for k in &self.config.role(*r)?.keys {
                if !names.contains(&k.as_str()) {
                    names.push(k);
                }
            }
        }
        let mut out = Vec::new();
        for n in names {
            out.push(crate::keys::load(&self.config.keystore_dir(), n, &self.passphrase).await?);
        }
        Ok(out)
    }

    /// Takes the working folder's lock (`.tufd-repo/lock` beside the config) so that two
    /// commands (a cron `sign timestamp` and an `add`) never publish at the same time. Held
    /// until the returned lock is dropped.
    ///
    /// # Errors
    /// [`Error::Locked`] when another `tufd-repo` holds the lock, [`Error::Io`] when the folder
    /// is not writable.
    pub fn lock(&self) -> Result<RepoLock> {
        let dir = self.config.base_dir().join(".tufd-repo");
        std::fs::create_dir_all(&dir).map_err(Error::io("create", &dir))?;
        let path = dir.join("lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(Error::io("open lock file", &path))?;
        match file.try_lock() {
            Ok(()) => Ok(RepoLock { _file: file, path }),
            Err(std::fs::TryLockError::WouldBlock) => Err(Error::Locked { path }),
            Err(std::fs::TryLockError::Error(e)) => Err(Error::io("lock", path)(e)),
        }
    }

    /// Expiry days of `role` from the config.
    ///
    /// # Errors
    /// [`Error::ConfigMissingRole`].
    pub fn days(&self, role: RoleType) -> Result<u64> {
        Ok(self.config.role(role)?.expires_days)
    }
}

/// The working folder's exclusive lock (an OS file lock on `.tufd-repo/lock`), released when
/// dropped.
#[derive(Debug)]
pub struct RepoLock {
    _file: std::fs::File,
    path: PathBuf,
}

impl RepoLock {
    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Where the re-signing chain starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chain {
    /// Targets (with new content or the same), then snapshot and timestamp.
    Targets,
    /// Snapshot, then timestamp.
    Snapshot,
    /// Timestamp only.
    Timestamp,
}

impl Chain {
    /// The roles the chain re-signs, first to last (whose keys it needs).
    pub fn roles(self) -> &'static [RoleType] {
        match self {
            Chain::Targets => &[RoleType::Targets, RoleType::Snapshot, RoleType::Timestamp],
            Chain::Snapshot => &[RoleType::Snapshot, RoleType::Timestamp],
            Chain::Timestamp => &[RoleType::Timestamp],
        }
    }
}

/// Publishes `targets` as the new targets role: re-signs targets, snapshot and timestamp with
/// `signers` into `staging`, then moves everything into the repository (metadata last). `what`
/// names the operation in the error (`"the release"`).
///
/// # Errors
/// As [`publish_chain`]; the repository is then unchanged.
pub async fn publish_targets(
    ctx: &Ctx,
    state: &State,
    signers: &[Signer],
    staging: Staging,
    targets: Targets,
    what: &'static str,
) -> Result<()> {
    publish_chain(
        ctx,
        state,
        signers,
        staging,
        Chain::Targets,
        Some(targets),
        what,
    )
    .await
}

/// Re-signs the roles from `from` down to the timestamp as [`resign`] does (under `state`'s
/// root, `new_targets` as the targets content when the chain starts at targets) with `signers`
/// into `staging`, then moves everything into the repository (metadata last). `what` names the
/// operation in the error (`"the removal"`).
///
/// # Errors
/// Signing failed (as [`resign`]), or publishing failed ([`Error::Publish`] around the cause);
/// the repository is then unchanged.
pub async fn publish_chain(
    ctx: &Ctx,
    state: &State,
    signers: &[Signer],
    mut staging: Staging,
    from: Chain,
    new_targets: Option<Targets>,
    what: &'static str,
) -> Result<()> {
    let root = state.root.signed.signed.clone();
    resign(
        ctx,
        state,
        &root,
        signers,
        &mut staging,
        from,
        new_targets,
        None,
    )
    .await?;
    staging.commit(&ctx.layout).map_err(|e| Error::Publish {
        what,
        source: Box::new(e),
    })
}

/// Stages new versions of the roles from `from` down to the timestamp (the snapshot keeps the
/// entries of `state`'s snapshot other than `targets.json`: the delegated roles), each with
/// version + 1 and a fresh expiry (config days, or `first_lifetime` for the first role of the
/// chain), signed with `signers` as `root` lists them. `new_targets` replaces the targets
/// content.
///
/// # Errors
/// Too few keys ([`Error::TooFewKeys`]), signing failures, an out-of-range expiry, or
/// [`Error::Io`] while staging.
#[allow(clippy::too_many_arguments)]
pub async fn resign(
    ctx: &Ctx,
    state: &State,
    root: &Root,
    signers: &[Signer],
    staging: &mut Staging,
    from: Chain,
    new_targets: Option<Targets>,
    first_lifetime: Option<Lifetime>,
) -> Result<()> {
    let consistent = root.consistent_snapshot;
    let days = |role, is_first: bool| -> Result<Lifetime> {
        match first_lifetime {
            Some(l) if is_first => Ok(l),
            _ => ctx.days(role).map(Lifetime::days),
        }
    };
    let targets_meta = if from == Chain::Targets {
        let mut targets = new_targets.unwrap_or_else(|| state.targets.signed.signed.clone());
        targets.version = bump(state.targets.signed.signed.version);
        targets.expires = expiry(days(RoleType::Targets, true)?)?;
        let v = targets.version;
        let file = sign_role(targets, root, signers).await?;
        staging.add_metadata(&role_file("targets", v.get(), consistent), &file.bytes)?;
        file.metafile()
    } else {
        metafile(&state.targets.bytes, state.targets.signed.signed.version)
    };
    let snapshot_meta = if from != Chain::Timestamp {
        let v = bump(state.snapshot.signed.signed.version);
        let e = expiry(days(RoleType::Snapshot, from == Chain::Snapshot)?)?;
        let mut snapshot = build_snapshot(v, e, targets_meta);
        // The delegated roles' entries are kept (a new one is in `state`'s snapshot already).
        for (name, meta) in &state.snapshot.signed.signed.meta {
            snapshot
                .meta
                .entry(name.clone())
                .or_insert_with(|| meta.clone());
        }
        let file = sign_role(snapshot, root, signers).await?;
        staging.add_metadata(&role_file("snapshot", v.get(), consistent), &file.bytes)?;
        file.metafile()
    } else {
        metafile(&state.snapshot.bytes, state.snapshot.signed.signed.version)
    };
    let v = bump(state.timestamp.signed.signed.version);
    let e = expiry(days(RoleType::Timestamp, from == Chain::Timestamp)?)?;
    let file = sign_role(build_timestamp(v, e, snapshot_meta), root, signers).await?;
    staging.add_metadata("timestamp.json", &file.bytes)?;
    Ok(())
}
