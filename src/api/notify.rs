//! Outbound notifications (`notify:` in policy, spec/server.md §6.1): decisions and approval
//! requests posted to Slack, Discord, Teams, OpenClaw or a generic webhook. Delivery is
//! asynchronous, at most 4 in flight (excess dropped with a warning), 5 s timeout, redirects
//! refused, the URL never logged. Approval messages carry signed approve/deny links and are
//! suppressed when no signer is configured. The block is re-read on every policy reload.

use std::sync::Arc;
use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use super::ApiState;
use crate::approval::Approval;
use crate::engine::model::Notify;
use crate::engine::{Decision, ToolCall};

/// Deliveries in flight at once.
pub const MAX_IN_FLIGHT: usize = 4;
/// Per-delivery timeout.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// Limits concurrent deliveries.
#[derive(Debug)]
pub struct Notifier {
    slots: Arc<Semaphore>,
}

impl Default for Notifier {
    fn default() -> Self {
        Notifier {
            slots: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
        }
    }
}

/// Target platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    /// Slack incoming webhook.
    Slack,
    /// Discord webhook.
    Discord,
    /// Microsoft Teams (MessageCard).
    Teams,
    /// OpenClaw.
    OpenClaw,
    /// Generic JSON.
    Generic,
}

/// The platform named in config, or detected from the URL for `auto`.
pub fn platform(configured: &str, url: &str) -> Platform {
    match configured.trim().to_ascii_lowercase().as_str() {
        "slack" => return Platform::Slack,
        "discord" => return Platform::Discord,
        "teams" => return Platform::Teams,
        "openclaw" => return Platform::OpenClaw,
        "webhook" | "generic" => return Platform::Generic,
        _ => {}
    }
    let u = url.to_ascii_lowercase();
    if u.contains("hooks.slack.com") {
        Platform::Slack
    } else if u.contains("discord.com/api/webhooks") {
        Platform::Discord
    } else if u.contains("webhook.office.com") || u.contains("outlook.office.com") {
        Platform::Teams
    } else if ["openclaw.dev", "openclaw.ai", "openclaw.io"]
        .iter()
        .any(|h| u.contains(h))
    {
        Platform::OpenClaw
    } else {
        Platform::Generic
    }
}

/// Actions that trigger notifications (default deny and ask).
fn wants(n: &Notify, action: &str) -> bool {
    let on: Vec<String> =
        n.on.as_ref()
            .map(|o| o.0.iter().map(|s| s.trim().to_ascii_lowercase()).collect())
            .unwrap_or_default();
    let canon = |s: &str| match s {
        "log" => "watch".to_string(),
        "require_approval" => "ask".to_string(),
        other => other.to_string(),
    };
    if on.is_empty() {
        return matches!(action, "deny" | "ask");
    }
    on.iter().any(|o| canon(o) == canon(action))
}

/// What a notification says.
#[derive(Debug, Clone, Default)]
pub struct Message {
    /// deny / watch / ask.
    pub action: String,
    /// Tool.
    pub tool: String,
    /// Command or path (credential-sanitised).
    pub command: String,
    /// First matched policy.
    pub policy: String,
    /// Decision message.
    pub message: String,
    /// Agent.
    pub agent: String,
    /// Approval id, for approvals.
    pub approval_id: Option<String>,
    /// Approval deadline (RFC 3339 UTC).
    pub expires_at: Option<String>,
    /// Signed link that opens the approve confirmation page.
    pub approve_url: Option<String>,
    /// Signed link that opens the deny confirmation page.
    pub deny_url: Option<String>,
}

fn title(action: &str) -> (&'static str, &'static str, u32) {
    match action {
        "deny" => ("Command Denied", "f85149", 0xf85149),
        "ask" => ("Approval Required", "d29922", 0xd29922),
        _ => ("Command Logged", "d29922", 0xd29922),
    }
}

