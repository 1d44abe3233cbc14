//! The shim's question to the server: `POST /v1/tool/exec` with agent `wrapped`, the run's
//! session and the command, holding the request open while a person decides an `ask`.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::cli::api_client::printable;

/// The agent name every shim decision carries.
pub const AGENT: &str = "wrapped";
/// Environment variable naming the session (default [`DEFAULT_SESSION`]).
pub const SESSION_ENV: &str = "RAMPART_SESSION";
/// Session used when none is set.
pub const DEFAULT_SESSION: &str = "wrap";
/// Environment variable naming the run id.
pub const RUN_ENV: &str = "RAMPART_RUN";
/// Environment variable: seconds a decision may wait for a person.
pub const APPROVAL_WAIT_ENV: &str = "RAMPART_APPROVAL_WAIT";
/// Environment variable: `1` makes an unreachable server block commands.
pub const FAIL_CLOSED_ENV: &str = "RAMPART_FAIL_CLOSED";
/// How long connecting to the server may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Shortest spacing between two requests for the same pending approval.
const REPOLL_FLOOR: Duration = Duration::from_millis(250);
/// Extra time on top of the approval wait before a request is abandoned.
const SLACK: Duration = Duration::from_secs(5);

/// Where and how to ask, read from the environment `wrap` sets.
#[derive(Debug, Clone)]
pub struct AskConfig {
    /// Server URL (`RAMPART_URL`).
    pub url: Option<String>,
    /// Run token (`RAMPART_TOKEN`).
    pub token: Option<String>,
    /// Session of the run.
    pub session: String,
    /// Run id.
    pub run_id: String,
    /// How long a decision may wait for a person.
    pub approval_wait: Duration,
    /// An unreachable server blocks instead of letting the command run.
    pub fail_closed: bool,
}

impl AskConfig {
    /// Reads the configuration from the environment.
    pub fn from_env() -> AskConfig {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        AskConfig {
            url: var(crate::embedded::server::URL_ENV),
            token: var(crate::embedded::server::TOKEN_ENV),
            session: var(SESSION_ENV).unwrap_or_else(|| DEFAULT_SESSION.into()),
            run_id: var(RUN_ENV).unwrap_or_default(),
            approval_wait: var(APPROVAL_WAIT_ENV)
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|s| s.is_finite() && *s >= 0.0)
                .map(|s| Duration::from_secs_f64(s.min(86_400.0)))
                .unwrap_or(crate::embedded::server::DEFAULT_APPROVAL_TIMEOUT),
            fail_closed: var(FAIL_CLOSED_ENV).is_some_and(|v| truthy(&v)),
        }
    }
}

fn truthy(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "1" | "true" | "yes" | "on"
    )
}

/// The server's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Run it.
    Allowed,
    /// Do not run it; the text says why.
    Denied(String),
    /// No answer could be had (connection, timeout, no server configured); the text says why.
    Unreachable(String),
}

/// Asks whether `command` may run in `workdir`.
pub fn ask(cfg: &AskConfig, command: &str, workdir: Option<&str>) -> Answer {
    let (Some(url), Some(token)) = (&cfg.url, &cfg.token) else {
        return Answer::Unreachable("RAMPART_URL or RAMPART_TOKEN is not set".into());
    };
    let addr = match super::http::loopback_addr(url) {
        Ok(a) => a,
        Err(e) => return Answer::Unreachable(e.to_string()),
    };
    let wait = cfg.approval_wait.min(crate::api::approvals::MAX_WAIT);
    let mut body = json!({
        "agent": AGENT,
        "session": cfg.session,
        "params": {"command": command},
        "wait_seconds": wait.as_secs_f64(),
    });
    if !cfg.run_id.is_empty() {
        body["run_id"] = json!(cfg.run_id);
    }
    if let Some(w) = workdir {
        body["workdir"] = json!(w);
    }
    let payload = body.to_string();
    let deadline = Instant::now() + cfg.approval_wait;
    loop {
        let sent = Instant::now();
        let (code, v) = match super::http::post_json(
            addr,
            "/v1/tool/exec",
            token,
            &payload,
            CONNECT_TIMEOUT,
            wait + SLACK,
        ) {
            Ok((code, bytes)) => (code, serde_json::from_slice(&bytes).unwrap_or(Value::Null)),
            Err(e) => return Answer::Unreachable(format!("{url}: {e}")),
        };
        match code {
            200 if v.get("allowed").and_then(Value::as_bool) == Some(true) => {
                return Answer::Allowed;
            }
            // Still pending after the longest wait the server holds: ask again (the server
            // joins the same pending approval) until this run's approval time is up.
            202 if Instant::now() < deadline => {
                // A server that stops holding requests (shutting down) must not be hammered.
                if sent.elapsed() < REPOLL_FLOOR {
                    std::thread::sleep(REPOLL_FLOOR);
                }
            }
            202 => return Answer::Denied("nobody answered the approval in time".into()),
            _ => return Answer::Denied(reason(code, &v)),
        }
    }
}

fn reason(code: u16, v: &Value) -> String {
    let text = ["message", "error"]
        .iter()
        .find_map(|k| v.get(k).and_then(Value::as_str).filter(|s| !s.is_empty()));
    match (code, text) {
        (200 | 403, Some(t)) => printable(t),
        (200 | 403, None) => "policy denied".into(),
        (c, Some(t)) => format!("policy server refused the check ({c}): {}", printable(t)),
        (c, None) => format!("policy server refused the check ({c})"),
    }
}
