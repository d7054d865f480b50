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
//! `no-cache` for `timestamp.json` and `root.json`); a second publish uploads nothing;
//! `sign timestamp --publish` uploads the new `timestamp.json` alone; another
//! repository's publish to the same prefix is refused and uploads nothing. A second test kills
//! publishes midway while a client polls the bucket: no check ever fails verification. A third
//! gives bad destinations (wrong credentials, a missing bucket, an unreachable endpoint, `ftp://`,
//! `gs://` and `az://` without credentials) and expects one `error[<kind>]` line naming the
//! destination. A fourth prunes, a fifth reads the destination and cache headers from the config.
//! A sixth publishes with the key, region and endpoint in the AWS shared files only.
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
use tufd_tests::support::daemon::Client;
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
/// The bucket of a test: its folder under `fx`'s root, served by two s3s-fs — `signed` checks
/// credentials (what `tufd-repo publish` talks to), `public` reads anonymously (the bucket's
/// HTTP endpoint installs update from) — and the `s3://` destination for it.
struct Bucket {
    dir: PathBuf,
    signed: S3Server,
    public: S3Server,
    dest: String,
}

impl Bucket {
    fn start(bin: &Path, fx: &Fixture) -> Self {
        let store = fx.root().join("s3");
        let dir = store.join(BUCKET);
        std::fs::create_dir_all(&dir).expect("bucket folder");
        Self {
            dir,
            signed: S3Server::start(bin, &store, true, &fx.root().join("s3s-signed.log")),
            public: S3Server::start(bin, &store, false, &fx.root().join("s3s-public.log")),
            dest: format!("s3://{BUCKET}/{PREFIX}"),
        }
    }

    /// Releases 1.0 and 2.0 (small blobs) signed and published to a fresh bucket.
    fn published_at_2(bin: &Path) -> (Fixture, Self) {
        let fx = Fixture::publish(
            &[Release::plain("1.0"), Release::plain("2.0")],
            SMALL_BLOB_BYTES,
        );
        let bucket = Self::start(bin, &fx);
        publish(&fx.repo, &bucket.dest, &bucket.signed.url(), &[]).assert_success();
        (fx, bucket)
    }
}

fn publish(repo: &Repo, dest: &str, endpoint: &str, extra: &[&str]) -> RunOutput {
    let mut args = vec!["publish", dest, "--endpoint", endpoint];
    args.extend_from_slice(extra);
    publish_with(repo, &args)
}

