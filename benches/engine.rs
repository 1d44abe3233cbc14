//! Engine evaluation and load speed on the standard profile.
//! Run: `cargo bench --bench engine`. Targets: microseconds per call, load in a few ms.

use criterion::{Criterion, criterion_group, criterion_main};
use rampart::engine::resolve::embedded;
use rampart::engine::{ToolCall, compile, load};
use std::hint::black_box;

fn standard_compat() -> Option<rampart::engine::CompiledPolicySet> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/compat/policies/standard.yaml");
    load::load_file(&p).ok().map(|s| compile(&s))
}

fn bench(c: &mut Criterion) {
    let ours = compile(&embedded("standard").expect("embedded standard"));
    let cases = [
        ("git status", ToolCall::exec("git status")),
        ("rm -rf /", ToolCall::exec("rm -rf /")),
        (
            "npm pipeline",
            ToolCall::exec("npm install && npm test && git diff --stat | head -20"),
        ),
        (
            "bash -lc make",
            ToolCall::exec("bash -lc 'cd /repo && make build 2>&1 | tail -5'"),
        ),
        (
            "read source",
            ToolCall::path("read", "/home/u/project/src/main.rs"),
        ),
        (
            "fetch github",
            ToolCall::url("fetch", "https://github.com/x/y"),
        ),
    ];
    for (name, call) in &cases {
        c.bench_function(&format!("embedded standard: {name}"), |b| {
            b.iter(|| black_box(ours.evaluate(black_box(call))))
        });
    }
    if let Some(compat) = standard_compat() {
        for (name, call) in &cases {
            c.bench_function(&format!("compat standard: {name}"), |b| {
                b.iter(|| black_box(compat.evaluate(black_box(call))))
            });
        }
    }
    c.bench_function("load+compile embedded standard", |b| {
        b.iter(|| black_box(compile(&embedded("standard").expect("loads"))))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
