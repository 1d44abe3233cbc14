//! The real `rampart serve` binary: banner and token file, serve.state, exit 0 on SIGTERM,
//! port-in-use and bad-flag errors (exit 1), the single-owner lock, token rotation taking effect
//! in the running server, hot reload that keeps the last good policy, and --background + stop.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

mod support;
use support::binary::{Proc, agent, free_port, rampart};

fn wait_healthy(port: u16) {
    let t = Instant::now();
    while agent()
        .get(&format!("http://127.0.0.1:{port}/healthz"))
        .call()
        .is_err()
    {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "server did not come up"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn status_with(port: u16, token: &str) -> u16 {
    agent()
        .get(&format!("http://127.0.0.1:{port}/v1/status"))
        .header("Authorization", &format!("Bearer {token}"))
        .call()
        .unwrap()
        .status()
        .as_u16()
}

fn start(home: &Path, port: u16, extra: &[&str]) -> (Proc, std::process::ChildStderr) {
    let mut c = rampart(home);
    c.args(["serve", "--port", &port.to_string()])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let err = child.stderr.take().unwrap();
    (Proc(child), err)
}

#[test]
fn serve_lifecycle() {
    let home = tempfile::tempdir().unwrap();
    let port = free_port();
    let (mut p, err) = start(home.path(), port, &[]);
    let mut lines = BufReader::new(err).lines();
    let mut banner = String::new();
    for l in lines.by_ref() {
        let l = l.unwrap();
        banner.push_str(&l);
        banner.push('\n');
        if l.contains("Dashboard") {
            break;
        }
    }
    assert!(
        banner.contains(&format!("Rampart ready  —  :{port} (token=rampart_")),
        "{banner}"
    );
    let token = std::fs::read_to_string(home.path().join(".rampart/token")).unwrap();
    assert!(
        token.starts_with("rampart_") && token.len() == 56,
        "{token}"
    );
    assert!(
        !banner.contains(&token),
        "full token must not go to a non-TTY: {banner}"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(home.path().join(".rampart/token"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    wait_healthy(port);
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(home.path().join(".rampart/serve.state")).unwrap(),
    )
    .unwrap();
    assert_eq!(state["port"], port);
    assert_eq!(state["pid"], p.0.id());
    assert_eq!(status_with(port, &token), 200);

    // A second server on the same ~/.rampart is refused (exit 1, one clear line).
    let out = rampart(home.path())
        .args(["serve", "--port", &free_port().to_string()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already owns approval state"));

    // Rotation takes effect in the running server.
    let out = rampart(home.path())
        .args(["token", "rotate", "--force"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let new_token = std::fs::read_to_string(home.path().join(".rampart/token")).unwrap();
    assert_ne!(new_token, token);
    assert_eq!(status_with(port, &new_token), 200);
    assert_eq!(status_with(port, &token), 401);

    // SIGTERM: clean exit 0, serve.state removed.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(p.0.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let t = Instant::now();
    let code = loop {
        if let Some(s) = p.0.try_wait().unwrap() {
            break s.code();
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "no exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(code, Some(0));
    assert!(!home.path().join(".rampart/serve.state").exists());

    // Restart keeps the rotated token (it is read from the file, not regenerated).
    let (_p2, _e2) = start(home.path(), port, &[]);
    wait_healthy(port);
    assert_eq!(status_with(port, &new_token), 200);
}

#[test]
fn startup_errors_exit_1_with_one_line() {
    let home = tempfile::tempdir().unwrap();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let out = rampart(home.path())
        .args(["serve", "--port", &port.to_string()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("port {port} is already in use")) && err.contains("--port"),
        "{err}"
    );
    for args in [
        &["serve", "--mode", "loud"][..],
        &["serve", "--addr", "localhost"],
    ] {
        let out = rampart(home.path()).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
    }
    std::fs::write(
        home.path().join("bad.yaml"),
        "policies: [ {name: x, rules: [ {action: nope} ] } ]",
    )
    .unwrap();
    let out = rampart(home.path())
        .args([
            "serve",
            "--config",
            "bad.yaml",
            "--port",
            &free_port().to_string(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.yaml"));
}

#[test]
fn hot_reload_on_file_change_keeps_last_good() {
    let home = tempfile::tempdir().unwrap();
    let cfg = home.path().join("rampart.yaml");
    let v1 = "default_action: allow\npolicies:\n  - name: p\n    match: {tool: exec}\n    rules:\n      - action: deny\n        when: {command_matches: [\"make *\"]}\n";
    std::fs::write(&cfg, v1).unwrap();
    let port = free_port();
    let (_p, _e) = start(home.path(), port, &["--config", cfg.to_str().unwrap()]);
    wait_healthy(port);
    let token = std::fs::read_to_string(home.path().join(".rampart/token")).unwrap();
    let eval = |cmd: &str| -> u16 {
        agent()
            .post(&format!("http://127.0.0.1:{port}/v1/preflight/exec"))
            .header("Authorization", &format!("Bearer {token}"))
            .send(format!(r#"{{"params":{{"command":"{cmd}"}}}}"#))
            .unwrap()
            .into_body()
            .read_to_string()
            .map(|b| if b.contains("\"deny\"") { 403 } else { 200 })
            .unwrap()
    };
    assert_eq!(eval("make all"), 403);
    assert_eq!(eval("cargo build"), 200);
    // Save by rename (as editors do) with a new rule.
    let tmp = home.path().join("rampart.yaml.tmp");
    std::fs::write(&tmp, v1.replace("make *", "cargo *")).unwrap();
    std::fs::rename(&tmp, &cfg).unwrap();
    let t = Instant::now();
    while eval("cargo build") != 403 {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "reload did not happen"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(eval("make all"), 200);
    // A broken file keeps the last good policy and reports the error in /v1/status.
    std::fs::write(&cfg, "policies: [ {name: x, rules: [ {action: nope} ] } ]").unwrap();
    let t = Instant::now();
    loop {
        let body = agent()
            .get(&format!("http://127.0.0.1:{port}/v1/status"))
            .header("Authorization", &format!("Bearer {token}"))
            .call()
            .unwrap()
            .into_body()
            .read_to_string()
            .unwrap();
        if body.contains("reload_error") {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "no reload error reported: {body}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(eval("cargo build"), 403, "last good policy still active");
}

#[test]
fn background_and_stop() {
    let home = tempfile::tempdir().unwrap();
    let port = free_port();
    let out = rampart(home.path())
        .args(["serve", "--port", &port.to_string(), "--background"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("rampart serve running in background (pid="),
        "{stdout}"
    );
    wait_healthy(port);
    let out = rampart(home.path())
        .args(["serve", "stop"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("stopped"));
    let t = Instant::now();
    while agent()
        .get(&format!("http://127.0.0.1:{port}/healthz"))
        .call()
        .is_ok()
    {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "still serving after stop"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = rampart(home.path())
        .args(["serve", "stop"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no PID file"));
}

#[test]
fn cef_flag_writes_cef_lines() {
    let home = tempfile::tempdir().unwrap();
    let audit = home.path().join("audit-x");
    let port = free_port();
    let (_p, _e) = start(
        home.path(),
        port,
        &["--cef", "--audit-dir", audit.to_str().unwrap()],
    );
    wait_healthy(port);
    let token = std::fs::read_to_string(home.path().join(".rampart/token")).unwrap();
    let r = agent()
        .post(&format!("http://127.0.0.1:{port}/v1/tool/exec"))
        .header("Authorization", &format!("Bearer {token}"))
        .send(r#"{"agent":"bot","params":{"command":"rm -rf /"}}"#)
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let t = Instant::now();
    loop {
        let cef = std::fs::read_to_string(audit.join("cef.log")).unwrap_or_default();
        if cef.contains("CEF:0|Rampart|") && cef.contains("deny") {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "no CEF line: {cef:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
