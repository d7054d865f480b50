//! `tufd-repo rollout V PERCENT|halt|resume [PERCENT]` and `tufd-repo yank V [--reason TEXT]`:
//! change who is offered a published release (docs/operations.md, "Staged rollouts and yank").
//! Both rewrite the signed release control fields of the release's archives
//! (`tufup.rollout`, `tufup.yanked`; docs/repository-format.md, "Custom target metadata") in
//! the role that lists them (the top-level targets role, or the platform's delegated role with
//! `--platform`), then re-sign that role, the snapshot and the timestamp. Nothing else of the
//! release changes: its files and hashes stay, so no client downloads anything again.

use std::collections::BTreeMap;
use std::fmt;

use clap::Args;
use tufd_core::custom::write_control;
use tufd_core::rollout::{Percent, ReleaseControl, Rollout, Yank};
use tufd_core::{TargetCustom, TargetName, Version};

use super::Ctx;
use super::add::tname;
use super::platform::Scope;
use crate::error::{Error, Result};
use crate::repo::State;
use crate::repo::txn::Staging;

/// Arguments of `rollout`.
#[derive(Debug, Args)]
pub struct RolloutArgs {
    /// The published release.
    pub version: String,
    /// A whole percentage 0-100 (the share of installs offered the release), `halt` (offered
    /// to no install that does not have it yet) or `resume` (the percentage before the halt,
    /// or the one after `resume`).
    pub action: String,
    /// With `resume`: the percentage to resume at.
    pub percent: Option<String>,
    /// The platform of the release (`<os>-<arch>`); without it, the flat release.
    #[arg(long, value_name = "OS-ARCH")]
    pub platform: Option<String>,
}

/// Arguments of `yank`.
#[derive(Debug, Args)]
pub struct YankArgs {
    /// The published release to mark bad.
    pub version: String,
    /// Why, shown to installs going back from it (`check` and the sidecar's notification).
    #[arg(long)]
    pub reason: Option<String>,
    /// The platform of the release (`<os>-<arch>`); without it, the flat release.
    #[arg(long, value_name = "OS-ARCH")]
    pub platform: Option<String>,
}

/// A change of a release's rollout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RolloutChange {
    /// Offer it to this share of installs (and lift a halt).
    Set(Percent),
    /// Stop offering it to installs that do not have it.
    Halt,
    /// Lift a halt, at the percentage given or the one before.
    Resume(Option<Percent>),
}

impl RolloutChange {
    /// Parses the `action` and optional `percent` of `rollout`.
    ///
    /// # Errors
    /// [`Error::InvalidRollout`] for a percentage outside 0-100, another word, or a percentage
    /// after anything but `resume`.
    pub fn parse(action: &str, percent: Option<&str>) -> Result<Self> {
        let bad = |given: &str| Error::InvalidRollout {
            given: given.to_owned(),
        };
        let percent_of = |text: &str| text.parse::<Percent>().map_err(|_| bad(text));
        match (action, percent) {
            ("halt", None) => Ok(Self::Halt),
            ("resume", p) => Ok(Self::Resume(p.map(percent_of).transpose()?)),
            (_, Some(extra)) => Err(bad(&format!("{action} {extra}"))),
            (p, None) => percent_of(p).map(Self::Set),
        }
    }

    /// The rollout after this change of `before` (`None`: everyone).
    pub fn apply(self, before: Option<Rollout>) -> Rollout {
        let percent = before.map_or(Percent::ALL, |r| r.percent);
        match self {
            Self::Set(percent) => Rollout {
                percent,
                halted: false,
            },
            Self::Halt => Rollout {
                percent,
                halted: true,
            },
            Self::Resume(p) => Rollout {
                percent: p.unwrap_or(percent),
                halted: false,
            },
        }
    }
}

/// What `rollout` or `yank` changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControlOutcome {
    /// The release.
    pub version: Version,
    /// Its platform, if any.
    pub platform: Option<String>,
    /// The archives rewritten.
    pub archives: Vec<TargetName>,
    /// The release's control after the change.
    pub control: ReleaseControl,
}

impl fmt::Display for ControlOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.version)?;
        if let Some(p) = &self.platform {
            write!(f, " ({p})")?;
        }
        match (&self.control.yanked, self.control.rollout) {
            (Some(yank), _) => {
                write!(f, " yanked")?;
                if let Some(reason) = &yank.reason {
                    write!(f, ": {reason}")?;
                }
                Ok(())
            }
            (None, None) => write!(f, " offered to every install"),
            (None, Some(r)) if r.halted => write!(f, " rollout halted at {}", r.percent),
            (None, Some(r)) => write!(f, " offered to {} of installs", r.percent),
        }
    }
}

/// Runs `rollout`. The caller holds [`Ctx::lock`].
///
/// # Errors
/// [`Error::InvalidVersion`], [`Error::InvalidRollout`], [`Error::NoSuchRelease`]; the
/// platform's errors ([`Scope::load`]); missing keys; signing or publication failures (the
/// repository is then unchanged).
pub async fn rollout(ctx: &Ctx, args: RolloutArgs) -> Result<ControlOutcome> {
    let change = RolloutChange::parse(&args.action, args.percent.as_deref())?;
    edit(
        ctx,
        &args.version,
        args.platform.as_deref(),
        "the rollout",
        |control, _| {
            control.rollout = Some(change.apply(control.rollout));
            Ok(())
        },
    )
    .await
}

