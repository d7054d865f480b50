//! `tufd-repo add BUNDLE_DIR --version V`: publishes a release (DESIGN: "Targets and their
//! names"). Builds the deterministic tar of the bundle, the compressed archive, and (unless it is
//! the first release or `--skip-patch`) a patch from the previous release's tar, which is rebuilt
//! by decompressing the published archive and checked against its signed length, sha256 and
//! `tar_hash`. Then targets, snapshot and timestamp are re-signed and everything is published
//! atomically ([`crate::repo::txn`]).

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;
use serde_json::Value;
use tough::schema::{Hashes, RoleType, Target};
use tufd_core::archive::Compression;
use tufd_core::custom::TarDigest;
use tufd_core::{
    ArchiveCustom, Codec, PatchCustom, Sha256, Suffix, TargetCustom, TargetName, Version,
};

use super::{Ctx, publish_targets};
use crate::error::AddError;
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
    /// Patch codec for this release: bidiff-zstd or bsdiff4. Default: `codec` of the config.
    #[arg(long)]
    pub codec: Option<Codec>,
}

/// Runs `add`.
///
/// # Errors
/// Refused input ([`AddError`], bad version, bad name), missing keys, archive or patch failures,
/// a failed publication (rolled back).
pub async fn run(ctx: Ctx, args: AddArgs) -> anyhow::Result<ExitCode> {
    check_bundle(&args.bundle_dir)?;
    let version: Version = args.version.parse().with_context(|| {
        format!(
            "--version {}: use a PEP 440 version such as 1.0 or 2.0rc1",
            args.version
        )
    })?;
    let user = match &args.meta {
        None => None,
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(v @ Value::Object(_)) => Some(v),
            Ok(_) => {
                return Err(AddError::BadMeta {
                    reason: "not an object".into(),
                }
                .into());
            }
            Err(e) => {
                return Err(AddError::BadMeta {
                    reason: e.to_string(),
                }
                .into());
            }
        },
    };
    let codec = args.codec.unwrap_or(ctx.config.codec);
    let app = ctx.config.app_name.clone();
    let state = State::load(&ctx.layout)?;
    if let Some(latest) = state.latest_version(&app)
        && version <= latest
    {
        return Err(AddError::NotNewer {
            given: version.to_string(),
            latest: latest.to_string(),
        }
        .into());
    }
    let compression = ctx.config.compression.compression();
    let archive_suffix = match compression {
        Compression::Gzip => Suffix::TarGz,
        Compression::Zstd => Suffix::TarZst,
    };
    let archive_name = TargetName::new(&app, &version, archive_suffix)
        .with_context(|| format!("cannot name release {version} of {app}"))?;
    let patch_name = TargetName::new(&app, &version, Suffix::Patch)?;
    // Keys first: a wrong passphrase should fail before minutes of archiving.
    let signers = ctx
        .signers(&[RoleType::Targets, RoleType::Snapshot, RoleType::Timestamp])
        .await?;

    let mut staging = Staging::new(&ctx.layout)?;
    let consistent = state.consistent();
    let new_tar = staging.work_dir().join("new.tar");
    let archive_tmp = staging.targets_dir().join(archive_name.as_str());
    let bundle = args.bundle_dir.clone();
    let (tar_digest, archive_path) = {
        let new_tar = new_tar.clone();
        tokio::task::spawn_blocking(move || {
            build_archive(&bundle, &new_tar, &archive_tmp, compression)
        })
        .await??
    };
    let mut targets = state.targets.signed.signed.clone();
    let archive_target = file_target(
        &archive_path,
        ArchiveCustom {
            required: args.required,
            tar: Some(tar_digest),
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
    let mut summary = format!("{archive_name} ({} bytes)", archive_target.length);
    targets.add_target(tname(archive_name.as_str())?, archive_target);

    let previous = state.latest_archive(&app);
    if let (Some((prev_name, prev_target)), false) = (&previous, args.skip_patch) {
        let prev_file = ctx.layout.targets.join(target_file(
            prev_name.as_str(),
            &hex::encode(&*prev_target.hashes.sha256),
            consistent,
        ));
        let old_tar = staging.work_dir().join("old.tar");
        let patch_tmp = staging.targets_dir().join(patch_name.as_str());
        let (prev_name2, prev_target2, new_tar2) =
            (prev_name.clone(), prev_target.clone(), new_tar.clone());
        let patch_path = patch_tmp.clone();
        tokio::task::spawn_blocking(move || {
            rebuild_previous(&prev_name2, &prev_target2, &prev_file, &old_tar)?;
            write_patch(codec, &old_tar, &new_tar2, &patch_path)
        })
        .await??;
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
        summary.push_str(&format!(
            ", {patch_name} ({} bytes, {codec} from {})",
            patch_target.length,
            prev_name.version()
        ));
        staging.add_target(patch_tmp, patch_final);
        targets.add_target(tname(patch_name.as_str())?, patch_target);
    }
    publish_targets(&ctx, &state, &signers, staging, targets, "the release").await?;
    println!("published {summary}");
    Ok(ExitCode::SUCCESS)
}

fn tname(name: &str) -> anyhow::Result<tough::TargetName> {
    tough::TargetName::new(name).map_err(|e| anyhow::anyhow!("target name {name}: {e}"))
}

/// Refuses a missing, non-folder or empty bundle.
fn check_bundle(path: &Path) -> Result<(), AddError> {
    let meta =
        std::fs::metadata(path).map_err(|_| AddError::BundleMissing { path: path.into() })?;
    if !meta.is_dir() {
        return Err(AddError::BundleNotFolder { path: path.into() });
    }
    let empty = std::fs::read_dir(path).map_or(true, |mut d| d.next().is_none());
    if empty {
        return Err(AddError::BundleEmpty { path: path.into() });
    }
    Ok(())
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

/// Writes the tar to `tar_path` and its compressed archive to `archive_path`.
fn build_archive(
    bundle: &Path,
    tar_path: &Path,
    archive_path: &Path,
    compression: Compression,
) -> anyhow::Result<(TarDigest, PathBuf)> {
    let bar = progress::bytes_bar("archiving", bundle_bytes(bundle));
    let mut out = BufWriter::new(
        File::create(tar_path).with_context(|| format!("cannot create {}", tar_path.display()))?,
    );
    let digest =
        tufd_core::archive::write_tar(bundle, &mut out, &mut |done| bar.set_position(done))
            .with_context(|| format!("cannot archive bundle {}", bundle.display()))?;
    out.flush()
        .with_context(|| format!("cannot write {}", tar_path.display()))?;
    drop(out);
    bar.finish_and_clear();
    let bar = progress::bytes_bar("compressing", digest.size_bytes);
    let mut input = bar.wrap_read(BufReader::new(File::open(tar_path)?));
    let mut out = BufWriter::new(
        File::create(archive_path)
            .with_context(|| format!("cannot create {}", archive_path.display()))?,
    );
    tufd_core::archive::compress(&mut input, compression, &mut out)
        .context("cannot compress the archive")?;
    out.into_inner()
        .map_err(|e| e.into_error())
        .and_then(|f| f.sync_all())
        .with_context(|| format!("cannot write {}", archive_path.display()))?;
    bar.finish_and_clear();
    Ok((digest, archive_path.to_path_buf()))
}

/// Decompresses the published previous archive into `old_tar`, checking the archive against its
/// signed length and sha256, and the tar against the signed `tar_hash`/`tar_size` when present.
fn rebuild_previous(
    name: &TargetName,
    target: &Target,
    file: &Path,
    old_tar: &Path,
) -> anyhow::Result<()> {
    let fix = "run `tufd-repo verify`, or publish with --skip-patch";
    let bytes = std::fs::read(file).with_context(|| {
        format!(
            "cannot read the previous release {} ({fix})",
            file.display()
        )
    })?;
    let digest = Sha256::digest(&bytes);
    if bytes.len() as u64 != target.length || digest.as_bytes()[..] != target.hashes.sha256[..] {
        bail!(
            "previous release file {} does not match its signed length and sha256 ({fix})",
            file.display()
        );
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
    let mut out = tufd_core::hash::HashingWriter::new(BufWriter::new(File::create(old_tar)?));
    tufd_core::archive::decompress(&mut bytes.as_slice(), compression, &mut out, max)
        .with_context(|| {
            format!(
                "cannot decompress the previous release {} ({fix})",
                file.display()
            )
        })?;
    let (sha, size, mut w) = out.finish();
    w.flush()?;
    if let Some(t) = signed_tar
        && (t.sha256 != sha || t.size_bytes != size)
    {
        bail!(
            "the tar inside {} does not match its signed tar_hash ({fix})",
            file.display()
        );
    }
    Ok(())
}

fn write_patch(codec: Codec, old_tar: &Path, new_tar: &Path, patch: &Path) -> anyhow::Result<()> {
    let old = std::fs::read(old_tar)?;
    let new = std::fs::read(new_tar)?;
    let bar = progress::spinner(&format!("diffing with {codec}"));
    let mut out = BufWriter::new(
        File::create(patch).with_context(|| format!("cannot create {}", patch.display()))?,
    );
    tufd_core::patch::codec_for(codec)
        .diff(&old, &new, &mut out)
        .with_context(|| format!("cannot create the {codec} patch"))?;
    out.into_inner()
        .map_err(|e| e.into_error())
        .and_then(|f| f.sync_all())
        .with_context(|| format!("cannot write {}", patch.display()))?;
    bar.finish_and_clear();
    Ok(())
}

/// A TUF target entry (length, sha256, custom) for a staged file.
fn file_target(
    path: &Path,
    custom: std::collections::HashMap<String, Value>,
) -> anyhow::Result<Target> {
    let (sha, len) = Sha256::digest_reader(BufReader::new(
        File::open(path).with_context(|| format!("cannot read {}", path.display()))?,
    ))?;
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
