//! One handler per method: each calls the engine and turns the answer into its result object
//! (docs/protocol.md, "Requests"; the types are `tufd_protocol`'s).

use serde_json::{Value, json};
use tufd_engine::{Engine, EngineError};
use tufd_protocol::{Cancelled, Confirmed, RolledBack};

use super::request::Method;

fn to_value(value: impl serde::Serialize) -> Result<Value, EngineError> {
    serde_json::to_value(value).map_err(|_| EngineError::Invariant("an answer does not serialise"))
}

/// `status` → `{"state", "current", "latest"?, "pending"?}`.
async fn status(engine: &Engine) -> Result<Value, EngineError> {
    to_value(engine.status().await?)
}

/// `check` → the object of `tufd check --json`.
async fn check(engine: &Engine) -> Result<Value, EngineError> {
    to_value(engine.check().await?)
}

/// `download` → `{"version", "staged": true}`.
async fn download(engine: &Engine) -> Result<Value, EngineError> {
    to_value(engine.download().await?)
}

/// `install` → `{"version", "installed": true}`.
async fn install(engine: &Engine) -> Result<Value, EngineError> {
    to_value(engine.install().await?)
}

/// `cancel` → `{"cancelled": bool}`.
async fn cancel(engine: &Engine) -> Result<Value, EngineError> {
    to_value(Cancelled {
        cancelled: engine.cancel().await?,
    })
}

/// `shutdown` → `{}` once the engine stopped (a swap in progress finishes first).
async fn shutdown(engine: &Engine) -> Result<Value, EngineError> {
    engine.shutdown().await?;
    Ok(json!({}))
}

/// `confirm` → `{"confirmed": "<version>" | null}` (null: nothing was pending).
async fn confirm(engine: &Engine) -> Result<Value, EngineError> {
    to_value(Confirmed {
        confirmed: engine.confirm().await?.map(|v| v.to_string()),
    })
}

/// `rollback` → `{"version", "rolled_back": true}`.
async fn rollback(engine: &Engine) -> Result<Value, EngineError> {
    to_value(RolledBack {
        version: engine.rollback().await?.to_string(),
        rolled_back: true,
    })
}

/// Runs `request` against `engine`.
///
/// # Errors
/// The engine's error for the request.
pub async fn handle(engine: &Engine, request: Method) -> Result<Value, EngineError> {
    match request {
        Method::Status => status(engine).await,
        Method::Check => check(engine).await,
        Method::Download => download(engine).await,
        Method::Install => install(engine).await,
        Method::Cancel => cancel(engine).await,
        Method::Shutdown => shutdown(engine).await,
        Method::Confirm => confirm(engine).await,
        Method::Rollback => rollback(engine).await,
    }
}
