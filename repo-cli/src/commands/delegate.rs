//! `tufd-repo delegate PLATFORM --key PUBKEY [--threshold N]` and `tufd-repo keygen NAME`
//! (docs/operations.md, "Build machines per platform").
//!
//! `delegate` adds to the top-level targets role a delegated targets role named after the
//! platform, trusted for `<platform>/*` only and terminating (TUF 5.6.7: no other role is
//! searched for those paths), with the given public keys and threshold; running it again for
//! the same platform replaces the role's keys (key rotation). It needs the targets, snapshot
//! and timestamp keys: it is the one step that needs the offline targets key. `keygen` makes a
//! key on a build machine: the private key into its keystore, the public half as
//! `<keystore>/<name>.pub.json` to hand to whoever runs `delegate`.

use std::collections::HashMap;
use std::fmt;
use std::num::NonZeroU64;
use std::path::PathBuf;

use clap::Args;
use tough::schema::{DelegatedRole, Delegations, PathPattern, PathSet};
use tufd_core::Platform;

use super::{Chain, Ctx, publish_targets};
use crate::error::{Error, Result};
use crate::repo::State;
use crate::repo::delegation::{pattern, read_public_key, role_name};
use crate::repo::txn::Staging;

/// Arguments of `delegate`.
#[derive(Debug, Args)]
pub struct DelegateArgs {
    /// The platform, `<os>-<arch>` (`linux-x86_64`, `windows-x86_64`, `macos-aarch64`, …).
    pub platform: String,
    /// A public key of the platform's role: the `<name>.pub.json` of `tufd-repo keygen` (TUF key
    /// JSON) or a PKCS#8 private key file. Repeat for several keys.
    #[arg(long = "key", value_name = "PUBKEY", required = true)]
    pub keys: Vec<PathBuf>,
    /// Signatures the role's metadata needs, 1..=number of keys.
    #[arg(long, default_value_t = 1)]
    pub threshold: u64,
}

/// What `delegate` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DelegateOutcome {
    /// The delegated role's name (the platform).
    pub role: String,
    /// The path pattern it is trusted for.
    pub pattern: String,
    /// Its number of keys.
    pub keys: usize,
    /// Its threshold.
    pub threshold: u64,
    /// Whether an earlier delegation of the platform was replaced.
    pub replaced: bool,
}

impl fmt::Display for DelegateOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = if self.replaced {
            "re-delegated"
        } else {
            "delegated"
        };
        write!(
            f,
            "{verb} {} to role {} ({} key(s), threshold {}, terminating)",
            self.pattern, self.role, self.keys, self.threshold
        )
    }
}

/// Runs `delegate`. The caller holds [`Ctx::lock`].
///
/// # Errors
/// [`Error::Platform`], [`Error::DelegateThreshold`], unreadable or unparsable keys
/// ([`Error::KeyRead`], [`Error::PublicKey`], [`Error::KeyId`]), the targets, snapshot and
/// timestamp keys missing, [`Error::Publish`]. Nothing is published on error.
pub async fn run(ctx: &Ctx, args: DelegateArgs) -> Result<DelegateOutcome> {
    let platform = Platform::parse(&args.platform).map_err(Error::Platform)?;
    let name = role_name(&platform);
    if args.threshold == 0 || args.threshold > args.keys.len() as u64 {
        return Err(Error::DelegateThreshold {
            role: name,
            threshold: args.threshold,
            keys: args.keys.len(),
        });
    }
    let mut keys = HashMap::new();
    let mut keyids = Vec::new();
    for path in &args.keys {
        let key = read_public_key(path, &ctx.passphrase).await?;
        let id = key.key_id().map_err(|e| Error::KeyId {
            path: path.clone(),
            source: Box::new(e),
        })?;
        if !keyids.contains(&id) {
            keyids.push(id.clone());
        }
        keys.insert(id, key);
    }
    let threshold = NonZeroU64::new(args.threshold).unwrap_or(NonZeroU64::MIN);
    let state = State::load(&ctx.layout)?;
    let signers = ctx.signers(Chain::Targets.roles()).await?;
    let glob = pattern(&platform);
    let path = PathPattern::new(glob.clone()).map_err(|e| Error::CanonicalForm {
        role: name.clone(),
        source: Box::new(e),
    })?;
    let role = DelegatedRole {
        name: name.clone(),
        keyids,
        threshold,
        paths: PathSet::Paths(vec![path]),
        terminating: true,
        targets: None,
    };
    let mut targets = state.targets.signed.signed.clone();
    let delegations = targets.delegations.get_or_insert_with(Delegations::default);
    let replaced = match delegations.roles.iter_mut().find(|r| r.name == name) {
        Some(existing) => {
            *existing = role;
            true
        }
        None => {
            delegations.roles.push(role);
            false
        }
    };
    delegations.keys.extend(keys);
    // Keys no delegated role lists any more (a rotation) are dropped.
    let used: Vec<_> = delegations
        .roles
        .iter()
        .flat_map(|r| r.keyids.iter().cloned())
        .collect();
    delegations.keys.retain(|id, _| used.contains(id));
    let staging = Staging::new(&ctx.layout)?;
    publish_targets(ctx, &state, &signers, staging, targets, "the delegation").await?;
    Ok(DelegateOutcome {
        role: name,
        pattern: glob,
        keys: args.keys.len(),
        threshold: args.threshold,
        replaced,
    })
}

/// Arguments of `keygen`.
#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// The key's name: `<keystore>/<name>.der` (encrypted with the passphrase when one is
    /// given) and `<keystore>/<name>.pub.json`. Name it after the platform it signs for.
    pub name: String,
}

/// What `keygen` wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeygenOutcome {
    /// The private key file.
    pub private: PathBuf,
    /// The public key (TUF key JSON) for `delegate --key`.
    pub public: PathBuf,
}

impl fmt::Display for KeygenOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "wrote {} (keep it on this machine) and {} (for `tufd-repo delegate PLATFORM --key`)",
            self.private.display(),
            self.public.display()
        )
    }
}

/// Runs `keygen`: a new ed25519 key in the keystore and its public half beside it.
///
/// # Errors
/// [`Error::ConfigKeyName`] for a name other than ASCII letters, digits, `_`, `-`;
/// [`Error::KeyExists`]; key generation or [`Error::Io`] failures.
pub async fn keygen(ctx: &Ctx, args: KeygenArgs) -> Result<KeygenOutcome> {
    let ok = !args.name.is_empty()
        && args
            .name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !ok {
        return Err(Error::ConfigKeyName {
            path: ctx.config.path.clone(),
            name: args.name,
        });
    }
    let keystore = ctx.config.keystore_dir();
    let private = crate::keys::generate(&keystore, &args.name, &ctx.passphrase)?;
    let signer = crate::keys::load(&keystore, &args.name, &ctx.passphrase).await?;
    let public = keystore.join(format!("{}.pub.json", args.name));
    let mut bytes = serde_json::to_vec_pretty(&signer.key).map_err(Error::MetadataSerialize)?;
    bytes.push(b'\n');
    crate::repo::fsutil::write_atomic(&public, &bytes)?;
    Ok(KeygenOutcome { private, public })
}
