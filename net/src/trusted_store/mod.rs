//! [`TrustedStore`]: the client's trusted TUF metadata on disk, as the **exact bytes received**
//! under non-versioned names (`root.json`, `timestamp.json`, `snapshot.json`, `targets.json`,
//! `<quoted role>.json`), and the refresh that keeps it (TUF specification 5.2–5.6, the "persist"
//! steps). The layout is the data folder's `metadata/` (docs/architecture.md, "The data folder")
//! and the conformance client's metadata folder (conformance/README.md, "CLI").
//!
//! `sigstore-tuf`'s `Updater` verifies; this module gives it its transport and its store:
//! - The transport is [`TufTransport`] (the daemon's one HTTP client, `file://`), each fetch
//!   bounded by the client's maximum length for the role.
//! - The store is the folder itself ([`files`]): the client reads its local copies from it (the
//!   version floors of timestamp, snapshot and targets across runs; unchanged snapshot and
//!   targets are reused, so a no-update check costs the root probe plus `timestamp.json`), and
//!   every role it verified is written back as the exact bytes received, atomically and only when
//!   they change. Stored bytes are re-verified from the trusted root on every load.
//! - A load starts from the store's `root.json` when present, the shipped root otherwise:
//!   starting from an older root would let a key rotation erase the version floors. After a
//!   rotation of the timestamp or snapshot keys, the stored copies no longer verify and stop
//!   being floors (fast-forward recovery, TUF 5.3.11) until the new ones replace them.
//! - One key counts once toward a threshold: a root or delegating targets role that lists one
//!   public key under two key ids of a role is refused before the client trusts it, whether it is
//!   the root the load starts from, a new root or targets role from the repository, or a stored
//!   copy ([`keys`], [`TrustedStoreError::KeyReuse`]).
//! - Delegated targets roles are loaded as TUF's pre-order depth-first search reaches them
//!   ([`LoadedRepository::target_info`]), or all at once for the planner's view
//!   ([`LoadedRepository::all_targets`]).

mod files;
mod keys;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sigstore_tuf::transport::FetchFuture;
use sigstore_tuf::{MetadataStore as _, Repository, TargetFile, TrustedMetadataSet, Updater};
use url::Url;

use crate::transport::{FetchError, NetFailure, TufTransport};
use files::StoreFiles;
pub use keys::KeyReuse;
use keys::{MetadataKind, check_metadata};

pub use sigstore_tuf::UpdaterConfig;

/// Why a [`TrustedStore`] operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrustedStoreError {
    /// The TUF client refused the repository (signature, version, expiry, hash, length, size,
    /// network).
    #[error("tuf verification failed")]
    Tuf {
        /// The TUF client's error.
        #[source]
        source: Box<sigstore_tuf::Error>,
    },
    /// A root or a delegating targets role lists one public key under two key ids of one role,
    /// so one key could count twice toward a threshold; refused before it is trusted.
    #[error(transparent)]
    KeyReuse(KeyReuse),
    /// A local file operation failed.
    #[error("i/o error on {}", path.display())]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The target is not listed in the trusted targets.
    #[error("target {target} is not in the trusted targets")]
    UnknownTarget {
        /// The target path.
        target: String,
    },
    /// The target's name does not make a URL under the targets URL.
    #[error("target {target} has no valid URL")]
    TargetUrl {
        /// The target path.
        target: String,
        /// The URL error.
        #[source]
        source: url::ParseError,
    },
}

/// What kind of failure a [`TrustedStoreError`] is, for the user and the protocol's error
/// kinds (TUF specification, "Detailed client workflow": each refusal names the step).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TufFailure {
    /// A role's metadata is past its `expires`.
    Expired,
    /// The repository offered metadata older than what the client trusts (rollback or freeze).
    Rollback,
    /// The repository could not be reached, timed out, answered with an error status or broke
    /// off mid-way ([`NetFailure`]).
    Network(NetFailure),
    /// A metadata file is larger than the client's maximum size for it (endless data).
    TooLarge,
    /// Bad signature, threshold, malformed metadata, hash or length pins, unknown target.
    Invalid,
    /// A local file operation failed.
    Io,
}

