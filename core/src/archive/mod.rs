//! Deterministic tar archives, their compression, and safe extraction (docs/repository-format.md,
//! "Archives"; docs/architecture.md, "Design rules").
//!
//! - [`write_tar`] (`build.rs`): the same bundle folder gives a byte-identical tar on every run
//!   and from any copy of the folder, so a client can rebuild the tar of an installed version
//!   ([`rebuild_tar`]) and check it against the signed `tar_hash` / `tar_size`.
//! - [`compress`] / [`decompress`] (`compress.rs`): gzip (tufup's format) and zstd,
//!   with deterministic headers and a decompression-bomb limit.
//! - [`extract_tar`] (`extract.rs`): entry by entry into a fresh folder, refusing every path or
//!   link that could leave it; never the tar crate's `unpack_in`.
//!
//! The pure path and link rules both sides share live in `path.rs`. Nothing here talks to the
//! network or knows about TUF: callers verify archives before extracting them.

mod build;
mod compress;
mod extract;
mod modes;
mod path;

pub use modes::TarModes;
pub use path::{WindowsNameProblem, case_folded, windows_name_problem};

use std::fmt;
use std::path::PathBuf;

pub use build::{
    Rebuild, dropped_mode_bits, rebuild_tar, tar_digest_of_folder, tar_modes, write_compressed_tar,
    write_tar, write_tar_with,
};
pub use compress::{
    GZIP_LEVEL, ZSTD_ARCHIVE_WINDOW_LOG, ZSTD_LEVEL, ZSTD_WINDOW_LOG_MAX, compress, decompress,
};
pub use extract::extract_tar;

/// Archive compression, chosen by the target suffix.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Compression {
    /// gzip (`.tar.gz`), tufup's format.
    #[default]
    Gzip,
    /// zstd (`.tar.zst`).
    Zstd,
}

impl Compression {
    /// The short name: `gzip` or `zstd`.
    pub fn as_str(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How many entries an archive may hold and how long their paths may be: what a client accepts
/// before it extracts (and lists) a release. Configurable per app (`--max-archive-entries`,
/// `--max-archive-path-bytes`); the defaults are far above any real application.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntryLimits {
    /// Number of entries allowed (files, folders and links).
    pub max_entries: u64,
    /// Bytes allowed in one entry's path (as written in the tar, UTF-8) or symlink target.
    pub max_path_bytes: usize,
}

impl EntryLimits {
    /// The defaults: 1,000,000 entries, 4096-byte paths (Linux's `PATH_MAX`).
    pub const DEFAULT: EntryLimits = EntryLimits {
        max_entries: 1_000_000,
        max_path_bytes: 4096,
    };
}

impl Default for EntryLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Limits applied while extracting.
#[derive(Clone, Debug)]
pub struct ExtractLimits {
    /// Total bytes of file content allowed.
    pub max_total_bytes: u64,
    /// Number of entries allowed (files, folders and links, counted as read from the tar).
    pub max_entries: u64,
    /// Bytes allowed in an entry's path or a symlink's target ([`EntryLimits::max_path_bytes`]).
    pub max_path_bytes: usize,
    /// Refuse names Windows cannot hold ([`windows_name_problem`]) and paths that differ only
    /// by case: always on Windows ([`ExtractLimits::WINDOWS_NAMES`]), where such an entry would
    /// be renamed, merged or turned into a device or a stream.
    pub windows_names: bool,
}

impl ExtractLimits {
    /// Whether this OS needs [`ExtractLimits::windows_names`]: true on Windows.
    pub const WINDOWS_NAMES: bool = cfg!(windows);
}

/// What an extraction produced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExtractSummary {
    /// Regular files written.
    pub files: u64,
    /// Folders created (listed in the tar or implied by a listed path).
    pub dirs: u64,
    /// Symlinks created.
    pub symlinks: u64,
    /// Bytes of file content written.
    pub bytes: u64,
}

