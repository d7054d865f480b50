//! The validated configuration of the update engine ([`EngineConfig`]) and the layout of the
//! data folder ([`DataLayout`]).
//!
//! The daemon turns flags and `tufd.toml` into an [`EngineConfig`] and calls
//! [`EngineConfig::validate`]; the engine trusts a validated config. The data folder layout is
//! the one in docs/architecture.md, "The data folder".

use std::path::{Path, PathBuf};
use std::time::Duration;

use tufd_core::planner::Policy;
use tufd_core::{Channel, Platform, Version};
use tufd_net::transport::TransportSettings;
use url::Url;

pub use tufd_install::health::HealthPolicy;
pub use tufd_install::{DataLayout, HookConfig, InstallSettings};
pub use tufd_net::transport::with_trailing_slash;

/// A configuration value that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The app name is not letters, digits, `_`, `-`.
    #[error("invalid app name `{name}`: use ASCII letters, digits, `_` and `-`")]
    AppName {
        /// What was given.
        name: String,
    },
    /// A folder path is not absolute.
    #[error("{what} `{}` must be an absolute path", path.display())]
    NotAbsolute {
        /// Which setting.
        what: &'static str,
        /// The path given.
        path: PathBuf,
    },
    /// A URL with a scheme other than http, https or file.
    #[error("{what} `{url}` must be an http://, https:// or file:// URL")]
    UrlScheme {
        /// Which setting.
        what: &'static str,
        /// The URL given.
        url: Url,
    },
    /// Neither a persisted root nor the shipped trusted root file is available.
    #[error("trusted root `{}` does not exist and `{}` holds no root.json yet", path.display(), metadata_dir.display())]
    TrustedRootMissing {
        /// The configured trusted root file.
        path: PathBuf,
        /// The datastore folder searched first.
        metadata_dir: PathBuf,
    },
    /// The relaunch command is empty.
    #[error("the relaunch command is empty")]
    EmptyRelaunch,
    /// A hook setting that cannot be used (relative path, zero limit, relative program).
    #[error("hook setting {what}: {problem}")]
    Hook {
        /// Which setting.
        what: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// The planner's patch ratio is not a positive number.
    #[error("max patch ratio {ratio} must be a positive number")]
    PatchRatio {
        /// What was given.
        ratio: f64,
    },
}

/// Everything the engine needs, validated by [`EngineConfig::validate`].
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// The app's name, as in its target names (`<app>-<version>.tar.gz`).
    pub app_name: String,
    /// The installed version (what the app reports, or its version file).
    pub current_version: Version,
    /// The folder holding the installed app (absolute).
    pub install_dir: PathBuf,
    /// The daemon's data folder (absolute); see [`DataLayout`].
    pub data_dir: PathBuf,
    /// Base URL of the TUF metadata (`http(s)://` or `file://`), ending in `/`.
    pub metadata_url: Url,
    /// Base URL of the targets, ending in `/`.
    pub targets_url: Url,
    /// The `1.root.json` the app ships; used only while `<data>/metadata/root.json` is absent.
    pub trusted_root: PathBuf,
    /// The update channel.
    pub channel: Channel,
    /// Time between polls of an http(s) repository (±10% jitter); `None` never polls.
    pub poll_interval: Option<Duration>,
    /// Command run after an install (program and arguments); a relative program resolves inside
    /// the new install folder when such a file exists there.
    pub relaunch: Option<Vec<String>>,
    /// A process to wait for before swapping folders.
    pub app_pid: Option<u32>,
    /// Sidecar: install an update found by any check without waiting for a request.
    pub auto_install: bool,
    /// Planner tunables.
    pub policy: Policy,
    /// The WASM install hook and its limits; `None` uses the built-in native plan.
    pub hook: Option<HookConfig>,
    /// Programs outside the install folder a plan (hook or native) may run or relaunch,
    /// absolute paths (`hook-allowed-programs`). An absolute relaunch program is allowed too.
    pub allowed_programs: Vec<String>,
    /// Settings handed to the hook (and to the native plan) as `settings` (`[hook-settings]`).
    pub hook_settings: Vec<(String, String)>,
    /// How a new version proves itself before it is committed (docs/protocol.md, "Health check
    /// and rollback"); none by default: a new version is committed at once.
    pub health: tufd_install::health::HealthPolicy,
    /// The daemon's own command line without the program name: a copy of tufd outside the
    /// install folder finishes an install with it when tufd runs from inside the install folder
    /// on Windows (`tufd_install::handoff`). `None` (the default) never hands off.
    pub handoff_args: Option<Vec<std::ffi::OsString>>,
    /// Overall time limit of one metadata request or download before its length allowance
    /// (`--network-timeout`; `tufd_net::transport::TransportSettings::request_deadline`).
    /// Default 60 s.
    pub network_timeout: Duration,
    /// How many entries a release's tar may hold and how long their paths may be
    /// (`--max-archive-entries`, `--max-archive-path-bytes`); beyond them the install fails
    /// with `install-failed` before anything is listed or installed. Default 1,000,000 entries
    /// and 4096-byte paths.
    pub archive_limits: tufd_core::archive::EntryLimits,
    /// An administrator's policy for this app on this machine (a file outside the app); it wins
    /// over the app's own flags. None by default.
    pub admin: AdminPolicy,
    /// The platform whose releases this install takes (`<os>-<arch>` folders of the
    /// repository); another platform's targets are never considered. Default: the platform the
    /// daemon was compiled for ([`Platform::current`]); `None` takes flat releases only.
    pub platform: Option<Platform>,
    /// The target folder of a tufup client this install was updated with (absolute;
    /// `--tufup-cache`): when the data folder holds no base tar of the installed version and
    /// the repository signs no tar digest to rebuild one, the tufup client's cached
    /// `<app>-<version>.tar.gz` is verified against the signed metadata and becomes the patch
    /// base (`supervisor::tufup_cache`). `None` by default.
    pub tufup_cache: Option<PathBuf>,
}

