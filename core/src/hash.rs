//! [`Sha256`]: a sha256 digest that cannot hold anything but 32 bytes, written as lower-case hex
//! (the form TUF metadata and tufup's `tar_hash` use).

use std::fmt;
use std::io::{self, Read};
use std::str::FromStr;

use sha2::Digest as _;

use crate::error::{Error, Result};

/// A sha256 digest (32 bytes). Displays and serialises as 64 lower-case hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256([u8; 32]);

impl Sha256 {
    /// Wraps raw digest bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Digest of a byte slice.
    pub fn digest(data: &[u8]) -> Self {
        Self(sha2::Sha256::digest(data).into())
    }

    /// Digest of everything `reader` yields, and the number of bytes read.
    ///
    /// # Errors
    /// Any error of `reader`.
    pub fn digest_reader(mut reader: impl Read) -> io::Result<(Self, u64)> {
        let mut hasher = sha2::Sha256::new();
        let mut buf = vec![0u8; 256 * 1024];
        let mut total = 0u64;
        loop {
            let n = reader.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            total += n as u64;
        }
        Ok((Self(hasher.finalize().into()), total))
    }
}

impl fmt::Display for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256({self})")
    }
}

impl FromStr for Sha256 {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let invalid = || Error::InvalidSha256 {
            input: s.to_owned(),
        };
        let bytes = hex::decode(s).map_err(|_| invalid())?;
        Ok(Self(bytes.try_into().map_err(|_| invalid())?))
    }
}

impl serde::Serialize for Sha256 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> serde::Deserialize<'de> for Sha256 {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A writer adapter that hashes and counts everything written through it.
pub struct HashingWriter<W> {
    inner: W,
    hasher: sha2::Sha256,
    written: u64,
}

impl<W: io::Write> HashingWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: sha2::Sha256::new(),
            written: 0,
        }
    }

    /// The digest and length (bytes) of everything written, and the inner writer.
    pub fn finish(self) -> (Sha256, u64, W) {
        (
            Sha256(self.hasher.finalize().into()),
            self.written,
            self.inner,
        )
    }
}

impl<W: io::Write> io::Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_hex() {
        let empty = Sha256::digest(b"");
        let text = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(empty.to_string(), text);
        assert_eq!(text.parse::<Sha256>().unwrap(), empty);
        assert_eq!(text.to_uppercase().parse::<Sha256>().unwrap(), empty);
    }

    #[test]
    fn refuses_wrong_lengths_and_digits() {
        for bad in ["", "abc", &"g".repeat(64), &"a".repeat(63), &"a".repeat(66)] {
            assert!(bad.parse::<Sha256>().is_err(), "{bad}");
        }
    }

    #[test]
    fn hashing_writer_matches_digest() {
        use std::io::Write;
        let mut w = HashingWriter::new(Vec::new());
        w.write_all(b"hello ").unwrap();
        w.write_all(b"world").unwrap();
        let (digest, len, inner) = w.finish();
        assert_eq!(digest, Sha256::digest(b"hello world"));
        assert_eq!(len, 11);
        assert_eq!(inner, b"hello world");
    }
}
