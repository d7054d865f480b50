//! Bounded memory of `tufd_core::patch::apply_verified_stream` for `bsdiff-lzma`: a patch over a
//! 64 MiB base, declaring the largest dictionaries the format allows, applies with a peak resident
//! set under 32 MiB. The patch is written here from the format (module docs of
//! `tufd_core::patch::bsdiff_lzma`), segment by segment, with the codec's raw LZMA2 filters; the
//! real diff would hold both files and a suffix array (about 5× the base) and is slow unoptimised.
//! The encoders' memory is released before applying and the peak counter (`VmHWM`, Linux) reset,
//! so the peak read afterwards is the apply's. This file holds one test: nothing else runs in the
//! process meanwhile. Decoder dictionaries are touched only as their streams fill them, so the
//! figure (about 18 MiB here) includes the 6 MiB of new bytes but not 4 × 8 MiB.
#![cfg(target_os = "linux")]

use std::fs::File;
use std::io::{BufWriter, Write};

use liblzma::stream::{Action, Filters, LzmaOptions, Status, Stream};
use sha2::Digest as _;
use tufd_core::Codec;
use tufd_core::custom::TarDigest;
use tufd_core::patch::apply_verified_stream;
use tufd_core::patch::bsdiff_lzma::{Header, MAX_DICT_LOG, SEGMENT_BYTES};

mod memory;
use memory::{CHUNK_BYTES, CHUNKS, chunk, status_bytes, write_base};

// The base's chunks are the segments of the patch: 1 MiB of new output each.
const _: () = assert!(CHUNK_BYTES == SEGMENT_BYTES);

/// Fresh (copied) new bytes per segment: 6 MiB in all, most of the new-bytes dictionary.
const FRESH_BYTES: usize = 96 * 1024;
/// The apply's peak resident set must stay below this (32 MiB).
const PEAK_LIMIT_BYTES: u64 = 32 << 20;
/// Resident set allowed before applying (16 MiB): writing the patch peaks near 80 MiB (four
/// encoders with 8 MiB dictionaries), and this checks that it was released and the peak reset.
const IDLE_LIMIT_BYTES: u64 = 16 << 20;

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v & 0x7f) as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// The segment's differences as runs (varints "zero bytes", "literal bytes") and literals.
fn rle(diff: &[u8], runs: &mut Vec<u8>, lits: &mut Vec<u8>) {
    let mut i = 0;
    while i < diff.len() {
        let zeros = diff[i..].iter().take_while(|&&b| b == 0).count();
        let nonzero = diff[i + zeros..].iter().take_while(|&&b| b != 0).count();
        varint(runs, zeros as u64);
        varint(runs, nonzero as u64);
        lits.extend_from_slice(&diff[i + zeros..i + zeros + nonzero]);
        i += zeros + nonzero;
    }
}

/// One stream's raw LZMA2 encoder with the codec's filters (preset 6, per-stream lc/pb, nice
/// length 64), sync-flushed at the end of every segment.
struct Encoder(Stream);

impl Encoder {
    fn new(dict_log: u8, lc: u32, pb: u32) -> Self {
        let mut options = LzmaOptions::new_preset(6).unwrap();
        options
            .dict_size(1 << dict_log)
            .literal_context_bits(lc)
            .position_bits(pb)
            .nice_len(64);
        let mut filters = Filters::new();
        filters.lzma2(&options);
        Self(Stream::new_raw_encoder(&filters).unwrap())
    }

    fn chunk(&mut self, mut data: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(data.len() + 64 * 1024);
        loop {
            if out.capacity() - out.len() < 64 * 1024 {
                out.reserve(256 * 1024);
            }
            let before = self.0.total_in();
            let flushing = data.is_empty();
            let action = if flushing {
                Action::SyncFlush
            } else {
                Action::Run
            };
            let status = self.0.process_vec(data, &mut out, action).unwrap();
            data = &data[(self.0.total_in() - before) as usize..];
            if flushing && status == Status::StreamEnd {
                return out;
            }
        }
    }
}