impl TrustedStoreError {
    /// The TUF client's error; a [`KeyReuse`] refusal raised in the transport comes back out as
    /// [`TrustedStoreError::KeyReuse`].
    fn tuf(source: sigstore_tuf::Error) -> Self {
        let source = match source {
            sigstore_tuf::Error::Transport {
                message,
                source: Some(inner),
            } => match inner.downcast::<KeyReuse>() {
                Ok(reuse) => return TrustedStoreError::KeyReuse(*reuse),
                Err(inner) => sigstore_tuf::Error::Transport {
                    message,
                    source: Some(inner),
                },
            },
            other => other,
        };
        TrustedStoreError::Tuf {
            source: Box::new(source),
        }
    }

    /// The transport failure behind this error, when there is one.
    fn fetch_error(&self) -> Option<&FetchError> {
        let TrustedStoreError::Tuf { source } = self else {
            return None;
        };
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(source.as_ref());
        while let Some(error) = cause {
            if let Some(fetch) = error.downcast_ref::<FetchError>() {
                return Some(fetch);
            }
            cause = error.source();
        }
        None
    }

    /// Classifies this error by the TUF client's variant: expired role →
    /// [`TufFailure::Expired`]; a version below the trusted one (of a role, or of a role's pin in
    /// timestamp or snapshot) → [`TufFailure::Rollback`]; a body past its maximum size →
    /// [`TufFailure::TooLarge`]; other transport failures → [`TufFailure::Network`] with their
    /// [`NetFailure`]; disk
    /// failures → [`TufFailure::Io`]; anything else → [`TufFailure::Invalid`].
    pub fn failure(&self) -> TufFailure {
        use sigstore_tuf::Error as E;
        match self {
            TrustedStoreError::Io { .. } => TufFailure::Io,
            TrustedStoreError::Tuf { source } => match source.as_ref() {
                E::Expired { .. } => TufFailure::Expired,
                E::Rollback { .. } | E::EqualVersion { .. } => TufFailure::Rollback,
                E::BadRootVersion { trusted, new } if new <= trusted => TufFailure::Rollback,
                E::Transport { .. } => match self.fetch_error() {
                    Some(FetchError::TooLarge { .. }) => TufFailure::TooLarge,
                    Some(fetch) => {
                        TufFailure::Network(fetch.net_failure().unwrap_or(NetFailure::Broken))
                    }
                    None => TufFailure::Network(NetFailure::Broken),
                },
                E::Io { .. } => TufFailure::Io,
                _ => TufFailure::Invalid,
            },
            TrustedStoreError::UnknownTarget { .. }
            | TrustedStoreError::TargetUrl { .. }
            | TrustedStoreError::KeyReuse(_) => TufFailure::Invalid,
        }
    }

    /// The URL a transport failure was about.
    pub fn url(&self) -> Option<String> {
        self.fetch_error().map(|e| e.url().to_string())
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TrustedStoreError + '_ {
    move |source| TrustedStoreError::Io {
        path: path.to_owned(),
        source,
    }
}

/// What a load needs besides the store.
#[derive(Debug, Clone)]
pub struct LoadRequest {
    /// Base URL of the metadata, ending in `/`.
    pub metadata_url: Url,
    /// Base URL of the targets, ending in `/`.
    pub targets_url: Url,
    /// The transport (the daemon's shared client).
    pub transport: TufTransport,
    /// The root to start from when the store holds no `root.json` yet (the shipped root).
    pub shipped_root: Option<PathBuf>,
    /// The TUF client's size, root-rotation and delegation limits; `None` for its defaults
    /// (python-tuf's: timestamp 16 KiB, snapshot 2 MB, targets 5 MB, root 512 kB).
    pub limits: Option<UpdaterConfig>,
}

/// [`TufTransport`] as the TUF client's `Repository`: metadata under the metadata URL, targets
/// under the targets URL.
#[derive(Debug, Clone)]
struct RepoTransport {
    transport: TufTransport,
    metadata_url: Url,
    targets_url: Url,
}

impl RepoTransport {
    async fn get(
        &self,
        base: &Url,
        name: &str,
        max_length: u64,
    ) -> sigstore_tuf::Result<Option<Vec<u8>>> {
        let url = base.join(name).map_err(|e| {
            sigstore_tuf::Error::transport_with_source(format!("{name:?} is not a url path"), e)
        })?;
        self.transport
            .fetch(&url, max_length)
            .await
            .map_err(|e| sigstore_tuf::Error::transport_with_source(format!("fetching {name}"), e))
    }

