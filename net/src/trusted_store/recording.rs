//! [`RecordingTransport`]: the `tough` transport wrapper of a [`super::TrustedStore`] refresh.
//!
//! It owns three jobs, all on top of [`TufTransport`] (the transport rules of
//! [`crate::transport`]):
//! - **Recording**: every metadata body handed to tough this run is kept (as far as tough read
//!   it), so that the store can persist the exact bytes of each role tough accepted.
//! - **Trusted local copies** (transport rule 7): `[<V>.]snapshot.json`, `[<V>.]targets.json` and
//!   delegated roles are served from the store when the meta handed out this run (timestamp for
//!   snapshot, snapshot for the others) lists the local copy's version, and its length and
//!   hashes where present; snapshot and targets must also verify against the newest root seen.
//!   A same-version timestamp with other bytes is answered with the trusted copy, as python-tuf
//!   keeps its trusted timestamp (TUF 5.4.3.1 allows equal versions; the spec's reference client
//!   does not switch). tough re-verifies whatever it is handed, so a wrong decision costs a failed
//!   refresh, never trust.
//! - **Targets**: a nested consistent-snapshot target URL `<hash>.dir/file` is rewritten to
//!   `dir/<hash>.file` (TUF 5.7.3), and a local file can be served for the next target reads so
//!   that tough's length and hash checks decide whether a cached copy is still good.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use futures::StreamExt as _;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sha2::Digest as _;
use tough::schema::{Role, Root, Signed, Snapshot, Targets};
use tough::{Transport, TransportStream};
use url::Url;

use super::datastore::Stored;
use super::memo::{BytesDigest, Memo, digest, role_digest};
use crate::transport::TufTransport;

/// The largest timestamp body buffered for the same-version check (bytes); larger bodies pass
/// through unchanged (tough's own limit refuses them).
const TIMESTAMP_BUFFER_BYTES: usize = 1024 * 1024;

/// One metadata body handed to tough: its file name under the metadata URL and the bytes tough
/// read (complete only when tough read to the end).
#[derive(Debug, Clone)]
pub(crate) struct Handed {
    pub(crate) file: String,
    pub(crate) body: Arc<Mutex<Vec<u8>>>,
}

impl Handed {
    pub(crate) fn bytes(&self) -> Vec<u8> {
        self.body
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// State shared by the transport (inside tough's `Repository`) and the store.
#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) metadata_url: Url,
    pub(crate) targets_url: Url,
    /// The store's files (exact bytes under non-versioned names), as read before the load.
    pub(crate) stored: Mutex<Stored>,
    /// tough's datastore (holds its rollback baselines).
    pub(crate) tough_dir: PathBuf,
    /// The root bytes the load started from.
    pub(crate) initial_root: Vec<u8>,
    pub(crate) handed: Mutex<Vec<Handed>>,
    /// Parsed documents, roots and pre-check verdicts, kept across the store's loads.
    pub(crate) memo: Arc<Mutex<Memo>>,
    /// A local file served for target reads while set.
    pub(crate) target_file: Mutex<Option<PathBuf>>,
}

impl Session {
    fn handed(&self) -> Vec<Handed> {
        self.handed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The store's copy of `name` (read from disk only if [`Stored`] has not read it yet).
    fn stored(&self, name: &str) -> Option<Vec<u8>> {
        let mut stored = self.stored.lock().unwrap_or_else(PoisonError::into_inner);
        stored.get(name).ok().flatten().map(<[u8]>::to_vec)
    }

    /// Registers a body about to be handed out and returns its buffer.
    fn record(&self, file: &str) -> Arc<Mutex<Vec<u8>>> {
        let body = Arc::new(Mutex::new(Vec::new()));
        self.handed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Handed {
                file: file.to_owned(),
                body: Arc::clone(&body),
            });
        body
    }

