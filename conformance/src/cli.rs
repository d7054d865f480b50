//! The command line of the conformance-suite client (tuf-conformance `CLIENT-CLI.md`;
//! conformance/README.md, "CLI"): long-only global options, accepted anywhere.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// A TUF client on tufd's TUF layer, speaking the tuf-conformance client protocol.
#[derive(Debug, Parser)]
#[command(name = "tufd-conformance", version)]
pub struct Cli {
    /// Folder of the trusted metadata (exact received bytes, non-versioned names).
    #[arg(long, global = true)]
    pub metadata_dir: Option<PathBuf>,
    /// Base URL of the repository metadata (used as given; a trailing `/` is added if missing).
    #[arg(long, global = true)]
    pub metadata_url: Option<String>,
    /// Folder where downloaded targets are written, one file per target path.
    #[arg(long, global = true)]
    pub target_dir: Option<PathBuf>,
    /// Base URL of the target files.
    #[arg(long, global = true)]
    pub target_base_url: Option<String>,
    /// A target path to download (repeatable; fetched in the order given).
    #[arg(long = "target-name", global = true)]
    pub target_names: Vec<String>,
    /// The step to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The suite's three steps.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Trust `TRUSTED_ROOT`: copy it atomically to `<metadata-dir>/root.json` (no network).
    Init {
        /// The initial trusted root file.
        trusted_root: PathBuf,
    },
    /// Run the TUF top-level refresh (root, timestamp, snapshot, targets).
    Refresh,
    /// Refresh, then download each `--target-name` (stops at the first failure).
    Download,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn options_are_accepted_anywhere_and_repeatable() {
        let cli = Cli::try_parse_from([
            "c",
            "--metadata-url",
            "http://x/m/",
            "download",
            "--target-name",
            "a",
            "--metadata-dir",
            "/md",
            "--target-name",
            "b/c",
        ])
        .unwrap();
        assert_eq!(cli.target_names, ["a", "b/c"]);
        assert_eq!(cli.metadata_dir, Some(PathBuf::from("/md")));
        assert!(matches!(cli.command, Command::Download));
    }
}
