//! HTTP `Range` / `Content-Range` handling (RFC 9110 §14) and the retry back-off schedule: pure
//! functions shared by [`TufTransport`](super::TufTransport) and the downloader
//! ([`crate::download`]). Nothing here does I/O.
//!
//! The rule they serve: bytes from a ranged response are appended only when the server answered
//! `206` with a `Content-Range` that starts exactly at the offset we asked for; anything else
//! restarts from zero.

use std::time::Duration;

/// A parsed `Content-Range: bytes START-END/TOTAL` header of a `206` response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentRange {
    /// First byte offset of the body (bytes, inclusive).
    pub start: u64,
    /// Last byte offset of the body (bytes, inclusive).
    pub end: u64,
    /// Full size of the resource (bytes), `None` when the server sent `*`.
    pub total: Option<u64>,
}

impl ContentRange {
    /// Parses the header value; `None` for anything but a well-formed `bytes` range with
    /// `start <= end` (and `end < total` when the total is known).
    pub fn parse(value: &str) -> Option<Self> {
        let rest = value.trim().strip_prefix("bytes")?;
        let rest = rest.strip_prefix(' ')?.trim_start();
        let (range, total) = rest.split_once('/')?;
        let (start, end) = range.trim().split_once('-')?;
        let start: u64 = parse_digits(start)?;
        let end: u64 = parse_digits(end)?;
        let total = match total.trim() {
            "*" => None,
            t => Some(parse_digits(t)?),
        };
        if start > end || total.is_some_and(|t| end >= t) {
            return None;
        }
        Some(Self { start, end, total })
    }

    /// Whether this range is the answer to a request for the bytes from `offset` of a resource
    /// whose signed length is `length` bytes: it starts at `offset`, the total equals `length`
    /// (an unknown total `*` is refused) and it ends inside the resource.
    pub fn continues(&self, offset: u64, length: u64) -> bool {
        self.start == offset && self.total == Some(length) && self.end < length
    }
}

/// Only ASCII digits, no sign or spaces (`u64::from_str` accepts a leading `+`).
fn parse_digits(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// The `Range` header value asking for bytes `offset` up to and including `last` (bytes), or up
/// to the end of the resource when `last` is `None`.
pub fn range_header(offset: u64, last: Option<u64>) -> String {
    match last {
        Some(last) => format!("bytes={offset}-{last}"),
        None => format!("bytes={offset}-"),
    }
}

/// The delay before retry number `retry` (0 = the first retry, i.e. the second attempt):
/// `initial * 2^retry`, capped at `max`, then scaled by `jitter` (clamped to `0.5..=1.0`) so
/// that many clients failing together do not retry in lock step. The first attempt itself is
/// never delayed (transport rule 3 in [`crate::transport`]).
pub fn backoff_delay(initial: Duration, max: Duration, retry: u32, jitter: f64) -> Duration {
    let factor = 2u32.saturating_pow(retry.min(30));
    let delay = initial.saturating_mul(factor).min(max);
    delay.mul_f64(jitter.clamp(0.5, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_well_formed_ranges() {
        assert_eq!(
            ContentRange::parse("bytes 0-1023/10253563"),
            Some(ContentRange {
                start: 0,
                end: 1023,
                total: Some(10_253_563)
            })
        );
        assert_eq!(
            ContentRange::parse("bytes 1000-1999/*"),
            Some(ContentRange {
                start: 1000,
                end: 1999,
                total: None
            })
        );
    }

    #[test]
    fn refuses_malformed_ranges() {
        for bad in [
            "",
            "bytes */100",
            "bytes 5-4/100",
            "bytes 0-100/100",
            "bytes +1-4/100",
            "bytes -1-4/100",
            "items 0-4/100",
            "bytes 0-4",
            "bytes0-4/100",
            "bytes 0-x/100",
        ] {
            assert_eq!(ContentRange::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn continues_only_at_the_asked_offset_and_signed_total() {
        let r = ContentRange::parse("bytes 100-199/200").unwrap();
        assert!(r.continues(100, 200));
        assert!(!r.continues(99, 200));
        assert!(!r.continues(100, 300));
        let unknown = ContentRange::parse("bytes 100-199/*").unwrap();
        assert!(!unknown.continues(100, 200));
    }

    #[test]
    fn range_header_forms() {
        assert_eq!(range_header(5, Some(9)), "bytes=5-9");
        assert_eq!(range_header(5, None), "bytes=5-");
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let ms = Duration::from_millis;
        assert_eq!(backoff_delay(ms(100), ms(1000), 0, 1.0), ms(100));
        assert_eq!(backoff_delay(ms(100), ms(1000), 1, 1.0), ms(200));
        assert_eq!(backoff_delay(ms(100), ms(1000), 3, 1.0), ms(800));
        assert_eq!(backoff_delay(ms(100), ms(1000), 4, 1.0), ms(1000));
        assert_eq!(backoff_delay(ms(100), ms(1000), 400, 1.0), ms(1000));
        assert_eq!(backoff_delay(ms(100), ms(1000), 0, 0.5), ms(50));
        assert_eq!(backoff_delay(ms(100), ms(1000), 0, 0.0), ms(50));
    }
}
