//! The cross-built `tufd.exe` under Wine, for tests/e2e/windows.rs.
//!
//! [`toolchain`] finds what those tests need, once per test process:
//! - Wine: `$WINE`, else Debian's `/usr/lib/wine/wine64`, else `wine64` or `wine` on `PATH`,
//!   and its `wineserver`;
//! - `x86_64-w64-mingw32-gcc`, which builds the test app `tests/windows/app.c` (one exe per
//!   version, see [`Toolchain::app_exe`]) and the `ProcessPrng` shim
//!   `tests/windows/bcryptprimitives.c` (Wine 8.0 lacks that export, Rust's standard library
//!   imports it); the shim's folder is put on `WINEPATH`, so no bundle has to carry it;
//! - the cross-built `tufd.exe`: `$TUFD_WINDOWS_EXE`, else
//!   `$HOME/.cache/tufd-target-win/x86_64-pc-windows-gnu/debug/tufd.exe` (scripts/test.sh builds
//!   it and sets the variable).
//!
//! When something is missing, [`toolchain`] prints one line saying what and how to get it and
//! returns `None` (the test then returns), unless `TUFD_REQUIRE_WINE=1` (scripts/test.sh sets
//! it): then it panics.
//!
//! Each test gets its own [`Wine`] prefix, a (mostly hard-linked) copy of one template prefix
//! kept in `<target>/wine-e2e/` (creating a prefix takes seconds, linking it a fraction of one);
//! every process of the prefix is killed with `wineserver -k` when the [`Wine`] value drops. Programs
//! get Windows paths: [`win_path`] turns `/tmp/x` into `Z:\tmp\x`.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use super::bins::workspace_root;
use super::process::{ChildGuard, RunOutput, run};

/// Time limit of one command under Wine (`tufd.exe update` of a debug build included).
pub const WINE_TIMEOUT: Duration = Duration::from_secs(300);

/// Set to `1` to make a missing Wine, mingw-w64 or `tufd.exe` fail the Windows tests instead of
/// skipping them.
pub const REQUIRE_ENV: &str = "TUFD_REQUIRE_WINE";

/// Where the cross-built `tufd.exe` is, when not in its default place.
pub const EXE_ENV: &str = "TUFD_WINDOWS_EXE";

/// The tools the Windows tests run, found once per test process.
#[derive(Debug)]
pub struct Toolchain {
    wine: PathBuf,
    wineserver: PathBuf,
    gcc: PathBuf,
    tufd_exe: PathBuf,
    /// `<target>/wine-e2e`: the shim, the app builds, the template prefix.
    work: PathBuf,
    apps: Mutex<HashMap<String, PathBuf>>,
    template: OnceLock<PathBuf>,
    shim: OnceLock<PathBuf>,
    stripped: OnceLock<PathBuf>,
}

/// The tool chain, or `None` after printing one line that says what is missing.
///
/// # Panics
/// When something is missing and `TUFD_REQUIRE_WINE=1`.
pub fn toolchain() -> Option<&'static Toolchain> {
    static TOOLS: OnceLock<Result<Toolchain, String>> = OnceLock::new();
    match TOOLS.get_or_init(find_tools) {
        Ok(tools) => Some(tools),
        Err(missing) => {
            let required = std::env::var(REQUIRE_ENV).is_ok_and(|v| v == "1");
            assert!(!required, "{REQUIRE_ENV}=1 but {missing}");
            println!("skipped (Windows test under Wine): {missing}");
            None
        }
    }
}

