//! Binary patch codecs between uncompressed tars, behind one trait (DESIGN: "Targets and their
//! names": patches are computed on the uncompressed tar, never on the `.tar.gz`).
//!
//! - [`bidiff_zstd`]: `bidiff-zstd`, tufd's default: a bidiff 1.0 patch (magic `0xB1DF`)
//!   compressed as one zstd frame (level 19, long-distance matching, window covering the
//!   patch). Cheapest to apply.
//! - [`bsdiff4`]: `bsdiff4`, Colin Percival's `BSDIFF40` format through qbsdiff, which tufup
//!   clients (Python `bsdiff4`) apply.
//!
//! Applying never writes more than the caller's limit, and [`apply_verified`] checks the result
//! against the signed `tar_hash` / `tar_size`. A truncated or garbage patch is an error, never
//! a panic (codec panics are caught as a last resort). Patch creation is CPU heavy (tens of
//! seconds for a 28 MB tar) and belongs to `tufd-repo`; application takes well under a second.

pub mod bidiff_zstd;
pub mod bsdiff4;

use std::io::{self, Read, Write};
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
    /// Writing the patch or the patched output failed.
    #[error("i/o error writing the {stage}")]
    Io {
        /// `patch` or `patched output`.
        stage: &'static str,
        /// Cause.
        #[source]
        source: io::Error,
    },
}

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
    /// Applies `patch` to `old`, writing at most `max_output_bytes` to `out`; returns bytes written.
    ///
    /// # Errors
    /// [`PatchError::TooLarge`] when the patch declares or produces more than
    /// `max_output_bytes` (at most that many bytes reach `out`); [`PatchError::Corrupt`] for a
    /// truncated, garbage or mismatched patch; [`PatchError::Io`] when writing `out` fails.
    fn apply(
        &self,
        old: &[u8],
        patch: &[u8],
        max_output_bytes: u64,
        out: &mut dyn Write,
    ) -> Result<u64, PatchError>;
}

/// The codec implementing `codec`.
pub fn codec_for(codec: Codec) -> &'static dyn PatchCodec {
    match codec {
        Codec::BidiffZstd => &bidiff_zstd::BidiffZstd,
        Codec::Bsdiff4 => &bsdiff4::Bsdiff4,
    }
}

/// Applies `patch` to `old` with `codec`, writing to `out`, and checks the result against
/// `expected` (length and sha256). Never writes more than `expected.size_bytes` bytes. `out`
/// receives the bytes before they are checked: write to a temporary file and keep it only on
/// `Ok` (DESIGN: PatchActor).
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
    out: &mut dyn Write,
) -> Result<(), PatchError> {
    let mut hashing = HashingWriter::new(out);
    codec_for(codec).apply(old, patch, expected.size_bytes, &mut hashing)?;
    let (actual, actual_size, _) = hashing.finish();
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

pub(crate) fn patch_write_error(source: io::Error) -> PatchError {
    PatchError::Io {
        stage: "patch",
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