/// An administrator's policy for one app on one machine, read by the daemon from a file outside
/// the app (`/etc/tufd/<app>.toml`, `%ProgramData%\tufd\<app>.toml`): it can disable updates,
/// pin a version prefix or lock the channel (the daemon applies the lock to
/// [`EngineConfig::channel`]), and `status` and `check` say that updates are managed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AdminPolicy {
    /// The policy file in force, if any.
    pub source: Option<PathBuf>,
    /// No update is checked (the server is not contacted), downloaded or installed.
    pub disabled: bool,
    /// Only versions whose text starts with this release prefix are offered (`pin = "1.*"` is
    /// the prefix `1.`; `pin = "1.4"` is exactly 1.4).
    pub pin: Option<VersionPin>,
    /// The channel the policy locks (already applied to the config's channel).
    pub channel: Option<Channel>,
    /// Offer a release only this many days after its signed publication time (`defer = N`);
    /// releases without one are not deferred.
    pub defer_days: Option<u32>,
    /// Why the policy file could not be used this time (the last good policy applies).
    pub error: Option<String>,
}

/// A pinned version: `1.*` (every release of the 1 series) or one exact version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VersionPin {
    /// Releases whose version text starts with `<prefix>.` (PEP 440 release segments).
    Series(String),
    /// Exactly this version.
    Exact(Version),
}

impl VersionPin {
    /// Parses `1.*`, `1.4.*` or an exact PEP 440 version.
    ///
    /// # Errors
    /// Why `text` is neither, in words.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if let Some(series) = text.strip_suffix(".*") {
            if !series.is_empty()
                && series
                    .split('.')
                    .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            {
                return Ok(VersionPin::Series(series.to_owned()));
            }
            return Err(format!(
                "{text:?} is not a release series such as `1.*` or `2.4.*`"
            ));
        }
        text.parse::<Version>()
            .map(VersionPin::Exact)
            .map_err(|e| format!("{text:?} is not a version or a series such as `1.*`: {e}"))
    }

    /// Whether `version` is allowed. Pure.
    pub fn allows(&self, version: &Version) -> bool {
        match self {
            VersionPin::Exact(v) => v == version,
            VersionPin::Series(series) => {
                let text = version.to_string();
                text == *series
                    || text
                        .strip_prefix(series.as_str())
                        .is_some_and(|rest| rest.starts_with('.'))
            }
        }
    }
}

impl std::fmt::Display for VersionPin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VersionPin::Series(s) => write!(f, "{s}.*"),
            VersionPin::Exact(v) => write!(f, "{v}"),
        }
    }
}

impl AdminPolicy {
    /// What the policy does, in words, for `status` and `check` (`None` when no policy
    /// applies).
    pub fn describe(&self) -> Option<String> {
        let source = self.source.as_ref()?;
        let mut what = Vec::new();
        if self.disabled {
            what.push("updates disabled".to_owned());
        }
        if let Some(pin) = &self.pin {
            what.push(format!("pinned to {pin}"));
        }
        if let Some(channel) = self.channel {
            what.push(format!("channel locked to {channel}"));
        }
        if let Some(days) = self.defer_days {
            what.push(format!("releases deferred {days} days"));
        }
        let mut text = if what.is_empty() {
            format!("managed by {} (no restriction)", source.display())
        } else {
            format!("{} by {}", what.join(", "), source.display())
        };
        if let Some(error) = &self.error {
            text.push_str(&format!(" (last good policy; the file now fails: {error})"));
        }
        Some(text)
    }
}

