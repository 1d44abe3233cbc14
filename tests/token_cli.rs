//! `rampart token` run as a binary with HOME in a temp dir, checked against the library.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

use chrono::{Duration, Utc};
use rampart::credentials::{AdminToken, AuthError, TokenStore, admin_token_path, identify};
use serde_json::Value;

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run_env(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Out {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rampart"));
    cmd.arg("token")
        .args(args)
        .env("HOME", home)
        .env_remove("RAMPART_TOKEN")
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let o = cmd.output().unwrap();
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8(o.stdout).unwrap(),
        stderr: String::from_utf8(o.stderr).unwrap(),
    }
}

fn run(home: &Path, args: &[&str]) -> Out {
    run_env(home, args, &[])
}

fn ok(home: &Path, args: &[&str]) -> String {
    let o = run(home, args);
    assert_eq!(o.code, 0, "{args:?}: {}", o.stderr);
    o.stdout
}

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777
}

fn is_new_token(s: &str) -> bool {
    s.strip_prefix("rampart_")
        .is_some_and(|h| h.len() == 48 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}

#[test]
fn bare_token_prints_help() {
    let h = tempfile::tempdir().unwrap();
    let o = run(h.path(), &[]);
    assert_eq!(o.code, 0);
    assert!(o.stdout.contains("Usage: rampart token"), "{}", o.stdout);
    for sub in ["show", "rotate", "create", "list", "revoke", "info"] {
        assert!(o.stdout.contains(sub), "{sub}");
    }
    assert!(!h.path().join(".rampart").exists(), "help touches nothing");
}

#[test]
fn show_without_token_fails() {
    let h = tempfile::tempdir().unwrap();
    let o = run(h.path(), &["show"]);
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("no admin token"), "{}", o.stderr);
}

#[test]
fn rotate_needs_confirmation_or_force() {
    let h = tempfile::tempdir().unwrap();
    let o = run(h.path(), &["rotate"]);
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("not a terminal"), "{}", o.stderr);
    assert!(o.stderr.contains("--force"));
    assert!(!admin_token_path(h.path()).exists());
}

#[test]
fn rotate_writes_owner_only_file_and_show_prints_it() {
    let h = tempfile::tempdir().unwrap();
    let t1 = ok(h.path(), &["rotate", "--force"]);
    let t1 = t1.trim_end();
    assert!(is_new_token(t1), "{t1}");
    let p = admin_token_path(h.path());
    assert_eq!(
        std::fs::read_to_string(&p).unwrap(),
        t1,
        "no trailing newline"
    );
    assert_eq!(mode(&p), 0o600);
    assert_eq!(mode(&h.path().join(".rampart")), 0o700);
    assert_eq!(ok(h.path(), &["show"]), format!("{t1}\n"));
    let t2 = ok(h.path(), &["rotate", "--force"]);
    assert_ne!(t1, t2.trim_end());
    // Loose permissions are repaired when the file is read.
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
    ok(h.path(), &["show"]);
    assert_eq!(mode(&p), 0o600);
}

#[test]
fn rotate_warns_when_env_token_is_set() {
    let h = tempfile::tempdir().unwrap();
    let o = run_env(h.path(), &["rotate", "--force"], &[("RAMPART_TOKEN", "x")]);
    assert_eq!(o.code, 0);
    assert!(o.stderr.contains("RAMPART_TOKEN is set"), "{}", o.stderr);
}

#[test]
fn rotation_reaches_a_running_server_holder() {
    let h = tempfile::tempdir().unwrap();
    let (admin, old) = AdminToken::load_for_serve_with(h.path(), None).unwrap();
    let store = TokenStore::for_home(h.path());
    assert!(admin.matches(&old));
    let new = ok(h.path(), &["rotate", "--force"]);
    let new = new.trim_end();
    assert!(admin.matches(new));
    assert!(!admin.matches(&old));
    assert_eq!(
        identify(&admin, &store, &old, Utc::now()),
        Err(AuthError::Invalid)
    );
    assert!(identify(&admin, &store, new, Utc::now()).unwrap().admin);
}

