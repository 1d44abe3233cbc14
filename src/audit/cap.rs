//! Record size cap with digest-bearing compaction (spec §7.6).

use super::error::AuditError;
use super::event::{AuditEvent, CompactedField};
use super::gojson::{write_map, write_str_list};
use super::hash::sha256_tagged;
use serde_json::{Map, Value};

/// Largest allowed record line, newline included.
pub const MAX_RECORD_BYTES: usize = super::verify::MAX_RECORD_BYTES;
/// A request larger than this is replaced first.
pub const MAX_REQUEST_BYTES: usize = 1024 * 1024;
/// Identifiers are cut to this many characters in the last resort.
pub const MAX_IDENT_CHARS: usize = 4096;
/// Suffix of a truncated message.
pub const TRUNCATED_SUFFIX: &str = "... [truncated]";

/// A hash of the final length, used to size the record before it is hashed.
const PLACEHOLDER_HASH: &str =
    "sha256:0000000000000000000000000000000000000000000000000000000000000000";

/// Serialised size of the stored line (newline included).
pub fn line_size(e: &AuditEvent) -> usize {
    e.to_json_with_hash(PLACEHOLDER_HASH).len() + 1
}

fn compacted(json: &str, disposition: &str) -> CompactedField {
    CompactedField {
        original_json_bytes: json.len() as i64,
        sha256: sha256_tagged(json.as_bytes()),
        disposition: disposition.to_string(),
    }
}

fn stub(json: &str) -> Map<String, Value> {
    let mut inner = Map::new();
    inner.insert("original_json_bytes".into(), Value::from(json.len() as u64));
    inner.insert(
        "sha256".into(),
        Value::String(sha256_tagged(json.as_bytes())),
    );
    let mut m = Map::new();
    m.insert("_rampart_compacted".into(), Value::Object(inner));
    m
}

fn replace_request(e: &mut AuditEvent) {
    if let Some(req) = e.request.take() {
        let mut json = String::new();
        write_map(&mut json, &req);
        e.request = Some(stub(&json));
        e.compacted_fields
            .insert("request".into(), compacted(&json, "replaced"));
    }
}

fn fits(e: &AuditEvent, limit: usize) -> bool {
    line_size(e) <= limit
}

/// Shrinks `e` until its line fits `limit` bytes, recording what was changed.
pub fn enforce_cap(e: &mut AuditEvent, limit: usize) -> Result<(), AuditError> {
    if fits(e, limit) {
        return Ok(());
    }
    // 1. An oversized request.
    if let Some(req) = &e.request {
        let mut json = String::new();
        write_map(&mut json, req);
        if json.len() > MAX_REQUEST_BYTES {
            replace_request(e);
            if fits(e, limit) {
                return Ok(());
            }
        }
    }
    // 2. Suggestions.
    if !e.decision.suggestions.is_empty() {
        let mut json = String::new();
        write_str_list(&mut json, &e.decision.suggestions);
        e.decision.suggestions.clear();
        e.compacted_fields
            .insert("decision.suggestions".into(), compacted(&json, "dropped"));
        if fits(e, limit) {
            return Ok(());
        }
    }
    // 3. Message, truncated by binary search on characters.
    if !e.decision.message.is_empty() {
        let original = std::mem::take(&mut e.decision.message);
        let mut json = String::new();
        super::gojson::write_str(&mut json, &original);
        e.compacted_fields
            .insert("decision.message".into(), compacted(&json, "truncated"));
        let bounds: Vec<usize> = original
            .char_indices()
            .map(|(i, _)| i)
            .chain(std::iter::once(original.len()))
            .collect();
        let (mut lo, mut hi) = (0usize, bounds.len() - 1);
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            e.decision.message = format!("{}{TRUNCATED_SUFFIX}", &original[..bounds[mid]]);
            if fits(e, limit) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        e.decision.message = format!("{}{TRUNCATED_SUFFIX}", &original[..bounds[lo]]);
        if fits(e, limit) {
            return Ok(());
        }
    }
    // 4. Approval owner.
    if let Some(owner) = e.approval_owner.take().filter(|m| !m.is_empty()) {
        let mut json = String::new();
        write_map(&mut json, &owner);
        e.approval_owner = Some(stub(&json));
        e.compacted_fields
            .insert("approval_owner".into(), compacted(&json, "replaced"));
        if fits(e, limit) {
            return Ok(());
        }
    }
    // 5. Response.
    if let Some(r) = e.response.take() {
        let json = format!("{{\"duration_ms\":{}}}", r.duration_ms);
        e.compacted_fields
            .insert("response".into(), compacted(&json, "dropped"));
        if fits(e, limit) {
            return Ok(());
        }
    }
    // 6. Matched policies.
    if !e.decision.matched_policies.is_empty() {
        let mut json = String::new();
        write_str_list(&mut json, &e.decision.matched_policies);
        e.decision.matched_policies.clear();
        e.compacted_fields.insert(
            "decision.matched_policies".into(),
            compacted(&json, "dropped"),
        );
        if fits(e, limit) {
            return Ok(());
        }
    }
    // 7. Request, if still present.
    if !e.compacted_fields.contains_key("request") && e.request.is_some() {
        replace_request(e);
        if fits(e, limit) {
            return Ok(());
        }
    }
    // 8. Identifiers.
    for (name, field) in [
        ("agent", &mut e.agent),
        ("session", &mut e.session),
        ("run_id", &mut e.run_id),
        ("tool_call_id", &mut e.tool_call_id),
        ("tool", &mut e.tool),
    ] {
        if field.chars().count() > MAX_IDENT_CHARS {
            let mut json = String::new();
            super::gojson::write_str(&mut json, field);
            let cut: String = field.chars().take(MAX_IDENT_CHARS).collect();
            *field = format!("{cut}{TRUNCATED_SUFFIX}");
            e.compacted_fields
                .insert(name.into(), compacted(&json, "truncated"));
        }
    }
    let size = line_size(e);
    if size <= limit {
        Ok(())
    } else {
        Err(AuditError::TooLarge { size, limit })
    }
}
