//! A small in-process HTTP/1.1 file server for the transport and download tests: binds
//! 127.0.0.1:0, serves GET with `Range` (`bytes=A-B`, `bytes=A-`) and `If-Range`, records every
//! request's path and `Range` header, and injects one fault per request from a queue (connection
//! closed after N body bytes, 200 instead of 206, a wrong `Content-Range`, endless or extra bytes,
//! a stall, a chosen status, a corrupted byte). One request per connection (`Connection: close`).

#![allow(
    dead_code,
    reason = "each test binary uses a different part of the server"
)]

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use url::Url;

/// Transport settings for tests against this server: short timeouts and backoff (a stalled
/// request gives up in half a second), `tries` attempts.
pub fn fast_settings(tries: u32) -> tufd_net::transport::TransportSettings {
    tufd_net::transport::TransportSettings {
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_millis(500),
        tries,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        ..tufd_net::transport::TransportSettings::default()
    }
}

/// A fault applied to one request (taken from the queue in order; none means a correct answer).
#[derive(Debug, Clone)]
pub enum Fault {
    /// Announce the full body, send only this many body bytes, then close the connection.
    DropAfter(usize),
    /// Ignore `Range`: answer 200 with the whole file.
    IgnoreRange,
    /// Answer 206 with a `Content-Range` that starts one byte after the asked offset.
    WrongContentRange,
    /// Answer 200 without `Content-Length`, then the file, then junk until the client hangs up.
    Endless,
    /// Answer correctly but append this many extra bytes (counted in `Content-Length`).
    Extra(usize),
    /// Send the headers and this many body bytes, then stall for the duration and close.
    StallAfter(usize, Duration),
    /// Answer this status with an empty body.
    Status(u16),
    /// Answer correctly but with the first body byte flipped.
    Corrupt,
}

/// One request as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestLog {
    /// The request path (`/file`).
    pub path: String,
    /// The `Range` header, if sent.
    pub range: Option<String>,
}

#[derive(Default)]
struct State {
    files: HashMap<String, Arc<Vec<u8>>>,
    faults: VecDeque<Fault>,
    path_faults: HashMap<String, VecDeque<Fault>>,
    log: Vec<RequestLog>,
    no_ranges: bool,
}

/// The running server; stops when dropped.
pub struct TestServer {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestServer {
    /// Starts serving on 127.0.0.1 with an OS-chosen port.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let state = shared.clone();
                tokio::spawn(async move {
                    let _ = handle(stream, state).await;
                });
            }
        });
        Self { addr, state, task }
    }

    /// Serves `bytes` at `/<name>`.
    pub fn add_file(&self, name: &str, bytes: Vec<u8>) {
        let mut state = self.state.lock().unwrap();
        state.files.insert(format!("/{name}"), Arc::new(bytes));
    }

    /// Queues a fault for the next request not yet served.
    pub fn push_fault(&self, fault: Fault) {
        self.state.lock().unwrap().faults.push_back(fault);
    }

    /// Queues a fault for the next request of `/<name>` (checked before the general queue).
    pub fn push_fault_for(&self, name: &str, fault: Fault) {
        let mut state = self.state.lock().unwrap();
        state
            .path_faults
            .entry(format!("/{name}"))
            .or_default()
            .push_back(fault);
    }

    /// Stops advertising and honouring ranges (every answer is a 200 without `Accept-Ranges`).
    pub fn disable_ranges(&self) {
        self.state.lock().unwrap().no_ranges = true;
    }

    /// The URL of `/<name>`.
    pub fn url(&self, name: &str) -> Url {
        Url::parse(&format!("http://{}/{name}", self.addr)).unwrap()
    }

    /// Every request served so far, in order.
    pub fn requests(&self) -> Vec<RequestLog> {
        self.state.lock().unwrap().log.clone()
    }
}

/// Parses `bytes=A-B` / `bytes=A-` into (start, optional inclusive end).
fn parse_range(value: &str) -> Option<(u64, Option<u64>)> {
    let spec = value.trim().strip_prefix("bytes=")?;
    let (start, end) = spec.split_once('-')?;
    let start = start.trim().parse().ok()?;
    let end = match end.trim() {
        "" => None,
        e => Some(e.parse().ok()?),
    };
    Some((start, end))
}

