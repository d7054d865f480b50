//! Docs that cannot rot: every ```` ```sh ```` block of `docs/guide.md` is run, in
//! order, as one `sh -eu` script in a fresh temp folder, with the built `tufd` and `tufd-repo`
//! first on `PATH` and `TUFD_SRC` set to this checkout (the guide copies the Python client from
//! there). Only blocks fenced ```` ```sh no-test ```` are skipped (the one-time `cargo install`),
//! and at most one may be. The test then checks what the guide promises: the installed app is
//! at 1.1 and said so.

use std::process::Command;
use std::time::Duration;

use tufd_tests::support::apps::{GroupChild, system_python};
use tufd_tests::support::bins::{self, workspace_root};

/// A fenced block of the guide.
#[derive(Debug, PartialEq, Eq)]
struct Block {
    /// The info string after the opening fence (`sh`, `sh no-test`, `text`, …).
    info: String,
    /// The block's lines.
    body: String,
}

/// Every fenced block of `markdown`, in order.
fn fenced_blocks(markdown: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut current: Option<Block> = None;
    for line in markdown.lines() {
        let trimmed = line.trim_start();
        match current.take() {
            None => {
                if let Some(info) = trimmed.strip_prefix("```") {
                    current = Some(Block {
                        info: info.trim().to_owned(),
                        body: String::new(),
                    });
                }
            }
            Some(mut block) => {
                if trimmed.starts_with("```") {
                    blocks.push(block);
                } else {
                    block.body.push_str(line);
                    block.body.push('\n');
                    current = Some(block);
                }
            }
        }
    }
    blocks
}

/// The script the guide's shell blocks make, and how many were skipped.
fn guide_script(markdown: &str) -> (String, usize) {
    let mut script = String::from("set -eu\n");
    let mut skipped = 0;
    for (n, block) in fenced_blocks(markdown).iter().enumerate() {
        let mut words = block.info.split_whitespace();
        if words.next() != Some("sh") {
            continue;
        }
        if words.any(|w| w == "no-test") {
            skipped += 1;
            continue;
        }
        script.push_str(&format!("echo '### guide block {n}' >&2\n"));
        script.push_str(&block.body);
    }
    (script, skipped)
}

#[test]
fn guide_blocks_are_extracted_in_order() {
    let md = "intro\n```sh\necho one\n```\n```text\nnot run\n```\n```sh no-test\ncargo install x\n```\n  ```sh\n  echo two\n  ```\n";
    let (script, skipped) = guide_script(md);
    assert_eq!(skipped, 1);
    assert!(script.contains("echo one\n"), "{script}");
    assert!(script.contains("  echo two\n"), "{script}");
    assert!(!script.contains("not run"), "{script}");
    assert!(!script.contains("cargo install"), "{script}");
    assert!(script.find("echo one") < script.find("echo two"));
}

#[test]
fn every_command_of_the_guide_runs() {
    let guide = workspace_root().join("docs/guide.md");
    let markdown = std::fs::read_to_string(&guide).expect("read docs/guide.md");
    let (script, skipped) = guide_script(&markdown);
    assert!(skipped <= 1, "{skipped} blocks of the guide are not tested");
    assert!(
        script.lines().count() > 20,
        "the guide has almost no shell commands"
    );
    let tmp = tempfile::Builder::new()
        .prefix("tufd-guide-")
        .tempdir()
        .expect("tempdir");
    let script_path = tmp.path().join("guide.sh");
    std::fs::write(&script_path, &script).expect("write script");
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&work).expect("mkdir work");

    // The built binaries first on PATH, then the system Python's folder, then the rest.
    let python = system_python();
    let mut path = vec![bins::bin_dir().to_path_buf()];
    if let Some(dir) = python.parent().filter(|d| !d.as_os_str().is_empty()) {
        path.push(dir.to_path_buf());
    }
    path.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    let mut cmd = Command::new("sh");
    cmd.arg(&script_path)
        .current_dir(&work)
        .env("PATH", std::env::join_paths(path).expect("join PATH"))
        .env("TUFD_SRC", workspace_root())
        .env("HOME", tmp.path())
        .env("RUST_LOG", "warn");
    let mut guide_run = GroupChild::spawn(&mut cmd, &tmp.path().join("guide"));
    let status = guide_run.wait(Duration::from_secs(600));
    assert!(
        status.success(),
        "the guide's commands failed\n{}\n--- script ---\n{script}",
        guide_run.report()
    );
    let out = guide_run.stdout();
    assert!(out.contains("hello 1.0"), "{}", guide_run.report());
    assert!(out.contains("updated to 1.1"), "{}", guide_run.report());
    assert!(out.contains("hello 1.1"), "{}", guide_run.report());
    let version = std::fs::read_to_string(work.join("installed/VERSION"))
        .unwrap_or_else(|e| panic!("installed/VERSION: {e}\n{}", guide_run.report()));
    assert_eq!(version.trim(), "1.1", "{}", guide_run.report());
    assert!(
        work.join("publisher/keystore").is_dir(),
        "the guide's publisher folder is missing"
    );
}
