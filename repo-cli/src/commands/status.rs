//! `tufd-repo status`: who is offered each published release. One line per archive, by version
//! (and platform): its rollout percentage, whether the rollout is halted, whether it is yanked
//! (and why), whether it is required, when it was published and which role signed it (the
//! top-level `targets` role or a platform's delegated role). Read from the published metadata
//! as it is (signatures are `verify`'s job); `--json` prints one JSON object per line.

use std::fmt;

use clap::Args;
use serde::Serialize;
use tough::schema::Targets;
use tufd_core::{TargetCustom, TargetName};

use super::Ctx;
use crate::error::{Error, Result};
use crate::repo::State;
use crate::repo::delegation::load_role;

/// Arguments of `status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// One JSON object per release on each line instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// One published archive and who is offered it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReleaseStatus {
    /// The version.
    pub version: String,
    /// The platform (`<os>-<arch>`), `null` for a flat release.
    pub platform: Option<String>,
    /// The archive's target name.
    pub archive: String,
    /// The share of installs offered it, 0-100 (100 without a rollout).
    pub rollout_percent: u8,
    /// Whether its rollout is halted.
    pub halted: bool,
    /// Whether it is yanked.
    pub yanked: bool,
    /// The yank's reason, if any.
    pub yank_reason: Option<String>,
    /// Whether it is marked `required`.
    pub required: bool,
    /// Its signed publication time (RFC 3339), if any.
    pub published: Option<String>,
    /// The role whose metadata lists (signs) it: `targets` or a delegated role's name.
    pub signed_by: String,
}

/// What `status` found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusOutcome {
    /// The releases, by version then platform.
    pub releases: Vec<ReleaseStatus>,
    /// Print JSON lines instead of the table.
    pub json: bool,
}

impl fmt::Display for StatusOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.json {
            let lines: Vec<String> = self
                .releases
                .iter()
                .map(|r| serde_json::to_string(r).map_err(|_| fmt::Error))
                .collect::<std::result::Result<_, _>>()?;
            return write!(f, "{}", lines.join("\n"));
        }
        writeln!(
            f,
            "{:<12} {:<16} {:>7} {:<8} {:<8} {:<20} signed by",
            "version", "platform", "rollout", "halted", "required", "published"
        )?;
        let lines: Vec<String> = self
            .releases
            .iter()
            .map(|r| {
                let mut line = format!(
                    "{:<12} {:<16} {:>6}% {:<8} {:<8} {:<20} {}",
                    r.version,
                    r.platform.as_deref().unwrap_or("-"),
                    r.rollout_percent,
                    if r.halted { "halted" } else { "-" },
                    if r.required { "required" } else { "-" },
                    r.published.as_deref().unwrap_or("-"),
                    r.signed_by
                );
                if r.yanked {
                    line.push_str("  YANKED");
                    if let Some(reason) = &r.yank_reason {
                        line.push_str(&format!(": {reason}"));
                    }
                }
                line
            })
            .collect();
        write!(f, "{}", lines.join("\n"))
    }
}

/// Runs `status`.
///
/// # Errors
/// The metadata read errors of [`State::load`] and of the delegated roles' files
/// ([`Error::MetadataRead`], [`Error::MetadataParse`]).
pub fn run(ctx: &Ctx, args: &StatusArgs) -> Result<StatusOutcome> {
    let state = State::load(&ctx.layout)?;
    let top = &state.targets.signed.signed;
    let mut roles: Vec<(String, Targets)> = vec![("targets".to_owned(), top.clone())];
    if let Some(delegations) = &top.delegations {
        for role in &delegations.roles {
            if let Some(loaded) = load_role(&ctx.layout, &state, &role.name)? {
                roles.push((role.name.clone(), loaded.signed.signed));
            }
        }
    }
    let mut releases: Vec<(TargetName, ReleaseStatus)> = Vec::new();
    for (role, targets) in &roles {
        for (name, target) in &targets.targets {
            let Ok(parsed) = TargetName::parse(name.raw()) else {
                continue;
            };
            if parsed.app() != ctx.config.app_name
                || !parsed.suffix().is_archive()
                || releases.iter().any(|(n, _)| n.as_str() == parsed.as_str())
            {
                continue;
            }
            let archive = match TargetCustom::parse(parsed.as_str(), false, &target.custom) {
                Ok(TargetCustom::Archive(a)) => a,
                Ok(TargetCustom::Patch(_)) => continue,
                Err(source) => {
                    return Err(Error::InvalidCustom {
                        target: parsed.as_str().to_owned(),
                        source,
                    });
                }
            };
            let control = &archive.control;
            releases.push((
                parsed.clone(),
                ReleaseStatus {
                    version: parsed.version().to_string(),
                    platform: parsed.platform().map(ToString::to_string),
                    archive: parsed.as_str().to_owned(),
                    rollout_percent: control.rollout.map_or(100, |r| r.percent.get()),
                    halted: control.rollout.is_some_and(|r| r.halted),
                    yanked: control.yanked.is_some(),
                    yank_reason: control.yanked.as_ref().and_then(|y| y.reason.clone()),
                    required: archive.required,
                    published: control
                        .published
                        .and_then(|s| i64::try_from(s).ok())
                        .and_then(|s| jiff::Timestamp::from_second(s).ok())
                        .map(|t| t.to_string()),
                    signed_by: role.clone(),
                },
            ));
        }
    }
    releases.sort_by(|(a, ra), (b, rb)| {
        (a.version(), &ra.platform, a.as_str()).cmp(&(b.version(), &rb.platform, b.as_str()))
    });
    Ok(StatusOutcome {
        releases: releases.into_iter().map(|(_, r)| r).collect(),
        json: args.json,
    })
}
