//! Integration tests of `tufd_net::transport::TufTransport` (the transport rules of the
//! `tufd_net::transport` module documentation) against the in-process fault-injecting server
//! (`support/`): errors inside the stream, retries, resumed bodies, `file://`, loopback never
//! proxied, trusted local copies.

mod support;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt as _;
use tough::{Transport, TransportErrorKind};
use tufd_net::transport::{HttpClient, LocalCopies, TransportSettings, TufTransport};
use url::Url;

use support::{Fault, TestServer, content};

fn settings() -> TransportSettings {
    TransportSettings {
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_millis(500),
        tries: 3,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
    }
}

fn transport() -> TufTransport {
    let client = HttpClient::with_env(&settings(), |_| None).unwrap();
    TufTransport::new(client, settings())
}

/// Fetches `url` (which must succeed as a call: rule 2) and collects the stream: the bytes
/// received before the first error, and that error's kind.
async fn collect(t: &TufTransport, url: Url) -> (Vec<u8>, Option<TransportErrorKind>) {
    let mut stream = t
        .fetch(url)
        .await
        .expect("fetch itself must never fail (transport rule 2, tufd_net::transport)");
    let mut bytes = Vec::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(chunk) => bytes.extend_from_slice(&chunk),
            Err(e) => return (bytes, Some(e.kind())),
        }
    }
    (bytes, None)
}

const LEN: usize = 700_000;

async fn server_with_file() -> (TestServer, Vec<u8>) {
    let server = TestServer::start().await;
    let data = content(LEN);
    server.add_file("1.root.json", data.clone());
    (server, data)
}

