//! The common setup of a scenario: a fresh temp folder holding the bundles of the requested
//! versions (see [`super::bundle`]) and a `tufd-repo` repository with those versions published
//! in order, plus helpers to "install" a version the way an installer would (copying its
//! bundle, tufd's data folder left empty).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::bundle::{self, APP};
use super::daemon::Client;
use super::repo::Repo;

/// One release to publish: version and extra `tufd-repo add` flags.
#[derive(Debug, Clone, Copy)]
pub struct Release<'a> {
    /// PEP 440 version, e.g. `"2.0"`.
    pub version: &'a str,
    /// Extra flags, e.g. `&["--skip-patch"]`.
    pub flags: &'a [&'a str],
}

impl<'a> Release<'a> {
    /// A release with no extra flags.
    pub const fn plain(version: &'a str) -> Self {
        Self {
            version,
            flags: &[],
        }
    }
}

/// A temp folder with bundles and a published repository; removed on drop.
#[derive(Debug)]
pub struct Fixture {
    tmp: tempfile::TempDir,
    /// The `tufd-repo` working folder (`<tmp>/repo`).
    pub repo: Repo,
    /// Wall-clock time each `tufd-repo add` took, in publish order.
    pub publish_times: Vec<(String, Duration)>,
    blob_bytes: usize,
}

impl Fixture {
    /// Writes bundles of every release with a `blob_bytes`-byte data file, runs
    /// `tufd-repo init --app-name demo` and publishes `releases` in order.
    ///
    /// # Panics
    /// When any step fails.
    #[track_caller]
    pub fn publish(releases: &[Release<'_>], blob_bytes: usize) -> Self {
        let mut fixture = Self::empty(blob_bytes);
        for release in releases {
            fixture.add(*release);
        }
        fixture
    }

    /// Only `tufd-repo init`, nothing published yet.
    ///
    /// # Panics
    /// When init fails.
    #[track_caller]
    pub fn empty(blob_bytes: usize) -> Self {
        let tmp = tempfile::Builder::new()
            .prefix("tufd-e2e-")
            .tempdir()
            .expect("tempdir");
        let repo = Repo::init(&tmp.path().join("repo"), APP);
        Self {
            tmp,
            repo,
            publish_times: Vec::new(),
            blob_bytes,
        }
    }

    /// Writes the bundle of `release` (if not there yet) and publishes it.
    ///
    /// # Panics
    /// When publishing fails.
    #[track_caller]
    pub fn add(&mut self, release: Release<'_>) {
        let dir = self.bundle(release.version);
        if !dir.exists() {
            bundle::write_bundle(&dir, release.version, self.blob_bytes);
        }
        let start = Instant::now();
        self.repo.add(&dir, release.version, release.flags);
        self.publish_times
            .push((release.version.to_owned(), start.elapsed()));
    }

    /// The bundle folder of `version` (`<tmp>/bundles/<version>`), written on first use.
    pub fn bundle(&self, version: &str) -> PathBuf {
        self.tmp.path().join("bundles").join(version)
    }

    /// Writes the bundle of `version` if missing and returns its folder.
    pub fn ensure_bundle(&self, version: &str) -> PathBuf {
        let dir = self.bundle(version);
        if !dir.exists() {
            bundle::write_bundle(&dir, version, self.blob_bytes);
        }
        dir
    }

    /// The fixture's temp folder.
    pub fn root(&self) -> &Path {
        self.tmp.path()
    }

    /// A client folder `<tmp>/<name>/` with `install/` = a copy of `installed`'s bundle and an
    /// empty (not yet created) `data/`, speaking to the given URLs.
    pub fn install(
        &self,
        name: &str,
        installed: &str,
        metadata_url: &str,
        targets_url: &str,
    ) -> Client {
        let client_root = self.tmp.path().join(name);
        let client = Client::new(
            &self.repo,
            &client_root,
            metadata_url,
            targets_url,
            installed,
        );
        super::copy_tree(&self.ensure_bundle(installed), &client.install_dir);
        client
    }
}
