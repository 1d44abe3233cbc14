//! The dashboard in headless Chromium against a real in-process server: sign in, live calls,
//! approving a waiting call from a card, history filtered by decision, the policy REPL, theme
//! toggle, and screenshots of every tab in both themes under `target/dashboard-screenshots/`.
//! Skips (with a note) when Chromium or chromedriver is missing; `RAMPART_REQUIRE_BROWSER=1`
//! turns the skip into a failure.

mod support;
#[path = "browser/webdriver.rs"]
mod webdriver;

use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use support::*;
use webdriver::{Driver, WAIT};

/// One browser at a time: the tests are heavy and share a machine.
static BROWSER: Mutex<()> = Mutex::new(());

fn exec_call(s: &TestServer, command: &str, extra: Value) -> (u16, Value) {
    let mut body = json!({"agent": "claude-code", "session": "s1", "params": {"command": command}});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            b.insert(k.clone(), v.clone());
        }
    }
    post(&s.url("/v1/tool/exec"), &body.to_string())
}

/// Opens the dashboard and signs in with the admin token.
fn sign_in(d: &Driver, s: &TestServer) {
    d.goto(&s.url("/dashboard/"));
    d.type_into("#token-input", TOKEN);
    d.click("#connect");
    d.wait_true(
        "the app after sign-in",
        "return !document.getElementById('app').hidden",
    );
    d.wait_true(
        "the live stream to connect",
        "return document.getElementById('conn').textContent === 'Live'",
    );
}

fn lock() -> std::sync::MutexGuard<'static, ()> {
    BROWSER.lock().unwrap_or_else(|p| p.into_inner())
}

#[test]
fn live_call_appears_and_approve_releases_the_waiting_request() {
    let _g = lock();
    let Some(d) = Driver::start() else { return };
    let s = Arc::new(TestServer::start());
    sign_in(&d, &s);
    // The token is kept for the tab only, never in the address bar.
    let kept = d.exec(
        "return sessionStorage.getItem('rampart.dashboard.token')",
        json!([]),
    );
    assert_eq!(kept, TOKEN);
    assert_eq!(
        d.exec("return localStorage.length", json!([])),
        json!(0),
        "nothing in localStorage before a theme choice"
    );
    let url = d.exec("return location.href", json!([]));
    assert!(!url.as_str().unwrap_or_default().contains("token"));

    let (st, _) = exec_call(&s, "ls -la", json!({}));
    assert_eq!(st, 200);
    d.wait_true(
        "the live call",
        "const li = document.querySelector('#live li');
         return !!li && li.textContent.includes('ls -la') && !!li.querySelector('.badge-allow');",
    );

    // A call that waits for a human.
    let (tx, rx) = mpsc::channel();
    let s2 = s.clone();
    std::thread::spawn(move || {
        let _ = tx.send(exec_call(&s2, "deploy prod", json!({"wait_seconds": 30})));
    });
    d.wait_true(
        "the approval card",
        "const c = document.querySelector('#approvals .approval');
         return !!c && c.querySelector('.command').textContent === 'deploy prod'
           && c.textContent.includes('claude-code')
           && c.textContent.includes('deploys need a human')
           && /\\d+m \\d+s left|\\d+s left/.test(c.querySelector('.countdown').textContent);",
    );
    assert_eq!(d.text("#pending-count"), "1");
    d.click("#approvals .approval .approve");
    let (st, body) = rx
        .recv_timeout(WAIT)
        .expect("the waiting request completes after Approve");
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["approval_status"], "approved");
    d.wait_true(
        "the card to go",
        "return document.querySelectorAll('#approvals .approval').length === 0
           && document.getElementById('pending-count').textContent === '0'",
    );
    let (_, one) = get(&s.url(&format!(
        "/v1/approvals/{}",
        body["approval_id"].as_str().unwrap_or_default()
    )));
    assert_eq!(one["resolved_by"], "dashboard");
    // Hostile text is shown as text.
    exec_call(&s, "echo <img src=x onerror=alert(1)>", json!({}));
    d.wait_true(
        "the hostile command as text",
        "const li = document.querySelector('#live li');
         return !!li && li.querySelector('code').textContent.includes('<img src=x')
           && document.querySelectorAll('#live img').length === 0",
    );
}

