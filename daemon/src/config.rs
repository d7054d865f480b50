//! From what the user typed to a validated [`EngineConfig`] (as ripgrep's low/high args):
//! [`merged`] reads `--config FILE` and lays the flags over it (flags win); [`resolve`] checks
//! required settings, reads the version file, parses versions, channels and URLs, makes paths
//! absolute (file values relative to the file's folder, flags relative to the working folder)
//! and runs [`EngineConfig::validate`]. Every failure is a [`ConfigError`] naming the setting.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use tufd_core::{Channel, Version};
use tufd_engine::config::{AdminPolicy, HookConfig, VersionPin};
use tufd_engine::{EngineConfig, ValidConfig};
use url::Url;

use crate::cli::{Cli, Flags, HookFallback};

/// A setting, a flag or the config file that cannot be used (kind `config`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The working folder, against which relative paths are resolved, cannot be read.
    #[error("cannot read the working folder")]
    WorkingFolder {
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The config file cannot be read.
    #[error("cannot read the config file {}", path.display())]
    ReadFile {
        /// The config file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The config file is not TOML, or holds an unknown key or a value of the wrong type.
    #[error("cannot parse the config file {}", path.display())]
    ParseFile {
        /// The config file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: TomlError,
    },
    /// A required setting is missing.
    #[error("missing --{flag} (or `{flag}` in the config file)")]
    Missing {
        /// The flag's name without `--`.
        flag: &'static str,
    },
    /// Neither `--current-version` nor `--version-file` is given.
    #[error("missing --current-version or --version-file")]
    MissingVersion,
    /// A URL setting is neither a URL nor an absolute path.
    #[error("--{flag} `{value}` is not a URL")]
    Url {
        /// The flag's name without `--`.
        flag: &'static str,
        /// What was given.
        value: String,
        /// The cause.
        #[source]
        source: url::ParseError,
    },
    /// A URL setting is an absolute path that cannot be turned into a `file://` URL.
    #[error("--{flag} `{value}` is not a usable folder path")]
    FolderPath {
        /// The flag's name without `--`.
        flag: &'static str,
        /// What was given.
        value: String,
    },
    /// The version file cannot be read.
    #[error("cannot read the version file {}", path.display())]
    VersionFile {
        /// The version file (in the install folder).
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The installed version is not a PEP 440 version.
    #[error("bad version in {from}")]
    Version {
        /// Where it was read: `--current-version` or the version file.
        from: String,
        /// The cause.
        #[source]
        source: tufd_core::Error,
    },
    /// `--platform` is not `<os>-<arch>`.
    #[error("bad --platform")]
    Platform {
        /// The cause.
        #[source]
        source: tufd_core::Error,
    },
    /// `--channel` is not a channel name.
    #[error("bad --channel")]
    Channel {
        /// The cause.
        #[source]
        source: tufd_core::Error,
    },
    /// A `--hook-setting` is not `KEY=VALUE`.
    #[error("--hook-setting `{pair}` is not KEY=VALUE")]
    HookSetting {
        /// What was given.
        pair: String,
    },
    /// The engine refused the resolved config ([`EngineConfig::validate`]).
    #[error(transparent)]
    Invalid(#[from] tufd_engine::config::ConfigError),
}

/// A `toml` error on one line, `line L, column C: message` (the `toml` crate's own text spans
/// several lines with a snippet of the file).
#[derive(Debug)]
pub struct TomlError {
    position: Option<(usize, usize)>,
    error: Box<toml::de::Error>,
}

impl TomlError {
    /// `error` from parsing `text`.
    pub fn new(text: &str, error: toml::de::Error) -> Self {
        let position = error.span().map(|span| {
            let before = &text.as_bytes()[..span.start.min(text.len())];
            let line = before.iter().filter(|b| **b == b'\n').count() + 1;
            let column = before.iter().rev().take_while(|b| **b != b'\n').count() + 1;
            (line, column)
        });
        Self {
            position,
            error: Box::new(error),
        }
    }

    /// The `toml` crate's error.
    pub fn inner(&self) -> &toml::de::Error {
        &self.error
    }
}

impl std::fmt::Display for TomlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some((line, column)) = self.position {
            write!(f, "line {line}, column {column}: ")?;
        }
        let message = self.error.message().trim();
        write!(
            f,
            "{}",
            message.split_whitespace().collect::<Vec<_>>().join(" ")
        )
    }
}

impl std::error::Error for TomlError {}

fn absolute(base: &Path, path: Option<PathBuf>) -> Option<PathBuf> {
    path.map(|p| if p.is_absolute() { p } else { base.join(p) })
}

/// Makes the path settings of `flags` absolute against `base`.
fn anchor(mut flags: Flags, base: &Path) -> Flags {
    flags.install_dir = absolute(base, flags.install_dir);
    flags.data_dir = absolute(base, flags.data_dir);
    flags.trusted_root = absolute(base, flags.trusted_root);
    flags.tufup_cache = absolute(base, flags.tufup_cache);
    flags.hook = absolute(base, flags.hook);
    flags.log_file = absolute(base, flags.log_file);
    flags
}

/// Lays `over` on `under`: every setting given in `over` wins.
fn overlay(under: Flags, over: Flags) -> Flags {
    Flags {
        app_name: over.app_name.or(under.app_name),
        current_version: over.current_version.or(under.current_version),
        version_file: over.version_file.or(under.version_file),
        install_dir: over.install_dir.or(under.install_dir),
        data_dir: over.data_dir.or(under.data_dir),
        metadata_url: over.metadata_url.or(under.metadata_url),
        targets_url: over.targets_url.or(under.targets_url),
        trusted_root: over.trusted_root.or(under.trusted_root),
        tufup_cache: over.tufup_cache.or(under.tufup_cache),
        channel: over.channel.or(under.channel),
        platform: over.platform.or(under.platform),
        poll_interval: over.poll_interval.or(under.poll_interval),
        hook: over.hook.or(under.hook),
        hook_timeout_ms: over.hook_timeout_ms.or(under.hook_timeout_ms),
        hook_memory_limit_bytes: over
            .hook_memory_limit_bytes
            .or(under.hook_memory_limit_bytes),
        hook_allowed_programs: over.hook_allowed_programs.or(under.hook_allowed_programs),
        hook_fallback: over.hook_fallback.or(under.hook_fallback),
        hook_settings: over.hook_settings.or(under.hook_settings),
        hook_setting: [under.hook_setting, over.hook_setting].concat(),
        relaunch: over.relaunch.or(under.relaunch),
        keep: over.keep.or(under.keep),
        network_timeout: over.network_timeout.or(under.network_timeout),
        max_archive_entries: over.max_archive_entries.or(under.max_archive_entries),
        max_archive_path_bytes: over.max_archive_path_bytes.or(under.max_archive_path_bytes),
        admin_policy: over.admin_policy.or(under.admin_policy),
        app_pid: over.app_pid.or(under.app_pid),
        auto_install: over.auto_install || under.auto_install,
        health_command: over.health_command.or(under.health_command),
        health_timeout: over.health_timeout.or(under.health_timeout),
        health_launches: over.health_launches.or(under.health_launches),
        log_format: over.log_format.or(under.log_format),
        log_file: over.log_file.or(under.log_file),
    }
}

/// The flags laid over `--config FILE` (if given), with paths made absolute.
///
/// # Errors
/// When the file cannot be read or is not valid TOML with known keys.
pub fn merged(cli: &Cli) -> Result<Flags, ConfigError> {
    let cwd = std::env::current_dir().map_err(|source| ConfigError::WorkingFolder { source })?;
    let from_flags = anchor(cli.flags.clone(), &cwd);
    let Some(path) = &cli.config else {
        return Ok(from_flags);
    };
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::ReadFile {
        path: path.clone(),
        source,
    })?;
    let from_file: Flags = toml::from_str(&text).map_err(|e| ConfigError::ParseFile {
        path: path.clone(),
        source: TomlError::new(&text, e),
    })?;
    let file_dir = absolute(&cwd, path.parent().map(Path::to_path_buf)).unwrap_or(cwd);
    Ok(overlay(anchor(from_file, &file_dir), from_flags))
}

