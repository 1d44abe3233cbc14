//! The body of every fuzz target, as plain functions of the input bytes, so the stable test
//! suite (`tests/fuzz_regressions.rs`, which includes this file) replays saved crashers through
//! exactly the code the fuzzers run. Each function must not panic on any input.

use std::sync::OnceLock;

use rampart::api::body::{decode, parse_value};
use rampart::api::tool_input::{
    ToolRequest, normalize, strip_leading_comments, validate_tool_name,
};
use rampart::audit::event::{Record, parse_record};
use rampart::audit::hash::{event_hash, hashes_equal};
use rampart::engine::glob::{CommandGlob, DomainGlob, PathGlob, normalize_domain, shell_match};
use rampart::engine::load::load_text;
use rampart::engine::resolve::embedded;
use rampart::engine::{CompiledPolicySet, ToolCall, compile, shell};
use rampart::hook::host::{Phase, Verdict};
use rampart::hook::run::Format;
use rampart::mcp::call::{Identity, from_params, response_text};
use rampart::mcp::frame::{Frame, FrameReader};
use rampart::mcp::jsonrpc::{error_line, id_key, raw_id, result_line, shadowed, trim};
use serde_json::Value;

fn standard() -> &'static CompiledPolicySet {
    static S: OnceLock<CompiledPolicySet> = OnceLock::new();
    S.get_or_init(|| compile(&embedded("standard").expect("embedded standard")))
}

/// Shell text written by a model: the parser/unwrapper, then a decision under the standard
/// profile (which drives the unwrapper through every wrapper the rules know). No panic.
pub fn shell_analyze(data: &[u8]) {
    let src = String::from_utf8_lossy(data);
    let a = shell::analyze(&src);
    let _ = format!("{a:?}");
    let _ = standard().evaluate(&ToolCall::exec(&src));
}

/// Command, path and domain globs: pattern and value split at the first NUL. No panic.
pub fn glob_match(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (pattern, value) = text.split_once('\0').unwrap_or((&text, ""));
    let c = CommandGlob::new(pattern);
    let _ = c.matches(value);
    let _ = c.required_literals();
    c.prepare();
    let _ = c.matches(value);
    let p = PathGlob::new(pattern);
    let _ = p.matches(value);
    p.prepare();
    let _ = p.matches(value);
    let d = DomainGlob::new(pattern);
    let _ = d.matches(value);
    d.prepare();
    let _ = d.matches(value);
    let _ = normalize_domain(value);
    let _ = shell_match(pattern, value);
}

/// Policy YAML from a repository: load, compile, decide a few calls. No panic.
pub fn policy_load(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(set) = load_text("fuzz.yaml", text) else {
        return;
    };
    let compiled = compile(&set);
    for call in [
        ToolCall::exec("rm -rf / && git push --force"),
        ToolCall::path("read", "/home/u/.ssh/id_rsa"),
        ToolCall::path("write", "src/main.rs"),
        ToolCall::url("fetch", "https://example.com/x?y=1"),
        ToolCall::with_param("mcp__db__query", "sql", "drop table users"),
    ] {
        let d = compiled.evaluate(&call);
        let _ = compiled.evaluate_response(&call, "AKIAABCDEFGHIJKLMNOP secret output");
        let _ = format!("{d:?}");
    }
    compiled.prepare();
}

const FORMATS: [Format; 7] = [
    Format::ClaudeCode,
    Format::Codex,
    Format::Cline,
    Format::Cursor,
    Format::Gemini,
    Format::Copilot,
    Format::Antigravity,
];

/// Hook stdin for each host format: the first byte picks the format, the rest is stdin. Runs
/// what `rampart hook` runs before any I/O: the JSON reader, `is_post`, `raw_response`,
/// `parse`, and rendering each verdict. No panic.
pub fn hook_formats(data: &[u8]) {
    let Some((&sel, stdin)) = data.split_first() else {
        return;
    };
    let host = FORMATS[usize::from(sel) % FORMATS.len()].host();
    let Ok(raw) = parse_value(stdin) else {
        return;
    };
    let post = host.is_post(&raw);
    let response = host.raw_response(&raw);
    let phase = if post { Phase::Post } else { Phase::Pre };
    if let Ok(ev) = host.parse(&raw) {
        let subject = ev.subject();
        let _ = host.deny_banner(&subject, "fuzz", &["try x".to_string()]);
        for v in [
            Verdict::Allow,
            Verdict::Defer,
            Verdict::Deny(subject.clone()),
            Verdict::Ask(subject.clone()),
            Verdict::Block(subject.clone(), ev.response.clone()),
            Verdict::Context(subject),
        ] {
            let _ = host.render(ev.phase, &v);
        }
    }
    let _ = host.render(phase, &Verdict::Block("fuzz".into(), response));
}

