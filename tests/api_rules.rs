//! Learned and auto-allowed rules over a real server: exact patterns, durable allow over ask,
//! 409 on duplicates, 429 rate limit, listing and revoking.

mod support;

use rampart::api::rules::LEARN_INTERVAL;
use rampart::engine::user_rules::{self, AUTO_ALLOWED};
use serde_json::json;
use support::*;

#[test]
fn learn_writes_an_exact_durable_allow() {
    let s = TestServer::start();
    let (st, b) = post(
        &s.url("/v1/tool/exec"),
        r#"{"params":{"command":"deploy prod"}}"#,
    );
    assert_ne!(st, 200, "ask before learning: {b}");
    let body =
        json!({"tool": "exec", "args": "deploy prod", "decision": "allow", "source": "test"});
    let (st, b) = post(&s.url("/v1/rules/learn"), &body.to_string());
    assert_eq!(st, 201, "{b}");
    assert!(
        b["rule_name"]
            .as_str()
            .unwrap()
            .starts_with("user-allow-deploy-prod-")
    );
    assert_eq!(b["pattern"], "deploy prod");
    let (st, b) = post(
        &s.url("/v1/tool/exec"),
        r#"{"params":{"command":"deploy prod"}}"#,
    );
    assert_eq!((st, &b["decision"]), (200, &json!("allow")), "{b}");
    // Exact: a longer command is still asked.
    let (st, _) = post(
        &s.url("/v1/tool/exec"),
        r#"{"params":{"command":"deploy prod --force"}}"#,
    );
    assert_ne!(st, 200);
    std::thread::sleep(std::time::Duration::from_millis(250));
    let (st, _) = post(&s.url("/v1/rules/learn"), &body.to_string());
    assert_eq!(st, 409);
    // A write within LEARN_INTERVAL of the last one is refused. The interval starts when the
    // server records a write, before it reloads the policy and answers, so on a slow machine
    // the next request can arrive after it has passed and is rightly accepted. Only a write
    // accepted less than LEARN_INTERVAL after the last one is wrong; try fresh pairs of rules
    // until the second lands inside the interval.
    let mut limited = false;
    for i in 0..20 {
        let b2 =
            json!({"tool": "exec", "args": format!("deploy staging {i}"), "decision": "allow"});
        let b3 = json!({"tool": "exec", "args": format!("deploy qa {i}"), "decision": "allow"});
        std::thread::sleep(std::time::Duration::from_millis(250));
        let (st, b) = post(&s.url("/v1/rules/learn"), &b2.to_string());
        assert_eq!(st, 201, "{b}");
        let written = s
            .state
            .last_learn
            .lock()
            .unwrap()
            .expect("the write was recorded");
        let (st, b) = post(&s.url("/v1/rules/learn"), &b3.to_string());
        let since = written.elapsed();
        if st == 429 {
            assert!(b["error"].as_str().unwrap().contains("rate limited"), "{b}");
            limited = true;
            break;
        }
        assert_eq!(st, 201, "{b}");
        assert!(
            since >= LEARN_INTERVAL,
            "a write {since:?} after the last one was not rate limited"
        );
    }
    assert!(limited, "no second write was ever rate limited");
    for (body, needle) in [
        (
            json!({"tool": "exec", "args": "x", "decision": "deny"}),
            "decision",
        ),
        (
            json!({"tool": "fetch", "args": "https://x", "decision": "allow"}),
            "unsupported",
        ),
        (json!({"tool": "exec", "decision": "allow"}), "required"),
    ] {
        std::thread::sleep(std::time::Duration::from_millis(250));
        let (st, b) = post(&s.url("/v1/rules/learn"), &body.to_string());
        assert_eq!(st, 400, "{body}: {b}");
        assert!(b["error"].as_str().unwrap().contains(needle), "{b}");
    }
}

#[test]
fn auto_allowed_list_and_revoke() {
    let s = TestServer::start();
    let (st, b) = get(&s.url("/v1/rules/auto-allowed"));
    assert_eq!((st, b), (200, json!({"rules": []})));
    let path = s.dir.path().join("policies").join(AUTO_ALLOWED);
    let r = user_rules::exact_rule(
        "exec",
        "deploy *",
        Some("bot"),
        "auto-allow-20261123T101010Z",
        "ok",
    )
    .unwrap();
    user_rules::append(&path, &r).unwrap();
    let (_, b) = get(&s.url("/v1/rules/auto-allowed"));
    assert_eq!(b["rules"][0]["name"], r.name.as_str());
    assert_eq!(b["rules"][0]["command_pattern"], "deploy [*]");
    assert_eq!(b["rules"][0]["agent"], "bot");
    assert_eq!(b["rules"][0]["created"], "2026-11-23T10:10:10Z");
    let (st, _) = send(
        "DELETE",
        &s.url("/v1/rules/auto-allowed/nope"),
        Some(TOKEN),
        None,
        &[],
    );
    assert_eq!(st, 404);
    let (st, b) = send(
        "DELETE",
        &s.url(&format!("/v1/rules/auto-allowed/{}", r.name)),
        Some(TOKEN),
        None,
        &[],
    );
    assert_eq!((st, b), (200, json!({"deleted": true})));
    let (_, b) = get(&s.url("/v1/rules/auto-allowed"));
    assert_eq!(b, json!({"rules": []}));
}
