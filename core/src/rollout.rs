//! Who is offered a release, and when: staged rollouts, yanks and deferral (docs/operations.md,
//! "Staged rollouts and yank"; the signed fields are in docs/repository-format.md, "Custom
//! target metadata").
//!
//! Each install draws one [`Bucket`] at random, once, and keeps it. A release with a
//! [`Rollout`] of `p` % is offered only to installs whose bucket is below `p` % of
//! [`BUCKETS`], so raising the percentage only adds installs (every install offered at 10 % is
//! still offered at 50 %). A halted rollout is offered to nobody new; a yanked release to
//! nobody at all. An administrator's deferral holds a release back until a number of seconds
//! after its signed publication time; a release without one is not deferred.
//!
//! [`withheld`] is the one decision, pure; the planner applies it to every candidate
//! (`crate::planner`, rules 2 and 3).

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// How many buckets there are: a bucket is a number in `0..BUCKETS` (hundredths of a percent).
pub const BUCKETS: u16 = 10_000;

/// An install's rollout bucket: a number in `0..`[`BUCKETS`], drawn uniformly at random once and
/// kept in the install's data folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bucket(u16);

impl Bucket {
    /// The bucket `value`; `None` when it is not below [`BUCKETS`].
    pub fn new(value: u16) -> Option<Self> {
        (value < BUCKETS).then_some(Self(value))
    }

    /// Its number, in `0..BUCKETS`.
    pub fn get(self) -> u16 {
        self.0
    }
}

/// A rollout percentage: a whole number from 0 to 100.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Percent(u8);

impl Percent {
    /// Everyone.
    pub const ALL: Percent = Percent(100);

    /// `value` %; `None` above 100.
    pub fn new(value: u8) -> Option<Self> {
        (value <= 100).then_some(Self(value))
    }

    /// The number, 0 to 100.
    pub fn get(self) -> u8 {
        self.0
    }

    /// Whether an install in `bucket` falls inside this percentage.
    pub fn includes(self, bucket: Bucket) -> bool {
        u32::from(bucket.0) < u32::from(self.0) * u32::from(BUCKETS) / 100
    }
}

impl FromStr for Percent {
    type Err = Error;

    /// Parses `10` or `10%`.
    ///
    /// # Errors
    /// [`Error::InvalidPercent`] for anything but a whole number from 0 to 100.
    fn from_str(s: &str) -> Result<Self> {
        let digits = s.trim().strip_suffix('%').unwrap_or(s.trim());
        digits
            .parse::<u8>()
            .ok()
            .and_then(Percent::new)
            .ok_or_else(|| Error::InvalidPercent { input: s.into() })
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", self.0)
    }
}

/// A staged rollout of one release.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rollout {
    /// The share of installs offered the release.
    pub percent: Percent,
    /// Halted: offered to no install that does not have it yet, whatever the percentage.
    pub halted: bool,
}

/// A release marked bad by its publisher.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Yank {
    /// Why, in the publisher's words.
    pub reason: Option<String>,
}

/// The signed facts that decide who is offered a release (all absent by default: offered to
/// everyone, at once).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReleaseControl {
    /// A staged rollout; `None` is everyone.
    pub rollout: Option<Rollout>,
    /// Set when the release is yanked.
    pub yanked: Option<Yank>,
    /// When the release was published, in seconds since the Unix epoch (`None` for releases
    /// published before the field existed, and tufup's).
    pub published: Option<u64>,
}

/// What the planner knows of the install it plans for, beside its version and channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Audience {
    /// The install's rollout bucket.
    pub bucket: Bucket,
    /// Now, in seconds since the Unix epoch.
    pub now_unix: u64,
    /// Offer a release only this many seconds after its signed publication time (the
    /// administrator's `defer`); 0 defers nothing.
    pub defer_secs: u64,
}

impl Audience {
    /// An install in bucket 0 with no deferral: offered every release that is neither yanked,
    /// halted nor at 0 %.
    pub const FIRST: Audience = Audience {
        bucket: Bucket(0),
        now_unix: 0,
        defer_secs: 0,
    };
}

impl Default for Audience {
    fn default() -> Self {
        Self::FIRST
    }
}

