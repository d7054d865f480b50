//! tufup's `.tufup-repo-config`: the JSON `tufup.repo.Repository.save_config` writes into the
//! folder tufup runs in (tufup 0.10, `tufup/repo/__init__.py`): `app_name`, `repo_dir` and
//! `keys_dir` (relative to that folder, or absolute), `key_map` (role → key names, each the file
//! `<keys_dir>/<name>`, public half `<name>.pub`), `encrypted_keys` (names), `expiration_days`
//! and `thresholds` (role → number), `binary_diff` (a class name or null) and
//! `app_version_attr`. Keys tufd-repo does not use are ignored.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};

/// The file name tufup gives its config, in the folder it runs in.
pub const FILE_NAME: &str = ".tufup-repo-config";

/// The parts of `.tufup-repo-config` that describe the repository.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct TufupConfig {
    /// The app name (`<app>-<version>.tar.gz`).
    pub app_name: String,
    /// The repository folder (holding `metadata/` and `targets/`); tufup's default `repository`.
    #[serde(default = "default_repo_dir")]
    pub repo_dir: String,
    /// The keystore folder; tufup's default `keystore`.
    #[serde(default = "default_keys_dir")]
    pub keys_dir: String,
    /// Role name → key names.
    pub key_map: BTreeMap<String, Vec<String>>,
    /// Names of the keys tufup encrypted.
    #[serde(default)]
    pub encrypted_keys: Vec<String>,
    /// Role name → lifetime of freshly signed metadata, in days.
    #[serde(default)]
    pub expiration_days: BTreeMap<String, u64>,
    /// Role name → signature threshold.
    #[serde(default)]
    pub thresholds: BTreeMap<String, u64>,
    /// A custom `tufup.common.BinaryDiff` class (fully qualified), or none for bsdiff4.
    #[serde(default)]
    pub binary_diff: Option<String>,
}

fn default_repo_dir() -> String {
    "repository".into()
}
fn default_keys_dir() -> String {
    "keystore".into()
}

impl TufupConfig {
    /// Reads `<dir>/.tufup-repo-config`. tufup writes Windows paths with `/` since 0.6 and
    /// reads `\` as a separator too; so does this.
    ///
    /// # Errors
    /// [`Error::TufupConfigRead`], [`Error::TufupConfigParse`].
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join(FILE_NAME);
        let text = std::fs::read_to_string(&path).map_err(|source| Error::TufupConfigRead {
            path: path.clone(),
            source,
        })?;
        let mut cfg: Self = serde_json::from_str(&text)
            .map_err(|source| Error::TufupConfigParse { path, source })?;
        cfg.repo_dir = cfg.repo_dir.replace('\\', "/");
        cfg.keys_dir = cfg.keys_dir.replace('\\', "/");
        Ok(cfg)
    }

    /// The repository folder, `repo_dir` relative to `dir` unless absolute.
    pub fn repo_dir(&self, dir: &Path) -> PathBuf {
        dir.join(&self.repo_dir)
    }

    /// The keystore folder, `keys_dir` relative to `dir` unless absolute.
    pub fn keys_dir(&self, dir: &Path) -> PathBuf {
        dir.join(&self.keys_dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_tufup_0_10_saves() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(FILE_NAME),
            r#"{
    "app_name": "demo",
    "app_version_attr": null,
    "binary_diff": null,
    "encrypted_keys": ["root", "root2"],
    "expiration_days": {"root": 365, "snapshot": 7, "targets": 7, "timestamp": 1},
    "key_map": {"root": ["root2"], "snapshot": ["snapshot"], "targets": ["targets"], "timestamp": ["timestamp"]},
    "keys_dir": "keystore",
    "repo_dir": "sub\\repository",
    "thresholds": {"root": 1, "snapshot": 1, "targets": 1, "timestamp": 1}
}"#,
        )
        .unwrap();
        let cfg = TufupConfig::load(dir.path()).unwrap();
        assert_eq!(cfg.app_name, "demo");
        assert_eq!(cfg.key_map["root"], ["root2"]);
        assert_eq!(cfg.expiration_days["targets"], 7);
        assert_eq!(cfg.repo_dir(dir.path()), dir.path().join("sub/repository"));
        assert_eq!(cfg.binary_diff, None);
        std::fs::write(dir.path().join(FILE_NAME), "{").unwrap();
        assert!(matches!(
            TufupConfig::load(dir.path()),
            Err(Error::TufupConfigParse { .. })
        ));
        std::fs::remove_file(dir.path().join(FILE_NAME)).unwrap();
        assert!(matches!(
            TufupConfig::load(dir.path()),
            Err(Error::TufupConfigRead { .. })
        ));
    }
}
