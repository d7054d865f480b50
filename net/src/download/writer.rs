//! The blocking side of a `.part` file (docs/architecture.md, "One update, step by step", step
//! 6): a dedicated thread that appends and hashes the bytes the download loop accepted, and a
//! second one that makes them durable, so the socket keeps being read while the disk catches up.
//!
//! - The **writer** thread ([`run_writer`]) owns the `.part` file, its write buffer and the running
//!   signed digest's algorithm (sha256, else sha512). It takes [`Command`]s from the download loop in order, so the file and the hash always
//!   cover the same bytes.
//! - The **syncer** thread ([`Syncer`]) owns a second handle on the same file. Given an offset the
//!   writer has already handed to the operating system, it runs `fdatasync` and then replaces
//!   `.part.json` with that offset (atomically, [`super::part::write_record`]). The writer starts a
//!   checkpoint each time `chunk_bytes` or `checkpoint_interval` have passed since the last one,
//!   but only when the syncer is idle; it never waits for it while data flows. So throughput is
//!   bounded by the network and the page cache, not by the disk's write-back (a 1 GiB download
//!   with a synchronous fsync every 8 MiB ran at 0.64× curl; `docs/performance.md`).
//!
//! The invariant of [`super::part`] holds unchanged: a record's offset only ever names bytes that
//! were written before the `fdatasync` that preceded the record. Explicit checkpoints (retry,
//! cancel), truncations and shutdown first wait for a sync in flight, so no record can land after
//! a truncation cut the file. The finished download is not fsync'd: it is verified against the
//! signed digest here, and again on every later run before reuse
//! ([`super::download`]'s `already_done`), so a power loss can cost a download, never trust.

use std::fs::File;
use std::io::{self, BufWriter, Seek as _, SeekFrom, Write as _};
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{OwnedSemaphorePermit, oneshot};

use super::digest::{Hasher, TargetDigest};
use super::part::{PartRecord, hash_prefix, write_record};
use super::{DownloadError, DownloadRequest};

/// Write buffer in front of the `.part` file (bytes).
const WRITE_BUFFER_BYTES: usize = 512 * 1024;

/// What the download loop asks of the writer thread, in order.
pub(super) enum Command {
    /// Append these bytes (already checked against the signed length). The permit returns the
    /// bytes to the in-flight budget once written.
    Data(Bytes, OwnedSemaphorePermit),
    /// Make everything appended so far durable and record it, then answer.
    Checkpoint(oneshot::Sender<Result<(), DownloadError>>),
    /// Cut the file back to this many bytes (0 to start over), hash what is left again and
    /// record the offset.
    Truncate(u64, oneshot::Sender<Result<(), DownloadError>>),
    /// Hand everything to the operating system and answer with the sha256 and length (bytes)
    /// of the whole file (no fsync: the caller verifies the digest).
    Finish(oneshot::Sender<Result<(TargetDigest, u64), DownloadError>>),
}

fn io_err(path: &std::path::Path) -> impl FnOnce(io::Error) -> DownloadError + '_ {
    move |source| DownloadError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The state the writer thread owns.
pub(super) struct Writer {
    file: BufWriter<File>,
    hasher: Hasher,
    /// Bytes appended (buffered or not) since the start of the file.
    offset: u64,
    /// Offset and time at which the last checkpoint was started.
    last_started: (u64, Instant),
    chunk_bytes: u64,
    interval: Duration,
    part_path: PathBuf,
    syncer: Syncer,
    /// The signed digest (its algorithm is the hasher's).
    expected: TargetDigest,
}

impl Writer {
    /// A writer for `req`'s `.part` appending to `file` (positioned anywhere; it seeks to
    /// `offset`) whose first `offset` bytes hash to `hasher`'s state; `record` is what
    /// `.part.json` holds now.
    ///
    /// # Errors
    /// [`DownloadError::Io`] when the file cannot be positioned or cloned for the syncer.
    pub(super) fn new(
        mut file: File,
        hasher: Hasher,
        offset: u64,
        record: PartRecord,
        req: &DownloadRequest,
    ) -> Result<Self, DownloadError> {
        let part_path = req.part_path();
        file.seek(SeekFrom::Start(offset))
            .map_err(io_err(&part_path))?;
        let sync_handle = file.try_clone().map_err(io_err(&part_path))?;
        Ok(Self {
            file: BufWriter::with_capacity(WRITE_BUFFER_BYTES, file),
            hasher,
            offset,
            last_started: (offset, Instant::now()),
            chunk_bytes: req.chunk_bytes.max(1),
            interval: req.checkpoint_interval,
            syncer: Syncer::start(sync_handle, record, req.record_path(), part_path.clone())?,
            part_path,
            expected: req.digest,
        })
    }

    fn append(&mut self, bytes: &[u8]) -> Result<(), DownloadError> {
        self.file
            .write_all(bytes)
            .map_err(io_err(&self.part_path))?;
        self.hasher.update(bytes);
        self.offset += bytes.len() as u64;
        self.syncer.poll()?;
        let (at, when) = self.last_started;
        let due = self.offset - at >= self.chunk_bytes || when.elapsed() >= self.interval;
        if due && self.offset > at && self.syncer.idle() {
            self.start_checkpoint()?;
        }
        Ok(())
    }

    /// Hands the buffer to the operating system and asks the syncer to record `offset`.
    fn start_checkpoint(&mut self) -> Result<(), DownloadError> {
        self.file.flush().map_err(io_err(&self.part_path))?;
        self.syncer.start_job(self.offset)?;
        self.last_started = (self.offset, Instant::now());
        Ok(())
    }

