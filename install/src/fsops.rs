//! Renames and removals of the install that survive what Windows does to a folder for a
//! moment: an antivirus scanner or a search indexer holding a file makes a rename or a removal
//! fail with a sharing violation, a lock violation or access denied, and a read-only file (a
//! release's `0444` file, [`crate::sys::set_mode`]) stops a removal for good. On Unix a release's
//! `0555` folder stops the removal of its entries for anyone but root.
//!
//! - [`retry`]: the pure retry loop (the operation, the classifier and the sleep are passed
//!   in), with the bounded backoff [`LOCK_BACKOFF`]; only errors
//!   [`crate::sys::is_transient_lock_error`] calls transient are retried (never on Unix).
//! - [`rename`]: `std::fs::rename` through [`retry`].
//! - [`remove_tree`] and [`remove_file`]: removal that, refused with permission denied, makes
//!   the tree removable ([`crate::sys::make_removable`]: clear read-only on Windows, owner
//!   `rwx` on Unix folders) and tries again, through [`retry`].

use std::fs;
use std::io;
use std::path::Path;
use std::time::Duration;

/// How long [`retry`] keeps trying: at most `attempts` tries, sleeping `first_delay` after the
/// first failure and doubling, the sleeps summing to at most `max_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// Most tries in all (the first included).
    pub attempts: u32,
    /// The first sleep.
    pub first_delay: Duration,
    /// Most time slept in all.
    pub max_total: Duration,
}

/// The backoff for files held by another program: 10 tries, sleeping 25 ms doubling, 2 s of
/// sleep in all (25, 50, 100, 200, 400, 800 ms, then the 425 ms left: 8 tries). A scanner
/// holds a file for well under that; a program that keeps it open (the app itself still
/// running) fails the rename after 2 s, and the install rolls back.
pub const LOCK_BACKOFF: Backoff = Backoff {
    attempts: 10,
    first_delay: Duration::from_millis(25),
    max_total: Duration::from_secs(2),
};

impl Backoff {
    /// The sleeps between tries, in order: `first_delay` doubling, the last one cut to what
    /// is left of `max_total`, at most `attempts - 1` of them, none of zero length.
    pub fn delays(&self) -> impl Iterator<Item = Duration> + use<> {
        let mut next = self.first_delay;
        let mut left = self.max_total;
        (1..self.attempts).map_while(move |_| {
            let delay = next.min(left);
            if delay.is_zero() {
                return None;
            }
            left -= delay;
            next = next.saturating_mul(2);
            Some(delay)
        })
    }
}

/// Runs `op` until it succeeds, fails with an error `is_transient` rejects, or `backoff` is
/// spent (then the last error is returned); sleeps with `sleep` between tries and logs each
/// retry at debug with `path`. Pure apart from what `op` and `sleep` do.
///
/// # Errors
/// The error of the last try.
pub fn retry<T>(
    path: &Path,
    backoff: &Backoff,
    mut op: impl FnMut() -> io::Result<T>,
    is_transient: impl Fn(&io::Error) -> bool,
    mut sleep: impl FnMut(Duration),
) -> io::Result<T> {
    let mut delays = backoff.delays();
    let mut attempt = 1;
    loop {
        match op() {
            Err(e) if is_transient(&e) => {
                let Some(delay) = delays.next() else {
                    return Err(e);
                };
                tracing::debug!(
                    path = %path.display(),
                    attempt,
                    error = %e,
                    delay_ms = delay.as_millis(),
                    "held by another program; retrying"
                );
                sleep(delay);
                attempt += 1;
            }
            result => return result,
        }
    }
}

/// [`retry`] with [`LOCK_BACKOFF`], the OS's classifier and a real sleep.
fn retry_locked<T>(path: &Path, op: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    retry(
        path,
        &LOCK_BACKOFF,
        op,
        crate::sys::is_transient_lock_error,
        std::thread::sleep,
    )
}

/// `std::fs::rename(from, to)`, retried while another program holds a file (Windows).
///
/// # Errors
/// The OS error of the last try.
pub fn rename(from: &Path, to: &Path) -> io::Result<()> {
    retry_locked(from, || fs::rename(from, to))
}

/// Removes the folder tree `path` (not following links). Refused with permission denied, it
/// makes what is left removable ([`make_tree_removable`]) and tries again; retried while
/// another program holds a file (Windows).
///
/// # Errors
/// The OS error of the last try ([`io::ErrorKind::NotFound`] when nothing is there).
pub fn remove_tree(path: &Path) -> io::Result<()> {
    remove_unlocking(path, |p| fs::remove_dir_all(p))
}

/// Removes the file or link `path`; like [`remove_tree`], a refused removal clears what
/// stops it (a read-only file on Windows) and tries again.
///
/// # Errors
/// The OS error of the last try ([`io::ErrorKind::NotFound`] when nothing is there).
pub fn remove_file(path: &Path) -> io::Result<()> {
    remove_unlocking(path, |p| fs::remove_file(p))
}

fn remove_unlocking(path: &Path, remove: fn(&Path) -> io::Result<()>) -> io::Result<()> {
    let mut unlocked = false;
    retry_locked(path, || match remove(path) {
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied && !unlocked => {
            unlocked = true;
            tracing::debug!(path = %path.display(), error = %e, "removal refused; making the tree removable");
            make_tree_removable(path)?;
            remove(path)
        }
        result => result,
    })
}

