//! The typed messages of the sidecar protocol (`docs/protocol.md`): the methods an app calls,
//! their results, and the notifications tufd sends. Pure data and JSON (de)coding; the
//! transports live in [`crate::blocking`] and `crate::nonblocking`.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::{ClientError, INTERNAL_ERROR};

/// A request method (none takes parameters yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Method {
    /// `status` → [`Status`].
    Status,
    /// `check` → [`CheckReport`].
    Check,
    /// `download` → [`Staged`].
    Download,
    /// `install` → [`Installed`].
    Install,
    /// `cancel` → [`Cancelled`].
    Cancel,
    /// `shutdown` → `{}`.
    Shutdown,
}

impl Method {
    /// The method name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Status => "status",
            Self::Check => "check",
            Self::Download => "download",
            Self::Install => "install",
            Self::Cancel => "cancel",
            Self::Shutdown => "shutdown",
        }
    }
}

/// The engine's state (`state` notification, `status` result).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum State {
    /// Nothing running.
    Idle,
    /// Refreshing metadata.
    Checking,
    /// A check found an update.
    Available,
    /// Downloading patches or the archive.
    Downloading,
    /// Rebuilding and verifying the new version.
    Verifying,
    /// The new version is staged, waiting for `install`.
    Staged,
    /// Swapping the install folder.
    Installing,
    /// Installed.
    Done,
    /// The last operation failed.
    Failed,
    /// A state this client does not know yet.
    #[serde(other)]
    Unknown,
}

/// How an update is downloaded: a chain of patches or the full archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Plan {
    /// Patches applied in order to the installed version.
    Patches {
        /// Target names, in order.
        patches: Vec<String>,
        /// Total signed length to download, in bytes.
        bytes: u64,
    },
    /// The full archive.
    Full {
        /// The archive's target name.
        full: String,
        /// Why not patches.
        #[serde(default)]
        reason: String,
        /// Its signed length, in bytes.
        bytes: u64,
    },
}

impl Plan {
    /// Bytes to download.
    pub fn bytes(&self) -> u64 {
        match self {
            Self::Patches { bytes, .. } | Self::Full { bytes, .. } => *bytes,
        }
    }
}

/// Result of `status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// Where the engine stands.
    pub state: State,
    /// The installed version.
    pub current: String,
    /// The newest version the last check found, if newer.
    #[serde(default)]
    pub latest: Option<String>,
    /// The staged version waiting for `install`.
    #[serde(default)]
    pub pending: Option<String>,
}

/// Result of `check` (also the `tufd check --json` output).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckReport {
    /// The installed version.
    pub current: String,
    /// The newest version on the channel (the installed one when up to date).
    pub latest: String,
    /// Whether `latest` is newer than `current`.
    pub update_available: bool,
    /// How to get there; `None` when up to date.
    pub plan: Option<Plan>,
}

/// Result of `download`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Staged {
    /// The staged version.
    pub version: String,
    /// Always true.
    pub staged: bool,
}

/// Result of `install`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Installed {
    /// The installed version.
    pub version: String,
    /// Always true.
    pub installed: bool,
}

/// Result of `cancel`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cancelled {
    /// Whether a running operation was stopped.
    pub cancelled: bool,
}

/// A notification from tufd.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Notification {
    /// `state`: the engine moved to `state`.
    State(State),
    /// `progress` of one download.
    Progress {
        /// Target name.
        target: String,
        /// Bytes downloaded and verified so far.
        done_bytes: u64,
        /// The target's signed length in bytes.
        total_bytes: u64,
    },
    /// `update-available` after a check that found an update.
    UpdateAvailable {
        /// The installed version.
        current: String,
        /// The newest version.
        latest: String,
        /// How to get there.
        plan: Option<Plan>,
    },
    /// `restart-required`: installed, no relaunch configured.
    RestartRequired {
        /// The new version.
        version: String,
    },
    /// `error`: an operation failed.
    Error {
        /// The error kind (`network`, `expired-metadata`, …).
        kind: String,
        /// The message.
        message: String,
    },
    /// A notification this client does not know (or whose params did not decode).
    Other {
        /// Its method.
        method: String,
        /// Its params.
        params: Value,
    },
}

impl Notification {
    /// Decodes the notification `method` with `params`; unknown or malformed ones become
    /// [`Notification::Other`].
    pub fn decode(method: &str, params: Value) -> Self {
        #[derive(Deserialize)]
        struct StateParams {
            state: State,
        }
        #[derive(Deserialize)]
        struct ProgressParams {
            target: String,
            done_bytes: u64,
            total_bytes: u64,
        }
        #[derive(Deserialize)]
        struct AvailableParams {
            current: String,
            latest: String,
            plan: Option<Plan>,
        }
        #[derive(Deserialize)]
        struct RestartParams {
            version: String,
        }
        #[derive(Deserialize)]
        struct ErrorParams {
            kind: String,
            message: String,
        }
        let decoded = match method {
            "state" => serde_json::from_value::<StateParams>(params.clone())
                .ok()
                .map(|p| Self::State(p.state)),
            "progress" => serde_json::from_value::<ProgressParams>(params.clone())
                .ok()
                .map(|p| Self::Progress {
                    target: p.target,
                    done_bytes: p.done_bytes,
                    total_bytes: p.total_bytes,
                }),
            "update-available" => serde_json::from_value::<AvailableParams>(params.clone())
                .ok()
                .map(|p| Self::UpdateAvailable {
                    current: p.current,
                    latest: p.latest,
                    plan: p.plan,
                }),
            "restart-required" => serde_json::from_value::<RestartParams>(params.clone())
                .ok()
                .map(|p| Self::RestartRequired { version: p.version }),
            "error" => serde_json::from_value::<ErrorParams>(params.clone())
                .ok()
                .map(|p| Self::Error {
                    kind: p.kind,
                    message: p.message,
                }),
            _ => None,
        };
        decoded.unwrap_or_else(|| Self::Other {
            method: method.to_owned(),
            params,
        })
    }
}

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
        outcome: Result<Value, (i64, String, Option<String>)>,
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
                        .and_then(Value::as_str)
                        .map(str::to_owned);
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
    outcome: Result<Value, (i64, String, Option<String>)>,
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
                    plan: Some(Plan::Full {
                        full: "a-3.0.tar.gz".into(),
                        reason: "no base".into(),
                        bytes: 7,
                    }),
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
                    kind: "network".into(),
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
        assert_eq!(err.kind(), Some("no-update"));
        assert!(err.to_string().contains("nothing newer"), "{err}");
    }

    #[test]
    fn check_results_decode_both_plans_and_none() {
        let patches: CheckReport = serde_json::from_value(json!({
            "current": "1.0", "latest": "2.0", "update_available": true,
            "plan": {"patches": ["a-2.0.patch"], "bytes": 12}
        }))
        .unwrap();
        assert_eq!(patches.plan.as_ref().map(Plan::bytes), Some(12));
        let none: CheckReport = serde_json::from_value(json!({
            "current": "2.0", "latest": "2.0", "update_available": false, "plan": null
        }))
        .unwrap();
        assert_eq!(none.plan, None);
        let line: Value = serde_json::from_str(&request_line(7, Method::Check)).unwrap();
        assert_eq!(line, json!({"jsonrpc": "2.0", "id": 7, "method": "check"}));
    }
}
