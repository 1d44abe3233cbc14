//! `rampart pending`, `approve`, `deny` and `status` as real processes against a real server:
//! listing, resolving (twice, unknown ids), JSON output, running vs not running, URL discovery
//! through serve.state and the environment, and the token-sending rules.

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, UdpSocket};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use rampart::cli::serve_process::{ServeState, write_state};
use serde_json::{Value, json};
use support::*;

struct Run {
    code: i32,
    out: String,
    err: String,
}

/// `rampart <args>` with HOME at `home`, no inherited URL or token variables, plus `env`.
fn rampart(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rampart"));
    c.args(args)
        .env("HOME", home)
        .env_remove("RAMPART_TOKEN")
        .env_remove("RAMPART_URL")
        .env_remove("RAMPART_SERVE_URL")
        .env_remove("http_proxy")
        .env_remove("HTTP_PROXY")
        .env_remove("ALL_PROXY")
        .current_dir(home)
        .stdin(Stdio::null());
    for (k, v) in env {
        c.env(k, v);
    }
    let o: Output = c.output().unwrap();
    Run {
        code: o.status.code().unwrap_or(-1),
        out: String::from_utf8_lossy(&o.stdout).into_owned(),
        err: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// `rampart <args> --api <server>` with the admin token in RAMPART_TOKEN.
fn cli(s: &TestServer, home: &Path, args: &[&str]) -> Run {
    let mut all = args.to_vec();
    all.extend(["--api", &s.base]);
    rampart(home, &all, &[("RAMPART_TOKEN", TOKEN)])
}

/// Creates a pending approval through `/v1/tool/exec` and returns its id.
fn ask(s: &TestServer, command: &str) -> String {
    let body = json!({"agent": "bot", "session": "s1", "params": {"command": command}});
    let (st, b) = post(&s.url("/v1/tool/exec"), &body.to_string());
    assert_eq!(st, 202, "{b}");
    b["approval_id"].as_str().unwrap().to_string()
}

fn approval_status(s: &TestServer, id: &str) -> String {
    let (_, b) = get(&s.url(&format!("/v1/approvals/{id}")));
    b["status"].as_str().unwrap_or_default().to_string()
}

/// A loopback port with nothing listening.
fn dead_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn pending_lists_then_approve_twice() {
    let s = TestServer::start();
    let home = tempfile::tempdir().unwrap();
    let h = home.path();

    let r = cli(&s, h, &["pending"]);
    assert_eq!(
        (r.code, r.out.as_str()),
        (0, "No pending approvals.\n"),
        "{}",
        r.err
    );

    let id = ask(&s, "deploy prod");
    let r = cli(&s, h, &["pending"]);
    assert_eq!(r.code, 0, "{}", r.err);
    let lines: Vec<&str> = r.out.lines().collect();
    assert_eq!(lines.len(), 2, "{}", r.out);
    for col in ["ID", "TOOL", "COMMAND", "AGENT", "EXPIRES", "MESSAGE"] {
        assert!(lines[0].contains(col), "{}", r.out);
    }
    // Full id, not a prefix; remaining time like 59s / 1m0s.
    assert!(
        lines[1].starts_with(&format!("{id}  exec  deploy prod  bot  ")),
        "{}",
        r.out
    );
    assert!(lines[1].contains("deploys need a human"), "{}", r.out);
    let (at, to) = (
        lines[0].find("EXPIRES").unwrap(),
        lines[0].find("MESSAGE").unwrap(),
    );
    let left = lines[1][at..to].trim();
    assert!(
        left.ends_with('s') && left.chars().next().unwrap().is_ascii_digit(),
        "{left:?}"
    );

    let r = cli(&s, h, &["approve", &id]);
    assert_eq!(r.code, 0, "{}", r.err);
    assert_eq!(r.out, format!("✓ Approval {id} approved\n"));
    assert_eq!(approval_status(&s, &id), "approved");

    let r = cli(&s, h, &["approve", &id]);
    assert_eq!(r.code, 1, "{}", r.out);
    assert!(
        r.err
            .contains(&format!("approval {id} is no longer pending"))
            && r.err.contains("proxy returned 410"),
        "{}",
        r.err
    );

    let r = cli(&s, h, &["pending"]);
    assert_eq!(r.out, "No pending approvals.\n");
}

#[test]
fn deny_and_unknown_ids() {
    let s = TestServer::start();
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let id = ask(&s, "deploy prod");

    let r = cli(&s, h, &["deny", &id]);
    assert_eq!(r.code, 0, "{}", r.err);
    assert_eq!(r.out, format!("✓ Approval {id} denied\n"));
    assert_eq!(approval_status(&s, &id), "denied");
    let r = cli(&s, h, &["deny", &id]);
    assert_eq!(r.code, 1);
    assert!(r.err.contains("no longer pending"), "{}", r.err);

    // Short and unknown ids: a clear 404 message, no panic.
    for unknown in ["a", "01JUNKNOWNUNKNOWNUNKNOWN00"] {
        for verb in ["approve", "deny"] {
            let r = cli(&s, h, &[verb, unknown]);
            assert_eq!(r.code, 1, "{verb} {unknown}: {}", r.out);
            assert!(
                r.err.contains(&format!("approval {unknown} not found"))
                    && r.err.contains("proxy returned 404"),
                "{}",
                r.err
            );
            assert!(!r.err.contains("panicked"), "{}", r.err);
        }
    }
    // An id that would change the request path is refused locally.
    let r = cli(&s, h, &["approve", "../../v1/policy/reload"]);
    assert_eq!(r.code, 1);
    assert!(r.err.contains("invalid approval id"), "{}", r.err);
}

#[test]
fn approve_persist_reports_the_saved_rule() {
    let s = TestServer::start();
    let home = tempfile::tempdir().unwrap();
    let id = ask(&s, "deploy prod");
    let r = cli(&s, home.path(), &["approve", &id, "--persist"]);
    assert_eq!(r.code, 0, "{}", r.err);
    assert!(
        r.out.starts_with(&format!("✓ Approval {id} approved\n")) && r.out.contains("allow rule"),
        "{}",
        r.out
    );
    // The same command is now allowed without asking.
    let body = json!({"agent": "bot", "session": "s1", "params": {"command": "deploy prod"}});
    let (st, b) = post(&s.url("/v1/tool/exec"), &body.to_string());
    assert_eq!(st, 200, "{b}");
}

#[test]
fn pending_json_parses_and_hostile_commands_are_escaped() {
    let s = TestServer::start();
    let home = tempfile::tempdir().unwrap();
    let id = ask(&s, "deploy \x1b[2J\nls -la \u{202e}");
    let r = cli(&s, home.path(), &["pending", "--json"]);
    assert_eq!(r.code, 0, "{}", r.err);
    let v: Value = serde_json::from_str(&r.out).unwrap();
    assert_eq!(v["approvals"][0]["id"], id.as_str());
    assert_eq!(v["approvals"].as_array().unwrap().len(), 1);

    let r = cli(&s, home.path(), &["pending"]);
    assert_eq!(r.code, 0, "{}", r.err);
    assert_eq!(r.out.lines().count(), 2, "{}", r.out);
    assert!(
        !r.out.contains('\x1b') && !r.out.contains('\u{202e}'),
        "{:?}",
        r.out
    );
    assert!(r.out.contains("deploy \\u{1b}[2J\\nls"), "{}", r.out);
}

#[test]
fn http_errors_exit_1() {
    let s = TestServer::start();
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let api = s.base.clone();
    let r = rampart(
        h,
        &["pending", "--api", &api],
        &[("RAMPART_TOKEN", "wrong-token")],
    );
    assert_eq!(r.code, 1, "{}", r.out);
    assert!(
        r.err.contains("proxy returned 401") && r.err.contains("--token"),
        "{}",
        r.err
    );
    let r = rampart(h, &["pending", "--api", &api], &[]);
    assert_eq!(r.code, 1);
    assert!(r.err.contains("no token"), "{}", r.err);

    let url = format!("http://127.0.0.1:{}", dead_port());
    for args in [vec!["pending"], vec!["approve", "01ABC"], vec!["deny", "x"]] {
        let mut a = args.clone();
        a.extend(["--api", &url]);
        let r = rampart(h, &a, &[("RAMPART_TOKEN", TOKEN)]);
        assert_eq!(r.code, 1, "{args:?}");
        assert!(
            r.err.contains(&format!(
                "cannot reach rampart serve at {url} — is it running? (start it with 'rampart serve')"
            )),
            "{}",
            r.err
        );
    }
}

#[test]
fn status_running_human_and_json() {
    let s = TestServer::start();
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    ask(&s, "deploy prod");
    ask(&s, "deploy staging");

    let r = cli(&s, h, &["status"]);
    assert_eq!(r.code, 0, "{}", r.err);
    assert!(r.out.contains("RAMPART v"), "{}", r.out);
    assert!(
        r.out.contains(&format!("● Running at {}", s.base)),
        "{}",
        r.out
    );
    assert!(r.out.contains("enforce (default: allow)"), "{}", r.out);
    assert!(
        r.out.contains("policy.yaml (4 policies, 4 rules)"),
        "{}",
        r.out
    );
    assert!(r.out.contains("Pending  2 approvals"), "{}", r.out);

    let r = cli(&s, h, &["status", "--json"]);
    assert_eq!(r.code, 0, "{}", r.err);
    let v: Value = serde_json::from_str(&r.out).unwrap();
    assert_eq!(v["schema_version"], "rampart.status.v1");
    assert_eq!(v["server_running"], true);
    assert_eq!(v["url"], s.base.as_str());
    assert_eq!(v["mode"], "enforce");
    assert_eq!(v["default_action"], "allow");
    assert_eq!(v["policy_count"], 4);
    assert_eq!(v["rule_count"], 4);
    assert_eq!(v["pending"], 2);
    assert!(v["config_path"].as_str().unwrap().ends_with("policy.yaml"));
    assert!(v["generated_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(v["build_version"], env!("CARGO_PKG_VERSION"));

    // Running without a usable token: still exit 0, details missing, reason given.
    let api = s.base.clone();
    let r = rampart(h, &["status", "--json", "--url", &api], &[]);
    assert_eq!(r.code, 0, "{}", r.err);
    let v: Value = serde_json::from_str(&r.out).unwrap();
    assert_eq!(v["server_running"], true);
    assert_eq!(v["mode"], "enforce", "mode comes from /healthz");
    assert!(
        v.get("pending").is_none() && v.get("policy_count").is_none(),
        "{v}"
    );
    assert!(v["errors"][0].as_str().unwrap().contains("no token"), "{v}");
}

#[test]
fn status_not_running() {
    let home = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{}", dead_port());
    let r = rampart(home.path(), &["status", "--url", &url], &[]);
    assert_eq!(r.code, 0, "{}", r.err);
    assert!(r.out.contains("○ Not running"), "{}", r.out);
    assert!(!r.out.contains("Pending"), "{}", r.out);

    let r = rampart(home.path(), &["status", "--json", "--url", &url], &[]);
    assert_eq!(r.code, 0, "{}", r.err);
    let v: Value = serde_json::from_str(&r.out).unwrap();
    assert_eq!(v["server_running"], false);
    assert_eq!(v["url"], url.as_str());
    assert!(v.get("mode").is_none() && v.get("pending").is_none(), "{v}");

    // A bad flag is the only failure.
    let r = rampart(home.path(), &["status", "--bogus"], &[]);
    assert_eq!(r.code, 1);
    let r = rampart(home.path(), &["status", "--url", "not a url"], &[]);
    assert_eq!(r.code, 1);
    assert!(r.err.contains("--api/--url"), "{}", r.err);
}

#[test]
fn status_refuses_a_non_rampart_server() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let mut conn = conn;
            let mut buf = [0u8; 2048];
            let _ = conn.read(&mut buf);
            let body = r#"{"status":"ok","service":"something-else"}"#;
            let _ = write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    let home = tempfile::tempdir().unwrap();
    let r = rampart(home.path(), &["status", "--json", "--url", &url], &[]);
    assert_eq!(r.code, 0, "{}", r.err);
    let v: Value = serde_json::from_str(&r.out).unwrap();
    assert_eq!(v["server_running"], false, "{v}");
}

#[test]
fn url_discovery_serve_state_and_env_order() {
    let s = TestServer::start();
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let token = [("RAMPART_TOKEN", TOKEN)];
    let id = ask(&s, "deploy prod");

    // Nothing given: the default URL.
    let default = rampart(h, &["status", "--json"], &[]);
    let v: Value = serde_json::from_str(&default.out).unwrap();
    assert_eq!(v["url"], "http://localhost:9090");

    // serve.state names the server.
    let port: u16 = s.base.rsplit(':').next().unwrap().parse().unwrap();
    write_state(
        h,
        &ServeState {
            url: s.base.clone(),
            port,
            pid: std::process::id(),
            started: "2026-01-01T00:00:00Z".into(),
            executable: "/bin/rampart".into(),
        },
    )
    .unwrap();
    let r = rampart(h, &["pending"], &token);
    assert_eq!(r.code, 0, "{}", r.err);
    assert!(r.out.contains(&id), "{}", r.out);

    // RAMPART_SERVE_URL beats serve.state, RAMPART_URL beats both, the flag beats everything.
    let dead = format!("http://127.0.0.1:{}", dead_port());
    let dead2 = format!("http://127.0.0.1:{}", dead_port());
    let r = rampart(h, &["pending"], &[token[0], ("RAMPART_SERVE_URL", &dead)]);
    assert!(r.code == 1 && r.err.contains(&dead), "{}", r.err);
    let r = rampart(
        h,
        &["pending"],
        &[
            token[0],
            ("RAMPART_SERVE_URL", &s.base),
            ("RAMPART_URL", &dead2),
        ],
    );
    assert!(r.code == 1 && r.err.contains(&dead2), "{}", r.err);
    let r = rampart(
        h,
        &["pending", "--url", &s.base],
        &[
            token[0],
            ("RAMPART_SERVE_URL", &dead),
            ("RAMPART_URL", &dead2),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.err);
    assert!(r.out.contains(&id), "{}", r.out);
}

/// Some address of this machine that is not loopback, if it has one.
fn non_loopback_ip() -> Option<std::net::IpAddr> {
    let sock = UdpSocket::bind("0.0.0.0:0").ok()?;
    sock.connect("192.0.2.1:9").ok()?;
    let ip = sock.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

#[test]
fn file_token_is_never_sent_off_loopback() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let dir = h.join(".rampart");
    std::fs::create_dir_all(&dir).unwrap();
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        let mut f = std::fs::OpenOptions::new()
            .create_new(true)
            .write(true)
            .mode(0o600)
            .open(dir.join("token"))
            .unwrap();
        f.write_all(TOKEN.as_bytes()).unwrap();
    }
    // A listener on every interface: a refused send must not even connect.
    let listener = TcpListener::bind("0.0.0.0:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let ip = non_loopback_ip().map_or("203.0.113.7".to_string(), |ip| ip.to_string());
    for url in [
        format!("http://{ip}:{port}"),
        format!("https://{ip}:{port}"),
    ] {
        for args in [
            vec!["pending"],
            vec!["approve", "01ABC"],
            vec!["deny", "01ABC"],
        ] {
            let mut a = args.clone();
            a.extend(["--api", &url]);
            let r = rampart(h, &a, &[]);
            assert_eq!(r.code, 1, "{args:?} {url}");
            assert!(
                r.err.contains("refusing to send a token") && r.err.contains("loopback"),
                "{}",
                r.err
            );
        }
    }
    // Give a stray connection a moment to show up, then check none did.
    let t = Instant::now();
    while t.elapsed() < Duration::from_millis(100) {
        match listener.accept() {
            Ok((_, peer)) => panic!("a refused request still connected from {peer}"),
            Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock),
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    // The same token given explicitly may go to a remote https URL, but this build has no TLS.
    let r = rampart(
        h,
        &["pending", "--api", &format!("https://{ip}:{port}")],
        &[("RAMPART_TOKEN", TOKEN)],
    );
    assert_eq!(r.code, 1);
    assert!(r.err.contains("plain http only"), "{}", r.err);
}

/// Kills the spawned server when the test ends, however it ends.
struct Serve(std::process::Child);
impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn real_serve_is_found_through_serve_state_with_the_token_file() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let policy = h.join("policy.yaml");
    std::fs::write(&policy, POLICY).unwrap();
    let port = dead_port().to_string();
    let mut c = Command::new(env!("CARGO_BIN_EXE_rampart"));
    c.args(["serve", "--port", &port, "--config"])
        .arg(&policy)
        .env("HOME", h)
        .env_remove("RAMPART_TOKEN")
        .current_dir(h)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let _serve = Serve(c.spawn().unwrap());
    let state = h.join(".rampart/serve.state");
    let t = Instant::now();
    while !state.exists() {
        assert!(t.elapsed() < Duration::from_secs(20), "no serve.state");
        std::thread::sleep(Duration::from_millis(50));
    }

    // No --api, no environment: serve.state names the server, ~/.rampart/token authenticates.
    let r = rampart(h, &["status", "--json"], &[]);
    assert_eq!(r.code, 0, "{}", r.err);
    let v: Value = serde_json::from_str(&r.out).unwrap();
    assert_eq!(v["server_running"], true, "{v}");
    assert_eq!(v["url"], format!("http://localhost:{port}"));
    assert_eq!(v["pending"], 0, "{v}");
    assert!(v.get("errors").is_none(), "{v}");

    let token = std::fs::read_to_string(h.join(".rampart/token")).unwrap();
    let body = json!({"agent": "bot", "session": "s1", "params": {"command": "deploy prod"}});
    let (st, b) = send(
        "POST",
        &format!("http://127.0.0.1:{port}/v1/tool/exec"),
        Some(token.trim()),
        Some(&body.to_string()),
        &[("Content-Type", "application/json")],
    );
    assert_eq!(st, 202, "{b}");
    let id = b["approval_id"].as_str().unwrap();

    let r = rampart(h, &["pending"], &[]);
    assert_eq!(r.code, 0, "{}", r.err);
    assert!(r.out.contains(id), "{}", r.out);
    let r = rampart(h, &["status"], &[]);
    assert!(r.out.contains("Pending  1 approval\n"), "{}", r.out);
    let r = rampart(h, &["approve", id], &[]);
    assert_eq!(r.code, 0, "{}", r.err);
    assert_eq!(r.out, format!("✓ Approval {id} approved\n"));
}
