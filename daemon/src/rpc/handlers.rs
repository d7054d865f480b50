//! One handler per method: each calls the engine and turns the answer into the result object
//! of the contract ("JSON-RPC 2.0 over stdio", requests).

use serde_json::{Value, json};
use tufd_actors::{Engine, EngineError};

use super::request::Request;

fn to_value(value: impl serde::Serialize) -> Result<Value, EngineError> {
    serde_json::to_value(value).map_err(|e| EngineError::Internal {
        message: format!("cannot serialise the answer: {e}"),
    })
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
    Ok(json!({ "cancelled": engine.cancel().await? }))
}

/// `shutdown` → `{}` once the engine stopped (a swap in progress finishes first).
async fn shutdown(engine: &Engine) -> Result<Value, EngineError> {
    engine.shutdown().await?;
    Ok(json!({}))
}

/// `confirm` → `{"confirmed": "<version>" | null}` (null: nothing was pending).
async fn confirm(engine: &Engine) -> Result<Value, EngineError> {
    Ok(json!({ "confirmed": engine.confirm().await? }))
}

/// `rollback` → `{"version", "rolled_back": true}`.
async fn rollback(engine: &Engine) -> Result<Value, EngineError> {
    Ok(json!({ "version": engine.rollback().await?, "rolled_back": true }))
}

/// Runs `request` against `engine`.
///
/// # Errors
/// The engine's error for the request.
pub async fn handle(engine: &Engine, request: Request) -> Result<Value, EngineError> {
    match request {
        Request::Status => status(engine).await,
        Request::Check => check(engine).await,
        Request::Download => download(engine).await,
        Request::Install => install(engine).await,
        Request::Cancel => cancel(engine).await,
        Request::Shutdown => shutdown(engine).await,
        Request::Confirm => confirm(engine).await,
        Request::Rollback => rollback(engine).await,
    }
}
