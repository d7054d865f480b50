//! The on-disk state of a download in progress: `downloads/<file>.part` (the bytes accepted so
//! far, in order, no gaps) and `downloads/<file>.part.json` (`{"url","length","sha256","offset"}`,
//! the data-folder layout of the daemon contract).
//!
//! Invariant kept after every step, so that a crash at any point can be resumed safely: the
//! `offset` recorded in the JSON is never more than the bytes that are flushed and fsync'd in the
//! `.part` file. The JSON is written after the data is synced, through a temporary file and a
//! rename (atomic on POSIX). On resume the `.part` is cut back to the recorded offset and its
//! prefix is re-hashed, so the final sha256 always covers every byte of the file. Nothing here is
//! trusted until [`PartFile::finish`] has compared length and sha256 with the signed values.

use std::io::{self, Read as _, SeekFrom};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use tokio::io::{AsyncSeekExt as _, AsyncWriteExt as _, BufWriter};
use tufd_core::Sha256;

use super::{DownloadError, DownloadRequest};

/// Write buffer in front of the `.part` file (bytes).
const WRITE_BUFFER_BYTES: usize = 256 * 1024;

/// The `.part.json` record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartRecord {
    /// The URL being downloaded.
    pub url: String,
    /// The signed length of the target (bytes).
    pub length: u64,
    /// The signed sha256 of the target.
    pub sha256: Sha256,
    /// Bytes at the start of the `.part` file that are flushed, synced and in order (bytes).
    pub offset: u64,
}

impl PartRecord {
    /// Whether this record belongs to `req` (same URL, signed length and sha256).
    fn matches(&self, req: &DownloadRequest) -> bool {
        self.url == req.url.as_str() && self.length == req.length && self.sha256 == req.sha256
    }
}

/// An open `.part` file with its running hash and checkpoint record.
pub(super) struct PartFile {
    writer: BufWriter<tokio::fs::File>,
    hasher: sha2::Sha256,
    /// Bytes written (buffered or not) since the start of the file.
    offset: u64,
    /// The offset last recorded in the JSON.
    saved: u64,
    chunk_bytes: u64,
    record: PartRecord,
    part_path: PathBuf,
    record_path: PathBuf,
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> DownloadError + '_ {
    move |source| DownloadError::Io {
        path: path.to_owned(),
        source,
    }
}

