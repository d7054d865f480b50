//! The network layer shared by TUF metadata refresh and target downloads: one long-lived HTTP
//! client ([`HttpClient`]) and tufd's own `tough` transport ([`TufTransport`]) on top of it
//! (docs/architecture.md, "The crates in more detail", `tufd-net`).
//!
//! The transport rules below are numbered; the rest of the crate cites them as "transport rule
//! N". How each is met:
//! 1. **One shared reqwest client**: [`HttpClient`] wraps one `reqwest::Client` (rustls with the
//!    platform verifier, connection pool) built once for the daemon's life; clones share it.
//! 2. **Errors inside the stream**: [`TufTransport::fetch`] always returns `Ok(stream)`; every
//!    failure, including "not found" (HTTP 403/404/410, a missing file), is the stream's first
//!    item. tough only classifies stream errors in the root walk (TUF 5.3.2/5.3.3: "download
//!    version N+1 of the root metadata file … if this file is not available, go to 5.3.10"), so
//!    only a real `FileNotFound` ends root rotation; a dropped connection is an error.
//! 3. **No sleep before the first attempt**: back-off ([`http_range::backoff_delay`]) is slept only
//!    before retries.
//! 4. **`tries` counts attempts**: [`TransportSettings::tries`] is the total number of attempts,
//!    the first included (tough's `tries(n)` makes n + 1).
//! 5. **Big files**: the client has a connect timeout and a per-read idle timeout but no total
//!    timeout; targets go through [`crate::download`] (chunked, resumable across restarts,
//!    verified against the signed length and sha256). For metadata, a body that breaks mid-way is
//!    resumed with `Range` from the offset reached when the server advertised
//!    `Accept-Ranges: bytes`, else it is an error in the stream. tough still enforces the signed
//!    or configured maximum length of every file it reads (TUF 5.2: "download up to the signed
//!    length"; the downloader does the same for targets).
//! 6. **Proxies from the environment** (`HTTP(S)_PROXY`, `ALL_PROXY`, `NO_PROXY`), with loopback
//!    never proxied ([`ProxyEnv`]).
//! 7. **Trusted local copies**: a [`LocalCopies`] source set with
//!    [`TufTransport::with_local_copies`] can answer a URL from a local file (the trusted copy of
//!    unchanged metadata, or a finished download handed to `read_target`); tough still verifies
//!    whatever it is handed.
//!
//! `file://` URLs are read from disk in 64 KiB pieces with the same error mapping (a missing file
//! is `FileNotFound`).

pub mod http_range;
mod proxy;

use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::channel::mpsc;
use futures::{SinkExt as _, StreamExt as _};
use reqwest::StatusCode;
use reqwest::header::{ACCEPT_RANGES, CONTENT_RANGE, ETAG, HeaderValue, IF_RANGE, RANGE};
use tokio::io::AsyncReadExt as _;
use tokio_util::sync::CancellationToken;
use tough::{Transport, TransportErrorKind, TransportStream};
use url::Url;

pub use proxy::ProxyEnv;

use http_range::{ContentRange, backoff_delay, range_header};

/// Size of the pieces read from `file://` sources (bytes).
const FILE_READ_BYTES: usize = 64 * 1024;

/// How many pieces a transport stream buffers ahead of its reader (bounds memory per fetch).
const STREAM_BUFFER: usize = 4;

/// Timeouts and retry policy of the network layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportSettings {
    /// Time allowed to establish a TCP (and TLS) connection. Default 10 s.
    pub connect_timeout: Duration,
    /// Idle timeout: the longest wait for the next piece of a response (headers or body).
    /// Default 30 s. There is deliberately no total timeout: large targets on slow links must
    /// be able to take as long as they need while bytes keep flowing.
    pub read_timeout: Duration,
    /// Total number of attempts per request, the first included (at least 1 is made). Default 4.
    pub tries: u32,
    /// Delay before the first retry; doubled for each further retry. Default 250 ms.
    pub initial_backoff: Duration,
    /// Upper bound of the delay between attempts. Default 10 s.
    pub max_backoff: Duration,
}

impl Default for TransportSettings {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            tries: 4,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(10),
        }
    }
}

impl TransportSettings {
    /// The delay before retry number `retry` (0-based), with random jitter (50–100 %).
    pub fn backoff(&self, retry: u32) -> Duration {
        backoff_delay(
            self.initial_backoff,
            self.max_backoff,
            retry,
            rand::random_range(0.5..=1.0),
        )
    }

