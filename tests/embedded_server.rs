//! The in-process server and agent runner `wrap` and `preload` share (`rampart::embedded`):
//! one real server on an ephemeral loopback port, real child processes.
//!
//! One test function: the server reads `$HOME`, which is process-wide.

use std::ffi::OsString;
use std::time::Duration;

use rampart::embedded::{AgentCommand, InProcessServer, ServerOptions, run_agent};
use serde_json::{Value, json};

mod support;
use support::POLICY;

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

fn post(base: &str, token: &str, path: &str, body: &Value) -> (u16, Value) {
    let mut r = agent()
        .post(&format!("{base}{path}"))
        .header("Authorization", &format!("Bearer {token}"))
        .header("Content-Type", "application/json")
        .send(body.to_string())
        .expect("request");
    let code = r.status().as_u16();
    let text = r.body_mut().read_to_string().unwrap_or_default();
    (code, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn get(base: &str, token: &str, path: &str) -> u16 {
    agent()
        .get(&format!("{base}{path}"))
        .header("Authorization", &format!("Bearer {token}"))
        .call()
        .expect("request")
        .status()
        .as_u16()
}

#[test]
fn in_process_server_decides_audits_and_runs_agents() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    // SAFETY: the only test in this binary; set before any thread reads the environment.
    unsafe { std::env::set_var("HOME", &home) };
    let policy = dir.path().join("policy.yaml");
    std::fs::write(&policy, POLICY).unwrap();
    let audit = dir.path().join("audit");
    let server = InProcessServer::start(ServerOptions {
        config: Some(policy),
        audit_dir: Some(audit.clone()),
        ..ServerOptions::default()
    })
    .expect("start");
    assert!(server.url().starts_with("http://127.0.0.1:"));
    assert_ne!(server.port(), 0);
    let (base, run) = (server.url().to_string(), server.token().to_string());

    let call = |cmd: &str| {
        post(
            &base,
            &run,
            "/v1/tool/exec",
            &json!({"agent": "wrapped", "session": "s1", "params": {"command": cmd}}),
        )
    };
    let (code, body) = call("echo hi");
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["allowed"], true);
    let (code, body) = call("rm -rf /tmp/x");
    assert_eq!(code, 403, "{body}");
    assert_eq!(body["message"], "no recursive deletes");
    let (code, _) = call("curl https://example.com");
    assert_eq!(code, 200);

    // The run token evaluates but cannot administer; the user's admin token can.
    assert_eq!(get(&base, &run, "/v1/status"), 403);
    let admin = std::fs::read_to_string(home.join(".rampart/token")).expect("admin token");
    assert_eq!(get(&base, admin.trim(), "/v1/status"), 200);
    assert_eq!(get(&base, "rampart_wrong", "/v1/status"), 401);

    // Agents get the extra environment and their exit code comes back.
    let mut cmd = AgentCommand::new(vec![
        OsString::from("sh"),
        OsString::from("-c"),
        OsString::from(r#"test "$RAMPART_URL" = "$1" && test -n "$RAMPART_TOKEN" && exit 7"#),
        OsString::from("sh"),
        OsString::from(&base),
    ]);
    cmd.env.extend(server.env());
    assert_eq!(run_agent(&cmd, false).expect("run"), 7);
    let mut removed = AgentCommand::new(vec!["sh".into(), "-c".into(), "test -z \"$HOME\"".into()]);
    removed.env_remove.push("HOME".into());
    assert_eq!(run_agent(&removed, false).expect("run"), 0);
    let killed = AgentCommand::new(vec!["sh".into(), "-c".into(), "kill -TERM $$".into()]);
    assert_eq!(run_agent(&killed, false).expect("run"), 128 + 15);
    let missing = AgentCommand::new(vec!["/nonexistent/agent".into()]);
    assert_eq!(run_agent(&missing, false).unwrap_err().exit_code(), 127);

    let summary = server.shutdown();
    assert_eq!(summary, "rampart: 3 calls evaluated, 1 denied, 1 watched");
    // Every decision is in the audit trail.
    let mut lines = 0;
    for e in std::fs::read_dir(&audit).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "jsonl") {
            let text = std::fs::read_to_string(&p).unwrap();
            lines += text.lines().filter(|l| l.contains("\"wrapped\"")).count();
        }
    }
    assert_eq!(lines, 3);
}
