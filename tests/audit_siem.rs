//! CEF formatting and RFC 5424 syslog to real loopback UDP/TCP listeners.

use rampart::audit::cef::{cef_line, escape_ext, escape_header, severity};
use rampart::audit::syslog::{Message, SyslogClient, Transport, format_5424, octet_frame};
use rampart::audit::{AuditEvent, AuditSink, SiemConfig, SinkConfig};
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::net::{TcpListener, UdpSocket};
use std::time::Duration;

fn event() -> AuditEvent {
    let mut e = AuditEvent::new("claude|code", "s", "exec", "deny");
    e.request = Some(
        json!({"command": "a=b\\c\nrm|x", "path": "/p\r"})
            .as_object()
            .unwrap()
            .clone(),
    );
    e.decision.message = "blocked | bad\nthing".into();
    e.decision.matched_policies = vec!["p1".into(), "p=2".into()];
    e
}

#[test]
fn cef_escaping_neutralises_injection() {
    assert_eq!(escape_header("a|b\\c\nd\re=f"), "a\\|b\\\\c\\nd\\re=f");
    assert_eq!(escape_ext("a|b\\c\nd\re=f"), "a|b\\\\c\\nd\\re\\=f");
    let mut e = event();
    e.id = "ID1".into();
    e.hash = "sha256:ab".into();
    let line = cef_line(&e, "1.2.3");
    assert_eq!(
        line,
        "CEF:0|Rampart|PolicyEngine|1.2.3|deny|blocked \\| bad\\nthing|8|src=claude|code cmd=a\\=b\\\\c\\nrm|x path=/p\\r policy=p1,p\\=2 externalId=ID1 cs1Label=hash cs1=sha256:ab"
    );
    assert!(!line.contains('\n') && !line.contains('\r'));
    assert_eq!(severity("deny"), 8);
    assert_eq!(severity("ask"), 5);
    assert_eq!(severity("watch"), 3);
    assert_eq!(severity("allow"), 1);
    assert_eq!(severity("other"), 3);
    let mut e2 = event();
    e2.decision.message.clear();
    assert!(cef_line(&e2, "v").contains("|deny exec|"));
}

#[test]
fn rfc5424_format() {
    let sd = [("id", "X"), ("msg", "a\"b]c\\")];
    let m = format_5424(&Message {
        facility: 16,
        severity: 4,
        timestamp: "2026-02-11T21:03:38.123456Z",
        hostname: "my host",
        app_name: "rampart",
        procid: "42",
        msgid: "audit",
        sd: &sd,
        msg: "hello",
    });
    assert_eq!(
        m,
        "<132>1 2026-02-11T21:03:38.123456Z myhost rampart 42 audit [rampart@32473 id=\"X\" msg=\"a\\\"b\\]c\\\\\"] hello"
    );
    assert_eq!(octet_frame("abc"), b"3 abc");
    let nil = format_5424(&Message {
        facility: 16,
        severity: 6,
        ..Message::default()
    });
    assert_eq!(nil, "<134>1 - - - - - -");
}

/// Parses an RFC 5424 message into (pri, version, ts, host, app, procid, msgid, rest).
fn parse_5424(m: &str) -> (u16, Vec<String>, String) {
    let close = m.find('>').unwrap();
    let pri: u16 = m[1..close].parse().unwrap();
    let mut parts = m[close + 1..].splitn(7, ' ');
    let head: Vec<String> = (0..6).map(|_| parts.next().unwrap().to_string()).collect();
    (pri, head, parts.next().unwrap_or("").to_string())
}

#[test]
fn udp_syslog_to_loopback() {
    let srv = UdpSocket::bind("127.0.0.1:0").unwrap();
    srv.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut c = SyslogClient::new(&srv.local_addr().unwrap().to_string(), Transport::Udp).unwrap();
    c.send("<134>1 - h rampart 1 audit - first").unwrap();
    let mut buf = [0u8; 70000];
    let n = srv.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"<134>1 - h rampart 1 audit - first");
    // Oversized messages are cut to one datagram, not lost.
    let big = "x".repeat(100_000);
    assert!(c.send(&big).unwrap());
    let n = srv.recv(&mut buf).unwrap();
    assert_eq!(n, rampart::audit::syslog::MAX_UDP_PAYLOAD);
}

#[test]
fn tcp_syslog_octet_counting_and_reconnect() {
    let srv = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = srv.local_addr().unwrap().to_string();
    let mut c = SyslogClient::new(&addr, Transport::Tcp).unwrap();
    c.send("one").unwrap();
    c.send("two\nlines").unwrap();
    let (conn, _) = srv.accept().unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut r = BufReader::new(conn);
    assert_eq!(read_frame(&mut r), "one");
    assert_eq!(read_frame(&mut r), "two\nlines");
    drop(r); // server closes; the client reconnects on a later send
    let mut sent = false;
    for _ in 0..5 {
        if c.send("three").is_ok() {
            sent = true;
        }
        std::thread::sleep(Duration::from_millis(20));
        srv.set_nonblocking(true).unwrap();
        if let Ok((conn, _)) = srv.accept() {
            conn.set_nonblocking(false).unwrap();
            conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut r = BufReader::new(conn);
            assert_eq!(read_frame(&mut r), "three");
            return;
        }
    }
    panic!("no reconnect (sent={sent})");
}

