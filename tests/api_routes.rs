//! Every route and status code of the HTTP API against a real server with a real client.

mod support;

use rampart::gate::Mode;
use serde_json::json;
use support::*;

#[test]
fn healthz_needs_no_token_and_v1_does() {
    let s = TestServer::start();
    let (st, b) = send("GET", &s.url("/healthz"), None, None, &[]);
    assert_eq!(st, 200);
    assert_eq!(b["service"], "rampart");
    assert_eq!(b["status"], "ok");
    assert_eq!(b["mode"], "enforce");
    assert!(b["uptime_seconds"].as_u64().is_some());
    assert!(!b["version"].as_str().unwrap().is_empty());

    let (st, b) = send("GET", &s.url("/v1/status"), None, None, &[]);
    assert_eq!(
        (st, b["error"].as_str()),
        (401, Some("missing authorization token"))
    );
    let (st, b) = send("GET", &s.url("/v1/status"), Some("rampart_nope"), None, &[]);
    assert_eq!(
        (st, b["error"].as_str()),
        (401, Some("invalid authorization token"))
    );
    // Scheme is case-sensitive.
    let (st, _) = send(
        "GET",
        &s.url("/v1/status"),
        None,
        None,
        &[("Authorization", &format!("bearer {TOKEN}"))],
    );
    assert_eq!(st, 401);
    // Query tokens only work for the event stream.
    let (st, _) = send(
        "POST",
        &s.url(&format!("/v1/tool/exec?token={TOKEN}")),
        None,
        Some("{}"),
        &[],
    );
    assert_eq!(st, 401);
}

#[test]
fn unknown_route_404_wrong_method_405() {
    let s = TestServer::start();
    let (st, b) = get(&s.url("/v1/nope"));
    assert_eq!((st, b["error"].as_str()), (404, Some("not found")));
    let (st, b) = send("GET", &s.url("/v1/tool/exec"), Some(TOKEN), None, &[]);
    assert_eq!(st, 405, "{b}");
    assert!(b["error"].is_string());
    let (st, _) = send("DELETE", &s.url("/healthz"), None, None, &[]);
    assert_eq!(st, 405);
}

#[test]
fn foreign_host_header_is_refused() {
    let s = TestServer::start();
    for host in ["evil.example", "evil.example:80", "127.0.0.1.nip.io"] {
        let (st, b) = send("GET", &s.url("/healthz"), None, None, &[("Host", host)]);
        assert_eq!(st, 403, "{host}: {b}");
    }
    let (st, _) = send(
        "GET",
        &s.url("/healthz"),
        None,
        None,
        &[("Host", "localhost:9090")],
    );
    assert_eq!(st, 200);
}

