//! One operation of the supervisor — check, download or install — run as a task beside the
//! actor so that the supervisor keeps answering `status` and `cancel` meanwhile.
//!
//! The task talks to the workers by `call` (MetadataWorker, DownloadWorker, PatchWorker,
//! InstallWorker), reports each phase change to the supervisor ([`OpInput::advance`]) and
//! returns everything the supervisor must remember in an [`OpOutput`].
//!
//! Failure rules (docs/architecture.md, "One update, step by step", steps 5 to 7): a patch
//! rejected by TUF (length or hash) or failing to apply is recorded in `failed_patches` and the
//! full archive is fetched in the same run; a missing base tar that cannot be rebuilt also falls
//! back to the archive.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use ractor::rpc::CallResult;
use ractor::{ActorRef, RpcReplyPort};
use tokio_util::sync::CancellationToken;
use tufd_core::custom::{ArchiveCustom, TarDigest};
use tufd_core::planner::{BaseTar, Plan, PlanInput, TargetInfo, plan};
use tufd_core::rollout::Audience;
use tufd_core::{TargetCustom, Version};

use crate::config::EngineConfig;
use crate::error::EngineError;
use crate::event::{CheckReport, Event, check_report};
use crate::supervisor::fallback::{self, Fallback};
use crate::supervisor::machine::{Input, Phase};
use crate::supervisor::persist::RefusedArchive;
use crate::supervisor::policy::{self, Deferral, Gate};
use crate::supervisor::tufup_cache;
use crate::workers::download::DownloadMsg;
use crate::workers::install::InstallMsg;
use crate::workers::metadata::MetadataMsg;
use crate::workers::patch::PatchMsg;
use tufd_core::install_plan::{Decision, UpdateInfo};
use tufd_install::build::{BaseSource, BuildError, BuildJob, PatchStep};
use tufd_install::commit::AfterInstall;
use tufd_install::stage::{self as install, InstallJob, InstallRun, Placement};
use tufd_install::{InstallError, PlanSource};
use tufd_net::RepoView;
use tufd_net::TrustedStoreError;
use tufd_net::download::DownloadRequest;

/// How long a check may be reused by a following download or install, instead of refreshing
/// the metadata again (60 s).
pub const CHECK_REUSE: std::time::Duration = std::time::Duration::from_secs(60);

/// Smallest progress step reported as an event, in bytes (or 1% of the target if larger).
pub const PROGRESS_STEP_BYTES: u64 = 256 * 1024;

/// The worker actors; replaced in place when the supervisor restarts one.
#[derive(Clone)]
pub struct Workers {
    /// TUF refresh.
    pub metadata: ActorRef<MetadataMsg>,
    /// Target downloads.
    pub fetcher: ActorRef<DownloadMsg>,
    /// Tar building.
    pub patcher: ActorRef<PatchMsg>,
    /// Staging and swap.
    pub installer: ActorRef<InstallMsg>,
}

/// How far an operation goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Goal {
    /// Refresh and plan.
    Check,
    /// … and download, verify, stage.
    Download,
    /// … and swap (and relaunch).
    Install,
}

/// The outcome of a check.
#[derive(Clone, Debug)]
pub struct Checked {
    /// The plan.
    pub plan: Plan,
    /// Its report.
    pub report: CheckReport,
    /// The version the plan goes to (the installed one when up to date).
    pub latest: Version,
    /// The trusted repository view it came from.
    pub view: RepoView,
    /// When it finished.
    pub at: std::time::Instant,
}

/// A verified new version extracted into staging.
#[derive(Clone, Debug)]
pub struct StagedUpdate {
    /// The staged version.
    pub version: Version,
    /// Staging and backup folders.
    pub placement: Placement,
}

