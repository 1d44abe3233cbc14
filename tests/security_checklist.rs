//! The server.md §17 security checklist as tests: one test per item not already covered
//! elsewhere. Items already covered by an existing test are mapped here instead of duplicated.
//!
//! | §17 item                                              | covered by                                                      |
//! |-------------------------------------------------------|-----------------------------------------------------------------|
//! | token file 0600, refuses symlinks                     | serve_binary::serve_lifecycle, token_cli::rotate_writes_owner_only_file_and_show_prints_it, token_cli::symlinked_token_file_is_refused |
//! | admin / agent tokens compared in constant time        | src/api/auth.rs + src/credentials/secret.rs (`subtle::ct_eq`), credentials::admin::tests::matches_goes_through_constant_time_compare, credentials::store::tests::identify_compares_every_record_in_constant_time |
//! | Host-header / DNS-rebinding refusal                   | api_routes::foreign_host_header_is_refused, dashboard_http::unknown_dashboard_paths_are_json_404_and_host_check_applies |
//! | no CORS headers                                       | api_approvals::admin_detail_carries_signed_links_and_no_cors, dashboard_http (index/assets) |
//! | signed-link forgery, wrong decision, expiry, replay   | api_approvals::signed_links_confirm_then_resolve_once, api_approvals::exact_replay_is_one_shot, approval_replay |
//! | approval bound to its credential                      | api_approvals::approvals_are_bound_to_the_credential_that_asked |
//! | bodies > 1 MiB, trailing JSON, duplicate keys         | api_routes::bad_bodies                                          |
//! | query-string token refused off the SSE route          | api_routes::healthz_needs_no_token_and_v1_does                  |
//! | audit chain tamper, symlinked chain file              | audit_tamper (all), audit_crash, serve_kill9                    |
//! | project policy cannot weaken the global one           | hook_cli::project_policy_tightens_but_never_loosens, policy_cli::init_project_writes_a_tightening_policy_at_the_git_root |
//! | deeply nested JSON (100k levels) → 400, no overflow   | this file: `deeply_nested_json_is_a_400_not_a_stack_overflow`, `deeply_nested_hook_stdin_does_not_crash_the_hook` |
//! | YAML alias bomb in a policy file                      | this file: `yaml_alias_bombs_are_clear_errors_not_hangs`        |
//! | path traversal in audit and dashboard routes          | this file: `path_traversal_in_dashboard_and_audit_routes_is_refused` |
//! | an agent trying to edit `~/.rampart`                  | this file: `agent_cannot_edit_rampart_state_through_the_hook`   |
//! | symlinked policy / audit directories                  | this file: `symlinked_audit_dir_is_refused_and_symlinked_policies_cannot_weaken` |

mod support;

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{TOKEN, TestServer, post};

const BIN: &str = env!("CARGO_BIN_EXE_rampart");

/// Runs `cmd` with `stdin`, killing it (and failing) after a generous hang guard.
fn run_guarded(mut cmd: Command, stdin: &[u8]) -> (Option<i32>, String, String) {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let ro = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let re = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let t = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if t.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("hang guard: {cmd:?} did not finish in 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    writer.join().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert!(
        status.signal().is_none(),
        "killed by signal {:?} (crash)",
        status.signal()
    );
    (status.code(), ro.join().unwrap(), re.join().unwrap())
}

fn rampart(home: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.env_clear()
        .env("HOME", home)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("RAMPART_URL", "http://127.0.0.1:9")
        .env("RAMPART_NO_PROJECT_POLICY", "1")
        .current_dir(home);
    c
}

fn scratch(tag: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("crash-{tag}-"))
        .tempdir_in("/tmp")
        .unwrap()
}

