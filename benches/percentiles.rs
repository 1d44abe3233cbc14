//! Per-call latency percentiles on the embedded standard profile (spec/engine.md §16 targets:
//! p99 ≤ 20 µs for every attack-corpus case and every benign developer case, `git status`
//! p50 ≤ 2 µs; load + compile of the embedded standard profile ≤ 2 ms).
//!
//! Run: `cargo bench --bench percentiles` (add `-- --verbose` to list every case, `-- --quick`
//! for fewer samples). Each case is evaluated `SAMPLES` times, each call timed on its own; the
//! table shows p50 and p99 per case and over all cases. The attack corpus is read with the same
//! loader as `rampart bench` from `../shared/compat/corpus/attack-corpus.yaml` (all OSes).
//!
//! On a busy machine a call that is preempted takes milliseconds of wall time, which says
//! nothing about the engine. On Linux each sample therefore reads the thread's context-switch
//! counters (outside the timed region) and a sample during which the thread was switched out is
//! retaken; the number of retaken samples is printed. `-- --raw` keeps every sample instead.
//!
//! Interrupts and hypervisor exits are not visible that way. The end of the output therefore
//! times a spin loop (no engine) at several lengths, sampled the same way: on a VM its p99 sits
//! several µs above its p50 once a sample lasts ~10 µs, and a case's p99 is best read against
//! it. The last line counts the stops themselves (gaps in a loop that only reads the clock):
//! with `r` stops per second, a call lasting `t` seconds is stopped in about `r·t` of its
//! samples; once that passes 1 %, the call's p99 is a stopped sample (its length plus a stop).

use std::hint::black_box;
use std::time::{Duration, Instant};

use rampart::cli::bench_cmd::load_corpus;
use rampart::engine::resolve::embedded;
use rampart::engine::{CompiledPolicySet, ToolCall, compile};

const CALL_P99_TARGET_US: f64 = 20.0;
const GIT_STATUS_P50_TARGET_US: f64 = 2.0;
const LOAD_TARGET_MS: f64 = 2.0;

/// Everyday developer calls that should be allowed quickly.
fn benign() -> Vec<(String, ToolCall)> {
    let exec = [
        "git status",
        "git diff --stat",
        "git log --oneline -20",
        "git add -A && git commit -m \"fix: handle empty input\"",
        "git push origin feature/x",
        "ls -la",
        "cat src/main.rs",
        "grep -rn TODO src",
        "cargo build --release",
        "cargo test --workspace",
        "npm install",
        "npm install && npm test && git diff --stat | head -20",
        "bash -lc 'cd /repo && make build 2>&1 | tail -5'",
        "python3 -m pytest -q tests/",
        "go test ./...",
        "make -j4",
        "docker build -t app .",
        "find . -name '*.rs' | xargs wc -l",
        "sed -n 1,40p README.md",
        "rg --files | head -50",
        "mkdir -p build && cd build && cmake .. && make",
        "echo $(date) >> build.log",
        "curl -s https://api.github.com/repos/x/y | jq .stargazers_count",
        "FOO=bar cargo run -- --help",
    ];
    let mut out: Vec<(String, ToolCall)> = exec
        .iter()
        .map(|c| (format!("exec: {c}"), ToolCall::exec(c)))
        .collect();
    for p in [
        "/home/u/project/src/main.rs",
        "src/lib.rs",
        "/home/u/project/README.md",
    ] {
        out.push((format!("read: {p}"), ToolCall::path("read", p)));
    }
    for p in ["/home/u/project/src/new.rs", "docs/notes.md"] {
        out.push((format!("write: {p}"), ToolCall::path("write", p)));
        out.push((format!("edit: {p}"), ToolCall::path("edit", p)));
    }
    for u in [
        "https://github.com/x/y",
        "https://docs.rs/serde/latest/serde/",
    ] {
        out.push((format!("fetch: {u}"), ToolCall::url("fetch", u)));
    }
    out
}

/// Voluntary plus involuntary context switches of this thread so far.
#[cfg(target_os = "linux")]
fn switches() -> i64 {
    let mut u = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage only writes the rusage struct we pass.
    let u = unsafe {
        libc::getrusage(libc::RUSAGE_THREAD, u.as_mut_ptr());
        u.assume_init()
    };
    u.ru_nvcsw + u.ru_nivcsw
}

#[cfg(not(target_os = "linux"))]
fn switches() -> i64 {
    0
}

