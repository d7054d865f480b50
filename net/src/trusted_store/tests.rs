//! Tests of [`super::TrustedStore`] loads against the `testdata/` repository over `file://`:
//! what a second, unchanged check writes (nothing), what a changed timestamp writes (its exact
//! bytes), that the stored copies are version floors across handles, and that the legacy
//! datastore folder goes.
//!
//! `testdata/repo/` was made with `tufd-repo init --app-name demo` followed by
//! `tufd-repo sign {root,targets,snapshot,timestamp} --expires-in 36500` (so it expires in
//! 2126): `2.root.json`, `2.targets.json`, `3.snapshot.json` and timestamp version 4;
//! `testdata/timestamp-v5.json` is the next `tufd-repo sign timestamp` (same snapshot).

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use url::Url;

use super::*;
use crate::transport::{HttpClient, TransportSettings, TufTransport};

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src/trusted_store/testdata")
}

/// A copy of the fixture repository (the "server") and an empty store folder.
struct Fixture {
    _tmp: tempfile::TempDir,
    remote: PathBuf,
    store: TrustedStore,
}

impl Fixture {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let remote = tmp.path().join("remote");
        std::fs::create_dir(&remote).unwrap();
        for entry in std::fs::read_dir(testdata().join("repo")).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), remote.join(entry.file_name())).unwrap();
        }
        let store = TrustedStore::new(tmp.path().join("store"));
        Self {
            _tmp: tmp,
            remote,
            store,
        }
    }

    fn request(&self) -> LoadRequest {
        let settings = TransportSettings::default();
        let client = HttpClient::with_env(&settings, |_| None).unwrap();
        let url = Url::from_directory_path(&self.remote).unwrap();
        LoadRequest {
            metadata_url: url.clone(),
            targets_url: url,
            transport: TufTransport::new(client, settings),
            shipped_root: Some(self.remote.join("2.root.json")),
            limits: None,
        }
    }

    async fn load(&self) -> Result<LoadedRepository, TrustedStoreError> {
        self.store.load(self.request()).await
    }

    fn remote(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.remote.join(name)).unwrap()
    }

    fn stored(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.store.dir().join(name)).unwrap()
    }
}

/// (inode, mtime in ns) of `path`: a file rewritten through a temp file and rename gets a new
/// inode, one rewritten in place a new mtime.
fn identity(path: &Path) -> (u64, i64) {
    let meta = std::fs::metadata(path).unwrap();
    (meta.ino(), meta.mtime() * 1_000_000_000 + meta.mtime_nsec())
}

const ROLES: [&str; 4] = [
    "root.json",
    "timestamp.json",
    "snapshot.json",
    "targets.json",
];

fn timestamp_version(loaded: &LoadedRepository) -> u64 {
    loaded.trusted().timestamp().unwrap().version
}

#[tokio::test]
async fn first_load_persists_the_exact_bytes_received() {
    let f = Fixture::new();
    let loaded = f.load().await.unwrap();
    assert_eq!(timestamp_version(&loaded), 4);
    assert_eq!(f.stored("root.json"), f.remote("2.root.json"));
    assert_eq!(f.stored("timestamp.json"), f.remote("timestamp.json"));
    assert_eq!(f.stored("snapshot.json"), f.remote("3.snapshot.json"));
    assert_eq!(f.stored("targets.json"), f.remote("2.targets.json"));
}

#[tokio::test]
async fn an_unchanged_repository_rewrites_no_file_of_the_store() {
    let f = Fixture::new();
    f.load().await.unwrap();
    let before: Vec<_> = ROLES
        .iter()
        .map(|n| identity(&f.store.dir().join(n)))
        .collect();
    for _ in 0..2 {
        let loaded = f.load().await.unwrap();
        assert_eq!(timestamp_version(&loaded), 4);
    }
    let after: Vec<_> = ROLES
        .iter()
        .map(|n| identity(&f.store.dir().join(n)))
        .collect();
    assert_eq!(before, after, "store files were rewritten");
    // Only the store's files and no leftover temp files.
    let mut names: Vec<_> = std::fs::read_dir(f.store.dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "root.json",
            "snapshot.json",
            "targets.json",
            "timestamp.json",
        ]
    );
}

#[tokio::test]
async fn a_new_timestamp_is_persisted_and_its_rollback_refused() {
    let f = Fixture::new();
    f.load().await.unwrap();
    let v4 = f.remote("timestamp.json");
    let v5 = std::fs::read(testdata().join("timestamp-v5.json")).unwrap();
    std::fs::write(f.remote.join("timestamp.json"), &v5).unwrap();
    let loaded = f.load().await.unwrap();
    assert_eq!(timestamp_version(&loaded), 5);
    assert_eq!(
        f.stored("timestamp.json"),
        v5,
        "not the exact bytes received"
    );

    // The server goes back to version 4: refused, by this handle and by a fresh one (the
    // floor comes from the store on disk, not from memory).
    std::fs::write(f.remote.join("timestamp.json"), &v4).unwrap();
    for store in [f.store.clone(), TrustedStore::new(f.store.dir())] {
        let err = store.load(f.request()).await.unwrap_err();
        assert_eq!(err.failure(), TufFailure::Rollback, "{err}");
        assert_eq!(f.stored("timestamp.json"), v5);
    }
}

