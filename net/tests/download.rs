//! Integration tests of `tufd_net::download` against the in-process fault-injecting server
//! (`support/`): full and resumed downloads, broken connections, servers that ignore or botch
//! `Range`, more bytes than signed, wrong bytes, cancellation, `file://` sources.

mod support;

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tufd_core::Sha256;
use tufd_net::download::{DownloadError, DownloadRequest, Sha512, download, part::PartRecord};
use tufd_net::transport::{HttpClient, TransportSettings};

use support::{Fault, TestServer, content};

const LEN: usize = 3 * 1024 * 1024 + 123;
const CHUNK: u64 = 256 * 1024;

fn settings() -> TransportSettings {
    support::fast_settings(4)
}

fn client() -> HttpClient {
    HttpClient::with_env(&settings(), |_| None).unwrap()
}

struct Fixture {
    server: TestServer,
    data: Vec<u8>,
    dir: tempfile::TempDir,
}

impl Fixture {
    async fn new() -> Self {
        let server = TestServer::start().await;
        let data = content(LEN);
        server.add_file("app-2.0.tar.gz", data.clone());
        Self {
            server,
            data,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn request(&self) -> DownloadRequest {
        DownloadRequest {
            url: self.server.url("app-2.0.tar.gz"),
            dir: self.dir.path().join("downloads"),
            file_name: "app-2.0.tar.gz".to_owned(),
            length: self.data.len() as u64,
            digest: Sha256::digest(&self.data).into(),
            chunk_bytes: CHUNK,
            checkpoint_interval: tufd_net::download::DEFAULT_CHECKPOINT_INTERVAL,
        }
    }

    /// Leaves a `.part` holding `bytes` and a record claiming `offset`, as a crash would.
    fn leave_part(&self, req: &DownloadRequest, bytes: &[u8], offset: u64) {
        std::fs::create_dir_all(&req.dir).unwrap();
        std::fs::write(req.part_path(), bytes).unwrap();
        let record = PartRecord::new(req, offset);
        std::fs::write(req.record_path(), serde_json::to_vec(&record).unwrap()).unwrap();
    }
}

/// Runs a download, recording every progress call.
async fn run(
    client: &HttpClient,
    req: &DownloadRequest,
    cancel: &CancellationToken,
) -> (Result<std::path::PathBuf, DownloadError>, Vec<(u64, u64)>) {
    let calls = Mutex::new(Vec::new());
    let progress = |done, total| calls.lock().unwrap().push((done, total));
    let result = download(client, req, &progress, cancel).await;
    (result, calls.into_inner().unwrap())
}

fn assert_finished(req: &DownloadRequest, data: &[u8]) {
    assert_eq!(std::fs::read(req.final_path()).unwrap(), data);
    assert!(!req.part_path().exists(), "part file left behind");
    assert!(!req.record_path().exists(), "part record left behind");
}

fn assert_nothing_kept(req: &DownloadRequest) {
    assert!(!req.final_path().exists(), "unverified final file");
    assert!(!req.part_path().exists(), "refused part kept");
    assert!(!req.record_path().exists(), "refused record kept");
}

fn ranges(server: &TestServer) -> Vec<Option<String>> {
    server.requests().into_iter().map(|r| r.range).collect()
}

fn last_byte(len: usize) -> usize {
    len - 1
}

#[tokio::test]
async fn full_download_in_one_request() {
    let f = Fixture::new().await;
    let req = f.request();
    let (result, calls) = run(&client(), &req, &CancellationToken::new()).await;
    assert_eq!(result.unwrap(), req.final_path());
    assert_finished(&req, &f.data);
    assert_eq!(ranges(&f.server), vec![None]);
    assert_eq!(calls.first(), Some(&(0, LEN as u64)));
    assert_eq!(calls.last(), Some(&(LEN as u64, LEN as u64)));
    assert!(
        calls.windows(2).all(|w| w[0].0 <= w[1].0),
        "progress went back"
    );
}

#[tokio::test]
async fn finished_file_is_returned_without_network() {
    let f = Fixture::new().await;
    let req = f.request();
    run(&client(), &req, &CancellationToken::new())
        .await
        .0
        .unwrap();
    let (result, _) = run(&client(), &req, &CancellationToken::new()).await;
    assert_eq!(result.unwrap(), req.final_path());
    assert_eq!(f.server.requests().len(), 1);
}

#[tokio::test]
async fn a_wrong_finished_file_is_replaced() {
    let f = Fixture::new().await;
    let req = f.request();
    std::fs::create_dir_all(&req.dir).unwrap();
    let mut wrong = f.data.clone();
    wrong[10] ^= 1;
    std::fs::write(req.final_path(), &wrong).unwrap();
    run(&client(), &req, &CancellationToken::new())
        .await
        .0
        .unwrap();
    assert_finished(&req, &f.data);
    assert_eq!(f.server.requests().len(), 1);
}

#[tokio::test]
async fn resumes_after_a_crash_from_the_end_of_the_part() {
    let f = Fixture::new().await;
    let req = f.request();
    // A process crash keeps what reached the page cache past the last checkpoint.
    let (recorded, on_disk) = (1_000_000usize, 1_500_000usize);
    f.leave_part(&req, &f.data[..on_disk], recorded as u64);
    let (result, calls) = run(&client(), &req, &CancellationToken::new()).await;
    result.unwrap();
    assert_finished(&req, &f.data);
    assert_eq!(
        ranges(&f.server),
        vec![Some(format!("bytes={on_disk}-{}", last_byte(LEN)))]
    );
    assert_eq!(calls.first(), Some(&(on_disk as u64, LEN as u64)));
}

#[tokio::test]
async fn a_wrong_tail_past_the_record_falls_back_to_the_record() {
    let f = Fixture::new().await;
    let req = f.request();
    let offset = 1_000_000usize;
    // Bytes past the recorded offset that a power loss left wrong.
    let mut on_disk = f.data[..offset].to_vec();
    on_disk.extend_from_slice(b"garbage that was never checkpointed");
    f.leave_part(&req, &on_disk, offset as u64);
    let (result, calls) = run(&client(), &req, &CancellationToken::new()).await;
    result.unwrap();
    assert_finished(&req, &f.data);
    assert_eq!(
        ranges(&f.server),
        vec![
            Some(format!("bytes={}-{}", on_disk.len(), last_byte(LEN))),
            Some(format!("bytes={offset}-{}", last_byte(LEN))),
        ]
    );
    assert!(
        calls.contains(&(offset as u64, LEN as u64)),
        "progress never went back to the record: {calls:?}"
    );
}

#[tokio::test]
async fn a_complete_part_is_verified_without_network() {
    let f = Fixture::new().await;
    let req = f.request();
    f.leave_part(&req, &f.data, LEN as u64);
    run(&client(), &req, &CancellationToken::new())
        .await
        .0
        .unwrap();
    assert_finished(&req, &f.data);
    assert!(f.server.requests().is_empty());
}

#[tokio::test]
async fn a_complete_but_wrong_part_is_a_hash_mismatch() {
    let f = Fixture::new().await;
    let req = f.request();
    f.leave_part(&req, &vec![7u8; LEN], LEN as u64);
    let (result, _) = run(&client(), &req, &CancellationToken::new()).await;
    assert!(
        matches!(result, Err(DownloadError::HashMismatch { .. })),
        "{result:?}"
    );
    assert_nothing_kept(&req);
}

#[tokio::test]
async fn a_record_for_other_content_starts_from_zero() {
    let f = Fixture::new().await;
    let req = f.request();
    let mut other = req.clone();
    other.digest = Sha256::digest(b"another release").into();
    std::fs::create_dir_all(&req.dir).unwrap();
    std::fs::write(req.part_path(), vec![0u8; 500_000]).unwrap();
    let record = PartRecord::new(&other, 500_000);
    std::fs::write(req.record_path(), serde_json::to_vec(&record).unwrap()).unwrap();
    run(&client(), &req, &CancellationToken::new())
        .await
        .0
        .unwrap();
    assert_finished(&req, &f.data);
    assert_eq!(ranges(&f.server), vec![None]);
}

#[tokio::test]
async fn a_dropped_connection_resumes_within_the_same_call() {
    let f = Fixture::new().await;
    let req = f.request();
    f.server.push_fault(Fault::DropAfter(1_200_000));
    run(&client(), &req, &CancellationToken::new())
        .await
        .0
        .unwrap();
    assert_finished(&req, &f.data);
    assert_eq!(
        ranges(&f.server),
        vec![None, Some(format!("bytes=1200000-{}", last_byte(LEN)))]
    );
}

#[tokio::test]
async fn an_idle_stall_times_out_and_resumes() {
    let f = Fixture::new().await;
    let req = f.request();
    f.server
        .push_fault(Fault::StallAfter(700_000, Duration::from_secs(5)));
    let started = std::time::Instant::now();
    run(&client(), &req, &CancellationToken::new())
        .await
        .0
        .unwrap();
    assert_finished(&req, &f.data);
    assert_eq!(
        ranges(&f.server),
        vec![None, Some(format!("bytes=700000-{}", last_byte(LEN)))]
    );
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the idle timeout did not fire"
    );
}

#[tokio::test]
async fn ok_instead_of_partial_restarts_from_zero() {
    let f = Fixture::new().await;
    let req = f.request();
    // A valid record over junk: trusting it would fail the hash; a 200 must replace it all.
    f.leave_part(&req, &vec![0xAA; 900_000], 900_000);
    f.server.push_fault(Fault::IgnoreRange);
    let (result, calls) = run(&client(), &req, &CancellationToken::new()).await;
    result.unwrap();
    assert_finished(&req, &f.data);
    assert_eq!(
        ranges(&f.server),
        vec![Some(format!("bytes=900000-{}", last_byte(LEN)))]
    );
    assert!(calls.contains(&(0, LEN as u64)), "progress not reset");
}

#[tokio::test]
async fn a_wrong_content_range_restarts_from_zero() {
    let f = Fixture::new().await;
    let req = f.request();
    f.leave_part(&req, &f.data[..800_000], 800_000);
    f.server.push_fault(Fault::WrongContentRange);
    run(&client(), &req, &CancellationToken::new())
        .await
        .0
        .unwrap();
    assert_finished(&req, &f.data);
    assert_eq!(
        ranges(&f.server),
        vec![Some(format!("bytes=800000-{}", last_byte(LEN))), None]
    );
}

#[tokio::test]
async fn endless_data_is_refused_at_the_signed_length() {
    let f = Fixture::new().await;
    let req = f.request();
    f.server.push_fault(Fault::Endless);
    let (result, calls) = run(&client(), &req, &CancellationToken::new()).await;
    match result {
        Err(DownloadError::LengthExceeded { limit, .. }) => assert_eq!(limit, LEN as u64),
        other => panic!("expected LengthExceeded, got {other:?}"),
    }
    assert_nothing_kept(&req);
    assert!(calls.iter().all(|(done, _)| *done <= LEN as u64));
    assert_eq!(
        f.server.requests().len(),
        1,
        "a refusal must not be retried"
    );
}

#[tokio::test]
async fn an_announced_oversized_body_is_refused() {
    let f = Fixture::new().await;
    let req = f.request();
    f.server.push_fault(Fault::Extra(10));
    let (result, _) = run(&client(), &req, &CancellationToken::new()).await;
    assert!(
        matches!(result, Err(DownloadError::LengthExceeded { .. })),
        "{result:?}"
    );
    assert_nothing_kept(&req);
}

#[tokio::test]
async fn wrong_bytes_are_a_hash_mismatch() {
    let f = Fixture::new().await;
    let req = f.request();
    f.server.push_fault(Fault::Corrupt);
    let (result, _) = run(&client(), &req, &CancellationToken::new()).await;
    match result {
        Err(DownloadError::HashMismatch {
            expected, actual, ..
        }) => {
            assert_eq!(expected, req.digest);
            assert_ne!(actual, req.digest);
        }
        other => panic!("expected HashMismatch, got {other:?}"),
    }
    assert_nothing_kept(&req);
}

#[tokio::test]
async fn cancel_keeps_a_consistent_part_and_a_later_call_resumes() {
    let f = Fixture::new().await;
    let req = f.request();
    // The server sends 1.5 MB and stalls, so the cancel lands mid-body.
    f.server
        .push_fault(Fault::StallAfter(1_500_000, Duration::from_secs(5)));
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    let progress = move |done: u64, _total: u64| {
        if done >= 1_000_000 {
            trigger.cancel();
        }
    };
    let result = download(&client(), &req, &progress, &cancel).await;
    assert!(
        matches!(result, Err(DownloadError::Cancelled)),
        "{result:?}"
    );
    assert!(!req.final_path().exists());
    let record: PartRecord =
        serde_json::from_slice(&std::fs::read(req.record_path()).unwrap()).unwrap();
    let on_disk = std::fs::read(req.part_path()).unwrap();
    assert!(record.offset >= 1_000_000, "offset {}", record.offset);
    assert!(record.offset <= on_disk.len() as u64);
    assert_eq!(
        &on_disk[..record.offset as usize],
        &f.data[..record.offset as usize]
    );

    run(&client(), &req, &CancellationToken::new())
        .await
        .0
        .unwrap();
    assert_finished(&req, &f.data);
    let seen = ranges(&f.server);
    assert_eq!(seen.len(), 2);
    assert_eq!(
        seen[1],
        Some(format!("bytes={}-{}", record.offset, last_byte(LEN)))
    );
}

#[tokio::test]
async fn a_cancelled_token_does_nothing() {
    let f = Fixture::new().await;
    let req = f.request();
    let cancel = CancellationToken::new();
    cancel.cancel();
    let (result, _) = run(&client(), &req, &cancel).await;
    assert!(matches!(result, Err(DownloadError::Cancelled)));
    assert!(f.server.requests().is_empty());
}

#[tokio::test]
async fn not_found_is_an_http_error_without_retries() {
    let f = Fixture::new().await;
    let mut req = f.request();
    req.url = f.server.url("missing.tar.gz");
    let (result, _) = run(&client(), &req, &CancellationToken::new()).await;
    assert!(
        matches!(result, Err(DownloadError::Http { status: 404, .. })),
        "{result:?}"
    );
    assert_eq!(f.server.requests().len(), 1);
}

#[tokio::test]
async fn server_errors_are_retried_then_reported() {
    let f = Fixture::new().await;
    let req = f.request();
    f.server.push_fault(Fault::Status(503));
    run(&client(), &req, &CancellationToken::new())
        .await
        .0
        .unwrap();
    assert_finished(&req, &f.data);
    assert_eq!(f.server.requests().len(), 2);

    let g = Fixture::new().await;
    let req = g.request();
    for _ in 0..settings().tries {
        g.server.push_fault(Fault::Status(500));
    }
    let (result, _) = run(&client(), &req, &CancellationToken::new()).await;
    assert!(
        matches!(result, Err(DownloadError::Http { status: 500, .. })),
        "{result:?}"
    );
    assert_eq!(g.server.requests().len(), settings().tries as usize);
}

#[tokio::test]
async fn repeated_drops_without_progress_give_up_with_network() {
    let f = Fixture::new().await;
    let req = f.request();
    for _ in 0..settings().tries {
        f.server.push_fault(Fault::DropAfter(0));
    }
    let (result, _) = run(&client(), &req, &CancellationToken::new()).await;
    assert!(
        matches!(result, Err(DownloadError::Network { .. })),
        "{result:?}"
    );
    assert_eq!(f.server.requests().len(), settings().tries as usize);
    assert!(!req.final_path().exists());
}

#[tokio::test]
async fn connection_refused_is_a_network_error() {
    let f = Fixture::new().await;
    let mut req = f.request();
    // Bind and drop a listener to get a port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    req.url = format!("http://127.0.0.1:{port}/x").parse().unwrap();
    let (result, _) = run(&client(), &req, &CancellationToken::new()).await;
    assert!(
        matches!(result, Err(DownloadError::Network { .. })),
        "{result:?}"
    );
}

#[tokio::test]
async fn file_urls_are_copied_and_verified() {
    let f = Fixture::new().await;
    let source_dir = tempfile::tempdir().unwrap();
    let source = source_dir.path().join("app-2.0.tar.gz");
    std::fs::write(&source, &f.data).unwrap();
    let mut req = f.request();
    req.url = url::Url::from_file_path(&source).unwrap();
    run(&client(), &req, &CancellationToken::new())
        .await
        .0
        .unwrap();
    assert_finished(&req, &f.data);

    // A source that differs from what is signed: nothing kept.
    std::fs::remove_file(req.final_path()).unwrap();
    let mut bad = f.data.clone();
    bad[LEN / 2] ^= 1;
    std::fs::write(&source, &bad).unwrap();
    let (result, _) = run(&client(), &req, &CancellationToken::new()).await;
    assert!(
        matches!(result, Err(DownloadError::HashMismatch { .. })),
        "{result:?}"
    );
    assert_nothing_kept(&req);

    // A longer source: refused at the signed length.
    let mut long = f.data.clone();
    long.push(0);
    std::fs::write(&source, &long).unwrap();
    let (result, _) = run(&client(), &req, &CancellationToken::new()).await;
    assert!(
        matches!(result, Err(DownloadError::LengthExceeded { .. })),
        "{result:?}"
    );
    assert_nothing_kept(&req);
}

#[tokio::test]
async fn file_urls_resume_from_the_record() {
    let f = Fixture::new().await;
    let source_dir = tempfile::tempdir().unwrap();
    let source = source_dir.path().join("app-2.0.tar.gz");
    std::fs::write(&source, &f.data).unwrap();
    let mut req = f.request();
    req.url = url::Url::from_file_path(&source).unwrap();
    f.leave_part(&req, &f.data[..2_000_000], 2_000_000);
    let (result, calls) = run(&client(), &req, &CancellationToken::new()).await;
    result.unwrap();
    assert_finished(&req, &f.data);
    assert_eq!(calls.first(), Some(&(2_000_000, LEN as u64)));
}

#[tokio::test]
async fn unsafe_file_names_are_refused() {
    let f = Fixture::new().await;
    for name in ["", ".", "..", "../escape", "a/b", "a\\b"] {
        let mut req = f.request();
        req.file_name = name.to_owned();
        let (result, _) = run(&client(), &req, &CancellationToken::new()).await;
        assert!(
            matches!(result, Err(DownloadError::InvalidFileName { .. })),
            "{name:?}: {result:?}"
        );
    }
    assert!(f.server.requests().is_empty());
    assert!(!Path::new(&f.dir.path().join("escape")).exists());
}

#[tokio::test]
async fn an_empty_target_needs_no_bytes() {
    let f = Fixture::new().await;
    f.server.add_file("empty", Vec::new());
    let mut req = f.request();
    req.url = f.server.url("empty");
    req.file_name = "empty".to_owned();
    req.length = 0;
    req.digest = Sha256::digest(b"").into();
    run(&client(), &req, &CancellationToken::new())
        .await
        .0
        .unwrap();
    assert_finished(&req, b"");
}

#[tokio::test]
async fn a_sha512_only_target_is_verified_and_resumed_with_sha512() {
    let f = Fixture::new().await;
    let mut req = f.request();
    req.digest = Sha512::digest(&f.data).into();
    f.server.push_fault(Fault::DropAfter(300_000));
    run(&client(), &req, &CancellationToken::new())
        .await
        .0
        .unwrap();
    assert_finished(&req, &f.data);

    // The wrong sha512: refused, nothing kept.
    let mut wrong = f.request();
    wrong.file_name = "other.tar.gz".to_owned();
    wrong.digest = Sha512::digest(b"another release").into();
    let (result, _) = run(&client(), &wrong, &CancellationToken::new()).await;
    assert!(
        matches!(result, Err(DownloadError::HashMismatch { .. })),
        "{result:?}"
    );
    assert!(!wrong.final_path().exists());
}
