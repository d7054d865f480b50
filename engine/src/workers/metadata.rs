//! The metadata worker: one TUF refresh at a time ([`tufd_net::tuf::refresh`]) through one
//! [`TrustedStore`] handle for its life, whose memo spares a no-update check re-parsing the same
//! documents.
//!
//! - The trusted metadata is a [`TrustedStore`] in `<data>/metadata/` (exact received bytes);
//!   the root the TUF client starts from is `<data>/metadata/root.json` when present (the
//!   newest trusted root) and the shipped trusted root only on first run. Starting from an
//!   older root would let a key rotation erase the rollback baseline.
//! - The repository is reloaded and verified for every check (expiry is checked against the
//!   clock, so a long-lived copy goes stale).

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tufd_net::RepoView;
use tufd_net::transport::TufTransport;
use tufd_net::trusted_store::{LoadRequest, TrustedStore};

use crate::config::EngineConfig;
use crate::error::EngineError;

/// Messages of the [`MetadataWorker`].
pub enum MetadataMsg {
    /// Refresh now and answer with the trusted view.
    Refresh(RpcReplyPort<Result<RepoView, EngineError>>),
}

/// Arguments of the [`MetadataWorker`].
#[derive(Clone, Debug)]
pub struct MetadataArgs {
    /// The engine config.
    pub config: EngineConfig,
    /// The transport on the daemon's shared client.
    pub transport: TufTransport,
}

/// The running state of the [`MetadataWorker`]: its arguments and the store handle it keeps.
pub struct MetadataWorkerState {
    args: MetadataArgs,
    store: TrustedStore,
}

/// What one refresh of `config`'s repository asks of the trusted store.
pub fn load_request(config: &EngineConfig, transport: TufTransport) -> LoadRequest {
    LoadRequest {
        metadata_url: config.metadata_url.clone(),
        targets_url: config.targets_url.clone(),
        transport,
        shipped_root: Some(config.trusted_root.clone()),
        limits: None,
    }
}

/// The metadata worker.
pub struct MetadataWorker;

impl Actor for MetadataWorker {
    type Msg = MetadataMsg;
    type State = MetadataWorkerState;
    type Arguments = MetadataArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: MetadataArgs,
    ) -> Result<MetadataWorkerState, ActorProcessingErr> {
        let store = TrustedStore::new(args.config.layout().metadata());
        Ok(MetadataWorkerState { args, store })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut MetadataWorkerState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            MetadataMsg::Refresh(reply) => {
                let request = load_request(&state.args.config, state.args.transport.clone());
                let config = &state.args.config;
                let platform = config.platform.as_ref();
                let result = tufd_net::tuf::refresh_for(&state.store, request, platform)
                    .await
                    .map(|view| view.for_platform(&config.app_name, platform))
                    .map_err(EngineError::from);
                let _ = reply.send(result);
            }
        }
        Ok(())
    }
}
