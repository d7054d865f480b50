//! Binary patch codecs between uncompressed tars, behind one trait (docs/repository-format.md,
//! "Patches": patches are computed on the uncompressed tar, never on the `.tar.gz`).
//!
//! - [`bidiff_zstd`]: `bidiff-zstd`, tufd's default: a bidiff 1.0 patch (magic `0xB1DF`)
//!   compressed as one zstd frame (level 19, long-distance matching, window covering the
//!   patch). Cheapest to apply.
//! - [`bsdiff4`]: `bsdiff4`, Colin Percival's `BSDIFF40` format through qbsdiff, which tufup
//!   clients (Python `bsdiff4`) apply.
//!
//! Applying never writes more than the caller's limit, and [`apply_verified`] /
//! [`apply_verified_stream`] check the result against the signed `tar_hash` / `tar_size`. A
//! truncated or garbage patch is an error, never a panic (codec panics are caught as a last
//! resort). Patch creation is CPU heavy (tens of seconds for a 28 MB tar) and belongs to
//! `tufd-repo`; application takes well under a second.
//!
//! Memory when applying from files ([`PatchCodec::apply_stream`]): `bidiff-zstd` streams both
//! inputs (the base through a 4 MiB block cache, see `input.rs`), so it holds the zstd window of
//! the patch (at most its raw length; 8 MiB for patches made here, see
//! [`bidiff_zstd::WINDOW_LOG_CAP`]) plus buffers, whatever the tar size: 17 MiB peak RSS for
//! ruff 0.6.0 → 0.6.1 (28.7 MB tars) in `bench/codecs`. `bsdiff4` (qbsdiff) needs both inputs as slices and reads
//! them whole into memory: base plus patch.

pub mod bidiff_zstd;
pub mod bsdiff4;
pub mod bsdiff_lzma;
mod input;
mod matcher;
pub mod references;

use std::io::{self, Cursor, Read, Seek, Write};
use std::panic::{self, AssertUnwindSafe};

use crate::custom::{Codec, TarDigest};
use crate::hash::HashingWriter;

/// Errors of patch creation and application.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PatchError {
    /// The output does not match the signed digest.
    #[error(
        "patched tar does not match: expected {expected_size} bytes sha256 {expected}, got {actual_size} bytes sha256 {actual}"
    )]
    Mismatch {
        /// Expected digest.
        expected: crate::Sha256,
        /// Expected length in bytes.
        expected_size: u64,
        /// Actual digest.
        actual: crate::Sha256,
        /// Actual length in bytes.
        actual_size: u64,
    },
    /// The patch is truncated, garbage, or not of this codec (or does not fit this base).
    #[error("corrupt {codec} patch: {reason}")]
    Corrupt {
        /// The codec that tried to read it.
        codec: Codec,
        /// What was wrong.
        reason: String,
    },
    /// The patch would produce more than the allowed output.
    #[error("patch output exceeds the limit of {limit_bytes} bytes")]
    TooLarge {
        /// The limit, in bytes.
        limit_bytes: u64,
    },
    /// Creating a patch failed inside the codec.
    #[error("creating a {codec} patch failed: {reason}")]
    Diff {
        /// The codec.
        codec: Codec,
        /// What failed.
        reason: String,
    },
    /// Reading an input or writing the patch or the patched output failed.
    #[error("i/o error on the {stage}")]
    Io {
        /// `patch`, `base tar` or `patched output`.
        stage: &'static str,
        /// Cause.
        #[source]
        source: io::Error,
    },
}

/// A readable, seekable byte source: the base tar of a patch (a `File`, a `Cursor` over bytes).
pub trait ReadSeek: Read + Seek {}

impl<T: Read + Seek + ?Sized> ReadSeek for T {}

