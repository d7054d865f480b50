//! `tufd-repo add BUNDLE_DIR --version V`: publishes a release (docs/repository-format.md,
//! "Target names"). Builds the deterministic tar of the bundle, the compressed archive, and (unless it is
//! the first release or `--skip-patch`) a patch from the previous release's tar, which is rebuilt
//! by decompressing the published archive and checked against its signed length, sha256 and
//! `tar_hash`. Then targets, snapshot and timestamp are re-signed and everything is published
//! atomically ([`crate::repo::txn`]).

use std::fmt;
use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use clap::Args;
use serde_json::Value;
use tough::schema::{Hashes, Target};
use tufd_core::archive::{Compression, TarModes};
use tufd_core::custom::TarDigest;
use tufd_core::rollout::{Percent, ReleaseControl, Rollout};
use tufd_core::{
    ArchiveCustom, Codec, PatchCustom, Sha256, Suffix, TargetCustom, TargetName, Version,
};

use super::Ctx;
use super::platform::Scope;
use crate::error::{Error, Result};
use crate::progress;
use crate::repo::txn::Staging;
use crate::repo::{State, target_file};

/// Largest uncompressed tar accepted when rebuilding the previous release without a signed
/// `tar_size` (bytes): 16 GiB.
const MAX_TAR_BYTES: u64 = 16 << 30;

/// Arguments of `add`.
#[derive(Debug, Args)]
pub struct AddArgs {
    /// The bundle folder: its contents become the release (not the folder itself).
    pub bundle_dir: PathBuf,
    /// Release version, PEP 440 (`1.0`, `2.0rc1`); must be newer than every published release.
    #[arg(long)]
    pub version: String,
    /// Mark the release as required: clients stop here before going further.
    #[arg(long)]
    pub required: bool,
    /// Free JSON object stored as `custom.user` of the archive (release notes, …).
    #[arg(long)]
    pub meta: Option<String>,
    /// Publish no patch from the previous release (clients then download the full archive).
    #[arg(long)]
    pub skip_patch: bool,
    /// Patch codec for this release: bidiff-zstd, bsdiff4 or bsdiff-lzma. Default: `codec` of
    /// the config.
    #[arg(long)]
    pub codec: Option<Codec>,
    /// Publish a bundle whose only entry is one folder as it is (the release then installs as
    /// `<install>/<folder>/…`). Without it such a bundle is refused: it is almost always the
    /// parent of the real bundle (`dist/` holding `dist/app/`).
    #[arg(long)]
    pub allow_single_folder: bool,
    /// Offer the release to this share of installs only (a whole number 0-100; each install
    /// draws a stable random bucket once). Default: everyone. `tufd-repo rollout` changes it.
    #[arg(long, value_name = "PERCENT")]
    pub rollout: Option<String>,
    /// Publish for one platform, `<os>-<arch>` (`linux-x86_64`, `windows-x86_64`,
    /// `macos-aarch64`, …): the release goes to `<platform>/`, its patch starts from that
    /// platform's previous release, and the platform's delegated role signs it when the
    /// repository has one (`tufd-repo delegate`).
    #[arg(long, value_name = "OS-ARCH")]
    pub platform: Option<String>,
}

/// What `add` published.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddOutcome {
    /// The archive's target name (`<app>-<version>.tar.gz`).
    pub archive: TargetName,
    /// The archive's length, in bytes.
    pub archive_bytes: u64,
    /// The patch from the previous release, unless it was the first release or `--skip-patch`.
    pub patch: Option<PatchOutcome>,
}

/// The patch `add` published.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PatchOutcome {
    /// The patch's target name (`<app>-<version>.patch`).
    pub name: TargetName,
    /// The patch's length, in bytes.
    pub bytes: u64,
    /// The codec.
    pub codec: Codec,
    /// The release it applies to.
    pub from: Version,
}

impl fmt::Display for AddOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "published {} ({} bytes)",
            self.archive, self.archive_bytes
        )?;
        if let Some(p) = &self.patch {
            write!(
                f,
                ", {} ({} bytes, {} from {})",
                p.name, p.bytes, p.codec, p.from
            )?;
        }
        Ok(())
    }
}

