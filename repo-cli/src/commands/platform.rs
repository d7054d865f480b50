//! Where `add` publishes a release (docs/repository-format.md, "Platforms"): flat
//! (`<app>-<version>…`, listed by the top-level targets role), or under `--platform P`
//! (`P/<app>-<version>…`), listed by the platform's delegated role when the top-level targets
//! role delegates `P/*` ([`crate::repo::delegation`]), else by the top-level targets role.
//!
//! With a delegated role, only that role, the snapshot and the timestamp are re-signed: the
//! top-level targets key can stay offline. Each platform's releases form their own chain: the
//! patch of a release starts from the previous release of the same platform.

use std::num::NonZeroU64;

use tough::schema::{DelegatedRole, RoleType, Target, Targets};
use tufd_core::{Platform, TargetName, Version};

use super::{Chain, Ctx, publish_chain, publish_targets};
use crate::error::{Error, Result};
use crate::keys::Signer;
use crate::lifetime::Lifetime;
use crate::repo::delegation::{self, load_role, role_signers};
use crate::repo::sign::{SPEC_VERSION, bump, expiry, sign_with};
use crate::repo::txn::Staging;
use crate::repo::{Loaded, State, role_file};

/// The platform's delegated role: its delegation, its current metadata (none before its first
/// release) and its keys from the keystore.
#[derive(Debug)]
pub struct Delegated {
    /// The delegation in the top-level targets role.
    pub role: DelegatedRole,
    /// The role's published metadata, if any.
    pub current: Option<Loaded<Targets>>,
    /// The role's keys found in the keystore (at least its threshold).
    pub signers: Vec<Signer>,
}

impl Delegated {
    /// Signs `targets` as this role's next version (with its keys, expiring after the targets
    /// role's days) into `staging`, and returns `state` with the snapshot entry of that
    /// version: what a re-sign of the snapshot (and timestamp) then publishes.
    ///
    /// # Errors
    /// Signing failures, an out-of-range expiry, [`Error::Io`] while staging.
    pub async fn stage(
        &self,
        ctx: &Ctx,
        state: &State,
        staging: &mut Staging,
        mut targets: Targets,
    ) -> Result<State> {
        targets.version = self
            .current
            .as_ref()
            .map_or(NonZeroU64::MIN, |c| bump(c.signed.signed.version));
        targets.expires = expiry(Lifetime::days(ctx.days(RoleType::Targets)?))?;
        let version = targets.version.get();
        let keys: Vec<&Signer> = self.signers.iter().collect();
        let file = sign_with(targets, &keys, &[]).await?;
        staging.add_metadata(
            &role_file(&self.role.name, version, state.consistent()),
            &file.bytes,
        )?;
        let mut next = state.clone();
        next.snapshot
            .signed
            .signed
            .meta
            .insert(format!("{}.json", self.role.name), file.metafile());
        Ok(next)
    }
}

/// The platform a release is published for, and the role that lists it.
#[derive(Debug)]
pub struct Scope {
    /// `None`: a flat release.
    pub platform: Option<Platform>,
    /// The platform's delegated role, when the top-level targets role delegates it.
    pub delegated: Option<Delegated>,
}

impl Scope {
    /// The scope of `platform` (the `--platform` text, checked) in `state`; loads the
    /// delegated role's keys, so that a missing key fails before any archiving.
    ///
    /// # Errors
    /// [`Error::Platform`] for a name that is not `<os>-<arch>`;
    /// [`Error::DelegatedKeyMissing`] when the platform's role is delegated and its keys are
    /// not in the keystore; metadata read errors.
    pub async fn load(ctx: &Ctx, state: &State, platform: Option<&str>) -> Result<Self> {
        let Some(text) = platform else {
            return Ok(Self {
                platform: None,
                delegated: None,
            });
        };
        let platform = Platform::parse(text).map_err(Error::Platform)?;
        let name = delegation::role_name(&platform);
        let delegated = match delegation::delegation(&state.targets.signed.signed, &name) {
            None => None,
            Some(role) => Some(Delegated {
                signers: role_signers(&ctx.config.keystore_dir(), &ctx.passphrase, role).await?,
                current: load_role(&ctx.layout, state, &name)?,
                role: role.clone(),
            }),
        };
        Ok(Self {
            platform: Some(platform),
            delegated,
        })
    }

    /// The published name of a release: `name` itself, or `<platform>/<name>`.
    pub fn name(&self, name: TargetName) -> TargetName {
        match &self.platform {
            Some(p) => name.for_platform(p),
            None => name,
        }
    }

    /// This scope's releases of `app`, oldest first (flat ones for a flat release).
    pub fn releases(&self, state: &State, app: &str) -> Vec<(TargetName, Target)> {
        match &self.platform {
            None => state
                .releases(app)
                .into_iter()
                .filter(|(n, _)| n.platform().is_none())
                .collect(),
            Some(p) => delegation::releases(
                &state.targets.signed.signed,
                self.delegated
                    .as_ref()
                    .and_then(|d| d.current.as_ref())
                    .map(|c| &c.signed.signed),
                app,
                p,
            ),
        }
    }

    /// The newest version of `app` in this scope (archives and patches).
    pub fn latest_version(&self, state: &State, app: &str) -> Option<Version> {
        self.releases(state, app)
            .into_iter()
            .map(|(n, _)| n.version().clone())
            .max()
    }

    /// The newest archive of `app` in this scope: the base of the next patch.
    pub fn latest_archive(&self, state: &State, app: &str) -> Option<(TargetName, Target)> {
        self.releases(state, app)
            .into_iter()
            .filter(|(n, _)| n.suffix().is_archive())
            .max_by(|a, b| a.0.version().cmp(b.0.version()))
    }

    /// The top-level roles whose keys publishing needs: targets, snapshot and timestamp, or
    /// only snapshot and timestamp when the delegated role lists the release.
    pub fn top_level_roles(&self) -> &'static [RoleType] {
        match self.delegated {
            None => Chain::Targets.roles(),
            Some(_) => Chain::Snapshot.roles(),
        }
    }

    /// The targets the new release is added to: the delegated role's (an empty one before its
    /// first release) or the top-level role's.
    ///
    /// # Errors
    /// An out-of-range expiry (a bug in the config's days).
    pub fn targets(&self, ctx: &Ctx, state: &State) -> Result<Targets> {
        match &self.delegated {
            None => Ok(state.targets.signed.signed.clone()),
            Some(Delegated {
                current: Some(c), ..
            }) => Ok(c.signed.signed.clone()),
            Some(Delegated { current: None, .. }) => Ok(Targets::new(
                SPEC_VERSION.into(),
                NonZeroU64::MIN,
                expiry(Lifetime::days(ctx.days(RoleType::Targets)?))?,
            )),
        }
    }

    /// Signs `targets` as this scope's role and publishes it with what `staging` holds: the
    /// top-level chain (targets, snapshot, timestamp), or the delegated role's next version
    /// (signed with its keys, expiring after the targets role's days) then snapshot and
    /// timestamp.
    ///
    /// # Errors
    /// Signing failures, [`Error::Publish`] (the repository is then unchanged).
    pub async fn publish(
        &self,
        ctx: &Ctx,
        state: &State,
        signers: &[Signer],
        mut staging: Staging,
        targets: Targets,
        what: &'static str,
    ) -> Result<()> {
        let Some(d) = &self.delegated else {
            return publish_targets(ctx, state, signers, staging, targets, what).await;
        };
        let next = d.stage(ctx, state, &mut staging, targets).await?;
        publish_chain(ctx, &next, signers, staging, Chain::Snapshot, None, what).await
    }
}
