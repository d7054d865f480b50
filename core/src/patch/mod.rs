//! Binary patch codecs between uncompressed tars, behind one trait.
//!
//! CONTRACT (implementation pending): `bidiff-zstd` (default) and `bsdiff4` (qbsdiff, BSDIFF40).

use std::io::Write;

use crate::custom::{Codec, TarDigest};

/// Errors of patch creation and application.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PatchError {
    /// The output does not match the signed digest.
    #[error("patched tar does not match: expected {expected_size} bytes sha256 {expected}, got {actual_size} bytes sha256 {actual}")]
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
}

/// A patch format: make a patch from two tars, apply one.
pub trait PatchCodec: Send + Sync {
    /// Which codec this is.
    fn codec(&self) -> Codec;
    /// Writes a patch turning `old` into `new`.
    fn diff(&self, old: &[u8], new: &[u8], out: &mut dyn Write) -> Result<(), PatchError>;
    /// Applies `patch` to `old`, writing at most `max_output_bytes` to `out`; returns bytes written.
    fn apply(
        &self,
        old: &[u8],
        patch: &[u8],
        max_output_bytes: u64,
        out: &mut dyn Write,
    ) -> Result<u64, PatchError>;
}

/// The codec implementing `codec`.
pub fn codec_for(_codec: Codec) -> &'static dyn PatchCodec {
    todo!()
}

/// Applies `patch` to `old` with `codec`, writing to `out`, and checks the result against
/// `expected` (length and sha256).
pub fn apply_verified(
    _codec: Codec,
    _old: &[u8],
    _patch: &[u8],
    _expected: &TarDigest,
    _out: &mut dyn Write,
) -> Result<(), PatchError> {
    todo!()
}