/// Runs `add`: archives `args.bundle_dir`, makes the patch from the previous release, and
/// publishes both with targets, snapshot and timestamp re-signed. The caller holds
/// [`Ctx::lock`].
///
/// # Errors
/// Refused input: [`Error::BundleMissing`], [`Error::BundleNotFolder`],
/// [`Error::BundleEmpty`], [`Error::InvalidVersion`], [`Error::NotNewer`],
/// [`Error::ReleaseName`], [`Error::BadMeta`]; missing keys or passphrase; a previous release
/// that does not match its metadata (kind `target-mismatch`); archive or patch failures; a
/// failed publication ([`Error::Publish`], rolled back). The repository is unchanged on error.
pub async fn run(ctx: &Ctx, args: AddArgs) -> Result<AddOutcome> {
    check_bundle(&args.bundle_dir, args.allow_single_folder)?;
    let version: Version = args
        .version
        .parse()
        .map_err(|source| Error::InvalidVersion {
            given: args.version.clone(),
            source,
        })?;
    let rollout = args
        .rollout
        .as_deref()
        .map(|text| {
            text.parse::<Percent>()
                .map_err(|_| Error::InvalidRollout { given: text.into() })
        })
        .transpose()?;
    let user = match &args.meta {
        None => None,
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(v @ Value::Object(_)) => Some(v),
            Ok(_) => return Err(Error::BadMeta { source: None }),
            Err(e) => return Err(Error::BadMeta { source: Some(e) }),
        },
    };
    let codec = args.codec.unwrap_or(ctx.config.codec);
    if ctx.config.compat == Some(crate::config::Compat::Tufup) && codec != Codec::Bsdiff4 {
        return Err(Error::CodecNotCompat { codec });
    }
    let app = ctx.config.app_name.clone();
    let state = State::load(&ctx.layout)?;
    // Keys first: a wrong passphrase should fail before minutes of archiving.
    let scope = Scope::load(ctx, &state, args.platform.as_deref()).await?;
    if let Some(latest) = scope.latest_version(&state, &app)
        && version <= latest
    {
        return Err(Error::NotNewer {
            given: version,
            latest,
        });
    }
    let compression = ctx.config.compression.compression();
    let archive_suffix = match compression {
        Compression::Gzip => Suffix::TarGz,
        Compression::Zstd => Suffix::TarZst,
    };
    let name = |suffix| {
        TargetName::new(&app, &version, suffix)
            .map(|n| scope.name(n))
            .map_err(|source| Error::ReleaseName {
                app: app.clone(),
                version: version.clone(),
                source,
            })
    };
    let archive_name = name(archive_suffix)?;
    let patch_name = name(Suffix::Patch)?;
    // Keys first: a wrong passphrase should fail before minutes of archiving.
    let signers = ctx.signers(scope.top_level_roles()).await?;

    let mut staging = Staging::new(&ctx.layout)?;
    let consistent = state.consistent();
    let new_tar = staging.work_dir().join("new.tar");
    let archive_tmp = staging.targets_dir().join(archive_name.base_name());
    let bundle = args.bundle_dir.clone();
    let (tar_digest, tar_modes, archive_path) = {
        let new_tar = new_tar.clone();
        tokio::task::spawn_blocking(move || {
            build_archive(&bundle, &new_tar, &archive_tmp, compression)
        })
        .await
        .map_err(|source| Error::Task {
            task: "archiving",
            source,
        })??
    };
    let mut targets = scope.targets(ctx, &state)?;
    let archive_target = file_target(
        &archive_path,
        ArchiveCustom {
            required: args.required,
            tar: Some(tar_digest),
            modes: Some(tar_modes),
            control: ReleaseControl {
                rollout: rollout.map(|percent| Rollout {
                    percent,
                    halted: false,
                }),
                yanked: None,
                published: Some(tufd_core::now_unix()),
            },
            user,
        }
        .to_custom(),
    )?;
    let archive_final = target_file(
        archive_name.as_str(),
        &hex::encode(&*archive_target.hashes.sha256),
        consistent,
    );
    staging.add_target(archive_path, archive_final);
    let mut outcome = AddOutcome {
        archive: archive_name.clone(),
        archive_bytes: archive_target.length,
        patch: None,
    };
    targets.add_target(tname(archive_name.as_str())?, archive_target);

    let previous = scope.latest_archive(&state, &app);
    if let (Some((prev_name, prev_target)), false) = (&previous, args.skip_patch) {
        let prev_file = ctx.layout.targets.join(target_file(
            prev_name.as_str(),
            &hex::encode(&*prev_target.hashes.sha256),
            consistent,
        ));
        let old_tar = staging.work_dir().join("old.tar");
        let patch_tmp = staging.targets_dir().join(patch_name.base_name());
        let (prev_name2, prev_target2, new_tar2) =
            (prev_name.clone(), prev_target.clone(), new_tar.clone());
        let patch_path = patch_tmp.clone();
        tokio::task::spawn_blocking(move || {
            rebuild_previous(&prev_name2, &prev_target2, &prev_file, &old_tar)?;
            write_patch(codec, &old_tar, &new_tar2, &patch_path)
        })
        .await
        .map_err(|source| Error::Task {
            task: "patch",
            source,
        })??;
        let patch_target = file_target(
            &patch_tmp,
            PatchCustom {
                tar: Some(tar_digest),
                codec,
                from: Some(prev_name.version().clone()),
                user: None,
            }
            .to_custom(),
        )?;
        let patch_final = target_file(
            patch_name.as_str(),
            &hex::encode(&*patch_target.hashes.sha256),
            consistent,
        );
        outcome.patch = Some(PatchOutcome {
            name: patch_name.clone(),
            bytes: patch_target.length,
            codec,
            from: prev_name.version().clone(),
        });
        staging.add_target(patch_tmp, patch_final);
        targets.add_target(tname(patch_name.as_str())?, patch_target);
    }
    scope
        .publish(ctx, &state, &signers, staging, targets, "the release")
        .await?;
    Ok(outcome)
}

