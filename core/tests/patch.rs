//! Integration tests of `tufd_core::patch`: round trips of both codecs on multi-megabyte data,
//! hostile patches (truncated, garbage, huge declared output), and verification against the
//! signed digest. `bench_codecs` (ignored) measures both codecs on two given files.

use std::io::Write;
use std::time::Instant;

use tufd_core::custom::TarDigest;
use tufd_core::patch::{PatchError, apply_verified, bsdiff_lzma, bsdiff4, codec_for};
use tufd_core::{Codec, Sha256};

const CODECS: [Codec; 3] = [Codec::BidiffZstd, Codec::Bsdiff4, Codec::BsdiffLzma];

use tufd_testkit::rng::binary_like as pseudo_random;

/// `old` with edits: changed bytes, an insertion, a deletion, a moved block and an appendix.
fn edited(old: &[u8]) -> Vec<u8> {
    let mut new = old.to_vec();
    for i in (1000..new.len()).step_by(65_537) {
        new[i] = new[i].wrapping_add(1);
    }
    new.splice(500_000..500_000, pseudo_random(20_000, 7));
    new.drain(2_000_000..2_050_000);
    let block: Vec<u8> = new[100_000..160_000].to_vec();
    new.extend_from_slice(&block);
    new.extend_from_slice(&pseudo_random(30_000, 9));
    new
}

fn digest(data: &[u8]) -> TarDigest {
    TarDigest {
        sha256: Sha256::digest(data),
        size_bytes: data.len() as u64,
    }
}

fn make_patch(codec: Codec, old: &[u8], new: &[u8]) -> Vec<u8> {
    let mut patch = Vec::new();
    codec_for(codec).diff(old, new, &mut patch).unwrap();
    patch
}

#[test]
fn both_codecs_round_trip_multi_megabyte_data() {
    let old = pseudo_random(4 << 20, 1);
    let new = edited(&old);
    for codec in CODECS {
        assert_eq!(codec_for(codec).codec(), codec);
        let patch = make_patch(codec, &old, &new);
        assert!(
            patch.len() < new.len() / 20,
            "{codec}: patch of {} bytes for {} bytes of new data",
            patch.len(),
            new.len()
        );
        let mut out = Vec::new();
        let n = codec_for(codec)
            .apply(&old, &patch, new.len() as u64, &mut out)
            .unwrap();
        assert_eq!(n, new.len() as u64);
        assert!(out == new, "{codec}: output differs");

        let mut verified = Vec::new();
        apply_verified(codec, &old, &patch, &digest(&new), &mut verified).unwrap();
        assert!(verified == new);

        // Deterministic patches.
        assert!(
            make_patch(codec, &old, &new) == patch,
            "{codec}: diff not deterministic"
        );
    }
}

/// Every codec round-trips tiny and empty inputs (insertion, from nothing, to nothing, nothing
/// to nothing), its patch starting with its magic where it has one.
#[test]
fn every_codec_round_trips_small_and_empty_inputs() {
    let cases: &[(&[u8], &[u8])] = &[
        (b"hello world", b"hello there world"),
        (b"", b"brand new"),
        (b"old stuff", b""),
        (b"", b""),
    ];
    for codec in CODECS {
        let magic: Option<&[u8]> = match codec {
            Codec::Bsdiff4 => Some(bsdiff4::MAGIC),
            Codec::BsdiffLzma => Some(bsdiff_lzma::MAGIC),
            _ => None,
        };
        for (old, new) in cases {
            let patch = make_patch(codec, old, new);
            if let Some(magic) = magic {
                assert_eq!(&patch[..8], magic, "{codec}");
            }
            let mut out = Vec::new();
            let n = codec_for(codec)
                .apply(old, &patch, 1 << 20, &mut out)
                .unwrap();
            assert_eq!(out, *new, "{codec}");
            assert_eq!(n, new.len() as u64, "{codec}");
        }
    }
}

#[test]
fn bsdiff4_patches_are_bsdiff40() {
    let old = pseudo_random(100_000, 3);
    let new = edited(&pseudo_random(3 << 20, 3));
    let patch = make_patch(Codec::Bsdiff4, &old, &new);
    assert_eq!(&patch[..8], b"BSDIFF40");
    let header = bsdiff4::parse_header(&patch).unwrap();
    assert_eq!(header.new_size_bytes, new.len() as u64);
}