/// A patch format: make a patch from two tars, apply one.
pub trait PatchCodec: Send + Sync {
    /// Which codec this is.
    fn codec(&self) -> Codec;
    /// Writes a patch turning `old` into `new`. Deterministic: the same inputs give the same
    /// patch bytes.
    ///
    /// # Errors
    /// [`PatchError::Io`] when writing `out` fails; [`PatchError::Diff`] if the codec fails.
    fn diff(&self, old: &[u8], new: &[u8], out: &mut dyn Write) -> Result<(), PatchError>;
    /// Applies the patch read from `patch` to the base read from `old` (from its current
    /// position), writing at most `max_output_bytes` to `out`; returns bytes written. Neither
    /// input needs a buffer in front of it (a plain `File` is best: the codec buffers). Memory:
    /// see the module documentation (`bsdiff4` reads both inputs whole).
    ///
    /// # Errors
    /// [`PatchError::TooLarge`] when the patch declares or produces more than
    /// `max_output_bytes` (at most that many bytes reach `out`); [`PatchError::Corrupt`] for a
    /// truncated, garbage or mismatched patch; [`PatchError::Io`] when reading `old` (stage
    /// `base tar`) or `patch` (stage `patch`), or writing `out` (stage `patched output`) fails.
    fn apply_stream(
        &self,
        old: &mut dyn ReadSeek,
        patch: &mut dyn Read,
        max_output_bytes: u64,
        out: &mut dyn Write,
    ) -> Result<u64, PatchError>;

    /// [`PatchCodec::apply_stream`] on inputs already in memory.
    ///
    /// # Errors
    /// As [`PatchCodec::apply_stream`].
    fn apply(
        &self,
        old: &[u8],
        patch: &[u8],
        max_output_bytes: u64,
        out: &mut dyn Write,
    ) -> Result<u64, PatchError> {
        self.apply_stream(&mut Cursor::new(old), &mut &*patch, max_output_bytes, out)
    }
}

/// The codec implementing `codec`.
pub fn codec_for(codec: Codec) -> &'static dyn PatchCodec {
    match codec {
        Codec::BidiffZstd => &bidiff_zstd::BidiffZstd,
        Codec::Bsdiff4 => &bsdiff4::Bsdiff4,
        Codec::BsdiffLzma => &bsdiff_lzma::BsdiffLzma,
    }
}

/// Applies `patch` to `old` with `codec`, writing to `out`, and checks the result against
/// `expected` (length and sha256). Never writes more than `expected.size_bytes` bytes. `out`
/// receives the bytes before they are checked: write to a temporary file and keep it only on
/// `Ok`, as `tufd_install::build` does.
///
/// # Errors
/// [`PatchError::Mismatch`] when the output differs from `expected` (a wrong base or a wrong
/// patch); [`PatchError::TooLarge`] when it would be longer; otherwise as
/// [`PatchCodec::apply`].
pub fn apply_verified(
    codec: Codec,
    old: &[u8],
    patch: &[u8],
    expected: &TarDigest,
    out: &mut (dyn Write + Send),
) -> Result<(), PatchError> {
    verified(expected, out, |hashing| {
        codec_for(codec).apply(old, patch, expected.size_bytes, hashing)
    })
}

/// [`apply_verified`] reading the base from `old` (from its current position) and the patch
/// from `patch` as streams: the way to apply patches between files. `bidiff-zstd` then holds
/// neither input in memory; `bsdiff4` reads both whole (see the module documentation). The
/// output is written and hashed on a second thread as it is produced, never re-read.
///
/// # Errors
/// As [`apply_verified`], and [`PatchError::Io`] when reading an input fails.
pub fn apply_verified_stream(
    codec: Codec,
    old: &mut dyn ReadSeek,
    patch: &mut dyn Read,
    expected: &TarDigest,
    out: &mut (dyn Write + Send),
) -> Result<(), PatchError> {
    verified(expected, out, |hashing| {
        codec_for(codec).apply_stream(old, patch, expected.size_bytes, hashing)
    })
}

