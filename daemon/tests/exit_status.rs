//! How the one-shot commands fail, against the real `tufd` binary: exit status 1 with exactly
//! one `error[<kind>]: …` line on stderr, the JSON error object `{"error": {"kind", "message"}}`
//! on stdout for `check --json` and `status --json`, 2 for usage errors, and never 100 (`check
//! --exit-code`'s "update available") on failure. Only kinds and exit statuses are checked,
//! never wording. (`check --exit-code` against a real repository, 0 and 100, is in the
//! workspace end-to-end tests, `tests/e2e/check_exit_code.rs`.)

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

mod support;
use support::flags;

fn tufd() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tufd"));
    cmd.env("RUST_LOG", "off").stdin(Stdio::null());
    cmd
}

fn run(args: &[String]) -> Output {
    tufd().args(args).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Asserts exit status 1 and that stderr is one line `error[<kind>]: …`; returns the kind.
#[track_caller]
fn failed_with_kind(out: &Output) -> String {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    let lines: Vec<_> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line on stderr: {stderr}");
    let kind = lines[0]
        .strip_prefix("error[")
        .and_then(|rest| rest.split_once("]: "))
        .map(|(kind, _)| kind.to_owned());
    kind.unwrap_or_else(|| panic!("not an `error[<kind>]: ` line: {stderr}"))
}

/// Asserts stdout is one line, the JSON error object; returns its kind.
#[track_caller]
fn json_error_kind(out: &Output) -> String {
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count(), 1, "one line on stdout: {stdout}");
    let value: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {stdout}"));
    assert!(value["error"]["message"].is_string(), "{value}");
    value["error"]["kind"]
        .as_str()
        .unwrap_or_else(|| panic!("no error.kind: {value}"))
        .to_owned()
}

fn without(args: Vec<String>, prefix: &str) -> Vec<String> {
    args.into_iter()
        .filter(|a| !a.starts_with(prefix))
        .collect()
}

#[test]
fn config_errors_print_error_config_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let missing = without(flags(dir.path()), "--app-name");
    for command in ["check", "update", "status", "rollback", "sidecar"] {
        let out = run(&[&[command.to_owned()], missing.as_slice()].concat());
        assert_eq!(failed_with_kind(&out), "config", "{command}");
        assert!(out.stdout.is_empty(), "{command}: {}", text(&out.stdout));
    }

    let file = dir.path().join("tufd.toml");
    std::fs::write(&file, "app-name = \"demo\"\nno-such-key = 1\n").unwrap();
    let out = run(&["check".to_owned(), format!("--config={}", file.display())]);
    assert_eq!(failed_with_kind(&out), "config");

    let mut bad_channel = flags(dir.path());
    bad_channel.extend(["check".to_owned(), "--channel=nightly".to_owned()]);
    assert_eq!(failed_with_kind(&run(&bad_channel)), "config");
}

#[test]
fn check_json_failing_prints_the_json_error_object() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["check".to_owned(), "--json".to_owned()];
    args.extend(flags(dir.path()));
    let out = run(&args);
    let kind = failed_with_kind(&out);
    assert_eq!(kind, "metadata-invalid");
    assert_eq!(json_error_kind(&out), kind);

    // A config error is reported the same way.
    let out = run(&without(args, "--trusted-root"));
    assert_eq!(failed_with_kind(&out), "config");
    assert_eq!(json_error_kind(&out), "config");
}

#[test]
fn status_json_failing_prints_the_json_error_object() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["status".to_owned(), "--json".to_owned()];
    args.extend(flags(dir.path()));
    let out = run(&without(args.clone(), "--current-version"));
    assert_eq!(failed_with_kind(&out), "config");
    assert_eq!(json_error_kind(&out), "config");

    // While a sidecar holds the data folder: `busy`.
    let mut sidecar = tufd()
        .args(flags(dir.path()))
        .arg("sidecar")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = sidecar.stdin.take().unwrap();
    writeln!(stdin, r#"{{"jsonrpc":"2.0","id":1,"method":"status"}}"#).unwrap();
    let mut answer = String::new();
    BufReader::new(sidecar.stdout.take().unwrap())
        .read_line(&mut answer)
        .unwrap();
    assert!(
        answer.contains("\"id\":1"),
        "the sidecar is serving: {answer}"
    );
    let out = run(&args);
    drop(stdin);
    let exited = sidecar.wait().unwrap();
    assert_eq!(failed_with_kind(&out), "busy");
    assert_eq!(json_error_kind(&out), "busy");
    assert!(exited.success(), "{exited:?}");

    // Once it is gone, `status --json` answers the status object.
    let out = run(&args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let value: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(value.get("error").is_none(), "{value}");
}

#[test]
fn check_exit_code_fails_with_1_and_usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["check".to_owned(), "--exit-code".to_owned()];
    args.extend(flags(dir.path()));
    assert_eq!(failed_with_kind(&run(&args)), "metadata-invalid");
    let out = run(&without(args, "--app-name"));
    assert_eq!(failed_with_kind(&out), "config");

    let out = run(&["check".to_owned(), "--no-such-flag".to_owned()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let out = run(&["status".to_owned(), "--exit-code".to_owned()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}