/// `tufd-repo <args>` in `repo`'s working folder with the test credentials.
fn publish_with(repo: &Repo, args: &[&str]) -> RunOutput {
    let mut cmd = Command::new(bins::tufd_repo());
    cmd.current_dir(repo.work())
        .args(args)
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
    let Bucket {
        dir: bucket_dir,
        signed,
        public,
        dest,
    } = Bucket::start(&bin, &fx);

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
    assert!(keys.is_sorted_by_key(|k| upload_group(k)), "{keys:#?}");
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

    // `--publish` after a command that changes the repository: a new timestamp, one upload.
    let out = publish_with(
        &fx.repo,
        &[
            "sign",
            "timestamp",
            "--publish",
            &dest,
            "--publish-endpoint",
            &signed.url(),
        ],
    );
    out.assert_success();
    assert!(
        out.stdout
            .contains(&format!("published 1 object(s), {} bytes, to {dest}", {
                std::fs::metadata(fx.repo.metadata_dir().join("timestamp.json"))
                    .expect("timestamp.json")
                    .len()
            })),
        "{out}"
    );
    let check = client.clone().with_current("3.0").check_json();
    assert_eq!(check["update_available"], false, "{check}");

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

/// The upload group of a key in `publish`'s order: targets, targets metadata, snapshot, root,
/// timestamp.
fn upload_group(key: &str) -> u8 {
    if key.starts_with("targets/") {
        0
    } else if key.ends_with(".targets.json") {
        1
    } else if key.ends_with("snapshot.json") {
        2
    } else if key.ends_with("root.json") {
        3
    } else {
        4
    }
}

/// The keys `publish --dry-run` would upload, in order.
fn planned_keys(out: &RunOutput) -> Vec<String> {
    out.stdout
        .lines()
        .filter_map(|l| l.strip_prefix("would upload "))
        .filter_map(|l| l.split(' ').next())
        .map(str::to_owned)
        .collect()
}

/// The client's `tufd check --json` with an empty data folder: exit code and `latest`.
fn fresh_check(client: &Client) -> (Option<i32>, Option<String>, String) {
    let _ = std::fs::remove_dir_all(&client.data_dir);
    let out = client.check();
    let latest = serde_json::from_str::<serde_json::Value>(out.stdout.trim())
        .ok()
        .and_then(|v| v["latest"].as_str().map(str::to_owned));
    (out.code(), latest, out.to_string())
}

/// The files of the bucket's prefix with their bytes.
fn bucket_state(bucket_dir: &Path) -> Vec<(String, Vec<u8>)> {
    let base = bucket_dir.join(PREFIX);
    objects(bucket_dir)
        .into_iter()
        .map(|k| {
            let bytes = std::fs::read(base.join(&k)).expect("read object");
            (k, bytes)
        })
        .collect()
}

/// Puts the bucket's prefix back to `state`: the mutable names first (the bucket then shows
/// `state`'s release, whose files are all there), then removes what `state` lacks.
fn reset_bucket(bucket_dir: &Path, state: &[(String, Vec<u8>)]) {
    let base = bucket_dir.join(PREFIX);
    for (key, bytes) in state {
        if std::fs::read(base.join(key)).ok().as_deref() != Some(bytes.as_slice()) {
            std::fs::write(base.join(key), bytes).expect("restore object");
        }
    }
    for key in objects(bucket_dir) {
        if !state.iter().any(|(k, _)| *k == key) {
            std::fs::remove_file(base.join(&key)).expect("remove object");
        }
    }
}

/// A small deterministic generator for the kill delays (the seed is printed).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n.max(1)
    }
}