#[tokio::test]
async fn a_failed_load_keeps_the_exact_baseline_bytes() {
    let f = Fixture::new();
    f.load().await.unwrap();
    let trusted = f.stored("timestamp.json");
    let identity_before = identity(&f.store.dir().join("timestamp.json"));
    // A timestamp whose signature no longer matches its content.
    let forged = String::from_utf8(f.remote("timestamp.json"))
        .unwrap()
        .replace("\"version\": 4", "\"version\": 9");
    std::fs::write(f.remote.join("timestamp.json"), forged).unwrap();
    assert_eq!(f.load().await.unwrap_err().failure(), TufFailure::Invalid);
    // The store keeps the bytes it received.
    assert_eq!(f.stored("timestamp.json"), trusted);
    assert_eq!(
        identity(&f.store.dir().join("timestamp.json")),
        identity_before
    );
}

#[tokio::test]
async fn an_unchanged_repository_reads_only_the_root_probe_and_the_timestamp() {
    let f = Fixture::new();
    f.load().await.unwrap();
    let snapshot = f.stored("snapshot.json");
    // The remote snapshot and targets go: a second check must not need them.
    std::fs::remove_file(f.remote.join("3.snapshot.json")).unwrap();
    std::fs::remove_file(f.remote.join("2.targets.json")).unwrap();
    let loaded = f.load().await.unwrap();
    assert_eq!(timestamp_version(&loaded), 4);
    assert_eq!(f.stored("snapshot.json"), snapshot);
}

#[tokio::test]
async fn the_legacy_datastore_folder_is_removed() {
    let f = Fixture::new();
    let legacy = f.store.dir().join("tough-datastore");
    std::fs::create_dir_all(&legacy).unwrap();
    std::fs::write(legacy.join("timestamp.json"), "{}").unwrap();
    f.load().await.unwrap();
    assert!(!legacy.exists());
}

#[tokio::test]
async fn a_store_timestamp_newer_than_the_remote_is_a_rollback() {
    let f = Fixture::new();
    f.load().await.unwrap();
    let v5 = std::fs::read(testdata().join("timestamp-v5.json")).unwrap();
    // Version 5 put into the store directly (as by an earlier run); the server still has 4.
    std::fs::write(f.store.dir().join("timestamp.json"), &v5).unwrap();
    let err = f.load().await.unwrap_err();
    assert_eq!(err.failure(), TufFailure::Rollback, "{err}");
    assert_eq!(f.stored("timestamp.json"), v5);
}

#[tokio::test]
async fn an_oversized_timestamp_is_too_large_not_network() {
    let f = Fixture::new();
    let mut request = f.request();
    let mut limits = UpdaterConfig::default();
    limits.timestamp_max_length = 100;
    request.limits = Some(limits);
    let err = f.store.load(request).await.unwrap_err();
    assert_eq!(err.failure(), TufFailure::TooLarge, "{err}");
    assert!(err.url().is_some_and(|u| u.ends_with("/timestamp.json")));
    assert!(!f.store.dir().join("timestamp.json").exists());
}

#[tokio::test]
async fn an_unreachable_repository_is_unreachable() {
    let f = Fixture::new();
    let mut request = f.request();
    request.metadata_url = Url::parse("http://127.0.0.1:9/").unwrap();
    let err = f.store.load(request).await.unwrap_err();
    assert_eq!(
        err.failure(),
        TufFailure::Network(NetFailure::Unreachable),
        "{err}"
    );
}

/// `root` (JSON) with the root role's key listed a second time under the id `"twin"`, at
/// version `version` (the signatures no longer match: the refusal must come first).
fn root_with_twin_key(root: &[u8], version: u64) -> Vec<u8> {
    let mut root: serde_json::Value = serde_json::from_slice(root).unwrap();
    let signed = &mut root["signed"];
    let id = signed["roles"]["root"]["keyids"][0]
        .as_str()
        .unwrap()
        .to_owned();
    let key = signed["keys"][&id].clone();
    signed["keys"]["twin"] = key;
    signed["roles"]["root"]["keyids"] = serde_json::json!([id, "twin"]);
    signed["roles"]["root"]["threshold"] = 2.into();
    signed["version"] = version.into();
    serde_json::to_vec(&root).unwrap()
}

#[tokio::test]
async fn a_shipped_root_listing_one_key_twice_is_refused_and_nothing_stored() {
    let f = Fixture::new();
    let twin = root_with_twin_key(&f.remote("2.root.json"), 2);
    std::fs::write(f.remote.join("2.root.json"), twin).unwrap();
    let err = f.load().await.unwrap_err();
    assert!(
        matches!(&err, TrustedStoreError::KeyReuse(r) if r.role == "root"),
        "{err:?}"
    );
    assert_eq!(err.failure(), TufFailure::Invalid);
    assert!(!f.store.dir().join("root.json").exists());
}

#[tokio::test]
async fn a_new_root_listing_one_key_twice_is_refused_before_it_is_trusted() {
    let f = Fixture::new();
    f.load().await.unwrap();
    let trusted = f.stored("root.json");
    let twin = root_with_twin_key(&trusted, 3);
    std::fs::write(f.remote.join("3.root.json"), twin).unwrap();
    let err = f.load().await.unwrap_err();
    assert!(
        matches!(&err, TrustedStoreError::KeyReuse(r) if r.metadata == "3.root.json"),
        "{err:?}"
    );
    assert_eq!(err.failure(), TufFailure::Invalid);
    assert_eq!(f.stored("root.json"), trusted);
    assert!(!f.store.dir().join("root_history").exists());
}
