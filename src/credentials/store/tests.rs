use super::*;
use crate::credentials::secret::{is_generated_shape, probe};
use chrono::Duration;
use std::os::unix::fs::PermissionsExt;

fn store() -> (tempfile::TempDir, TokenStore) {
    let h = tempfile::tempdir().unwrap();
    let s = TokenStore::for_home(h.path());
    (h, s)
}

fn now() -> DateTime<Utc> {
    Utc::now()
}

#[test]
fn create_stores_only_the_hash_in_the_shared_format() {
    let (_h, s) = store();
    let mut req = NewToken::for_agent("claude-code");
    req.policy = Some("strict_1".into());
    req.note = Some("laptop".into());
    req.scopes = vec![Scope::Admin, Scope::Eval, Scope::Admin];
    let c = s.create(req, now()).unwrap();
    assert!(is_generated_shape(&c.token));
    let text = std::fs::read_to_string(s.path()).unwrap();
    assert!(
        !text.contains(&c.token[8..]),
        "plaintext must not be stored"
    );
    assert!(text.ends_with("}\n"));
    assert!(
        text.starts_with("{\n  \"tokens\": [\n    {\n      \"hash\": "),
        "{text}"
    );
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let r = &v["tokens"][0];
    assert_eq!(r["hash"], sha256_hex(&c.token));
    assert_eq!(r["agent"], "claude-code");
    assert_eq!(r["policy"], "strict_1");
    assert_eq!(r["scopes"], serde_json::json!(["eval", "admin"]));
    assert_eq!(r["note"], "laptop");
    assert_eq!(r["masked_prefix"], &c.token[8..16]);
    assert!(r.get("revoked").is_none() && r.get("expires_at").is_none());
    DateTime::parse_from_rfc3339(r["created_at"].as_str().unwrap()).unwrap();
    // Field order as earlier releases write it.
    let pos: Vec<usize> = [
        "hash",
        "agent",
        "policy",
        "scopes",
        "created_at",
        "note",
        "masked_prefix",
    ]
    .iter()
    .map(|k| text.find(&format!("\"{k}\":")).unwrap())
    .collect();
    assert!(pos.windows(2).all(|w| w[0] < w[1]), "{text}");
    assert_eq!(
        std::fs::metadata(s.path()).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[test]
fn default_scope_is_eval_and_names_are_validated() {
    let (_h, s) = store();
    let c = s.create(NewToken::for_agent("a"), now()).unwrap();
    assert_eq!(c.record.scopes, ["eval"]);
    for bad in ["", "a b", "a/b", "ä", &"x".repeat(65), "a.b"] {
        assert!(
            matches!(
                s.create(NewToken::for_agent(bad), now()),
                Err(CredError::InvalidName { what: "agent", .. })
            ),
            "{bad:?}"
        );
    }
    s.create(NewToken::for_agent(&"x".repeat(64)), now())
        .unwrap();
    let mut req = NewToken::for_agent("a");
    req.policy = Some("no good".into());
    assert!(matches!(
        s.create(req, now()),
        Err(CredError::InvalidName { what: "policy", .. })
    ));
    let mut req = NewToken::for_agent("a");
    req.expires_at = Some(now() - Duration::seconds(1));
    assert!(s.create(req, now()).is_err());
    let mut req = NewToken::for_agent("a");
    req.note = Some("bad\x1b[31m".into());
    assert!(s.create(req, now()).is_err());
    assert_eq!(s.list().unwrap().len(), 2);
}

#[test]
fn identify_valid_revoked_expired_unknown() {
    let (_h, s) = store();
    let t0 = now();
    let mut req = NewToken::for_agent("codex");
    req.policy = Some("ci".into());
    req.expires_at = Some(t0 + Duration::hours(1));
    let c = s.create(req, t0).unwrap();
    let id = s.identify(&c.token, t0).unwrap();
    assert_eq!(id.agent, "codex");
    assert_eq!(id.policy.as_deref(), Some("ci"));
    assert_eq!(id.scopes, [Scope::Eval]);
    assert_eq!(id.token_hash, sha256_hex(&c.token));

    let later = t0 + Duration::hours(2);
    let e = s.identify(&c.token, later).unwrap_err();
    assert_eq!(
        e.to_string(),
        "token expired — create a new one with: rampart token create --agent codex"
    );
    assert_eq!(e.http_status(), 401);

    s.revoke(&c.record.masked_prefix, t0).unwrap();
    assert_eq!(
        s.identify(&c.token, t0).unwrap_err().to_string(),
        "token has been revoked"
    );
    assert_eq!(
        s.identify(&c.token, later).unwrap_err(),
        AuthError::Revoked,
        "revoked wins over expired"
    );
    assert_eq!(
        s.identify("rampart_nope", t0).unwrap_err().to_string(),
        "invalid authorization token"
    );
    assert_eq!(s.identify("", t0).unwrap_err(), AuthError::Missing);
}

#[test]
fn identify_compares_every_record_in_constant_time() {
    let (_h, s) = store();
    for a in ["a", "b", "c"] {
        s.create(NewToken::for_agent(a), now()).unwrap();
    }
    let before = probe::hits();
    assert_eq!(s.identify("wrong", now()), Err(AuthError::Invalid));
    assert_eq!(probe::hits() - before, 3);
}

#[test]
fn corrupt_or_deleted_file_rejects_all_agent_tokens() {
    let (_h, s) = store();
    let a = s.create(NewToken::for_agent("a"), now()).unwrap();
    let b = s.create(NewToken::for_agent("b"), now()).unwrap();
    assert!(s.identify(&a.token, now()).is_ok());
    let good = std::fs::read(s.path()).unwrap();

    std::fs::write(s.path(), b"{\"tokens\": [ oops").unwrap();
    assert_eq!(s.identify(&a.token, now()), Err(AuthError::Invalid));
    assert_eq!(s.identify(&b.token, now()), Err(AuthError::Invalid));
    assert!(s.refresh().is_err());
    // CLI operations refuse to build on a corrupt file rather than overwrite it.
    assert!(matches!(s.list(), Err(CredError::Corrupt { .. })));
    assert!(s.create(NewToken::for_agent("c"), now()).is_err());

    std::fs::write(s.path(), &good).unwrap();
    assert!(
        s.identify(&a.token, now()).is_ok(),
        "fixed file is picked up"
    );

    // A structurally valid file with a bad record is corrupt as a whole.
    let mut v: serde_json::Value = serde_json::from_slice(&good).unwrap();
    v["tokens"][1]["hash"] = "XYZ".into();
    std::fs::write(s.path(), serde_json::to_vec(&v).unwrap()).unwrap();
    assert_eq!(s.identify(&a.token, now()), Err(AuthError::Invalid));

    std::fs::remove_file(s.path()).unwrap();
    assert_eq!(s.identify(&a.token, now()), Err(AuthError::Invalid));
    assert!(s.list().unwrap().is_empty());
}

#[test]
fn symlinked_store_is_refused() {
    let (h, s) = store();
    let a = s.create(NewToken::for_agent("a"), now()).unwrap();
    let elsewhere = h.path().join("elsewhere.json");
    std::fs::rename(s.path(), &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, s.path()).unwrap();
    assert_eq!(s.identify(&a.token, now()), Err(AuthError::Invalid));
    assert!(matches!(s.list(), Err(CredError::Symlink(_))));
}

#[test]
fn changes_by_another_process_are_seen_by_a_running_store() {
    let (h, server) = store();
    let cli = TokenStore::for_home(h.path());
    assert_eq!(server.identify("x", now()), Err(AuthError::Invalid));
    let c = cli.create(NewToken::for_agent("late"), now()).unwrap();
    assert_eq!(server.identify(&c.token, now()).unwrap().agent, "late");
    cli.revoke(&c.token, now()).unwrap();
    assert_eq!(server.identify(&c.token, now()), Err(AuthError::Revoked));
}

#[test]
fn reads_files_written_by_earlier_releases_and_keeps_unknown_fields() {
    let (_h, s) = store();
    let token = "rampart_0123456789abcdef0123456789abcdef0123456789abcdef";
    let legacy = format!(
        r#"{{
  "tokens": [
    {{
      "hash": "{}",
      "agent": "old-agent",
      "created_at": "2026-08-17T10:11:12.123456789+02:00",
      "expires_at": "2999-01-01T00:00:00Z",
      "masked_prefix": "01234567",
      "future_field": {{"x": 1}}
    }}
  ],
  "version": 2
}}
"#,
        sha256_hex(token)
    );
    std::fs::create_dir_all(s.path().parent().unwrap()).unwrap();
    std::fs::write(s.path(), legacy).unwrap();
    let id = s.identify(token, now()).unwrap();
    assert_eq!(id.agent, "old-agent");
    assert_eq!(id.scopes, [Scope::Eval], "no scopes field means eval");
    assert_eq!(id.policy, None);
    // A rewrite keeps what it does not understand.
    s.create(NewToken::for_agent("new"), now()).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(s.path()).unwrap()).unwrap();
    assert_eq!(v["version"], 2);
    assert_eq!(v["tokens"][0]["future_field"]["x"], 1);
    assert_eq!(
        v["tokens"][0]["created_at"], "2026-08-17T10:11:12.123456789+02:00",
        "timestamp round-trips"
    );
    assert!(s.identify(token, now()).is_ok());
}