/// Publishing 3.0 over a bucket at 2.0, interrupted. First every state an interruption can
/// leave (the upload groups before one complete, any subset of that group's objects) is built
/// in the bucket and checked by a new install: it sees 2.0 until `timestamp.json` is there,
/// then 3.0, and verifies. Then 30 publishes are killed (SIGKILL) at random points, the delay
/// window closing in on the uploads, while a client checks the bucket in a loop (with an empty
/// data folder each time, as a new install does): every check sees 2.0 or 3.0 and verifies,
/// and after each kill the next publish completes 3.0 (then the bucket is put back to 2.0).
#[test]
fn interrupted_publish_never_shows_a_client_an_inconsistent_bucket() {
    const RUNS: usize = 30;
    let Some(bin) = s3s_fs() else { return };
    let (
        mut fx,
        Bucket {
            dir: bucket_dir,
            signed,
            public,
            dest,
        },
    ) = Bucket::published_at_2(&bin);
    let at_2 = bucket_state(&bucket_dir);
    fx.add(Release::plain("3.0"));

    // The time a complete publish of 3.0 takes bounds the kill delays.
    let started = std::time::Instant::now();
    publish(&fx.repo, &dest, &signed.url(), &[]).assert_success();
    let full = started.elapsed();
    let at_3 = bucket_state(&bucket_dir);
    reset_bucket(&bucket_dir, &at_2);
    assert_eq!(bucket_state(&bucket_dir), at_2);

    let base = format!("{}/{BUCKET}/{PREFIX}", public.url());
    let client = fx.install(
        "poller",
        "1.0",
        &format!("{base}/metadata/"),
        &format!("{base}/targets/"),
    );
    // Every state an interrupted publish can leave: the groups before one complete, any subset
    // of that group's objects (they upload concurrently). Each is checked by a new install.
    let out = publish(&fx.repo, &dest, &signed.url(), &["--dry-run"]);
    out.assert_success();
    let plan = planned_keys(&out);
    assert!(plan.len() >= 4, "{out}");
    let base_dir = bucket_dir.join(PREFIX);
    let mut states = 0;
    for g in 0..=4u8 {
        let done: Vec<&String> = plan.iter().filter(|k| upload_group(k) < g).collect();
        let group: Vec<&String> = plan.iter().filter(|k| upload_group(k) == g).collect();
        for mask in 0..(1u32 << group.len()) {
            reset_bucket(&bucket_dir, &at_2);
            let uploaded = done.iter().copied().chain(
                group
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| mask & (1 << i) != 0)
                    .map(|(_, k)| *k),
            );
            for key in uploaded {
                let bytes = &at_3.iter().find(|(k, _)| k == key).expect("in 3.0").1;
                std::fs::write(base_dir.join(key), bytes).expect("write object");
            }
            let (code, latest, out) = fresh_check(&client);
            assert_eq!(code, Some(0), "group {g}, subset {mask:b}: {out}");
            let expected = if g == 4 && mask == 1 { "3.0" } else { "2.0" };
            assert_eq!(
                latest.as_deref(),
                Some(expected),
                "group {g}, subset {mask:b}: {out}"
            );
            states += 1;
        }
    }
    eprintln!("{states} intermediate states checked");
    reset_bucket(&bucket_dir, &at_2);

    // The poller checks while holding the read side; a reset takes the write side.
    let gate = std::sync::Arc::new(std::sync::RwLock::new(()));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let poller = {
        let (gate, stop, client) = (gate.clone(), stop.clone(), client.clone());
        std::thread::spawn(move || {
            let mut seen = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let _read = gate.read().expect("gate");
                seen.push(fresh_check(&client));
            }
            seen
        })
    };

    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64);
    eprintln!("kill delays: seed {seed}, full publish {full:?}");
    let mut rng = Lcg(seed);
    // The kill delay is drawn from [lo, hi), a window that closes in on the uploads: a kill
    // that left the bucket at 2.0 came too early (lo moves up), one at 3.0 too late (hi
    // moves down); it never gets narrower than 4 ms.
    let (mut lo, mut hi) = (0u64, (full.as_micros() as u64).max(1_000) * 3 / 2);
    let (mut attempts, mut killed_midway) = (0, 0);
    while attempts < RUNS {
        attempts += 1;
        {
            let _write = gate.write().expect("gate");
            reset_bucket(&bucket_dir, &at_2);
        }
        let mut cmd = Command::new(bins::tufd_repo());
        cmd.current_dir(fx.repo.work())
            .args(["publish", &dest, "--endpoint", &signed.url()])
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .env("AWS_REGION", "us-east-1")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let delay = lo + rng.below(hi - lo);
        let mut child = ChildGuard::new(cmd.spawn().expect("spawn publish"), "publish");
        std::thread::sleep(Duration::from_micros(delay));
        child.kill();
        let after_kill = bucket_state(&bucket_dir);
        if after_kill == at_2 {
            lo = delay;
        } else if after_kill == at_3 {
            hi = delay;
        } else {
            killed_midway += 1;
        }
        if hi < lo + 4_000 {
            let mid = (lo + hi) / 2;
            (lo, hi) = (mid.saturating_sub(2_000), mid + 2_000);
        }
        // The next publish completes 3.0.
        let out = publish(&fx.repo, &dest, &signed.url(), &[]);
        out.assert_success();
        assert_eq!(bucket_state(&bucket_dir), at_3, "attempt {attempts}: {out}");
        // Let the poller see the completed state too.
        std::thread::sleep(Duration::from_millis(30));
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let seen = poller.join().expect("poller");
    eprintln!(
        "{attempts} publishes killed, {killed_midway} of them midway, {} client checks",
        seen.len()
    );
    assert!(!seen.is_empty());
    for (code, latest, out) in &seen {
        assert_eq!(*code, Some(0), "a check failed: {out}");
        assert!(
            matches!(latest.as_deref(), Some("2.0" | "3.0")),
            "a check saw {latest:?}: {out}"
        );
    }
    assert!(
        seen.iter().any(|(_, l, _)| l.as_deref() == Some("3.0")),
        "no check saw 3.0"
    );
}

