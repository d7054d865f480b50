//! MetadataActor and [`refresh`]: the TUF refresh with tough, and the trusted targets as the
//! planner sees them (DESIGN "The daemon: actors", MetadataActor; notes/tough.md "Client side").
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

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tufd_core::planner::TargetInfo;
use tufd_core::{Sha256, Suffix, TargetCustom, TargetName};

use crate::config::EngineConfig;
use crate::error::EngineError;
use crate::transport::TufTransport;
use crate::trusted_store::{LoadRequest, TrustedStore};

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
    /// [`EngineError::MetadataInvalid`] when the target is not trusted.
    pub fn target_url(&self, targets_url: &url::Url, name: &str) -> Result<url::Url, EngineError> {
        let file = self
            .files
            .get(name)
            .ok_or_else(|| EngineError::MetadataInvalid {
                message: format!("target {name} is not in the trusted targets"),
            })?;
        let file_name = if self.consistent_snapshot {
            format!("{}.{name}", file.sha256)
        } else {
            name.to_owned()
        };
        targets_url
            .join(&file_name)
            .map_err(|e| EngineError::MetadataInvalid {
                message: format!("target url for {name}: {e}"),
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

/// Refreshes the TUF metadata of `config`'s repository through `transport` and returns the
/// trusted view (a fresh [`TrustedStore`] handle: nothing is remembered between calls; the
/// [`MetadataActor`] keeps one handle for its life, see [`refresh_store`]).
///
/// # Errors
/// [`EngineError::Io`] when the store or root cannot be read or written; tough's failures
/// classified by [`EngineError::from_tough`] (`expired-metadata`, `metadata-rollback`, `network`,
/// `metadata-invalid`).
pub async fn refresh(
    config: &EngineConfig,
    transport: TufTransport,
) -> Result<RepoView, EngineError> {
    refresh_store(
        &TrustedStore::new(config.layout().metadata()),
        config,
        transport,
    )
    .await
}

/// [`refresh`] through `store`, a handle on `config`'s metadata folder kept between calls (its
/// in-memory memo saves repeated pre-checks; tough still verifies everything on every call).
///
/// # Errors
/// As [`refresh`].
pub async fn refresh_store(
    store: &TrustedStore,
    config: &EngineConfig,
    transport: TufTransport,
) -> Result<RepoView, EngineError> {
    let loaded = store
        .load(LoadRequest {
            metadata_url: config.metadata_url.clone(),
            targets_url: config.targets_url.clone(),
            transport,
            shipped_root: Some(config.trusted_root.clone()),
            limits: None,
        })
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "tuf refresh failed");
            EngineError::from(e)
        })?;
    let repo = loaded.repository();
    tracing::debug!(
        root = repo.root().signed.version.get(),
        timestamp = repo.timestamp().signed.version.get(),
        "tuf metadata refreshed"
    );
    Ok(view_of(repo))
}

/// Messages of the [`MetadataActor`].
pub enum MetadataMsg {
    /// Refresh now and answer with the trusted view.
    Refresh(RpcReplyPort<Result<RepoView, EngineError>>),
}

/// Arguments and state of the [`MetadataActor`].
#[derive(Clone, Debug)]
pub struct MetadataState {
    /// The engine config.
    pub config: EngineConfig,
    /// The transport on the daemon's shared client.
    pub transport: TufTransport,
}

/// The running state of the [`MetadataActor`]: its arguments and the store handle it keeps.
pub struct MetadataRuntime {
    args: MetadataState,
    store: TrustedStore,
}

/// The MetadataActor: one TUF refresh at a time, through one [`TrustedStore`] handle for its
/// life.
pub struct MetadataActor;

impl Actor for MetadataActor {
    type Msg = MetadataMsg;
    type State = MetadataRuntime;
    type Arguments = MetadataState;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: MetadataState,
    ) -> Result<MetadataRuntime, ActorProcessingErr> {
        let store = TrustedStore::new(args.config.layout().metadata());
        Ok(MetadataRuntime { args, store })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut MetadataRuntime,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            MetadataMsg::Refresh(reply) => {
                let (config, transport) = (&state.args.config, state.args.transport.clone());
                let result = refresh_store(&state.store, config, transport).await;
                let _ = reply.send(result);
            }
        }
        Ok(())
    }
}