/// Runs `yank`. The caller holds [`Ctx::lock`].
///
/// # Errors
/// [`Error::InvalidVersion`], [`Error::NoSuchRelease`], [`Error::YankOnlyRelease`] when no
/// other release of the same platform is left unyanked; the platform's errors; missing keys;
/// signing or publication failures (the repository is then unchanged).
pub async fn yank(ctx: &Ctx, args: YankArgs) -> Result<ControlOutcome> {
    let reason = args.reason.clone();
    edit(
        ctx,
        &args.version,
        args.platform.as_deref(),
        "the yank",
        |control, others| {
            if !others.values().any(|c| c.yanked.is_none()) {
                return Err(Error::YankOnlyRelease {
                    version: args.version.parse().expect("parsed before"),
                });
            }
            control.yanked = Some(Yank { reason });
            Ok(())
        },
    )
    .await
}

/// The release control of every archive version in `scope` (PEP 440 equality merges
/// versions; the first archive's control counts).
fn controls(scope: &Scope, state: &State, app: &str) -> BTreeMap<Version, ReleaseControl> {
    let mut out = BTreeMap::new();
    for (name, target) in scope.releases(state, app) {
        if !name.suffix().is_archive() {
            continue;
        }
        if let Ok(TargetCustom::Archive(a)) =
            TargetCustom::parse(name.as_str(), false, &target.custom)
        {
            out.entry(name.version().clone()).or_insert(a.control);
        }
    }
    out
}

/// Changes the control of release `version` of `platform` with `change` (handed the release's
/// control and every other release's), rewrites its archives' custom metadata and publishes.
async fn edit(
    ctx: &Ctx,
    version: &str,
    platform: Option<&str>,
    what: &'static str,
    change: impl FnOnce(&mut ReleaseControl, &BTreeMap<Version, ReleaseControl>) -> Result<()>,
) -> Result<ControlOutcome> {
    let version: Version = version.parse().map_err(|source| Error::InvalidVersion {
        given: version.to_owned(),
        source,
    })?;
    let app = ctx.config.app_name.clone();
    let state = State::load(&ctx.layout)?;
    let scope = Scope::load(ctx, &state, platform).await?;
    let no_such = || Error::NoSuchRelease {
        version: version.clone(),
        platform: platform.map(str::to_owned),
    };
    let mut others = controls(&scope, &state, &app);
    let mut control = others.remove(&version).ok_or_else(no_such)?;
    change(&mut control, &others)?;
    let mut targets = scope.targets(ctx, &state)?;
    let mut archives = Vec::new();
    for (name, _) in scope.releases(&state, &app) {
        if name.suffix().is_archive()
            && name.version() == &version
            && let Some(target) = targets.targets.get_mut(&tname(name.as_str())?)
        {
            write_control(&mut target.custom, &control);
            archives.push(name);
        }
    }
    if archives.is_empty() {
        // Listed by another role than the one this scope signs (a platform release the
        // top-level role lists beside a delegation): nothing this command may rewrite.
        return Err(no_such());
    }
    let signers = ctx.signers(scope.top_level_roles()).await?;
    let staging = Staging::new(&ctx.layout)?;
    scope
        .publish(ctx, &state, &signers, staging, targets, what)
        .await?;
    Ok(ControlOutcome {
        version,
        platform: platform.map(str::to_owned),
        archives,
        control,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pct(p: u8) -> Percent {
        Percent::new(p).unwrap()
    }

    #[test]
    fn rollout_changes_parse_and_apply() {
        assert_eq!(
            RolloutChange::parse("10", None).unwrap(),
            RolloutChange::Set(pct(10))
        );
        assert_eq!(
            RolloutChange::parse("halt", None).unwrap(),
            RolloutChange::Halt
        );
        assert_eq!(
            RolloutChange::parse("resume", Some("100")).unwrap(),
            RolloutChange::Resume(Some(pct(100)))
        );
        for (action, percent) in [
            ("101", None),
            ("-1", None),
            ("stop", None),
            ("halt", Some("10")),
            ("resume", Some("200")),
        ] {
            assert!(
                matches!(
                    RolloutChange::parse(action, percent),
                    Err(Error::InvalidRollout { .. })
                ),
                "{action} {percent:?}"
            );
        }
        let ten = RolloutChange::Set(pct(10)).apply(None);
        let halted = RolloutChange::Halt.apply(Some(ten));
        assert_eq!(
            halted,
            Rollout {
                percent: pct(10),
                halted: true
            }
        );
        assert_eq!(RolloutChange::Resume(None).apply(Some(halted)), ten);
        assert_eq!(
            RolloutChange::Resume(Some(Percent::ALL)).apply(Some(halted)),
            Rollout {
                percent: Percent::ALL,
                halted: false
            }
        );
        assert!(RolloutChange::Halt.apply(None).halted);
    }
}