#[test]
fn truncated_patches_are_corrupt() {
    let old = pseudo_random(1 << 20, 11);
    let new = edited(&pseudo_random(3 << 20, 11))[..1_200_000].to_vec();
    let new = [&old[..600_000], &new[..], &old[300_000..]].concat();
    for codec in CODECS {
        let patch = make_patch(codec, &old, &new);
        for cut in [
            0,
            4,
            8,
            31,
            patch.len() / 3,
            patch.len() / 2,
            patch.len() - 1,
        ] {
            let mut out = Vec::new();
            let result = codec_for(codec).apply(&old, &patch[..cut], u64::MAX, &mut out);
            if codec == Codec::Bsdiff4 && cut == patch.len() - 1 {
                // qbsdiff stops reading the last bzip2 stream once it has what the controls
                // need, so a cut inside the stream trailer goes unnoticed; the data itself
                // passed bzip2's block CRC. (apply_verified checks the result in any case.)
                assert!(
                    result.is_err() || out == new,
                    "{codec}: wrong output accepted"
                );
                continue;
            }
            assert!(
                matches!(result, Err(PatchError::Corrupt { codec: c, .. }) if c == codec),
                "{codec} cut at {cut}/{}: {result:?}",
                patch.len()
            );
        }
    }
}

#[test]
fn garbage_and_foreign_patches_are_corrupt() {
    let old = pseudo_random(200_000, 5);
    let new = edited(&pseudo_random(3 << 20, 5));
    let garbage = pseudo_random(10_000, 6);
    for codec in CODECS {
        let result = codec_for(codec).apply(&old, &garbage, u64::MAX, &mut Vec::new());
        assert!(
            matches!(result, Err(PatchError::Corrupt { .. })),
            "{codec}: {result:?}"
        );
    }
    // Each codec refuses the other's patch.
    let bs = make_patch(Codec::Bsdiff4, &old, &new);
    let bz = make_patch(Codec::BidiffZstd, &old, &new);
    let r = codec_for(Codec::BidiffZstd).apply(&old, &bs, u64::MAX, &mut Vec::new());
    assert!(matches!(r, Err(PatchError::Corrupt { .. })), "{r:?}");
    let r = codec_for(Codec::Bsdiff4).apply(&old, &bz, u64::MAX, &mut Vec::new());
    assert!(matches!(r, Err(PatchError::Corrupt { .. })), "{r:?}");
}

#[test]
fn wrong_base_is_a_mismatch() {
    let old = pseudo_random(2 << 20, 21);
    let new = edited(&old);
    let mut other = old.clone();
    for i in (0..other.len()).step_by(4096) {
        other[i] ^= 0x55;
    }
    for codec in CODECS {
        let patch = make_patch(codec, &old, &new);
        let err =
            apply_verified(codec, &other, &patch, &digest(&new), &mut Vec::new()).unwrap_err();
        assert!(
            matches!(err, PatchError::Mismatch { expected_size, .. } if expected_size == new.len() as u64),
            "{codec}: {err:?}"
        );
        // A signed digest of a different (longer) tar: the output is refused as soon as it
        // passes the expected size, or found different.
        let mut short = digest(&new);
        short.size_bytes -= 1;
        let err = apply_verified(codec, &old, &patch, &short, &mut Vec::new()).unwrap_err();
        assert!(
            matches!(err, PatchError::TooLarge { .. }),
            "{codec}: {err:?}"
        );
    }
}

#[test]
fn bsdiff4_huge_declared_size_is_refused_up_front() {
    let old = pseudo_random(300_000, 31);
    let new = edited(&pseudo_random(3 << 20, 31));
    let mut patch = make_patch(Codec::Bsdiff4, &old, &new);
    patch[24..32].copy_from_slice(&(1u64 << 40).to_le_bytes());
    let mut out = Vec::new();
    let err = codec_for(Codec::Bsdiff4)
        .apply(&old, &patch, 64 << 20, &mut out)
        .unwrap_err();
    assert!(
        matches!(err, PatchError::TooLarge { limit_bytes } if limit_bytes == 64 << 20),
        "{err:?}"
    );
    assert!(out.is_empty());

    // Declaring less than the patch really writes is caught by the running limit.
    let mut patch = make_patch(Codec::Bsdiff4, &old, &new);
    patch[24..32].copy_from_slice(&1000u64.to_le_bytes());
    let mut out = Vec::new();
    let err = codec_for(Codec::Bsdiff4)
        .apply(&old, &patch, 1000, &mut out)
        .unwrap_err();
    assert!(
        matches!(err, PatchError::TooLarge { limit_bytes: 1000 }),
        "{err:?}"
    );
    assert!(out.len() <= 1000);
}

