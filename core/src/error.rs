//! The error type of `tufd-core`'s parsers. Archive and patch work have their own error
//! enums ([`crate::archive::ArchiveError`], [`crate::patch::PatchError`]).

/// Result alias for `tufd-core` parsers.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A value that does not parse into one of `tufd-core`'s types.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The text is not a PEP 440 version.
    #[error("`{input}` is not a PEP 440 version: {reason}")]
    InvalidVersion {
        /// What was given.
        input: String,
        /// Why pep440_rs refused it.
        reason: String,
    },
    /// The file name is not `<name>-<version><suffix>`.
    #[error(
        "`{input}` is not a target name of the form <name>-<version>.tar.gz|.tar.zst|.patch: {reason}"
    )]
    InvalidTargetName {
        /// What was given.
        input: String,
        /// Which part failed.
        reason: &'static str,
    },
    /// The app name holds characters other than ASCII letters, digits, `_` and `-`.
    #[error("`{input}` is not a valid app name: use ASCII letters, digits, `_` and `-` only")]
    InvalidAppName {
        /// What was given.
        input: String,
    },
    /// The text is not 64 lower- or upper-case hex digits.
    #[error("`{input}` is not a sha256 digest (64 hex digits)")]
    InvalidSha256 {
        /// What was given.
        input: String,
    },
    /// An unknown channel name.
    #[error("unknown channel `{input}`: use stable, rc, beta, alpha or dev")]
    InvalidChannel {
        /// What was given.
        input: String,
    },
    /// An unknown patch codec name.
    #[error("unknown patch codec `{input}`: use bidiff-zstd or bsdiff4")]
    InvalidCodec {
        /// What was given.
        input: String,
    },
    /// Custom target metadata of the wrong shape.
    #[error("custom metadata of target `{target}` is malformed: {reason}")]
    InvalidCustom {
        /// The target file name.
        target: String,
        /// What is wrong.
        reason: String,
    },
}
