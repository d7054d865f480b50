//! Support for the example apps (`examples/`) and the guide (`docs/guide.md`): the system Python,
//! the Rust example app's binary (built on first use), and [`GroupChild`], a child started in its
//! own process group with its output in files — an app spawns tufd, and tufd relaunches the app, so
//! the whole group is killed when the test ends, whichever way it ends.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::bins;
use super::process::{describe, run};

/// The system Python: `/usr/bin/python3` when present (Debian's, no extra packages), else
/// `python3` on `PATH`.
pub fn system_python() -> PathBuf {
    let debian = Path::new("/usr/bin/python3");
    if debian.is_file() {
        debian.to_path_buf()
    } else {
        PathBuf::from("python3")
    }
}

/// The `hello_rs` binary of `examples/rust-app`, built once per test process with
/// `cargo build -p tufd-example-rust-app` into the folder of the other binaries (taken as it is
/// when `TUFD_E2E_NO_BUILD` or `TUFD_BIN_DIR` is set, as [`bins`] does).
///
/// # Panics
/// When the build fails.
pub fn rust_example_app() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let dir = bins::bin_dir().to_path_buf();
        let path = dir.join("hello_rs");
        if std::env::var_os("TUFD_E2E_NO_BUILD").is_some()
            || std::env::var_os("TUFD_BIN_DIR").is_some()
        {
            assert!(
                path.is_file(),
                "{} missing; run `cargo build -p tufd-example-rust-app` first",
                path.display()
            );
            return path;
        }
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(bins::workspace_root())
            .args(["build", "-p", "tufd-example-rust-app"]);
        if dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        if let Some(target) = dir.parent() {
            cmd.env("CARGO_TARGET_DIR", target);
        }
        let out = run(&mut cmd, Duration::from_secs(1800));
        assert!(out.status.success(), "building hello_rs failed: {out}");
        assert!(path.is_file(), "{} missing after the build", path.display());
        path
    })
    .clone()
}

/// A child process in its own process group, stdout and stderr written to files; the whole
/// group (the child and everything it started that kept the group) gets SIGKILL on drop.
#[derive(Debug)]
pub struct GroupChild {
    child: Child,
    status: Option<ExitStatus>,
    command: String,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl GroupChild {
    /// Spawns `cmd` (stdin from `/dev/null`) in a new process group; its output goes to
    /// `<log_prefix>.stdout` and `<log_prefix>.stderr`.
    ///
    /// # Panics
    /// When the files cannot be created or the program cannot be started.
    pub fn spawn(cmd: &mut Command, log_prefix: &Path) -> Self {
        let command = describe(cmd);
        let stdout = log_prefix.with_extension("stdout");
        let stderr = log_prefix.with_extension("stderr");
        let out = std::fs::File::create(&stdout).expect("create stdout log");
        let err = std::fs::File::create(&stderr).expect("create stderr log");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `{command}`: {e}"));
        Self {
            child,
            status: None,
            command,
            stdout,
            stderr,
        }
    }

    /// Waits at most `timeout` for the child itself (not its group) to exit.
    ///
    /// # Panics
    /// On time-out, with everything it printed.
    #[track_caller]
    pub fn wait(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                self.status = Some(status);
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "still running after {} s: {}",
                timeout.as_secs(),
                self.report()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// What it wrote to stdout so far.
    pub fn stdout(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    /// What it (and the processes that inherited its stderr) wrote to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Command line and output, for failure messages.
    pub fn report(&self) -> String {
        format!(
            "`{}` ({:?})\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.command,
            self.status,
            self.stdout(),
            self.stderr()
        )
    }
}

impl Drop for GroupChild {
    fn drop(&mut self) {
        // The group id is the child's pid (process_group(0)). Kill the group first: the child
        // may have exited while tufd or a relaunched app of the same group still run.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_child_kills_grandchildren_on_drop() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let pid_file = tmp.path().join("grandchild.pid");
        let script = format!("sleep 60 & echo $! > {}; echo started", pid_file.display());
        let mut child = GroupChild::spawn(
            Command::new("sh").args(["-c", &script]),
            &tmp.path().join("sh"),
        );
        assert!(child.wait(Duration::from_secs(10)).success());
        assert_eq!(child.stdout(), "started\n");
        let pid = std::fs::read_to_string(&pid_file).expect("pid file");
        let pid = pid.trim();
        assert!(
            Path::new(&format!("/proc/{pid}")).exists(),
            "sleep not running"
        );
        drop(child);
        let gone = super::super::wait_for(Duration::from_secs(5), || {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            // Gone, or a zombie waiting for init to reap it.
            (stat.is_empty() || stat.contains(") Z ")).then_some(())
        });
        assert!(gone.is_some(), "grandchild {pid} survived the group kill");
    }
}
