//! The sidecar protocol against the real `tufd` binary: standard JSON-RPC error codes for
//! malformed input, unknown methods and bad params; tufd errors with their kind; the daemon
//! keeps serving after each; `shutdown` answers `{}` and exits 0; one daemon per data folder.
//! (Whole updates against real repositories are in the workspace end-to-end tests.)

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

mod support;
use support::flags;

fn spawn(dir: &Path, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_tufd"))
        .args(flags(dir))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Reads lines until an answer (a message with an `id`) arrives; returns it.
fn answer(reader: &mut impl BufRead) -> Value {
    loop {
        let mut line = String::new();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "daemon closed stdout"
        );
        let value: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["jsonrpc"], "2.0", "{value}");
        if value.get("id").is_some() {
            return value;
        }
    }
}

#[test]
fn errors_get_standard_codes_and_the_daemon_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn(dir.path(), &["sidecar"]);
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut ask = |line: &str| {
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
        answer(&mut stdout)
    };

    let r = ask("{this is not json");
    assert_eq!(r["error"]["code"], -32700);
    assert_eq!(r["id"], Value::Null);

    let long = format!("{{\"x\":\"{}\"}}", "a".repeat(2 << 20));
    let r = ask(&long);
    assert_eq!(
        r["error"]["code"], -32700,
        "an over-long line is a parse error"
    );

    let r = ask(r#"{"jsonrpc":"2.0","id":1}"#);
    assert_eq!(r["error"]["code"], -32600);
    assert_eq!(r["id"], 1);

    let r = ask(r#"{"jsonrpc":"2.0","id":2,"method":"teleport"}"#);
    assert_eq!(r["error"]["code"], -32601);

    let r = ask(r#"{"jsonrpc":"2.0","id":3,"method":"check","params":"now"}"#);
    assert_eq!(r["error"]["code"], -32602);

    let r = ask(r#"{"jsonrpc":"2.0","id":"s","method":"status"}"#);
    assert_eq!(r["id"], "s");
    let mut idle = json!({"state": "idle", "current": "1.0"});
    if let Some(platform) = tufd_core::platform::Platform::current() {
        idle["platform"] = json!(platform.as_str());
    }
    assert_eq!(r["result"], idle);

    let r = ask(r#"{"jsonrpc":"2.0","id":4,"method":"check"}"#);
    assert_eq!(r["error"]["code"], -32000, "{r}");
    assert_eq!(r["error"]["data"]["kind"], "metadata-invalid", "{r}");

    let r = ask(r#"{"jsonrpc":"2.0","id":5,"method":"status"}"#);
    assert_eq!(r["result"]["state"], "failed");

    let r = ask(r#"{"jsonrpc":"2.0","id":6,"method":"cancel"}"#);
    assert_eq!(r["result"], json!({"cancelled": false}));

    let r = ask(r#"{"jsonrpc":"2.0","id":7,"method":"shutdown"}"#);
    assert_eq!(r["result"], json!({}));
    let status = wait(&mut child);
    assert!(status.success(), "{status:?}");
}

fn wait(child: &mut Child) -> std::process::ExitStatus {
    for _ in 0..100 {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    panic!("tufd did not exit");
}

#[test]
fn end_of_input_shuts_down_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn(dir.path(), &[]);
    drop(child.stdin.take());
    assert!(wait(&mut child).success());
}

#[test]
fn a_second_daemon_on_the_same_data_folder_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = spawn(dir.path(), &["sidecar"]);
    // The first one holds the lock once it answers.
    let mut stdin = first.stdin.take().unwrap();
    let mut stdout = BufReader::new(first.stdout.take().unwrap());
    writeln!(stdin, r#"{{"jsonrpc":"2.0","id":1,"method":"status"}}"#).unwrap();
    answer(&mut stdout);

    let d = dir.path().display();
    let second = Command::new(env!("CARGO_BIN_EXE_tufd"))
        .args([
            "status".to_owned(),
            "--app-name=demo".to_owned(),
            "--current-version=1.0".to_owned(),
            format!("--install-dir={d}/app"),
            format!("--data-dir={d}/data"),
            format!("--metadata-url=file://{d}/repo/metadata/"),
            format!("--targets-url=file://{d}/repo/targets/"),
            format!("--trusted-root={d}/1.root.json"),
        ])
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains(&format!("another tufd is running on {d}/data")),
        "{stderr}"
    );
    drop(stdin);
    assert!(wait(&mut first).success());
}

#[test]
fn one_shot_errors_name_their_kind_and_usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let child = spawn(dir.path(), &["check", "--json"]);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    // With `--json`, the failure is a JSON error object on stdout too.
    let error: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(error["error"]["kind"], "metadata-invalid", "{error}");

    let usage = Command::new(env!("CARGO_BIN_EXE_tufd"))
        .args(["check", "--no-such-flag"])
        .output()
        .unwrap();
    assert_eq!(usage.status.code(), Some(2));
}