    /// The newest body handed out whose file name satisfies `pred`, parsed.
    fn last_handed(&self, pred: impl Fn(&str) -> bool) -> Option<Arc<Value>> {
        let body = self.handed().into_iter().rev().find(|h| pred(&h.file))?;
        self.memo
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .value(&body.bytes())
    }

    /// The newest root seen this run (the last root body handed out that parses, else the
    /// initial root), with the digest of its bytes. A root that fails verification aborts the
    /// load, so this is the root tough verifies against. Parsed roots come from the memo.
    fn newest_root(&self) -> Option<(BytesDigest, Arc<Signed<Root>>)> {
        let handed = self.handed();
        let candidates = handed
            .iter()
            .rev()
            .filter(|h| h.file.ends_with(".root.json"))
            .map(Handed::bytes)
            .chain(std::iter::once(self.initial_root.clone()));
        let mut verdicts = self.memo.lock().unwrap_or_else(PoisonError::into_inner);
        for bytes in candidates {
            let key = digest(&bytes);
            if let Some(root) = verdicts.root(key, || serde_json::from_slice(&bytes).ok()) {
                return Some((key, root));
            }
        }
        None
    }

    /// Whether `local`, the store's copy of role `role_file`, carries enough valid signatures
    /// for the newest root (a pre-check only: tough verifies what it is handed). The verdict
    /// comes from the memo when these exact bytes were checked before.
    fn verifies<T: Role + Serialize + DeserializeOwned>(
        &self,
        role_file: &str,
        local: &[u8],
    ) -> bool {
        let Some((root_key, root)) = self.newest_root() else {
            return false;
        };
        let mut verdicts = self.memo.lock().unwrap_or_else(PoisonError::into_inner);
        verdicts.verdict(root_key, role_digest(role_file, local), || {
            serde_json::from_slice::<Signed<T>>(local)
                .is_ok_and(|role| root.signed.verify_role(&role).is_ok())
        })
    }

    /// The trusted copy to hand out instead of a fetched `timestamp.json` with the trusted
    /// version but other bytes, while tough still holds its timestamp baseline.
    fn same_version_timestamp(&self, remote: &[u8]) -> Option<Vec<u8>> {
        if !self.tough_dir.join("timestamp.json").exists() {
            return None;
        }
        let trusted = self.stored("timestamp.json")?;
        if trusted == remote {
            return None;
        }
        let version = |bytes: &[u8]| -> Option<u64> {
            let v: Value = serde_json::from_slice(bytes).ok()?;
            v.pointer("/signed/version")?.as_u64()
        };
        (version(remote)? == version(&trusted)?).then_some(trusted)
    }

    /// The trusted local bytes to serve for metadata file `file`, if they may be reused.
    fn local_copy(&self, file: &str) -> Option<Vec<u8>> {
        let (url_version, role_file) = split_versioned(file)?;
        let meta = if role_file == "snapshot.json" {
            if !self.tough_dir.join("snapshot.json").exists() {
                return None;
            }
            self.last_handed(|f| f == "timestamp.json")?
                .pointer("/signed/meta/snapshot.json")?
                .clone()
        } else {
            let snapshot =
                self.last_handed(|f| split_versioned(f).map(|s| s.1) == Some("snapshot.json"))?;
            let metas = snapshot.pointer("/signed/meta")?.as_object()?;
            metas
                .iter()
                .find(|(name, _)| {
                    name.strip_suffix(".json")
                        .is_some_and(|role| format!("{}.json", quote(role)) == role_file)
                })?
                .1
                .clone()
        };
        let local = self.stored(role_file)?;
        let parsed: Value = serde_json::from_slice(&local).ok()?;
        let local_version = parsed.pointer("/signed/version")?.as_u64()?;
        if meta.get("version")?.as_u64()? != local_version
            || url_version.is_some_and(|v| v != local_version)
        {
            return None;
        }
        if let Some(length) = meta.get("length")
            && length.as_u64()? != local.len() as u64
        {
            return None;
        }
        if let Some(hashes) = meta.get("hashes") {
            for (algorithm, expected) in hashes.as_object()? {
                let actual = match algorithm.as_str() {
                    "sha256" => hex::encode(sha2::Sha256::digest(&local)),
                    "sha512" => hex::encode(sha2::Sha512::digest(&local)),
                    _ => return None,
                };
                if expected.as_str()? != actual {
                    return None;
                }
            }
        }
        let verifies = match role_file {
            "snapshot.json" => self.verifies::<Snapshot>(role_file, &local),
            "targets.json" => self.verifies::<Targets>(role_file, &local),
            _ => true,
        };
        verifies.then_some(local)
    }
}

/// Splits `[<V>.]<role>.json` into the URL's version (if any) and the non-versioned name.
/// `None` for root and timestamp (never served locally) and for anything else.
pub(crate) fn split_versioned(file: &str) -> Option<(Option<u64>, &str)> {
    if !file.ends_with(".json") || file.ends_with(".root.json") || file == "root.json" {
        return None;
    }
    if file == "timestamp.json" {
        return None;
    }
    match file.split_once('.') {
        Some((digits, rest))
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) =>
        {
            Some((Some(digits.parse().ok()?), rest))
        }
        _ => Some((None, file)),
    }
}

