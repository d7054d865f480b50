//! The `bidiff-zstd` codec: a bidiff 1.0 patch (divvun's format: magic `0xB1DF`, varint
//! add/copy/seek records, uncompressed) compressed as one zstd frame.
//!
//! Creation: `DiffParams::new(2, Some(1 MiB))` (2 suffix-sort partitions, 1 MiB scan chunks;
//! deterministic, parallel), then zstd level 19 with long-distance matching, the source size
//! pledged, a checksum, and a window of the next power of two at or above the raw patch length,
//! from 2^10 up to 2^[`WINDOW_LOG_CAP`] bytes (8 MiB): the window is what the decoder must hold,
//! so the cap bounds apply memory for any bundle size. It costs nothing measurable: on ruff
//! 0.6.0 → 0.6.1 (29.2 MB raw patch) `zstd -19 --long` gave 2,380,266 B at window 2^22 and
//! 2,378,589 B at 2^25, and this codec's patch is 2,348,092 B at 2^23 against 2,348,614 B
//! at 2^25. The decoder still accepts windows up to 2^31 (`ZSTD_WINDOW_LOG_MAX`),
//! so patches made with larger windows by earlier versions apply.
//!
//! Application streams both inputs: patch reader → zstd decoder → a 64 KiB buffer →
//! `bipatch::Reader` (reading the base through `input::BaseReader`, a 4 MiB block cache) → a
//! size-limited copy. Memory is the decoder's window (the raw patch length,
//! at most 2^[`WINDOW_LOG_CAP`] for patches made here) plus the buffers, not the tar sizes.
//! bipatch treats an `UnexpectedEof` at a record boundary as the end of the patch, so decoder
//! errors are re-tagged first: a truncated zstd frame is corrupt, not a short success.

use std::io::{self, BufReader, Read, Write};

use bidiff::DiffParams;

use super::input::{BaseReader, Recording, blame_inputs};
use super::{
    PatchCodec, PatchError, ReadSeek, base_read_error, copy_limited, guard, patch_io_error,
};
use crate::archive::{ZSTD_LEVEL, ZSTD_WINDOW_LOG_MAX};
use crate::custom::Codec;

/// Suffix-sort partitions used when diffing.
pub const SORT_PARTITIONS: usize = 2;
/// Scan chunk size used when diffing, in bytes.
pub const SCAN_CHUNK_BYTES: usize = 1 << 20;

/// Bytes of the buffer between the zstd decoder and bipatch (64 KiB).
const DECODED_BUFFER_BYTES: usize = 64 * 1024;

/// The `bidiff-zstd` codec.
#[derive(Clone, Copy, Debug, Default)]
pub struct BidiffZstd;

const CODEC: Codec = Codec::BidiffZstd;

/// log2 of the largest zstd window a new patch uses (2^23 bytes = 8 MiB, zstd's own window at
/// level 19): the memory a decoder needs for the window.
pub const WINDOW_LOG_CAP: u32 = 23;

/// log2 of the zstd window for `len` bytes of raw patch: the next power of two, 2^10 ..=
/// 2^[`WINDOW_LOG_CAP`].
pub fn window_log_for(len: u64) -> u32 {
    let log = 64 - len.saturating_sub(1).leading_zeros();
    log.clamp(10, WINDOW_LOG_CAP)
}

impl PatchCodec for BidiffZstd {
    fn codec(&self) -> Codec {
        CODEC
    }

    fn diff(&self, old: &[u8], new: &[u8], out: &mut dyn Write) -> Result<(), PatchError> {
        let diff_error = |reason: String| PatchError::Diff {
            codec: CODEC,
            reason,
        };
        let params = DiffParams::new(SORT_PARTITIONS, Some(SCAN_CHUNK_BYTES))
            .map_err(|e| diff_error(e.to_string()))?;
        let mut raw = Vec::with_capacity(new.len() / 8 + 64);
        if old.is_empty() {
            // bidiff's partitioned suffix array panics on an empty base: write the one record
            // "copy all of new" by hand.
            let mut writer =
                bidiff::enc::Writer::new(&mut raw).map_err(|e| diff_error(e.to_string()))?;
            if !new.is_empty() {
                let control = bidiff::Control {
                    add: &[],
                    copy: new,
                    seek: 0,
                };
                writer
                    .write(&control)
                    .map_err(|e| diff_error(e.to_string()))?;
            }
        } else {
            guard(CODEC, "diffing", || {
                bidiff::simple_diff_with_params(old, new, &mut raw, &params)
                    .map_err(|e| diff_error(e.to_string()))
            })?;
        }

        let mut encoder =
            zstd::stream::write::Encoder::new(out, ZSTD_LEVEL).map_err(patch_io_error)?;
        let setup = |encoder: &mut zstd::stream::write::Encoder<'_, &mut dyn Write>| {
            encoder.long_distance_matching(true)?;
            encoder.window_log(window_log_for(raw.len() as u64))?;
            encoder.include_checksum(true)?;
            encoder.set_pledged_src_size(Some(raw.len() as u64))
        };
        setup(&mut encoder).map_err(|e| diff_error(e.to_string()))?;
        encoder.write_all(&raw).map_err(patch_io_error)?;
        encoder.finish().map_err(patch_io_error)?;
        Ok(())
    }

    fn apply_stream(
        &self,
        old: &mut dyn ReadSeek,
        patch: &mut dyn Read,
        max_output_bytes: u64,
        out: &mut dyn Write,
    ) -> Result<u64, PatchError> {
        let corrupt = |e: &dyn std::fmt::Display| PatchError::Corrupt {
            codec: CODEC,
            reason: e.to_string(),
        };
        let mut base = BaseReader::new(old).map_err(base_read_error)?;
        let mut source = Recording::new(patch);
        let result = guard(CODEC, "applying", || {
            let mut decoder =
                zstd::stream::read::Decoder::new(&mut source).map_err(|e| corrupt(&e))?;
            decoder
                .window_log_max(ZSTD_WINDOW_LOG_MAX)
                .map_err(|e| corrupt(&e))?;
            // bipatch reads varints byte by byte: buffer the decoded stream so that each is a
            // copy, not a call into zstd.
            let decoded = BufReader::with_capacity(DECODED_BUFFER_BYTES, NoEofReader(decoder));
            let mut reader = bipatch::Reader::new(decoded, &mut base).map_err(|e| corrupt(&e))?;
            copy_limited(CODEC, &mut reader, out, max_output_bytes)
        });
        blame_inputs(result, &mut base, &mut source)
    }
}

/// Turns `UnexpectedEof` errors of the inner reader into `InvalidData`, so that bipatch does
/// not take a truncated stream for the end of the patch. A clean end (`Ok(0)`) stays one.
struct NoEofReader<R>(R);

impl<R: Read> Read for NoEofReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf).map_err(|e| {
            if e.kind() == io::ErrorKind::UnexpectedEof {
                io::Error::new(io::ErrorKind::InvalidData, format!("truncated patch: {e}"))
            } else {
                e
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_logs() {
        assert_eq!(window_log_for(0), 10);
        assert_eq!(window_log_for(1000), 10);
        assert_eq!(window_log_for(1 << 20), 20);
        assert_eq!(window_log_for((1 << 20) + 1), 21);
        assert_eq!(window_log_for(4 << 20), 22);
        assert_eq!(window_log_for(29_178_217), WINDOW_LOG_CAP);
        assert_eq!(window_log_for(u64::MAX), WINDOW_LOG_CAP);
    }
}
