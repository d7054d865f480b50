//! `tufd-repo verify`: reads the published tree exactly as a client does — tough's
//! `RepositoryLoader` over `file://` URLs, starting from `1.root.json` — and reports every
//! problem it finds, one per line on stdout: a refresh that fails, expired roles, a
//! `root.json` that is not the newest root, targets whose file is missing or whose length or
//! hash differ, target names that do not parse, custom metadata that does not parse, patches
//! whose `from` release has no archive. Exit code 1 on any problem.

use std::fmt;
use std::path::{Path, PathBuf};

use clap::Args;
use futures::StreamExt;
use tough::{ExpirationEnforcement, RepositoryLoader};
use tufd_core::{TargetCustom, TargetName};
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
        match repo.read_target(name).await {
            Ok(Some(stream)) => {
                let mut stream = Box::pin(stream);
                let mut err = None;
                while let Some(chunk) = stream.next().await {
                    if let Err(e) = chunk {
                        err = Some(e);
                        break;
                    }
                }
                if let Some(e) = err {
                    problems.push(format!("target {raw}: {e}"));
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
