use std::fmt;

use serde::{Deserialize, Serialize};

use crate::codes::{INTERNAL_ERROR, TUFD_ERROR};

/// The stable kind of a tufd error: `data.kind` of a JSON-RPC error, `kind` of the `error`
/// notification, of `tufd check --json`'s error object, and the `[kind]` of `error[kind]:` on
/// stderr. Scripts and apps match on it, never on message text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// A TUF role's metadata is past its `expires`.
    ExpiredMetadata,
    /// The repository offered metadata older than what the client trusts.
    MetadataRollback,
    /// Any other TUF refusal: bad signature, threshold, malformed metadata, hash or length pins.
    MetadataInvalid,
    /// A TUF metadata file is larger than the client's maximum size for its role (an endless or
    /// oversized `timestamp.json`, …); nothing of it is trusted.
    MetadataTooLarge,
    /// No connection to the repository could be made (refused, no route, DNS, TLS): check the
    /// URL, the network, a firewall or the proxy.
    Unreachable,
    /// The repository did not answer in time: the connect or idle timeout, or the overall
    /// deadline of a request or download (scaled to its length).
    TimedOut,
    /// The repository answered with an error status (a `5xx` after the retries, a refusal other
    /// than "not found").
    ServerError,
    /// A transfer broke off mid-way (reset, body cut short, a resume the server refused).
    Network,
    /// A downloaded target or a rebuilt tar does not match its signed length or hash.
    TargetMismatch,
    /// A patch could not be applied, and the full archive could not repair it.
    PatchFailed,
    /// Nothing newer on the channel.
    NoUpdate,
    /// An administrator's policy file disables updates on this machine (`status` says which).
    Managed,
    /// Another operation is running.
    Busy,
    /// Extraction, the install plan, the swap or the relaunch failed; the install folder was
    /// left or restored as it was.
    InstallFailed,
    /// The operation was cancelled by request.
    Cancelled,
    /// A local file operation failed.
    Io,
    /// Pre-flight: a folder the update writes into is not writable.
    PreflightNotWritable,
    /// Pre-flight: not enough free space.
    PreflightDiskSpace,
    /// Pre-flight: another install is in progress.
    PreflightInstallInProgress,
    /// The new version was rolled back (health check failed, or on request).
    RolledBack,
    /// A rollback was requested but no backup of a previous version exists.
    NoBackup,
    /// A setting or flag cannot be used (one-shot commands and daemon start).
    Config,
    /// A worker stopped or a daemon bug; JSON-RPC code -32603.
    Internal,
    /// A kind this reader does not know (sent by a newer tufd).
    #[serde(other)]
    Unknown,
}

impl ErrorKind {
    /// The name on the wire (`expired-metadata`, `network`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::ExpiredMetadata => "expired-metadata",
            ErrorKind::MetadataRollback => "metadata-rollback",
            ErrorKind::MetadataInvalid => "metadata-invalid",
            ErrorKind::MetadataTooLarge => "metadata-too-large",
            ErrorKind::Unreachable => "unreachable",
            ErrorKind::TimedOut => "timed-out",
            ErrorKind::ServerError => "server-error",
            ErrorKind::Network => "network",
            ErrorKind::TargetMismatch => "target-mismatch",
            ErrorKind::PatchFailed => "patch-failed",
            ErrorKind::NoUpdate => "no-update",
            ErrorKind::Managed => "managed",
            ErrorKind::Busy => "busy",
            ErrorKind::InstallFailed => "install-failed",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::Io => "io",
            ErrorKind::PreflightNotWritable => "preflight-not-writable",
            ErrorKind::PreflightDiskSpace => "preflight-disk-space",
            ErrorKind::PreflightInstallInProgress => "preflight-install-in-progress",
            ErrorKind::RolledBack => "rolled-back",
            ErrorKind::NoBackup => "no-backup",
            ErrorKind::Config => "config",
            ErrorKind::Internal => "internal",
            ErrorKind::Unknown => "unknown",
        }
    }

    /// The JSON-RPC error code: -32603 for [`ErrorKind::Internal`], -32000 for the rest.
    pub fn code(self) -> i64 {
        if self == ErrorKind::Internal {
            INTERNAL_ERROR
        } else {
            TUFD_ERROR
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_name_is_as_str() {
        for k in [
            ErrorKind::ExpiredMetadata,
            ErrorKind::MetadataTooLarge,
            ErrorKind::Unreachable,
            ErrorKind::TimedOut,
            ErrorKind::ServerError,
            ErrorKind::PreflightInstallInProgress,
            ErrorKind::Internal,
            ErrorKind::Config,
        ] {
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
        let later: ErrorKind = serde_json::from_value("quota-exceeded".into()).unwrap();
        assert_eq!(later, ErrorKind::Unknown);
    }

    #[test]
    fn only_internal_is_an_internal_error() {
        assert_eq!(ErrorKind::Internal.code(), INTERNAL_ERROR);
        assert_eq!(ErrorKind::Network.code(), TUFD_ERROR);
    }
}
