//! Asking a running `rampart serve` for a human decision when the host has no prompt of its own
//! (Codex, Gemini CLI, Cursor) or the rule says `headless_only`: create an approval, then
//! long-poll it until a person answers or the host's patience runs out.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::cli::api_client::{self, Client};
use crate::engine::ToolCall;

/// How long to wait for a human by default (hosts are installed with a 330 s timeout).
pub const DEFAULT_WAIT: Duration = Duration::from_secs(300);
/// How long `/healthz` may take before the service counts as absent.
const PROBE_TIMEOUT: Duration = Duration::from_millis(300);
/// Longest single long-poll request.
const POLL_SLICE: u64 = 25;

/// What the person (or the clock) decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Approved: the call may run.
    Approved,
    /// Denied, expired or timed out; the text says which.
    Refused(String),
    /// No approval service could be reached; the text says why.
    Unavailable(String),
}

/// How long to wait: `RAMPART_HOOK_APPROVAL_TIMEOUT` seconds, else [`DEFAULT_WAIT`].
pub fn wait_limit() -> Duration {
    std::env::var("RAMPART_HOOK_APPROVAL_TIMEOUT")
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| Duration::from_secs_f64(s.min(3600.0)))
        .unwrap_or(DEFAULT_WAIT)
}

/// Creates an approval for `call` and waits for its resolution.
pub fn request(call: &ToolCall, message: &str, home: Option<&Path>) -> Outcome {
    let found = api_client::discover_url(None, home);
    let token = match api_client::resolve_token(None, home) {
        Ok(t) => t,
        Err(e) => return Outcome::Unavailable(format!("no usable Rampart token: {e}")),
    };
    let Ok(probe) = Client::new(&found.url, token.clone(), PROBE_TIMEOUT) else {
        return Outcome::Unavailable(format!("invalid Rampart server URL {}", found.url));
    };
    match probe.health() {
        Ok(Some(_)) => {}
        _ => {
            return Outcome::Unavailable(
                "approval requires a running Rampart service (`rampart serve`)".into(),
            );
        }
    }
    let limit = wait_limit();
    let started = Instant::now();
    let Ok(client) = Client::new(&found.url, token, Duration::from_secs(POLL_SLICE + 10)) else {
        return Outcome::Unavailable(format!("invalid Rampart server URL {}", found.url));
    };
    let s = |k: &str| call.params.get(k).and_then(Value::as_str).unwrap_or("");
    let body = json!({
        "tool": call.tool,
        "command": s("command"),
        "path": if s("path").is_empty() { s("url") } else { s("path") },
        "agent": call.agent,
        "session": call.session,
        "message": message,
        "run_id": call.run_id.clone().unwrap_or_default(),
        "tool_call_id": call.tool_call_id.clone().unwrap_or_default(),
    });
    let created = match client.post_json("/v1/approvals", &body) {
        Ok(v) => v,
        Err(e) => {
            return Outcome::Unavailable(format!("Rampart approval service was unavailable: {e}"));
        }
    };
    let Some(id) = created
        .get("id")
        .and_then(Value::as_str)
        .map(str::to_string)
    else {
        return Outcome::Unavailable("Rampart approval service returned no approval id".into());
    };
    let mut status = created
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or("pending")
        .to_string();
    let mut failures = 0u32;
    while status == "pending" {
        let left = limit.saturating_sub(started.elapsed());
        if left.is_zero() {
            return Outcome::Refused(format!(
                "nobody answered approval {id} within {} s",
                limit.as_secs()
            ));
        }
        let wait = left.as_secs().clamp(1, POLL_SLICE);
        match client.get_json(&format!("/v1/approvals/{id}?wait={wait}")) {
            Ok(v) => {
                failures = 0;
                status = v
                    .get("status")
                    .and_then(Value::as_str)
                    .unwrap_or("pending")
                    .to_string();
            }
            Err(e) if matches!(e.status(), Some(404 | 410)) => {
                return Outcome::Refused(format!("approval {id} no longer exists"));
            }
            Err(e) => {
                failures += 1;
                if failures > 5 {
                    return Outcome::Unavailable(format!(
                        "Rampart approval service was unavailable: {e}"
                    ));
                }
                std::thread::sleep(Duration::from_millis(500).min(left));
            }
        }
    }
    match status.as_str() {
        "approved" => Outcome::Approved,
        other => Outcome::Refused(format!("approval {id} was {other}")),
    }
}