impl PartFile {
    /// Opens the part file for `req`: resumes at the recorded offset when the record matches
    /// `req` and the `.part` holds at least that many bytes (the file is cut back to it and the
    /// prefix re-hashed), otherwise starts from zero.
    pub(super) async fn open(req: &DownloadRequest) -> Result<Self, DownloadError> {
        let part_path = req.part_path();
        let record_path = req.record_path();
        tokio::fs::create_dir_all(&req.dir)
            .await
            .map_err(io_err(&req.dir))?;
        let record = load_record(&record_path).await;
        let on_disk = tokio::fs::metadata(&part_path).await.ok().map(|m| m.len());
        let mut resume_at = match (&record, on_disk) {
            (Some(r), Some(len)) if r.matches(req) && r.offset <= len && r.offset <= req.length => {
                r.offset
            }
            _ => 0,
        };
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&part_path)
            .await
            .map_err(io_err(&part_path))?;
        file.set_len(resume_at).await.map_err(io_err(&part_path))?;
        let hasher = match hash_prefix(&part_path, resume_at).await {
            Ok(hasher) => hasher,
            Err(e) => {
                tracing::warn!(path = %part_path.display(), error = %e, "cannot re-hash partial download, starting over");
                file.set_len(0).await.map_err(io_err(&part_path))?;
                resume_at = 0;
                sha2::Sha256::new()
            }
        };
        let mut writer = BufWriter::with_capacity(WRITE_BUFFER_BYTES, file);
        writer
            .seek(SeekFrom::Start(resume_at))
            .await
            .map_err(io_err(&part_path))?;
        if resume_at > 0 {
            tracing::info!(url = %req.url, offset = resume_at, length = req.length, "resuming download");
        }
        let mut part = Self {
            writer,
            hasher,
            offset: resume_at,
            saved: resume_at,
            chunk_bytes: req.chunk_bytes.max(1),
            record: PartRecord {
                url: req.url.to_string(),
                length: req.length,
                sha256: req.sha256,
                offset: resume_at,
            },
            part_path,
            record_path,
        };
        part.save_record().await?;
        Ok(part)
    }

    /// Bytes accepted so far.
    pub(super) fn offset(&self) -> u64 {
        self.offset
    }

    /// Appends `bytes` (the caller has checked the signed length) and checkpoints each time
    /// another `chunk_bytes` have been written since the last checkpoint.
    pub(super) async fn append(&mut self, bytes: &[u8]) -> Result<(), DownloadError> {
        self.writer
            .write_all(bytes)
            .await
            .map_err(io_err(&self.part_path))?;
        self.hasher.update(bytes);
        self.offset += bytes.len() as u64;
        if self.offset - self.saved >= self.chunk_bytes {
            self.checkpoint().await?;
        }
        Ok(())
    }

    /// Flushes and fsyncs the data, then records the offset (atomically).
    pub(super) async fn checkpoint(&mut self) -> Result<(), DownloadError> {
        if self.offset == self.saved {
            return Ok(());
        }
        crate::faults::point("download.before-checkpoint");
        self.sync().await?;
        self.save_record().await?;
        crate::faults::point("download.after-checkpoint");
        Ok(())
    }

    /// Cuts the file back to zero bytes and starts the hash over (the server could not resume).
    pub(super) async fn restart(&mut self) -> Result<(), DownloadError> {
        self.writer.flush().await.map_err(io_err(&self.part_path))?;
        let file = self.writer.get_mut();
        file.set_len(0).await.map_err(io_err(&self.part_path))?;
        file.seek(SeekFrom::Start(0))
            .await
            .map_err(io_err(&self.part_path))?;
        self.hasher = sha2::Sha256::new();
        self.offset = 0;
        self.saved = 0;
        self.save_record().await
    }

    /// Flushes and fsyncs the data and returns the sha256 of the whole file and its length
    /// (bytes). The record stays until [`Self::commit`] or [`Self::discard`].
    pub(super) async fn finish(&mut self) -> Result<(Sha256, u64), DownloadError> {
        self.checkpoint().await?;
        let digest = self.hasher.clone().finalize();
        Ok((Sha256::from_bytes(digest.into()), self.offset))
    }

    /// Moves the verified file to `final_path` and removes the record.
    pub(super) async fn commit(self, final_path: &Path) -> Result<(), DownloadError> {
        drop(self.writer);
        crate::faults::point("download.before-commit");
        tokio::fs::rename(&self.part_path, final_path)
            .await
            .map_err(io_err(final_path))?;
        crate::faults::point("download.after-rename");
        remove_if_present(&self.record_path).await?;
        if let Some(dir) = final_path.parent() {
            sync_dir(dir).await;
        }
        crate::faults::point("download.after-commit");
        Ok(())
    }

    /// Deletes the part file and its record (unverifiable or refused content).
    pub(super) async fn discard(self) -> Result<(), DownloadError> {
        drop(self.writer);
        remove_if_present(&self.part_path).await?;
        remove_if_present(&self.record_path).await
    }

    async fn sync(&mut self) -> Result<(), DownloadError> {
        self.writer.flush().await.map_err(io_err(&self.part_path))?;
        self.writer
            .get_mut()
            .sync_data()
            .await
            .map_err(io_err(&self.part_path))
    }

    async fn save_record(&mut self) -> Result<(), DownloadError> {
        self.record.offset = self.offset;
        write_atomically(&self.record_path, &self.record).await?;
        self.saved = self.offset;
        Ok(())
    }
}

/// Reads a `.part.json`; `None` when missing or unreadable (then the download starts over).
pub(super) async fn load_record(path: &Path) -> Option<PartRecord> {
    let text = tokio::fs::read(path).await.ok()?;
    match serde_json::from_slice(&text) {
        Ok(record) => Some(record),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "ignoring unreadable download record");
            None
        }
    }
}

/// Writes `record` as JSON to `path` through `<path>.tmp`, fsync and rename.
async fn write_atomically(path: &Path, record: &PartRecord) -> Result<(), DownloadError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let json = serde_json::to_vec(record).expect("a part record always serialises");
    let mut file = tokio::fs::File::create(&tmp).await.map_err(io_err(&tmp))?;
    file.write_all(&json).await.map_err(io_err(&tmp))?;
    file.sync_all().await.map_err(io_err(&tmp))?;
    drop(file);
    tokio::fs::rename(&tmp, path).await.map_err(io_err(path))
}

