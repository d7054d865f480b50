//! `tufd-repo import-tufup [--dry-run] [--force]`: adopts a repository tufup 0.10 made, keys and
//! all, run in the folder holding tufup's `.tufup-repo-config` (or the folder of `--config`).
//!
//! Reads that config ([`crate::tufup::config`]), the repository's current metadata and every
//! key `key_map` names from tufup's keystore ([`crate::tufup::keyfile`]; encrypted ones with the
//! passphrase of `TUFD_REPO_PASSPHRASE` or `--passphrase-file`), checks that each key is one the
//! current root lists for its role and that no role has expired, and writes `tufd-repo.toml`
//! beside tufup's config with `compat = "tufup"` (see [`crate::config::Compat`]): the same
//! repository and keystore folders, tufup's key names (read in place), the root's thresholds
//! and tufup's expiration days. The repository is not touched; the next `add` (or `sign`,
//! `remove-latest`, `keys`) is the first change, and tufup 0.10 clients keep reading it. A dry
//! run reports the same and writes nothing. An existing `tufd-repo.toml` is replaced only with
//! `--force`.

use std::fmt;
use std::path::{Path, PathBuf};

use clap::Args;
use tough::schema::{Role, RoleType};
use tufd_core::{Codec, Version};

use crate::config::{Compat, CompressionName, Config, ROLES, RoleConfig, role_name};
use crate::error::{Error, Result};
use crate::keys::Passphrase;
use crate::repo::sign::root_key_id;
use crate::repo::{Layout, State};
use crate::tufup::config::TufupConfig;
use crate::tufup::keyfile;

/// Arguments of `import-tufup`.
#[derive(Debug, Args)]
pub struct ImportTufupArgs {
    /// Report what was found and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Replace an existing tufd-repo.toml.
    #[arg(long)]
    pub force: bool,
}

/// What was found for one role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FoundRole {
    /// The role.
    pub role: &'static str,
    /// Its keys, in tufup's `key_map` order.
    pub keys: Vec<FoundKey>,
    /// Signatures the root requires.
    pub threshold: u64,
    /// Lifetime of freshly signed metadata, in days (tufup's `expiration_days`).
    pub expires_days: u64,
    /// When the role's current metadata expires.
    pub expires: jiff::Timestamp,
}

/// A key found in tufup's keystore.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FoundKey {
    /// tufup's key name (the file `<keys_dir>/<name>`).
    pub name: String,
    /// The key id the root gives it (hex), kept on every signature.
    pub key_id: String,
    /// Whether the file is encrypted.
    pub encrypted: bool,
}

/// What `import-tufup` found (and wrote).
#[derive(Clone, Debug)]
pub struct ImportOutcome {
    /// The `tufd-repo.toml` written (or that would be).
    pub config_path: PathBuf,
    /// False for a dry run.
    pub written: bool,
    /// The app name.
    pub app_name: String,
    /// The repository folder.
    pub repository: PathBuf,
    /// The current root version.
    pub root_version: u64,
    /// Archives published.
    pub releases: usize,
    /// The newest version published, if any.
    pub latest: Option<Version>,
    /// Each role, root first.
    pub roles: Vec<FoundRole>,
}

impl fmt::Display for ImportOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let latest = self
            .latest
            .as_ref()
            .map_or_else(|| "none".to_owned(), ToString::to_string);
        writeln!(
            f,
            "tufup repository of {} in {}: root version {}, {} release(s), latest {latest}",
            self.app_name,
            self.repository.display(),
            self.root_version,
            self.releases
        )?;
        for role in &self.roles {
            let keys: Vec<String> = role
                .keys
                .iter()
                .map(|k| {
                    format!(
                        "{} (key id {}…{})",
                        k.name,
                        &k.key_id[..k.key_id.len().min(8)],
                        if k.encrypted { ", encrypted" } else { "" }
                    )
                })
                .collect();
            writeln!(
                f,
                "  {}: {}; threshold {}; {} expiry days; expires {}",
                role.role,
                keys.join(", "),
                role.threshold,
                role.expires_days,
                role.expires
            )?;
        }
        if self.written {
            write!(
                f,
                "wrote {} (compat = \"tufup\"); the repository changes at the next add",
                self.config_path.display()
            )
        } else {
            write!(f, "dry run: {} not written", self.config_path.display())
        }
    }
}

/// tufup's default expiration days (`DEFAULT_EXPIRATION_DAYS`), for a role its config omits.
fn tufup_default_days(role: RoleType) -> u64 {
    match role {
        RoleType::Root => 365,
        RoleType::Timestamp => 1,
        _ => 7,
    }
}

