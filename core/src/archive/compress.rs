//! gzip and zstd for archives: deterministic output, and decompression with a size limit.
//!
//! - gzip: level [`GZIP_LEVEL`] (9, as tufup), header with mtime 0, no file name, OS byte 255
//!   (unknown), so the same tar always gives the same `.tar.gz` with this build (flate2's
//!   deflate implementation may change bytes across versions; the signed `tar_hash` is what
//!   clients check).
//! - zstd: level [`ZSTD_LEVEL`] (19) with long-distance matching and a window of
//!   2^[`ZSTD_ARCHIVE_WINDOW_LOG`] bytes (128 MiB). 27 is the largest window stock decoders accept
//!   without a flag (`zstd -d` needs `--long=N` / `--memory` above it), so `.tar.zst` files
//!   open anywhere. Single-threaded, so output is deterministic.
//! - [`decompress`] never writes more than its limit and refuses zstd frames whose window is
//!   above 2^[`ZSTD_WINDOW_LOG_MAX`] before allocating it (a 37 KB frame may declare a 2 GiB
//!   window; the decoder would allocate it).

use std::io::{self, Read, Write};

use super::{ArchiveError, Compression};

/// gzip compression level of `.tar.gz` archives.
pub const GZIP_LEVEL: u32 = 9;
/// zstd compression level of `.tar.zst` archives and `bidiff-zstd` patches.
pub const ZSTD_LEVEL: i32 = 19;
/// log2 of the zstd window of `.tar.zst` archives, in bytes (2^27 = 128 MiB).
pub const ZSTD_ARCHIVE_WINDOW_LOG: u32 = 27;
/// log2 of the largest zstd window the decoders here accept: 2^27 = 128 MiB, the window
/// `tufd-repo` writes archives with (and more than its patches use), which bounds a client's
/// decoding memory whatever a frame declares.
pub const ZSTD_WINDOW_LOG_MAX: u32 = ZSTD_ARCHIVE_WINDOW_LOG;

const BUF_BYTES: usize = 256 * 1024;

/// A compressor writing to a caller's stream and counting compressed bytes.
pub(crate) enum Encoder<'a> {
    Gzip(flate2::write::GzEncoder<Counting<'a>>),
    Zstd(zstd::stream::write::Encoder<'static, Counting<'a>>),
}

impl<'a> Encoder<'a> {
    pub(crate) fn new(compression: Compression, out: &'a mut dyn Write) -> io::Result<Self> {
        let out = Counting {
            inner: out,
            bytes: 0,
        };
        Ok(match compression {
            Compression::Gzip => Encoder::Gzip(
                flate2::GzBuilder::new()
                    .mtime(0)
                    .operating_system(255)
                    .write(out, flate2::Compression::new(GZIP_LEVEL)),
            ),
            Compression::Zstd => {
                let mut encoder = zstd::stream::write::Encoder::new(out, ZSTD_LEVEL)?;
                encoder.long_distance_matching(true)?;
                encoder.window_log(ZSTD_ARCHIVE_WINDOW_LOG)?;
                encoder.include_checksum(true)?;
                Encoder::Zstd(encoder)
            }
        })
    }

    /// Ends the stream; returns the compressed bytes written.
    pub(crate) fn finish(self) -> io::Result<u64> {
        let counting = match self {
            Encoder::Gzip(e) => e.finish()?,
            Encoder::Zstd(e) => e.finish()?,
        };
        Ok(counting.bytes)
    }
}

impl Write for Encoder<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Encoder::Gzip(e) => e.write(buf),
            Encoder::Zstd(e) => e.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Encoder::Gzip(e) => e.flush(),
            Encoder::Zstd(e) => e.flush(),
        }
    }
}

/// Counts bytes written through it.
pub(crate) struct Counting<'a> {
    inner: &'a mut dyn Write,
    bytes: u64,
}

impl Write for Counting<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Compresses `tar` into `out`; returns the compressed bytes written. Deterministic: the same
/// input gives the same output (see the module doc for levels and headers).
///
/// # Errors
/// [`ArchiveError::Stream`] when reading `tar` or writing `out` fails.
pub fn compress(
    tar: &mut dyn Read,
    compression: Compression,
    out: &mut dyn Write,
) -> Result<u64, ArchiveError> {
    let write_err = "writing the compressed archive";
    let mut encoder = Encoder::new(compression, out).map_err(ArchiveError::stream(write_err))?;
    let mut buf = vec![0u8; BUF_BYTES];
    loop {
        let n = match tar.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(ArchiveError::stream("reading the tar")(e)),
        };
        encoder
            .write_all(&buf[..n])
            .map_err(ArchiveError::stream(write_err))?;
    }
    encoder.finish().map_err(ArchiveError::stream(write_err))
}