    /// [`Self::tries`], at least 1.
    pub fn attempts(&self) -> u32 {
        self.tries.max(1)
    }
}

/// Failure to set up the HTTP client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// reqwest could not build the client (TLS back-end initialisation).
    #[error("cannot build the http client")]
    Client {
        /// The reqwest error.
        #[source]
        source: reqwest::Error,
    },
    /// A proxy environment variable does not hold a usable proxy URL.
    #[error("invalid proxy url {value:?} in the environment")]
    ProxyUrl {
        /// The variable's value.
        value: String,
        /// The reqwest error.
        #[source]
        source: reqwest::Error,
    },
}

/// The daemon's one HTTP client (transport rule 1 in the module documentation). Cheap to clone:
/// clones share the connection pool and TLS configuration.
#[derive(Debug, Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    settings: TransportSettings,
}

impl HttpClient {
    /// Builds the client with `settings`' connect and idle timeouts (no total timeout), rustls
    /// with the platform's certificate verifier, and proxies from the process environment.
    ///
    /// # Errors
    /// [`TransportError::Client`] when the TLS back-end cannot be set up,
    /// [`TransportError::ProxyUrl`] for an unusable proxy variable.
    pub fn new(settings: &TransportSettings) -> Result<Self, TransportError> {
        Self::with_env(settings, |name| std::env::var(name).ok())
    }

    /// As [`Self::new`], reading proxy variables through `env` instead of the process
    /// environment (tests; embedding).
    ///
    /// # Errors
    /// As [`Self::new`].
    pub fn with_env(
        settings: &TransportSettings,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, TransportError> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(settings.connect_timeout)
            .read_timeout(settings.read_timeout)
            .user_agent(concat!("tufd/", env!("CARGO_PKG_VERSION")))
            // Our own proxy list replaces reqwest's system proxy (which would proxy loopback).
            .no_proxy();
        for proxy in ProxyEnv::from_lookup(env).proxies()? {
            builder = builder.proxy(proxy);
        }
        let client = builder
            .build()
            .map_err(|source| TransportError::Client { source })?;
        Ok(Self {
            client,
            settings: settings.clone(),
        })
    }

    /// The settings the client was built with.
    pub fn settings(&self) -> &TransportSettings {
        &self.settings
    }

    /// The underlying reqwest client.
    pub fn reqwest(&self) -> &reqwest::Client {
        &self.client
    }

    /// A GET request for `url`, with `Range: <range>` when given.
    pub(crate) fn get(&self, url: &Url, range: Option<&str>) -> reqwest::RequestBuilder {
        let request = self.client.get(url.clone());
        match range {
            Some(range) => request.header(RANGE, range),
            None => request,
        }
    }
}

/// A source of trusted local copies: maps a URL tough asks for to a local file to serve instead
/// (transport rules 5 and 7 in the module documentation). Returning `None`, or a path that does
/// not exist, fetches from the network as usual.
pub trait LocalCopies: fmt::Debug + Send + Sync {
    /// The local file to serve for `url`, if any.
    fn local_copy(&self, url: &Url) -> Option<PathBuf>;
}

/// tufd's `tough` transport for `http://`, `https://` and `file://` URLs on the shared
/// [`HttpClient`]. See the module documentation for the rules it follows.
#[derive(Debug, Clone)]
pub struct TufTransport {
    client: HttpClient,
    settings: TransportSettings,
    local: Option<Arc<dyn LocalCopies>>,
}

impl TufTransport {
    /// A transport on `client`, retrying per `settings` (`tries`, `initial_backoff`,
    /// `max_backoff`; the timeouts are the client's).
    pub fn new(client: HttpClient, settings: TransportSettings) -> Self {
        Self {
            client,
            settings,
            local: None,
        }
    }

    /// Serves URLs that `local` maps to an existing file from that file.
    #[must_use]
    pub fn with_local_copies(mut self, local: Arc<dyn LocalCopies>) -> Self {
        self.local = Some(local);
        self
    }

