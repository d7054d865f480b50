//! [`InstallSettings`]: what the install side needs to know of the app (a part of the engine's
//! validated configuration), and the WASM hook's settings ([`HookConfig`]).

use std::path::PathBuf;
use std::time::Duration;

use crate::health::HealthPolicy;
use crate::layout::DataLayout;

/// The app as the install side sees it: where it lives, how to wait for it and relaunch it,
/// how its plan is made and how a new version proves itself. Built by the engine from its
/// validated configuration; every path is absolute.
#[derive(Clone, Debug)]
pub struct InstallSettings {
    /// The app's name, as in its target names (`<app>-<version>.tar.gz`).
    pub app_name: String,
    /// The folder holding the installed app.
    pub install_dir: PathBuf,
    /// The daemon's data folder; see [`DataLayout`].
    pub data_dir: PathBuf,
    /// A process to wait for before swapping folders.
    pub app_pid: Option<u32>,
    /// Command run after an install (program and arguments); a relative program resolves
    /// inside the new install folder when such a file exists there.
    pub relaunch: Option<Vec<String>>,
    /// Programs outside the install folder a plan may run or relaunch (absolute paths).
    pub allowed_programs: Vec<String>,
    /// The WASM install hook and its limits; `None` uses the built-in native plan.
    pub hook: Option<HookConfig>,
    /// Settings handed to the hook (and to the native plan) as `settings`.
    pub hook_settings: Vec<(String, String)>,
    /// How a new version proves itself before it is committed.
    pub health: HealthPolicy,
    /// This daemon's own command line (without the program name), for the copy that finishes
    /// an install handed off because tufd runs from inside the install folder
    /// ([`crate::handoff`]); `None` never hands off.
    pub handoff_args: Option<Vec<std::ffi::OsString>>,
    /// How many entries a release's tar may hold and how long their paths may be; a tar beyond
    /// them is refused before anything of it is listed or installed.
    pub archive_limits: tufd_core::archive::EntryLimits,
}

impl InstallSettings {
    /// The data folder layout.
    pub fn layout(&self) -> DataLayout {
        DataLayout::new(&self.data_dir)
    }
}

/// A configured WASM install hook (docs/hooks.md, "Configure").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HookConfig {
    /// The `.wasm` component (absolute).
    pub path: PathBuf,
    /// Time limit of one hook call; default 2 s (`hook-timeout-ms`).
    pub timeout: Duration,
    /// Linear memory limit of one hook call, in bytes; default 64 MiB
    /// (`hook-memory-limit-bytes`).
    pub memory_limit_bytes: usize,
    /// Whether a hook that fails to load or answer falls back to the built-in native plan
    /// (`hook-fallback = "native"`); default false: the install fails.
    pub fallback_native: bool,
}

impl HookConfig {
    /// The hook at `path` with the default limits and no fallback.
    pub fn new(path: PathBuf) -> Self {
        HookConfig {
            path,
            timeout: tufd_hook_host::DEFAULT_TIMEOUT,
            memory_limit_bytes: tufd_hook_host::DEFAULT_MEMORY_LIMIT_BYTES,
            fallback_native: false,
        }
    }
}
