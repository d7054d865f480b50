//! `tufd-repo init`: writes `tufd-repo.toml`, one ed25519 key per role into the keystore, and the
//! signed initial repository (`1.root.json` + an unversioned `root.json` copy, empty targets,
//! snapshot, timestamp). Refuses to overwrite an existing config, keystore key or repository.

use std::collections::HashMap;
use std::num::NonZeroU64;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;
use tough::schema::{RoleKeys, RoleType, Root, Targets};
use tufd_core::Codec;

use crate::config::{CompressionName, Config, ROLES, role_name};
use crate::keys::{PASSPHRASE_ENV, Passphrase, Signer};
use crate::repo::sign::{
    SPEC_VERSION, build_snapshot, build_timestamp, expiry, sign_role, sign_with, signers_for,
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
    /// Patch codec for later releases: bidiff-zstd (default) or bsdiff4 (tufup clients).
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

/// Runs `init`.
///
/// # Errors
/// Existing files, a bad app name, a missing passphrase, key generation or signing failures.
pub async fn run(
    config_path: &Path,
    passphrase: &Passphrase,
    args: InitArgs,
) -> anyhow::Result<ExitCode> {
    tufd_core::target_name::check_app_name(&args.app_name)?;
    if config_path.exists() {
        bail!(
            "config {} already exists: init refuses to overwrite it; use another folder or --config FILE",
            config_path.display()
        );
    }
    if args.encrypt_keys && !passphrase.is_set() {
        bail!(
            "--encrypt-keys needs a passphrase: set {PASSPHRASE_ENV} or pass --passphrase-file FILE"
        );
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
        .with_context(|| format!("cannot create folder {}", config.base_dir().display()))?;
    if std::fs::read_dir(&layout.dir).is_ok_and(|mut d| d.next().is_some()) {
        bail!(
            "repository folder {} already exists and is not empty: init refuses to overwrite it",
            layout.dir.display()
        );
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
            .with_context(|| format!("cannot create {}", state_dir.display()))?;
        config.save()
    }
    .await;
    if let Err(e) = result {
        for p in created {
            let _ = std::fs::remove_file(p);
        }
        return Err(e);
    }
    println!(
        "initialised {} for app {}; ship {} with the app",
        layout.dir.display(),
        config.app_name,
        layout.metadata.join("1.root.json").display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Builds the root listing one key per role (threshold 1; `signers` in [`ROLES`] order).
fn initial_root(config: &Config, signers: &[Signer]) -> anyhow::Result<Root> {
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
        expires: expiry(config.role(RoleType::Root)?.expires_days)?,
        keys,
        roles,
        _extra: HashMap::new(),
    })
}

async fn publish_initial(
    config: &Config,
    layout: &Layout,
    signers: &[Signer],
) -> anyhow::Result<()> {
    let root = initial_root(config, signers)?;
    let consistent = root.consistent_snapshot;
    let one = NonZeroU64::MIN;
    let mut staging = Staging::new(layout)?;
    let root_file = sign_with(
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
        expiry(config.role(RoleType::Targets)?.expires_days)?,
    );
    let targets_file = sign_role(targets, &root, signers).await?;
    staging.add_metadata(&role_file("targets", 1, consistent), &targets_file.bytes)?;
    let snapshot = build_snapshot(
        one,
        expiry(config.role(RoleType::Snapshot)?.expires_days)?,
        targets_file.metafile(),
    );
    let snapshot_file = sign_role(snapshot, &root, signers).await?;
    staging.add_metadata(&role_file("snapshot", 1, consistent), &snapshot_file.bytes)?;
    let timestamp = build_timestamp(
        one,
        expiry(config.role(RoleType::Timestamp)?.expires_days)?,
        snapshot_file.metafile(),
    );
    let ts_file = sign_role(timestamp, &root, signers).await?;
    staging.add_metadata("timestamp.json", &ts_file.bytes)?;
    std::fs::create_dir_all(&layout.targets)
        .with_context(|| format!("cannot create {}", layout.targets.display()))?;
    staging.commit(layout)
}
