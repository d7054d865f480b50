//! `tufd-repo sign ROLE [--expires-in LIFETIME] [--key FILE]`.
//!
//! Without `--key`: re-signs `ROLE` with a new version and expiry, and the roles that depend on
//! it: `targets` → targets, snapshot, timestamp; `snapshot` → snapshot, timestamp; `timestamp`
//! → timestamp only (keeping the snapshot it names); `root` → a new root version (same keys).
//! A root without consistent snapshots gets them when the config says `consistent_snapshot =
//! true` (how a repository leaves tufup's layout): every current target is published again
//! under its hash-prefixed name and targets, snapshot and timestamp are re-signed under
//! versioned names, in the same atomic publication.
//! This is what a cron job runs to keep timestamp and snapshot fresh (tufup#36).
//!
//! With `--key FILE` (threshold signing, best effort): adds the signature of that key to the
//! role's *current* file without changing its content or version, then re-signs the roles that
//! hash it (snapshot → timestamp) with the keystore's keys. The key must be listed for the role
//! in the current root. Normal signing requires the role's threshold of keys in the keystore.

use std::fmt;
use std::num::NonZeroU64;

use clap::{Args, ValueEnum};
use tough::schema::{Role, RoleType, Root, Signed, Targets};

use super::{Chain, Ctx, resign};
use crate::error::{Error, Result};
use crate::keys::Signer;
use crate::lifetime::Lifetime;
use crate::repo::sign::{RootSigner, SignedFile, bump, expiry, root_key_id, sign_as, signers_for};
use crate::repo::txn::Staging;
use crate::repo::{Loaded, State, target_file};

/// A top-level role name on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    /// root
    Root,
    /// targets
    Targets,
    /// snapshot
    Snapshot,
    /// timestamp
    Timestamp,
}

impl RoleArg {
    /// The TUF role type.
    pub fn role_type(self) -> RoleType {
        match self {
            RoleArg::Root => RoleType::Root,
            RoleArg::Targets => RoleType::Targets,
            RoleArg::Snapshot => RoleType::Snapshot,
            RoleArg::Timestamp => RoleType::Timestamp,
        }
    }

    /// The role's name (`root`, `targets`, …).
    pub fn name(self) -> &'static str {
        crate::config::role_name(self.role_type())
    }
}

/// Arguments of `sign`.
#[derive(Debug, Args)]
pub struct SignArgs {
    /// The role to re-sign.
    #[arg(value_enum)]
    pub role: RoleArg,
    /// Lifetime of the re-signed role: days (`7`) or a duration (`12h`, `30m`, `1d 12h`); must
    /// be positive. Default: `expires_days` of the role in the config.
    #[arg(long, value_name = "LIFETIME")]
    pub expires_in: Option<Lifetime>,
    /// Add one signature with this key file (PKCS#8 DER, plain or encrypted) to the role's current
    /// metadata instead of making a new version (threshold signing).
    #[arg(long)]
    pub key: Option<std::path::PathBuf>,
}

/// What `sign` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignOutcome {
    /// `--key`: one signature added to the role's current metadata (and the roles that hash it
    /// re-signed).
    SignatureAdded {
        /// The role.
        role: RoleArg,
    },
    /// A new root version, same keys.
    Root {
        /// The new root version.
        version: NonZeroU64,
    },
    /// `role` and the roles that depend on it re-signed.
    Chain {
        /// The role asked for.
        role: RoleArg,
        /// The new timestamp version.
        timestamp_version: NonZeroU64,
    },
}

impl fmt::Display for SignOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignOutcome::SignatureAdded { role } => {
                write!(f, "added a signature to {}", role.name())
            }
            SignOutcome::Root { version } => write!(f, "signed root version {version}"),
            SignOutcome::Chain {
                role,
                timestamp_version,
            } => write!(
                f,
                "signed {} (timestamp version {timestamp_version})",
                role.name()
            ),
        }
    }
}

