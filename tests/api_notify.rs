//! Notifications to a real HTTP receiver on loopback: deny decisions (generic and Slack shapes,
//! secrets sanitised), approvals with signed links that work, and `on:` filtering.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;
use support::*;

/// A one-thread HTTP receiver that answers 200 and forwards each body.
fn receiver() -> (String, mpsc::Receiver<Value>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}/hook", l.local_addr().unwrap().port());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut c) = conn else { continue };
            let mut r = BufReader::new(c.try_clone().unwrap());
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
                if line == "\r\n" {
                    break;
                }
            }
            let mut body = vec![0; len];
            let _ = r.read_exact(&mut body);
            let _ =
                c.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            if let Ok(v) = serde_json::from_slice(&body) {
                let _ = tx.send(v);
            }
        }
    });
    (url, rx)
}

fn server(notify: &str) -> TestServer {
    TestServer::start_with(Opts {
        policy: format!("{POLICY}\nnotify:\n{notify}"),
        ..Opts::default()
    })
}

#[test]
fn deny_and_approval_notifications() {
    let (url, rx) = receiver();
    let s = server(&format!("  url: {url}\n  platform: webhook\n"));
    post(
        &s.url("/v1/tool/exec"),
        r#"{"agent":"bot","params":{"command":"rm -rf /x --password=hunter2"}}"#,
    );
    let v = rx
        .recv_timeout(Duration::from_secs(5))
        .expect("deny notification");
    assert_eq!(v["action"], "deny");
    assert_eq!(v["policy"], "block-rm");
    assert_eq!(v["agent"], "bot");
    assert!(!v["command"].as_str().unwrap().contains("hunter2"), "{v}");
    // Watch is not in the default `on` list.
    post(
        &s.url("/v1/tool/exec"),
        r#"{"params":{"command":"curl https://x"}}"#,
    );
    let (_, b) = post(
        &s.url("/v1/tool/exec"),
        r#"{"agent":"bot","params":{"command":"deploy prod"}}"#,
    );
    let v = rx
        .recv_timeout(Duration::from_secs(5))
        .expect("approval notification");
    assert_eq!(v["action"], "ask", "watch must not notify: {v}");
    assert_eq!(v["approval_id"], b["approval_id"]);
    // The signed link in the message resolves the approval.
    let deny = v["deny_url"].as_str().unwrap();
    let path = &deny[deny.find("/v1/").unwrap()..];
    let (st, r) = send("POST", &s.url(path), None, Some(""), &[]);
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["status"], "denied");
}

#[test]
fn slack_shape_and_on_filter() {
    let (url, rx) = receiver();
    let s = server(&format!("  url: {url}\n  platform: slack\n  on: [watch]\n"));
    post(
        &s.url("/v1/tool/exec"),
        r#"{"params":{"command":"rm -rf /x"}}"#,
    );
    post(
        &s.url("/v1/tool/exec"),
        r#"{"params":{"command":"curl https://x"}}"#,
    );
    let v = rx
        .recv_timeout(Duration::from_secs(5))
        .expect("watch notification");
    let blocks = &v["attachments"][0]["blocks"];
    assert!(
        blocks[0]["text"]["text"]
            .as_str()
            .unwrap()
            .contains("Command Logged"),
        "{v}"
    );
    assert!(
        rx.recv_timeout(Duration::from_millis(500)).is_err(),
        "deny is filtered out by on: [watch]"
    );
}