/// Times one call; retakes samples during which the thread was switched out (unless `raw`).
fn time_call(
    policy: &CompiledPolicySet,
    call: &ToolCall,
    raw: bool,
    retaken: &mut u64,
) -> Duration {
    time_once(
        &mut || {
            black_box(policy.evaluate(black_box(call)));
        },
        raw,
        retaken,
    )
}

/// Times `f` once, the same way: a sample during which the thread was switched out is retaken.
fn time_once(f: &mut impl FnMut(), raw: bool, retaken: &mut u64) -> Duration {
    for _ in 0..1000 {
        let before = if raw { 0 } else { switches() };
        let s = Instant::now();
        f();
        let d = s.elapsed();
        if raw || switches() == before {
            return d;
        }
        *retaken += 1;
    }
    let s = Instant::now();
    f();
    s.elapsed()
}

/// A fixed amount of work with no memory traffic: what the machine does to any code that runs
/// this long (interrupts, hypervisor exits), with the engine out of the picture.
fn spin(iters: u64) -> u64 {
    let mut x = 1u64;
    for i in 0..iters {
        x = black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(i));
    }
    x
}

/// Stops of this thread's CPU seen by reading the clock in a loop for `span`: how many per
/// second last longer than 2 µs, and their median and 90th-percentile length (µs). Nothing
/// runs between two readings, so a gap is time the CPU spent elsewhere (an interrupt, a
/// hypervisor exit, or a switch the retaking above would catch).
fn stops(span: Duration) -> (f64, f64, f64) {
    let start = Instant::now();
    let mut last = start;
    let mut gaps: Vec<Duration> = Vec::new();
    loop {
        let now = Instant::now();
        let d = now - last;
        if d > Duration::from_micros(2) {
            gaps.push(d);
        }
        last = now;
        if now - start >= span {
            break;
        }
    }
    gaps.sort();
    let per_s = gaps.len() as f64 / span.as_secs_f64();
    (per_s, percentile(&gaps, 0.5), percentile(&gaps, 0.9))
}

/// p50 and p99 of a spin loop whose p50 is about `target_us`, sampled like the engine calls.
fn spin_floor(target_us: f64, samples: usize, raw: bool, retaken: &mut u64) -> (f64, f64) {
    // Calibrate: iterations per microsecond from one long run.
    let probe = 2_000_000;
    let s = Instant::now();
    black_box(spin(probe));
    let per_us = probe as f64 / (s.elapsed().as_secs_f64() * 1e6);
    let iters = (per_us * target_us).max(1.0) as u64;
    let mut t: Vec<Duration> = (0..samples)
        .map(|_| {
            time_once(
                &mut || {
                    black_box(spin(iters));
                },
                raw,
                retaken,
            )
        })
        .collect();
    t.sort();
    (percentile(&t, 0.5), percentile(&t, 0.99))
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e6
}

struct Row {
    name: String,
    p50: f64,
    p99: f64,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let verbose = args.iter().any(|a| a == "--verbose");
    let quick = args.iter().any(|a| a == "--quick");
    let raw = args.iter().any(|a| a == "--raw");
    let mut retaken = 0u64;
    // `cargo test --benches` runs bench targets with `--test`: do one quick pass only.
    let smoke = args.iter().any(|a| a == "--test");
    let (samples, warmup) = if smoke {
        (3, 1)
    } else if quick {
        (300, 50)
    } else {
        (2000, 200)
    };

    // Load + compile of the embedded standard profile, through the public API.
    let mut loads = Vec::new();
    for i in 0..(if smoke { 2 } else { 60 }) {
        let t = Instant::now();
        let set = black_box(compile(&embedded("standard").expect("embedded standard")));
        let d = t.elapsed();
        drop(set);
        if i > 0 || smoke {
            loads.push(d);
        }
    }
    loads.sort();
    let load_p50 = percentile(&loads, 0.5) / 1000.0;
    let load_p99 = percentile(&loads, 0.99) / 1000.0;
    let load_min = loads[0].as_secs_f64() * 1e3;

    let policy = compile(&embedded("standard").expect("embedded standard"));
    let corpus_path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/compat/corpus/attack-corpus.yaml");
    let mut sets: Vec<(&str, Vec<(String, ToolCall)>)> = Vec::new();
    match load_corpus(&corpus_path) {
        Ok(cases) => sets.push((
            "attack corpus",
            cases
                .iter()
                .filter_map(|c| Some((c.id().to_string(), c.call().ok()?)))
                .collect(),
        )),
        Err(e) => eprintln!("attack corpus not available ({e}); benign set only"),
    }
    sets.push(("benign developer set", benign()));