    /// Metadata file `name`, refused (before the TUF client sees it) when it lists one key
    /// under two ids of a role ([`keys`]).
    async fn metadata(&self, name: &str, max_length: u64) -> sigstore_tuf::Result<Option<Vec<u8>>> {
        let bytes = self.get(&self.metadata_url, name, max_length).await?;
        if let Some(bytes) = &bytes {
            check_metadata(name, MetadataKind::of(name), bytes).map_err(|reuse| {
                sigstore_tuf::Error::transport_with_source(format!("refusing {name}"), reuse)
            })?;
        }
        Ok(bytes)
    }
}

impl Repository for RepoTransport {
    fn fetch_metadata<'a>(&'a self, name: &'a str, max_length: u64) -> FetchFuture<'a> {
        Box::pin(self.metadata(name, max_length))
    }

    fn fetch_target<'a>(&'a self, path: &'a str, max_length: u64) -> FetchFuture<'a> {
        Box::pin(self.get(&self.targets_url, path, max_length))
    }
}

/// The trusted metadata folder of one client (see the module documentation).
#[derive(Debug, Clone)]
pub struct TrustedStore {
    dir: PathBuf,
}

impl TrustedStore {
    /// The store in `dir` (created on load if missing).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The store folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `root.json`: the newest trusted root, exact bytes.
    pub fn root_path(&self) -> PathBuf {
        self.dir.join("root.json")
    }

    /// Runs the TUF refresh (root, timestamp, snapshot, top-level targets) over
    /// `request.transport`, persists the exact bytes of every role that verified, and returns
    /// the loaded repository.
    ///
    /// # Errors
    /// [`TrustedStoreError::Io`] when the store or the root cannot be read or written;
    /// [`TrustedStoreError::Tuf`] when the TUF client refuses the repository (roles verified
    /// before the failure are persisted all the same).
    pub async fn load(&self, request: LoadRequest) -> Result<LoadedRepository, TrustedStoreError> {
        self.load_with_clock(request, None).await
    }

    /// As [`Self::load`], with the client's clock reading `now` for every expiry check of the
    /// load and of the returned repository. Expiry is the only check that reads the clock, so a
    /// `now` before every `expires` loads an expired repository with every other check intact:
    /// `tufd-repo verify` does so to report an expired role and the problems past it.
    ///
    /// # Errors
    /// As [`Self::load`].
    pub async fn load_at(
        &self,
        request: LoadRequest,
        now: jiff::Timestamp,
    ) -> Result<LoadedRepository, TrustedStoreError> {
        self.load_with_clock(request, Some(now)).await
    }

    async fn load_with_clock(
        &self,
        request: LoadRequest,
        clock: Option<jiff::Timestamp>,
    ) -> Result<LoadedRepository, TrustedStoreError> {
        let started = std::time::Instant::now();
        let files = Arc::new(StoreFiles::new(&self.dir));
        let initial_root = {
            let (files, shipped) = (Arc::clone(&files), request.shipped_root.clone());
            blocking(move || files.prepare(shipped.as_deref())).await?
        };
        check_metadata("root.json", MetadataKind::Root, &initial_root)
            .map_err(TrustedStoreError::KeyReuse)?;
        let prepared_at = started.elapsed();
        let repo = RepoTransport {
            transport: request.transport,
            metadata_url: request.metadata_url,
            targets_url: request.targets_url,
        };
        let config = request.limits.unwrap_or_default();
        let refreshed = async {
            let mut updater = Updater::new(repo.clone(), &initial_root)
                .map_err(TrustedStoreError::tuf)?
                .with_config(config)
                .with_store(Arc::clone(&files));
            updater
                .refresh(clock.unwrap_or_else(jiff::Timestamp::now))
                .await
                .map_err(TrustedStoreError::tuf)?;
            Ok(updater)
        }
        .await;
        let refreshed_at = started.elapsed();
        let flushed = flush(&files).await;
        tracing::debug!(
            prepare_us = prepared_at.as_micros(),
            refresh_us = (refreshed_at - prepared_at).as_micros(),
            persist_us = (started.elapsed() - refreshed_at).as_micros(),
            "trusted store load"
        );
        let updater = refreshed?;
        flushed?;
        Ok(LoadedRepository {
            updater,
            files,
            repo,
            config,
            clock,
        })
    }
}

/// Writes what the TUF client verified since the last flush, in one blocking section.
async fn flush(files: &Arc<StoreFiles>) -> Result<(), TrustedStoreError> {
    let files = Arc::clone(files);
    let written = blocking(move || files.flush()).await?;
    if !written.is_empty() {
        tracing::debug!(?written, "trusted store updated");
    }
    Ok(())
}

/// Runs `work` on tokio's blocking pool (one hop for a whole batch of file operations).
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, TrustedStoreError> + Send + 'static,
) -> Result<T, TrustedStoreError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| TrustedStoreError::Io {
            path: PathBuf::new(),
            source: std::io::Error::other(e),
        })?
}