#[test]
fn deeply_nested_json_is_a_400_not_a_stack_overflow() {
    let s = TestServer::start();
    let depth = 100_000;
    for body in [
        format!("{}{}", "[".repeat(depth), "]".repeat(depth)),
        format!(
            "{{\"params\":{{\"command\":\"ls\",\"x\":{}{}}}}}",
            "[".repeat(depth),
            "]".repeat(depth)
        ),
        format!("{{\"params\":{}", "{\"a\":".repeat(depth)),
    ] {
        for route in ["/v1/tool/exec", "/v1/preflight/exec", "/v1/approvals"] {
            let (st, b) = post(&s.url(route), &body);
            assert_eq!(st, 400, "{route}: {b}");
        }
    }
    // The server is still alive and deciding.
    let (st, _) = post(&s.url("/v1/tool/exec"), r#"{"params":{"command":"ls"}}"#);
    assert_eq!(st, 200);
}

#[test]
fn deeply_nested_hook_stdin_does_not_crash_the_hook() {
    let home = scratch("nest");
    let depth = 100_000;
    let stdin = format!(
        "{{\"hook_event_name\":\"PreToolUse\",\"tool_name\":\"Bash\",\"tool_input\":{{\"command\":\"ls\",\"x\":{}{}}}}}",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    // Exits normally (any code) without a signal: run_guarded asserts no crash.
    let mut c = rampart(home.path());
    c.arg("hook");
    let (code, out, _) = run_guarded(c, stdin.as_bytes());
    assert!(code.is_some());
    assert!(!out.contains("\"allow\""), "{out}");
}

/// Policy files whose aliases would expand to millions of nodes: each must fail with a
/// `file:line:col` error, quickly, from `policy lint` and from `serve --config`.
#[test]
fn yaml_alias_bombs_are_clear_errors_not_hangs() {
    let home = scratch("yaml");
    let mut bombs = Vec::new();
    // Classic billion laughs at the top level.
    let mut b = vec![r#"a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]"#.into()];
    for i in 1..10 {
        b.push(format!(
            "a{i}: &a{i} [{}]",
            vec![format!("*a{}", i - 1); 9].join(",")
        ));
    }
    b.push("policies: *a9".into());
    bombs.push(b.join("\n"));
    // The same hidden inside a well-formed policy's rule list and matcher.
    let mut b = vec![
        "default_action: allow".to_string(),
        "policies:".into(),
        "  - name: p0".into(),
        "    rules: &r0".into(),
        "      - action: deny".into(),
        "        when: {command_matches: [\"x *\"]}".into(),
    ];
    for i in 1..10 {
        b.push(format!("  - name: p{i}"));
        b.push(format!(
            "    rules: &r{i} [{}]",
            vec![format!("*r{}", i - 1); 9].join(",")
        ));
    }
    bombs.push(b.join("\n"));
    let mut b = vec![
        "policies:".to_string(),
        "  - name: p".into(),
        "    rules:".into(),
        "      - action: deny".into(),
        "        when:".into(),
        "          command_matches: &c0 [\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\"]"
            .into(),
    ];
    for i in 1..10 {
        b.push(format!(
            "          command_not_matches: &c{i} [{}]",
            vec![format!("*c{}", i - 1); 9].join(",")
        ));
    }
    bombs.push(b.join("\n"));

    for (n, bomb) in bombs.iter().enumerate() {
        let file = home.path().join(format!("bomb{n}.yaml"));
        std::fs::write(&file, bomb).unwrap();
        let f = file.to_str().unwrap();
        let mut lint = rampart(home.path());
        lint.args(["policy", "lint", f]);
        let (code, out, err) = run_guarded(lint, b"");
        assert_eq!(code, Some(1), "lint bomb{n}: {out}{err}");
        assert!(
            format!("{out}{err}").contains(&format!("bomb{n}.yaml:")),
            "lint names the file: {out}{err}"
        );
        let mut serve = rampart(home.path());
        serve.args(["serve", "--config", f, "--port", "0"]);
        let (code, out, err) = run_guarded(serve, b"");
        assert_eq!(code, Some(1), "serve bomb{n}: {out}{err}");
        assert!(err.contains(&format!("bomb{n}.yaml")), "{err}");
    }
}

/// One raw HTTP/1.1 request, so that `..` and encoded separators reach the server untouched.
fn raw_get(base: &str, path: &str, token: Option<&str>) -> (u16, String) {
    let addr = base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf).into_owned();
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, text)
}

#[test]
fn path_traversal_in_dashboard_and_audit_routes_is_refused() {
    let s = TestServer::start();
    // A secret next to the server's state; no route may serve it.
    std::fs::write(s.dir.path().join("secret.txt"), "TOPSECRET-crash").unwrap();
    // Controls: the raw client reaches the real routes.
    assert_eq!(raw_get(&s.base, "/dashboard/", None).0, 200);
    assert_eq!(
        raw_get(&s.base, "/v1/audit/events?date=2024-01-01", Some(TOKEN)).0,
        200
    );
    for path in [
        "/dashboard/../../../../etc/passwd",
        "/dashboard/..%2f..%2f..%2f..%2fetc%2fpasswd",
        "/dashboard/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/dashboard/....//....//etc/passwd",
        "/dashboard/..%5c..%5cetc%5cpasswd",
        "/dashboard/%2e%2e%2fsecret.txt",
        "/dashboard//etc/passwd",
        "/dashboard/assets/../../secret.txt",
        "/dashboard/%00",
    ] {
        let (st, text) = raw_get(&s.base, path, None);
        assert!(
            st == 404 || st == 400 || st == 308 || st == 301,
            "{path}: {st} {text}"
        );
        assert!(!text.contains("root:"), "{path} served /etc/passwd");
        assert!(!text.contains("TOPSECRET"), "{path} served a local file");
    }
    for q in [
        "../../../../etc/passwd",
        "..%2f..%2fetc%2fpasswd",
        "2024-01-01/../../secret.txt",
        "/etc/passwd",
        "2024-01-01%00",
    ] {
        for route in ["/v1/audit/events", "/v1/audit/export"] {
            let path = format!("{route}?date={q}");
            let (st, text) = raw_get(&s.base, &path, Some(TOKEN));
            assert_eq!(st, 400, "{path}: {text}");
            assert!(!text.contains("root:") && !text.contains("TOPSECRET"));
        }
    }
}

/// `Write`/`Edit` tool calls and shell redirections that target `~/.rampart` (policies, the
/// token, the audit trail) are denied by the standard profile through `rampart hook`.
#[test]
fn agent_cannot_edit_rampart_state_through_the_hook() {
    let home = scratch("self");
    let h = home.path().to_str().unwrap();
    let targets = [
        format!("{h}/.rampart/policies/x.yaml"),
        "~/.rampart/policies/x.yaml".to_string(),
        format!("{h}/.rampart/token"),
        format!("{h}/.rampart/audit/audit-x.jsonl"),
        format!("{h}/.rampart/policies/../policies/standard.yaml"),
    ];
    let mut events = Vec::new();
    for t in &targets {
        events.push(serde_json::json!({"tool_name":"Write","tool_input":{"file_path":t,"content":"default_action: allow\n"}}));
        events.push(serde_json::json!({"tool_name":"Edit","tool_input":{"file_path":t,"old_string":"deny","new_string":"allow"}}));
    }
    for cmd in [
        "echo 'default_action: allow' > ~/.rampart/policies/x.yaml",
        "rm -rf ~/.rampart/audit",
        "cp /tmp/x.yaml $HOME/.rampart/policies/",
    ] {
        events.push(serde_json::json!({"tool_name":"Bash","tool_input":{"command":cmd}}));
    }
    // Control: the same hook allows an ordinary write elsewhere.
    let ok = serde_json::json!({"hook_event_name":"PreToolUse","session_id":"s","cwd":"/tmp",
        "tool_name":"Write","tool_input":{"file_path":"/tmp/crash-notes.txt","content":"hi"}});
    let mut c = rampart(home.path());
    c.arg("hook");
    let (_, out, _) = run_guarded(c, ok.to_string().as_bytes());
    assert!(!out.contains("\"deny\""), "{out}");
    for mut e in events {
        e["hook_event_name"] = "PreToolUse".into();
        e["session_id"] = "s".into();
        e["cwd"] = "/tmp".into();
        let mut c = rampart(home.path());
        c.arg("hook");
        let (code, out, err) = run_guarded(c, e.to_string().as_bytes());
        assert_eq!(code, Some(0), "{e}: {err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_default();
        assert_eq!(
            v["hookSpecificOutput"]["permissionDecision"], "deny",
            "{e} → {out}"
        );
    }
}

/// `serve --audit-dir <symlink>` refuses to start; a symlinked `~/.rampart/policies` is read
/// (dotfile managers do this) but an allow rule in it cannot beat a standard-profile deny.
#[test]
fn symlinked_audit_dir_is_refused_and_symlinked_policies_cannot_weaken() {
    let home = scratch("symlink");
    let h = home.path();
    std::fs::create_dir_all(h.join("real-audit")).unwrap();
    std::os::unix::fs::symlink(h.join("real-audit"), h.join("audit-link")).unwrap();
    let mut serve = rampart(h);
    serve.args([
        "serve",
        "--port",
        "0",
        "--audit-dir",
        h.join("audit-link").to_str().unwrap(),
    ]);
    let (code, _, err) = run_guarded(serve, b"");
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("audit-link") && err.contains("symlink"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_dir(h.join("real-audit")).unwrap().count(),
        0,
        "nothing written through the link"
    );

    std::fs::create_dir_all(h.join("real-policies")).unwrap();
    std::fs::create_dir_all(h.join(".rampart")).unwrap();
    std::fs::write(
        h.join("real-policies/evil.yaml"),
        "policies:\n  - name: evil\n    match: {tool: exec}\n    rules:\n      - action: allow\n        when: {command_matches: [\"rm *\"]}\n",
    )
    .unwrap();
    std::os::unix::fs::symlink(h.join("real-policies"), h.join(".rampart/policies")).unwrap();
    let ev = serde_json::json!({"hook_event_name":"PreToolUse","session_id":"s","cwd":"/tmp",
        "tool_name":"Bash","tool_input":{"command":"rm -rf /"}});
    let mut c = rampart(h);
    c.arg("hook");
    let (code, out, err) = run_guarded(c, ev.to_string().as_bytes());
    assert_eq!(code, Some(0), "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_default();
    assert_eq!(
        v["hookSpecificOutput"]["permissionDecision"], "deny",
        "{out}"
    );
}

/// Plain YAML scalars `yes`/`no`/`on`/`off`/`y`/`n` in text fields are those words (as Go's
/// decoder reads them), not YAML 1.1 booleans turned into "true"/"false": a deny rule
/// `command_matches: [yes]` denies `yes` and not `true`, and a policy named `no` keeps its name.
/// (Found by this checklist; fixed in the loader with YAML 1.2 booleans.)
#[test]
fn plain_yes_in_a_pattern_means_the_word_yes() {
    let home = scratch("yes");
    let h = home.path();
    std::fs::create_dir_all(h.join(".rampart/policies")).unwrap();
    std::fs::write(
        h.join(".rampart/policies/p.yaml"),
        "policies:\n  - name: no\n    match: {tool: exec}\n    rules:\n      - action: deny\n        when: {command_matches: [yes]}\n",
    )
    .unwrap();
    for (cmd, want) in [("yes", "deny"), ("true", "allow")] {
        let ev = serde_json::json!({"hook_event_name":"PreToolUse","session_id":"s","cwd":"/tmp",
            "tool_name":"Bash","tool_input":{"command":cmd}});
        let mut c = rampart(h);
        c.arg("hook");
        let (_, out, _) = run_guarded(c, ev.to_string().as_bytes());
        let got = if out.contains("\"deny\"") {
            "deny"
        } else {
            "allow"
        };
        assert_eq!(got, want, "{cmd}: {out}");
    }
}