/// MCP JSON-RPC frames from either side: the frame splitter, id handling, the strict and lax
/// `tools/call` decoding and the result-text extraction. No panic.
pub fn mcp_frames(data: &[u8]) {
    let who = Identity {
        agent: "fuzz".into(),
        session: "s".into(),
        workdir: Some("/tmp".into()),
        classes: None,
    };
    let mut frames = FrameReader::new(data, 512);
    for _ in 0..64 {
        let line = match frames.next_frame() {
            Ok(Frame::Line(l)) => l,
            Ok(Frame::TooLong { .. }) => continue,
            Ok(Frame::Eof) | Err(_) => break,
        };
        let body = trim(&line);
        let rid = raw_id(body);
        let _ = error_line(&rid, -32600, "fuzz");
        let Ok(Value::Object(msg)) = serde_json::from_slice::<Value>(body) else {
            continue;
        };
        let _ = result_line(&rid, &Value::Null);
        if let Some(id) = msg.get("id") {
            let _ = id_key(id);
        }
        let _ = shadowed(&msg, &["jsonrpc", "id", "method", "params"]);
        for strict in [true, false] {
            let _ = from_params(msg.get("params"), &who, strict);
        }
        let _ = response_text(&msg);
    }
}

/// `/v1/tool/{name}` request bodies: the first line is the path segment, the rest the body.
/// Body reader, typed decode, tool-name validation and tool-input normalisation. No panic.
pub fn api_body(data: &[u8]) {
    let split = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let (name, body) = data.split_at(split);
    let body = body.get(1..).unwrap_or(&[]);
    let _ = parse_value(body);
    let name = String::from_utf8_lossy(name);
    let tool = validate_tool_name(&name).unwrap_or_else(|_| "exec".to_string());
    let _ = strip_leading_comments(&name);
    for empty_ok in [true, false] {
        if let Ok(req) = decode::<ToolRequest>(body, empty_ok) {
            let _ = normalize(&tool, &req);
            let _ = normalize("exec", &req);
        }
    }
}

/// Lines of an audit chain file as `rampart audit verify` reads them: record parsing, then the
/// hash recomputation and re-serialisation a verified event goes through. No panic.
pub fn audit_lines(data: &[u8]) {
    for line in data.split(|&b| b == b'\n').take(32) {
        match parse_record(line) {
            Ok(Record::Event(e)) => {
                let h = event_hash(&e);
                let _ = hashes_equal(&h, &e.hash);
                let _ = e.to_json();
                let _ = e.preimage_json();
            }
            Ok(Record::Continue(c)) => {
                let _ = hashes_equal(&c.chain_continue, "sha256:00");
                let _ = c.to_json();
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }
}

/// A whole audit directory as `rampart audit verify` and a starting writer see it. The input is
/// split at NUL bytes into two chain files and the anchor log. `verify_dir` must not panic; and
/// when it finds the directory intact, a writer opened on it must append an event after which
/// the directory still verifies, one event longer.
pub fn audit_walk(data: &[u8]) {
    use rampart::audit::event::AuditEvent;
    use rampart::audit::verify::verify_dir;
    use rampart::audit::writer::{AuditSink, SinkConfig};

    // One directory per thread: the stable replay runs targets on parallel test threads.
    thread_local! {
        static DIR: std::path::PathBuf = {
            static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            std::env::temp_dir().join(format!("rampart-fuzz-audit-walk-{}-{n}", std::process::id()))
        };
    }
    let dir = DIR.with(|d| d.clone());
    struct Cleanup<'a>(&'a std::path::Path);
    impl Drop for Cleanup<'_> {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(self.0);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create fuzz audit dir");
    let _cleanup = Cleanup(&dir);
    let mut parts = data.splitn(3, |&b| b == 0);
    for name in [
        "2026-01-01.jsonl",
        "2026-01-02.jsonl",
        "audit-anchors.jsonl",
    ] {
        if let Some(p) = parts.next().filter(|p| !p.is_empty()) {
            std::fs::write(dir.join(name), p).expect("write fuzz audit file");
        }
    }
    let Ok(before) = verify_dir(&dir) else {
        return;
    };
    let mut cfg = SinkConfig::new(&dir);
    cfg.verify_tail_on_open = true;
    let opened = AuditSink::open(cfg);
    if before.brk.is_some() {
        // A damaged directory: the writer may refuse or continue, but must not panic.
        if let Ok(sink) = opened {
            let _ = sink.append(AuditEvent::new("fuzz", "s", "exec", "allow"));
        }
        return;
    }
    let sink = opened.unwrap_or_else(|e| panic!("writer refused an intact directory: {e}"));
    sink.append(AuditEvent::new("fuzz", "s", "exec", "allow"))
        .unwrap_or_else(|e| panic!("append to an intact directory failed: {e}"));
    drop(sink);
    let after = verify_dir(&dir).expect("verify after append");
    assert!(
        after.brk.is_none(),
        "append broke an intact chain: {:?}",
        after.brk
    );
    assert_eq!(
        after.events,
        before.events + 1,
        "event count after one append"
    );
}
