//! The async client (feature `async`, tokio): spawns `tufd sidecar` with `tokio::process`,
//! a reader task settles answers by id and forwards notifications to an unbounded channel the
//! app polls in its own event loop (`docs/protocol.md` "Framing").

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::{mpsc, oneshot};

use crate::error::{ClientError, Result};
use crate::message::{
    Cancelled, CheckReport, Confirmed, ErrorAnswer, Incoming, Installed, Method, Notification,
    RolledBack, Staged, Status, decode_outcome, parse_incoming, request_line,
};
use crate::options::SidecarOptions;

type Outcome = std::result::Result<Value, ErrorAnswer>;
type Waiters = Arc<Mutex<Option<HashMap<u64, oneshot::Sender<Outcome>>>>>;

/// A running `tufd sidecar` child driven from async code.
///
/// Dropping it closes tufd's stdin (= shutdown); the child is not killed.
#[derive(Debug)]
pub struct AsyncClient {
    child: Child,
    stdin: tokio::sync::Mutex<Option<ChildStdin>>,
    waiters: Waiters,
    next_id: Mutex<u64>,
}

impl AsyncClient {
    /// Spawns tufd with `options` (stderr inherited) and returns the client and the stream of
    /// notifications. Must be called inside a tokio runtime.
    ///
    /// # Errors
    /// [`ClientError::Spawn`] when the program cannot be started.
    pub fn spawn(
        options: &SidecarOptions,
    ) -> Result<(Self, mpsc::UnboundedReceiver<Notification>)> {
        let mut command = Command::new(options.program_path());
        command.args(options.args());
        Self::spawn_command(command)
    }

    /// Like [`AsyncClient::spawn`] with a prepared command (stdin and stdout become pipes).
    ///
    /// # Errors
    /// [`ClientError::Spawn`] when the program cannot be started.
    pub fn spawn_command(
        mut command: Command,
    ) -> Result<(Self, mpsc::UnboundedReceiver<Notification>)> {
        let mut child = command
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .map_err(|source| ClientError::Spawn {
                program: command
                    .as_std()
                    .get_program()
                    .to_string_lossy()
                    .into_owned(),
                source,
            })?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout is piped");
        let waiters: Waiters = Arc::new(Mutex::new(Some(HashMap::new())));
        let (notes_tx, notes) = mpsc::unbounded_channel();
        let reader_waiters = Arc::clone(&waiters);
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                match parse_incoming(&line) {
                    Some(Incoming::Notification(note)) => {
                        let _ = notes_tx.send(note);
                    }
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
            reader_waiters
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
        });
        Ok((
            Self {
                child,
                stdin: tokio::sync::Mutex::new(stdin),
                waiters,
                next_id: Mutex::new(1),
            },
            notes,
        ))
    }

    /// Sends `method`; the returned receiver yields its answer.
    async fn send(&self, method: Method) -> Result<oneshot::Receiver<Outcome>> {
        let id = {
            let mut next = self.next_id.lock().unwrap_or_else(PoisonError::into_inner);
            let id = *next;
            *next += 1;
            id
        };
        let (tx, rx) = oneshot::channel();
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
        let mut stdin = self.stdin.lock().await;
        let written = match stdin.as_mut() {
            Some(pipe) => match pipe.write_all(line.as_bytes()).await {
                Ok(()) => pipe.flush().await,
                Err(e) => Err(e),
            },
            None => Err(std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "stdin already closed",
            )),
        };
        written.map_err(|source| ClientError::Write {
            method: method.as_str().to_owned(),
            source,
        })?;
        Ok(rx)
    }

    /// Sends `method` and waits at most `timeout` for its result.
    ///
    /// # Errors
    /// [`ClientError::Rpc`] for an error answer, [`ClientError::Timeout`],
    /// [`ClientError::Disconnected`], [`ClientError::Write`], [`ClientError::BadResult`].
    pub async fn call<T: DeserializeOwned>(&self, method: Method, timeout: Duration) -> Result<T> {
        let rx = self.send(method).await?;
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(outcome)) => decode_outcome(method, outcome),
            Ok(Err(_)) => Err(ClientError::Disconnected {
                method: method.as_str().to_owned(),
            }),
            Err(_) => Err(ClientError::Timeout {
                method: method.as_str().to_owned(),
                timeout,
            }),
        }
    }

    /// `status`.
    ///
    /// # Errors
    /// As [`AsyncClient::call`].
    pub async fn status(&self, timeout: Duration) -> Result<Status> {
        self.call(Method::Status, timeout).await
    }

    /// `check`.
    ///
    /// # Errors
    /// As [`AsyncClient::call`].
    pub async fn check(&self, timeout: Duration) -> Result<CheckReport> {
        self.call(Method::Check, timeout).await
    }

    /// `download`.
    ///
    /// # Errors
    /// As [`AsyncClient::call`].
    pub async fn download(&self, timeout: Duration) -> Result<Staged> {
        self.call(Method::Download, timeout).await
    }

    /// `install` (see [`crate::Client::install`] about `--app-pid`).
    ///
    /// # Errors
    /// As [`AsyncClient::call`].
    pub async fn install(&self, timeout: Duration) -> Result<Installed> {
        self.call(Method::Install, timeout).await
    }

    /// `confirm`: the new version works; commit it now instead of waiting for the health
    /// deadline (`--health-timeout`). Answers the version committed (`None`: none was on
    /// trial).
    ///
    /// # Errors
    /// As [`Self::call`].
    pub async fn confirm(&self, timeout: Duration) -> Result<Confirmed> {
        self.call(Method::Confirm, timeout).await
    }

    /// `rollback`: restore the previous version from its backup (relaunching it when tufd was
    /// started with a relaunch command). Answers the version installed again.
    ///
    /// # Errors
    /// As [`Self::call`]; kind `no-backup` when there is nothing to go back to.
    pub async fn rollback(&self, timeout: Duration) -> Result<RolledBack> {
        self.call(Method::Rollback, timeout).await
    }

    /// `cancel`.
    ///
    /// # Errors
    /// As [`AsyncClient::call`].
    pub async fn cancel(&self, timeout: Duration) -> Result<Cancelled> {
        self.call(Method::Cancel, timeout).await
    }

    /// `shutdown`, then waits at most `timeout` in all for tufd to exit (killed after that).
    /// Returns its exit status (`None` when it cannot be waited for).
    ///
    /// # Errors
    /// As [`AsyncClient::call`] (a tufd that exits before answering counts as shut down).
    pub async fn shutdown(mut self, timeout: Duration) -> Result<Option<std::process::ExitStatus>> {
        let start = tokio::time::Instant::now();
        match self.call::<Value>(Method::Shutdown, timeout).await {
            Ok(_) | Err(ClientError::Disconnected { .. }) => {}
            Err(e) => return Err(e),
        }
        self.stdin.lock().await.take();
        let left = timeout.saturating_sub(start.elapsed());
        match tokio::time::timeout(left, self.child.wait()).await {
            Ok(status) => Ok(status.ok()),
            Err(_) => {
                let _ = self.child.kill().await;
                Ok(self.child.wait().await.ok())
            }
        }
    }

    /// tufd's process id (`None` once it has been reaped).
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }
}
