//! The command line (clap derive), as documented in docs/protocol.md ("Starting the sidecar",
//! "One-shot commands"). Every flag is also a key of `tufd.toml` (kebab-case, the same names), read with
//! `--config FILE`; flags override the file. What the user typed is kept here as given;
//! `config.rs` turns it into a validated engine config.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::Deserialize;

/// Exit status of every command, shown by `tufd --help`.
const EXIT_STATUS_HELP: &str = "\
Exit status: 0 success; 1 failure, with one line `error[<kind>]: <message>` on stderr (and
`{\"error\": {\"kind\", \"message\"}}` on stdout for `check --json` and `status --json`);
2 usage error; 100 `check --exit-code` found an update.";

/// tufd: the update sidecar daemon an app spawns to keep itself up to date through TUF.
#[derive(Debug, Parser)]
#[command(
    name = "tufd",
    version,
    about,
    args_override_self = true,
    after_help = EXIT_STATUS_HELP
)]
pub struct Cli {
    /// What to do; `sidecar` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Read settings from this TOML file (keys as the flags, e.g. `app-name = "demo"`).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The settings.
    #[command(flatten)]
    pub flags: Flags,
    /// Internal: this process is the copy a tufd running inside the install folder handed its
    /// install to (`tufd_install::handoff`); wait for that process to exit, then install.
    #[arg(long, global = true, hide = true, value_name = "PID")]
    pub finish_install_after: Option<u32>,
}

/// The subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Serve JSON-RPC 2.0 on stdin/stdout, one message per line (the default).
    Sidecar,
    /// Check for an update once.
    #[command(after_help = "\
Exit status: 0 when the check succeeds (with --exit-code: only when up to date); 100 with
--exit-code when an update is available (as `git diff --exit-code` and `dnf check-update`);
1 on failure; 2 usage error.")]
    Check {
        /// Print one JSON object on stdout: the check report, or
        /// `{"error": {"kind", "message"}}` when the check fails.
        #[arg(long)]
        json: bool,
        /// Exit with status 100 when an update is available (0 when up to date, 1 on failure).
        #[arg(long)]
        exit_code: bool,
    },
    /// Download and install the update once.
    Update {
        /// Install without asking.
        #[arg(long)]
        yes: bool,
    },
    /// Show the installed version and the engine state.
    Status {
        /// Print one JSON object on stdout: the status, or `{"error": {"kind", "message"}}`
        /// when it fails.
        #[arg(long)]
        json: bool,
    },
    /// Restore the previous version from its backup (kept until the next update) and mark the
    /// current one bad.
    Rollback,
}

