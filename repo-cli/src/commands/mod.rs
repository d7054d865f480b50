//! One module per subcommand (`XArgs` + `run`), and what they share: the loaded context
//! ([`Ctx`]) and the re-signing chain targets → snapshot → timestamp ([`resign`]).

pub mod add;
pub mod init;
pub mod keys;
pub mod remove_latest;
pub mod serve;
pub mod sign;
pub mod verify;

use std::process::ExitCode;

use anyhow::Context;
use tough::schema::{RoleType, Root, Targets};

use crate::cli::{Cli, Command};
use crate::config::Config;
use crate::keys::{Passphrase, Signer};
use crate::repo::sign::{build_snapshot, build_timestamp, bump, expiry, metafile, sign_role};
use crate::repo::txn::Staging;
use crate::repo::{Layout, State, role_file};

/// Runs the parsed command line; returns the process exit code.
///
/// # Errors
/// Whatever the subcommand reports.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let passphrase = Passphrase::from_sources(cli.passphrase_file.as_deref())?;
    let locked = |passphrase| -> anyhow::Result<(Ctx, std::fs::File)> {
        let ctx = Ctx::load(&cli.config, passphrase)?;
        let lock = ctx.lock()?;
        Ok((ctx, lock))
    };
    match cli.command {
        Command::Init(a) => init::run(&cli.config, &passphrase, a).await,
        Command::Add(a) => {
            let (ctx, _lock) = locked(passphrase)?;
            add::run(ctx, a).await
        }
        Command::RemoveLatest(a) => {
            let (ctx, _lock) = locked(passphrase)?;
            remove_latest::run(ctx, a).await
        }
        Command::Sign(a) => {
            let (ctx, _lock) = locked(passphrase)?;
            sign::run(ctx, a).await
        }
        Command::Keys(a) => {
            let (ctx, _lock) = locked(passphrase)?;
            keys::run(ctx, a).await
        }
        Command::Verify(a) => verify::run(Ctx::load(&cli.config, passphrase)?, a).await,
        Command::Serve(a) => serve::run(Ctx::load(&cli.config, passphrase)?, a).await,
    }
}

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
    /// As [`Config::load`].
    pub fn load(path: &std::path::Path, passphrase: Passphrase) -> anyhow::Result<Self> {
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
    /// A missing key file or a wrong passphrase.
    pub async fn signers(&self, roles: &[RoleType]) -> anyhow::Result<Vec<Signer>> {
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
    /// until the returned file is dropped.
    ///
    /// # Errors
    /// Another `tufd-repo` holds the lock, or the folder is not writable.
    pub fn lock(&self) -> anyhow::Result<std::fs::File> {
        let dir = self.config.base_dir().join(".tufd-repo");
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let path = dir.join("lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("cannot open lock file {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => Ok(file),
            Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
                "another tufd-repo command is changing this repository ({} is locked): wait for it to finish",
                path.display()
            ),
            Err(std::fs::TryLockError::Error(e)) => {
                Err(e).with_context(|| format!("cannot lock {}", path.display()))
            }
        }
    }

    /// Expiry days of `role` from the config.
    ///
    /// # Errors
    /// A missing role section.
    pub fn days(&self, role: RoleType) -> anyhow::Result<u64> {
        Ok(self.config.role(role)?.expires_days)
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

/// Publishes `targets` as the new targets role: re-signs targets, snapshot and timestamp with
/// `signers` into `staging`, then moves everything into the repository (metadata last). `what`
/// names the operation in the error (`"the release"`).
///
/// # Errors
/// Signing or publishing failed; the repository is then unchanged.
pub async fn publish_targets(
    ctx: &Ctx,
    state: &State,
    signers: &[Signer],
    mut staging: Staging,
    targets: Targets,
    what: &str,
) -> anyhow::Result<()> {
    let root = state.root.signed.signed.clone();
    resign(
        ctx,
        state,
        &root,
        signers,
        &mut staging,
        Chain::Targets,
        Some(targets),
        None,
    )
    .await?;
    staging
        .commit(&ctx.layout)
        .with_context(|| format!("while publishing {what} (the repository is unchanged)"))
}

/// Stages new versions of the roles from `from` down to the timestamp, each with version + 1
/// and a fresh expiry (config days, or `first_days` for the first role of the chain), signed
/// with `signers` as `root` lists them. `new_targets` replaces the targets content.
///
/// # Errors
/// Missing keys, signing or staging failures.
#[allow(clippy::too_many_arguments)]
pub async fn resign(
    ctx: &Ctx,
    state: &State,
    root: &Root,
    signers: &[Signer],
    staging: &mut Staging,
    from: Chain,
    new_targets: Option<Targets>,
    first_days: Option<u64>,
) -> anyhow::Result<()> {
    let consistent = root.consistent_snapshot;
    let days = |role, is_first: bool| -> anyhow::Result<u64> {
        match first_days {
            Some(d) if is_first => Ok(d),
            _ => ctx.days(role),
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
        let file = sign_role(build_snapshot(v, e, targets_meta), root, signers).await?;
        staging.add_metadata(&role_file("snapshot", v.get(), consistent), &file.bytes)?;
        file.metafile()
    } else {
        metafile(&state.snapshot.bytes, state.snapshot.signed.signed.version)
    };
    let v = bump(state.timestamp.signed.signed.version);
    let e = expiry(days(RoleType::Timestamp, from == Chain::Timestamp)?)?;
    let file = sign_role(build_timestamp(v, e, snapshot_meta), root, signers)
        .await
        .context("while signing the timestamp")?;
    staging.add_metadata("timestamp.json", &file.bytes)?;
    Ok(())
}