fn find_tools() -> Result<Toolchain, String> {
    let mut missing = Vec::new();
    let wine = std::env::var_os("WINE")
        .map(PathBuf::from)
        .or_else(|| existing("/usr/lib/wine/wine64"))
        .or_else(|| in_path("wine64"))
        .or_else(|| in_path("wine"));
    let wineserver = existing("/usr/lib/wine/wineserver").or_else(|| in_path("wineserver"));
    if wine.is_none() || wineserver.is_none() {
        missing.push("Wine (Debian: apt-get install wine64)".to_owned());
    }
    let gcc = in_path("x86_64-w64-mingw32-gcc");
    if gcc.is_none() {
        missing.push(
            "x86_64-w64-mingw32-gcc (Debian: apt-get install gcc-mingw-w64-x86-64)".to_owned(),
        );
    }
    let tufd_exe = std::env::var_os(EXE_ENV).map_or_else(
        || {
            let home = std::env::var_os("HOME").unwrap_or_default();
            Path::new(&home).join(".cache/tufd-target-win/x86_64-pc-windows-gnu/debug/tufd.exe")
        },
        PathBuf::from,
    );
    if !tufd_exe.is_file() {
        missing.push(format!(
            "{} (build it with `CARGO_TARGET_DIR=$HOME/.cache/tufd-target-win cargo build \
             --target x86_64-pc-windows-gnu -p tufd`, or point {EXE_ENV} at one)",
            tufd_exe.display()
        ));
    }
    if !missing.is_empty() {
        return Err(format!(
            "missing {}; scripts/test.sh installs and builds all of it",
            missing.join(", ")
        ));
    }
    let work = tufd_testkit::hooks::target_dir().join("wine-e2e");
    std::fs::create_dir_all(&work).map_err(|e| format!("create {}: {e}", work.display()))?;
    Ok(Toolchain {
        wine: wine.expect("checked"),
        wineserver: wineserver.expect("checked"),
        gcc: gcc.expect("checked"),
        tufd_exe,
        work,
        apps: Mutex::new(HashMap::new()),
        template: OnceLock::new(),
        shim: OnceLock::new(),
        stripped: OnceLock::new(),
    })
}

fn existing(path: &str) -> Option<PathBuf> {
    Path::new(path).is_file().then(|| PathBuf::from(path))
}

fn in_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// `Z:` + the absolute Linux path with backslashes: how a Wine program names a Linux file.
///
/// # Panics
/// When `path` is relative or not UTF-8.
pub fn win_path(path: &Path) -> String {
    assert!(path.is_absolute(), "not absolute: {}", path.display());
    let text = path.to_str().expect("test paths are utf-8");
    format!("Z:{}", text.replace('/', "\\"))
}

impl Toolchain {
    /// The cross-built `tufd.exe`.
    pub fn tufd_exe(&self) -> &Path {
        &self.tufd_exe
    }

    /// A copy of `tufd.exe` without its debug information (`x86_64-w64-mingw32-strip`; a debug
    /// build is ~220 MB, stripped ~45 MB), made once per process: what a test ships inside a
    /// bundle.
    ///
    /// # Panics
    /// When strip fails.
    pub fn tufd_exe_stripped(&self) -> &Path {
        self.stripped.get_or_init(|| {
            let strip = self.gcc.with_file_name("x86_64-w64-mingw32-strip");
            let out = self.work.join("tufd-stripped.exe");
            let tmp = out.with_extension(format!("{}.tmp", std::process::id()));
            let mut cmd = Command::new(&strip);
            cmd.arg("-o").arg(&tmp).arg(&self.tufd_exe);
            run(&mut cmd, Duration::from_secs(120)).assert_success();
            std::fs::rename(&tmp, &out).expect("rename stripped tufd.exe");
            out
        })
    }

    /// `tests/windows/app.c` built with `-DAPP_VERSION="<version>"` (once per process).
    ///
    /// # Panics
    /// When gcc fails.
    pub fn app_exe(&self, version: &str) -> PathBuf {
        let mut apps = self.apps.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(exe) = apps.get(version) {
            return exe.clone();
        }
        let exe = self.work.join(format!("app-{version}.exe"));
        self.gcc(
            &exe,
            &[
                "-O2".as_ref(),
                format!("-DAPP_VERSION=\"{version}\"").as_ref(),
                workspace_root().join("tests/windows/app.c").as_os_str(),
            ],
        );
        apps.insert(version.to_owned(), exe.clone());
        exe
    }

    /// The folder holding the `ProcessPrng` shim `bcryptprimitives.dll` (built once).
    ///
    /// # Panics
    /// When gcc fails.
    pub fn shim_dir(&self) -> &Path {
        self.shim.get_or_init(|| {
            let dir = self.work.join("shim");
            std::fs::create_dir_all(&dir).expect("create shim folder");
            self.gcc(
                &dir.join("bcryptprimitives.dll"),
                &[
                    "-shared".as_ref(),
                    "-O2".as_ref(),
                    workspace_root()
                        .join("tests/windows/bcryptprimitives.c")
                        .as_os_str(),
                    "-ladvapi32".as_ref(),
                ],
            );
            dir
        })
    }

