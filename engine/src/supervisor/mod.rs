//! The SupervisorActor: owns the update state machine ([`machine`]), the worker actors, the
//! persisted state ([`persist`]), and answers requests (docs/architecture.md, "The crates in more
//! detail", `tufd-engine`; the requests are those of docs/protocol.md, "Requests").
//!
//! Operations (check, download, install) run as one task at a time ([`pipeline`]) so the actor
//! keeps answering `status` and `cancel`. The task reports phase changes as
//! [`SupervisorMsg::Advance`] and its end as [`SupervisorMsg::Finished`]; both go through the
//! actor's mailbox, so every `state` event is broadcast before the request's reply is sent.
//!
//! Requests arriving while an operation runs are **queued** (up to [`QUEUE_LIMIT`], then
//! answered `busy`) and run in order afterwards; poll and watch triggers arriving while busy
//! are dropped (the running operation already checks). `cancel` stops the running operation
//! (never a swap in progress) and answers every queued request `cancelled`. `shutdown` waits
//! for a swap in progress, cancels anything else, then stops.
//!
//! Workers are spawned linked; a worker that fails is spawned again with the same arguments
//! (the request it was serving fails with `internal`).

pub mod bucket;
pub mod fallback;
pub mod machine;
pub mod outcome;
pub mod persist;
pub mod pipeline;
pub mod policy;
pub mod tufup_cache;

use std::collections::VecDeque;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use tufd_core::Version;

use crate::config::EngineConfig;
use crate::error::EngineError;
use crate::event::{CheckReport, Event};
use crate::supervisor::pipeline::call as ask;
use crate::workers::download::DownloadWorker;
use crate::workers::install::{InstallMsg, InstallWorker, InstallWorkerState};
use crate::workers::metadata::{MetadataArgs, MetadataWorker};
use crate::workers::patch::PatchWorker;
use machine::{Input, Phase};
use persist::PersistedState;
use pipeline::{Checked, Goal, OpInput, OpOutput, PolicyInput, StagedUpdate, Workers};
use tufd_install::PlanSource;
use tufd_install::health::{self, HealthEvent, HealthFile, Verdict};
use tufd_net::transport::{HttpClient, TransportSettings, TufTransport};
use tufd_protocol::{Installed, Staged, Status};

/// Most requests waiting behind a running operation; more are answered `busy`.
pub const QUEUE_LIMIT: usize = 16;

/// Where an operation's result goes.
pub enum Pending {
    /// A `check` request.
    Check(RpcReplyPort<Result<CheckReport, EngineError>>),
    /// A `download` request.
    Download(RpcReplyPort<Result<Staged, EngineError>>),
    /// An `install` request.
    Install(RpcReplyPort<Result<Installed, EngineError>>),
    /// A poll or watch trigger (no one waits).
    Trigger,
}

impl Pending {
    fn goal(&self, auto_install: bool) -> Goal {
        match self {
            Pending::Check(_) => Goal::Check,
            Pending::Download(_) => Goal::Download,
            Pending::Install(_) => Goal::Install,
            Pending::Trigger if auto_install => Goal::Install,
            Pending::Trigger => Goal::Check,
        }
    }

    fn fail(self, err: EngineError) {
        match self {
            Pending::Check(r) => drop(r.send(Err(err))),
            Pending::Download(r) => drop(r.send(Err(err))),
            Pending::Install(r) => drop(r.send(Err(err))),
            Pending::Trigger => {}
        }
    }
}

/// Messages of the [`SupervisorActor`].
pub enum SupervisorMsg {
    /// Where the engine stands.
    Status(RpcReplyPort<Status>),
    /// Check for an update.
    Check(RpcReplyPort<Result<CheckReport, EngineError>>),
    /// Download, verify and stage the update (checking first if needed).
    Download(RpcReplyPort<Result<Staged, EngineError>>),
    /// Install the update (downloading first if needed).
    Install(RpcReplyPort<Result<Installed, EngineError>>),
    /// Cancel the running operation; answers whether there was one to cancel.
    Cancel(RpcReplyPort<bool>),
    /// Finish a swap in progress, cancel anything else, stop.
    Shutdown(RpcReplyPort<()>),
    /// A poll or a watched change: check (and install with `auto_install`), unless busy.
    Trigger,
    /// From the operation task: a phase change.
    Advance(Input),
    /// From the operation task: an event to broadcast in order with the state events.
    Emit(Event),
    /// From the operation task: it ended.
    Finished(Box<(OpOutput, Result<(), EngineError>)>),
    /// `confirm`: commit the version on trial; answers it (`None`: nothing was pending).
    Confirm(RpcReplyPort<Result<Option<Version>, EngineError>>),
    /// `rollback`: restore the previous version from its backup; answers the version restored.
    Rollback(RpcReplyPort<Result<Version, EngineError>>),
    /// The health deadline of the version on trial may have passed.
    HealthTick,
}

