//! The `tufd-repo.toml` configuration: app name, folders, role keys, thresholds, expiry days,
//! patch codec and archive compression (docs/repository-format.md, "Working folder").
//!
//! Paths in the file are relative to the folder holding the file, written with `/`, so a
//! repository working folder can be moved or checked in (tufup#50 and tufup#147). This module only reads
//! and writes the file; commands derive absolute paths through [`Config::repository_dir`] etc.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tough::schema::RoleType;
use tufd_core::Codec;
use tufd_core::archive::Compression;

use crate::error::{Error, Result};

/// The default file name of the configuration, in the working folder.
pub const DEFAULT_CONFIG: &str = "tufd-repo.toml";

/// The four top-level TUF roles, in signing-dependency order.
pub const ROLES: [RoleType; 4] = [
    RoleType::Root,
    RoleType::Targets,
    RoleType::Snapshot,
    RoleType::Timestamp,
];

/// Keys, threshold and expiry of one role.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleConfig {
    /// Key names; each is the file `<keystore_dir>/<name>.der`.
    pub keys: Vec<String>,
    /// Signatures required (TUF threshold), at least 1.
    #[serde(default = "one")]
    pub threshold: u64,
    /// Lifetime of freshly signed metadata of this role, in days.
    pub expires_days: u64,
}

fn one() -> u64 {
    1
}

/// Archive compression as written in the config (`gzip` | `zstd`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum CompressionName {
    /// `.tar.gz` (tufup's format).
    #[default]
    Gzip,
    /// `.tar.zst`.
    Zstd,
}

impl CompressionName {
    /// The core compression value.
    pub fn compression(self) -> Compression {
        match self {
            CompressionName::Gzip => Compression::Gzip,
            CompressionName::Zstd => Compression::Zstd,
        }
    }
}

/// A compatibility mode: which other tool's clients the repository must stay readable by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compat {
    /// tufup 0.10 clients (python-tuf 4 inside) read the repository as well as tufd: no
    /// consistent snapshots, `bsdiff4` patches, `.tar.gz` archives, the key ids tufup's root
    /// declares (legacy securesystemslib ids) on every signature, and `root.json` kept beside
    /// `N.root.json`. Written by `import-tufup`; docs/coming-from-tufup.md says how to leave it.
    Tufup,
}

/// The `[publish]` table: where `tufd-repo publish` and `--publish` without a destination
/// upload, and the `Cache-Control` headers sent (docs/operations.md, "Publishing to object
/// storage"). Every key is optional.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishConfig {
    /// `s3://bucket/prefix`, `gs://bucket/prefix`, `az://container/prefix` or a local folder
    /// (relative to the config's folder).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    /// The S3-compatible endpoint URL that goes with `destination` (not with a destination given
    /// on the command line, which takes `--endpoint`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// `Cache-Control` of consistent-snapshot names (`N.role.json`, `<sha256>.<target>`),
    /// which never change content. Default `public, max-age=31536000, immutable`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control_immutable: Option<String>,
    /// `Cache-Control` of the names that change content (`timestamp.json`, `root.json`, and
    /// every name without consistent snapshots). Default `no-cache`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control_mutable: Option<String>,
}

/// The whole `tufd-repo.toml`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// App name: the `<name>` part of every target name.
    pub app_name: String,
    /// The served tree (`metadata/` + `targets/`), relative to the config's folder.
    #[serde(default = "default_repository_dir")]
    pub repository_dir: String,
    /// Private keys, relative to the config's folder. Never publish it.
    #[serde(default = "default_keystore_dir")]
    pub keystore_dir: String,
    /// TUF consistent snapshots (hash-prefixed targets, versioned metadata). Off for tufup-style
    /// layouts.
    #[serde(default = "yes")]
    pub consistent_snapshot: bool,
    /// Patch codec for `add` (`bidiff-zstd` | `bsdiff4` | `bsdiff-lzma`).
    #[serde(default)]
    pub codec: Codec,
    /// Archive compression for `add`.
    #[serde(default)]
    pub compression: CompressionName,
    /// Compatibility mode (`compat = "tufup"`), absent for a plain tufd repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compat: Option<Compat>,
    /// Where and how `publish` uploads (`[publish]`), absent when not set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publish: Option<PublishConfig>,
    /// Role settings, by role name (`root`, `targets`, `snapshot`, `timestamp`).
    pub roles: BTreeMap<String, RoleConfig>,
    /// Where the file was read from (not serialised).
    #[serde(skip)]
    pub path: PathBuf,
}

fn default_repository_dir() -> String {
    "repository".into()
}
fn default_keystore_dir() -> String {
    "keystore".into()
}
fn yes() -> bool {
    true
}

