//! Chunked, resumable target downloads (docs/architecture.md, "One update, step by step", step 6;
//! transport rule 5 in [`crate::transport`]). The engine's download worker
//! (`tufd_engine::workers::download`) calls [`download`]; metadata goes through the TUF client
//! ([`crate::trusted_store`]) and [`crate::transport::TufTransport`].
//!
//! Security promises (TUF 5.2: "download up to the signed length"; TUF 5.7.3: verify the target
//! against its trusted hashes before use):
//! - never more bytes than the signed `length` are accepted: a response body that goes beyond it
//!   (or announces it in `Content-Length`) fails at once with [`DownloadError::LengthExceeded`]
//!   and the partial file is deleted;
//! - bytes are appended only from a `200` (read from its first byte) or from a `206` whose
//!   `Content-Range` starts at the offset asked for and whose total equals the signed length
//!   ([`crate::transport::http_range`]); any other answer (a `206` with a wrong `Content-Range`,
//!   `416`) cuts the file back to zero and starts over without `Range`;
//! - the finished file appears at `dir/<file_name>` only after its length and digest (the signed
//!   sha256, or sha512 for a target signed with sha512 only, [`TargetDigest`]) matched the
//!   signed values; on a mismatch the partial file is deleted ([`DownloadError::HashMismatch`]).
//!
//! Strategy (one of several that would keep the on-disk format of docs/architecture.md, "The
//! data folder"): one request per attempt, open-ended from the offset reached
//! (`Range: bytes=OFFSET-LAST` with `LAST` = signed length − 1; no `Range` at offset 0), streamed
//! to `dir/<file_name>.part`. A writer thread appends and hashes the bytes while the socket keeps
//! being read; a syncer thread checkpoints every `chunk_bytes` or `checkpoint_interval`,
//! whichever comes first: the data is fdatasync'd, then `.part.json`
//! (`{"url","length","sha256","offset"}`, `sha512` instead of `sha256` for a sha512-only target)
//! is replaced atomically ([`writer`]). One request per
//! attempt keeps a fast link busy (no round trip per chunk) while the checkpoints bound what a
//! crash can lose to about one checkpoint's worth. See [`part`] for the on-disk invariant.
//!
//! Failures: connection errors, idle timeouts, a body that ends early and `5xx`/`408`/`429` are
//! retried with back-off (the client's [`TransportSettings`](crate::transport::TransportSettings):
//! `tries` attempts in a row without progress; any accepted byte resets the count), resuming from
//! the bytes already written. `403`/`404`/`410` and other `4xx` fail at once
//! ([`DownloadError::Http`]). Cancellation is checked between reads and during back-off; the
//! `.part` is checkpointed first, so a later call resumes. `file://` sources are copied through
//! the same machinery (length cap, hashing, checkpoints, resume by seeking the source).
//!
//! Memory is bounded: at most [`part::IN_FLIGHT_BYTES`] accepted but not yet written, plus a
//! 512 KiB write buffer per download. Two concurrent
//! downloads of the same `dir/file_name` are not supported (the engine runs one per target).

#![allow(
    clippy::result_large_err,
    reason = "DownloadError carries the URL and both digests by value so the error names them; errors end a download, so their size costs nothing"
)]

pub mod digest;
pub mod part;
mod writer;

use std::error::Error as StdError;
use std::io::{self, SeekFrom};
use std::path::PathBuf;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::CONTENT_RANGE;
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _};
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::transport::http_range::{ContentRange, range_header};
use crate::transport::{HttpClient, NetFailure, status_is_transient};
use part::{PartFile, hash_file, remove_if_present};

pub use digest::{Sha512, TargetDigest};

/// Default checkpoint interval (bytes): 1 MiB.
pub const DEFAULT_CHUNK_BYTES: u64 = 1024 * 1024;

/// The checkpoint interval the update engine uses (bytes): 64 MiB. Checkpoints run beside the
/// download (they never stop it), and a killed daemon resumes from the end of the `.part`
/// anyway; they bound what a power loss costs. Each is an fdatasync whose write-back competes
/// with the download for the disk: at 8 MiB they still took about half of the remaining gap to
/// curl on a 1 GiB download, at 64 MiB under a tenth (`docs/performance.md`).
pub const ENGINE_CHUNK_BYTES: u64 = 64 * 1024 * 1024;

/// Default time between checkpoints (seconds), so a slow link checkpoints too: 2 s.
pub const DEFAULT_CHECKPOINT_INTERVAL: Duration = Duration::from_secs(2);

