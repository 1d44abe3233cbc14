//! Redaction of each secret shape (spec §7.7), applied before persistence.

use rampart::audit::redact::{is_secret_key, redact_value, sanitize};
use rampart::audit::{AuditEvent, AuditSink, SinkConfig};
use serde_json::json;

fn s(x: &str) -> String {
    sanitize(x).into_owned()
}

#[test]
fn secret_keys() {
    for k in [
        "Authorization",
        "proxy_authorization",
        "password",
        "PASSWD",
        "passphrase",
        "token",
        "access_token",
        "refresh-token",
        "id_token",
        "apiKey",
        "API_KEY",
        "secret",
        "client_secret",
        "Cookie",
        "set-cookie",
        "private_key",
        "credential",
        "command_b64",
        "db_password",
        "githubToken",
        "x-api-key",
        "aws_secret",
        "ssh_private_key",
    ] {
        assert!(is_secret_key(k), "{k}");
    }
    for k in [
        "command",
        "path",
        "url",
        "tokens_used",
        "secretary",
        "user",
        "description",
    ] {
        assert!(!is_secret_key(k), "{k}");
    }
}

#[test]
fn token_shapes() {
    let gh = format!("ghp_{}", "a1B2".repeat(10));
    assert_eq!(
        s(&format!("git clone https://{gh}@github.com/x")),
        "git clone https://[REDACTED]@github.com/x"
    );
    assert_eq!(s(&format!("export GH={gh}")), "export GH=[REDACTED]");
    assert_eq!(s(&format!("x gho_{} y", "z".repeat(36))), "x [REDACTED] y");
    assert_eq!(s(&format!("x ghs_{} y", "Q".repeat(36))), "x [REDACTED] y");
    assert_eq!(
        s("slack xoxb-1234567890-abcdefghij end"),
        "slack [REDACTED] end"
    );
    assert_eq!(
        s("slack xoxp-1234567890-abcdefghij end"),
        "slack [REDACTED] end"
    );
    assert_eq!(
        s("OPENAI sk-abcdefghijklmnopqrstuvwx12 ok"),
        "OPENAI [REDACTED] ok"
    );
    assert_eq!(s("aws AKIAIOSFODNN7EXAMPLE ok"), "aws [REDACTED] ok");
    assert_eq!(
        s("task-abcdefghijklmnopqrstuvwxyz"),
        "task-abcdefghijklmnopqrstuvwxyz"
    );
}

#[test]
fn authorization_headers() {
    assert_eq!(
        s("curl -H 'Authorization: Bearer abc.def' https://x"),
        "curl -H '[REDACTED]' https://x"
    );
    assert_eq!(
        s("curl -H \"Authorization: Basic dXNlcjpwYXNz\" https://x"),
        "curl -H \"[REDACTED]\" https://x"
    );
    assert_eq!(
        s("Authorization: Bearer abc.def.ghi"),
        "Authorization: Bearer [REDACTED]"
    );
}

#[test]
fn passwords_and_flags() {
    assert_eq!(
        s("mysql -u root -phunter2 db"),
        "mysql -u root [REDACTED] db"
    );
    assert_eq!(
        s("mysql -u root -p'hunter 2' db"),
        "mysql -u root [REDACTED] db"
    );
    assert_eq!(
        s("mkdir -p build && find . -print"),
        "mkdir -p build && find . -print"
    );
    assert_eq!(s("psql --password=hunter2"), "psql --password=[REDACTED]");
    assert_eq!(
        s("tool --password hunter2 x"),
        "tool --password [REDACTED] x"
    );
    assert_eq!(
        s("cli --api-key abc123 run"),
        "cli --api-key [REDACTED] run"
    );
    assert_eq!(
        s("cli --token=\"abc 123\" run"),
        "cli --token=[REDACTED] run"
    );
    assert_eq!(s("cli --secret 'x y' run"), "cli --secret [REDACTED] run");
    assert_eq!(
        s("curl 'https://x/?api_key=abc&b=2'"),
        "curl 'https://x/?api_key=[REDACTED]&b=2'"
    );
    assert_eq!(s("password: hunter2"), "password: [REDACTED]");
    let long = "A".repeat(48);
    assert_eq!(s(&format!("TOKEN={long}")), "TOKEN=[REDACTED]");
}

#[test]
fn private_keys_and_connection_strings() {
    let pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nabc\n-----END RSA PRIVATE KEY-----";
    assert_eq!(
        s(&format!("key: {pem} done")),
        "key: [REDACTED PRIVATE KEY] done"
    );
    assert_eq!(
        s("echo '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNz"),
        "echo '[REDACTED PRIVATE KEY]"
    );
    assert_eq!(
        s("psql postgres://admin:s3cr3t@db.internal:5432/app"),
        "psql postgres://admin:[REDACTED]@db.internal:5432/app"
    );
    assert_eq!(
        s("mongodb+srv://u:p%40ss@cluster0.example.net/db"),
        "mongodb+srv://u:[REDACTED]@cluster0.example.net/db"
    );
    assert_eq!(s("https://example.com/a:b"), "https://example.com/a:b");
}

#[test]
fn nested_values() {
    let mut v = json!({
        "command": "curl -H 'Authorization: Bearer zzz' x",
        "headers": [{"Authorization": "Bearer q"}, {"X-Api-Key": 12345}],
        "env": {"DB_PASSWORD": "p", "HOME": "/root"},
        "count": 3
    });
    redact_value(&mut v);
    assert_eq!(
        v,
        json!({
            "command": "curl -H '[REDACTED]' x",
            "headers": [{"Authorization": "[REDACTED]"}, {"X-Api-Key": "[REDACTED]"}],
            "env": {"DB_PASSWORD": "[REDACTED]", "HOME": "/root"},
            "count": 3
        })
    );
}

#[test]
fn clean_text_is_borrowed() {
    assert!(matches!(
        sanitize("ls -la /tmp"),
        std::borrow::Cow::Borrowed(_)
    ));
}

#[test]
fn nothing_secret_reaches_disk() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("a");
    let sink = AuditSink::open(SinkConfig::new(&d)).unwrap();
    let mut e = AuditEvent::new("a", "s", "exec", "deny");
    e.request = Some(
        json!({"command": "mysql -psupersecret1", "token": "tok-123"})
            .as_object()
            .unwrap()
            .clone(),
    );
    e.decision.message = "saw AKIAIOSFODNN7EXAMPLE".into();
    e.decision.suggestions = vec!["rampart allow --password=hunter2".into()];
    sink.append(e).unwrap();
    drop(sink);
    let all: String = std::fs::read_dir(&d)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap_or_default())
        .collect();
    for secret in ["supersecret1", "tok-123", "AKIAIOSFODNN7EXAMPLE", "hunter2"] {
        assert!(!all.contains(secret), "{secret} leaked");
    }
    assert!(rampart::audit::verify_dir(&d).unwrap().brk.is_none());
}
