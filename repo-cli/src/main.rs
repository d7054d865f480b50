//! `tufd-repo`: the app developer's tool. Parses the command line, runs it with the
//! [`tufd_repo`] library on a Tokio runtime (tough is async), and on failure prints one line
//! `error[<kind>]: <message>: <cause>: …` on stderr and exits 1 (2 for usage errors).

use std::process::ExitCode;

use clap::Parser;
use tufd_repo::Error;
use tufd_repo::cli::Cli;

fn main() -> ExitCode {
    let result = match Cli::try_parse() {
        Ok(cli) => run(cli),
        Err(e) if !e.use_stderr() => e.exit(), // --help, --version
        Err(e) => Err(Error::Usage(e)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{}", e.report());
            ExitCode::from(e.exit_code())
        }
    }
}

fn run(cli: Cli) -> Result<(), Error> {
    let runtime = tokio::runtime::Runtime::new().map_err(Error::Runtime)?;
    runtime.block_on(tufd_repo::cli::run(cli))
}