    /// Runs mingw gcc with `args` into a temporary file renamed to `out` (so a concurrent run
    /// never sees half a file).
    fn gcc(&self, out: &Path, args: &[&OsStr]) {
        let tmp = out.with_extension(format!("{}.tmp", std::process::id()));
        let mut cmd = Command::new(&self.gcc);
        cmd.args(args).arg("-o").arg(&tmp);
        run(&mut cmd, Duration::from_secs(120)).assert_success();
        std::fs::rename(&tmp, out).unwrap_or_else(|e| panic!("rename to {}: {e}", out.display()));
    }

    /// A Wine prefix made once and kept in `<target>/wine-e2e/prefix-<wine version>` (the
    /// first `wine` run in an empty folder sets one up, which takes seconds).
    fn template(&self) -> &Path {
        self.template.get_or_init(|| {
            let version = Command::new(&self.wine)
                .arg("--version")
                .output()
                .map(|o| {
                    String::from_utf8_lossy(&o.stdout)
                        .trim()
                        .chars()
                        .map(|c| {
                            if c.is_ascii_alphanumeric() || c == '.' {
                                c
                            } else {
                                '_'
                            }
                        })
                        .collect::<String>()
                })
                .unwrap_or_default();
            let template = self.work.join(format!("prefix-{version}"));
            if template.join(".tufd-ready").is_file() {
                return template;
            }
            let fresh = self.work.join(format!("prefix-new-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&fresh);
            std::fs::create_dir_all(&fresh).expect("create prefix folder");
            let mut boot = Command::new(&self.wine);
            boot.args(["cmd", "/c", "exit"]);
            env(&mut boot, &fresh, None);
            let out = run(&mut boot, WINE_TIMEOUT);
            kill_server(&self.wineserver, &fresh);
            assert!(
                fresh.join("system.reg").is_file(),
                "wine did not set up a prefix in {}: {out}",
                fresh.display()
            );
            std::fs::write(fresh.join(".tufd-ready"), b"").expect("mark prefix");
            let _ = std::fs::remove_dir_all(&template);
            std::fs::rename(&fresh, &template).expect("rename prefix");
            template
        })
    }
}

fn env(cmd: &mut Command, prefix: &Path, shim: Option<&Path>) {
    cmd.env("WINEPREFIX", prefix)
        .env("WINEDEBUG", "-all")
        .env("WINEDLLOVERRIDES", "mscoree,mshtml=")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY");
    if let Some(shim) = shim {
        cmd.env("WINEPATH", win_path(shim));
    }
}

fn kill_server(wineserver: &Path, prefix: &Path) {
    let mut cmd = Command::new(wineserver);
    cmd.arg("-k");
    env(&mut cmd, prefix, None);
    let _ = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// One test's Wine prefix; `wineserver -k` ends every process in it on drop.
#[derive(Debug)]
pub struct Wine {
    tools: &'static Toolchain,
    prefix: PathBuf,
}

impl Wine {
    /// A prefix in `dir/wineprefix`: a copy of the template whose `drive_c` (~700 MB of Wine's
    /// DLLs, which no test writes to) is hard-linked when the file system allows, copied
    /// otherwise; the registry files at its top are real copies (wineserver rewrites them).
    ///
    /// # Panics
    /// When the template cannot be made or copied.
    pub fn new(tools: &'static Toolchain, dir: &Path) -> Self {
        let template = tools.template();
        let prefix = dir.join("wineprefix");
        let linked = Command::new("cp")
            .arg("-al")
            .arg(template)
            .arg(&prefix)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if linked {
            for entry in std::fs::read_dir(&prefix).expect("read prefix") {
                let path = entry.expect("prefix entry").path();
                if std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file()) {
                    let bytes = std::fs::read(&path).expect("read prefix file");
                    std::fs::remove_file(&path).expect("unlink prefix file");
                    std::fs::write(&path, bytes).expect("write prefix file");
                }
            }
        } else {
            let _ = std::fs::remove_dir_all(&prefix);
            let mut cmd = Command::new("cp");
            cmd.arg("-a").arg(template).arg(&prefix);
            run(&mut cmd, Duration::from_secs(300)).assert_success();
        }
        // Debian's Wine names the prefix's server folder in this file; a copy gets its own.
        let _ = std::fs::remove_file(prefix.join("wineserver"));
        Self { tools, prefix }
    }

    /// The tool chain.
    pub fn tools(&self) -> &'static Toolchain {
        self.tools
    }

    /// `wine <exe>` in this prefix, the shim on `WINEPATH`, no Wine debug output.
    pub fn command(&self, exe: &Path) -> Command {
        let mut cmd = Command::new(&self.tools.wine);
        cmd.arg(exe);
        env(&mut cmd, &self.prefix, Some(self.tools.shim_dir()));
        cmd
    }

    /// Runs `exe args…` to completion (at most [`WINE_TIMEOUT`]).
    pub fn run(&self, exe: &Path, args: &[&str]) -> RunOutput {
        run(self.command(exe).args(args), WINE_TIMEOUT)
    }

    /// Starts `cmd` (made by [`Wine::command`] or [`WinClient::command`]) in the background,
    /// stdin closed, stdout and stderr appended to `log`.
    ///
    /// # Panics
    /// When it cannot be started.
    pub fn spawn(&self, mut cmd: Command, log: &Path) -> ChildGuard {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap_or_else(|e| panic!("open {}: {e}", log.display()));
        let name = super::process::describe(&cmd);
        let child = cmd
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("dup log"))
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `{name}`: {e}"));
        ChildGuard::new(child, name)
    }

