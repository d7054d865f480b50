//! [`refresh`]: the TUF refresh with `sigstore-tuf`, and the trusted targets as the planner sees
//! them ([`RepoView`]).
//!
//! - The trusted metadata is a [`TrustedStore`] in `<data>/metadata/` (exact received bytes);
//!   the root the TUF client starts from is `<data>/metadata/root.json` when present (the newest
//!   trusted root) and the shipped trusted root only on first run. Starting from an older root
//!   would let a key rotation erase the rollback baseline. Unchanged snapshot and targets are
//!   reused from the store (no-update check: root probe plus `timestamp.json`).
//! - The repository is reloaded and verified for every check, expiry against the clock (a
//!   long-lived copy goes stale); the stored copies are re-verified from the trusted root each
//!   time.
//! - Delegated targets roles are all loaded, and each target is the one TUF's delegation search
//!   picks ([`crate::trusted_store::LoadedRepository::all_targets`]).
//! - Targets whose names do not parse as `<app>-<version><suffix>`, or whose custom metadata
//!   is malformed, are skipped with a log line; they cannot be planned.

use std::collections::{BTreeMap, HashMap};

use tufd_core::planner::TargetInfo;
use tufd_core::{Platform, Suffix, TargetCustom, TargetName};

use crate::download::TargetDigest;
use crate::trusted_store::{LoadRequest, TrustedStore, TrustedStoreError};

/// A trusted target file: what a download is checked against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetFile {
    /// Signed length in bytes.
    pub length: u64,
    /// Signed digest: the sha256, or the sha512 when the target lists no sha256.
    pub digest: TargetDigest,
}

/// The trusted view of the repository after a refresh.
#[derive(Clone, Debug)]
pub struct RepoView {
    /// Targets the planner can use.
    pub targets: Vec<TargetInfo>,
    /// Every trusted target file by name, with its signed length and digest.
    pub files: HashMap<String, TargetFile>,
    /// Whether target files are published as `<hash>.<name>` (root's `consistent_snapshot`; the
    /// hash is the file's [`TargetFile::digest`]).
    pub consistent_snapshot: bool,
}

impl RepoView {
    /// The URL of target `name` under `targets_url` (which ends in `/`).
    ///
    /// # Errors
    /// [`TrustedStoreError::UnknownTarget`] when the target is not trusted.
    pub fn target_url(
        &self,
        targets_url: &url::Url,
        name: &str,
    ) -> Result<url::Url, TrustedStoreError> {
        let file = self
            .files
            .get(name)
            .ok_or_else(|| TrustedStoreError::UnknownTarget {
                target: name.to_owned(),
            })?;
        // With consistent snapshots the hash prefixes the file name, not the whole path
        // (TUF 5.7.3: `dir/<hash>.name`).
        let file_name = match (self.consistent_snapshot, name.rsplit_once('/')) {
            (false, _) => name.to_owned(),
            (true, Some((dir, base))) => format!("{dir}/{}.{base}", file.digest.hex()),
            (true, None) => format!("{}.{name}", file.digest.hex()),
        };
        targets_url
            .join(&file_name)
            .map_err(|source| TrustedStoreError::TargetUrl {
                target: name.to_owned(),
                source,
            })
    }
}

impl RepoView {
    /// The view of a client of `platform` for `app`: the targets the planner's platform rule
    /// keeps ([`tufd_core::planner::platform::select`]: the platform's own, else the flat
    /// ones), and only their files among `app`'s; another platform's targets are gone.
    pub fn for_platform(mut self, app: &str, platform: Option<&Platform>) -> Self {
        self.targets = tufd_core::planner::platform::select(&self.targets, app, platform);
        let kept: std::collections::HashSet<&str> =
            self.targets.iter().map(|t| t.name.as_str()).collect();
        self.files.retain(|name, _| {
            kept.contains(name.as_str()) || TargetName::parse(name).map_or(true, |n| n.app() != app)
        });
        self
    }
}

/// Converts trusted targets into planner [`TargetInfo`]s and [`TargetFile`]s.
pub fn view_of(
    targets: &BTreeMap<String, sigstore_tuf::TargetFile>,
    consistent_snapshot: bool,
) -> RepoView {
    let mut planned = Vec::new();
    let mut files = HashMap::new();
    for (raw, target) in targets {
        let hashes = target.hashes.iter().map(|(a, h)| (a.as_str(), h.as_str()));
        let Some(digest) = TargetDigest::from_hashes(hashes) else {
            tracing::warn!(
                target = raw,
                "target has neither a sha256 nor a sha512; skipped"
            );
            continue;
        };
        files.insert(
            raw.to_owned(),
            TargetFile {
                length: target.length,
                digest,
            },
        );
        let Ok(parsed) = TargetName::parse(raw) else {
            tracing::debug!(target = raw, "not a <app>-<version> target name; skipped");
            continue;
        };
        let is_patch = parsed.suffix() == Suffix::Patch;
        let custom: HashMap<String, serde_json::Value> = match &target.custom {
            None | Some(serde_json::Value::Null) => HashMap::new(),
            Some(serde_json::Value::Object(map)) => map.clone().into_iter().collect(),
            Some(_) => {
                tracing::warn!(target = raw, "custom metadata is not an object; skipped");
                continue;
            }
        };
        match TargetCustom::parse(raw, is_patch, &custom) {
            Ok(custom) => planned.push(TargetInfo {
                name: parsed,
                length: target.length,
                custom,
            }),
            Err(e) => tracing::warn!(target = raw, error = %e, "bad custom metadata; skipped"),
        }
    }
    RepoView {
        targets: planned,
        files,
        consistent_snapshot,
    }
}

/// Refreshes the TUF metadata through `store` (the client's metadata folder) and returns the
/// trusted view, delegated roles included.
///
/// # Errors
/// [`TrustedStoreError::Io`] when the store or root cannot be read or written;
/// [`TrustedStoreError::Tuf`] for every refusal of the TUF client (classified by
/// [`TrustedStoreError::failure`]).
pub async fn refresh(
    store: &TrustedStore,
    request: LoadRequest,
) -> Result<RepoView, TrustedStoreError> {
    refresh_for(store, request, None).await
}

/// [`refresh`] for a client of `platform`: delegated roles of other platforms are not loaded
/// ([`crate::trusted_store::LoadedRepository::all_targets_for`]). The view still holds every
/// loaded target; [`RepoView::for_platform`] keeps the platform's.
///
/// # Errors
/// As [`refresh`].
pub async fn refresh_for(
    store: &TrustedStore,
    request: LoadRequest,
    platform: Option<&Platform>,
) -> Result<RepoView, TrustedStoreError> {
    let result = async {
        let loaded = store.load(request).await?;
        let trusted = loaded.trusted();
        tracing::debug!(
            root = trusted.root().version,
            timestamp = trusted.timestamp().map(|t| t.version),
            "tuf metadata refreshed"
        );
        let targets = loaded
            .all_targets_for(platform.map(Platform::as_str))
            .await?;
        Ok(view_of(&targets, loaded.consistent_snapshot()))
    }
    .await;
    result.inspect_err(|e: &TrustedStoreError| tracing::warn!(error = %e, "tuf refresh failed"))
}
