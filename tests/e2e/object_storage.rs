//! `tufd-repo publish s3://…` against a real S3-protocol server on 127.0.0.1: `s3s-fs` (the
//! S3 server of the `s3s` project, a crates.io binary that `scripts/test.sh` installs into
//! `$HOME/.cache/tufd-tools/s3s-fs` and names in `TUFD_S3S_FS`).
//!
//! Two `s3s-fs` processes serve the same folder: one with an access key (the publisher signs
//! its requests with the standard AWS environment variables), one without authentication,
//! which answers anonymous GETs as a public bucket or a CDN in front of it does: `tufd` reads
//! the repository from its path-style URL `http://127.0.0.1:PORT/<bucket>/<prefix>/metadata/`.
//!
//! The story: three releases published locally, then to `s3://tufd-e2e/releases/demo`; an
//! install at 1.0 checks and updates to 3.0 through the two patches read from the bucket; HEAD
//! shows `application/json` and the cache headers (immutable for consistent-snapshot names,
//! `no-cache` for `timestamp.json` and `root.json`); a second publish uploads nothing; another
//! repository's publish to the same prefix is refused and uploads nothing.
//!
//! Without `s3s-fs` the test is skipped with a message, unless `TUFD_REQUIRE_S3=1` (set by
//! `scripts/test.sh`) makes that a failure.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use tufd_tests::support::bins;
use tufd_tests::support::bundle::SMALL_BLOB_BYTES;
use tufd_tests::support::fixture::{Fixture, Release};
use tufd_tests::support::process::{ChildGuard, RunOutput, run};
use tufd_tests::support::repo::{REPO_TIMEOUT, Repo};
use tufd_tests::support::tree::assert_same_tree;

const BUCKET: &str = "tufd-e2e";
const PREFIX: &str = "releases/demo";
const ACCESS_KEY: &str = "tufd-test-access";
const SECRET_KEY: &str = "tufd-test-secret-key";

/// The `s3s-fs` binary, or `None` (after a message) when there is none.
fn s3s_fs() -> Option<PathBuf> {
    let path = std::env::var_os("TUFD_S3S_FS").map_or_else(
        || {
            let home = std::env::var_os("HOME").unwrap_or_default();
            Path::new(&home).join(".cache/tufd-tools/s3s-fs/bin/s3s-fs")
        },
        PathBuf::from,
    );
    if path.is_file() {
        return Some(path);
    }
    let why = format!(
        "no s3s-fs at {} (scripts/test.sh installs it: cargo install s3s-fs --version 0.14.1 --features binary); set TUFD_S3S_FS",
        path.display()
    );
    assert!(std::env::var_os("TUFD_REQUIRE_S3").is_none(), "{why}");
    eprintln!("skipped: {why}");
    None
}

/// One `s3s-fs` process serving `root` on a free port of 127.0.0.1.
struct S3Server {
    _child: ChildGuard,
    port: u16,
}

impl S3Server {
    /// Starts `s3s-fs` on port 0 and reads the port from its log line
    /// `server is running at http://127.0.0.1:PORT`.
    fn start(bin: &Path, root: &Path, auth: bool, log: &Path) -> Self {
        let mut cmd = Command::new(bin);
        cmd.args(["--host", "127.0.0.1", "--port", "0"]);
        if auth {
            cmd.args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY]);
        }
        cmd.arg(root)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = ChildGuard::new(cmd.spawn().expect("spawn s3s-fs"), "s3s-fs");
        let stdout = child.child_mut().stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        let log = log.to_path_buf();
        std::thread::spawn(move || {
            let mut file = std::fs::File::create(&log).expect("s3s-fs log");
            let mut sent = false;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = writeln!(file, "{line}");
                if !sent && let Some(at) = line.find("http://127.0.0.1:") {
                    let port: String = line[at + 17..]
                        .chars()
                        .take_while(char::is_ascii_digit)
                        .collect();
                    let _ = tx.send(port.parse::<u16>().expect("port"));
                    sent = true;
                }
            }
        });
        let port = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("s3s-fs did not report its address within 30 s");
        Self {
            _child: child,
            port,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// `tufd-repo publish <dest> --endpoint <endpoint>` in `repo`'s working folder, with the test
/// credentials in the standard AWS environment variables.
fn publish(repo: &Repo, dest: &str, endpoint: &str, extra: &[&str]) -> RunOutput {
    let mut cmd = Command::new(bins::tufd_repo());
    cmd.current_dir(repo.work())
        .args(["publish", dest, "--endpoint", endpoint])
        .args(extra)
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_REGION", "us-east-1")
        .env("RUST_LOG", "warn");
    run(&mut cmd, REPO_TIMEOUT)
}

/// The response headers of `HEAD <path>` on 127.0.0.1:`port` (status line first, names
/// lower-cased).
fn head(port: u16, path: &str) -> (String, Vec<(String, String)>) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    write!(
        stream,
        "HEAD {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .expect("send HEAD");
    let mut text = String::new();
    stream
        .read_to_string(&mut text)
        .expect("read HEAD response");
    let mut lines = text.split("\r\n");
    let status = lines.next().unwrap_or_default().to_owned();
    let headers = lines
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers)
}

