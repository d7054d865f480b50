//! Reading a patch's two inputs as streams, so that applying a patch holds neither the base tar
//! nor the patch in memory (checked by the tests in `core/tests/patch_stream.rs`).
//!
//! - [`BaseReader`]: the base tar through a small block cache (4 MiB), since bidiff records
//!   jump around the base; a seek before the start of the base is refused.
//! - [`Recording`]: remembers the first I/O error of the reader it wraps, so that a failing
//!   disk is reported as [`PatchError::Io`](super::PatchError::Io), not as a corrupt patch
//!   (codecs only see an `io::Error` and cannot tell the two apart).
//!
//! Codecs that need slices (`bsdiff4`) read the inputs whole instead; see [`super::bsdiff4`].

use std::io::{self, Read, Seek, SeekFrom};

use super::{PatchError, ReadSeek, base_read_error, patch_io_error};

/// Bytes of one cached block of the base tar (4 KiB).
pub(crate) const BASE_BLOCK_BYTES: usize = 4 * 1024;
/// Blocks of the base tar kept in memory (1024: 4 MiB).
pub(crate) const BASE_BLOCKS: usize = 1024;

/// A reader or seeker that keeps the first error (other than `Interrupted`) of `inner`.
pub(crate) struct Recording<R> {
    inner: R,
    error: Option<io::Error>,
}

impl<R> Recording<R> {
    pub(crate) fn new(inner: R) -> Self {
        Self { inner, error: None }
    }

    /// The first error the inner reader returned, if any (taken: a second call gives `None`).
    pub(crate) fn take_error(&mut self) -> Option<io::Error> {
        self.error.take()
    }

    fn record(&mut self, e: io::Error) -> io::Error {
        if e.kind() == io::ErrorKind::Interrupted {
            return e;
        }
        // The caller gets a copy (same kind and message); the original keeps its source.
        let copy = io::Error::new(e.kind(), e.to_string());
        self.error.get_or_insert(e);
        copy
    }
}

impl<R: Read> Read for Recording<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).map_err(|e| self.record(e))
    }
}

impl<R: Seek> Seek for Recording<R> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.inner.seek(pos).map_err(|e| self.record(e))
    }
}

/// The base tar of a patch behind a direct-mapped cache of [`BASE_BLOCKS`] blocks of
/// [`BASE_BLOCK_BYTES`] (at most 4 MiB, allocated as slots are used). Seeks only move a position; a read
/// outside the cached blocks loads one block (one seek, when not already there, and one read).
///
/// Why a cache and not a `BufReader`: bidiff records jump around the base (ruff 0.6.0 → 0.6.1:
/// 80,000 records, 60,000 of them seeking more than 128 KiB, median add 36 bytes). A single
/// buffer pays a seek and a read per record (a 128 KiB buffer made applying 4.5 times slower
/// than reading the base into memory; 4 KiB still 1.4 times); this cache loads about 17,000
/// blocks (69 MB of reads from the page cache) for the whole patch.
pub(crate) struct BaseReader<'a> {
    inner: Recording<&'a mut dyn ReadSeek>,
    /// Where `inner` is, in bytes from the start of the base (`None`: unknown after an error).
    inner_pos: Option<u64>,
    /// Position of the next read, in bytes from the start of the base.
    pos: u64,
    /// The cached blocks, slot `i` at `i * BASE_BLOCK_BYTES` (grown on first use of a slot).
    data: Vec<u8>,
    /// Per slot: the block it holds (`u64::MAX`: none) and its valid length in bytes (short
    /// only for the last block of the base).
    slots: Vec<(u64, usize)>,
}

impl<'a> BaseReader<'a> {
    /// Wraps `old`; positions count from its start, and reading starts at its current position.
    ///
    /// # Errors
    /// When the current position of `old` cannot be read.
    pub(crate) fn new(old: &'a mut dyn ReadSeek) -> io::Result<Self> {
        let mut inner = Recording::new(old);
        let pos = inner.stream_position()?;
        Ok(Self {
            inner,
            inner_pos: Some(pos),
            pos,
            // Grows up to the highest slot used: a small base allocates little.
            data: Vec::new(),
            slots: vec![(u64::MAX, 0); BASE_BLOCKS],
        })
    }

    /// The first I/O error of the underlying base, if any.
    pub(crate) fn take_error(&mut self) -> Option<io::Error> {
        self.inner.take_error()
    }

    /// Loads `block` into its slot (unless there) and returns the slot index.
    fn load(&mut self, block: u64) -> io::Result<usize> {
        let slot = (block % BASE_BLOCKS as u64) as usize;
        if self.slots[slot].0 == block {
            return Ok(slot);
        }
        let start = block * BASE_BLOCK_BYTES as u64;
        if self.inner_pos != Some(start) {
            self.inner_pos = None;
            self.inner.seek(SeekFrom::Start(start))?;
        }
        // Invalid until filled: an error below must not leave a half-read block behind.
        self.slots[slot] = (u64::MAX, 0);
        let end = (slot + 1) * BASE_BLOCK_BYTES;
        if self.data.len() < end {
            self.data.resize(end, 0);
        }
        let buf = &mut self.data[slot * BASE_BLOCK_BYTES..(slot + 1) * BASE_BLOCK_BYTES];
        let mut filled = 0;
        while filled < buf.len() {
            match self.inner.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.inner_pos = Some(start + filled as u64);
        self.slots[slot] = (block, filled);
        Ok(slot)
    }
}

impl Read for BaseReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        let block = self.pos / BASE_BLOCK_BYTES as u64;
        let offset = (self.pos % BASE_BLOCK_BYTES as u64) as usize;
        let slot = self.load(block)?;
        let valid = self.slots[slot].1;
        if offset >= valid {
            return Ok(0); // at or past the end of the base
        }
        let n = out.len().min(valid - offset);
        let from = slot * BASE_BLOCK_BYTES + offset;
        out[..n].copy_from_slice(&self.data[from..from + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for BaseReader<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::Current(delta) => self.pos.checked_add_signed(delta),
            SeekFrom::End(delta) => {
                self.inner_pos = None;
                let end = self.inner.seek(SeekFrom::End(0))?;
                self.inner_pos = Some(end);
                end.checked_add_signed(delta)
            }
        };
        self.pos = target.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("patch seeks {to:?} from offset {} of the base", self.pos),
            )
        })?;
        Ok(self.pos)
    }

    fn stream_position(&mut self) -> io::Result<u64> {
        Ok(self.pos)
    }
}

