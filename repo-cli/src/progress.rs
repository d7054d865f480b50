//! Progress on stderr. In a terminal: indicatif bars and spinners. Outside one (a CI log, a
//! redirect): one plain line every [`LINE_INTERVAL`] while the work lasts, so a long `add`
//! never looks hung, and nothing at all for work shorter than that. Core reports progress
//! through plain callbacks; the bars live here, at the edge.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{HumanBytes, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often a progress line is printed when stderr is not a terminal (10 s).
pub const LINE_INTERVAL: Duration = Duration::from_secs(10);

/// A byte-counting bar of `total_bytes` with `message`.
pub fn bytes_bar(message: &str, total_bytes: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return with_lines(message, Some(total_bytes));
    }
    let bar = ProgressBar::with_draw_target(Some(total_bytes), ProgressDrawTarget::stderr());
    if let Ok(style) =
        ProgressStyle::with_template("{msg:>12} [{bar:30}] {bytes}/{total_bytes} ({eta})")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(message.to_owned());
    bar
}

/// A spinner for work without a byte count (patch creation: the codecs report none).
pub fn spinner(message: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return with_lines(message, None);
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
        bar.set_style(style);
    }
    bar.set_message(message.to_owned());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// A hidden bar watched by a thread that prints [`line`] every [`LINE_INTERVAL`] until the bar
/// is finished (the caller's `finish_and_clear`, or its drop).
fn with_lines(message: &str, total_bytes: Option<u64>) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(total_bytes, ProgressDrawTarget::hidden());
    let watched = bar.downgrade();
    let message = message.to_owned();
    let started = Instant::now();
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(LINE_INTERVAL);
            let Some(bar) = watched.upgrade() else { return };
            if bar.is_finished() {
                return;
            }
            eprintln!(
                "{}",
                line(&message, bar.position(), bar.length(), started.elapsed())
            );
        }
    });
    bar
}

/// One progress line: `archiving: 120.0 MiB of 300.0 MiB (40%), 25 s`, or `diffing with
/// bsdiff4: 25 s` without a byte count.
pub fn line(message: &str, done_bytes: u64, total_bytes: Option<u64>, elapsed: Duration) -> String {
    let secs = elapsed.as_secs();
    match total_bytes {
        Some(total) if total > 0 => format!(
            "{message}: {} of {} ({}%), {secs} s",
            HumanBytes(done_bytes),
            HumanBytes(total),
            done_bytes.saturating_mul(100) / total
        ),
        _ => format!("{message}: {secs} s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_lines_outside_a_terminal_say_how_far_and_how_long() {
        assert_eq!(
            line(
                "archiving",
                120 << 20,
                Some(300 << 20),
                Duration::from_secs(25)
            ),
            "archiving: 120.00 MiB of 300.00 MiB (40%), 25 s"
        );
        assert_eq!(
            line("diffing with bsdiff4", 0, None, Duration::from_secs(61)),
            "diffing with bsdiff4: 61 s"
        );
    }
}
