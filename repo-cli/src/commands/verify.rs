//! `tufd-repo verify`: reads the published tree exactly as a client does — tough's
//! `RepositoryLoader` over `file://` URLs, starting from `1.root.json` — and reports every
//! problem it finds, one per line on stdout: a refresh that fails, expired roles, a
//! `root.json` that is not the newest root, targets whose file is missing or whose length or
//! hash differ, target names that do not parse, custom metadata that does not parse, patches
//! whose `from` release has no archive, and archives a client would refuse: each of the app's
//! archives is decompressed, checked against its signed `tar_hash`, and extracted into a
//! temporary folder with the client's own checks (paths, links, Windows names, limits). Exit
//! code 1 on any problem.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use futures::StreamExt;
use tough::{ExpirationEnforcement, RepositoryLoader};
use tufd_core::archive::{Compression, ExtractLimits};
use tufd_core::custom::TarDigest;
use tufd_core::{Suffix, TargetCustom, TargetName};
use url::Url;

use super::Ctx;
use crate::error::{Error, Result};
use crate::repo::latest_root_version;

/// Arguments of `verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {}

/// What `verify` found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyOutcome {
    /// The repository folder.
    pub dir: PathBuf,
    /// Every problem, as a sentence; empty when the repository verifies.
    pub problems: Vec<String>,
}

impl VerifyOutcome {
    /// Whether the repository verifies (no problem).
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }

    /// `Ok(self)` without problems, else [`Error::VerifyFailed`].
    ///
    /// # Errors
    /// [`Error::VerifyFailed`] when there is any problem.
    pub fn into_result(self) -> Result<Self> {
        if self.is_ok() {
            Ok(self)
        } else {
            Err(Error::VerifyFailed {
                problems: self.problems.len(),
                dir: self.dir,
            })
        }
    }
}

impl fmt::Display for VerifyOutcome {
    /// `ok: …` without problems, else one `problem: …` line per problem.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_ok() {
            return write!(
                f,
                "ok: {} verifies as a client reads it",
                self.dir.display()
            );
        }
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "problem: {p}")?;
        }
        Ok(())
    }
}

/// Runs `verify`: reads the repository as a client does and collects every problem. Problems
/// are not errors here (see [`VerifyOutcome::into_result`]).
///
/// # Errors
/// Only when the check itself cannot run: no `1.root.json` ([`Error::MetadataRead`]), missing
/// folders ([`Error::Io`]).
pub async fn run(ctx: &Ctx, _args: VerifyArgs) -> Result<VerifyOutcome> {
    Ok(VerifyOutcome {
        dir: ctx.layout.dir.clone(),
        problems: check(ctx).await?,
    })
}

fn dir_url(path: &Path) -> Result<Url> {
    let abs = std::fs::canonicalize(path).map_err(Error::io("find", path))?;
    Url::from_directory_path(&abs).map_err(|()| Error::FileUrl { path: abs })
}

