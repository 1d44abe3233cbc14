//! Load test of the real `rampart serve` binary on loopback with the audit trail on disk:
//! requests/s and p50/p99 latency for `/v1/preflight/exec` and `/v1/tool/exec` at several
//! concurrency levels, plus idle and loaded RSS. Bounded (a few seconds per step) and loopback
//! only. Run: `cargo bench --bench api_load` (env LOAD_SECS to change the step length).

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const TOKEN: &str = "rampart_0123456789abcdef0123456789abcdef0123456789abcdef";
const COMMANDS: [&str; 4] = [
    "git status",
    "npm test",
    "ls -la src",
    "cargo build --release",
];

struct Server(Child);
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn rss_kib(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// CPU seconds (user + system) the process has used.
fn cpu_secs(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(')')?.1.split_whitespace().collect::<Vec<_>>();
            let ut: f64 = rest.get(11)?.parse().ok()?;
            let st: f64 = rest.get(12)?.parse().ok()?;
            Some((ut + st) / 100.0)
        })
        .unwrap_or(0.0)
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

/// One keep-alive connection sending requests back to back; a hand-written HTTP/1.1 client so
/// the load generator costs far less CPU than the server it measures (both share 2 cores).
async fn conn_loop(
    port: u16,
    path: &'static str,
    i: usize,
    stop: Arc<AtomicBool>,
) -> (Vec<Duration>, usize) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut lat = Vec::new();
    let mut errors = 0usize;
    let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return (lat, 1);
    };
    let _ = s.set_nodelay(true);
    let mut buf = vec![0u8; 64 * 1024];
    let mut n = i;
    while !stop.load(Ordering::Relaxed) {
        let body = format!(
            r#"{{"agent":"load","session":"s{i}","params":{{"command":"{}"}}}}"#,
            COMMANDS[n % COMMANDS.len()]
        );
        n += 1;
        let req = format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let t = Instant::now();
        if s.write_all(req.as_bytes()).await.is_err() {
            errors += 1;
            break;
        }
        // Read one response: headers, then Content-Length bytes.
        let mut have = 0usize;
        let ok = loop {
            match s.read(&mut buf[have..]).await {
                Ok(0) | Err(_) => break false,
                Ok(k) => have += k,
            }
            let Some(h) = buf[..have].windows(4).position(|w| w == b"\r\n\r\n") else {
                continue;
            };
            let head = String::from_utf8_lossy(&buf[..h]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if have >= h + 4 + len {
                break head.starts_with("http/1.1 200");
            }
        };
        if ok {
            lat.push(t.elapsed());
        } else {
            errors += 1;
            break;
        }
    }
    (lat, errors)
}

fn run_step(
    port: u16,
    path: &'static str,
    conc: usize,
    secs: f64,
) -> (f64, Duration, Duration, usize) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let (mut all, errors) = rt.block_on(async {
        let tasks: Vec<_> = (0..conc)
            .map(|i| tokio::spawn(conn_loop(port, path, i, stop.clone())))
            .collect();
        tokio::time::sleep(Duration::from_secs_f64(secs)).await;
        stop.store(true, Ordering::Relaxed);
        let mut all = Vec::new();
        let mut errors = 0;
        for t in tasks {
            if let Ok((l, e)) = t.await {
                all.extend(l);
                errors += e;
            }
        }
        (all, errors)
    });
    let wall = start.elapsed().as_secs_f64();
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    (all.len() as f64 / wall, pct(0.50), pct(0.99), errors)
}

fn main() {
    // `cargo bench` passes --bench; ignore filters.
    let secs: f64 = std::env::var("LOAD_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4.0);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/load-home");
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).expect("create load home");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let child = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .args(["serve", "--port", &port.to_string()])
        .env("HOME", &root)
        .env("RAMPART_TOKEN", TOKEN)
        .current_dir(&root)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn rampart serve");
    let pid = child.id();
    let _server = Server(child);
    let base = format!("http://127.0.0.1:{port}");
    let a = agent();
    let t0 = Instant::now();
    while a.get(&format!("{base}/healthz")).call().is_err() {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "server did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_secs(1));
    println!(
        "idle RSS: {:.1} MiB",
        rss_kib(pid, "VmRSS:") as f64 / 1024.0
    );
    println!("audit dir: {}", root.join(".rampart/audit").display());
    println!(
        "{:<22} {:>5} {:>10} {:>10} {:>10} {:>7} {:>9}",
        "endpoint", "conc", "req/s", "p50", "p99", "errors", "srv cores"
    );
    for path in ["/v1/preflight/exec", "/v1/tool/exec"] {
        for conc in [1, 16, 64] {
            let c0 = cpu_secs(pid);
            let (rps, p50, p99, errors) = run_step(port, path, conc, secs);
            let cores = (cpu_secs(pid) - c0) / secs;
            println!(
                "{path:<22} {conc:>5} {rps:>10.0} {:>10.2?} {:>10.2?} {errors:>7} {cores:>9.2}",
                p50, p99
            );
        }
    }
    println!(
        "loaded RSS: {:.1} MiB (peak {:.1} MiB)",
        rss_kib(pid, "VmRSS:") as f64 / 1024.0,
        rss_kib(pid, "VmHWM:") as f64 / 1024.0
    );
}
