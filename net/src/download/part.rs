//! The on-disk state of a download in progress: `downloads/<file>.part` (the bytes accepted so
//! far, in order, no gaps) and `downloads/<file>.part.json` (`{"url","length","sha256","offset"}`,
//! as listed in docs/architecture.md, "The data folder"), and [`PartFile`], the download loop's
//! handle on them.
//!
//! Invariant kept after every step, so that a crash at any point can be resumed safely: the
//! `offset` recorded in the JSON is never more than the bytes that are written and fdatasync'd in
//! the `.part` file. The JSON is written after the data is synced, through a temporary file and a
//! rename (atomic on POSIX). Every byte of the `.part` was appended by us, in order, so after a
//! process crash (`SIGKILL`: the page cache survives) the whole file is a prefix of the
//! download; only a power loss can leave unsynced bytes past the recorded offset wrong. So a
//! resume continues from the end of the file, like `curl -C -`, and remembers the recorded
//! offset: when the finished file then fails its sha256, [`PartFile::fall_back`] cuts it back to
//! that offset and the download continues from there. The prefix is re-hashed on every resume,
//! so the final sha256 always covers every byte of the file, and nothing here is trusted until
//! [`PartFile::finish`]'s digest has been compared with the signed values.
//!
//! Writing, hashing and syncing run on threads of their own ([`super::writer`]); [`PartFile`]
//! sends them the accepted bytes through a channel bounded to [`IN_FLIGHT_BYTES`].

use std::io::{self, Read as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tufd_core::Sha256;

use super::digest::{Hasher, Sha512, TargetDigest};
use super::writer::{Command, Writer, run_writer, stopped};
use super::{DownloadError, DownloadRequest};

/// Most bytes accepted from the network but not yet written (bytes): what the writer thread may
/// fall behind the socket before the download loop waits.
pub const IN_FLIGHT_BYTES: usize = 4 * 1024 * 1024;

/// Commands queued for the writer thread (each `Data` also holds a share of
/// [`IN_FLIGHT_BYTES`]).
const COMMAND_QUEUE: usize = 1024;

/// The `.part.json` record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartRecord {
    /// The URL being downloaded.
    pub url: String,
    /// The signed length of the target (bytes).
    pub length: u64,
    /// The signed sha256 of the target (when it is checked against one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<Sha256>,
    /// The signed sha512 of the target (when it is checked against one: targets signed with
    /// sha512 only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha512: Option<Sha512>,
    /// Bytes at the start of the `.part` file that are written, synced and in order (bytes).
    pub offset: u64,
}

impl PartRecord {
    /// The record for `req`, at `offset`.
    pub fn new(req: &DownloadRequest, offset: u64) -> Self {
        let (sha256, sha512) = match req.digest {
            TargetDigest::Sha256(d) => (Some(d), None),
            TargetDigest::Sha512(d) => (None, Some(d)),
        };
        Self {
            url: req.url.to_string(),
            length: req.length,
            sha256,
            sha512,
            offset,
        }
    }

    /// The signed digest recorded (`None` for a record with neither or both).
    pub fn digest(&self) -> Option<TargetDigest> {
        match (self.sha256, self.sha512) {
            (Some(d), None) => Some(TargetDigest::Sha256(d)),
            (None, Some(d)) => Some(TargetDigest::Sha512(d)),
            _ => None,
        }
    }

    /// Whether this record belongs to `req` (same URL, signed length and digest).
    fn matches(&self, req: &DownloadRequest) -> bool {
        self.url == req.url.as_str()
            && self.length == req.length
            && self.digest() == Some(req.digest)
    }
}

