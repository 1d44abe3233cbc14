//! `rampart pending`, `rampart approve` and `rampart deny`: list and resolve the approvals a
//! running `rampart serve` holds (spec/server.md §5.7, §14).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, anyhow};
use chrono::{DateTime, Utc};
use clap::Args;
use serde::Deserialize;
use serde_json::{Value, json};

use super::api_client::{
    Client, ClientError, REQUEST_TIMEOUT, UrlSource, discover_url, normalize_base, printable,
    resolve_token,
};
use crate::credentials::home_dir;

/// Widest command shown in the pending table, in characters.
pub const COMMAND_WIDTH: usize = 40;

/// Which server to talk to and which token to send (shared by the client commands).
#[derive(Debug, Clone, Default, Args)]
pub struct ServerArgs {
    /// Server URL [default: $RAMPART_URL, $RAMPART_SERVE_URL, ~/.rampart/serve.state,
    /// http://localhost:9090].
    #[arg(long = "api", visible_alias = "url", value_name = "URL")]
    pub api: Option<String>,
    /// Admin token [default: $RAMPART_TOKEN, then ~/.rampart/token]. Other local users can see
    /// command-line arguments; prefer RAMPART_TOKEN.
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,
}

/// Flags of `rampart pending`.
#[derive(Debug, Clone, Args)]
pub struct PendingArgs {
    /// Print the server's JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Server and token.
    #[command(flatten)]
    pub server: ServerArgs,
}

/// Flags of `rampart approve`.
#[derive(Debug, Clone, Args)]
pub struct ApproveArgs {
    /// Approval id (as shown by `rampart pending`).
    pub id: String,
    /// Also add an exact allow rule so the same call is allowed from now on.
    #[arg(long)]
    pub persist: bool,
    /// Server and token.
    #[command(flatten)]
    pub server: ServerArgs,
}

/// Flags of `rampart deny`.
#[derive(Debug, Clone, Args)]
pub struct DenyArgs {
    /// Approval id (as shown by `rampart pending`).
    pub id: String,
    /// Server and token.
    #[command(flatten)]
    pub server: ServerArgs,
}

/// One pending approval as listed by `GET /v1/approvals`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct PendingItem {
    /// Approval id.
    pub id: String,
    /// Tool name.
    pub tool: String,
    /// The command (or primary parameter).
    pub command: String,
    /// Requesting agent.
    pub agent: String,
    /// Policy message.
    pub message: String,
    /// Expiry, RFC 3339.
    pub expires_at: String,
}

#[derive(Debug, Deserialize)]
struct PendingList {
    #[serde(default)]
    approvals: Vec<PendingItem>,
}

/// Builds a client from the flags: URL discovery, token choice, `timeout`.
pub fn connect(server: &ServerArgs, timeout: Duration) -> anyhow::Result<Client> {
    let url = locate(server)?;
    let token = resolve_token(server.token.as_deref(), home_dir().as_deref())?;
    Ok(Client::new(&url, token, timeout)?)
}

/// The validated server URL from the flags, environment, `serve.state` or the default. Prints
/// a warning when `serve.state` exists but was unusable.
pub fn locate(server: &ServerArgs) -> anyhow::Result<String> {
    let home: Option<PathBuf> = home_dir();
    let found = discover_url(server.api.as_deref(), home.as_deref());
    if let Some(w) = &found.warning {
        eprintln!("rampart: warning: {w}");
    }
    normalize_base(&found.url).with_context(|| {
        if found.source == UrlSource::Flag {
            "bad --api/--url value".to_string()
        } else {
            format!("server URL from {}", source_name(found.source))
        }
    })
}

/// How a URL source is named in messages.
pub fn source_name(s: UrlSource) -> &'static str {
    match s {
        UrlSource::Flag => "--api/--url",
        UrlSource::UrlEnv => "RAMPART_URL",
        UrlSource::ServeUrlEnv => "RAMPART_SERVE_URL",
        UrlSource::ServeState => "~/.rampart/serve.state",
        UrlSource::Default => "the default",
    }
}

