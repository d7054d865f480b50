//! The install worker: everything that changes the install folder — staging, the journaled
//! install, and the commit, health verdict and rollback after it — one at a time, so that its
//! mailbox serialises them. Each message runs its `tufd-install` function on a blocking thread.

use std::path::PathBuf;
use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tufd_core::Version;
use tufd_install::commit::{self, AfterInstall};
use tufd_install::health::PendingCommit;
use tufd_install::stage::{InstallJob, InstallRun, install_blocking, stage};
use tufd_install::{InstallSettings, PlanSource};

use crate::error::EngineError;

/// Messages of the [`InstallWorker`].
pub enum InstallMsg {
    /// Extract `tar` into `staging`.
    Stage {
        /// The verified new tar.
        tar: PathBuf,
        /// The fresh staging folder.
        staging: PathBuf,
        /// Where to answer.
        reply: RpcReplyPort<Result<(), EngineError>>,
    },
    /// Plan (hook or native) and run the plan. Answers whether a relaunch happened.
    Install {
        /// What to install.
        job: InstallJob,
        /// Where to answer.
        reply: RpcReplyPort<Result<InstallRun, EngineError>>,
    },
    /// Decide the fate of `to`, just installed over `from` (kept at `backup`): commit, trial
    /// or health rollback ([`commit::after_install`]).
    AfterInstall {
        /// The version replaced.
        from: Version,
        /// The version installed.
        to: Version,
        /// Where `from` is kept.
        backup: PathBuf,
        /// Where to answer.
        reply: RpcReplyPort<AfterInstall>,
    },
    /// Commit the version on trial, if there is one (`confirm`). Answers the version committed.
    Confirm {
        /// Where to answer.
        reply: RpcReplyPort<Option<Version>>,
    },
    /// Restore the previous version of `current` ([`commit::roll_back`]). Answers the version
    /// restored.
    RollBack {
        /// The installed version to remove.
        current: Version,
        /// Why, for the log and the health file.
        reason: String,
        /// Where to answer.
        reply: RpcReplyPort<Result<Version, EngineError>>,
    },
    /// Load (compile, or read from its cache) the install hook now, so that the first install
    /// does not wait for it; a hook that does not load is logged.
    Preload,
    /// At start: count this launch of a version on trial ([`commit::on_start`]); without a
    /// health policy a version left pending is committed. Answers the trial still running, or
    /// the reason to roll back now.
    Resume {
        /// Where to answer.
        reply: RpcReplyPort<Result<Option<PendingCommit>, String>>,
    },
}

/// The install worker's arguments and state.
pub struct InstallWorkerState {
    /// The daemon's shared plan source (hook or native plan).
    pub plans: Arc<PlanSource>,
    /// What the install side knows of the app.
    pub settings: Arc<InstallSettings>,
}

/// The install worker.
pub struct InstallWorker;

impl Actor for InstallWorker {
    type Msg = InstallMsg;
    type State = InstallWorkerState;
    type Arguments = InstallWorkerState;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: InstallWorkerState,
    ) -> Result<InstallWorkerState, ActorProcessingErr> {
        Ok(args)
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut InstallWorkerState,
    ) -> Result<(), ActorProcessingErr> {
        let settings = Arc::clone(&state.settings);
        match msg {
            InstallMsg::Stage {
                tar,
                staging,
                reply,
            } => {
                let limits = settings.archive_limits;
                let result = blocking(move || stage(&tar, &staging, &limits)).await?;
                let _ = reply.send(result.map_err(EngineError::from));
            }
            InstallMsg::Install { job, reply } => {
                let plans = Arc::clone(&state.plans);
                let result = blocking(move || {
                    install_blocking(&job, &plans, settings.handoff_args.as_deref())
                })
                .await?;
                let _ = reply.send(result.map_err(EngineError::from));
            }
            InstallMsg::AfterInstall {
                from,
                to,
                backup,
                reply,
            } => {
                let after =
                    blocking(move || commit::after_install(&settings, &from, &to, &backup)).await?;
                let _ = reply.send(after);
            }
            InstallMsg::Confirm { reply } => {
                let committed = blocking(move || commit::confirm(&settings)).await?;
                let _ = reply.send(committed);
            }
            InstallMsg::RollBack {
                current,
                reason,
                reply,
            } => {
                let result =
                    blocking(move || commit::roll_back(&settings, &current, &reason)).await?;
                let _ = reply.send(result.map_err(EngineError::from));
            }
            InstallMsg::Preload => {
                let plans = Arc::clone(&state.plans);
                if let Err(e) = blocking(move || plans.preload()).await? {
                    tracing::error!(error = %e, "the install hook does not load; installs will fail until it is fixed");
                }
            }
            InstallMsg::Resume { reply } => {
                let verdict = blocking(move || commit::resume(&settings)).await?;
                let _ = reply.send(verdict);
            }
        }
        Ok(())
    }
}

/// Runs `f` on a blocking thread; a panic there stops the worker (the supervisor restarts it
/// and the waiting request gets [`EngineError::WorkerStopped`]).
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ActorProcessingErr> {
    Ok(tokio::task::spawn_blocking(f).await?)
}
