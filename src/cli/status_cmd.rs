//! `rampart status`: is a server running at the discovered URL, and if so what it reports about
//! itself — mode, default action, policy counts and live pending approvals (spec/server.md §14,
//! fixing §18 item 19: nothing is inferred from policy files or audit events).

use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use clap::Args;
use serde::Serialize;
use serde_json::Value;

use super::api_client::{Client, ClientError, Health, printable, resolve_token};
use super::client_cmd::{ServerArgs, locate};
use crate::credentials::home_dir;

/// JSON schema identifier of `rampart status --json`.
pub const SCHEMA: &str = "rampart.status.v1";
/// Timeout of one `/healthz` probe.
pub const PROBE_TIMEOUT: Duration = Duration::from_millis(150);
/// Timeout of the detail requests once the server answered the probe.
pub const DETAIL_TIMEOUT: Duration = Duration::from_secs(2);

/// Flags of `rampart status`.
#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    /// Print JSON (schema rampart.status.v1).
    #[arg(long)]
    pub json: bool,
    /// Server and token.
    #[command(flatten)]
    pub server: ServerArgs,
}

/// The status snapshot, as printed by `--json`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Status {
    /// Always [`SCHEMA`].
    pub schema_version: &'static str,
    /// When this snapshot was taken, RFC 3339 UTC.
    pub generated_at: String,
    /// Version of this `rampart` binary.
    pub build_version: &'static str,
    /// Whether a healthy Rampart server answered at `url`.
    pub server_running: bool,
    /// The URL probed.
    pub url: String,
    /// Version the server reports.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_version: Option<String>,
    /// Gate mode the server reports.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// Policy default action.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_action: Option<String>,
    /// Number of loaded policies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_count: Option<u64>,
    /// Number of loaded rules.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule_count: Option<u64>,
    /// Where the policy came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_path: Option<String>,
    /// Approvals pending right now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending: Option<u64>,
    /// Why some details are missing although the server is running (e.g. no token).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

/// `rampart status`: always exit 0 once the flags are valid.
pub fn run(a: StatusArgs) -> anyhow::Result<i32> {
    let url = locate(&a.server)?;
    let (token, token_error) = match resolve_token(a.server.token.as_deref(), home_dir().as_deref())
    {
        Ok(t) => (t, None),
        Err(e) => (None, Some(format!("token: {e}"))),
    };
    let probe = Client::new(&url, None, PROBE_TIMEOUT)?;
    let details = Client::new(&url, token, DETAIL_TIMEOUT)?;
    let mut st = collect(&probe, &details);
    if let Some(e) = token_error {
        st.errors.insert(0, e);
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&st)?);
    } else {
        print!("{}", render(&st));
    }
    Ok(0)
}

/// Probes `probe`'s `/healthz` (retrying once on a timeout), then, when a server answered,
/// asks `details` for `/v1/status` and `/v1/approvals`.
pub fn collect(probe: &Client, details: &Client) -> Status {
    let mut st = Status {
        schema_version: SCHEMA,
        generated_at: Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
        build_version: crate::api::VERSION,
        server_running: false,
        url: probe.base().to_string(),
        server_version: None,
        mode: None,
        default_action: None,
        policy_count: None,
        rule_count: None,
        config_path: None,
        pending: None,
        errors: Vec::new(),
    };
    let health = match probe.health() {
        Err(ClientError::Timeout { .. }) => probe.health(),
        other => other,
    };
    let health: Health = match health {
        Ok(Some(h)) => h,
        Ok(None) => {
            st.errors
                .push("something answered that is not a healthy rampart server".into());
            return st;
        }
        Err(ClientError::Unreachable { .. }) => return st,
        Err(e) => {
            st.errors.push(e.to_string());
            return st;
        }
    };
    st.server_running = true;
    st.server_version = Some(health.version);
    st.mode = Some(health.mode);
    match details.get_json("/v1/status") {
        Ok(v) => {
            let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
            if let Some(m) = s("mode") {
                st.mode = Some(m);
            }
            st.default_action = s("default_action");
            st.config_path = s("config_path");
            st.policy_count = v.get("policy_count").and_then(Value::as_u64);
            st.rule_count = v.get("rule_count").and_then(Value::as_u64);
        }
        Err(e) => st.errors.push(format!("/v1/status: {e}")),
    }
    match details.get_json("/v1/approvals") {
        Ok(v) => match v.get("approvals").and_then(Value::as_array) {
            Some(list) => {
                let n = list
                    .iter()
                    .filter(|a| {
                        a.get("status")
                            .and_then(Value::as_str)
                            .is_none_or(|s| s == "pending")
                    })
                    .count();
                st.pending = Some(n as u64);
            }
            None => st
                .errors
                .push("/v1/approvals: response has no approvals list".into()),
        },
        Err(e) => st.errors.push(format!("/v1/approvals: {e}")),
    }
    st
}

