//! Approvals over a real server: 202 + pending list, resolve by token (410 on replay, 404
//! unknown), long-poll, exact one-shot replay, signed links with a confirmation page, always-allow
//! persistence, external creation, bulk resolve, expiry, and credential binding.

mod support;

use std::sync::Arc;
use std::time::Duration;

use rampart::api::auth::Credentials;
use rampart::approval::{Decision, Signer};
use rampart::credentials::{AdminToken, NewToken, Scope, TokenStore};
use serde_json::{Value, json};
use support::*;

fn ask(s: &TestServer, extra: Value) -> (u16, Value) {
    let mut body = json!({"agent": "bot", "session": "s1", "params": {"command": "deploy prod"}});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            b.insert(k.clone(), v.clone());
        }
    }
    post(&s.url("/v1/tool/exec"), &body.to_string())
}

fn resolve(s: &TestServer, id: &str, approved: bool) -> (u16, Value) {
    post(
        &s.url(&format!("/v1/approvals/{id}/resolve")),
        &json!({"approved": approved, "resolved_by": "test"}).to_string(),
    )
}

#[test]
fn ask_creates_pending_and_resolve_is_single_use() {
    let s = TestServer::start();
    let (st, b) = ask(&s, json!({}));
    assert_eq!(st, 202, "{b}");
    assert_eq!(b["decision"], "ask");
    assert_eq!(b["approval_status"], "pending");
    let id = b["approval_id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 26);
    assert!(b["expires_at"].as_str().unwrap().ends_with('Z'));
    let (st, l) = get(&s.url("/v1/approvals"));
    assert_eq!(st, 200);
    assert_eq!(l["approvals"][0]["id"], id.as_str());
    assert_eq!(l["approvals"][0]["command"], "deploy prod");
    assert_eq!(l["approvals"][0]["credential_owner"], "server/admin");
    let (_, one) = get(&s.url(&format!("/v1/approvals/{id}")));
    assert_eq!(one["status"], "pending");
    let (st, r) = resolve(&s, &id, true);
    assert_eq!(st, 200, "{r}");
    assert_eq!(
        r,
        json!({"id": id, "status": "approved", "approved": true, "persisted": false})
    );
    let (st, r) = resolve(&s, &id, false);
    assert_eq!(st, 410, "{r}");
    let (st, _) = resolve(&s, "01ARZ3NDEKTSV4RRFFQ69G5FAV", true);
    assert_eq!(st, 404);
    let (_, one) = get(&s.url(&format!("/v1/approvals/{id}")));
    assert_eq!(one["status"], "approved");
    assert_eq!(one["resolved_by"], "test");
    let (st, _) = post(
        &s.url(&format!("/v1/approvals/{id}/resolve")),
        r#"{"resolved_by":"x"}"#,
    );
    assert_eq!(st, 400, "approved is required");
    // The resolution is in the audit trail under the approval's id.
    let (_, ev) = get(&s.url("/v1/audit/events?action=approved"));
    assert_eq!(ev["events"][0]["id"], id.as_str());
}

/// The id of the first pending approval, once there is one. The asking request is in
/// another thread; on a loaded machine it can take seconds to be registered.
fn first_pending(s: &TestServer) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (_, l) = get(&s.url("/v1/approvals"));
        if let Some(i) = l["approvals"][0]["id"].as_str() {
            return i.to_string();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no approval appeared: {l}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn long_poll_waits_for_the_human() {
    let s = Arc::new(TestServer::start());
    let s2 = s.clone();
    let waiter = std::thread::spawn(move || ask(&s2, json!({"wait_seconds": 20})));
    let id = first_pending(&s);
    resolve(&s, &id, true);
    let (st, b) = waiter.join().unwrap();
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["decision"], "allow");
    assert_eq!(b["approval_status"], "approved");
    assert_eq!(b["approval_id"], id.as_str());

    let s3 = s.clone();
    let waiter = std::thread::spawn(move || ask(&s3, json!({"wait_seconds": 20, "session": "s2"})));
    let id = first_pending(&s);
    resolve(&s, &id, false);
    let (st, b) = waiter.join().unwrap();
    assert_eq!(st, 403, "{b}");
    assert_eq!(b["message"], "denied by test");
    // GET with ?wait returns at once when already resolved, and times out when pending.
    let (_, b) = ask(&s, json!({"session": "s3"}));
    let id = b["approval_id"].as_str().unwrap();
    let t = std::time::Instant::now();
    let (_, one) = get(&s.url(&format!("/v1/approvals/{id}?wait=0.5")));
    assert_eq!(one["status"], "pending");
    assert!(t.elapsed() >= Duration::from_millis(450));
}

#[test]
fn exact_replay_is_one_shot() {
    let s = TestServer::start();
    let ids = json!({"run_id": "run-1", "tool_call_id": "call-1"});
    let (st, b) = ask(&s, ids.clone());
    assert_eq!(st, 202);
    let id = b["approval_id"].as_str().unwrap().to_string();
    // Retrying while pending returns the same approval (dedup), not a new one.
    let (st, b2) = ask(&s, ids.clone());
    assert_eq!((st, b2["approval_id"].as_str()), (202, Some(id.as_str())));
    resolve(&s, &id, true);
    // A different payload with the same ids is not covered.
    let (st, _) = ask(
        &s,
        json!({"run_id": "run-1", "tool_call_id": "call-1", "params": {"command": "deploy prod --all"}}),
    );
    assert_eq!(st, 202);
    let (st, b) = ask(&s, ids.clone());
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["message"], "approved once via Rampart approval");
    assert_eq!(b["approval_scope"], "once");
    assert_eq!(b["approval_resolved_by"], "test");
    let (st, b) = ask(&s, ids);
    assert_eq!(st, 202, "second replay must ask again: {b}");
}

