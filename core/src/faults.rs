//! Named crash points for the crash test (`crash_at_every_fault_point_leaves_v1_or_v2` in
//! `tests/e2e/crash.rs`; docs/architecture.md, "Design rules", "Never a half install"):
//! [`point`] marks a place where a crash must leave the install folder whole — before and after
//! every journal write, rename, extraction step, patch step and download checkpoint.
//!
//! With the cargo feature `fault-injection` (of `tufd-core`, enabled by the `tufd` daemon's feature
//! of the same name), each call counts the points reached by this process and aborts it
//! (`std::process::abort`, as abrupt as `SIGKILL`: no destructors, no flushing) when the
//! environment says so:
//!
//! - `TUFD_FAULT_AT=N`: abort at the N-th point reached (1-based);
//! - `TUFD_FAULT_POINT=NAME`: abort at the first point named `NAME`;
//! - `TUFD_FAULT_LIST=FILE`: append `"<n> <name>\n"` for every point reached, so a test can
//!   learn how many points one update passes and which.
//!
//! Without the feature, [`point`] is an empty inline function: release builds carry no trace of
//! it. The decision itself ([`FaultConfig::should_abort`]) is pure and compiled in always, so it
//! is tested either way.

/// What the environment asks of the crash points.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FaultConfig {
    /// Abort at the N-th point reached (1-based), from `TUFD_FAULT_AT`.
    pub at: Option<u64>,
    /// Abort at the first point with this name, from `TUFD_FAULT_POINT`.
    pub point: Option<String>,
    /// Append every point reached to this file, from `TUFD_FAULT_LIST`.
    pub list: Option<std::path::PathBuf>,
}

impl FaultConfig {
    /// Builds the config from the raw values of `TUFD_FAULT_AT`, `TUFD_FAULT_POINT` and
    /// `TUFD_FAULT_LIST`; an `at` that is not a positive integer is ignored, as are empty values.
    pub fn from_values(at: Option<&str>, point: Option<&str>, list: Option<&str>) -> Self {
        Self {
            at: at
                .and_then(|s| s.trim().parse::<u64>().ok())
                .filter(|n| *n > 0),
            point: point.filter(|s| !s.is_empty()).map(str::to_owned),
            list: list.filter(|s| !s.is_empty()).map(Into::into),
        }
    }

    /// Whether the `count`-th point reached (1-based), named `name`, must abort the process.
    pub fn should_abort(&self, count: u64, name: &str) -> bool {
        self.at == Some(count) || self.point.as_deref() == Some(name)
    }
}

#[cfg(feature = "fault-injection")]
mod active {
    use std::io::Write as _;
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::FaultConfig;

    static REACHED: AtomicU64 = AtomicU64::new(0);
    static CONFIG: OnceLock<FaultConfig> = OnceLock::new();

    fn config() -> &'static FaultConfig {
        CONFIG.get_or_init(|| {
            let var = |name| std::env::var(name).ok();
            FaultConfig::from_values(
                var("TUFD_FAULT_AT").as_deref(),
                var("TUFD_FAULT_POINT").as_deref(),
                var("TUFD_FAULT_LIST").as_deref(),
            )
        })
    }

    pub fn point(name: &'static str) {
        let config = config();
        let count = REACHED.fetch_add(1, Ordering::SeqCst) + 1;
        if let Some(list) = &config.list {
            // One write per line in append mode: lines from concurrent points never interleave.
            let line = format!("{count} {name}\n");
            if let Ok(mut file) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(list)
            {
                let _ = file.write_all(line.as_bytes());
            }
        }
        if config.should_abort(count, name) {
            eprintln!("fault injection: aborting at point {count} ({name})");
            std::process::abort();
        }
    }
}

/// A named crash point (see the module doc): counts, records and maybe aborts the process with
/// the `fault-injection` feature, does nothing without it.
#[cfg(feature = "fault-injection")]
pub fn point(name: &'static str) {
    active::point(name);
}

/// A named crash point (see the module doc): counts, records and maybe aborts the process with
/// the `fault-injection` feature, does nothing without it.
#[cfg(not(feature = "fault-injection"))]
#[inline(always)]
pub fn point(name: &'static str) {
    let _ = name;
}

/// Whether crash points are compiled in (the `fault-injection` feature).
pub const ENABLED: bool = cfg!(feature = "fault-injection");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_parse_and_bad_ones_are_ignored() {
        let c = FaultConfig::from_values(Some(" 7 "), Some("install.rename-1"), Some("/tmp/l"));
        assert_eq!(c.at, Some(7));
        assert_eq!(c.point.as_deref(), Some("install.rename-1"));
        assert_eq!(c.list.as_deref(), Some(std::path::Path::new("/tmp/l")));
        for bad in ["0", "-1", "x", ""] {
            assert_eq!(
                FaultConfig::from_values(Some(bad), None, None).at,
                None,
                "{bad}"
            );
        }
        assert_eq!(
            FaultConfig::from_values(None, Some(""), Some("")),
            FaultConfig::default()
        );
    }

    #[test]
    fn aborts_at_the_nth_point_or_the_named_one_only() {
        let by_count = FaultConfig::from_values(Some("3"), None, None);
        let hits: Vec<u64> = (1..=6)
            .filter(|n| by_count.should_abort(*n, "any"))
            .collect();
        assert_eq!(hits, [3]);
        let by_name = FaultConfig::from_values(None, Some("journal.after-write"), None);
        assert!(by_name.should_abort(10, "journal.after-write"));
        assert!(!by_name.should_abort(10, "journal.before-write"));
        assert!(!FaultConfig::default().should_abort(1, "x"));
    }

    #[test]
    fn point_without_a_config_returns() {
        // Neither TUFD_FAULT_AT nor TUFD_FAULT_POINT is set in unit tests: the call must return.
        point("faults.unit-test");
        assert_eq!(ENABLED, cfg!(feature = "fault-injection"));
    }
}