/// Everything an operation needs.
pub struct OpInput {
    /// How far to go.
    pub goal: Goal,
    /// The phase when the operation started.
    pub start_phase: Phase,
    /// The engine config.
    pub config: Arc<EngineConfig>,
    /// The installed version.
    pub current: Version,
    /// Patches that failed before.
    pub failed_patches: BTreeSet<String>,
    /// Archives refused before, by name (`state.json`).
    pub refused_archives: BTreeMap<String, RefusedArchive>,
    /// The staged update, if any.
    pub staged: Option<StagedUpdate>,
    /// A check young enough to download from without refreshing again (only in `available`).
    pub recent_check: Option<Checked>,
    /// Stops the operation (not the swap).
    pub cancel: CancellationToken,
    /// The workers.
    pub workers: Arc<RwLock<Workers>>,
    /// Sends progress and update-available events through the supervisor's mailbox, so they
    /// keep their order with the state events.
    pub emit: Arc<dyn Fn(Event) + Send + Sync>,
    /// Reports a phase change to the supervisor.
    pub advance: Box<dyn Fn(Input) + Send + Sync>,
    /// Set for an automatic install when a hook is configured: ask its update policy first.
    pub policy: Option<PolicyInput>,
}

/// What the update policy gate needs (see [`super::policy`]).
pub struct PolicyInput {
    /// The hook.
    pub source: Arc<PlanSource>,
    /// Versions skipped before.
    pub skipped: BTreeSet<String>,
    /// The last deferral.
    pub deferred: Option<Deferral>,
    /// The app name.
    pub app_name: String,
    /// The hook settings.
    pub settings: Vec<(String, String)>,
}

/// What an operation produced.
#[derive(Default)]
pub struct OpOutput {
    /// A fresh check, if one ran.
    pub checked: Option<Checked>,
    /// The staged update after the operation.
    pub staged: Option<StagedUpdate>,
    /// The installed version and whether the app was relaunched.
    pub installed: Option<(Version, bool)>,
    /// Patches that failed during this operation.
    pub failed_patches: Vec<String>,
    /// The update policy's answer for a version, to remember.
    pub decision: Option<(Version, Decision)>,
    /// Why the patches were given up for the full archive in this operation, in words.
    pub plan_changed: Option<String>,
    /// An archive refused in this operation, to remember (`state.json`).
    pub refused: Option<(String, RefusedArchive)>,
    /// The version whose install was handed to a copy of tufd outside the install folder
    /// (`tufd_install::handoff`); it installs once this daemon has exited.
    pub handed_off: Option<Version>,
}

fn workers(input: &OpInput) -> Workers {
    input
        .workers
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
}

/// Calls `actor`, mapping a crashed or stopped worker to [`EngineError::WorkerStopped`].
pub(crate) async fn call<M: ractor::Message, T: Send + 'static>(
    actor: &ActorRef<M>,
    what: &'static str,
    build: impl FnOnce(RpcReplyPort<T>) -> M,
) -> Result<T, EngineError> {
    match actor.call(build, None).await {
        Ok(CallResult::Success(t)) => Ok(t),
        _ => Err(EngineError::worker(
            what,
            "stopped while serving the request",
        )),
    }
}

/// Runs `fut` unless `cancel` fires first.
async fn cancellable<T>(
    cancel: &CancellationToken,
    fut: impl Future<Output = Result<T, EngineError>>,
) -> Result<T, EngineError> {
    tokio::select! {
        r = fut => r,
        () = cancel.cancelled() => Err(EngineError::Cancelled),
    }
}

/// The signed custom metadata of the installed version's archive, if the repository lists one.
fn installed_archive<'a>(
    view: &'a RepoView,
    app: &str,
    current: &Version,
) -> Option<&'a ArchiveCustom> {
    view.targets
        .iter()
        .filter(|t| {
            t.name.app() == app && t.name.suffix().is_archive() && t.name.version() == current
        })
        .find_map(|t| match &t.custom {
            TargetCustom::Archive(a) if a.tar.is_some() => Some(a),
            _ => None,
        })
}

/// The publisher's reason for yanking the installed version, if it is yanked with one.
fn yank_reason(view: &RepoView, app: &str, current: &Version) -> Option<String> {
    view.targets
        .iter()
        .filter(|t| {
            t.name.app() == app && t.name.suffix().is_archive() && t.name.version() == current
        })
        .find_map(|t| match &t.custom {
            TargetCustom::Archive(a) => a.control.yanked.as_ref()?.reason.clone(),
            TargetCustom::Patch(_) => None,
        })
}

