//! Every JSON-RPC error code of the protocol (JSON-RPC 2.0 specification, section 5.1, and
//! -32000 for tufd's own errors, whose `data.kind` is an [`ErrorKind`](crate::ErrorKind)).

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
