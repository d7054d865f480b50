//! Where install plans and update decisions come from: the configured WASM hook
//! (`tufd-hook-host`) or the built-in native plan (docs/hooks.md).
//!
//! One [`PlanSource`] lives for the daemon's lifetime and is shared by the engine's install worker
//! and its supervisor. It loads the hook lazily (a hook that does not load fails the install that
//! needs it, not the daemon) and keeps one [`HookHost`], which re-reads the `.wasm` file at every
//! call whose size or modification time changed, so a hook replaced on disk is used by the next
//! install without a restart. A hook failure (load, time limit, memory limit, trap, refusal, bad
//! plan) is an `install-failed` error carrying the [`HookError`] text; the native plan is used
//! instead only with `hook-fallback = "native"`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tufd_core::install_plan::{
    self, CheckedPlan, Command, Decision, InstallContext, PlanLimits, PlanPath, Program, Root,
    UpdateInfo, check_plan,
};
use tufd_hook_host::{HookError, HookHost};

use crate::error::InstallError;
use crate::settings::{HookConfig, InstallSettings};

/// The plan and policy provider (see the module doc).
#[derive(Debug)]
pub struct PlanSource {
    hook: Option<HookSlot>,
    limits: PlanLimits,
    settings: Vec<(String, String)>,
}

#[derive(Debug)]
struct HookSlot {
    config: HookConfig,
    cache_dir: PathBuf,
    /// Built at the first successful load; the host reloads a changed file itself.
    host: Mutex<Option<Arc<HookHost>>>,
}

impl PlanSource {
    /// The source for `config`: its hook (not loaded yet), allowed programs (plus an absolute
    /// relaunch program) and settings.
    pub fn new(config: &InstallSettings) -> Self {
        let mut allowed = config.allowed_programs.clone();
        if let Some(program) = config.relaunch.as_ref().and_then(|c| c.first()) {
            if Path::new(program).is_absolute() {
                allowed.push(program.clone());
            } else if !program.contains('/')
                && let Some(abs) = find_in_path(program)
            {
                // A relaunch like `python3 app.py` that the staged version does not ship.
                allowed.push(abs.to_string_lossy().into_owned());
            }
        }
        PlanSource {
            hook: config.hook.clone().map(|hook| HookSlot {
                config: hook,
                cache_dir: config.layout().hook_cache(),
                host: Mutex::new(None),
            }),
            limits: PlanLimits {
                allowed_programs: allowed,
                ..PlanLimits::default()
            },
            settings: config.hook_settings.clone(),
        }
    }

    /// The built-in native plan only (tests, one-shot tools).
    pub fn native() -> Self {
        PlanSource {
            hook: None,
            limits: PlanLimits::default(),
            settings: Vec::new(),
        }
    }

    /// Whether a hook is configured.
    pub fn has_hook(&self) -> bool {
        self.hook.is_some()
    }

    /// The settings handed to the hook.
    pub fn settings(&self) -> &[(String, String)] {
        &self.settings
    }

    /// Loads the hook now, so a broken one shows in the log at start-up; the error is also
    /// returned (the daemon keeps running: the install fails later with the same error).
    /// Blocking (compiles the component, about 60 ms, or loads it from the cache).
    ///
    /// # Errors
    /// The [`HookError`] of the load.
    pub fn preload(&self) -> Result<(), HookError> {
        match &self.hook {
            Some(slot) => slot.host(&self.limits).map(|_| ()),
            None => Ok(()),
        }
    }

    /// The checked plan for `ctx`: the hook's, or the native plan. Blocking (a hook call
    /// takes at most its time limit, plus a reload when the file changed).
    ///
    /// # Errors
    /// [`InstallError::Hook`] with the hook's error ([`InstallError::PlanRefused`] for the native
    /// plan with a refused relaunch program).
    pub fn plan(&self, ctx: &InstallContext) -> Result<CheckedPlan, InstallError> {
        let Some(slot) = &self.hook else {
            return self.native_plan(ctx);
        };
        let answer = slot
            .host(&self.limits)
            .and_then(|host| host.plan_install(ctx));
        match answer {
            Ok(plan) => Ok(plan),
            Err(e) if slot.config.fallback_native => {
                tracing::warn!(error = %e, "install hook failed; using the built-in plan (hook-fallback = native)");
                self.native_plan(ctx)
            }
            Err(source) => Err(InstallError::Hook {
                source: Box::new(source),
            }),
        }
    }

    /// The hook's update policy for `info`; `None` without a hook. Blocking.
    ///
    /// # Errors
    /// The [`HookError`] of the load or call.
    pub fn decide(&self, info: &UpdateInfo) -> Option<Result<Decision, HookError>> {
        let slot = self.hook.as_ref()?;
        Some(
            slot.host(&self.limits)
                .and_then(|host| host.on_update_available(info)),
        )
    }

    fn native_plan(&self, ctx: &InstallContext) -> Result<CheckedPlan, InstallError> {
        check_plan(&install_plan::native_plan(ctx), &self.limits).map_err(|source| {
            InstallError::PlanRefused {
                source: Box::new(source),
            }
        })
    }
}

impl HookSlot {
    fn host(&self, limits: &PlanLimits) -> Result<Arc<HookHost>, HookError> {
        let mut guard = self.host.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(host) = guard.as_ref() {
            return Ok(Arc::clone(host));
        }
        let host = Arc::new(
            HookHost::builder()
                .timeout(self.config.timeout)
                .memory_limit_bytes(self.config.memory_limit_bytes)
                .cache_dir(&self.cache_dir)
                .plan_limits(limits.clone())
                .build(&self.config.path)?,
        );
        *guard = Some(Arc::clone(&host));
        Ok(host)
    }
}

/// The relaunch command of the configuration as a plan command: an absolute program is a
/// system program (allowed by [`PlanSource::new`]); a relative one is inside the install
/// folder when the staged version has it, else found through `PATH` (as before hooks).
pub fn relaunch_command(command: &[String], staging: &Path) -> Option<Command> {
    let (program, args) = command.split_first()?;
    let program = if Path::new(program).is_absolute() {
        Program::System(program.clone())
    } else if staging.join(program).exists() || program.contains('/') {
        Program::InRoot(PlanPath::new(Root::Install, program.clone()))
    } else {
        match find_in_path(program) {
            Some(abs) => Program::System(abs.to_string_lossy().into_owned()),
            None => Program::InRoot(PlanPath::new(Root::Install, program.clone())),
        }
    };
    Some(Command {
        program,
        args: args.to_vec(),
    })
}

fn find_in_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relaunch_program_kinds() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("bin")).unwrap();
        std::fs::write(dir.path().join("bin/app"), "").unwrap();
        let c = relaunch_command(&["bin/app".into(), "--x".into()], dir.path()).unwrap();
        assert_eq!(
            c.program,
            Program::InRoot(PlanPath::new(Root::Install, "bin/app"))
        );
        assert_eq!(c.args, ["--x"]);
        let c = relaunch_command(&["/usr/bin/env".into()], dir.path()).unwrap();
        assert_eq!(c.program, Program::System("/usr/bin/env".into()));
        let c = relaunch_command(&["sh".into()], dir.path()).unwrap();
        assert!(matches!(c.program, Program::System(ref p) if p.ends_with("/sh")));
        assert!(relaunch_command(&[], dir.path()).is_none());
    }
}