/// Runs `apply` (limited to `expected.size_bytes` by the caller) and compares its output with
/// `expected`. The output is written to `out` and hashed on a second thread while `apply` goes
/// on (hashing and writing inline were about a third of the apply time; a pipe keeps both
/// cores busy, as `zstd -d` does with its I/O thread).
fn verified(
    expected: &TarDigest,
    out: &mut (dyn Write + Send),
    apply: impl FnOnce(&mut dyn Write) -> Result<u64, PatchError>,
) -> Result<(), PatchError> {
    let (applied, written) = std::thread::scope(|scope| {
        let (chunks, received) = std::sync::mpsc::sync_channel::<Vec<u8>>(OUTPUT_QUEUE_CHUNKS);
        let writer = scope.spawn(move || -> io::Result<(crate::Sha256, u64)> {
            let mut hashing = HashingWriter::new(out);
            for chunk in received {
                hashing.write_all(&chunk)?;
            }
            hashing.flush()?;
            let (digest, size, _) = hashing.finish();
            Ok((digest, size))
        });
        let mut sender = ChunkSender(chunks);
        let applied = apply(&mut sender);
        drop(sender);
        let written = writer.join().expect("the output thread does not panic");
        (applied, written)
    });
    // A failed write stops the output thread, which `apply` sees as a failed write of its own:
    // report the cause.
    let (actual, actual_size) = written.map_err(output_error)?;
    applied?;
    if actual != expected.sha256 || actual_size != expected.size_bytes {
        return Err(PatchError::Mismatch {
            expected: expected.sha256,
            expected_size: expected.size_bytes,
            actual,
            actual_size,
        });
    }
    Ok(())
}

/// Chunks of output queued for the output thread of [`verified`] (each one write of
/// [`copy_limited`], at most 256 KiB).
const OUTPUT_QUEUE_CHUNKS: usize = 16;

/// The `Write` that `apply` sees in [`verified`]: hands every chunk to the output thread.
struct ChunkSender(std::sync::mpsc::SyncSender<Vec<u8>>);

impl Write for ChunkSender {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .send(buf.to_vec())
            .map_err(|_| io::Error::other("the patched output's writer stopped"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Copies the patched stream `reader` into `out`, refusing to pass `max_output_bytes`; read
/// errors mean a corrupt patch. Returns the bytes written.
pub(crate) fn copy_limited(
    codec: Codec,
    reader: &mut dyn Read,
    out: &mut dyn Write,
    max_output_bytes: u64,
) -> Result<u64, PatchError> {
    let mut buf = vec![0u8; 256 * 1024];
    let mut written = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(PatchError::Corrupt {
                    codec,
                    reason: e.to_string(),
                });
            }
        };
        if n as u64 > max_output_bytes - written {
            let fit = (max_output_bytes - written) as usize;
            out.write_all(&buf[..fit]).map_err(output_error)?;
            return Err(PatchError::TooLarge {
                limit_bytes: max_output_bytes,
            });
        }
        out.write_all(&buf[..n]).map_err(output_error)?;
        written += n as u64;
    }
    out.flush().map_err(output_error)?;
    Ok(written)
}

pub(crate) fn output_error(source: io::Error) -> PatchError {
    PatchError::Io {
        stage: "patched output",
        source,
    }
}

pub(crate) fn patch_io_error(source: io::Error) -> PatchError {
    PatchError::Io {
        stage: "patch",
        source,
    }
}

pub(crate) fn base_read_error(source: io::Error) -> PatchError {
    PatchError::Io {
        stage: "base tar",
        source,
    }
}

/// Runs third-party codec code, turning a panic (a codec bug on hostile input) into an error.
pub(crate) fn guard<T>(
    codec: Codec,
    what: &'static str,
    f: impl FnOnce() -> Result<T, PatchError>,
) -> Result<T, PatchError> {
    match panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(_) => Err(PatchError::Corrupt {
            codec,
            reason: format!("the codec panicked while {what}"),
        }),
    }
}

