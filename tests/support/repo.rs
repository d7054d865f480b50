//! A `tufd-repo` working folder driven through the real binary: `init --app-name demo`, then
//! `add BUNDLE --version V [flags]` per release (docs/repository-format.md, "Commands that change
//! the tree"). The served tree is `<work>/repository/{metadata,targets}/`; with consistent
//! snapshots (the default) a target `demo-2.0.patch` is stored as
//! `targets/<sha256>.demo-2.0.patch`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::bins;
use super::process::{RunOutput, run};

/// Time limit of one `tufd-repo` command: archives and patches of 24 MiB bundles take a while
/// in debug builds.
pub const REPO_TIMEOUT: Duration = Duration::from_secs(600);

/// A `tufd-repo` working folder.
#[derive(Debug, Clone)]
pub struct Repo {
    work: PathBuf,
    env: Vec<(String, String)>,
}

impl Repo {
    /// Runs `tufd-repo init --app-name <app>` in `work` (created).
    ///
    /// # Panics
    /// When the command fails or `repository/metadata/1.root.json` is missing afterwards.
    #[track_caller]
    pub fn init(work: &Path, app: &str) -> Self {
        std::fs::create_dir_all(work).expect("create repo work folder");
        let repo = Self::open(work);
        repo.run(&["init", "--app-name", app]).assert_success();
        assert!(
            repo.root_json().is_file(),
            "tufd-repo init did not write {}",
            repo.root_json().display()
        );
        repo
    }

    /// An existing working folder (one `tufd-repo import-tufup` wrote, say); nothing is run.
    pub fn open(work: &Path) -> Self {
        Self {
            work: work.to_path_buf(),
            env: Vec::new(),
        }
    }

    /// Sets environment variable `key` to `value` for every command run from now on
    /// (`TUFD_REPO_PASSPHRASE`, say).
    #[must_use]
    pub fn with_env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Runs `tufd-repo <args>` in the working folder and returns what happened (no check).
    pub fn run(&self, args: &[&str]) -> RunOutput {
        let mut cmd = Command::new(bins::tufd_repo());
        cmd.current_dir(&self.work)
            .args(args)
            .env("RUST_LOG", "warn")
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        run(&mut cmd, REPO_TIMEOUT)
    }

    /// Publishes `bundle` as `version` with extra flags (`--skip-patch`, `--required`, …).
    ///
    /// # Panics
    /// When the command fails.
    #[track_caller]
    pub fn add(&self, bundle: &Path, version: &str, extra: &[&str]) -> RunOutput {
        let bundle = bundle.to_str().expect("utf-8 path");
        let mut args = vec!["add", bundle, "--version", version];
        args.extend_from_slice(extra);
        let out = self.run(&args);
        out.assert_success();
        out
    }

    /// The working folder (holds `tufd-repo.toml` and `keystore/`).
    pub fn work(&self) -> &Path {
        &self.work
    }

    /// The served tree `<work>/repository`.
    pub fn repository(&self) -> PathBuf {
        self.work.join("repository")
    }

    /// `<work>/repository/metadata`.
    pub fn metadata_dir(&self) -> PathBuf {
        self.repository().join("metadata")
    }

    /// `<work>/repository/targets`.
    pub fn targets_dir(&self) -> PathBuf {
        self.repository().join("targets")
    }

    /// The root an app ships: `repository/metadata/1.root.json`.
    pub fn root_json(&self) -> PathBuf {
        self.metadata_dir().join("1.root.json")
    }

    /// Every stored file of target `name` (`<sha256>.<name>` with consistent snapshots, or
    /// `<name>` without), sorted.
    pub fn target_files(&self, name: &str) -> Vec<PathBuf> {
        let suffix = format!(".{name}");
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.targets_dir())
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| {
                        p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                            n == name
                                || n.strip_suffix(suffix.as_str()).is_some_and(|hash| {
                                    hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit())
                                })
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        files
    }

    /// The stored file of target `name`.
    ///
    /// # Panics
    /// When the target is not published.
    #[track_caller]
    pub fn target_file(&self, name: &str) -> PathBuf {
        self.target_files(name)
            .into_iter()
            .next()
            .unwrap_or_else(|| {
                panic!(
                    "target {name} not found in {}",
                    self.targets_dir().display()
                )
            })
    }

    /// Length in bytes of published target `name`.
    ///
    /// # Panics
    /// When the target is not published.
    #[track_caller]
    pub fn target_len(&self, name: &str) -> u64 {
        std::fs::metadata(self.target_file(name))
            .expect("target metadata")
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_files_matches_hash_prefixed_and_plain_names() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let repo = Repo::open(tmp.path());
        std::fs::create_dir_all(repo.targets_dir()).expect("mkdir");
        let hashed = format!("{}.demo-2.0.patch", "a".repeat(64));
        for name in [
            hashed.as_str(),
            "demo-2.0.patch",
            "x.demo-2.0.patch",
            "demo-2.0.tar.gz",
        ] {
            std::fs::write(repo.targets_dir().join(name), b"p").expect("write");
        }
        let found: Vec<String> = repo
            .target_files("demo-2.0.patch")
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(found, vec![hashed, "demo-2.0.patch".to_owned()]);
    }
}