/// `rampart pending`.
pub fn pending(a: PendingArgs) -> anyhow::Result<i32> {
    let client = connect(&a.server, REQUEST_TIMEOUT)?;
    let v = client.get_json("/v1/approvals").map_err(auth_hint)?;
    let list: PendingList = serde_json::from_value(v.clone())
        .map_err(|e| anyhow!("unexpected response from {}: {e}", client.base()))?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        print!("{}", render_pending(&list.approvals, Utc::now()));
    }
    Ok(0)
}

/// `rampart approve`.
pub fn approve(a: ApproveArgs) -> anyhow::Result<i32> {
    resolve(&a.server, &a.id, true, a.persist)
}

/// `rampart deny`.
pub fn deny(a: DenyArgs) -> anyhow::Result<i32> {
    resolve(&a.server, &a.id, false, false)
}

fn resolve(server: &ServerArgs, id: &str, approved: bool, persist: bool) -> anyhow::Result<i32> {
    let id = check_id(id)?;
    let client = connect(server, REQUEST_TIMEOUT)?;
    let body = json!({"approved": approved, "resolved_by": "cli", "persist": persist});
    let v = client
        .post_json(&format!("/v1/approvals/{id}/resolve"), &body)
        .map_err(|e| match e.status() {
            Some(404) => anyhow!(
                "approval {id} not found (unknown id, or resolved more than 10 minutes ago): {e}"
            ),
            Some(410) => anyhow!(
                "approval {id} is no longer pending: it was already resolved or has expired ({e})"
            ),
            _ => auth_hint(e),
        })?;
    let verb = if approved { "approved" } else { "denied" };
    println!("✓ Approval {id} {verb}");
    if persist {
        if v.get("persisted").and_then(Value::as_bool) == Some(true) {
            println!("  An exact allow rule was saved; the same call is allowed from now on.");
        } else {
            eprintln!("rampart: warning: the server did not save an allow rule for {id}");
        }
    }
    Ok(0)
}

/// Adds a hint about the token to authentication failures.
fn auth_hint(e: ClientError) -> anyhow::Error {
    match e.status() {
        Some(401) | Some(403) => {
            anyhow!("{e} (check --token, RAMPART_TOKEN or ~/.rampart/token)")
        }
        _ => e.into(),
    }
}

/// Accepts approval ids made of ASCII letters, digits, `-` and `_` (ULIDs and the like), so an
/// id can never change the request path.
pub fn check_id(id: &str) -> anyhow::Result<&str> {
    let id = id.trim();
    if id.is_empty() {
        return Err(anyhow!("approval id is empty"));
    }
    if id.len() > 128
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(anyhow!(
            "invalid approval id {:?}: expected letters, digits, '-' or '_' (see 'rampart pending')",
            printable(id)
        ));
    }
    Ok(id)
}