/// Wrong credentials, a missing bucket, an unreachable endpoint, an unsupported scheme, and
/// `gs://` / `az://` without credentials in the environment: one line on stderr naming the
/// destination and the cause, exit 1, nothing uploaded.
#[test]
fn bad_destinations_fail_with_one_line_naming_them() {
    let Some(bin) = s3s_fs() else { return };
    let tmp = tempfile::Builder::new()
        .prefix("tufd-e2e-")
        .tempdir()
        .expect("tempdir");
    let repo = Repo::init(&tmp.path().join("repo"), "demo");
    let store = tmp.path().join("s3");
    let bucket_dir = store.join(BUCKET);
    std::fs::create_dir_all(&bucket_dir).expect("bucket folder");
    let signed = S3Server::start(&bin, &store, true, &tmp.path().join("s3s.log"));
    // A port nothing listens on: bind one, then free it.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();

    let dest = format!("s3://{BUCKET}/{PREFIX}");
    let cases = [
        (
            "wrong credentials",
            dest.clone(),
            signed.url(),
            true,
            "error[io]: ",
        ),
        (
            "missing bucket",
            format!("s3://no-such-bucket/{PREFIX}"),
            signed.url(),
            false,
            "error[io]: ",
        ),
        (
            "unreachable endpoint",
            dest.clone(),
            format!("http://127.0.0.1:{closed}"),
            false,
            "error[io]: ",
        ),
        (
            "unsupported scheme",
            format!("ftp://{BUCKET}/{PREFIX}"),
            signed.url(),
            false,
            "error[config]: ",
        ),
        // No Google or Azure credentials in this environment: refused before any request.
        (
            "gs:// without credentials",
            format!("gs://{BUCKET}/{PREFIX}"),
            String::new(),
            false,
            "error[config]: ",
        ),
        (
            "az:// without credentials",
            format!("az://{BUCKET}/{PREFIX}"),
            String::new(),
            false,
            "error[config]: ",
        ),
    ];
    for (what, dest, endpoint, wrong_secret, kind) in cases {
        let mut cmd = Command::new(bins::tufd_repo());
        cmd.current_dir(repo.work()).args(["publish", &dest]);
        if !endpoint.is_empty() {
            cmd.args(["--endpoint", &endpoint]);
        }
        // No Google or Azure credentials, whatever the machine has.
        cmd.env("HOME", tmp.path());
        for name in [
            "GOOGLE_APPLICATION_CREDENTIALS",
            "GOOGLE_SERVICE_ACCOUNT_KEY",
        ] {
            cmd.env_remove(name);
        }
        for name in ["AZURE_STORAGE_ACCOUNT_NAME", "AZURE_STORAGE_ACCOUNT_KEY"] {
            cmd.env_remove(name);
        }
        cmd.env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env(
                "AWS_SECRET_ACCESS_KEY",
                if wrong_secret {
                    "not-the-secret"
                } else {
                    SECRET_KEY
                },
            )
            .env("AWS_REGION", "us-east-1")
            .env("RUST_LOG", "off");
        let out = run(&mut cmd, REPO_TIMEOUT);
        assert_eq!(out.code(), Some(1), "{what}: {out}");
        let line = out.stderr.trim();
        assert!(
            line.starts_with(kind) && line.contains(&dest) && !line.contains('\n'),
            "{what}: {out}"
        );
        assert!(objects(&bucket_dir).is_empty(), "{what}: {out}");
    }
}

/// Sets the modification time of every object of the bucket's prefix (what `s3s-fs` lists as
/// `LastModified`) to `days` days ago.
fn age_objects(bucket_dir: &Path, days: u64) {
    let when = std::time::SystemTime::now() - Duration::from_secs(days * 86_400);
    for key in objects(bucket_dir) {
        std::fs::File::options()
            .append(true)
            .open(bucket_dir.join(PREFIX).join(&key))
            .and_then(|f| f.set_modified(when))
            .expect("set mtime");
    }
}

/// The keys `publish --dry-run --prune-older-than` would delete.
fn planned_deletes(out: &RunOutput) -> Vec<String> {
    out.stdout
        .lines()
        .filter_map(|l| l.strip_prefix("would delete "))
        .map(str::to_owned)
        .collect()
}

