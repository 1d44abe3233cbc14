//! Per-command overhead of the `rampart wrap` shell shim: `$SHELL -c true` through the shim
//! (start the shim, parse, ask the in-process server over loopback — engine, audit fsync,
//! answer — then exec the real shell) against the real shell started directly. Two shims: the
//! small `rampart-shell` binary `wrap` links when it is installed, and `rampart` itself under
//! the shim name (the fallback).
//!
//! `cargo bench --bench wrap_shim` (add `-- --runs N` to change the 300 runs per case). The
//! server is the same in-process server `wrap` starts, on the embedded standard profile with the
//! audit trail on in a temporary HOME. Runs of the variants alternate. Prints p50/p95 per
//! variant and the p50 difference. Target: ≤ 1.5 ms added at p50. The temporary HOME (and so
//! the audit trail) lives under `TMPDIR`: `TMPDIR=/dev/shm cargo bench --bench wrap_shim`
//! separates what the shim adds from the audit record's fdatasync on the real disk.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rampart::embedded::{InProcessServer, ServerOptions};
use rampart::wrap::shell::{ShimDir, which};

const BIN: &str = env!("CARGO_BIN_EXE_rampart");
const SHIM_BIN: &str = env!("CARGO_BIN_EXE_rampart-shell");

fn once(program: &Path, env: &[(String, String)]) -> Duration {
    let t = Instant::now();
    let status = Command::new(program)
        .args(["-c", "true"])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("spawn");
    let d = t.elapsed();
    assert!(status.success(), "{} -c true failed", program.display());
    d
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

fn main() {
    let mut runs = 300usize;
    let argv: Vec<String> = std::env::args().collect();
    if let Some(i) = argv.iter().position(|a| a == "--runs") {
        runs = argv.get(i + 1).and_then(|s| s.parse().ok()).unwrap_or(runs);
    }
    let tmp = std::env::temp_dir().join(format!("wrap-bench-{}", std::process::id()));
    let home = tmp.join("home");
    std::fs::create_dir_all(&home).expect("temp home");
    // SAFETY: set before any other thread starts.
    unsafe {
        std::env::set_var("HOME", &home);
        std::env::set_var("RAMPART_NO_PROJECT_POLICY", "1");
    }
    let server = InProcessServer::start(ServerOptions {
        audit_dir: Some(tmp.join("audit")),
        ..ServerOptions::default()
    })
    .expect("in-process server");
    // What `wrap` installs (the small companion binary), and `rampart` under the shim name.
    let shim = ShimDir::install(&tmp, Path::new(SHIM_BIN)).expect("shim");
    let dispatch = ShimDir::install(&tmp, Path::new(BIN)).expect("shim");
    let path = std::env::var_os("PATH");
    println!(
        "$SHELL -c true: shim (standard profile, audit fsync) vs the real shell; {runs} runs each"
    );
    println!(
        "{:<6} {:<20} {:>8} {:>8} {:>14}",
        "shell", "variant", "p50 ms", "p95 ms", "added p50 ms"
    );
    for name in ["bash", "dash"] {
        let Some(real) = which(name.as_ref(), path.as_deref()) else {
            println!("{name:<6} (not installed)");
            continue;
        };
        let env: Vec<(String, String)> = server
            .env()
            .into_iter()
            .map(|(k, v)| (k.to_string_lossy().into(), v.to_string_lossy().into()))
            .chain([
                ("RAMPART_REAL_SHELL".into(), path_str(&real)),
                ("SHELL".into(), path_str(&shim.shim())),
            ])
            .collect();
        // Warm the page cache and the server's connection handling.
        for _ in 0..10 {
            once(&real, &env);
            once(&shim.shim(), &env);
            once(&dispatch.shim(), &env);
        }
        let variants = [
            ("real shell", real.clone()),
            ("shim rampart-shell", shim.shim()),
            ("shim rampart argv[0]", dispatch.shim()),
        ];
        let mut times: Vec<Vec<Duration>> = vec![Vec::with_capacity(runs); variants.len()];
        for _ in 0..runs {
            for (i, (_, program)) in variants.iter().enumerate() {
                times[i].push(once(program, &env));
            }
        }
        for t in &mut times {
            t.sort();
        }
        let base = pct(&times[0], 0.5);
        for ((label, _), t) in variants.iter().zip(&times) {
            println!(
                "{name:<6} {label:<20} {:>8.3} {:>8.3} {:>14.3}",
                pct(t, 0.5),
                pct(t, 0.95),
                pct(t, 0.5) - base
            );
        }
    }
    println!("{}", server.shutdown());
    drop(shim);
    drop(dispatch);
    let _ = std::fs::remove_dir_all(&tmp);
}

fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}
