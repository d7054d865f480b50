//! A hostile static HTTP server for the attack tests: serves a repository folder on
//! 127.0.0.1 (one request per connection, `Connection: close`) and misbehaves on chosen paths:
//! endless bodies after the real bytes, or a first request that stalls without answering.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How the server misbehaves on paths containing a given string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The file's bytes, then endless zeros (no `Content-Length`, close-delimited).
    Endless,
    /// The first request is read and never answered (the connection stays open); later
    /// requests are served normally.
    StallFirst,
    /// Honest headers (`Content-Length`), then the body one byte per second: never idle long
    /// enough for an idle timeout (slow retrieval).
    Drip,
    /// `500 Internal Server Error` on every request.
    ServerError,
}

#[derive(Debug)]
struct Shared {
    root: PathBuf,
    rules: Vec<(String, Fault)>,
    stalled: AtomicBool,
    requests: Mutex<Vec<String>>,
    /// Bytes of endless bodies the client accepted before hanging up.
    endless_sent: Mutex<u64>,
    stop: AtomicBool,
}

/// The running server; stops accepting on drop.
#[derive(Debug)]
pub struct HostileServer {
    port: u16,
    shared: Arc<Shared>,
}

impl HostileServer {
    /// Serves `root` (holding `metadata/` and `targets/`) with `rules` (path substring, fault).
    pub fn start(root: &Path, rules: &[(&str, Fault)]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local addr").port();
        let shared = Arc::new(Shared {
            root: root.to_owned(),
            rules: rules.iter().map(|(p, f)| ((*p).to_owned(), *f)).collect(),
            stalled: AtomicBool::new(false),
            requests: Mutex::new(Vec::new()),
            endless_sent: Mutex::new(0),
            stop: AtomicBool::new(false),
        });
        let accept = Arc::clone(&shared);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if accept.stop.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let shared = Arc::clone(&accept);
                std::thread::spawn(move || handle(&shared, stream));
            }
        });
        Self { port, shared }
    }

    /// `http://127.0.0.1:<port>/metadata/`.
    pub fn metadata_url(&self) -> String {
        format!("http://127.0.0.1:{}/metadata/", self.port)
    }

    /// `http://127.0.0.1:<port>/targets/`.
    pub fn targets_url(&self) -> String {
        format!("http://127.0.0.1:{}/targets/", self.port)
    }

    /// The request paths seen so far, in order.
    pub fn requests(&self) -> Vec<String> {
        self.shared.requests.lock().expect("requests").clone()
    }

    /// Bytes written into endless bodies so far (real bytes included).
    pub fn endless_sent(&self) -> u64 {
        *self.shared.endless_sent.lock().expect("counter")
    }
}

impl Drop for HostileServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn handle(shared: &Shared, mut stream: TcpStream) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    loop {
        let mut header = String::new();
        match reader.read_line(&mut header) {
            Ok(0) | Err(_) => return,
            Ok(_) if header == "\r\n" || header == "\n" => break,
            Ok(_) => {}
        }
    }
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .to_owned();
    shared.requests.lock().expect("requests").push(path.clone());
    let fault = shared
        .rules
        .iter()
        .find(|(p, _)| path.contains(p.as_str()))
        .map(|(_, f)| *f);
    if fault == Some(Fault::StallFirst) && !shared.stalled.swap(true, Ordering::SeqCst) {
        // Hold the connection open without answering until the client gives up.
        let _ = stream.set_read_timeout(Some(Duration::from_secs(600)));
        let mut sink = String::new();
        let _ = reader.read_line(&mut sink);
        return;
    }
    if fault == Some(Fault::ServerError) {
        let _ = stream.write_all(
            b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
        return;
    }
    let file = shared.root.join(path.trim_start_matches('/'));
    let Ok(body) = std::fs::read(&file).map_err(|_| ()).and_then(|b| {
        if file
            .components()
            .any(|c| c == std::path::Component::ParentDir)
        {
            Err(())
        } else {
            Ok(b)
        }
    }) else {
        let _ = stream
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        return;
    };
    if fault == Some(Fault::Endless) {
        if stream
            .write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
            .is_err()
        {
            return;
        }
        let mut sent = 0u64;
        let zeros = vec![0u8; 64 * 1024];
        let mut chunk: &[u8] = &body;
        // The real bytes, then zeros until the client hangs up (or 1 GiB, a test bound).
        while sent < (1 << 30) {
            if stream.write_all(chunk).is_err() {
                break;
            }
            sent += chunk.len() as u64;
            *shared.endless_sent.lock().expect("counter") = sent;
            chunk = &zeros;
        }
        return;
    }
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    if fault == Some(Fault::Drip) {
        for byte in &body {
            if stream.write_all(std::slice::from_ref(byte)).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_secs(1));
        }
        return;
    }
    let _ = stream.write_all(&body);
}