/// `--prune-older-than DAYS` deletes only objects no current metadata references that are
/// older than DAYS: after 3.0 over a 40-day-old 2.0, the old snapshot and targets versions go
/// (every root, every target and `timestamp.json` stay) and an install at 1.0 still updates to
/// 3.0; after `remove-latest`, 3.0's fresh files stay at 30 days and go at 0.
#[test]
fn prune_deletes_only_old_objects_no_metadata_references() {
    let Some(bin) = s3s_fs() else { return };
    let (
        mut fx,
        Bucket {
            dir: bucket_dir,
            signed,
            public,
            dest,
        },
    ) = Bucket::published_at_2(&bin);
    let at_2 = objects(&bucket_dir);
    age_objects(&bucket_dir, 40);
    fx.add(Release::plain("3.0"));

    let out = publish(
        &fx.repo,
        &dest,
        &signed.url(),
        &["--prune-older-than", "30", "--dry-run"],
    );
    out.assert_success();
    let doomed = planned_deletes(&out);
    assert!(!doomed.is_empty(), "{out}");
    let json = |name: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(fx.repo.metadata_dir().join(name)).expect("metadata"))
            .expect("json")
    };
    let snapshot_v = json("timestamp.json")["signed"]["meta"]["snapshot.json"]["version"].clone();
    let current_snapshot = format!("metadata/{snapshot_v}.snapshot.json");
    for key in &doomed {
        assert!(at_2.contains(key), "{key} is not an old object: {out}");
        assert!(
            (key.ends_with(".snapshot.json") || key.ends_with(".targets.json"))
                && *key != current_snapshot,
            "{key} must stay: {out}"
        );
    }
    assert_eq!(objects(&bucket_dir), at_2, "a dry run deletes nothing");

    let out = publish(
        &fx.repo,
        &dest,
        &signed.url(),
        &["--prune-older-than", "30"],
    );
    out.assert_success();
    assert!(
        out.stdout
            .contains(&format!("; deleted {} object(s)", doomed.len())),
        "{out}"
    );
    let now = objects(&bucket_dir);
    for key in &at_2 {
        assert_eq!(!now.contains(key), doomed.contains(key), "{key}: {out}");
    }
    assert!(now.iter().any(|k| k == "metadata/1.root.json"));

    let base = format!("{}/{BUCKET}/{PREFIX}", public.url());
    let client = fx.install(
        "client",
        "1.0",
        &format!("{base}/metadata/"),
        &format!("{base}/targets/"),
    );
    client.update().assert_success();
    assert_eq!(crate::app_version(&client.install_dir), "3.0");

    // 3.0 removed: its files are fresh, so 30 days keeps them and 0 days deletes them.
    fx.repo.run(&["remove-latest"]).assert_success();
    let out = publish(
        &fx.repo,
        &dest,
        &signed.url(),
        &["--prune-older-than", "30"],
    );
    out.assert_success();
    assert!(out.stdout.contains("; deleted 0 object(s)"), "{out}");
    let out = publish(&fx.repo, &dest, &signed.url(), &["--prune-older-than", "0"]);
    out.assert_success();
    let gone: Vec<String> = now
        .iter()
        .filter(|k| !objects(&bucket_dir).contains(k))
        .cloned()
        .collect();
    assert!(
        gone.iter().any(|k| k.ends_with("demo-3.0.patch"))
            && gone
                .iter()
                .all(|k| !k.ends_with("root.json") && !k.contains("demo-2.0")),
        "{gone:#?}"
    );
    let check = client.clone().with_current("1.0").check_json();
    assert_eq!(check["latest"], "2.0", "{check}");
}

