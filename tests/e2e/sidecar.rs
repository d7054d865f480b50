//! The sidecar protocol (docs/protocol.md) as an app sees it. The test spawns `tufd sidecar` as a
//! child and speaks JSON-RPC 2.0 over its stdin/stdout: bad input gets the standard error codes and
//! the daemon keeps answering; `check`, `download` and `install` give the results of
//! docs/protocol.md, "Requests", with the notifications in order (state `checking` → `available` →
//! `downloading` → `staged` → `installing` → `done`, progress with done ≤ total ending at total,
//! `restart-required`); `shutdown` ends the process with status 0.

use std::time::Duration;

use serde_json::{Value, json};
use tufd_tests::support::bundle::SMALL_BLOB_BYTES;
use tufd_tests::support::fixture::{Fixture, Release};
use tufd_tests::support::nginx::Nginx;
use tufd_tests::support::tree::assert_same_tree;

const SHORT: Duration = Duration::from_secs(30);
const LONG: Duration = Duration::from_secs(180);

/// Whether `want` appears in `seen` in order (other items may sit between).
fn is_subsequence(want: &[&str], seen: &[String]) -> bool {
    let mut rest = seen.iter();
    want.iter().all(|w| rest.any(|s| s == w))
}

#[test]
fn sidecar_answers_requests_and_notifies_in_order() {
    let fx = Fixture::publish(
        &[Release::plain("1.0"), Release::plain("2.0")],
        SMALL_BLOB_BYTES,
    );
    let patch_len = fx.repo.target_len("demo-2.0.patch");
    let nginx = Nginx::start(&fx.repo.repository());
    let client = fx.install("client", "1.0", &nginx.metadata_url(), &nginx.targets_url());
    let mut sc = client.spawn_sidecar(&["--poll-interval", "0"]);

    // Bad input: each gets its standard error and the daemon keeps serving.
    sc.send_raw("{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\": ");
    let parse = sc.wait_response(&Value::Null, SHORT);
    assert_eq!(parse["error"]["code"], -32700, "{parse}\n{}", sc.report());
    sc.send_raw(r#"{"jsonrpc":"2.0","id":"no-method"}"#);
    let invalid = sc.wait_response(&json!("no-method"), SHORT);
    assert_eq!(
        invalid["error"]["code"],
        -32600,
        "{invalid}\n{}",
        sc.report()
    );
    let unknown = sc.call("frobnicate", None, SHORT);
    assert_eq!(
        unknown.as_ref().err().map(|e| e["code"].clone()),
        Some(json!(-32601)),
        "{unknown:?}"
    );

    let status = sc
        .call("status", None, SHORT)
        .unwrap_or_else(|e| panic!("status: {e}\n{}", sc.report()));
    assert_eq!(status["current"], "1.0", "{status}");
    assert_eq!(status["state"], "idle", "{status}");

    // check
    let check = sc
        .call("check", None, LONG)
        .unwrap_or_else(|e| panic!("check: {e}\n{}", sc.report()));
    assert_eq!(check["current"], "1.0", "{check}");
    assert_eq!(check["latest"], "2.0", "{check}");
    assert_eq!(check["update_available"], true, "{check}");
    assert_eq!(
        check["plan"]["patches"],
        json!(["demo-2.0.patch"]),
        "{check}"
    );
    let available = sc.wait_notification("update-available", SHORT, |p| p["latest"] == "2.0");
    assert!(
        available.is_some(),
        "no update-available notification\n{}",
        sc.report()
    );
    assert!(
        sc.wait_notification("state", SHORT, |p| p["state"] == "available")
            .is_some(),
        "no state available\n{}",
        sc.report()
    );

    // download: staged, app untouched
    let download = sc
        .call("download", None, LONG)
        .unwrap_or_else(|e| panic!("download: {e}\n{}", sc.report()));
    assert_eq!(
        download,
        json!({"version": "2.0", "staged": true}),
        "{download}"
    );
    assert_same_tree(&fx.bundle("1.0"), &client.install_dir);
    let progress: Vec<Value> = sc
        .notifications("progress")
        .into_iter()
        .filter(|p| {
            p["target"]
                .as_str()
                .is_some_and(|t| t.ends_with("demo-2.0.patch"))
        })
        .collect();
    assert!(
        !progress.is_empty(),
        "no progress for the patch\n{}",
        sc.report()
    );
    for p in &progress {
        let (done, total) = (p["done_bytes"].as_u64(), p["total_bytes"].as_u64());
        assert!(
            matches!((done, total), (Some(d), Some(t)) if d <= t),
            "bad progress {p}"
        );
        assert_eq!(
            total,
            Some(patch_len),
            "total is the signed patch length: {p}"
        );
    }
    let last = progress.last().expect("progress");
    assert_eq!(
        last["done_bytes"], last["total_bytes"],
        "last progress is complete: {last}"
    );

    // install: swapped, restart required (no --relaunch given)
    let install = sc
        .call("install", None, LONG)
        .unwrap_or_else(|e| panic!("install: {e}\n{}", sc.report()));
    assert_eq!(
        install,
        json!({"version": "2.0", "installed": true}),
        "{install}"
    );
    let restart = sc.wait_notification("restart-required", SHORT, |p| p["version"] == "2.0");
    assert!(restart.is_some(), "no restart-required\n{}", sc.report());
    assert_same_tree(&fx.bundle("2.0"), &client.install_dir);
    assert!(
        sc.wait_notification("state", SHORT, |p| p["state"] == "done")
            .is_some(),
        "no state done\n{}",
        sc.report()
    );
    let states = sc.states();
    let want = [
        "checking",
        "available",
        "downloading",
        "staged",
        "installing",
        "done",
    ];
    assert!(
        is_subsequence(&want, &states),
        "states {states:?} do not contain {want:?} in order"
    );
    assert!(
        !states.iter().any(|s| s == "failed"),
        "a failed state: {states:?}"
    );

    // The daemon still answers, then shuts down cleanly.
    let status = sc
        .call("status", None, SHORT)
        .unwrap_or_else(|e| panic!("status: {e}\n{}", sc.report()));
    assert_eq!(status["current"], "2.0", "{status}");
    let bye = sc
        .call("shutdown", None, SHORT)
        .unwrap_or_else(|e| panic!("shutdown: {e}\n{}", sc.report()));
    assert_eq!(bye, json!({}), "{bye}");
    let exit = sc.wait_exit(Duration::from_secs(15));
    assert!(
        exit.is_some_and(|s| s.success()),
        "exit after shutdown: {exit:?}\n{}",
        sc.report()
    );
}

#[test]
fn subsequence_check_respects_order() {
    let seen: Vec<String> = ["idle", "checking", "available", "checking"]
        .map(String::from)
        .to_vec();
    assert!(is_subsequence(&["checking", "available"], &seen));
    assert!(!is_subsequence(&["available", "idle"], &seen));
}

#[test]
fn second_daemon_on_the_same_data_folder_is_refused() {
    let fx = Fixture::publish(&[Release::plain("1.0")], SMALL_BLOB_BYTES);
    let nginx = Nginx::start(&fx.repo.repository());
    let client = fx.install("client", "1.0", &nginx.metadata_url(), &nginx.targets_url());
    let mut first = client.spawn_sidecar(&["--poll-interval", "0"]);
    // Once it answers, it holds the lock.
    let status = first.call("status", None, SHORT);
    assert!(status.is_ok(), "{status:?}\n{}", first.report());

    let second = client.check();
    assert_eq!(second.code(), Some(1), "{second}");
    assert!(
        second
            .stderr
            .lines()
            .any(|l| l.starts_with("error[busy]: ")),
        "{second}"
    );

    // The first one is unaffected and still answers.
    let status = first.call("status", None, SHORT);
    assert_eq!(
        status.as_ref().ok().map(|s| s["current"].clone()),
        Some(json!("1.0")),
        "{status:?}"
    );
}