    println!(
        "samples per case: {samples} (each call timed alone); targets: p99 ≤ {CALL_P99_TARGET_US} µs, git status p50 ≤ {GIT_STATUS_P50_TARGET_US} µs, load ≤ {LOAD_TARGET_MS} ms"
    );
    let mut all_over = 0;
    for (label, cases) in &sets {
        let mut rows = Vec::new();
        let mut all: Vec<Duration> = Vec::with_capacity(cases.len() * samples);
        for (name, call) in cases {
            for _ in 0..warmup {
                black_box(policy.evaluate(black_box(call)));
            }
            let mut t = Vec::with_capacity(samples);
            for _ in 0..samples {
                t.push(time_call(&policy, call, raw, &mut retaken));
            }
            t.sort();
            all.extend_from_slice(&t);
            rows.push(Row {
                name: name.clone(),
                p50: percentile(&t, 0.5),
                p99: percentile(&t, 0.99),
            });
        }
        all.sort();
        let over: Vec<&Row> = rows.iter().filter(|r| r.p99 > CALL_P99_TARGET_US).collect();
        all_over += over.len();
        let worst = rows
            .iter()
            .max_by(|a, b| a.p99.total_cmp(&b.p99))
            .map(|r| format!("{} (p50 {:.2} µs, p99 {:.2} µs)", r.name, r.p50, r.p99))
            .unwrap_or_default();
        println!(
            "\n{label}: {} cases; all calls p50 {:.2} µs, p99 {:.2} µs; worst case p99: {worst}; cases over the p99 target: {}",
            rows.len(),
            percentile(&all, 0.5),
            percentile(&all, 0.99),
            over.len()
        );
        let list_all = verbose || *label == "benign developer set";
        let shown: Vec<&Row> = if list_all {
            rows.iter().collect()
        } else {
            println!("  slowest 10 by p99 (--verbose lists all):");
            let mut by = rows.iter().collect::<Vec<_>>();
            by.sort_by(|a, b| b.p99.total_cmp(&a.p99));
            by.truncate(10);
            by
        };
        for r in shown {
            println!(
                "  {:>9.2} µs p50 {:>9.2} µs p99  {}{}",
                r.p50,
                r.p99,
                r.name,
                if r.p99 > CALL_P99_TARGET_US {
                    "  [over]"
                } else {
                    ""
                }
            );
        }
    }
    let git = sets
        .iter()
        .flat_map(|(_, c)| c.iter())
        .find(|(n, _)| n == "exec: git status")
        .map(|(_, c)| c.clone())
        .expect("git status case");
    let mut t: Vec<Duration> = (0..samples.max(1000))
        .map(|_| time_call(&policy, &git, raw, &mut retaken))
        .collect();
    t.sort();
    println!(
        "\ngit status: p50 {:.2} µs (target ≤ {GIT_STATUS_P50_TARGET_US}), p99 {:.2} µs",
        percentile(&t, 0.5),
        percentile(&t, 0.99)
    );
    println!(
        "load+compile embedded standard: p50 {load_p50:.2} ms, p99 {load_p99:.2} ms, min {load_min:.2} ms (target ≤ {LOAD_TARGET_MS} ms)"
    );
    println!("cases over the per-call p99 target: {all_over}");
    // What this machine adds to any work of a given length: on a VM, interrupts and
    // hypervisor exits land on ~1% of 10–20 µs samples and add several µs to each.
    let floor: Vec<String> = [2.0, 5.0, 10.0, 15.0, 20.0, 25.0]
        .iter()
        .map(|&us| {
            let (p50, p99) = spin_floor(us, samples.max(1000), raw, &mut retaken);
            format!("p50 {p50:.1} → p99 {p99:.1}")
        })
        .collect();
    println!(
        "machine floor (a spin loop, no engine, sampled the same way; µs): {}",
        floor.join(", ")
    );
    let (per_s, med, p90) = stops(Duration::from_millis(if smoke { 10 } else { 2000 }));
    println!(
        "CPU stops over 2 µs (clock read in a loop for 2 s): {per_s:.0}/s, median {med:.1} µs, p90 {p90:.1} µs"
    );
    if !raw {
        println!("samples retaken because the thread was switched out: {retaken}");
    }
}
