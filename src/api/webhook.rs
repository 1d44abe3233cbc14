//! Decision webhooks (`action: webhook` rules, spec/server.md §6.2): ask an external service
//! whether to allow a call; fail closed unless the rule says `fail_open`.

use std::io::Read;
use std::time::Duration;

use serde_json::{Value, json};

use crate::engine::{Action, ToolCall, WebhookConfig};

/// Largest webhook response read.
pub const MAX_RESPONSE: u64 = 64 * 1024;
/// Longest timeout a rule may set.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(30);

/// The webhook's verdict: action and message.
pub fn call(cfg: Option<&WebhookConfig>, call: &ToolCall, policy: &str) -> (Action, String) {
    let Some(cfg) = cfg.filter(|c| !c.url.trim().is_empty()) else {
        return (
            Action::Deny,
            "webhook action misconfigured; denying for safety".into(),
        );
    };
    let timeout = if cfg.timeout.is_zero() {
        Duration::from_secs(5)
    } else {
        cfg.timeout.min(MAX_TIMEOUT)
    };
    match ask(&cfg.url, timeout, call, policy) {
        Ok((true, _)) => (Action::Allow, "allowed by webhook".into()),
        Ok((false, reason)) => (
            Action::Deny,
            reason.unwrap_or_else(|| "denied by webhook".into()),
        ),
        Err(why) if cfg.fail_open => (
            Action::Allow,
            format!("webhook unavailable, failing open: {why}"),
        ),
        Err(why) => (
            Action::Deny,
            format!("webhook unavailable, failing closed: {why}"),
        ),
    }
}

fn ask(
    url: &str,
    timeout: Duration,
    call: &ToolCall,
    policy: &str,
) -> Result<(bool, Option<String>), String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .max_redirects(0)
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .build()
        .into();
    let body = json!({
        "tool": call.tool,
        "params": call.params,
        "agent": call.agent,
        "session": call.session,
        "policy": policy,
        "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    });
    let resp = agent
        .post(url)
        .header("Content-Type", "application/json")
        .send(body.to_string())
        .map_err(|e| format!("request failed: {e}"))?;
    let status = resp.status().as_u16();
    if !(200..300).contains(&status) {
        return Err(format!("status {status}"));
    }
    let mut buf = Vec::new();
    resp.into_body()
        .into_reader()
        .take(MAX_RESPONSE + 1)
        .read_to_end(&mut buf)
        .map_err(|e| format!("reading response: {e}"))?;
    if buf.len() as u64 > MAX_RESPONSE {
        return Err("response larger than 64 KiB".into());
    }
    let v: Value = serde_json::from_slice(&buf).map_err(|e| format!("invalid JSON: {e}"))?;
    let decision = v
        .get("decision")
        .and_then(Value::as_str)
        .map(str::to_ascii_lowercase);
    let reason = v
        .get("reason")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    match decision.as_deref() {
        Some("allow") => Ok((true, reason)),
        Some("deny") => Ok((false, reason)),
        other => Err(format!("unknown decision {other:?}")),
    }
}
