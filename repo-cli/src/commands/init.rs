//! `tufd-repo init`: writes `tufd-repo.toml`, one ed25519 key per role into the keystore, and the
//! signed initial repository (`1.root.json` + an unversioned `root.json` copy, empty targets,
//! snapshot, timestamp). Refuses to overwrite an existing config, keystore key or repository.

use std::collections::HashMap;
use std::fmt;
use std::num::NonZeroU64;
use std::path::{Path, PathBuf};

use clap::Args;
use tough::schema::{RoleKeys, RoleType, Root, Targets};
use tufd_core::Codec;

use crate::config::{CompressionName, Config, ROLES, role_name};
use crate::error::{Error, Result};
use crate::keys::{Passphrase, Signer};
use crate::lifetime::Lifetime;
use crate::repo::sign::{
    SPEC_VERSION, build_snapshot, build_timestamp, expiry, sign_as, sign_role, signers_for,
};
use crate::repo::txn::Staging;
use crate::repo::{Layout, role_file};

/// Arguments of `init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// App name: the `<name>` of target names `<name>-<version>.tar.gz` (ASCII letters, digits,
    /// `_`, `-`).
    #[arg(long)]
    pub app_name: String,
    /// Turn consistent snapshots off (plain target and metadata names, as tufup publishes).
    #[arg(long)]
    pub no_consistent_snapshot: bool,
    /// Patch codec for later releases: bsdiff-lzma (default; smallest patches), bsdiff4 (tufup
    /// clients) or bidiff-zstd (the default of earlier tufd-repo versions).
    #[arg(long)]
    pub codec: Option<Codec>,
    /// Archive compression: gzip (default, `.tar.gz`) or zstd (`.tar.zst`).
    #[arg(long, value_enum)]
    pub compression: Option<CompressionName>,
    /// Encrypt the private keys (encrypted PKCS#8, scrypt + AES-256-CBC) with the passphrase from
    /// TUFD_REPO_PASSPHRASE or --passphrase-file.
    #[arg(long)]
    pub encrypt_keys: bool,
}

/// What `init` made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InitOutcome {
    /// The repository folder (served as is).
    pub repository: PathBuf,
    /// The app name.
    pub app_name: String,
    /// `metadata/1.root.json`, the root the app ships.
    pub root: PathBuf,
}

impl fmt::Display for InitOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "initialised {} for app {}; ship {} with the app",
            self.repository.display(),
            self.app_name,
            self.root.display()
        )
    }
}

/// Runs `init`: writes the config at `config_path`, the keys (encrypted with `passphrase`
/// when `args.encrypt_keys`) and the signed empty repository. On failure the keys it wrote are
/// removed.
///
/// # Errors
/// [`Error::AppName`], [`Error::ConfigExists`], [`Error::RepositoryNotEmpty`],
/// [`Error::EncryptNeedsPassphrase`], key generation or signing failures, [`Error::Io`].
pub async fn run(
    config_path: &Path,
    passphrase: &Passphrase,
    args: InitArgs,
) -> Result<InitOutcome> {
    tufd_core::target_name::check_app_name(&args.app_name).map_err(Error::AppName)?;
    if config_path.exists() {
        return Err(Error::ConfigExists {
            path: config_path.to_path_buf(),
        });
    }
    if args.encrypt_keys && !passphrase.is_set() {
        return Err(Error::EncryptNeedsPassphrase);
    }
    let no_pass = Passphrase::default();
    let key_pass = if args.encrypt_keys {
        passphrase
    } else {
        &no_pass
    };
    let mut config = Config::new(&args.app_name, config_path.to_path_buf());
    config.consistent_snapshot = !args.no_consistent_snapshot;
    if let Some(c) = args.codec {
        config.codec = c;
    }
    if let Some(c) = args.compression {
        config.compression = c;
    }
    let layout = Layout::new(&config.repository_dir());
    std::fs::create_dir_all(config.base_dir())
        .map_err(Error::io("create folder", config.base_dir()))?;
    if std::fs::read_dir(&layout.dir).is_ok_and(|mut d| d.next().is_some()) {
        return Err(Error::RepositoryNotEmpty {
            path: layout.dir.clone(),
        });
    }
    let keystore = config.keystore_dir();
    let mut created: Vec<PathBuf> = Vec::new();
    let result = async {
        for role in ROLES {
            created.push(crate::keys::generate(&keystore, role_name(role), key_pass)?);
        }
        let mut signers = Vec::new();
        for role in ROLES {
            signers.push(crate::keys::load(&keystore, role_name(role), key_pass).await?);
        }
        publish_initial(&config, &layout, &signers).await?;
        // The lock file of later commands (see `Ctx::lock`), made now so that it exists from
        // the start.
        let state_dir = config.base_dir().join(".tufd-repo");
        std::fs::create_dir_all(&state_dir)
            .and_then(|()| std::fs::write(state_dir.join("lock"), b""))
            .map_err(Error::io("create", &state_dir))?;
        config.save()
    }
    .await;
    if let Err(e) = result {
        for p in created {
            let _ = std::fs::remove_file(p);
        }
        return Err(e);
    }
    Ok(InitOutcome {
        root: layout.metadata.join("1.root.json"),
        repository: layout.dir,
        app_name: config.app_name,
    })
}

