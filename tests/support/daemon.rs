//! Runs the real `tufd` for a test: one [`Client`] holds the flags of an installed app
//! (docs/protocol.md, "Starting the sidecar": `--app-name`, `--current-version` or
//! `--version-file`, `--install-dir`, `--data-dir`, `--metadata-url`, `--targets-url`,
//! `--trusted-root`, …) and turns them into the one-shot commands `tufd check --json` /
//! `tufd update --yes` or a spawned `tufd sidecar` (docs/protocol.md, "One-shot commands").

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::bins;
use super::process::{RunOutput, run};
use super::repo::Repo;
use super::sidecar::Sidecar;

/// Time limit of one `tufd check` / `tufd update`.
pub const DAEMON_TIMEOUT: Duration = Duration::from_secs(300);

/// How the app's installed copy reports its version to `tufd`.
#[derive(Debug, Clone)]
pub enum VersionSource {
    /// `--current-version V`.
    Flag(String),
    /// `--version-file PATH` (relative to the install folder).
    File(String),
}

/// The flags of one installed app and its tufd data folder.
#[derive(Debug, Clone)]
pub struct Client {
    /// `--app-name`.
    pub app: String,
    /// `--current-version` or `--version-file`.
    pub version: VersionSource,
    /// `--install-dir`.
    pub install_dir: PathBuf,
    /// `--data-dir`.
    pub data_dir: PathBuf,
    /// `--metadata-url` (trailing slash).
    pub metadata_url: String,
    /// `--targets-url` (trailing slash).
    pub targets_url: String,
    /// `--trusted-root` (the `1.root.json` the app ships).
    pub trusted_root: PathBuf,
    /// Further flags, e.g. `--poll-interval 0`.
    pub extra: Vec<String>,
}

impl Client {
    /// A client of `repo`'s app at `metadata_url`/`targets_url`, installed in `root/install`
    /// with data in `root/data` (neither created), claiming `current` as its version.
    pub fn new(
        repo: &Repo,
        root: &Path,
        metadata_url: &str,
        targets_url: &str,
        current: &str,
    ) -> Self {
        Self {
            app: super::bundle::APP.to_owned(),
            version: VersionSource::Flag(current.to_owned()),
            install_dir: root.join("install"),
            data_dir: root.join("data"),
            metadata_url: metadata_url.to_owned(),
            targets_url: targets_url.to_owned(),
            trusted_root: repo.root_json(),
            extra: Vec::new(),
        }
    }

    /// Sets the version flag to `--current-version current`.
    pub fn with_current(mut self, current: &str) -> Self {
        self.version = VersionSource::Flag(current.to_owned());
        self
    }

    /// The global flags, spelled as in docs/protocol.md, "Starting the sidecar".
    pub fn flags(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec!["--app-name".into(), self.app.clone().into()];
        match &self.version {
            VersionSource::Flag(v) => args.extend(["--current-version".into(), v.into()]),
            VersionSource::File(f) => args.extend(["--version-file".into(), f.into()]),
        }
        args.extend([
            "--install-dir".into(),
            self.install_dir.clone().into_os_string(),
            "--data-dir".into(),
            self.data_dir.clone().into_os_string(),
            "--metadata-url".into(),
            self.metadata_url.clone().into(),
            "--targets-url".into(),
            self.targets_url.clone().into(),
            "--trusted-root".into(),
            self.trusted_root.clone().into_os_string(),
        ]);
        args.extend(self.extra.iter().map(OsString::from));
        args
    }

    /// `tufd <subcommand…> <flags>` with `RUST_LOG=info` (logs go to stderr).
    pub fn command(&self, subcommand: &[&str]) -> Command {
        let mut cmd = Command::new(bins::tufd());
        cmd.args(subcommand)
            .args(self.flags())
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1");
        cmd
    }

    /// Runs `tufd check --json`; returns the process output.
    pub fn check(&self) -> RunOutput {
        run(&mut self.command(&["check", "--json"]), DAEMON_TIMEOUT)
    }

    /// Runs `tufd check --json`, asserts exit 0 and returns the parsed JSON object of stdout.
    ///
    /// # Panics
    /// When it fails or stdout is not one JSON object.
    #[track_caller]
    pub fn check_json(&self) -> serde_json::Value {
        let out = self.check();
        out.assert_success();
        serde_json::from_str(out.stdout.trim())
            .unwrap_or_else(|e| panic!("`tufd check --json` stdout is not JSON ({e}): {out}"))
    }

    /// Runs `tufd update --yes`; returns the process output (not checked).
    pub fn update(&self) -> RunOutput {
        run(&mut self.command(&["update", "--yes"]), DAEMON_TIMEOUT)
    }

    /// Spawns `tufd sidecar <flags> <extra>` with piped stdin/stdout; stderr goes to
    /// `<data-dir>/../sidecar-<n>.log`.
    pub fn spawn_sidecar(&self, extra: &[&str]) -> Sidecar {
        let mut cmd = self.command(&["sidecar"]);
        cmd.args(extra);
        let parent = self.data_dir.parent().unwrap_or(&self.data_dir);
        std::fs::create_dir_all(parent).expect("create client folder");
        let log = (0..)
            .map(|n| parent.join(format!("sidecar-{n}.log")))
            .find(|p| !p.exists())
            .expect("a free log name");
        Sidecar::spawn(cmd, &log)
    }
}
