//! The install's rollout bucket (`tufd_core::rollout::Bucket`): drawn uniformly at random once
//! and kept in `<data-dir>/rollout-bucket` (one decimal number in `0..10000`), so that every
//! check of this install falls on the same side of a staged rollout. A file that is missing or
//! does not hold a bucket is replaced by a fresh draw.

use std::path::{Path, PathBuf};

use rand::Rng;
use tufd_core::fs::{Durability, write_atomic};
use tufd_core::rollout::{BUCKETS, Bucket};

/// The bucket file of the data folder `data_dir`.
pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("rollout-bucket")
}

/// The bucket kept in `data_dir`, drawing and keeping one when there is none. When it cannot
/// be kept (a read-only data folder), the fresh draw is used for this check and a warning
/// logged.
pub fn load_or_draw(data_dir: &Path) -> Bucket {
    let file = path(data_dir);
    if let Some(bucket) = std::fs::read_to_string(&file)
        .ok()
        .and_then(|text| text.trim().parse::<u16>().ok())
        .and_then(Bucket::new)
    {
        return bucket;
    }
    let bucket = Bucket::new(rand::rng().random_range(0..BUCKETS)).expect("drawn below BUCKETS");
    let _ = std::fs::create_dir_all(data_dir);
    if let Err((path, error)) = write_atomic(
        &file,
        format!("{}\n", bucket.get()).as_bytes(),
        Durability::Synced,
    ) {
        tracing::warn!(path = %path.display(), %error, "cannot keep the rollout bucket; this check uses a fresh draw");
    }
    bucket
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_is_drawn_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_draw(dir.path());
        for _ in 0..5 {
            assert_eq!(load_or_draw(dir.path()), first);
        }
        std::fs::write(path(dir.path()), "42\n").unwrap();
        assert_eq!(load_or_draw(dir.path()).get(), 42);
        std::fs::write(path(dir.path()), "10000").unwrap();
        let redrawn = load_or_draw(dir.path());
        assert_eq!(
            std::fs::read_to_string(path(dir.path())).unwrap().trim(),
            redrawn.get().to_string(),
            "an out-of-range bucket is replaced"
        );
    }
}