/// The download loop's handle on an open `.part` file: appends go to the writer thread.
pub(super) struct PartFile {
    commands: Option<mpsc::Sender<Command>>,
    budget: Arc<Semaphore>,
    thread: Option<std::thread::JoinHandle<Result<(), DownloadError>>>,
    /// Bytes accepted so far (handed to the writer thread).
    offset: u64,
    /// The recorded (synced) offset when the resume started past it: where to fall back to
    /// when the finished file fails its sha256.
    unsynced_from: Option<u64>,
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
    /// Opens the part file for `req`. When the record matches `req` and the `.part` holds at
    /// least the recorded offset, resumes at the end of the file (at most the signed length;
    /// the prefix is re-hashed) and keeps the recorded offset for [`Self::fall_back`];
    /// otherwise starts from zero. Starts the writer and syncer threads.
    pub(super) async fn open(req: &DownloadRequest) -> Result<Self, DownloadError> {
        let owned = req.clone();
        let writer = tokio::task::spawn_blocking(move || open_writer(&owned))
            .await
            .map_err(|_| stopped())??;
        let (offset, unsynced_from, writer) = writer;
        let (commands, receiver) = mpsc::channel(COMMAND_QUEUE);
        let thread = std::thread::Builder::new()
            .name("tufd-download-write".to_owned())
            .spawn(move || run_writer(writer, receiver))
            .map_err(io_err(Path::new("tufd-download-write thread")))?;
        Ok(Self {
            commands: Some(commands),
            budget: Arc::new(Semaphore::new(IN_FLIGHT_BYTES)),
            thread: Some(thread),
            offset,
            unsynced_from,
            part_path: req.part_path(),
            record_path: req.record_path(),
        })
    }

    /// Bytes accepted so far.
    pub(super) fn offset(&self) -> u64 {
        self.offset
    }

    /// Appends `bytes` (the caller has checked the signed length); waits only when the writer
    /// is [`IN_FLIGHT_BYTES`] behind. Checkpoints happen on the writer's side.
    ///
    /// # Errors
    /// The writer thread's [`DownloadError::Io`] when a write or a checkpoint failed.
    pub(super) async fn append(&mut self, bytes: Bytes) -> Result<(), DownloadError> {
        if bytes.is_empty() {
            return Ok(());
        }
        let share = bytes.len().min(IN_FLIGHT_BYTES) as u32;
        let permit = Arc::clone(&self.budget)
            .acquire_many_owned(share)
            .await
            .map_err(|_| stopped())?;
        let len = bytes.len() as u64;
        let sent = match &self.commands {
            Some(commands) => commands.send(Command::Data(bytes, permit)).await.is_ok(),
            None => false,
        };
        if !sent {
            return Err(self.writer_error().await);
        }
        self.offset += len;
        Ok(())
    }

    /// Makes everything accepted so far durable and records its offset.
    pub(super) async fn checkpoint(&mut self) -> Result<(), DownloadError> {
        self.ask(Command::Checkpoint).await
    }

    /// Cuts the file back to zero bytes and starts the hash over (the server could not resume).
    pub(super) async fn restart(&mut self) -> Result<(), DownloadError> {
        self.ask(|reply| Command::Truncate(0, reply)).await?;
        self.offset = 0;
        self.unsynced_from = None;
        Ok(())
    }

    /// After a failed sha256: when this run resumed past the recorded offset, cuts the file back
    /// to that offset (the bytes a power loss may have left wrong go) and returns `true`, so the
    /// caller downloads the rest again; otherwise `false`.
    pub(super) async fn fall_back(&mut self) -> Result<bool, DownloadError> {
        let Some(synced) = self.unsynced_from.take() else {
            return Ok(false);
        };
        self.ask(|reply| Command::Truncate(synced, reply)).await?;
        self.offset = synced;
        Ok(true)
    }

    /// Returns the digest of the whole file and its length (bytes), once every accepted byte is
    /// written. The record stays until [`Self::commit`] or [`Self::discard`].
    pub(super) async fn finish(&mut self) -> Result<(TargetDigest, u64), DownloadError> {
        self.ask(Command::Finish).await
    }

    /// Checkpoints and closes the file, keeping it and its record for a later resume.
    pub(super) async fn suspend(mut self) -> Result<(), DownloadError> {
        let recorded = self.checkpoint().await;
        let closed = self.close().await;
        recorded.and(closed)
    }