#[test]
fn signed_links_confirm_then_resolve_once() {
    let s = TestServer::start();
    let (_, b) = ask(&s, json!({}));
    let id = b["approval_id"].as_str().unwrap().to_string();
    let signer = Signer::from_key(SIGNING_KEY);
    let exp = chrono::Utc::now().timestamp() + 60;
    let url = signer.resolve_url(&s.base, &id, Decision::Approve, exp);
    // Clicking the link shows a page; nothing is resolved by GET.
    let (st, html) = send_text("GET", &url, None, None, &[]);
    assert_eq!(st, 200);
    assert!(
        html.contains("Approve this call?") && html.contains("deploy prod"),
        "{html}"
    );
    assert!(html.contains("<form method=\"post\""));
    let (_, one) = get(&s.url(&format!("/v1/approvals/{id}")));
    assert_eq!(one["status"], "pending");
    // Tampering: wrong decision, wrong sig, expired.
    let deny_with_approve_sig = url.replace("decision=approve", "decision=deny");
    let (st, _) = send_text("POST", &deny_with_approve_sig, None, Some(""), &[]);
    assert_eq!(st, 401);
    let (st, _) = send_text("POST", &format!("{url}x"), None, Some(""), &[]);
    assert_eq!(st, 401);
    let old = signer.resolve_url(
        &s.base,
        &id,
        Decision::Approve,
        chrono::Utc::now().timestamp() - 1,
    );
    let (st, _) = send_text("POST", &old, None, Some(""), &[]);
    assert_eq!(st, 401);
    let (st, _) = send_text("GET", &old, None, None, &[]);
    assert_eq!(st, 401);
    // No persist, no contradicting body.
    let (st, _) = send(
        "POST",
        &url,
        None,
        Some(r#"{"approved":true,"persist":true}"#),
        &[],
    );
    assert_eq!(st, 403);
    let (st, _) = send("POST", &url, None, Some(r#"{"approved":false}"#), &[]);
    assert_eq!(st, 403);
    // The form post resolves it, once.
    let (st, b) = send(
        "POST",
        &url,
        None,
        Some(""),
        &[("Content-Type", "application/x-www-form-urlencoded")],
    );
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["status"], "approved");
    let (_, one) = get(&s.url(&format!("/v1/approvals/{id}")));
    assert_eq!(one["resolved_by"], "signed-link");
    let (st, _) = send("POST", &url, None, Some(""), &[]);
    assert_eq!(st, 410);
    let (st, html) = send_text("GET", &url, None, None, &[]);
    assert_eq!(st, 410);
    assert!(html.contains("already"));
}

#[test]
fn always_allow_persists_an_exact_agent_scoped_rule() {
    let s = TestServer::start();
    let (_, b) = ask(&s, json!({}));
    let id = b["approval_id"].as_str().unwrap().to_string();
    let (st, r) = post(
        &s.url(&format!("/v1/approvals/{id}/resolve")),
        r#"{"approved":true,"persist":true,"resolved_by":"dash"}"#,
    );
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["persisted"], true);
    let (st, b) = ask(&s, json!({}));
    assert_eq!((st, &b["decision"]), (200, &json!("allow")), "{b}");
    let (st, _) = ask(&s, json!({"agent": "other"}));
    assert_eq!(st, 202, "another agent is not covered");
    let (_, rules) = get(&s.url("/v1/rules/auto-allowed"));
    assert_eq!(rules["rules"][0]["command_pattern"], "deploy prod");
    assert!(rules["rules"][0]["created"].is_string());
}

#[test]
fn external_create_and_bulk_resolve() {
    let s = TestServer::start();
    let (st, b) = post(
        &s.url("/v1/approvals"),
        r#"{"tool":"exec","command":"make deploy","agent":"hook-agent","message":"asked by hook"}"#,
    );
    assert_eq!(st, 201, "{b}");
    assert_eq!(b["status"], "pending");
    let (st, _) = post(&s.url("/v1/approvals"), r#"{"command":"x"}"#);
    assert_eq!(st, 400);
    let mut ids = Vec::new();
    for i in 0..2 {
        let (_, b) = ask(
            &s,
            json!({"run_id": "r9", "tool_call_id": format!("c{i}"), "params": {"command": format!("deploy {i}")}}),
        );
        ids.push(b["approval_id"].as_str().unwrap().to_string());
    }
    let (_, l) = get(&s.url("/v1/approvals"));
    assert_eq!(l["run_groups"][0]["count"], 2, "{l}");
    let (st, b) = post(
        &s.url("/v1/approvals/bulk-resolve"),
        &json!({"agent": "bot", "session": "s1", "run_id": "r9", "action": "approve", "ids": ids})
            .to_string(),
    );
    assert_eq!(st, 400, "scope is required: {b}");
    let (st, b) = post(&s.url("/v1/approvals/bulk-resolve"), &json!({"agent": "bot", "session": "s1", "run_id": "r9", "action": "approve", "scope": "run", "ids": ids, "resolved_by": "dash"}).to_string());
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["resolved"], 2);
    assert_eq!(b["future_calls_authorized"], true);
    // Future calls of the run are granted.
    let (st, b) = ask(
        &s,
        json!({"run_id": "r9", "tool_call_id": "c7", "params": {"command": "deploy 7"}}),
    );
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["message"], "auto-approved by bulk-resolve");
    let (st, b) = post(&s.url("/v1/approvals/bulk-resolve"), &json!({"agent": "bot", "session": "s1", "run_id": "r9", "action": "approve", "scope": "pending", "ids": [ids[0]]}).to_string());
    assert_eq!(st, 409, "stale id: {b}");
}

