//! RFC 5424 syslog client over UDP (RFC 5426) and TCP with octet counting (RFC 6587).

use std::io::Write;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::time::Duration;

/// Facility LOCAL0.
pub const FACILITY_LOCAL0: u8 = 16;
/// Largest UDP payload sent; longer messages are cut (and counted by the caller).
pub const MAX_UDP_PAYLOAD: usize = 65_000;
/// Structured-data id used for Rampart fields (enterprise number reserved for examples).
pub const SD_ID: &str = "rampart@32473";

/// Transport of a syslog destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// One message per datagram.
    Udp,
    /// Octet-counted frames on a stream.
    Tcp,
}

/// Syslog severity for a decision action: deny → warning, ask/watch → notice, else info.
pub fn severity_for(action: &str) -> u8 {
    match action {
        "deny" | "denied" => 4,
        "ask" | "require_approval" | "watch" | "log" => 5,
        _ => 6,
    }
}

/// One RFC 5424 message before framing.
#[derive(Debug, Clone, Default)]
pub struct Message<'a> {
    /// Facility (0–23).
    pub facility: u8,
    /// Severity (0–7).
    pub severity: u8,
    /// RFC 3339 timestamp (`-` when empty).
    pub timestamp: &'a str,
    /// Host name.
    pub hostname: &'a str,
    /// Application name.
    pub app_name: &'a str,
    /// Process id.
    pub procid: &'a str,
    /// Message type.
    pub msgid: &'a str,
    /// Structured-data parameters under [`SD_ID`].
    pub sd: &'a [(&'a str, &'a str)],
    /// Free-form message.
    pub msg: &'a str,
}

fn header_field(s: &str, max: usize) -> String {
    let clean: String = s
        .chars()
        .filter(|c| ('!'..='~').contains(c))
        .take(max)
        .collect();
    if clean.is_empty() {
        "-".to_string()
    } else {
        clean
    }
}

fn sd_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '"' | '\\' | ']') {
            o.push('\\');
        }
        o.push(c);
    }
    o
}

/// Formats an RFC 5424 `SYSLOG-MSG` (no framing, no trailing newline).
pub fn format_5424(m: &Message<'_>) -> String {
    let pri = u16::from(m.facility.min(23)) * 8 + u16::from(m.severity.min(7));
    let mut out = format!(
        "<{pri}>1 {} {} {} {} {} ",
        header_field(m.timestamp, 64),
        header_field(m.hostname, 255),
        header_field(m.app_name, 48),
        header_field(m.procid, 128),
        header_field(m.msgid, 32),
    );
    if m.sd.is_empty() {
        out.push('-');
    } else {
        out.push('[');
        out.push_str(SD_ID);
        for (k, v) in m.sd {
            out.push_str(&format!(" {}=\"{}\"", header_field(k, 32), sd_escape(v)));
        }
        out.push(']');
    }
    if !m.msg.is_empty() {
        out.push(' ');
        out.push_str(m.msg);
    }
    out
}

/// Frames a message for a stream transport: `LEN SP MSG`.
pub fn octet_frame(msg: &str) -> Vec<u8> {
    let mut v = format!("{} ", msg.len()).into_bytes();
    v.extend_from_slice(msg.as_bytes());
    v
}

/// Cuts `s` to at most `max` bytes on a character boundary.
pub fn truncate_utf8(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// A syslog destination that reconnects on the next message after a failure.
#[derive(Debug)]
pub struct SyslogClient {
    addr: SocketAddr,
    transport: Transport,
    udp: Option<UdpSocket>,
    tcp: Option<TcpStream>,
    timeout: Duration,
}

/// Errors talking to a syslog server.
#[derive(Debug, thiserror::Error)]
pub enum SyslogError {
    /// The address could not be resolved.
    #[error("resolve {0}: no usable address")]
    Resolve(String),
    /// A socket operation failed.
    #[error("syslog {0}: {1}")]
    Io(&'static str, std::io::Error),
}

impl SyslogClient {
    /// A client for `host:port`; nothing is connected until the first send.
    pub fn new(addr: &str, transport: Transport) -> Result<SyslogClient, SyslogError> {
        let addr = addr
            .to_socket_addrs()
            .map_err(|_| SyslogError::Resolve(addr.to_string()))?
            .next()
            .ok_or_else(|| SyslogError::Resolve(addr.to_string()))?;
        Ok(SyslogClient {
            addr,
            transport,
            udp: None,
            tcp: None,
            timeout: Duration::from_secs(2),
        })
    }

    /// The resolved destination.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Sends one formatted message; returns whether it had to be truncated (UDP only).
    pub fn send(&mut self, msg: &str) -> Result<bool, SyslogError> {
        match self.transport {
            Transport::Udp => {
                if self.udp.is_none() {
                    let bind = if self.addr.is_ipv4() {
                        "0.0.0.0:0"
                    } else {
                        "[::]:0"
                    };
                    let s = UdpSocket::bind(bind).map_err(|e| SyslogError::Io("bind", e))?;
                    s.connect(self.addr)
                        .map_err(|e| SyslogError::Io("connect", e))?;
                    self.udp = Some(s);
                }
                let body = truncate_utf8(msg, MAX_UDP_PAYLOAD);
                let r = self.udp.as_ref().map(|s| s.send(body.as_bytes()));
                match r {
                    Some(Ok(_)) => Ok(body.len() < msg.len()),
                    Some(Err(e)) => {
                        self.udp = None;
                        Err(SyslogError::Io("send", e))
                    }
                    None => Ok(false),
                }
            }
            Transport::Tcp => {
                let frame = octet_frame(msg);
                // One retry on a fresh connection: the server may have closed an idle one.
                for attempt in 0..2 {
                    if self.tcp.is_none() {
                        let s = TcpStream::connect_timeout(&self.addr, self.timeout)
                            .map_err(|e| SyslogError::Io("connect", e))?;
                        let _ = s.set_write_timeout(Some(self.timeout));
                        let _ = s.set_nodelay(true);
                        self.tcp = Some(s);
                    }
                    let r = self.tcp.as_mut().map(|s| s.write_all(&frame));
                    match r {
                        Some(Ok(())) => return Ok(false),
                        Some(Err(e)) => {
                            self.tcp = None;
                            if attempt == 1 {
                                return Err(SyslogError::Io("send", e));
                            }
                        }
                        None => return Ok(false),
                    }
                }
                Ok(false)
            }
        }
    }
}
