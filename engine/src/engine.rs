//! [`Engine`]: the handle the daemon holds. It starts the supervisor and, for the sidecar, the
//! watch and poll loops; its methods are the requests of the sidecar protocol (docs/protocol.md,
//! "Requests") as async calls. Recovering an interrupted install is the caller's job, before
//! [`Engine::start`].

use ractor::rpc::CallResult;
use ractor::{Actor, ActorRef, RpcReplyPort};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::ValidConfig;
use crate::error::EngineError;
use crate::event::{CheckReport, Event};
use crate::supervisor::{SupervisorActor, SupervisorArgs, SupervisorMsg};
use crate::watch;
use tufd_net::transport::{HttpClient, TransportSettings};
use tufd_protocol::{Installed, Staged, Status};

/// Capacity of the event channel; a subscriber that lags more loses the oldest events.
pub const EVENT_CAPACITY: usize = 1024;

/// How the engine runs.
#[derive(Clone, Copy, Debug, Default)]
pub struct StartOptions {
    /// Start the watch (file:// repositories) and poll loops: the sidecar does, one-shot
    /// commands do not.
    pub background_checks: bool,
}

/// A running engine.
pub struct Engine {
    actor: ActorRef<SupervisorMsg>,
    join: std::sync::Mutex<Option<JoinHandle<()>>>,
    events: broadcast::Sender<Event>,
    /// A receiver made before the engine started, handed out by the first `subscribe`, so that
    /// the first subscriber also sees the events of the start-up check.
    first_receiver: std::sync::Mutex<Option<broadcast::Receiver<Event>>>,
    stop: CancellationToken,
}

impl Engine {
    /// Creates the data folders and starts the supervisor with its workers, with
    /// `config.current_version` as the installed version.
    ///
    /// The engine does not recover an interrupted install: the caller must first run
    /// `tufd_install::recover` on the data folder's journal ([`DataLayout::journal`]), holding
    /// the data folder's lock, and put the version installed afterwards in
    /// `config.current_version`, as the daemon does before it resolves its config.
    ///
    /// [`DataLayout::journal`]: crate::config::DataLayout::journal
    ///
    /// # Errors
    /// [`EngineError::Io`] for the data folder, [`EngineError::Transport`] when the HTTP
    /// client cannot be built, [`EngineError::WorkerStopped`] when the actors cannot start.
    pub async fn start(config: ValidConfig, options: StartOptions) -> Result<Self, EngineError> {
        let config = config.into_inner();
        config
            .layout()
            .create_dirs()
            .map_err(|(path, e)| EngineError::io(path, e))?;
        let current = config.current_version.clone();
        let settings = TransportSettings {
            request_deadline: config.network_timeout,
            ..TransportSettings::default()
        };
        let client = HttpClient::new(&settings)?;
        let (events, first_receiver) = broadcast::channel(EVENT_CAPACITY);
        let args = SupervisorArgs {
            config: config.clone(),
            client,
            settings,
            events: events.clone(),
            current,
        };
        let (actor, join) = Actor::spawn(None, SupervisorActor, args)
            .await
            .map_err(|e| EngineError::worker("supervisor", format!("cannot start: {e}")))?;
        let stop = CancellationToken::new();
        if options.background_checks {
            let trigger = {
                let actor = actor.clone();
                move || {
                    let _ = actor.cast(SupervisorMsg::Trigger);
                }
            };
            if let Some(folder) = config.metadata_folder() {
                match watch::spawn_watch(&folder, trigger.clone(), stop.clone()) {
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(folder = %folder.display(), error = %e, "cannot watch the repository")
                    }
                }
            }
            if let Some(interval) = config.poll_interval {
                watch::spawn_poll(interval, trigger.clone(), stop.clone());
            }
            if config.auto_install {
                trigger();
            }
        }
        Ok(Self {
            actor,
            join: std::sync::Mutex::new(Some(join)),
            events,
            first_receiver: std::sync::Mutex::new(Some(first_receiver)),
            stop,
        })
    }

    /// A receiver of every event from now on; the first call's receiver also holds every event
    /// since the engine started.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.first_receiver
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
            .unwrap_or_else(|| self.events.subscribe())
    }

    async fn call<T: Send + 'static>(
        &self,
        build: impl FnOnce(RpcReplyPort<T>) -> SupervisorMsg,
    ) -> Result<T, EngineError> {
        match self.actor.call(build, None).await {
            Ok(CallResult::Success(t)) => Ok(t),
            // A request that raced `shutdown` is cancelled, not an internal error.
            _ if self.stop.is_cancelled() => Err(EngineError::Cancelled),
            _ => Err(EngineError::worker("supervisor", "not running")),
        }
    }

    /// Where the engine stands.
    ///
    /// # Errors
    /// [`EngineError::WorkerStopped`] when the supervisor stopped.
    pub async fn status(&self) -> Result<Status, EngineError> {
        self.call(SupervisorMsg::Status).await
    }

    /// Refreshes TUF metadata and plans.
    ///
    /// # Errors
    /// Metadata and network kinds, `cancelled`, `busy`.
    pub async fn check(&self) -> Result<CheckReport, EngineError> {
        self.call(SupervisorMsg::Check).await?
    }

    /// Checks if needed, downloads, verifies, stages.
    ///
    /// # Errors
    /// As [`Engine::check`], plus `no-update`, `target-mismatch`, `patch-failed`, `io`.
    pub async fn download(&self) -> Result<Staged, EngineError> {
        self.call(SupervisorMsg::Download).await?
    }

    /// Downloads if needed, then swaps (and relaunches).
    ///
    /// # Errors
    /// As [`Engine::download`], plus `install-failed`.
    pub async fn install(&self) -> Result<Installed, EngineError> {
        self.call(SupervisorMsg::Install).await?
    }

    /// Commits the version on trial (the app's `confirm`): its backup may go; returns it, or
    /// `None` when no version was pending.
    ///
    /// # Errors
    /// [`EngineError::WorkerStopped`] when the supervisor stopped.
    pub async fn confirm(&self) -> Result<Option<tufd_core::Version>, EngineError> {
        self.call(SupervisorMsg::Confirm).await?
    }

    /// Restores the previous version from its backup, marks the current one bad, relaunches
    /// the app when configured; returns the version now installed.
    ///
    /// # Errors
    /// `no-backup` when there is none, `busy` while an operation runs, `install-failed` when
    /// the swap fails (the install folder is then as before).
    pub async fn rollback(&self) -> Result<tufd_core::Version, EngineError> {
        self.call(SupervisorMsg::Rollback).await?
    }

    /// Cancels the running operation; whether one was cancelled.
    ///
    /// # Errors
    /// [`EngineError::WorkerStopped`] when the supervisor stopped.
    pub async fn cancel(&self) -> Result<bool, EngineError> {
        self.call(SupervisorMsg::Cancel).await
    }

    /// Finishes a swap in progress, cancels anything else, and stops the engine; returns once
    /// the supervisor has stopped. A second call returns at once.
    ///
    /// # Errors
    /// [`EngineError::WorkerStopped`] when the supervisor had stopped already.
    pub async fn shutdown(&self) -> Result<(), EngineError> {
        self.stop.cancel();
        let result = self.call(SupervisorMsg::Shutdown).await;
        let join = self
            .join
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(join) = join {
            let _ = join.await;
        }
        result
    }
}
