//! `tufd-repo expiry [--within LIFETIME]` and `tufd-repo renew [--within LIFETIME]`: the
//! metadata autopilot. Every role's metadata expires (TUF specification, "Detailed client
//! workflow": expired metadata is never trusted), and a repository whose timestamp expired
//! stops every install from updating — the apps of tufup users broke a day after a release
//! when the cron job was forgotten. `expiry` prints each role's expiry and fails when one
//! expires within the threshold (for a CI alert); `renew` re-signs the online roles that do
//! (targets, snapshot, timestamp: each with the roles that hash it), the one line a cron job
//! or scheduled CI job runs. Root is signed offline (`tufd-repo sign root`), so `renew` only
//! reports it. The platforms' delegated roles (docs/repository-format.md, "Platforms") are
//! listed after the top-level ones; `renew` re-signs those whose keys are in the keystore (on
//! the platform's build machine) and names the others.

use std::fmt;

use crate::config::role_name;
use clap::Args;

use super::{Chain, Ctx, resign};
use crate::error::{Error, Result};
use crate::keys::Signer;
use crate::lifetime::Lifetime;
use crate::repo::delegation::{delegation, load_role, role_signers};
use crate::repo::sign::{bump, expiry, sign_with};
use crate::repo::txn::Staging;
use crate::repo::{State, role_file};
use tough::schema::RoleType;

/// How soon counts as "expiring" by default: 12 hours (a one-day timestamp renewed by an
/// hourly job is renewed half a day before it expires).
pub const DEFAULT_WITHIN: Lifetime = Lifetime::hours(12);

/// Arguments of `expiry` and `renew`.
#[derive(Debug, Args)]
pub struct ExpiryArgs {
    /// A role expiring sooner than this counts: days (`2`) or a duration (`12h`, `30m`).
    /// Default 12h.
    #[arg(long, value_name = "LIFETIME")]
    pub within: Option<Lifetime>,
}

/// One role's expiry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleExpiry {
    /// `root`, `targets`, `snapshot`, `timestamp`, or a platform's delegated role.
    pub role: String,
    /// The role's current version.
    pub version: u64,
    /// When it expires.
    pub expires: jiff::Timestamp,
    /// Seconds left (negative when expired).
    pub seconds_left: i64,
    /// Whether it expires within the threshold (or has expired).
    pub soon: bool,
}

/// What `expiry` found: every role, root first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpiryReport {
    /// The roles.
    pub roles: Vec<RoleExpiry>,
    /// The threshold used.
    pub within: Lifetime,
}

impl ExpiryReport {
    /// The roles expiring within the threshold.
    pub fn soon(&self) -> Vec<&str> {
        self.roles
            .iter()
            .filter(|r| r.soon)
            .map(|r| r.role.as_str())
            .collect()
    }

    /// `Ok(self)` when no role expires within the threshold, else [`Error::ExpiringSoon`].
    ///
    /// # Errors
    /// [`Error::ExpiringSoon`] naming the roles.
    pub fn into_result(self) -> Result<Self> {
        let soon = self.soon();
        if soon.is_empty() {
            Ok(self)
        } else {
            Err(Error::ExpiringSoon {
                roles: soon.join(", "),
                within: self.within,
            })
        }
    }
}

impl fmt::Display for ExpiryReport {
    /// One line per role: `timestamp  v5  expires 2026-12-06T00:00:00Z  in 23 h`, with
    /// `EXPIRES SOON` or `EXPIRED` when it does.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.roles.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            let left = if r.seconds_left < 0 {
                "EXPIRED".to_owned()
            } else {
                let hours = r.seconds_left / 3600;
                let mut text = if hours >= 48 {
                    format!("in {} days", hours / 24)
                } else {
                    format!("in {hours} h {} min", (r.seconds_left % 3600) / 60)
                };
                if r.soon {
                    text.push_str("  EXPIRES SOON");
                }
                text
            };
            write!(
                f,
                "{:<9}  v{:<4}  expires {}  {left}",
                r.role, r.version, r.expires
            )?;
        }
        Ok(())
    }
}

/// Each role's expiry against `now` and `within`. Pure.
pub fn report(
    roles: &[(&str, u64, jiff::Timestamp)],
    now: jiff::Timestamp,
    within: Lifetime,
) -> ExpiryReport {
    let threshold = i64::try_from(within.seconds()).unwrap_or(i64::MAX);
    ExpiryReport {
        roles: roles
            .iter()
            .map(|&(role, version, expires)| {
                let seconds_left = expires.as_second() - now.as_second();
                RoleExpiry {
                    role: role.to_owned(),
                    version,
                    expires,
                    seconds_left,
                    soon: seconds_left < threshold,
                }
            })
            .collect(),
        within,
    }
}