/// The signed tar digest of the installed version's archive, if the repository has one.
pub fn installed_tar(view: &RepoView, app: &str, current: &Version) -> Option<TarDigest> {
    installed_archive(view, app, current).and_then(|a| a.tar)
}

/// What the planner knows of this install beside its version: its rollout bucket (drawn once,
/// [`super::bucket`]), now, and the administrator's deferral.
fn audience(config: &EngineConfig) -> Audience {
    Audience {
        bucket: super::bucket::load_or_draw(&config.data_dir),
        now_unix: tufd_core::now_unix(),
        defer_secs: config
            .admin
            .defer_days
            .map_or(0, |days| u64::from(days) * 86_400),
    }
}

/// Plans from `view`: the cache holds a base when `cache/<app>-<current>.tar` exists with the
/// signed size (its hash is checked before use by the patcher).
pub fn plan_for(
    config: &EngineConfig,
    current: &Version,
    view: &RepoView,
    failed_patches: &BTreeSet<String>,
) -> Plan {
    let cached = config.layout().base_tar(&config.app_name, current);
    let base = match (
        std::fs::metadata(&cached),
        installed_tar(view, &config.app_name, current),
    ) {
        (Ok(meta), Some(signed)) if meta.len() == signed.size_bytes => BaseTar::Cached,
        (Ok(meta), None) if meta.is_file() => BaseTar::Cached,
        _ => BaseTar::Missing,
    };
    // Versions that failed their health check are never offered again (docs/protocol.md,
    // "Health check and rollback").
    let bad = tufd_install::health::HealthFile::load(&tufd_install::health::HealthFile::path(
        &config.data_dir,
    ))
    .bad;
    let mut targets = tufd_install::health::skip_bad(&view.targets, &bad);
    // An administrator's pin: versions outside it are never offered (patches included: a
    // chain cannot lead through a version the plan may not reach).
    if let Some(pin) = &config.admin.pin {
        targets.retain(|t| pin.allows(t.name.version()) || t.name.version() == current);
    }
    plan(&PlanInput {
        app_name: &config.app_name,
        installed: current,
        channel: config.channel,
        targets: &targets,
        base,
        failed_patches,
        policy: &config.policy,
        audience: audience(config),
    })
}

/// Verifies the tufup client's cached archive of `current` in `dir` and makes it the base tar
/// (`tufup_cache::adopt`, on a blocking thread); whether it did. When it did not, the reason is
/// logged (field `tufup_cache`: `"absent"` at info level when there is no such file, else
/// `"refused"` as a warning) and the plan stays as it was.
async fn take_over_tufup_cache(
    config: &EngineConfig,
    dir: &std::path::Path,
    current: &Version,
    view: &RepoView,
) -> bool {
    let (layout, dir, app, current, view) = (
        config.layout(),
        dir.to_path_buf(),
        config.app_name.clone(),
        current.clone(),
        view.clone(),
    );
    let adopted = tokio::task::spawn_blocking(move || {
        tufup_cache::adopt(&layout, &dir, &app, &current, &view)
    })
    .await;
    match adopted {
        Ok(Ok(_)) => true,
        Ok(Err(e @ tufup_cache::AdoptError::NotCached { .. })) => {
            // A fresh install has no tufup folder: nothing to warn about.
            tracing::info!(tufup_cache = "absent", reason = %e, "no tufup cache to take over");
            false
        }
        Ok(Err(e)) => {
            tracing::warn!(tufup_cache = "refused", reason = %e, "the tufup client's cached archive is not used as the patch base");
            false
        }
        Err(e) => {
            tracing::warn!(tufup_cache = "refused", reason = %e, "taking over the tufup client's cache failed");
            false
        }
    }
}