/// An [`EngineConfig`] that passed [`EngineConfig::validate`]: the only form the engine
/// starts from, read-only (it dereferences to the config), so nothing can change a setting
/// after it was checked.
#[derive(Clone, Debug)]
pub struct ValidConfig(EngineConfig);

impl std::ops::Deref for ValidConfig {
    type Target = EngineConfig;

    fn deref(&self) -> &EngineConfig {
        &self.0
    }
}

impl ValidConfig {
    /// The same config for an app found at `version` (what a journal recovery left installed);
    /// a version needs no re-validation.
    pub fn with_current_version(mut self, version: Version) -> Self {
        self.0.current_version = version;
        self
    }

    /// The config inside.
    pub fn into_inner(self) -> EngineConfig {
        self.0
    }
}

impl EngineConfig {
    /// A config with defaults for everything but the required settings: stable channel,
    /// poll every 3600 s, no relaunch, no pid, no auto-install, default policy. Trailing
    /// slashes are added to the URLs.
    pub fn new(
        app_name: impl Into<String>,
        current_version: Version,
        install_dir: PathBuf,
        data_dir: PathBuf,
        metadata_url: Url,
        targets_url: Url,
        trusted_root: PathBuf,
    ) -> Self {
        Self {
            app_name: app_name.into(),
            current_version,
            install_dir,
            data_dir,
            metadata_url: with_trailing_slash(metadata_url),
            targets_url: with_trailing_slash(targets_url),
            trusted_root,
            channel: Channel::Stable,
            poll_interval: Some(Duration::from_secs(3600)),
            relaunch: None,
            app_pid: None,
            auto_install: false,
            policy: Policy::default(),
            hook: None,
            allowed_programs: Vec::new(),
            hook_settings: Vec::new(),
            health: tufd_install::health::HealthPolicy::default(),
            handoff_args: None,
            network_timeout: TransportSettings::default().request_deadline,
            archive_limits: tufd_core::archive::EntryLimits::DEFAULT,
            admin: AdminPolicy::default(),
            platform: Platform::current(),
            tufup_cache: None,
        }
    }

    /// Checks every setting and normalises the URLs (trailing `/`); the result is read-only.
    ///
    /// # Errors
    /// The first [`ConfigError`] found: bad app name, relative folders, URL schemes other than
    /// http, https and file, no trusted root at all, an empty relaunch command, a bad ratio.
    pub fn validate(self) -> Result<ValidConfig, ConfigError> {
        self.checked().map(ValidConfig)
    }

    fn checked(mut self) -> Result<Self, ConfigError> {
        if tufd_core::target_name::check_app_name(&self.app_name).is_err() {
            return Err(ConfigError::AppName {
                name: self.app_name,
            });
        }
        for (what, path) in [
            ("install dir", &self.install_dir),
            ("data dir", &self.data_dir),
            ("trusted root", &self.trusted_root),
        ]
        .into_iter()
        .chain(self.tufup_cache.iter().map(|dir| ("tufup cache", dir)))
        {
            if !path.is_absolute() {
                return Err(ConfigError::NotAbsolute {
                    what,
                    path: path.clone(),
                });
            }
        }
        for (what, url) in [
            ("metadata url", &self.metadata_url),
            ("targets url", &self.targets_url),
        ] {
            if !matches!(url.scheme(), "http" | "https" | "file") {
                return Err(ConfigError::UrlScheme {
                    what,
                    url: url.clone(),
                });
            }
        }
        self.metadata_url = with_trailing_slash(self.metadata_url);
        self.targets_url = with_trailing_slash(self.targets_url);
        let layout = self.layout();
        if !layout.persisted_root().is_file() && !self.trusted_root.is_file() {
            return Err(ConfigError::TrustedRootMissing {
                path: self.trusted_root,
                metadata_dir: layout.metadata(),
            });
        }
        if let Some(cmd) = &self.relaunch
            && cmd.is_empty()
        {
            return Err(ConfigError::EmptyRelaunch);
        }
        if let Some(hook) = &self.hook {
            if !hook.path.is_absolute() {
                return Err(ConfigError::NotAbsolute {
                    what: "hook",
                    path: hook.path.clone(),
                });
            }
            if hook.timeout.is_zero() {
                return Err(ConfigError::Hook {
                    what: "hook-timeout-ms",
                    problem: "must be more than 0".into(),
                });
            }
            if hook.memory_limit_bytes == 0 {
                return Err(ConfigError::Hook {
                    what: "hook-memory-limit-bytes",
                    problem: "must be more than 0".into(),
                });
            }
        }
        if let Some(program) = self
            .allowed_programs
            .iter()
            .find(|p| !Path::new(p).is_absolute())
        {
            return Err(ConfigError::Hook {
                what: "hook-allowed-programs",
                problem: format!("`{program}` is not an absolute path"),
            });
        }
        let ratio = self.policy.max_patch_ratio;
        if ratio.is_nan() || ratio <= 0.0 {
            return Err(ConfigError::PatchRatio { ratio });
        }
        Ok(self)
    }

