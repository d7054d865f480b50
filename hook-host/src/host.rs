//! [`HookHost`]: one hook file, loaded and checked once, reloaded when the file changes, and
//! called with a fresh store per call under a time limit (epoch deadline) and a memory limit
//! (docs/hooks.md, "Host side (for tufd developers)" and "What a hook can and cannot do").
//!
//! Calls are synchronous and CPU-bound: async callers run them in `spawn_blocking`. A
//! `HookHost` is `Send + Sync`; concurrent calls each get their own store.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tufd_core::install_plan::{
    CheckedPlan, Decision, InstallContext, PlanLimits, UpdateInfo, check_plan,
};
use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config, Engine, Store};

use crate::bindings::{InstallHook, InstallHookPre};
use crate::convert;
use crate::error::{HookError, Result};
use crate::load::{self, FileStamp, LoadReport};
use crate::state::HostState;
use crate::ticker::{self, EpochTicker};

/// Default time limit of one call: 2 seconds.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
/// Default memory limit of one call: 64 MiB of linear memory.
pub const DEFAULT_MEMORY_LIMIT_BYTES: usize = 64 * 1024 * 1024;

/// Longest refusal message kept from a hook, in bytes: 4 KiB.
const MAX_MESSAGE_BYTES: usize = 4096;

/// `text` cut to at most `max` bytes at a character boundary.
pub(crate) fn truncate(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

/// Configures a [`HookHost`].
#[derive(Clone, Debug)]
pub struct HookHostBuilder {
    timeout: Duration,
    memory_limit_bytes: usize,
    cache_dir: Option<PathBuf>,
    plan_limits: PlanLimits,
}

impl Default for HookHostBuilder {
    fn default() -> Self {
        HookHostBuilder {
            timeout: DEFAULT_TIMEOUT,
            memory_limit_bytes: DEFAULT_MEMORY_LIMIT_BYTES,
            cache_dir: None,
            plan_limits: PlanLimits::default(),
        }
    }
}

impl HookHostBuilder {
    /// The defaults: 2 s, 64 MiB, no cache, default plan limits.
    pub fn new() -> Self {
        Self::default()
    }

    /// Time limit of one call (instantiation included), wall clock; default 2 s. Precision
    /// is about 10 ms.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Largest size of each linear memory of the hook, in bytes; default 64 MiB.
    pub fn memory_limit_bytes(mut self, bytes: usize) -> Self {
        self.memory_limit_bytes = bytes;
        self
    }

    /// Folder for precompiled hooks (`<sha256>-<engine hash>.cwasm`), created if missing;
    /// default none (compile at every load, about 60 ms per hook).
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = Some(dir.into());
        self
    }

    /// Limits the returned plans are checked against (allowed programs and so on).
    pub fn plan_limits(mut self, limits: PlanLimits) -> Self {
        self.plan_limits = limits;
        self
    }

    /// Sets up the engine and loads the hook at `path` now, so that a bad hook fails at
    /// start-up rather than at the first install.
    ///
    /// # Errors
    /// [`HookError::Read`] if the file cannot be read, [`HookError::Load`] if it is not a
    /// component of this interface, [`HookError::ForbiddenImport`] if it imports more than
    /// hooks may, [`HookError::Engine`] if wasmtime cannot start.
    pub fn build(self, path: impl Into<PathBuf>) -> Result<HookHost> {
        let path = path.into();
        let engine_error = |e: wasmtime::Error| HookError::Engine {
            reason: format!("{e:#}"),
        };
        let mut config = Config::new();
        config.epoch_interruption(true);
        config.wasm_component_model(true);
        let engine = Engine::new(&config).map_err(engine_error)?;

        let mut linker: Linker<HostState> = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(engine_error)?;
        InstallHook::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)
            .map_err(engine_error)?;

        let ticker = EpochTicker::start(engine.clone()).map_err(|e| HookError::Engine {
            reason: format!("cannot start the epoch thread: {e}"),
        })?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        let mut host = HookHost {
            engine,
            linker,
            path,
            name,
            config: self,
            ticker,
            loaded: Mutex::new(None),
        };
        host.loaded = Mutex::new(Some(Arc::new(host.load()?)));
        Ok(host)
    }
}