#[tokio::test]
async fn fetches_a_whole_file() {
    let (server, data) = server_with_file().await;
    let (bytes, error) = collect(&transport(), server.url("1.root.json")).await;
    assert_eq!(error, None);
    assert_eq!(bytes, data);
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn not_found_statuses_are_file_not_found_inside_the_stream() {
    let (server, _) = server_with_file().await;
    let (bytes, error) = collect(&transport(), server.url("2.root.json")).await;
    assert!(bytes.is_empty());
    assert_eq!(error, Some(TransportErrorKind::FileNotFound));
    for status in [403, 410] {
        server.push_fault(Fault::Status(status));
        let (_, error) = collect(&transport(), server.url("1.root.json")).await;
        assert_eq!(error, Some(TransportErrorKind::FileNotFound), "{status}");
    }
    // Not-found answers are final: one request each.
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn a_server_error_then_success_is_retried() {
    let (server, data) = server_with_file().await;
    server.push_fault(Fault::Status(500));
    let (bytes, error) = collect(&transport(), server.url("1.root.json")).await;
    assert_eq!(error, None);
    assert_eq!(bytes, data);
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn persistent_server_errors_end_in_an_error_not_file_not_found() {
    let (server, _) = server_with_file().await;
    for _ in 0..settings().tries {
        server.push_fault(Fault::Status(503));
    }
    let (bytes, error) = collect(&transport(), server.url("1.root.json")).await;
    assert!(bytes.is_empty());
    assert_eq!(error, Some(TransportErrorKind::Other));
    assert_eq!(server.requests().len(), settings().tries as usize);
}

#[tokio::test]
async fn a_refused_connection_is_an_error_in_the_stream() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = Url::parse(&format!("http://127.0.0.1:{port}/1.root.json")).unwrap();
    let (_, error) = collect(&transport(), url).await;
    assert_eq!(error, Some(TransportErrorKind::Other));
}

#[tokio::test]
async fn a_dropped_body_without_range_support_is_an_error_in_the_stream() {
    let (server, data) = server_with_file().await;
    server.disable_ranges();
    server.push_fault(Fault::DropAfter(300_000));
    let (bytes, error) = collect(&transport(), server.url("1.root.json")).await;
    assert_eq!(error, Some(TransportErrorKind::Other));
    assert!(bytes.len() <= 300_000);
    assert_eq!(bytes, data[..bytes.len()]);
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn a_dropped_body_resumes_with_range_when_supported() {
    let (server, data) = server_with_file().await;
    server.push_fault(Fault::DropAfter(300_000));
    let (bytes, error) = collect(&transport(), server.url("1.root.json")).await;
    assert_eq!(error, None);
    assert_eq!(bytes, data);
    let ranges: Vec<_> = server.requests().into_iter().map(|r| r.range).collect();
    assert_eq!(ranges, vec![None, Some("bytes=300000-".to_owned())]);
}

#[tokio::test]
async fn a_resume_answered_with_200_is_an_error_not_a_splice() {
    let (server, data) = server_with_file().await;
    server.push_fault(Fault::DropAfter(300_000));
    server.push_fault(Fault::IgnoreRange);
    let (bytes, error) = collect(&transport(), server.url("1.root.json")).await;
    assert_eq!(error, Some(TransportErrorKind::Other));
    assert_eq!(
        bytes,
        data[..bytes.len()],
        "bytes after the break were spliced"
    );
}

#[tokio::test]
async fn file_urls_are_read_and_missing_files_are_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let data = content(200_000);
    let path = dir.path().join("timestamp.json");
    std::fs::write(&path, &data).unwrap();
    let (bytes, error) = collect(&transport(), Url::from_file_path(&path).unwrap()).await;
    assert_eq!(error, None);
    assert_eq!(bytes, data);

    let missing = Url::from_file_path(dir.path().join("2.root.json")).unwrap();
    let (bytes, error) = collect(&transport(), missing).await;
    assert!(bytes.is_empty());
    assert_eq!(error, Some(TransportErrorKind::FileNotFound));
}

#[tokio::test]
async fn other_schemes_are_unsupported_inside_the_stream() {
    let url = Url::parse("ftp://127.0.0.1/1.root.json").unwrap();
    let (_, error) = collect(&transport(), url).await;
    assert_eq!(error, Some(TransportErrorKind::UnsupportedUrlScheme));
}

#[tokio::test]
async fn loopback_is_never_proxied() {
    let (server, data) = server_with_file().await;
    // A proxy nobody listens on: any request sent through it would fail.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let proxy = format!("http://{dead}");
    let env = move |name: &str| match name {
        "HTTP_PROXY" | "HTTPS_PROXY" | "ALL_PROXY" => Some(proxy.clone()),
        _ => None,
    };
    let client = HttpClient::with_env(&settings(), env).unwrap();
    let t = TufTransport::new(client, settings());
    let (bytes, error) = collect(&t, server.url("1.root.json")).await;
    assert_eq!(error, None);
    assert_eq!(bytes, data);
}

#[tokio::test]
async fn an_invalid_proxy_variable_is_refused() {
    let env = |name: &str| (name == "HTTPS_PROXY").then(|| "http://[::1".to_owned());
    assert!(HttpClient::with_env(&settings(), env).is_err());
}

#[derive(Debug)]
struct OneCopy {
    url: Url,
    path: PathBuf,
}

impl LocalCopies for OneCopy {
    fn local_copy(&self, url: &Url) -> Option<PathBuf> {
        (url == &self.url).then(|| self.path.clone())
    }
}

#[tokio::test]
async fn trusted_local_copies_are_served_without_network() {
    let (server, _) = server_with_file().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("timestamp.json");
    std::fs::write(&path, b"trusted copy").unwrap();
    let url = server.url("1.root.json");
    let t = transport().with_local_copies(Arc::new(OneCopy {
        url: url.clone(),
        path: path.clone(),
    }));
    let (bytes, error) = collect(&t, url.clone()).await;
    assert_eq!(error, None);
    assert_eq!(Bytes::from(bytes), Bytes::from_static(b"trusted copy"));
    assert!(server.requests().is_empty());

    // A copy that no longer exists falls back to the network.
    std::fs::remove_file(&path).unwrap();
    let (bytes, error) = collect(&t, url).await;
    assert_eq!(error, None);
    assert_eq!(bytes.len(), LEN);
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn dropping_the_stream_early_stops_the_fetch() {
    let (server, _) = server_with_file().await;
    server.push_fault(Fault::StallAfter(1000, Duration::from_secs(30)));
    let t = transport();
    let mut stream = t.fetch(server.url("1.root.json")).await.unwrap();
    let first = stream.next().await.unwrap().unwrap();
    assert!(!first.is_empty());
    drop(stream);
    // A producer left running would hit the 500 ms idle timeout and resume with a second,
    // ranged request; the dropped stream must have cancelled it instead.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(server.requests().len(), 1);
}
