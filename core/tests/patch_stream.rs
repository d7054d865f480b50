//! Bounded memory of `tufd_core::patch::apply_verified_stream`: a `bidiff-zstd` patch over a 64 MiB
//! base file applies with a peak resident set far below the base size. Everything here is streamed
//! (base, patch and expected digest are generated chunk by chunk), and this file holds one test, so
//! the process's peak RSS (`VmHWM`, Linux) is the apply's.

use std::fs::File;
use std::io::BufWriter;

use sha2::Digest as _;
use tufd_core::Codec;
use tufd_core::custom::TarDigest;
use tufd_core::patch::apply_verified_stream;

#[cfg(target_os = "linux")]
mod memory;
#[cfg(target_os = "linux")]
use memory::{CHUNK_BYTES, CHUNKS, chunk, status_bytes, write_base};

#[cfg(target_os = "linux")]
#[test]
fn a_64_mib_base_applies_with_memory_far_below_its_size() {
    let dir = tempfile::tempdir().unwrap();
    let base_path = dir.path().join("base.tar");
    let patch_path = dir.path().join("patch");
    write_base(&base_path);

    // The new tar: chunks pairwise swapped (1, 0, 3, 2, ...), each with its first byte bumped
    // and five fresh bytes after it; bidiff records: add the chunk, copy the fresh bytes, seek
    // to the next chunk (back 2 MiB, or forward 2 MiB). Its digest is computed alongside.
    let mut expected = sha2::Sha256::new();
    let mut expected_size = 0u64;
    {
        let file = BufWriter::new(File::create(&patch_path).unwrap());
        let mut zstd = zstd::stream::write::Encoder::new(file, 1).unwrap();
        let mut diff = vec![0u8; CHUNK_BYTES];
        diff[0] = 1;
        {
            let mut writer = bidiff::enc::Writer::new(&mut zstd).unwrap();
            let order: Vec<usize> = (0..CHUNKS).map(|i| i ^ 1).collect();
            // Records start at base offset 0: an empty record moves to the first chunk.
            writer
                .write(&bidiff::Control {
                    add: &[],
                    copy: &[],
                    seek: (order[0] * CHUNK_BYTES) as i64,
                })
                .unwrap();
            for (n, &i) in order.iter().enumerate() {
                let mut data = chunk(i);
                data[0] = data[0].wrapping_add(1);
                expected.update(&data);
                expected.update(b"fresh");
                expected_size += (CHUNK_BYTES + 5) as u64;
                // After the add the base position is at the end of chunk i.
                let next = order.get(n + 1).copied().unwrap_or(i + 1);
                let seek = (next as i64 - (i as i64 + 1)) * CHUNK_BYTES as i64;
                writer
                    .write(&bidiff::Control {
                        add: &diff,
                        copy: b"fresh",
                        seek,
                    })
                    .unwrap();
            }
        }
        zstd.finish()
            .unwrap()
            .into_inner()
            .unwrap()
            .sync_all()
            .unwrap();
    }
    let signed = TarDigest {
        sha256: tufd_core::Sha256::from_bytes(expected.finalize().into()),
        size_bytes: expected_size,
    };

    let mut out = tufd_core::hash::HashingWriter::new(std::io::sink());
    apply_verified_stream(
        Codec::BidiffZstd,
        &mut File::open(&base_path).unwrap(),
        &mut File::open(&patch_path).unwrap(),
        &signed,
        &mut out,
    )
    .unwrap();
    let (_, written, _) = out.finish();
    assert_eq!(written, signed.size_bytes);

    let peak = status_bytes("VmHWM:");
    let base_bytes = (CHUNKS * CHUNK_BYTES) as u64;
    eprintln!(
        "peak RSS {} KiB for a {} KiB base",
        peak / 1024,
        base_bytes / 1024
    );
    assert!(
        peak < base_bytes / 2,
        "peak RSS {peak} bytes, base {base_bytes} bytes"
    );
}