    /// The stream for `url`; never fails itself (errors are stream items).
    fn stream(&self, url: Url) -> TransportStream {
        let client = self.client.clone();
        let settings = self.settings.clone();
        let local = self.local.as_ref().and_then(|l| l.local_copy(&url));
        spawn_stream(move |tx| async move {
            if let Some(path) = local
                && tokio::fs::metadata(&path).await.is_ok()
            {
                return produce_file(path, &url, tx).await;
            }
            match url.scheme() {
                "file" => match url.to_file_path() {
                    Ok(path) => produce_file(path, &url, tx).await,
                    Err(()) => {
                        let error = tough::TransportError::new(TransportErrorKind::Other, &url);
                        send(tx, Err(error)).await;
                    }
                },
                "http" | "https" => produce_http(&client, &settings, &url, tx).await,
                _ => {
                    let error =
                        tough::TransportError::new(TransportErrorKind::UnsupportedUrlScheme, &url);
                    send(tx, Err(error)).await;
                }
            }
        })
    }
}

impl Transport for TufTransport {
    // Written out as `#[async_trait]` expands it, to avoid a dependency on the macro crate.
    fn fetch<'life0, 'async_trait>(
        &'life0 self,
        url: Url,
    ) -> Pin<
        Box<
            dyn Future<Output = Result<TransportStream, tough::TransportError>>
                + Send
                + 'async_trait,
        >,
    >
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        // Rule 2: always `Ok(stream)`; the work (and every error) happens inside the stream.
        // The producer task is spawned when the future is polled, i.e. inside the runtime.
        Box::pin(async move { Ok(self.stream(url)) })
    }
}

type Item = Result<Bytes, tough::TransportError>;

/// Runs `producer` in its own task, feeding a bounded channel that becomes the returned stream.
/// Dropping the stream cancels the task (through the drop guard held by the stream).
fn spawn_stream<F, Fut>(producer: F) -> TransportStream
where
    F: FnOnce(mpsc::Sender<Item>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(STREAM_BUFFER);
    let token = CancellationToken::new();
    let guard = token.clone().drop_guard();
    let work = producer(tx);
    tokio::spawn(async move {
        tokio::select! {
            () = token.cancelled() => {}
            () = work => {}
        }
    });
    Box::pin(rx.map(move |item| {
        let _alive = &guard;
        item
    }))
}

/// Sends one item; `false` when the reader is gone.
async fn send(mut tx: mpsc::Sender<Item>, item: Item) -> bool {
    tx.send(item).await.is_ok()
}

/// Streams a local file in [`FILE_READ_BYTES`] pieces.
async fn produce_file(path: PathBuf, url: &Url, mut tx: mpsc::Sender<Item>) {
    let io_error = |e: std::io::Error| {
        let kind = match e.kind() {
            std::io::ErrorKind::NotFound => TransportErrorKind::FileNotFound,
            _ => TransportErrorKind::Other,
        };
        tough::TransportError::new_with_cause(kind, url, e)
    };
    let mut file = match tokio::fs::File::open(&path).await {
        Ok(file) => file,
        Err(e) => {
            send(tx, Err(io_error(e))).await;
            return;
        }
    };
    loop {
        let mut buf = vec![0u8; FILE_READ_BYTES];
        match file.read(&mut buf).await {
            Ok(0) => return,
            Ok(n) => {
                buf.truncate(n);
                if tx.send(Ok(Bytes::from(buf))).await.is_err() {
                    return;
                }
            }
            Err(e) => {
                send(tx, Err(io_error(e))).await;
                return;
            }
        }
    }
}

/// Why an HTTP fetch failed (the cause inside a `tough::TransportError`).
#[derive(Debug, thiserror::Error)]
enum FetchFailure {
    #[error("server answered http status {status}")]
    Status { status: StatusCode },
    #[error("server did not resume the body at byte {offset} (http status {status})")]
    NoResume { offset: u64, status: StatusCode },
    #[error("request failed")]
    Request(#[source] reqwest::Error),
    #[error("body broke at byte {offset}")]
    Body {
        offset: u64,
        #[source]
        source: reqwest::Error,
    },
}

/// Whether an answer with `status` is worth another attempt (server trouble, not a refusal).
pub(crate) fn status_is_transient(status: StatusCode) -> bool {
    status.is_server_error()
        || status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
}

/// Whether an answer with `status` means "this file is not there" (transport rule 2 in the
/// module documentation).
pub(crate) fn status_is_not_found(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::FORBIDDEN | StatusCode::NOT_FOUND | StatusCode::GONE
    )
}

/// What the first response told us about resuming its body.
struct Resume {
    /// `Accept-Ranges: bytes` was sent.
    ranges: bool,
    /// The full length (bytes), when `Content-Length` was sent.
    total: Option<u64>,
    /// A strong `ETag` to send as `If-Range`, so that a changed file is never spliced.
    etag: Option<HeaderValue>,
}

