//! The blocking client: spawns `tufd sidecar`, writes requests to its stdin from any thread,
//! and reads its stdout on one reader thread that settles answers by id and hands every
//! notification to the app's callback (`docs/protocol.md` "Framing").

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{ClientError, Result};
use crate::message::{
    Cancelled, CheckReport, Confirmed, ErrorAnswer, Incoming, Installed, Method, Notification,
    RolledBack, Staged, Status, decode_outcome, parse_incoming, request_line,
};
use crate::options::SidecarOptions;

type Outcome = std::result::Result<Value, ErrorAnswer>;
type Waiters = Arc<Mutex<Option<HashMap<u64, Sender<Outcome>>>>>;

/// A running `tufd sidecar` child and the conversation with it.
///
/// Dropping the client closes tufd's stdin, which tufd treats as `shutdown` (a swap in
/// progress is finished first); it does not wait for the process.
#[derive(Debug)]
pub struct Client {
    child: Child,
    stdin: Mutex<Option<ChildStdin>>,
    waiters: Waiters,
    next_id: Mutex<u64>,
}

/// A request sent without waiting; [`PendingCall::wait`] gets its answer.
#[derive(Debug)]
pub struct PendingCall {
    method: Method,
    answer: Receiver<Outcome>,
}

impl PendingCall {
    /// Waits at most `timeout` for the answer and decodes it as `T`.
    ///
    /// # Errors
    /// [`ClientError::Rpc`] for an error answer, [`ClientError::Timeout`],
    /// [`ClientError::Disconnected`] when tufd exited, [`ClientError::BadResult`].
    pub fn wait<T: DeserializeOwned>(&self, timeout: Duration) -> Result<T> {
        match self.answer.recv_timeout(timeout) {
            Ok(outcome) => decode_outcome(self.method, outcome),
            Err(RecvTimeoutError::Timeout) => Err(ClientError::Timeout {
                method: self.method.as_str().to_owned(),
                timeout,
            }),
            Err(RecvTimeoutError::Disconnected) => Err(ClientError::Disconnected {
                method: self.method.as_str().to_owned(),
            }),
        }
    }

    /// The answer if it has arrived, without waiting (`None` while pending).
    pub fn try_wait<T: DeserializeOwned>(&self) -> Option<Result<T>> {
        match self.answer.try_recv() {
            Ok(outcome) => Some(decode_outcome(self.method, outcome)),
            Err(std::sync::mpsc::TryRecvError::Empty) => None,
            Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                Some(Err(ClientError::Disconnected {
                    method: self.method.as_str().to_owned(),
                }))
            }
        }
    }
}

impl Client {
    /// Spawns tufd with `options`; `on_notification` runs on the reader thread for every
    /// notification (keep it short; send work to your own thread). tufd's stderr (its logs,
    /// unless `--log-file` is given) is inherited.
    ///
    /// # Errors
    /// [`ClientError::Spawn`] when the program cannot be started.
    pub fn spawn(
        options: &SidecarOptions,
        on_notification: impl FnMut(Notification) + Send + 'static,
    ) -> Result<Self> {
        let mut command = Command::new(options.program_path());
        command.args(options.args());
        Self::spawn_command(command, on_notification)
    }