/// Size of the pieces read from `file://` sources (bytes).
const FILE_READ_BYTES: usize = 256 * 1024;

/// What to download and how to check it: the URL and the target's signed length and digest
/// (from trusted TUF targets metadata).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadRequest {
    /// Where to fetch from (`http://`, `https://` or `file://`).
    pub url: Url,
    /// Folder receiving `<file_name>.part`, `<file_name>.part.json` and the finished file
    /// (`<data-dir>/downloads`); created if missing.
    pub dir: PathBuf,
    /// Plain file name (no separators, not `.` or `..`) of the finished file inside `dir`.
    pub file_name: String,
    /// Signed length of the target (bytes); never exceeded.
    pub length: u64,
    /// Signed digest of the target: its sha256, or its sha512 when it lists no sha256.
    pub digest: TargetDigest,
    /// Checkpoint interval (bytes). A crash makes us fetch again what arrived since the last
    /// completed checkpoint: about this much, plus what the disk had not absorbed yet. 0
    /// counts as 1.
    pub chunk_bytes: u64,
    /// Checkpoint interval (time): a checkpoint also starts when this much time has passed
    /// since the last one ([`DEFAULT_CHECKPOINT_INTERVAL`]).
    pub checkpoint_interval: Duration,
}

impl DownloadRequest {
    /// A request with the default checkpoint intervals ([`DEFAULT_CHUNK_BYTES`],
    /// [`DEFAULT_CHECKPOINT_INTERVAL`]).
    pub fn new(
        url: Url,
        dir: impl Into<PathBuf>,
        file_name: impl Into<String>,
        length: u64,
        digest: impl Into<TargetDigest>,
    ) -> Self {
        Self {
            url,
            dir: dir.into(),
            file_name: file_name.into(),
            length,
            digest: digest.into(),
            chunk_bytes: DEFAULT_CHUNK_BYTES,
            checkpoint_interval: DEFAULT_CHECKPOINT_INTERVAL,
        }
    }

    /// `dir/<file_name>`: the verified file.
    pub fn final_path(&self) -> PathBuf {
        self.dir.join(&self.file_name)
    }

    /// `dir/<file_name>.part`: the bytes accepted so far.
    pub fn part_path(&self) -> PathBuf {
        self.dir.join(format!("{}.part", self.file_name))
    }

    /// `dir/<file_name>.part.json`: the checkpoint record.
    pub fn record_path(&self) -> PathBuf {
        self.dir.join(format!("{}.part.json", self.file_name))
    }

    fn check_file_name(&self) -> Result<(), DownloadError> {
        let name = &self.file_name;
        let bad = name.is_empty()
            || name == "."
            || name == ".."
            || name.contains(['/', '\\', '\0'])
            || std::path::Path::new(name).is_absolute();
        if bad {
            return Err(DownloadError::InvalidFileName { name: name.clone() });
        }
        Ok(())
    }
}

/// Why a download failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DownloadError {
    /// The server sent (or announced) more than the signed length.
    #[error("{url} sent more than the signed length of {limit} bytes")]
    LengthExceeded {
        /// The URL.
        url: Url,
        /// The signed length (bytes).
        limit: u64,
    },
    /// The downloaded bytes do not have the signed digest.
    #[error("{url} does not match its signed hash: expected {expected}, got {actual}")]
    HashMismatch {
        /// The URL.
        url: Url,
        /// The signed digest.
        expected: TargetDigest,
        /// The digest (same algorithm) of what was received.
        actual: TargetDigest,
    },
    /// The server refused the request (or kept failing with this status).
    #[error("{url} answered http status {status}")]
    Http {
        /// The URL.
        url: Url,
        /// The HTTP status code.
        status: u16,
    },
    /// The network kept failing (connection, timeout, body cut short) after every retry.
    #[error("network failure downloading {url}")]
    Network {
        /// The URL.
        url: Url,
        /// The last failure.
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
    /// Reading or writing a local file failed.
    #[error("i/o error on {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The file name is not a plain name inside the download folder.
    #[error("refusing download file name {name:?}")]
    InvalidFileName {
        /// The name given.
        name: String,
    },
    /// The URL scheme is not `http`, `https` or `file`.
    #[error("unsupported url scheme in {url}")]
    UnsupportedScheme {
        /// The URL.
        url: Url,
    },
    /// The cancellation token fired; the `.part` file is kept for a later resume.
    #[error("download cancelled")]
    Cancelled,
    /// The download did not finish within its overall deadline
    /// ([`crate::transport::TransportSettings::deadline_for`] of the signed length); the
    /// `.part` file is kept, so the next attempt resumes.
    #[error("{url}: not downloaded within {} s", after.as_secs())]
    TimedOut {
        /// The URL.
        url: Url,
        /// The deadline that passed.
        after: std::time::Duration,
    },
}