/// Whether an operation toward `goal` starts with a check: always for `check`; otherwise only
/// when neither a staged update (`staged_ready`) nor a recent check that found one
/// (`check_ready`) lets it go on from where the engine stands.
pub fn needs_check(goal: Goal, staged_ready: bool, check_ready: bool) -> bool {
    goal == Goal::Check || !(staged_ready || check_ready)
}

/// Whether the staged update (its version) is installed as it is instead of downloading again:
/// yes when no check ran since, or the check still plans that same version.
pub fn reuses_staged(staged: Option<&Version>, checked_latest: Option<&Version>) -> bool {
    match (staged, checked_latest) {
        (Some(staged), Some(latest)) => staged == latest,
        (Some(_), None) => true,
        (None, _) => false,
    }
}

/// Runs one operation to its goal; the error, if any, is returned beside what was achieved.
pub async fn run(input: OpInput) -> (OpOutput, Result<(), EngineError>) {
    let mut out = OpOutput::default();
    let result = run_inner(&input, &mut out).await;
    (out, result)
}

async fn run_inner(input: &OpInput, out: &mut OpOutput) -> Result<(), EngineError> {
    let advance = &input.advance;
    let staged_ready = input.start_phase == Phase::Staged && input.staged.is_some();
    let check_ready = input.start_phase == Phase::Available && input.recent_check.is_some();
    let need_check = needs_check(input.goal, staged_ready, check_ready);
    if input.config.admin.disabled {
        // The administrator's policy: the server is not contacted at all.
        let reason = input.config.admin.describe().unwrap_or_default();
        advance(Input::CheckStarted);
        out.checked = Some(Checked {
            plan: Plan::UpToDate,
            report: CheckReport {
                managed: Some(reason.clone()),
                ..check_report(&input.current, &Plan::UpToDate)
            },
            latest: input.current.clone(),
            view: RepoView {
                targets: Vec::new(),
                files: Default::default(),
                consistent_snapshot: false,
            },
            at: std::time::Instant::now(),
        });
        advance(Input::UpToDate);
        return if input.goal == Goal::Check {
            Ok(())
        } else {
            Err(EngineError::Managed { reason })
        };
    }
    if !need_check && check_ready {
        out.checked = input.recent_check.clone();
    }
    if need_check {
        advance(Input::CheckStarted);
        let metadata = workers(input).metadata;
        let view = cancellable(&input.cancel, async {
            call(&metadata, "metadata", MetadataMsg::Refresh).await?
        })
        .await?;
        let mut plan = plan_for(&input.config, &input.current, &view, &input.failed_patches);
        if let Some(dir) = &input.config.tufup_cache
            && tufup_cache::wants_base(&plan)
            && take_over_tufup_cache(&input.config, dir, &input.current, &view).await
        {
            plan = plan_for(&input.config, &input.current, &view, &input.failed_patches);
        }
        let mut report = CheckReport {
            managed: input.config.admin.describe(),
            ..check_report(&input.current, &plan)
        };
        if let Some(downgrade) = &mut report.downgrade {
            downgrade.reason = yank_reason(&view, &input.config.app_name, &input.current);
        }
        tracing::info!(current = %report.current, latest = %report.latest, plan = ?report.plan, "checked");
        out.checked = Some(Checked {
            plan: plan.clone(),
            report: report.clone(),
            latest: match &plan {
                Plan::Patches { to, .. } | Plan::Full { to, .. } => to.clone(),
                Plan::UpToDate => input.current.clone(),
            },
            view,
            at: std::time::Instant::now(),
        });
        if plan == Plan::UpToDate {
            advance(Input::UpToDate);
            return if input.goal == Goal::Check {
                Ok(())
            } else {
                Err(EngineError::NoUpdate {
                    current: input.current.clone(),
                })
            };
        }
        advance(Input::UpdateFound);
        (input.emit)(Event::update_available(&report));
        if input.goal == Goal::Check {
            return Ok(());
        }
    }

    if let Some(gate) = &input.policy
        && !policy_allows(input, gate, out).await
    {
        return Ok(());
    }

    let reuse = reuses_staged(
        input.staged.as_ref().map(|s| &s.version),
        out.checked.as_ref().map(|c| &c.latest),
    );
    if reuse {
        if !staged_ready {
            advance(Input::DownloadStarted);
            advance(Input::Downloaded);
            advance(Input::Staged);
        }
        out.staged = input.staged.clone();
    } else {
        let checked = out
            .checked
            .clone()
            .ok_or_else(|| EngineError::Invariant("download without a check before it"))?;
        preflight(input, &checked.plan).await?;
        advance(Input::DownloadStarted);
        out.staged = Some(download_and_stage(input, &checked, out).await?);
        advance(Input::Staged);
    }
    if input.goal == Goal::Download {
        return Ok(());
    }

    let staged = out.staged.clone().expect("staged above");
    advance(Input::InstallStarted);
    let config = &input.config;
    let job = InstallJob {
        layout: config.layout(),
        install_dir: config.install_dir.clone(),
        placement: staged.placement.clone(),
        from: input.current.clone(),
        to: staged.version.clone(),
        app_pid: config.app_pid,
        relaunch: config.relaunch.clone(),
        app_name: config.app_name.clone(),
    };
    // Never cancelled: the plan runs to its end or rolls back itself.
    let installer = workers(input).installer;
    let relaunched = match call(&installer, "install", |reply| InstallMsg::Install {
        job,
        reply,
    })
    .await??
    {
        InstallRun::Ran { relaunched } => relaunched,
        InstallRun::HandedOff { .. } => {
            // The copy installs once this daemon has exited; the state stays `installing`.
            out.handed_off = Some(staged.version.clone());
            return Ok(());
        }
    };
    out.staged = None;
    // Commit, trial or health rollback; the commit's cleanup removes the old base tar.
    let after = call(&installer, "install", |reply| InstallMsg::AfterInstall {
        from: input.current.clone(),
        to: staged.version.clone(),
        backup: staged.placement.backup.clone(),
        reply,
    })
    .await?;
    match after {
        AfterInstall::Committed | AfterInstall::Pending(_) => {
            out.installed = Some((staged.version.clone(), relaunched));
            advance(Input::Installed);
            Ok(())
        }
        AfterInstall::RolledBack { restored, reason } => {
            out.installed = Some((restored.clone(), true));
            advance(Input::RolledBack);
            Err(EngineError::RolledBack {
                from: staged.version.clone(),
                to: restored,
                reason,
            })
        }
        AfterInstall::RollbackFailed(e) => {
            out.installed = Some((staged.version.clone(), relaunched));
            advance(Input::Installed);
            Err(e.into())
        }
    }
}