#[track_caller]
fn assert_object(port: u16, key: &str, content_type: &str, cache_control: &str) {
    let (status, headers) = head(port, &format!("/{BUCKET}/{PREFIX}/{key}"));
    assert!(status.contains(" 200 "), "HEAD {key}: {status} {headers:?}");
    let get = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(
        get("content-type"),
        Some(content_type),
        "{key}: {headers:?}"
    );
    assert_eq!(
        get("cache-control"),
        Some(cache_control),
        "{key}: {headers:?}"
    );
}

/// Number of objects under the destination (files in the bucket folder, `s3s-fs`'s own
/// sidecar files left out).
fn objects(bucket_dir: &Path) -> Vec<String> {
    fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, base, out);
            } else {
                out.push(p.strip_prefix(base).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    let mut out = Vec::new();
    walk(&bucket_dir.join(PREFIX), &bucket_dir.join(PREFIX), &mut out);
    out.retain(|n| n.starts_with("metadata/") || n.starts_with("targets/"));
    out.sort();
    out
}

#[test]
fn publish_to_s3_then_tufd_updates_from_the_bucket() {
    let Some(bin) = s3s_fs() else { return };
    let fx = Fixture::publish(
        &[
            Release::plain("1.0"),
            Release::plain("2.0"),
            Release::plain("3.0"),
        ],
        SMALL_BLOB_BYTES,
    );
    let store = fx.root().join("s3");
    let bucket_dir = store.join(BUCKET);
    std::fs::create_dir_all(&bucket_dir).expect("bucket folder");
    let signed = S3Server::start(&bin, &store, true, &fx.root().join("s3s-signed.log"));
    let public = S3Server::start(&bin, &store, false, &fx.root().join("s3s-public.log"));
    let dest = format!("s3://{BUCKET}/{PREFIX}");

    // --dry-run lists the plan and uploads nothing.
    let out = publish(&fx.repo, &dest, &signed.url(), &["--dry-run"]);
    out.assert_success();
    assert!(out.stdout.contains("dry run: would upload"), "{out}");
    assert!(objects(&bucket_dir).is_empty(), "{out}");
    // The plan's order: targets, targets metadata, snapshot, root, timestamp last.
    let keys: Vec<&str> = out
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("would upload "))
        .filter_map(|l| l.split(' ').next())
        .collect();
    let group = |k: &str| {
        if k.starts_with("targets/") {
            0
        } else if k.ends_with(".targets.json") {
            1
        } else if k.ends_with("snapshot.json") {
            2
        } else if k.ends_with("root.json") {
            3
        } else {
            4
        }
    };
    assert!(keys.is_sorted_by_key(|k| group(k)), "{keys:#?}");
    assert_eq!(keys.last(), Some(&"metadata/timestamp.json"), "{keys:#?}");

    let out = publish(&fx.repo, &dest, &signed.url(), &[]);
    out.assert_success();
    assert!(out.stdout.contains("; 0 already there"), "{out}");
    let published = objects(&bucket_dir);
    assert_eq!(published.len(), keys.len(), "{published:#?}");

    // Object metadata, read anonymously as a client or a CDN does.
    let sha_target = fx
        .repo
        .target_file("demo-3.0.patch")
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let immutable = "public, max-age=31536000, immutable";
    assert_object(
        public.port,
        &format!("targets/{sha_target}"),
        "application/octet-stream",
        immutable,
    );
    for key in [
        "metadata/1.root.json",
        "metadata/2.snapshot.json",
        "metadata/3.targets.json",
    ] {
        assert_object(public.port, key, "application/json", immutable);
    }
    for key in ["metadata/timestamp.json", "metadata/root.json"] {
        assert_object(public.port, key, "application/json", "no-cache");
    }

    // tufd updates 1.0 → 3.0 through the two patches, from the bucket's HTTP endpoint.
    let base = format!("{}/{BUCKET}/{PREFIX}", public.url());
    let client = fx.install(
        "client",
        "1.0",
        &format!("{base}/metadata/"),
        &format!("{base}/targets/"),
    );
    let check = client.check_json();
    assert_eq!(check["latest"], "3.0", "{check}");
    assert_eq!(check["update_available"], true, "{check}");
    assert_eq!(
        check["plan"]["patches"],
        serde_json::json!(["demo-2.0.patch", "demo-3.0.patch"]),
        "{check}"
    );
    client.update().assert_success();
    assert_same_tree(&fx.bundle("3.0"), &client.install_dir);
    assert_eq!(crate::app_version(&client.install_dir), "3.0");

    // A second publish finds everything there.
    let out = publish(&fx.repo, &dest, &signed.url(), &[]);
    out.assert_success();
    assert!(
        out.stdout.contains(&format!(
            "published 0 object(s), 0 bytes, to {dest}; {} already there",
            keys.len()
        )),
        "{out}"
    );

    // Another repository is refused before anything is uploaded.
    let other = Repo::init(&fx.root().join("other"), "demo");
    let out = publish(&other, &dest, &signed.url(), &[]);
    assert_eq!(out.code(), Some(1), "{out}");
    let line = out.stderr.trim();
    assert!(
        line.starts_with("error[already-exists]: ")
            && line.contains(&dest)
            && line.contains("holds a different repository")
            && !line.contains('\n'),
        "{out}"
    );
    assert_eq!(objects(&bucket_dir), published);
}