impl DownloadError {
    /// The kind of network failure, for the transport errors: a refusing or failing status is
    /// [`NetFailure::ServerError`], a deadline [`NetFailure::TimedOut`], a request that could
    /// not connect [`NetFailure::Unreachable`]; `None` for verification, local and usage
    /// errors.
    pub fn net_failure(&self) -> Option<NetFailure> {
        match self {
            DownloadError::Http { .. } => Some(NetFailure::ServerError),
            DownloadError::TimedOut { .. } => Some(NetFailure::TimedOut),
            DownloadError::Network { source, .. } => {
                Some(match source.downcast_ref::<TransferFailure>() {
                    Some(TransferFailure::Request(e)) => NetFailure::of_reqwest(e),
                    Some(TransferFailure::Body { source, .. }) if source.is_timeout() => {
                        NetFailure::TimedOut
                    }
                    _ => NetFailure::Broken,
                })
            }
            _ => None,
        }
    }
}

/// A failure of the transfer itself (not of the local disk).
#[derive(Debug, thiserror::Error)]
enum TransferFailure {
    #[error("request failed")]
    Request(#[source] reqwest::Error),
    #[error("body broke after byte {offset}")]
    Body {
        offset: u64,
        #[source]
        source: reqwest::Error,
    },
    #[error("body ended at byte {offset} of {length}")]
    Short { offset: u64, length: u64 },
}

/// How one attempt ended, when it did not complete the file.
enum Stop {
    /// Give up now with this error.
    Fatal(DownloadError),
    /// Cut the file back to zero and ask again without `Range`.
    Restart,
    /// Retry later from the bytes already written; `error` is returned if retries run out.
    Retry(DownloadError),
}

/// Downloads `req.url` into `req.dir/req.file_name`, resuming a previous partial download,
/// and returns the path of the finished file after its length and digest matched the signed
/// values. When that file already exists with the right length and digest, returns it without
/// touching the network. `progress(done_bytes, total_bytes)` is called after each write (and
/// once at the start with the resumed offset).
///
/// # Errors
/// [`DownloadError::LengthExceeded`] and [`DownloadError::HashMismatch`] (partial file deleted),
/// [`DownloadError::Http`] for a refusal (`4xx`) or a `5xx` that outlasted the retries,
/// [`DownloadError::Network`] when the network kept failing, [`DownloadError::Io`] for local
/// files, [`DownloadError::InvalidFileName`], [`DownloadError::UnsupportedScheme`], and
/// [`DownloadError::Cancelled`] (partial file kept and checkpointed).
pub async fn download(
    client: &HttpClient,
    req: &DownloadRequest,
    progress: &(dyn Fn(u64, u64) + Send + Sync),
    cancel: &CancellationToken,
) -> Result<PathBuf, DownloadError> {
    req.check_file_name()?;
    let is_file = match req.url.scheme() {
        "file" => true,
        "http" | "https" => false,
        _ => {
            return Err(DownloadError::UnsupportedScheme {
                url: req.url.clone(),
            });
        }
    };
    let final_path = req.final_path();
    if already_done(req).await? {
        progress(req.length, req.length);
        return Ok(final_path);
    }
    if cancel.is_cancelled() {
        return Err(DownloadError::Cancelled);
    }
    let mut part = PartFile::open(req).await?;
    // The overall deadline cancels a child token, so a download stopped by it ends as a
    // cancelled one does (the part checkpointed and kept for a resume).
    let after = client.settings().deadline_for(req.length);
    let deadline = cancel.child_token();
    let timer = {
        let deadline = deadline.clone();
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            deadline.cancel();
        })
    };
    let _stop_timer = AbortOnDrop(timer);
    loop {
        progress(part.offset(), req.length);
        let result = if is_file {
            copy_file(req, &mut part, progress, &deadline).await
        } else {
            fetch_http(client, req, &mut part, progress, &deadline).await
        };
        let result = match result {
            Err(DownloadError::Cancelled) if !cancel.is_cancelled() => {
                Err(DownloadError::TimedOut {
                    url: req.url.clone(),
                    after,
                })
            }
            other => other,
        };
        match result {
            Ok(()) => {}
            Err(
                e @ (DownloadError::LengthExceeded { .. } | DownloadError::HashMismatch { .. }),
            ) => {
                part.discard().await?;
                return Err(e);
            }
            Err(e) => {
                // Keep what was accepted for a later resume (cancel, network, http refusal).
                part.suspend().await?;
                return Err(e);
            }
        }
        let (actual, length) = part.finish().await?;
        if length != req.length {
            // Unreachable by construction (the loops stop only at the signed length); refuse.
            part.discard().await?;
            return Err(DownloadError::Network {
                url: req.url.clone(),
                source: Box::new(TransferFailure::Short {
                    offset: length,
                    length: req.length,
                }),
            });
        }
        if actual == req.digest {
            break;
        }
        if part.fall_back().await? {
            tracing::warn!(url = %req.url, offset = part.offset(), "resumed download failed its signed hash; fetching again from the last synced checkpoint");
            continue;
        }
        part.discard().await?;
        return Err(DownloadError::HashMismatch {
            url: req.url.clone(),
            expected: req.digest,
            actual,
        });
    }
    part.commit(&final_path).await?;
    tracing::info!(url = %req.url, path = %final_path.display(), bytes = req.length, "download verified");
    Ok(final_path)
}