/// Every problem found, as sentences.
///
/// # Errors
/// As [`run`].
pub async fn check(ctx: &Ctx) -> Result<Vec<String>> {
    let layout = &ctx.layout;
    let root_path = layout.metadata.join("1.root.json");
    let root_bytes = std::fs::read(&root_path).map_err(|source| Error::MetadataRead {
        path: root_path.clone(),
        source,
    })?;
    let meta_url = dir_url(&layout.metadata)?;
    let targets_url = dir_url(&layout.targets)?;
    let mut problems = Vec::new();
    let temp = std::env::temp_dir();
    let datastore = tempfile::tempdir().map_err(Error::io("create a folder in", &temp))?;
    let safe = RepositoryLoader::new(&root_bytes, meta_url.clone(), targets_url.clone())
        .datastore(datastore.path())
        .load()
        .await;
    let repo = match safe {
        Ok(r) => r,
        Err(e) => {
            problems.push(format!("a client refuses the repository: {e}"));
            let datastore = tempfile::tempdir().map_err(Error::io("create a folder in", &temp))?;
            match RepositoryLoader::new(&root_bytes, meta_url, targets_url)
                .datastore(datastore.path())
                .expiration_enforcement(ExpirationEnforcement::Unsafe)
                .load()
                .await
            {
                Ok(r) => r,
                Err(_) => return Ok(problems),
            }
        }
    };
    let now = jiff::Timestamp::now();
    let expiries = [
        ("root", repo.root().signed.expires),
        ("targets", repo.targets().signed.expires),
        ("snapshot", repo.snapshot().signed.expires),
        ("timestamp", repo.timestamp().signed.expires),
    ];
    for (role, e) in expiries {
        if e <= now {
            problems.push(format!(
                "role {role} expired at {e}: run `tufd-repo sign {role}`"
            ));
        }
    }
    if let Some(n) = latest_root_version(&layout.metadata)? {
        let newest_path = layout.metadata.join(format!("{n}.root.json"));
        let newest = std::fs::read(&newest_path).map_err(|source| Error::MetadataRead {
            path: newest_path.clone(),
            source,
        })?;
        match std::fs::read(layout.metadata.join("root.json")) {
            Ok(b) if b == newest => {}
            Ok(_) => problems.push(format!(
                "root.json differs from the newest root {n}.root.json"
            )),
            Err(_) => problems.push("root.json is missing".into()),
        }
        if repo.root().signed.version.get() != n {
            problems.push(format!(
                "a client stops at root version {} but {n}.root.json exists",
                repo.root().signed.version
            ));
        }
    }
    let mut archives = Vec::new();
    let mut patches = Vec::new();
    let mut names: Vec<_> = repo
        .all_targets()
        .map(|(n, t)| (n.clone(), t.clone()))
        .collect();
    names.sort_by(|a, b| a.0.raw().cmp(b.0.raw()));
    for (name, target) in &names {
        let raw = name.raw();
        // This app's archives are kept (in a temporary file) to be extracted as a client would.
        let archive_of_app = TargetName::parse(raw)
            .ok()
            .filter(|p| p.suffix().is_archive() && p.app() == ctx.config.app_name);
        match repo.read_target(name).await {
            Ok(Some(stream)) => {
                let mut stream = Box::pin(stream);
                let mut err = None;
                let mut copy = match archive_of_app {
                    Some(_) => Some(
                        tempfile::NamedTempFile::new()
                            .map_err(Error::io("create a file in", &temp))?,
                    ),
                    None => None,
                };
                while let Some(chunk) = stream.next().await {
                    match chunk {
                        Ok(bytes) => {
                            if let Some(file) = copy.as_mut() {
                                file.write_all(&bytes)
                                    .map_err(Error::io("write", file.path()))?;
                            }
                        }
                        Err(e) => {
                            err = Some(e);
                            break;
                        }
                    }
                }
                if let Some(e) = err {
                    problems.push(format!("target {raw}: {e}"));
                } else if let (Some(file), Some(parsed)) = (copy, &archive_of_app) {
                    let signed = match TargetCustom::parse(raw, false, &target.custom) {
                        Ok(TargetCustom::Archive(a)) => a.tar,
                        _ => None,
                    };
                    let compression = match parsed.suffix() {
                        Suffix::TarZst => Compression::Zstd,
                        _ => Compression::Gzip,
                    };
                    let raw_name = raw.to_owned();
                    let refused = tokio::task::spawn_blocking(move || {
                        client_refusal(file.path(), compression, signed.as_ref())
                    })
                    .await
                    .map_err(|source| Error::Task {
                        task: "extracting",
                        source,
                    })??;
                    if let Some(reason) = refused {
                        problems.push(format!("archive {raw_name}: clients refuse it: {reason}"));
                    }
                }
            }
            Ok(None) => problems.push(format!("target {raw} is listed but cannot be found")),
            Err(e) => problems.push(format!("target {raw} cannot be read: {e}")),
        }
        let parsed = match TargetName::parse(raw) {
            Ok(p) => p,
            Err(e) => {
                problems.push(format!("target {raw}: {e} (clients ignore it)"));
                continue;
            }
        };
        if parsed.app() != ctx.config.app_name {
            continue;
        }
        let is_patch = !parsed.suffix().is_archive();
        match TargetCustom::parse(raw, is_patch, &target.custom) {
            Ok(TargetCustom::Patch(p)) => patches.push((parsed, p)),
            Ok(TargetCustom::Archive(_)) => archives.push(parsed),
            Err(e) => problems.push(e.to_string()),
        }
    }
    for (name, patch) in &patches {
        if patch.tar.is_none() {
            problems.push(format!(
                "patch {name} has no tar_hash: clients never apply it"
            ));
        }
        if let Some(from) = &patch.from
            && !archives.iter().any(|a| a.version() == from)
        {
            problems.push(format!(
                "patch {name} applies to release {from}, which has no archive"
            ));
        }
        if !archives.iter().any(|a| a.version() == name.version()) {
            problems.push(format!("patch {name} has no archive of the same version"));
        }
    }
    Ok(problems)
}

