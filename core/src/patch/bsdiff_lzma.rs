//! The `bsdiff-lzma` codec: bsdiff-class matching (`matcher.rs`) with the patch split into
//! four streams, each coded with LZMA2 (xz's coder, through liblzma) on its own, and cut into
//! segments so that applying streams both inputs in bounded memory.
//!
//! # Streams
//!
//! A bsdiff patch is a list of records "add `a` bytes (base + a byte-wise difference), copy `c`
//! new bytes, move in the base". Here the records of one segment are
//!
//! - `control`: per record three LEB128 varints: the base move (zigzag-signed, applied before
//!   the add), `a`, `c`;
//! - `runs` and `lits`: the differences of the adds, run-length split: per run, varints "zero
//!   bytes" then "literal bytes" in `runs` (never both zero), the literal (non-zero) bytes in
//!   `lits`. Most difference bytes are zero (27.2 of 28.7 MB for ruff 0.6.0 → 0.6.1): coding the
//!   zero runs apart made that stream 10 % smaller and five times faster to compress than LZMA2
//!   on the raw differences;
//! - `extra`: the copied new bytes.
//!
//! # Why this layout (measured on ruff 0.6.0 → 0.6.1, 28.7 MB tars)
//!
//! The matching is what qbsdiff and Python's bsdiff4 do (bidiff's scan gave 80,000 records
//! against 53,000 and a third more control bytes); the gain is in the coding. The three
//! classic bsdiff streams with LZMA2 preset 6 come to 2,009 KB, the difference stream alone
//! taking 4.9 s to compress; splitting its zero runs from its literals makes it 1,159 KB in
//! 1.1 s (1,172 KB at nice length 273 cost 14 s without the split). Per-stream literal context
//! and position bits (`TUNING`) gain 0.5 % more; xz's extreme presets, a BCJ filter on the new
//! bytes, longer nice lengths and merging streams each moved less than 0.4 %.
//!
//! # Format (versions 1 and 2)
//!
//! ```text
//! header  "TUFDBSLZ" | version u8 (1 or 2) | 3 zero bytes | dict log2 u8 × 4 | new size u64 LE
//! version 2 only:
//!   code table (references::CodeTable): which ranges of the base are x86-64 code
//!   control  length u32 LE (..= MAX_CONTROL_BYTES) | the whole control stream's chunk
//! segment new bytes u32 LE (1 ..= MAX_SEGMENT_BYTES) | chunk length u32 LE × 4 | 4 chunks
//!         (version 2: the control chunk length is 0, the control stream came first)
//! ...     segments until the declared new size is produced; nothing after the last
//! ```
//!
//! Version 2 adds the executable-aware step ([`references`](super::references)): the base bytes
//! of each reference field (x86-64 or A64 code) in an add region are replaced by a prediction
//! made from the add regions of the whole patch before the difference is taken, so a reference
//! whose target moved costs nothing when the prediction holds. Creation writes version 2 when
//! the base holds x86-64 or ARM64 executables or libraries (ELF, PE32+, Mach-O; both tars below
//! 4 GiB), version 1 otherwise.
//!
//! Each stream is one raw LZMA2 stream (no container; the signed `tar_hash` checks the result)
//! with the dictionary size given in the header (2^12 ..= 2^[`MAX_DICT_LOG`] bytes); the encoder
//! sync-flushes every stream at the end of each segment, so that a segment's chunks decode to
//! exactly that segment's records while the dictionaries carry over. Segments cover
//! [`SEGMENT_BYTES`] of new output (the last fewer); records never span two.
//!
//! # Limits and memory
//!
//! Every length is checked before anything is allocated for it: a header with another magic or
//! version, a dictionary above 2^[`MAX_DICT_LOG`], a new size above the caller's limit, a segment
//! above [`MAX_SEGMENT_BYTES`] or past the declared size, or a chunk above [`MAX_CHUNK_BYTES`] is
//! refused. Applying holds the four LZMA2 decoders (dictionary pages are touched only as they
//! fill, so at most the stream lengths), one segment's chunks, the base block cache
//! (`input.rs`, 4 MiB) and 256 KiB buffers.
//!
//! Creation holds both tars, a suffix array of the base (4 bytes a byte) and four LZMA2
//! encoders. Bases above [`MATCH_WINDOW_BYTES`] are matched window by window: each
//! [`NEW_WINDOW_BYTES`] of the new tar against the window of the base at the same relative
//! position, so the suffix array stays at 4 × [`MATCH_WINDOW_BYTES`] whatever the bundle size.

use std::io::{self, Read, Seek, Write};

use liblzma::stream::{Action, Filters, LzmaOptions, Status, Stream};

use super::input::{BaseReader, Recording, blame_inputs};
use super::matcher;
use super::references::{CodeTable, Predictor, Region, regions_of_control};
use super::{
    PatchCodec, PatchError, ReadSeek, base_read_error, guard, output_error, patch_io_error,
};
use crate::custom::Codec;

const CODEC: Codec = Codec::BsdiffLzma;

/// The first 8 bytes of a patch.
pub const MAGIC: &[u8; 8] = b"TUFDBSLZ";
/// Version 1 of the format (no code table), the version [`Header::to_bytes`] writes.
pub const VERSION: u8 = 1;
/// Version 2: a code table and the control stream before the segments.
pub const VERSION_REFERENCES: u8 = 2;
/// Largest control stream chunk of a version 2 patch, in bytes (16 MiB).
pub const MAX_CONTROL_BYTES: u32 = 16 << 20;
/// Bytes of the header.
pub const HEADER_BYTES: usize = 24;
/// Largest LZMA2 dictionary a patch may ask for: 2^23 bytes (8 MiB).
pub const MAX_DICT_LOG: u8 = 23;
/// Smallest dictionary written: 2^12 bytes (4 KiB, liblzma's minimum).
const MIN_DICT_LOG: u8 = 12;
/// New bytes per segment written (1 MiB).
pub const SEGMENT_BYTES: usize = 1 << 20;
/// Largest segment accepted, in new bytes (4 MiB).
pub const MAX_SEGMENT_BYTES: u32 = 4 << 20;
/// Largest chunk of one stream in one segment accepted (and written), in bytes (4 MiB).
pub const MAX_CHUNK_BYTES: u32 = 4 << 20;
/// Largest base matched in one piece (64 MiB: a 256 MiB suffix array); larger bases are matched
/// in windows of this size.
pub const MATCH_WINDOW_BYTES: usize = 64 << 20;
/// New bytes matched against one base window when the base is larger than
/// [`MATCH_WINDOW_BYTES`] (32 MiB).
pub const NEW_WINDOW_BYTES: usize = 32 << 20;
/// Bytes of the output and base buffers when applying (256 KiB; 4,093 in unit tests, so that
/// their small patches are applied in many pieces too).
const BUFFER_BYTES: usize = if cfg!(test) { 4093 } else { 256 * 1024 };
/// LZMA2 preset of every stream (xz's default, 6).
const PRESET: u32 = 6;
/// The four streams, in header and segment order.
const STREAMS: usize = 4;
const CONTROL: usize = 0;
const RUNS: usize = 1;
const LITS: usize = 2;
const EXTRA: usize = 3;

