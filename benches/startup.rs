//! Start-up cost of a one-shot command (spec/engine.md §16: agent hosts run `rampart hook` as a
//! fresh process before every tool call, so policy load, compile and the first evaluation are
//! paid on every call).
//!
//! Run: `cargo build --release --bin rampart && cargo bench --bench startup`
//! (`-- --quick` takes fewer samples, `-- --bin PATH` times another binary in part (b)).
//!
//! (a) In a fresh process: this bench re-executes itself once per sample; the child resolves the
//!     embedded `standard` profile with an empty `~/.rampart/policies` (agent surface), compiles
//!     it (`compile_owned`, as one-shot commands do), evaluates `git status` and then `rm -rf /`
//!     once each, drops the policy, and reports each step's time and minor page faults (a fresh
//!     process pays a fault for every heap page it touches first). The same steps repeated
//!     inside one process are reported as "warm".
//! (b) Wall time of spawning `target/release/rampart test "git status"` (and `--version`, the
//!     floor of process start and argument parsing), N times each: p50, p95 and min.
//!
//! Benchmarks only: nothing here asserts a time.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use rampart::engine::compile::compile_owned;
use rampart::engine::resolve::{ResolveOptions, Surface, resolve};
use rampart::engine::{Action, ToolCall};

const CHILD_ENV: &str = "RAMPART_STARTUP_BENCH_CHILD";
const STEPS: [&str; 7] = [
    "resolve",
    "compile",
    "eval git status",
    "eval rm -rf /",
    "drop",
    "load+compile+first eval",
    "total",
];

/// Minor page faults of this process so far.
fn faults() -> i64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut r: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut r) };
    r.ru_minflt
}

/// One run of the steps: times in nanoseconds and minor page faults, in `STEPS` order.
fn steps(home: &Path) -> ([u128; 7], [i64; 7]) {
    let opts = ResolveOptions {
        config: None,
        config_dir: None,
        surface: Surface::Agent,
        project_dir: None,
        home: Some(home.to_path_buf()),
    };
    let mut t = [Instant::now(); 6];
    let mut f = [0i64; 6];
    f[0] = faults();
    t[0] = Instant::now();
    let set = resolve(&opts).expect("embedded standard resolves");
    (t[1], f[1]) = (Instant::now(), faults());
    let policy = compile_owned(set);
    (t[2], f[2]) = (Instant::now(), faults());
    let a = policy.evaluate(black_box(&ToolCall::exec("git status")));
    (t[3], f[3]) = (Instant::now(), faults());
    let b = policy.evaluate(black_box(&ToolCall::exec("rm -rf /")));
    (t[4], f[4]) = (Instant::now(), faults());
    drop(black_box(policy));
    (t[5], f[5]) = (Instant::now(), faults());
    assert_eq!(a.action, Action::Allow, "git status is allowed");
    assert_eq!(b.action, Action::Deny, "rm -rf / is denied");
    let d = |x: usize, y: usize| (t[y] - t[x]).as_nanos();
    let n = |x: usize, y: usize| f[y] - f[x];
    (
        [
            d(0, 1),
            d(1, 2),
            d(2, 3),
            d(3, 4),
            d(4, 5),
            d(0, 3),
            d(0, 5),
        ],
        [
            n(0, 1),
            n(1, 2),
            n(2, 3),
            n(3, 4),
            n(4, 5),
            n(0, 3),
            n(0, 5),
        ],
    )
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn summary(label: &str, v: Vec<f64>, unit: &str) {
    summary_with(label, v, unit, "");
}

fn summary_with(label: &str, mut v: Vec<f64>, unit: &str, extra: &str) {
    v.sort_by(f64::total_cmp);
    println!(
        "  {label:<24} p50 {:>8.3} {unit}  p95 {:>8.3} {unit}  min {:>8.3} {unit}{extra}",
        percentile(&v, 0.5),
        percentile(&v, 0.95),
        v.first().copied().unwrap_or(f64::NAN),
    );
}

/// A home directory with an empty `.rampart/policies`.
fn empty_home() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("rampart-startup-bench-")
        .tempdir()
        .expect("temp dir");
    std::fs::create_dir_all(dir.path().join(".rampart/policies")).expect("policies dir");
    dir
}