/// A writer that refuses to pass a byte limit, remembering whether the limit or the inner
/// writer failed (codecs that own the write loop only report an `io::Error`).
pub(crate) struct LimitedWriter<'a> {
    inner: &'a mut dyn Write,
    limit_bytes: u64,
    written: u64,
    pub(crate) over_limit: bool,
    pub(crate) inner_error: Option<io::Error>,
}

impl<'a> LimitedWriter<'a> {
    pub(crate) fn new(inner: &'a mut dyn Write, limit_bytes: u64) -> Self {
        Self {
            inner,
            limit_bytes,
            written: 0,
            over_limit: false,
            inner_error: None,
        }
    }

    pub(crate) fn written(&self) -> u64 {
        self.written
    }

    /// Classifies an error the codec returned: the limit, the output, or the patch itself.
    pub(crate) fn classify(&mut self, codec: Codec, e: io::Error) -> PatchError {
        if self.over_limit {
            PatchError::TooLarge {
                limit_bytes: self.limit_bytes,
            }
        } else if let Some(source) = self.inner_error.take() {
            output_error(source)
        } else {
            PatchError::Corrupt {
                codec,
                reason: e.to_string(),
            }
        }
    }
}

impl Write for LimitedWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.len() as u64 > self.limit_bytes - self.written {
            self.over_limit = true;
            return Err(io::Error::other("patch output limit reached"));
        }
        match self.inner.write_all(buf) {
            Ok(()) => {
                self.written += buf.len() as u64;
                Ok(buf.len())
            }
            Err(e) => {
                let kind = e.kind();
                self.inner_error = Some(e);
                Err(io::Error::new(kind, "patched output write failed"))
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush().inspect_err(|e| {
            self.inner_error = Some(io::Error::new(e.kind(), e.to_string()));
        })
    }
}

#[cfg(test)]
mod tests {
    use std::fs::File;
    use std::io::{Seek, SeekFrom};

    use super::*;

    const CODECS: [Codec; 3] = [Codec::BidiffZstd, Codec::Bsdiff4, Codec::BsdiffLzma];

    use tufd_testkit::rng::binary_like as bytes;

    /// `old` with scattered edits, an insertion, a deletion and a block moved to the end.
    fn edited(old: &[u8]) -> Vec<u8> {
        let mut new = old.to_vec();
        for i in (500..new.len()).step_by(40_000) {
            new[i] = new[i].wrapping_add(3);
        }
        new.splice(300_000..300_000, bytes(5_000, 99));
        new.drain(700_000..720_000);
        let block = new[50_000..90_000].to_vec();
        new.extend_from_slice(&block);
        new
    }

    fn digest(data: &[u8]) -> TarDigest {
        TarDigest {
            sha256: crate::Sha256::digest(data),
            size_bytes: data.len() as u64,
        }
    }

    /// `old`, `new`, and for each codec its patch, with `old` and the patch also in files.
    struct Case {
        _dir: tempfile::TempDir,
        new: Vec<u8>,
        old_path: std::path::PathBuf,
        patches: Vec<(Codec, Vec<u8>, std::path::PathBuf)>,
    }

    fn case() -> Case {
        let dir = tempfile::tempdir().unwrap();
        let old = bytes(1 << 20, 7);
        let new = edited(&old);
        let old_path = dir.path().join("old.tar");
        std::fs::write(&old_path, &old).unwrap();
        let patches = CODECS
            .iter()
            .map(|&codec| {
                let mut patch = Vec::new();
                codec_for(codec).diff(&old, &new, &mut patch).unwrap();
                let path = dir.path().join(format!("{codec}.patch"));
                std::fs::write(&path, &patch).unwrap();
                (codec, patch, path)
            })
            .collect();
        Case {
            _dir: dir,
            new,
            old_path,
            patches,
        }
    }

