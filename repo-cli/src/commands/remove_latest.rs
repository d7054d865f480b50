//! `tufd-repo remove-latest`: removes the newest release of the app (its archive and its patch)
//! from the targets metadata, then re-signs targets, snapshot and timestamp.
//!
//! After the new metadata is published, the removed release's files are deleted from
//! `targets/` (no current metadata names them), so the same version can be published again
//! with other content. Older metadata versions that still list them stay on disk; TUF clients
//! never go back to them.

use std::process::ExitCode;

use anyhow::bail;
use clap::Args;
use tough::schema::RoleType;

use super::{Ctx, publish_targets};
use crate::repo::txn::Staging;
use crate::repo::{State, target_file};

/// Arguments of `remove-latest` (none besides the global ones).
#[derive(Debug, Args)]
pub struct RemoveLatestArgs {}

/// Runs `remove-latest`.
///
/// # Errors
/// No release to remove, missing keys, signing or publication failures.
pub async fn run(ctx: Ctx, _args: RemoveLatestArgs) -> anyhow::Result<ExitCode> {
    let app = ctx.config.app_name.clone();
    let state = State::load(&ctx.layout)?;
    let Some(latest) = state.latest_version(&app) else {
        bail!("no release of {app} is published: nothing to remove");
    };
    let signers = ctx
        .signers(&[RoleType::Targets, RoleType::Snapshot, RoleType::Timestamp])
        .await?;
    let mut targets = state.targets.signed.signed.clone();
    let mut files = Vec::new();
    for (name, target) in state.releases(&app) {
        if name.version() == &latest {
            let tn = tough::TargetName::new(name.as_str()).map_err(|e| anyhow::anyhow!("{e}"))?;
            targets.remove_target(&tn);
            files.push((
                name.to_string(),
                ctx.layout.targets.join(target_file(
                    name.as_str(),
                    &hex::encode(&*target.hashes.sha256),
                    state.consistent(),
                )),
            ));
        }
    }
    let staging = Staging::new(&ctx.layout)?;
    publish_targets(&ctx, &state, &signers, staging, targets, "the removal").await?;
    for (_, path) in &files {
        if let Err(e) = std::fs::remove_file(path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            eprintln!("warning: cannot delete {}: {e}", path.display());
        }
    }
    let names: Vec<_> = files.into_iter().map(|(n, _)| n).collect();
    println!("removed release {latest}: {}", names.join(", "));
    Ok(ExitCode::SUCCESS)
}