/// The roles of the published repository, root first, then the delegated roles the snapshot
/// lists (by name).
///
/// # Errors
/// A delegated role's metadata that cannot be read.
fn roles(ctx: &Ctx, state: &State) -> Result<Vec<(String, u64, jiff::Timestamp)>> {
    let mut out: Vec<(String, u64, jiff::Timestamp)> = top_level(state)
        .into_iter()
        .map(|(r, v, e)| (r.to_owned(), v, e))
        .collect();
    let mut delegated: Vec<&String> = state
        .snapshot
        .signed
        .signed
        .meta
        .keys()
        .filter(|k| k.as_str() != "targets.json")
        .collect();
    delegated.sort();
    for file in delegated {
        let Some(name) = file.strip_suffix(".json") else {
            continue;
        };
        if let Some(role) = load_role(&ctx.layout, state, name)? {
            let t = &role.signed.signed;
            out.push((name.to_owned(), t.version.get(), t.expires));
        }
    }
    Ok(out)
}

/// `roles` as `report` takes them.
fn borrowed(roles: &[(String, u64, jiff::Timestamp)]) -> Vec<(&str, u64, jiff::Timestamp)> {
    roles.iter().map(|(r, v, e)| (r.as_str(), *v, *e)).collect()
}

/// The top-level roles, root first.
fn top_level(state: &State) -> Vec<(&'static str, u64, jiff::Timestamp)> {
    vec![
        (
            "root",
            state.root.signed.signed.version.get(),
            state.root.signed.signed.expires,
        ),
        (
            "targets",
            state.targets.signed.signed.version.get(),
            state.targets.signed.signed.expires,
        ),
        (
            "snapshot",
            state.snapshot.signed.signed.version.get(),
            state.snapshot.signed.signed.expires,
        ),
        (
            "timestamp",
            state.timestamp.signed.signed.version.get(),
            state.timestamp.signed.signed.expires,
        ),
    ]
}

/// Runs `expiry`: reads the published metadata and reports every role's expiry.
///
/// # Errors
/// As [`State::load`]; the caller turns a report with expiring roles into
/// [`Error::ExpiringSoon`] ([`ExpiryReport::into_result`]).
pub fn run(ctx: &Ctx, args: &ExpiryArgs) -> Result<ExpiryReport> {
    let state = State::load(&ctx.layout)?;
    Ok(report(
        &borrowed(&roles(ctx, &state)?),
        jiff::Timestamp::now(),
        args.within.unwrap_or(DEFAULT_WITHIN),
    ))
}

/// Which re-signing chain renews every online role in `soon`: the highest of targets,
/// snapshot, timestamp (each chain re-signs the roles below it). Pure.
pub fn chain_for(soon: &[&str]) -> Option<Chain> {
    if soon.contains(&"targets") {
        Some(Chain::Targets)
    } else if soon.contains(&"snapshot") {
        Some(Chain::Snapshot)
    } else if soon.contains(&"timestamp") {
        Some(Chain::Timestamp)
    } else {
        None
    }
}

/// What `renew` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenewOutcome {
    /// The roles re-signed (empty: nothing expired within the threshold).
    pub renewed: Vec<String>,
    /// Delegated roles expiring within the threshold whose keys are not in this keystore
    /// (renew them on the platform's build machine).
    pub not_here: Vec<String>,
    /// The new timestamp version, when anything was re-signed.
    pub timestamp_version: Option<u64>,
    /// Root expires within the threshold too (it is signed offline: `tufd-repo sign root`).
    pub root_soon: bool,
}

impl fmt::Display for RenewOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.timestamp_version {
            Some(v) => write!(
                f,
                "renewed {} (timestamp version {v})",
                self.renewed.join(", ")
            )?,
            None => write!(f, "nothing to renew")?,
        }
        if !self.not_here.is_empty() {
            write!(
                f,
                "; expiring without their keys here: {} (run renew where they are)",
                self.not_here.join(", ")
            )?;
        }
        Ok(())
    }
}

