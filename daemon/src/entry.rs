// The body of the `tufd` binary, included by `main.rs` and by `bin/tufd-faults.rs` (the same
// daemon with the crash points of `tufd_engine::faults`, issue 6). An included file cannot carry
// a `//!` module doc, so the doc lives in `main.rs`; module paths resolve from this folder.

mod cli;
mod config;
mod lock;
mod logging;
mod oneshot;
mod rpc;

use std::process::ExitCode;

use clap::Parser;
use tufd_engine::{Engine, EngineError, StartOptions};

use crate::cli::{Cli, Command};

async fn run(cli: Cli) -> anyhow::Result<()> {
    let flags = config::merged(&cli)?;
    logging::init(
        flags.log_format.unwrap_or_default(),
        flags.log_file.as_deref(),
    )?;
    // An install interrupted mid-swap may have left no install folder, and the version file is
    // read from there: finish or roll it back (under the lock) before the config is resolved.
    let (early_lock, recovered) = recover_first(flags.data_dir.as_deref()).await?;
    let mut config = config::resolve(&flags)?;
    let _lock = match early_lock {
        Some(lock) => lock,
        None => lock::lock(&config.data_dir)?,
    };
    if let Some(version) = recovered {
        config.current_version = version;
    }
    let command = cli.command.unwrap_or(Command::Sidecar);
    let sidecar = matches!(command, Command::Sidecar);
    let engine = Engine::start(
        config,
        StartOptions {
            background_checks: sidecar,
        },
    )
    .await?;
    let result = match command {
        Command::Sidecar => {
            rpc::serve(engine, tokio::io::stdin(), tokio::io::stdout()).await?;
            return Ok(());
        }
        Command::Check { json } => oneshot::check(&engine, json).await,
        Command::Update { yes } => oneshot::update(&engine, yes).await,
        Command::Status { json } => oneshot::status(&engine, json).await,
        Command::Rollback => oneshot::rollback(&engine).await,
    };
    let _ = engine.shutdown().await;
    result
}

/// When `data_dir` holds an install journal: takes the data folder's lock and recovers the
/// install (see `tufd_install::recover`); returns the lock and the version installed
/// afterwards. `(None, None)` when there is nothing to recover.
async fn recover_first(
    data_dir: Option<&std::path::Path>,
) -> anyhow::Result<(Option<lock::DataLock>, Option<tufd_core::Version>)> {
    let Some(data_dir) = data_dir else {
        return Ok((None, None));
    };
    let journal = tufd_engine::config::DataLayout::new(data_dir).journal();
    if !journal.exists() {
        return Ok((None, None));
    }
    let held = lock::lock(data_dir)?;
    let recovery = tokio::task::spawn_blocking(move || tufd_install::recover(&journal))
        .await
        .map_err(|e| anyhow::anyhow!("recovery thread: {e}"))??;
    let version = recovery.map(|r| match r {
        tufd_install::Recovery::Completed { version }
        | tufd_install::Recovery::RolledBack { version } => version,
    });
    Ok((Some(held), version))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error[io]: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            match err.downcast_ref::<EngineError>() {
                Some(engine_err) => eprintln!("error[{}]: {err:#}", engine_err.kind()),
                None => eprintln!("error: {err:#}"),
            }
            ExitCode::FAILURE
        }
    }
}
