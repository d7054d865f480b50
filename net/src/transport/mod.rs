//! The network layer shared by TUF metadata refresh and target downloads: one long-lived HTTP
//! client ([`HttpClient`]) and tufd's TUF transport ([`TufTransport`]) on top of it, which the
//! trusted store hands to the TUF client (`sigstore-tuf`) as its `Repository`
//! (docs/architecture.md, "The crates in more detail", `tufd-net`).
//!
//! The transport rules below are numbered; the rest of the crate cites them as "transport rule
//! N". How each is met:
//! 1. **One shared reqwest client**: [`HttpClient`] wraps one `reqwest::Client` (rustls with the
//!    platform verifier, connection pool) built once for the daemon's life; clones share it.
//! 2. **"Not found" is an answer, not an error**: [`TufTransport::fetch`] returns `Ok(None)` only
//!    for HTTP 403/404/410 or a missing file. The TUF client ends the root walk on it (TUF
//!    5.3.2/5.3.3: "download version N+1 of the root metadata file … if this file is not
//!    available, go to 5.3.10"), so a dropped connection or a `5xx` is an error, never a silent
//!    end of root rotation.
//! 3. **No sleep before the first attempt**: back-off ([`http_range::backoff_delay`]) is slept only
//!    before retries.
//! 4. **`tries` counts attempts**: [`TransportSettings::tries`] is the total number of attempts,
//!    the first included.
//! 5. **Big files, size limits and deadlines**: the client has a connect timeout and a per-read
//!    idle timeout, and every metadata fetch and target download an overall deadline scaled to
//!    its length ([`TransportSettings::deadline_for`]: 60 s plus 1 s per 16 KiB by default),
//!    so a server that drips a byte every 20 s or never answers is given up on
//!    ([`FetchError::TimedOut`], error kind `timed-out`); targets go through [`crate::download`] (chunked, resumable across
//!    restarts, verified against the signed length and hashes). A metadata fetch carries the TUF
//!    client's maximum length: a `Content-Length` above it, or a body growing past it, ends the
//!    fetch at once with [`FetchError::TooLarge`] (TUF 5.2: "download up to the signed or
//!    configured length"), a kind of its own ([`crate::TufFailure::TooLarge`]). A body that
//!    breaks mid-way is resumed with `Range` from the offset reached when the server advertised
//!    `Accept-Ranges: bytes`, else it is an error.
//! 6. **Proxies from the environment** (`HTTP(S)_PROXY`, `ALL_PROXY`, `NO_PROXY`), with loopback
//!    never proxied ([`ProxyEnv`]).
//!
//! `file://` URLs are read from disk with the same length bound (a missing file is "not found").

pub mod http_range;
mod proxy;

use std::path::PathBuf;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{ACCEPT_RANGES, CONTENT_RANGE, ETAG, HeaderValue, IF_RANGE, RANGE};
use tokio::io::AsyncReadExt as _;
use url::Url;

pub use proxy::ProxyEnv;

use http_range::{ContentRange, backoff_delay, range_header};

/// Timeouts and retry policy of the network layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportSettings {
    /// Time allowed to establish a TCP (and TLS) connection. Default 10 s.
    pub connect_timeout: Duration,
    /// Idle timeout: the longest wait for the next piece of a response (headers or body).
    /// Default 30 s. The overall limit is [`Self::deadline_for`], which grows with the length,
    /// so large targets on slow links can take as long as their size needs.
    pub read_timeout: Duration,
    /// Total number of attempts per request, the first included (at least 1 is made). Default 4.
    pub tries: u32,
    /// Delay before the first retry; doubled for each further retry. Default 250 ms.
    pub initial_backoff: Duration,
    /// Upper bound of the delay between attempts. Default 10 s.
    pub max_backoff: Duration,
    /// Overall time limit of one metadata request or one target download, retries included,
    /// before the length allowance ([`Self::deadline_for`]). Default 60 s (twice the idle
    /// timeout: one stalled attempt and a retry fit). The idle timeout
    /// alone cannot stop a server that sends a byte every 20 s, or one that keeps accepting
    /// and never answering while the retries go on.
    pub request_deadline: Duration,
    /// The slowest transfer rate the deadline allows for, in bytes per second: a fetch of `n`
    /// bytes may take `request_deadline + n / min_rate_bytes_per_sec`. Default 16 KiB/s.
    pub min_rate_bytes_per_sec: u64,
}

