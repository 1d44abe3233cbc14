//! Validation of a decoded policy file with the reference's error texts (rule indices 0-based).
//!
//! Pure and self-contained (the model, actions, durations and glob limits; `regex-syntax` for
//! response regexes) so that `build.rs` validates the embedded profiles with this same code and
//! the engine need not validate them again at run time.

use super::decision::Action;
use super::duration::{format_go_duration, parse_go_duration, parse_rfc3339};
use super::limits::check_limits;
use super::model::{OneOrMany, Policy, PolicyFile, Rule, When};

/// Longest response regex accepted.
pub const MAX_RESPONSE_REGEX: usize = 500;

/// Parses the `default_action` value: blank → `None`; `require_approval` → ask.
pub fn parse_default_action(s: &str) -> Result<Option<Action>, String> {
    let t = s.trim().to_ascii_lowercase();
    match t.as_str() {
        "" => Ok(None),
        "allow" => Ok(Some(Action::Allow)),
        "deny" => Ok(Some(Action::Deny)),
        "ask" => Ok(Some(Action::Ask)),
        "watch" | "log" => Ok(Some(Action::Watch)),
        _ => Err(format!("engine: invalid default_action {s:?}")),
    }
}

/// Parses a rule action (case-insensitive, not trimmed).
pub fn parse_rule_action(s: &str) -> Result<Action, String> {
    match s.to_ascii_lowercase().as_str() {
        "allow" => Ok(Action::Allow),
        "deny" => Ok(Action::Deny),
        "ask" => Ok(Action::Ask),
        "watch" | "log" => Ok(Action::Watch),
        "webhook" => Ok(Action::Webhook),
        "require_approval" => Err(
            "action \"require_approval\" was removed in v0.9.9; use \"ask\" instead (see migration guide)"
                .to_string(),
        ),
        _ => Err(format!("engine: unknown action {s:?}")),
    }
}

/// Validates a decoded file with the reference's error texts (rule indices 0-based).
pub fn validate(file: &PolicyFile) -> Result<(), String> {
    if let Some(v) = &file.version {
        let v = v.0.trim();
        if !v.is_empty() && v != "1" {
            return Err(format!("engine: unsupported policy version {v:?}"));
        }
    }
    if let Some(d) = &file.default_action {
        parse_default_action(&d.0)?;
    }
    let mut names = std::collections::HashSet::new();
    for (i, p) in file.policies.iter().flatten().enumerate() {
        let name = p.name.as_ref().map(|n| n.0.trim()).unwrap_or_default();
        if name.is_empty() {
            return Err(format!("engine: policy at index {i} has no name"));
        }
        if !names.insert(name.to_string()) {
            return Err(format!("engine: duplicate policy name {name:?}"));
        }
        validate_policy(name, p)?;
    }
    Ok(())
}

fn glob_field(name: &str, field: &str, patterns: &[String]) -> Result<(), String> {
    for p in patterns {
        if let Err(e) = check_limits(p) {
            return Err(format!("engine: policy {name:?}: {field} {e}"));
        }
    }
    Ok(())
}

fn validate_policy(name: &str, p: &Policy) -> Result<(), String> {
    if let Some(scope) = &p.scope {
        if let Some(t) = &scope.tool {
            glob_field(name, "match.tool", &t.0)?;
        }
        if let Some(a) = &scope.agent {
            glob_field(name, "match.agent", std::slice::from_ref(&a.0))?;
        }
        if let Some(s) = &scope.session {
            glob_field(name, "match.session", std::slice::from_ref(&s.0))?;
        }
    }
    for (i, r) in p.rules.iter().flatten().enumerate() {
        validate_rule(r, i).map_err(|e| format!("engine: policy {name:?}: rule {i}: {e}"))?;
    }
    Ok(())
}

fn validate_rule(r: &Rule, i: usize) -> Result<(), String> {
    let action = parse_rule_action(r.action.as_ref().map(|a| a.0.as_str()).unwrap_or(""))?;
    if action == Action::Webhook {
        let url = r
            .webhook
            .as_ref()
            .and_then(|w| w.url.as_ref())
            .map(|u| u.0.trim())
            .unwrap_or_default();
        if url.is_empty() {
            return Err("webhook action requires webhook.url".to_string());
        }
        if let Some(t) = r.webhook.as_ref().and_then(|w| w.timeout.as_ref())
            && !t.0.trim().is_empty()
            && parse_go_duration(&t.0).is_none()
        {
            return Err(format!("invalid webhook.timeout {:?}", t.0));
        }
    }
    if let Some(e) = &r.expires_at
        && parse_rfc3339(&e.0).is_none()
    {
        return Err(format!(
            "invalid expires_at {:?} (want RFC 3339, e.g. 2026-09-01T00:00:00Z)",
            e.0
        ));
    }
    if let Some(w) = &r.when {
        validate_when(w, i)?;
    }
    Ok(())
}

