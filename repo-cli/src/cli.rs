//! The command line (clap derive): global options and one subcommand per file in
//! [`crate::commands`], and [`run`], which runs a parsed command line
//! and prints what each command did on stdout. `main` only parses, calls [`run`] and reports
//! the error.

use std::io::Write;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::commands::{self, Ctx};
use crate::error::{Error, Result};
use crate::keys::Passphrase;

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

    /// After a command that changes the repository (init, add, remove-latest, rollout, yank,
    /// sign, keys, renew) succeeds, upload the tree to DEST as `tufd-repo publish DEST` does;
    /// `--publish` without DEST (last on the line, or before another option) uses the config's
    /// `[publish] destination`.
    #[arg(long, global = true, value_name = "DEST", num_args = 0..=1)]
    pub publish: Option<Option<String>>,

    /// The `--endpoint` of `--publish`: an S3-compatible service (wins over the config's).
    #[arg(long, global = true, value_name = "URL", requires = "publish")]
    pub publish_endpoint: Option<String>,

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
    /// Delegate a platform's releases (`<os>-<arch>/*`) to a role with its own keys, so that a
    /// build machine signs its platform's releases and nothing else (needs the targets key).
    Delegate(commands::delegate::DelegateArgs),
    /// Make a key on a build machine: `<keystore>/NAME.der` and the public `NAME.pub.json` for
    /// `delegate --key`.
    Keygen(commands::delegate::KeygenArgs),
    /// Change a release's staged rollout: a percentage 0-100 of installs, `halt` or `resume
    /// [PERCENT]` (signed in the release's metadata).
    Rollout(commands::rollout::RolloutArgs),
    /// Mark a release bad: installs that have not taken it never will, installs on it go back
    /// to the newest release that is not yanked.
    Yank(commands::rollout::YankArgs),
    /// Show each release's rollout, halt, yank, required mark and signing role.
    Status(commands::status::StatusArgs),
    /// Remove the newest release (archive and patch; of one platform with `--platform`) from
    /// the metadata that lists it and re-sign.
    RemoveLatest(commands::remove_latest::RemoveLatestArgs),
    /// Re-sign a role with a new version and expiry (cron job: `sign timestamp`), or add one
    /// signature with `--key`.
    Sign(commands::sign::SignArgs),
    /// Root key rotation: add or replace a role's keys in a new root version.
    Keys(commands::keys::KeysArgs),
    /// Read the published tree as a client does and report every problem (exit 1 on any).
    Verify(commands::verify::VerifyArgs),
    /// Print each role's expiry; exit 1 (`error[expiring]`) when one expires within
    /// `--within` (default 12h): a CI alert.
    Expiry(commands::expiry::ExpiryArgs),
    /// Re-sign every online role (targets, snapshot, timestamp) expiring within `--within`
    /// (default 12h), with the roles that hash it: the one line a cron job runs.
    Renew(commands::expiry::ExpiryArgs),
    /// Adopt a repository tufup 0.10 made, keys and all: run in the folder holding
    /// `.tufup-repo-config`; writes tufd-repo.toml (compat = "tufup") and leaves the repository
    /// as it is until the next add.
    ImportTufup(commands::import_tufup::ImportTufupArgs),
    /// Serve the repository folder over HTTP (static, supports Range) for demos and tests.
    Serve(commands::serve::ServeArgs),
    /// Upload the served tree to `s3://…`, `gs://…`, `az://…` or a folder: what it lacks,
    /// targets first and `timestamp.json` last, with content types and cache headers.
    Publish(commands::publish::PublishArgs),
}

