//! The plain work of the engine's patch worker (`tufd_engine::workers::patch`): turning
//! downloaded, TUF-verified targets into the verified uncompressed tar of the new version
//! (docs/architecture.md, "One update, step by step", steps 5 and 7).
//!
//! - Base tar: `<data>/cache/<app>-<installed>.tar` when present and (if the installed
//!   archive's tar digest is signed) matching it; else rebuilt from the install folder with
//!   `archive::write_tar` and checked against the signed digest before it is trusted.
//! - Patch chain: each step applied file to file with `patch::apply_verified_stream` against
//!   the patch's signed `tar` digest (the output is hashed as it is written). A failing step is
//!   reported as [`BuildError::PatchFailed`] with the patch name, so the caller can record it
//!   and fetch the full archive in the same run.
//! - Full archive: decompressed with a limit (the signed tar size, else 16 GiB), hashed while it
//!   is written and, when signed, checked against the tar digest.
//!
//! The result is written to a temporary file in `cache/` and renamed to
//! `<data>/cache/<app>-<new>.tar`; nothing is left behind on failure. Every function here is
//! blocking (hashing, patching, decompressing): the actor runs them in `spawn_blocking`.
//! Memory: `bidiff-zstd` steps stream the base and the patch (about the patch's zstd window plus
//! buffers); `bsdiff4` steps read base and patch whole (qbsdiff needs slices); the result always
//! goes straight to a temporary file.

use std::fs::File;
use std::io::{BufReader, BufWriter, Seek, Write};
use std::path::{Path, PathBuf};

use tufd_core::archive::{self, Compression, TarModes};
use tufd_core::custom::TarDigest;
use tufd_core::hash::HashingWriter;
use tufd_core::{Codec, Sha256, Suffix, Version};

use crate::layout::DataLayout;

/// Largest tar produced from an archive without a signed `tar_size`, in bytes (16 GiB).
pub const UNSIGNED_TAR_LIMIT_BYTES: u64 = 16 << 30;

/// Why a new tar could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// No usable base tar: the cache holds none that verifies and the install folder does not
    /// rebuild to the signed digest (or no digest is signed).
    #[error("no base tar for {version}: {reason}")]
    BaseUnavailable {
        /// The installed version.
        version: Version,
        /// Why.
        reason: String,
    },
    /// A patch did not apply or its result does not match its signed digest.
    #[error("patch {patch} failed: {reason}")]
    PatchFailed {
        /// The patch file name.
        patch: String,
        /// Why.
        reason: String,
    },
    /// The archive does not decompress, or its tar does not match the signed digest.
    #[error("archive {archive} is unusable: {reason}")]
    ArchiveFailed {
        /// The archive file name.
        archive: String,
        /// Why.
        reason: String,
    },
    /// A cache file could not be read or written.
    #[error("i/o error on {}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> BuildError + '_ {
    move |source| BuildError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// One downloaded patch of the chain.
#[derive(Clone, Debug)]
pub struct PatchStep {
    /// The patch target's file name.
    pub name: String,
    /// The verified patch file.
    pub file: PathBuf,
    /// Its codec.
    pub codec: Codec,
    /// The signed digest of the tar it produces.
    pub tar: TarDigest,
}

/// Where the base tar comes from.
#[derive(Clone, Debug)]
pub struct BaseSource {
    /// The app name.
    pub app: String,
    /// The installed version.
    pub installed: Version,
    /// The install folder, to rebuild the base from.
    pub install_dir: PathBuf,
    /// The signed digest of the installed version's tar, when the repository has one.
    pub signed: Option<TarDigest>,
    /// The signed permission bits of that tar's members (its archive's `modes`), when the
    /// repository has them: the rebuild takes every member's bits from here instead of from
    /// the disk, so a Windows install folder (no mode bits) rebuilds a tar packed on Linux.
    pub signed_modes: Option<TarModes>,
    /// Paths the app writes into its install folder and tufd carries across updates (the
    /// `keep` setting): left out of the rebuild, since no release holds them.
    pub exclude: Vec<String>,
}

