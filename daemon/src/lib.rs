//! `tufd`: the update sidecar daemon an app spawns, and its one-shot commands
//! (`tufd check|update|status|rollback`). The binaries `tufd` and `tufd-faults` (the same daemon
//! with the crash points of `tufd_engine::faults`) are one line each: they call [`main`].
//!
//! - [`cli`]: the command line (clap), also the keys of `tufd.toml`.
//! - [`config`]: from flags and the config file to a validated engine config.
//! - [`lock`]: one daemon per data folder.
//! - [`logging`]: logs on stderr or a file.
//! - [`oneshot`]: the one-shot commands.
//! - [`rpc`]: the sidecar's JSON-RPC 2.0 on stdin/stdout.
//! - [`error`]: [`DaemonError`], every way a run fails, with its protocol error kind.
//!
//! [`main`] only wires: parse the command line, read the config, start logging, recover an
//! interrupted install, lock the data folder, start the engine, run the command, and map the
//! outcome to the exit status: 0 success, [`EXIT_UPDATE_AVAILABLE`] for `check --exit-code`
//! when an update is available, 1 failure (one line `error[<kind>]: <message>` on stderr), 2
//! usage error (clap).
#![warn(missing_docs)]

pub mod cli;
pub mod config;
pub mod error;
pub mod lock;
pub mod logging;
pub mod oneshot;
pub mod rpc;

use std::process::ExitCode;

use clap::Parser;
use tufd_engine::{Engine, EngineError, StartOptions};

pub use crate::error::DaemonError;

use crate::cli::{Cli, Command};

/// Exit status of `tufd check --exit-code` when an update is available (as `dnf check-update`);
/// 0 means up to date, 1 failure.
pub const EXIT_UPDATE_AVAILABLE: u8 = 100;

/// How a run that did not fail ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit status 0.
    Success,
    /// `check --exit-code` found an update: exit status [`EXIT_UPDATE_AVAILABLE`].
    UpdateAvailable,
}

impl Outcome {
    /// The exit status of this outcome.
    pub fn exit_code(self) -> ExitCode {
        match self {
            Outcome::Success => ExitCode::SUCCESS,
            Outcome::UpdateAvailable => ExitCode::from(EXIT_UPDATE_AVAILABLE),
        }
    }
}

/// Runs the command of `cli` to the end.
///
/// # Errors
/// Any [`DaemonError`]: bad settings, the lock, logging set-up, recovery, the engine, I/O on
/// stdin/stdout.
pub async fn run(cli: Cli) -> Result<Outcome, DaemonError> {
    let flags = config::merged(&cli)?;
    logging::init(
        flags.log_format.unwrap_or_default(),
        flags.log_file.as_deref(),
    )?;
    // An install interrupted mid-swap may have left no install folder, and the version file is
    // read from there: finish or roll it back (under the lock) before the config is resolved.
    // This is the only recovery: `Engine::start` leaves it to its caller.
    if let Some(pid) = cli.finish_install_after {
        tufd_engine::handoff::wait_for_handing_daemon(pid).await?;
    }
    let (early_lock, recovered) = recover_first(flags.data_dir.as_deref()).await?;
    let mut config = config::resolve(&flags)?;
    let _lock = match early_lock {
        Some(lock) => lock,
        None => lock::lock(&config.data_dir)?,
    };
    if let Some(version) = recovered {
        config = config.with_current_version(version);
    }
    if cli.finish_install_after.is_some() {
        return tufd_engine::handoff::finish(&config)
            .await
            .map(|()| Outcome::Success)
            .map_err(DaemonError::from);
    }
    tufd_engine::handoff::discard_stale(&config).await;
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
            rpc::serve(engine, tokio::io::stdin(), tokio::io::stdout())
                .await
                .map_err(|e| DaemonError::io("serve the protocol on stdin/stdout", e))?;
            return Ok(Outcome::Success);
        }
        Command::Check { json, exit_code } => oneshot::check(&engine, json).await.map(|report| {
            if exit_code && report.update_available {
                Outcome::UpdateAvailable
            } else {
                Outcome::Success
            }
        }),
        Command::Update { yes } => oneshot::update(&engine, yes)
            .await
            .map(|()| Outcome::Success),
        Command::Status { json } => oneshot::status(&engine, json)
            .await
            .map(|()| Outcome::Success),
        Command::Rollback => oneshot::rollback(&engine).await.map(|()| Outcome::Success),
    };
    let _ = engine.shutdown().await;
    result
}

/// When `data_dir` holds an install journal: takes the data folder's lock and recovers the
/// install (see `tufd_engine::recover`); returns the lock and the version installed
/// afterwards. `(None, None)` when there is nothing to recover.
async fn recover_first(
    data_dir: Option<&std::path::Path>,
) -> Result<(Option<lock::DataLock>, Option<tufd_core::Version>), DaemonError> {
    let Some(data_dir) = data_dir else {
        return Ok((None, None));
    };
    let journal = tufd_engine::config::DataLayout::new(data_dir).journal();
    if !journal.exists() {
        return Ok((None, None));
    }
    let held = lock::lock(data_dir)?;
    let recovery = tokio::task::spawn_blocking(move || tufd_engine::recover(&journal))
        .await
        .map_err(|e| EngineError::worker("recovery", e))
        .and_then(|recovered| recovered.map_err(EngineError::from))
        .map_err(|source| DaemonError::Recovery { source })?;
    let version = recovery.map(|r| match r {
        tufd_engine::Recovery::Completed { version }
        | tufd_engine::Recovery::RolledBack { version } => version,
    });
    Ok((Some(held), version))
}

/// Prints `err` as one line `error[<kind>]: <message with causes>` on stderr and, when the
/// command answers in JSON (`check --json`, `status --json`), as one line
/// `{"error": {"kind": "<kind>", "message": "<message>"}}` on stdout.
fn print_error(err: &DaemonError, json: bool) {
    use std::io::Write;
    if json {
        // Stdout may be what failed; there is nowhere else to say so.
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", error::json_error(err)).and_then(|()| out.flush());
    }
    let _ = writeln!(
        std::io::stderr().lock(),
        "error[{}]: {}",
        err.kind(),
        err.report()
    );
}

/// The whole `tufd` program: parses the command line (usage errors exit 2), runs it on a
/// tokio runtime and turns the outcome into the exit status: 0, [`EXIT_UPDATE_AVAILABLE`]
/// (`check --exit-code` found an update) or 1 after printing the error (see [`DaemonError`]).
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.json_output();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(source) => {
            print_error(&DaemonError::Runtime { source }, json);
            return ExitCode::FAILURE;
        }
    };
    // The error is printed before the runtime is dropped (which waits for blocking tasks).
    match runtime.block_on(run(cli)) {
        Ok(outcome) => outcome.exit_code(),
        Err(err) => {
            print_error(&err, json);
            ExitCode::FAILURE
        }
    }
}
