//! Golden hash chain built by hand from spec §7.2/§7.3; hashes computed by `sha256sum`.

use rampart::audit::event::{
    AuditEvent, EventDecision, EventResponse, HostInfo, Record, parse_record,
};
use rampart::audit::hash::event_hash;
use rampart::audit::{AuditSink, SinkConfig, verify_dir};
use serde_json::{Map, Value, json};
use std::io::Write;
use std::process::{Command, Stdio};

/// SHA-256 by the system tool, independent of the crate under test.
fn sha256sum(data: &[u8]) -> String {
    let mut child = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("sha256sum on PATH");
    child.stdin.take().unwrap().write_all(data).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    format!("sha256:{}", text.split_whitespace().next().unwrap())
}

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

/// Event 1: the spec's example event (genesis).
const PRE1: &str = concat!(
    r#"{"schema_version":"rampart.audit.v1","id":"01HQXYZ0000000000000000000","#,
    r#""timestamp":"2026-02-11T21:03:38.123456789Z","agent":"claude-code","session":"repo/main","#,
    r#""host":{"hostname":"box","os":"linux","arch":"amd64"},"tool":"exec","#,
    r#""request":{"command":"rm -rf /tmp/*"},"#,
    r#""decision":{"action":"deny","matched_policies":["protect-sys"],"evaluation_time_us":8,"#,
    r#""message":"blocked","suggestions":["rampart allow 'rm -rf /tmp/*'"]},"#,
    r#""prev_hash":"","hash":""}"#
);

/// Event 2: escaping, sorted keys, Go float forms, trimmed nanos, response, omitted fields.
const PRE2_HEAD: &str = concat!(
    r#"{"schema_version":"rampart.audit.v1","id":"01HQXYZ0000000000000000001","#,
    r#""timestamp":"2026-02-11T21:03:39.12Z","agent":"codex","session":"s\u003c1\u003e","#,
    r#""run_id":"run-7","tool":"write","#,
    r#""request":{"a":1e+21,"b":1e-7,"c":0.000001,"d":[true,null,"x\u0026y"],"#,
    r#""e":"line\nbreak\u2028tab\t\u0001é","z":{"j":100000000000000000000,"k":-0.5}},"#,
    r#""decision":{"action":"allow","evaluation_time_us":0},"#,
    r#""response":{"exit_code":0,"duration_ms":12,"flags":["response-evaluated"]},"#,
    r#""prev_hash":""#
);

fn event1() -> AuditEvent {
    AuditEvent {
        schema_version: "rampart.audit.v1".into(),
        id: "01HQXYZ0000000000000000000".into(),
        timestamp: Some(
            chrono::DateTime::parse_from_rfc3339("2026-02-11T21:03:38.123456789Z").unwrap(),
        ),
        agent: "claude-code".into(),
        session: "repo/main".into(),
        host: Some(HostInfo {
            hostname: "box".into(),
            os: "linux".into(),
            arch: "amd64".into(),
        }),
        tool: "exec".into(),
        request: Some(obj(json!({"command": "rm -rf /tmp/*"}))),
        decision: EventDecision {
            action: "deny".into(),
            matched_policies: vec!["protect-sys".into()],
            evaluation_time_us: 8,
            message: "blocked".into(),
            suggestions: vec!["rampart allow 'rm -rf /tmp/*'".into()],
        },
        ..AuditEvent::default()
    }
}

fn event2(prev: &str) -> AuditEvent {
    AuditEvent {
        schema_version: "rampart.audit.v1".into(),
        id: "01HQXYZ0000000000000000001".into(),
        timestamp: Some(
            chrono::DateTime::parse_from_rfc3339("2026-02-11T21:03:39.120000000Z").unwrap(),
        ),
        agent: "codex".into(),
        session: "s<1>".into(),
        run_id: "run-7".into(),
        tool: "write".into(),
        request: Some(obj(json!({
            "z": {"k": -0.5, "j": 1e20},
            "e": "line\nbreak\u{2028}tab\t\u{1}é",
            "d": [true, null, "x&y"],
            "c": 0.000001,
            "b": 1e-7,
            "a": 1e21,
        }))),
        decision: EventDecision {
            action: "allow".into(),
            ..EventDecision::default()
        },
        response: Some(EventResponse {
            exit_code: Some(0),
            duration_ms: 12,
            flags: vec!["response-evaluated".into()],
        }),
        prev_hash: prev.into(),
        ..AuditEvent::default()
    }
}