/// A build request: patches onto the base, or a full archive.
#[derive(Clone, Debug)]
pub enum BuildJob {
    /// Apply `steps` in order to the base tar.
    Patches {
        /// The data folder.
        layout: DataLayout,
        /// The base.
        base: BaseSource,
        /// The chain, first first.
        steps: Vec<PatchStep>,
        /// The app name and the version reached (names the output).
        app: String,
        /// The version reached.
        to: Version,
    },
    /// Decompress an archive.
    Archive {
        /// The data folder.
        layout: DataLayout,
        /// The archive's file name.
        name: String,
        /// The verified archive file.
        file: PathBuf,
        /// The signed digest of its tar, if any.
        tar: Option<TarDigest>,
        /// The app name.
        app: String,
        /// The version reached.
        to: Version,
    },
}

/// Runs `job` (blocking); returns the path of the new, verified `cache/<app>-<to>.tar`.
///
/// # Errors
/// See [`BuildError`].
pub fn build(job: &BuildJob) -> Result<PathBuf, BuildError> {
    match job {
        BuildJob::Patches {
            layout,
            base,
            steps,
            app,
            to,
        } => apply_chain(layout, base, steps, app, to),
        BuildJob::Archive {
            layout,
            name,
            file,
            tar,
            app,
            to,
        } => from_archive(layout, name, file, tar.as_ref(), app, to),
    }
}

/// The sha256 and length of a file.
fn digest_file(path: &Path) -> std::io::Result<TarDigest> {
    let file = File::open(path)?;
    let (sha256, size_bytes) = Sha256::digest_reader(BufReader::new(file))?;
    Ok(TarDigest { sha256, size_bytes })
}

/// The verified base tar of the installed version: the cached one if it matches the signed
/// digest (or no digest is signed), else rebuilt from the install folder and checked.
///
/// # Errors
/// [`BuildError::BaseUnavailable`] when neither works; [`BuildError::Io`] for cache failures.
pub fn base_tar(layout: &DataLayout, base: &BaseSource) -> Result<PathBuf, BuildError> {
    let cached = layout.base_tar(&base.app, &base.installed);
    if cached.is_file() {
        match &base.signed {
            None => return Ok(cached),
            Some(signed) => {
                let actual = digest_file(&cached).map_err(io_err(&cached))?;
                if actual == *signed {
                    return Ok(cached);
                }
                tracing::warn!(path = %cached.display(), "cached base tar does not match its signed digest; rebuilding");
                std::fs::remove_file(&cached).map_err(io_err(&cached))?;
            }
        }
    }
    let Some(signed) = base.signed else {
        return Err(BuildError::BaseUnavailable {
            version: base.installed.clone(),
            reason: "no cached base tar and no signed tar digest to rebuild it".into(),
        });
    };
    let cache = layout.cache();
    std::fs::create_dir_all(&cache).map_err(io_err(&cache))?;
    tufd_core::faults::point("patch.before-base-rebuild");
    let tmp = tempfile::NamedTempFile::new_in(&cache).map_err(io_err(&cache))?;
    let mut out = BufWriter::new(tmp.as_file());
    // The entries recorded when tufd installed this version: what else sits in the install
    // folder is not part of the release.
    let only = crate::release::files(layout, &base.installed.to_string());
    let rebuild = archive::Rebuild {
        modes: base.signed_modes.as_ref(),
        exclude: &base.exclude,
        only: only.as_ref(),
    };
    let written = archive::write_tar_with(&base.install_dir, rebuild, &mut out, &mut |_| {});
    let digest = written.map_err(|e| BuildError::BaseUnavailable {
        version: base.installed.clone(),
        reason: format!("rebuilding from {}: {e}", base.install_dir.display()),
    })?;
    out.flush().map_err(io_err(tmp.path()))?;
    drop(out);
    if digest != signed {
        return Err(BuildError::BaseUnavailable {
            version: base.installed.clone(),
            reason: format!(
                "install folder {} rebuilds to {} bytes sha256 {}, signed {} bytes sha256 {}",
                base.install_dir.display(),
                digest.size_bytes,
                digest.sha256,
                signed.size_bytes,
                signed.sha256
            ),
        });
    }
    tufd_core::faults::point("patch.before-base-rename");
    tmp.persist(&cached).map_err(|e| BuildError::Io {
        path: cached.clone(),
        source: e.error,
    })?;
    tufd_core::faults::point("patch.after-base-rename");
    tracing::info!(path = %cached.display(), "rebuilt base tar from the install folder");
    Ok(cached)
}