/// Parses a URL setting; a plain absolute path is taken as a `file://` folder URL.
fn parse_url(flag: &'static str, text: &str) -> Result<Url, ConfigError> {
    match Url::parse(text) {
        Ok(url) => Ok(url),
        Err(_) if Path::new(text).is_absolute() => {
            Url::from_directory_path(text).map_err(|()| ConfigError::FolderPath {
                flag,
                value: text.to_owned(),
            })
        }
        Err(source) => Err(ConfigError::Url {
            flag,
            value: text.to_owned(),
            source,
        }),
    }
}

fn required<T>(value: Option<T>, flag: &'static str) -> Result<T, ConfigError> {
    value.ok_or(ConfigError::Missing { flag })
}

/// The validated engine config from merged flags.
///
/// # Errors
/// A clear message naming the missing or bad setting.
pub fn resolve(flags: &Flags) -> Result<ValidConfig, ConfigError> {
    let flags = flags.clone();
    let app_name = required(flags.app_name, "app-name")?;
    let install_dir = required(flags.install_dir, "install-dir")?;
    let data_dir = required(flags.data_dir, "data-dir")?;
    let metadata_url = parse_url(
        "metadata-url",
        &required(flags.metadata_url, "metadata-url")?,
    )?;
    let targets_url = parse_url("targets-url", &required(flags.targets_url, "targets-url")?)?;
    let trusted_root = required(flags.trusted_root, "trusted-root")?;
    let (version_text, from) = match (flags.current_version, flags.version_file) {
        (Some(v), _) => (v, "--current-version".to_owned()),
        (None, Some(file)) => {
            let path = install_dir.join(file);
            let text =
                std::fs::read_to_string(&path).map_err(|source| ConfigError::VersionFile {
                    path: path.clone(),
                    source,
                })?;
            (
                text.trim().to_owned(),
                format!("the version file {}", path.display()),
            )
        }
        (None, None) => return Err(ConfigError::MissingVersion),
    };
    let current_version: Version = version_text
        .parse()
        .map_err(|source| ConfigError::Version { from, source })?;
    let mut config = EngineConfig::new(
        app_name,
        current_version,
        install_dir,
        data_dir,
        metadata_url,
        targets_url,
        trusted_root,
    );
    if let Some(channel) = flags.channel {
        config.channel = channel
            .parse::<Channel>()
            .map_err(|source| ConfigError::Channel { source })?;
    }
    if let Some(platform) = &flags.platform {
        config.platform = Some(
            tufd_core::Platform::parse(platform)
                .map_err(|source| ConfigError::Platform { source })?,
        );
    }
    if let Some(seconds) = flags.poll_interval {
        config.poll_interval = (seconds > 0).then(|| Duration::from_secs(seconds));
    }
    if let Some(relaunch) = flags.relaunch {
        config.relaunch = Some(relaunch.split_whitespace().map(str::to_owned).collect());
    }
    config.app_pid = flags.app_pid;
    config.tufup_cache = flags.tufup_cache;
    config.auto_install = flags.auto_install;
    let policy_path = flags
        .admin_policy
        .clone()
        .unwrap_or_else(|| default_admin_policy(&config.app_name));
    config.admin = admin_policy(&policy_path, &config.data_dir);
    if let Some(channel) = config.admin.channel {
        config.channel = channel;
    }
    if let Some(seconds) = flags.network_timeout {
        config.network_timeout = Duration::from_secs(seconds.max(1));
    }
    if let Some(entries) = flags.max_archive_entries {
        config.archive_limits.max_entries = entries;
    }
    if let Some(bytes) = flags.max_archive_path_bytes {
        config.archive_limits.max_path_bytes = bytes;
    }
    // What a copy of this process outside the install folder is started with when the
    // install must be handed off (Windows, tufd inside the install folder).
    config.handoff_args = Some(std::env::args_os().skip(1).collect());
    config.health = tufd_engine::config::HealthPolicy {
        timeout: flags
            .health_timeout
            .filter(|s| *s > 0)
            .map(Duration::from_secs),
        max_launches: flags.health_launches,
        command: flags
            .health_command
            .as_deref()
            .map(|c| c.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
            .filter(|c| !c.is_empty()),
    };
    if let Some(path) = flags.hook {
        let mut hook = HookConfig::new(path);
        if let Some(ms) = flags.hook_timeout_ms {
            hook.timeout = Duration::from_millis(ms);
        }
        if let Some(bytes) = flags.hook_memory_limit_bytes {
            hook.memory_limit_bytes = bytes;
        }
        hook.fallback_native = flags.hook_fallback == Some(HookFallback::Native);
        config.hook = Some(hook);
    }
    config.allowed_programs = flags.hook_allowed_programs.unwrap_or_default();
    let mut settings = flags.hook_settings.unwrap_or_default();
    for pair in &flags.hook_setting {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| ConfigError::HookSetting { pair: pair.clone() })?;
        settings.insert(key.to_owned(), value.to_owned());
    }
    // `--keep` is the `keep` setting the built-in plans (and hooks such as linux-tree) read.
    if let Some(keep) = flags.keep.filter(|k| !k.is_empty()) {
        settings.insert("keep".to_owned(), keep.join(","));
    }
    config.hook_settings = settings.into_iter().collect();
    Ok(config.validate()?)
}