/// The JSON body for `platform`.
pub fn payload(p: Platform, m: &Message) -> Value {
    let now = Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true);
    let (t, hex, color) = title(&m.action);
    let mut fields: Vec<(&str, String)> =
        vec![("Tool", m.tool.clone()), ("Command", m.command.clone())];
    if let Some(id) = &m.approval_id {
        fields.push(("Agent", m.agent.clone()));
        fields.push(("Approval ID", id.clone()));
        if let Some(e) = &m.expires_at {
            fields.push(("Expires", e.clone()));
        }
    } else {
        fields.push(("Policy", m.policy.clone()));
        fields.push(("Message", m.message.clone()));
    }
    match p {
        Platform::Generic => {
            let mut v = json!({
                "action": m.action, "tool": m.tool, "command": m.command,
                "policy": if m.policy.is_empty() { "unknown" } else { &m.policy },
                "message": m.message, "agent": m.agent, "timestamp": now,
            });
            if let Some(id) = &m.approval_id {
                v["approval_id"] = json!(id);
                v["expires_at"] = json!(m.expires_at);
                v["resolve_url"] = json!(m.approve_url);
                v["approve_url"] = json!(m.approve_url);
                v["deny_url"] = json!(m.deny_url);
            }
            v
        }
        Platform::Slack => {
            let mut text: Vec<Value> = fields
                .iter()
                .map(|(k, v)| json!({"type": "mrkdwn", "text": format!("*{k}:*\n{v}")}))
                .collect();
            if let (Some(a), Some(d)) = (&m.approve_url, &m.deny_url) {
                text.push(json!({"type": "mrkdwn", "text": format!("*Resolve:*\n<{a}|Approve> · <{d}|Deny>")}));
            }
            json!({"attachments": [{"color": format!("#{hex}"), "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": format!("*🛡️ Rampart: {t}*")}},
                {"type": "section", "fields": text},
                {"type": "context", "elements": [{"type": "mrkdwn", "text": format!("Agent: {} | {now}", m.agent)}]},
            ]}]})
        }
        Platform::Discord => {
            let mut f: Vec<Value> = fields
                .iter()
                .map(|(k, v)| json!({"name": k, "value": v, "inline": *k == "Tool" || *k == "Agent"}))
                .collect();
            if let (Some(a), Some(d)) = (&m.approve_url, &m.deny_url) {
                f.push(json!({"name": "Resolve", "value": format!("[Approve]({a}) · [Deny]({d})"), "inline": false}));
            }
            json!({"embeds": [{"title": format!("Rampart: {t}"), "color": color, "fields": f, "timestamp": now}]})
        }
        Platform::Teams => {
            let mut facts: Vec<Value> = fields
                .iter()
                .map(|(k, v)| json!({"name": k, "value": v}))
                .collect();
            if let (Some(a), Some(d)) = (&m.approve_url, &m.deny_url) {
                facts.push(json!({"name": "Approve", "value": a}));
                facts.push(json!({"name": "Deny", "value": d}));
            }
            json!({"@type": "MessageCard", "@context": "https://schema.org/extensions",
                "summary": format!("Rampart: {t}"), "title": format!("🛡️ Rampart: {t}"),
                "themeColor": hex, "sections": [{"facts": facts}]})
        }
        Platform::OpenClaw => json!({
            "text": format!("🛡️ Rampart: {t} for `{}` (agent: {}). Approve: {} Deny: {}",
                m.command, m.agent,
                m.approve_url.clone().unwrap_or_default(), m.deny_url.clone().unwrap_or_default()),
            "approval_id": m.approval_id, "resolve_url": m.approve_url, "expires_at": m.expires_at,
        }),
    }
}

fn send(url: &str, body: &Value) -> Result<(), String> {
    send_within(url, body, TIMEOUT)
}

fn send_within(url: &str, body: &Value, timeout: Duration) -> Result<(), String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .max_redirects(0)
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .build()
        .into();
    let r = agent
        .post(url)
        .header("Content-Type", "application/json")
        .send(body.to_string())
        .map_err(|e| e.to_string().replace(url, "<notify url>"))?;
    let s = r.status().as_u16();
    if (200..300).contains(&s) {
        Ok(())
    } else {
        Err(format!("status {s}"))
    }
}