#[test]
fn null_tokens_and_blank_file_are_empty() {
    let (_h, s) = store();
    std::fs::create_dir_all(s.path().parent().unwrap()).unwrap();
    std::fs::write(s.path(), "{\"tokens\":null}").unwrap();
    assert!(s.list().unwrap().is_empty());
    std::fs::write(s.path(), "\n").unwrap();
    assert!(s.list().unwrap().is_empty());
    s.create(NewToken::for_agent("a"), now()).unwrap();
    assert_eq!(s.list().unwrap().len(), 1);
}

fn record(hash_start: &str, masked: &str) -> TokenRecord {
    TokenRecord {
        hash: format!("{hash_start:0<64}"),
        agent: "a".into(),
        policy: None,
        scopes: vec!["eval".into()],
        created_at: Utc::now().fixed_offset(),
        expires_at: None,
        note: None,
        revoked: false,
        masked_prefix: masked.into(),
        extra: serde_json::Map::new(),
    }
}

#[test]
fn find_token_matching_rules() {
    let t = now();
    let full = "rampart_99998888aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let mut by_token = record("", "99998888");
    by_token.hash = sha256_hex(full);
    let mut recs = vec![
        record("abcd1111", "11112222"),
        record("abce2222", "11113333"),
        by_token,
    ];
    // Masked id as listed, with the ellipsis.
    assert_eq!(
        find_token(&recs, "rampart_11112222...", Some(t)).unwrap(),
        0
    );
    assert_eq!(find_token(&recs, "rampart_11113333…", Some(t)).unwrap(), 1);
    // Masked prefix, case-insensitive.
    assert_eq!(find_token(&recs, "111122", Some(t)).unwrap(), 0);
    // Hash prefix.
    assert_eq!(find_token(&recs, "ABCE", Some(t)).unwrap(), 1);
    // Full token by hash.
    assert_eq!(find_token(&recs, full, Some(t)).unwrap(), 2);
    // Ambiguous, too short, none.
    assert!(matches!(
        find_token(&recs, "1111", Some(t)),
        Err(CredError::Ambiguous { count: 2, .. })
    ));
    assert!(matches!(
        find_token(&recs, "abc", Some(t)),
        Err(CredError::QueryTooShort(_))
    ));
    assert!(matches!(
        find_token(&recs, "rampart_", Some(t)),
        Err(CredError::QueryTooShort(_))
    ));
    assert!(matches!(
        find_token(&recs, "", Some(t)),
        Err(CredError::QueryTooShort(_))
    ));
    assert!(matches!(
        find_token(&recs, "ffff", Some(t)),
        Err(CredError::NoMatch { .. })
    ));
    // Only active tokens count for revoke: the revoked one no longer makes "1111" ambiguous.
    recs[1].revoked = true;
    assert_eq!(find_token(&recs, "1111", Some(t)).unwrap(), 0);
    assert!(matches!(
        find_token(&recs, "11113333", Some(t)),
        Err(CredError::NoMatch {
            which: "active ",
            ..
        })
    ));
    // ...but info sees every token.
    assert_eq!(find_token(&recs, "11113333", None).unwrap(), 1);
    recs[0].expires_at = Some((t - Duration::seconds(1)).fixed_offset());
    assert!(find_token(&recs, "1111", Some(t)).is_err());
}

