//! The update policy of the hook's `on-update-available` for automatic installs
//! (docs/hooks.md, "Update policy"): before an `--auto-install` install, the supervisor asks
//! the hook; `defer-until` postpones auto-installs of that version until the time (kept in
//! `state.json`), `skip` marks the version skipped (never auto-installed). An `install`
//! request from the app is never gated: the app decides.
//!
//! [`gate`] is the pure decision from the remembered answers; [`ask`] calls the hook.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tufd_core::Version;
use tufd_core::install_plan::{Decision, UpdateInfo};

use tufd_install::PlanSource;

/// A remembered `defer-until` answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deferral {
    /// The version deferred.
    pub version: Version,
    /// Until when, in seconds since the Unix epoch.
    pub until_unix: u64,
}

/// What the remembered answers say about auto-installing `version` at `now_unix`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Gate {
    /// Ask the hook.
    Ask,
    /// Skipped earlier.
    Skipped,
    /// Deferred until this time (seconds since the Unix epoch).
    Deferred(u64),
}

/// The pure decision from the remembered answers.
pub fn gate(
    version: &Version,
    now_unix: u64,
    skipped: &BTreeSet<String>,
    deferred: Option<&Deferral>,
) -> Gate {
    if skipped.contains(&version.to_string()) {
        return Gate::Skipped;
    }
    match deferred {
        Some(d) if d.version == *version && now_unix < d.until_unix => Gate::Deferred(d.until_unix),
        _ => Gate::Ask,
    }
}

/// Asks the hook's policy (on a blocking thread); `None` when no hook is configured. A hook
/// that fails is logged and counts as `DeferUntil(now)`: not installed automatically now,
/// asked again at the next trigger.
pub async fn ask(source: Arc<PlanSource>, info: UpdateInfo) -> Option<Decision> {
    let version = info.new_version.clone();
    let answer = tokio::task::spawn_blocking(move || source.decide(&info))
        .await
        .ok()??;
    match answer {
        Ok(decision) => {
            tracing::info!(%version, ?decision, "update policy answered");
            Some(decision)
        }
        Err(e) => {
            tracing::error!(%version, error = %e, "update policy hook failed; not installing automatically");
            Some(Decision::DeferUntil {
                unix_seconds: tufd_core::now_unix(),
            })
        }
    }
}

/// The local time zone's offset from UTC now, in seconds (east positive); 0 when unknown.
pub fn utc_offset_seconds() -> i32 {
    jiff::Zoned::now().offset().seconds()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gate_honours_skips_and_deferrals() {
        let v: Version = "2.0".parse().unwrap();
        let mut skipped = BTreeSet::new();
        assert_eq!(gate(&v, 100, &skipped, None), Gate::Ask);
        let d = Deferral {
            version: v.clone(),
            until_unix: 200,
        };
        assert_eq!(gate(&v, 100, &skipped, Some(&d)), Gate::Deferred(200));
        assert_eq!(gate(&v, 200, &skipped, Some(&d)), Gate::Ask);
        let other: Version = "2.1".parse().unwrap();
        assert_eq!(gate(&other, 100, &skipped, Some(&d)), Gate::Ask);
        skipped.insert("2.0".to_owned());
        assert_eq!(gate(&v, 300, &skipped, None), Gate::Skipped);
    }
}
