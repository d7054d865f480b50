//! The `bsdiff4` codec: Colin Percival's `BSDIFF40` format (bzip2 blocks), written and read by
//! qbsdiff 1.4, applied by tufup clients with Python's `bsdiff4`.
//!
//! Header (32 bytes): `BSDIFF40`, then three 8-byte little-endian sign-magnitude integers
//! ("offtout": bit 63 is the sign): the compressed control block length (bytes 8..16), the
//! compressed diff block length (16..24) and the new file's length (24..32). [`parse_header`]
//! checks them with checked arithmetic *before* qbsdiff sees the patch (its own parser would
//! overflow on hostile lengths), and [`Bsdiff4::apply`] refuses a declared length above the
//! caller's limit without reading further. The output is also limited as it is written, and
//! must end up exactly as long as declared.
//!
//! qbsdiff needs the base and the patch as slices: [`Bsdiff4::apply_stream`] reads both whole
//! into memory (base plus patch, e.g. 31 MB for a 28.7 MB tar). Applying `bsdiff4` patches to
//! bundles of a gigabyte needs that much memory; `bidiff-zstd` streams.

use std::io::{Read, Write};

use super::{
    LimitedWriter, PatchCodec, PatchError, ReadSeek, base_read_error, guard, patch_io_error,
};
use crate::custom::Codec;

/// The magic of a `BSDIFF40` patch.
pub const MAGIC: &[u8; 8] = b"BSDIFF40";
/// Bytes of the header.
pub const HEADER_BYTES: usize = 32;

const CODEC: Codec = Codec::Bsdiff4;

/// The `bsdiff4` codec.
#[derive(Clone, Copy, Debug, Default)]
pub struct Bsdiff4;

/// The lengths a `BSDIFF40` header declares, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Compressed control block.
    pub control_bytes: u64,
    /// Compressed diff block.
    pub diff_bytes: u64,
    /// The file the patch produces.
    pub new_size_bytes: u64,
}

/// Reads an "offtout": 8 bytes little-endian, sign in bit 63. Negative values give `None`.
fn read_offt(bytes: &[u8]) -> Option<u64> {
    let mut raw = [0u8; 8];
    raw.copy_from_slice(bytes);
    let value = u64::from_le_bytes(raw);
    if value >> 63 == 1 { None } else { Some(value) }
}

/// Parses and checks the header of a `BSDIFF40` patch of `patch.len()` bytes.
///
/// # Errors
/// [`PatchError::Corrupt`] for a short patch, a wrong magic, negative lengths, or blocks that
/// run past the end of the patch.
pub fn parse_header(patch: &[u8]) -> Result<Header, PatchError> {
    let corrupt = |reason: &str| PatchError::Corrupt {
        codec: CODEC,
        reason: reason.to_owned(),
    };
    if patch.len() < HEADER_BYTES {
        return Err(corrupt("shorter than the 32-byte header"));
    }
    if &patch[..8] != MAGIC {
        return Err(corrupt("no BSDIFF40 magic"));
    }
    let (Some(control_bytes), Some(diff_bytes), Some(new_size_bytes)) = (
        read_offt(&patch[8..16]),
        read_offt(&patch[16..24]),
        read_offt(&patch[24..32]),
    ) else {
        return Err(corrupt("negative length in the header"));
    };
    let blocks_end = (HEADER_BYTES as u64)
        .checked_add(control_bytes)
        .and_then(|n| n.checked_add(diff_bytes));
    if blocks_end.is_none_or(|end| end > patch.len() as u64) {
        return Err(corrupt("header lengths run past the end of the patch"));
    }
    Ok(Header {
        control_bytes,
        diff_bytes,
        new_size_bytes,
    })
}

impl PatchCodec for Bsdiff4 {
    fn codec(&self) -> Codec {
        CODEC
    }

    fn diff(&self, old: &[u8], new: &[u8], out: &mut dyn Write) -> Result<(), PatchError> {
        guard(CODEC, "diffing", || {
            qbsdiff::Bsdiff::new(old, new)
                .compare(out)
                .map(drop)
                .map_err(patch_io_error)
        })
    }

    fn apply_stream(
        &self,
        old: &mut dyn ReadSeek,
        patch: &mut dyn Read,
        max_output_bytes: u64,
        out: &mut dyn Write,
    ) -> Result<u64, PatchError> {
        let mut patch_bytes = Vec::new();
        patch
            .read_to_end(&mut patch_bytes)
            .map_err(patch_io_error)?;
        // Refuse an oversized declared output before reading the base.
        let header = parse_header(&patch_bytes)?;
        if header.new_size_bytes > max_output_bytes {
            return Err(PatchError::TooLarge {
                limit_bytes: max_output_bytes,
            });
        }
        let mut old_bytes = Vec::new();
        old.read_to_end(&mut old_bytes).map_err(base_read_error)?;
        self.apply(&old_bytes, &patch_bytes, max_output_bytes, out)
    }

    fn apply(
        &self,
        old: &[u8],
        patch: &[u8],
        max_output_bytes: u64,
        out: &mut dyn Write,
    ) -> Result<u64, PatchError> {
        let header = parse_header(patch)?;
        if header.new_size_bytes > max_output_bytes {
            return Err(PatchError::TooLarge {
                limit_bytes: max_output_bytes,
            });
        }
        guard(CODEC, "applying", || {
            let patcher = qbsdiff::Bspatch::new(patch).map_err(|e| PatchError::Corrupt {
                codec: CODEC,
                reason: e.to_string(),
            })?;
            let mut limited = LimitedWriter::new(out, max_output_bytes);
            if let Err(e) = patcher.apply(old, &mut limited) {
                return Err(limited.classify(CODEC, e));
            }
            let written = limited.written();
            if written != header.new_size_bytes {
                return Err(PatchError::Corrupt {
                    codec: CODEC,
                    reason: format!(
                        "produced {written} bytes but the header declares {}",
                        header.new_size_bytes
                    ),
                });
            }
            Ok(written)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header_bytes(control: u64, diff: u64, new: u64) -> Vec<u8> {
        let mut h = MAGIC.to_vec();
        h.extend_from_slice(&control.to_le_bytes());
        h.extend_from_slice(&diff.to_le_bytes());
        h.extend_from_slice(&new.to_le_bytes());
        h
    }

    #[test]
    fn header_checks() {
        let mut ok = header_bytes(3, 2, 77);
        ok.extend_from_slice(&[0; 5]);
        assert_eq!(
            parse_header(&ok).unwrap(),
            Header {
                control_bytes: 3,
                diff_bytes: 2,
                new_size_bytes: 77
            }
        );
        let bad = [
            header_bytes(3, 2, 77),                        // blocks past the end
            header_bytes(u64::MAX >> 1, u64::MAX >> 1, 1), // would overflow
            header_bytes(1 << 63 | 5, 0, 1),               // negative
            header_bytes(0, 0, 1 << 63 | 1),               // negative size
            b"BSDIFF4".to_vec(),                           // short
            {
                let mut h = header_bytes(0, 0, 0);
                h[7] = b'1';
                h
            },
        ];
        for patch in bad {
            let err = parse_header(&patch).unwrap_err();
            assert!(matches!(err, PatchError::Corrupt { .. }), "{err:?}");
        }
    }
}
