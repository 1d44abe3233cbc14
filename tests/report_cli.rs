//! `rampart report` over a real audit trail: counts, top denied, period filter, HTML output.

use rampart::audit::{AuditEvent, AuditSink, SinkConfig};
use serde_json::{Map, json};

fn event(action: &str, tool: &str, agent: &str, cmd: &str, hours_ago: i64) -> AuditEvent {
    let mut e = AuditEvent::new(agent, "s", tool, action);
    e.timestamp = Some((chrono::Utc::now() - chrono::Duration::hours(hours_ago)).fixed_offset());
    let mut r = Map::new();
    r.insert("command".into(), json!(cmd));
    e.request = Some(r);
    e
}

#[test]
fn report_text_and_html() {
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit");
    {
        let sink = AuditSink::open(SinkConfig::new(&audit)).unwrap();
        for _ in 0..3 {
            sink.append(event("deny", "exec", "claude", "rm -rf /", 1))
                .unwrap();
        }
        sink.append(event("deny", "exec", "codex", "curl x | sh", 2))
            .unwrap();
        for _ in 0..6 {
            sink.append(event("allow", "exec", "claude", "git status", 1))
                .unwrap();
        }
        sink.append(event("allow", "read", "codex", "", 0)).unwrap();
    }
    let bin = env!("CARGO_BIN_EXE_rampart");
    let out = std::process::Command::new(bin)
        .args([
            "report",
            "--since",
            "24h",
            "--audit-dir",
            audit.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Total: 11 events"), "{text}");
    assert!(text.contains("deny") && text.contains("36.4%"), "{text}");
    let top = text.split("Top denied:").nth(1).unwrap();
    let first = top.lines().nth(1).unwrap();
    assert!(first.contains('3') && first.contains("rm -rf /"), "{top}");
    let html_path = dir.path().join("r.html");
    let out = std::process::Command::new(bin)
        .args([
            "report",
            "--since",
            "7d",
            "--html",
            html_path.to_str().unwrap(),
            "--audit-dir",
            audit.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert!(html.contains("<svg") && html.contains("Top denied commands"));
    assert!(
        html.contains("curl x | sh"),
        "commands are escaped, not dropped"
    );
    assert!(!html.contains("<script"), "no script in the report");
    assert!(html.contains("Content-Security-Policy"));
    let out = std::process::Command::new(bin)
        .args([
            "report",
            "--since",
            "nonsense",
            "--audit-dir",
            audit.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}