/// The `bsdiff-lzma` codec.
#[derive(Clone, Copy, Debug, Default)]
pub struct BsdiffLzma;

/// A parsed header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// log2 of each stream's LZMA2 dictionary size in bytes (control, runs, literals, extra).
    pub dict_logs: [u8; 4],
    /// Length of the patched output, in bytes.
    pub new_size_bytes: u64,
}

impl Header {
    /// The header as written at the start of a version 1 patch.
    pub fn to_bytes(self) -> [u8; HEADER_BYTES] {
        self.to_bytes_of(VERSION)
    }

    /// The header of a patch of format `version`.
    fn to_bytes_of(self, version: u8) -> [u8; HEADER_BYTES] {
        let mut h = [0u8; HEADER_BYTES];
        h[..8].copy_from_slice(MAGIC);
        h[8] = version;
        h[12..16].copy_from_slice(&self.dict_logs);
        h[16..24].copy_from_slice(&self.new_size_bytes.to_le_bytes());
        h
    }
}

fn corrupt(reason: impl Into<String>) -> PatchError {
    PatchError::Corrupt {
        codec: CODEC,
        reason: reason.into(),
    }
}

/// Parses and checks a header (of either version).
///
/// # Errors
/// [`PatchError::Corrupt`] for another magic or version, non-zero reserved bytes or a
/// dictionary outside 2^12 ..= 2^[`MAX_DICT_LOG`].
pub fn parse_header(bytes: &[u8; HEADER_BYTES]) -> Result<Header, PatchError> {
    parse_versioned_header(bytes).map(|(_, header)| header)
}

/// [`parse_header`], with the format version.
fn parse_versioned_header(bytes: &[u8; HEADER_BYTES]) -> Result<(u8, Header), PatchError> {
    if &bytes[..8] != MAGIC {
        return Err(corrupt("not a bsdiff-lzma patch (bad magic)"));
    }
    if bytes[8] != VERSION && bytes[8] != VERSION_REFERENCES {
        return Err(corrupt(format!(
            "unsupported bsdiff-lzma version {}",
            bytes[8]
        )));
    }
    if bytes[9..12] != [0, 0, 0] {
        return Err(corrupt("reserved header bytes are not zero"));
    }
    let mut dict_logs = [0u8; STREAMS];
    dict_logs.copy_from_slice(&bytes[12..16]);
    if let Some(bad) = dict_logs
        .iter()
        .find(|&&d| !(MIN_DICT_LOG..=MAX_DICT_LOG).contains(&d))
    {
        return Err(corrupt(format!("dictionary 2^{bad} is out of range")));
    }
    let new_size_bytes = u64::from_le_bytes(bytes[16..24].try_into().expect("8 bytes"));
    Ok((
        bytes[8],
        Header {
            dict_logs,
            new_size_bytes,
        },
    ))
}

// ------------------------------------------------------------------------------- creation

/// A record with an absolute base position: add `add` bytes from `old_pos`, then copy `copy`.
#[derive(Clone, Copy, Debug)]
struct Record {
    old_pos: u64,
    add: u64,
    copy: u64,
}

/// How the base is matched: bases up to `base_bytes` in one piece, larger ones `new_bytes` of
/// the new tar at a time against the `base_bytes` of the base around the same relative position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Windows {
    /// Bytes of base matched at once (the suffix array holds 4 bytes per base byte).
    pub base_bytes: usize,
    /// Bytes of the new tar matched against one base window.
    pub new_bytes: usize,
}

impl Default for Windows {
    /// [`MATCH_WINDOW_BYTES`] and [`NEW_WINDOW_BYTES`].
    fn default() -> Self {
        Self {
            base_bytes: MATCH_WINDOW_BYTES,
            new_bytes: NEW_WINDOW_BYTES,
        }
    }
}

/// The records turning `old` into `new`, matched in one piece or window by window, with
/// rewritten stretches sent as new bytes ([`literal_rewrites`]).
fn records(old: &[u8], new: &[u8], windows: Windows) -> Vec<Record> {
    literal_rewrites(old, new, &matched(old, new, windows))
}

/// Bytes equal to the base, this many in a row, end a rewritten stretch.
const REWRITE_GAP: usize = 16;
/// Rewritten stretches at least this long are candidates for being sent as new bytes.
const REWRITE_MIN: usize = 48;

/// Splits every `add` at its rewritten stretches — at least [`REWRITE_MIN`] bytes with no
/// [`REWRITE_GAP`] bytes in a row equal to the base — and sends a stretch as new bytes (`copy`)
/// when its new bytes' order-0 entropy is at most its differences' plus
/// [`REWRITE_BITS_SLACK`]. A stretch the matcher aligned but the release rewrote (a block of
/// text over other bytes, code that moved) differs from the base in nearly every byte, so its
/// difference carries the base's entropy as well as the new bytes'; the new bytes alone
/// compress as what they are, and LZMA2 finds their repeats in the new-bytes stream. The base
/// position skips the stretch, so the records still read the base in order.
///
/// The thresholds were chosen on the ruff pairs of `bench/` (0.6.0 → 0.6.1: 1,875,181 →
/// 1,828,811 bytes; 0.6.1 → 0.6.2: 2,262,140 → 2,198,321); sending every stretch as new bytes
/// regardless of entropy made the first pair 0.6 % larger.
fn literal_rewrites(old: &[u8], new: &[u8], records: &[Record]) -> Vec<Record> {
    let mut out = Vec::with_capacity(records.len());
    let mut new_pos = 0usize;
    for r in records {
        let (old_pos, add) = (r.old_pos as usize, r.add as usize);
        let (o, n) = (&old[old_pos..old_pos + add], &new[new_pos..new_pos + add]);
        // Start of the current record's add, relative to this record.
        let mut start = 0usize;
        let mut i = 0usize;
        while i < add {
            if o[i] == n[i] {
                i += 1;
                continue;
            }
            // A stretch of differences, ended by REWRITE_GAP equal bytes in a row.
            let first = i;
            let mut last = i;
            let mut equal = 0usize;
            while i < add && equal < REWRITE_GAP {
                if o[i] == n[i] {
                    equal += 1;
                } else {
                    equal = 0;
                    last = i;
                }
                i += 1;
            }
            let end = last + 1;
            if end - first >= REWRITE_MIN
                && entropy_bits(&n[first..end])
                    <= entropy_bits_diff(&n[first..end], &o[first..end]) + REWRITE_BITS_SLACK
            {
                out.push(Record {
                    old_pos: (old_pos + start) as u64,
                    add: (first - start) as u64,
                    copy: (end - first) as u64,
                });
                start = end;
            }
        }
        if add > start || r.copy > 0 {
            out.push(Record {
                old_pos: (old_pos + start) as u64,
                add: (add - start) as u64,
                copy: r.copy,
            });
        }
        new_pos += add + r.copy as usize;
    }
    out
}

/// How many bits per byte of order-0 entropy the new bytes of a stretch may exceed its
/// differences by and still be sent as new bytes: LZMA2 codes new bytes better than their
/// order-0 entropy says, as it finds their repeats (0.75 measured best on the ruff pairs).
const REWRITE_BITS_SLACK: f64 = 0.75;