/// What a codec reported as a corrupt patch may be a failing input: when `base` or `patch`
/// recorded an I/O error, `result`'s [`PatchError::Corrupt`] becomes that input's
/// [`PatchError::Io`] (the base first); any other result is returned as is.
pub(crate) fn blame_inputs<R>(
    result: Result<u64, PatchError>,
    base: &mut BaseReader<'_>,
    patch: &mut Recording<R>,
) -> Result<u64, PatchError> {
    match result {
        Err(PatchError::Corrupt { codec, reason }) => Err(match base.take_error() {
            Some(e) => base_read_error(e),
            None => match patch.take_error() {
                Some(e) => patch_io_error(e),
                None => PatchError::Corrupt { codec, reason },
            },
        }),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;

    /// A base that counts the reads reaching it and fails once asked to.
    struct Counting {
        data: Cursor<Vec<u8>>,
        reads: usize,
        fail: bool,
    }

    impl Read for Counting {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.fail {
                return Err(io::Error::other("disk on fire"));
            }
            self.reads += 1;
            self.data.read(buf)
        }
    }

    impl Seek for Counting {
        fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
            self.data.seek(pos)
        }
    }

    fn counting(len: usize) -> Counting {
        Counting {
            data: Cursor::new((0..len).map(|i| (i % 251) as u8).collect()),
            reads: 0,
            fail: false,
        }
    }

    #[test]
    fn reads_and_seeks_match_the_base() {
        let len = BASE_BLOCKS * BASE_BLOCK_BYTES * 2 + 1234; // more than the cache, a short end
        let mut base = counting(len);
        let expected = base.data.get_ref().clone();
        let mut reader = BaseReader::new(&mut base).unwrap();
        // Deterministic pseudo-random walk: relative seeks both ways, reads of varied sizes.
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut pos = 0u64;
        for _ in 0..5_000 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            let target = (state >> 33) % len as u64;
            let delta = target as i64 - pos as i64;
            assert_eq!(reader.seek(SeekFrom::Current(delta)).unwrap(), target);
            let want = ((state >> 20) % 20_000) as usize;
            let mut got = vec![0u8; want];
            let n = reader.read(&mut got).unwrap();
            let avail = len - target as usize;
            if want == 0 {
                assert_eq!(n, 0);
            } else {
                assert!(n >= 1 && n <= want.min(avail), "{n} of {want}");
            }
            assert_eq!(&got[..n], &expected[target as usize..target as usize + n]);
            pos = target + n as u64;
            assert_eq!(reader.stream_position().unwrap(), pos);
        }
        // The end reads as the end.
        reader.seek(SeekFrom::Start(len as u64 - 2)).unwrap();
        let mut rest = Vec::new();
        reader.read_to_end(&mut rest).unwrap();
        assert_eq!(rest, &expected[len - 2..]);
        assert_eq!(reader.seek(SeekFrom::End(-1)).unwrap(), len as u64 - 1);
    }

    #[test]
    fn seeks_inside_cached_blocks_do_not_read_again() {
        let mut base = counting(1 << 20);
        let mut reader = BaseReader::new(&mut base).unwrap();
        let mut four = [0u8; 4];
        reader.read_exact(&mut four).unwrap();
        assert_eq!(four, [0, 1, 2, 3]);
        reader.seek(SeekFrom::Current(100_000)).unwrap();
        reader.read_exact(&mut four).unwrap();
        assert_eq!(four[0], (100_004 % 251) as u8);
        reader.seek(SeekFrom::Current(-100_008)).unwrap();
        reader.read_exact(&mut four).unwrap();
        assert_eq!(four, [0, 1, 2, 3]);
        reader.seek(SeekFrom::Current(100_000)).unwrap();
        reader.read_exact(&mut four).unwrap();
        drop(reader);
        assert_eq!(base.reads, 2, "two blocks, each read once");
    }

    #[test]
    fn seeking_before_the_start_is_invalid_data() {
        let mut base = counting(100);
        let mut reader = BaseReader::new(&mut base).unwrap();
        reader.seek(SeekFrom::Current(10)).unwrap();
        let err = reader.seek(SeekFrom::Current(-11)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(reader.take_error().is_none(), "not a base i/o error");
        // Past the end is allowed; reading there finds the end.
        reader.seek(SeekFrom::Current(1000)).unwrap();
        let mut one = [0u8; 1];
        assert_eq!(
            reader.read_exact(&mut one).unwrap_err().kind(),
            io::ErrorKind::UnexpectedEof
        );
    }

    #[test]
    fn inner_errors_are_recorded() {
        let mut base = counting(100);
        base.fail = true;
        let mut reader = BaseReader::new(&mut base).unwrap();
        let err = reader.read(&mut [0u8; 8]).unwrap_err();
        assert_eq!(err.to_string(), "disk on fire");
        assert_eq!(reader.take_error().unwrap().to_string(), "disk on fire");
        assert!(reader.take_error().is_none());
    }
}