    /// Moves the verified file to `final_path` and removes the record.
    pub(super) async fn commit(mut self, final_path: &Path) -> Result<(), DownloadError> {
        self.close().await?;
        tufd_core::faults::point("download.before-commit");
        tokio::fs::rename(&self.part_path, final_path)
            .await
            .map_err(io_err(final_path))?;
        tufd_core::faults::point("download.after-rename");
        remove_if_present(&self.record_path).await?;
        if let Some(dir) = final_path.parent() {
            sync_dir(dir).await;
        }
        tufd_core::faults::point("download.after-commit");
        Ok(())
    }

    /// Deletes the part file and its record (unverifiable or refused content).
    pub(super) async fn discard(mut self) -> Result<(), DownloadError> {
        // The file goes either way; a write error of the writer does not matter any more.
        let _ = self.close().await;
        remove_if_present(&self.part_path).await?;
        remove_if_present(&self.record_path).await
    }

    /// Sends a command that answers and waits for the answer.
    async fn ask<T>(
        &mut self,
        command: impl FnOnce(oneshot::Sender<Result<T, DownloadError>>) -> Command,
    ) -> Result<T, DownloadError> {
        let (reply, answer) = oneshot::channel();
        let sent = match &self.commands {
            Some(commands) => commands.send(command(reply)).await.is_ok(),
            None => false,
        };
        if !sent {
            return Err(self.writer_error().await);
        }
        match answer.await {
            Ok(result) => result,
            Err(_) => Err(self.writer_error().await),
        }
    }

    /// Closes the channel and waits for the writer thread to end (file flushed and closed, no
    /// sync in flight).
    async fn close(&mut self) -> Result<(), DownloadError> {
        self.commands = None;
        self.join().await
    }

    /// The error that stopped the writer thread.
    async fn writer_error(&mut self) -> DownloadError {
        self.commands = None;
        match self.join().await {
            Err(e) => e,
            Ok(()) => stopped(),
        }
    }

    async fn join(&mut self) -> Result<(), DownloadError> {
        let Some(thread) = self.thread.take() else {
            return Ok(());
        };
        tokio::task::spawn_blocking(move || thread.join())
            .await
            .map_err(|_| stopped())?
            .map_err(|_| stopped())?
    }
}

impl Drop for PartFile {
    fn drop(&mut self) {
        // Closing the channel ends the writer thread on its own; it is not joined here.
        self.commands = None;
    }
}

/// The blocking part of [`PartFile::open`]: decides the resume offset, prepares the file and
/// the record, and builds the writer.
fn open_writer(req: &DownloadRequest) -> Result<(u64, Option<u64>, Writer), DownloadError> {
    let part_path = req.part_path();
    let record_path = req.record_path();
    std::fs::create_dir_all(&req.dir).map_err(io_err(&req.dir))?;
    let record = load_record(&record_path);
    let on_disk = std::fs::metadata(&part_path).ok().map(|m| m.len());
    let (mut resume_at, mut synced) = match (&record, on_disk) {
        (Some(r), Some(len)) if r.matches(req) && r.offset <= len && r.offset <= req.length => {
            (if len <= req.length { len } else { r.offset }, r.offset)
        }
        _ => (0, 0),
    };
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&part_path)
        .map_err(io_err(&part_path))?;
    file.set_len(resume_at).map_err(io_err(&part_path))?;
    let hasher = match hash_prefix(&part_path, resume_at, Hasher::like(&req.digest)) {
        Ok(hasher) => hasher,
        Err(e) => {
            tracing::warn!(path = %part_path.display(), error = %e, "cannot re-hash partial download, starting over");
            file.set_len(0).map_err(io_err(&part_path))?;
            (resume_at, synced) = (0, 0);
            Hasher::like(&req.digest)
        }
    };
    if resume_at > 0 {
        tracing::info!(url = %req.url, offset = resume_at, synced, length = req.length, "resuming download");
    }
    let record = PartRecord::new(req, synced);
    write_record(&record_path, &record)?;
    let writer = Writer::new(file, hasher, resume_at, record, req)?;
    Ok((resume_at, (resume_at > synced).then_some(synced), writer))
}