/// Runs `import-tufup` for the config at `config_path` (tufup's config is read from the same
/// folder). Writes nothing on error or in a dry run.
///
/// # Errors
/// [`Error::ImportConfigExists`]; tufup's config: [`Error::TufupConfigRead`],
/// [`Error::TufupConfigParse`], [`Error::TufupBinaryDiff`], [`Error::TufupFolderMissing`]; the
/// repository: the errors of [`State::load`], [`Error::TufupExpired`]; the keys:
/// [`Error::TufupKeyMissing`], [`Error::TufupKeyFormat`], [`Error::PassphraseMissing`],
/// [`Error::TufupPassphraseWrong`], [`Error::TufupKeyNotInRoot`]; the new config's checks
/// ([`Config::check`]) and writing it.
pub fn run(
    config_path: &Path,
    passphrase: &Passphrase,
    args: ImportTufupArgs,
) -> Result<ImportOutcome> {
    if config_path.exists() && !args.force && !args.dry_run {
        return Err(Error::ImportConfigExists {
            path: config_path.to_path_buf(),
        });
    }
    let dir = match config_path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let tufup = TufupConfig::load(&dir)?;
    if let Some(class) = &tufup.binary_diff {
        return Err(Error::TufupBinaryDiff {
            class: class.clone(),
        });
    }
    let repo_dir = tufup.repo_dir(&dir);
    let keys_dir = tufup.keys_dir(&dir);
    for (what, path) in [
        ("repo_dir", repo_dir.clone()),
        ("repo_dir/metadata", repo_dir.join("metadata")),
        ("keys_dir", keys_dir.clone()),
    ] {
        if !path.is_dir() {
            return Err(Error::TufupFolderMissing { what, path });
        }
    }
    let state = State::load(&Layout::new(&repo_dir))?;
    let root = &state.root.signed.signed;
    let now = jiff::Timestamp::now();
    let expires_of = |role| match role {
        RoleType::Root => root.expires,
        RoleType::Targets => state.targets.signed.signed.expires,
        RoleType::Snapshot => state.snapshot.signed.signed.expires,
        _ => state.timestamp.signed.signed.expires,
    };
    if let Some(role) = ROLES.into_iter().find(|r| expires_of(*r) <= now) {
        return Err(Error::TufupExpired {
            role: role_name(role),
            expires: expires_of(role),
        });
    }

    let mut found = Vec::new();
    let mut roles = std::collections::BTreeMap::new();
    for role in ROLES {
        let name_of_role = role_name(role);
        let names = tufup.key_map.get(name_of_role).cloned().unwrap_or_default();
        let listed = root
            .roles
            .get(&role)
            .ok_or(Error::RootLacksRole { role: name_of_role })?;
        let mut keys = Vec::new();
        for name in &names {
            let path = keys_dir.join(name);
            if !path.is_file() {
                return Err(Error::TufupKeyMissing {
                    role: name_of_role,
                    name: name.clone(),
                    path,
                });
            }
            let key = keyfile::read(&path, passphrase)?;
            let pair =
                tough::sign::parse_keypair(&key.pkcs8(&path)?).map_err(|e| Error::KeyInvalid {
                    path: path.clone(),
                    source: Box::new(e),
                })?;
            let tuf_key = tough::sign::Sign::tuf_key(&pair);
            let key_id = root_key_id(root, &tuf_key)
                .filter(|id| listed.keyids.contains(id))
                .ok_or_else(|| Error::TufupKeyNotInRoot {
                    role: name_of_role,
                    name: name.clone(),
                })?;
            keys.push(FoundKey {
                name: name.clone(),
                key_id: hex::encode(&**key_id),
                encrypted: key.encrypted,
            });
        }
        let role_config = RoleConfig {
            keys: names,
            threshold: listed.threshold.get(),
            expires_days: tufup
                .expiration_days
                .get(name_of_role)
                .copied()
                .unwrap_or_else(|| tufup_default_days(role)),
        };
        found.push(FoundRole {
            role: name_of_role,
            keys,
            threshold: role_config.threshold,
            expires_days: role_config.expires_days,
            expires: expires_of(role),
        });
        roles.insert(name_of_role.to_owned(), role_config);
    }
    let mut config = Config::new(&tufup.app_name, config_path.to_path_buf());
    config.repository_dir = tufup.repo_dir.clone();
    config.keystore_dir = tufup.keys_dir.clone();
    config.consistent_snapshot = false;
    config.codec = Codec::Bsdiff4;
    config.compression = CompressionName::Gzip;
    config.compat = Some(Compat::Tufup);
    config.roles = roles;
    config.check()?;
    let releases = state
        .releases(&tufup.app_name)
        .iter()
        .filter(|(n, _)| n.suffix().is_archive())
        .count();
    if !args.dry_run {
        config.save()?;
    }
    Ok(ImportOutcome {
        config_path: config_path.to_path_buf(),
        written: !args.dry_run,
        app_name: tufup.app_name,
        repository: repo_dir,
        root_version: root.version().get(),
        releases,
        latest: state.latest_version(&config.app_name),
        roles: found,
    })
}