    /// Like [`Client::spawn`] with a prepared command (its stdin and stdout are replaced by
    /// pipes; set stderr, environment or working folder as needed).
    ///
    /// # Errors
    /// [`ClientError::Spawn`] when the program cannot be started.
    pub fn spawn_command(
        mut command: Command,
        mut on_notification: impl FnMut(Notification) + Send + 'static,
    ) -> Result<Self> {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|source| ClientError::Spawn {
                program: command.get_program().to_string_lossy().into_owned(),
                source,
            })?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout is piped");
        let waiters: Waiters = Arc::new(Mutex::new(Some(HashMap::new())));
        let reader_waiters = Arc::clone(&waiters);
        std::thread::Builder::new()
            .name("tufd-client-reader".into())
            .spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    match parse_incoming(&line) {
                        Some(Incoming::Notification(note)) => on_notification(note),
                        Some(Incoming::Response {
                            id: Some(id),
                            outcome,
                        }) => {
                            let waiter = reader_waiters
                                .lock()
                                .unwrap_or_else(PoisonError::into_inner)
                                .as_mut()
                                .and_then(|w| w.remove(&id));
                            if let Some(waiter) = waiter {
                                let _ = waiter.send(outcome);
                            }
                        }
                        Some(Incoming::Response { id: None, .. }) | None => {}
                    }
                }
                // tufd is gone: every waiter sees its sender dropped (Disconnected), and no
                // new request can register.
                reader_waiters
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .take();
            })
            .map_err(|source| ClientError::Spawn {
                program: "tufd-client reader thread".into(),
                source,
            })?;
        Ok(Self {
            child,
            stdin: Mutex::new(stdin),
            waiters,
            next_id: Mutex::new(1),
        })
    }

    /// Sends `method` and returns at once.
    ///
    /// # Errors
    /// [`ClientError::Disconnected`] when tufd exited, [`ClientError::Write`] when writing fails.
    pub fn send(&self, method: Method) -> Result<PendingCall> {
        let id = {
            let mut next = self.next_id.lock().unwrap_or_else(PoisonError::into_inner);
            let id = *next;
            *next += 1;
            id
        };
        let (tx, answer) = channel();
        {
            let mut waiters = self.waiters.lock().unwrap_or_else(PoisonError::into_inner);
            let Some(waiters) = waiters.as_mut() else {
                return Err(ClientError::Disconnected {
                    method: method.as_str().to_owned(),
                });
            };
            waiters.insert(id, tx);
        }
        let mut line = request_line(id, method);
        line.push('\n');
        let mut stdin = self.stdin.lock().unwrap_or_else(PoisonError::into_inner);
        let written = match stdin.as_mut() {
            Some(pipe) => pipe.write_all(line.as_bytes()).and_then(|()| pipe.flush()),
            None => Err(std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "stdin already closed",
            )),
        };
        written.map_err(|source| ClientError::Write {
            method: method.as_str().to_owned(),
            source,
        })?;
        Ok(PendingCall { method, answer })
    }

    /// Sends `method` and waits at most `timeout` for its result.
    ///
    /// # Errors
    /// As [`Client::send`] and [`PendingCall::wait`].
    pub fn call<T: DeserializeOwned>(&self, method: Method, timeout: Duration) -> Result<T> {
        self.send(method)?.wait(timeout)
    }

    /// `status`, waiting at most `timeout`.
    ///
    /// # Errors
    /// As [`Client::call`].
    pub fn status(&self, timeout: Duration) -> Result<Status> {
        self.call(Method::Status, timeout)
    }

    /// `check`: refreshes the TUF metadata and plans.
    ///
    /// # Errors
    /// As [`Client::call`]; update errors (`network`, `expired-metadata`, …) as
    /// [`ClientError::Rpc`].
    pub fn check(&self, timeout: Duration) -> Result<CheckReport> {
        self.call(Method::Check, timeout)
    }

    /// `download`: downloads, verifies and stages the update.
    ///
    /// # Errors
    /// As [`Client::call`]; `no-update` when nothing is newer.
    pub fn download(&self, timeout: Duration) -> Result<Staged> {
        self.call(Method::Download, timeout)
    }

    /// `install`: swaps the staged update in. With `--app-pid` of this process tufd waits for
    /// it to exit first: use [`Client::send`] with [`Method::Install`], wait for
    /// [`crate::State::Installing`], then exit.
    ///
    /// # Errors
    /// As [`Client::call`].
    pub fn install(&self, timeout: Duration) -> Result<Installed> {
        self.call(Method::Install, timeout)
    }

    /// `confirm`: the new version works; commit it now instead of waiting for the health
    /// deadline (`--health-timeout`). Answers the version committed (`None`: none was on
    /// trial).
    ///
    /// # Errors
    /// As [`Self::call`].
    pub fn confirm(&self, timeout: Duration) -> Result<Confirmed> {
        self.call(Method::Confirm, timeout)
    }

    /// `rollback`: restore the previous version from its backup (relaunching it when tufd was
    /// started with a relaunch command). Answers the version installed again.
    ///
    /// # Errors
    /// As [`Self::call`]; kind `no-backup` when there is nothing to go back to.
    pub fn rollback(&self, timeout: Duration) -> Result<RolledBack> {
        self.call(Method::Rollback, timeout)
    }

    /// `cancel`: stops a running check or download.
    ///
    /// # Errors
    /// As [`Client::call`].
    pub fn cancel(&self, timeout: Duration) -> Result<Cancelled> {
        self.call(Method::Cancel, timeout)
    }

    /// `shutdown`, then waits for tufd to exit (at most `timeout` in all; killed after that).
    /// Returns its exit status (`None` when it cannot be waited for).
    ///
    /// # Errors
    /// As [`Client::call`] (a tufd that exits before answering counts as shut down).
    pub fn shutdown(mut self, timeout: Duration) -> Result<Option<ExitStatus>> {
        let start = Instant::now();
        match self.call::<Value>(Method::Shutdown, timeout) {
            Ok(_) | Err(ClientError::Disconnected { .. }) => {}
            Err(e) => return Err(e),
        }
        Ok(self.close_and_wait(timeout.saturating_sub(start.elapsed())))
    }

    /// Closes tufd's stdin (= shutdown) and waits at most `timeout` for it to exit; kills it
    /// after that. Returns its exit status (`None` when it cannot be waited for).
    pub fn close_and_wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        self.close_stdin();
        let deadline = Instant::now() + timeout;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return Some(status),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                _ => {
                    let _ = self.child.kill();
                    return self.child.wait().ok();
                }
            }
        }
    }

    /// Closes tufd's stdin: end of input is a `shutdown`.
    pub fn close_stdin(&self) {
        self.stdin
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }

    /// tufd's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.close_stdin();
    }
}