/// tough's name of a target `tufd-core` named.
pub(crate) fn tname(name: &str) -> Result<tough::TargetName> {
    tough::TargetName::new(name).map_err(|e| Error::TargetName {
        name: name.to_owned(),
        source: Box::new(e),
    })
}

/// Refuses a missing, non-folder or empty bundle, and one whose only entry is a folder unless
/// `allow_single_folder` ([`Error::Io`] when it cannot be read). The single-folder rule is
/// tufup#55: `add dist` with `dist/app/` inside installs the app one level too deep. A macOS
/// `.app` bundle (only `Contents/`) is accepted as it is.
fn check_bundle(path: &Path, allow_single_folder: bool) -> Result<()> {
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::BundleMissing { path: path.into() },
        _ => Error::io("read bundle", path)(e),
    })?;
    if !meta.is_dir() {
        return Err(Error::BundleNotFolder { path: path.into() });
    }
    let entries: Vec<_> = std::fs::read_dir(path)
        .map_err(Error::io("read bundle", path))?
        .take(2)
        .collect::<std::io::Result<_>>()
        .map_err(Error::io("read bundle", path))?;
    match entries.as_slice() {
        [] => Err(Error::BundleEmpty { path: path.into() }),
        // A macOS `.app` bundle holds only `Contents/`: that is its layout, not a mistake.
        [only]
            if !allow_single_folder
                && only.file_name() != "Contents"
                && only.file_type().is_ok_and(|t| t.is_dir()) =>
        {
            Err(Error::BundleSingleFolder {
                path: path.into(),
                folder: only.file_name().to_string_lossy().into_owned(),
            })
        }
        _ => Ok(()),
    }
}

fn bundle_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    for e in entries.flatten() {
        match e.file_type() {
            Ok(t) if t.is_dir() => total += bundle_bytes(&e.path()),
            Ok(t) if t.is_file() => total += e.metadata().map_or(0, |m| m.len()),
            _ => {}
        }
    }
    total
}

