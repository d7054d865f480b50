//! The patch → archive fall-back, as pure decisions: what a failure on the patch route means
//! for the run in progress. Patches are an optimisation; the full archive is always signed too
//! (`core/src/planner`), so a failure that is about a patch or the base tar costs bytes, never
//! the update. A failure that is not about them (the disk, a cancelled run, a stopped worker)
//! stops the run.

use tufd_install::build::BuildError;
use tufd_net::DownloadError;

use crate::error::EngineError;

/// What to do after a failure on the patch route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fallback {
    /// Fetch the full archive in this run. `failed_patch`, when set, is remembered so that later
    /// plans avoid that patch (planner rule "a patch that failed before").
    Archive {
        /// The patch to remember as failed.
        failed_patch: Option<String>,
    },
    /// Stop the run with the error.
    Stop,
}

impl Fallback {
    fn archive(failed_patch: Option<&str>) -> Self {
        Fallback::Archive {
            failed_patch: failed_patch.map(str::to_owned),
        }
    }
}

/// After securing the base tar failed, before any patch byte was fetched: no base tar that
/// verifies (the install folder changed, or no tar digest is signed) means the archive.
pub fn after_base_tar(err: &BuildError) -> Fallback {
    match err {
        BuildError::BaseUnavailable { .. } => Fallback::archive(None),
        _ => Fallback::Stop,
    }
}

/// After downloading patch `patch` failed: bytes that do not match the signed length or hash,
/// or a server that does not serve the patch at all (HTTP 403, 404, 410: a cleanup script
/// deleted it, as in tufup#71), mark the patch failed and fetch the archive instead. Other
/// failures (the network, a 5xx, the disk, a cancel) would hit the archive too: stop.
pub fn after_patch_download(patch: &str, err: &EngineError) -> Fallback {
    let EngineError::Download { source, .. } = err else {
        return Fallback::Stop;
    };
    match source.as_ref() {
        DownloadError::LengthExceeded { .. } | DownloadError::HashMismatch { .. } => {
            Fallback::archive(Some(patch))
        }
        DownloadError::Http {
            status: 403 | 404 | 410,
            ..
        } => Fallback::archive(Some(patch)),
        _ => Fallback::Stop,
    }
}

/// After applying the verified patch chain failed: the step that failed (its output did not
/// match its signed tar digest, or it did not apply) is marked failed; a base tar that vanished
/// meanwhile means the archive too.
pub fn after_patch_build(err: &BuildError) -> Fallback {
    match err {
        BuildError::PatchFailed { patch, .. } => Fallback::archive(Some(patch)),
        BuildError::BaseUnavailable { .. } => Fallback::archive(None),
        _ => Fallback::Stop,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url() -> url::Url {
        url::Url::parse("http://127.0.0.1/a-2.0.patch").unwrap()
    }

    fn io() -> BuildError {
        BuildError::Io {
            path: "/data/cache".into(),
            source: std::io::Error::other("disk full"),
        }
    }

    fn base_unavailable() -> BuildError {
        BuildError::BaseUnavailable {
            version: "1.0".parse().unwrap(),
            reason: "the install folder changed".into(),
        }
    }

    #[test]
    fn a_missing_base_tar_falls_back_without_blaming_a_patch() {
        assert_eq!(
            after_base_tar(&base_unavailable()),
            Fallback::Archive { failed_patch: None }
        );
        assert_eq!(
            after_patch_build(&base_unavailable()),
            Fallback::archive(None)
        );
    }

    #[test]
    fn a_disk_failure_stops_the_run() {
        assert_eq!(after_base_tar(&io()), Fallback::Stop);
        assert_eq!(after_patch_build(&io()), Fallback::Stop);
    }

    #[test]
    fn a_patch_that_does_not_apply_is_blamed_and_the_archive_fetched() {
        let err = BuildError::PatchFailed {
            patch: "a-2.0.patch".into(),
            reason: "tar digest mismatch".into(),
        };
        assert_eq!(
            after_patch_build(&err),
            Fallback::Archive {
                failed_patch: Some("a-2.0.patch".into())
            }
        );
    }

    #[test]
    fn a_patch_with_wrong_bytes_is_blamed_and_the_archive_fetched() {
        let err = EngineError::download(
            "a-2.0.patch",
            DownloadError::LengthExceeded {
                url: url(),
                limit: 10,
            },
        );
        assert_eq!(
            after_patch_download("a-2.0.patch", &err),
            Fallback::archive(Some("a-2.0.patch"))
        );
    }

    #[test]
    fn a_patch_the_server_does_not_serve_is_blamed_and_the_archive_fetched() {
        for status in [403, 404, 410] {
            let err =
                EngineError::download("a-2.0.patch", DownloadError::Http { url: url(), status });
            assert_eq!(
                after_patch_download("a-2.0.patch", &err),
                Fallback::archive(Some("a-2.0.patch")),
                "{status}"
            );
        }
    }

    #[test]
    fn a_network_failure_or_cancel_on_a_patch_stops_the_run() {
        let err = EngineError::download(
            "a-2.0.patch",
            DownloadError::Http {
                url: url(),
                status: 503,
            },
        );
        assert_eq!(after_patch_download("a-2.0.patch", &err), Fallback::Stop);
        assert_eq!(
            after_patch_download("a-2.0.patch", &EngineError::Cancelled),
            Fallback::Stop
        );
    }
}
