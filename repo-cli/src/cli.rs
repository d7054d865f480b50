//! The command line (clap derive): global options and one subcommand per file in
//! [`crate::commands`] (STYLE: "repo-cli").

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::commands;

/// tufd-repo: turn app bundle folders into signed TUF releases and publish them as a static tree
/// (`repository/metadata/` + `repository/targets/`). Non-interactive; exit code 0 only on success.
#[derive(Debug, Parser)]
#[command(name = "tufd-repo", version, about, long_about = None)]
pub struct Cli {
    /// Configuration file; relative paths inside it are relative to its folder.
    #[arg(long, global = true, default_value = crate::config::DEFAULT_CONFIG)]
    pub config: PathBuf,

    /// File holding the keystore passphrase (a trailing newline is ignored). Default: the environment variable
    /// TUFD_REPO_PASSPHRASE; keys are stored unencrypted when neither is given at `init`.
    #[arg(long, global = true)]
    pub passphrase_file: Option<PathBuf>,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the config, one key per role and a signed, empty repository.
    Init(commands::init::InitArgs),
    /// Publish a release from a bundle folder: archive, patch from the previous release, and
    /// targets/snapshot/timestamp signed.
    Add(commands::add::AddArgs),
    /// Remove the newest release (archive and patch) from the targets metadata and re-sign.
    RemoveLatest(commands::remove_latest::RemoveLatestArgs),
    /// Re-sign a role with a new version and expiry (cron job: `sign timestamp`), or add one
    /// signature with `--key`.
    Sign(commands::sign::SignArgs),
    /// Root key rotation: add or replace a role's keys in a new root version.
    Keys(commands::keys::KeysArgs),
    /// Read the published tree as a client does and report every problem (exit 1 on any).
    Verify(commands::verify::VerifyArgs),
    /// Serve the repository folder over HTTP (static, supports Range) for demos and tests.
    Serve(commands::serve::ServeArgs),
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn parses_the_fixed_interface() {
        let cli = Cli::try_parse_from([
            "tufd-repo",
            "add",
            "dist",
            "--version",
            "1.0",
            "--required",
            "--skip-patch",
            "--codec",
            "bsdiff4",
            "--config",
            "x.toml",
        ])
        .unwrap();
        assert_eq!(cli.config, PathBuf::from("x.toml"));
        let Command::Add(a) = cli.command else {
            panic!()
        };
        assert!(a.required && a.skip_patch);
        assert_eq!(a.codec, Some(tufd_core::Codec::Bsdiff4));
        assert!(
            Cli::try_parse_from([
                "tufd-repo",
                "add",
                "dist",
                "--version",
                "1",
                "--codec",
                "xdelta"
            ])
            .is_err()
        );
    }
}
