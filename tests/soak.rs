//! Soak test: mixed traffic for a bounded time across the three ways decisions arrive — the
//! HTTP API of a real `rampart serve`, one-shot `rampart hook` processes, and a long-lived
//! `rampart mcp` proxy in front of the rmcp test server — all writing one audit directory.
//! It stops by itself. It reports the server's and the proxy's RSS over time and p50/p99 per
//! channel, and asserts: no errors, every answer the expected decision, no RSS growth beyond a
//! small allowance, and `rampart audit verify` passes afterwards.
//!
//! In the suite it runs for 20 s. The 10-minute run:
//! `RAMPART_SOAK_SECS=600 cargo test --release --test soak -- --nocapture`.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::binary::{Proc, agent, free_port, rampart, serve};

/// RSS of `pid` in KiB (0 when it cannot be read).
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

fn percentile(v: &mut [Duration], q: f64) -> Duration {
    if v.is_empty() {
        return Duration::ZERO;
    }
    v.sort();
    v[((v.len() - 1) as f64 * q).round() as usize]
}

/// Latencies and failures of one traffic channel.
#[derive(Default)]
struct Channel {
    lat: Vec<Duration>,
    errors: Vec<String>,
}

impl Channel {
    fn report(&mut self, name: &str) -> String {
        let n = self.lat.len();
        let p50 = percentile(&mut self.lat, 0.5);
        let p99 = percentile(&mut self.lat, 0.99);
        format!(
            "{name:<6} {n:>7} calls  p50 {p50:>10.2?}  p99 {p99:>10.2?}  errors {}",
            self.errors.len()
        )
    }
}

/// Largest RSS among the samples taken in `[from, to)` of the run (fractions of the samples).
fn window_max(
    samples: &[(Duration, u64, u64)],
    from: f64,
    to: f64,
    pick: fn(&(Duration, u64, u64)) -> u64,
) -> u64 {
    let n = samples.len();
    let (a, b) = (
        (n as f64 * from) as usize,
        ((n as f64 * to) as usize).max(1),
    );
    samples[a.min(n.saturating_sub(1))..b.min(n)]
        .iter()
        .map(pick)
        .max()
        .unwrap_or(0)
}

