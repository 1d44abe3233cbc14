//! Wall time and peak RSS of one `rampart hook` process, as an agent host pays them before every
//! tool call: a Claude Code `PreToolUse` Bash event under the embedded standard profile, with the
//! audit trail on (fsynced) in a temporary HOME.
//!
//! `cargo bench --bench hook_startup` (add `-- --runs N` to change the 200 runs per case). Prints
//! p50/p95/max wall time and the largest peak RSS per case. Target: p50 ≤ 3 ms, RSS ≤ 10 MB.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_rampart");

fn payload(command: &str) -> String {
    serde_json::json!({
        "session_id": "bench", "cwd": "/tmp", "hook_event_name": "PreToolUse",
        "tool_use_id": "toolu_bench", "tool_name": "Bash",
        "tool_input": {"command": command}
    })
    .to_string()
}

/// Runs the hook once; returns wall time and peak RSS in KiB. The child is reaped with `wait4`
/// (for its rusage) rather than `Child::wait`.
#[allow(clippy::zombie_processes)]
fn once(home: &std::path::Path, input: &[u8], args: &[&str]) -> (Duration, i64) {
    let t = Instant::now();
    let mut child = Command::new(BIN)
        .arg("hook")
        .args(args)
        .env_clear()
        .env("HOME", home)
        .env("RAMPART_NO_PROJECT_POLICY", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn hook");
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input).expect("stdin");
    }
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill in.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waiting for our own child with valid out-pointers.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
    assert_eq!(r, pid, "wait4");
    (t.elapsed(), ru.ru_maxrss)
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

fn main() {
    let mut runs = 200usize;
    let argv: Vec<String> = std::env::args().collect();
    if let Some(i) = argv.iter().position(|a| a == "--runs") {
        runs = argv.get(i + 1).and_then(|s| s.parse().ok()).unwrap_or(runs);
    }
    let cases: [(&str, String, Vec<&str>); 4] = [
        ("allow  git status", payload("git status"), vec![]),
        ("deny   rm -rf /", payload("rm -rf /"), vec![]),
        (
            "allow  compound",
            payload("cd src && cargo build 2>&1 | tail -n 20"),
            vec![],
        ),
        (
            "monitor git status",
            payload("git status"),
            vec!["--mode", "monitor"],
        ),
    ];
    println!("rampart hook, {runs} runs per case, audit on, fresh HOME per case");
    println!(
        "{:<22} {:>8} {:>8} {:>8} {:>10}",
        "case", "p50 ms", "p95 ms", "max ms", "peak RSS"
    );
    for (name, input, args) in cases {
        let home = tempfile::tempdir().expect("home");
        for _ in 0..5 {
            once(home.path(), input.as_bytes(), &args);
        }
        let mut walls = Vec::with_capacity(runs);
        let mut rss = 0;
        for _ in 0..runs {
            let (w, r) = once(home.path(), input.as_bytes(), &args);
            walls.push(w);
            rss = rss.max(r);
        }
        walls.sort();
        println!(
            "{:<22} {:>8.2} {:>8.2} {:>8.2} {:>7.1} MB",
            name,
            pct(&walls, 0.5),
            pct(&walls, 0.95),
            pct(&walls, 1.0),
            rss as f64 / 1024.0
        );
    }
}
