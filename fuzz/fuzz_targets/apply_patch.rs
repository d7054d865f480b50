//! Fuzzes the patch codecs (`bsdiff4`, `bidiff-zstd`, `bsdiff-lzma`) with arbitrary patch bytes applied to
//! the corpus base tar (`tests/hostile/cases/patch_base.tar`). Besides "never panics": no codec
//! writes more than the output limit, `apply_stream` (the daemon's file-to-file path) behaves
//! exactly as `apply` on slices, and `apply_verified` accepts only the signed output.

#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use tufd_core::Codec;
use tufd_core::Sha256;
use tufd_core::custom::TarDigest;
use tufd_core::patch::{PatchError, apply_verified, codec_for};

const BASE: &[u8] = include_bytes!("../../tests/hostile/cases/patch_base.tar");
/// Output limit, in bytes: enough for any patch that grows the base a little.
const LIMIT_BYTES: u64 = 1 << 20;

fuzz_target!(|patch: &[u8]| {
    for codec in [Codec::Bsdiff4, Codec::BidiffZstd, Codec::BsdiffLzma] {
        let mut out = Vec::new();
        let result = codec_for(codec).apply(BASE, patch, LIMIT_BYTES, &mut out);
        assert!(
            out.len() as u64 <= LIMIT_BYTES,
            "{codec}: {} bytes",
            out.len()
        );
        let mut streamed = Vec::new();
        let again = codec_for(codec).apply_stream(
            &mut Cursor::new(BASE),
            &mut &*patch,
            LIMIT_BYTES,
            &mut streamed,
        );
        assert_eq!(streamed, out, "{codec}: streamed output differs");
        assert_eq!(
            again.as_ref().ok(),
            result.as_ref().ok(),
            "{codec}: {again:?} vs {result:?}"
        );
        if let Ok(n) = result {
            assert_eq!(n, out.len() as u64, "{codec}");
            // The same patch against the digest of what it produced is accepted, and against
            // any other digest refused.
            let signed = TarDigest {
                sha256: Sha256::digest(&out),
                size_bytes: n,
            };
            apply_verified(codec, BASE, patch, &signed, &mut Vec::new()).unwrap();
            let other = TarDigest {
                sha256: Sha256::digest(b"something else"),
                size_bytes: n,
            };
            let err = apply_verified(codec, BASE, patch, &other, &mut Vec::new()).unwrap_err();
            assert!(
                matches!(err, PatchError::Mismatch { .. }),
                "{codec}: {err:?}"
            );
        }
    }
});
