//! The library's configuration, read once from the environment when it is loaded.

use crate::decide::Mode;
use crate::json::put_escaped;
use std::ffi::CString;

/// Server URL used when `RAMPART_URL` is unset or empty.
pub const DEFAULT_URL: &[u8] = b"http://127.0.0.1:9090";
/// Longest accepted `RAMPART_TOKEN`.
pub const MAX_TOKEN: usize = 4096;
/// Default bound on one exchange with the server, connect included (`RAMPART_TIMEOUT_MS`).
pub const DEFAULT_TIMEOUT_MS: u32 = 2000;
/// Default bound on the connect alone.
pub const CONNECT_TIMEOUT_MS: u32 = 1000;

/// A loopback socket address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Addr {
    /// IPv4 address and port.
    V4([u8; 4], u16),
    /// IPv6 address and port.
    V6([u8; 16], u16),
}

/// Where the server is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Socket address.
    pub addr: Addr,
    /// `Host` header value (the URL's authority).
    pub host: Vec<u8>,
    /// Path prefix before `/v1/...` (no trailing slash).
    pub base_path: Vec<u8>,
}

/// The snapshot taken at load.
#[derive(Debug)]
pub struct Config {
    /// `RAMPART_MODE`.
    pub mode: Mode,
    /// Transport failures and 5xx run the call (with a warning) instead of refusing it.
    pub fail_open: bool,
    /// `RAMPART_DEBUG=1`: one `[rampart]` line per check (never the command itself).
    pub debug: bool,
    /// The server, or why the URL was refused (every check then fails safe).
    pub endpoint: Result<Endpoint, &'static str>,
    /// The bearer token, or why it was refused.
    pub token: Result<Option<Vec<u8>>, &'static str>,
    /// `RAMPART_URL` as given, for messages.
    pub url: Vec<u8>,
    /// `agent` as a JSON string literal.
    pub agent_json: Vec<u8>,
    /// `session` as a JSON string literal.
    pub session_json: Vec<u8>,
    /// Bound on one exchange, in milliseconds.
    pub timeout_ms: u32,
    /// `LD_PRELOAD=` and `RAMPART_*=` entries to put back into every child environment.
    pub keep_env: Vec<CString>,
}

/// Whether an environment entry is one the library owns in children.
pub fn is_owned_entry(e: &[u8]) -> bool {
    e.starts_with(b"LD_PRELOAD=") || e.starts_with(b"RAMPART_")
}

fn lookup<'a>(env: &[&'a [u8]], name: &[u8]) -> Option<&'a [u8]> {
    env.iter().find_map(|e| {
        e.strip_prefix(name)
            .and_then(|rest| rest.strip_prefix(b"="))
    })
}

fn json_literal(s: &[u8]) -> Vec<u8> {
    struct V(Vec<u8>);
    impl crate::buf::Sink for V {
        fn put(&mut self, b: &[u8]) {
            self.0.extend_from_slice(b);
        }
    }
    let mut v = V(vec![b'"']);
    put_escaped(&mut v, s);
    v.0.push(b'"');
    v.0
}

fn parse_port(s: &[u8]) -> Result<u16, &'static str> {
    if s.is_empty() || s.len() > 5 || !s.iter().all(u8::is_ascii_digit) {
        return Err("bad port in RAMPART_URL");
    }
    std::str::from_utf8(s)
        .ok()
        .and_then(|s| s.parse::<u16>().ok())
        .filter(|p| *p != 0)
        .ok_or("bad port in RAMPART_URL")
}

fn parse_v4(s: &[u8]) -> Option<[u8; 4]> {
    let mut out = [0u8; 4];
    let mut parts = s.split(|b| *b == b'.');
    for slot in out.iter_mut() {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 3 || !p.iter().all(u8::is_ascii_digit) {
            return None;
        }
        *slot = std::str::from_utf8(p).ok()?.parse().ok()?;
    }
    if parts.next().is_some() {
        return None;
    }
    Some(out)
}