/// Fetches `url` over HTTP with retries, streaming its body into `tx`.
async fn produce_http(
    client: &HttpClient,
    settings: &TransportSettings,
    url: &Url,
    mut tx: mpsc::Sender<Item>,
) {
    let other = |cause: FetchFailure| {
        tough::TransportError::new_with_cause(TransportErrorKind::Other, url, cause)
    };
    let mut response = match open(client, settings, url, None).await {
        Ok(response) => response,
        Err(error) => {
            send(tx, Err(error)).await;
            return;
        }
    };
    let headers = response.headers();
    let resume = Resume {
        ranges: headers
            .get(ACCEPT_RANGES)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"bytes")),
        total: response.content_length(),
        etag: headers
            .get(ETAG)
            .filter(|v| !v.as_bytes().starts_with(b"W/"))
            .cloned(),
    };
    let mut offset = 0u64;
    let mut retries = 0u32;
    loop {
        match response.chunk().await {
            Ok(Some(bytes)) => {
                offset += bytes.len() as u64;
                if tx.send(Ok(bytes)).await.is_err() {
                    return;
                }
            }
            Ok(None) => return,
            Err(source) => {
                retries += 1;
                let complete = resume.total.is_some_and(|t| offset >= t);
                if !resume.ranges || complete || retries >= settings.attempts() {
                    send(tx, Err(other(FetchFailure::Body { offset, source }))).await;
                    return;
                }
                tracing::debug!(%url, offset, "body broke, resuming with range");
                tokio::time::sleep(settings.backoff(retries - 1)).await;
                match open(client, settings, url, Some((offset, &resume))).await {
                    Ok(next) => response = next,
                    Err(error) => {
                        send(tx, Err(error)).await;
                        return;
                    }
                }
            }
        }
    }
}

/// Sends the request for `url` (from `resume_at` when given), retrying connection errors and
/// transient statuses with back-off (none before the first attempt). A resumed request succeeds
/// only with a `206` whose `Content-Range` starts at the offset asked for.
async fn open(
    client: &HttpClient,
    settings: &TransportSettings,
    url: &Url,
    resume_at: Option<(u64, &Resume)>,
) -> Result<reqwest::Response, tough::TransportError> {
    let other = |cause: FetchFailure| {
        tough::TransportError::new_with_cause(TransportErrorKind::Other, url, cause)
    };
    let range = resume_at.map(|(offset, _)| range_header(offset, None));
    let mut last = None;
    for attempt in 0..settings.attempts() {
        if attempt > 0 {
            tokio::time::sleep(settings.backoff(attempt - 1)).await;
        }
        let mut request = client.get(url, range.as_deref());
        if let Some((_, resume)) = resume_at
            && let Some(etag) = &resume.etag
        {
            request = request.header(IF_RANGE, etag.clone());
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) if e.is_builder() || e.is_redirect() => {
                return Err(other(FetchFailure::Request(e)));
            }
            Err(e) => {
                tracing::debug!(%url, attempt, error = %e, "request failed");
                last = Some(FetchFailure::Request(e));
                continue;
            }
        };
        let status = response.status();
        if status_is_not_found(status) {
            return Err(tough::TransportError::new_with_cause(
                TransportErrorKind::FileNotFound,
                url,
                FetchFailure::Status { status },
            ));
        }
        if status_is_transient(status) {
            tracing::debug!(%url, attempt, %status, "transient http status");
            last = Some(FetchFailure::Status { status });
            continue;
        }
        return match resume_at {
            None if status == StatusCode::OK => Ok(response),
            None => Err(other(FetchFailure::Status { status })),
            Some((offset, resume)) => {
                let range = response
                    .headers()
                    .get(CONTENT_RANGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(ContentRange::parse);
                let continues = range.is_some_and(|r| match resume.total {
                    Some(total) => r.continues(offset, total),
                    None => r.start == offset,
                });
                if status == StatusCode::PARTIAL_CONTENT && continues {
                    Ok(response)
                } else {
                    Err(other(FetchFailure::NoResume { offset, status }))
                }
            }
        };
    }
    Err(other(last.unwrap_or(FetchFailure::Status {
        status: StatusCode::SERVICE_UNAVAILABLE,
    })))
}

/// Adds a trailing `/` to a URL path so that `join` appends instead of replacing.
pub fn with_trailing_slash(mut url: Url) -> Url {
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    url
}
