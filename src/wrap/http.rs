//! The shim's HTTP: one `POST` to the run's loopback server per command, over a plain
//! `TcpStream` with `Connection: close`. The shim starts once per shell command, so it avoids a
//! general client's setup (resolver thread, connection pool): the server is always an IP
//! literal (or `localhost`) on this machine, and a URL naming any other host is refused, so the
//! token never leaves it.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Largest response read.
const MAX_RESPONSE: usize = 1 << 20;

/// Why no HTTP answer was had.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The URL is not `http://<loopback address>:<port>`.
    #[error("{0:?} is not a loopback http URL")]
    Url(String),
    /// Connecting, sending or receiving failed (or timed out).
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The answer is not HTTP/1.x or exceeds the size limit.
    #[error("malformed HTTP response: {0}")]
    Malformed(&'static str),
}

/// The loopback address of `base` (`http://127.0.0.1:PORT`, `http://[::1]:PORT`,
/// `http://localhost:PORT`, trailing `/` allowed).
pub fn loopback_addr(base: &str) -> Result<SocketAddr, HttpError> {
    let bad = || HttpError::Url(base.to_string());
    let rest = base.strip_prefix("http://").ok_or_else(bad)?;
    let hostport = rest.strip_suffix('/').unwrap_or(rest);
    let (host, port) = hostport.rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let ip: IpAddr = if host.eq_ignore_ascii_case("localhost") {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        host.parse().map_err(|_| bad())?
    };
    if !ip.is_loopback() || port == 0 {
        return Err(bad());
    }
    Ok(SocketAddr::new(ip, port))
}

/// `POST <path>` with a bearer token and a JSON body; the status and body of the answer.
/// `connect` bounds the connection, `total` the whole exchange.
pub fn post_json(
    addr: SocketAddr,
    path: &str,
    token: &str,
    body: &str,
    connect: Duration,
    total: Duration,
) -> Result<(u16, Vec<u8>), HttpError> {
    let started = Instant::now();
    let mut s = TcpStream::connect_timeout(&addr, connect)?;
    s.set_nodelay(true)?;
    let left = || {
        total
            .saturating_sub(started.elapsed())
            .max(Duration::from_millis(1))
    };
    s.set_write_timeout(Some(left()))?;
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nAccept: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(&[head.as_bytes(), body.as_bytes()].concat())?;
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 8192];
    loop {
        s.set_read_timeout(Some(left()))?;
        let n = s.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > MAX_RESPONSE {
            return Err(HttpError::Malformed("response too large"));
        }
        if complete(&buf) {
            break;
        }
    }
    parse(&buf)
}

/// Where the head ends (index of the body's first byte).
fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// The value of header `name` (lower-case) in `head`.
fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.split("\r\n").skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Whether a response with a `Content-Length` has fully arrived (others end at EOF).
fn complete(buf: &[u8]) -> bool {
    let Some(end) = head_end(buf) else {
        return false;
    };
    let head = String::from_utf8_lossy(&buf[..end]);
    header(&head, "content-length")
        .and_then(|v| v.parse::<usize>().ok())
        .is_some_and(|len| buf.len() - end >= len)
}

fn parse(buf: &[u8]) -> Result<(u16, Vec<u8>), HttpError> {
    let end = head_end(buf).ok_or(HttpError::Malformed("no header end"))?;
    let head = std::str::from_utf8(&buf[..end]).map_err(|_| HttpError::Malformed("head"))?;
    let status_line = head.split("\r\n").next().unwrap_or("");
    let mut parts = status_line.split(' ');
    if !parts.next().is_some_and(|v| v.starts_with("HTTP/1.")) {
        return Err(HttpError::Malformed("status line"));
    }
    let code: u16 = parts
        .next()
        .and_then(|c| c.parse().ok())
        .ok_or(HttpError::Malformed("status code"))?;
    let body = &buf[end..];
    let body = if header(head, "transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        dechunk(body)?
    } else if let Some(len) = header(head, "content-length").and_then(|v| v.parse::<usize>().ok()) {
        body.get(..len)
            .ok_or(HttpError::Malformed("truncated body"))?
            .to_vec()
    } else {
        body.to_vec()
    };
    Ok((code, body))
}

fn dechunk(mut b: &[u8]) -> Result<Vec<u8>, HttpError> {
    let mut out = Vec::new();
    loop {
        let line_end = b
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or(HttpError::Malformed("chunk size"))?;
        let size_text =
            std::str::from_utf8(&b[..line_end]).map_err(|_| HttpError::Malformed("chunk size"))?;
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| HttpError::Malformed("chunk size"))?;
        b = &b[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        let data = b
            .get(..size)
            .ok_or(HttpError::Malformed("truncated chunk"))?;
        out.extend_from_slice(data);
        b = b
            .get(size + 2..)
            .ok_or(HttpError::Malformed("truncated chunk"))?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_urls() {
        assert_eq!(
            loopback_addr("http://127.0.0.1:9090").unwrap(),
            "127.0.0.1:9090".parse().unwrap()
        );
        assert!(loopback_addr("http://localhost:80/").is_ok());
        assert!(loopback_addr("http://[::1]:80").is_ok());
        for bad in [
            "https://127.0.0.1:9090",
            "http://10.0.0.1:9090",
            "http://example.com:80",
            "http://127.0.0.1",
            "http://127.0.0.1:0",
            "http://user@127.0.0.1:80",
            "127.0.0.1:80",
        ] {
            assert!(loopback_addr(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn responses() {
        let (c, b) = parse(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 2\r\n\r\n{}").unwrap();
        assert_eq!((c, b.as_slice()), (403, &b"{}"[..]));
        let (c, b) =
            parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
                .unwrap();
        assert_eq!((c, b.as_slice()), (200, &b"abcde"[..]));
        assert!(parse(b"garbage").is_err());
        assert!(parse(b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\n{}").is_err());
        assert!(complete(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"));
        assert!(!complete(b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\n{}"));
    }
}