/// Order-0 entropy of `bytes` in bits per byte.
fn entropy_bits(bytes: &[u8]) -> f64 {
    let mut counts = [0u32; 256];
    bytes.iter().for_each(|&b| counts[usize::from(b)] += 1);
    entropy_of(&counts, bytes.len())
}

/// Order-0 entropy of the bytewise difference `new - old`, in bits per byte.
fn entropy_bits_diff(new: &[u8], old: &[u8]) -> f64 {
    let mut counts = [0u32; 256];
    new.iter()
        .zip(old)
        .for_each(|(n, o)| counts[usize::from(n.wrapping_sub(*o))] += 1);
    entropy_of(&counts, new.len())
}

fn entropy_of(counts: &[u32; 256], len: usize) -> f64 {
    let len = len as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / len;
            -p * p.log2()
        })
        .sum()
}

/// The matcher's records, in one piece or window by window.
fn matched(old: &[u8], new: &[u8], windows: Windows) -> Vec<Record> {
    let mut out = Vec::new();
    let (base_bytes, new_bytes) = (windows.base_bytes.max(1), windows.new_bytes.max(1));
    if old.len() <= base_bytes {
        push_records(&mut out, 0, &matcher::matches(old, new));
        return out;
    }
    for (k, chunk) in new.chunks(new_bytes).enumerate() {
        let centre_new = (k * new_bytes + chunk.len() / 2) as u128;
        let centre_old = (centre_new * old.len() as u128 / new.len() as u128) as usize;
        let start = centre_old
            .saturating_sub(base_bytes / 2)
            .min(old.len() - base_bytes);
        let window = &old[start..start + base_bytes];
        push_records(&mut out, start as u64, &matcher::matches(window, chunk));
    }
    out
}

