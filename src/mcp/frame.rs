//! Newline-delimited frames with a size limit: a line is read whole (terminator included, so it
//! can be relayed byte for byte); a line over the limit is skipped to its end without being
//! buffered.

use std::io::{self, BufRead};

/// One read from a stream of newline-delimited frames.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// One line including its `\n` (the last line of a stream may lack it).
    Line(Vec<u8>),
    /// A line longer than the limit was skipped; `head` holds its first bytes.
    TooLong {
        /// The line's first bytes (at most 256), for the log line.
        head: Vec<u8>,
        /// Bytes skipped, terminator included.
        len: usize,
    },
    /// End of stream.
    Eof,
}

/// Reads frames of at most `max` bytes (terminator included) from a buffered reader.
pub struct FrameReader<R> {
    inner: R,
    max: usize,
}

impl<R: BufRead> FrameReader<R> {
    /// A reader over `inner` that refuses frames larger than `max` bytes.
    pub fn new(inner: R, max: usize) -> Self {
        FrameReader { inner, max }
    }

    /// The next frame; I/O errors other than `Interrupted` are returned.
    pub fn next_frame(&mut self) -> io::Result<Frame> {
        let mut line = Vec::new();
        let mut skipped: Option<(Vec<u8>, usize)> = None;
        loop {
            let buf = match self.inner.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if buf.is_empty() {
                return Ok(match skipped {
                    Some((head, len)) => Frame::TooLong { head, len },
                    None if line.is_empty() => Frame::Eof,
                    None => Frame::Line(line),
                });
            }
            let (chunk, done) = match memchr::memchr(b'\n', buf) {
                Some(i) => (&buf[..=i], true),
                None => (buf, false),
            };
            let n = chunk.len();
            match &mut skipped {
                Some((_, len)) => *len += n,
                None if line.len() + n > self.max => {
                    let mut head = std::mem::take(&mut line);
                    head.extend_from_slice(chunk);
                    let len = head.len();
                    head.truncate(256);
                    skipped = Some((head, len));
                }
                None => line.extend_from_slice(chunk),
            }
            self.inner.consume(n);
            if done {
                return Ok(match skipped {
                    Some((head, len)) => Frame::TooLong { head, len },
                    None => Frame::Line(line),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(input: &[u8], max: usize, cap: usize) -> Vec<Frame> {
        let r = io::BufReader::with_capacity(cap, input);
        let mut fr = FrameReader::new(r, max);
        let mut out = Vec::new();
        loop {
            match fr.next_frame().expect("read") {
                Frame::Eof => return out,
                f => out.push(f),
            }
        }
    }

    #[test]
    fn lines_keep_their_terminators() {
        let got = frames(b"{\"a\":1}\r\n\n{}", 100, 3);
        assert_eq!(
            got,
            vec![
                Frame::Line(b"{\"a\":1}\r\n".to_vec()),
                Frame::Line(b"\n".to_vec()),
                Frame::Line(b"{}".to_vec()),
            ]
        );
    }

    #[test]
    fn long_lines_are_skipped_whole() {
        let mut input = vec![b'x'; 50];
        input.push(b'\n');
        input.extend_from_slice(b"ok\n");
        let got = frames(&input, 10, 4);
        assert!(
            matches!(&got[0], Frame::TooLong { len: 51, head } if head.starts_with(b"xxxxxxxx") && head.len() <= 51)
        );
        assert_eq!(got[1], Frame::Line(b"ok\n".to_vec()));
    }

    #[test]
    fn exact_limit_fits() {
        let got = frames(b"12345\n", 6, 2);
        assert_eq!(got, vec![Frame::Line(b"12345\n".to_vec())]);
        let got = frames(b"123456\n", 6, 2);
        assert!(matches!(got[0], Frame::TooLong { len: 7, .. }));
    }
}