/// Renames `tmp` to `<cache>/<app>-<to>.tar`; returns that path.
///
/// Not fsync'd (for a 1 GiB bundle that is seconds of synchronous write-back): the cached tar is
/// never trusted as it lies. [`base_tar`] checks it against the signed `tar_hash` before any
/// patch is applied to it, and rebuilds it from the install folder when a power loss left it
/// wrong; the staging folder extracted from it is synced by the install step.
fn persist_tar(
    tmp: tempfile::NamedTempFile,
    layout: &DataLayout,
    app: &str,
    to: &Version,
) -> Result<PathBuf, BuildError> {
    let dest = layout.base_tar(app, to);
    tufd_core::faults::point("patch.before-tar-rename");
    tmp.persist(&dest).map_err(|e| BuildError::Io {
        path: dest.clone(),
        source: e.error,
    })?;
    tufd_core::faults::point("patch.after-tar-rename");
    Ok(dest)
}

/// Bytes of the buffer in front of each temporary tar being written (1 MiB).
const TAR_WRITE_BUFFER_BYTES: usize = 1 << 20;

/// Applies `steps` to the base tar, file to file: each step streams its base (the previous
/// step's temporary output) and its patch, and writes a new temporary tar in `cache/`, hashed as
/// it is written; only the last one is kept.
fn apply_chain(
    layout: &DataLayout,
    base: &BaseSource,
    steps: &[PatchStep],
    app: &str,
    to: &Version,
) -> Result<PathBuf, BuildError> {
    let base_path = base_tar(layout, base)?;
    let cache = layout.cache();
    std::fs::create_dir_all(&cache).map_err(io_err(&cache))?;
    // The previous step's output; `None` while the base is the cached base tar.
    let mut current: Option<tempfile::NamedTempFile> = None;
    for step in steps {
        tufd_core::faults::point("patch.before-step");
        let mut old = match current.as_mut() {
            Some(tmp) => {
                let mut file = tmp.as_file().try_clone().map_err(io_err(tmp.path()))?;
                file.rewind().map_err(io_err(tmp.path()))?;
                file
            }
            None => File::open(&base_path).map_err(io_err(&base_path))?,
        };
        let mut patch = File::open(&step.file).map_err(io_err(&step.file))?;
        let next = tempfile::NamedTempFile::new_in(&cache).map_err(io_err(&cache))?;
        {
            let mut out = BufWriter::with_capacity(TAR_WRITE_BUFFER_BYTES, next.as_file());
            tufd_core::patch::apply_verified_stream(
                step.codec, &mut old, &mut patch, &step.tar, &mut out,
            )
            .map_err(|e| BuildError::PatchFailed {
                patch: step.name.clone(),
                reason: e.to_string(),
            })?;
            out.flush().map_err(io_err(next.path()))?;
        }
        tufd_core::faults::point("patch.after-step");
        tracing::info!(patch = %step.name, bytes = step.tar.size_bytes, "patch applied and verified");
        // Drops (deletes) the previous step's output.
        current = Some(next);
    }
    let tmp = match current {
        Some(tmp) => tmp,
        None => {
            // No step: the result is the base itself.
            let tmp = tempfile::NamedTempFile::new_in(&cache).map_err(io_err(&cache))?;
            let mut input = File::open(&base_path).map_err(io_err(&base_path))?;
            std::io::copy(&mut input, &mut tmp.as_file()).map_err(io_err(tmp.path()))?;
            tmp
        }
    };
    persist_tar(tmp, layout, app, to)
}