/// Arguments of the [`SupervisorActor`].
pub struct SupervisorArgs {
    /// The validated config.
    pub config: EngineConfig,
    /// The shared HTTP client.
    pub client: HttpClient,
    /// Transport retry settings.
    pub settings: TransportSettings,
    /// Where events go.
    pub events: broadcast::Sender<Event>,
    /// The installed version (the config's, or the one a recovery left installed).
    pub current: Version,
}

struct Running {
    cancel: CancellationToken,
    pending: Pending,
    /// The operation's task; it reports back with [`SupervisorMsg::Finished`].
    task: tokio::task::JoinHandle<()>,
}

/// The supervisor's state.
pub struct SupervisorState {
    config: Arc<EngineConfig>,
    client: HttpClient,
    settings: TransportSettings,
    events: broadcast::Sender<Event>,
    phase: Phase,
    current: Version,
    persisted: PersistedState,
    checked: Option<Checked>,
    staged: Option<StagedUpdate>,
    running: Option<Running>,
    queue: VecDeque<Pending>,
    workers: Arc<RwLock<Workers>>,
    shutdown: Option<RpcReplyPort<()>>,
    /// The version whose install was handed to a helper copy outside the install folder: no
    /// further operation runs in this daemon (the copy owns the data folder once it exits).
    handed_off: Option<Version>,
    /// The install hook (or native plan), shared with the InstallWorker.
    plans: Arc<PlanSource>,
    /// The armed health deadline tick, if any.
    health_timer:
        Option<ractor::concurrency::JoinHandle<Result<(), ractor::MessagingErr<SupervisorMsg>>>>,
}

/// The SupervisorActor.
pub struct SupervisorActor;

async fn spawn_workers(
    myself: &ActorRef<SupervisorMsg>,
    config: &EngineConfig,
    client: &HttpClient,
    settings: &TransportSettings,
    plans: &Arc<PlanSource>,
) -> Result<Workers, ActorProcessingErr> {
    let cell: ActorCell = myself.get_cell();
    let (metadata, _) = Actor::spawn_linked(
        None,
        MetadataWorker,
        metadata_args(config, client, settings),
        cell.clone(),
    )
    .await?;
    let (fetcher, _) =
        Actor::spawn_linked(None, DownloadWorker, client.clone(), cell.clone()).await?;
    let (patcher, _) = Actor::spawn_linked(None, PatchWorker, (), cell.clone()).await?;
    let install_args = InstallWorkerState {
        plans: Arc::clone(plans),
        settings: Arc::new(config.install_settings()),
    };
    let (installer, _) = Actor::spawn_linked(None, InstallWorker, install_args, cell).await?;
    Ok(Workers {
        metadata,
        fetcher,
        patcher,
        installer,
    })
}

fn metadata_args(
    config: &EngineConfig,
    client: &HttpClient,
    settings: &TransportSettings,
) -> MetadataArgs {
    MetadataArgs {
        config: config.clone(),
        transport: TufTransport::new(client.clone(), settings.clone()),
    }
}