/// Where an administrator puts the policy of `app`: `/etc/tufd/<app>.toml`, on Windows
/// `%ProgramData%\tufd\<app>.toml`.
pub fn default_admin_policy(app: &str) -> PathBuf {
    if cfg!(windows) {
        let base = std::env::var_os("ProgramData").unwrap_or_else(|| "C:\\ProgramData".into());
        PathBuf::from(base).join("tufd").join(format!("{app}.toml"))
    } else {
        PathBuf::from("/etc/tufd").join(format!("{app}.toml"))
    }
}

/// The keys of an administrator's policy file.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct PolicyFile {
    /// No updates at all.
    #[serde(default)]
    disable: bool,
    /// `1.*` or an exact version.
    pin: Option<String>,
    /// The channel to lock to.
    channel: Option<String>,
    /// Days after a release's signed publication time before it is offered.
    defer: Option<u32>,
}

/// Parses the text of a policy file.
fn parse_policy(text: &str, source: &Path) -> Result<AdminPolicy, String> {
    let file: PolicyFile = toml::from_str(text).map_err(|e| e.to_string().trim().to_owned())?;
    Ok(AdminPolicy {
        source: Some(source.to_path_buf()),
        disabled: file.disable,
        pin: file.pin.as_deref().map(VersionPin::parse).transpose()?,
        channel: file
            .channel
            .as_deref()
            .map(|c| c.parse::<Channel>().map_err(|e| e.to_string()))
            .transpose()?,
        defer_days: file.defer,
        error: None,
    })
}

