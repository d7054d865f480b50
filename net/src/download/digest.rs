//! [`TargetDigest`]: the signed hash a download is checked against — the target's `sha256` when
//! its metadata lists one, else its `sha512` (TUF lets a repository sign either) — and the
//! incremental [`Hasher`] computing the same algorithm.

use std::fmt;
use std::io;

use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use tufd_core::Sha256;

/// A sha512 digest.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sha512([u8; 64]);

impl Sha512 {
    /// Wraps raw digest bytes.
    pub fn from_bytes(bytes: [u8; 64]) -> Self {
        Self(bytes)
    }

    /// The raw 64 bytes.
    pub fn as_bytes(&self) -> &[u8; 64] {
        &self.0
    }

    /// Digest of a byte slice.
    pub fn digest(data: &[u8]) -> Self {
        Self(sha2::Sha512::digest(data).into())
    }

    /// Parses 128 hex digits (either case).
    pub fn from_hex(hex: &str) -> Option<Self> {
        let bytes = hex::decode(hex).ok()?;
        Some(Self(<[u8; 64]>::try_from(bytes).ok()?))
    }
}

impl fmt::Display for Sha512 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Sha512 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha512({self})")
    }
}

impl Serialize for Sha512 {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Sha512 {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Sha512::from_hex(&text).ok_or_else(|| serde::de::Error::custom("not 128 hex digits"))
    }
}

/// The signed digest a target is checked against.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum TargetDigest {
    /// The signed sha256 (used whenever the target lists one).
    Sha256(Sha256),
    /// The signed sha512 (targets signed with sha512 only).
    Sha512(Sha512),
}

impl TargetDigest {
    /// The digest to check from a target's signed hashes (algorithm → hex): `sha256` when listed,
    /// else `sha512`; `None` when neither is listed or well-formed.
    pub fn from_hashes<'a>(hashes: impl IntoIterator<Item = (&'a str, &'a str)>) -> Option<Self> {
        let mut sha512 = None;
        for (algorithm, hex) in hashes {
            match algorithm {
                "sha256" => {
                    let bytes = hex::decode(hex).ok()?;
                    return Some(Self::Sha256(Sha256::from_bytes(bytes.try_into().ok()?)));
                }
                "sha512" => sha512 = Sha512::from_hex(hex),
                _ => {}
            }
        }
        sha512.map(Self::Sha512)
    }

    /// The algorithm's TUF name (`sha256`, `sha512`).
    pub fn algorithm(&self) -> &'static str {
        match self {
            Self::Sha256(_) => "sha256",
            Self::Sha512(_) => "sha512",
        }
    }

    /// The lowercase hex digest (the prefix of consistent-snapshot target file names).
    pub fn hex(&self) -> String {
        match self {
            Self::Sha256(d) => d.to_string(),
            Self::Sha512(d) => d.to_string(),
        }
    }

    /// The signed sha256, when this is one.
    pub fn sha256(&self) -> Option<Sha256> {
        match self {
            Self::Sha256(d) => Some(*d),
            Self::Sha512(_) => None,
        }
    }
}

impl From<Sha256> for TargetDigest {
    fn from(digest: Sha256) -> Self {
        Self::Sha256(digest)
    }
}

impl From<Sha512> for TargetDigest {
    fn from(digest: Sha512) -> Self {
        Self::Sha512(digest)
    }
}

impl fmt::Display for TargetDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm(), self.hex())
    }
}

impl fmt::Debug for TargetDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TargetDigest({self})")
    }
}

/// An incremental hash of the algorithm of a [`TargetDigest`].
#[derive(Clone)]
pub(crate) enum Hasher {
    Sha256(sha2::Sha256),
    Sha512(sha2::Sha512),
}

impl Hasher {
    /// A fresh hasher for `digest`'s algorithm.
    pub(crate) fn like(digest: &TargetDigest) -> Self {
        match digest {
            TargetDigest::Sha256(_) => Self::Sha256(sha2::Sha256::new()),
            TargetDigest::Sha512(_) => Self::Sha512(sha2::Sha512::new()),
        }
    }

    /// Adds `bytes`.
    pub(crate) fn update(&mut self, bytes: &[u8]) {
        match self {
            Self::Sha256(h) => h.update(bytes),
            Self::Sha512(h) => h.update(bytes),
        }
    }

    /// The digest of everything added so far.
    pub(crate) fn finalize(self) -> TargetDigest {
        match self {
            Self::Sha256(h) => TargetDigest::Sha256(Sha256::from_bytes(h.finalize().into())),
            Self::Sha512(h) => TargetDigest::Sha512(Sha512::from_bytes(h.finalize().into())),
        }
    }
}

impl io::Write for Hasher {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_is_preferred_and_sha512_is_the_fallback() {
        let a = Sha256::digest(b"a");
        let b = Sha512::digest(b"a");
        let (ha, hb) = (a.to_string(), b.to_string());
        let both = [("sha512", hb.as_str()), ("sha256", ha.as_str())];
        assert_eq!(
            TargetDigest::from_hashes(both),
            Some(TargetDigest::Sha256(a))
        );
        let only = [("md5", "00"), ("sha512", hb.as_str())];
        assert_eq!(
            TargetDigest::from_hashes(only),
            Some(TargetDigest::Sha512(b))
        );
        assert_eq!(TargetDigest::from_hashes([("md5", "00")]), None);
        let mut hasher = Hasher::like(&TargetDigest::Sha512(b));
        hasher.update(b"a");
        assert_eq!(hasher.finalize(), TargetDigest::Sha512(b));
        let json = serde_json::to_string(&b).unwrap();
        assert_eq!(serde_json::from_str::<Sha512>(&json).unwrap(), b);
    }
}