impl SupervisorState {
    fn workers(&self) -> Workers {
        self.workers
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn install_args(&self) -> InstallWorkerState {
        InstallWorkerState {
            plans: Arc::clone(&self.plans),
            settings: Arc::new(self.config.install_settings()),
        }
    }

    fn emit(&self, event: Event) {
        // No subscriber is fine (one-shot commands may not listen).
        let _ = self.events.send(event);
    }

    fn set_phase(&mut self, input: Input) {
        match machine::next(self.phase, input) {
            Some(phase) => {
                self.phase = phase;
                self.emit(Event::State(phase));
            }
            None => tracing::warn!(phase = %self.phase, ?input, "ignored transition"),
        }
    }

    fn status(&self) -> Status {
        // One small file (`installed/summary.json`), read when asked.
        let installed =
            tufd_install::release::summary(&self.config.layout(), &self.current.to_string())
                .unwrap_or_default();
        Status {
            state: self.phase,
            current: self.current.to_string(),
            latest: self
                .checked
                .as_ref()
                .map(|c| c.latest.clone())
                .filter(|l| *l != self.current)
                .map(|v| v.to_string()),
            pending: self.staged.as_ref().map(|s| s.version.to_string()),
            managed: self.config.admin.describe(),
            platform: self.config.platform.as_ref().map(ToString::to_string),
            left_behind: installed.left_behind,
            kept: installed.kept,
        }
    }

    fn start(&mut self, myself: &ActorRef<SupervisorMsg>, pending: Pending) {
        let cancel = CancellationToken::new();
        let me = myself.clone();
        let input = OpInput {
            goal: pending.goal(self.config.auto_install),
            start_phase: self.phase,
            config: self.config.clone(),
            current: self.current.clone(),
            failed_patches: self.persisted.failed_patches.clone(),
            refused_archives: self.persisted.refused_archives.clone(),
            staged: self.staged.clone(),
            recent_check: self.checked.clone().filter(|c| {
                self.phase == Phase::Available && c.at.elapsed() < pipeline::CHECK_REUSE
            }),
            cancel: cancel.clone(),
            workers: self.workers.clone(),
            emit: {
                let me = myself.clone();
                Arc::new(move |event| {
                    let _ = me.cast(SupervisorMsg::Emit(event));
                })
            },
            advance: Box::new(move |input| {
                let _ = me.cast(SupervisorMsg::Advance(input));
            }),
            // Only automatic installs ask the policy; the app's own requests are its call.
            policy: (matches!(pending, Pending::Trigger)
                && self.config.auto_install
                && self.plans.has_hook())
            .then(|| PolicyInput {
                source: Arc::clone(&self.plans),
                skipped: self.persisted.skipped_versions.clone(),
                deferred: self.persisted.deferred.clone(),
                app_name: self.config.app_name.clone(),
                settings: self.config.hook_settings.clone(),
            }),
        };
        let me = myself.clone();
        let task = tokio::spawn(async move {
            let outcome = pipeline::run(input).await;
            let _ = me.cast(SupervisorMsg::Finished(Box::new(outcome)));
        });
        self.running = Some(Running {
            cancel,
            pending,
            task,
        });
    }

    fn enqueue(&mut self, myself: &ActorRef<SupervisorMsg>, pending: Pending) {
        if self.shutdown.is_some() {
            pending.fail(EngineError::Cancelled);
        } else if self.handed_off.is_some() {
            pending.fail(EngineError::Busy {
                state: self.phase.as_str(),
            });
        } else if self.running.is_none() {
            self.start(myself, pending);
        } else if self.queue.len() < QUEUE_LIMIT {
            self.queue.push_back(pending);
        } else {
            pending.fail(EngineError::Busy {
                state: self.phase.as_str(),
            });
        }
    }

    fn persist(&self) {
        if let Err(e) = self.persisted.save(&self.config.layout().state()) {
            tracing::warn!(error = %e, "cannot save state.json");
        }
    }

    /// Sends [`SupervisorMsg::HealthTick`] just after the deadline of the version on trial, if
    /// there is one and a health timeout is configured.
    fn arm_health_timer(&mut self, myself: &ActorRef<SupervisorMsg>) {
        let policy = &self.config.health;
        let file = HealthFile::load(&HealthFile::path(&self.config.data_dir));
        let Some(deadline) = file.pending.and_then(|p| p.deadline_unix(policy)) else {
            return;
        };
        let wait = Duration::from_secs(deadline.saturating_sub(tufd_core::now_unix()))
            + Duration::from_millis(100);
        self.health_tick_after(myself, wait);
    }

    /// Sends [`SupervisorMsg::HealthTick`] after `wait`, replacing a tick already armed (one
    /// timer at a time, aborted when the supervisor stops).
    fn health_tick_after(&mut self, myself: &ActorRef<SupervisorMsg>, wait: Duration) {
        if let Some(old) = self.health_timer.take() {
            old.abort();
        }
        let timer = myself.send_after(wait, || SupervisorMsg::HealthTick);
        self.health_timer = Some(timer);
    }

    /// Restores the previous version (health failure or request), marks the current one bad,
    /// moves to `rolled-back` and reports it as an `error` notification of kind `rolled-back`.
    async fn roll_back(&mut self, reason: String) -> Result<Version, EngineError> {
        let installer = self.workers().installer;
        let restored = ask(&installer, "install", |reply| InstallMsg::RollBack {
            current: self.current.clone(),
            reason: reason.clone(),
            reply,
        })
        .await??;
        let from = std::mem::replace(&mut self.current, restored.clone());
        self.persisted.installed_version = Some(restored.clone());
        self.persist();
        self.checked = None;
        self.staged = None;
        self.set_phase(Input::RolledBack);
        let err = EngineError::RolledBack {
            from,
            to: restored.clone(),
            reason,
        };
        tracing::warn!(error = %err, "rolled back");
        self.emit(Event::Error {
            kind: err.kind(),
            message: crate::error::report(&err),
        });
        Ok(restored)
    }

    /// The health deadline passed (or the daemon started): rolls back a version on trial that
    /// ran out of time, unless an operation runs (then tries again in a second).
    async fn health_tick(&mut self, myself: &ActorRef<SupervisorMsg>) {
        if self.running.is_some() {
            self.health_tick_after(myself, Duration::from_secs(1));
            return;
        }
        let file = HealthFile::load(&HealthFile::path(&self.config.data_dir));
        let Some(mut pending) = file.pending else {
            return;
        };
        let event = HealthEvent::Tick {
            now_unix: tufd_core::now_unix(),
        };
        if let Verdict::RollBack { reason } =
            health::step(&mut pending, &self.config.health, &event)
            && let Err(e) = self.roll_back(reason).await
        {
            tracing::error!(error = %e, "automatic rollback failed");
        }
    }

    fn finish(
        &mut self,
        myself: &ActorRef<SupervisorMsg>,
        out: OpOutput,
        result: Result<(), EngineError>,
    ) {
        let Some(running) = self.running.take() else {
            return;
        };
        let learned = outcome::Learned {
            checked: out.checked.is_some(),
            failed_patches: out.failed_patches,
            refused: out.refused,
            decision: out.decision,
            installed: out.installed.as_ref().map(|(v, _)| v.clone()),
        };
        outcome::record(&mut self.persisted, learned, tufd_core::now_unix());
        if let Some(checked) = out.checked {
            self.checked = Some(checked);
        }
        self.staged = out.staged;
        let handed_off = out.handed_off;
        if handed_off.is_some() {
            self.handed_off.clone_from(&handed_off);
        }
        let mut relaunched = false;
        if let Some((version, did_relaunch)) = out.installed {
            self.current = version;
            relaunched = did_relaunch;
        }
        if let Err(e) = &result {
            if let Some(input) = outcome::failure_input(self.phase, e) {
                self.set_phase(input);
            }
            if outcome::notifies(e) {
                tracing::error!(kind = %e.kind(), error = %e, "operation failed");
                self.emit(Event::Error {
                    kind: e.kind(),
                    message: crate::error::report(e),
                });
            }
        }
        self.persist();
        self.arm_health_timer(myself);
        if outcome::restart_required(result.is_ok(), self.phase, relaunched) {
            self.emit(Event::RestartRequired {
                version: self.current.to_string(),
            });
        }
        match running.pending {
            Pending::Check(reply) => {
                let _ = reply.send(result.map(|()| {
                    self.checked
                        .as_ref()
                        .map(|c| c.report.clone())
                        .expect("a successful check sets checked")
                }));
            }
            Pending::Download(reply) => {
                let _ = reply.send(result.and_then(|()| {
                    self.staged
                        .as_ref()
                        .map(|s| Staged {
                            version: s.version.to_string(),
                            staged: true,
                        })
                        .ok_or_else(|| {
                            EngineError::Invariant("download ended without a staged update")
                        })
                }));
            }
            Pending::Install(reply) => {
                let _ = reply.send(result.map(|()| match &handed_off {
                    Some(version) => Installed {
                        version: version.to_string(),
                        installed: false,
                        handed_off: true,
                    },
                    None => Installed {
                        version: self.current.to_string(),
                        installed: true,
                        handed_off: false,
                    },
                }));
            }
            Pending::Trigger => {}
        }
        if let Some(next) = self.queue.pop_front() {
            self.start(myself, next);
        } else if let Some(reply) = self.shutdown.take() {
            let _ = reply.send(());
            myself.stop(Some("shutdown".into()));
        }
    }
}

impl Actor for SupervisorActor {
    type Msg = SupervisorMsg;
    type State = SupervisorState;
    type Arguments = SupervisorArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: SupervisorArgs,
    ) -> Result<SupervisorState, ActorProcessingErr> {
        let plans = Arc::new(PlanSource::new(&args.config.install_settings()));
        let workers =
            spawn_workers(&myself, &args.config, &args.client, &args.settings, &plans).await?;
        let persisted = PersistedState::load(&args.config.layout().state());
        Ok(SupervisorState {
            config: Arc::new(args.config),
            client: args.client,
            settings: args.settings,
            events: args.events,
            phase: Phase::Idle,
            current: args.current,
            persisted,
            checked: None,
            staged: None,
            running: None,
            queue: VecDeque::new(),
            workers: Arc::new(RwLock::new(workers)),
            shutdown: None,
            handed_off: None,
            plans,
            health_timer: None,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut SupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            SupervisorMsg::Status(reply) => {
                let _ = reply.send(state.status());
            }
            SupervisorMsg::Check(reply) => state.enqueue(&myself, Pending::Check(reply)),
            SupervisorMsg::Download(reply) => state.enqueue(&myself, Pending::Download(reply)),
            SupervisorMsg::Install(reply) => state.enqueue(&myself, Pending::Install(reply)),
            SupervisorMsg::Trigger => {
                if state.running.is_none() && state.shutdown.is_none() {
                    state.start(&myself, Pending::Trigger);
                } else {
                    tracing::debug!("trigger while busy; skipped");
                }
            }
            SupervisorMsg::Cancel(reply) => {
                let cancelled = match &state.running {
                    Some(running) if state.phase != Phase::Installing => {
                        running.cancel.cancel();
                        true
                    }
                    _ => false,
                };
                for pending in state.queue.drain(..) {
                    pending.fail(EngineError::Cancelled);
                }
                let _ = reply.send(cancelled);
            }
            SupervisorMsg::Shutdown(reply) => {
                for pending in state.queue.drain(..) {
                    pending.fail(EngineError::Cancelled);
                }
                match &state.running {
                    None => {
                        let _ = reply.send(());
                        myself.stop(Some("shutdown".into()));
                    }
                    Some(running) => {
                        if state.phase != Phase::Installing {
                            running.cancel.cancel();
                        }
                        state.shutdown = Some(reply);
                    }
                }
            }
            SupervisorMsg::Advance(input) => state.set_phase(input),
            SupervisorMsg::Emit(event) => state.emit(event),
            SupervisorMsg::Finished(outcome) => {
                let (out, result) = *outcome;
                state.finish(&myself, out, result);
            }
            SupervisorMsg::Confirm(reply) => {
                let installer = state.workers().installer;
                let answer =
                    ask(&installer, "install", |reply| InstallMsg::Confirm { reply }).await;
                let _ = reply.send(answer);
            }
            SupervisorMsg::Rollback(reply) => {
                let answer = if state.running.is_some() || state.shutdown.is_some() {
                    Err(EngineError::Busy {
                        state: state.phase.as_str(),
                    })
                } else {
                    state.roll_back("rollback requested".to_owned()).await
                };
                let _ = reply.send(answer);
            }
            SupervisorMsg::HealthTick => state.health_tick(&myself).await,
        }
        Ok(())
    }

    async fn post_start(
        &self,
        myself: ActorRef<Self::Msg>,
        state: &mut SupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        // A version on trial from an earlier run: count this launch, roll back if its time or
        // launches ran out, else wait for its deadline. Without a health policy it is committed.
        let installer = state.workers().installer;
        if state.plans.has_hook() {
            // Compiling the hook (or reading its cache) is the install worker's first job.
            let _ = installer.cast(InstallMsg::Preload);
        }
        // A worker that stops meanwhile is restarted by supervision; the next start counts
        // this launch then. Never a reason to stop the engine.
        let verdict = match ask(&installer, "install", |reply| InstallMsg::Resume { reply }).await {
            Ok(verdict) => verdict,
            Err(e) => {
                tracing::error!(error = %e, "cannot resume the version on trial");
                Ok(None)
            }
        };
        match verdict {
            Ok(Some(_)) => state.arm_health_timer(&myself),
            Ok(None) => {}
            Err(reason) => {
                if let Err(e) = state.roll_back(reason).await {
                    tracing::error!(error = %e, "automatic rollback at start failed");
                }
            }
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut SupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        // Nothing outlives the supervisor: the armed tick and a running check or download stop
        // here (an install is never interrupted: `shutdown` waits for it before stopping).
        if let Some(timer) = state.health_timer.take() {
            timer.abort();
        }
        if let Some(running) = state.running.take() {
            running.cancel.cancel();
            running.task.abort();
            running.pending.fail(EngineError::Cancelled);
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut SupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        let who = match &event {
            SupervisionEvent::ActorFailed(who, err) => {
                tracing::error!(actor = ?who.get_id(), error = %err, "worker crashed; restarting it");
                who.get_id()
            }
            SupervisionEvent::ActorTerminated(who, _, reason) => {
                tracing::warn!(actor = ?who.get_id(), ?reason, "worker stopped; restarting it");
                who.get_id()
            }
            _ => return Ok(()),
        };
        if state.shutdown.is_some() {
            return Ok(());
        }
        let cell = myself.get_cell();
        let current = state
            .workers
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let mut replaced = current.clone();
        if current.metadata.get_id() == who {
            let args = metadata_args(&state.config, &state.client, &state.settings);
            replaced.metadata = Actor::spawn_linked(None, MetadataWorker, args, cell)
                .await?
                .0;
        } else if current.fetcher.get_id() == who {
            replaced.fetcher =
                Actor::spawn_linked(None, DownloadWorker, state.client.clone(), cell)
                    .await?
                    .0;
        } else if current.patcher.get_id() == who {
            replaced.patcher = Actor::spawn_linked(None, PatchWorker, (), cell).await?.0;
        } else if current.installer.get_id() == who {
            replaced.installer =
                Actor::spawn_linked(None, InstallWorker, state.install_args(), cell)
                    .await?
                    .0;
        } else {
            return Ok(());
        }
        *state
            .workers
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = replaced;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ractor::rpc::CallResult;
    use std::time::Duration;

    fn config(dir: &std::path::Path) -> EngineConfig {
        crate::config::test_config(dir)
    }

    #[tokio::test]
    async fn a_killed_worker_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let settings = TransportSettings::default();
        let (events, _rx) = broadcast::channel(16);
        let args = SupervisorArgs {
            config: config(dir.path()),
            client: HttpClient::new(&settings).unwrap(),
            settings,
            events,
            current: "1.0".parse().unwrap(),
        };
        let (actor, join) = Actor::spawn(None, SupervisorActor, args).await.unwrap();
        let before = actor.get_children();
        assert_eq!(before.len(), 4);
        let victim = before[0].get_id();
        before[0].kill();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let ids: Vec<_> = actor.get_children().iter().map(ActorCell::get_id).collect();
            if ids.len() == 4 && !ids.contains(&victim) {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "worker not replaced: {ids:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // The engine still serves: a check fails cleanly (bad root) instead of hanging.
        let reply = actor
            .call(SupervisorMsg::Check, Some(Duration::from_secs(10)))
            .await
            .unwrap();
        let CallResult::Success(Err(err)) = reply else {
            panic!("no answer")
        };
        assert_eq!(
            err.kind(),
            tufd_protocol::ErrorKind::MetadataInvalid,
            "{err}"
        );
        actor.stop(None);
        join.await.unwrap();
    }
}
