//! `rampart watch` driven like a person would, inside tmux: a pending approval appears, `a`
//! approves it (the waiting request completes), `d` denies the next one, `q` exits cleanly and
//! restores the terminal.

mod support;

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use support::*;

fn tmux(args: &[&str]) -> String {
    let out = Command::new("tmux").args(args).output().expect("tmux");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn wait_screen(session: &str, needle: &str) -> String {
    let t = Instant::now();
    loop {
        let screen = tmux(&["capture-pane", "-p", "-t", session]);
        if screen.contains(needle) {
            return screen;
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "{needle:?} never appeared:\n{screen}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn approve_and_deny_from_the_keyboard() {
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("SKIP: tmux is not installed");
        return;
    }
    let s = Arc::new(TestServer::start());
    let session = format!("rampart-watch-{}", std::process::id());
    let cmd = format!(
        "env RAMPART_TOKEN={TOKEN} HOME={} {} watch --api {} --interval-ms 200; echo WATCH-EXITED=$?; sleep 30",
        s.dir.path().display(),
        env!("CARGO_BIN_EXE_rampart"),
        s.base
    );
    tmux(&[
        "new-session",
        "-d",
        "-s",
        &session,
        "-x",
        "180",
        "-y",
        "40",
        &cmd,
    ]);
    struct Kill(String);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = Command::new("tmux")
                .args(["kill-session", "-t", &self.0])
                .output();
        }
    }
    let _k = Kill(session.clone());
    wait_screen(&session, "PENDING APPROVALS");
    wait_screen(&session, "No pending approvals.");

    let s2 = s.clone();
    let waiter = std::thread::spawn(move || {
        post(
            &s2.url("/v1/tool/exec"),
            &json!({"agent": "bot", "params": {"command": "deploy prod"}, "wait_seconds": 30})
                .to_string(),
        )
    });
    let screen = wait_screen(&session, "deploy prod");
    assert!(screen.contains("bot"), "{screen}");
    tmux(&["send-keys", "-t", &session, "a"]);
    let (st, b) = waiter.join().unwrap();
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["approval_resolved_by"], "watch");
    wait_screen(&session, "approved");

    let s3 = s.clone();
    let waiter = std::thread::spawn(move || {
        post(
            &s3.url("/v1/tool/exec"),
            &json!({"agent": "bot", "params": {"command": "deploy staging"}, "wait_seconds": 30})
                .to_string(),
        )
    });
    wait_screen(&session, "deploy staging");
    tmux(&["send-keys", "-t", &session, "d"]);
    let (st, _) = waiter.join().unwrap();
    assert_eq!(st, 403);
    // The live feed shows the decisions.
    wait_screen(&session, "LIVE FEED");

    tmux(&["send-keys", "-t", &session, "q"]);
    let screen = wait_screen(&session, "WATCH-EXITED=0");
    assert!(
        !screen.contains("PENDING APPROVALS"),
        "alternate screen left behind:\n{screen}"
    );
}
