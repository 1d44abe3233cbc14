//! Latency `rampart mcp` adds per message: the same sequential round trips against the rmcp test
//! server (`examples/mcp_test_server.rs`), once direct and once through the proxy.
//!
//! `cargo bench --bench mcp_proxy` (add `-- --calls N`, default 2000). Cases: `ping` (relayed
//! untouched, no decision) and `tools/call echo` (decided and audited, fsync included), with the
//! audit trail on disk (a temp dir under `target/`) and on tmpfs (`/dev/shm`, when present).
//! Prints p50/p99 per case and the difference to direct. Target: ≤ 100 µs p50 added.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_rampart");
const POLICY: &str = "version: \"1\"\ndefault_action: allow\npolicies: []\n";

fn server_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("bench exe");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>")
        .to_path_buf();
    let profile = match dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => "dev".to_string(),
        Some("release") => "release".to_string(),
        Some(p) => p.to_string(),
    };
    let ok = Command::new(env!("CARGO"))
        .args([
            "build",
            "--quiet",
            "--example",
            "mcp_test_server",
            "--profile",
        ])
        .arg(&profile)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "building the example MCP server failed");
    dir.join("examples").join("mcp_test_server")
}

struct Peer {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    line: String,
}

impl Peer {
    fn start(mut cmd: Command) -> Peer {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut p = Peer {
            child,
            stdin,
            stdout,
            line: String::new(),
        };
        p.round_trip(
            br#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bench","version":"0"}}}
"#,
        );
        p.send(b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n");
        p
    }

    fn send(&mut self, msg: &[u8]) {
        let w = self.stdin.as_mut().expect("stdin");
        w.write_all(msg).expect("write");
        w.flush().expect("flush");
    }

    fn round_trip(&mut self, msg: &[u8]) -> Duration {
        let t = Instant::now();
        self.send(msg);
        self.line.clear();
        self.stdout.read_line(&mut self.line).expect("read");
        let d = t.elapsed();
        assert!(
            self.line.contains("\"result\""),
            "unexpected answer: {}",
            self.line
        );
        d
    }

    fn stop(mut self) {
        self.stdin = None;
        let _ = self.child.wait();
    }
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn measure(p: &mut Peer, calls: usize, tool: bool) -> (Duration, Duration) {
    let mut times = Vec::with_capacity(calls);
    for i in 0..calls + 100 {
        let id = i + 1;
        let msg = if tool {
            format!(
                "{{\"jsonrpc\":\"2.0\",\"id\":{id},\"method\":\"tools/call\",\"params\":{{\"name\":\"echo\",\"arguments\":{{\"text\":\"hello {i}\"}}}}}}\n"
            )
        } else {
            format!("{{\"jsonrpc\":\"2.0\",\"id\":{id},\"method\":\"ping\"}}\n")
        };
        let d = p.round_trip(msg.as_bytes());
        if i >= 100 {
            times.push(d); // the first 100 warm up
        }
    }
    times.sort();
    (pct(&times, 0.5), pct(&times, 0.99))
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    let calls = argv
        .iter()
        .position(|a| a == "--calls")
        .and_then(|i| argv.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000usize);
    let server = server_bin();
    let scratch = tempfile::Builder::new()
        .prefix("rampart-mcp-bench-")
        .tempdir_in(concat!(env!("CARGO_MANIFEST_DIR"), "/target"))
        .expect("scratch dir");
    let policy = scratch.path().join("policy.yaml");
    std::fs::write(&policy, POLICY).expect("policy");
    let shm = Path::new("/dev/shm")
        .is_dir()
        .then(|| {
            tempfile::Builder::new()
                .prefix("rampart-mcp-bench-")
                .tempdir_in("/dev/shm")
                .ok()
        })
        .flatten();

    let proxied = |audit: &Path| {
        let mut c = Command::new(BIN);
        c.arg("mcp")
            .arg("--config")
            .arg(&policy)
            .arg("--audit-dir")
            .arg(audit)
            .arg("--")
            .arg(&server)
            .env("RAMPART_NO_PROJECT_POLICY", "1")
            .env("HOME", scratch.path());
        c
    };
    let mut setups: Vec<(String, Command)> = vec![("direct".into(), Command::new(&server))];
    setups.push((
        "proxy, audit on disk".into(),
        proxied(&scratch.path().join("audit")),
    ));
    if let Some(s) = &shm {
        setups.push((
            "proxy, audit on tmpfs".into(),
            proxied(&s.path().join("audit")),
        ));
    }
    println!("{calls} sequential round trips per case (p50 / p99, µs)");
    let mut direct: Option<[(Duration, Duration); 2]> = None;
    for (name, cmd) in setups {
        let mut p = Peer::start(cmd);
        let ping = measure(&mut p, calls, false);
        let call = measure(&mut p, calls, true);
        p.stop();
        let base = direct.get_or_insert([ping, call]);
        for (what, (p50, p99), (b50, _)) in
            [("ping", ping, base[0]), ("tools/call echo", call, base[1])]
        {
            let added = if name == "direct" {
                String::new()
            } else {
                format!("   added p50 {:+.1}", us(p50) - us(b50))
            };
            println!(
                "{name:<24} {what:<16} p50 {:>8.1}  p99 {:>8.1}{added}",
                us(p50),
                us(p99)
            );
        }
    }
}
