//! The one error type of the client: an error answer from tufd (JSON-RPC code, message and
//! update error `kind`, `docs/protocol.md` "Errors"), or a failure to start or talk to it.

use std::time::Duration;

use tufd_protocol::ErrorKind;

/// What went wrong between the app and its sidecar.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// tufd answered the request with an error.
    #[error("tufd refused {method}: {message} (code {code}, kind {})", kind.map_or("none", ErrorKind::as_str))]
    Rpc {
        /// The request's method.
        method: String,
        /// JSON-RPC error code (`codes::TUFD_ERROR` for update errors).
        code: i64,
        /// The error message.
        message: String,
        /// `data.kind` (`None` if absent).
        kind: Option<ErrorKind>,
    },
    /// The tufd program could not be started.
    #[error("cannot start {program}: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Writing a request to tufd's stdin failed.
    #[error("cannot send {method} to tufd: {source}")]
    Write {
        /// The request's method.
        method: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// tufd exited (or closed its stdout) before answering.
    #[error("tufd exited before answering {method}")]
    Disconnected {
        /// The request's method.
        method: String,
    },
    /// No answer within the time limit (the request keeps running in tufd).
    #[error("no answer to {method} within {} s", timeout.as_secs_f64())]
    Timeout {
        /// The request's method.
        method: String,
        /// The limit.
        timeout: Duration,
    },
    /// The answer's result does not have the documented shape.
    #[error("unexpected result of {method}: {source}")]
    BadResult {
        /// The request's method.
        method: String,
        /// The decoding error.
        #[source]
        source: serde_json::Error,
    },
}

impl ClientError {
    /// The update error kind of an [`ClientError::Rpc`] answer.
    pub fn kind(&self) -> Option<ErrorKind> {
        match self {
            Self::Rpc { kind, .. } => *kind,
            _ => None,
        }
    }

    /// The JSON-RPC code of an [`ClientError::Rpc`] answer.
    pub fn code(&self) -> Option<i64> {
        match self {
            Self::Rpc { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// Result alias of the client.
pub type Result<T, E = ClientError> = std::result::Result<T, E>;
