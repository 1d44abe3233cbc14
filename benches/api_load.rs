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

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

fn run_step(base: &str, path: &str, conc: usize, secs: f64) -> (f64, Duration, Duration, usize) {
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let handles: Vec<_> = (0..conc)
        .map(|i| {
            let stop = stop.clone();
            let url = format!("{base}{path}");
            std::thread::spawn(move || {
                let a = agent();
                let mut lat = Vec::new();
                let mut errors = 0usize;
                let mut n = i;
                while !stop.load(Ordering::Relaxed) {
                    let body = format!(
                        r#"{{"agent":"load","session":"s{i}","params":{{"command":"{}"}}}}"#,
                        COMMANDS[n % COMMANDS.len()]
                    );
                    n += 1;
                    let t = Instant::now();
                    match a
                        .post(&url)
                        .header("Authorization", &format!("Bearer {TOKEN}"))
                        .header("Content-Type", "application/json")
                        .send(body)
                    {
                        Ok(r) if r.status().as_u16() == 200 => {
                            let _ = r.into_body().read_to_string();
                            lat.push(t.elapsed());
                        }
                        _ => errors += 1,
                    }
                }
                (lat, errors)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(secs));
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    let mut errors = 0;
    for h in handles {
        if let Ok((l, e)) = h.join() {
            all.extend(l);
            errors += e;
        }
    }
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
        "{:<22} {:>5} {:>10} {:>10} {:>10} {:>7}",
        "endpoint", "conc", "req/s", "p50", "p99", "errors"
    );
    for path in ["/v1/preflight/exec", "/v1/tool/exec"] {
        for conc in [1, 16, 64] {
            let (rps, p50, p99, errors) = run_step(&base, path, conc, secs);
            println!(
                "{path:<22} {conc:>5} {rps:>10.0} {:>10.2?} {:>10.2?} {errors:>7}",
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