    #[test]
    fn applying_from_files_gives_the_same_bytes_as_from_memory() {
        let case = case();
        let old = std::fs::read(&case.old_path).unwrap();
        for (codec, patch, patch_path) in &case.patches {
            let mut from_memory = Vec::new();
            apply_verified(*codec, &old, patch, &digest(&case.new), &mut from_memory).unwrap();
            let mut from_files = Vec::new();
            apply_verified_stream(
                *codec,
                &mut File::open(&case.old_path).unwrap(),
                &mut File::open(patch_path).unwrap(),
                &digest(&case.new),
                &mut from_files,
            )
            .unwrap();
            assert_eq!(from_files, case.new, "{codec}");
            assert_eq!(from_memory, from_files, "{codec}");
        }
    }

    #[test]
    fn the_base_is_read_from_its_current_position() {
        // A base stored after a 512-byte prefix in its file: positions count from the file's
        // start, reading starts where the caller left it.
        let case = case();
        let mut prefixed = vec![0xAA; 512];
        prefixed.extend_from_slice(&std::fs::read(&case.old_path).unwrap());
        let mut base = std::io::Cursor::new(prefixed);
        for (codec, patch, _) in &case.patches {
            base.seek(SeekFrom::Start(512)).unwrap();
            let mut out = Vec::new();
            let n = codec_for(*codec)
                .apply_stream(&mut base, &mut patch.as_slice(), u64::MAX, &mut out)
                .unwrap();
            assert_eq!(out, case.new, "{codec}");
            assert_eq!(n, case.new.len() as u64, "{codec}");
        }
    }

    #[test]
    fn a_truncated_patch_file_is_corrupt() {
        let case = case();
        for (codec, patch, patch_path) in &case.patches {
            for cut in [0, 3, 20, patch.len() / 3, patch.len() / 2, patch.len() - 2] {
                let mut out = Vec::new();
                let file = File::open(patch_path).unwrap();
                let result = codec_for(*codec).apply_stream(
                    &mut File::open(&case.old_path).unwrap(),
                    &mut file.take(cut as u64),
                    u64::MAX,
                    &mut out,
                );
                if *codec == Codec::Bsdiff4 && cut == patch.len() - 2 {
                    // A cut in the last bzip2 stream's trailer can go unnoticed by qbsdiff
                    // (core/tests/patch.rs); the signed digest catches a wrong result.
                    assert!(result.is_err() || out == case.new, "{codec}");
                    continue;
                }
                assert!(
                    matches!(&result, Err(PatchError::Corrupt { codec: c, .. }) if c == codec),
                    "{codec} cut at {cut}/{}: {result:?}",
                    patch.len()
                );
            }
        }
    }

    #[test]
    fn the_output_limit_holds_when_streaming() {
        let case = case();
        for (codec, _, patch_path) in &case.patches {
            let limit = case.new.len() as u64 - 1;
            let mut out = Vec::new();
            let err = codec_for(*codec)
                .apply_stream(
                    &mut File::open(&case.old_path).unwrap(),
                    &mut File::open(patch_path).unwrap(),
                    limit,
                    &mut out,
                )
                .unwrap_err();
            assert!(
                matches!(err, PatchError::TooLarge { limit_bytes } if limit_bytes == limit),
                "{codec}: {err:?}"
            );
            assert!(out.len() as u64 <= limit, "{codec}: {} bytes", out.len());

            // Through apply_verified_stream: a signed size one byte short is refused the same way.
            let mut short = digest(&case.new);
            short.size_bytes = limit;
            let mut out = Vec::new();
            let err = apply_verified_stream(
                *codec,
                &mut File::open(&case.old_path).unwrap(),
                &mut File::open(patch_path).unwrap(),
                &short,
                &mut out,
            )
            .unwrap_err();
            assert!(
                matches!(err, PatchError::TooLarge { .. }),
                "{codec}: {err:?}"
            );
            assert!(out.len() as u64 <= limit, "{codec}");
        }
    }