#[test]
fn revoke_and_info_round_trip() {
    let (_h, s) = store();
    let a = s.create(NewToken::for_agent("a"), now()).unwrap();
    let b = s.create(NewToken::for_agent("b"), now()).unwrap();
    let r = s.revoke(&a.record.id(), now()).unwrap();
    assert_eq!(r.agent, "a");
    assert!(r.revoked);
    let list = s.list().unwrap();
    assert_eq!(list[0].status(now()), TokenStatus::Revoked);
    assert_eq!(list[1].status(now()), TokenStatus::Active);
    assert!(s.revoke(&a.record.id(), now()).is_err(), "already revoked");
    assert_eq!(s.info(&a.record.masked_prefix).unwrap().agent, "a");
    assert_eq!(s.info(&b.record.hash[..10]).unwrap().agent, "b");
    assert!(s.identify(&b.token, now()).is_ok());
}

#[test]
fn concurrent_creates_lose_nothing() {
    let (h, _s) = store();
    let home = h.path().to_path_buf();
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let home = home.clone();
            std::thread::spawn(move || {
                let s = TokenStore::for_home(&home);
                for j in 0..5 {
                    s.create(NewToken::for_agent(&format!("t{i}-{j}")), Utc::now())
                        .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(TokenStore::for_home(&home).list().unwrap().len(), 40);
}