/// Writes `bytes` to `path` through a temp file in the same folder and a rename; on failure
/// nothing is left behind (bytes, files in the folder).
///
/// # Errors
/// [`TrustedStoreError::Io`] when the folder cannot be written.
pub async fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), TrustedStoreError> {
    let (path, bytes) = (path.to_owned(), bytes.to_vec());
    blocking(move || files::write_atomic_blocking(&path, &bytes)).await
}

/// Percent-encodes a role name as Python's `urllib.parse.quote(name, safe="")` does (and as the
/// TUF client names delegated role files): `A–Z a–z 0–9 _ . - ~` stay, every other byte is `%XX`.
pub fn quote(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'.' | b'-' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Whether `bytes` have the target's signed length and every signed hash tufd can compute
/// (`sha256`, `sha512`), at least one of them (TUF 5.7.3).
pub fn target_matches(bytes: &[u8], target: &TargetFile) -> bool {
    use sha2::Digest as _;
    if bytes.len() as u64 != target.length {
        return false;
    }
    let mut checked = false;
    for (algorithm, expected) in &target.hashes {
        let actual = match algorithm.as_str() {
            "sha256" => hex::encode(sha2::Sha256::digest(bytes)),
            "sha512" => hex::encode(sha2::Sha512::digest(bytes)),
            _ => continue,
        };
        if !actual.eq_ignore_ascii_case(expected) {
            return false;
        }
        checked = true;
    }
    checked
}

/// A repository loaded through a [`TrustedStore`]: the TUF client after a successful refresh.
#[derive(Debug)]
pub struct LoadedRepository {
    updater: Updater,
    files: Arc<StoreFiles>,
    repo: RepoTransport,
    config: UpdaterConfig,
    /// The clock of [`TrustedStore::load_at`]; `None`: the system clock.
    clock: Option<jiff::Timestamp>,
}

impl LoadedRepository {
    /// The time expiry is checked against: the system clock, or the load's `now`.
    fn now(&self) -> jiff::Timestamp {
        self.clock.unwrap_or_else(jiff::Timestamp::now)
    }

    /// The verified metadata (root, timestamp, snapshot, targets and the delegated roles loaded
    /// so far).
    pub fn trusted(&self) -> &TrustedMetadataSet {
        self.updater.trusted()
    }

    /// Whether target files are published as `<hash>.<name>` (root's `consistent_snapshot`).
    pub fn consistent_snapshot(&self) -> bool {
        self.trusted().root().consistent_snapshot
    }

    /// The trusted entry of target `name`, found by TUF's pre-order depth-first search of the
    /// delegations (TUF 5.6.7), loading and persisting the delegated roles it visits.
    ///
    /// # Errors
    /// [`TrustedStoreError::UnknownTarget`] when no trusted role lists `name`;
    /// [`TrustedStoreError::Tuf`] when a delegated role it visits is refused or unreachable;
    /// [`TrustedStoreError::Io`] when a delegated role cannot be persisted.
    pub async fn target_info(&mut self, name: &str) -> Result<TargetFile, TrustedStoreError> {
        let now = self.now();
        let found = self.updater.get_target_info(name, now).await;
        flush(&self.files).await?;
        found
            .map_err(TrustedStoreError::tuf)?
            .ok_or_else(|| TrustedStoreError::UnknownTarget {
                target: name.to_owned(),
            })
    }

    /// Downloads target `name` into memory and checks it against `target` (from
    /// [`Self::target_info`]): at most its signed length, then its length and hashes (TUF
    /// 5.7.3). With consistent snapshots the file is fetched as `<dir>/<hash>.<basename>`. For
    /// small files (the conformance client); the daemon's resumable downloads are
    /// [`crate::download`].
    ///
    /// # Errors
    /// [`TrustedStoreError::Tuf`] for a network failure or bytes that do not match (nothing is
    /// returned then).
    pub async fn download_target(
        &self,
        target: &TargetFile,
        name: &str,
    ) -> Result<Vec<u8>, TrustedStoreError> {
        self.updater
            .download_target(target, name)
            .await
            .map_err(TrustedStoreError::tuf)
    }

    /// Every target the trusted roles authorise, by path, each as the role TUF's search would
    /// pick for it (TUF 5.6.7: pre-order depth-first, `terminating`, path patterns). Loads every
    /// delegated role the snapshot lists and a delegation reaches (at most the configured
    /// `max_delegations`), reusing the stored copy when it still matches the snapshot, and
    /// persists those fetched.
    ///
    /// # Errors
    /// [`TrustedStoreError::Tuf`] when a delegated role is refused or unreachable;
    /// [`TrustedStoreError::Io`] when one cannot be persisted.
    pub async fn all_targets(&self) -> Result<BTreeMap<String, TargetFile>, TrustedStoreError> {
        self.all_targets_for(None).await
    }

    /// As [`Self::all_targets`], for a client of `platform` (`<os>-<arch>`): a delegated role
    /// whose every path pattern lies in another platform's folder (`windows-x86_64/*` for a
    /// `linux-x86_64` client) is neither fetched nor searched, so another platform's role,
    /// broken or not, never affects this client ([`in_scope`]). `None`: every role.
    ///
    /// # Errors
    /// As [`Self::all_targets`].
    pub async fn all_targets_for(
        &self,
        platform: Option<&str>,
    ) -> Result<BTreeMap<String, TargetFile>, TrustedStoreError> {
        let now = self.now();
        let mut set = self.trusted().clone();
        let top = set
            .targets_role("targets")
            .ok_or_else(|| TrustedStoreError::tuf(sigstore_tuf::Error::NotRefreshed))?;
        if top.delegations.as_ref().is_none_or(|d| d.roles.is_empty()) {
            return Ok(top.targets.clone());
        }
        let loaded = self.load_delegated(&mut set, now, platform).await;
        flush(&self.files).await?;
        loaded?;
        let mut paths = BTreeSet::new();
        for role in
            std::iter::once("targets").chain(self.role_names(&set).iter().map(String::as_str))
        {
            if let Some(targets) = set.targets_role(role) {
                paths.extend(targets.targets.keys().cloned());
            }
        }
        Ok(paths
            .into_iter()
            .filter_map(|path| resolve(&set, &path).map(|file| (path, file.clone())))
            .collect())
    }

    /// The delegated role names the snapshot lists.
    fn role_names(&self, set: &TrustedMetadataSet) -> Vec<String> {
        set.snapshot()
            .map(|s| {
                s.meta
                    .keys()
                    .filter_map(|k| k.strip_suffix(".json"))
                    .filter(|r| !is_top_level(r))
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Loads every reachable delegated role into `set`, depth first from `targets`.
    async fn load_delegated(
        &self,
        set: &mut TrustedMetadataSet,
        now: jiff::Timestamp,
        platform: Option<&str>,
    ) -> Result<(), TrustedStoreError> {
        let mut stack: Vec<(String, String)> = children(set, "targets", platform);
        let mut visited = BTreeSet::new();
        while let Some((role, parent)) = stack.pop() {
            if !visited.insert(role.clone()) {
                // TUF 5.6.7.2.1: a role seen before is skipped, which is what ends a cycle.
                tracing::warn!(
                    %role,
                    delegated_by = %parent,
                    "delegated role reached a second time (a delegation cycle or a shared \
                     role); not loaded again"
                );
                continue;
            }
            if visited.len() > self.config.max_delegations as usize {
                tracing::warn!(
                    max = self.config.max_delegations,
                    "too many delegated roles; the rest are not loaded"
                );
                break;
            }
            let pin = set
                .snapshot()
                .and_then(|s| s.meta.get(&format!("{role}.json")))
                .map(|m| m.version);
            let Some(version) = pin else {
                tracing::debug!(%role, "delegated role not in the snapshot; skipped");
                continue;
            };
            let file = format!("{}.json", quote(&role));
            let stored = self.files.load(&file).ok().flatten();
            let reused = stored.is_some_and(|bytes| {
                set.update_delegated_targets(&bytes, &role, &parent, now)
                    .is_ok()
            });
            if !reused {
                let remote = if self.consistent_snapshot() {
                    format!("{version}.{file}")
                } else {
                    file.clone()
                };
                let bytes = self
                    .repo
                    .fetch_metadata(&remote, self.config.targets_max_length)
                    .await
                    .map_err(TrustedStoreError::tuf)?
                    .ok_or_else(|| {
                        TrustedStoreError::tuf(sigstore_tuf::Error::transport(format!(
                            "{remote} not found"
                        )))
                    })?;
                set.update_delegated_targets(&bytes, &role, &parent, now)
                    .map_err(TrustedStoreError::tuf)?;
                let _ = self.files.store(&file, &bytes);
            }
            stack.extend(children(set, &role, platform));
        }
        Ok(())
    }
}

fn is_top_level(role: &str) -> bool {
    matches!(role, "root" | "timestamp" | "snapshot" | "targets")
}

/// Whether a client of `platform` may need delegated role `child`: always without a platform,
/// with path hash prefixes or with no patterns; otherwise when one of its path patterns is
/// flat (no `/`), or its folder pattern can match `platform` (checked by the role's own
/// matcher against `<platform>/<rest of the pattern>`; a pattern whose rest holds a `[` class
/// is kept, as that check cannot tell).
fn in_scope(child: &sigstore_tuf::DelegatedRole, platform: Option<&str>) -> bool {
    let (Some(platform), None, Some(paths)) = (platform, &child.path_hash_prefixes, &child.paths)
    else {
        return true;
    };
    paths.iter().any(|pattern| match pattern.split_once('/') {
        None => true,
        Some((_, rest)) if rest.contains('[') => true,
        Some((_, rest)) => child
            .matches_path(&format!("{platform}/{rest}"))
            .unwrap_or(true),
    })
}

/// The delegations of `role` as `(child, role)` pairs, in reverse order (so that popping them
/// off a stack visits them in order), top-level role names and roles out of `platform`'s scope
/// ([`in_scope`]) left out.
fn children(set: &TrustedMetadataSet, role: &str, platform: Option<&str>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = set
        .targets_role(role)
        .and_then(|t| t.delegations.as_ref())
        .map(|d| {
            d.roles
                .iter()
                .filter(|child| !is_top_level(&child.name) && in_scope(child, platform))
                .map(|child| (child.name.clone(), role.to_owned()))
                .collect()
        })
        .unwrap_or_default();
    out.reverse();
    out
}

/// The entry for `path` in the first role of TUF's pre-order depth-first search over the roles
/// loaded in `set` (TUF 5.6.7): a delegation is followed only when its patterns match `path`,
/// and a matching `terminating` one ends the search after its subtree.
fn resolve<'a>(set: &'a TrustedMetadataSet, path: &str) -> Option<&'a TargetFile> {
    let mut to_visit = vec!["targets".to_owned()];
    let mut visited = BTreeSet::new();
    while !to_visit.is_empty() {
        let role = to_visit.remove(0);
        if !visited.insert(role.clone()) {
            continue;
        }
        let Some(targets) = set.targets_role(&role) else {
            continue;
        };
        if let Some(found) = targets.target(path) {
            return Some(found);
        }
        let mut next = Vec::new();
        for child in targets.delegations.iter().flat_map(|d| &d.roles) {
            if is_top_level(&child.name) || !child.matches_path(path).unwrap_or(false) {
                continue;
            }
            next.push(child.name.clone());
            if child.terminating {
                to_visit.clear();
                break;
            }
        }
        next.append(&mut to_visit);
        to_visit = next;
    }
    None
}

// Unix: the tests tell rewrites apart by inode.
#[cfg(all(test, unix))]
mod tests;