fn read_frame(r: &mut impl BufRead) -> String {
    let mut len = Vec::new();
    r.read_until(b' ', &mut len).unwrap();
    let n: usize = std::str::from_utf8(&len[..len.len() - 1])
        .unwrap()
        .parse()
        .unwrap();
    let mut body = vec![0u8; n];
    r.read_exact(&mut body).unwrap();
    String::from_utf8(body).unwrap()
}

#[test]
fn sink_fans_out_hashed_events_to_tcp_syslog_and_anchors() {
    let srv = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = srv.local_addr().unwrap().to_string();
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("a");
    let mut cfg = SinkConfig::new(&d);
    cfg.anchor_every = 2;
    cfg.siem = Some(SiemConfig {
        syslog: Some((addr, Transport::Tcp)),
        cef: false,
        dir: d.clone(),
    });
    let sink = AuditSink::open(cfg).unwrap();
    let r1 = sink.append(event()).unwrap();
    let r2 = sink
        .append(AuditEvent::new("a", "s", "read", "allow"))
        .unwrap();
    let (conn, _) = srv.accept().unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut r = BufReader::new(conn);
    let msgs: Vec<String> = (0..3).map(|_| read_frame(&mut r)).collect();
    let (pri, head, rest) = parse_5424(&msgs[0]);
    assert_eq!(pri, 132); // local0.warning for deny
    assert_eq!(head[0], "1");
    assert_eq!(head[3], "rampart");
    assert_eq!(head[4], std::process::id().to_string());
    assert_eq!(head[5], "audit");
    assert!(rest.contains(&format!("hash=\"{}\"", r1.hash)), "{rest}");
    // The JSON copy carries the real chain hash (unlike the reference).
    let json_part = &rest[rest.find("] ").unwrap() + 2..];
    let v: serde_json::Value = serde_json::from_str(json_part).unwrap();
    assert_eq!(v["hash"], r1.hash.as_str());
    assert_eq!(v["request"]["command"], "a=b\\c\nrm|x");
    assert_eq!(parse_5424(&msgs[1]).0, 134);
    let (_, head, rest) = parse_5424(&msgs[2]);
    assert_eq!(head[5], "anchor");
    assert!(rest.contains(&r2.hash));
    drop(sink);
}

#[test]
fn sink_sends_cef_over_udp_and_cef_log_without_syslog() {
    let srv = UdpSocket::bind("127.0.0.1:0").unwrap();
    srv.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("a");
    let mut cfg = SinkConfig::new(&d);
    cfg.siem = Some(SiemConfig {
        syslog: Some((srv.local_addr().unwrap().to_string(), Transport::Udp)),
        cef: true,
        dir: d.clone(),
    });
    let sink = AuditSink::open(cfg).unwrap();
    sink.append(event()).unwrap();
    let mut buf = [0u8; 65536];
    let n = srv.recv(&mut buf).unwrap();
    let m = String::from_utf8_lossy(&buf[..n]).to_string();
    let (pri, head, rest) = parse_5424(&m);
    assert_eq!((pri, head[5].as_str()), (132, "cef"));
    assert!(rest.contains("] CEF:0|Rampart|PolicyEngine|"), "{rest}");
    drop(sink);

    // CEF alone goes to cef.log (0600).
    let d2 = t.path().join("b");
    let mut cfg = SinkConfig::new(&d2);
    cfg.siem = Some(SiemConfig {
        syslog: None,
        cef: true,
        dir: d2.clone(),
    });
    let sink = AuditSink::open(cfg).unwrap();
    sink.append(event()).unwrap();
    let p = d2.join("cef.log");
    for _ in 0..100 {
        if std::fs::read_to_string(&p).is_ok_and(|s| s.ends_with('\n')) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let text = std::fs::read_to_string(&p).unwrap();
    assert_eq!(text.lines().count(), 1);
    assert!(text.starts_with("CEF:0|Rampart|"));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[test]
fn dead_syslog_never_blocks_jsonl() {
    // A TCP port with no listener: every SIEM send fails, JSONL appends still succeed.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("a");
    let mut cfg = SinkConfig::new(&d);
    cfg.siem = Some(SiemConfig {
        syslog: Some((format!("127.0.0.1:{port}"), Transport::Tcp)),
        cef: false,
        dir: d.clone(),
    });
    let sink = AuditSink::open(cfg).unwrap();
    for _ in 0..50 {
        sink.append(event()).unwrap();
    }
    assert_eq!(sink.stats().events, 50);
    drop(sink);
    assert!(rampart::audit::verify_dir(&d).unwrap().brk.is_none());
}
