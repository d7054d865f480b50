//! What makes the engine check on its own (docs/protocol.md, "Background checks"):
//!
//! - a `file://` repository: a `notify` watcher on the metadata folder (the folder is watched,
//!   not the file, because publishers replace `timestamp.json` by rename); events naming
//!   `timestamp.json` are forwarded into a tokio channel and, after a 200 ms settle time that
//!   folds a burst of events into one, trigger a check — well within a second;
//! - any repository with a poll interval: a check every interval with ±10% jitter, so that
//!   many clients do not hit the server in step.
//!
//! Both loops stop when their [`CancellationToken`] fires.

use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use rand::Rng;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Time to let a burst of file events settle before checking.
pub const SETTLE: Duration = Duration::from_millis(200);

/// Whether a notify event concerns `timestamp.json`.
pub fn is_timestamp_event(event: &notify::Event) -> bool {
    use notify::EventKind;
    matches!(
        event.kind,
        EventKind::Create(_) | EventKind::Modify(_) | EventKind::Any
    ) && event
        .paths
        .iter()
        .any(|p| p.file_name().is_some_and(|n| n == "timestamp.json"))
}

/// `interval` scaled by a factor in [0.9, 1.1] drawn from `rng`.
pub fn jittered(interval: Duration, rng: &mut impl Rng) -> Duration {
    interval.mul_f64(rng.random_range(0.9..=1.1))
}

/// Watches `folder` for changes of `timestamp.json` and calls `trigger` after each (settled)
/// burst. The watcher lives as long as the returned task.
///
/// # Errors
/// notify's error when the folder cannot be watched.
pub fn spawn_watch(
    folder: &Path,
    trigger: impl Fn() + Send + 'static,
    stop: CancellationToken,
) -> Result<JoinHandle<()>, notify::Error> {
    let (tx, mut rx) = mpsc::unbounded_channel::<()>();
    let mut watcher =
        notify::recommended_watcher(move |event: notify::Result<notify::Event>| match event {
            Ok(event) if is_timestamp_event(&event) => {
                let _ = tx.send(());
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "file watch error"),
        })?;
    watcher.watch(folder, RecursiveMode::NonRecursive)?;
    let folder: PathBuf = folder.to_path_buf();
    tracing::info!(folder = %folder.display(), "watching the repository for new releases");
    Ok(tokio::spawn(async move {
        // Keep the watcher alive inside the task.
        let _watcher = watcher;
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                got = rx.recv() => {
                    if got.is_none() {
                        break;
                    }
                    tokio::time::sleep(SETTLE).await;
                    while rx.try_recv().is_ok() {}
                    tracing::info!(folder = %folder.display(), "timestamp.json changed; checking");
                    trigger();
                }
            }
        }
    }))
}

/// Calls `trigger` every `interval` (±10% jitter) until `stop` fires.
pub fn spawn_poll(
    interval: Duration,
    trigger: impl Fn() + Send + 'static,
    stop: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let wait = jittered(interval, &mut rand::rng());
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep(wait) => {
                    tracing::debug!("poll interval passed; checking");
                    trigger();
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn jitter_stays_within_ten_percent() {
        let mut rng = rand::rng();
        for _ in 0..1000 {
            let d = jittered(Duration::from_secs(100), &mut rng);
            assert!(
                d >= Duration::from_secs(90) && d <= Duration::from_secs(110),
                "{d:?}"
            );
        }
    }

    #[test]
    fn only_timestamp_events_count() {
        use notify::event::{CreateKind, EventKind};
        let event = |name: &str| notify::Event {
            kind: EventKind::Create(CreateKind::File),
            paths: vec![PathBuf::from("/repo/metadata").join(name)],
            attrs: Default::default(),
        };
        assert!(is_timestamp_event(&event("timestamp.json")));
        assert!(!is_timestamp_event(&event("3.snapshot.json")));
    }

    #[tokio::test(start_paused = true)]
    async fn poll_fires_once_per_interval() {
        let count = Arc::new(AtomicUsize::new(0));
        let c = count.clone();
        let stop = CancellationToken::new();
        let task = spawn_poll(
            Duration::from_secs(100),
            move || {
                c.fetch_add(1, Ordering::SeqCst);
            },
            stop.clone(),
        );
        tokio::time::sleep(Duration::from_secs(89)).await;
        assert_eq!(count.load(Ordering::SeqCst), 0);
        tokio::time::sleep(Duration::from_secs(100)).await;
        let n = count.load(Ordering::SeqCst);
        assert!((1..=2).contains(&n), "{n}");
        stop.cancel();
        task.await.unwrap();
    }

    #[tokio::test]
    async fn a_new_timestamp_triggers_within_a_second() {
        let dir = tempfile::tempdir().unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let stop = CancellationToken::new();
        let _task = spawn_watch(
            dir.path(),
            move || {
                let _ = tx.send(());
            },
            stop.clone(),
        )
        .unwrap();
        std::fs::write(dir.path().join("other.json"), "{}").unwrap();
        let tmp = dir.path().join("timestamp.json.tmp");
        std::fs::write(&tmp, "{}").unwrap();
        std::fs::rename(&tmp, dir.path().join("timestamp.json")).unwrap();
        let got = tokio::time::timeout(Duration::from_secs(1), rx.recv()).await;
        assert!(matches!(got, Ok(Some(()))), "no trigger within a second");
        stop.cancel();
    }
}