async fn handle(mut stream: TcpStream, state: Arc<Mutex<State>>) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await?;
        if n == 0 || head.len() > 16 * 1024 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let mut lines = text.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .to_owned();
    let mut range = None;
    let mut if_range = None;
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            match name.trim().to_ascii_lowercase().as_str() {
                "range" => range = Some(value.trim().to_owned()),
                "if-range" => if_range = Some(value.trim().to_owned()),
                _ => {}
            }
        }
    }
    let (file, fault, no_ranges) = {
        let mut state = state.lock().unwrap();
        state.log.push(RequestLog {
            path: path.clone(),
            range: range.clone(),
        });
        let fault = match state
            .path_faults
            .get_mut(&path)
            .and_then(VecDeque::pop_front)
        {
            Some(fault) => Some(fault),
            None => state.faults.pop_front(),
        };
        (state.files.get(&path).cloned(), fault, state.no_ranges)
    };

    if let Some(Fault::Status(code)) = fault {
        let head =
            format!("HTTP/1.1 {code} Fault\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        return stream.write_all(head.as_bytes()).await;
    }
    let Some(file) = file else {
        let head = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        return stream.write_all(head.as_bytes()).await;
    };
    let len = file.len() as u64;
    let etag = format!("\"len-{len}\"");

    if let Some(Fault::Endless) = fault {
        let head = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n";
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(&file).await?;
        let junk = vec![b'x'; 64 * 1024];
        loop {
            stream.write_all(&junk).await?;
        }
    }

    let honour_range = !no_ranges
        && !matches!(fault, Some(Fault::IgnoreRange))
        && if_range.as_deref().is_none_or(|v| v == etag);
    let wanted = range
        .as_deref()
        .and_then(parse_range)
        .filter(|_| honour_range);
    let mut head = String::new();
    let body: Vec<u8> = match wanted {
        Some((start, _)) if start >= len => {
            let head = format!(
                "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */{len}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            return stream.write_all(head.as_bytes()).await;
        }
        Some((start, end)) => {
            let end = end.unwrap_or(len - 1).min(len - 1);
            let shown_start = match fault {
                Some(Fault::WrongContentRange) => start + 1,
                _ => start,
            };
            head.push_str("HTTP/1.1 206 Partial Content\r\n");
            head.push_str(&format!(
                "Content-Range: bytes {shown_start}-{end}/{len}\r\n"
            ));
            file[start as usize..=end as usize].to_vec()
        }
        None => {
            head.push_str("HTTP/1.1 200 OK\r\n");
            file.to_vec()
        }
    };
    let mut body = body;
    match fault {
        Some(Fault::Extra(n)) => body.extend(std::iter::repeat_n(b'e', n)),
        Some(Fault::Corrupt) if !body.is_empty() => body[0] ^= 0xff,
        _ => {}
    }
    if !no_ranges {
        head.push_str("Accept-Ranges: bytes\r\n");
    }
    head.push_str(&format!(
        "ETag: {etag}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    stream.write_all(head.as_bytes()).await?;
    match fault {
        Some(Fault::DropAfter(n)) => {
            stream.write_all(&body[..n.min(body.len())]).await?;
            stream.flush().await?;
            // Closing with unread request bytes can turn into a reset; we read the whole head.
            stream.shutdown().await
        }
        Some(Fault::StallAfter(n, pause)) => {
            stream.write_all(&body[..n.min(body.len())]).await?;
            stream.flush().await?;
            tokio::time::sleep(pause).await;
            stream.shutdown().await
        }
        _ => {
            stream.write_all(&body).await?;
            stream.shutdown().await
        }
    }
}

/// Deterministic test content of `len` bytes (not compressible into a pattern a bug could hide).
pub fn content(len: usize) -> Vec<u8> {
    tufd_testkit::rng::bytes(len, 0x9e37_79b9_7f4a_7c15)
}
