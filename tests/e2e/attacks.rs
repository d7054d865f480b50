//! TUF attack tests: the real `tufd` against repositories written by an independent writer
//! (python-tuf's Metadata API, `tests/python/attack_repo.py`) and by `tufd-repo`, served from a
//! `file://` folder or a hostile HTTP server.
//!
//! Every refusal asserts the distinct error kind of docs/protocol.md, "Errors"
//! (`metadata-rollback`, `expired-metadata`, `metadata-invalid`, `metadata-too-large`,
//! `target-mismatch`, `network`),
//! that the trusted metadata did not move to the attacker's version, and that the install folder is
//! exactly as before. One module per attack family:
//! - [`python_repo`]: rollback (timestamp, snapshot, targets), mix-and-match, freeze of each role,
//!   root rotation with threshold 2 of 3 and a rotation signed only by the new keys;
//! - [`targets`]: a target whose bytes differ from the signed hash, a server sending more bytes
//!   than the signed length (endless data), a slow server (the sidecar keeps answering and the
//!   stalled request is given up within the daemon's idle timeout);
//! - [`network`]: a dripping server (metadata and a patch) given up on at the overall deadline,
//!   an unreachable repository and a failing server, each with its own error kind.

mod hostile_server;
mod network;
mod python_repo;
mod targets;

use tufd_tests::support::process::RunOutput;

/// Asserts that a one-shot `tufd` command failed with exit code 1 and named `kind` as
/// `error[<kind>]` on stderr.
#[track_caller]
fn assert_refused(out: &RunOutput, kind: &str) {
    assert_eq!(out.code(), Some(1), "expected a {kind} refusal: {out}");
    assert!(
        out.stderr.contains(&format!("error[{kind}]")),
        "stderr must name the error kind {kind}: {out}"
    );
}

/// The `signed.version` of the JSON metadata file at `path`.
#[track_caller]
fn version_of(path: &std::path::Path) -> u64 {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let value: serde_json::Value = serde_json::from_slice(&bytes).expect("metadata is json");
    value["signed"]["version"]
        .as_u64()
        .unwrap_or_else(|| panic!("no signed.version in {}", path.display()))
}