#[test]
fn mixed_traffic_soak() {
    let secs: u64 = std::env::var("RAMPART_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let run_for = Duration::from_secs(secs.max(5));
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let audit = dir.path().join("audit");
    let audit_s = audit.display().to_string();

    // The server.
    let port = free_port();
    let server = Proc(
        serve(&home, port, &audit)
            .env("RAMPART_NO_PROJECT_POLICY", "1")
            .spawn()
            .unwrap(),
    );
    let server_pid = server.0.id();
    let started = Instant::now();
    let token = loop {
        let up = agent()
            .get(&format!("http://127.0.0.1:{port}/healthz"))
            .call()
            .is_ok_and(|r| r.status() == 200);
        if up && let Ok(t) = std::fs::read_to_string(home.join(".rampart/token")) {
            break t.trim().to_string();
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "serve never came up"
        );
        std::thread::sleep(Duration::from_millis(50));
    };

    // The MCP proxy, long-lived, in front of the rmcp test server.
    let mut proxy = Proc(
        rampart(&home)
            .args(["mcp", "--audit-dir", &audit_s, "--"])
            .arg(support::example_bin("mcp_test_server"))
            .env("RAMPART_NO_PROJECT_POLICY", "1")
            .env("RAMPART_URL", "http://127.0.0.1:1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let proxy_pid = proxy.0.id();
    let mut to_proxy = proxy.0.stdin.take().unwrap();
    let mut from_proxy = BufReader::new(proxy.0.stdout.take().unwrap());
    let mut rpc = |msg: serde_json::Value| -> Option<serde_json::Value> {
        writeln!(to_proxy, "{msg}").ok()?;
        to_proxy.flush().ok()?;
        let id = msg.get("id")?.clone();
        loop {
            let mut line = String::new();
            if from_proxy.read_line(&mut line).ok()? == 0 {
                return None;
            }
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
                && v.get("id") == Some(&id)
            {
                return Some(v);
            }
        }
    };
    let init = rpc(
        serde_json::json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{
        "protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"soak","version":"1"}}}),
    );
    assert!(
        init.is_some_and(|v| v.get("result").is_some()),
        "MCP initialize failed"
    );

    let stop = Arc::new(AtomicBool::new(false));
    let deadline = Instant::now() + run_for;

    // API traffic: two clients, allowed and denied commands alternating.
    let api = Arc::new(Mutex::new(Channel::default()));
    let mut threads = Vec::new();
    for t in 0..2 {
        let (api, stop, token) = (api.clone(), stop.clone(), token.clone());
        threads.push(std::thread::spawn(move || {
            let a = agent();
            let url = format!("http://127.0.0.1:{port}/v1/tool/exec");
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let (cmd, want) = if i.is_multiple_of(2) {
                    (format!("git status # {t}-{i}"), 200)
                } else {
                    (format!("rm -rf / # {t}-{i}"), 403)
                };
                let body = serde_json::json!({"agent": "soak", "params": {"command": cmd}});
                let t0 = Instant::now();
                let r = a
                    .post(&url)
                    .header("Authorization", &format!("Bearer {token}"))
                    .send(body.to_string());
                let el = t0.elapsed();
                let mut ch = api.lock().unwrap();
                match r {
                    Ok(resp) if resp.status().as_u16() == want => ch.lat.push(el),
                    Ok(resp) => ch
                        .errors
                        .push(format!("{cmd}: status {}", resp.status().as_u16())),
                    Err(e) => ch.errors.push(format!("{cmd}: {e}")),
                }
            }
        }));
    }

    // Hook traffic: one-shot processes, one at a time.
    let hook = Arc::new(Mutex::new(Channel::default()));
    {
        let (hook, stop, home, audit_s) =
            (hook.clone(), stop.clone(), home.clone(), audit_s.clone());
        threads.push(std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let (cmd, want) = if i.is_multiple_of(2) {
                    ("ls -la", "allow")
                } else {
                    ("sudo rm -rf /", "deny")
                };
                let ev = serde_json::json!({"session_id":"soak","hook_event_name":"PreToolUse",
                    "cwd":"/tmp","tool_name":"Bash","tool_input":{"command":cmd}});
                let t0 = Instant::now();
                let out = run_hook(&home, &audit_s, &ev.to_string());
                let el = t0.elapsed();
                let got = out.as_ref().ok().and_then(|v| {
                    v["hookSpecificOutput"]["permissionDecision"]
                        .as_str()
                        .map(str::to_string)
                });
                let mut ch = hook.lock().unwrap();
                match (got, out) {
                    (Some(d), _) if d == want => ch.lat.push(el),
                    (_, Ok(v)) => ch.errors.push(format!("{cmd}: {v}")),
                    (_, Err(e)) => ch.errors.push(format!("{cmd}: {e}")),
                }
            }
        }));
    }

    // MCP traffic on this thread, RSS sampled between calls once a second.
    let mut mcp = Channel::default();
    let mut samples: Vec<(Duration, u64, u64)> = Vec::new();
    let mut next_sample = Instant::now();
    let mut id = 1u64;
    while Instant::now() < deadline {
        if Instant::now() >= next_sample {
            samples.push((started.elapsed(), rss_kib(server_pid), rss_kib(proxy_pid)));
            next_sample += Duration::from_secs(1);
        }
        id += 1;
        let (name, denied) = if id.is_multiple_of(2) {
            ("read_file", false)
        } else {
            ("delete_file", true)
        };
        let msg = serde_json::json!({"jsonrpc":"2.0","id":id,"method":"tools/call",
            "params":{"name":name,"arguments":{"path":"/nonexistent/soak"}}});
        let t0 = Instant::now();
        let answer = rpc(msg);
        let el = t0.elapsed();
        match answer {
            Some(v)
                if denied
                    == v["error"]["message"]
                        .as_str()
                        .is_some_and(|m| m.starts_with("Rampart: ")) =>
            {
                mcp.lat.push(el)
            }
            Some(v) => mcp.errors.push(format!("{name}: {v}")),
            None => {
                mcp.errors.push(format!("{name}: the proxy closed"));
                break;
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    samples.push((started.elapsed(), rss_kib(server_pid), rss_kib(proxy_pid)));
    drop(proxy);
    drop(server);

    eprintln!("soak: {} s of mixed traffic", run_for.as_secs());
    let mut api = std::mem::take(&mut *api.lock().unwrap());
    let mut hook = std::mem::take(&mut *hook.lock().unwrap());
    for line in [api.report("api"), hook.report("hook"), mcp.report("mcp")] {
        eprintln!("  {line}");
    }
    eprintln!("  RSS (KiB) over time — t, serve, mcp proxy:");
    for (t, s, p) in &samples {
        eprintln!("    {:>6.1}s {s:>8} {p:>8}", t.as_secs_f64());
    }
    for (name, ch) in [("api", &api), ("hook", &hook), ("mcp", &mcp)] {
        assert!(
            ch.errors.is_empty(),
            "{name} errors: {:?}",
            &ch.errors[..ch.errors.len().min(5)]
        );
        assert!(
            ch.lat.len() >= 10,
            "{name}: too little traffic ({})",
            ch.lat.len()
        );
    }
    // No growth: the last fifth of the run stays within a small allowance of the first
    // (after the first fifth, once caches and pools are warm).
    for (name, pick) in [
        (
            "serve",
            (|s: &(Duration, u64, u64)| s.1) as fn(&(Duration, u64, u64)) -> u64,
        ),
        ("mcp proxy", |s: &(Duration, u64, u64)| s.2),
    ] {
        let early = window_max(&samples, 0.2, 0.4, pick);
        let late = window_max(&samples, 0.8, 1.0, pick);
        assert!(early > 0 && late > 0, "{name}: RSS not sampled");
        assert!(
            late <= early + early / 5 + 2048,
            "{name}: RSS grew from {early} KiB to {late} KiB"
        );
    }
    let verify = rampart(&home)
        .args(["audit", "verify", "--dir", &audit_s])
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "audit verify: {}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
}

/// Runs one `rampart hook` with `event` on stdin; its parsed answer.
fn run_hook(home: &Path, audit: &str, event: &str) -> Result<serde_json::Value, String> {
    let mut child = rampart(home)
        .args(["hook", "--audit-dir", audit])
        .env("RAMPART_NO_PROJECT_POLICY", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    child
        .stdin
        .take()
        .ok_or("no stdin")?
        .write_all(event.as_bytes())
        .map_err(|e| e.to_string())?;
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    serde_json::from_slice(&out.stdout).map_err(|e| {
        format!(
            "{e}: {} / {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}
