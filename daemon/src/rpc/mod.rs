//! The sidecar: JSON-RPC 2.0 over stdin/stdout, one message per line (`docs/protocol.md`).
//!
//! - [`framing`] cuts input into lines (1 MiB at most), [`request`] parses one message,
//!   [`handlers`] serve each method, [`error`] holds every error code.
//! - Requests are served concurrently (a `cancel` can overtake a `download`); answers carry
//!   the request's id.
//! - One writer task owns stdout. It prefers engine events over answers (`biased`), and the
//!   engine broadcasts an operation's events before it answers, so an answer never overtakes
//!   the notifications that led to it.
//! - `shutdown` answers `{}` after the engine stopped; end of input is a shutdown too. A swap
//!   in progress is finished first. The daemon keeps serving after every error.

pub mod error;
pub mod framing;
pub mod handlers;
pub mod request;

use std::sync::Arc;

use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::{broadcast, mpsc};
use tufd_engine::{Engine, Event};

use self::error::{PARSE_ERROR, RpcError};
use self::framing::{Frame, MAX_LINE_BYTES, next_frame};
use self::request::Method;

/// A response object for `id` with `result` or `error`.
fn response(id: Value, outcome: Result<Value, RpcError>) -> Value {
    match outcome {
        Ok(result) => json!({ "jsonrpc": "2.0", "id": id, "result": result }),
        Err(error) => json!({ "jsonrpc": "2.0", "id": id, "error": error.to_json() }),
    }
}

/// A notification object for an engine event.
pub fn notification(event: &Event) -> Value {
    json!({ "jsonrpc": "2.0", "method": event.method(), "params": event.params() })
}

async fn write_line<W: AsyncWrite + Unpin>(out: &mut W, value: &Value) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(value).expect("json values serialise");
    line.push(b'\n');
    out.write_all(&line).await?;
    out.flush().await
}

/// `out` unless the app closed its end: a broken pipe is how an app that exits right after
/// `install` (the relaunch pattern) says goodbye, so from then on messages are dropped and the
/// daemon finishes its work and exits 0 instead of failing.
struct Output<W> {
    out: W,
    closed: bool,
}

impl<W: AsyncWrite + Unpin> Output<W> {
    async fn send(&mut self, value: &Value) -> std::io::Result<()> {
        if self.closed {
            return Ok(());
        }
        match write_line(&mut self.out, value).await {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                tracing::info!("the app closed stdout; further messages are dropped");
                self.closed = true;
                Ok(())
            }
            other => other,
        }
    }
}

/// Writes events and answers to `out` until the answer channel closes, then the events left.
async fn writer<W: AsyncWrite + Unpin>(
    out: W,
    mut events: broadcast::Receiver<Event>,
    mut answers: mpsc::UnboundedReceiver<Value>,
) -> std::io::Result<()> {
    let mut out = Output { out, closed: false };
    let mut events_open = true;
    loop {
        tokio::select! {
            biased;
            event = events.recv(), if events_open => match event {
                Ok(event) => out.send(&notification(&event)).await?,
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(skipped = n, "slow reader: notifications dropped");
                }
                Err(broadcast::error::RecvError::Closed) => events_open = false,
            },
            answer = answers.recv() => match answer {
                Some(answer) => out.send(&answer).await?,
                None => break,
            },
        }
    }
    while let Ok(event) = events.try_recv() {
        out.send(&notification(&event)).await?;
    }
    Ok(())
}

/// Serves the protocol on `input`/`output` until `shutdown` or end of input.
///
/// # Errors
/// I/O errors of `input` or `output`.
pub async fn serve<R, W>(engine: Engine, input: R, output: W) -> std::io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let engine = Arc::new(engine);
    let (answers, answer_rx) = mpsc::unbounded_channel::<Value>();
    let writer = tokio::spawn(writer(output, engine.subscribe(), answer_rx));
    let mut reader = BufReader::new(input);
    loop {
        let line = match next_frame(&mut reader, MAX_LINE_BYTES).await? {
            Frame::Eof => {
                tracing::info!("end of input; shutting down");
                if let Err(e) = engine.shutdown().await {
                    tracing::debug!(error = %e, "engine already stopped");
                }
                break;
            }
            Frame::TooLong => {
                let error = RpcError::new(
                    PARSE_ERROR,
                    format!("parse error: line longer than {MAX_LINE_BYTES} bytes"),
                );
                let _ = answers.send(response(Value::Null, Err(error)));
                continue;
            }
            Frame::Line(line) => line,
        };
        let call = match request::parse(&line) {
            Ok(call) => call,
            Err(refusal) => {
                tracing::debug!(code = refusal.error.code, message = %refusal.error.message, "refused a message");
                if refusal.answer {
                    let _ = answers.send(response(refusal.id, Err(refusal.error)));
                }
                continue;
            }
        };
        let is_shutdown = call.request == Method::Shutdown;
        let engine = engine.clone();
        let answers = answers.clone();
        let task = tokio::spawn(async move {
            let outcome = handlers::handle(&engine, call.request)
                .await
                .map_err(|e| RpcError::from_engine(&e));
            if let Some(id) = call.id {
                let _ = answers.send(response(id, outcome));
            }
        });
        if is_shutdown {
            let _ = task.await;
            break;
        }
    }
    drop(answers);
    writer.await.map_err(std::io::Error::other)?
}