fn validate_when(w: &When, i: usize) -> Result<(), String> {
    let fields: [(&str, &Option<OneOrMany>); 9] = [
        ("command_matches", &w.command_matches),
        ("command_not_matches", &w.command_not_matches),
        ("command_env_assignments", &w.command_env_assignments),
        ("path_matches", &w.path_matches),
        ("path_not_matches", &w.path_not_matches),
        ("url_matches", &w.url_matches),
        ("domain_matches", &w.domain_matches),
        ("session_matches", &w.session_matches),
        ("session_not_matches", &w.session_not_matches),
    ];
    for (field, v) in fields {
        for p in v.iter().flat_map(|v| v.0.iter()) {
            if let Err(e) = check_limits(p) {
                return Err(format!("rule {i} {field} {e}"));
            }
        }
    }
    for (param, g) in w.tool_param_matches.iter().flatten() {
        if let Err(e) = check_limits(&g.0) {
            return Err(format!("rule {i} tool_param_matches[{param}] {e}"));
        }
    }
    for (n, c) in w
        .command_contains
        .iter()
        .flat_map(|v| v.0.iter())
        .enumerate()
    {
        if c.trim().is_empty() {
            return Err(format!(
                "command_contains pattern {n} must not be empty or whitespace-only"
            ));
        }
    }
    for re in w
        .response_matches
        .iter()
        .chain(w.response_not_matches.iter())
        .flat_map(|v| v.0.iter())
    {
        validate_regex(re)?;
    }
    if let Some(cc) = &w.call_count {
        let gte = cc.gte.unwrap_or(0);
        if gte < 0 {
            return Err("call_count.gte must be >= 0".to_string());
        }
        if gte > 1000 {
            return Err("call_count.gte must be <= 1000".to_string());
        }
        let window = cc.window.as_ref().map(|w| w.0.trim()).unwrap_or_default();
        if window.is_empty() {
            return Err("call_count.window is required".to_string());
        }
        let secs = parse_go_duration(window)
            .ok_or_else(|| format!("invalid call_count.window {window:?}: invalid duration"))?;
        if secs <= 0.0 {
            return Err("call_count.window must be > 0".to_string());
        }
        if secs > 720.0 * 3600.0 {
            return Err(format!(
                "call_count.window must be <= {}",
                format_go_duration(720 * 3600)
            ));
        }
    }
    Ok(())
}

/// Rejects over-long regexes, nested quantifiers like `(a+)+`, and regexes that do not compile.
pub fn validate_regex(re: &str) -> Result<(), String> {
    if re.chars().count() > MAX_RESPONSE_REGEX {
        return Err(format!(
            "invalid response regex {re:?}: pattern too long ({} > {MAX_RESPONSE_REGEX} characters)",
            re.chars().count()
        ));
    }
    if has_nested_quantifier(re) {
        return Err(format!(
            "invalid response regex {re:?}: nested quantifiers are not allowed"
        ));
    }
    // Parse only; the engine compiles response regexes on first use.
    regex_syntax::Parser::new()
        .parse(re)
        .map_err(|e| format!("invalid response regex {re:?}: {e}"))?;
    Ok(())
}

/// A quantified group that directly contains a quantifier: `(a+)+`, `(a*)*`, `(a{2})+`.
fn has_nested_quantifier(re: &str) -> bool {
    let b = re.as_bytes();
    let mut stack: Vec<bool> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            b'[' => {
                while i < b.len() && b[i] != b']' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'(' => stack.push(false),
            b')' => {
                let inner = stack.pop().unwrap_or(false);
                let quantified = matches!(b.get(i + 1), Some(b'*' | b'+' | b'?' | b'{'));
                if inner && quantified {
                    return true;
                }
                if let Some(top) = stack.last_mut() {
                    *top |= inner || quantified;
                }
            }
            b'*' | b'+' | b'{' => {
                if let Some(top) = stack.last_mut() {
                    *top = true;
                }
            }
            b'?' => {
                let after_paren = i > 0 && b[i - 1] == b'(';
                if !after_paren && let Some(top) = stack.last_mut() {
                    *top = true;
                }
            }
            _ => {}
        }
        i += 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_quantifiers() {
        assert!(has_nested_quantifier("(a+)+"));
        assert!(has_nested_quantifier("(a*)*"));
        assert!(has_nested_quantifier("((ab)+)*"));
        assert!(!has_nested_quantifier("(ab)+"));
        assert!(!has_nested_quantifier("(?i)ignore (all|your) instructions"));
        assert!(!has_nested_quantifier("[a+]+"));
    }
}