/// Runs the parsed command line: reads the passphrase, loads the config (and takes the
/// working folder's lock for the commands that change the repository), runs the command and
/// prints its outcome on stdout.
///
/// # Errors
/// Whatever the command reports; `verify` with problems prints them and returns
/// [`Error::VerifyFailed`].
pub async fn run(cli: Cli) -> Result<()> {
    let passphrase = Passphrase::from_sources(cli.passphrase_file.as_deref())?;
    let locked = |passphrase| -> Result<(Ctx, commands::RepoLock)> {
        let ctx = Ctx::load(&cli.config, passphrase)?;
        let lock = ctx.lock()?;
        Ok((ctx, lock))
    };
    let publish_after = match (&cli.publish, &cli.command) {
        (None, _) => None,
        (
            Some(dest),
            Command::Init(_)
            | Command::Add(_)
            | Command::Delegate(_)
            | Command::RemoveLatest(_)
            | Command::Rollout(_)
            | Command::Yank(_)
            | Command::Sign(_)
            | Command::Keys(_)
            | Command::Renew(_),
        ) => Some(commands::publish::PublishArgs {
            dest: dest.clone(),
            endpoint: cli.publish_endpoint.clone(),
            ..Default::default()
        }),
        (Some(dest), _) => {
            return Err(Error::PublishDestination {
                dest: dest.clone().unwrap_or_else(|| "--publish".into()),
                reason: "--publish goes with init, add, remove-latest, rollout, yank, sign, keys and renew; \
                         run `tufd-repo publish DEST` instead"
                    .into(),
            });
        }
    };
    match cli.command {
        Command::Init(a) => {
            println!(
                "{}",
                commands::init::run(&cli.config, &passphrase, a).await?
            );
        }
        Command::Add(a) => {
            let (ctx, _lock) = locked(passphrase)?;
            println!("{}", commands::add::run(&ctx, a).await?);
        }
        Command::Delegate(a) => {
            let (ctx, _lock) = locked(passphrase)?;
            println!("{}", commands::delegate::run(&ctx, a).await?);
        }
        Command::Keygen(a) => {
            let ctx = Ctx::load(&cli.config, passphrase)?;
            println!("{}", commands::delegate::keygen(&ctx, a).await?);
        }
        Command::Rollout(a) => {
            let (ctx, _lock) = locked(passphrase)?;
            println!("{}", commands::rollout::rollout(&ctx, a).await?);
        }
        Command::Yank(a) => {
            let (ctx, _lock) = locked(passphrase)?;
            println!("{}", commands::rollout::yank(&ctx, a).await?);
        }
        Command::Status(a) => {
            let ctx = Ctx::load(&cli.config, passphrase)?;
            println!("{}", commands::status::run(&ctx, &a)?);
        }
        Command::RemoveLatest(a) => {
            let (ctx, _lock) = locked(passphrase)?;
            let outcome = commands::remove_latest::run(&ctx, a).await?;
            for (path, e) in &outcome.not_deleted {
                eprintln!("warning: cannot delete {}: {e}", path.display());
            }
            println!("{outcome}");
        }
        Command::Sign(a) => {
            let (ctx, _lock) = locked(passphrase)?;
            println!("{}", commands::sign::run(&ctx, a).await?);
        }
        Command::Keys(a) => {
            let (ctx, _lock) = locked(passphrase)?;
            println!("{}", commands::keys::run(&ctx, a).await?);
        }
        Command::Verify(a) => {
            let ctx = Ctx::load(&cli.config, passphrase)?;
            let outcome = commands::verify::run(&ctx, a).await?;
            println!("{outcome}");
            outcome.into_result()?;
        }
        Command::Expiry(a) => {
            let ctx = Ctx::load(&cli.config, passphrase)?;
            let report = commands::expiry::run(&ctx, &a)?;
            println!("{report}");
            report.into_result()?;
        }
        Command::Renew(a) => {
            let (ctx, _lock) = locked(passphrase)?;
            let outcome = commands::expiry::renew(&ctx, &a).await?;
            println!("{outcome}");
            if outcome.root_soon {
                return Err(Error::ExpiringSoon {
                    roles: "root".into(),
                    within: a.within.unwrap_or(commands::expiry::DEFAULT_WITHIN),
                });
            }
        }
        Command::ImportTufup(a) => {
            println!(
                "{}",
                commands::import_tufup::run(&cli.config, &passphrase, a)?
            );
        }
        Command::Serve(a) => {
            let ctx = Ctx::load(&cli.config, passphrase)?;
            let server = commands::serve::bind(&ctx, a).await?;
            // Tests and scripts read the port from this line: write it at once.
            let mut out = std::io::stdout().lock();
            writeln!(out, "serving http://{}/", server.local_addr())
                .and_then(|()| out.flush())
                .map_err(Error::io("write to", "stdout"))?;
            drop(out);
            server.run().await?;
        }
        Command::Publish(a) => {
            let (ctx, _lock) = locked(passphrase)?;
            println!("{}", commands::publish::run(&ctx, a).await?);
        }
    }
    if let Some(args) = publish_after {
        let ctx = Ctx::load(&cli.config, Passphrase::none())?;
        let _lock = ctx.lock()?;
        println!("{}", commands::publish::run(&ctx, args).await?);
    }
    Ok(())
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