/// The administrator's policy at `path`: none when the file does not exist; when it does not
/// parse, the last good one (kept as `<data-dir>/admin-policy.toml`) with the error, so a
/// broken edit neither lifts nor tightens what was in force.
pub fn admin_policy(path: &Path, data_dir: &Path) -> AdminPolicy {
    let last_good = data_dir.join("admin-policy.toml");
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let _ = std::fs::remove_file(&last_good);
            return AdminPolicy::default();
        }
        Err(e) => return fallback(path, &last_good, format!("cannot read it: {e}")),
    };
    match parse_policy(&text, path) {
        Ok(policy) => {
            // Written only when it changed: every start reads the policy.
            if std::fs::read_to_string(&last_good).is_ok_and(|kept| kept == text) {
                return policy;
            }
            let _ = std::fs::create_dir_all(data_dir);
            if let Err(e) = std::fs::write(&last_good, &text) {
                tracing::warn!(path = %last_good.display(), error = %e, "cannot keep the last good admin policy");
            }
            policy
        }
        Err(e) => fallback(path, &last_good, e),
    }
}

fn fallback(path: &Path, last_good: &Path, error: String) -> AdminPolicy {
    tracing::error!(policy = %path.display(), %error, "the admin policy file cannot be used; the last good policy applies");
    let mut policy = std::fs::read_to_string(last_good)
        .ok()
        .and_then(|text| parse_policy(&text, path).ok())
        .unwrap_or_else(|| AdminPolicy {
            source: Some(path.to_path_buf()),
            ..AdminPolicy::default()
        });
    policy.error = Some(error);
    policy
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use tufd_engine::error::report;

    fn setup() -> (tempfile::TempDir, Vec<String>) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("1.root.json");
        std::fs::write(&root, "{}").unwrap();
        let d = dir.path().display().to_string();
        let args = vec![
            "tufd".into(),
            "--app-name=demo".into(),
            "--current-version=1.0".into(),
            format!("--install-dir={d}/app"),
            format!("--data-dir={d}/data"),
            "--metadata-url=http://127.0.0.1:9/metadata".into(),
            format!("--targets-url={d}/targets"),
            format!("--trusted-root={}", root.display()),
        ];
        (dir, args)
    }

    #[test]
    fn flags_resolve_with_defaults() {
        let (dir, args) = setup();
        let cli = Cli::try_parse_from(args).unwrap();
        let config = resolve(&merged(&cli).unwrap()).unwrap();
        assert_eq!(config.app_name, "demo");
        assert_eq!(config.current_version.to_string(), "1.0");
        assert_eq!(config.metadata_url.as_str(), "http://127.0.0.1:9/metadata/");
        assert_eq!(config.targets_url.scheme(), "file");
        assert_eq!(config.install_dir, dir.path().join("app"));
        assert_eq!(config.poll_interval, Some(Duration::from_secs(3600)));
        assert_eq!(config.hook, None);
    }

    #[test]
    fn hook_settings_resolve_with_defaults_and_overrides() {
        let (dir, mut args) = setup();
        let file = dir.path().join("tufd.toml");
        std::fs::write(
            &file,
            "hook = \"hooks/h.wasm\"\nhook-timeout-ms = 750\n[hook-settings]\nkeep = \"user-data\"\nexecutables = \"bin/app\"\n",
        )
        .unwrap();
        args.push(format!("--config={}", file.display()));
        args.push("--hook-setting=keep=logs".into());
        let config = resolve(&merged(&Cli::try_parse_from(args).unwrap()).unwrap()).unwrap();
        let hook = config.hook.clone().expect("hook configured");
        assert_eq!(hook.path, dir.path().join("hooks/h.wasm"));
        assert_eq!(hook.timeout, Duration::from_millis(750));
        assert_eq!(hook.memory_limit_bytes, 64 << 20);
        assert!(!hook.fallback_native);
        assert_eq!(
            config.hook_settings,
            [
                ("executables".to_owned(), "bin/app".to_owned()),
                ("keep".to_owned(), "logs".to_owned())
            ]
        );
    }

    #[test]
    fn an_admin_policy_defers_by_whole_days() {
        let policy = parse_policy("defer = 7\n", Path::new("/etc/tufd/demo.toml")).unwrap();
        assert_eq!(policy.defer_days, Some(7));
        assert!(parse_policy("defer = -1\n", Path::new("p")).is_err());
        assert!(parse_policy("defer = \"soon\"\n", Path::new("p")).is_err());
    }

    #[test]
    fn an_admin_policy_applies_and_a_broken_edit_keeps_the_last_good_one() {
        let dir = tempfile::tempdir().unwrap();
        let (file, data) = (dir.path().join("demo.toml"), dir.path().join("data"));
        assert_eq!(admin_policy(&file, &data), AdminPolicy::default());
        std::fs::write(&file, "pin = \"1.*\"\nchannel = \"beta\"\n").unwrap();
        let good = admin_policy(&file, &data);
        assert_eq!(good.pin, Some(VersionPin::Series("1".into())));
        assert_eq!(good.channel, Some(Channel::Beta));
        assert!(good.error.is_none());
        std::fs::write(&file, "pin = [\"nonsense\"]\n").unwrap();
        let broken = admin_policy(&file, &data);
        assert_eq!(broken.pin, good.pin, "the last good policy applies");
        assert!(broken.error.is_some());
        assert!(broken.describe().is_some_and(|d| d.contains("last good")));
        std::fs::write(&file, "unknown-key = 1\n").unwrap();
        assert!(admin_policy(&file, &data).error.is_some());
        std::fs::remove_file(&file).unwrap();
        assert_eq!(admin_policy(&file, &data), AdminPolicy::default());
        assert!(
            !data.join("admin-policy.toml").exists(),
            "a lifted policy is forgotten"
        );
    }

    #[test]
    fn keep_paths_from_the_file_or_the_flags_become_the_keep_setting() {
        let (dir, mut args) = setup();
        let file = dir.path().join("tufd.toml");
        std::fs::write(&file, "keep = [\"settings.ini\"]\n").unwrap();
        args.push(format!("--config={}", file.display()));
        let from_file = resolve(&merged(&Cli::try_parse_from(&args).unwrap()).unwrap()).unwrap();
        assert_eq!(
            from_file.hook_settings,
            [("keep".to_owned(), "settings.ini".to_owned())]
        );
        args.extend(["--keep=logs".to_owned(), "--keep=user.cfg".to_owned()]);
        let from_flags = resolve(&merged(&Cli::try_parse_from(&args).unwrap()).unwrap()).unwrap();
        assert_eq!(
            from_flags.hook_settings,
            [("keep".to_owned(), "logs,user.cfg".to_owned())]
        );
    }

    #[test]
    fn flags_override_the_file_and_file_paths_are_relative_to_it() {
        let (dir, mut args) = setup();
        let file = dir.path().join("conf/tufd.toml");
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(
            &file,
            "app-name = \"other\"\nchannel = \"beta\"\npoll-interval = 0\nlog-file = \"tufd.log\"\nrelaunch = \"bin/app --updated\"\n",
        )
        .unwrap();
        args.push(format!("--config={}", file.display()));
        let cli = Cli::try_parse_from(args).unwrap();
        let flags = merged(&cli).unwrap();
        assert_eq!(flags.log_file, Some(dir.path().join("conf/tufd.log")));
        let config = resolve(&flags).unwrap();
        assert_eq!(config.app_name, "demo", "the flag wins");
        assert_eq!(config.channel, Channel::Beta);
        assert_eq!(config.poll_interval, None);
        assert_eq!(
            config.relaunch,
            Some(vec!["bin/app".to_owned(), "--updated".to_owned()])
        );
    }

    #[test]
    fn version_file_is_read_from_the_install_folder() {
        let (dir, args) = setup();
        let args: Vec<_> = args
            .into_iter()
            .filter(|a| !a.starts_with("--current-version"))
            .chain(["--version-file=VERSION".to_owned()])
            .collect();
        std::fs::create_dir_all(dir.path().join("app")).unwrap();
        std::fs::write(dir.path().join("app/VERSION"), "2.0rc1\n").unwrap();
        let cli = Cli::try_parse_from(args).unwrap();
        let config = resolve(&merged(&cli).unwrap()).unwrap();
        assert_eq!(config.current_version.to_string(), "2.0rc1");
    }

    #[test]
    fn clear_errors_for_missing_and_bad_settings() {
        let (_dir, args) = setup();
        let without_app: Vec<_> = args
            .iter()
            .filter(|a| !a.starts_with("--app-name"))
            .cloned()
            .collect();
        let cli = Cli::try_parse_from(without_app).unwrap();
        let err = resolve(&merged(&cli).unwrap()).unwrap_err();
        assert!(
            matches!(err, ConfigError::Missing { flag: "app-name" }),
            "{err}"
        );
        assert!(report(&err).contains("--app-name"), "{err}");

        let mut bad_channel = args.clone();
        bad_channel.push("--channel=nightly".into());
        let cli = Cli::try_parse_from(bad_channel).unwrap();
        let err = resolve(&merged(&cli).unwrap()).unwrap_err();
        assert!(matches!(err, ConfigError::Channel { .. }), "{err}");
        assert!(report(&err).contains("nightly"), "{err}");

        let mut bad_url = args;
        bad_url.push("--metadata-url=ftp://x/".into());
        let cli = Cli::try_parse_from(bad_url).unwrap();
        let err = resolve(&merged(&cli).unwrap()).unwrap_err();
        assert!(matches!(err, ConfigError::Invalid(_)), "{err}");
        assert!(report(&err).contains("ftp://x/"), "{err}");
    }

    #[test]
    fn a_bad_config_file_is_one_line_with_its_position() {
        let (dir, mut args) = setup();
        let file = dir.path().join("tufd.toml");
        std::fs::write(&file, "app-name = \"demo\"\nno-such-key = 1\n").unwrap();
        args.push(format!("--config={}", file.display()));
        let err = merged(&Cli::try_parse_from(&args).unwrap()).unwrap_err();
        let ConfigError::ParseFile { source, .. } = &err else {
            panic!("{err:?}");
        };
        assert!(source.inner().span().is_some());
        assert_eq!(source.position, Some((2, 1)));
        let text = report(&err);
        assert!(!text.contains('\n'), "{text}");

        args.pop();
        args.push(format!(
            "--config={}",
            dir.path().join("missing.toml").display()
        ));
        let err = merged(&Cli::try_parse_from(&args).unwrap()).unwrap_err();
        assert!(matches!(err, ConfigError::ReadFile { .. }), "{err:?}");
    }
}