/// Pre-flight checks before the first byte is downloaded (docs/architecture.md, "One update,
/// step by step", step 4): writable folders, free space for the plan, no install in progress.
async fn preflight(input: &OpInput, plan: &Plan) -> Result<(), EngineError> {
    let need = tufd_install::preflight::need_for(plan);
    let layout = input.config.layout();
    let install_dir = input.config.install_dir.clone();
    tokio::task::spawn_blocking(move || tufd_install::preflight::run(&layout, &install_dir, &need))
        .await
        .map_err(|e| EngineError::worker("pre-flight", e))?
        .map_err(EngineError::from)
}

/// Whether the update policy lets this automatic install go ahead now; records the answer in
/// `out.decision`.
async fn policy_allows(input: &OpInput, gate: &PolicyInput, out: &mut OpOutput) -> bool {
    let (version, required) = match (&out.checked, &input.staged) {
        (Some(checked), _) => {
            let archive = match &checked.plan {
                Plan::Patches { archive, .. } | Plan::Full { archive, .. } => Some(archive),
                Plan::UpToDate => None,
            };
            let required = archive.is_some_and(|a| match &a.custom {
                TargetCustom::Archive(c) => c.required,
                TargetCustom::Patch(_) => false,
            });
            (checked.latest.clone(), required)
        }
        (None, Some(staged)) => (staged.version.clone(), false),
        (None, None) => return true,
    };
    let now = tufd_core::now_unix();
    match policy::gate(&version, now, &gate.skipped, gate.deferred.as_ref()) {
        Gate::Skipped => {
            tracing::info!(%version, "update skipped by the hook's policy; not installing automatically");
            return false;
        }
        Gate::Deferred(until) => {
            tracing::info!(%version, until, "update deferred by the hook's policy");
            return false;
        }
        Gate::Ask => {}
    }
    let info = UpdateInfo {
        app_name: gate.app_name.clone(),
        installed_version: input.current.clone(),
        new_version: version.clone(),
        required,
        now_unix_seconds: now,
        utc_offset_seconds: policy::utc_offset_seconds(),
        settings: gate.settings.clone(),
    };
    match policy::ask(Arc::clone(&gate.source), info).await {
        None | Some(Decision::InstallNow) => true,
        Some(decision) => {
            out.decision = Some((version, decision));
            false
        }
    }
}

