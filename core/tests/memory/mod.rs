//! Shared by the bounded-memory tests of patch application (`patch_stream.rs`,
//! `patch_stream_bsdiff_lzma.rs`): a 64 MiB base written chunk by chunk, and this process's
//! resident set (Linux).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

/// Bytes of one chunk of the base (1 MiB).
pub const CHUNK_BYTES: usize = 1 << 20;
/// Chunks in the base: 64 MiB.
pub const CHUNKS: usize = 64;

/// Chunk `index` of the base: deterministic bytes, regenerated on demand.
pub fn chunk(index: usize) -> Vec<u8> {
    tufd_testkit::rng::bytes(CHUNK_BYTES, index as u64 + 1)
}

/// Writes the base ([`CHUNKS`] chunks) to `path`, one chunk in memory at a time.
pub fn write_base(path: &Path) {
    let mut base = BufWriter::new(File::create(path).unwrap());
    for i in 0..CHUNKS {
        base.write_all(&chunk(i)).unwrap();
    }
    base.into_inner().unwrap().sync_all().unwrap();
}

/// A field of `/proc/self/status` in bytes: `"VmRSS:"` (resident now), `"VmHWM:"` (peak).
pub fn status_bytes(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}