/// Writes the tar to `tar_path` and its compressed archive to `archive_path`; returns the tar's
/// digest, its members' non-default permission bits (signed as `modes`, so that a client
/// without mode bits can rebuild the tar) and the archive path.
fn build_archive(
    bundle: &Path,
    tar_path: &Path,
    archive_path: &Path,
    compression: Compression,
) -> Result<(TarDigest, TarModes, PathBuf)> {
    let archive_error = |e| Error::Archive {
        bundle: bundle.to_path_buf(),
        source: Box::new(e),
    };
    let modes = tufd_core::archive::tar_modes(bundle).map_err(archive_error)?;
    for (entry, mode) in tufd_core::archive::dropped_mode_bits(bundle).map_err(archive_error)? {
        eprintln!(
            "warning: {entry} has mode {mode:o}: the archive keeps {:o} (setuid, setgid and \
             sticky bits are never published, so that no client extracts a setuid file)",
            mode & 0o777
        );
    }
    let bar = progress::bytes_bar("archiving", bundle_bytes(bundle));
    let mut out = BufWriter::new(File::create(tar_path).map_err(Error::io("create", tar_path))?);
    let digest =
        tufd_core::archive::write_tar(bundle, &mut out, &mut |done| bar.set_position(done))
            .map_err(|e| Error::Archive {
                bundle: bundle.to_path_buf(),
                source: Box::new(e),
            })?;
    out.flush().map_err(Error::io("write", tar_path))?;
    drop(out);
    bar.finish_and_clear();
    let bar = progress::bytes_bar("compressing", digest.size_bytes);
    let mut input = bar.wrap_read(BufReader::new(
        File::open(tar_path).map_err(Error::io("read", tar_path))?,
    ));
    let mut out =
        BufWriter::new(File::create(archive_path).map_err(Error::io("create", archive_path))?);
    tufd_core::archive::compress(&mut input, compression, &mut out)
        .map_err(|e| Error::Compress(Box::new(e)))?;
    out.into_inner()
        .map_err(|e| e.into_error())
        .and_then(|f| f.sync_all())
        .map_err(Error::io("write", archive_path))?;
    bar.finish_and_clear();
    Ok((digest, modes, archive_path.to_path_buf()))
}

/// Decompresses the published previous archive into `old_tar`, checking the archive against its
/// signed length and sha256, and the tar against the signed `tar_hash`/`tar_size` when present.
fn rebuild_previous(name: &TargetName, target: &Target, file: &Path, old_tar: &Path) -> Result<()> {
    let bytes = std::fs::read(file).map_err(|source| Error::PreviousUnreadable {
        path: file.to_path_buf(),
        source,
    })?;
    let digest = Sha256::digest(&bytes);
    if bytes.len() as u64 != target.length || digest.as_bytes()[..] != target.hashes.sha256[..] {
        return Err(Error::PreviousMismatch {
            path: file.to_path_buf(),
        });
    }
    let compression = match name.suffix() {
        Suffix::TarZst => Compression::Zstd,
        _ => Compression::Gzip,
    };
    let signed_tar = match TargetCustom::parse(name.as_str(), false, &target.custom) {
        Ok(TargetCustom::Archive(a)) => a.tar,
        _ => None,
    };
    let max = signed_tar.map_or(MAX_TAR_BYTES, |t| t.size_bytes);
    let out = File::create(old_tar).map_err(Error::io("create", old_tar))?;
    let mut out = tufd_core::hash::HashingWriter::new(BufWriter::new(out));
    tufd_core::archive::decompress(&mut bytes.as_slice(), compression, &mut out, max).map_err(
        |e| Error::PreviousCorrupt {
            path: file.to_path_buf(),
            source: Box::new(e),
        },
    )?;
    let (sha, size, mut w) = out.finish();
    w.flush().map_err(Error::io("write", old_tar))?;
    if let Some(t) = signed_tar
        && (t.sha256 != sha || t.size_bytes != size)
    {
        return Err(Error::PreviousTarMismatch {
            path: file.to_path_buf(),
        });
    }
    Ok(())
}

fn write_patch(codec: Codec, old_tar: &Path, new_tar: &Path, patch: &Path) -> Result<()> {
    let old = std::fs::read(old_tar).map_err(Error::io("read", old_tar))?;
    let new = std::fs::read(new_tar).map_err(Error::io("read", new_tar))?;
    let bar = progress::spinner(&format!("diffing with {codec}"));
    let mut out = BufWriter::new(File::create(patch).map_err(Error::io("create", patch))?);
    tufd_core::patch::codec_for(codec)
        .diff(&old, &new, &mut out)
        .map_err(|e| Error::Patch {
            codec,
            source: Box::new(e),
        })?;
    out.into_inner()
        .map_err(|e| e.into_error())
        .and_then(|f| f.sync_all())
        .map_err(Error::io("write", patch))?;
    bar.finish_and_clear();
    Ok(())
}

/// A TUF target entry (length, sha256, custom) for a staged file.
fn file_target(path: &Path, custom: std::collections::HashMap<String, Value>) -> Result<Target> {
    let (sha, len) = File::open(path)
        .and_then(|f| Sha256::digest_reader(BufReader::new(f)))
        .map_err(Error::io("read", path))?;
    Ok(Target {
        length: len,
        hashes: Hashes {
            sha256: sha.as_bytes().to_vec().into(),
            _extra: Default::default(),
        },
        custom,
        _extra: Default::default(),
    })
}