    /// The data folder layout.
    pub fn layout(&self) -> DataLayout {
        DataLayout::new(&self.data_dir)
    }

    /// What the install side needs of this config.
    pub fn install_settings(&self) -> InstallSettings {
        InstallSettings {
            app_name: self.app_name.clone(),
            install_dir: self.install_dir.clone(),
            data_dir: self.data_dir.clone(),
            app_pid: self.app_pid,
            relaunch: self.relaunch.clone(),
            allowed_programs: self.allowed_programs.clone(),
            hook: self.hook.clone(),
            hook_settings: self.hook_settings.clone(),
            health: self.health.clone(),
            handoff_args: self.handoff_args.clone(),
            archive_limits: self.archive_limits,
        }
    }

    /// The local folder of a `file://` metadata URL, if it is one.
    pub fn metadata_folder(&self) -> Option<PathBuf> {
        (self.metadata_url.scheme() == "file")
            .then(|| self.metadata_url.to_file_path().ok())
            .flatten()
    }
}

/// A config for app `demo` 1.0 under `dir` (`app/`, `data/`, an empty `1.root.json`), with
/// `file://` URLs that lead nowhere; for the engine's own tests.
#[cfg(test)]
pub(crate) fn test_config(dir: &Path) -> EngineConfig {
    let root = dir.join("1.root.json");
    std::fs::write(&root, "{}").unwrap();
    EngineConfig::new(
        "demo",
        "1.0".parse().unwrap(),
        dir.join("app"),
        dir.join("data"),
        Url::parse("file:///nonexistent/metadata/").unwrap(),
        Url::parse("file:///nonexistent/targets/").unwrap(),
        root,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_series_pin_allows_its_releases_only() {
        let pin = VersionPin::parse("1.*").unwrap();
        for v in ["1.0", "1.4.2", "1"] {
            assert!(pin.allows(&v.parse().unwrap()), "{v}");
        }
        for v in ["10.0", "2.0", "0.9"] {
            assert!(!pin.allows(&v.parse().unwrap()), "{v}");
        }
        let exact = VersionPin::parse("2.1").unwrap();
        assert!(exact.allows(&"2.1".parse().unwrap()));
        assert!(!exact.allows(&"2.1.1".parse().unwrap()));
        for bad in ["*", "1.x.*", "one"] {
            assert!(VersionPin::parse(bad).is_err(), "{bad}");
        }
    }

    fn config(dir: &Path) -> EngineConfig {
        let mut c = test_config(dir);
        c.metadata_url = Url::parse("http://127.0.0.1:1/metadata").unwrap();
        c.targets_url = Url::parse("file:///srv/targets").unwrap();
        c
    }

    #[test]
    fn valid_config_gets_trailing_slashes() {
        let dir = tempfile::tempdir().unwrap();
        let c = config(dir.path()).validate().unwrap();
        assert_eq!(c.metadata_url.as_str(), "http://127.0.0.1:1/metadata/");
        assert_eq!(c.targets_url.as_str(), "file:///srv/targets/");
        assert_eq!(c.metadata_folder(), None);
    }

    #[test]
    fn refuses_bad_values() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = config(dir.path());
        c.app_name = "bad name".into();
        assert!(matches!(c.validate(), Err(ConfigError::AppName { .. })));

        let mut c = config(dir.path());
        c.install_dir = "relative/app".into();
        assert!(matches!(
            c.validate(),
            Err(ConfigError::NotAbsolute {
                what: "install dir",
                ..
            })
        ));

        let mut c = config(dir.path());
        c.metadata_url = Url::parse("ftp://x/m/").unwrap();
        assert!(matches!(c.validate(), Err(ConfigError::UrlScheme { .. })));

        let mut c = config(dir.path());
        c.trusted_root = dir.path().join("missing.json");
        assert!(matches!(
            c.validate(),
            Err(ConfigError::TrustedRootMissing { .. })
        ));

        let mut c = config(dir.path());
        c.relaunch = Some(vec![]);
        assert!(matches!(c.validate(), Err(ConfigError::EmptyRelaunch)));

        let mut c = config(dir.path());
        c.policy.max_patch_ratio = f64::NAN;
        assert!(matches!(c.validate(), Err(ConfigError::PatchRatio { .. })));
    }

    #[test]
    fn persisted_root_replaces_the_shipped_one() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = config(dir.path());
        c.trusted_root = dir.path().join("missing.json");
        let layout = c.layout();
        std::fs::create_dir_all(layout.metadata()).unwrap();
        std::fs::write(layout.persisted_root(), "{}").unwrap();
        assert!(c.validate().is_ok());
    }
}