/// Runs `renew`: re-signs the online roles expiring within the threshold (with fresh expiries
/// from the config) and the roles that hash them. The caller holds [`Ctx::lock`].
///
/// # Errors
/// As [`State::load`] and `sign`; the caller fails the command when `root_soon`
/// ([`Error::ExpiringSoon`]) after printing what was renewed.
pub async fn renew(ctx: &Ctx, args: &ExpiryArgs) -> Result<RenewOutcome> {
    let mut state = State::load(&ctx.layout)?;
    let found = report(
        &borrowed(&roles(ctx, &state)?),
        jiff::Timestamp::now(),
        args.within.unwrap_or(DEFAULT_WITHIN),
    );
    let soon = found.soon();
    let root_soon = soon.contains(&"root");
    let mut staging = Staging::new(&ctx.layout)?;
    let (mut renewed, not_here) = renew_delegated(ctx, &mut state, &soon, &mut staging).await?;
    let chain = match chain_for(&soon) {
        Some(chain) => chain,
        // A re-signed delegated role needs a new snapshot.
        None if !renewed.is_empty() => Chain::Snapshot,
        None => {
            return Ok(RenewOutcome {
                renewed,
                not_here,
                timestamp_version: None,
                root_soon,
            });
        }
    };
    renewed.extend(chain.roles().iter().map(|r| role_name(*r).to_owned()));
    let root = state.root.signed.signed.clone();
    let signers = ctx.signers(chain.roles()).await?;
    resign(
        ctx,
        &state,
        &root,
        &signers,
        &mut staging,
        chain,
        None,
        None,
    )
    .await?;
    staging.commit(&ctx.layout)?;
    Ok(RenewOutcome {
        renewed,
        not_here,
        timestamp_version: Some(bump(state.timestamp.signed.signed.version).get()),
        root_soon,
    })
}

/// Re-signs the delegated roles in `soon` whose keys are in the keystore (version + 1, the
/// targets role's days) into `staging`, and points `state`'s snapshot at them; returns them and
/// the delegated roles in `soon` whose keys are not here.
///
/// # Errors
/// Reading a role, signing, staging.
async fn renew_delegated(
    ctx: &Ctx,
    state: &mut State,
    soon: &[&str],
    staging: &mut Staging,
) -> Result<(Vec<String>, Vec<String>)> {
    let (mut renewed, mut not_here) = (Vec::new(), Vec::new());
    for name in soon
        .iter()
        .filter(|r| !matches!(**r, "root" | "targets" | "snapshot" | "timestamp"))
    {
        let Some(role) = delegation(&state.targets.signed.signed, name).cloned() else {
            continue;
        };
        let Some(current) = load_role(&ctx.layout, state, name)? else {
            continue;
        };
        let signers = match role_signers(&ctx.config.keystore_dir(), &ctx.passphrase, &role).await {
            Ok(s) => s,
            Err(Error::DelegatedKeyMissing { .. }) => {
                not_here.push((*name).to_owned());
                continue;
            }
            Err(e) => return Err(e),
        };
        let mut targets = current.signed.signed.clone();
        targets.version = bump(targets.version);
        targets.expires = expiry(Lifetime::days(ctx.days(RoleType::Targets)?))?;
        let version = targets.version.get();
        let keys: Vec<&Signer> = signers.iter().collect();
        let file = sign_with(targets, &keys, &[]).await?;
        staging.add_metadata(&role_file(name, version, state.consistent()), &file.bytes)?;
        state
            .snapshot
            .signed
            .signed
            .meta
            .insert(format!("{name}.json"), file.metafile());
        renewed.push((*name).to_owned());
    }
    Ok((renewed, not_here))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> jiff::Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn roles_expiring_within_the_threshold_are_flagged_and_pick_the_chain() {
        let now = at("2026-12-05T00:00:00Z");
        let r = report(
            &[
                ("root", 1, at("2027-12-01T00:00:00Z")),
                ("targets", 3, at("2027-02-01T00:00:00Z")),
                ("snapshot", 3, at("2026-12-05T10:00:00Z")),
                ("timestamp", 9, at("2026-12-04T23:00:00Z")),
            ],
            now,
            Lifetime::hours(12),
        );
        assert_eq!(r.soon(), ["snapshot", "timestamp"]);
        assert_eq!(r.roles[3].seconds_left, -3600);
        assert!(matches!(
            r.clone().into_result(),
            Err(Error::ExpiringSoon { .. })
        ));
        assert_eq!(chain_for(&r.soon()), Some(Chain::Snapshot));
        assert_eq!(chain_for(&["timestamp"]), Some(Chain::Timestamp));
        assert_eq!(chain_for(&["root"]), None);
        assert!(r.to_string().contains("EXPIRED"));
    }

    #[test]
    fn a_fresh_one_day_timestamp_is_not_expiring_within_twelve_hours() {
        let now = at("2026-12-05T00:00:00Z");
        let r = report(
            &[("timestamp", 2, at("2026-12-06T00:00:00Z"))],
            now,
            DEFAULT_WITHIN,
        );
        assert!(r.soon().is_empty());
        assert!(r.into_result().is_ok());
    }
}
