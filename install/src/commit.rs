//! What follows an install (docs/protocol.md, "Health check and rollback"; docs/architecture.md,
//! "One update, step by step", steps 10 and 11): commit the new version at once, put it on trial
//! ([`crate::health`]), or roll it back when its health command fails; and the commit and rollback
//! themselves, which the supervisor also runs on `confirm`, on `rollback`, at the health deadline,
//! and at start.
//!
//! Every function here is blocking (health command, renames, cleanup); the supervisor calls
//! them in `spawn_blocking`. State lives in `<data>/health.json` ([`HealthFile`]).

use std::path::Path;

use tufd_core::Version;

use crate::cleanup::{self, Keep};
use crate::error::InstallError;
use crate::health::{self, HealthEvent, HealthFile, PendingCommit};
use crate::rollback;
use crate::settings::InstallSettings;

/// What became of a freshly installed version.
#[derive(Debug)]
pub enum AfterInstall {
    /// Committed (no health check configured, or its command passed).
    Committed,
    /// On trial until `confirm`, the deadline or the launch limit.
    Pending(PendingCommit),
    /// Its health command failed and `restored` is installed again.
    RolledBack {
        /// The version installed again.
        restored: Version,
        /// Why.
        reason: String,
    },
    /// Its health command failed but the rollback failed too (the new version stays).
    RollbackFailed(InstallError),
}

fn health_path(config: &InstallSettings) -> std::path::PathBuf {
    HealthFile::path(&config.data_dir)
}

/// Decides the fate of `to` (just installed over `from`, whose backup is `backup`). Blocking.
pub fn after_install(
    config: &InstallSettings,
    from: &Version,
    to: &Version,
    backup: &Path,
) -> AfterInstall {
    let policy = &config.health;
    if !policy.enabled() {
        commit(config, to);
        return AfterInstall::Committed;
    }
    if let Some(command) = &policy.command {
        match health::run_health_command(command, &config.install_dir, policy.command_timeout()) {
            HealthEvent::CommandPassed => {
                tracing::info!(version = %to, "health command passed");
                commit(config, to);
                return AfterInstall::Committed;
            }
            failed => {
                let mut pending = PendingCommit::new(
                    to.clone(),
                    from.clone(),
                    backup.to_path_buf(),
                    tufd_core::now_unix(),
                );
                let reason = match health::step(&mut pending, policy, &failed) {
                    health::Verdict::RollBack { reason } => reason,
                    _ => "health command failed".to_owned(),
                };
                return match roll_back(config, to, &reason) {
                    Ok(restored) => AfterInstall::RolledBack { restored, reason },
                    Err(e) => AfterInstall::RollbackFailed(e),
                };
            }
        }
    }
    let pending = PendingCommit::new(
        to.clone(),
        from.clone(),
        backup.to_path_buf(),
        tufd_core::now_unix(),
    );
    let mut file = HealthFile::load(&health_path(config));
    file.pending = Some(pending.clone());
    if let Err(e) = file.save(&health_path(config)) {
        tracing::warn!(error = %e, "cannot record the pending commit; committing now");
        commit(config, to);
        return AfterInstall::Committed;
    }
    tracing::info!(version = %to, deadline = ?pending.deadline_unix(policy), "new version pending until confirmed");
    AfterInstall::Pending(pending)
}

/// Commits `version`: forgets the pending commit and cleans the data folder, keeping the base
/// tar of `version` and the backup of the previous version (for `rollback` on request; the next
/// install replaces it, so there is never more than one). Blocking.
pub fn commit(config: &InstallSettings, version: &Version) {
    let path = health_path(config);
    let mut file = HealthFile::load(&path);
    if file.pending.take().is_some()
        && let Err(e) = file.save(&path)
    {
        tracing::warn!(error = %e, "cannot clear the pending commit");
    }
    let layout = config.layout();
    let backup = rollback::find_backup(&layout, &config.install_dir, &config.app_name, version)
        .map(|b| b.path);
    cleanup::run(
        &layout,
        &config.install_dir,
        &Keep {
            base_tar: Some(layout.base_tar(&config.app_name, version)),
            backup,
            staging: None,
        },
    );
    tracing::info!(%version, "committed");
}

/// Commits the version on trial, if there is one (`confirm`); returns it. Blocking.
pub fn confirm(config: &InstallSettings) -> Option<Version> {
    let pending = HealthFile::load(&health_path(config)).pending?;
    commit(config, &pending.version);
    Some(pending.version)
}

/// At start: with a health policy, [`on_start`]; without one, a version left pending by an
/// earlier run is committed. Blocking.
///
/// # Errors
/// The reason to roll back now, as [`on_start`].
pub fn resume(config: &InstallSettings) -> Result<Option<PendingCommit>, String> {
    if config.health.enabled() {
        return on_start(config);
    }
    confirm(config);
    Ok(None)
}

/// Rolls `current` back to the previous version's backup (relaunching it when configured),
/// marks `current` bad, forgets the pending commit and cleans up. Returns the version restored.
/// Blocking.
///
/// # Errors
/// As [`rollback::rollback_blocking`].
pub fn roll_back(
    config: &InstallSettings,
    current: &Version,
    reason: &str,
) -> Result<Version, InstallError> {
    let backup = rollback::rollback_blocking(config, current, true, false)?;
    let path = health_path(config);
    let mut file = HealthFile::load(&path);
    file.pending = None;
    file.bad.mark(current.clone());
    if let Err(e) = file.save(&path) {
        tracing::warn!(error = %e, "cannot record the bad version");
    }
    let layout = config.layout();
    cleanup::run(
        &layout,
        &config.install_dir,
        &Keep {
            base_tar: Some(layout.base_tar(&config.app_name, &backup.version)),
            backup: None,
            staging: None,
        },
    );
    tracing::warn!(from = %current, to = %backup.version, reason, "rolled back; the new version is marked bad");
    Ok(backup.version)
}

/// The pending commit at start, after counting this launch: `Ok(None)` when nothing is
/// pending, `Ok(Some(pending))` while the trial goes on, `Err(reason)` when it must roll back
/// now. Blocking.
pub fn on_start(config: &InstallSettings) -> Result<Option<PendingCommit>, String> {
    let path = health_path(config);
    let mut file = HealthFile::load(&path);
    let Some(mut pending) = file.pending.clone() else {
        return Ok(None);
    };
    let policy = &config.health;
    let mut verdict = health::step(&mut pending, policy, &HealthEvent::Launched);
    if verdict == health::Verdict::Pending {
        verdict = health::step(
            &mut pending,
            policy,
            &HealthEvent::Tick {
                now_unix: tufd_core::now_unix(),
            },
        );
    }
    file.pending = Some(pending.clone());
    if let Err(e) = file.save(&path) {
        tracing::warn!(error = %e, "cannot count the launch of the pending version");
    }
    match verdict {
        health::Verdict::RollBack { reason } => Err(reason),
        health::Verdict::Commit => Ok(None),
        health::Verdict::Pending => Ok(Some(pending)),
    }
}