    /// Waits at most `timeout` until no process runs in this prefix (`wineserver -w`); whether
    /// they all ended.
    pub fn wait_idle(&self, timeout: Duration) -> bool {
        let mut cmd = Command::new(&self.tools.wineserver);
        cmd.arg("-w");
        env(&mut cmd, &self.prefix, None);
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start wineserver -w");
        let mut guard = ChildGuard::new(child, "wineserver -w");
        guard.wait_timeout(timeout).is_some()
    }
}

impl Drop for Wine {
    fn drop(&mut self) {
        kill_server(&self.tools.wineserver, &self.prefix);
    }
}

/// The flags of an app installed for `tufd.exe` (docs/protocol.md, "Starting the sidecar"),
/// given to it as Windows paths.
#[derive(Debug, Clone)]
pub struct WinClient {
    /// `--app-name`.
    pub app: String,
    /// `--current-version`.
    pub current: String,
    /// `--install-dir` (Linux path).
    pub install_dir: PathBuf,
    /// `--data-dir` (Linux path).
    pub data_dir: PathBuf,
    /// `--metadata-url`.
    pub metadata_url: String,
    /// `--targets-url`.
    pub targets_url: String,
    /// `--trusted-root` (Linux path).
    pub trusted_root: PathBuf,
    /// Further flags, passed as they are.
    pub extra: Vec<String>,
}

impl WinClient {
    /// Every flag, paths as `Z:\…`.
    pub fn flags(&self) -> Vec<String> {
        let mut flags = vec![
            "--app-name".to_owned(),
            self.app.clone(),
            "--current-version".to_owned(),
            self.current.clone(),
            "--install-dir".to_owned(),
            win_path(&self.install_dir),
            "--data-dir".to_owned(),
            win_path(&self.data_dir),
            "--metadata-url".to_owned(),
            self.metadata_url.clone(),
            "--targets-url".to_owned(),
            self.targets_url.clone(),
            "--trusted-root".to_owned(),
            win_path(&self.trusted_root),
        ];
        flags.extend(self.extra.iter().cloned());
        flags
    }

    /// `tufd.exe <subcommand…> <flags> <more…>` under `wine`, logging at info level.
    pub fn command(&self, wine: &Wine, subcommand: &[&str], more: &[&str]) -> Command {
        let mut cmd = wine.command(wine.tools().tufd_exe());
        cmd.args(subcommand)
            .args(self.flags())
            .args(more)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1");
        cmd
    }

    /// Runs `tufd.exe <subcommand…> <flags> <more…>` to completion.
    pub fn run(&self, wine: &Wine, subcommand: &[&str], more: &[&str]) -> RunOutput {
        run(&mut self.command(wine, subcommand, more), WINE_TIMEOUT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn win_path_maps_linux_paths_to_drive_z() {
        assert_eq!(win_path(Path::new("/tmp/x/y.txt")), "Z:\\tmp\\x\\y.txt");
    }
}
