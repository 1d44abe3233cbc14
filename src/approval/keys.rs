//! Digests that bind approvals to a credential and a call: owner scope, fingerprint, dedup key.

use super::model::CallSnapshot;
use crate::audit::gojson;
use sha2::{Digest, Sha256};

/// Prefix of owner-bound dedup keys.
pub const OWNER_BOUND_PREFIX: &str = "v2-";

/// Owner scope digest of a token hash: hex SHA-256 of `"approval-owner-v1\0" + hash`; "" for "".
pub fn owner_scope(owner_token_hash: &str) -> String {
    if owner_token_hash.is_empty() {
        return String::new();
    }
    let mut h = Sha256::new();
    h.update(b"approval-owner-v1\0");
    h.update(owner_token_hash.as_bytes());
    hex::encode(h.finalize())
}

/// Hex SHA-256 of the call's canonical JSON (sorted map keys, fixed field order).
pub fn fingerprint(call: &CallSnapshot) -> String {
    let mut s = String::with_capacity(256);
    s.push_str("{\"agent\":");
    gojson::write_str(&mut s, &call.agent);
    s.push_str(",\"agent_depth\":");
    gojson::write_i64(&mut s, i64::from(call.agent_depth));
    s.push_str(",\"session\":");
    gojson::write_str(&mut s, &call.session);
    s.push_str(",\"run_id\":");
    gojson::write_str(&mut s, &call.run_id);
    s.push_str(",\"tool_call_id\":");
    gojson::write_str(&mut s, &call.tool_call_id);
    s.push_str(",\"tool\":");
    gojson::write_str(&mut s, &call.tool);
    s.push_str(",\"workdir\":");
    gojson::write_str(&mut s, &call.workdir);
    s.push_str(",\"params\":");
    gojson::write_map(&mut s, &call.params);
    s.push_str(",\"input\":");
    gojson::write_map(&mut s, &call.input);
    s.push('}');
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// The dedup/replay key: the fingerprint, re-derived under the owner digest when there is one.
pub fn bind_to_owner(fingerprint: &str, owner_scope: &str) -> String {
    if owner_scope.is_empty() {
        return fingerprint.to_string();
    }
    let mut h = Sha256::new();
    h.update(b"approval-replay-v2\0");
    h.update(fingerprint.as_bytes());
    h.update(b"\0");
    h.update(owner_scope.as_bytes());
    format!("{OWNER_BOUND_PREFIX}{}", hex::encode(h.finalize()))
}

/// The dedup key of a call for an owner, or `None` when the call has no tool call id.
pub fn dedup_key(call: &CallSnapshot, owner_scope: &str) -> Option<String> {
    if call.tool_call_id.is_empty() {
        return None;
    }
    Some(bind_to_owner(&fingerprint(call), owner_scope))
}

/// Whether `s` is 64 lowercase hex characters (a SHA-256 digest).
pub fn is_digest(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Whether `key` has the shape of a dedup key (safe to use as a file name).
pub fn is_key(key: &str) -> bool {
    is_digest(key.strip_prefix(OWNER_BOUND_PREFIX).unwrap_or(key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn call() -> CallSnapshot {
        CallSnapshot {
            tool: "exec".into(),
            agent: "claude-code".into(),
            session: "s".into(),
            run_id: "r".into(),
            tool_call_id: "t".into(),
            params: json!({"command": "ls", "b": 1, "a": [true]})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            ..Default::default()
        }
    }

    #[test]
    fn owner_scope_is_domain_separated_digest() {
        assert_eq!(owner_scope(""), "");
        let d = owner_scope("abc");
        assert!(is_digest(&d));
        assert_ne!(d, hex::encode(Sha256::digest(b"abc")));
    }

    #[test]
    fn dedup_key_binds_owner_and_every_field() {
        let c = call();
        let admin = dedup_key(&c, "").unwrap_or_default();
        assert!(is_digest(&admin));
        let o1 = dedup_key(&c, &owner_scope("h1")).unwrap_or_default();
        let o2 = dedup_key(&c, &owner_scope("h2")).unwrap_or_default();
        assert!(o1.starts_with("v2-") && is_key(&o1));
        assert_ne!(o1, o2);
        assert_ne!(o1, admin);

        let mut changed = c.clone();
        changed.agent_depth = 1;
        assert_ne!(dedup_key(&changed, "").unwrap_or_default(), admin);
        let mut changed = c.clone();
        changed.input.insert("x".into(), json!(1));
        assert_ne!(dedup_key(&changed, "").unwrap_or_default(), admin);

        let mut no_id = c;
        no_id.tool_call_id.clear();
        assert_eq!(dedup_key(&no_id, ""), None);
    }

    #[test]
    fn fingerprint_ignores_map_insertion_order() {
        let a = call();
        let mut b = a.clone();
        b.params = json!({"a": [true], "command": "ls", "b": 1})
            .as_object()
            .cloned()
            .unwrap_or_default();
        assert_eq!(fingerprint(&a), fingerprint(&b));
    }

    #[test]
    fn key_shape() {
        assert!(!is_key("../etc"));
        assert!(!is_key(&"A".repeat(64)));
        assert!(is_key(&format!("v2-{}", "0".repeat(64))));
    }
}
