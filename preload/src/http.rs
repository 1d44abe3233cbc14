//! The HTTP/1.1 exchange with the server, as bytes: the request the library sends and a parser
//! for the answer (`Content-Length`, chunked, or close-delimited bodies).

use crate::buf::{Counter, Sink, put_u64};
use crate::json::Escaping;
use crate::render::Command;

/// Largest request body sent (the server refuses bigger ones).
pub const MAX_REQUEST_BODY: usize = 1 << 20;
/// Largest answer body read.
pub const MAX_RESPONSE_BODY: usize = 64 * 1024;
/// Largest answer head (status line and headers) read.
pub const MAX_RESPONSE_HEAD: usize = 16 * 1024;

/// What goes into one preflight request.
pub struct Request<'a> {
    /// `Host` header value (`127.0.0.1:9090`).
    pub host: &'a [u8],
    /// Path prefix from the URL (no trailing slash; usually empty).
    pub base_path: &'a [u8],
    /// Bearer token, if any.
    pub token: Option<&'a [u8]>,
    /// `agent`, already a JSON string literal (with quotes).
    pub agent_json: &'a [u8],
    /// `session`, already a JSON string literal (with quotes).
    pub session_json: &'a [u8],
    /// The command being judged.
    pub command: Command<'a>,
    /// `enforce` flag (true at the execution boundary).
    pub enforce: bool,
}

impl Request<'_> {
    fn body<S: Sink>(&self, out: &mut S) {
        out.put(b"{\"agent\":");
        out.put(self.agent_json);
        out.put(b",\"session\":");
        out.put(self.session_json);
        out.put(b",\"params\":{\"command\":\"");
        self.command.render(&mut Escaping(out));
        out.put(b"\"},\"enforce\":");
        out.put(if self.enforce { b"true" } else { b"false" });
        out.put(b"}");
    }

    /// Length of the JSON body.
    pub fn body_len(&self) -> usize {
        let mut c = Counter::default();
        self.body(&mut c);
        c.0
    }

    /// Writes the whole request; `body_len` must be [`Request::body_len`].
    pub fn write<S: Sink>(&self, out: &mut S, body_len: usize) {
        out.put(b"POST ");
        out.put(self.base_path);
        out.put(b"/v1/preflight/exec HTTP/1.1\r\nHost: ");
        out.put(self.host);
        if let Some(t) = self.token {
            out.put(b"\r\nAuthorization: Bearer ");
            out.put(t);
        }
        out.put(b"\r\nContent-Type: application/json\r\nAccept: application/json\r\nConnection: close\r\nContent-Length: ");
        put_u64(out, body_len as u64);
        out.put(b"\r\n\r\n");
        self.body(out);
    }

    /// Length of the whole request.
    pub fn len(&self, body_len: usize) -> usize {
        let mut c = Counter::default();
        self.write(&mut c, body_len);
        c.0
    }
}

/// Parser state for an answer read so far.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// More bytes are needed.
    Incomplete,
    /// A whole answer: status and the body's byte range in the buffer (after de-chunking in
    /// place).
    Done {
        /// HTTP status code.
        status: u16,
        /// Start of the body.
        start: usize,
        /// End of the body.
        end: usize,
    },
    /// Not an HTTP/1.x answer this library accepts, or over the size limits.
    Bad,
}