/// Runs `sign`. The caller holds [`Ctx::lock`].
///
/// # Errors
/// Missing keys ([`Error::KeyRead`], [`Error::TooFewKeys`], [`Error::TooFewRootKeys`]), a key
/// not listed for the role ([`Error::KeyNotListed`]), signing or publication failures.
pub async fn run(ctx: &Ctx, args: SignArgs) -> Result<SignOutcome> {
    let state = State::load(&ctx.layout)?;
    let root = state.root.signed.signed.clone();
    let mut staging = Staging::new(&ctx.layout)?;
    if let Some(key_path) = &args.key {
        let extra = crate::keys::load_file(key_path, "--key", &ctx.passphrase).await?;
        add_signature(ctx, &state, &root, args.role, &extra, &mut staging).await?;
        staging.commit(&ctx.layout)?;
        return Ok(SignOutcome::SignatureAdded { role: args.role });
    }
    let chain = match args.role {
        RoleArg::Root => {
            let signers = ctx.signers(&[RoleType::Root]).await?;
            let mut new_root = root.clone();
            new_root.version = bump(root.version);
            new_root.expires = expiry(match args.expires_in {
                Some(lifetime) => lifetime,
                None => Lifetime::days(ctx.days(RoleType::Root)?),
            })?;
            // Consistent snapshots are switched on (never off) by a new root: the config asks
            // for them and the current root has none (a repository leaving tufup's layout).
            let switch = ctx.config.consistent_snapshot && !root.consistent_snapshot;
            new_root.consistent_snapshot |= switch;
            stage_root(&mut staging, &new_root, &root, &signers, &[]).await?;
            if switch {
                stage_consistent_layout(ctx, &state, &mut staging)?;
                let chain_signers = ctx.signers(Chain::Targets.roles()).await?;
                resign(
                    ctx,
                    &state,
                    &new_root,
                    &chain_signers,
                    &mut staging,
                    Chain::Targets,
                    None,
                    None,
                )
                .await?;
            }
            staging.commit(&ctx.layout)?;
            return Ok(SignOutcome::Root {
                version: new_root.version,
            });
        }
        RoleArg::Targets => Chain::Targets,
        RoleArg::Snapshot => Chain::Snapshot,
        RoleArg::Timestamp => Chain::Timestamp,
    };
    let signers = ctx.signers(chain.roles()).await?;
    resign(
        ctx,
        &state,
        &root,
        &signers,
        &mut staging,
        chain,
        None,
        args.expires_in,
    )
    .await?;
    staging.commit(&ctx.layout)?;
    Ok(SignOutcome::Chain {
        role: args.role,
        timestamp_version: bump(state.timestamp.signed.signed.version),
    })
}

/// Stages what clients of a root with consistent snapshots fetch and the plain layout lacks:
/// every current target again as `<sha256>.<name>` (a hard link to the published file, or a
/// copy), for the top-level targets role and each delegated role the snapshot lists, and each
/// delegated role's metadata as `<version>.<role>.json`. The caller re-signs targets, snapshot
/// and timestamp, which are then written under versioned names too. The plain files stay, so
/// clients still on the previous root keep finding theirs.
///
/// # Errors
/// [`Error::MetadataRead`], [`Error::MetadataParse`] (a delegated role), [`Error::Io`]
/// (linking or copying a target, staging metadata).
fn stage_consistent_layout(ctx: &Ctx, state: &State, staging: &mut Staging) -> Result<()> {
    let mut listings = vec![state.targets.signed.signed.clone()];
    for (name, meta) in &state.snapshot.signed.signed.meta {
        if name == "targets.json" {
            continue;
        }
        let path = ctx.layout.metadata.join(name);
        let bytes = std::fs::read(&path).map_err(|source| Error::MetadataRead {
            path: path.clone(),
            source,
        })?;
        let role: Signed<Targets> = serde_json::from_slice(&bytes)
            .map_err(|source| Error::MetadataParse { path, source })?;
        listings.push(role.signed);
        staging.add_metadata(&format!("{}.{name}", meta.version), &bytes)?;
    }
    let mut n = 0;
    for listing in &listings {
        for (name, target) in &listing.targets {
            let published = ctx.layout.targets.join(name.raw());
            let hashed = target_file(name.raw(), &hex::encode(&*target.hashes.sha256), true);
            n += 1;
            let staged = staging.targets_dir().join(format!("consistent-{n}"));
            std::fs::hard_link(&published, &staged)
                .or_else(|_| std::fs::copy(&published, &staged).map(|_| ()))
                .map_err(Error::io("link", &published))?;
            staging.add_target(staged, hashed);
        }
    }
    Ok(())
}

