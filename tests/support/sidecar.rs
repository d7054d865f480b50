//! A driver for `tufd sidecar`: the test plays the app, writing JSON-RPC 2.0 requests to the
//! daemon's stdin, one per line, and reading its stdout line by line on a reader thread, so
//! every wait has a time limit. Everything received is kept in order, so a test can assert the
//! sequence of notifications (docs/protocol.md, "Framing" and "Notifications").

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::process::{ChildGuard, describe};

/// A running `tufd sidecar` child, killed on drop.
#[derive(Debug)]
pub struct Sidecar {
    guard: ChildGuard,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    messages: Vec<Value>,
    next_id: u64,
    stderr_path: PathBuf,
    command: String,
    null_id_cursor: usize,
}

impl Sidecar {
    /// Spawns `cmd` with piped stdin/stdout and stderr written to `stderr_path`.
    ///
    /// # Panics
    /// When the program cannot be started.
    pub fn spawn(mut cmd: Command, stderr_path: &Path) -> Self {
        let command = describe(&cmd);
        let log = File::create(stderr_path).expect("create sidecar log");
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `{command}`: {e}"));
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            guard: ChildGuard::new(child, "tufd sidecar"),
            stdin,
            lines,
            messages: Vec::new(),
            next_id: 1,
            stderr_path: stderr_path.to_path_buf(),
            command,
            null_id_cursor: 0,
        }
    }

    /// Writes one raw line (a newline is added).
    ///
    /// # Panics
    /// When stdin is closed or the write fails.
    pub fn send_raw(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin already closed");
        writeln!(stdin, "{line}")
            .and_then(|()| stdin.flush())
            .expect("write to sidecar stdin");
    }

    /// Sends request `method` with `params` (omitted when `None`); returns its id.
    pub fn request(&mut self, method: &str, params: Option<Value>) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let mut message = json!({"jsonrpc": "2.0", "id": id, "method": method});
        if let Some(params) = params {
            message["params"] = params;
        }
        self.send_raw(&message.to_string());
        id
    }

    /// Sends a request and waits up to `timeout` for its response.
    ///
    /// Returns `Ok(result)` or `Err(error object)`.
    ///
    /// # Panics
    /// When no response arrives in time.
    #[track_caller]
    pub fn call(
        &mut self,
        method: &str,
        params: Option<Value>,
        timeout: Duration,
    ) -> Result<Value, Value> {
        let id = self.request(method, params);
        let response = self.wait_response(&json!(id), timeout);
        match response.get("error") {
            Some(error) => Err(error.clone()),
            None => Ok(response.get("result").cloned().unwrap_or(Value::Null)),
        }
    }

    /// Waits up to `timeout` for the response with `id` (for `null`, the next one not yet
    /// returned) and returns the whole response object.
    ///
    /// # Panics
    /// When it does not arrive in time.
    #[track_caller]
    pub fn wait_response(&mut self, id: &Value, timeout: Duration) -> Value {
        let from = if id.is_null() { self.null_id_cursor } else { 0 };
        let found = self.wait_message(from, timeout, |m| m.get("id") == Some(id));
        match found {
            Some((index, message)) => {
                if id.is_null() {
                    self.null_id_cursor = index + 1;
                }
                message
            }
            None => panic!(
                "no response with id {id} within {} s; {}",
                timeout.as_secs(),
                self.report()
            ),
        }
    }

    /// Waits up to `timeout` for a message at index `from` or later that satisfies `pred`;
    /// returns its index and a copy.
    pub fn wait_message(
        &mut self,
        from: usize,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Option<(usize, Value)> {
        let deadline = Instant::now() + timeout;
        let mut scanned = from;
        loop {
            while scanned < self.messages.len() {
                if pred(&self.messages[scanned]) {
                    return Some((scanned, self.messages[scanned].clone()));
                }
                scanned += 1;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let message = serde_json::from_str(&line).unwrap_or_else(|e| {
                        panic!("sidecar wrote a non-JSON line to stdout ({e}): {line:?}")
                    });
                    self.messages.push(message);
                }
                Err(RecvTimeoutError::Timeout) => return None,
                Err(RecvTimeoutError::Disconnected) => return None,
            }
        }
    }

    /// Waits up to `timeout` for a notification `method` whose params satisfy `pred`.
    pub fn wait_notification(
        &mut self,
        method: &str,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Option<Value> {
        self.wait_message(0, timeout, |m| {
            m.get("id").is_none()
                && m.get("method").and_then(Value::as_str) == Some(method)
                && pred(m.get("params").unwrap_or(&Value::Null))
        })
        .map(|(_, m)| m.get("params").cloned().unwrap_or(Value::Null))
    }

    /// Every message received so far, in order.
    pub fn messages(&self) -> &[Value] {
        &self.messages
    }

    /// The params of every notification `method` received so far, in order.
    pub fn notifications(&self, method: &str) -> Vec<Value> {
        self.messages
            .iter()
            .filter(|m| {
                m.get("id").is_none() && m.get("method").and_then(Value::as_str) == Some(method)
            })
            .map(|m| m.get("params").cloned().unwrap_or(Value::Null))
            .collect()
    }

    /// The `state` values of the `state` notifications so far, in order.
    pub fn states(&self) -> Vec<String> {
        self.notifications("state")
            .iter()
            .filter_map(|p| p.get("state").and_then(Value::as_str).map(str::to_owned))
            .collect()
    }

    /// Closes the daemon's stdin (end of input is a `shutdown`: docs/protocol.md, "Requests").
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Waits up to `timeout` for the daemon to exit, collecting what it still writes.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        // Drain stdout until EOF so a full pipe cannot block the daemon's exit.
        let _ = self.wait_message(self.messages.len(), timeout, |_| false);
        let left = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(100));
        self.guard.wait_timeout(left)
    }

    /// The daemon's stderr so far (its logs).
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.guard.id()
    }

    /// A multi-line summary for failure messages: command, messages received, stderr.
    pub fn report(&self) -> String {
        let messages: Vec<String> = self.messages.iter().map(Value::to_string).collect();
        format!(
            "sidecar `{}`\n--- messages ---\n{}\n--- stderr ---\n{}",
            self.command,
            messages.join("\n"),
            self.stderr()
        )
    }
}