#[test]
fn symlinked_token_file_is_refused() {
    let h = tempfile::tempdir().unwrap();
    let target = h.path().join("target");
    std::fs::write(&target, "planted-token").unwrap();
    std::fs::create_dir(h.path().join(".rampart")).unwrap();
    let p = admin_token_path(h.path());
    std::os::unix::fs::symlink(&target, &p).unwrap();
    let o = run(h.path(), &["show"]);
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("symbolic link"), "{}", o.stderr);
    assert!(!o.stdout.contains("planted-token"));
    // Rotation replaces the link itself and never writes through it.
    let t = ok(h.path(), &["rotate", "--force"]);
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "planted-token");
    assert!(std::fs::symlink_metadata(&p).unwrap().is_file());
    assert_eq!(std::fs::read_to_string(&p).unwrap(), t.trim_end());
}

#[test]
fn create_list_revoke_round_trip() {
    let h = tempfile::tempdir().unwrap();
    let out = ok(
        h.path(),
        &[
            "create",
            "--agent",
            "codex",
            "--policy",
            "ci",
            "--note",
            "build box",
            "--scope",
            "eval",
            "--scope",
            "admin",
            "--expires",
            "7d",
            "--json",
        ],
    );
    let created: Value = serde_json::from_str(&out).unwrap();
    let token = created["token"].as_str().unwrap().to_string();
    assert!(is_new_token(&token));
    assert_eq!(created["agent"], "codex");
    assert_eq!(created["policy"], "ci");
    assert_eq!(created["note"], "build box");
    assert_eq!(created["scopes"], serde_json::json!(["eval", "admin"]));
    let exp =
        chrono::DateTime::parse_from_rfc3339(created["expires_at"].as_str().unwrap()).unwrap();
    let days = (exp.with_timezone(&Utc) - Utc::now()).num_hours();
    assert!((167..=168).contains(&days), "{days}");

    let text = ok(h.path(), &["create", "--agent", "other"]);
    assert!(text.starts_with("✓ Token created"), "{text}");
    assert!(text.contains("Policy:  (global)"));
    assert!(text.contains("Scopes:  eval\n"));
    assert!(text.contains("Expires: never"));

    let store_path = h.path().join(".rampart/tokens.json");
    assert_eq!(mode(&store_path), 0o600);
    assert_eq!(
        mode(&h.path().join(".rampart/tokens.json.rampart.lock")),
        0o600
    );
    let raw = std::fs::read_to_string(&store_path).unwrap();
    assert!(!raw.contains(&token[8..]), "plaintext never stored");

    let listed: Value = serde_json::from_str(&ok(h.path(), &["list", "--json"])).unwrap();
    let arr = listed.as_array().unwrap();
    assert_eq!(arr.len(), 2);
    let id = arr[0]["id"].as_str().unwrap().to_string();
    assert_eq!(id, &token[..16]);
    assert_eq!(arr[0]["status"], "active");
    assert!(arr[0].get("revoked").is_none());
    chrono::DateTime::parse_from_rfc3339(arr[0]["created_at"].as_str().unwrap()).unwrap();

    let table = ok(h.path(), &["list"]);
    let mut lines = table.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["TOKEN", "AGENT", "POLICY", "SCOPES", "STATUS"]);
    let row: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        row,
        [&format!("{id}..."), "codex", "ci", "eval,admin", "active"]
    );

    // The server-side store accepts the token, with its identity.
    let store = TokenStore::for_home(h.path());
    let who = store.identify(&token, Utc::now()).unwrap();
    assert_eq!(who.agent, "codex");
    assert_eq!(who.policy.as_deref(), Some("ci"));

    // Revoke by the id as `list` prints it.
    let o = ok(h.path(), &["revoke", &format!("{id}...")]);
    assert!(o.contains("Revoked") && o.contains("codex"), "{o}");
    let listed: Value = serde_json::from_str(&ok(h.path(), &["list", "--json"])).unwrap();
    assert_eq!(listed[0]["status"], "revoked");
    assert_eq!(listed[0]["revoked"], true);
    assert_eq!(listed[1]["status"], "active");
    assert_eq!(
        store.identify(&token, Utc::now()).unwrap_err().to_string(),
        "token has been revoked"
    );
    // A second revoke finds no active token.
    let o = run(h.path(), &["revoke", &id]);
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("no active token"), "{}", o.stderr);

    // info still shows the revoked token.
    let info = ok(h.path(), &["info", &id]);
    assert!(info.contains("Status:   revoked"), "{info}");
    assert!(info.contains("Agent:    codex"));
}

