//! Line framing of the sidecar protocol: one UTF-8 JSON message per line (`\n`, an optional
//! `\r` before it is dropped). A line longer than the limit is reported as [`Frame::TooLong`]
//! and the rest of it is read and thrown away as it arrives, never buffered whole.

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// Longest accepted line, in bytes (1 MiB).
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// One framed input.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// A complete line, without its line ending.
    Line(Vec<u8>),
    /// A line longer than the limit (discarded).
    TooLong,
    /// End of input.
    Eof,
}

/// Reads the next non-empty frame from `reader`, keeping at most `max_bytes` of a line.
///
/// # Errors
/// The reader's I/O errors.
pub async fn next_frame<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    max_bytes: usize,
) -> std::io::Result<Frame> {
    loop {
        let frame = read_line(reader, max_bytes).await?;
        match &frame {
            Frame::Line(line) if line.iter().all(u8::is_ascii_whitespace) => continue,
            _ => return Ok(frame),
        }
    }
}

async fn read_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    max_bytes: usize,
) -> std::io::Result<Frame> {
    let mut line = Vec::new();
    let mut too_long = false;
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Ok(if too_long {
                Frame::TooLong
            } else if line.is_empty() {
                Frame::Eof
            } else {
                Frame::Line(line)
            });
        }
        let (chunk, consumed, done) = match available.iter().position(|b| *b == b'\n') {
            Some(i) => (&available[..i], i + 1, true),
            None => (available, available.len(), false),
        };
        if !too_long {
            if line.len() + chunk.len() > max_bytes {
                too_long = true;
                line = Vec::new();
            } else {
                line.extend_from_slice(chunk);
            }
        }
        reader.consume(consumed);
        if done {
            if too_long {
                return Ok(Frame::TooLong);
            }
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            return Ok(Frame::Line(line));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn frames(input: &[u8], max: usize) -> Vec<Frame> {
        let mut reader = tokio::io::BufReader::with_capacity(4, input);
        let mut out = Vec::new();
        loop {
            let f = next_frame(&mut reader, max).await.unwrap();
            let eof = f == Frame::Eof;
            out.push(f);
            if eof {
                return out;
            }
        }
    }

    #[tokio::test]
    async fn splits_lines_and_skips_blank_ones() {
        assert_eq!(
            frames(b"{\"a\":1}\r\n\n  \n{}\n{\"tail\":0}", 100).await,
            [
                Frame::Line(b"{\"a\":1}".to_vec()),
                Frame::Line(b"{}".to_vec()),
                Frame::Line(b"{\"tail\":0}".to_vec()),
                Frame::Eof
            ]
        );
    }

    #[tokio::test]
    async fn long_line_is_dropped_and_the_next_one_read() {
        let mut input = vec![b'x'; 50];
        input.extend_from_slice(b"\n{}\n");
        input.extend(vec![b'y'; 30]);
        assert_eq!(
            frames(&input, 10).await,
            [
                Frame::TooLong,
                Frame::Line(b"{}".to_vec()),
                Frame::TooLong,
                Frame::Eof
            ]
        );
    }
}