impl Default for TransportSettings {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            tries: 4,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(10),
            request_deadline: Duration::from_secs(60),
            min_rate_bytes_per_sec: 16 << 10,
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

    /// The overall time limit of fetching `length` bytes: [`Self::request_deadline`] plus
    /// `length` at [`Self::min_rate_bytes_per_sec`] (a 5 MB targets.json: 60 s + 305 s; a
    /// 16 KiB timestamp: 61 s).
    pub fn deadline_for(&self, length: u64) -> Duration {
        let rate = self.min_rate_bytes_per_sec.max(1);
        self.request_deadline
            .saturating_add(Duration::from_secs(length / rate))
    }
}

/// What kind of network failure stopped a fetch, for the error kinds a user can act on
/// (`unreachable`: check the URL, DNS, firewall or proxy; `timed-out`: the server or the link
/// is too slow; `server-error`: the server answered with an error status; anything else that
/// broke mid-way: `network`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetFailure {
    /// No connection could be made (refused, no route, DNS, TLS handshake).
    Unreachable,
    /// The connection, an idle read or the overall deadline timed out.
    TimedOut,
    /// The server answered with an error status (after the retries for transient ones).
    ServerError,
    /// A connection was made but the transfer broke (reset, body cut short, no resume).
    Broken,
}