/// Signs `new_root` with the keys `new_root` lists for root and the keys `old_root` lists for
/// root (cross-signing, TUF 5.3.4), keeps `keep` signatures, and stages `N.root.json` and
/// `root.json`.
///
/// # Errors
/// [`Error::TooFewRootKeys`] for either threshold, signing failures, [`Error::Io`] while
/// staging.
pub async fn stage_root(
    staging: &mut Staging,
    new_root: &Root,
    old_root: &Root,
    signers: &[Signer],
    keep: &[tough::schema::Signature],
) -> Result<SignedFile<Root>> {
    let new_keys = signers_for(new_root, RoleType::Root, signers);
    let old_keys = signers_for(old_root, RoleType::Root, signers);
    for (root, keys, which) in [
        (new_root, &new_keys, "new"),
        (old_root, &old_keys, "current"),
    ] {
        let threshold = root
            .roles
            .get(&RoleType::Root)
            .map_or(1, |k| k.threshold.get());
        if (keys.len() as u64) < threshold {
            return Err(Error::TooFewRootKeys {
                which,
                threshold,
                available: keys.len(),
            });
        }
    }
    let mut all = new_keys;
    for k in old_keys {
        if !all.iter().any(|x| x.key_id == k.key_id) {
            all.push(k);
        }
    }
    let file = sign_as(new_root.clone(), &all, keep).await?;
    staging.add_metadata(&format!("{}.root.json", new_root.version), &file.bytes)?;
    staging.add_metadata("root.json", &file.bytes)?;
    Ok(file)
}

async fn add_signature(
    ctx: &Ctx,
    state: &State,
    root: &Root,
    role: RoleArg,
    extra: &crate::keys::Signer,
    staging: &mut Staging,
) -> Result<()> {
    let listed = root_key_id(root, &extra.key).filter(|id| {
        root.roles
            .get(&role.role_type())
            .is_some_and(|k| k.keyids.contains(id))
    });
    let Some(key_id) = listed else {
        return Err(Error::KeyNotListed { role: role.name() });
    };
    let extra = RootSigner {
        key_id,
        signer: extra,
    };
    match role {
        RoleArg::Root => {
            let file = add_to(&state.root, extra).await?;
            staging.add_metadata(&state.root.file_name, &file.bytes)?;
            staging.add_metadata("root.json", &file.bytes)?;
        }
        RoleArg::Targets => {
            let file = add_to(&state.targets, extra).await?;
            staging.add_metadata(&state.targets.file_name, &file.bytes)?;
            let mut st = state.clone();
            st.targets.bytes = file.bytes.clone();
            // Snapshot must hash the new targets bytes: re-sign snapshot and timestamp.
            let signers = ctx
                .signers(&[RoleType::Snapshot, RoleType::Timestamp])
                .await?;
            resign(
                ctx,
                &st,
                root,
                &signers,
                staging,
                Chain::Snapshot,
                None,
                None,
            )
            .await?;
        }
        RoleArg::Snapshot => {
            let file = add_to(&state.snapshot, extra).await?;
            staging.add_metadata(&state.snapshot.file_name, &file.bytes)?;
            let mut st = state.clone();
            st.snapshot.bytes = file.bytes.clone();
            let signers = ctx.signers(&[RoleType::Timestamp]).await?;
            resign(
                ctx,
                &st,
                root,
                &signers,
                staging,
                Chain::Timestamp,
                None,
                None,
            )
            .await?;
        }
        RoleArg::Timestamp => {
            let file = add_to(&state.timestamp, extra).await?;
            staging.add_metadata("timestamp.json", &file.bytes)?;
        }
    }
    Ok(())
}

async fn add_to<T: Role + serde::Serialize + Clone>(
    loaded: &Loaded<T>,
    extra: RootSigner<'_>,
) -> Result<SignedFile<T>> {
    let Signed { signed, signatures } = loaded.signed.clone();
    let mut keep: Vec<_> = signatures
        .into_iter()
        .filter(|s| &s.keyid != extra.key_id)
        .collect();
    let file = sign_as(signed, &[extra], &[]).await?;
    let mut sigs = std::mem::take(&mut keep);
    sigs.extend(file.signed.signatures);
    SignedFile::from_signed(Signed {
        signed: file.signed.signed,
        signatures: sigs,
    })
}
