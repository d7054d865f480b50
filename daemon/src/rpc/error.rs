//! Every JSON-RPC error code of the protocol, in one place (contract: "Errors"): the standard
//! codes, and -32000 for tufd's own errors with `data.kind` naming the [`EngineError`] kind.

use serde_json::{Value, json};
use tufd_actors::EngineError;

/// Invalid JSON.
pub const PARSE_ERROR: i64 = -32700;
/// Not a valid request object.
pub const INVALID_REQUEST: i64 = -32600;
/// Unknown method.
pub const METHOD_NOT_FOUND: i64 = -32601;
/// Bad params.
pub const INVALID_PARAMS: i64 = -32602;
/// A daemon bug or a stopped engine.
pub const INTERNAL_ERROR: i64 = -32603;
/// An update error; `data.kind` says which.
pub const TUFD_ERROR: i64 = -32000;

/// A JSON-RPC error object.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    /// The code.
    pub code: i64,
    /// Human-readable text.
    pub message: String,
    /// Extra data (`{"kind"}` for tufd errors).
    pub data: Option<Value>,
}

impl RpcError {
    /// An error with `code` and `message`, no data.
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            data: None,
        }
    }

    /// The error object for an engine error: -32000 with `data.kind`, or -32603 for
    /// internal failures.
    pub fn from_engine(err: &EngineError) -> Self {
        let code = if err.kind() == "internal" {
            INTERNAL_ERROR
        } else {
            TUFD_ERROR
        };
        Self {
            code,
            message: err.to_string(),
            data: Some(json!({ "kind": err.kind() })),
        }
    }

    /// The JSON form.
    pub fn to_json(&self) -> Value {
        let mut obj = json!({ "code": self.code, "message": self.message });
        if let Some(data) = &self.data {
            obj["data"] = data.clone();
        }
        obj
    }
}