/// Downloads one trusted target into `downloads/`, verified against its signed length and hash.
async fn fetch(input: &OpInput, view: &RepoView, name: &str) -> Result<PathBuf, EngineError> {
    let file = view
        .files
        .get(name)
        .ok_or_else(|| TrustedStoreError::UnknownTarget {
            target: name.to_owned(),
        })?;
    let request = DownloadRequest {
        url: view.target_url(&input.config.targets_url, name)?,
        dir: input.config.layout().downloads(),
        // A platform's target `<platform>/<name>` downloads as `<name>`: a client considers
        // one platform's targets only, so base names do not collide.
        file_name: name.rsplit('/').next().unwrap_or(name).to_owned(),
        length: file.length,
        digest: file.digest,
        chunk_bytes: tufd_net::download::ENGINE_CHUNK_BYTES,
        checkpoint_interval: tufd_net::download::DEFAULT_CHECKPOINT_INTERVAL,
    };
    let events = input.emit.clone();
    let target = name.to_owned();
    let last = std::sync::atomic::AtomicU64::new(u64::MAX);
    let progress: crate::workers::download::ProgressFn =
        Arc::new(move |done_bytes, total_bytes| {
            // The downloader reports every write; forward at most ~100 events per target.
            use std::sync::atomic::Ordering;
            let step = PROGRESS_STEP_BYTES.max(total_bytes / 100);
            let previous = last.load(Ordering::Relaxed);
            let due = previous == u64::MAX
                || done_bytes == total_bytes
                || done_bytes >= previous.saturating_add(step);
            if !due || previous == done_bytes {
                return;
            }
            last.store(done_bytes, Ordering::Relaxed);
            events(Event::Progress {
                target: target.clone(),
                done_bytes,
                total_bytes,
            });
        });
    let cancel = input.cancel.clone();
    let fetcher = workers(input).fetcher;
    tracing::info!(target = name, bytes = file.length, url = %request.url, "downloading");
    let path = call(&fetcher, "download", |reply| DownloadMsg::Download {
        request,
        progress,
        cancel,
        reply,
    })
    .await?
    .map_err(|e| EngineError::download(name, e))?;
    Ok(path)
}

async fn build(input: &OpInput, job: BuildJob) -> Result<Result<PathBuf, BuildError>, EngineError> {
    let patcher = workers(input).patcher;
    cancellable(&input.cancel, async {
        call(&patcher, "patch", |reply| PatchMsg::Build { job, reply }).await
    })
    .await
}

/// Tracks whether `Downloaded` was reported, so a fallback to the archive reports it once.
struct Phases<'a> {
    input: &'a OpInput,
    downloaded: bool,
}

impl Phases<'_> {
    fn downloaded(&mut self) {
        if !self.downloaded {
            (self.input.advance)(Input::Downloaded);
            self.downloaded = true;
        }
    }
}