#[test]
fn bad_bodies() {
    let s = TestServer::start();
    let u = s.url("/v1/tool/exec");
    let cases: &[(&str, u16, &str)] = &[
        ("", 400, "EOF"),
        ("{", 400, "invalid request body"),
        (r#"{"params":{"command":"ls"}} {}"#, 400, "trailing"),
        (r#"{"params":{"command":"ls"}} x"#, 400, "trailing"),
        (r#"{"agent":"a","agent":"b"}"#, 400, "duplicate key"),
        (
            r#"{"params":{"command":"ls","command":"rm -rf /"}}"#,
            400,
            "duplicate key",
        ),
        (r#"{"agent":5}"#, 400, "invalid type"),
        (r#"{"params":"ls"}"#, 400, "invalid type"),
        (
            r#"{"params":{"command":5}}"#,
            400,
            "command must be a string",
        ),
        (
            r#"{"command":"ls","params":{"cmd":"rm -rf /"}}"#,
            400,
            "conflicting command aliases",
        ),
        ("[1,2]", 400, "invalid"),
    ];
    for (body, status, needle) in cases {
        let (st, b) = post(&u, body);
        assert_eq!(st, *status, "{body}: {b}");
        let e = b["error"].as_str().unwrap_or("");
        assert!(e.contains(needle), "{body}: {e}");
    }
    let big = format!(r#"{{"params":{{"command":"{}"}}}}"#, "a".repeat(1 << 20));
    let (st, b) = post(&u, &big);
    assert_eq!(st, 413, "{b}");
    let deep = format!("{{\"params\":{}{}}}", "[".repeat(200), "]".repeat(200));
    let (st, _) = post(&u, &deep);
    assert_eq!(st, 400);
}

#[test]
fn tool_names_are_validated() {
    let s = TestServer::start();
    let (st, b) = post(&s.url("/v1/tool/Exec"), r#"{"params":{"command":"ls"}}"#);
    assert_eq!(st, 400);
    assert!(
        b["error"]
            .as_str()
            .unwrap()
            .contains("canonical spelling \"exec\"")
    );
    let (st, _) = post(&s.url("/v1/tool/a%20b"), "{}");
    assert_eq!(st, 400);
    let long = "x".repeat(129);
    let (st, _) = post(&s.url(&format!("/v1/tool/{long}")), "{}");
    assert_eq!(st, 400);
}

#[test]
fn enforce_decisions_and_audit_ids() {
    let s = TestServer::start();
    let u = s.url("/v1/tool/exec");
    let (st, b) = post(&u, r#"{"agent":"t","params":{"command":"rm -rf /"}}"#);
    assert_eq!(st, 403, "{b}");
    assert_eq!(b["allowed"], false);
    assert_eq!(b["decision"], "deny");
    assert_eq!(b["policy"], "block-rm");
    assert_eq!(b["message"], "no recursive deletes");
    assert_eq!(b["audit_id"].as_str().unwrap().len(), 26);
    assert!(b["suggestions"].is_array());

    let (st, b) = post(&u, r#"{"params":{"command":"curl https://x"}}"#);
    assert_eq!((st, &b["decision"]), (200, &json!("watch")));
    assert_eq!(b["allowed"], true);
    let (st, b) = post(&u, r#"{"command":"ls -la"}"#);
    assert_eq!((st, &b["decision"]), (200, &json!("allow")));
    assert!(b.get("enforced").is_none());
    // Shell wrappers do not hide the command.
    let (st, _) = post(&u, r#"{"params":{"command":"sudo bash -c 'rm -rf /'"}}"#);
    assert_eq!(st, 403);
    // Every decision reached the audit trail.
    let stats = s.state.gate.audit().unwrap().stats();
    assert!(stats.events >= 4, "{stats:?}");
}

#[test]
fn response_scanning_redacts_in_enforce() {
    let s = TestServer::start();
    let body = json!({"params": {"command": "cat creds"}, "response": "key=AKIAABCDEFGHIJKLMNOP"});
    let (st, b) = post(&s.url("/v1/tool/exec"), &body.to_string());
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["allowed"], false);
    assert_eq!(b["decision"], "deny");
    assert_eq!(
        b["response"],
        "[REDACTED: sensitive content removed by Rampart]"
    );
    let clean = json!({"params": {"command": "cat readme"}, "response": "hello"});
    let (_, b) = post(&s.url("/v1/tool/exec"), &clean.to_string());
    assert_eq!(b["response"], "hello");
    assert_eq!(b["allowed"], true);
}

#[test]
fn monitor_mode_reports_but_allows() {
    let s = TestServer::start_with(Opts {
        mode: Mode::Monitor,
        ..Opts::default()
    });
    let (st, b) = post(
        &s.url("/v1/tool/exec"),
        r#"{"params":{"command":"rm -rf /"}}"#,
    );
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["allowed"], true);
    assert_eq!(b["enforced"], false);
    assert_eq!(b["decision"], "allow");
    assert_eq!(b["policy_decision"], "deny");
    assert!(
        b["message"]
            .as_str()
            .unwrap()
            .starts_with("monitor mode observed deny; action allowed: no recursive deletes")
    );
    let body = json!({"params": {"command": "cat creds"}, "response": "AKIAABCDEFGHIJKLMNOP"});
    let (_, b) = post(&s.url("/v1/tool/exec"), &body.to_string());
    assert_eq!(b["response"], "AKIAABCDEFGHIJKLMNOP");
    assert_eq!(b["response_policy_decision"], "deny");
}

#[test]
fn disabled_mode_allows_everything() {
    let s = TestServer::start_with(Opts {
        mode: Mode::Disabled,
        ..Opts::default()
    });
    let (st, b) = post(
        &s.url("/v1/tool/exec"),
        r#"{"params":{"command":"rm -rf /"}}"#,
    );
    assert_eq!(st, 200);
    assert_eq!(b["message"], "policy evaluation disabled");
    assert!(b["audit_id"].is_string(), "still audited: {b}");
}

#[test]
fn preflight_is_a_dry_run() {
    let s = TestServer::start();
    let u = s.url("/v1/preflight/exec");
    let (st, b) = post(&u, r#"{"params":{"command":"rm -rf /"}}"#);
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["allowed"], false);
    assert_eq!(b["decision"], "deny");
    assert_eq!(b["matched_policies"], json!(["block-rm"]));
    assert_eq!(b["enforced"], false);
    assert_eq!(b["enforcement_requested"], false);
    let (_, st_body) = get(&s.url("/v1/status"));
    assert!(
        st_body["call_counts"].get("exec").is_none(),
        "preview counted: {st_body}"
    );
    let (st, b) = post(
        &u,
        r#"{"params":{"command":"ls"},"verification":true,"enforce":true}"#,
    );
    assert_eq!(st, 400, "{b}");
    let (st, b) = post(&u, r#"{"params":{"command":"ls"},"verification":true}"#);
    assert_eq!(st, 200);
    assert!(b.get("audit_id").is_none());
    let (st, b) = post(
        &s.url("/v1/tool/exec"),
        r#"{"params":{"command":"ls"},"verification":true}"#,
    );
    assert_eq!(st, 400, "{b}");
}

#[test]
fn status_summary_policies_test_routes() {
    let s = TestServer::start();
    post(&s.url("/v1/tool/exec"), r#"{"params":{"command":"ls"}}"#);
    let (st, b) = get(&s.url("/v1/status"));
    assert_eq!(st, 200);
    assert_eq!(b["mode"], "enforce");
    assert_eq!(b["default_action"], "allow");
    assert_eq!(b["policy_count"], 4);
    assert_eq!(b["rule_count"], 4);
    assert_eq!(b["call_counts"]["exec"], 1);
    assert!(b["config_path"].as_str().unwrap().ends_with("policy.yaml"));
    let (_, b2) = get(&s.url("/v1/policy"));
    assert_eq!(b2["policy_count"], 4);
    let (st, b) = get(&s.url("/v1/policy/summary"));
    assert_eq!(st, 200);
    assert_eq!(b["rules"].as_array().unwrap().len(), 4);
    let (st, b) = get(&s.url("/v1/policies"));
    assert_eq!((st, b["count"].as_u64()), (200, Some(4)));
    assert_eq!(b["policies"][0]["name"], "block-rm");
    let (st, b) = post(&s.url("/v1/test"), r#"{"command":"rm -rf /tmp/x"}"#);
    assert_eq!(st, 200);
    assert_eq!(b["action"], "deny");
    assert_eq!(b["matched_policies"], json!(["block-rm"]));
    let (st, b) = post(&s.url("/v1/test"), r#"{"command":""}"#);
    assert_eq!(
        (st, b["error"].as_str()),
        (400, Some("command is required"))
    );
}

#[test]
fn reload_keeps_last_good_policy_and_rate_limits() {
    let s = TestServer::start();
    // A reload within 1 s of the last one is refused. The cooldown starts when the server
    // takes the first, before it reloads and answers, so on a slow machine the next request
    // can arrive after it has ended and is rightly served. Only a reload served less than
    // 1 s after the last one is wrong; try again until the second lands inside the cooldown.
    let mut limited = false;
    for _ in 0..10 {
        let (st, b) = post(&s.url("/v1/policy/reload"), "");
        assert_eq!(st, 200, "{b}");
        assert_eq!(b["success"], true);
        assert_eq!(b["policies_loaded"], 4);
        let taken = s
            .state
            .last_reload
            .lock()
            .unwrap()
            .expect("the reload was recorded");
        let (st, b) = post(&s.url("/v1/policy/reload"), "");
        let since = taken.elapsed();
        std::thread::sleep(std::time::Duration::from_millis(1100));
        if st == 429 {
            limited = true;
            break;
        }
        assert_eq!(st, 200, "{b}");
        assert!(
            since >= std::time::Duration::from_secs(1),
            "a reload {since:?} after the last one was not rate limited"
        );
    }
    assert!(limited, "no second reload was ever rate limited");
    std::fs::write(
        &s.policy_path,
        "policies: [ {name: x, rules: [ {action: nope} ] } ]",
    )
    .unwrap();
    let (st, b) = post(&s.url("/v1/policy/reload"), "");
    assert_eq!(st, 500, "{b}");
    assert_eq!(b["success"], false);
    // The old policy still decides.
    let (st, _) = post(
        &s.url("/v1/tool/exec"),
        r#"{"params":{"command":"rm -rf /"}}"#,
    );
    assert_eq!(st, 403);
    let (_, b) = get(&s.url("/v1/status"));
    assert!(b["reload_error"].as_str().is_some(), "{b}");
}

#[test]
fn metrics_are_exposed_when_enabled() {
    let s = TestServer::start();
    post(
        &s.url("/v1/tool/exec"),
        r#"{"params":{"command":"rm -rf /"}}"#,
    );
    let (st, text) = send_text("GET", &s.url("/metrics"), Some(TOKEN), None, &[]);
    assert_eq!(st, 200);
    assert!(
        text.contains("rampart_decisions_total{action=\"deny\",policy=\"block-rm\"} 1"),
        "{text}"
    );
    assert!(text.contains("rampart_policy_count 4"));
    assert!(text.contains("rampart_eval_duration_seconds_count 1"));
    let (st, _) = send_text("GET", &s.url("/metrics"), None, None, &[]);
    assert_eq!(st, 401);
    let off = TestServer::start_with(Opts {
        metrics: false,
        ..Opts::default()
    });
    let (st, _) = send_text("GET", &off.url("/metrics"), Some(TOKEN), None, &[]);
    assert_eq!(st, 404);
}

#[test]
fn event_stream_delivers_decisions() {
    use std::io::{BufRead, BufReader};
    let s = TestServer::start();
    let c = client();
    let resp = c
        .get(&s.url(&format!("/v1/events/stream?token={TOKEN}")))
        .call()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(
        resp.headers().get("content-type").unwrap(),
        "text/event-stream"
    );
    let mut lines = BufReader::new(resp.into_body().into_reader()).lines();
    let first = lines.next().unwrap().unwrap();
    assert_eq!(first, r#"data: {"type":"connected"}"#);
    post(
        &s.url("/v1/tool/exec"),
        r#"{"params":{"command":"rm -rf / --password=hunter2"}}"#,
    );
    let mut seen = String::new();
    for l in lines.by_ref() {
        let l = l.unwrap();
        if l.starts_with("data: ") && l.contains("\"audit\"") {
            seen = l;
            break;
        }
    }
    assert!(seen.contains("block-rm"), "{seen}");
    assert!(
        !seen.contains("hunter2"),
        "SSE must carry redacted events: {seen}"
    );
    // Query token refused on POST-like use, and a bad query token is 401.
    let (st, _) = send_text(
        "GET",
        &s.url("/v1/events/stream?token=bad"),
        None,
        None,
        &[],
    );
    assert_eq!(st, 401);
}

#[test]
fn audit_failure_fails_closed_in_enforce_only() {
    // Every write rotates to a new file; removing the directory makes the next write fail.
    for (mode, expect) in [(Mode::Enforce, 503), (Mode::Monitor, 200)] {
        let s = TestServer::start_with(Opts {
            mode,
            audit_max_file_bytes: Some(1),
            ..Opts::default()
        });
        let (st, _) = post(&s.url("/v1/tool/exec"), r#"{"params":{"command":"ls"}}"#);
        assert_eq!(st, 200);
        std::fs::remove_dir_all(s.dir.path().join("audit")).unwrap();
        let (st, b) = post(&s.url("/v1/tool/exec"), r#"{"params":{"command":"ls"}}"#);
        assert_eq!(st, expect, "{mode:?}: {b}");
        if expect == 503 {
            assert_eq!(
                b["error"],
                "audit storage is unavailable; refusing tool call"
            );
        } else {
            assert!(b.get("audit_id").is_none());
        }
    }
}
