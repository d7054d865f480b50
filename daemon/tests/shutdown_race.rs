//! A request sent just before `shutdown`, or right after it, is answered or `cancelled`:
//! never `-32603 internal error` because the engine stopped under it. Run 100 times against the
//! real `tufd` binary, each a fresh sidecar, with the requests written in one burst.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use serde_json::Value;

mod support;
use support::flags;

#[test]
fn requests_racing_shutdown_are_answered_or_cancelled_never_internal() {
    let dir = tempfile::tempdir().unwrap();
    let args = flags(dir.path());
    let mut kinds = std::collections::BTreeMap::<String, usize>::new();
    for round in 0..100 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tufd"))
            .arg("sidecar")
            .args(&args)
            .env("RUST_LOG", "off")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        // Status and check before shutdown, status and check after it, in one write.
        let burst = [
            r#"{"jsonrpc":"2.0","id":1,"method":"status"}"#,
            r#"{"jsonrpc":"2.0","id":2,"method":"check"}"#,
            r#"{"jsonrpc":"2.0","id":3,"method":"shutdown"}"#,
            r#"{"jsonrpc":"2.0","id":4,"method":"status"}"#,
            r#"{"jsonrpc":"2.0","id":5,"method":"check"}"#,
        ]
        .join("\n")
            + "\n";
        // The daemon may close stdin early once it stops: a broken pipe is fine here.
        let _ = stdin.write_all(burst.as_bytes());
        drop(stdin);
        let stdout = BufReader::new(child.stdout.take().unwrap());
        for line in stdout.lines() {
            let line = line.unwrap();
            let value: Value = serde_json::from_str(&line).unwrap();
            if value.get("id").is_none() {
                continue; // a notification
            }
            if let Some(error) = value.get("error") {
                assert_ne!(
                    error["code"], -32603,
                    "round {round}: internal error for {value}"
                );
                let kind = error["data"]["kind"].as_str().unwrap_or("none").to_owned();
                *kinds.entry(kind).or_default() += 1;
            }
        }
        let status = child.wait().unwrap();
        assert!(status.success(), "round {round}: exit {status}");
    }
    // The checks fail on the empty repository (metadata-invalid) or are cancelled; nothing else.
    for kind in kinds.keys() {
        assert!(
            ["metadata-invalid", "cancelled"].contains(&kind.as_str()),
            "unexpected kinds {kinds:?}"
        );
    }
}