#[test]
fn bidiff_zstd_output_bomb_is_cut_at_the_limit() {
    // A hand-made bidiff stream that copies 64 MiB of zeros, compressed to a few KiB.
    let zeros = vec![0u8; 64 << 20];
    let mut raw = Vec::new();
    {
        let mut w = bidiff::enc::Writer::new(&mut raw).unwrap();
        w.write(&bidiff::Control {
            add: &[],
            copy: &zeros,
            seek: 0,
        })
        .unwrap();
    }
    let mut patch = Vec::new();
    let mut enc = zstd::stream::write::Encoder::new(&mut patch, 3).unwrap();
    enc.write_all(&raw).unwrap();
    enc.finish().unwrap();
    assert!(patch.len() < 64 << 10, "{}", patch.len());

    let mut out = Vec::new();
    let err = codec_for(Codec::BidiffZstd)
        .apply(b"base", &patch, 1 << 20, &mut out)
        .unwrap_err();
    assert!(
        matches!(err, PatchError::TooLarge { limit_bytes } if limit_bytes == 1 << 20),
        "{err:?}"
    );
    assert!(out.len() <= 1 << 20);
}

/// Sizes and create/apply times of both codecs on two tars or bundle folders:
/// `OLD=a.tar NEW=b.tar cargo test -p tufd-core --release --test patch bench -- --ignored --nocapture`
#[test]
#[ignore = "benchmark; needs OLD and NEW"]
fn bench_codecs() {
    let (Ok(old_path), Ok(new_path)) = (std::env::var("OLD"), std::env::var("NEW")) else {
        panic!("set OLD and NEW to two files (uncompressed tars)");
    };
    // A folder is archived first with `write_tar`, as `tufd-repo add` does.
    let load = |path: &str| {
        if std::path::Path::new(path).is_dir() {
            let mut tar = Vec::new();
            tufd_core::archive::write_tar(path.as_ref(), &mut tar, &mut |_| {}).unwrap();
            tar
        } else {
            std::fs::read(path).unwrap()
        }
    };
    let old = load(&old_path);
    let new = load(&new_path);
    for compression in [
        tufd_core::archive::Compression::Gzip,
        tufd_core::archive::Compression::Zstd,
    ] {
        let start = Instant::now();
        let n =
            tufd_core::archive::compress(&mut &new[..], compression, &mut std::io::sink()).unwrap();
        println!(
            "new .tar compressed with {compression}: {n} bytes, {:.2} s",
            start.elapsed().as_secs_f64()
        );
    }
    println!(
        "old {old_path}: {} bytes; new {new_path}: {} bytes",
        old.len(),
        new.len()
    );
    for codec in CODECS {
        let start = Instant::now();
        let patch = make_patch(codec, &old, &new);
        let create = start.elapsed();
        let start = Instant::now();
        let mut out = Vec::with_capacity(new.len());
        apply_verified(codec, &old, &patch, &digest(&new), &mut out).unwrap();
        let apply = start.elapsed();
        println!(
            "{codec}: patch {} bytes ({:.1}% of new), create {:.2} s, apply {:.2} s",
            patch.len(),
            100.0 * patch.len() as f64 / new.len() as f64,
            create.as_secs_f64(),
            apply.as_secs_f64()
        );
    }
}

/// Python `bsdiff4` (what tufup clients use) applies our `bsdiff4` patches, and we apply its.
/// Needs an interpreter with `bsdiff4` installed:
/// `PYTHON_BSDIFF4=.venv/bin/python cargo test -p tufd-core --test patch python -- --ignored`
#[test]
#[ignore = "needs PYTHON_BSDIFF4: a python with the bsdiff4 package"]
fn python_bsdiff4_interop() {
    let python = std::env::var("PYTHON_BSDIFF4").expect("set PYTHON_BSDIFF4");
    let tmp = tempfile::tempdir().unwrap();
    let old = pseudo_random(2 << 20, 41);
    let new = edited(&old);
    let p = |name: &str| tmp.path().join(name);
    std::fs::write(p("old"), &old).unwrap();
    std::fs::write(p("new"), &new).unwrap();
    std::fs::write(p("ours.patch"), make_patch(Codec::Bsdiff4, &old, &new)).unwrap();
    let script = r#"
import sys, bsdiff4
d = sys.argv[1]
old = open(d + "/old", "rb").read()
new = open(d + "/new", "rb").read()
assert bsdiff4.patch(old, open(d + "/ours.patch", "rb").read()) == new, "python applied ours wrongly"
open(d + "/theirs.patch", "wb").write(bsdiff4.diff(old, new))
"#;
    let status = std::process::Command::new(&python)
        .arg("-c")
        .arg(script)
        .arg(tmp.path())
        .status()
        .unwrap();
    assert!(status.success(), "python side failed");
    let theirs = std::fs::read(p("theirs.patch")).unwrap();
    let mut out = Vec::new();
    apply_verified(Codec::Bsdiff4, &old, &theirs, &digest(&new), &mut out).unwrap();
    assert!(out == new);
}