    /// Waits for a sync in flight, then records everything appended so far.
    fn checkpoint(&mut self) -> Result<(), DownloadError> {
        self.syncer.wait()?;
        if self.offset > self.syncer.saved {
            self.start_checkpoint()?;
            self.syncer.wait()?;
        }
        Ok(())
    }

    fn truncate(&mut self, offset: u64) -> Result<(), DownloadError> {
        self.syncer.wait()?;
        self.file.flush().map_err(io_err(&self.part_path))?;
        let file = self.file.get_mut();
        file.set_len(offset).map_err(io_err(&self.part_path))?;
        file.seek(SeekFrom::Start(offset))
            .map_err(io_err(&self.part_path))?;
        self.hasher = hash_prefix(&self.part_path, offset, Hasher::like(&self.expected))
            .map_err(io_err(&self.part_path))?;
        self.offset = offset;
        self.last_started = (offset, Instant::now());
        self.syncer.start_job(offset)?;
        self.syncer.wait()
    }

    fn finish(&mut self) -> Result<(TargetDigest, u64), DownloadError> {
        self.syncer.wait()?;
        self.file.flush().map_err(io_err(&self.part_path))?;
        Ok((self.hasher.clone().finalize(), self.offset))
    }

    /// Flushes the buffer and stops the syncer after its job in flight, so no record is written
    /// once the thread has ended.
    fn close(mut self) -> Result<(), DownloadError> {
        let flushed = self.file.flush().map_err(io_err(&self.part_path));
        self.syncer.stop()?;
        flushed
    }
}

/// The writer thread's loop: runs `commands` in order until the channel closes or a write fails
/// (the error is the thread's result; the download loop sees the channel close and joins it).
pub(super) fn run_writer(
    mut writer: Writer,
    mut commands: tokio::sync::mpsc::Receiver<Command>,
) -> Result<(), DownloadError> {
    while let Some(command) = commands.blocking_recv() {
        match command {
            Command::Data(bytes, permit) => {
                let written = writer.append(&bytes);
                drop(permit);
                if let Err(e) = written {
                    let _ = writer.close();
                    return Err(e);
                }
            }
            Command::Checkpoint(reply) => {
                let _ = reply.send(writer.checkpoint());
            }
            Command::Truncate(offset, reply) => {
                let _ = reply.send(writer.truncate(offset));
            }
            Command::Finish(reply) => {
                let _ = reply.send(writer.finish());
            }
        }
    }
    writer.close()
}

/// The syncer thread and the writer's view of it: at most one job in flight.
struct Syncer {
    jobs: Option<mpsc::Sender<u64>>,
    done: mpsc::Receiver<Result<u64, DownloadError>>,
    thread: Option<std::thread::JoinHandle<()>>,
    in_flight: bool,
    /// The offset last recorded in `.part.json` (bytes).
    saved: u64,
}

impl Syncer {
    fn start(
        file: File,
        mut record: PartRecord,
        record_path: PathBuf,
        part_path: PathBuf,
    ) -> Result<Self, DownloadError> {
        let saved = record.offset;
        let (jobs, job_rx) = mpsc::channel::<u64>();
        let (done_tx, done) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("tufd-download-sync".to_owned())
            .spawn(move || {
                for offset in job_rx {
                    let result = (|| {
                        tufd_core::faults::point("download.before-checkpoint");
                        file.sync_data().map_err(io_err(&part_path))?;
                        record.offset = offset;
                        write_record(&record_path, &record)?;
                        tufd_core::faults::point("download.after-checkpoint");
                        Ok(offset)
                    })();
                    if done_tx.send(result).is_err() {
                        break;
                    }
                }
            })
            .map_err(io_err(std::path::Path::new("tufd-download-sync thread")))?;
        Ok(Self {
            jobs: Some(jobs),
            done,
            thread: Some(thread),
            in_flight: false,
            saved,
        })
    }

    fn idle(&self) -> bool {
        !self.in_flight
    }

    fn start_job(&mut self, offset: u64) -> Result<(), DownloadError> {
        debug_assert!(!self.in_flight, "one sync job at a time");
        let sent = self
            .jobs
            .as_ref()
            .is_some_and(|jobs| jobs.send(offset).is_ok());
        if !sent {
            return Err(stopped());
        }
        self.in_flight = true;
        Ok(())
    }

    /// Collects a finished job without waiting.
    fn poll(&mut self) -> Result<(), DownloadError> {
        if self.in_flight {
            match self.done.try_recv() {
                Ok(result) => self.settle(result)?,
                Err(mpsc::TryRecvError::Empty) => {}
                Err(mpsc::TryRecvError::Disconnected) => return Err(stopped()),
            }
        }
        Ok(())
    }

    /// Waits for the job in flight, if any.
    fn wait(&mut self) -> Result<(), DownloadError> {
        if self.in_flight {
            let result = self.done.recv().map_err(|_| stopped())?;
            self.settle(result)?;
        }
        Ok(())
    }

    fn settle(&mut self, result: Result<u64, DownloadError>) -> Result<(), DownloadError> {
        self.in_flight = false;
        self.saved = result?;
        Ok(())
    }

    fn stop(&mut self) -> Result<(), DownloadError> {
        let waited = self.wait();
        self.jobs = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        waited
    }
}

impl Drop for Syncer {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// The error for a helper thread that ended unexpectedly (it panicked).
pub(super) fn stopped() -> DownloadError {
    DownloadError::Io {
        path: PathBuf::from("<download writer>"),
        source: io::Error::other("the download writer thread stopped"),
    }
}
