//! tough's real update workflow through `TufTransport` over HTTP (transport rule 2 in
//! `tufd_net::transport`): the root walk (TUF 5.3.2–5.3.3) ends only on a real "not found" for
//! `N+1.root.json`; a probe that keeps failing for any other reason fails the load instead of
//! silently freezing root rotation. Fixture: `support/data/rotated-root` (see
//! `support/data/README.md`).

mod support;

use std::path::Path;
use std::time::Duration;

use tough::RepositoryLoader;
use tufd_net::transport::{HttpClient, TransportSettings, TufTransport};

use support::{Fault, TestServer};

fn settings() -> TransportSettings {
    TransportSettings {
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_millis(500),
        tries: 3,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
    }
}

fn fixture() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/data/rotated-root")
}

async fn serve_fixture() -> TestServer {
    let server = TestServer::start().await;
    for entry in std::fs::read_dir(fixture()).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        server.add_file(&name, std::fs::read(entry.path()).unwrap());
    }
    server
}

async fn load(server: &TestServer) -> Result<tough::Repository, tough::error::Error> {
    let client = HttpClient::with_env(&settings(), |_| None).unwrap();
    let root = std::fs::read(fixture().join("1.root.json")).unwrap();
    let datastore = tempfile::tempdir().unwrap();
    RepositoryLoader::new(&root, server.url(""), server.url("targets/"))
        .transport(TufTransport::new(client, settings()))
        .datastore(datastore.path())
        .load()
        .await
}

fn count(server: &TestServer, path: &str) -> usize {
    server.requests().iter().filter(|r| r.path == path).count()
}

#[tokio::test]
async fn loads_a_rotated_root_over_http() {
    let server = serve_fixture().await;
    let repo = load(&server).await.unwrap();
    assert_eq!(u64::from(repo.root().signed.version), 2);
    // The walk ended on the 404 of version 3, asked once (not found is final, no retries).
    assert_eq!(count(&server, "/3.root.json"), 1);
    assert_eq!(count(&server, "/timestamp.json"), 1);
}

#[tokio::test]
async fn transient_failures_while_loading_are_retried() {
    let server = serve_fixture().await;
    server.push_fault_for("2.root.json", Fault::Status(502));
    server.push_fault_for("timestamp.json", Fault::DropAfter(100));
    let repo = load(&server).await.unwrap();
    assert_eq!(u64::from(repo.root().signed.version), 2);
    assert_eq!(count(&server, "/2.root.json"), 2);
    // The broken timestamp body was resumed with a range request.
    let resumed: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.path == "/timestamp.json")
        .map(|r| r.range)
        .collect();
    assert_eq!(resumed, vec![None, Some("bytes=100-".to_owned())]);
}

#[tokio::test]
async fn a_root_probe_that_keeps_failing_fails_the_load() {
    let server = serve_fixture().await;
    for _ in 0..settings().tries {
        server.push_fault_for("3.root.json", Fault::Status(503));
    }
    let result = load(&server).await;
    assert!(
        result.is_err(),
        "a failing N+1 root probe must not look like 'no newer root'"
    );
    assert_eq!(count(&server, "/3.root.json"), settings().tries as usize);
    assert_eq!(count(&server, "/timestamp.json"), 0);
}
