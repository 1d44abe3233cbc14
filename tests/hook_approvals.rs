//! `ask` through a real `rampart serve` API for hosts without a native prompt: the hook creates
//! an approval, waits, and answers with what the person decided.

mod support;

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{TOKEN, TestServer, get, post};

const BIN: &str = env!("CARGO_BIN_EXE_rampart");

fn spawn_hook(home: &std::path::Path, url: &str, format: &str, payload: &Value) -> Child {
    let mut child = Command::new(BIN)
        .args(["hook", "--format", format])
        .env_clear()
        .env("HOME", home)
        .env("RAMPART_URL", url)
        .env("RAMPART_TOKEN", TOKEN)
        .env("RAMPART_NO_PROJECT_POLICY", "1")
        .env("RAMPART_HOOK_APPROVAL_TIMEOUT", "30")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn hook");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(payload.to_string().as_bytes())
        .expect("write");
    child
}

fn pending_id(s: &TestServer) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, v) = get(&s.url("/v1/approvals"));
        if let Some(id) = v["approvals"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["status"] == "pending"))
            .and_then(|x| x["id"].as_str())
        {
            return id.to_string();
        }
        assert!(
            Instant::now() < deadline,
            "no pending approval appeared: {v}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn codex_shred() -> Value {
    json!({"session_id": "sess-a", "cwd": "/tmp", "hook_event_name": "PreToolUse",
           "tool_name": "shell", "tool_input": {"command": ["shred", "-u", "notes.txt"]},
           "tool_use_id": "call_7"})
}

#[test]
fn codex_ask_waits_for_a_person_and_follows_the_answer() {
    let s = TestServer::start();
    let home = tempfile::tempdir().expect("home");
    for (approved, want) in [(true, "allow"), (false, "deny")] {
        let child = spawn_hook(home.path(), &s.base, "codex", &codex_shred());
        let id = pending_id(&s);
        let (_, a) = get(&s.url(&format!("/v1/approvals/{id}")));
        assert_eq!(a["tool"], "exec", "{a}");
        assert_eq!(a["agent"], "codex", "{a}");
        let (st, _) = post(
            &s.url(&format!("/v1/approvals/{id}/resolve")),
            &json!({"approved": approved, "resolved_by": "test"}).to_string(),
        );
        assert_eq!(st, 200);
        let out = child.wait_with_output().expect("wait");
        assert_eq!(out.status.code(), Some(0));
        assert!(
            out.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).expect("json");
        match want {
            "allow" => assert_eq!(v, json!({}), "approved → Codex allow is {{}}"),
            _ => {
                assert_eq!(v["hookSpecificOutput"]["permissionDecision"], "deny", "{v}");
                let r = v["hookSpecificOutput"]["permissionDecisionReason"]
                    .as_str()
                    .unwrap_or("");
                assert!(r.contains("denied"), "{r}");
            }
        }
    }
    // The hook's own trail has the ask and the outcome of each round.
    let lines: Vec<Value> = std::fs::read_dir(home.path().join(".rampart/audit"))
        .expect("audit dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("audit-hook-"))
        .flat_map(|e| {
            std::fs::read_to_string(e.path())
                .unwrap_or_default()
                .lines()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .collect::<Vec<_>>()
        })
        .collect();
    let actions: Vec<&str> = lines
        .iter()
        .filter_map(|e| e["decision"]["action"].as_str())
        .collect();
    assert_eq!(actions, ["ask", "approved", "ask", "deny"], "{lines:?}");
}

#[test]
fn headless_only_ask_goes_to_the_queue_even_for_claude() {
    let s = TestServer::start();
    let home = tempfile::tempdir().expect("home");
    let policy = home.path().join("p.yaml");
    std::fs::write(
        &policy,
        "version: \"1\"\ndefault_action: allow\npolicies:\n  - name: deploys\n    match: {tool: [exec]}\n    rules:\n      - action: ask\n        ask: {headless_only: true}\n        when: {command_matches: [\"kubectl apply *\"]}\n        message: deploys need a human\n",
    )
    .expect("write");
    let payload = json!({"session_id": "s1", "cwd": "/tmp", "hook_event_name": "PreToolUse",
        "tool_use_id": "toolu_9", "tool_name": "Bash", "tool_input": {"command": "kubectl apply -f prod.yaml"}});
    let mut child = Command::new(BIN)
        .args(["hook", "--config"])
        .arg(&policy)
        .env_clear()
        .env("HOME", home.path())
        .env("RAMPART_URL", &s.base)
        .env("RAMPART_TOKEN", TOKEN)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(payload.to_string().as_bytes())
        .expect("write");
    let id = pending_id(&s);
    post(
        &s.url(&format!("/v1/approvals/{id}/resolve")),
        &json!({"approved": true}).to_string(),
    );
    let out = child.wait_with_output().expect("wait");
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        v["hookSpecificOutput"]["permissionDecision"], "allow",
        "{v}"
    );
}

#[test]
fn no_server_means_a_clear_refusal_not_a_hang() {
    let home = tempfile::tempdir().expect("home");
    let started = Instant::now();
    let out = spawn_hook(
        home.path(),
        "http://127.0.0.1:9",
        "gemini",
        &json!({
        "session_id": "s", "cwd": "/tmp", "hook_event_name": "BeforeTool",
        "tool_name": "run_shell_command", "tool_input": {"command": "shred -u notes.txt"}}),
    )
    .wait_with_output()
    .expect("wait");
    assert!(started.elapsed() < Duration::from_secs(10));
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["decision"], "deny");
    assert!(
        v["reason"].as_str().unwrap_or("").contains("rampart serve"),
        "{v}"
    );
}

#[test]
fn hooks_and_a_running_serve_share_one_audit_chain() {
    let s = TestServer::start();
    let audit = s.dir.path().join("audit");
    let home = tempfile::tempdir().expect("home");
    let payload = json!({"session_id": "s1", "cwd": "/tmp", "hook_event_name": "PreToolUse",
        "tool_use_id": "toolu_1", "tool_name": "Bash", "tool_input": {"command": "git status"}});
    for i in 0..4 {
        // Interleave: a decision through the server's API, then one through a hook process.
        let (st, _) = post(
            &s.url("/v1/tool/exec"),
            &json!({"agent": "a", "params": {"command": format!("echo {i}")}}).to_string(),
        );
        assert!(st == 200 || st == 403, "{st}");
        let mut child = Command::new(BIN)
            .args(["hook", "--audit-dir"])
            .arg(&audit)
            .env_clear()
            .env("HOME", home.path())
            .env("RAMPART_NO_PROJECT_POLICY", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(payload.to_string().as_bytes())
            .expect("write");
        let out = child.wait_with_output().expect("wait");
        let v: Value = serde_json::from_slice(&out.stdout).expect("json");
        assert_eq!(
            v["hookSpecificOutput"]["permissionDecision"], "allow",
            "{v}"
        );
    }
    let v = Command::new(BIN)
        .args(["audit", "verify", "--dir"])
        .arg(&audit)
        .output()
        .expect("verify");
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stdout));
    let agents: Vec<String> = std::fs::read_dir(&audit)
        .expect("dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("audit-hook-"))
        .flat_map(|e| {
            std::fs::read_to_string(e.path())
                .unwrap_or_default()
                .lines()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .filter_map(|e| e["agent"].as_str().map(str::to_string))
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(
        agents.iter().filter(|a| *a == "claude-code").count(),
        4,
        "{agents:?}"
    );
    assert!(agents.len() >= 8, "{agents:?}");
}