impl NetFailure {
    /// Classifies a reqwest error: a timeout (connect or read) is [`NetFailure::TimedOut`], a
    /// failure to connect [`NetFailure::Unreachable`], a status error
    /// [`NetFailure::ServerError`], anything else [`NetFailure::Broken`].
    pub fn of_reqwest(error: &reqwest::Error) -> Self {
        if error.is_timeout() {
            NetFailure::TimedOut
        } else if error.is_connect() {
            NetFailure::Unreachable
        } else if error.is_status() {
            NetFailure::ServerError
        } else {
            NetFailure::Broken
        }
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
    /// Builds the client with `settings`' connect and idle timeouts (the overall deadline is the
    /// caller's: [`TufTransport::fetch`], [`crate::download`]), rustls
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

/// Why a [`TufTransport::fetch`] failed. Every variant names the URL ([`FetchError::url`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The body is (or announces itself as) longer than the maximum length of the fetch.
    #[error("{url} is larger than the maximum size of {limit} bytes")]
    TooLarge {
        /// The URL.
        url: Url,
        /// The maximum length (bytes).
        limit: u64,
    },
    /// The server answered with a status that is neither success nor "not found" (after every
    /// retry, for transient ones).
    #[error("{url}: server answered http status {status}")]
    Status {
        /// The URL.
        url: Url,
        /// The HTTP status code.
        status: u16,
    },
    /// A body broke mid-way and the server did not resume it at the offset reached.
    #[error("{url}: server did not resume the body at byte {offset} (http status {status})")]
    NoResume {
        /// The URL.
        url: Url,
        /// The offset reached (bytes).
        offset: u64,
        /// The HTTP status code of the resumed request.
        status: u16,
    },
    /// The request could not be sent (connection, TLS, timeout), after every retry.
    #[error("{url}: request failed")]
    Request {
        /// The URL.
        url: Url,
        /// The reqwest error.
        #[source]
        source: reqwest::Error,
    },
    /// The body broke at `offset` and could not be resumed.
    #[error("{url}: body broke at byte {offset}")]
    Body {
        /// The URL.
        url: Url,
        /// The offset reached (bytes).
        offset: u64,
        /// The reqwest error.
        #[source]
        source: reqwest::Error,
    },
    /// A `file://` source could not be read.
    #[error("{url}: cannot read the file")]
    File {
        /// The URL.
        url: Url,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Neither `http(s)://` nor a local `file://` URL.
    #[error("{url}: unsupported url")]
    Unsupported {
        /// The URL.
        url: Url,
    },
    /// The fetch, retries included, did not finish within its overall deadline
    /// ([`TransportSettings::deadline_for`]).
    #[error("{url}: no complete answer within {} s", after.as_secs())]
    TimedOut {
        /// The URL.
        url: Url,
        /// The deadline that passed.
        after: Duration,
    },
}

impl FetchError {
    /// The URL the fetch was for.
    pub fn url(&self) -> &Url {
        match self {
            FetchError::TooLarge { url, .. }
            | FetchError::Status { url, .. }
            | FetchError::NoResume { url, .. }
            | FetchError::Request { url, .. }
            | FetchError::Body { url, .. }
            | FetchError::File { url, .. }
            | FetchError::Unsupported { url }
            | FetchError::TimedOut { url, .. } => url,
        }
    }

    /// The kind of network failure, for the transport errors (`None` for a body too large, a
    /// local file or an unsupported URL).
    pub fn net_failure(&self) -> Option<NetFailure> {
        match self {
            FetchError::Request { source, .. } => Some(NetFailure::of_reqwest(source)),
            FetchError::Status { .. } => Some(NetFailure::ServerError),
            FetchError::TimedOut { .. } => Some(NetFailure::TimedOut),
            FetchError::Body { source, .. } if source.is_timeout() => Some(NetFailure::TimedOut),
            FetchError::Body { .. } | FetchError::NoResume { .. } => Some(NetFailure::Broken),
            FetchError::TooLarge { .. }
            | FetchError::File { .. }
            | FetchError::Unsupported { .. } => None,
        }
    }
}

/// tufd's TUF transport for `http://`, `https://` and `file://` URLs on the shared
/// [`HttpClient`]: whole bodies bounded by a maximum length. See the module documentation for
/// the rules it follows.
#[derive(Debug, Clone)]
pub struct TufTransport {
    client: HttpClient,
    settings: TransportSettings,
}

impl TufTransport {
    /// A transport on `client`, retrying per `settings` (`tries`, `initial_backoff`,
    /// `max_backoff`; the timeouts are the client's).
    pub fn new(client: HttpClient, settings: TransportSettings) -> Self {
        Self { client, settings }
    }

    /// The body of `url`, at most `max_length` bytes; `Ok(None)` when the file is not there
    /// (transport rule 2).
    ///
    /// # Errors
    /// [`FetchError::TooLarge`] past `max_length`; [`FetchError::TimedOut`] past the overall
    /// deadline ([`TransportSettings::deadline_for`] of `max_length`); the other
    /// [`FetchError`]s when the source cannot be read after every retry.
    pub async fn fetch(&self, url: &Url, max_length: u64) -> Result<Option<Vec<u8>>, FetchError> {
        match url.scheme() {
            "file" => match url.to_file_path() {
                Ok(path) => read_file(path, url, max_length).await,
                Err(()) => Err(FetchError::Unsupported { url: url.clone() }),
            },
            "http" | "https" => {
                let after = self.settings.deadline_for(max_length);
                tokio::time::timeout(
                    after,
                    fetch_http(&self.client, &self.settings, url, max_length),
                )
                .await
                .unwrap_or_else(|_| {
                    Err(FetchError::TimedOut {
                        url: url.clone(),
                        after,
                    })
                })
            }
            _ => Err(FetchError::Unsupported { url: url.clone() }),
        }
    }
}

/// Reads a local file, refusing it past `max_length` bytes.
async fn read_file(
    path: PathBuf,
    url: &Url,
    max_length: u64,
) -> Result<Option<Vec<u8>>, FetchError> {
    let file_error = |source| FetchError::File {
        url: url.clone(),
        source,
    };
    let file = match tokio::fs::File::open(&path).await {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(file_error(e)),
    };
    let mut bytes = Vec::new();
    // One byte past the limit tells "exactly at the limit" from "too large".
    let read = file
        .take(max_length.saturating_add(1))
        .read_to_end(&mut bytes)
        .await
        .map_err(file_error)?;
    if read as u64 > max_length {
        return Err(FetchError::TooLarge {
            url: url.clone(),
            limit: max_length,
        });
    }
    Ok(Some(bytes))
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

/// Fetches `url` over HTTP with retries, at most `max_length` bytes.
async fn fetch_http(
    client: &HttpClient,
    settings: &TransportSettings,
    url: &Url,
    max_length: u64,
) -> Result<Option<Vec<u8>>, FetchError> {
    let too_large = || FetchError::TooLarge {
        url: url.clone(),
        limit: max_length,
    };
    let Some(mut response) = open(client, settings, url, None).await? else {
        return Ok(None);
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
    if resume.total.is_some_and(|total| total > max_length) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    let mut retries = 0u32;
    loop {
        match response.chunk().await {
            Ok(Some(bytes)) => {
                if (body.len() + bytes.len()) as u64 > max_length {
                    return Err(too_large());
                }
                body.extend_from_slice(&bytes);
            }
            Ok(None) => return Ok(Some(body)),
            Err(source) => {
                retries += 1;
                let offset = body.len() as u64;
                let complete = resume.total.is_some_and(|t| offset >= t);
                if !resume.ranges || complete || retries >= settings.attempts() {
                    return Err(FetchError::Body {
                        url: url.clone(),
                        offset,
                        source,
                    });
                }
                tracing::debug!(%url, offset, "body broke, resuming with range");
                tokio::time::sleep(settings.backoff(retries - 1)).await;
                match open(client, settings, url, Some((offset, &resume))).await? {
                    Some(next) => response = next,
                    None => {
                        return Err(FetchError::NoResume {
                            url: url.clone(),
                            offset,
                            status: StatusCode::NOT_FOUND.as_u16(),
                        });
                    }
                }
            }
        }
    }
}

/// Sends the request for `url` (from `resume_at` when given), retrying connection errors and
/// transient statuses with back-off (none before the first attempt); `None` for "not found". A
/// resumed request succeeds only with a `206` whose `Content-Range` starts at the offset asked
/// for.
async fn open(
    client: &HttpClient,
    settings: &TransportSettings,
    url: &Url,
    resume_at: Option<(u64, &Resume)>,
) -> Result<Option<reqwest::Response>, FetchError> {
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
            Err(source) if source.is_builder() || source.is_redirect() => {
                return Err(FetchError::Request {
                    url: url.clone(),
                    source,
                });
            }
            Err(source) => {
                tracing::debug!(%url, attempt, error = %source, "request failed");
                last = Some(FetchError::Request {
                    url: url.clone(),
                    source,
                });
                continue;
            }
        };
        let status = response.status();
        if status_is_not_found(status) {
            return Ok(None);
        }
        if status_is_transient(status) {
            tracing::debug!(%url, attempt, %status, "transient http status");
            last = Some(FetchError::Status {
                url: url.clone(),
                status: status.as_u16(),
            });
            continue;
        }
        return match resume_at {
            None if status == StatusCode::OK => Ok(Some(response)),
            None => Err(FetchError::Status {
                url: url.clone(),
                status: status.as_u16(),
            }),
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
                    Ok(Some(response))
                } else {
                    Err(FetchError::NoResume {
                        url: url.clone(),
                        offset,
                        status: status.as_u16(),
                    })
                }
            }
        };
    }
    Err(last.unwrap_or(FetchError::Status {
        url: url.clone(),
        status: StatusCode::SERVICE_UNAVAILABLE.as_u16(),
    }))
}

/// Adds a trailing `/` to a URL path so that `join` appends instead of replacing.
pub fn with_trailing_slash(mut url: Url) -> Url {
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    url
}
