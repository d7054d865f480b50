//! The download worker: runs [`tufd_net::download::download`] for the supervisor, one target at
//! a time, on the daemon's shared [`HttpClient`]. The chunked, resumable, verified download
//! itself lives in `tufd-net`.

use std::path::PathBuf;
use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tokio_util::sync::CancellationToken;

use tufd_net::download::{self, DownloadError, DownloadRequest};
use tufd_net::transport::HttpClient;

/// Progress callback: (bytes verified so far, signed length), both in bytes.
pub type ProgressFn = Arc<dyn Fn(u64, u64) + Send + Sync>;

/// Messages of the [`DownloadWorker`].
pub enum DownloadMsg {
    /// Download one target and answer with the verified file's path.
    Download {
        /// What to fetch.
        request: DownloadRequest,
        /// Called as bytes arrive.
        progress: ProgressFn,
        /// Stops the download (the `.part` file stays consistent for a resume).
        cancel: CancellationToken,
        /// Where to answer.
        reply: RpcReplyPort<Result<PathBuf, DownloadError>>,
    },
}

/// The download worker.
pub struct DownloadWorker;

impl Actor for DownloadWorker {
    type Msg = DownloadMsg;
    type State = HttpClient;
    type Arguments = HttpClient;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        client: HttpClient,
    ) -> Result<HttpClient, ActorProcessingErr> {
        Ok(client)
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        client: &mut HttpClient,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            DownloadMsg::Download {
                request,
                progress,
                cancel,
                reply,
            } => {
                let result = download::download(
                    client,
                    &request,
                    &|done, total| progress(done, total),
                    &cancel,
                )
                .await;
                let _ = reply.send(result);
            }
        }
        Ok(())
    }
}
