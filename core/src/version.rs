//! PEP 440 versions ([`Version`]) and update channels ([`Channel`]).
//!
//! Versions compare by PEP 440 rules (`1.0 == 1.0.0`, `1.0.dev1 < 1.0a1 < 1.0rc1 < 1.0 <
//! 1.0.post1`); parsing and ordering come from `pep440_rs`. Channels: stable sees final and post
//! releases; `rc`, `beta`, `alpha`, `dev` widen it in that order. Unlike tufup (which looks only at
//! `Version.pre`), a `.devN` release is never stable.

use std::fmt;
use std::str::FromStr;

use pep440_rs::PrereleaseKind;

use crate::error::{Error, Result};

/// A PEP 440 version. Equality and order follow PEP 440, so `1.0` equals `1.0.0`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Version(pep440_rs::Version);

impl Version {
    /// The `pep440_rs` value inside.
    pub fn as_pep440(&self) -> &pep440_rs::Version {
        &self.0
    }

    /// The least channel that admits this version: [`Channel::Stable`] for final and post
    /// releases, [`Channel::Dev`] for any `.devN`, else the pre-release kind.
    pub fn channel(&self) -> Channel {
        if self.0.dev().is_some() {
            return Channel::Dev;
        }
        match self.0.pre().map(|p| p.kind) {
            None => Channel::Stable,
            Some(PrereleaseKind::Rc) => Channel::Rc,
            Some(PrereleaseKind::Beta) => Channel::Beta,
            Some(PrereleaseKind::Alpha) => Channel::Alpha,
        }
    }

    /// Whether the canonical text of this version is exactly `text`; writers only publish
    /// such names so that tufup's and tufd's readings agree (docs/repository-format.md, "Target
    /// names").
    pub fn is_normalized_text(&self, text: &str) -> bool {
        self.0.to_string() == text
    }
}

impl FromStr for Version {
    type Err = Error;

    /// Parses a PEP 440 version (`1.0`, `2.0rc1`, `2.0.dev3`, `2.0.post1`, `1!2.0`).
    ///
    /// # Errors
    /// [`Error::InvalidVersion`] when the text is not PEP 440 or carries a local part
    /// (`+abc`), which has no meaning for releases.
    fn from_str(s: &str) -> Result<Self> {
        let v = pep440_rs::Version::from_str(s.trim()).map_err(|e| Error::InvalidVersion {
            input: s.to_owned(),
            reason: e.to_string(),
        })?;
        if v.is_local() {
            return Err(Error::InvalidVersion {
                input: s.to_owned(),
                reason: "local versions (`+…`) are not release versions".into(),
            });
        }
        Ok(Self(v))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Version({})", self.0)
    }
}

impl serde::Serialize for Version {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Version {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// An update channel. Each admits the releases of the ones before it:
/// `Stable < Rc < Beta < Alpha < Dev`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Channel {
    /// Final and post releases only (the default).
    #[default]
    Stable,
    /// Adds release candidates (`1.0rc1`).
    Rc,
    /// Adds betas (`1.0b1`).
    Beta,
    /// Adds alphas (`1.0a1`).
    Alpha,
    /// Adds development releases (`1.0.dev1`, `1.0rc1.dev2`).
    Dev,
}

impl Channel {
    /// Whether a release at `version` is offered on this channel.
    pub fn admits(self, version: &Version) -> bool {
        version.channel() <= self
    }

    /// The channel's name as written in config files: `stable`, `rc`, `beta`, `alpha`, `dev`.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Stable => "stable",
            Channel::Rc => "rc",
            Channel::Beta => "beta",
            Channel::Alpha => "alpha",
            Channel::Dev => "dev",
        }
    }
}

impl FromStr for Channel {
    type Err = Error;

    /// Parses `stable`, `rc`, `beta`/`b`, `alpha`/`a`, `dev` (case-insensitive).
    ///
    /// # Errors
    /// [`Error::InvalidChannel`] for anything else.
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "stable" => Channel::Stable,
            "rc" => Channel::Rc,
            "beta" | "b" => Channel::Beta,
            "alpha" | "a" => Channel::Alpha,
            "dev" => Channel::Dev,
            _ => {
                return Err(Error::InvalidChannel {
                    input: s.to_owned(),
                });
            }
        })
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Channel {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Channel {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        s.parse().unwrap()
    }

    #[test]
    fn pep440_order_and_equality() {
        let ordered = [
            "1.0.dev1",
            "1.0a1",
            "1.0b1",
            "1.0rc1",
            "1.0",
            "1.0.post1",
            "1.1",
            "2.0",
        ];
        for pair in ordered.windows(2) {
            assert!(v(pair[0]) < v(pair[1]), "{} < {}", pair[0], pair[1]);
        }
        assert_eq!(v("1.0"), v("1.0.0"));
        assert_eq!(v("1.0"), v("1.0.0.0"));
        assert_eq!(v("2.0RC1"), v("2.0rc1"));
    }

    #[test]
    fn refuses_non_pep440_and_local() {
        for bad in ["", "latest", "1.0-beta-x", "1.0+local", "v"] {
            assert!(bad.parse::<Version>().is_err(), "{bad}");
        }
    }

    #[test]
    fn channels_widen_in_order() {
        let cases = [
            ("1.0", Channel::Stable),
            ("1.0.post2", Channel::Stable),
            ("1.0rc1", Channel::Rc),
            ("1.0b2", Channel::Beta),
            ("1.0a3", Channel::Alpha),
            ("1.0.dev4", Channel::Dev),
            ("1.0rc1.dev1", Channel::Dev),
            ("1.0.post1.dev1", Channel::Dev),
        ];
        let all = [
            Channel::Stable,
            Channel::Rc,
            Channel::Beta,
            Channel::Alpha,
            Channel::Dev,
        ];
        for (text, least) in cases {
            assert_eq!(v(text).channel(), least, "{text}");
            for ch in all {
                assert_eq!(ch.admits(&v(text)), ch >= least, "{text} on {ch}");
            }
        }
    }

    #[test]
    fn dev_release_is_not_stable_unlike_tufup() {
        assert!(!Channel::Stable.admits(&v("2.0.dev3")));
        assert!(!Channel::Alpha.admits(&v("2.0.dev3")));
        assert!(Channel::Dev.admits(&v("2.0.dev3")));
    }

    #[test]
    fn channel_names() {
        for ch in ["stable", "rc", "beta", "alpha", "dev"] {
            assert_eq!(ch.parse::<Channel>().unwrap().as_str(), ch);
        }
        assert_eq!("a".parse::<Channel>().unwrap(), Channel::Alpha);
        assert!("nightly".parse::<Channel>().is_err());
    }
}