fn push_records(out: &mut Vec<Record>, base: u64, controls: &[matcher::Control]) {
    let mut pos = base as i64;
    for c in controls {
        if c.add > 0 || c.copy > 0 {
            out.push(Record {
                old_pos: pos as u64,
                add: c.add,
                copy: c.copy,
            });
        }
        pos += c.add as i64 + c.seek;
    }
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// The raw bytes of the four streams for one segment.
#[derive(Default)]
struct SegmentRaw {
    new_bytes: usize,
    streams: [Vec<u8>; STREAMS],
}

/// Cuts `records` into segments of [`SEGMENT_BYTES`] of new output and calls `each` with every
/// segment's raw streams.
fn segments(
    old: &[u8],
    new: &[u8],
    records: &[Record],
    predictor: Option<&Predictor>,
    mut each: impl FnMut(&SegmentRaw) -> Result<(), PatchError>,
) -> Result<(), PatchError> {
    let mut seg = SegmentRaw::default();
    let mut diff = Vec::with_capacity(SEGMENT_BYTES);
    let mut predicted = Vec::new();
    let mut new_pos = 0usize;
    let mut base_pos = 0u64; // the decoder's base position
    let mut flush = |seg: &mut SegmentRaw, diff: &mut Vec<u8>| -> Result<(), PatchError> {
        let [_, runs, lits, _] = &mut seg.streams;
        rle(diff, runs, lits);
        each(seg)?;
        seg.new_bytes = 0;
        seg.streams.iter_mut().for_each(Vec::clear);
        diff.clear();
        Ok(())
    };
    for r in records {
        let (mut old_pos, mut add, mut copy) = (r.old_pos, r.add as usize, r.copy as usize);
        while add + copy > 0 {
            let room = SEGMENT_BYTES - seg.new_bytes;
            let a = add.min(room);
            let c = copy.min(room - a);
            let move_by = if a > 0 {
                old_pos as i64 - base_pos as i64
            } else {
                0
            };
            varint(&mut seg.streams[CONTROL], zigzag(move_by));
            varint(&mut seg.streams[CONTROL], a as u64);
            varint(&mut seg.streams[CONTROL], c as u64);
            if a > 0 {
                let o = old_pos as usize;
                let mut base = &old[o..o + a];
                if let Some(p) = predictor {
                    // A predictor exists only for tars below 4 GiB.
                    let region = Region {
                        old: old_pos as u32,
                        new: new_pos as u32,
                        len: a as u32,
                    };
                    predicted.clear();
                    predicted.extend_from_slice(base);
                    p.predict(old_pos, &mut predicted, region);
                    base = &predicted;
                }
                diff.extend(
                    new[new_pos..new_pos + a]
                        .iter()
                        .zip(base)
                        .map(|(n, o)| n.wrapping_sub(*o)),
                );
                base_pos = old_pos + a as u64;
            }
            new_pos += a;
            seg.streams[EXTRA].extend_from_slice(&new[new_pos..new_pos + c]);
            new_pos += c;
            seg.new_bytes += a + c;
            old_pos += a as u64;
            add -= a;
            copy -= c;
            if seg.new_bytes == SEGMENT_BYTES {
                flush(&mut seg, &mut diff)?;
            }
        }
    }
    if seg.new_bytes > 0 {
        flush(&mut seg, &mut diff)?;
    }
    debug_assert_eq!(new_pos, new.len());
    Ok(())
}

/// Run-length splits `diff` into `runs` (zero count, literal count) and `lits`.
fn rle(diff: &[u8], runs: &mut Vec<u8>, lits: &mut Vec<u8>) {
    let mut i = 0;
    while i < diff.len() {
        let zeros_start = i;
        while i < diff.len() && diff[i] == 0 {
            i += 1;
        }
        let lits_start = i;
        while i < diff.len() && diff[i] != 0 {
            i += 1;
        }
        varint(runs, (lits_start - zeros_start) as u64);
        varint(runs, (i - lits_start) as u64);
        lits.extend_from_slice(&diff[lits_start..i]);
    }
}

/// log2 of the dictionary for a stream of `len` bytes: the next power of two, 2^12 ..=
/// 2^[`MAX_DICT_LOG`].
fn dict_log_for(len: u64) -> u8 {
    let log = 64 - len.saturating_sub(1).leading_zeros();
    (log as u8).clamp(MIN_DICT_LOG, MAX_DICT_LOG)
}

/// LZMA2 literal context bits, position bits and nice match length of each stream's encoder
/// (preset [`PRESET`] otherwise), chosen on ruff 0.6.1 → 0.6.2 (each about 0.5 % of its stream
/// against xz's defaults lc 3, pb 2): the difference literals have no 4-byte alignment to learn
/// (pb 0), new code gains from one more context bit. Nice length 273 instead of xz's 64 made
/// the run-length and new-bytes streams no smaller on either ruff pair (±0.3 %) at 10–20 % more
/// of their coding time. Decoders read these from the stream; only the dictionary size is in
/// the header.
const TUNING: [(u32, u32, u32); STREAMS] = [(3, 0, 64), (4, 2, 64), (3, 0, 64), (4, 2, 64)];

fn filters(dict_log: u8, stream: usize) -> Result<Filters, liblzma::stream::Error> {
    let (lc, pb, nice) = TUNING[stream];
    let mut options = LzmaOptions::new_preset(PRESET)?;
    options
        .dict_size(1 << dict_log)
        .literal_context_bits(lc)
        .position_bits(pb)
        .nice_len(nice);
    let mut filters = Filters::new();
    filters.lzma2(&options);
    Ok(filters)
}

/// One stream's LZMA2 encoder.
struct Encoder {
    stream: Stream,
    out: Vec<u8>,
}

impl Encoder {
    fn new(dict_log: u8, stream: usize) -> Result<Self, liblzma::stream::Error> {
        Ok(Self {
            stream: Stream::new_raw_encoder(&filters(dict_log, stream)?)?,
            out: Vec::new(),
        })
    }

    /// Codes `data` and sync-flushes: `self.out` then holds this segment's chunk.
    fn chunk(&mut self, mut data: &[u8]) -> Result<&[u8], liblzma::stream::Error> {
        self.out.clear();
        loop {
            if self.out.capacity() - self.out.len() < 64 * 1024 {
                self.out.reserve(data.len() / 2 + 256 * 1024);
            }
            let before = self.stream.total_in();
            let flushing = data.is_empty();
            let action = if flushing {
                Action::SyncFlush
            } else {
                Action::Run
            };
            let status = self.stream.process_vec(data, &mut self.out, action)?;
            data = &data[(self.stream.total_in() - before) as usize..];
            if flushing && status == Status::StreamEnd {
                return Ok(&self.out);
            }
        }
    }
}

impl BsdiffLzma {
    /// [`PatchCodec::diff`] with other match windows than the default (to measure what the
    /// windows cost: larger windows find more matches in large bundles and need more memory).
    ///
    /// # Errors
    /// As [`PatchCodec::diff`].
    pub fn diff_with_windows(
        &self,
        old: &[u8],
        new: &[u8],
        windows: Windows,
        out: &mut dyn Write,
    ) -> Result<(), PatchError> {
        let diff_error = |e: &dyn std::fmt::Display| PatchError::Diff {
            codec: CODEC,
            reason: e.to_string(),
        };
        let records = guard(CODEC, "diffing", || Ok(records(old, new, windows)))?;
        // A first pass measures each stream, to size its dictionary (and the encoders' memory),
        // and keeps the control stream, whose add regions the predictions map targets through.
        let mut totals = [0u64; STREAMS];
        let mut control = Vec::new();
        segments(old, new, &records, None, |seg| {
            for (t, s) in totals.iter_mut().zip(&seg.streams) {
                *t += s.len() as u64;
            }
            control.extend_from_slice(&seg.streams[CONTROL]);
            Ok(())
        })?;
        let header = Header {
            dict_logs: totals.map(dict_log_for),
            new_size_bytes: new.len() as u64,
        };
        let encoder = |stream: usize| {
            Encoder::new(header.dict_logs[stream], stream).map_err(|e| diff_error(&e))
        };
        let mut encoders = (0..STREAMS).map(encoder).collect::<Result<Vec<_>, _>>()?;
        // Version 2 when the base has x86-64 or ARM64 code and the control stream, coded whole,
        // fits its limit.
        let predicting = guard(CODEC, "predicting references", || {
            Ok(predictor_for(old, new, &control))
        })?
        .map(|(table, predictor)| {
            let chunk = encoders[CONTROL]
                .chunk(&control)
                .map_err(|e| diff_error(&e))?
                .to_vec();
            Ok::<_, PatchError>((table, predictor, chunk))
        })
        .transpose()?
        .filter(|(_, _, chunk)| chunk.len() <= MAX_CONTROL_BYTES as usize);
        if let Some((table, _, control_chunk)) = &predicting {
            out.write_all(&header.to_bytes_of(VERSION_REFERENCES))
                .map_err(patch_io_error)?;
            out.write_all(&table.to_bytes()).map_err(patch_io_error)?;
            out.write_all(&(control_chunk.len() as u32).to_le_bytes())
                .map_err(patch_io_error)?;
            out.write_all(control_chunk).map_err(patch_io_error)?;
        } else {
            // The control encoder may have coded the whole stream already: start it afresh.
            encoders[CONTROL] = encoder(CONTROL)?;
            out.write_all(&header.to_bytes()).map_err(patch_io_error)?;
        }
        let predictor = predicting.as_ref().map(|(_, p, _)| p);
        segments(old, new, &records, predictor, |seg| {
            let mut head = Vec::with_capacity(4 * (1 + STREAMS));
            head.extend_from_slice(&(seg.new_bytes as u32).to_le_bytes());
            let mut chunks = Vec::with_capacity(STREAMS);
            for (stream, (encoder, raw)) in encoders.iter_mut().zip(&seg.streams).enumerate() {
                if stream == CONTROL && predictor.is_some() {
                    head.extend_from_slice(&0u32.to_le_bytes());
                    continue;
                }
                let chunk = encoder.chunk(raw).map_err(|e| diff_error(&e))?;
                if chunk.len() > MAX_CHUNK_BYTES as usize {
                    return Err(diff_error(&format!(
                        "a segment's stream codes to {} bytes, above {MAX_CHUNK_BYTES}",
                        chunk.len()
                    )));
                }
                head.extend_from_slice(&(chunk.len() as u32).to_le_bytes());
                chunks.push(chunk.to_vec());
            }
            out.write_all(&head).map_err(patch_io_error)?;
            for chunk in chunks {
                out.write_all(&chunk).map_err(patch_io_error)?;
            }
            Ok(())
        })
    }
}

/// The code table and predictor of a version 2 patch from `old` to `new` whose control stream
/// is `control`; `None` (version 1) when `old` has no x86-64 or ARM64 executable member (ELF,
/// PE32+, Mach-O) whose references fit [`MAX_REFS`](super::references::MAX_REFS), a tar is
/// 4 GiB or larger, or the patch has more than
/// [`MAX_REGIONS`](super::references::MAX_REGIONS) add regions.
fn predictor_for(old: &[u8], new: &[u8], control: &[u8]) -> Option<(CodeTable, Predictor)> {
    if u32::try_from(old.len()).is_err() || u32::try_from(new.len()).is_err() {
        return None;
    }
    let table = CodeTable::of_tar(old);
    if table.members.is_empty() {
        return None;
    }
    let mut pos = 0usize;
    let mut next = || {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *control.get(pos)?;
            pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    };
    let regions = regions_of_control(new.len() as u64, || next().ok_or(()), |_| ()).ok()?;
    let (table, predictor) = Predictor::for_base(table, regions, old);
    (!table.members.is_empty()).then_some((table, predictor))
}

// ------------------------------------------------------------------------------- application

/// One stream's LZMA2 decoder, fed one segment's chunk at a time.
struct Decoder {
    stream: Stream,
    /// Compressed bytes not yet consumed: the rest of earlier chunks, then the current one.
    input: Vec<u8>,
    input_pos: usize,
    /// Decoded bytes and how many of them were read.
    decoded: Vec<u8>,
    decoded_pos: usize,
    decoded_len: usize,
}

/// Bytes decoded ahead for the varint streams (64 KiB).
const DECODED_BYTES: usize = 64 * 1024;

impl Decoder {
    fn new(dict_log: u8) -> Result<Self, PatchError> {
        let stream = filters(dict_log, CONTROL)
            .and_then(|f| Stream::new_raw_decoder(&f))
            .map_err(|e| corrupt(e.to_string()))?;
        Ok(Self {
            stream,
            input: Vec::new(),
            input_pos: 0,
            decoded: Vec::new(),
            decoded_pos: 0,
            decoded_len: 0,
        })
    }

    /// Appends this segment's chunk of `len` bytes, read from `patch`.
    fn add_chunk(&mut self, patch: &mut dyn Read, len: usize) -> Result<(), PatchError> {
        self.input.drain(..self.input_pos);
        self.input_pos = 0;
        let start = self.input.len();
        self.input.resize(start + len, 0);
        read_patch(patch, &mut self.input[start..])
    }

    /// Decodes into `dst` until it is full.
    fn decode_into(&mut self, dst: &mut [u8]) -> Result<(), PatchError> {
        let mut filled = 0;
        while filled < dst.len() {
            let (in_before, out_before) = (self.stream.total_in(), self.stream.total_out());
            let status = self
                .stream
                .process(
                    &self.input[self.input_pos..],
                    &mut dst[filled..],
                    Action::Run,
                )
                .map_err(|e| corrupt(format!("lzma2: {e}")))?;
            let consumed = (self.stream.total_in() - in_before) as usize;
            self.input_pos += consumed;
            let produced = (self.stream.total_out() - out_before) as usize;
            filled += produced;
            let stuck = consumed == 0 || self.input_pos == self.input.len();
            if produced == 0 && (status == Status::StreamEnd || stuck) {
                return Err(corrupt("a stream ends before its segment"));
            }
        }
        Ok(())
    }

    /// Copies `dst.len()` decoded bytes, first from the look-ahead buffer.
    fn read_exact(&mut self, dst: &mut [u8]) -> Result<(), PatchError> {
        let ahead = (self.decoded_len - self.decoded_pos).min(dst.len());
        dst[..ahead].copy_from_slice(&self.decoded[self.decoded_pos..self.decoded_pos + ahead]);
        self.decoded_pos += ahead;
        self.decode_into(&mut dst[ahead..])
    }

    fn byte(&mut self) -> Result<u8, PatchError> {
        if self.decoded_pos == self.decoded_len {
            self.decoded.resize(DECODED_BYTES, 0);
            let (in_before, out_before) = (self.stream.total_in(), self.stream.total_out());
            self.stream
                .process(
                    &self.input[self.input_pos..],
                    &mut self.decoded,
                    Action::Run,
                )
                .map_err(|e| corrupt(format!("lzma2: {e}")))?;
            self.input_pos += (self.stream.total_in() - in_before) as usize;
            self.decoded_len = (self.stream.total_out() - out_before) as usize;
            self.decoded_pos = 0;
            if self.decoded_len == 0 {
                return Err(corrupt("a stream ends before its segment"));
            }
        }
        self.decoded_pos += 1;
        Ok(self.decoded[self.decoded_pos - 1])
    }

    fn varint(&mut self) -> Result<u64, PatchError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            if shift == 63 && b > 1 {
                break;
            }
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(corrupt("varint too long"))
    }
}