/// Reads a `.part.json`; `None` when missing or unreadable (then the download starts over).
pub(super) fn load_record(path: &Path) -> Option<PartRecord> {
    let text = std::fs::read(path).ok()?;
    match serde_json::from_slice(&text) {
        Ok(record) => Some(record),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "ignoring unreadable download record");
            None
        }
    }
}

/// Writes `record` as JSON to `path` through `<path>.tmp`, fsync and rename (blocking).
///
/// # Errors
/// [`DownloadError::Io`] naming the file that failed.
pub(super) fn write_record(path: &Path, record: &PartRecord) -> Result<(), DownloadError> {
    let json = serde_json::to_vec(record).expect("a part record always serialises");
    tufd_core::fs::write_atomic(path, &json, tufd_core::fs::Durability::Synced)
        .map_err(|(p, e)| io_err(&p)(e))
}

/// `hasher` (fresh) fed the first `len` bytes of `path` (blocking).
pub(super) fn hash_prefix(path: &Path, len: u64, mut hasher: Hasher) -> io::Result<Hasher> {
    if len == 0 {
        return Ok(hasher);
    }
    let mut reader = std::fs::File::open(path)?.take(len);
    let copied = io::copy(&mut reader, &mut hasher)?;
    if copied != len {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("partial file holds {copied} of {len} recorded bytes"),
        ));
    }
    Ok(hasher)
}

