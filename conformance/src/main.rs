//! `tufd-conformance`: the client executable the TUF conformance suite
//! (theupdateframework/tuf-conformance) drives, built on tufd's own TUF layer
//! ([`tufd_net::trusted_store`] over [`tufd_net::transport::TufTransport`]), not a second
//! implementation (conformance/README.md).
//!
//! Exit codes: 0 on success, 1 on every failure — usage errors and panics included; only
//! `--help` and `--version` exit 0 without work.

mod cli;
mod client;

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    // A panic anywhere (any thread, any task) ends the process with exit code 1, never 101.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default_hook(info);
        std::process::exit(1);
    }));
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TUFD_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tufd_net=debug")),
        )
        .init();
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help / --version
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(1);
        }
    };
    match client::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tufd-conformance: error: {e:#}");
            ExitCode::from(1)
        }
    }
}
