//! ArcSight CEF line formatting (spec §8.1), with the event id and chain hash added.

use super::event::AuditEvent;
use serde_json::Value;

/// CEF severity for a decision action (deny 8, ask 5, watch/log 3, allow 1, otherwise 3).
pub fn severity(action: &str) -> u8 {
    match action {
        "deny" | "denied" => 8,
        "ask" | "require_approval" => 5,
        "allow" | "approved" => 1,
        _ => 3,
    }
}

/// Escapes a CEF header field: `\` `|` and line breaks.
pub fn escape_header(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            '|' => o.push_str("\\|"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            _ => o.push(c),
        }
    }
    o
}

/// Escapes a CEF extension value: `\` `=` and line breaks.
pub fn escape_ext(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            '=' => o.push_str("\\="),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            _ => o.push(c),
        }
    }
    o
}

fn request_field(e: &AuditEvent, key: &str) -> String {
    match e.request.as_ref().and_then(|m| m.get(key)) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => super::event::go_json_value(other),
    }
}

/// Formats one event as a CEF line (no trailing newline).
pub fn cef_line(e: &AuditEvent, version: &str) -> String {
    let action = &e.decision.action;
    let name = if e.decision.message.is_empty() {
        format!("{action} {}", e.tool)
    } else {
        e.decision.message.clone()
    };
    format!(
        "CEF:0|Rampart|PolicyEngine|{}|{}|{}|{}|src={} cmd={} path={} policy={} externalId={} cs1Label=hash cs1={}",
        escape_header(version),
        escape_header(action),
        escape_header(&name),
        severity(action),
        escape_ext(&e.agent),
        escape_ext(&request_field(e, "command")),
        escape_ext(&request_field(e, "path")),
        escape_ext(&e.decision.matched_policies.join(",")),
        escape_ext(&e.id),
        escape_ext(&e.hash),
    )
}