/// Parses `RAMPART_URL`: `http://HOST[:PORT][/PREFIX]` with a loopback HOST (`127.x.x.x`,
/// `localhost`, `[::1]`). Refused: other schemes (no TLS in the library), other hosts (the
/// token must not leave the machine in clear text), userinfo, `?`, `#`, `\`, spaces and
/// control characters.
pub fn parse_url(raw: &[u8]) -> Result<Endpoint, &'static str> {
    let mut u = if raw.is_empty() { DEFAULT_URL } else { raw };
    while let Some(rest) = u.strip_suffix(b"/") {
        u = rest;
    }
    if u.iter()
        .any(|b| *b <= 0x20 || *b == 0x7f || matches!(b, b'\\' | b'?' | b'#' | b'@'))
    {
        return Err("RAMPART_URL has a forbidden character (space, control, \\, ?, # or @)");
    }
    let scheme_end = u
        .windows(3)
        .position(|w| w == b"://")
        .ok_or("RAMPART_URL is not an http:// URL")?;
    let scheme = u.get(..scheme_end).unwrap_or(&[]);
    if scheme.eq_ignore_ascii_case(b"https") {
        return Err(
            "RAMPART_URL uses https, which the preload library does not speak; use a loopback http:// URL",
        );
    }
    if !scheme.eq_ignore_ascii_case(b"http") {
        return Err("RAMPART_URL is not an http:// URL");
    }
    let rest = u.get(scheme_end.saturating_add(3)..).unwrap_or(&[]);
    let (authority, path) = match rest.iter().position(|b| *b == b'/') {
        Some(i) => (rest.get(..i).unwrap_or(&[]), rest.get(i..).unwrap_or(&[])),
        None => (rest, &[][..]),
    };
    let (host, port) = if let Some(inner) = authority.strip_prefix(b"[") {
        let close = inner
            .iter()
            .position(|b| *b == b']')
            .ok_or("bad IPv6 host in RAMPART_URL")?;
        let host = inner.get(..close).unwrap_or(&[]);
        let after = inner.get(close.saturating_add(1)..).unwrap_or(&[]);
        let port = match after {
            [] => 80,
            [b':', p @ ..] => parse_port(p)?,
            _ => return Err("bad IPv6 host in RAMPART_URL"),
        };
        if host != b"::1" && host != b"0:0:0:0:0:0:0:1" {
            return Err("RAMPART_URL must name a loopback host (127.0.0.1, localhost or [::1])");
        }
        let mut a = [0u8; 16];
        if let Some(last) = a.last_mut() {
            *last = 1;
        }
        (Addr::V6(a, 0), port)
    } else {
        let (h, port) = match authority.iter().rposition(|b| *b == b':') {
            Some(i) => (
                authority.get(..i).unwrap_or(&[]),
                parse_port(authority.get(i.saturating_add(1)..).unwrap_or(&[]))?,
            ),
            None => (authority, 80),
        };
        if h.is_empty() {
            return Err("RAMPART_URL has no host");
        }
        let v4 = if h.eq_ignore_ascii_case(b"localhost") {
            [127, 0, 0, 1]
        } else {
            match parse_v4(h) {
                Some(a) if a[0] == 127 => a,
                _ => {
                    return Err(
                        "RAMPART_URL must name a loopback host (127.0.0.1, localhost or [::1])",
                    );
                }
            }
        };
        (Addr::V4(v4, 0), port)
    };
    let addr = match host {
        Addr::V4(a, _) => Addr::V4(a, port),
        Addr::V6(a, _) => Addr::V6(a, port),
    };
    Ok(Endpoint {
        addr,
        host: authority.to_vec(),
        base_path: path.to_vec(),
    })
}

fn parse_token(t: Option<&[u8]>) -> Result<Option<Vec<u8>>, &'static str> {
    match t {
        None | Some(b"") => Ok(None),
        Some(t) if t.len() > MAX_TOKEN => Err("RAMPART_TOKEN is longer than 4096 bytes"),
        Some(t) if t.iter().any(|b| *b < 0x20 || *b == 0x7f) => {
            Err("RAMPART_TOKEN contains a control character")
        }
        Some(t) => Ok(Some(t.to_vec())),
    }
}