/// The destination, its endpoint and the cache headers from the config's `[publish]` table:
/// `publish` and `--publish` without DEST use them, a DEST on the command line wins; without
/// either, one `error[config]` line.
#[test]
fn destination_and_cache_headers_from_the_config() {
    let Some(bin) = s3s_fs() else { return };
    let fx = Fixture::publish(&[Release::plain("1.0")], SMALL_BLOB_BYTES);
    let Bucket {
        dir: bucket_dir,
        signed,
        public,
        dest,
    } = Bucket::start(&bin, &fx);

    let out = publish_with(&fx.repo, &["publish"]);
    assert_eq!(out.code(), Some(1), "{out}");
    assert!(
        out.stderr.trim().starts_with("error[config]: ") && !out.stderr.trim().contains('\n'),
        "{out}"
    );

    let config = fx.repo.work().join("tufd-repo.toml");
    let mut text = std::fs::read_to_string(&config).expect("config");
    text.push_str(&format!(
        "\n[publish]\ndestination = \"{dest}\"\nendpoint = \"{}\"\n\
         cache_control_immutable = \"public, max-age=86400\"\n\
         cache_control_mutable = \"public, max-age=30\"\n",
        signed.url()
    ));
    std::fs::write(&config, text).expect("write config");

    let out = publish_with(&fx.repo, &["publish"]);
    out.assert_success();
    assert!(
        out.stdout.contains(&format!("to {dest}; 0 already there")),
        "{out}"
    );
    assert_object(
        public.port,
        "metadata/1.root.json",
        "application/json",
        "public, max-age=86400",
    );
    assert_object(
        public.port,
        "metadata/timestamp.json",
        "application/json",
        "public, max-age=30",
    );

    // `--publish` without DEST, last on the line.
    let out = publish_with(&fx.repo, &["sign", "timestamp", "--publish"]);
    out.assert_success();
    assert!(out.stdout.contains("published 1 object(s)"), "{out}");

    // A DEST on the command line wins (a local folder: the config's endpoint does not apply).
    let folder = fx.root().join("copy");
    let out = publish_with(&fx.repo, &["publish", folder.to_str().expect("utf-8")]);
    out.assert_success();
    assert!(folder.join("metadata/timestamp.json").is_file(), "{out}");
    assert_eq!(objects(&bucket_dir).len(), {
        let mut local = Vec::new();
        for sub in ["metadata", "targets"] {
            for e in std::fs::read_dir(folder.join(sub)).expect("copy").flatten() {
                local.push(e.file_name());
            }
        }
        local.len()
    });
}

#[test]
fn credentials_region_and_endpoint_from_the_aws_shared_files() {
    let Some(bin) = s3s_fs() else { return };
    let fx = Fixture::publish(&[Release::plain("1.0")], SMALL_BLOB_BYTES);
    let store = fx.root().join("s3");
    let bucket_dir = store.join(BUCKET);
    std::fs::create_dir_all(&bucket_dir).expect("bucket folder");
    let signed = S3Server::start(&bin, &store, true, &fx.root().join("s3s-signed.log"));
    let credentials = fx.root().join("aws-credentials");
    let config = fx.root().join("aws-config");
    std::fs::write(
        &credentials,
        format!(
            "[default]\naws_access_key_id = wrong\naws_secret_access_key = wrong\n\n\
             [e2e]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {SECRET_KEY}\n"
        ),
    )
    .expect("credentials file");
    std::fs::write(
        &config,
        format!(
            "[default]\nregion = eu-west-1\n\n[profile e2e]\nregion = us-east-1\nendpoint_url = {}\n",
            signed.url()
        ),
    )
    .expect("config file");
    let dest = format!("s3://{BUCKET}/{PREFIX}");
    // No key, region or endpoint in the environment: only the shared files give them.
    let publish = |profile: &str| {
        let mut cmd = Command::new(bins::tufd_repo());
        cmd.current_dir(fx.repo.work()).args(["publish", &dest]);
        for name in [
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_REGION",
            "AWS_DEFAULT_REGION",
            "AWS_ENDPOINT",
            "AWS_ENDPOINT_URL",
            "AWS_ENDPOINT_URL_S3",
        ] {
            cmd.env_remove(name);
        }
        cmd.env("HOME", fx.root())
            .env("AWS_PROFILE", profile)
            .env("AWS_SHARED_CREDENTIALS_FILE", &credentials)
            .env("AWS_CONFIG_FILE", &config)
            .env("RUST_LOG", "off");
        run(&mut cmd, REPO_TIMEOUT)
    };

    let out = publish("absent");
    assert_eq!(out.code(), Some(1), "{out}");
    let line = out.stderr.trim();
    assert!(
        line.starts_with("error[config]: ") && line.contains("absent") && !line.contains('\n'),
        "{out}"
    );
    assert!(objects(&bucket_dir).is_empty(), "{out}");

    let out = publish("e2e");
    out.assert_success();
    assert!(
        out.stdout.contains(&format!("to {dest}; 0 already there")),
        "{out}"
    );
    assert!(
        objects(&bucket_dir)
            .iter()
            .any(|k| k.ends_with("metadata/timestamp.json")),
        "{out}"
    );
}