#[test]
fn history_filters_by_decision() {
    let _g = lock();
    let Some(d) = Driver::start() else { return };
    let s = TestServer::start();
    for c in [
        "ls",
        "rm -rf /tmp/x",
        "cat notes.txt",
        "rm -rf /var",
        "curl example.test",
    ] {
        exec_call(&s, c, json!({}));
    }
    sign_in(&d, &s);
    d.click("#tab-history");
    d.wait_true(
        "five history rows",
        "return document.querySelectorAll('#h-rows tr').length === 5",
    );
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    assert_eq!(
        d.exec("return document.getElementById('h-date').value", json!([])),
        today
    );
    d.click("#h-action option[value='deny']");
    d.wait_true(
        "only deny rows",
        "const rows = [...document.querySelectorAll('#h-rows tr')];
         return rows.length === 2 && rows.every(r => r.dataset.action === 'deny')",
    );
    // The client-side text filter narrows further.
    d.type_into("#h-text", "/var");
    d.wait_true(
        "one visible row",
        "return [...document.querySelectorAll('#h-rows tr')].filter(r => !r.hidden).length === 1",
    );
}

#[test]
fn history_pages_with_load_more() {
    let _g = lock();
    let Some(d) = Driver::start() else { return };
    let s = TestServer::start();
    for i in 0..105 {
        exec_call(&s, &format!("echo {i}"), json!({}));
    }
    sign_in(&d, &s);
    d.click("#tab-history");
    d.wait_true(
        "the first page",
        "return document.querySelectorAll('#h-rows tr').length === 100",
    );
    assert!(d.text("#h-rows tr:first-child").contains("echo 104"));
    d.click("#h-more");
    d.wait_true(
        "the second page",
        "return document.querySelectorAll('#h-rows tr').length === 105
           && document.getElementById('h-more').hidden",
    );
    assert!(d.text("#h-rows tr:last-child").contains("echo 0"));
}

#[test]
fn repl_shows_the_deciding_rule() {
    let _g = lock();
    let Some(d) = Driver::start() else { return };
    let s = TestServer::start();
    sign_in(&d, &s);
    d.click("#tab-policy");
    d.wait_true(
        "the status card",
        "return document.getElementById('status').textContent.includes('enforce')",
    );
    d.type_into("#repl-command", "rm -rf /tmp/x");
    d.click("#repl-run");
    d.wait_true(
        "the deny verdict",
        "return document.getElementById('repl-action').textContent === 'deny'",
    );
    assert_eq!(d.text("#repl-message"), "no recursive deletes");
    assert!(d.text("#repl-rule").contains("block-rm"));
    assert!(d.text("#repl-matched").contains("block-rm"));
    assert!(d.text("#policies").contains("ask-deploy"));
}

fn screenshot_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"))
        .join("dashboard-screenshots")
}

#[test]
fn every_tab_in_both_themes() {
    let _g = lock();
    let Some(d) = Driver::start() else { return };
    let s = TestServer::start();
    for c in [
        "ls -la",
        "rm -rf /tmp/x",
        "curl https://example.test",
        "git status",
    ] {
        exec_call(&s, c, json!({}));
    }
    // Two pending approvals (not waited on).
    exec_call(
        &s,
        "deploy prod --region eu-west-1",
        json!({"session": "s2"}),
    );
    exec_call(
        &s,
        "deploy staging",
        json!({"agent": "codex", "session": "s3"}),
    );
    let dir = screenshot_dir();
    for theme in ["light", "dark"] {
        d.color_scheme(theme);
        sign_in(&d, &s);
        let bg = d.exec(
            "return getComputedStyle(document.body).backgroundColor",
            json!([]),
        );
        let expected = if theme == "dark" {
            "rgb(17, 20, 24)"
        } else {
            "rgb(245, 246, 248)"
        };
        assert_eq!(bg, expected, "{theme} palette follows prefers-color-scheme");
        // Live calls made after the page connected.
        exec_call(&s, &format!("npm test -- --theme {theme}"), json!({}));
        exec_call(&s, "rm -rf node_modules", json!({}));
        d.wait_true(
            "live calls and cards",
            "return document.querySelectorAll('#live li').length >= 2
               && document.querySelectorAll('#approvals .approval').length === 2",
        );
        d.screenshot(&dir.join(format!("active-{theme}.png")));
        d.click("#tab-history");
        d.wait_true(
            "history rows",
            "return document.querySelectorAll('#h-rows tr').length >= 6",
        );
        d.screenshot(&dir.join(format!("history-{theme}.png")));
        d.click("#tab-policy");
        d.type_into("#repl-command", "rm -rf /tmp/x");
        d.click("#repl-run");
        d.wait_true(
            "policy tab content",
            "return document.getElementById('repl-action').textContent === 'deny'
               && document.querySelectorAll('#policies tr').length >= 4",
        );
        d.screenshot(&dir.join(format!("policy-{theme}.png")));
        d.click("#tab-active");
        d.click("#sign-out");
        d.wait_true(
            "the sign-in form",
            "return !document.getElementById('login').hidden",
        );
    }
    // The login screen too.
    d.screenshot(&dir.join("login-dark.png"));
    // The toggle overrides the system preference and persists across reloads.
    d.color_scheme("dark");
    d.click("#theme-toggle");
    assert_eq!(
        d.exec(
            "return document.documentElement.getAttribute('data-theme')",
            json!([])
        ),
        "light"
    );
    d.goto(&s.url("/dashboard/"));
    d.wait_true(
        "the stored light theme",
        "return document.documentElement.getAttribute('data-theme') === 'light'
           && getComputedStyle(document.body).backgroundColor === 'rgb(245, 246, 248)'",
    );
    // No CSP violations or script errors were logged along the way.
    let bad: Vec<String> = d
        .console()
        .into_iter()
        .filter(|l| l.contains("SEVERE") || l.contains("Content Security Policy"))
        .filter(|l| !l.contains("favicon"))
        .collect();
    assert!(bad.is_empty(), "console errors: {bad:?}");
}

