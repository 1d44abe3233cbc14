//! Durable appends/s with 1, 8 and 64 concurrent writers: group commit vs one fsync per event;
//! two sinks sharing one directory; and the time to open a sink on a ~10k-event directory
//! (checkpoint fast path, as a one-shot hook does, vs tail recovery, as `serve` does).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rampart::audit::{AuditEvent, AuditSink, SinkConfig};
use serde_json::json;
use std::time::{Duration, Instant};

fn event(i: u64) -> AuditEvent {
    let mut e = AuditEvent::new("claude-code", "repo/main", "exec", "allow");
    e.request = Some(
        json!({"command": format!("git status --short # {i}"), "cwd": "/home/u/repo"})
            .as_object()
            .cloned()
            .unwrap_or_default(),
    );
    e.decision.matched_policies = vec!["standard".into()];
    e.decision.evaluation_time_us = 7;
    e
}

fn run(sink: &AuditSink, writers: u64, iters: u64) -> Duration {
    let per = iters.div_ceil(writers);
    let start = Instant::now();
    std::thread::scope(|s| {
        for w in 0..writers {
            let sink = sink.clone();
            s.spawn(move || {
                for i in 0..per {
                    if sink.append(event(w * per + i)).is_err() {
                        panic!("append failed");
                    }
                }
            });
        }
    });
    let el = start.elapsed();
    // Report per requested iteration even when rounding added a few appends.
    el.mul_f64(iters as f64 / (per * writers) as f64)
}

/// `writers` threads spread over several sinks opened separately on one directory.
fn run_shared(sinks: &[AuditSink], writers: u64, iters: u64) -> Duration {
    let per = iters.div_ceil(writers);
    let start = Instant::now();
    std::thread::scope(|s| {
        for w in 0..writers {
            let sink = sinks[(w as usize) % sinks.len()].clone();
            s.spawn(move || {
                for i in 0..per {
                    if sink.append(event(w * per + i)).is_err() {
                        panic!("append failed");
                    }
                }
            });
        }
    });
    let el = start.elapsed();
    el.mul_f64(iters as f64 / (per * writers) as f64)
}

fn base_dir() -> std::path::PathBuf {
    std::env::var_os("RAMPART_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
}

fn bench(c: &mut Criterion) {
    let base = base_dir();
    for (mode, max_batch) in [("group_commit", 4096usize), ("fsync_per_event", 1)] {
        let mut g = c.benchmark_group(format!("audit_append/{mode}"));
        g.throughput(Throughput::Elements(1));
        g.sample_size(10);
        g.warm_up_time(Duration::from_millis(500));
        g.measurement_time(Duration::from_secs(4));
        for writers in [1u64, 8, 64] {
            let tmp = tempfile::tempdir_in(&base).expect("temp dir");
            let mut cfg = SinkConfig::new(tmp.path().join("audit"));
            cfg.max_batch = max_batch;
            let sink = AuditSink::open(cfg).expect("open sink");
            g.bench_function(format!("{writers}_writers"), |b| {
                b.iter_custom(|iters| run(&sink, writers, iters))
            });
            let st = sink.stats();
            eprintln!(
                "{mode} {writers} writers: {} events, {} fsyncs ({:.1} events/fsync)",
                st.events,
                st.fsyncs,
                st.events as f64 / st.fsyncs.max(1) as f64
            );
        }
        if max_batch > 1 {
            let tmp = tempfile::tempdir_in(&base).expect("temp dir");
            let dir = tmp.path().join("audit");
            let sinks: Vec<AuditSink> = (0..2)
                .map(|_| AuditSink::open(SinkConfig::new(&dir)).expect("open sink"))
                .collect();
            g.bench_function("8_writers_2_sinks_one_dir", |b| {
                b.iter_custom(|iters| run_shared(&sinks, 8, iters))
            });
            for (k, s) in sinks.iter().enumerate() {
                let st = s.stats();
                eprintln!(
                    "{mode} shared sink {k}: {} events, {} batches, {} resyncs, {} recoveries",
                    st.events, st.batches, st.resyncs, st.recoveries
                );
            }
        }
        g.finish();
    }
}

/// Events in the directory the open benchmark uses: not a multiple of the anchor interval, so
/// tail recovery has 50 events to walk (the average case).
const OPEN_EVENTS: u64 = 10_050;

fn bench_open(c: &mut Criterion) {
    let tmp = tempfile::tempdir_in(base_dir()).expect("temp dir");
    let dir = tmp.path().join("audit");
    {
        let sink = AuditSink::open(SinkConfig::new(&dir)).expect("open sink");
        let tickets: Vec<_> = (0..OPEN_EVENTS)
            .map(|i| sink.submit(event(i)).expect("submit"))
            .collect();
        for t in tickets {
            t.wait().expect("append");
        }
    }
    let mut g = c.benchmark_group("audit_open/10k_events");
    g.sample_size(50);
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(3));
    for (name, verify_tail) in [("checkpoint", false), ("tail_recovery", true)] {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let mut cfg = SinkConfig::new(&dir);
                    cfg.verify_tail_on_open = verify_tail;
                    let t = Instant::now();
                    let sink = AuditSink::open(cfg).expect("open sink");
                    total += t.elapsed();
                    // Closing (joining the flusher thread) is not part of the open cost.
                    drop(sink);
                }
                total
            })
        });
    }
    // What one hook process pays: open, one durable append, close.
    g.bench_function("hook_open_append_close", |b| {
        b.iter(|| {
            let sink = AuditSink::open(SinkConfig::new(&dir)).expect("open sink");
            sink.append(event(0)).expect("append");
        })
    });
    g.finish();
}

/// The per-batch cost the directory lock and checkpoint add to a lone writer (no chain I/O):
/// lock, read and compare the checkpoint, write it dirty, write it clean, unlock.
fn bench_lock_protocol(c: &mut Criterion) {
    use rampart::audit::checkpoint::{Checkpoint, DirLock};
    let tmp = tempfile::tempdir_in(base_dir()).expect("temp dir");
    let mut lock = DirLock::open(tmp.path()).expect("lock file");
    let mut ck = Checkpoint {
        clean: true,
        file: "audit-hook-2026-02-11.jsonl".into(),
        head_hash: format!("sha256:{}", "ab".repeat(32)),
        rec_file: "audit-hook-2026-02-11.jsonl".into(),
        ..Checkpoint::default()
    };
    let mut last = ck.encode().expect("encode");
    lock.write(&last).expect("write");
    let mut g = c.benchmark_group("audit_lock");
    g.bench_function("batch_protocol", |b| {
        b.iter(|| {
            lock.acquire(Duration::from_secs(5)).expect("lock");
            let raw = lock.read().expect("read");
            assert!(raw == Some(last));
            ck.clean = false;
            lock.write(&ck.encode().expect("encode")).expect("write");
            ck.clean = true;
            ck.event_count += 1;
            ck.file_len += 500;
            last = ck.encode().expect("encode");
            lock.write(&last).expect("write");
            lock.release();
        })
    });
    g.finish();
}

criterion_group!(benches, bench, bench_open, bench_lock_protocol);
criterion_main!(benches);
