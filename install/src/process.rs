//! Running a program to completion under a deadline: the one loop behind a plan's `run` step
//! and the health command. No shell; stdin and stdout are closed (stdout belongs to the
//! sidecar protocol).

use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How a program run with [`run_with_deadline`] ended.
#[derive(Debug)]
pub enum RunOutcome {
    /// It exited by itself.
    Exited(ExitStatus),
    /// It ran past the deadline and was killed.
    TimedOut,
}

/// Why a program could not be run or waited for.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The program could not be started.
    #[error("cannot start {}", program.display())]
    Start {
        /// The program.
        program: std::path::PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Waiting for it failed.
    #[error("waiting for {}", program.display())]
    Wait {
        /// The program.
        program: std::path::PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// Runs `program` with `args` in `cwd` (stdin, stdout and stderr closed) and waits for it at
/// most `timeout`, polling every 20 ms; a program still running then is killed and reaped.
///
/// # Errors
/// [`RunError`] when it cannot be started or waited for.
pub fn run_with_deadline(
    program: &Path,
    args: &[String],
    cwd: &Path,
    timeout: Duration,
) -> Result<RunOutcome, RunError> {
    let mut child = Command::new(program)
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|source| RunError::Start {
            program: program.to_path_buf(),
            source,
        })?;
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(RunOutcome::Exited(status)),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Ok(RunOutcome::TimedOut);
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(source) => {
                return Err(RunError::Wait {
                    program: program.to_path_buf(),
                    source,
                });
            }
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn exit_status_and_deadline_are_reported() {
        let cwd = std::env::temp_dir();
        let ok = run_with_deadline(Path::new("true"), &[], &cwd, Duration::from_secs(5)).unwrap();
        assert!(matches!(ok, RunOutcome::Exited(s) if s.success()));
        let slow = run_with_deadline(
            Path::new("sleep"),
            &["5".into()],
            &cwd,
            Duration::from_millis(100),
        )
        .unwrap();
        assert!(matches!(slow, RunOutcome::TimedOut));
        let missing = run_with_deadline(
            Path::new("/nonexistent/program"),
            &[],
            &cwd,
            Duration::from_secs(1),
        );
        assert!(matches!(missing, Err(RunError::Start { .. })));
    }
}