/// Writes the patch to `path` and returns the new file's digest. Segment `k` (1 MiB of new
/// output) rebuilds base chunk `k ^ 1` (chunks pairwise swapped: moves back and forth by about
/// 1 MiB) as two records: its first half then fresh bytes, and, past a skip of the base (a move
/// forward), most of its second half then fresh bytes. Three bytes in every 4,099 of each add
/// differ from the base (difference runs and literals).
fn write_patch(path: &std::path::Path) -> TarDigest {
    let dict_logs = [MAX_DICT_LOG; 4];
    let mut encoders = [(3, 0), (4, 2), (3, 0), (4, 2)]
        .into_iter()
        .zip(dict_logs)
        .map(|((lc, pb), log)| Encoder::new(log, lc, pb))
        .collect::<Vec<_>>();
    let mut patch = BufWriter::new(File::create(path).unwrap());
    let header = Header {
        dict_logs,
        new_size_bytes: (CHUNKS * CHUNK_BYTES) as u64,
    };
    patch.write_all(&header.to_bytes()).unwrap();

    let mut expected = sha2::Sha256::new();
    let mut base_pos = 0u64;
    for k in 0..CHUNKS {
        let j = k ^ 1;
        let base = chunk(j);
        let fresh = tufd_testkit::rng::binary_like(FRESH_BYTES, 1000 + k as u64);
        let (half, skip) = (CHUNK_BYTES / 2, FRESH_BYTES / 2);
        // (offset in the chunk, add bytes, fresh bytes) of the two records.
        let records = [
            (0, half, &fresh[..skip]),
            (half + skip, half - FRESH_BYTES, &fresh[skip..]),
        ];
        let (mut control, mut runs, mut lits, mut extra) = (vec![], vec![], vec![], vec![]);
        let mut diff = Vec::with_capacity(CHUNK_BYTES);
        for (offset, add, copy) in records {
            let at = (j * CHUNK_BYTES + offset) as u64;
            varint(&mut control, zigzag(at as i64 - base_pos as i64));
            varint(&mut control, add as u64);
            varint(&mut control, copy.len() as u64);
            let start = diff.len();
            diff.resize(start + add, 0);
            for (i, d) in diff[start..].iter_mut().enumerate() {
                if i % 4099 < 3 {
                    *d = (i / 4099 % 251) as u8 + 1;
                }
            }
            let new: Vec<u8> = base[offset..offset + add]
                .iter()
                .zip(&diff[start..])
                .map(|(b, d)| b.wrapping_add(*d))
                .collect();
            expected.update(&new);
            expected.update(copy);
            extra.extend_from_slice(copy);
            base_pos = at + add as u64;
        }
        rle(&diff, &mut runs, &mut lits);
        let chunks: Vec<Vec<u8>> = encoders
            .iter_mut()
            .zip([control, runs, lits, extra])
            .map(|(encoder, raw)| encoder.chunk(&raw))
            .collect();
        patch
            .write_all(&(CHUNK_BYTES as u32).to_le_bytes())
            .unwrap();
        for c in &chunks {
            patch.write_all(&(c.len() as u32).to_le_bytes()).unwrap();
        }
        for c in &chunks {
            patch.write_all(c).unwrap();
        }
    }
    patch.into_inner().unwrap().sync_all().unwrap();
    TarDigest {
        sha256: tufd_core::Sha256::from_bytes(expected.finalize().into()),
        size_bytes: header.new_size_bytes,
    }
}

#[test]
fn a_64_mib_bsdiff_lzma_patch_applies_in_under_32_mib() {
    let dir = tempfile::tempdir().unwrap();
    let base_path = dir.path().join("base.tar");
    let patch_path = dir.path().join("patch");
    write_base(&base_path);
    let signed = write_patch(&patch_path);
    let patch_bytes = std::fs::metadata(&patch_path).unwrap().len();

    // The writer's encoders are gone; reset the peak to the current resident set ("5": the
    // peak counter only, `Documentation/filesystems/proc.rst`).
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
    let idle = status_bytes("VmRSS:");
    assert!(
        idle < IDLE_LIMIT_BYTES,
        "resident set before applying: {idle} bytes"
    );
    assert!(status_bytes("VmHWM:") < IDLE_LIMIT_BYTES);

    let mut out = tufd_core::hash::HashingWriter::new(std::io::sink());
    apply_verified_stream(
        Codec::BsdiffLzma,
        &mut File::open(&base_path).unwrap(),
        &mut File::open(&patch_path).unwrap(),
        &signed,
        &mut out,
    )
    .unwrap();
    let peak = status_bytes("VmHWM:");
    let (digest, written, _) = out.finish();
    assert_eq!((digest, written), (signed.sha256, signed.size_bytes));

    eprintln!(
        "bsdiff-lzma apply: peak RSS {} KiB (idle before {} KiB) for a {} KiB base, patch {} KiB",
        peak / 1024,
        idle / 1024,
        CHUNKS * CHUNK_BYTES / 1024,
        patch_bytes / 1024
    );
    assert!(
        peak < PEAK_LIMIT_BYTES,
        "peak RSS {peak} bytes, limit {PEAK_LIMIT_BYTES} bytes"
    );
}