/// Percent-encodes a role name as Python's `urllib.parse.quote(name, safe="")` does (and as
/// tough names delegated role files): `A–Z a–z 0–9 _ . - ~` stay, every other byte is `%XX`.
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

/// Rewrites tough's nested consistent-snapshot target path `<hash>.dir/file` to `dir/<hash>.file`
/// (TUF 5.7.3 puts the hash before the basename). Flat paths are returned unchanged.
pub(crate) fn fix_target_path(relative: &str) -> String {
    let Some((first, rest)) = relative.split_once('/') else {
        return relative.to_owned();
    };
    let Some((hash, dir)) = first.split_once('.') else {
        return relative.to_owned();
    };
    if !matches!(hash.len(), 64 | 128) || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return relative.to_owned();
    }
    match rest.rsplit_once('/') {
        Some((dirs, base)) => format!("{dir}/{dirs}/{hash}.{base}"),
        None => format!("{dir}/{hash}.{rest}"),
    }
}

/// The tough transport of a [`super::TrustedStore`] load (see the module documentation).
#[derive(Debug, Clone)]
pub(crate) struct RecordingTransport {
    pub(crate) inner: TufTransport,
    pub(crate) session: Arc<Session>,
}

impl RecordingTransport {
    async fn stream(&self, url: Url) -> TransportStream {
        let session = &self.session;
        if let Some(file) = url.as_str().strip_prefix(session.metadata_url.as_str())
            && !file.contains('/')
        {
            return self.metadata_stream(url.clone(), file).await;
        }
        if let Some(relative) = url.as_str().strip_prefix(session.targets_url.as_str()) {
            let local = session
                .target_file
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            let target_url = match local.as_deref().and_then(file_url) {
                Some(local) => local,
                None => session
                    .targets_url
                    .join(&fix_target_path(relative))
                    .unwrap_or(url),
            };
            return self.inner_stream(target_url).await;
        }
        self.inner_stream(url).await
    }

    async fn inner_stream(&self, url: Url) -> TransportStream {
        match self.inner.fetch(url.clone()).await {
            Ok(stream) => stream,
            Err(error) => Box::pin(futures::stream::once(async move { Err(error) })),
        }
    }