/// Errors of archive creation and extraction.
///
/// Paths inside an archive (`entry`) are given as the text found in the tar; paths on disk
/// (`path`) as full paths.
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
    /// I/O failure on a stream that has no path (the caller's reader or writer).
    #[error("i/o error while {stage}")]
    Stream {
        /// What was going on, e.g. `writing the tar`.
        stage: &'static str,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The bundle folder does not exist.
    #[error("bundle folder {path} does not exist: give the folder holding the built app")]
    BundleMissing {
        /// The path given.
        path: PathBuf,
    },
    /// The bundle path is a file (or something else), not a folder.
    #[error(
        "bundle {path} is not a folder: give the folder holding the built app, not a file in it"
    )]
    BundleNotFolder {
        /// The path given.
        path: PathBuf,
    },
    /// The bundle folder holds nothing.
    #[error("bundle folder {path} is empty: build the app into it first")]
    BundleEmpty {
        /// The path given.
        path: PathBuf,
    },
    /// The bundle holds a fifo, socket or device file.
    #[error("{path} is a {kind}: a bundle may hold only files, folders and symlinks; remove it")]
    UnsupportedFileType {
        /// The offending file.
        path: PathBuf,
        /// `fifo`, `socket`, `character device`, `block device` or `special file`.
        kind: &'static str,
    },
    /// A name in the bundle, or a symlink target, is not UTF-8.
    #[error("{path} has a name or link target that is not UTF-8: rename it")]
    NonUtf8Name {
        /// The offending file.
        path: PathBuf,
    },
    /// A file's length changed while it was being archived.
    #[error(
        "{path} changed while being archived ({expected_bytes} bytes expected, {actual_bytes} read): archive a bundle nothing writes to"
    )]
    FileChanged {
        /// The file.
        path: PathBuf,
        /// Length when listed, in bytes.
        expected_bytes: u64,
        /// Bytes actually read.
        actual_bytes: u64,
    },
    /// The rebuilt tar does not match the signed digest.
    #[error(
        "tar rebuilt from {folder} does not match: expected {expected_size} bytes sha256 {expected}, got {actual_size} bytes sha256 {actual}"
    )]
    TarMismatch {
        /// The folder the tar was built from.
        folder: PathBuf,
        /// Expected sha256.
        expected: crate::Sha256,
        /// Expected length in bytes.
        expected_size: u64,
        /// Actual sha256.
        actual: crate::Sha256,
        /// Actual length in bytes.
        actual_size: u64,
    },
    /// Decompression would produce more than the limit (a decompression bomb or a wrong limit).
    #[error("decompressed archive exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The limit, in bytes.
        limit: u64,
    },
    /// The compressed stream is corrupt.
    #[error("corrupt {compression} stream")]
    Decompress {
        /// Which compression.
        compression: Compression,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The tar stream itself is malformed (bad header, truncated data, bad PAX record).
    #[error("malformed tar")]
    MalformedTar {
        /// Cause, as reported by the tar parser.
        #[source]
        source: std::io::Error,
    },
    /// The extraction folder exists and is not an empty folder.
    #[error("extraction folder {path} is not an empty folder: give a fresh path")]
    DestNotEmpty {
        /// The folder.
        path: PathBuf,
    },
    /// An entry path or link target is not UTF-8.
    #[error("tar entry {entry} has a path or link target that is not UTF-8")]
    NonUtf8Entry {
        /// The path, lossily decoded.
        entry: String,
    },
    /// An entry has an empty path, or names the root without being a folder.
    #[error("tar entry `{entry}` has no usable path")]
    EmptyEntryPath {
        /// The raw path.
        entry: String,
    },
    /// An entry path is absolute.
    #[error("tar entry {entry} has an absolute path")]
    AbsolutePath {
        /// The raw path.
        entry: String,
    },
    /// An entry path has a `..` component.
    #[error("tar entry {entry} has a `..` component")]
    ParentComponent {
        /// The raw path.
        entry: String,
    },
    /// An entry lies below a symlink extracted earlier.
    #[error("tar entry {entry} lies below the symlink {symlink}")]
    ThroughSymlink {
        /// The raw path.
        entry: String,
        /// The symlink (relative path) it would go through.
        symlink: String,
    },
    /// A folder on the way to an entry exists but is not a folder.
    #[error("tar entry {entry} needs {path} to be a folder")]
    ParentNotFolder {
        /// The raw path.
        entry: String,
        /// The path on disk that is not a folder.
        path: PathBuf,
    },
    /// A symlink target is absolute.
    #[error(
        "symlink {entry} has an absolute target {target}: use a relative target inside the bundle"
    )]
    SymlinkAbsolute {
        /// The link (relative path, or the bundle file when archiving).
        entry: String,
        /// Its target.
        target: String,
    },
    /// A symlink target resolves outside the folder, or climbs with `..` after a name.
    #[error(
        "symlink {entry} has target {target} that leaves the bundle: use a relative target inside the bundle, with `..` only at its start"
    )]
    SymlinkEscapes {
        /// The link (relative path, or the bundle file when archiving).
        entry: String,
        /// Its target.
        target: String,
    },
    /// A hard link entry (never written by [`write_tar`]).
    #[error("tar entry {entry} is a hard link to {target}: hard links are refused")]
    Hardlink {
        /// The raw path.
        entry: String,
        /// Its target.
        target: String,
    },
    /// A device, fifo, sparse, global-header or other entry that is not a file, folder or symlink.
    #[error("tar entry {entry} has unsupported type {kind}")]
    UnsupportedEntry {
        /// The raw path.
        entry: String,
        /// The entry type, e.g. `character device` or `type byte 0x53`.
        kind: String,
    },
    /// An entry name Windows cannot hold (with [`ExtractLimits::windows_names`]), or a bundle
    /// name the publisher refuses for the same reason.
    #[error("entry {entry}: `{component}` is {problem}, which Windows cannot hold; rename it")]
    WindowsName {
        /// The raw path.
        entry: String,
        /// The offending component.
        component: String,
        /// Why.
        problem: WindowsNameProblem,
    },
    /// Two entries whose paths differ only by case (one file on Windows and on macOS's default
    /// file system).
    #[error("entries {entry} and {other} differ only by case; rename one")]
    CaseCollision {
        /// The later entry.
        entry: String,
        /// The earlier one.
        other: String,
    },
    /// The same path appears twice.
    #[error("tar entry {entry} appears twice")]
    DuplicateEntry {
        /// The raw path (of the second occurrence).
        entry: String,
    },
    /// More entries than [`ExtractLimits::max_entries`].
    #[error("tar holds more than {limit} entries")]
    TooManyEntries {
        /// The limit.
        limit: u64,
    },
    /// An entry path or symlink target longer than [`ExtractLimits::max_path_bytes`].
    #[error(
        "tar entry {entry}… has a path or link target of {length} bytes, over the limit of {limit} bytes"
    )]
    PathTooLong {
        /// The first bytes of the raw path (at most 200, cut at a character boundary).
        entry: String,
        /// Its length (or its link target's), in bytes.
        length: usize,
        /// The limit, in bytes.
        limit: usize,
    },
    /// More file content than [`ExtractLimits::max_total_bytes`].
    #[error("tar content exceeds the limit of {limit_bytes} bytes")]
    ContentTooLarge {
        /// The limit, in bytes.
        limit_bytes: u64,
    },
    /// A PAX `size` record disagrees with the ustar header size (a parser-differential trick).
    #[error(
        "tar entry {entry} declares {header_size} bytes in its header but {pax_size} in a pax record"
    )]
    SizeMismatch {
        /// The raw path.
        entry: String,
        /// Size in the ustar/GNU header, in bytes.
        header_size: u64,
        /// Size the PAX record gives, in bytes.
        pax_size: u64,
    },
    /// Symlinks cannot be created on this platform.
    #[error("tar entry {entry} is a symlink, which this platform cannot create")]
    SymlinkUnsupported {
        /// The raw path.
        entry: String,
    },
}

impl ArchiveError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| ArchiveError::Io { path, source }
    }

    pub(crate) fn stream(stage: &'static str) -> impl FnOnce(std::io::Error) -> Self {
        move |source| ArchiveError::Stream { stage, source }
    }
}