/// Decompresses `archive` into `out`, refusing to produce more than `max_bytes`; returns the
/// bytes written. gzip input may hold several members (they are concatenated); zstd frames may
/// use windows up to 2^[`ZSTD_WINDOW_LOG_MAX`] bytes and are refused above.
///
/// # Errors
/// [`ArchiveError::TooLarge`] once the output would pass `max_bytes` (at most `max_bytes`
/// have then been written); [`ArchiveError::Decompress`] for a corrupt or truncated stream, or a
/// zstd frame declaring a window above the limit;
/// [`ArchiveError::Stream`] when writing `out` fails.
pub fn decompress(
    archive: &mut dyn Read,
    compression: Compression,
    out: &mut dyn Write,
    max_bytes: u64,
) -> Result<u64, ArchiveError> {
    let corrupt = |source| ArchiveError::Decompress {
        compression,
        source,
    };
    let mut decoder: Box<dyn Read + '_> = match compression {
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(archive)),
        Compression::Zstd => {
            let mut decoder = zstd::stream::read::Decoder::new(archive).map_err(corrupt)?;
            decoder
                .window_log_max(ZSTD_WINDOW_LOG_MAX)
                .map_err(corrupt)?;
            Box::new(decoder)
        }
    };
    let mut buf = vec![0u8; BUF_BYTES];
    let mut total = 0u64;
    loop {
        let n = match decoder.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(corrupt(e)),
        };
        let allowed = max_bytes - total;
        if n as u64 > allowed {
            // Write what fits so the caller sees exactly `max_bytes`, then refuse.
            let fit = allowed as usize;
            out.write_all(&buf[..fit])
                .map_err(ArchiveError::stream("writing the tar"))?;
            return Err(ArchiveError::TooLarge { limit: max_bytes });
        }
        out.write_all(&buf[..n])
            .map_err(ArchiveError::stream("writing the tar"))?;
        total += n as u64;
    }
    out.flush()
        .map_err(ArchiveError::stream("writing the tar"))?;
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        (0..300_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect()
    }

    #[test]
    fn round_trips_and_is_deterministic() {
        let data = sample();
        for compression in [Compression::Gzip, Compression::Zstd] {
            let mut a = Vec::new();
            let n = compress(&mut &data[..], compression, &mut a).unwrap();
            assert_eq!(n, a.len() as u64);
            assert!(a.len() < data.len() / 4, "{compression} did not compress");
            let mut b = Vec::new();
            compress(&mut &data[..], compression, &mut b).unwrap();
            assert_eq!(a, b, "{compression} output differs between runs");
            let mut back = Vec::new();
            let m = decompress(&mut &a[..], compression, &mut back, data.len() as u64).unwrap();
            assert_eq!(m, data.len() as u64);
            assert_eq!(back, data);
        }
    }

    #[test]
    fn gzip_header_is_fixed() {
        let mut gz = Vec::new();
        compress(&mut &b"hello"[..], Compression::Gzip, &mut gz).unwrap();
        // magic, deflate, no flags (no name), mtime 0, xfl 2 (best), OS 255.
        assert_eq!(&gz[..10], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 255]);
    }

    #[test]
    fn refuses_output_over_the_limit() {
        let zeros = vec![0u8; 4 << 20];
        for compression in [Compression::Gzip, Compression::Zstd] {
            let mut packed = Vec::new();
            compress(&mut &zeros[..], compression, &mut packed).unwrap();
            assert!(packed.len() < 64 << 10);
            let mut out = Vec::new();
            let err = decompress(&mut &packed[..], compression, &mut out, 1 << 20).unwrap_err();
            assert!(
                matches!(err, ArchiveError::TooLarge { limit } if limit == 1 << 20),
                "{err:?}"
            );
            assert_eq!(out.len(), 1 << 20);
            // Exactly at the limit is fine.
            let mut out = Vec::new();
            decompress(&mut &packed[..], compression, &mut out, 4 << 20).unwrap();
            assert_eq!(out.len(), 4 << 20);
        }
    }

    #[test]
    fn refuses_corrupt_and_truncated_streams() {
        let data = sample();
        for compression in [Compression::Gzip, Compression::Zstd] {
            let mut packed = Vec::new();
            compress(&mut &data[..], compression, &mut packed).unwrap();
            let truncated = &packed[..packed.len() / 2];
            let err = decompress(&mut &truncated[..], compression, &mut io::sink(), u64::MAX)
                .unwrap_err();
            assert!(matches!(err, ArchiveError::Decompress { .. }), "{err:?}");
            let garbage = b"this is not compressed at all, not even a little";
            let err =
                decompress(&mut &garbage[..], compression, &mut io::sink(), u64::MAX).unwrap_err();
            assert!(matches!(err, ArchiveError::Decompress { .. }), "{err:?}");
        }
    }

    fn zstd_frame(window_log: u32, data: &[u8]) -> Vec<u8> {
        let mut packed = Vec::new();
        let mut enc = zstd::stream::write::Encoder::new(&mut packed, 3).unwrap();
        enc.window_log(window_log).unwrap();
        enc.long_distance_matching(true).unwrap();
        enc.write_all(data).unwrap();
        enc.finish().unwrap();
        packed
    }

    #[test]
    fn a_zstd_frame_declaring_a_window_above_128_mib_is_refused_before_allocating_it() {
        let data = sample();
        let mut back = Vec::new();
        let ok = zstd_frame(ZSTD_ARCHIVE_WINDOW_LOG, &data);
        decompress(&mut &ok[..], Compression::Zstd, &mut back, u64::MAX).unwrap();
        assert_eq!(back, data);
        for window_log in [28, 31] {
            let hostile = zstd_frame(window_log, &data);
            let mut out = Vec::new();
            let err =
                decompress(&mut &hostile[..], Compression::Zstd, &mut out, u64::MAX).unwrap_err();
            assert!(
                matches!(
                    err,
                    ArchiveError::Decompress {
                        compression: Compression::Zstd,
                        ..
                    }
                ),
                "{window_log}: {err:?}"
            );
            assert!(out.is_empty(), "nothing decoded from a refused frame");
        }
    }
}