/// The digest (of `like`'s algorithm) and length (bytes) of a whole file.
pub(super) async fn hash_file(path: &Path, like: &TargetDigest) -> io::Result<(TargetDigest, u64)> {
    let path = path.to_owned();
    let mut hasher = Hasher::like(like);
    tokio::task::spawn_blocking(move || {
        let length = io::copy(&mut std::fs::File::open(&path)?, &mut hasher)?;
        Ok((hasher.finalize(), length))
    })
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
    let _ = tokio::task::spawn_blocking(move || tufd_core::fs::sync_dir(&dir)).await;
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

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

    /// [`request`] with these checkpoint intervals (bytes, time).
    fn checkpointing(dir: &Path, chunk_bytes: u64, interval: Duration) -> DownloadRequest {
        DownloadRequest {
            chunk_bytes,
            checkpoint_interval: interval,
            ..request(dir)
        }
    }

    #[test]
    fn record_has_the_documented_field_names() {
        let record = PartRecord {
            url: "http://x/a".to_owned(),
            length: 10,
            sha256: Some(Sha256::digest(b"")),
            sha512: None,
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
        // A sha512-only target records its sha512 instead.
        let record = PartRecord {
            sha256: None,
            sha512: Some(Sha512::digest(b"")),
            ..record
        };
        let json: serde_json::Value = serde_json::to_value(&record).unwrap();
        assert!(json.get("sha256").is_none());
        assert_eq!(json["sha512"].as_str().map(str::len), Some(128));
        let back: PartRecord = serde_json::from_value(json).unwrap();
        assert_eq!(
            back.digest(),
            Some(TargetDigest::Sha512(Sha512::digest(b"")))
        );
    }

    fn recorded(req: &DownloadRequest) -> u64 {
        load_record(&req.record_path()).unwrap().offset
    }

    #[tokio::test]
    async fn size_checkpoints_record_only_synced_bytes_and_resume_rehashes() {
        let dir = tempfile::tempdir().unwrap();
        let req = checkpointing(dir.path(), 4, Duration::from_secs(3600));
        let mut part = PartFile::open(&req).await.unwrap();
        part.append(Bytes::from_static(b"012")).await.unwrap();
        // `finish` waits for a checkpoint in flight but starts none: below one chunk, none ran.
        assert_eq!(part.finish().await.unwrap().1, 3);
        assert_eq!(recorded(&req), 0);
        part.append(Bytes::from_static(b"3456")).await.unwrap();
        part.finish().await.unwrap();
        assert_eq!(recorded(&req), 7);
        assert_eq!(std::fs::read(req.part_path()).unwrap(), b"0123456");
        // A crash: no suspend; a byte the page cache kept past the record.
        drop(part);
        append_to(&req.part_path(), b"7");

        let mut resumed = PartFile::open(&req).await.unwrap();
        assert_eq!(resumed.offset(), 8);
        resumed.append(Bytes::from_static(b"89")).await.unwrap();
        let (digest, len) = resumed.finish().await.unwrap();
        assert_eq!((digest, len), (req.digest, 10));
        resumed.commit(&req.final_path()).await.unwrap();
        assert_eq!(std::fs::read(req.final_path()).unwrap(), b"0123456789");
        assert!(!req.record_path().exists());
        assert!(!req.part_path().exists());
    }

    fn append_to(path: &Path, bytes: &[u8]) {
        let mut file = std::fs::OpenOptions::new().append(true).open(path).unwrap();
        std::io::Write::write_all(&mut file, bytes).unwrap();
    }

    #[tokio::test]
    async fn a_wrong_tail_falls_back_to_the_recorded_offset_once() {
        let dir = tempfile::tempdir().unwrap();
        let req = checkpointing(dir.path(), u64::MAX, Duration::from_secs(3600));
        let mut part = PartFile::open(&req).await.unwrap();
        part.append(Bytes::from_static(b"0123")).await.unwrap();
        part.suspend().await.unwrap();
        append_to(&req.part_path(), b"XY");

        let mut resumed = PartFile::open(&req).await.unwrap();
        assert_eq!(resumed.offset(), 6);
        assert!(resumed.fall_back().await.unwrap());
        assert_eq!(resumed.offset(), 4);
        assert_eq!(std::fs::read(req.part_path()).unwrap(), b"0123");
        assert!(!resumed.fall_back().await.unwrap(), "falls back only once");
        resumed.append(Bytes::from_static(b"456789")).await.unwrap();
        assert_eq!(resumed.finish().await.unwrap(), (req.digest, 10));
    }

    #[tokio::test]
    async fn time_checkpoints_run_without_a_full_chunk() {
        let dir = tempfile::tempdir().unwrap();
        let req = checkpointing(dir.path(), u64::MAX, Duration::ZERO);
        let mut part = PartFile::open(&req).await.unwrap();
        part.append(Bytes::from_static(b"0123")).await.unwrap();
        part.finish().await.unwrap();
        assert_eq!(recorded(&req), 4);
    }

    #[tokio::test]
    async fn suspend_records_everything_and_restart_records_zero() {
        let dir = tempfile::tempdir().unwrap();
        let req = checkpointing(dir.path(), u64::MAX, Duration::from_secs(3600));
        let mut part = PartFile::open(&req).await.unwrap();
        part.append(Bytes::from_static(b"01234")).await.unwrap();
        part.restart().await.unwrap();
        assert_eq!(part.offset(), 0);
        assert_eq!(recorded(&req), 0);
        assert_eq!(std::fs::read(req.part_path()).unwrap(), b"");
        part.append(Bytes::from_static(b"012345")).await.unwrap();
        part.suspend().await.unwrap();
        assert_eq!(recorded(&req), 6);
        assert_eq!(std::fs::read(req.part_path()).unwrap(), b"012345");
        let resumed = PartFile::open(&req).await.unwrap();
        assert_eq!(resumed.offset(), 6);
        resumed.discard().await.unwrap();
        assert!(!req.record_path().exists());
        assert!(!req.part_path().exists());
    }

    #[tokio::test]
    async fn a_record_beyond_the_file_starts_over() {
        let dir = tempfile::tempdir().unwrap();
        let req = request(dir.path());
        std::fs::write(req.part_path(), b"01").unwrap();
        let record = PartRecord::new(&req, 5);
        std::fs::write(req.record_path(), serde_json::to_vec(&record).unwrap()).unwrap();
        let part = PartFile::open(&req).await.unwrap();
        assert_eq!(part.offset(), 0);
        assert_eq!(std::fs::read(req.part_path()).unwrap(), b"");
    }
}