fn read_patch(patch: &mut dyn Read, buf: &mut [u8]) -> Result<(), PatchError> {
    patch.read_exact(buf).map_err(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            corrupt("truncated patch")
        } else {
            patch_io_error(e)
        }
    })
}

/// The applying state: decoders, base, output.
struct Applier<'a, 'b> {
    decoders: Vec<Decoder>,
    base: &'a mut BaseReader<'b>,
    /// Where the base starts in `base`, and the position in it (from that start).
    base_start: u64,
    base_pos: u64,
    out: &'a mut dyn Write,
    out_buf: Vec<u8>,
    base_buf: Vec<u8>,
    lit_buf: Vec<u8>,
    written: u64,
    /// Version 2's reference predictions.
    predictor: Option<Predictor>,
}

impl Applier<'_, '_> {
    fn emit(&mut self, bytes: &[u8]) -> Result<(), PatchError> {
        if self.out_buf.len() + bytes.len() > BUFFER_BYTES {
            self.out.write_all(&self.out_buf).map_err(output_error)?;
            self.out_buf.clear();
        }
        self.out_buf.extend_from_slice(bytes);
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// Applies one segment producing `new_bytes`.
    fn segment(&mut self, new_bytes: u64) -> Result<(), PatchError> {
        let mut left = new_bytes;
        // Zero and literal bytes left of the current run (runs never cross segments).
        let (mut zeros, mut lits) = (0u64, 0u64);
        while left > 0 {
            let move_by = zz_decode(self.decoders[CONTROL].varint()?);
            let add = self.decoders[CONTROL].varint()?;
            let copy = self.decoders[CONTROL].varint()?;
            let total = add.checked_add(copy).filter(|&t| t > 0 && t <= left);
            let Some(total) = total else {
                return Err(corrupt("a record does not fit its segment"));
            };
            left -= total;
            if add > 0 {
                self.base_pos = self
                    .base_pos
                    .checked_add_signed(move_by)
                    .ok_or_else(|| corrupt("a record moves before the start of the base"))?;
                let at = self
                    .base_start
                    .checked_add(self.base_pos)
                    .ok_or_else(|| corrupt("a record moves past the end of the base"))?;
                self.base
                    .seek(io::SeekFrom::Start(at))
                    .map_err(base_read_error)?;
            }
            // The add region, for predictions (version 2 tars are below 4 GiB; a region that is
            // not gets none, and the output digest tells).
            let region = match (
                u32::try_from(self.base_pos),
                u32::try_from(self.written),
                u32::try_from(add),
            ) {
                (Ok(old), Ok(new), Ok(len)) => Some(Region { old, new, len }),
                _ => None,
            };
            let mut add_left = add;
            while add_left > 0 {
                let mut n = add_left.min(BUFFER_BYTES as u64) as usize;
                if let (Some(p), Some(region)) = (&self.predictor, region) {
                    n = p.piece(self.base_pos + (add - add_left), n, region);
                }
                self.base_buf.resize(n, 0);
                self.base.read_exact(&mut self.base_buf).map_err(|e| {
                    if e.kind() == io::ErrorKind::UnexpectedEof {
                        corrupt("a record reads past the end of the base")
                    } else {
                        base_read_error(e)
                    }
                })?;
                if let (Some(p), Some(region)) = (&self.predictor, region) {
                    p.predict(self.base_pos + (add - add_left), &mut self.base_buf, region);
                }
                let mut i = 0;
                while i < n {
                    if zeros == 0 && lits == 0 {
                        zeros = self.decoders[RUNS].varint()?;
                        lits = self.decoders[RUNS].varint()?;
                        if zeros == 0 && lits == 0 {
                            return Err(corrupt("an empty difference run"));
                        }
                    }
                    let z = zeros.min((n - i) as u64) as usize;
                    zeros -= z as u64;
                    i += z;
                    let l = lits.min((n - i) as u64) as usize;
                    if l > 0 {
                        self.lit_buf.resize(l, 0);
                        self.decoders[LITS].read_exact(&mut self.lit_buf)?;
                        for (b, d) in self.base_buf[i..i + l].iter_mut().zip(&self.lit_buf) {
                            *b = b.wrapping_add(*d);
                        }
                        lits -= l as u64;
                        i += l;
                    }
                }
                let chunk = std::mem::take(&mut self.base_buf);
                self.emit(&chunk)?;
                self.base_buf = chunk;
                add_left -= n as u64;
            }
            self.base_pos += add;
            let mut copy_left = copy;
            while copy_left > 0 {
                let n = copy_left.min(BUFFER_BYTES as u64) as usize;
                self.lit_buf.resize(n, 0);
                self.decoders[EXTRA].read_exact(&mut self.lit_buf)?;
                let chunk = std::mem::take(&mut self.lit_buf);
                self.emit(&chunk)?;
                self.lit_buf = chunk;
                copy_left -= n as u64;
            }
        }
        if zeros > 0 || lits > 0 {
            return Err(corrupt("a difference run crosses its segment"));
        }
        Ok(())
    }
}

/// The signed number a zigzag varint value `v` stands for (0, -1, 1, -2, … for 0, 1, 2, 3, …).
pub(super) fn zz_decode(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

impl PatchCodec for BsdiffLzma {
    fn codec(&self) -> Codec {
        CODEC
    }

    fn diff(&self, old: &[u8], new: &[u8], out: &mut dyn Write) -> Result<(), PatchError> {
        self.diff_with_windows(old, new, Windows::default(), out)
    }

    fn apply_stream(
        &self,
        old: &mut dyn ReadSeek,
        patch: &mut dyn Read,
        max_output_bytes: u64,
        out: &mut dyn Write,
    ) -> Result<u64, PatchError> {
        let mut base = BaseReader::new(old).map_err(base_read_error)?;
        let mut source = Recording::new(patch);
        let result = guard(CODEC, "applying", || {
            apply_inner(&mut base, &mut source, max_output_bytes, out)
        });
        blame_inputs(result, &mut base, &mut source)
    }
}

fn apply_inner(
    base: &mut BaseReader<'_>,
    patch: &mut dyn Read,
    max_output_bytes: u64,
    out: &mut dyn Write,
) -> Result<u64, PatchError> {
    let mut head = [0u8; HEADER_BYTES];
    read_patch(patch, &mut head)?;
    let (version, header) = parse_versioned_header(&head)?;
    if header.new_size_bytes > max_output_bytes {
        return Err(PatchError::TooLarge {
            limit_bytes: max_output_bytes,
        });
    }
    let mut decoders = Vec::with_capacity(STREAMS);
    for log in header.dict_logs {
        decoders.push(Decoder::new(log)?);
    }
    let start = base.stream_position().map_err(base_read_error)?;
    let predictor = if version == VERSION_REFERENCES {
        Some(read_predictions(
            patch,
            base,
            start,
            &header,
            &mut decoders[CONTROL],
        )?)
    } else {
        None
    };
    let mut applier = Applier {
        decoders,
        base,
        base_start: start,
        base_pos: 0,
        out,
        out_buf: Vec::with_capacity(BUFFER_BYTES),
        base_buf: Vec::new(),
        lit_buf: Vec::new(),
        written: 0,
        predictor,
    };
    let control_up_front = applier.predictor.is_some();
    while applier.written < header.new_size_bytes {
        let mut seg = [0u8; 4 * (1 + STREAMS)];
        read_patch(patch, &mut seg)?;
        let field = |i: usize| u32::from_le_bytes(seg[4 * i..4 * i + 4].try_into().expect("4"));
        let new_bytes = field(0);
        if new_bytes == 0
            || new_bytes > MAX_SEGMENT_BYTES
            || u64::from(new_bytes) > header.new_size_bytes - applier.written
        {
            return Err(corrupt(format!("bad segment length {new_bytes}")));
        }
        for s in 0..STREAMS {
            let len = field(1 + s);
            if len > MAX_CHUNK_BYTES {
                return Err(corrupt(format!("chunk of {len} bytes is above the limit")));
            }
            if s == CONTROL && control_up_front {
                if len != 0 {
                    return Err(corrupt("a version 2 segment has a control chunk"));
                }
                continue;
            }
            applier.decoders[s].add_chunk(patch, len as usize)?;
        }
        applier.segment(u64::from(new_bytes))?;
    }
    let mut more = [0u8; 1];
    loop {
        match patch.read(&mut more) {
            Ok(0) => break,
            Ok(_) => return Err(corrupt("data after the last segment")),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(patch_io_error(e)),
        }
    }
    let rest = std::mem::take(&mut applier.out_buf);
    applier.out.write_all(&rest).map_err(output_error)?;
    applier.out.flush().map_err(output_error)?;
    Ok(applier.written)
}

/// Reads a version 2 patch's code table and control stream (handed to `control`), and makes
/// the predictions: the add regions of the whole control stream (decoded once ahead) and the
/// references of the base's code (`start`: where the base starts in `base`).
///
/// # Errors
/// [`PatchError::Corrupt`] for a bad code table, a control chunk above [`MAX_CONTROL_BYTES`], a
/// control stream that does not produce the declared size, code ranges past the end of the
/// base, or a limit of [`references`](super::references) passed; or reading errors.
fn read_predictions(
    patch: &mut dyn Read,
    base: &mut BaseReader<'_>,
    start: u64,
    header: &Header,
    control: &mut Decoder,
) -> Result<Predictor, PatchError> {
    let table = CodeTable::read(|buf| read_patch(patch, buf), corrupt)?;
    let mut len = [0u8; 4];
    read_patch(patch, &mut len)?;
    let len = u32::from_le_bytes(len);
    if len > MAX_CONTROL_BYTES {
        return Err(corrupt(format!(
            "control stream of {len} bytes is above the limit"
        )));
    }
    control.add_chunk(patch, len as usize)?;
    // A second decoder walks the whole stream once, on the same bytes (lent, then returned).
    let mut ahead = Decoder::new(header.dict_logs[CONTROL])?;
    ahead.input = std::mem::take(&mut control.input);
    let regions = regions_of_control(header.new_size_bytes, || ahead.varint(), corrupt);
    control.input = std::mem::take(&mut ahead.input);
    let regions = regions?;
    let read_at = |at: u64, buf: &mut [u8]| {
        let at = start
            .checked_add(at)
            .ok_or_else(|| corrupt("a code range lies past the end of the base"))?;
        base.seek(io::SeekFrom::Start(at))
            .map_err(base_read_error)?;
        base.read_exact(buf).map_err(|e| {
            if e.kind() == io::ErrorKind::UnexpectedEof {
                corrupt("a code range lies past the end of the base")
            } else {
                base_read_error(e)
            }
        })
    };
    Predictor::new(&table, regions, read_at, || {
        corrupt("too many references in the base's code")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patch_of(old: &[u8], new: &[u8]) -> Vec<u8> {
        let mut patch = Vec::new();
        BsdiffLzma.diff(old, new, &mut patch).unwrap();
        patch
    }

    fn apply(old: &[u8], patch: &[u8], limit: u64) -> Result<Vec<u8>, PatchError> {
        let mut out = Vec::new();
        BsdiffLzma.apply(old, patch, limit, &mut out).map(|n| {
            assert_eq!(n, out.len() as u64);
            out
        })
    }

    /// A tar holding one ELF executable for `machine` (62 x86-64, 183 AArch64; with `a64` code
    /// and machine 20, PowerPC, it is foreign code) of `functions` functions of 48 instructions
    /// — calls to other functions (`call rel32` / `bl`), moves of a constant (`mov eax, imm32`
    /// / `movz w0, #imm16`) and `nop`s — after a 4 KiB header page; function `inserted_at` is
    /// preceded by 200 bytes of new code when `inserted_at` is some, moving every later
    /// function.
    fn elf_tar(machine: u16, a64: bool, functions: usize, inserted_at: Option<usize>) -> Vec<u8> {
        let mut rng = tufd_testkit::rng::bytes(functions * 48 * 5, 11).into_iter();
        // The instruction kinds (random per slot, the same in both releases).
        let mut kinds = Vec::new();
        for _ in 0..functions * 48 {
            let pick = rng.next().unwrap();
            let arg = u32::from_le_bytes([0, 0, 0, 0].map(|_: u8| rng.next().unwrap()));
            kinds.push((pick % 3, arg));
        }
        // Function starts: 48 instructions of at most 5 bytes, padded to 256.
        let start = |f: usize| {
            let shift = match inserted_at {
                Some(at) if f >= at => 200,
                _ => 0,
            };
            4096 + f * 256 + shift
        };
        let mut elf = vec![0u8; start(functions) + 256];
        for f in 0..functions {
            let mut at = start(f);
            if inserted_at == Some(f) {
                elf[at - 200..at].fill(0x90);
            }
            for &(kind, arg) in &kinds[f * 48..(f + 1) * 48] {
                if a64 {
                    let word = match kind {
                        0 => {
                            let words = (start(arg as usize % functions) as i64 - at as i64) / 4;
                            0x9400_0000 | (words as u32 & 0x03ff_ffff)
                        }
                        1 => 0x5280_0000 | ((arg & 0xffff) << 5),
                        _ => 0xd503_201f,
                    };
                    elf[at..at + 4].copy_from_slice(&word.to_le_bytes());
                    at += 4;
                    continue;
                }
                match kind {
                    0 => {
                        let callee = start(arg as usize % functions);
                        let rel = callee as i64 - (at as i64 + 5);
                        elf[at] = 0xE8;
                        elf[at + 1..at + 5].copy_from_slice(&(rel as i32).to_le_bytes());
                        at += 5;
                    }
                    1 => {
                        elf[at] = 0xB8;
                        elf[at + 1..at + 5].copy_from_slice(&arg.to_le_bytes());
                        at += 5;
                    }
                    _ => {
                        elf[at] = 0x90;
                        at += 1;
                    }
                }
            }
            elf[at..start(f) + 256].fill(0xCC);
        }
        let len = elf.len() as u64;
        elf[..6].copy_from_slice(b"\x7fELF\x02\x01");
        elf[0x12..0x14].copy_from_slice(&machine.to_le_bytes());
        elf[0x20..0x28].copy_from_slice(&64u64.to_le_bytes()); // program headers
        elf[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
        elf[0x38..0x3a].copy_from_slice(&1u16.to_le_bytes());
        let ph = &mut elf[64..120];
        ph[..4].copy_from_slice(&1u32.to_le_bytes()); // PT_LOAD
        ph[4..8].copy_from_slice(&5u32.to_le_bytes()); // R + X
        ph[16..24].copy_from_slice(&0x40_0000u64.to_le_bytes());
        ph[32..40].copy_from_slice(&len.to_le_bytes());
        let mut tar = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(len);
        header.set_mode(0o755);
        header.set_cksum();
        tar.append_data(&mut header, "bin/app", &elf[..]).unwrap();
        tar.into_inner().unwrap()
    }

    /// Code moved by an insertion changes the field of every call across it; version 2
    /// predicts those fields from the moves, so the patch is a fraction of version 1's (the
    /// same bytes as foreign code), and both apply exactly: x86-64 and AArch64 code.
    #[test]
    fn calls_across_moved_code_are_predicted() {
        // 2,000 functions: 512 KiB of code, read in several pieces when applying.
        for (machine, a64) in [(62, false), (183, true)] {
            let old = elf_tar(machine, a64, 2_000, None);
            let new = elf_tar(machine, a64, 2_000, Some(1_000));
            let patch = patch_of(&old, &new);
            assert_eq!(patch[8], VERSION_REFERENCES);
            assert_eq!(apply(&old, &patch, new.len() as u64).unwrap(), new);
            let foreign_old = elf_tar(20, a64, 2_000, None);
            let foreign_new = elf_tar(20, a64, 2_000, Some(1_000));
            let foreign = patch_of(&foreign_old, &foreign_new);
            assert_eq!(foreign[8], VERSION);
            assert_eq!(
                apply(&foreign_old, &foreign, foreign_new.len() as u64).unwrap(),
                foreign_new
            );
            assert!(
                patch.len() * 2 < foreign.len(),
                "machine {machine}: predicted {} bytes, version 1 {} bytes",
                patch.len(),
                foreign.len()
            );
        }
    }

    /// Every cut of a version 2 patch's header, code table and control stream is refused as
    /// corrupt, as are code ranges past the end of the base, a control chunk in a segment and
    /// a control stream above its limit.
    #[test]
    fn hostile_version_2_headers_are_refused() {
        let (old, new) = (
            elf_tar(62, false, 400, None),
            elf_tar(62, false, 400, Some(200)),
        );
        let patch = patch_of(&old, &new);
        let corrupt = |patch: &[u8]| {
            matches!(
                apply(&old, patch, new.len() as u64),
                Err(PatchError::Corrupt { .. })
            )
        };
        // Header, code table (1 member: instruction set, 1 load), control length, some control
        // bytes.
        let table_end = HEADER_BYTES + 3 + crate::patch::references::LOAD_BYTES;
        for cut in 0..table_end + 40 {
            assert!(corrupt(&patch[..cut]), "cut at {cut}");
        }
        let mut past_end = patch.clone();
        past_end[HEADER_BYTES + 3..HEADER_BYTES + 11]
            .copy_from_slice(&(old.len() as u64 - 10).to_le_bytes());
        assert!(corrupt(&past_end));
        let mut unknown_set = patch.clone();
        unknown_set[HEADER_BYTES + 1] = 9; // the member's instruction set
        assert!(corrupt(&unknown_set));
        let mut big_control = patch.clone();
        big_control[table_end..table_end + 4]
            .copy_from_slice(&(MAX_CONTROL_BYTES + 1).to_le_bytes());
        assert!(corrupt(&big_control));
        // The first segment's control chunk length, made non-zero.
        let control_len = u32::from_le_bytes(patch[table_end..table_end + 4].try_into().unwrap());
        let segment = table_end + 4 + control_len as usize;
        let mut control_chunk = patch.clone();
        control_chunk[segment + 4] = 1;
        assert!(corrupt(&control_chunk));
        // A version 1 patch labelled version 2.
        let mut relabelled = patch_of(&old[..60_000], &new[..60_000]);
        assert_eq!(relabelled[8], VERSION);
        relabelled[8] = VERSION_REFERENCES;
        assert!(corrupt(&relabelled));
    }

    /// A block of text written over random bytes (the demo's kind of release) is sent as the
    /// text, not as its difference from the random bytes, and still applies exactly.
    #[test]
    fn a_rewritten_block_is_sent_as_new_bytes() {
        let old = tufd_testkit::rng::bytes(1 << 20, 7);
        let mut new = old.clone();
        new[500_000..504_096].fill(b'0');
        let records = records(&old, &new, Windows::default());
        let covered: u64 = records.iter().map(|r| r.add + r.copy).sum();
        assert_eq!(covered, new.len() as u64);
        assert!(
            records.iter().any(|r| r.copy >= 4_000),
            "the block is a copy: {records:?}"
        );
        let patch = patch_of(&old, &new);
        assert!(patch.len() < 1_024, "{} bytes", patch.len());
        assert_eq!(apply(&old, &patch, new.len() as u64).unwrap(), new);
    }

    /// Differences that compress better than the new bytes stay differences: a release that
    /// adds one to every byte of a stretch is sent as the difference (a constant).
    #[test]
    fn a_constant_difference_stays_a_difference() {
        let old = tufd_testkit::rng::bytes(1 << 20, 8);
        let mut new = old.clone();
        new[300_000..310_000]
            .iter_mut()
            .for_each(|b| *b = b.wrapping_add(1));
        let records = records(&old, &new, Windows::default());
        assert!(records.iter().all(|r| r.copy < 64), "{records:?}");
        let patch = patch_of(&old, &new);
        assert!(patch.len() < 1_024, "{} bytes", patch.len());
        assert_eq!(apply(&old, &patch, new.len() as u64).unwrap(), new);
    }

    #[test]
    fn round_trip_across_many_segments() {
        let old = tufd_testkit::rng::binary_like(3 * SEGMENT_BYTES + 777, 5);
        let mut new = old.clone();
        for i in (100..new.len()).step_by(9_000) {
            new[i] ^= 0x5a;
        }
        new.splice(
            1_500_000..1_500_000,
            tufd_testkit::rng::binary_like(70_000, 6),
        );
        new.drain(2_000_000..2_100_000);
        let patch = patch_of(&old, &new);
        assert!(patch.len() < 200_000, "{} bytes", patch.len());
        assert_eq!(apply(&old, &patch, u64::MAX).unwrap(), new);
    }

    #[test]
    fn hostile_headers_are_refused_before_allocating() {
        let good = patch_of(b"some old bytes here", b"some new bytes there");
        let mut bad_magic = good.clone();
        bad_magic[0] ^= 1;
        let mut bad_version = good.clone();
        bad_version[8] = 2;
        let mut bad_reserved = good.clone();
        bad_reserved[10] = 1;
        let mut huge_dict = good.clone();
        huge_dict[13] = 40;
        let mut tiny_dict = good.clone();
        tiny_dict[14] = 0;
        for patch in [bad_magic, bad_version, bad_reserved, huge_dict, tiny_dict] {
            let err = apply(b"some old bytes here", &patch, 1 << 20).unwrap_err();
            assert!(matches!(err, PatchError::Corrupt { .. }), "{err:?}");
        }
        // A declared size above the limit is refused before any output.
        let mut huge_size = good.clone();
        huge_size[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
        let mut out = Vec::new();
        let err = BsdiffLzma
            .apply(b"some old bytes here", &huge_size, 1 << 30, &mut out)
            .unwrap_err();
        assert!(matches!(err, PatchError::TooLarge { .. }), "{err:?}");
        assert!(out.is_empty());
    }

    #[test]
    fn hostile_segments_are_refused() {
        let old = b"some old bytes here".as_slice();
        let good = patch_of(old, b"some new bytes there");
        let set = |at: usize, v: u32| {
            let mut p = good.clone();
            p[at..at + 4].copy_from_slice(&v.to_le_bytes());
            p
        };
        let seg = HEADER_BYTES;
        let cases = [
            set(seg, 0),                       // an empty segment
            set(seg, MAX_SEGMENT_BYTES + 1),   // above the segment limit
            set(seg, 1000),                    // past the declared size
            set(seg + 4, MAX_CHUNK_BYTES + 1), // a chunk above the limit
            set(seg + 8, u32::MAX),            // a chunk far above the limit
            good[..good.len() - 1].to_vec(),   // truncated
            good[..HEADER_BYTES - 1].to_vec(), // truncated header
            [good.as_slice(), b"x"].concat(),  // trailing data
        ];
        for patch in cases {
            let err = apply(old, &patch, 1 << 20).unwrap_err();
            assert!(matches!(err, PatchError::Corrupt { .. }), "{err:?}");
        }
    }

    #[test]
    fn garbage_chunks_are_corrupt_not_panics() {
        let old = tufd_testkit::rng::binary_like(100_000, 1);
        let mut new = old.clone();
        new[500] ^= 1;
        new.extend_from_slice(b"tail");
        let good = patch_of(&old, &new);
        for i in HEADER_BYTES + 20..good.len() {
            let mut p = good.clone();
            p[i] ^= 0xff;
            // Either refused or a wrong output, which the signed digest catches; never a panic
            // and never more than the limit.
            if let Ok(out) = apply(&old, &p, new.len() as u64) {
                assert_eq!(out.len(), new.len());
            }
        }
    }

    #[test]
    fn windowed_matching_round_trips_and_costs_little_on_aligned_edits() {
        let old = tufd_testkit::rng::binary_like(1 << 20, 3);
        let mut new = old.clone();
        for i in (1000..new.len()).step_by(50_000) {
            new[i] ^= 0xff;
        }
        new.splice(400_000..400_000, tufd_testkit::rng::binary_like(20_000, 4));
        let windows = Windows {
            base_bytes: 256 * 1024,
            new_bytes: 128 * 1024,
        };
        let recs = records(&old, &new, windows);
        let covered: u64 = recs.iter().map(|r| r.add + r.copy).sum();
        assert_eq!(covered, new.len() as u64);
        let mut windowed = Vec::new();
        BsdiffLzma
            .diff_with_windows(&old, &new, windows, &mut windowed)
            .unwrap();
        assert_eq!(apply(&old, &windowed, u64::MAX).unwrap(), new);
        let whole = patch_of(&old, &new);
        assert!(
            windowed.len() < whole.len() + 2_000,
            "{} vs {}",
            windowed.len(),
            whole.len()
        );
    }

    #[test]
    fn dict_logs() {
        assert_eq!(dict_log_for(0), MIN_DICT_LOG);
        assert_eq!(dict_log_for(5000), 13);
        assert_eq!(dict_log_for(1 << 20), 20);
        assert_eq!(dict_log_for(u64::MAX), MAX_DICT_LOG);
    }
}
