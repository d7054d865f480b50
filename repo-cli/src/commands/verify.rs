//! `tufd-repo verify`: reads the published tree exactly as a client does, through the daemon's
//! own TUF layer (`tufd-net`): a refresh from `1.root.json` over `file://` URLs into a temporary
//! data folder, the trusted targets as the daemon's planner sees them
//! ([`tufd_net::tuf::view_of`]), and every target file read with the daemon's verified download
//! ([`tufd_net::download::download`]: at most the signed length, then the length and the signed
//! hash). It reports every problem it finds, one per line on stdout: a refresh that fails,
//! expired roles, a `root.json` that is not the newest root, targets whose file is missing or
//! whose length or hash differ, target names that do not parse, custom metadata that does not
//! parse, patches whose `from` release has no archive, and archives a client would refuse: each
//! of the app's archives is decompressed, checked against its signed `tar_hash`, and extracted
//! into a temporary folder with the client's own checks (paths, links, Windows names, limits).
//! Exit code 1 on any problem.
//!
//! An expired repository is read a second time with the client's clock before every expiry
//! ([`TrustedStore::load_at`]; expiry is the only check that reads the clock), so the problems
//! past the expired role are reported too.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use clap::Args;
use tokio_util::sync::CancellationToken;
use tufd_core::archive::{Compression, ExtractLimits};
use tufd_core::custom::TarDigest;
use tufd_core::{Suffix, TargetCustom, TargetName};
use tufd_net::download::{self, DownloadError, DownloadRequest};
use tufd_net::transport::{HttpClient, TransportSettings, TufTransport};
use tufd_net::trusted_store::{LoadRequest, LoadedRepository, TrustedStore, TrustedStoreError};
use url::Url;

use super::Ctx;
use crate::error::{Error, Result, chain};
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

/// A client's refresh into a fresh metadata folder `store` (the daemon's `tufd_net::tuf::refresh`
/// without the planner's filtering: every trusted target, with its raw custom metadata), with
/// the clock at `now` when given.
async fn load(
    store: PathBuf,
    request: LoadRequest,
    now: Option<jiff::Timestamp>,
) -> std::result::Result<
    (LoadedRepository, BTreeMap<String, sigstore_tuf::TargetFile>),
    TrustedStoreError,
> {
    let store = TrustedStore::new(store);
    let loaded = match now {
        Some(now) => store.load_at(request, now).await?,
        None => store.load(request).await?,
    };
    let targets = loaded.all_targets().await?;
    Ok((loaded, targets))
}

