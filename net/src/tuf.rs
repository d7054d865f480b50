//! [`refresh`]: the TUF refresh with tough, and the trusted targets as the planner sees them
//! ([`RepoView`]).
//!
//! - The trusted metadata is a [`TrustedStore`] in `<data>/metadata/` (exact received bytes;
//!   tough's datastore is its sub-folder); the root given to tough is `<data>/metadata/root.json`
//!   when present (the newest trusted root) and the shipped trusted root only on first run.
//!   Starting from an older root would let a key rotation erase the rollback baseline.
//!   Unchanged snapshot and targets are served from the store (no-update check: root probe plus
//!   `timestamp.json`).
//! - `ExpirationEnforcement::Safe`; the repository is reloaded and verified by tough for every
//!   check (tough's `Repository` checks expiry against the clock, so a long-lived copy goes
//!   stale). The actor keeps one [`TrustedStore`] handle for its life, whose memo spares a
//!   no-update check re-parsing the same documents and re-running its own local-copy pre-check.
//! - Targets whose names do not parse as `<app>-<version><suffix>`, or whose custom metadata
//!   is malformed, are skipped with a log line; they cannot be planned.

use std::collections::HashMap;

use tufd_core::planner::TargetInfo;
use tufd_core::{Sha256, Suffix, TargetCustom, TargetName};

use crate::trusted_store::{LoadRequest, TrustedStore, TrustedStoreError};

/// A trusted target file: what a download is checked against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetFile {
    /// Signed length in bytes.
    pub length: u64,
    /// Signed sha256.
    pub sha256: Sha256,
}

/// The trusted view of the repository after a refresh.
#[derive(Clone, Debug)]
pub struct RepoView {
    /// Targets the planner can use.
    pub targets: Vec<TargetInfo>,
    /// Every trusted target file by name, with its signed length and sha256.
    pub files: HashMap<String, TargetFile>,
    /// Whether target files are published as `<sha256>.<name>` (root's `consistent_snapshot`).
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
        let file_name = if self.consistent_snapshot {
            format!("{}.{name}", file.sha256)
        } else {
            name.to_owned()
        };
        targets_url
            .join(&file_name)
            .map_err(|source| TrustedStoreError::TargetUrl {
                target: name.to_owned(),
                source,
            })
    }
}

/// Converts tough's trusted targets into planner [`TargetInfo`]s and [`TargetFile`]s.
pub fn view_of(repo: &tough::Repository) -> RepoView {
    let mut targets = Vec::new();
    let mut files = HashMap::new();
    for (name, target) in repo.all_targets() {
        let raw = name.raw();
        let Ok(sha256) = <[u8; 32]>::try_from(target.hashes.sha256.as_ref()) else {
            tracing::warn!(target = raw, "target has no 32-byte sha256; skipped");
            continue;
        };
        files.insert(
            raw.to_owned(),
            TargetFile {
                length: target.length,
                sha256: Sha256::from_bytes(sha256),
            },
        );
        let Ok(parsed) = TargetName::parse(raw) else {
            tracing::debug!(target = raw, "not a <app>-<version> target name; skipped");
            continue;
        };
        let is_patch = parsed.suffix() == Suffix::Patch;
        match TargetCustom::parse(raw, is_patch, &target.custom) {
            Ok(custom) => targets.push(TargetInfo {
                name: parsed,
                length: target.length,
                custom,
            }),
            Err(e) => tracing::warn!(target = raw, error = %e, "bad custom metadata; skipped"),
        }
    }
    RepoView {
        targets,
        files,
        consistent_snapshot: repo.root().signed.consistent_snapshot,
    }
}

/// Refreshes the TUF metadata through `store` (a handle on the client's metadata folder, kept
/// between calls: its in-memory memo saves repeated pre-checks; tough still verifies every
/// role on every call) and returns the trusted view.
///
/// # Errors
/// [`TrustedStoreError::Io`] when the store or root cannot be read or written;
/// [`TrustedStoreError::Tuf`] for every refusal of the TUF client (classified by
/// [`TrustedStoreError::failure`]).
pub async fn refresh(
    store: &TrustedStore,
    request: LoadRequest,
) -> Result<RepoView, TrustedStoreError> {
    let loaded = store.load(request).await.inspect_err(|e| {
        tracing::warn!(error = %e, "tuf refresh failed");
    })?;
    let repo = loaded.repository();
    tracing::debug!(
        root = repo.root().signed.version.get(),
        timestamp = repo.timestamp().signed.version.get(),
        "tuf metadata refreshed"
    );
    Ok(view_of(repo))
}
