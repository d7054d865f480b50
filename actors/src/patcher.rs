//! PatchActor and its plain work: turning downloaded, TUF-verified targets into the verified
//! uncompressed tar of the new version (DESIGN "Update planning", "The daemon: actors":
//! PatchActor; issue 3, "Patching").
//!
//! - Base tar: `<data>/cache/<app>-<installed>.tar` when present and (if the installed
//!   archive's tar digest is signed) matching it; else rebuilt from the install folder with
//!   `archive::write_tar` and checked against the signed digest before it is trusted.
//! - Patch chain: each step applied with `patch::apply_verified` against the patch's signed
//!   `tar` digest. A failing step is reported as [`BuildError::PatchFailed`] with the patch
//!   name, so the caller can record it and fetch the full archive in the same run.
//! - Full archive: decompressed with a limit (the signed tar size, else 16 GiB) and, when signed,
//!   checked against the tar digest.
//!
//! The result is written to a temporary file in `cache/` and renamed to
//! `<data>/cache/<app>-<new>.tar`; nothing is left behind on failure. Every function here is
//! blocking (hashing, patching, decompressing): the actor runs them in `spawn_blocking`.
//! Patches are applied in memory (base and result each held once per step).

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tufd_core::archive::{self, Compression};
use tufd_core::custom::TarDigest;
use tufd_core::{Codec, Sha256, Suffix, Version};

use crate::config::DataLayout;

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
    #[error("i/o error on {}: {source}", path.display())]
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
    crate::faults::point("patch.before-base-rebuild");
    let tmp = tempfile::NamedTempFile::new_in(&cache).map_err(io_err(&cache))?;
    let mut out = BufWriter::new(tmp.as_file());
    let digest = archive::write_tar(&base.install_dir, &mut out, &mut |_| {}).map_err(|e| {
        BuildError::BaseUnavailable {
            version: base.installed.clone(),
            reason: format!("rebuilding from {}: {e}", base.install_dir.display()),
        }
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
    crate::faults::point("patch.before-base-rename");
    tmp.persist(&cached).map_err(|e| BuildError::Io {
        path: cached.clone(),
        source: e.error,
    })?;
    crate::faults::point("patch.after-base-rename");
    tracing::info!(path = %cached.display(), "rebuilt base tar from the install folder");
    Ok(cached)
}

/// Writes `bytes` to `<cache>/<app>-<to>.tar` through a temporary file.
fn persist_bytes(
    layout: &DataLayout,
    app: &str,
    to: &Version,
    bytes: &[u8],
) -> Result<PathBuf, BuildError> {
    let cache = layout.cache();
    std::fs::create_dir_all(&cache).map_err(io_err(&cache))?;
    let mut tmp = tempfile::NamedTempFile::new_in(&cache).map_err(io_err(&cache))?;
    tmp.write_all(bytes).map_err(io_err(&cache))?;
    tmp.as_file().sync_all().map_err(io_err(&cache))?;
    let dest = layout.base_tar(app, to);
    crate::faults::point("patch.before-tar-rename");
    tmp.persist(&dest).map_err(|e| BuildError::Io {
        path: dest.clone(),
        source: e.error,
    })?;
    crate::faults::point("patch.after-tar-rename");
    Ok(dest)
}

fn apply_chain(
    layout: &DataLayout,
    base: &BaseSource,
    steps: &[PatchStep],
    app: &str,
    to: &Version,
) -> Result<PathBuf, BuildError> {
    let base_path = base_tar(layout, base)?;
    let mut current = std::fs::read(&base_path).map_err(io_err(&base_path))?;
    for step in steps {
        crate::faults::point("patch.before-step");
        let patch = std::fs::read(&step.file).map_err(io_err(&step.file))?;
        let mut out = Vec::with_capacity(usize::try_from(step.tar.size_bytes).unwrap_or(0));
        tufd_core::patch::apply_verified(step.codec, &current, &patch, &step.tar, &mut out)
            .map_err(|e| BuildError::PatchFailed {
                patch: step.name.clone(),
                reason: e.to_string(),
            })?;
        crate::faults::point("patch.after-step");
        tracing::info!(patch = %step.name, bytes = out.len(), "patch applied and verified");
        current = out;
    }
    persist_bytes(layout, app, to, &current)
}

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
    {
        let mut out = BufWriter::new(tmp.as_file());
        archive::decompress(&mut input, compression, &mut out, limit)
            .map_err(|e| fail(e.to_string()))?;
        out.flush().map_err(io_err(tmp.path()))?;
    }
    if let Some(signed) = tar {
        let actual = digest_file(tmp.path()).map_err(io_err(tmp.path()))?;
        if actual != *signed {
            return Err(fail(format!(
                "tar is {} bytes sha256 {}, signed {} bytes sha256 {}",
                actual.size_bytes, actual.sha256, signed.size_bytes, signed.sha256
            )));
        }
    }
    tmp.as_file().sync_all().map_err(io_err(tmp.path()))?;
    let dest = layout.base_tar(app, to);
    crate::faults::point("patch.before-tar-rename");
    tmp.persist(&dest).map_err(|e| BuildError::Io {
        path: dest.clone(),
        source: e.error,
    })?;
    crate::faults::point("patch.after-tar-rename");
    Ok(dest)
}

/// Messages of the [`PatchActor`].
pub enum PatchMsg {
    /// Build the new tar (in a blocking thread).
    Build {
        /// What to build.
        job: BuildJob,
        /// Where to answer.
        reply: RpcReplyPort<Result<PathBuf, BuildError>>,
    },
}

/// The PatchActor: runs [`build`] off the async threads, one job at a time.
pub struct PatchActor;

impl Actor for PatchActor {
    type Msg = PatchMsg;
    type State = ();
    type Arguments = ();

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        _args: (),
    ) -> Result<(), ActorProcessingErr> {
        Ok(())
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        _state: &mut (),
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            PatchMsg::Build { job, reply } => {
                let result = tokio::task::spawn_blocking(move || build(&job)).await?;
                // The requester may have gone (cancelled); nothing to do then.
                let _ = reply.send(result);
            }
        }
        Ok(())
    }
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
        };
        assert!(matches!(
            base_tar(&layout, &base),
            Err(BuildError::BaseUnavailable { .. })
        ));
    }
}
