//! How long freshly signed metadata stays valid: `--expires-in` and the config's
//! `expires_days`.
//!
//! A bare number is days (as `tufup sign ROLE DAYS` and earlier `tufd-repo` took it); anything
//! else is a duration in jiff's friendly format with days of 24 hours: `12h`, `30m`, `90s`,
//! `7d`, `1d 12h`, `2 days`. A lifetime must be positive: `0` would publish metadata that every
//! client already refuses as expired (TUF specification, "Detailed client workflow": expired
//! metadata is never trusted).

use std::fmt;
use std::str::FromStr;

use jiff::{Span, SpanRelativeTo, Unit};

/// A positive lifetime in whole seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lifetime {
    seconds: u64,
}

/// Why a lifetime was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LifetimeError {
    /// Not a number of days nor a duration jiff reads.
    #[error(
        "{input:?} is not a lifetime: give days (`30`) or a duration (`12h`, `30m`, `7d`, `1d 12h`)"
    )]
    Unreadable {
        /// What was given.
        input: String,
    },
    /// Zero or negative: the metadata would be expired when published.
    #[error(
        "a lifetime of {input:?} would publish metadata that clients already refuse as expired: give at least one second (e.g. `1s`, `12h`, `7`)"
    )]
    NotPositive {
        /// What was given.
        input: String,
    },
}

impl Lifetime {
    /// `days` days (the config's `expires_days`).
    pub const fn days(days: u64) -> Self {
        Self {
            seconds: days.saturating_mul(86_400),
        }
    }

    /// `hours` hours.
    pub const fn hours(hours: u64) -> Self {
        Self {
            seconds: hours.saturating_mul(3600),
        }
    }

    /// The lifetime in seconds.
    pub const fn seconds(self) -> u64 {
        self.seconds
    }
}

impl FromStr for Lifetime {
    type Err = LifetimeError;

    /// # Errors
    /// [`LifetimeError::Unreadable`], [`LifetimeError::NotPositive`].
    fn from_str(input: &str) -> Result<Self, LifetimeError> {
        let text = input.trim();
        let unreadable = || LifetimeError::Unreadable {
            input: input.to_owned(),
        };
        let seconds = if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            let days: u64 = text.parse().map_err(|_| unreadable())?;
            i128::from(days) * 86_400
        } else {
            let span: Span = text.parse().map_err(|_| unreadable())?;
            let total = span
                .total((Unit::Second, SpanRelativeTo::days_are_24_hours()))
                .map_err(|_| unreadable())?;
            // Whole seconds: TUF clients such as python-tuf refuse fractional expiry times.
            total.floor() as i128
        };
        if seconds <= 0 {
            return Err(LifetimeError::NotPositive {
                input: input.to_owned(),
            });
        }
        u64::try_from(seconds)
            .map(|seconds| Self { seconds })
            .map_err(|_| unreadable())
    }
}

impl fmt::Display for Lifetime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.seconds {
            s if s % 86_400 == 0 => write!(f, "{} days", s / 86_400),
            s if s % 3600 == 0 => write!(f, "{} h", s / 3600),
            s => write!(f, "{s} s"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_numbers_are_days_and_durations_take_units() {
        let secs = |s: &str| s.parse::<Lifetime>().unwrap().seconds();
        assert_eq!(secs("7"), 7 * 86_400);
        assert_eq!(secs("12h"), 12 * 3600);
        assert_eq!(secs("30m"), 1800);
        assert_eq!(secs("90s"), 90);
        assert_eq!(secs("1d 12h"), 36 * 3600);
        assert_eq!(secs("2 days"), 2 * 86_400);
        assert_eq!(Lifetime::days(3).seconds(), 3 * 86_400);
    }

    #[test]
    fn a_lifetime_that_publishes_expired_metadata_is_refused() {
        for zero in ["0", "0s", "-1h", "0d"] {
            assert!(
                matches!(
                    zero.parse::<Lifetime>(),
                    Err(LifetimeError::NotPositive { .. })
                ),
                "{zero}"
            );
        }
        for bad in ["", "soon", "12x", "1 month"] {
            assert!(
                matches!(
                    bad.parse::<Lifetime>(),
                    Err(LifetimeError::Unreadable { .. })
                ),
                "{bad}"
            );
        }
    }
}