/// Why a release is not offered to an install.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Withheld {
    /// The release is yanked.
    Yanked,
    /// Its rollout is halted.
    Halted,
    /// The install's bucket is outside the rollout's percentage.
    OutsideRollout {
        /// The rollout's percentage.
        percent: Percent,
    },
    /// The administrator defers releases; this one is offered from `until_unix` on.
    Deferred {
        /// Seconds since the Unix epoch.
        until_unix: u64,
    },
}

/// Why `control`'s release is not offered to `audience`, or `None` when it is. Checked in this
/// order: yanked, halted, outside the rollout, deferred. Pure.
pub fn withheld(control: &ReleaseControl, audience: &Audience) -> Option<Withheld> {
    if control.yanked.is_some() {
        return Some(Withheld::Yanked);
    }
    if let Some(rollout) = control.rollout {
        if rollout.halted {
            return Some(Withheld::Halted);
        }
        if !rollout.percent.includes(audience.bucket) {
            return Some(Withheld::OutsideRollout {
                percent: rollout.percent,
            });
        }
    }
    if let Some(published) = control.published
        && audience.defer_secs > 0
    {
        let until_unix = published.saturating_add(audience.defer_secs);
        if audience.now_unix < until_unix {
            return Some(Withheld::Deferred { until_unix });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(bucket: u16) -> Audience {
        Audience {
            bucket: Bucket::new(bucket).unwrap(),
            ..Audience::FIRST
        }
    }

    fn rollout(percent: u8, halted: bool) -> ReleaseControl {
        ReleaseControl {
            rollout: Some(Rollout {
                percent: Percent::new(percent).unwrap(),
                halted,
            }),
            ..ReleaseControl::default()
        }
    }

    #[test]
    fn percentages_parse_from_0_to_100_only() {
        assert_eq!("10".parse::<Percent>().unwrap().get(), 10);
        assert_eq!("100%".parse::<Percent>().unwrap(), Percent::ALL);
        assert_eq!("0".parse::<Percent>().unwrap().get(), 0);
        for bad in ["101", "-1", "10.5", "", "ten", "256"] {
            assert!(
                matches!(bad.parse::<Percent>(), Err(Error::InvalidPercent { .. })),
                "{bad}"
            );
        }
        assert!(Bucket::new(BUCKETS).is_none());
    }

    #[test]
    fn a_rollout_offers_exactly_the_buckets_below_its_share() {
        let ten = rollout(10, false);
        assert_eq!(withheld(&ten, &at(999)), None);
        assert_eq!(
            withheld(&ten, &at(1000)),
            Some(Withheld::OutsideRollout {
                percent: Percent::new(10).unwrap()
            })
        );
        let offered = |c: &ReleaseControl| {
            (0..BUCKETS)
                .filter(|b| withheld(c, &at(*b)).is_none())
                .count()
        };
        assert_eq!(offered(&ten), 1000);
        assert_eq!(offered(&rollout(0, false)), 0);
        assert_eq!(offered(&rollout(100, false)), usize::from(BUCKETS));
    }

    #[test]
    fn raising_the_share_keeps_everyone_offered_before() {
        for b in 0..BUCKETS {
            let before = withheld(&rollout(10, false), &at(b)).is_none();
            let after = withheld(&rollout(50, false), &at(b)).is_none();
            assert!(!before || after, "bucket {b}");
        }
    }

    #[test]
    fn halted_and_yanked_are_offered_to_nobody() {
        assert_eq!(
            withheld(&rollout(100, true), &at(0)),
            Some(Withheld::Halted)
        );
        let yanked = ReleaseControl {
            yanked: Some(Yank::default()),
            ..rollout(100, false)
        };
        assert_eq!(withheld(&yanked, &at(0)), Some(Withheld::Yanked));
        assert_eq!(withheld(&ReleaseControl::default(), &at(9999)), None);
    }

    #[test]
    fn deferral_counts_from_the_signed_publication_time() {
        let published = ReleaseControl {
            published: Some(1_000),
            ..ReleaseControl::default()
        };
        let defer = |now| Audience {
            now_unix: now,
            defer_secs: 86_400,
            ..Audience::FIRST
        };
        assert_eq!(
            withheld(&published, &defer(1_000)),
            Some(Withheld::Deferred { until_unix: 87_400 })
        );
        assert_eq!(withheld(&published, &defer(87_400)), None);
        assert_eq!(
            withheld(&ReleaseControl::default(), &defer(0)),
            None,
            "no publication time: not deferred"
        );
        assert_eq!(withheld(&published, &Audience::FIRST), None);
    }
}
