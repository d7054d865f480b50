//! `tufd-bench-codecs`: one step of tufd's patch codecs per process, for `bench/harness.py`
//! (docs/performance.md, "1. Patch creation and application"), which runs it under GNU `time -v`
//! for CPU time and peak RSS. It calls `tufd_core::patch` exactly as `tufd-repo add` (diff) and the
//! daemon's patch step (apply) do, without archiving, signing or network.
//!
//! ```text
//! tufd-bench-codecs tar BUNDLE_DIR OUT.tar             deterministic tar (tufd_core::archive)
//! tufd-bench-codecs diff CODEC OLD.tar NEW.tar OUT      CODEC: bidiff-zstd | bsdiff4 | bsdiff-lzma
//! tufd-bench-codecs apply CODEC OLD.tar PATCH SIZE SHA256 OUT
//! tufd-bench-codecs diff-windows BASE_BYTES NEW_BYTES OLD.tar NEW.tar OUT
//! ```
//!
//! `diff-windows` makes a `bsdiff-lzma` patch with other match windows than the default (bytes
//! of base matched at once, bytes of new matched against each base window), to measure what the
//! windows cost in patch bytes and save in memory.
//!
//! `tar` prints the tar's length in bytes and sha256 (hex). `diff` reads its inputs whole into
//! memory (as `tufd-repo add` does); `apply` streams the base and the patch from their files
//! with `apply_verified_stream` and checks the output against the expected length (bytes) and
//! sha256 as it is written, as the daemon's patch step does, and exits 1 on any mismatch.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::ExitCode;

use tufd_core::custom::TarDigest;
use tufd_core::patch::{apply_verified_stream, codec_for};
use tufd_core::{Codec, Sha256};

fn codec(name: &str) -> Result<Codec, String> {
    match name {
        "bidiff-zstd" => Ok(Codec::BidiffZstd),
        "bsdiff4" => Ok(Codec::Bsdiff4),
        "bsdiff-lzma" => Ok(Codec::BsdiffLzma),
        other => Err(format!(
            "unknown codec {other:?} (bidiff-zstd | bsdiff4 | bsdiff-lzma)"
        )),
    }
}

fn read(path: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))
}

fn open(path: &str) -> Result<File, String> {
    File::open(path).map_err(|e| format!("cannot open {path}: {e}"))
}

fn create(path: &str) -> Result<BufWriter<File>, String> {
    File::create(path)
        .map(|f| BufWriter::with_capacity(1 << 20, f))
        .map_err(|e| format!("cannot create {path}: {e}"))
}

fn run(args: &[String]) -> Result<(), String> {
    match args {
        [cmd, bundle, out] if cmd == "tar" => {
            let mut w = create(out)?;
            let digest = tufd_core::archive::write_tar(Path::new(bundle), &mut w, &mut |_| {})
                .map_err(|e| format!("tar of {bundle}: {e}"))?;
            w.flush().map_err(|e| format!("write {out}: {e}"))?;
            println!("{} {}", digest.size_bytes, digest.sha256);
            Ok(())
        }
        [cmd, name, old, new, out] if cmd == "diff" => {
            let codec = codec(name)?;
            let (old, new) = (read(old)?, read(new)?);
            let mut w = create(out)?;
            codec_for(codec)
                .diff(&old, &new, &mut w)
                .map_err(|e| format!("diff: {e}"))?;
            w.flush().map_err(|e| format!("write {out}: {e}"))
        }
        [cmd, base_bytes, new_bytes, old, new, out] if cmd == "diff-windows" => {
            let parse = |v: &str| {
                v.parse::<usize>()
                    .map_err(|e| format!("bad window {v:?}: {e}"))
            };
            let windows = tufd_core::patch::bsdiff_lzma::Windows {
                base_bytes: parse(base_bytes)?,
                new_bytes: parse(new_bytes)?,
            };
            let (old, new) = (read(old)?, read(new)?);
            let mut w = create(out)?;
            tufd_core::patch::bsdiff_lzma::BsdiffLzma
                .diff_with_windows(&old, &new, windows, &mut w)
                .map_err(|e| format!("diff: {e}"))?;
            w.flush().map_err(|e| format!("write {out}: {e}"))
        }
        [cmd, name, old, patch, size, sha256, out] if cmd == "apply" => {
            let codec = codec(name)?;
            let expected = TarDigest {
                sha256: sha256
                    .parse::<Sha256>()
                    .map_err(|e| format!("bad sha256 {sha256:?}: {e}"))?,
                size_bytes: size
                    .parse()
                    .map_err(|e| format!("bad size {size:?}: {e}"))?,
            };
            let (mut old, mut patch) = (open(old)?, open(patch)?);
            let mut w = create(out)?;
            apply_verified_stream(codec, &mut old, &mut patch, &expected, &mut w)
                .map_err(|e| format!("apply: {e}"))?;
            w.flush().map_err(|e| format!("write {out}: {e}"))
        }
        _ => Err("usage: tar BUNDLE OUT | diff CODEC OLD NEW OUT | apply CODEC OLD PATCH SIZE SHA256 OUT \
                  | diff-windows BASE_BYTES NEW_BYTES OLD NEW OUT"
            .to_owned()),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tufd-bench-codecs: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn diff_then_apply_round_trips_and_a_wrong_digest_fails() {
        let dir = std::env::temp_dir().join(format!("tufd-bench-codecs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = |name: &str| dir.join(name).to_str().unwrap().to_owned();
        let old: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut new = old.clone();
        new[1000..1100].fill(9);
        new.extend_from_slice(b"appendix");
        std::fs::write(p("old"), &old).unwrap();
        std::fs::write(p("new"), &new).unwrap();
        let size = new.len().to_string();
        let sha = Sha256::digest(&new).to_string();
        for codec in ["bidiff-zstd", "bsdiff4", "bsdiff-lzma"] {
            run(&args(&["diff", codec, &p("old"), &p("new"), &p("patch")])).unwrap();
            run(&args(&[
                "apply",
                codec,
                &p("old"),
                &p("patch"),
                &size,
                &sha,
                &p("out"),
            ]))
            .unwrap();
            assert_eq!(std::fs::read(p("out")).unwrap(), new, "{codec}");
            let wrong = Sha256::digest(b"other").to_string();
            let err = run(&args(&[
                "apply",
                codec,
                &p("old"),
                &p("patch"),
                &size,
                &wrong,
                &p("x"),
            ]))
            .unwrap_err();
            assert!(err.contains("does not match"), "{codec}: {err}");
        }
        assert!(run(&args(&["diff", "nope", "a", "b", "c"])).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
