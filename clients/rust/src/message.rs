//! The typed messages of the sidecar protocol (`docs/protocol.md`), defined once in the
//! `tufd-protocol` crate that the daemon speaks too, and the JSON-RPC framing of this client:
//! the request line it sends and the parsing of what tufd writes. The transports live in
//! [`crate::blocking`] and `crate::nonblocking`.

use serde_json::{Value, json};
pub use tufd_protocol::codes;
pub use tufd_protocol::{
    Cancelled, CheckReport, Confirmed, ErrorKind, Installed, Method, Notification, PlanSummary,
    RolledBack, Staged, State, Status,
};

use crate::error::ClientError;
use codes::INTERNAL_ERROR;

/// An error answer: JSON-RPC `code`, `message`, and the tufd error kind of `data.kind`.
pub type ErrorAnswer = (i64, String, Option<ErrorKind>);

/// The request line (without newline) for `method` with `id`.
pub fn request_line(id: u64, method: Method) -> String {
    json!({"jsonrpc": "2.0", "id": id, "method": method.as_str()}).to_string()
}

/// One message read from tufd's stdout.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// An answer to request `id`: its result or its error.
    Response {
        /// The request id (`None` for answers to unparsable lines, id `null`).
        id: Option<u64>,
        /// The `result`, or `(code, message, kind)` of the `error`.
        outcome: Result<Value, ErrorAnswer>,
    },
    /// A notification.
    Notification(Notification),
}

/// Parses one line of tufd's stdout; `None` for blank or non-protocol lines.
pub fn parse_incoming(line: &str) -> Option<Incoming> {
    let line = line.trim();
    if line.is_empty() {
        return None;
    }
    let mut value: Value = serde_json::from_str(line).ok()?;
    let object = value.as_object_mut()?;
    match object.remove("id") {
        None => {
            let method = object.get("method")?.as_str()?.to_owned();
            let params = object.remove("params").unwrap_or(Value::Null);
            Some(Incoming::Notification(Notification::decode(
                &method, params,
            )))
        }
        Some(id) => {
            let outcome = match object.remove("error") {
                Some(error) => {
                    let code = error
                        .get("code")
                        .and_then(Value::as_i64)
                        .unwrap_or(INTERNAL_ERROR);
                    let message = error
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned();
                    let kind = error
                        .pointer("/data/kind")
                        .and_then(|k| serde_json::from_value(k.clone()).ok());
                    Err((code, message, kind))
                }
                None => Ok(object.remove("result").unwrap_or(Value::Null)),
            };
            Some(Incoming::Response {
                id: id.as_u64(),
                outcome,
            })
        }
    }
}

/// Turns an answer into the typed result of `method`.
///
/// # Errors
/// [`ClientError::Rpc`] for an error answer, [`ClientError::BadResult`] when the result does not
/// decode as `T`.
pub fn decode_outcome<T: serde::de::DeserializeOwned>(
    method: Method,
    outcome: Result<Value, ErrorAnswer>,
) -> Result<T, ClientError> {
    match outcome {
        Ok(value) => serde_json::from_value(value).map_err(|source| ClientError::BadResult {
            method: method.as_str().to_owned(),
            source,
        }),
        Err((code, message, kind)) => Err(ClientError::Rpc {
            method: method.as_str().to_owned(),
            code,
            message,
            kind,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_every_documented_notification() {
        let cases = [
            (
                r#"{"jsonrpc":"2.0","method":"state","params":{"state":"downloading"}}"#,
                Notification::State(State::Downloading),
            ),
            (
                r#"{"jsonrpc":"2.0","method":"progress","params":{"target":"a-2.0.patch","done_bytes":5,"total_bytes":9}}"#,
                Notification::Progress {
                    target: "a-2.0.patch".into(),
                    done_bytes: 5,
                    total_bytes: 9,
                },
            ),
            (
                r#"{"jsonrpc":"2.0","method":"update-available","params":{"current":"1.0","latest":"3.0","plan":{"full":"a-3.0.tar.gz","reason":"no base","bytes":7}}}"#,
                Notification::UpdateAvailable {
                    current: "1.0".into(),
                    latest: "3.0".into(),
                    plan: Some(PlanSummary::Full {
                        full: "a-3.0.tar.gz".into(),
                        reason: "no base".into(),
                        bytes: 7,
                    }),
                    downgrade: None,
                },
            ),
            (
                r#"{"jsonrpc":"2.0","method":"restart-required","params":{"version":"2.0"}}"#,
                Notification::RestartRequired {
                    version: "2.0".into(),
                },
            ),
            (
                r#"{"jsonrpc":"2.0","method":"error","params":{"kind":"network","message":"down"}}"#,
                Notification::Error {
                    kind: ErrorKind::Network,
                    message: "down".into(),
                },
            ),
        ];
        for (line, want) in cases {
            assert_eq!(
                parse_incoming(line),
                Some(Incoming::Notification(want)),
                "{line}"
            );
        }
    }

    #[test]
    fn unknown_notifications_and_states_are_kept() {
        let got = parse_incoming(r#"{"jsonrpc":"2.0","method":"state","params":{"state":"x"}}"#);
        assert_eq!(
            got,
            Some(Incoming::Notification(Notification::State(State::Unknown)))
        );
        let got = parse_incoming(r#"{"jsonrpc":"2.0","method":"hello","params":[1]}"#);
        assert_eq!(
            got,
            Some(Incoming::Notification(Notification::Other {
                method: "hello".into(),
                params: json!([1]),
            }))
        );
        assert_eq!(parse_incoming("not json"), None);
        assert_eq!(parse_incoming("   "), None);
    }

    #[test]
    fn error_answers_carry_code_message_and_kind() {
        let got = parse_incoming(
            r#"{"jsonrpc":"2.0","id":4,"error":{"code":-32000,"message":"nothing newer","data":{"kind":"no-update"}}}"#,
        );
        let Some(Incoming::Response { id, outcome }) = got else {
            panic!("not a response: {got:?}");
        };
        assert_eq!(id, Some(4));
        let err = decode_outcome::<Staged>(Method::Download, outcome).unwrap_err();
        assert_eq!(err.code(), Some(-32000));
        assert_eq!(err.kind(), Some(ErrorKind::NoUpdate));
        assert!(err.to_string().contains("nothing newer"), "{err}");
    }

    #[test]
    fn check_results_decode_both_plans_and_none() {
        let patches: CheckReport = serde_json::from_value(json!({
            "current": "1.0", "latest": "2.0", "update_available": true,
            "plan": {"patches": ["a-2.0.patch"], "bytes": 12}
        }))
        .unwrap();
        assert_eq!(patches.plan.as_ref().map(PlanSummary::bytes), Some(12));
        let none: CheckReport = serde_json::from_value(json!({
            "current": "2.0", "latest": "2.0", "update_available": false, "plan": null
        }))
        .unwrap();
        assert_eq!(none.plan, None);
        let line: Value = serde_json::from_str(&request_line(7, Method::Check)).unwrap();
        assert_eq!(line, json!({"jsonrpc": "2.0", "id": 7, "method": "check"}));
    }
}