fn find(h: &[u8], needle: &[u8]) -> Option<usize> {
    h.windows(needle.len()).position(|w| w == needle)
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

fn parse_dec(s: &[u8]) -> Option<usize> {
    if s.is_empty() || s.len() > 12 {
        return None;
    }
    let mut v = 0usize;
    for c in s {
        let d = (*c as char).to_digit(10)?;
        v = v.checked_mul(10)?.checked_add(d as usize)?;
    }
    Some(v)
}

fn parse_hex(s: &[u8]) -> Option<usize> {
    if s.is_empty() || s.len() > 8 {
        return None;
    }
    let mut v = 0usize;
    for c in s {
        let d = (*c as char).to_digit(16)?;
        v = v.checked_mul(16)?.checked_add(d as usize)?;
    }
    Some(v)
}

enum Framing {
    Length(usize),
    Chunked,
    Close,
}

/// Status line and framing from the head (everything before the blank line).
fn head(h: &[u8]) -> Option<(u16, Framing)> {
    let mut lines = h
        .split(|b| *b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let status_line = lines.next()?;
    let rest = status_line
        .strip_prefix(b"HTTP/1.1 ")
        .or_else(|| status_line.strip_prefix(b"HTTP/1.0 "))?;
    let code = parse_dec(rest.get(..3)?)?;
    if !(100..=599).contains(&code) || rest.get(3).is_some_and(|c| *c != b' ') {
        return None;
    }
    let mut framing = Framing::Close;
    let mut seen_length = false;
    for line in lines {
        let colon = line.iter().position(|b| *b == b':')?;
        let name = line.get(..colon)?;
        let value = trim(line.get(colon.saturating_add(1)..)?);
        if name.eq_ignore_ascii_case(b"content-length") {
            if seen_length {
                return None;
            }
            seen_length = true;
            if !matches!(framing, Framing::Chunked) {
                framing = Framing::Length(parse_dec(value)?);
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            if value.eq_ignore_ascii_case(b"chunked") {
                framing = Framing::Chunked;
            } else {
                return None;
            }
        }
    }
    Some((u16::try_from(code).ok()?, framing))
}

/// Scans a chunked body starting at `start`; `Some(Ok(end_of_message))` when the terminating
/// chunk has arrived, `Some(Err(()))` on malformed framing, `None` when incomplete.
fn chunks_complete(buf: &[u8], start: usize) -> Option<Result<usize, ()>> {
    let mut i = start;
    let mut total = 0usize;
    loop {
        let rest = buf.get(i..)?;
        let eol = find(rest, b"\r\n")?;
        let line = rest.get(..eol)?;
        let size_part = line.split(|b| *b == b';').next().unwrap_or(line);
        let Some(size) = parse_hex(trim(size_part)) else {
            return Some(Err(()));
        };
        total = total.saturating_add(size);
        if total > MAX_RESPONSE_BODY {
            return Some(Err(()));
        }
        i = i.saturating_add(eol).saturating_add(2);
        if size == 0 {
            // Trailer section: lines until an empty one.
            loop {
                let rest = buf.get(i..)?;
                let eol = find(rest, b"\r\n")?;
                i = i.saturating_add(eol).saturating_add(2);
                if eol == 0 {
                    return Some(Ok(i));
                }
            }
        }
        let data_end = i.saturating_add(size);
        if buf.len() < data_end.saturating_add(2) {
            return None;
        }
        if buf.get(data_end..data_end.saturating_add(2)) != Some(b"\r\n") {
            return Some(Err(()));
        }
        i = data_end.saturating_add(2);
    }
}

/// Compacts a complete chunked body in place; returns its end (it starts at `start`).
fn dechunk(buf: &mut [u8], start: usize) -> Option<usize> {
    let mut r = start;
    let mut w = start;
    loop {
        let eol = find(buf.get(r..)?, b"\r\n")?;
        let line = buf.get(r..r.saturating_add(eol))?;
        let size_part = line.split(|b| *b == b';').next().unwrap_or(line);
        let size = parse_hex(trim(size_part))?;
        r = r.saturating_add(eol).saturating_add(2);
        if size == 0 {
            return Some(w);
        }
        let end = r.checked_add(size)?;
        if end > buf.len() {
            return None;
        }
        buf.copy_within(r..end, w);
        w = w.saturating_add(size);
        r = end.saturating_add(2);
    }
}

/// Parses the answer held in `buf` (`eof`: the peer closed the connection).
pub fn parse(buf: &mut [u8], eof: bool) -> Parsed {
    let Some(head_end) = find(buf, b"\r\n\r\n") else {
        return if eof || buf.len() > MAX_RESPONSE_HEAD {
            Parsed::Bad
        } else {
            Parsed::Incomplete
        };
    };
    if head_end > MAX_RESPONSE_HEAD {
        return Parsed::Bad;
    }
    let Some((status, framing)) = buf.get(..head_end).and_then(head) else {
        return Parsed::Bad;
    };
    let start = head_end.saturating_add(4);
    match framing {
        Framing::Length(n) => {
            if n > MAX_RESPONSE_BODY {
                return Parsed::Bad;
            }
            let end = start.saturating_add(n);
            if buf.len() >= end {
                Parsed::Done { status, start, end }
            } else if eof {
                Parsed::Bad
            } else {
                Parsed::Incomplete
            }
        }
        Framing::Chunked => match chunks_complete(buf, start) {
            Some(Ok(_)) => match dechunk(buf, start) {
                Some(end) => Parsed::Done { status, start, end },
                None => Parsed::Bad,
            },
            Some(Err(())) => Parsed::Bad,
            None if eof => Parsed::Bad,
            None => Parsed::Incomplete,
        },
        Framing::Close => {
            if buf.len().saturating_sub(start) > MAX_RESPONSE_BODY {
                Parsed::Bad
            } else if eof {
                Parsed::Done {
                    status,
                    start,
                    end: buf.len(),
                }
            } else {
                Parsed::Incomplete
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buf::SliceBuf;

    #[test]
    fn request_bytes() {
        let r = Request {
            host: b"127.0.0.1:9090",
            base_path: b"",
            token: Some(b"tok"),
            agent_json: b"\"preload\"",
            session_json: b"\"s-1\"",
            command: Command::Shell(b"echo \"hi\"\n"),
            enforce: true,
        };
        let n = r.body_len();
        let mut raw = vec![0u8; 1024];
        let mut b = SliceBuf::new(&mut raw);
        r.write(&mut b, n);
        assert_eq!(b.len(), r.len(n));
        let text = String::from_utf8(b.bytes().to_vec()).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("POST /v1/preflight/exec HTTP/1.1\r\nHost: 127.0.0.1:9090\r\n"));
        assert!(head.contains("\r\nAuthorization: Bearer tok\r\n"));
        assert!(head.contains(&format!("\r\nContent-Length: {n}")));
        assert_eq!(
            body,
            r#"{"agent":"preload","session":"s-1","params":{"command":"echo \"hi\"\n"},"enforce":true}"#
        );
        assert_eq!(body.len(), n);
    }

    fn p(s: &[u8], eof: bool) -> (Parsed, Vec<u8>) {
        let mut v = s.to_vec();
        let r = parse(&mut v, eof);
        let body = match r {
            Parsed::Done { start, end, .. } => v[start..end].to_vec(),
            _ => vec![],
        };
        (r, body)
    }

    #[test]
    fn content_length() {
        let full =
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 5\r\n\r\nhello";
        assert_eq!(p(full, false).1, b"hello");
        assert_eq!(p(&full[..full.len() - 1], false).0, Parsed::Incomplete);
        assert_eq!(p(&full[..full.len() - 1], true).0, Parsed::Bad);
        assert_eq!(p(&full[..20], false).0, Parsed::Incomplete);
        assert_eq!(p(&full[..20], true).0, Parsed::Bad);
    }

    #[test]
    fn chunked_and_close() {
        let c = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n";
        assert_eq!(p(c, false).1, b"abcde");
        assert_eq!(p(&c[..c.len() - 2], false).0, Parsed::Incomplete);
        let bad = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n";
        assert_eq!(p(bad, false).0, Parsed::Bad);
        let close = b"HTTP/1.0 503 Service Unavailable\r\n\r\n{}";
        assert_eq!(p(close, false).0, Parsed::Incomplete);
        let (r, body) = p(close, true);
        assert!(matches!(r, Parsed::Done { status: 503, .. }));
        assert_eq!(body, b"{}");
    }

    #[test]
    fn rejects_bad_heads_and_oversize() {
        for h in [
            &b"HTTP/2 200 OK\r\n\r\n"[..],
            b"HTTP/1.1 20 OK\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
            b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
        ] {
            assert_eq!(p(h, true).0, Parsed::Bad, "{}", String::from_utf8_lossy(h));
        }
        let big = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
            MAX_RESPONSE_BODY + 1
        );
        assert_eq!(p(big.as_bytes(), false).0, Parsed::Bad);
        let long_head = vec![b'a'; MAX_RESPONSE_HEAD + 1];
        assert_eq!(p(&long_head, false).0, Parsed::Bad);
    }
}
