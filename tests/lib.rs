//! Shared support for the end-to-end tests of `tests/e2e/`: building app bundles, publishing them
//! with the real `tufd-repo`, serving the repository with Debian's nginx, and driving the real
//! `tufd` binary (one-shot commands and the JSON-RPC sidecar). See `support` for the pieces and
//! README.md, "Tests", for how the tests are run.
//!
//! The binaries are located next to the test executable (`target/<profile>/tufd`,
//! `target/<profile>/tufd-repo`) and built once per test process with
//! `cargo build -p tufd -p tufd-repo` when missing or older than their sources
//! (see [`support::bins`]).

pub mod support;