#[test]
fn unreachable_server_shows_banner_with_retry() {
    let _g = lock();
    let Some(d) = Driver::start() else { return };
    let s = TestServer::start();
    sign_in(&d, &s);
    let base = s.base.clone();
    drop(s);
    d.wait_true(
        "the offline banner",
        "return !document.getElementById('banner').hidden",
    );
    d.screenshot(&screenshot_dir().join("offline-light.png"));
    assert!(d.find("#retry").is_some());
    assert!(!base.is_empty());
}

#[test]
fn deny_and_always_allow_with_revoke() {
    let _g = lock();
    let Some(d) = Driver::start() else { return };
    let s = Arc::new(TestServer::start());
    sign_in(&d, &s);
    let (tx, rx) = mpsc::channel();
    let s2 = s.clone();
    std::thread::spawn(move || {
        let _ = tx.send(exec_call(&s2, "deploy prod", json!({"wait_seconds": 30})));
    });
    d.wait_true(
        "the card to deny",
        "return document.querySelectorAll('#approvals .approval').length === 1",
    );
    d.click("#approvals .approval .deny");
    let (st, body) = rx.recv_timeout(WAIT).expect("denied request completes");
    assert_eq!(st, 403, "{body}");

    let (st, b) = exec_call(&s, "deploy staging", json!({"session": "s9"}));
    assert_eq!(st, 202, "{b}");
    let id = b["approval_id"].as_str().unwrap_or_default().to_string();
    d.click("#approvals .approval .always");
    d.wait_true(
        "the confirmation dialog",
        "const dlg = document.getElementById('confirm');
         return dlg.open && document.getElementById('confirm-text').textContent.includes('deploy staging')",
    );
    // Cancel leaves it pending.
    d.click("#confirm-cancel");
    d.wait_true(
        "the dialog to close",
        "return !document.getElementById('confirm').open",
    );
    let (_, one) = get(&s.url(&format!("/v1/approvals/{id}")));
    assert_eq!(one["status"], "pending");
    d.click("#approvals .approval .always");
    d.click("#confirm-ok");
    d.wait_true(
        "the card to go",
        "return document.querySelectorAll('#approvals .approval').length === 0",
    );
    // The card goes when the resolution is published; the rule is written after that, before
    // the resolve call answers. The toast appears only once the answer is in.
    d.wait_true(
        "the resolve call to answer",
        "return document.getElementById('toast').textContent === 'Approved: deploy staging'",
    );
    let (_, one) = get(&s.url(&format!("/v1/approvals/{id}")));
    assert_eq!(one["status"], "approved");
    assert_eq!(one["persisted"], true, "{one}");

    d.click("#tab-policy");
    d.wait_true(
        "the always-allowed rule",
        "const rows = document.querySelectorAll('#auto-rules tr');
         return rows.length === 1 && rows[0].textContent.includes('deploy staging')",
    );
    d.screenshot(&screenshot_dir().join("policy-rule-light.png"));
    d.click("#auto-rules tr button");
    d.click("#confirm-ok");
    d.wait_true(
        "the rule to be revoked",
        "return document.querySelectorAll('#auto-rules tr').length === 0
           && !document.getElementById('auto-empty').hidden",
    );
    let (_, rules) = get(&s.url("/v1/rules/auto-allowed"));
    assert_eq!(rules["rules"], json!([]), "{rules}");
}