/// The pending table (`ID TOOL COMMAND AGENT EXPIRES MESSAGE`), or `No pending approvals.`;
/// every cell is made printable, commands are cut to [`COMMAND_WIDTH`] characters.
pub fn render_pending(items: &[PendingItem], now: DateTime<Utc>) -> String {
    if items.is_empty() {
        return "No pending approvals.\n".to_string();
    }
    let header = ["ID", "TOOL", "COMMAND", "AGENT", "EXPIRES", "MESSAGE"].map(String::from);
    let rows: Vec<[String; 6]> = items
        .iter()
        .map(|i| {
            [
                printable(&i.id),
                printable(&i.tool),
                truncate_chars(&printable(&i.command), COMMAND_WIDTH),
                printable(&i.agent),
                remaining(&i.expires_at, now),
                printable(&i.message),
            ]
        })
        .collect();
    let mut widths = [0usize; 6];
    for row in std::iter::once(&header).chain(rows.iter()) {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(rows.iter()) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(cell);
                let pad = widths[i] - cell.chars().count() + 2;
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `s` cut to at most `max` characters (the last one an ellipsis when cut).
pub fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Time left until `expires_at` (RFC 3339) as `1h2m3s` / `4m12s` / `9s`; `expired` when past,
/// `?` when unparsable.
pub fn remaining(expires_at: &str, now: DateTime<Utc>) -> String {
    let Ok(exp) = DateTime::parse_from_rfc3339(expires_at.trim()) else {
        return "?".to_string();
    };
    let secs = (exp.with_timezone(&Utc) - now).num_seconds();
    if secs <= 0 {
        return "expired".to_string();
    }
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m{s}s"),
        _ => format!("{h}h{m}m{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn item(id: &str, command: &str, expires_at: &str) -> PendingItem {
        PendingItem {
            id: id.into(),
            tool: "exec".into(),
            command: command.into(),
            agent: "claude-code".into(),
            message: "deploys need a human".into(),
            expires_at: expires_at.into(),
        }
    }

    #[test]
    fn remaining_formats() {
        let n = now();
        assert_eq!(remaining("2026-03-01T12:04:12Z", n), "4m12s");
        assert_eq!(remaining("2026-03-01T12:00:09Z", n), "9s");
        assert_eq!(remaining("2026-03-01T13:02:03Z", n), "1h2m3s");
        assert_eq!(remaining("2026-03-01T13:00:00+01:00", n), "expired");
        assert_eq!(remaining("2026-03-01T11:59:59Z", n), "expired");
        assert_eq!(remaining("tomorrow", n), "?");
    }

    #[test]
    fn truncation_counts_characters_not_bytes() {
        let s = "é".repeat(50);
        let t = truncate_chars(&s, 40);
        assert_eq!(t.chars().count(), 40);
        assert!(t.ends_with('…'));
        assert_eq!(truncate_chars("short", 40), "short");
        assert_eq!(truncate_chars(&"x".repeat(40), 40), "x".repeat(40));
    }

    #[test]
    fn empty_list_message() {
        assert_eq!(render_pending(&[], now()), "No pending approvals.\n");
    }

    #[test]
    fn table_shows_full_short_ids_and_aligns() {
        let items = [
            item("a1", "deploy prod", "2026-03-01T12:04:12Z"),
            item(
                "01JABCDEFGHJKMNPQRSTVWXYZ0",
                &format!("deploy {}", "ü".repeat(60)),
                "2026-03-01T12:00:30Z",
            ),
        ];
        let out = render_pending(&items, now());
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("ID  "), "{out}");
        assert!(lines[1].starts_with("a1  "), "{out}");
        assert!(
            lines[2].starts_with("01JABCDEFGHJKMNPQRSTVWXYZ0  "),
            "{out}"
        );
        assert!(
            lines[1].contains("4m12s") && lines[2].contains("30s"),
            "{out}"
        );
        // Columns line up by character position; the long command is cut at 40 characters.
        let col = lines[0].find("COMMAND").unwrap();
        let cell = |l: &str| l.chars().skip(col).take(40).collect::<String>();
        assert!(cell(lines[1]).starts_with("deploy prod "), "{out}");
        let long = cell(lines[2]);
        assert!(
            long.starts_with("deploy üü") && long.ends_with('…'),
            "{long:?}"
        );
        assert_eq!(lines[2].chars().nth(col + 40), Some(' '), "{out}");
    }

    #[test]
    fn table_cells_cannot_inject_terminal_controls() {
        let items = [item("x", "ls\n\x1b[2Jrm -rf /", "2026-03-01T12:04:12Z")];
        let out = render_pending(&items, now());
        assert_eq!(out.lines().count(), 2, "{out}");
        assert!(!out.contains('\x1b'));
    }

    #[test]
    fn ids_cannot_change_the_path() {
        assert_eq!(check_id(" 01ABC ").unwrap(), "01ABC");
        assert_eq!(check_id("a").unwrap(), "a");
        for bad in ["", "../../v1/policy/reload", "a/b", "a?b", "a%2F", "a b"] {
            assert!(check_id(bad).is_err(), "{bad}");
        }
    }
}
