//! The epoch ticker: one thread per [`crate::HookHost`] that bumps the engine's epoch every
//! [`TICK`] while at least one call runs, and sleeps (parked) otherwise, so an idle daemon
//! does not wake up 100 times a second (extism's `timer.rs`, reduced to start/stop).
//!
//! Ticks follow wall time: after an oversleep the thread catches up with several increments.
//! A store's deadline is a number of ticks past the epoch at the call's start; when the
//! epoch reaches it, the guest traps with `Trap::Interrupt` at its next loop header or
//! function entry.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use wasmtime::Engine;

/// The epoch period: 10 ms, so deadlines land within about 10 ms of the limit.
pub const TICK: Duration = Duration::from_millis(10);

/// State shared between the ticker thread and callers.
#[derive(Default)]
struct Shared {
    /// Calls in progress; the thread ticks only while this is non-zero.
    active: AtomicUsize,
    /// Set on drop: the thread exits.
    stop: AtomicBool,
}

/// The ticker thread; stopped and joined on drop.
pub(crate) struct EpochTicker {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    /// Starts the thread for `engine`.
    pub(crate) fn start(engine: Engine) -> std::io::Result<Self> {
        let shared = Arc::new(Shared::default());
        let theirs = Arc::clone(&shared);
        let thread = thread::Builder::new()
            .name("tufd-hook-epoch".to_owned())
            .spawn(move || {
                // Ticks are counted from wall time, not from wake-ups: a loaded machine
                // oversleeps, and counting wake-ups would stretch every deadline.
                let mut since: Option<(Instant, u128)> = None;
                while !theirs.stop.load(Ordering::Acquire) {
                    if theirs.active.load(Ordering::Acquire) == 0 {
                        since = None;
                        // Woken by `activate` or drop; spurious wake-ups just loop.
                        thread::park();
                        continue;
                    }
                    let (start, done) = since.get_or_insert_with(|| (Instant::now(), 0));
                    thread::sleep(TICK);
                    let due = start.elapsed().as_nanos() / TICK.as_nanos();
                    while *done < due {
                        engine.increment_epoch();
                        *done += 1;
                    }
                }
            })?;
        Ok(EpochTicker {
            shared,
            thread: Some(thread),
        })
    }

    /// Marks a call as running until the returned guard drops.
    pub(crate) fn activate(&self) -> ActiveCall {
        self.shared.active.fetch_add(1, Ordering::AcqRel);
        if let Some(thread) = &self.thread {
            thread.thread().unpark();
        }
        ActiveCall {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

/// A running call; the ticker may park again once every guard is gone.
pub(crate) struct ActiveCall {
    shared: Arc<Shared>,
}

impl Drop for ActiveCall {
    fn drop(&mut self) {
        self.shared.active.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The number of ticks a deadline of `timeout` needs: rounded up, plus one because the
/// first tick may come at once.
pub(crate) fn deadline_ticks(timeout: Duration) -> u64 {
    let tick = TICK.as_nanos();
    u64::try_from(timeout.as_nanos().div_ceil(tick))
        .unwrap_or(u64::MAX - 1)
        .saturating_add(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadline_ticks_rounds_up() {
        assert_eq!(deadline_ticks(Duration::from_secs(2)), 201);
        assert_eq!(deadline_ticks(Duration::from_millis(15)), 3);
        assert_eq!(deadline_ticks(Duration::ZERO), 1);
    }

    #[test]
    fn ticks_only_while_active_and_stops_on_drop() {
        let engine = Engine::new(wasmtime::Config::new().epoch_interruption(true)).unwrap();
        let ticker = EpochTicker::start(engine).unwrap();
        let guard = ticker.activate();
        thread::sleep(TICK * 5);
        drop(guard);
        assert_eq!(ticker.shared.active.load(Ordering::Acquire), 0);
        drop(ticker); // joins: a hang here fails the test by timeout
    }
}