#[test]
fn approvals_expire() {
    let s = TestServer::start_with(Opts {
        approval_timeout: Duration::from_secs(1),
        ..Opts::default()
    });
    let (_, b) = ask(&s, json!({}));
    let id = b["approval_id"].as_str().unwrap().to_string();
    // The sweeper task expires it at its deadline, 1 s from now, then writes the expiry's
    // audit record (an fsync). On a loaded machine either can come late: wait for each.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let one = loop {
        let (_, one) = get(&s.url(&format!("/v1/approvals/{id}")));
        if one["status"] != "pending" {
            break one;
        }
        assert!(std::time::Instant::now() < deadline, "never expired: {one}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(one["status"], "expired", "{one}");
    assert_eq!(one["resolved_by"], "timeout");
    let (st, _) = resolve(&s, &id, true);
    assert_eq!(st, 410);
    loop {
        let (_, ev) = get(&s.url("/v1/audit/events"));
        let expired = ev["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["request"]["action"] == "approval_expired");
        if expired {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no expiry record: {ev}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn approvals_are_bound_to_the_credential_that_asked() {
    let home = tempfile::tempdir().unwrap();
    let tokens = TokenStore::for_home(home.path());
    let now = chrono::Utc::now();
    let a = tokens
        .create(NewToken::for_agent("alpha"), now)
        .unwrap()
        .token;
    let b = tokens
        .create(NewToken::for_agent("beta"), now)
        .unwrap()
        .token;
    let mut admin_scoped = NewToken::for_agent("ops");
    admin_scoped.scopes = vec![Scope::Admin];
    let ops = tokens.create(admin_scoped, now).unwrap().token;
    let auth = Credentials {
        admin: AdminToken::fixed(TOKEN).unwrap(),
        tokens: TokenStore::for_home(home.path()),
    };
    let s = TestServer::start_with(Opts {
        auth: Some(Arc::new(auth)),
        ..Opts::default()
    });
    let body = json!({"agent": "spoofed", "session": "s", "run_id": "r", "tool_call_id": "c", "params": {"command": "deploy prod"}}).to_string();
    let (st, r) = send("POST", &s.url("/v1/tool/exec"), Some(&a), Some(&body), &[]);
    assert_eq!(st, 202, "{r}");
    let id = r["approval_id"].as_str().unwrap().to_string();
    // Eval tokens cannot use admin routes; admin-only tokens cannot evaluate.
    let (st, r2) = send("GET", &s.url("/v1/approvals"), Some(&a), None, &[]);
    assert_eq!(
        (st, r2["error"].as_str()),
        (403, Some("this endpoint requires admin scope"))
    );
    let (st, r3) = send(
        "POST",
        &s.url("/v1/tool/exec"),
        Some(&ops),
        Some(&body),
        &[],
    );
    assert_eq!(
        (st, r3["error"].as_str()),
        (403, Some("this endpoint requires eval scope"))
    );
    let (_, l) = send("GET", &s.url("/v1/approvals"), Some(&ops), None, &[]);
    assert_eq!(
        l["approvals"][0]["agent"], "alpha",
        "agent comes from the token"
    );
    assert!(
        l["approvals"][0]["credential_owner"]
            .as_str()
            .unwrap()
            .starts_with("credential-")
    );
    resolve(&s, &id, true);
    // Another credential replaying the identical call does not get alpha's grant.
    let (st, _) = send("POST", &s.url("/v1/tool/exec"), Some(&b), Some(&body), &[]);
    assert_eq!(st, 202);
    let (st, r) = send("POST", &s.url("/v1/tool/exec"), Some(&a), Some(&body), &[]);
    assert_eq!(st, 200, "{r}");
    // Revoked tokens stop working at once.
    tokens.revoke(&a, chrono::Utc::now()).unwrap();
    let (st, r) = send("POST", &s.url("/v1/tool/exec"), Some(&a), Some(&body), &[]);
    assert_eq!(
        (st, r["error"].as_str()),
        (401, Some("token has been revoked"))
    );
}

#[test]
fn admin_detail_carries_signed_links_and_no_cors() {
    let s = TestServer::start();
    let (_, b) = ask(&s, json!({}));
    let id = b["approval_id"].as_str().unwrap().to_string();
    assert!(
        b.get("links").is_none(),
        "the agent never sees approval links"
    );
    let (_, one) = get(&s.url(&format!("/v1/approvals/{id}")));
    let deny = one["links"]["deny_url"].as_str().unwrap();
    let path = &deny[deny.find("/v1/").unwrap()..];
    let c = client();
    let resp = c
        .post(&s.url(path))
        .header("Origin", "https://evil.example")
        .send("")
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert!(
        resp.headers()
            .keys()
            .all(|k| !k.as_str().starts_with("access-control-"))
    );
    let (_, one) = get(&s.url(&format!("/v1/approvals/{id}")));
    assert_eq!(one["status"], "denied");
    assert!(one.get("links").is_none());
}