/// Every problem found, as sentences.
///
/// # Errors
/// As [`run`].
pub async fn check(ctx: &Ctx) -> Result<Vec<String>> {
    let layout = &ctx.layout;
    let root_path = layout.metadata.join("1.root.json");
    if let Err(source) = std::fs::File::open(&root_path) {
        return Err(Error::MetadataRead {
            path: root_path,
            source,
        });
    }
    let targets_url = dir_url(&layout.targets)?;
    // No proxy for `file://`: the environment is not read.
    let settings = TransportSettings::default();
    let client = HttpClient::with_env(&settings, |_| None).map_err(Error::Client)?;
    let request = LoadRequest {
        metadata_url: dir_url(&layout.metadata)?,
        targets_url: targets_url.clone(),
        transport: TufTransport::new(client.clone(), settings),
        shipped_root: Some(root_path),
        // The daemon's limits (engine: `load_request`).
        limits: None,
    };
    let mut problems = Vec::new();
    let temp = std::env::temp_dir();
    let data = tempfile::tempdir().map_err(Error::io("create a folder in", &temp))?;
    let (loaded, targets) = match load(data.path().join("metadata"), request.clone(), None).await {
        Ok(loaded) => loaded,
        Err(e) => {
            problems.push(format!("a client refuses the repository: {}", chain(&e)));
            // Again as a client whose clock is before every expiry, to report the rest.
            let store = data.path().join("metadata-unexpired");
            match load(store, request, Some(jiff::Timestamp::MIN)).await {
                Ok(loaded) => loaded,
                Err(_) => return Ok(problems),
            }
        }
    };
    let trusted = loaded.trusted();
    let now = jiff::Timestamp::now();
    let expiries = [
        ("root", Some(trusted.root().expires)),
        (
            "targets",
            trusted.targets_role("targets").map(|t| t.expires),
        ),
        ("snapshot", trusted.snapshot().map(|s| s.expires)),
        ("timestamp", trusted.timestamp().map(|t| t.expires)),
    ];
    for (role, e) in expiries {
        if let Some(e) = e
            && e <= now
        {
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
        let version = trusted.root().version;
        if version != n {
            problems.push(format!(
                "a client stops at root version {version} but {n}.root.json exists"
            ));
        }
    }
    // The daemon's view: signed length and digest of every target file, and its URL.
    let view = tufd_net::tuf::view_of(&targets, loaded.consistent_snapshot());
    let downloads = data.path().join("downloads");
    let mut archives = Vec::new();
    let mut patches = Vec::new();
    for (i, (raw, target)) in targets.iter().enumerate() {
        let raw = raw.as_str();
        // This app's archives are extracted as a client would.
        let archive_of_app = TargetName::parse(raw)
            .ok()
            .filter(|p| p.suffix().is_archive() && p.app() == ctx.config.app_name);
        let custom: Option<HashMap<String, serde_json::Value>> = match &target.custom {
            None | Some(serde_json::Value::Null) => Some(HashMap::new()),
            Some(serde_json::Value::Object(map)) => Some(map.clone().into_iter().collect()),
            Some(_) => None,
        };
        match read_target(&client, &view, &targets_url, raw, &downloads, i).await {
            Err(problem) => problems.push(problem),
            Ok(path) => {
                if let Some(parsed) = &archive_of_app {
                    let signed = match custom.as_ref().map(|c| TargetCustom::parse(raw, false, c)) {
                        Some(Ok(TargetCustom::Archive(a))) => a.tar,
                        _ => None,
                    };
                    let compression = match parsed.suffix() {
                        Suffix::TarZst => Compression::Zstd,
                        _ => Compression::Gzip,
                    };
                    let file = path.clone();
                    let refused = tokio::task::spawn_blocking(move || {
                        client_refusal(&file, compression, signed.as_ref())
                    })
                    .await
                    .map_err(|source| Error::Task {
                        task: "extracting",
                        source,
                    })??;
                    if let Some(reason) = refused {
                        problems.push(format!("archive {raw}: clients refuse it: {reason}"));
                    }
                }
                std::fs::remove_file(&path).map_err(Error::io("remove", &path))?;
            }
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
        let Some(custom) = custom else {
            problems.push(format!(
                "target {raw}: its custom metadata is not an object (clients ignore it)"
            ));
            continue;
        };
        let is_patch = !parsed.suffix().is_archive();
        match TargetCustom::parse(raw, is_patch, &custom) {
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
            && !archives
                .iter()
                .any(|a| a.version() == from && a.platform() == name.platform())
        {
            problems.push(format!(
                "patch {name} applies to release {from}, which has no archive"
            ));
        }
        // Each platform's releases form their own chain.
        if !archives
            .iter()
            .any(|a| a.version() == name.version() && a.platform() == name.platform())
        {
            problems.push(format!("patch {name} has no archive of the same version"));
        }
    }
    Ok(problems)
}

/// Reads target `raw` as the daemon downloads it (its URL from the trusted view, at most the
/// signed length, then the length and the signed digest) into `downloads/<i>`, and returns that
/// file; `Err(problem)` when a client could not get it.
async fn read_target(
    client: &HttpClient,
    view: &tufd_net::RepoView,
    targets_url: &Url,
    raw: &str,
    downloads: &Path,
    i: usize,
) -> std::result::Result<PathBuf, String> {
    let Some(file) = view.files.get(raw) else {
        return Err(format!(
            "target {raw} has neither a sha256 nor a sha512 hash: clients skip it"
        ));
    };
    let url = view
        .target_url(targets_url, raw)
        .map_err(|e| format!("target {raw}: {}", chain(&e)))?;
    let source = url.to_file_path().ok();
    let request = DownloadRequest::new(url, downloads, i.to_string(), file.length, file.digest);
    match download::download(client, &request, &|_, _| {}, &CancellationToken::new()).await {
        Ok(path) => Ok(path),
        Err(DownloadError::Io { path, source: e })
            if e.kind() == std::io::ErrorKind::NotFound && Some(&path) == source.as_ref() =>
        {
            Err(format!("target {raw} is listed but cannot be found"))
        }
        Err(e @ (DownloadError::LengthExceeded { .. } | DownloadError::HashMismatch { .. })) => {
            Err(format!("target {raw}: {}", chain(&e)))
        }
        Err(e) => Err(format!("target {raw} cannot be read: {}", chain(&e))),
    }
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
        max_path_bytes: tufd_core::archive::EntryLimits::DEFAULT.max_path_bytes,
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
