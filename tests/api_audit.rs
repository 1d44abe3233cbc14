//! The audit API over a real server: events paging (offset and cursor), filters, dates, export,
//! stats and their validation errors.

mod support;

use serde_json::Value;
use support::*;

fn today() -> String {
    chrono::Utc::now().format("%Y-%m-%d").to_string()
}

fn seed(s: &TestServer) {
    for i in 0..7 {
        post(
            &s.url("/v1/tool/exec"),
            &format!(
                r#"{{"agent":"a{}","params":{{"command":"echo {i}"}}}}"#,
                i % 2
            ),
        );
    }
    post(
        &s.url("/v1/tool/exec"),
        r#"{"agent":"a0","params":{"command":"rm -rf /"}}"#,
    );
}

#[test]
fn events_page_newest_first_with_filters_and_cursor() {
    let s = TestServer::start();
    seed(&s);
    let (st, b) = get(&s.url("/v1/audit/events?limit=3"));
    assert_eq!(st, 200, "{b}");
    let evs = b["events"].as_array().unwrap();
    assert_eq!(evs.len(), 3);
    assert_eq!(b["total_in_file"], 8);
    assert_eq!(evs[0]["decision"]["action"], "deny", "newest first");
    assert_eq!(b["next_offset"], 3);
    assert_eq!(b["date"], today());
    // Cursor paging walks every event exactly once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let q = match &cursor {
            Some(c) => format!("/v1/audit/events?limit=3&before={c}"),
            None => "/v1/audit/events?limit=3".into(),
        };
        let (_, b) = get(&s.url(&q));
        for e in b["events"].as_array().unwrap() {
            seen.push(e["id"].as_str().unwrap().to_string());
        }
        match b["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    let mut dedup = seen.clone();
    dedup.sort();
    dedup.dedup();
    assert_eq!((seen.len(), dedup.len()), (8, 8));
    let (_, b) = get(&s.url("/v1/audit/events?agent=a1"));
    assert_eq!(b["events"].as_array().unwrap().len(), 3);
    let (_, b) = get(&s.url("/v1/audit/events?action=deny"));
    assert_eq!(b["events"].as_array().unwrap().len(), 1);
    let (st, _) = get(&s.url("/v1/audit/events?date=yesterday"));
    assert_eq!(st, 400);
    let (_, b) = get(&s.url("/v1/audit/events?limit=-4"));
    assert_eq!(
        b["events"].as_array().unwrap().len(),
        8,
        "non-positive limit → default 50"
    );
}

#[test]
fn dates_export_stats() {
    let s = TestServer::start();
    seed(&s);
    let (st, b) = get(&s.url("/v1/audit/dates"));
    assert_eq!(st, 200);
    assert_eq!(b["dates"][0], today());
    assert_eq!(b["configured"], true);
    let (st, text) = send_text(
        "GET",
        &s.url(&format!("/v1/audit/export?date={}", today())),
        Some(TOKEN),
        None,
        &[],
    );
    assert_eq!(st, 200);
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 8);
    assert!(
        lines[1]["prev_hash"] == lines[0]["hash"],
        "export is the raw chain"
    );
    let (st, _) = get(&s.url("/v1/audit/export"));
    assert_eq!(st, 400);
    let (st, b) = get(&s.url("/v1/audit/export?date=2001-01-01"));
    assert_eq!(st, 404, "{b}");
    let (st, b) = get(&s.url("/v1/audit/stats"));
    assert_eq!(st, 200);
    assert_eq!(b["total_events"], 8);
    assert_eq!(b["by_action"]["allow"], 7);
    assert_eq!(b["by_action"]["deny"], 1);
    assert_eq!(b["by_agent"]["a0"], 5);
    for (q, msg) in [
        ("from=bad", "invalid from date"),
        ("to=bad", "invalid to date"),
        (
            "from=2026-02-02&to=2026-02-01",
            "to date must not be before from date",
        ),
        (
            "from=2020-01-01&to=2026-01-01",
            "audit stats range cannot exceed 366 days",
        ),
    ] {
        let (st, b) = get(&s.url(&format!("/v1/audit/stats?{q}")));
        assert_eq!((st, b["error"].as_str()), (400, Some(msg)));
    }
}

#[test]
fn audit_routes_without_audit_dir_are_503() {
    let s = TestServer::start_with(Opts {
        audit: false,
        ..Opts::default()
    });
    let (st, b) = get(&s.url("/v1/audit/dates"));
    assert_eq!(
        (st, b["error"].as_str()),
        (503, Some("audit directory not configured"))
    );
}