fn spawn_wall(bin: &Path, args: &[&str], home: &Path, runs: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(runs);
    for i in 0..runs + 3 {
        let t = Instant::now();
        let status = Command::new(bin)
            .args(args)
            .env("HOME", home)
            .env("RAMPART_NO_PROJECT_POLICY", "1")
            .current_dir(home)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("spawn rampart");
        let d = t.elapsed();
        assert!(
            status.code().is_some(),
            "{} exited by signal",
            bin.display()
        );
        // The first few runs warm the page cache.
        if i >= 3 {
            out.push(d.as_secs_f64() * 1e3);
        }
    }
    out
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(home) = std::env::var_os(CHILD_ENV) {
        let (t, f) = steps(Path::new(&home));
        let line: Vec<String> = t
            .iter()
            .map(u128::to_string)
            .chain(f.iter().map(i64::to_string))
            .collect();
        println!("{}", line.join(" "));
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    let runs = if quick { 40 } else { 200 };
    let bin = args
        .iter()
        .position(|a| a == "--bin")
        .and_then(|i| args.get(i + 1))
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/rampart"));
    let home = empty_home();

    // (a) Cold, one fresh process per sample.
    let me = std::env::current_exe().expect("own path");
    let mut cold: Vec<Vec<f64>> = vec![Vec::new(); STEPS.len()];
    let mut cold_faults: Vec<Vec<f64>> = vec![Vec::new(); STEPS.len()];
    for _ in 0..runs {
        let out = Command::new(&me)
            .env(CHILD_ENV, home.path())
            .stdin(Stdio::null())
            .output()
            .expect("re-execute the bench");
        let text = String::from_utf8_lossy(&out.stdout);
        let nums: Vec<f64> = text
            .split_whitespace()
            .filter_map(|w| w.parse::<f64>().ok())
            .collect();
        if nums.len() == 2 * STEPS.len() {
            for k in 0..STEPS.len() {
                cold[k].push(nums[k] / 1e3);
                cold_faults[k].push(nums[STEPS.len() + k]);
            }
        }
    }
    println!(
        "(a) fresh process, embedded standard + empty ~/.rampart/policies, {runs} processes (µs; minor page faults):"
    );
    for (k, name) in STEPS.iter().enumerate() {
        let mut f = cold_faults[k].clone();
        f.sort_by(f64::total_cmp);
        let extra = format!("  faults p50 {:.0}", percentile(&f, 0.5));
        summary_with(name, cold[k].clone(), "µs", &extra);
    }
    let mut warm: Vec<Vec<f64>> = vec![Vec::new(); STEPS.len()];
    for i in 0..runs + 5 {
        let (t, _) = steps(home.path());
        if i >= 5 {
            for (k, n) in t.iter().enumerate() {
                warm[k].push(*n as f64 / 1e3);
            }
        }
    }
    println!("    warm, the same steps repeated in one process (µs):");
    for (k, name) in STEPS.iter().enumerate() {
        summary(name, warm[k].clone(), "µs");
    }

    // (b) Whole processes.
    if bin.is_file() {
        println!("(b) spawn {} … , {runs} runs each (ms):", bin.display());
        summary(
            "test \"git status\"",
            spawn_wall(&bin, &["test", "git status"], home.path(), runs),
            "ms",
        );
        summary(
            "test \"rm -rf /\"",
            spawn_wall(&bin, &["test", "rm -rf /"], home.path(), runs),
            "ms",
        );
        summary(
            "--version",
            spawn_wall(&bin, &["--version"], home.path(), runs),
            "ms",
        );
    } else {
        println!(
            "(b) skipped: {} not found (cargo build --release --bin rampart)",
            bin.display()
        );
    }
}