#[test]
fn golden_chain_is_byte_exact() {
    let mut e1 = event1();
    assert_eq!(e1.preimage_json(), PRE1);
    let h1 = sha256sum(PRE1.as_bytes()); // genesis: prev_hash "" adds nothing
    assert_eq!(event_hash(&e1), h1);
    e1.hash = h1.clone();

    let mut e2 = event2(&h1);
    let pre2 = format!("{PRE2_HEAD}{h1}\",\"hash\":\"\"}}");
    assert_eq!(e2.preimage_json(), pre2);
    let h2 = sha256sum(format!("{h1}{pre2}").as_bytes());
    assert_eq!(event_hash(&e2), h2);
    e2.hash = h2.clone();

    // Stored lines are the pre-image with the hash filled in, and parse back identically.
    let line1 = e1.to_json();
    assert_eq!(
        line1,
        PRE1.replace("\"hash\":\"\"}", &format!("\"hash\":\"{h1}\"}}"))
    );
    for (line, ev) in [(line1, &e1), (e2.to_json(), &e2)] {
        match parse_record(line.as_bytes()).unwrap() {
            Record::Event(back) => {
                assert_eq!(back.to_json(), line);
                assert_eq!(event_hash(&back), ev.hash);
            }
            Record::Continue(_) => panic!("not an event"),
        }
    }
}

#[test]
fn go_named_chain_verifies_and_is_continued() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("audit");
    std::fs::create_dir(&dir).unwrap();
    let mut e1 = event1();
    e1.hash = event_hash(&e1);
    let mut e2 = event2(&e1.hash);
    e2.hash = event_hash(&e2);
    // A legacy event without schema_version/host verifies too (omitempty).
    let mut e3 = event2(&e2.hash);
    e3.schema_version.clear();
    e3.id = "01HQXYZ0000000000000000002".into();
    e3.hash = event_hash(&e3);
    let text = format!("{}\n{}\n{}\n", e1.to_json(), e2.to_json(), e3.to_json());
    std::fs::write(dir.join("2026-02-11.jsonl"), text).unwrap();
    // Unknown fields and non-canonical spacing are dropped by the re-serialising verifier.
    let r = verify_dir(&dir).unwrap();
    assert!(r.brk.is_none(), "{:?}", r.brk);
    assert_eq!(r.events, 3);

    let sink = AuditSink::open(SinkConfig::new(&dir)).unwrap();
    let rc = sink
        .append(AuditEvent::new("a", "s", "exec", "allow"))
        .unwrap();
    assert_eq!(rc.event_count, 4);
    assert!(rc.file.starts_with("audit-hook-"));
    drop(sink);
    let body = std::fs::read_to_string(dir.join(&rc.file)).unwrap();
    let first = body.lines().next().unwrap();
    assert_eq!(
        first,
        format!(
            "{{\"chain_continue\":\"{}\",\"prev_file\":\"2026-02-11.jsonl\"}}",
            e3.hash
        )
    );
    let r = verify_dir(&dir).unwrap();
    assert!(r.brk.is_none(), "{:?}", r.brk);
    assert_eq!(r.events, 4);
}

#[test]
fn reserialisation_tolerates_unknown_fields_and_spacing() {
    let mut e1 = event1();
    e1.hash = event_hash(&e1);
    let v: Value = serde_json::from_str(&e1.to_json()).unwrap();
    let mut m = v.as_object().unwrap().clone();
    m.insert("extra_field".into(), json!({"x": 1}));
    let pretty = serde_json::to_string_pretty(&Value::Object(m)).unwrap();
    match parse_record(pretty.as_bytes()).unwrap() {
        Record::Event(back) => assert_eq!(event_hash(&back), e1.hash),
        Record::Continue(_) => panic!(),
    }
}
