//! The three steps of the conformance client on tufd's TUF layer: `init` copies the trusted root,
//! `refresh` runs [`TrustedStore::load`], `download` refreshes and then finds each target through
//! the same loaded repository (TUF's delegation search, loading delegated roles as it goes) and
//! downloads it unless a verified copy is already there (the suite's `CLIENT-CLI.md`;
//! conformance/README.md, "CLI").

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use tufd_net::transport::with_trailing_slash;
use tufd_net::transport::{HttpClient, TransportSettings, TufTransport};
use tufd_net::trusted_store::{
    LoadRequest, LoadedRepository, TrustedStore, quote, target_matches, write_atomic,
};
use url::Url;

use crate::cli::{Cli, Command};

/// Network settings: one attempt per request (the suite counts requests), short timeouts.
fn settings() -> TransportSettings {
    TransportSettings {
        connect_timeout: Duration::from_secs(5),
        read_timeout: Duration::from_secs(15),
        tries: 1,
        initial_backoff: Duration::ZERO,
        max_backoff: Duration::ZERO,
        ..TransportSettings::default()
    }
}

/// Runs the step `cli` names.
///
/// # Errors
/// Any failure of the step, with its context.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("while starting the async runtime")?;
    runtime.block_on(async move {
        let metadata_dir = cli
            .metadata_dir
            .clone()
            .context("--metadata-dir is required")?;
        match &cli.command {
            Command::Init { trusted_root } => init(&metadata_dir, trusted_root).await,
            Command::Refresh => refresh(&cli, &metadata_dir).await.map(drop),
            Command::Download => download(&cli, &metadata_dir).await,
        }
    })
}

async fn init(metadata_dir: &Path, trusted_root: &Path) -> anyhow::Result<()> {
    let bytes = tokio::fs::read(trusted_root)
        .await
        .with_context(|| format!("while reading {}", trusted_root.display()))?;
    tokio::fs::create_dir_all(metadata_dir)
        .await
        .with_context(|| format!("while creating {}", metadata_dir.display()))?;
    write_atomic(&TrustedStore::new(metadata_dir).root_path(), &bytes)
        .await
        .context("while writing the trusted root")
}

fn url_arg(value: Option<&str>, flag: &str) -> anyhow::Result<Url> {
    let value = value.with_context(|| format!("{flag} is required"))?;
    let url = Url::parse(value).with_context(|| format!("{flag} {value:?} is not a url"))?;
    Ok(with_trailing_slash(url))
}

async fn refresh(cli: &Cli, metadata_dir: &Path) -> anyhow::Result<LoadedRepository> {
    let metadata_url = url_arg(cli.metadata_url.as_deref(), "--metadata-url")?;
    // Without a target URL (refresh), targets are never read; any base will do.
    let targets_url = match cli.target_base_url.as_deref() {
        Some(_) => url_arg(cli.target_base_url.as_deref(), "--target-base-url")?,
        None => metadata_url.join("targets/")?,
    };
    let store = TrustedStore::new(metadata_dir);
    if !store.root_path().exists() {
        bail!(
            "{} holds no trusted root (run init)",
            metadata_dir.display()
        );
    }
    let client = HttpClient::new(&settings()).context("while building the http client")?;
    let loaded = store
        .load(LoadRequest {
            metadata_url,
            targets_url,
            transport: TufTransport::new(client, settings()),
            shipped_root: None,
            limits: None,
        })
        .await
        .context("while refreshing the metadata")?;
    let trusted = loaded.trusted();
    eprintln!(
        "trusted: root v{}, timestamp v{:?}, snapshot v{:?}, targets v{:?}",
        trusted.root().version,
        trusted.timestamp().map(|t| t.version),
        trusted.snapshot().map(|s| s.version),
        trusted.targets_role("targets").map(|t| t.version)
    );
    Ok(loaded)
}

async fn download(cli: &Cli, metadata_dir: &Path) -> anyhow::Result<()> {
    let target_dir = cli.target_dir.clone().context("--target-dir is required")?;
    url_arg(cli.target_base_url.as_deref(), "--target-base-url")?;
    let mut loaded = refresh(cli, metadata_dir).await?;
    for name in &cli.target_names {
        let target = loaded
            .target_info(name)
            .await
            .with_context(|| format!("while looking up {name}"))?;
        let path: PathBuf = target_dir.join(quote(name));
        if path.is_file() {
            let cached = tokio::fs::read(&path)
                .await
                .with_context(|| format!("while reading {}", path.display()))?;
            if target_matches(&cached, &target) {
                eprintln!("{name}: cached copy verified");
                continue;
            }
            eprintln!("{name}: cached copy refused; downloading");
        }
        let bytes = loaded
            .download_target(&target, name)
            .await
            .with_context(|| format!("while downloading {name}"))?;
        write_atomic(&path, &bytes)
            .await
            .with_context(|| format!("while writing {}", path.display()))?;
        eprintln!("{name}: {} bytes verified and written", bytes.len());
    }
    Ok(())
}
