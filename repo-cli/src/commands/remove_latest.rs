//! `tufd-repo remove-latest`: removes the newest release of the app (its archive and its patch)
//! from the targets metadata, then re-signs targets, snapshot and timestamp.
//!
//! After the new metadata is published, the removed release's files are deleted from
//! `targets/` (no current metadata names them), so the same version can be published again
//! with other content. Older metadata versions that still list them stay on disk; TUF clients
//! never go back to them.

use std::fmt;
use std::path::PathBuf;

use clap::Args;
use tough::schema::RoleType;
use tufd_core::{TargetName, Version};

use super::add::tname;
use super::{Ctx, publish_targets};
use crate::error::{Error, Result};
use crate::repo::txn::Staging;
use crate::repo::{State, target_file};

/// Arguments of `remove-latest` (none besides the global ones).
#[derive(Debug, Args)]
pub struct RemoveLatestArgs {}

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

/// Runs `remove-latest`: unlists the newest release, re-signs targets, snapshot and timestamp,
/// then deletes the release's files. The caller holds [`Ctx::lock`].
///
/// # Errors
/// [`Error::NothingToRemove`], missing keys, signing or publication failures (the repository is
/// then unchanged).
pub async fn run(ctx: &Ctx, _args: RemoveLatestArgs) -> Result<RemoveOutcome> {
    let app = ctx.config.app_name.clone();
    let state = State::load(&ctx.layout)?;
    let Some(latest) = state.latest_version(&app) else {
        return Err(Error::NothingToRemove { app });
    };
    let signers = ctx
        .signers(&[RoleType::Targets, RoleType::Snapshot, RoleType::Timestamp])
        .await?;
    let mut targets = state.targets.signed.signed.clone();
    let mut files = Vec::new();
    for (name, target) in state.releases(&app) {
        if name.version() == &latest {
            targets.remove_target(&tname(name.as_str())?);
            let path = ctx.layout.targets.join(target_file(
                name.as_str(),
                &hex::encode(&*target.hashes.sha256),
                state.consistent(),
            ));
            files.push((name, path));
        }
    }
    let staging = Staging::new(&ctx.layout)?;
    publish_targets(ctx, &state, &signers, staging, targets, "the removal").await?;
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