/// Whether `dir/<file_name>` already holds the signed content; a wrong file there is removed.
async fn already_done(req: &DownloadRequest) -> Result<bool, DownloadError> {
    let path = req.final_path();
    let Ok(meta) = tokio::fs::metadata(&path).await else {
        return Ok(false);
    };
    if meta.is_file() && meta.len() == req.length {
        let (digest, _) =
            hash_file(&path, &req.digest)
                .await
                .map_err(|source| DownloadError::Io {
                    path: path.clone(),
                    source,
                })?;
        if digest == req.digest {
            return Ok(true);
        }
    }
    tracing::warn!(path = %path.display(), "removing a finished download that does not match its signed length and hash");
    remove_if_present(&path).await?;
    Ok(false)
}

/// Fetches over HTTP(S) until the part holds the signed length, retrying per the client's
/// settings.
async fn fetch_http(
    client: &HttpClient,
    req: &DownloadRequest,
    part: &mut PartFile,
    progress: &(dyn Fn(u64, u64) + Send + Sync),
    cancel: &CancellationToken,
) -> Result<(), DownloadError> {
    let settings = client.settings();
    let attempts = settings.attempts();
    let mut failures = 0u32;
    let mut restarts = 0u32;
    let mut use_range = true;
    loop {
        if part.offset() == req.length {
            // Nothing left to fetch: an empty target, or a crash after the last checkpoint
            // but before the rename.
            return Ok(());
        }
        let before = part.offset();
        let stop = match attempt(client, req, part, progress, cancel, use_range).await {
            Ok(()) if part.offset() == req.length => return Ok(()),
            Ok(()) => Stop::Retry(network(
                req,
                TransferFailure::Short {
                    offset: part.offset(),
                    length: req.length,
                },
            )),
            Err(stop) => stop,
        };
        match stop {
            Stop::Fatal(e) => return Err(e),
            Stop::Restart => {
                restarts += 1;
                if restarts > attempts {
                    return Err(network(
                        req,
                        TransferFailure::Short {
                            offset: 0,
                            length: req.length,
                        },
                    ));
                }
                tracing::warn!(url = %req.url, offset = part.offset(), "server cannot resume, restarting from zero");
                part.restart().await?;
                progress(0, req.length);
                use_range = false;
            }
            Stop::Retry(error) => {
                part.checkpoint().await?;
                if part.offset() > before {
                    failures = 0;
                }
                failures += 1;
                if failures >= attempts {
                    return Err(error);
                }
                let delay = settings.backoff(failures - 1);
                tracing::debug!(url = %req.url, offset = part.offset(), ?delay, error = %error, "download attempt failed, retrying");
                tokio::select! {
                    () = cancel.cancelled() => return Err(DownloadError::Cancelled),
                    () = tokio::time::sleep(delay) => {}
                }
            }
        }
    }
}

/// Aborts the deadline timer when the download ends.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn network(req: &DownloadRequest, failure: TransferFailure) -> DownloadError {
    DownloadError::Network {
        url: req.url.clone(),
        source: Box::new(failure),
    }
}

fn http(req: &DownloadRequest, status: StatusCode) -> DownloadError {
    DownloadError::Http {
        url: req.url.clone(),
        status: status.as_u16(),
    }
}

