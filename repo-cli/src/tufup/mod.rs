//! What `tufd-repo` reads of a repository that tufup 0.10 made: its working folder's
//! `.tufup-repo-config` ([`config`]) and its keystore's securesystemslib key files
//! ([`keyfile`]). `import-tufup` ([`crate::commands::import_tufup`]) turns both into a
//! `tufd-repo.toml` with `compat = "tufup"`; the other commands then read the key files in place.

pub mod config;
pub mod keyfile;
