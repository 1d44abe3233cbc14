//! Per-exec overhead of the preload library: a loop of `posix_spawn("/bin/true")` + `waitpid`,
//! each spawn timed on its own, without the library and with it against a real in-process
//! server on loopback (audit off, then audit on disk with its fsync), plus the library loaded in
//! `disabled` mode (interposition alone, no request).
//!
//! `cargo bench --bench preload_exec` (add `-- --runs N` to change the 1,000 spawns per case).
//! Prints p50/p90/p99 per case and the p50 each case adds over the baseline. Target: ≤ 0.5 ms
//! added p50 (library + request + evaluation, audit off).

#[path = "../tests/support/mod.rs"]
#[allow(unused_imports)]
mod support;

use std::ffi::c_char;
use std::process::Command;
use std::time::Instant;

use support::preload::lib_path;
use support::{Opts, POLICY, TOKEN, TestServer};

const CHILD_ENV: &str = "PRELOAD_BENCH_CHILD";

unsafe extern "C" {
    static environ: *const *const c_char;
}

/// Child mode: spawn `/bin/true` `n` times, print each duration in nanoseconds.
fn child(n: usize) {
    let path = c"/bin/true";
    let argv = [path.as_ptr(), std::ptr::null()];
    let mut out = String::with_capacity(n * 8);
    for _ in 0..n {
        let mut pid: libc::pid_t = 0;
        let t = Instant::now();
        // SAFETY: valid path, argv and environment; NULL actions and attributes are allowed.
        let r = unsafe {
            libc::posix_spawn(
                &mut pid,
                path.as_ptr(),
                std::ptr::null(),
                std::ptr::null(),
                argv.as_ptr() as *const *mut c_char,
                environ as *const *mut c_char,
            )
        };
        assert_eq!(r, 0, "posix_spawn failed: {r}");
        let mut status = 0;
        // SAFETY: waiting for our own child.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        out.push_str(&t.elapsed().as_nanos().to_string());
        out.push('\n');
    }
    print!("{out}");
}

fn measure(runs: usize, env: &[(&str, String)]) -> Vec<f64> {
    let mut c = Command::new(std::env::current_exe().expect("bench exe"));
    c.env(CHILD_ENV, runs.to_string());
    for (k, _) in std::env::vars_os() {
        if k.to_str()
            .is_some_and(|k| k.starts_with("RAMPART_") || k == "LD_PRELOAD")
        {
            c.env_remove(&k);
        }
    }
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().expect("run child");
    assert!(
        out.status.success(),
        "child failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "child wrote to stderr (a refusal or warning?): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut v: Vec<f64> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.parse::<f64>().ok())
        .map(|ns| ns / 1e6)
        .collect();
    assert_eq!(v.len(), runs);
    v.sort_by(|a, b| a.total_cmp(b));
    v
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn main() {
    if let Some(n) = std::env::var(CHILD_ENV)
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        child(n);
        return;
    }
    let argv: Vec<String> = std::env::args().collect();
    let runs = argv
        .iter()
        .position(|a| a == "--runs")
        .and_then(|i| argv.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000usize);
    let lib = lib_path().to_string_lossy().into_owned();
    let mk = |audit: bool| {
        let dir = tempfile::Builder::new()
            .prefix("preload-bench-")
            .tempdir()
            .expect("temp dir");
        TestServer::start_in(
            Opts {
                policy: POLICY.into(),
                audit,
                metrics: false,
                ..Opts::default()
            },
            dir,
        )
    };
    let no_audit = mk(false);
    let with_audit = mk(true);
    let under = |srv: &TestServer| {
        vec![
            ("LD_PRELOAD", lib.clone()),
            ("RAMPART_URL", srv.base.clone()),
            ("RAMPART_TOKEN", TOKEN.to_string()),
        ]
    };
    println!("preload_exec: {runs} × posix_spawn(/bin/true) + waitpid, per-spawn wall time (ms)");
    let base = measure(runs, &[]);
    let mut disabled = under(&no_audit);
    disabled.push(("RAMPART_MODE", "disabled".into()));
    let cases = [
        ("without the library", base.clone()),
        ("library, mode disabled", measure(runs, &disabled)),
        (
            "library, server audit off",
            measure(runs, &under(&no_audit)),
        ),
        (
            "library, server audit on disk",
            measure(runs, &under(&with_audit)),
        ),
    ];
    let base_p50 = pct(&base, 0.5);
    for (name, v) in &cases {
        println!(
            "  {name:<32} p50 {:>7.3}  p90 {:>7.3}  p99 {:>7.3}  added p50 {:>+7.3}",
            pct(v, 0.5),
            pct(v, 0.9),
            pct(v, 0.99),
            pct(v, 0.5) - base_p50
        );
    }
    let checked = no_audit
        .state
        .metrics
        .preflights
        .load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(
        checked as usize, runs,
        "every spawn was checked exactly once"
    );
}