/// The sha256 state over the first `len` bytes of `path` (blocking read off the async threads).
async fn hash_prefix(path: &Path, len: u64) -> io::Result<sha2::Sha256> {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut hasher = sha2::Sha256::new();
        if len == 0 {
            return Ok(hasher);
        }
        let mut reader = std::fs::File::open(&path)?.take(len);
        let copied = io::copy(&mut reader, &mut hasher)?;
        if copied != len {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("partial file holds {copied} of {len} recorded bytes"),
            ));
        }
        Ok(hasher)
    })
    .await
    .map_err(io::Error::other)?
}

/// The sha256 and length (bytes) of a whole file.
pub(super) async fn hash_file(path: &Path) -> io::Result<(Sha256, u64)> {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || Sha256::digest_reader(std::fs::File::open(&path)?))
        .await
        .map_err(io::Error::other)?
}

/// Removes a file, treating "already gone" as success.
pub(super) async fn remove_if_present(path: &Path) -> Result<(), DownloadError> {
    match tokio::fs::remove_file(path).await {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_err(path)(e)),
        _ => Ok(()),
    }
}

/// Makes a rename durable (best effort; not every platform can sync a directory).
async fn sync_dir(dir: &Path) {
    let dir = dir.to_owned();
    let _ = tokio::task::spawn_blocking(move || std::fs::File::open(&dir)?.sync_all()).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(dir: &Path) -> DownloadRequest {
        DownloadRequest::new(
            "http://127.0.0.1:1/app-2.0.tar.gz".parse().unwrap(),
            dir,
            "app-2.0.tar.gz",
            10,
            Sha256::digest(b"0123456789"),
        )
    }

    #[test]
    fn record_has_the_contract_field_names() {
        let record = PartRecord {
            url: "http://x/a".to_owned(),
            length: 10,
            sha256: Sha256::digest(b""),
            offset: 4,
        };
        let json: serde_json::Value = serde_json::to_value(&record).unwrap();
        let mut keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, ["length", "offset", "sha256", "url"]);
        assert_eq!(
            json["sha256"],
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[tokio::test]
    async fn checkpoints_record_only_synced_bytes_and_resume_rehashes() {
        let dir = tempfile::tempdir().unwrap();
        let req = DownloadRequest {
            chunk_bytes: 4,
            ..request(dir.path())
        };
        let mut part = PartFile::open(&req).await.unwrap();
        part.append(b"012").await.unwrap();
        // Below one chunk: the record still says 0.
        assert_eq!(load_record(&req.record_path()).await.unwrap().offset, 0);
        part.append(b"3456").await.unwrap();
        assert_eq!(load_record(&req.record_path()).await.unwrap().offset, 7);
        assert_eq!(std::fs::read(req.part_path()).unwrap(), b"0123456");
        drop(part);

        let mut resumed = PartFile::open(&req).await.unwrap();
        assert_eq!(resumed.offset(), 7);
        resumed.append(b"789").await.unwrap();
        let (digest, len) = resumed.finish().await.unwrap();
        assert_eq!((digest, len), (req.sha256, 10));
        resumed.commit(&req.final_path()).await.unwrap();
        assert_eq!(std::fs::read(req.final_path()).unwrap(), b"0123456789");
        assert!(!req.record_path().exists());
    }

    #[tokio::test]
    async fn a_record_beyond_the_file_starts_over() {
        let dir = tempfile::tempdir().unwrap();
        let req = request(dir.path());
        std::fs::write(req.part_path(), b"01").unwrap();
        let record = PartRecord {
            url: req.url.to_string(),
            length: req.length,
            sha256: req.sha256,
            offset: 5,
        };
        std::fs::write(req.record_path(), serde_json::to_vec(&record).unwrap()).unwrap();
        let part = PartFile::open(&req).await.unwrap();
        assert_eq!(part.offset(), 0);
        assert_eq!(std::fs::read(req.part_path()).unwrap(), b"");
    }
}