    async fn metadata_stream(&self, url: Url, file: &str) -> TransportStream {
        let session = Arc::clone(&self.session);
        let local = session.local_copy(file);
        tracing::trace!(file, local = local.is_some(), "metadata fetch");
        if let Some(local) = local {
            tracing::debug!(file, "serving the trusted local copy");
            *session
                .record(file)
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = local.clone();
            return Box::pin(futures::stream::once(async move { Ok(Bytes::from(local)) }));
        }
        let mut stream = self.inner_stream(url).await;
        let body = session.record(file);
        if file == "timestamp.json" {
            let mut buffer = Vec::new();
            while let Some(item) = stream.next().await {
                match item {
                    Ok(bytes) => {
                        buffer.extend_from_slice(&bytes);
                        if buffer.len() > TIMESTAMP_BUFFER_BYTES {
                            break;
                        }
                    }
                    Err(error) => {
                        *body.lock().unwrap_or_else(PoisonError::into_inner) = buffer.clone();
                        let items = vec![Ok(Bytes::from(buffer)), Err(error)];
                        return Box::pin(futures::stream::iter(items));
                    }
                }
            }
            if buffer.len() <= TIMESTAMP_BUFFER_BYTES {
                if let Some(trusted) = session.same_version_timestamp(&buffer) {
                    tracing::debug!(
                        "same timestamp version with other bytes: keeping the trusted one"
                    );
                    buffer = trusted;
                }
                *body.lock().unwrap_or_else(PoisonError::into_inner) = buffer.clone();
                return Box::pin(futures::stream::once(
                    async move { Ok(Bytes::from(buffer)) },
                ));
            }
            // Too large to be a timestamp: hand out what came and the rest as it comes.
            let head = futures::stream::once(async move { Ok(Bytes::from(buffer)) });
            return Box::pin(head.chain(stream));
        }
        Box::pin(stream.map(move |item| {
            if let Ok(bytes) = &item {
                body.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .extend_from_slice(bytes);
            }
            item
        }))
    }
}

fn file_url(path: &Path) -> Option<Url> {
    Url::from_file_path(path).ok()
}

impl Transport for RecordingTransport {
    // Written out as `#[async_trait]` expands it, as in `TufTransport`.
    fn fetch<'life0, 'async_trait>(
        &'life0 self,
        url: Url,
    ) -> std::pin::Pin<
        Box<
            dyn std::future::Future<Output = Result<TransportStream, tough::TransportError>>
                + Send
                + 'async_trait,
        >,
    >
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        // Errors are stream items (transport rule 2 in `crate::transport`).
        Box::pin(async move { Ok(self.stream(url).await) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_matches_python() {
        assert_eq!(quote("/delegatedrole"), "%2Fdelegatedrole");
        assert_eq!(quote("../a"), "..%2Fa");
        assert_eq!(quote("?"), "%3F");
        assert_eq!(quote("#"), "%23");
        assert_eq!(quote("a b~_-.Z9"), "a%20b~_-.Z9");
        assert_eq!(quote("é"), "%C3%A9");
    }

    #[test]
    fn versioned_names_split() {
        assert_eq!(
            split_versioned("3.snapshot.json"),
            Some((Some(3), "snapshot.json"))
        );
        assert_eq!(
            split_versioned("snapshot.json"),
            Some((None, "snapshot.json"))
        );
        assert_eq!(
            split_versioned("12.%2Fx.json"),
            Some((Some(12), "%2Fx.json"))
        );
        assert_eq!(split_versioned("timestamp.json"), None);
        assert_eq!(split_versioned("2.root.json"), None);
        assert_eq!(split_versioned("a.txt"), None);
    }

    #[test]
    fn nested_target_paths_put_the_hash_before_the_basename() {
        let hash = "a".repeat(64);
        assert_eq!(
            fix_target_path(&format!("{hash}.dir/sub/file.txt")),
            format!("dir/sub/{hash}.file.txt")
        );
        assert_eq!(
            fix_target_path(&format!("{hash}.dir/f")),
            format!("dir/{hash}.f")
        );
        assert_eq!(
            fix_target_path(&format!("{hash}.flat.tar.gz")),
            format!("{hash}.flat.tar.gz")
        );
        assert_eq!(fix_target_path("x.dir/f"), "x.dir/f");
    }
}