/// Entries a client extracts at most from one archive (as `tufd-install`'s staging).
const MAX_ENTRIES: u64 = 1_000_000;

/// Decompresses the archive at `path`, checks the tar against `signed` and extracts it into a
/// temporary folder with a client's checks (Windows names on, whatever this OS is: one
/// repository may serve every platform). `Some(reason)` when a client would refuse it.
///
/// # Errors
/// [`Error::Io`] when a temporary file or folder cannot be made.
fn client_refusal(
    path: &Path,
    compression: Compression,
    signed: Option<&TarDigest>,
) -> Result<Option<String>> {
    let temp = std::env::temp_dir();
    let mut tar = tempfile::tempfile().map_err(Error::io("create a file in", &temp))?;
    let mut input =
        std::io::BufReader::new(std::fs::File::open(path).map_err(Error::io("read", path))?);
    let limit = signed.map_or(u64::MAX, |t| t.size_bytes);
    let mut hashing = tufd_core::hash::HashingWriter::new(&mut tar);
    if let Err(e) = tufd_core::archive::decompress(&mut input, compression, &mut hashing, limit) {
        return Ok(Some(e.to_string()));
    }
    let (sha256, size_bytes, _) = hashing.finish();
    if let Some(signed) = signed
        && (signed.sha256 != sha256 || signed.size_bytes != size_bytes)
    {
        return Ok(Some(format!(
            "its tar is {size_bytes} bytes sha256 {sha256}, signed {} bytes sha256 {}",
            signed.size_bytes, signed.sha256
        )));
    }
    use std::io::Seek;
    tar.rewind().map_err(Error::io("read", path))?;
    let dest = tempfile::tempdir().map_err(Error::io("create a folder in", &temp))?;
    let limits = ExtractLimits {
        max_total_bytes: size_bytes,
        max_entries: MAX_ENTRIES,
        windows_names: true,
    };
    let mut reader = std::io::BufReader::new(tar);
    Ok(
        tufd_core::archive::extract_tar(&mut reader, &dest.path().join("bundle"), &limits)
            .err()
            .map(|e| e.to_string()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A corpus tar (`tests/hostile/cases/`) gzip-compressed into a temporary archive file.
    fn archive_of(case: &str) -> (tempfile::NamedTempFile, TarDigest) {
        let tar = std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../tests/hostile/cases")
                .join(case),
        )
        .unwrap();
        let digest = TarDigest {
            sha256: tufd_core::Sha256::digest(&tar),
            size_bytes: tar.len() as u64,
        };
        let mut file = tempfile::NamedTempFile::new().unwrap();
        tufd_core::archive::compress(&mut &tar[..], Compression::Gzip, file.as_file_mut()).unwrap();
        (file, digest)
    }

    #[test]
    fn verify_refuses_a_signed_archive_that_clients_refuse_to_extract() {
        let (ok, ok_digest) = archive_of("control_ok.tar");
        assert_eq!(
            client_refusal(ok.path(), Compression::Gzip, Some(&ok_digest)).unwrap(),
            None
        );
        let (evil, evil_digest) = archive_of("dotdot.tar");
        assert!(
            client_refusal(evil.path(), Compression::Gzip, Some(&evil_digest))
                .unwrap()
                .is_some()
        );
        // The right bytes under the wrong signed digest are refused too.
        assert!(
            client_refusal(ok.path(), Compression::Gzip, Some(&evil_digest))
                .unwrap()
                .is_some()
        );
    }
}
