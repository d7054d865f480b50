//! The TUF client's real update workflow (`TrustedStore::load`) through `TufTransport` over HTTP
//! (transport rule 2 in `tufd_net::transport`): the root walk (TUF 5.3.2–5.3.3) ends only on a
//! real "not found" for `N+1.root.json`; a probe that keeps failing for any other reason fails the
//! load instead of silently freezing root rotation. Fixture: `support/data/rotated-root` (see
//! `support/data/README.md`).

mod support;

use std::path::Path;

use tufd_net::TufFailure;
use tufd_net::transport::{HttpClient, NetFailure, TransportSettings, TufTransport};
use tufd_net::trusted_store::{LoadRequest, LoadedRepository, TrustedStore, TrustedStoreError};

use support::{Fault, TestServer};

fn settings() -> TransportSettings {
    support::fast_settings(3)
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

async fn load(server: &TestServer) -> Result<LoadedRepository, TrustedStoreError> {
    let client = HttpClient::with_env(&settings(), |_| None).unwrap();
    let store = tempfile::tempdir().unwrap();
    TrustedStore::new(store.path())
        .load(LoadRequest {
            metadata_url: server.url(""),
            targets_url: server.url("targets/"),
            transport: TufTransport::new(client, settings()),
            shipped_root: Some(fixture().join("1.root.json")),
            limits: None,
        })
        .await
}

fn root_version(repo: &LoadedRepository) -> u64 {
    repo.trusted().root().version
}

fn count(server: &TestServer, path: &str) -> usize {
    server.requests().iter().filter(|r| r.path == path).count()
}

#[tokio::test]
async fn loads_a_rotated_root_over_http() {
    let server = serve_fixture().await;
    let repo = load(&server).await.unwrap();
    assert_eq!(root_version(&repo), 2);
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
    assert_eq!(root_version(&repo), 2);
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
    let error = load(&server).await.unwrap_err();
    assert_eq!(
        error.failure(),
        TufFailure::Network(NetFailure::ServerError),
        "a failing N+1 root probe must not look like 'no newer root': {error}"
    );
    assert_eq!(count(&server, "/3.root.json"), settings().tries as usize);
    assert_eq!(count(&server, "/timestamp.json"), 0);
}