/// A loaded hook and where it came from.
struct Loaded {
    pre: InstallHookPre<HostState>,
    stamp: FileStamp,
    report: LoadReport,
}

/// One install hook, ready to call. Dropping it stops its epoch thread.
pub struct HookHost {
    engine: Engine,
    linker: Linker<HostState>,
    path: PathBuf,
    name: String,
    config: HookHostBuilder,
    ticker: EpochTicker,
    /// The current version of the hook; replaced when the file changes on disk.
    loaded: Mutex<Option<Arc<Loaded>>>,
}

impl std::fmt::Debug for HookHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HookHost")
            .field("path", &self.path)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl HookHost {
    /// A builder with the defaults (2 s, 64 MiB, no cache).
    pub fn builder() -> HookHostBuilder {
        HookHostBuilder::new()
    }

    /// The hook file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What the last (re)load did: compiled or cached, how long it took, the file's sha256.
    pub fn load_report(&self) -> Option<LoadReport> {
        self.lock().as_ref().map(|l| l.report.clone())
    }

    /// Asks the hook for the install plan of `ctx` and checks it. Reloads the hook first if
    /// the file changed on disk. Blocking, at most the configured timeout (plus a reload).
    ///
    /// # Errors
    /// [`HookError::Timeout`], [`HookError::OutOfMemory`], [`HookError::Trap`] when the guest
    /// fails; [`HookError::HookRefused`] when it answers an error; [`HookError::BadPlan`]
    /// when the plan fails [`check_plan`]; the load errors of [`HookHostBuilder::build`]
    /// when a changed file does not load.
    pub fn plan_install(&self, ctx: &InstallContext) -> Result<CheckedPlan> {
        let wit_ctx = convert::context_out(ctx);
        let answer = self.call(|store, hook| hook.call_plan_install(store, &wit_ctx))?;
        let steps = answer.map_err(|message| HookError::HookRefused {
            hook: self.name.clone(),
            message: truncate(message, MAX_MESSAGE_BYTES),
        })?;
        let steps: Vec<_> = steps.into_iter().map(convert::step_in).collect();
        check_plan(&steps, &self.config.plan_limits).map_err(|source| HookError::BadPlan {
            hook: self.name.clone(),
            source,
        })
    }

    /// Asks the hook's policy whether to install the update described by `info` now.
    ///
    /// # Errors
    /// As [`HookHost::plan_install`], without the plan errors.
    pub fn on_update_available(&self, info: &UpdateInfo) -> Result<Decision> {
        let wit_info = convert::info_out(info);
        let decision = self.call(|store, hook| hook.call_on_update_available(store, &wit_info))?;
        Ok(convert::decision_in(decision))
    }

    fn lock(&self) -> MutexGuard<'_, Option<Arc<Loaded>>> {
        // A panic while holding the lock leaves a valid `Option` behind; keep using it.
        self.loaded.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reads, compiles (or loads from the cache) and pre-links the hook file.
    fn load(&self) -> Result<Loaded> {
        let stamp = load::stamp(&self.path)?;
        let (bytes, sha256) = load::read_hashed(&self.path)?;
        self.load_bytes(&bytes, &sha256, stamp)
    }

    fn load_bytes(&self, bytes: &[u8], sha256: &str, stamp: FileStamp) -> Result<Loaded> {
        let (component, report) = load::load_component(
            &self.engine,
            &self.path,
            bytes,
            sha256,
            self.config.cache_dir.as_deref(),
        )?;
        let load_error = |e: wasmtime::Error| HookError::Load {
            path: self.path.clone(),
            reason: format!("{e:#}"),
        };
        let instance_pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(load_error)?;
        let pre = InstallHookPre::new(instance_pre).map_err(load_error)?;
        tracing::info!(
            hook = %self.path.display(),
            sha256 = %report.sha256,
            source = ?report.source,
            millis = report.duration.as_millis() as u64,
            "hook loaded"
        );
        Ok(Loaded { pre, stamp, report })
    }

    /// The current hook, reloaded if the file's size or modification time changed (and its
    /// bytes too: a touched but identical file is not recompiled).
    fn current(&self) -> Result<Arc<Loaded>> {
        let stamp = load::stamp(&self.path)?;
        let mut guard = self.lock();
        if let Some(loaded) = guard.as_ref().filter(|l| l.stamp == stamp) {
            return Ok(Arc::clone(loaded));
        }
        let (bytes, sha256) = load::read_hashed(&self.path)?;
        let reloaded = match guard.as_ref() {
            Some(old) if old.report.sha256 == sha256 => Loaded {
                pre: old.pre.clone(),
                stamp,
                report: old.report.clone(),
            },
            _ => self.load_bytes(&bytes, &sha256, stamp)?,
        };
        let reloaded = Arc::new(reloaded);
        *guard = Some(Arc::clone(&reloaded));
        Ok(reloaded)
    }

    /// Runs `f` on a fresh instance in a fresh store under the limits, and types the
    /// failure.
    fn call<R>(
        &self,
        f: impl FnOnce(&mut Store<HostState>, &InstallHook) -> wasmtime::Result<R>,
    ) -> Result<R> {
        let loaded = self.current()?;
        let mut store = Store::new(
            &self.engine,
            HostState::new(&self.name, self.config.memory_limit_bytes),
        );
        store.limiter(|state| &mut state.limiter);
        store.set_epoch_deadline(ticker::deadline_ticks(self.config.timeout));
        store.epoch_deadline_trap();

        let result = {
            let _ticking = self.ticker.activate();
            loaded
                .pre
                .instantiate(&mut store)
                .and_then(|hook| f(&mut store, &hook))
        };
        // Capped at STDIO_CAPTURE_BYTES by the pipes.
        let stderr = String::from_utf8_lossy(&store.data().stderr.contents()).into_owned();
        let stdout = String::from_utf8_lossy(&store.data().stdout.contents()).into_owned();
        if !stdout.trim().is_empty() {
            tracing::debug!(hook = %self.name, "hook stdout: {}", stdout.trim());
        }
        match result {
            Ok(value) => {
                if !stderr.trim().is_empty() {
                    tracing::debug!(hook = %self.name, "hook stderr: {}", stderr.trim());
                }
                Ok(value)
            }
            Err(error) => Err(self.classify(&error, store.data().limiter.refused, stderr)),
        }
    }

    /// Types a failed call from the trap code and the limiter's record, never from text.
    fn classify(&self, error: &wasmtime::Error, memory_refused: bool, stderr: String) -> HookError {
        let code = error.downcast_ref::<wasmtime::Trap>().copied();
        if code == Some(wasmtime::Trap::Interrupt) {
            return HookError::Timeout {
                hook: self.name.clone(),
                limit: self.config.timeout,
            };
        }
        if memory_refused {
            return HookError::OutOfMemory {
                hook: self.name.clone(),
                limit_bytes: self.config.memory_limit_bytes,
            };
        }
        HookError::Trap {
            hook: self.name.clone(),
            code,
            reason: format!("{error:#}"),
            stderr,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncate_keeps_char_boundaries() {
        assert_eq!(truncate("abc".to_owned(), 5), "abc");
        assert_eq!(truncate("abcdef".to_owned(), 3), "abc");
        // 'é' is two bytes: cutting inside it steps back.
        assert_eq!(truncate("aé".to_owned(), 2), "a");
    }
}
