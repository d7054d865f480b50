//! The command line of `tufd sidecar` as a builder: the daemon's flags (`docs/protocol.md`,
//! "Starting the sidecar"), turned into arguments.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How to start the sidecar: the program and its flags.
#[derive(Debug, Clone)]
pub struct SidecarOptions {
    program: PathBuf,
    args: Vec<OsString>,
}

impl SidecarOptions {
    /// `tufd sidecar` for app `app_name` at `current_version`, program `tufd` from `PATH`.
    pub fn new(app_name: &str, current_version: &str) -> Self {
        Self {
            program: PathBuf::from("tufd"),
            args: vec![
                "--app-name".into(),
                app_name.into(),
                "--current-version".into(),
                current_version.into(),
            ],
        }
    }

    /// The tufd program to run (default `tufd` from `PATH`).
    pub fn program(mut self, program: impl Into<PathBuf>) -> Self {
        self.program = program.into();
        self
    }

    fn flag(mut self, name: &str, value: impl Into<OsString>) -> Self {
        self.args.push(name.into());
        self.args.push(value.into());
        self
    }

    /// `--install-dir`: the folder holding the installed app.
    pub fn install_dir(self, dir: &Path) -> Self {
        self.flag("--install-dir", dir)
    }

    /// `--data-dir`: tufd's data folder for this app (one daemon per folder).
    pub fn data_dir(self, dir: &Path) -> Self {
        self.flag("--data-dir", dir)
    }

    /// `--metadata-url` (http://, https:// or file:///…, with a trailing slash).
    pub fn metadata_url(self, url: &str) -> Self {
        self.flag("--metadata-url", url)
    }

    /// `--targets-url` (http://, https:// or file:///…, with a trailing slash).
    pub fn targets_url(self, url: &str) -> Self {
        self.flag("--targets-url", url)
    }

    /// `--metadata-url <base>/metadata/` and `--targets-url <base>/targets/`, the layout
    /// `tufd-repo` publishes.
    pub fn repository(self, base_url: &str) -> Self {
        let base = base_url.trim_end_matches('/');
        self.metadata_url(&format!("{base}/metadata/"))
            .targets_url(&format!("{base}/targets/"))
    }

    /// `--trusted-root`: the `1.root.json` shipped with the app (used on first run only).
    pub fn trusted_root(self, file: &Path) -> Self {
        self.flag("--trusted-root", file)
    }

    /// `--tufup-cache`: the target folder of the tufup client that updated this install until
    /// now; its cached archive of the installed version, once verified, is the first patch base.
    pub fn tufup_cache(self, dir: &Path) -> Self {
        self.flag("--tufup-cache", dir)
    }

    /// `--channel`: `stable` (default), `rc`, `beta`, `alpha` or `dev`.
    pub fn channel(self, channel: &str) -> Self {
        self.flag("--channel", channel)
    }

    /// `--poll-interval` in whole seconds; zero never polls (default 3600 s).
    pub fn poll_interval(self, interval: Duration) -> Self {
        self.flag("--poll-interval", interval.as_secs().to_string())
    }

    /// `--app-pid`: tufd waits for this process to exit before swapping folders.
    pub fn app_pid(self, pid: u32) -> Self {
        self.flag("--app-pid", pid.to_string())
    }

    /// `--relaunch`: the command run after an install, split on whitespace by tufd (so no
    /// argument may contain spaces); a relative program resolves inside the install folder.
    pub fn relaunch(self, command: &str) -> Self {
        self.flag("--relaunch", command)
    }

    /// `--health-timeout` in whole seconds (at least 1): a new version stays on trial this long
    /// and is rolled back unless the app calls [`Client::confirm`](crate::Client::confirm)
    /// first.
    pub fn health_timeout(self, timeout: Duration) -> Self {
        self.flag("--health-timeout", timeout.as_secs().max(1).to_string())
    }

    /// `--auto-install`: install an update as soon as any check finds one.
    pub fn auto_install(mut self) -> Self {
        self.args.push("--auto-install".into());
        self
    }

    /// `--log-file`: tufd's logs go to this file instead of the app's stderr.
    pub fn log_file(self, file: &Path) -> Self {
        self.flag("--log-file", file)
    }

    /// Any other flag with its value.
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// The program to run.
    pub fn program_path(&self) -> &Path {
        &self.program
    }

    /// The full argument list: `sidecar` then every flag.
    pub fn args(&self) -> Vec<OsString> {
        let mut args = vec![OsString::from("sidecar")];
        args.extend(self.args.iter().cloned());
        args
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_the_documented_flags() {
        let opts = SidecarOptions::new("hello", "1.0")
            .program("/opt/tufd")
            .repository("http://127.0.0.1:8080/")
            .poll_interval(Duration::from_secs(0))
            .app_pid(42)
            .auto_install();
        let args: Vec<String> = opts
            .args()
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args,
            [
                "sidecar",
                "--app-name",
                "hello",
                "--current-version",
                "1.0",
                "--metadata-url",
                "http://127.0.0.1:8080/metadata/",
                "--targets-url",
                "http://127.0.0.1:8080/targets/",
                "--poll-interval",
                "0",
                "--app-pid",
                "42",
                "--auto-install"
            ]
        );
        assert_eq!(opts.program_path(), Path::new("/opt/tufd"));
    }
}