/// Decompresses a verified archive into `cache/<app>-<to>.tar`, hashing the tar as it is
/// written (never re-read) and checking it against the signed digest when there is one.
fn from_archive(
    layout: &DataLayout,
    name: &str,
    file: &Path,
    tar: Option<&TarDigest>,
    app: &str,
    to: &Version,
) -> Result<PathBuf, BuildError> {
    let fail = |reason: String| BuildError::ArchiveFailed {
        archive: name.to_owned(),
        reason,
    };
    let compression = match tufd_core::TargetName::parse(name).map(|n| n.suffix()) {
        Ok(Suffix::TarZst) => Compression::Zstd,
        _ => Compression::Gzip,
    };
    let limit = tar.map_or(UNSIGNED_TAR_LIMIT_BYTES, |t| t.size_bytes);
    let cache = layout.cache();
    std::fs::create_dir_all(&cache).map_err(io_err(&cache))?;
    let tmp = tempfile::NamedTempFile::new_in(&cache).map_err(io_err(&cache))?;
    let mut input = BufReader::new(File::open(file).map_err(io_err(file))?);
    let actual = {
        let mut out = HashingWriter::new(BufWriter::with_capacity(
            TAR_WRITE_BUFFER_BYTES,
            tmp.as_file(),
        ));
        archive::decompress(&mut input, compression, &mut out, limit)
            .map_err(|e| fail(e.to_string()))?;
        let (sha256, size_bytes, mut buffered) = out.finish();
        buffered.flush().map_err(io_err(tmp.path()))?;
        TarDigest { sha256, size_bytes }
    };
    if let Some(signed) = tar
        && actual != *signed
    {
        return Err(fail(format!(
            "tar is {} bytes sha256 {}, signed {} bytes sha256 {}",
            actual.size_bytes, actual.sha256, signed.size_bytes, signed.sha256
        )));
    }
    persist_tar(tmp, layout, app, to)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout() -> (tempfile::TempDir, DataLayout) {
        let dir = tempfile::tempdir().unwrap();
        let layout = DataLayout::new(&dir.path().join("data"));
        layout.create_dirs().unwrap();
        (dir, layout)
    }

    #[test]
    fn cached_base_with_wrong_digest_and_no_rebuild_source_is_refused() {
        let (dir, layout) = layout();
        let v: Version = "1.0".parse().unwrap();
        std::fs::write(layout.base_tar("demo", &v), b"not the tar").unwrap();
        let install = dir.path().join("app");
        std::fs::create_dir_all(&install).unwrap();
        let base = BaseSource {
            app: "demo".into(),
            installed: v.clone(),
            install_dir: install,
            signed: Some(TarDigest {
                sha256: Sha256::digest(b"the real tar"),
                size_bytes: 12,
            }),
            signed_modes: None,
            exclude: Vec::new(),
        };
        // The install folder is empty, so the rebuild fails too: no base.
        assert!(matches!(
            base_tar(&layout, &base),
            Err(BuildError::BaseUnavailable { .. })
        ));
        assert!(
            !layout.base_tar("demo", &v).exists(),
            "bad cache file removed"
        );
    }

    #[test]
    fn cached_base_matching_its_digest_is_used() {
        let (dir, layout) = layout();
        let v: Version = "1.0".parse().unwrap();
        let path = layout.base_tar("demo", &v);
        std::fs::write(&path, b"tar bytes").unwrap();
        let base = BaseSource {
            app: "demo".into(),
            installed: v,
            install_dir: dir.path().join("nowhere"),
            signed: Some(TarDigest {
                sha256: Sha256::digest(b"tar bytes"),
                size_bytes: 9,
            }),
            signed_modes: None,
            exclude: Vec::new(),
        };
        assert_eq!(base_tar(&layout, &base).unwrap(), path);
    }

    #[test]
    fn no_cache_and_no_digest_is_unavailable() {
        let (dir, layout) = layout();
        let base = BaseSource {
            app: "demo".into(),
            installed: "1.0".parse().unwrap(),
            install_dir: dir.path().to_path_buf(),
            signed: None,
            signed_modes: None,
            exclude: Vec::new(),
        };
        assert!(matches!(
            base_tar(&layout, &base),
            Err(BuildError::BaseUnavailable { .. })
        ));
    }

    #[cfg(unix)]
    #[test]
    fn install_folder_without_the_signed_modes_rebuilds_with_them() {
        use std::os::unix::fs::PermissionsExt;
        let (dir, layout) = layout();
        let v: Version = "1.0".parse().unwrap();
        // The release as published: an executable (0755) and a data file.
        let bundle = dir.path().join("bundle");
        std::fs::create_dir_all(bundle.join("bin")).unwrap();
        std::fs::write(bundle.join("bin/app"), b"#!/bin/sh\n").unwrap();
        std::fs::set_permissions(
            bundle.join("bin/app"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        std::fs::write(bundle.join("data.txt"), b"data").unwrap();
        let signed = archive::write_tar(&bundle, &mut std::io::sink(), &mut |_| {}).unwrap();
        let modes = archive::tar_modes(&bundle).unwrap();
        assert_eq!(modes.mode_of("bin/app"), 0o755);
        // Installed where mode bits are lost (as on Windows): every file 0644.
        let install = dir.path().join("app");
        std::fs::create_dir_all(install.join("bin")).unwrap();
        std::fs::write(install.join("bin/app"), b"#!/bin/sh\n").unwrap();
        std::fs::set_permissions(
            install.join("bin/app"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        std::fs::write(install.join("data.txt"), b"data").unwrap();
        let source = |signed_modes| BaseSource {
            app: "demo".into(),
            installed: v.clone(),
            install_dir: install.clone(),
            signed: Some(signed),
            signed_modes,
            exclude: Vec::new(),
        };
        assert!(matches!(
            base_tar(&layout, &source(None)),
            Err(BuildError::BaseUnavailable { .. })
        ));
        let rebuilt = base_tar(&layout, &source(Some(modes))).unwrap();
        assert_eq!(digest_file(&rebuilt).unwrap(), signed);
    }

    use tufd_testkit::rng::binary_like as bytes;

    fn digest(data: &[u8]) -> TarDigest {
        TarDigest {
            sha256: Sha256::digest(data),
            size_bytes: data.len() as u64,
        }
    }

    /// Names in `cache/`, sorted (temporary files show up here).
    fn cache_entries(layout: &DataLayout) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(layout.cache())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// v1 → v2 (bidiff-zstd) → v3 (bsdiff4): the tars, and the two patch steps as files.
    fn chain(dir: &Path) -> (Vec<Vec<u8>>, Vec<PatchStep>) {
        let v1 = bytes(400_000, 1);
        let mut v2 = v1.clone();
        v2[1000..1100].fill(7);
        v2.extend_from_slice(&bytes(5_000, 2));
        let mut v3 = v2.clone();
        v3.drain(200_000..210_000);
        v3[50] ^= 0xff;
        let mut steps = Vec::new();
        for (n, (codec, old, new)) in [(Codec::BidiffZstd, &v1, &v2), (Codec::Bsdiff4, &v2, &v3)]
            .into_iter()
            .enumerate()
        {
            let mut patch = Vec::new();
            tufd_core::patch::codec_for(codec)
                .diff(old, new, &mut patch)
                .unwrap();
            let file = dir.join(format!("step{n}.patch"));
            std::fs::write(&file, &patch).unwrap();
            steps.push(PatchStep {
                name: format!("demo-{}.0.patch", n + 2),
                file,
                codec,
                tar: digest(new),
            });
        }
        (vec![v1, v2, v3], steps)
    }

    fn patches_job(layout: &DataLayout, dir: &Path, v1: &[u8], steps: Vec<PatchStep>) -> BuildJob {
        BuildJob::Patches {
            layout: layout.clone(),
            base: BaseSource {
                app: "demo".into(),
                installed: "1.0".parse().unwrap(),
                install_dir: dir.join("nowhere"),
                signed: Some(digest(v1)),
                signed_modes: None,
                exclude: Vec::new(),
            },
            steps,
            app: "demo".into(),
            to: "3.0".parse().unwrap(),
        }
    }

    #[test]
    fn a_patch_chain_is_applied_file_to_file() {
        let (dir, layout) = layout();
        let (tars, steps) = chain(dir.path());
        std::fs::write(layout.base_tar("demo", &"1.0".parse().unwrap()), &tars[0]).unwrap();
        let out = build(&patches_job(&layout, dir.path(), &tars[0], steps)).unwrap();
        assert_eq!(out, layout.base_tar("demo", &"3.0".parse().unwrap()));
        assert_eq!(std::fs::read(&out).unwrap(), tars[2]);
        assert_eq!(cache_entries(&layout), ["demo-1.0.tar", "demo-3.0.tar"]);
    }

    #[test]
    fn a_failing_step_names_its_patch_and_leaves_nothing() {
        let (dir, layout) = layout();
        let (tars, mut steps) = chain(dir.path());
        std::fs::write(layout.base_tar("demo", &"1.0".parse().unwrap()), &tars[0]).unwrap();
        steps[1].tar.sha256 = Sha256::digest(b"another tar");
        let err = build(&patches_job(&layout, dir.path(), &tars[0], steps)).unwrap_err();
        assert!(
            matches!(&err, BuildError::PatchFailed { patch, .. } if patch == "demo-3.0.patch"),
            "{err:?}"
        );
        assert_eq!(cache_entries(&layout), ["demo-1.0.tar"]);
    }

    #[test]
    fn a_bad_first_patch_is_blamed_not_the_benign_later_one() {
        let (dir, layout) = layout();
        let (tars, steps) = chain(dir.path());
        std::fs::write(layout.base_tar("demo", &"1.0".parse().unwrap()), &tars[0]).unwrap();
        // The first patch's bytes are damaged: its output misses its own signed tar hash, and
        // the chain stops there, before the (good) second patch is read.
        let mut first = std::fs::read(&steps[0].file).unwrap();
        let last = first.len() - 1;
        first[last] ^= 0x55;
        std::fs::write(&steps[0].file, &first).unwrap();
        let err = build(&patches_job(&layout, dir.path(), &tars[0], steps)).unwrap_err();
        assert!(
            matches!(&err, BuildError::PatchFailed { patch, .. } if patch == "demo-2.0.patch"),
            "{err:?}"
        );
        assert_eq!(cache_entries(&layout), ["demo-1.0.tar"]);
    }

    #[test]
    fn an_archive_is_hashed_while_it_is_decompressed() {
        let (dir, layout) = layout();
        let tar = bytes(300_000, 5);
        for (name, compression) in [
            ("demo-2.0.tar.zst", Compression::Zstd),
            ("demo-2.0.tar.gz", Compression::Gzip),
        ] {
            let file = dir.path().join(name);
            let mut compressed = Vec::new();
            archive::compress(&mut tar.as_slice(), compression, &mut compressed).unwrap();
            std::fs::write(&file, &compressed).unwrap();
            let job = |signed: Option<TarDigest>| BuildJob::Archive {
                layout: layout.clone(),
                name: name.into(),
                file: file.clone(),
                tar: signed,
                app: "demo".into(),
                to: "2.0".parse().unwrap(),
            };
            let dest = layout.base_tar("demo", &"2.0".parse().unwrap());

            // A signed digest of another tar of the same length: refused, nothing kept.
            let mut wrong = digest(&tar);
            wrong.sha256 = Sha256::digest(b"other");
            let err = build(&job(Some(wrong))).unwrap_err();
            assert!(
                matches!(&err, BuildError::ArchiveFailed { .. }),
                "{name}: {err:?}"
            );
            assert!(cache_entries(&layout).is_empty(), "{name}");

            // Longer than the signed size: cut at the limit, refused.
            let mut short = digest(&tar);
            short.size_bytes -= 1;
            assert!(matches!(
                build(&job(Some(short))),
                Err(BuildError::ArchiveFailed { .. })
            ));
            assert!(cache_entries(&layout).is_empty(), "{name}");

            assert_eq!(build(&job(Some(digest(&tar)))).unwrap(), dest);
            assert_eq!(std::fs::read(&dest).unwrap(), tar, "{name}");
            std::fs::remove_file(&dest).unwrap();
            // No signed digest: accepted as decompressed.
            assert_eq!(build(&job(None)).unwrap(), dest);
            assert_eq!(std::fs::read(&dest).unwrap(), tar, "{name}");
            std::fs::remove_file(&dest).unwrap();
        }
    }
}