/// Builds the root listing one key per role (threshold 1; `signers` in [`ROLES`] order).
fn initial_root(config: &Config, signers: &[Signer]) -> Result<Root> {
    let mut keys = HashMap::new();
    let mut roles = HashMap::new();
    for (role, s) in ROLES.iter().zip(signers) {
        keys.insert(s.key_id.clone(), s.key.clone());
        roles.insert(
            *role,
            RoleKeys {
                keyids: vec![s.key_id.clone()],
                threshold: NonZeroU64::MIN,
                _extra: HashMap::new(),
            },
        );
    }
    Ok(Root {
        spec_version: SPEC_VERSION.into(),
        consistent_snapshot: config.consistent_snapshot,
        version: NonZeroU64::MIN,
        expires: expiry(Lifetime::days(config.role(RoleType::Root)?.expires_days))?,
        keys,
        roles,
        _extra: HashMap::new(),
    })
}

async fn publish_initial(config: &Config, layout: &Layout, signers: &[Signer]) -> Result<()> {
    let root = initial_root(config, signers)?;
    let consistent = root.consistent_snapshot;
    let one = NonZeroU64::MIN;
    let mut staging = Staging::new(layout)?;
    let root_file = sign_as(
        root.clone(),
        &signers_for(&root, RoleType::Root, signers),
        &[],
    )
    .await?;
    staging.add_metadata("1.root.json", &root_file.bytes)?;
    staging.add_metadata("root.json", &root_file.bytes)?;
    let targets = Targets::new(
        SPEC_VERSION.into(),
        one,
        expiry(Lifetime::days(config.role(RoleType::Targets)?.expires_days))?,
    );
    let targets_file = sign_role(targets, &root, signers).await?;
    staging.add_metadata(&role_file("targets", 1, consistent), &targets_file.bytes)?;
    let snapshot = build_snapshot(
        one,
        expiry(Lifetime::days(
            config.role(RoleType::Snapshot)?.expires_days,
        ))?,
        targets_file.metafile(),
    );
    let snapshot_file = sign_role(snapshot, &root, signers).await?;
    staging.add_metadata(&role_file("snapshot", 1, consistent), &snapshot_file.bytes)?;
    let timestamp = build_timestamp(
        one,
        expiry(Lifetime::days(
            config.role(RoleType::Timestamp)?.expires_days,
        ))?,
        snapshot_file.metafile(),
    );
    let ts_file = sign_role(timestamp, &root, signers).await?;
    staging.add_metadata("timestamp.json", &ts_file.bytes)?;
    std::fs::create_dir_all(&layout.targets).map_err(Error::io("create", &layout.targets))?;
    staging.commit(layout)
}
