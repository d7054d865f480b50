//! Integration tests of `tufd_net::transport::TufTransport` (the transport rules of the
//! `tufd_net::transport` module documentation) against the in-process fault-injecting server
//! (`support/`): "not found" as an answer, retries, resumed bodies, the maximum length,
//! `file://`, loopback never proxied.

mod support;

use std::time::Duration;

use tufd_net::transport::{FetchError, HttpClient, NetFailure, TransportSettings, TufTransport};
use url::Url;

use support::{Fault, TestServer, content};

fn settings() -> TransportSettings {
    support::fast_settings(3)
}

fn transport() -> TufTransport {
    let client = HttpClient::with_env(&settings(), |_| None).unwrap();
    TufTransport::new(client, settings())
}

/// The largest body any test fetches (bytes).
const LIMIT: u64 = 10 << 20;

async fn fetch(t: &TufTransport, url: Url) -> Result<Option<Vec<u8>>, FetchError> {
    t.fetch(&url, LIMIT).await
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
    let bytes = fetch(&transport(), server.url("1.root.json"))
        .await
        .unwrap();
    assert_eq!(bytes, Some(data));
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn not_found_statuses_are_an_answer() {
    let (server, _) = server_with_file().await;
    let bytes = fetch(&transport(), server.url("2.root.json"))
        .await
        .unwrap();
    assert_eq!(bytes, None);
    for status in [403, 410] {
        server.push_fault(Fault::Status(status));
        let bytes = fetch(&transport(), server.url("1.root.json"))
            .await
            .unwrap();
        assert_eq!(bytes, None, "{status}");
    }
    // Not-found answers are final: one request each.
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn a_server_error_then_success_is_retried() {
    let (server, data) = server_with_file().await;
    server.push_fault(Fault::Status(500));
    let bytes = fetch(&transport(), server.url("1.root.json"))
        .await
        .unwrap();
    assert_eq!(bytes, Some(data));
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn persistent_server_errors_end_in_an_error_not_not_found() {
    let (server, _) = server_with_file().await;
    for _ in 0..settings().tries {
        server.push_fault(Fault::Status(503));
    }
    let error = fetch(&transport(), server.url("1.root.json"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, FetchError::Status { status: 503, .. }),
        "{error}"
    );
    assert_eq!(error.net_failure(), Some(NetFailure::ServerError));
    assert_eq!(server.requests().len(), settings().tries as usize);
}

#[tokio::test]
async fn a_refused_connection_is_an_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = Url::parse(&format!("http://127.0.0.1:{port}/1.root.json")).unwrap();
    let error = fetch(&transport(), url).await.unwrap_err();
    assert!(matches!(error, FetchError::Request { .. }), "{error}");
    assert_eq!(error.net_failure(), Some(NetFailure::Unreachable));
}

#[tokio::test]
async fn a_server_that_never_answers_is_given_up_at_the_overall_deadline() {
    // Accepts connections and never answers; the idle timeout (10 s here) would let every
    // retry wait in turn, the overall deadline (1 s + 0 s for 1 byte) ends the fetch.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            open.push(stream);
        }
    });
    let settings = TransportSettings {
        read_timeout: Duration::from_secs(10),
        request_deadline: Duration::from_secs(1),
        ..settings()
    };
    let client = HttpClient::with_env(&settings, |_| None).unwrap();
    let t = TufTransport::new(client, settings);
    let url = Url::parse(&format!("http://127.0.0.1:{port}/timestamp.json")).unwrap();
    let started = std::time::Instant::now();
    let error = t.fetch(&url, 1).await.unwrap_err();
    assert!(matches!(error, FetchError::TimedOut { .. }), "{error}");
    assert_eq!(error.net_failure(), Some(NetFailure::TimedOut));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    held.abort();
}

#[tokio::test]
async fn a_dropped_body_without_range_support_is_an_error() {
    let (server, _) = server_with_file().await;
    server.disable_ranges();
    server.push_fault(Fault::DropAfter(300_000));
    let error = fetch(&transport(), server.url("1.root.json"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, FetchError::Body { offset, .. } if offset <= 300_000),
        "{error}"
    );
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn a_dropped_body_resumes_with_range_when_supported() {
    let (server, data) = server_with_file().await;
    server.push_fault(Fault::DropAfter(300_000));
    let bytes = fetch(&transport(), server.url("1.root.json"))
        .await
        .unwrap();
    assert_eq!(bytes, Some(data));
    let ranges: Vec<_> = server.requests().into_iter().map(|r| r.range).collect();
    assert_eq!(ranges, vec![None, Some("bytes=300000-".to_owned())]);
}

#[tokio::test]
async fn a_resume_answered_with_200_is_an_error_not_a_splice() {
    let (server, _) = server_with_file().await;
    server.push_fault(Fault::DropAfter(300_000));
    server.push_fault(Fault::IgnoreRange);
    let error = fetch(&transport(), server.url("1.root.json"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, FetchError::NoResume { status: 200, .. }),
        "{error}"
    );
}

#[tokio::test]
async fn file_urls_are_read_and_missing_files_are_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let data = content(200_000);
    let path = dir.path().join("timestamp.json");
    std::fs::write(&path, &data).unwrap();
    let url = Url::from_file_path(&path).unwrap();
    let bytes = fetch(&transport(), url.clone()).await.unwrap();
    assert_eq!(bytes, Some(data));
    // Exactly at the limit is fine; one byte less is too large.
    let t = transport();
    assert!(t.fetch(&url, 200_000).await.unwrap().is_some());
    let error = t.fetch(&url, 199_999).await.unwrap_err();
    assert!(
        matches!(error, FetchError::TooLarge { limit: 199_999, .. }),
        "{error}"
    );

    let missing = Url::from_file_path(dir.path().join("2.root.json")).unwrap();
    assert_eq!(fetch(&transport(), missing).await.unwrap(), None);
}

#[tokio::test]
async fn bodies_past_the_maximum_length_are_too_large() {
    let (server, _) = server_with_file().await;
    let t = transport();
    let url = server.url("1.root.json");
    assert!(t.fetch(&url, LEN as u64).await.unwrap().is_some());
    // Announced by Content-Length.
    let error = t.fetch(&url, LEN as u64 - 1).await.unwrap_err();
    assert!(matches!(error, FetchError::TooLarge { .. }), "{error}");
    assert_eq!(error.url(), &url);
    // Streamed without a length: cut off once past the limit.
    server.push_fault(Fault::Endless);
    let error = t.fetch(&url, 1_000_000).await.unwrap_err();
    assert!(matches!(error, FetchError::TooLarge { .. }), "{error}");
}

#[tokio::test]
async fn other_schemes_are_unsupported() {
    let url = Url::parse("ftp://127.0.0.1/1.root.json").unwrap();
    let error = fetch(&transport(), url).await.unwrap_err();
    assert!(matches!(error, FetchError::Unsupported { .. }), "{error}");
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
    let bytes = fetch(&t, server.url("1.root.json")).await.unwrap();
    assert_eq!(bytes, Some(data));
}

#[tokio::test]
async fn an_invalid_proxy_variable_is_refused() {
    let env = |name: &str| (name == "HTTPS_PROXY").then(|| "http://[::1".to_owned());
    assert!(HttpClient::with_env(&settings(), env).is_err());
}