async fn download_and_stage(
    input: &OpInput,
    checked: &Checked,
    out: &mut OpOutput,
) -> Result<StagedUpdate, EngineError> {
    let config = &input.config;
    let layout = config.layout();
    let mut phases = Phases {
        input,
        downloaded: false,
    };
    let mut used_files = Vec::new();
    let (to, archive) = match &checked.plan {
        Plan::UpToDate => {
            return Err(EngineError::NoUpdate {
                current: input.current.clone(),
            });
        }
        Plan::Patches { to, archive, .. } | Plan::Full { to, archive, .. } => (to, archive),
    };

    let mut tar = None;
    if let Plan::Patches { patches, .. } = &checked.plan {
        tar = try_patches(
            input,
            checked,
            patches,
            to,
            out,
            &mut phases,
            &mut used_files,
        )
        .await?;
        if tar.is_none()
            && let Some(reason) = out.plan_changed.take()
        {
            (input.emit)(Event::PlanChanged {
                full: archive.name.as_str().to_owned(),
                bytes: archive.length,
                reason,
            });
        }
    }
    let name = archive.name.as_str();
    let signed_digest = checked
        .view
        .files
        .get(name)
        .map(|f| f.digest.to_string())
        .unwrap_or_default();
    let tar = match tar {
        Some(tar) => tar,
        None => {
            if let Some(refused) = input.refused_archives.get(name)
                && refused.digest == signed_digest
            {
                tracing::warn!(target = name, reason = %refused.reason, "this archive was refused before and the metadata still signs the same bytes: not downloading it again");
                return Err(EngineError::RefusedBefore {
                    target: name.to_owned(),
                    kind: refused.kind,
                    reason: refused.reason.clone(),
                });
            }
            let file = fetch(input, &checked.view, archive.name.as_str()).await?;
            used_files.push(file.clone());
            phases.downloaded();
            let signed = match &archive.custom {
                TargetCustom::Archive(a) => a.tar,
                TargetCustom::Patch(_) => None,
            };
            let job = BuildJob::Archive {
                layout: layout.clone(),
                name: archive.name.as_str().to_owned(),
                file,
                tar: signed,
                app: config.app_name.clone(),
                to: to.clone(),
            };
            match build(input, job).await? {
                Ok(tar) => tar,
                Err(e) => {
                    let e = EngineError::from(e);
                    if matches!(
                        &e,
                        EngineError::Build(tufd_install::build::BuildError::ArchiveFailed { .. })
                    ) {
                        out.refused = Some(refusal(name, &signed_digest, &e));
                    }
                    return Err(e);
                }
            }
        }
    };

    let placement = install::placement(
        &layout,
        &config.install_dir,
        &config.app_name,
        &input.current,
        to,
    );
    let installer = workers(input).installer;
    let staging = placement.staging.clone();
    let staged = cancellable(&input.cancel, async {
        call(&installer, "install", |reply| InstallMsg::Stage {
            tar,
            staging,
            reply,
        })
        .await?
    })
    .await;
    if let Err(e) = &staged
        && matches!(e, EngineError::Install(InstallError::Extract { .. }))
        && !signed_digest.is_empty()
    {
        out.refused = Some(refusal(name, &signed_digest, e));
    }
    staged?;
    for file in used_files {
        let _ = std::fs::remove_file(file);
    }
    Ok(StagedUpdate {
        version: to.clone(),
        placement,
    })
}

/// What to remember of an archive refused with `error`.
fn refusal(name: &str, digest: &str, error: &EngineError) -> (String, RefusedArchive) {
    (
        name.to_owned(),
        RefusedArchive {
            digest: digest.to_owned(),
            kind: error.kind(),
            reason: crate::error::report(error),
        },
    )
}