/// Default expiry of a role, in days: root 365, targets 90, snapshot 7, timestamp 1.
pub fn default_expires_days(role: RoleType) -> u64 {
    match role {
        RoleType::Root => 365,
        RoleType::Targets => 90,
        RoleType::Snapshot => 7,
        _ => 1,
    }
}

/// The config name of a top-level role.
pub fn role_name(role: RoleType) -> &'static str {
    match role {
        RoleType::Root => "root",
        RoleType::Targets => "targets",
        RoleType::Snapshot => "snapshot",
        _ => "timestamp",
    }
}

impl Config {
    /// A fresh configuration for `app_name` with one key per role named after the role.
    pub fn new(app_name: &str, path: PathBuf) -> Self {
        let roles = ROLES
            .iter()
            .map(|r| {
                let name = role_name(*r).to_owned();
                let cfg = RoleConfig {
                    keys: vec![name.clone()],
                    threshold: 1,
                    expires_days: default_expires_days(*r),
                };
                (name, cfg)
            })
            .collect();
        Self {
            app_name: app_name.into(),
            repository_dir: default_repository_dir(),
            keystore_dir: default_keystore_dir(),
            consistent_snapshot: true,
            codec: Codec::default(),
            compression: CompressionName::default(),
            compat: None,
            publish: None,
            roles,
            path,
        }
    }

