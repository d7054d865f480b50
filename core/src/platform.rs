//! Platform names `<os>-<arch>` (`windows-x86_64`, `macos-aarch64`, `linux-x86_64`, …): the
//! folder a platform's releases are published under (docs/repository-format.md, "Platforms").
//!
//! The `<os>` and `<arch>` words are Rust's own (`std::env::consts::OS` and `ARCH`), so that a
//! client's own platform is [`Platform::current`] without a translation table. Only the words
//! listed in [`OSES`] and [`ARCHES`] are accepted: a typo (`linux-amd64`, `win-x64`) is refused
//! when publishing instead of making a folder no client ever reads.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// The operating system words a platform name may start with (Rust's `std::env::consts::OS`).
pub const OSES: &[&str] = &[
    "windows", "macos", "linux", "freebsd", "netbsd", "openbsd", "android", "ios",
];

/// The architecture words a platform name may end with (Rust's `std::env::consts::ARCH`).
pub const ARCHES: &[&str] = &[
    "x86_64",
    "aarch64",
    "x86",
    "arm",
    "riscv64",
    "powerpc64",
    "s390x",
    "loongarch64",
];

/// A checked platform name `<os>-<arch>`, such as `linux-x86_64`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Platform {
    name: String,
}

impl Platform {
    /// Checks and wraps `name`.
    ///
    /// # Errors
    /// [`Error::InvalidPlatform`] unless `name` is one word of [`OSES`], `-`, one word of
    /// [`ARCHES`].
    pub fn parse(name: &str) -> Result<Self> {
        let ok = name
            .split_once('-')
            .is_some_and(|(os, arch)| OSES.contains(&os) && ARCHES.contains(&arch));
        if ok {
            Ok(Self { name: name.into() })
        } else {
            Err(Error::InvalidPlatform {
                input: name.to_owned(),
            })
        }
    }

    /// The platform this program was compiled for (`<std::env::consts::OS>-<ARCH>`), or `None`
    /// on a system outside [`OSES`] × [`ARCHES`].
    pub fn current() -> Option<Self> {
        Self::parse(&format!(
            "{}-{}",
            std::env::consts::OS,
            std::env::consts::ARCH
        ))
        .ok()
    }

    /// The name, `<os>-<arch>`.
    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// The operating system part.
    pub fn os(&self) -> &str {
        self.name.split_once('-').map_or("", |(os, _)| os)
    }
}

impl FromStr for Platform {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_os_arch_and_refuses_the_rest() {
        for good in [
            "windows-x86_64",
            "macos-aarch64",
            "linux-x86_64",
            "linux-aarch64",
        ] {
            let p = Platform::parse(good).unwrap();
            assert_eq!(p.as_str(), good);
        }
        assert_eq!(Platform::parse("macos-aarch64").unwrap().os(), "macos");
        for bad in [
            "",
            "linux",
            "linux-amd64",
            "win-x64",
            "Linux-x86_64",
            "linux-x86_64-gnu",
            "../x86_64",
            "linux/x86_64",
            "linux-x86_64 ",
        ] {
            assert!(
                matches!(Platform::parse(bad), Err(Error::InvalidPlatform { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_build_platform_is_known() {
        // Every platform the project builds for (Linux, macOS, Windows on x86_64 and aarch64).
        let current = Platform::current().expect("a known platform");
        assert_eq!(current.os(), std::env::consts::OS);
    }
}
