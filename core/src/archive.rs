//! Deterministic tar archives, their compression, and safe extraction.
//!
//! CONTRACT (implementation pending, see the helper's task): the same bundle folder gives a
//! byte-identical tar on every run and from any copy of the folder.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::custom::TarDigest;

/// Archive compression, chosen by the target suffix.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Compression {
    /// gzip (`.tar.gz`), tufup's format.
    #[default]
    Gzip,
    /// zstd (`.tar.zst`).
    Zstd,
}

/// Limits applied while extracting.
#[derive(Clone, Debug)]
pub struct ExtractLimits {
    /// Total bytes of file content allowed.
    pub max_total_bytes: u64,
    /// Number of entries allowed.
    pub max_entries: u64,
}

/// What an extraction produced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExtractSummary {
    /// Regular files written.
    pub files: u64,
    /// Folders created.
    pub dirs: u64,
    /// Symlinks created.
    pub symlinks: u64,
    /// Bytes of file content written.
    pub bytes: u64,
}

/// Errors of archive creation and extraction.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ArchiveError {
    /// I/O failure on a path.
    #[error("i/o error on {path}")]
    Io {
        /// Where.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
}

/// Writes the deterministic tar of `bundle` to `out`; returns its digest and length.
pub fn write_tar(
    _bundle: &Path,
    _out: &mut dyn Write,
    _progress: &mut dyn FnMut(u64),
) -> Result<TarDigest, ArchiveError> {
    todo!()
}

/// Compresses `tar` into `out`; returns bytes written.
pub fn compress(
    _tar: &mut dyn Read,
    _compression: Compression,
    _out: &mut dyn Write,
) -> Result<u64, ArchiveError> {
    todo!()
}

/// Decompresses `archive` into `out`, refusing more than `max_bytes`.
pub fn decompress(
    _archive: &mut dyn Read,
    _compression: Compression,
    _out: &mut dyn Write,
    _max_bytes: u64,
) -> Result<u64, ArchiveError> {
    todo!()
}

/// Extracts `tar` into the fresh folder `dest`.
pub fn extract_tar(
    _tar: &mut dyn Read,
    _dest: &Path,
    _limits: &ExtractLimits,
) -> Result<ExtractSummary, ArchiveError> {
    todo!()
}