impl Config {
    /// Builds the snapshot from environment entries (`NAME=value`, first occurrence wins, as
    /// with `getenv`); `pid` names the default session.
    pub fn from_env(env: &[&[u8]], pid: u32) -> Config {
        let get = |n: &[u8]| lookup(env, n);
        let mode = match get(b"RAMPART_MODE") {
            Some(b"monitor" | b"audit") => Mode::Monitor,
            Some(b"disabled") => Mode::Disabled,
            _ => Mode::Enforce,
        };
        // RAMPART_FAIL_OPEN (the Go library's variable): unset or exactly "1" is open.
        let open_by_legacy = matches!(get(b"RAMPART_FAIL_OPEN"), None | Some(b"1"));
        let closed = matches!(get(b"RAMPART_FAIL_CLOSED"), Some(v) if !v.is_empty() && v != b"0");
        let url = get(b"RAMPART_URL").unwrap_or(&[]);
        let agent = get(b"RAMPART_AGENT")
            .filter(|a| !a.is_empty())
            .unwrap_or(b"preload");
        let session = match get(b"RAMPART_SESSION").filter(|s| !s.is_empty()) {
            Some(s) => s.to_vec(),
            None => format!("preload-{pid}").into_bytes(),
        };
        let timeout_ms = get(b"RAMPART_TIMEOUT_MS")
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|v| v.parse::<u32>().ok())
            .filter(|v| (1..=60_000).contains(v))
            .unwrap_or(DEFAULT_TIMEOUT_MS);
        let mut keep_env: Vec<CString> = Vec::new();
        for e in env {
            if !is_owned_entry(e) {
                continue;
            }
            let name = e.split(|b| *b == b'=').next().unwrap_or(e);
            let dup = keep_env
                .iter()
                .any(|k| k.as_bytes().split(|b| *b == b'=').next() == Some(name));
            if !dup && let Ok(c) = CString::new(*e) {
                keep_env.push(c);
            }
        }
        Config {
            mode,
            fail_open: open_by_legacy && !closed,
            debug: get(b"RAMPART_DEBUG") == Some(b"1"),
            endpoint: parse_url(url),
            token: parse_token(get(b"RAMPART_TOKEN")),
            url: if url.is_empty() {
                DEFAULT_URL.to_vec()
            } else {
                url.to_vec()
            },
            agent_json: json_literal(agent),
            session_json: json_literal(&session),
            timeout_ms,
            keep_env,
        }
    }

    /// Whether an explicit environment already carries exactly the kept entries and no other
    /// owned ones (then it can be passed on unchanged).
    pub fn env_is_intact<'a>(&self, env: impl Iterator<Item = &'a [u8]>) -> bool {
        let mut seen = 0usize;
        for e in env {
            if !is_owned_entry(e) {
                continue;
            }
            if !self.keep_env.iter().any(|k| k.as_bytes() == e) {
                return false;
            }
            seen = seen.saturating_add(1);
        }
        seen == self.keep_env.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(entries: &[&str]) -> Config {
        let v: Vec<&[u8]> = entries.iter().map(|s| s.as_bytes()).collect();
        Config::from_env(&v, 42)
    }

    #[test]
    fn defaults() {
        let c = cfg(&["PATH=/bin"]);
        assert_eq!(c.mode, Mode::Enforce);
        assert!(c.fail_open);
        assert!(!c.debug);
        assert_eq!(
            c.endpoint.as_ref().unwrap().addr,
            Addr::V4([127, 0, 0, 1], 9090)
        );
        assert_eq!(c.token, Ok(None));
        assert_eq!(c.agent_json, b"\"preload\"");
        assert_eq!(c.session_json, b"\"preload-42\"");
        assert_eq!(c.timeout_ms, DEFAULT_TIMEOUT_MS);
        assert!(c.keep_env.is_empty());
    }

    #[test]
    fn fail_policy() {
        assert!(!cfg(&["RAMPART_FAIL_CLOSED=1"]).fail_open);
        assert!(cfg(&["RAMPART_FAIL_CLOSED=0"]).fail_open);
        assert!(cfg(&["RAMPART_FAIL_OPEN=1"]).fail_open);
        assert!(!cfg(&["RAMPART_FAIL_OPEN=0"]).fail_open);
        assert!(!cfg(&["RAMPART_FAIL_OPEN=true"]).fail_open);
        assert!(!cfg(&["RAMPART_FAIL_OPEN=1", "RAMPART_FAIL_CLOSED=1"]).fail_open);
    }

    #[test]
    fn modes_and_identity() {
        assert_eq!(cfg(&["RAMPART_MODE=monitor"]).mode, Mode::Monitor);
        assert_eq!(cfg(&["RAMPART_MODE=disabled"]).mode, Mode::Disabled);
        assert_eq!(cfg(&["RAMPART_MODE=bogus"]).mode, Mode::Enforce);
        let c = cfg(&[
            "RAMPART_AGENT=a\"b",
            "RAMPART_SESSION=s",
            "RAMPART_AGENT=ignored",
        ]);
        assert_eq!(c.agent_json, b"\"a\\\"b\"");
        assert_eq!(c.session_json, b"\"s\"");
    }

    #[test]
    fn urls() {
        let e = parse_url(b"http://localhost:8080/").unwrap();
        assert_eq!(e.addr, Addr::V4([127, 0, 0, 1], 8080));
        assert_eq!(e.host, b"localhost:8080");
        assert_eq!(e.base_path, b"");
        let e = parse_url(b"HTTP://127.1.2.3/prefix//").unwrap();
        assert_eq!(e.addr, Addr::V4([127, 1, 2, 3], 80));
        assert_eq!(e.base_path, b"/prefix");
        let e = parse_url(b"http://[::1]:9").unwrap();
        assert!(matches!(e.addr, Addr::V6(a, 9) if a[15] == 1 && a[..15].iter().all(|b| *b == 0)));
        for bad in [
            &b"https://127.0.0.1:9090"[..],
            b"file:///etc/passwd",
            b"http://10.0.0.1:9090",
            b"http://example.com",
            b"http://user@127.0.0.1:9090",
            b"http://127.0.0.1:9090?x",
            b"http://127.0.0.1:9090#x",
            b"http://127.0.0.1:9090\\x",
            b"http://127.0.0.1:",
            b"http://127.0.0.1:99999",
            b"http://:9090",
            b"http://[::2]:80",
            b"http://127.0.0.1:90 90",
            b"127.0.0.1:9090",
        ] {
            assert!(parse_url(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn tokens() {
        assert_eq!(cfg(&["RAMPART_TOKEN=abc"]).token, Ok(Some(b"abc".to_vec())));
        assert!(cfg(&["RAMPART_TOKEN=a\rb"]).token.is_err());
        let long = format!("RAMPART_TOKEN={}", "x".repeat(MAX_TOKEN + 1));
        assert!(cfg(&[&long]).token.is_err());
    }

    #[test]
    fn kept_environment() {
        let c = cfg(&[
            "LD_PRELOAD=/x/lib.so",
            "HOME=/h",
            "RAMPART_URL=http://127.0.0.1:1",
            "RAMPART_URL=http://127.0.0.1:2",
        ]);
        let kept: Vec<&[u8]> = c.keep_env.iter().map(|k| k.as_bytes()).collect();
        assert_eq!(
            kept,
            [
                &b"LD_PRELOAD=/x/lib.so"[..],
                b"RAMPART_URL=http://127.0.0.1:1"
            ]
        );
        let same = [
            &b"A=1"[..],
            b"RAMPART_URL=http://127.0.0.1:1",
            b"LD_PRELOAD=/x/lib.so",
        ];
        assert!(c.env_is_intact(same.iter().copied()));
        let dropped = [&b"A=1"[..], b"RAMPART_URL=http://127.0.0.1:1"];
        assert!(!c.env_is_intact(dropped.iter().copied()));
        let changed = [
            &b"LD_PRELOAD=/x/lib.so"[..],
            b"RAMPART_URL=http://127.0.0.1:1",
            b"RAMPART_MODE=disabled",
        ];
        assert!(!c.env_is_intact(changed.iter().copied()));
    }
}
