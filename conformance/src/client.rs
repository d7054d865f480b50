//! The three steps of the conformance client on tufd's TUF layer: `init` copies the trusted root,
//! `refresh` runs [`TrustedStore::load`], `download` refreshes and then reads each target through
//! the same loaded repository (the suite's `CLIENT-CLI.md`; conformance/README.md, "CLI").

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use tough::TargetName;
use tufd_net::transport::with_trailing_slash;
use tufd_net::transport::{HttpClient, TransportSettings, TufTransport};
use tufd_net::trusted_store::{LoadRequest, LoadedRepository, TrustedStore, quote, write_atomic};
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
    let repo = loaded.repository();
    eprintln!(
        "trusted: root v{}, timestamp v{}, snapshot v{}, targets v{}",
        repo.root().signed.version,
        repo.timestamp().signed.version,
        repo.snapshot().signed.version,
        repo.targets().signed.version
    );
    Ok(loaded)
}

async fn download(cli: &Cli, metadata_dir: &Path) -> anyhow::Result<()> {
    let target_dir = cli.target_dir.clone().context("--target-dir is required")?;
    url_arg(cli.target_base_url.as_deref(), "--target-base-url")?;
    let loaded = refresh(cli, metadata_dir).await?;
    for name in &cli.target_names {
        let target =
            TargetName::new(name.as_str()).with_context(|| format!("bad target name {name:?}"))?;
        let path: PathBuf = target_dir.join(quote(name));
        if path.is_file() {
            match loaded.read_target(&target, Some(&path)).await {
                Ok(_) => {
                    eprintln!("{name}: cached copy verified");
                    continue;
                }
                Err(e) => eprintln!("{name}: cached copy refused ({e}); downloading"),
            }
        }
        let bytes = loaded
            .read_target(&target, None)
            .await
            .with_context(|| format!("while downloading {name}"))?;
        write_atomic(&path, &bytes)
            .await
            .with_context(|| format!("while writing {}", path.display()))?;
        eprintln!("{name}: {} bytes verified and written", bytes.len());
    }
    Ok(())
}
