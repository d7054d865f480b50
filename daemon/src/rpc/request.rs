//! Parsing one JSON-RPC 2.0 message into a [`Call`] of one [`Method`] (the protocol crate's
//! enum of methods), with the standard error for each way it can be wrong.

use serde_json::{Map, Value};
pub use tufd_protocol::Method;

use super::error::{INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND, PARSE_ERROR, RpcError};

/// A parsed call: the request and its id (`None` for a notification, which gets no answer).
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// The id to answer with.
    pub id: Option<Value>,
    /// What is asked.
    pub request: Method,
}

/// A message that cannot be served, with the id to answer with (`null` when unknown).
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    /// The id, or `null`.
    pub id: Value,
    /// Whether the sender expects an answer (false for notifications).
    pub answer: bool,
    /// The error.
    pub error: RpcError,
}

/// Parses one line.
///
/// # Errors
/// A [`Refusal`]: -32700 for bad JSON or UTF-8, -32600 for anything but a request object
/// (`"jsonrpc": "2.0"`, a string `method`, an id that is a string, number or null), -32601 for
/// an unknown method, -32602 for params that are not an object or hold any key (no method
/// takes params yet).
pub fn parse(line: &[u8]) -> Result<Call, Refusal> {
    let refuse = |id: Value, answer: bool, code, message: String| Refusal {
        id,
        answer,
        error: RpcError::new(code, message),
    };
    let value: Value = serde_json::from_slice(line)
        .map_err(|e| refuse(Value::Null, true, PARSE_ERROR, format!("parse error: {e}")))?;
    let Value::Object(obj) = value else {
        return Err(refuse(
            Value::Null,
            true,
            INVALID_REQUEST,
            "invalid request: expected one JSON object (batches are not supported)".into(),
        ));
    };
    let id = obj.get("id").cloned();
    let id_ok = matches!(
        id,
        None | Some(Value::Null | Value::String(_) | Value::Number(_))
    );
    if !id_ok {
        return Err(refuse(
            Value::Null,
            true,
            INVALID_REQUEST,
            "invalid request: id must be a string, number or null".into(),
        ));
    }
    let answer = id.is_some();
    let reply_id = id.clone().unwrap_or(Value::Null);
    if obj.get("jsonrpc") != Some(&Value::String("2.0".into())) {
        return Err(refuse(
            reply_id,
            true,
            INVALID_REQUEST,
            "invalid request: `jsonrpc` must be \"2.0\"".into(),
        ));
    }
    let Some(Value::String(method)) = obj.get("method") else {
        return Err(refuse(
            reply_id,
            true,
            INVALID_REQUEST,
            "invalid request: `method` must be a string".into(),
        ));
    };
    let Ok(request) = method.parse::<Method>() else {
        return Err(refuse(
            reply_id,
            answer,
            METHOD_NOT_FOUND,
            format!("method not found: {method}"),
        ));
    };
    check_params(obj.get("params"))
        .map_err(|message| refuse(reply_id.clone(), answer, INVALID_PARAMS, message))?;
    Ok(Call { id, request })
}

fn check_params(params: Option<&Value>) -> Result<(), String> {
    match params {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Object(map)) if map.is_empty() => Ok(()),
        Some(Value::Object(map)) => {
            let keys: Vec<&String> = Map::keys(map).collect();
            Err(format!("invalid params: unknown keys {keys:?}"))
        }
        Some(other) => Err(format!("invalid params: expected an object, got {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn code(line: &str) -> (i64, Value) {
        let r = parse(line.as_bytes()).unwrap_err();
        (r.error.code, r.id)
    }

    #[test]
    fn parses_requests_and_notifications() {
        let call = parse(br#"{"jsonrpc":"2.0","id":7,"method":"check"}"#).unwrap();
        assert_eq!(
            call,
            Call {
                id: Some(json!(7)),
                request: Method::Check
            }
        );
        let call = parse(br#"{"jsonrpc":"2.0","id":"a","method":"install","params":{}}"#).unwrap();
        assert_eq!(call.request, Method::Install);
        let note = parse(br#"{"jsonrpc":"2.0","method":"status"}"#).unwrap();
        assert_eq!(note.id, None);
    }

    #[test]
    fn standard_codes_for_each_fault() {
        assert_eq!(code("{not json"), (PARSE_ERROR, Value::Null));
        assert_eq!(code("[1,2]"), (INVALID_REQUEST, Value::Null));
        assert_eq!(
            code(r#"{"id":1,"method":"check"}"#),
            (INVALID_REQUEST, json!(1))
        );
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","id":1,"method":5}"#),
            (INVALID_REQUEST, json!(1))
        );
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","id":[1],"method":"check"}"#),
            (INVALID_REQUEST, Value::Null)
        );
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","id":2,"method":"fly"}"#),
            (METHOD_NOT_FOUND, json!(2))
        );
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","id":3,"method":"check","params":[1]}"#),
            (INVALID_PARAMS, json!(3))
        );
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","id":4,"method":"check","params":{"force":true}}"#),
            (INVALID_PARAMS, json!(4))
        );
        assert_eq!(code("\u{0}\u{ff}"), (PARSE_ERROR, Value::Null));
    }
}
