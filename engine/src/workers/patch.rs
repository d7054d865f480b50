//! The patch worker: runs [`tufd_install::build::build`] off the async threads, one job at a
//! time.

use std::path::PathBuf;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tufd_install::build::{BuildError, BuildJob, build};

/// Messages of the [`PatchWorker`].
pub enum PatchMsg {
    /// Build the new tar (in a blocking thread).
    Build {
        /// What to build.
        job: BuildJob,
        /// Where to answer.
        reply: RpcReplyPort<Result<PathBuf, BuildError>>,
    },
}

/// The patch worker: runs [`build`] off the async threads, one job at a time.
pub struct PatchWorker;

impl Actor for PatchWorker {
    type Msg = PatchMsg;
    type State = ();
    type Arguments = ();

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        _args: (),
    ) -> Result<(), ActorProcessingErr> {
        Ok(())
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        _state: &mut (),
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            PatchMsg::Build { job, reply } => {
                let result = tokio::task::spawn_blocking(move || build(&job)).await?;
                // The requester may have gone (cancelled); nothing to do then.
                let _ = reply.send(result);
            }
        }
        Ok(())
    }
}