/// Makes `path` and everything below it removable ([`crate::sys::make_removable`] on each
/// file and folder, a folder before its entries so that it can be listed); links are neither
/// followed nor changed, and entries that vanish meanwhile are skipped.
///
/// # Errors
/// The first OS error other than not-found.
pub fn make_tree_removable(path: &Path) -> io::Result<()> {
    let mut pending = vec![path.to_path_buf()];
    while let Some(current) = pending.pop() {
        let meta = match fs::symlink_metadata(&current) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        if meta.file_type().is_symlink() {
            continue;
        }
        crate::sys::make_removable(&current, &meta)?;
        if meta.is_dir() {
            let entries = match fs::read_dir(&current) {
                Ok(entries) => entries,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            for entry in entries {
                pending.push(entry?.path());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn held() -> io::Error {
        io::Error::other("held")
    }

    fn is_held(e: &io::Error) -> bool {
        e.to_string() == "held"
    }

    #[test]
    fn lock_backoff_doubles_from_25ms_and_sleeps_at_most_2s() {
        let delays: Vec<Duration> = LOCK_BACKOFF.delays().collect();
        assert_eq!(
            delays,
            [25, 50, 100, 200, 400, 800, 425].map(ms).to_vec(),
            "the 8th try is the last: the budget is spent"
        );
        assert_eq!(delays.iter().sum::<Duration>(), ms(2000));
        let few = Backoff {
            attempts: 3,
            ..LOCK_BACKOFF
        };
        assert_eq!(few.delays().collect::<Vec<_>>(), [ms(25), ms(50)]);
    }

    #[test]
    fn a_transient_error_is_retried_until_the_operation_succeeds() {
        let mut results = vec![Err(held()), Err(held()), Ok(7)].into_iter();
        let slept = RefCell::new(Vec::new());
        let got = retry(
            Path::new("app"),
            &LOCK_BACKOFF,
            || results.next().unwrap(),
            is_held,
            |d| slept.borrow_mut().push(d),
        );
        assert_eq!(got.unwrap(), 7);
        assert_eq!(*slept.borrow(), [ms(25), ms(50)]);
    }

    #[test]
    fn a_lasting_lock_gives_up_with_the_last_error_after_the_budget() {
        let mut tries = 0;
        let mut slept = Duration::ZERO;
        let got: io::Result<()> = retry(
            Path::new("app"),
            &LOCK_BACKOFF,
            || {
                tries += 1;
                Err(held())
            },
            is_held,
            |d| slept += d,
        );
        assert!(is_held(&got.unwrap_err()));
        assert_eq!(tries, 8);
        assert_eq!(slept, ms(2000));
    }

    #[test]
    fn other_errors_are_not_retried() {
        let mut tries = 0;
        let got: io::Result<()> = retry(
            Path::new("app"),
            &LOCK_BACKOFF,
            || {
                tries += 1;
                Err(io::Error::from(io::ErrorKind::NotFound))
            },
            is_held,
            |_| panic!("no sleep for a permanent error"),
        );
        assert_eq!(got.unwrap_err().kind(), io::ErrorKind::NotFound);
        assert_eq!(tries, 1);
    }

    #[test]
    fn os_errors_of_unix_are_never_transient() {
        if cfg!(unix) {
            for kind in [io::ErrorKind::PermissionDenied, io::ErrorKind::ResourceBusy] {
                assert!(!crate::sys::is_transient_lock_error(&io::Error::from(kind)));
            }
            // EACCES, EBUSY: Unix codes that happen to equal Win32's lock codes are not locks.
            assert!(!crate::sys::is_transient_lock_error(
                &io::Error::from_raw_os_error(13)
            ));
            assert!(!crate::sys::is_transient_lock_error(
                &io::Error::from_raw_os_error(5)
            ));
        }
    }

    /// A release's read-only content: a `0555` folder holding a `0444` file and a `0555`
    /// folder (on Windows: read-only attributes).
    fn read_only_tree(root: &Path) {
        let sub = root.join("bin/lib");
        fs::create_dir_all(&sub).unwrap();
        fs::write(root.join("bin/app"), "app").unwrap();
        fs::write(sub.join("x.so"), "x").unwrap();
        for (path, mode) in [
            (sub.join("x.so"), 0o444),
            (root.join("bin/app"), 0o444),
            (sub.clone(), 0o555),
            (root.join("bin"), 0o555),
        ] {
            crate::sys::set_mode(&path, mode).unwrap();
        }
    }

    #[test]
    fn backup_removal_succeeds_on_read_only_folders_and_files() {
        let dir = tempfile::tempdir().unwrap();
        let backup = dir.path().join("backup");
        read_only_tree(&backup);
        remove_tree(&backup).unwrap();
        assert!(!backup.exists());
        assert_eq!(
            remove_tree(&backup).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
    }

    #[test]
    fn make_tree_removable_opens_up_read_only_folders_but_not_link_targets() {
        let dir = tempfile::tempdir().unwrap();
        let tree = dir.path().join("tree");
        read_only_tree(&tree);
        let outside = dir.path().join("outside");
        fs::create_dir(&outside).unwrap();
        crate::sys::set_mode(&outside, 0o555).unwrap();
        let link_made =
            crate::sys::symlink("../outside", &tree.join("link")).is_ok() || cfg!(windows);
        make_tree_removable(&tree).unwrap();
        let writable = |p: &Path| {
            let meta = fs::metadata(p).unwrap();
            crate::sys::mode_of(&meta) & 0o200 != 0
        };
        assert!(writable(&tree.join("bin")) && writable(&tree.join("bin/lib")));
        if cfg!(windows) {
            assert!(writable(&tree.join("bin/app")));
        }
        if link_made && cfg!(unix) {
            assert!(!writable(&outside), "a link's target is left alone");
        }
        crate::sys::set_mode(&outside, 0o755).unwrap();
    }

    #[test]
    fn a_read_only_file_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("app.exe");
        fs::write(&file, "x").unwrap();
        crate::sys::set_mode(&file, 0o444).unwrap();
        remove_file(&file).unwrap();
        assert!(!file.exists());
    }
}
