//! `rampart hook`, driven as the hosts drive it: the real binary, one JSON event on stdin, the
//! exact stdout compared with golden files under `tests/golden/hook/<format>/`.
//!
//! Set `RAMPART_BLESS=1` to rewrite the golden files after an intended change (then review the
//! diff).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_rampart");
/// A token sent nowhere (the approval URL below refuses connections).
const UNREACHABLE: &str = "http://127.0.0.1:9";
const SECRET_OUTPUT: &str = "config loaded\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n";

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn hook_in(home: &Path, args: &[&str], stdin: &[u8], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(BIN);
    cmd.arg("hook")
        .args(args)
        .env_clear()
        .env("HOME", home)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("RAMPART_URL", UNREACHABLE)
        .env("RAMPART_NO_PROJECT_POLICY", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn rampart hook");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin)
        .expect("write stdin");
    let out = child.wait_with_output().expect("wait");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/hook")
}

/// Compares `actual` with the golden file (or rewrites it under `RAMPART_BLESS=1`).
fn golden(format: &str, case: &str, actual: &str) -> Option<String> {
    let path = golden_dir().join(format).join(format!("{case}.json"));
    if std::env::var_os("RAMPART_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, actual).expect("write golden");
        return None;
    }
    match std::fs::read_to_string(&path) {
        Ok(want) if want == actual => None,
        Ok(want) => Some(format!(
            "{format}/{case}: stdout differs\n  want: {want}  got:  {actual}"
        )),
        Err(e) => Some(format!("{format}/{case}: golden {}: {e}", path.display())),
    }
}

/// One host: how to phrase a pre-call shell command, a post-call response, and an unknown tool.
struct HostCase {
    format: &'static str,
    pre_exec: fn(&str) -> Value,
    post_exec: Option<fn(&str, &str) -> Value>,
    unknown: fn() -> Value,
}

fn claude_pre(tool: &str, input: Value) -> Value {
    json!({"session_id": "sess-1", "transcript_path": "/tmp/t.jsonl", "cwd": "/tmp",
           "permission_mode": "default", "hook_event_name": "PreToolUse",
           "tool_use_id": "toolu_01AbC", "tool_name": tool, "tool_input": input})
}

fn hosts() -> Vec<HostCase> {
    vec![
        HostCase {
            format: "claude-code",
            pre_exec: |c| claude_pre("Bash", json!({"command": c, "description": "run it"})),
            post_exec: Some(|c, out| {
                let mut v = claude_pre("Bash", json!({"command": c}));
                v["hook_event_name"] = json!("PostToolUse");
                v["tool_response"] =
                    json!({"stdout": out, "stderr": "", "interrupted": false, "exit_code": 0});
                v
            }),
            unknown: || claude_pre("TeleportFile", json!({"to": "mars"})),
        },
        HostCase {
            format: "codex",
            pre_exec: |c| {
                json!({"session_id": "sess-1", "turn_id": "t1", "transcript_path": null, "cwd": "/tmp",
                       "hook_event_name": "PreToolUse", "model": "gpt-5", "tool_name": "shell",
                       "tool_input": {"command": ["bash", "-lc", c]}, "tool_use_id": "call_1"})
            },
            post_exec: Some(|c, out| {
                json!({"session_id": "sess-1", "cwd": "/tmp", "hook_event_name": "PostToolUse",
                       "tool_name": "shell", "tool_input": {"command": ["bash", "-lc", c]},
                       "tool_response": out, "tool_use_id": "call_1"})
            }),
            unknown: || {
                json!({"session_id": "sess-1", "cwd": "/tmp", "hook_event_name": "PreToolUse",
                       "tool_name": "quantum_leap", "tool_input": {}, "tool_use_id": "call_2"})
            },
        },
        HostCase {
            format: "cline",
            pre_exec: |c| {
                json!({"clineVersion": "4", "hookName": "tool_call", "timestamp": "2026-11-23T10:00:00Z",
                       "taskId": "task-1", "workspaceRoots": ["/tmp"],
                       "preToolUse": {"toolName": "execute_command", "parameters": {"command": c}},
                       "tool_call": {"id": "call_1", "name": "execute_command", "input": {"command": c}}})
            },
            post_exec: Some(|c, out| {
                json!({"clineVersion": "4", "hookName": "tool_result", "taskId": "task-1",
                       "workspaceRoots": ["/tmp"],
                       "postToolUse": {"toolName": "execute_command", "parameters": {"command": c}, "result": out},
                       "tool_result": {"id": "call_1", "name": "execute_command", "output": out}})
            }),
            unknown: || {
                json!({"hookName": "tool_call", "taskId": "task-1",
                       "preToolUse": {"toolName": "warp_drive", "parameters": {}}})
            },
        },
        HostCase {
            format: "cursor",
            pre_exec: |c| {
                json!({"conversation_id": "conv-1", "generation_id": "gen-1", "hook_event_name": "preToolUse",
                       "cwd": "/tmp", "tool_name": "Shell", "tool_input": {"command": c}, "tool_use_id": "tu_1"})
            },
            post_exec: None,
            unknown: || {
                json!({"conversation_id": "conv-1", "hook_event_name": "preToolUse", "cwd": "/tmp",
                       "tool_name": "Hologram", "tool_input": {}, "tool_use_id": "tu_2"})
            },
        },
        HostCase {
            format: "gemini",
            pre_exec: |c| {
                json!({"session_id": "sess-1", "cwd": "/tmp", "hook_event_name": "BeforeTool",
                       "tool_name": "run_shell_command", "tool_input": {"command": c}})
            },
            post_exec: Some(|c, out| {
                json!({"session_id": "sess-1", "cwd": "/tmp", "hook_event_name": "AfterTool",
                       "tool_name": "run_shell_command", "tool_input": {"command": c},
                       "tool_response": {"llmContent": out, "returnDisplay": out}})
            }),
            unknown: || {
                json!({"session_id": "sess-1", "hook_event_name": "BeforeTool",
                       "tool_name": "summon_dragon", "tool_input": {}})
            },
        },
        HostCase {
            format: "copilot",
            pre_exec: |c| {
                json!({"hook_event_name": "PreToolUse", "session_id": "sess-1", "cwd": "/tmp",
                       "tool_name": "bash", "tool_input": {"command": c}, "tool_use_id": "tu_1"})
            },
            post_exec: Some(|c, out| {
                json!({"hook_event_name": "PostToolUse", "session_id": "sess-1", "cwd": "/tmp",
                       "tool_name": "bash", "tool_input": {"command": c}, "tool_use_id": "tu_1",
                       "tool_result": out})
            }),
            unknown: || {
                json!({"hook_event_name": "PreToolUse", "session_id": "sess-1",
                       "tool_name": "zz_top", "tool_input": {}})
            },
        },
        HostCase {
            format: "antigravity",
            pre_exec: |c| {
                json!({"toolCall": {"name": "run_command", "args": {"CommandLine": c, "Cwd": "/tmp"}},
                       "stepIdx": 2, "conversationId": "conv-1", "workspacePaths": ["/tmp"]})
            },
            post_exec: None,
            unknown: || json!({"toolCall": {"name": "bend_spacetime", "args": {}}, "conversationId": "conv-1"}),
        },
    ]
}

fn check_protocol(format: &str, case: &str, r: &Run, problems: &mut Vec<String>) {
    if r.code != 0 {
        problems.push(format!(
            "{format}/{case}: exit {} (stderr {:?})",
            r.code, r.stderr
        ));
    }
    let lines: Vec<&str> = r.stdout.lines().collect();
    if lines.len() != 1 || serde_json::from_str::<Value>(lines[0]).is_err() {
        problems.push(format!(
            "{format}/{case}: stdout is not one JSON line: {:?}",
            r.stdout
        ));
    }
    let banner_ok = format == "cline" && case.starts_with("deny");
    if !r.stderr.is_empty() && !banner_ok {
        problems.push(format!("{format}/{case}: unexpected stderr {:?}", r.stderr));
    }
}

#[test]
fn golden_answers_for_every_host() {
    let mut problems = Vec::new();
    for h in hosts() {
        let home = tempfile::tempdir().expect("home");
        let mut cases: Vec<(&str, Vec<u8>, Vec<&str>)> = vec![
            (
                "allow",
                (h.pre_exec)("git status").to_string().into_bytes(),
                vec![],
            ),
            (
                "deny",
                (h.pre_exec)("rm -rf /").to_string().into_bytes(),
                vec![],
            ),
            (
                "deny-wrapped",
                (h.pre_exec)("sudo bash -c 'rm -rf /'")
                    .to_string()
                    .into_bytes(),
                vec![],
            ),
            (
                "ask",
                (h.pre_exec)("shred -u secrets.txt")
                    .to_string()
                    .into_bytes(),
                vec![],
            ),
            (
                "malformed",
                b"{\"hook_event_name\": \"PreToolUse\", ".to_vec(),
                vec![],
            ),
            ("empty", Vec::new(), vec![]),
            (
                "unknown-tool",
                (h.unknown)().to_string().into_bytes(),
                vec![],
            ),
            (
                "monitor-deny",
                (h.pre_exec)("rm -rf /").to_string().into_bytes(),
                vec!["--mode", "monitor"],
            ),
        ];
        if let Some(post) = h.post_exec {
            cases.push((
                "post-secret",
                post("cat .env", SECRET_OUTPUT).to_string().into_bytes(),
                vec![],
            ));
            cases.push((
                "post-clean",
                post("ls", "a.txt\nb.txt\n").to_string().into_bytes(),
                vec![],
            ));
        }
        for (case, stdin, extra) in cases {
            let mut args = vec!["--format", h.format];
            args.extend(extra);
            let r = hook_in(home.path(), &args, &stdin, &[]);
            check_protocol(h.format, case, &r, &mut problems);
            if let Some(p) = golden(h.format, case, &r.stdout) {
                problems.push(p);
            }
            let banner =
                r.stderr.contains("Rampart blocked: rm -rf /") && r.stderr.contains("Reason:");
            if h.format == "cline" && case == "deny" && !banner {
                problems.push(format!("cline/deny: banner missing: {:?}", r.stderr));
            }
        }
        // Every decision was recorded and the chain verifies.
        let audit = home.path().join(".rampart/audit");
        let v = Command::new(BIN)
            .args(["audit", "verify", "--dir"])
            .arg(&audit)
            .env("HOME", home.path())
            .output()
            .expect("verify");
        if !v.status.success() {
            problems.push(format!(
                "{}: audit verify failed: {}",
                h.format,
                String::from_utf8_lossy(&v.stderr)
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

fn audit_lines(home: &Path) -> Vec<Value> {
    let dir = home.join(".rampart/audit");
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(&dir) else {
        return out;
    };
    let mut names: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("audit-hook-"))
        })
        .collect();
    names.sort();
    for n in names {
        for l in std::fs::read_to_string(n).unwrap_or_default().lines() {
            if let Ok(v) = serde_json::from_str::<Value>(l)
                && v.get("id").is_some()
            {
                out.push(v);
            }
        }
    }
    out
}

#[test]
fn decisions_are_audited_with_host_identity() {
    let home = tempfile::tempdir().expect("home");
    let payload = claude_pre("Bash", json!({"command": "rm -rf /"})).to_string();
    let r = hook_in(
        home.path(),
        &[],
        payload.as_bytes(),
        &[("RAMPART_SESSION", "proj/main")],
    );
    assert_eq!(r.code, 0);
    let events = audit_lines(home.path());
    assert_eq!(events.len(), 1, "{events:?}");
    let e = &events[0];
    assert_eq!(e["agent"], "claude-code");
    assert_eq!(e["session"], "proj/main");
    assert_eq!(e["tool"], "exec");
    assert_eq!(e["run_id"], "sess-1");
    assert_eq!(e["tool_call_id"], "toolu_01AbC");
    assert_eq!(e["request"]["command"], "rm -rf /");
    assert_eq!(e["decision"]["action"], "deny");
}

#[test]
fn monitor_mode_defers_but_records_the_real_verdict() {
    let home = tempfile::tempdir().expect("home");
    let payload = claude_pre("Bash", json!({"command": "rm -rf /"})).to_string();
    let r = hook_in(home.path(), &["--mode", "monitor"], payload.as_bytes(), &[]);
    // `{}`: Claude Code's own permission prompt decides; no auto-approval.
    assert_eq!(r.stdout.trim(), "{}");
    let events = audit_lines(home.path());
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["decision"]["action"], "deny");
}

#[test]
fn batched_paths_are_each_checked() {
    let home = tempfile::tempdir().expect("home");
    let patch = "*** Begin Patch\n*** Update File: src/main.rs\n@@\n-a\n+b\n*** Add File: /root/.ssh/authorized_keys\n+ssh-ed25519 AAAA\n*** End Patch\n";
    let payload = json!({"session_id": "s", "cwd": "/tmp", "hook_event_name": "PreToolUse",
        "tool_name": "apply_patch", "tool_input": {"command": patch}, "tool_use_id": "call_9"});
    let r = hook_in(
        home.path(),
        &["--format", "codex"],
        payload.to_string().as_bytes(),
        &[],
    );
    let v: Value = serde_json::from_str(r.stdout.trim()).expect("json");
    assert_eq!(v["hookSpecificOutput"]["permissionDecision"], "deny", "{v}");
    // The harmless member alone is allowed.
    let ok = patch.replace("/root/.ssh/authorized_keys", "src/lib.rs");
    let payload = json!({"session_id": "s", "cwd": "/tmp", "hook_event_name": "PreToolUse",
        "tool_name": "apply_patch", "tool_input": {"command": ok}, "tool_use_id": "call_10"});
    let r = hook_in(
        home.path(),
        &["--format", "codex"],
        payload.to_string().as_bytes(),
        &[],
    );
    assert_eq!(r.stdout.trim(), "{}");
}

#[test]
fn broken_policy_refuses_in_enforce_and_defers_in_monitor() {
    let home = tempfile::tempdir().expect("home");
    let bad = home.path().join("bad.yaml");
    std::fs::write(&bad, "version: \"1\"\npolicies:\n  - name: x\n    rules: [ {action: allow, when: {comand_matches: [\"*\"]}} ]\n")
        .expect("write");
    let payload = claude_pre("Bash", json!({"command": "ls"})).to_string();
    let cfg = bad.to_str().expect("utf8");
    let r = hook_in(home.path(), &["--config", cfg], payload.as_bytes(), &[]);
    let v: Value = serde_json::from_str(r.stdout.trim()).expect("json");
    assert_eq!(v["hookSpecificOutput"]["permissionDecision"], "deny");
    let reason = v["hookSpecificOutput"]["permissionDecisionReason"]
        .as_str()
        .unwrap_or("");
    assert!(reason.contains("policy configuration error"), "{reason}");
    assert!(r.stderr.is_empty());
    let r = hook_in(
        home.path(),
        &["--config", cfg, "--mode", "monitor"],
        payload.as_bytes(),
        &[],
    );
    assert_eq!(r.stdout.trim(), "{}");
}

#[test]
fn oversize_input_is_refused() {
    let home = tempfile::tempdir().expect("home");
    let big = format!(
        "{{\"hook_event_name\":\"PreToolUse\",\"tool_name\":\"Bash\",\"tool_input\":{{\"command\":\"{}\"}}}}",
        "a".repeat(4 << 20)
    );
    let r = hook_in(home.path(), &[], big.as_bytes(), &[]);
    assert_eq!(r.code, 0);
    assert!(
        r.stdout.contains("\"deny\"") && r.stdout.contains("larger than"),
        "{}",
        r.stdout
    );
}

#[test]
fn duplicate_keys_are_refused() {
    let home = tempfile::tempdir().expect("home");
    let payload = r#"{"hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":{"command":"ls","command":"rm -rf /"}}"#;
    let r = hook_in(home.path(), &[], payload.as_bytes(), &[]);
    assert!(
        r.stdout.contains("\"deny\"") && r.stdout.contains("parse failure"),
        "{}",
        r.stdout
    );
}

#[test]
fn project_policy_tightens_but_never_loosens() {
    let home = tempfile::tempdir().expect("home");
    let repo = home.path().join("repo");
    std::fs::create_dir_all(repo.join(".git")).expect("mkdir");
    std::fs::create_dir_all(repo.join(".rampart")).expect("mkdir");
    std::fs::write(repo.join(".git/HEAD"), "ref: refs/heads/main\n").expect("write");
    std::fs::write(
        repo.join(".rampart/policy.yaml"),
        "version: \"1\"\npolicies:\n  - name: no-npm-publish\n    match: {tool: [exec]}\n    rules:\n      - action: deny\n        when: {command_matches: [\"npm publish*\"]}\n        message: releases go through CI\n  - name: try-loosen\n    match: {tool: [exec]}\n    rules:\n      - action: allow\n        when: {command_matches: [\"rm -rf /\"]}\n",
    )
    .expect("write");
    let cwd = repo.to_str().expect("utf8");
    let run = |cmd: &str| {
        let mut p = claude_pre("Bash", json!({"command": cmd}));
        p["cwd"] = json!(cwd);
        let mut c = Command::new(BIN);
        c.arg("hook")
            .env_clear()
            .env("HOME", home.path())
            .env("RAMPART_URL", UNREACHABLE)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        let mut child = c.spawn().expect("spawn");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(p.to_string().as_bytes())
            .expect("write");
        let out = child.wait_with_output().expect("wait");
        serde_json::from_slice::<Value>(&out.stdout).expect("json")
    };
    let v = run("npm publish");
    assert_eq!(v["hookSpecificOutput"]["permissionDecision"], "deny", "{v}");
    let reason = v["hookSpecificOutput"]["permissionDecisionReason"]
        .as_str()
        .unwrap_or("");
    assert!(
        reason.contains("[Project Policy]") && reason.contains("releases go through CI"),
        "{reason}"
    );
    let v = run("rm -rf /");
    assert_eq!(v["hookSpecificOutput"]["permissionDecision"], "deny", "{v}");
    let events = audit_lines(home.path());
    assert_eq!(
        events.last().map(|e| e["session"].clone()),
        Some(json!("repo/main"))
    );
}

#[test]
fn call_count_limits_hold_across_hook_processes() {
    let home = tempfile::tempdir().expect("home");
    let policy = home.path().join("p.yaml");
    std::fs::write(
        &policy,
        "version: \"1\"\ndefault_action: allow\npolicies:\n  - name: fetch-budget\n    match: {tool: [fetch]}\n    rules:\n      - action: deny\n        when: {call_count: {gte: 4, window: 1h}}\n        message: too many fetches this hour\n",
    )
    .expect("write");
    let cfg = policy.to_str().expect("utf8");
    let payload = claude_pre(
        "WebFetch",
        json!({"url": "https://example.com/a", "prompt": "read"}),
    );
    let mut answers = Vec::new();
    for _ in 0..5 {
        let r = hook_in(
            home.path(),
            &["--config", cfg],
            payload.to_string().as_bytes(),
            &[],
        );
        let v: Value = serde_json::from_str(r.stdout.trim()).expect("json");
        answers.push(
            v["hookSpecificOutput"]["permissionDecision"]
                .as_str()
                .unwrap_or("?")
                .to_string(),
        );
    }
    assert_eq!(answers, ["allow", "allow", "allow", "deny", "deny"]);
    assert!(home.path().join(".rampart/hook-call-counts.json").is_file());
}

#[test]
fn native_ask_then_post_tool_use_is_recorded_as_approved() {
    let home = tempfile::tempdir().expect("home");
    let pre = claude_pre("Bash", json!({"command": "shred -u notes.txt"}));
    let r = hook_in(home.path(), &[], pre.to_string().as_bytes(), &[]);
    assert!(r.stdout.contains("\"ask\""), "{}", r.stdout);
    assert!(
        home.path()
            .join(".rampart/session-state/sess-1.json")
            .is_file()
    );
    let mut post = pre.clone();
    post["hook_event_name"] = json!("PostToolUse");
    post["tool_response"] = json!({"stdout": "", "stderr": ""});
    let r = hook_in(home.path(), &[], post.to_string().as_bytes(), &[]);
    assert_eq!(r.stdout.trim(), "{}");
    let actions: Vec<String> = audit_lines(home.path())
        .iter()
        .map(|e| e["decision"]["action"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(actions, ["ask", "approved", "allow"]);
    // Consumed: the state file is gone, a replayed post event records nothing new.
    assert!(
        !home
            .path()
            .join(".rampart/session-state/sess-1.json")
            .exists()
    );
}

#[test]
fn deny_is_sent_to_the_policy_notify_webhook() {
    use std::io::{BufRead, BufReader, Read};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = std::thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        let mut r = BufReader::new(stream);
        let mut len = 0usize;
        let mut first = String::new();
        r.read_line(&mut first).expect("request line");
        loop {
            let mut l = String::new();
            r.read_line(&mut l).expect("header");
            if l.trim().is_empty() {
                break;
            }
            if let Some(v) = l.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0u8; len];
        r.read_exact(&mut body).expect("body");
        let mut s = r.into_inner();
        s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
            .expect("reply");
        (first, String::from_utf8_lossy(&body).into_owned())
    });
    let home = tempfile::tempdir().expect("home");
    let policy = home.path().join("p.yaml");
    std::fs::write(
        &policy,
        format!("version: \"1\"\ndefault_action: allow\nnotify:\n  url: http://127.0.0.1:{port}/hook\n  platform: webhook\npolicies:\n  - name: no-rm\n    match: {{tool: [exec]}}\n    rules:\n      - action: deny\n        when: {{command_matches: [\"rm -rf *\"]}}\n        message: no recursive deletes\n"),
    )
    .expect("write");
    let payload = claude_pre("Bash", json!({"command": "rm -rf build"}));
    let cfg = policy.to_str().expect("utf8");
    let r = hook_in(
        home.path(),
        &["--config", cfg],
        payload.to_string().as_bytes(),
        &[],
    );
    assert!(r.stdout.contains("\"deny\""), "{}", r.stdout);
    assert!(r.stderr.is_empty(), "{}", r.stderr);
    let (line, body) = server.join().expect("server");
    assert!(line.starts_with("POST /hook"), "{line}");
    assert!(
        body.contains("rm -rf build") && body.contains("no-rm"),
        "{body}"
    );
}
