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
    /// A platform name that is not `<os>-<arch>` with Rust's words for both
    /// (crate::platform::OSES, crate::platform::ARCHES).
    #[error(
        "`{input}` is not a platform name: use <os>-<arch> such as linux-x86_64, windows-x86_64, \
         macos-aarch64"
    )]
    InvalidPlatform {
        /// What was given.
        input: String,
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
    #[error("unknown patch codec `{input}`: use bsdiff-lzma, bidiff-zstd or bsdiff4")]
    InvalidCodec {
        /// What was given.
        input: String,
    },
    /// A rollout percentage that is not a whole number from 0 to 100.
    #[error("`{input}` is not a rollout percentage: use a whole number from 0 to 100")]
    InvalidPercent {
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

/// `err`'s message followed by each of its causes, joined by `": "`, on one line (line breaks
/// inside a message, as in TOML errors, become spaces): the one text every user-facing message
/// of tufd and tufd-repo is made of. A cause whose text the line already ends with (a library
/// that prints its cause in its own message) is not repeated; empty messages are skipped.
pub fn report(err: &(dyn std::error::Error + 'static)) -> String {
    let one_line = |e: &dyn std::error::Error| {
        let text = e.to_string();
        let lines: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        lines.join(" ")
    };
    let mut line = one_line(err);
    let mut cause = err.source();
    while let Some(c) = cause {
        let text = one_line(c);
        if !text.is_empty() && !line.ends_with(&text) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
        cause = c.source();
    }
    line
}
