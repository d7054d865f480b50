//! `tufd-repo keys add|replace ROLE`: key rotation through a new root version (TUF 5.3).
//!
//! A new ed25519 key is generated into the keystore (encrypted when a passphrase is given), the
//! config's key list for the role is updated, and root `N+1` is written as `N+1.root.json` and
//! `root.json`, signed by the current root's keys (threshold of root `N`, so clients trusting
//! `N` accept it) and by the new root's keys. When the role is not root, the role and the roles
//! that hash it are re-signed with the new keys (targets → snapshot → timestamp). Keys that no
//! role uses any more are dropped from the root; their files stay in the keystore until the
//! developer deletes them.

use std::fmt;
use std::num::NonZeroU64;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use tough::schema::RoleType;

use super::sign::{RoleArg, stage_root};
use super::{Chain, Ctx, resign};
use crate::config::{ROLES, role_name};
use crate::error::{Error, Result};
use crate::lifetime::Lifetime;
use crate::repo::State;
use crate::repo::sign::{bump, expiry};
use crate::repo::txn::Staging;

/// Arguments of `keys`.
#[derive(Debug, Args)]
pub struct KeysArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: KeysAction,
}

/// A key rotation.
#[derive(Debug, Subcommand)]
pub enum KeysAction {
    /// Add a new key to ROLE (threshold unchanged unless --threshold).
    Add {
        /// The role.
        #[arg(value_enum)]
        role: RoleArg,
        /// Name of the new key (file `<keystore>/<name>.der`). Default `<role>-<new root version>`.
        #[arg(long)]
        name: Option<String>,
        /// New threshold of the role.
        #[arg(long)]
        threshold: Option<u64>,
    },
    /// Replace every key of ROLE by one new key (threshold 1).
    Replace {
        /// The role.
        #[arg(value_enum)]
        role: RoleArg,
        /// Name of the new key. Default `<role>-<new root version>`.
        #[arg(long)]
        name: Option<String>,
    },
}

/// What `keys` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeysOutcome {
    /// The new root version.
    pub root_version: NonZeroU64,
    /// The role whose keys changed.
    pub role: RoleArg,
    /// The new key's name.
    pub key_name: String,
    /// The new key's file in the keystore.
    pub key_file: PathBuf,
    /// Whether the role's keys were replaced (`keys replace`) rather than added to.
    pub replaced: bool,
    /// `metadata/root.json`, the root new app builds ship.
    pub root_json: PathBuf,
}

impl fmt::Display for KeysOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "root version {}: {} key {} for role {} ({}); ship {} with new app builds",
            self.root_version,
            if self.replaced {
                "replaced with"
            } else {
                "added"
            },
            self.key_name,
            self.role.name(),
            self.key_file.display(),
            self.root_json.display()
        )
    }
}

/// Runs `keys`: generates the new key, writes root `N+1` (cross-signed) and re-signs the
/// role's chain, then saves the config. On failure the new key file is removed and the
/// repository and config are unchanged. The caller holds [`Ctx::lock`].
///
/// # Errors
/// Missing current keys, [`Error::KeyExists`], a bad threshold ([`Error::ConfigThreshold`]),
/// signing or publication failures ([`Error::Publish`]).
pub async fn run(ctx: &Ctx, args: KeysArgs) -> Result<KeysOutcome> {
    let (role, name, replace, threshold) = match args.action {
        KeysAction::Add {
            role,
            name,
            threshold,
        } => (role, name, false, threshold),
        KeysAction::Replace { role, name } => (role, name, true, Some(1)),
    };
    let role_type = role.role_type();
    let state = State::load(&ctx.layout)?;
    let old_root = state.root.signed.signed.clone();
    let new_version = bump(old_root.version);
    let key_name = name.unwrap_or_else(|| format!("{}-{new_version}", role_name(role_type)));
    // Current root keys sign the new root (cross-signing).
    let old_root_signers = ctx.signers(&[RoleType::Root]).await?;

    let keystore = ctx.config.keystore_dir();
    let key_file = crate::keys::generate(&keystore, &key_name, &ctx.passphrase)?;
    let result = async {
        let new_key = crate::keys::load(&keystore, &key_name, &ctx.passphrase).await?;
        let mut config = ctx.config.clone();
        {
            let rc = config.role_mut(role_type)?;
            if replace {
                rc.keys = vec![key_name.clone()];
            } else {
                rc.keys.push(key_name.clone());
            }
            if let Some(t) = threshold {
                rc.threshold = t;
            }
        }
        config.check()?;
        let mut new_root = old_root.clone();
        new_root.version = new_version;
        new_root.expires = expiry(Lifetime::days(config.role(RoleType::Root)?.expires_days))?;
        new_root
            .keys
            .insert(new_key.key_id.clone(), new_key.key.clone());
        {
            let rk = new_root
                .roles
                .get_mut(&role_type)
                .ok_or(Error::RootLacksRole {
                    role: role_name(role_type),
                })?;
            if replace {
                rk.keyids = vec![new_key.key_id.clone()];
            } else if !rk.keyids.contains(&new_key.key_id) {
                rk.keyids.push(new_key.key_id.clone());
            }
            // `config.check()` refused 0 already.
            let rc = config.role(role_type)?;
            rk.threshold = NonZeroU64::new(rc.threshold).ok_or_else(|| Error::ConfigThreshold {
                path: config.path.clone(),
                role: role_name(role_type),
                threshold: rc.threshold,
                keys: rc.keys.len(),
            })?;
        }
        let used: Vec<_> = new_root
            .roles
            .values()
            .flat_map(|r| r.keyids.clone())
            .collect();
        new_root.keys.retain(|id, _| used.contains(id));

        let new_ctx = Ctx {
            config: config.clone(),
            layout: ctx.layout.clone(),
            passphrase: ctx.passphrase.clone(),
        };
        let mut staging = Staging::new(&ctx.layout)?;
        let mut root_signers = old_root_signers;
        for s in new_ctx.signers(&[RoleType::Root]).await? {
            if !root_signers.iter().any(|x| x.key_id == s.key_id) {
                root_signers.push(s);
            }
        }
        stage_root(&mut staging, &new_root, &old_root, &root_signers, &[]).await?;
        let chain = match role_type {
            RoleType::Targets => Some(Chain::Targets),
            RoleType::Snapshot => Some(Chain::Snapshot),
            RoleType::Timestamp => Some(Chain::Timestamp),
            _ => None,
        };
        if let Some(chain) = chain {
            let roles: Vec<RoleType> = ROLES.into_iter().filter(|r| *r != RoleType::Root).collect();
            let signers = new_ctx.signers(&roles).await?;
            resign(
                &new_ctx,
                &state,
                &new_root,
                &signers,
                &mut staging,
                chain,
                None,
                None,
            )
            .await?;
        }
        staging.commit(&ctx.layout).map_err(|e| Error::Publish {
            what: "the new root",
            source: Box::new(e),
        })?;
        config.save()
    }
    .await;
    if let Err(e) = result {
        let _ = std::fs::remove_file(&key_file);
        return Err(e);
    }
    Ok(KeysOutcome {
        root_version: new_version,
        role,
        key_name,
        key_file,
        replaced: replace,
        root_json: ctx.layout.metadata.join("root.json"),
    })
}
