//! The client against a scripted stand-in for `tufd sidecar` (a `sh` loop answering by method),
//! so these tests need no daemon: typed results, notifications to the callback or channel,
//! error answers as `ClientError::Rpc` with code and kind, and a sidecar that exits mid-request.
//! The real daemon is exercised by `tests/e2e/examples.rs` through the example apps.

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tufd_client::{Client, ClientError, Method, Notification, State};

/// Answers `status` (after a `state` notification), `download` (progress, then a `no-update`
/// error), `shutdown` (then exits), `check` by exiting without an answer; anything else gets
/// "method not found".
const FAKE: &str = r#"
while IFS= read -r line; do
  id=$(printf '%s\n' "$line" | sed -n 's/.*"id":\([0-9]*\).*/\1/p')
  case "$line" in
    *'"status"'*)
      echo '{"jsonrpc":"2.0","method":"state","params":{"state":"idle"}}'
      echo "{\"jsonrpc\":\"2.0\",\"id\":$id,\"result\":{\"state\":\"idle\",\"current\":\"1.0\"}}" ;;
    *'"download"'*)
      echo '{"jsonrpc":"2.0","method":"progress","params":{"target":"a-2.0.patch","done_bytes":3,"total_bytes":3}}'
      echo "{\"jsonrpc\":\"2.0\",\"id\":$id,\"error\":{\"code\":-32000,\"message\":\"nothing newer\",\"data\":{\"kind\":\"no-update\"}}}" ;;
    *'"shutdown"'*)
      echo "{\"jsonrpc\":\"2.0\",\"id\":$id,\"result\":{}}"
      exit 0 ;;
    *'"check"'*)
      exit 3 ;;
    *)
      echo "{\"jsonrpc\":\"2.0\",\"id\":$id,\"error\":{\"code\":-32601,\"message\":\"method not found\"}}" ;;
  esac
done
"#;

const LIMIT: Duration = Duration::from_secs(10);

fn fake() -> Command {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", FAKE]);
    cmd
}

#[test]
fn blocking_client_types_results_errors_and_notifications() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    let client = Client::spawn_command(fake(), move |note| sink.lock().unwrap().push(note))
        .expect("spawn sh");

    let status = client.status(LIMIT).expect("status");
    assert_eq!(status.state, State::Idle);
    assert_eq!(status.current, "1.0");
    assert_eq!(status.latest, None);

    let err = client.download(LIMIT).expect_err("download fails");
    assert_eq!(err.code(), Some(-32000));
    assert_eq!(err.kind(), Some(tufd_client::ErrorKind::NoUpdate));
    assert!(
        matches!(&err, ClientError::Rpc { method, message, .. } if method == "download" && message == "nothing newer"),
        "{err:?}"
    );

    let err = client
        .cancel(LIMIT)
        .expect_err("cancel is unknown to the fake");
    assert_eq!(err.code(), Some(-32601));
    assert_eq!(err.kind(), None);

    // Notifications are delivered before the answer that follows them.
    let notes = seen.lock().unwrap().clone();
    assert_eq!(
        notes,
        vec![
            Notification::State(State::Idle),
            Notification::Progress {
                target: "a-2.0.patch".into(),
                done_bytes: 3,
                total_bytes: 3,
            },
        ]
    );
    let status = client.shutdown(LIMIT).expect("shutdown");
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
}

#[test]
fn blocking_client_reports_a_sidecar_that_exits() {
    let client = Client::spawn_command(fake(), |_| {}).expect("spawn sh");
    let err = client.check(LIMIT).expect_err("the fake exits on check");
    assert!(
        matches!(&err, ClientError::Disconnected { method } if method == "check"),
        "{err:?}"
    );
    let err = client
        .send(Method::Status)
        .and_then(|call| call.wait::<serde_json::Value>(LIMIT))
        .expect_err("nothing answers any more");
    assert!(
        matches!(
            err,
            ClientError::Disconnected { .. } | ClientError::Write { .. }
        ),
        "{err:?}"
    );
}

#[test]
fn spawning_a_missing_program_is_a_spawn_error() {
    let options = tufd_client::SidecarOptions::new("a", "1.0").program("/nonexistent/tufd");
    let err = Client::spawn(&options, |_| {}).expect_err("no such program");
    assert!(matches!(err, ClientError::Spawn { .. }), "{err:?}");
}

#[cfg(feature = "async")]
#[tokio::test]
async fn async_client_types_results_errors_and_notifications() {
    use tufd_client::AsyncClient;

    let mut cmd = tokio::process::Command::new("sh");
    cmd.args(["-c", FAKE]);
    let (client, mut notes) = AsyncClient::spawn_command(cmd).expect("spawn sh");
    let status = client.status(LIMIT).await.expect("status");
    assert_eq!(status.current, "1.0");
    assert_eq!(notes.recv().await, Some(Notification::State(State::Idle)));
    let err = client.download(LIMIT).await.expect_err("download fails");
    assert_eq!(err.kind(), Some(tufd_client::ErrorKind::NoUpdate));
    assert!(matches!(
        notes.recv().await,
        Some(Notification::Progress { done_bytes: 3, .. })
    ));
    let status = client.shutdown(LIMIT).await.expect("shutdown");
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
}