/// The human box.
pub fn render(st: &Status) -> String {
    let mut lines = Vec::new();
    let row = |label: &str, value: String| format!("│ {label:<8} {value}");
    if st.server_running {
        let mut s = format!("● Running at {}", st.url);
        if let Some(v) = st
            .server_version
            .as_deref()
            .filter(|v| *v != st.build_version)
        {
            s.push_str(&format!(" (server v{})", printable(v)));
        }
        lines.push(row("Status", s));
        if let Some(mode) = &st.mode {
            let mut s = printable(mode);
            if let Some(d) = &st.default_action {
                s.push_str(&format!(" (default: {})", printable(d)));
            }
            lines.push(row("Mode", s));
        }
        if let Some(path) = &st.config_path {
            let n = |c: Option<u64>| c.map_or("?".to_string(), |c| c.to_string());
            lines.push(row(
                "Policy",
                format!(
                    "{} ({} {}, {} {})",
                    printable(path),
                    n(st.policy_count),
                    plural(st.policy_count, "policy", "policies"),
                    n(st.rule_count),
                    plural(st.rule_count, "rule", "rules"),
                ),
            ));
        }
        if let Some(p) = st.pending {
            lines.push(row(
                "Pending",
                format!("{p} {}", plural(Some(p), "approval", "approvals")),
            ));
        }
    } else {
        lines.push(row("Status", format!("○ Not running (probed {})", st.url)));
    }
    for e in &st.errors {
        lines.push(row("Note", printable(e)));
    }
    let mut out = format!("╭─ 🛡️  RAMPART v{}\n", st.build_version);
    for l in lines {
        out.push_str(&l);
        out.push('\n');
    }
    out.push_str("╰─\n");
    if !st.server_running {
        out.push_str("Start the server with 'rampart serve'.\n");
    }
    out
}

fn plural(n: Option<u64>, one: &'static str, many: &'static str) -> &'static str {
    if n == Some(1) { one } else { many }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Status {
        Status {
            schema_version: SCHEMA,
            generated_at: "2026-03-01T12:00:00Z".into(),
            build_version: "0.1.0",
            server_running: true,
            url: "http://localhost:9090".into(),
            server_version: Some("0.1.0".into()),
            mode: Some("enforce".into()),
            default_action: Some("deny".into()),
            policy_count: Some(3),
            rule_count: Some(1),
            config_path: Some("/etc/rampart.yaml".into()),
            pending: Some(2),
            errors: vec![],
        }
    }

    #[test]
    fn running_box() {
        let out = render(&base());
        assert!(out.starts_with("╭─ 🛡️  RAMPART v0.1.0\n"), "{out}");
        assert!(
            out.contains("│ Status   ● Running at http://localhost:9090\n"),
            "{out}"
        );
        assert!(
            out.contains("│ Mode     enforce (default: deny)\n"),
            "{out}"
        );
        assert!(
            out.contains("│ Policy   /etc/rampart.yaml (3 policies, 1 rule)\n"),
            "{out}"
        );
        assert!(out.contains("│ Pending  2 approvals\n"), "{out}");
    }

    #[test]
    fn not_running_box() {
        let st = Status {
            server_running: false,
            server_version: None,
            mode: None,
            default_action: None,
            policy_count: None,
            rule_count: None,
            config_path: None,
            pending: None,
            ..base()
        };
        let out = render(&st);
        assert!(out.contains("○ Not running"), "{out}");
        assert!(!out.contains("Mode") && !out.contains("Pending"), "{out}");
        let v: Value = serde_json::to_value(&st).unwrap();
        assert_eq!(v["server_running"], false);
        assert!(v.get("mode").is_none() && v.get("errors").is_none(), "{v}");
    }

    #[test]
    fn json_shape() {
        let v: Value = serde_json::to_value(base()).unwrap();
        assert_eq!(v["schema_version"], "rampart.status.v1");
        assert_eq!(v["pending"], 2);
        assert_eq!(v["default_action"], "deny");
        assert_eq!(v["policy_count"], 3);
    }
}