impl Cli {
    /// Whether the command's result is JSON on stdout (`check --json`, `status --json`), so
    /// that a failure is also reported there as a JSON error object.
    pub fn json_output(&self) -> bool {
        matches!(
            self.command,
            Some(Command::Check { json: true, .. } | Command::Status { json: true })
        )
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// What a failing install hook does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HookFallback {
    /// The install fails with `install-failed`; the app is untouched.
    #[default]
    Fail,
    /// The built-in native plan installs instead (logged as a warning).
    Native,
}

/// Settings given as flags or in `tufd.toml` (every field is optional here; required ones are
/// checked when the config is resolved).
#[derive(Debug, Clone, Default, Args, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Flags {
    /// The app's name, as in its target names (`<app>-<version>.tar.gz`).
    #[arg(long, global = true, value_name = "NAME")]
    pub app_name: Option<String>,
    /// The installed version (PEP 440), as the app reports it.
    #[arg(long, global = true, value_name = "V")]
    pub current_version: Option<String>,
    /// A file holding the installed version, relative to the install folder (instead of
    /// `--current-version`).
    #[arg(long, global = true, value_name = "PATH")]
    pub version_file: Option<PathBuf>,
    /// The folder holding the installed app.
    #[arg(long, global = true, value_name = "DIR")]
    pub install_dir: Option<PathBuf>,
    /// The daemon's data folder (metadata, cache, downloads, staging, backup, journal, lock).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Base URL of the TUF metadata: http://, https:// or file:///abs/path/.
    #[arg(long, global = true, value_name = "URL")]
    pub metadata_url: Option<String>,
    /// Base URL of the targets: http://, https:// or file:///abs/path/.
    #[arg(long, global = true, value_name = "URL")]
    pub targets_url: Option<String>,
    /// The `1.root.json` the app ships (or any later trusted root, e.g. a tufup client's
    /// `root.json`); used on first run only, then `<data-dir>/metadata/root.json`.
    #[arg(long, global = true, value_name = "FILE")]
    pub trusted_root: Option<PathBuf>,
    /// Taking over a tufup install: the tufup client's target folder (its `target_dir`, holding
    /// `<app>-<version>.tar.gz`). With an empty data folder, the cached archive of the installed
    /// version is checked against the signed metadata (the archive's hash, or the signed
    /// `tar_hash` of the patch that produced it) and used as the patch base; otherwise the full
    /// archive is fetched and the log says why.
    #[arg(long, global = true, value_name = "DIR")]
    pub tufup_cache: Option<PathBuf>,
    /// Update channel: stable, rc, beta, alpha or dev. Default stable.
    #[arg(long, global = true, value_name = "CHANNEL")]
    pub channel: Option<String>,
    /// The platform whose releases to take, `<os>-<arch>` (`linux-x86_64`, `windows-x86_64`,
    /// `macos-aarch64`, …): the repository's `<platform>/` folder; another platform's targets
    /// are never considered. Default: the platform tufd was built for.
    #[arg(long, global = true, value_name = "OS-ARCH")]
    pub platform: Option<String>,
    /// Seconds between polls (±10% jitter); 0 never polls. Default 3600.
    #[arg(long, global = true, value_name = "SECONDS")]
    pub poll_interval: Option<u64>,
    /// A WASM install hook (`.wasm` component, docs/hooks.md); without one the built-in
    /// native plan installs. Reloaded when the file changes, without a restart.
    #[arg(long, global = true, value_name = "FILE")]
    pub hook: Option<PathBuf>,
    /// Time limit of one hook call, in milliseconds. Default 2000.
    #[arg(long, global = true, value_name = "MS")]
    pub hook_timeout_ms: Option<u64>,
    /// Linear memory limit of one hook call, in bytes. Default 67108864 (64 MiB).
    #[arg(long, global = true, value_name = "BYTES")]
    pub hook_memory_limit_bytes: Option<usize>,
    /// An absolute program outside the install folder that a plan may run or relaunch
    /// (repeat the flag for several; in the file, a list). Default none.
    #[arg(long, global = true, value_name = "PATH")]
    pub hook_allowed_programs: Option<Vec<String>>,
    /// What a failing hook does: `fail` the install (default) or use the built-in `native`
    /// plan instead.
    #[arg(long, global = true, value_name = "WHAT")]
    pub hook_fallback: Option<HookFallback>,
    /// Settings handed to the hook as `settings` (`[hook-settings]` table in the file).
    #[arg(skip)]
    pub hook_settings: Option<BTreeMap<String, String>>,
    /// One hook setting `KEY=VALUE` (repeatable); overrides the file's `[hook-settings]`.
    #[arg(long = "hook-setting", global = true, value_name = "KEY=VALUE")]
    #[serde(skip)]
    pub hook_setting: Vec<String>,
    /// Command line run after an install, split on whitespace; a relative program resolves
    /// inside the new install folder.
    #[arg(long, global = true, value_name = "CMD")]
    pub relaunch: Option<String>,
    /// A path inside the install folder (file or folder, relative) that the app writes and that
    /// must survive updates, e.g. `settings.ini` or `logs`: carried from the old version into
    /// the new one (repeat the flag for several; in the file, a list). Other files the app added
    /// go to the backup with the old version, and the log names them.
    #[arg(long, global = true, value_name = "PATH")]
    pub keep: Option<Vec<String>>,
    /// Overall time limit of one metadata request or download, retries included, in seconds;
    /// a download gets one more second per 16 KiB of its signed length. A server that stalls
    /// or drips is given up on with the error kind `timed-out`. Default 60.
    #[arg(long, global = true, value_name = "SECONDS")]
    pub network_timeout: Option<u64>,
    /// Most entries (files, folders, links) a release's archive may hold; a larger one is
    /// refused (`install-failed`) before it is installed. Default 1000000.
    #[arg(long, global = true, value_name = "N")]
    pub max_archive_entries: Option<u64>,
    /// Longest path (or symlink target) in a release's archive, in bytes; an archive with a
    /// longer one is refused (`install-failed`). Default 4096.
    #[arg(long, global = true, value_name = "BYTES")]
    pub max_archive_path_bytes: Option<usize>,
    /// The administrator's policy file for this app (default `/etc/tufd/<app>.toml`, on
    /// Windows `%ProgramData%\tufd\<app>.toml`): `disable = true`, `pin = "1.*"`,
    /// `channel = "stable"`. It wins over the app's own flags.
    #[arg(long, global = true, value_name = "FILE")]
    pub admin_policy: Option<PathBuf>,
    /// Wait for this process to exit before swapping folders.
    #[arg(long, global = true, value_name = "PID")]
    pub app_pid: Option<u32>,
    /// Sidecar: install an update found by any check without waiting for a request.
    #[arg(long, global = true)]
    #[serde(default)]
    pub auto_install: bool,
    /// A command (split on whitespace, run in the install folder; a relative program resolves
    /// inside it) that must exit 0 right after an install, else the previous version is
    /// restored and the new one marked bad. Default none.
    #[arg(long, global = true, value_name = "CMD")]
    pub health_command: Option<String>,
    /// Seconds a new version may stay unconfirmed (no `confirm` request) before it is rolled
    /// back; 0 or absent: no time limit. Also the health command's time limit (default 60).
    #[arg(long, global = true, value_name = "SECONDS")]
    pub health_timeout: Option<u64>,
    /// Daemon starts a new version may see unconfirmed; the next start rolls it back. Default
    /// no limit.
    #[arg(long, global = true, value_name = "N")]
    pub health_launches: Option<u32>,
    /// Log format on stderr or the log file. Default text.
    #[arg(long, global = true, value_name = "FORMAT")]
    pub log_format: Option<LogFormat>,
    /// Write logs to this file instead of stderr.
    #[arg(long, global = true, value_name = "FILE")]
    pub log_file: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn flags_go_before_or_after_the_subcommand() {
        let a = Cli::try_parse_from(["tufd", "--app-name", "demo", "check", "--json"]).unwrap();
        let b = Cli::try_parse_from(["tufd", "check", "--json", "--app-name", "demo"]).unwrap();
        for cli in [a, b] {
            assert_eq!(cli.flags.app_name.as_deref(), Some("demo"));
            assert!(matches!(
                cli.command,
                Some(Command::Check {
                    json: true,
                    exit_code: false
                })
            ));
            assert!(cli.json_output());
        }
        let none = Cli::try_parse_from(["tufd"]).unwrap();
        assert!(none.command.is_none());
        assert!(!none.json_output());
        let exit_code = Cli::try_parse_from(["tufd", "check", "--exit-code"]).unwrap();
        assert!(matches!(
            exit_code.command,
            Some(Command::Check {
                json: false,
                exit_code: true
            })
        ));
        assert!(!exit_code.json_output());
    }