    /// Reads and checks the config at `path`.
    ///
    /// # Errors
    /// [`Error::ConfigRead`] (a missing or unreadable file), [`Error::ConfigParse`] (bad TOML),
    /// and the refusals of [`Config::check`].
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::ConfigRead {
            path: path.to_path_buf(),
            source,
        })?;
        let mut cfg: Config = toml::from_str(&text).map_err(|source| Error::ConfigParse {
            path: path.to_path_buf(),
            source: Box::new(source),
        })?;
        cfg.path = path.to_path_buf();
        cfg.check()?;
        Ok(cfg)
    }

    /// Checks the values a reader cannot type-check.
    ///
    /// # Errors
    /// [`Error::ConfigAppName`], [`Error::ConfigMissingRole`], [`Error::ConfigThreshold`] (0 or
    /// more than the role's keys), [`Error::ConfigKeyName`], [`Error::ConfigCompat`] (a
    /// setting tufup clients cannot read, with `compat = "tufup"`), [`Error::ConfigPublish`].
    pub fn check(&self) -> Result<()> {
        if let Some(publish) = &self.publish {
            self.check_publish(publish)?;
        }
        if self.compat == Some(Compat::Tufup) {
            let refused = if self.consistent_snapshot {
                Some("consistent_snapshot = true")
            } else if self.codec != Codec::Bsdiff4 {
                Some("a codec other than bsdiff4")
            } else if self.compression != CompressionName::Gzip {
                Some("a compression other than gzip")
            } else {
                None
            };
            if let Some(setting) = refused {
                return Err(Error::ConfigCompat {
                    path: self.path.clone(),
                    setting,
                });
            }
        }
        tufd_core::target_name::check_app_name(&self.app_name).map_err(|source| {
            Error::ConfigAppName {
                path: self.path.clone(),
                source,
            }
        })?;
        for role in ROLES {
            let rc = self.role(role)?;
            if rc.threshold == 0 || rc.threshold > rc.keys.len() as u64 {
                return Err(Error::ConfigThreshold {
                    path: self.path.clone(),
                    role: role_name(role),
                    threshold: rc.threshold,
                    keys: rc.keys.len(),
                });
            }
            for k in &rc.keys {
                if k.is_empty()
                    || !k
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                {
                    return Err(Error::ConfigKeyName {
                        path: self.path.clone(),
                        name: k.clone(),
                    });
                }
            }
        }
        Ok(())
    }

    fn check_publish(&self, publish: &PublishConfig) -> Result<()> {
        let refuse = |setting, reason| Error::ConfigPublish {
            path: self.path.clone(),
            setting,
            reason,
        };
        for (setting, value) in [
            ("cache_control_immutable", &publish.cache_control_immutable),
            ("cache_control_mutable", &publish.cache_control_mutable),
        ] {
            if let Some(v) = value
                && (v.trim().is_empty() || axum::http::HeaderValue::from_str(v).is_err())
            {
                return Err(refuse(
                    setting,
                    "not a valid HTTP header value (visible ASCII, not empty)",
                ));
            }
        }
        if publish.endpoint.is_some() && publish.destination.is_none() {
            return Err(refuse(
                "endpoint",
                "goes with `destination`, which is not set",
            ));
        }
        Ok(())
    }

    /// Settings of `role`.
    ///
    /// # Errors
    /// [`Error::ConfigMissingRole`].
    pub fn role(&self, role: RoleType) -> Result<&RoleConfig> {
        self.roles
            .get(role_name(role))
            .ok_or_else(|| Error::ConfigMissingRole {
                path: self.path.clone(),
                role: role_name(role),
            })
    }

    /// Mutable settings of `role`.
    ///
    /// # Errors
    /// [`Error::ConfigMissingRole`].
    pub fn role_mut(&mut self, role: RoleType) -> Result<&mut RoleConfig> {
        let path = self.path.clone();
        self.roles
            .get_mut(role_name(role))
            .ok_or(Error::ConfigMissingRole {
                path,
                role: role_name(role),
            })
    }

    /// The folder holding the config file (base of relative paths).
    pub fn base_dir(&self) -> PathBuf {
        match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }

    /// Absolute or config-relative path of the served tree.
    pub fn repository_dir(&self) -> PathBuf {
        self.base_dir().join(&self.repository_dir)
    }

    /// Path of the keystore folder.
    pub fn keystore_dir(&self) -> PathBuf {
        self.base_dir().join(&self.keystore_dir)
    }

    /// Writes the config to [`Config::path`] through a temporary file and a rename.
    ///
    /// # Errors
    /// [`Error::ConfigSerialize`] (a bug) or [`Error::Io`].
    pub fn save(&self) -> Result<()> {
        let text = toml::to_string_pretty(self).map_err(Error::ConfigSerialize)?;
        let header = "# tufd-repo configuration. Paths are relative to this file's folder.\n";
        crate::repo::fsutil::write_atomic(&self.path, format!("{header}{text}").as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_defaults() {
        let cfg = Config::new("my_app", PathBuf::from("x/tufd-repo.toml"));
        let text = toml::to_string_pretty(&cfg).unwrap();
        let mut back: Config = toml::from_str(&text).unwrap();
        back.path = cfg.path.clone();
        assert_eq!(back, cfg);
        assert_eq!(back.role(RoleType::Timestamp).unwrap().expires_days, 1);
        assert_eq!(back.repository_dir(), PathBuf::from("x/repository"));
        let minimal: Config =
            toml::from_str("app_name = \"a\"\n[roles.root]\nkeys = [\"r\"]\nexpires_days = 3\n")
                .unwrap();
        assert!(minimal.consistent_snapshot);
        assert_eq!(minimal.codec, Codec::BsdiffLzma);
        assert_eq!(minimal.compression, CompressionName::Gzip);
        assert!(
            matches!(
                minimal.check(),
                Err(Error::ConfigMissingRole {
                    role: "targets",
                    ..
                })
            ),
            "roles targets/snapshot/timestamp missing"
        );
    }

    #[test]
    fn reads_and_checks_the_publish_table() {
        let base = toml::to_string_pretty(&Config::new("a", PathBuf::new())).unwrap();
        let parse = |publish: &str| -> Result<Config> {
            let mut c: Config = toml::from_str(&format!("{base}\n{publish}\n")).unwrap();
            c.path = PathBuf::from("tufd-repo.toml");
            c.check().map(|()| c)
        };
        let c = parse(
            "[publish]\ndestination = \"s3://b/p\"\nendpoint = \"http://127.0.0.1:9000\"\n\
             cache_control_mutable = \"max-age=60\"",
        )
        .unwrap();
        let p = c.publish.clone().unwrap();
        assert_eq!(p.destination.as_deref(), Some("s3://b/p"));
        assert_eq!(p.cache_control_mutable.as_deref(), Some("max-age=60"));
        assert_eq!(p.cache_control_immutable, None);
        let text = toml::to_string_pretty(&c).unwrap();
        let mut back: Config = toml::from_str(&text).unwrap();
        back.path = c.path.clone();
        assert_eq!(back, c);
        assert!(matches!(
            parse("[publish]\ncache_control_immutable = \"a\\nb\""),
            Err(Error::ConfigPublish {
                setting: "cache_control_immutable",
                ..
            })
        ));
        assert!(matches!(
            parse("[publish]\nendpoint = \"http://x\""),
            Err(Error::ConfigPublish {
                setting: "endpoint",
                ..
            })
        ));
        assert!(parse("").unwrap().publish.is_none());
    }

    #[test]
    fn refuses_bad_thresholds() {
        let mut cfg = Config::new("a", PathBuf::from("tufd-repo.toml"));
        cfg.role_mut(RoleType::Targets).unwrap().threshold = 2;
        assert!(matches!(
            cfg.check(),
            Err(Error::ConfigThreshold {
                threshold: 2,
                keys: 1,
                ..
            })
        ));
        cfg.role_mut(RoleType::Targets).unwrap().threshold = 0;
        assert!(matches!(cfg.check(), Err(Error::ConfigThreshold { .. })));
        cfg.role_mut(RoleType::Targets).unwrap().threshold = 1;
        assert!(cfg.check().is_ok());
    }
}
