//! `tufd-repo remove-latest [--platform OS-ARCH]`: removes the newest release of the app (its
//! archive and its patch), flat or of one platform, from the targets metadata that lists it,
//! then re-signs that role, the snapshot and the timestamp. A platform the top-level targets
//! role delegates is re-signed with its delegated role's keys alone, as `add --platform` does.
//!
//! After the new metadata is published, the removed release's files are deleted from
//! `targets/` (no current metadata names them), so the same version can be published again
//! with other content. Older metadata versions that still list them stay on disk; TUF clients
//! never go back to them.

use std::fmt;
use std::path::PathBuf;

use clap::Args;
use tufd_core::{TargetName, Version};

use super::add::tname;
use super::platform::Scope;
use super::{Chain, Ctx, publish_chain};
use crate::error::{Error, Result};
use crate::repo::txn::Staging;
use crate::repo::{State, target_file};

/// Arguments of `remove-latest`.
#[derive(Debug, Default, Args)]
pub struct RemoveLatestArgs {
    /// Remove the newest release of this platform (`<os>-<arch>`); without it, the newest flat
    /// release. When the top-level targets role delegates the platform, its delegated role is
    /// re-signed with its keys from the keystore, so the top-level targets key can stay offline.
    #[arg(long, value_name = "OS-ARCH")]
    pub platform: Option<String>,
}

/// What `remove-latest` removed.
#[derive(Debug)]
pub struct RemoveOutcome {
    /// The removed release's version.
    pub version: Version,
    /// The removed targets (archive, patch), in version order.
    pub targets: Vec<TargetName>,
    /// Files of removed targets that could not be deleted from `targets/` (the metadata no
    /// longer names them; delete them by hand before publishing the same version again).
    pub not_deleted: Vec<(PathBuf, std::io::Error)>,
}

impl fmt::Display for RemoveOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.targets.iter().map(TargetName::as_str).collect();
        write!(f, "removed release {}: {}", self.version, names.join(", "))
    }
}

/// Runs `remove-latest`: unlists the newest release of the scope (flat, or `--platform`'s) from
/// the role that lists it, re-signs that role (the platform's delegated role with its own keys,
/// or the top-level targets role), the snapshot and the timestamp, then deletes the release's
/// files. The caller holds [`Ctx::lock`].
///
/// # Errors
/// [`Error::NothingToRemove`] when the scope has no release; the platform's errors
/// ([`Scope::load`]: a bad name, the delegated role's keys missing); missing top-level keys;
/// signing or publication failures (the repository is then unchanged).
pub async fn run(ctx: &Ctx, args: RemoveLatestArgs) -> Result<RemoveOutcome> {
    let app = ctx.config.app_name.clone();
    let state = State::load(&ctx.layout)?;
    let scope = Scope::load(ctx, &state, args.platform.as_deref()).await?;
    let Some(latest) = scope.latest_version(&state, &app) else {
        return Err(Error::NothingToRemove {
            app,
            platform: args.platform,
        });
    };
    // Each name leaves the role that lists it: the top-level targets role (flat releases, and
    // platform releases published before the platform was delegated) or the delegated role.
    let mut top = state.targets.signed.signed.clone();
    let mut delegated = scope.targets(ctx, &state)?;
    let (mut top_changed, mut delegated_changed) = (false, false);
    let mut files = Vec::new();
    for (name, target) in scope.releases(&state, &app) {
        if name.version() != &latest {
            continue;
        }
        let key = tname(name.as_str())?;
        top_changed |= top.remove_target(&key).is_some();
        if scope.delegated.is_some() {
            delegated_changed |= delegated.remove_target(&key).is_some();
        }
        let path = ctx.layout.targets.join(target_file(
            name.as_str(),
            &hex::encode(&*target.hashes.sha256),
            state.consistent(),
        ));
        files.push((name, path));
    }
    let chain = if top_changed {
        Chain::Targets
    } else {
        Chain::Snapshot
    };
    let signers = ctx.signers(chain.roles()).await?;
    let mut staging = Staging::new(&ctx.layout)?;
    let next = match &scope.delegated {
        Some(d) if delegated_changed => d.stage(ctx, &state, &mut staging, delegated).await?,
        _ => state.clone(),
    };
    let new_top = top_changed.then_some(top);
    publish_chain(ctx, &next, &signers, staging, chain, new_top, "the removal").await?;
    let mut not_deleted = Vec::new();
    for (_, path) in &files {
        if let Err(e) = std::fs::remove_file(path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            not_deleted.push((path.clone(), e));
        }
    }
    Ok(RemoveOutcome {
        version: latest,
        targets: files.into_iter().map(|(n, _)| n).collect(),
        not_deleted,
    })
}
