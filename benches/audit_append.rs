//! Durable appends/s with 1, 8 and 64 concurrent writers: group commit vs one fsync per event.

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

fn bench(c: &mut Criterion) {
    let base = std::env::var_os("RAMPART_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
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
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