/// One request: asks for the bytes from the current offset and appends what the answer allows.
/// `Ok(())` when the body ended (the caller checks whether the file is complete).
async fn attempt(
    client: &HttpClient,
    req: &DownloadRequest,
    part: &mut PartFile,
    progress: &(dyn Fn(u64, u64) + Send + Sync),
    cancel: &CancellationToken,
    use_range: bool,
) -> Result<(), Stop> {
    let offset = part.offset();
    let range = (use_range && offset > 0).then(|| range_header(offset, Some(req.length - 1)));
    let request = client.get(&req.url, range.as_deref());
    let mut response = tokio::select! {
        () = cancel.cancelled() => return Err(Stop::Fatal(DownloadError::Cancelled)),
        sent = request.send() => match sent {
            Ok(response) => response,
            Err(e) if e.is_builder() || e.is_redirect() => {
                return Err(Stop::Fatal(network(req, TransferFailure::Request(e))));
            }
            Err(e) => return Err(Stop::Retry(network(req, TransferFailure::Request(e)))),
        },
    };
    let status = response.status();
    match status {
        StatusCode::OK => {
            if response.content_length().is_some_and(|n| n > req.length) {
                return Err(Stop::Fatal(length_exceeded(req)));
            }
            if offset > 0 {
                // The server ignored `Range`: read the whole body, from the first byte.
                tracing::warn!(url = %req.url, offset, "server answered 200 to a range request, restarting from zero");
                part.restart().await.map_err(Stop::Fatal)?;
                progress(0, req.length);
            }
        }
        StatusCode::PARTIAL_CONTENT => {
            let continues = response
                .headers()
                .get(CONTENT_RANGE)
                .and_then(|v| v.to_str().ok())
                .and_then(ContentRange::parse)
                .is_some_and(|r| r.continues(offset, req.length));
            if !continues {
                return Err(Stop::Restart);
            }
        }
        StatusCode::RANGE_NOT_SATISFIABLE => return Err(Stop::Restart),
        s if status_is_transient(s) => return Err(Stop::Retry(http(req, s))),
        s => return Err(Stop::Fatal(http(req, s))),
    }
    loop {
        let chunk = tokio::select! {
            biased;
            () = cancel.cancelled() => return Err(Stop::Fatal(DownloadError::Cancelled)),
            chunk = response.chunk() => chunk,
        };
        match chunk {
            Ok(Some(bytes)) => {
                if part.offset() + bytes.len() as u64 > req.length {
                    return Err(Stop::Fatal(length_exceeded(req)));
                }
                part.append(bytes).await.map_err(Stop::Fatal)?;
                progress(part.offset(), req.length);
            }
            Ok(None) => return Ok(()),
            Err(source) => {
                let failure = TransferFailure::Body {
                    offset: part.offset(),
                    source,
                };
                return Err(Stop::Retry(network(req, failure)));
            }
        }
    }
}

fn length_exceeded(req: &DownloadRequest) -> DownloadError {
    DownloadError::LengthExceeded {
        url: req.url.clone(),
        limit: req.length,
    }
}

/// Copies a `file://` source from the part's offset, with the same length cap and checkpoints.
async fn copy_file(
    req: &DownloadRequest,
    part: &mut PartFile,
    progress: &(dyn Fn(u64, u64) + Send + Sync),
    cancel: &CancellationToken,
) -> Result<(), DownloadError> {
    let source = req
        .url
        .to_file_path()
        .map_err(|()| DownloadError::UnsupportedScheme {
            url: req.url.clone(),
        })?;
    let io_err = |e: io::Error| DownloadError::Io {
        path: source.clone(),
        source: e,
    };
    let mut file = tokio::fs::File::open(&source).await.map_err(io_err)?;
    file.seek(SeekFrom::Start(part.offset()))
        .await
        .map_err(io_err)?;
    loop {
        if cancel.is_cancelled() {
            return Err(DownloadError::Cancelled);
        }
        let mut buf = vec![0u8; FILE_READ_BYTES];
        let n = file.read(&mut buf).await.map_err(io_err)?;
        if n == 0 {
            break;
        }
        if part.offset() + n as u64 > req.length {
            return Err(length_exceeded(req));
        }
        buf.truncate(n);
        part.append(buf.into()).await?;
        progress(part.offset(), req.length);
    }
    if part.offset() < req.length {
        // The file is shorter than signed: it cannot be the target.
        let actual = part.finish().await?.0;
        return Err(DownloadError::HashMismatch {
            url: req.url.clone(),
            expected: req.digest,
            actual,
        });
    }
    Ok(())
}