/// Downloads and applies the patch chain; `Ok(None)` means "use the full archive" (a patch
/// was rejected or failed, which is recorded, or the base tar is unavailable).
#[allow(clippy::too_many_arguments)]
async fn try_patches(
    input: &OpInput,
    checked: &Checked,
    patches: &[TargetInfo],
    to: &Version,
    out: &mut OpOutput,
    phases: &mut Phases<'_>,
    used_files: &mut Vec<PathBuf>,
) -> Result<Option<PathBuf>, EngineError> {
    let config = &input.config;
    let base = BaseSource {
        app: config.app_name.clone(),
        installed: input.current.clone(),
        install_dir: config.install_dir.clone(),
        signed: installed_tar(&checked.view, &config.app_name, &input.current),
        signed_modes: installed_archive(&checked.view, &config.app_name, &input.current)
            .and_then(|a| a.modes.clone()),
        exclude: tufd_core::install_plan::native::kept_paths(&config.hook_settings),
    };
    // Secure the base tar before any patch byte is fetched: when the install folder no longer
    // rebuilds to the signed tar (a file added by the app, say), the patches would be wasted.
    let (layout, probe) = (config.layout(), base.clone());
    let secured =
        tokio::task::spawn_blocking(move || tufd_install::build::base_tar(&layout, &probe))
            .await
            .map_err(|e| EngineError::worker("supervisor", format!("base tar task failed: {e}")))?;
    if let Err(e) = secured {
        return match fallback::after_base_tar(&e) {
            Fallback::Archive { .. } => {
                tracing::warn!(error = %e, "no base tar; using the full archive without fetching patches");
                out.plan_changed = Some(format!(
                    "the install folder of {} does not rebuild to its signed tar ({})",
                    input.current,
                    crate::error::report(&e)
                ));
                Ok(None)
            }
            Fallback::Stop => Err(e.into()),
        };
    }
    let mut steps = Vec::new();
    for patch in patches {
        let name = patch.name.as_str();
        let TargetCustom::Patch(custom) = &patch.custom else {
            return Err(EngineError::Invariant(
                "a planned patch has archive metadata",
            ));
        };
        let Some(tar) = custom.tar else {
            return Err(EngineError::Invariant(
                "a planned patch has no signed tar digest",
            ));
        };
        match fetch(input, &checked.view, name).await {
            Ok(file) => {
                used_files.push(file.clone());
                steps.push(PatchStep {
                    name: name.to_owned(),
                    file,
                    codec: custom.codec,
                    tar,
                });
            }
            Err(e) => {
                return match fallback::after_patch_download(name, &e) {
                    Fallback::Archive { failed_patch } => {
                        tracing::warn!(patch = name, error = %e, "patch rejected; falling back to the full archive");
                        out.plan_changed = Some(format!(
                            "patch {name} was refused ({})",
                            crate::error::report(&e)
                        ));
                        out.failed_patches.extend(failed_patch);
                        Ok(None)
                    }
                    Fallback::Stop => Err(e),
                };
            }
        }
    }
    phases.downloaded();
    let job = BuildJob::Patches {
        layout: config.layout(),
        base,
        steps,
        app: config.app_name.clone(),
        to: to.clone(),
    };
    match build(input, job).await? {
        Ok(tar) => Ok(Some(tar)),
        Err(e) => match fallback::after_patch_build(&e) {
            Fallback::Archive { failed_patch } => {
                tracing::warn!(error = %e, "patch chain failed; falling back to the full archive");
                out.plan_changed = Some(format!(
                    "the patch chain failed ({})",
                    crate::error::report(&e)
                ));
                out.failed_patches.extend(failed_patch);
                Ok(None)
            }
            Fallback::Stop => Err(e.into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_check_always_checks_and_the_next_step_goes_on_from_where_it_stands() {
        assert!(needs_check(Goal::Check, true, true));
        assert!(
            !needs_check(Goal::Install, true, false),
            "staged: install it"
        );
        assert!(
            !needs_check(Goal::Download, false, true),
            "recent check: download"
        );
        assert!(needs_check(Goal::Install, false, false));
    }

    #[test]
    fn a_staged_update_is_reused_unless_a_newer_check_plans_another_version() {
        let (two, three): (Version, Version) = ("2.0".parse().unwrap(), "3.0".parse().unwrap());
        assert!(reuses_staged(Some(&two), None));
        assert!(reuses_staged(Some(&two), Some(&two)));
        assert!(!reuses_staged(Some(&two), Some(&three)));
        assert!(!reuses_staged(None, Some(&two)));
    }
}