#[test]
fn expired_tokens_are_reported_and_rejected() {
    let h = tempfile::tempdir().unwrap();
    let created: Value = serde_json::from_str(&ok(
        h.path(),
        &[
            "create",
            "--agent",
            "night-job",
            "--expires",
            "24h",
            "--json",
        ],
    ))
    .unwrap();
    let token = created["token"].as_str().unwrap();
    let store = TokenStore::for_home(h.path());
    let later = Utc::now() + Duration::hours(25);
    assert_eq!(
        store.identify(token, later).unwrap_err().to_string(),
        "token expired — create a new one with: rampart token create --agent night-job"
    );
    // Move the expiry into the past on disk: list reports it, revoke no longer sees it.
    let p = h.path().join(".rampart/tokens.json");
    let mut v: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
    v["tokens"][0]["expires_at"] = "2020-01-01T00:00:00Z".into();
    std::fs::write(&p, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    let listed: Value = serde_json::from_str(&ok(h.path(), &["list", "--json"])).unwrap();
    assert_eq!(listed[0]["status"], "expired");
    assert!(ok(h.path(), &["list"]).contains("expired"));
    assert!(matches!(
        store.identify(token, Utc::now()),
        Err(AuthError::Expired { .. })
    ));
    assert_eq!(run(h.path(), &["revoke", token]).code, 1);
}

#[test]
fn corrupt_store_rejects_every_agent_token_and_cli_refuses_to_overwrite() {
    let h = tempfile::tempdir().unwrap();
    let a: Value =
        serde_json::from_str(&ok(h.path(), &["create", "--agent", "a", "--json"])).unwrap();
    let b: Value =
        serde_json::from_str(&ok(h.path(), &["create", "--agent", "b", "--json"])).unwrap();
    let store = TokenStore::for_home(h.path());
    let (admin, admin_tok) = AdminToken::load_for_serve_with(h.path(), None).unwrap();
    for t in [&a, &b] {
        assert!(identify(&admin, &store, t["token"].as_str().unwrap(), Utc::now()).is_ok());
    }
    let p = h.path().join(".rampart/tokens.json");
    std::fs::write(&p, "{ not json").unwrap();
    for t in [&a, &b] {
        assert_eq!(
            identify(&admin, &store, t["token"].as_str().unwrap(), Utc::now()),
            Err(AuthError::Invalid)
        );
    }
    // The bootstrap token is unaffected.
    assert!(
        identify(&admin, &store, &admin_tok, Utc::now())
            .unwrap()
            .admin
    );
    for args in [
        &["list"][..],
        &["create", "--agent", "c"],
        &["revoke", "abcd"],
    ] {
        let o = run(h.path(), args);
        assert_eq!(o.code, 1, "{args:?}");
        assert!(o.stderr.contains("corrupt"), "{}", o.stderr);
    }
    assert_eq!(std::fs::read_to_string(&p).unwrap(), "{ not json");
}

#[test]
fn bad_arguments_are_rejected() {
    let h = tempfile::tempdir().unwrap();
    let o = run(h.path(), &["create", "--agent", "no spaces"]);
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("invalid agent name"), "{}", o.stderr);
    assert_ne!(
        run(h.path(), &["create", "--agent", "a", "--scope", "root"]).code,
        0
    );
    assert_ne!(
        run(h.path(), &["create", "--agent", "a", "--expires", "soon"]).code,
        0
    );
    assert_ne!(run(h.path(), &["create"]).code, 0);
    ok(h.path(), &["create", "--agent", "a"]);
    ok(h.path(), &["create", "--agent", "b"]);
    let o = run(h.path(), &["revoke", "abc"]);
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("too short"), "{}", o.stderr);
    let o = run(h.path(), &["info", "ffffffffffffffff"]);
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("no token matches"), "{}", o.stderr);
    assert_eq!(
        ok(h.path(), &["list", "--json"])
            .parse::<Value>()
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn empty_list_outputs() {
    let h = tempfile::tempdir().unwrap();
    assert!(ok(h.path(), &["list"]).contains("No agent tokens"));
    let v: Value = serde_json::from_str(&ok(h.path(), &["list", "--json"])).unwrap();
    assert_eq!(v, serde_json::json!([]));
}
