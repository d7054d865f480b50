//! An app that stops reading the daemon's stdout (the relaunch pattern: send `install`, exit)
//! must not turn a finished job into a failure: the daemon drops further messages and exits 0
//! at the end of input.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn closed_stdout_is_a_normal_goodbye() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("app")).unwrap();
    std::fs::create_dir_all(d.join("repo/metadata")).unwrap();
    std::fs::write(d.join("1.root.json"), "{}").unwrap();
    let p = d.display();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tufd"))
        .args([
            "--app-name=demo".to_owned(),
            "--current-version=1.0".to_owned(),
            format!("--install-dir={p}/app"),
            format!("--data-dir={p}/data"),
            format!("--metadata-url=file://{p}/repo/metadata/"),
            format!("--targets-url=file://{p}/repo/targets/"),
            format!("--trusted-root={p}/1.root.json"),
            "--poll-interval=0".to_owned(),
            "sidecar".to_owned(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The app goes away: its end of our stdout is closed before anything is answered.
    drop(child.stdout.take());
    let mut stdin = child.stdin.take().unwrap();
    for id in 1..=3 {
        writeln!(stdin, r#"{{"jsonrpc":"2.0","id":{id},"method":"status"}}"#).unwrap();
    }
    drop(stdin);

    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "tufd did not exit after end of input"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "exit {status:?}, stderr: {stderr}");
    assert!(!stderr.contains("Broken pipe"), "{stderr}");
}