    #[test]
    fn a_wrong_base_file_is_a_mismatch() {
        let case = case();
        let mut other = std::fs::read(&case.old_path).unwrap();
        for i in (0..other.len()).step_by(4096) {
            other[i] ^= 0x55;
        }
        for (codec, patch, _) in &case.patches {
            let err = apply_verified_stream(
                *codec,
                &mut std::io::Cursor::new(&other),
                &mut patch.as_slice(),
                &digest(&case.new),
                &mut Vec::new(),
            )
            .unwrap_err();
            assert!(
                matches!(err, PatchError::Mismatch { .. }),
                "{codec}: {err:?}"
            );
        }
    }

    /// A reader (and seeker) that fails once `fail_after` bytes have been read.
    struct Failing<R> {
        inner: R,
        left: u64,
    }

    impl<R: Read> Read for Failing<R> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.left == 0 {
                return Err(io::Error::other("device error"));
            }
            let max = buf
                .len()
                .min(usize::try_from(self.left).unwrap_or(usize::MAX));
            let n = self.inner.read(&mut buf[..max])?;
            self.left -= n as u64;
            Ok(n)
        }
    }

    impl<R: Seek> Seek for Failing<R> {
        fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
            self.inner.seek(pos)
        }
    }

    #[test]
    fn failing_inputs_are_io_errors_not_corrupt_patches() {
        let case = case();
        for (codec, patch, patch_path) in &case.patches {
            let mut base = Failing {
                inner: File::open(&case.old_path).unwrap(),
                left: 100_000,
            };
            let err = codec_for(*codec)
                .apply_stream(&mut base, &mut patch.as_slice(), u64::MAX, &mut Vec::new())
                .unwrap_err();
            assert!(
                matches!(
                    err,
                    PatchError::Io {
                        stage: "base tar",
                        ..
                    }
                ),
                "{codec}: {err:?}"
            );

            let mut patch_input = Failing {
                inner: File::open(patch_path).unwrap(),
                left: patch.len() as u64 / 2,
            };
            let err = codec_for(*codec)
                .apply_stream(
                    &mut File::open(&case.old_path).unwrap(),
                    &mut patch_input,
                    u64::MAX,
                    &mut Vec::new(),
                )
                .unwrap_err();
            assert!(
                matches!(err, PatchError::Io { stage: "patch", .. }),
                "{codec}: {err:?}"
            );
        }
    }

    /// A writer that accepts `room` bytes, then fails with "no space".
    struct FullDisk {
        room: usize,
        got: Vec<u8>,
    }

    impl Write for FullDisk {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if buf.len() > self.room {
                return Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"));
            }
            self.room -= buf.len();
            self.got.extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_failing_output_is_an_io_error_of_the_patched_output() {
        let case = case();
        for (codec, _, patch_path) in &case.patches {
            let mut out = FullDisk {
                room: 64 << 10,
                got: Vec::new(),
            };
            let err = apply_verified_stream(
                *codec,
                &mut File::open(&case.old_path).unwrap(),
                &mut File::open(patch_path).unwrap(),
                &digest(&case.new),
                &mut out,
            )
            .unwrap_err();
            match err {
                PatchError::Io {
                    stage: "patched output",
                    source,
                } => assert_eq!(source.kind(), io::ErrorKind::StorageFull, "{codec}"),
                other => panic!("{codec}: {other:?}"),
            }
            assert!(out.got.len() <= 64 << 10);
        }
    }

    #[test]
    fn the_output_thread_writes_every_byte_in_order() {
        let case = case();
        for (codec, _, patch_path) in &case.patches {
            let mut out = Vec::new();
            apply_verified_stream(
                *codec,
                &mut File::open(&case.old_path).unwrap(),
                &mut File::open(patch_path).unwrap(),
                &digest(&case.new),
                &mut out,
            )
            .unwrap();
            assert_eq!(out, case.new, "{codec}");
        }
    }
}
