//! Fuzzes `extract_tar` (safe extraction: docs/architecture.md, "Design rules") with arbitrary
//! bytes, into a fresh staging folder inside a temp dir holding a sentinel file. Besides "never
//! panics": nothing appears or changes beside staging, a refused tar leaves no staging folder, and
//! every symlink an accepted tar created resolves inside staging.
//! Limits are small (1 MiB of content, 256 entries) so runs stay fast, and the temp dir is on
//! `/dev/shm` where it exists (extraction fsyncs every file; tmpfs makes that free).

#![no_main]

use std::fs;
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use tufd_core::archive::{ExtractLimits, extract_tar};

const LIMITS: ExtractLimits = ExtractLimits {
    max_total_bytes: 1 << 20,
    max_entries: 256,
    max_path_bytes: 4096,
    windows_names: true,
};

fuzz_target!(|data: &[u8]| {
    let shm = Path::new("/dev/shm");
    let tmp = if shm.is_dir() {
        tempfile::tempdir_in(shm).unwrap()
    } else {
        tempfile::tempdir().unwrap()
    };
    let sentinel = tmp.path().join("sentinel");
    fs::write(&sentinel, b"must stay").unwrap();
    let staging = tmp.path().join("staging");
    let result = extract_tar(&mut &data[..], &staging, &LIMITS);
    let mut beside: Vec<_> = fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    beside.sort();
    let expected: &[&str] = if result.is_ok() {
        &["sentinel", "staging"]
    } else {
        &["sentinel"]
    };
    assert_eq!(beside, expected, "{result:?}");
    assert_eq!(fs::read(&sentinel).unwrap(), b"must stay");
    assert!(fs::symlink_metadata(&sentinel).unwrap().is_file());
    if result.is_ok() {
        links_stay_inside(&staging);
    }
});

/// Asserts every symlink below `staging` that resolves at all resolves inside it.
fn links_stay_inside(staging: &Path) {
    let root = staging.canonicalize().unwrap();
    let mut todo = vec![staging.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for child in fs::read_dir(&dir).unwrap() {
            let path = child.unwrap().path();
            let meta = fs::symlink_metadata(&path).unwrap();
            if meta.file_type().is_symlink() {
                if let Ok(resolved) = path.canonicalize() {
                    assert!(resolved.starts_with(&root), "{path:?} -> {resolved:?}");
                }
            } else if meta.is_dir() {
                todo.push(path);
            }
        }
    }
}
