//! The helper copy's side of a handed-off install (`tufd_install::handoff`): wait for the
//! daemon that handed off to exit, run the install, and at an ordinary start discard a
//! hand-off whose copy never ran. The daemon calls these instead of [`crate::Engine::start`]
//! when it was started with `--finish-install-after <pid>`.

use std::time::{Duration, Instant};

use tufd_install::commit::AfterInstall;
use tufd_install::handoff::{self, Finished};
use tufd_install::{InstallError, PlanSource};

use crate::config::ValidConfig;
use crate::error::EngineError;

/// How long the copy waits for the daemon that handed off to exit (1 hour): that daemon ends
/// when the app closes its pipe, which an app does when it exits to be updated.
pub const HANDING_DAEMON_WAIT: Duration = Duration::from_secs(3600);

/// Interval between two looks at the handing daemon (100 ms).
const POLL: Duration = Duration::from_millis(100);

/// Waits until process `pid` (the daemon that handed off) has exited.
///
/// # Errors
/// [`EngineError::Install`] with an [`InstallError::Io`] of kind `TimedOut` after
/// [`HANDING_DAEMON_WAIT`].
pub async fn wait_for_handing_daemon(pid: u32) -> Result<(), EngineError> {
    let started = Instant::now();
    tracing::info!(
        pid,
        "finishing an install handed off by the tufd inside the install folder: waiting for it to exit"
    );
    while tufd_install::sys::process_alive(pid) {
        if started.elapsed() > HANDING_DAEMON_WAIT {
            return Err(InstallError::io(
                format!("process {pid}"),
                std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!(
                        "the tufd that handed its install off did not exit within {} s",
                        HANDING_DAEMON_WAIT.as_secs()
                    ),
                ),
            )
            .into());
        }
        tokio::time::sleep(POLL).await;
    }
    Ok(())
}

/// Runs the handed-off install (the caller holds the data folder's lock): the ordinary plan,
/// journal, wait for the app and relaunch, then commit or trial.
///
/// # Errors
/// [`EngineError::Install`] when the install fails (the journal rolled it back: the app is
/// as before); [`EngineError::RolledBack`] when the health command failed and the previous
/// version is back.
pub async fn finish(config: &ValidConfig) -> Result<(), EngineError> {
    let settings = config.install_settings();
    let finished = tokio::task::spawn_blocking(move || {
        let source = PlanSource::new(&settings);
        handoff::finish(&settings, &source)
    })
    .await
    .map_err(|e| EngineError::worker("hand-off", e))??;
    match finished {
        Finished::Nothing => {
            tracing::warn!("started to finish a handed-off install, but none is waiting");
            Ok(())
        }
        Finished::Installed { to, after } => match after {
            AfterInstall::Committed | AfterInstall::Pending(_) => {
                tracing::info!(version = %to, "handed-off install done");
                Ok(())
            }
            AfterInstall::RolledBack { restored, reason } => Err(EngineError::RolledBack {
                from: to,
                to: restored,
                reason,
            }),
            AfterInstall::RollbackFailed(e) => Err(e.into()),
        },
    }
}

/// At an ordinary start: discards a hand-off whose copy never ran and old helper copies.
pub async fn discard_stale(config: &ValidConfig) {
    let layout = config.layout();
    let _ = tokio::task::spawn_blocking(move || handoff::discard_stale(&layout)).await;
}
