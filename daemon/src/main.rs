//! `tufd`: the update sidecar daemon. `main` only wires: parse the command line, read the
//! config, start logging, lock the data folder, start the engine, run the command, and map
//! errors to exit codes (0 success, 1 failure with `error[<kind>]: …` on stderr, 2 usage).

mod cli;
mod config;
mod lock;
mod logging;
mod oneshot;
mod rpc;

use std::process::ExitCode;

use clap::Parser;
use tufd_actors::{Engine, EngineError, StartOptions};

use crate::cli::{Cli, Command};

async fn run(cli: Cli) -> anyhow::Result<()> {
    let flags = config::merged(&cli)?;
    logging::init(
        flags.log_format.unwrap_or_default(),
        flags.log_file.as_deref(),
    )?;
    let config = config::resolve(&flags)?;
    let _lock = lock::lock(&config.data_dir)?;
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
    };
    let _ = engine.shutdown().await;
    result
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
