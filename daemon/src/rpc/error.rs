//! The JSON-RPC error object (docs/protocol.md, "Errors"): the codes are `tufd_protocol::codes`;
//! an engine error is -32000 with `data.kind` naming its kind, or -32603 for internal failures.

use serde_json::{Value, json};
use tufd_engine::EngineError;

pub use tufd_protocol::codes::{INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND, PARSE_ERROR};

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
        Self {
            code: err.kind().code(),
            message: tufd_engine::error::report(err),
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