fn deliver(st: &ApiState, n: &Notify, m: Message) {
    let Some(url) = n
        .url
        .as_ref()
        .map(|u| u.0.trim().to_string())
        .filter(|u| !u.is_empty())
    else {
        return;
    };
    let Ok(permit) = st.notifier.slots.clone().try_acquire_owned() else {
        eprintln!("rampart: notification dropped: {MAX_IN_FLIGHT} already in flight");
        return;
    };
    let p = platform(n.platform.as_ref().map_or("auto", |p| p.0.as_str()), &url);
    let body = payload(p, &m);
    tokio::task::spawn_blocking(move || {
        if let Err(e) = send(&url, &body) {
            eprintln!("rampart: notification failed: {e}");
        }
        drop(permit);
    });
}

fn command_of(call: &ToolCall) -> String {
    let v = call
        .params
        .get("command")
        .or_else(|| call.params.get("path"))
        .or_else(|| call.params.get("url"))
        .and_then(Value::as_str)
        .unwrap_or("");
    crate::audit::sanitize(v).into_owned()
}

/// The destination and body for a decision notification, when `n` wants one (`ask` is
/// notified when its approval exists, not here).
pub fn decision_payload(n: &Notify, call: &ToolCall, d: &Decision) -> Option<(String, Value)> {
    let action = d.action.as_str();
    if action == "ask" || !wants(n, action) {
        return None;
    }
    let url = n
        .url
        .as_ref()
        .map(|u| u.0.trim().to_string())
        .filter(|u| !u.is_empty())?;
    let p = platform(n.platform.as_ref().map_or("auto", |p| p.0.as_str()), &url);
    let body = payload(
        p,
        &Message {
            action: action.into(),
            tool: call.tool.clone(),
            command: command_of(call),
            policy: d.policy().unwrap_or("").to_string(),
            message: crate::audit::sanitize(&d.message).into_owned(),
            agent: call.agent.clone(),
            ..Message::default()
        },
    );
    Some((url, body))
}

/// Notifies about a decision from a one-shot process (the hook): synchronous, bounded by
/// `timeout`; the error never contains the URL.
pub fn decision_blocking(
    n: &Notify,
    call: &ToolCall,
    d: &Decision,
    timeout: Duration,
) -> Result<(), String> {
    match decision_payload(n, call, d) {
        Some((url, body)) => send_within(&url, &body, timeout),
        None => Ok(()),
    }
}

/// Notifies about a decision (not `ask`: those are notified when the approval exists).
pub fn decision(st: &ApiState, call: &ToolCall, d: &Decision) {
    let snap = st.gate.policy.current();
    let Some(n) = snap.notify.as_ref() else {
        return;
    };
    let Some((url, body)) = decision_payload(n, call, d) else {
        return;
    };
    let Ok(permit) = st.notifier.slots.clone().try_acquire_owned() else {
        eprintln!("rampart: notification dropped: {MAX_IN_FLIGHT} already in flight");
        return;
    };
    tokio::task::spawn_blocking(move || {
        if let Err(e) = send(&url, &body) {
            eprintln!("rampart: notification failed: {e}");
        }
        drop(permit);
    });
}

/// Notifies that an approval is waiting, with signed links; suppressed without a signer.
pub fn approval(st: &ApiState, a: &Approval) {
    let snap = st.gate.policy.current();
    let Some(n) = snap.notify.as_ref() else {
        return;
    };
    if !wants(n, "ask") {
        return;
    }
    let Some((approve, deny)) = super::approvals::signed_links(st, a) else {
        eprintln!("rampart: approval notification suppressed: no signing key for resolve links");
        return;
    };
    deliver(
        st,
        n,
        Message {
            action: "ask".into(),
            tool: a.call.tool.clone(),
            command: crate::audit::sanitize(&a.command()).into_owned(),
            policy: a.matched_policies.first().cloned().unwrap_or_default(),
            message: crate::audit::sanitize(&a.message).into_owned(),
            agent: a.call.agent.clone(),
            approval_id: Some(a.id.clone()),
            expires_at: Some(a.expires_at.to_rfc3339_opts(SecondsFormat::Secs, true)),
            approve_url: Some(approve),
            deny_url: Some(deny),
        },
    );
}