    #[test]
    fn toml_keys_are_the_flag_names() {
        let flags: Flags = toml::from_str(
            "app-name = \"demo\"\npoll-interval = 0\nauto-install = true\nlog-format = \"json\"\n",
        )
        .unwrap();
        assert_eq!(flags.app_name.as_deref(), Some("demo"));
        assert_eq!(flags.poll_interval, Some(0));
        assert!(flags.auto_install);
        assert_eq!(flags.log_format, Some(LogFormat::Json));
        assert!(toml::from_str::<Flags>("no-such-key = 1").is_err());
    }

    #[test]
    fn tufup_takeover_settings_in_the_file_and_as_flags() {
        let flags: Flags = toml::from_str(
            "trusted-root = \"update_cache/metadata/root.json\"\n\
             tufup-cache = \"update_cache/targets\"\n",
        )
        .unwrap();
        assert_eq!(
            flags.tufup_cache,
            Some(PathBuf::from("update_cache/targets"))
        );
        let cli = Cli::try_parse_from(["tufd", "check", "--tufup-cache", "/c/targets"]).unwrap();
        assert_eq!(cli.flags.tufup_cache, Some(PathBuf::from("/c/targets")));
    }

    #[test]
    fn hook_keys_in_the_file_and_as_flags() {
        let flags: Flags = toml::from_str(
            "hook = \"h.wasm\"\nhook-timeout-ms = 500\nhook-memory-limit-bytes = 1048576\n\
             hook-allowed-programs = [\"/usr/bin/open\"]\nhook-fallback = \"native\"\n\
             [hook-settings]\nkeep = \"user-data\"\n",
        )
        .unwrap();
        assert_eq!(flags.hook_timeout_ms, Some(500));
        assert_eq!(flags.hook_memory_limit_bytes, Some(1 << 20));
        assert_eq!(
            flags.hook_allowed_programs,
            Some(vec!["/usr/bin/open".to_owned()])
        );
        assert_eq!(flags.hook_fallback, Some(HookFallback::Native));
        assert_eq!(
            flags.hook_settings.unwrap().get("keep").map(String::as_str),
            Some("user-data")
        );
        let cli = Cli::try_parse_from([
            "tufd",
            "--hook-allowed-programs=/a",
            "--hook-allowed-programs=/b",
            "--hook-setting=keep=logs",
            "--hook-fallback=fail",
        ])
        .unwrap();
        assert_eq!(
            cli.flags.hook_allowed_programs,
            Some(vec!["/a".to_owned(), "/b".to_owned()])
        );
        assert_eq!(cli.flags.hook_setting, ["keep=logs"]);
        assert_eq!(cli.flags.hook_fallback, Some(HookFallback::Fail));
    }
}
