//! `rampart token`: show or rotate the admin token; create, list, revoke and inspect per-agent
//! tokens (spec/server.md §12).

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use anyhow::{Context, bail};
use chrono::{DateTime, Duration, FixedOffset, Utc};
use clap::CommandFactory;

use crate::credentials::admin::{TOKEN_ENV, admin_token_path, read_token_file, rotate};
use crate::credentials::store::{NewToken, TokenRecord, TokenStore, format_time};
use crate::credentials::{Scope, home_dir};
use crate::engine::duration::parse_go_duration;

/// Arguments of `rampart token`; without a subcommand it prints help.
#[derive(clap::Parser, Debug)]
#[command(
    name = "token",
    bin_name = "rampart token",
    about = "Manage the admin token and per-agent tokens"
)]
pub struct TokenArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: Option<TokenCommand>,
}

/// Subcommands of `rampart token`.
#[derive(clap::Subcommand, Debug)]
pub enum TokenCommand {
    /// Print the admin token from ~/.rampart/token.
    Show,
    /// Replace the admin token with a new random one (a running serve switches to it).
    Rotate {
        /// Do not ask for confirmation.
        #[arg(long)]
        force: bool,
    },
    /// Issue a per-agent token; the plaintext is shown once.
    Create {
        /// Agent name the token identifies (letters, digits, '_' or '-').
        #[arg(long)]
        agent: String,
        /// Restrict the token to this policy.
        #[arg(long)]
        policy: Option<String>,
        /// Free-text note.
        #[arg(long)]
        note: Option<String>,
        /// Scope to grant: eval (default) or admin; repeat or comma-separate.
        #[arg(long = "scope", value_delimiter = ',', value_parser = parse_scope)]
        scopes: Vec<Scope>,
        /// Lifetime, e.g. 24h, 7d, 30d.
        #[arg(long, value_parser = parse_lifetime)]
        expires: Option<Duration>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List per-agent tokens.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke the active token with this id, prefix, hash prefix or full value.
    Revoke {
        /// Token id (rampart_xxxxxxxx), masked prefix, hash prefix or the token itself.
        id: String,
    },
    /// Show details of one per-agent token.
    Info {
        /// Token id, masked prefix or hash prefix.
        prefix: String,
    },
}

fn parse_scope(s: &str) -> Result<Scope, String> {
    Scope::parse(s.trim()).ok_or_else(|| format!("invalid scope {s:?}: expected eval or admin"))
}

/// Parses a lifetime: `<N>d` days or a Go duration (`24h`, `90m`, `1h30m`); must be positive.
fn parse_lifetime(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let err = || format!("invalid duration {s:?}: use e.g. 24h, 7d or 30d");
    let seconds = match s.strip_suffix('d') {
        Some(days) if !days.is_empty() && days.bytes().all(|b| b.is_ascii_digit()) => {
            days.parse::<f64>().map_err(|_| err())? * 86_400.0
        }
        _ => parse_go_duration(s).ok_or_else(err)?,
    };
    // At most 100 years: far enough, and no overflow when added to now.
    if !(1.0..=100.0 * 365.0 * 86_400.0).contains(&seconds) {
        return Err(format!(
            "invalid duration {s:?}: must be between 1s and 100 years"
        ));
    }
    Duration::try_seconds(seconds as i64).ok_or_else(err)
}

/// Runs the command; returns the exit code.
pub fn run(args: TokenArgs) -> anyhow::Result<i32> {
    let Some(command) = args.command else {
        TokenArgs::command().print_help()?;
        println!();
        return Ok(0);
    };
    let home = home_dir().context("HOME is not set; cannot find ~/.rampart")?;
    let mut out = std::io::stdout().lock();
    match command {
        TokenCommand::Show => show(&home, &mut out),
        TokenCommand::Rotate { force } => rotate_cmd(&home, force, &mut out),
        TokenCommand::Create {
            agent,
            policy,
            note,
            scopes,
            expires,
            json,
        } => {
            let now = Utc::now();
            let req = NewToken {
                agent,
                policy,
                scopes,
                expires_at: expires.map(|d| now + d),
                note,
            };
            create(&home, req, now, json, &mut out)
        }
        TokenCommand::List { json } => list(&home, json, &mut out),
        TokenCommand::Revoke { id } => revoke(&home, &id, &mut out),
        TokenCommand::Info { prefix } => info(&home, &prefix, &mut out),
    }
}

fn show(home: &Path, out: &mut impl Write) -> anyhow::Result<i32> {
    let path = admin_token_path(home);
    match read_token_file(&path)? {
        Some(t) => writeln!(out, "{t}")?,
        None => bail!(
            "no admin token in {}; `rampart serve` creates one, or run `rampart token rotate`",
            path.display()
        ),
    }
    Ok(0)
}

fn rotate_cmd(home: &Path, force: bool, out: &mut impl Write) -> anyhow::Result<i32> {
    if !force {
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            bail!(
                "refusing to rotate the admin token without confirmation: stdin is not a terminal (pass --force)"
            );
        }
        eprint!("Rotate token and overwrite ~/.rampart/token? [y/N]: ");
        std::io::stderr().flush()?;
        let mut answer = String::new();
        stdin.lock().read_line(&mut answer)?;
        if !matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
            eprintln!("Aborted; the token is unchanged.");
            return Ok(1);
        }
    }
    let token = rotate(home)?;
    writeln!(out, "{token}")?;
    eprintln!(
        "✓ Token rotated. A running `rampart serve` accepts only the new token from its next request."
    );
    if std::env::var_os(TOKEN_ENV).is_some_and(|v| !v.is_empty()) {
        eprintln!(
            "⚠ {TOKEN_ENV} is set here; it overrides ~/.rampart/token for clients and at serve start. Update it, and any service definition that sets it."
        );
    }
    Ok(0)
}

fn store(home: &Path) -> TokenStore {
    TokenStore::for_home(home)
}

fn create(
    home: &Path,
    req: NewToken,
    now: DateTime<Utc>,
    as_json: bool,
    out: &mut impl Write,
) -> anyhow::Result<i32> {
    let c = store(home).create(req, now)?;
    let r = &c.record;
    if as_json {
        let v = CreatedJson {
            token: &c.token,
            agent: &r.agent,
            policy: r.policy.as_deref(),
            scopes: &r.scopes,
            expires_at: r.expires_at.as_ref().map(format_time),
            note: r.note.as_deref(),
        };
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        return Ok(0);
    }
    writeln!(out, "✓ Token created")?;
    writeln!(out)?;
    writeln!(out, "  Token:   {}", c.token)?;
    writeln!(out, "  Agent:   {}", r.agent)?;
    writeln!(out, "  Policy:  {}", policy_label(r))?;
    writeln!(out, "  Scopes:  {}", r.scopes.join(", "))?;
    writeln!(
        out,
        "  Expires: {}",
        expiry_label(r.expires_at.as_ref(), now)
    )?;
    if let Some(n) = &r.note {
        writeln!(out, "  Note:    {}", clean(n))?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "⚠ Save this token now: only its hash is stored, so it cannot be shown again."
    )?;
    writeln!(out)?;
    writeln!(out, "Use it:")?;
    writeln!(out, "  export RAMPART_TOKEN={}", c.token)?;
    writeln!(
        out,
        "  curl -H \"Authorization: Bearer $RAMPART_TOKEN\" http://127.0.0.1:9090/v1/tool/exec \\"
    )?;
    writeln!(
        out,
        "       -d '{{\"agent\":\"{}\",\"params\":{{\"command\":\"git status\"}}}}'",
        r.agent
    )?;
    writeln!(out, "Revoke it with: rampart token revoke {}", r.id())?;
    Ok(0)
}

fn list(home: &Path, as_json: bool, out: &mut impl Write) -> anyhow::Result<i32> {
    let now = Utc::now();
    let records = store(home).list()?;
    if as_json {
        let items: Vec<ListedJson<'_>> = records.iter().map(|r| list_item(r, now)).collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&items)?)?;
        return Ok(0);
    }
    if records.is_empty() {
        writeln!(
            out,
            "No agent tokens. Create one with: rampart token create --agent <name>"
        )?;
        return Ok(0);
    }
    let rows: Vec<[String; 5]> = records
        .iter()
        .map(|r| {
            [
                format!("{}...", r.id()),
                clean(&r.agent),
                policy_label(r),
                clean(&r.scopes.join(",")),
                r.status(now).as_str().to_string(),
            ]
        })
        .collect();
    let header = ["TOKEN", "AGENT", "POLICY", "SCOPES", "STATUS"].map(String::from);
    let mut widths = [0usize; 5];
    for row in std::iter::once(&header).chain(rows.iter()) {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(rows.iter()) {
        let mut line = String::new();
        for (i, (cell, w)) in row.iter().zip(widths).enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&" ".repeat(w - cell.chars().count() + 2));
            }
        }
        writeln!(out, "{line}")?;
    }
    Ok(0)
}

fn list_item(r: &TokenRecord, now: DateTime<Utc>) -> ListedJson<'_> {
    ListedJson {
        id: r.id(),
        agent: &r.agent,
        policy: r.policy.as_deref(),
        scopes: &r.scopes,
        created_at: format_time(&r.created_at),
        expires_at: r.expires_at.as_ref().map(format_time),
        note: r.note.as_deref(),
        revoked: r.revoked,
        status: r.status(now).as_str(),
    }
}

/// `token create --json` output, fields in documented order.
#[derive(serde::Serialize)]
struct CreatedJson<'a> {
    token: &'a str,
    agent: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    policy: Option<&'a str>,
    scopes: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<&'a str>,
}

/// One element of `token list --json`, fields in documented order.
#[derive(serde::Serialize)]
struct ListedJson<'a> {
    id: String,
    agent: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    policy: Option<&'a str>,
    scopes: &'a [String],
    created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<&'a str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    revoked: bool,
    status: &'static str,
}

fn revoke(home: &Path, query: &str, out: &mut impl Write) -> anyhow::Result<i32> {
    let r = store(home).revoke(query, Utc::now())?;
    writeln!(
        out,
        "✓ Revoked {}... (agent {}). A running `rampart serve` rejects it from its next request.",
        r.id(),
        clean(&r.agent)
    )?;
    Ok(0)
}

fn info(home: &Path, query: &str, out: &mut impl Write) -> anyhow::Result<i32> {
    let now = Utc::now();
    let r = store(home).info(query)?;
    writeln!(out, "Token:    {}...", r.id())?;
    writeln!(out, "Agent:    {}", clean(&r.agent))?;
    writeln!(out, "Policy:   {}", policy_label(&r))?;
    writeln!(out, "Scopes:   {}", clean(&r.scopes.join(", ")))?;
    writeln!(out, "Status:   {}", r.status(now).as_str())?;
    writeln!(out, "Created:  {}", show_time(&r.created_at))?;
    writeln!(
        out,
        "Expires:  {}",
        expiry_label(r.expires_at.as_ref(), now)
    )?;
    if let Some(n) = &r.note {
        writeln!(out, "Note:     {}", clean(n))?;
    }
    writeln!(out, "SHA-256:  {}", r.hash)?;
    Ok(0)
}

fn policy_label(r: &TokenRecord) -> String {
    r.policy
        .as_deref()
        .map(clean)
        .unwrap_or_else(|| "(global)".to_string())
}

fn expiry_label(e: Option<&DateTime<FixedOffset>>, now: DateTime<Utc>) -> String {
    match e {
        None => "never".to_string(),
        Some(e) if *e <= now => format!("{} (expired)", show_time(e)),
        Some(e) => format!("{} (in {})", show_time(e), rough(*e - now.fixed_offset())),
    }
}

/// An instant for people: RFC 3339 to the second.
fn show_time(t: &DateTime<FixedOffset>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn rough(d: Duration) -> String {
    let s = d.num_seconds();
    let round = |unit: i64| (s + unit / 2) / unit;
    if s >= 2 * 86_400 {
        format!("{}d", round(86_400))
    } else if s >= 2 * 3600 {
        format!("{}h", round(3600))
    } else {
        format!("{}m", round(60).max(1))
    }
}

/// Text from the store file for a terminal: control characters shown escaped.
fn clean(s: &str) -> String {
    if s.chars().any(char::is_control) {
        s.escape_debug().to_string()
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes() {
        assert_eq!(parse_lifetime("24h").unwrap(), Duration::hours(24));
        assert_eq!(parse_lifetime("7d").unwrap(), Duration::days(7));
        assert_eq!(parse_lifetime("30d").unwrap(), Duration::days(30));
        assert_eq!(parse_lifetime("90m").unwrap(), Duration::minutes(90));
        for bad in ["", "0h", "-1h", "d", "7x", "1.5.d", "99999d", "0d"] {
            assert!(parse_lifetime(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn scopes_parse() {
        assert_eq!(parse_scope("admin").unwrap(), Scope::Admin);
        assert!(parse_scope("root").is_err());
    }

    #[test]
    fn clean_escapes_controls() {
        assert_eq!(clean("ok"), "ok");
        assert_eq!(clean("a\x1b[31m"), "a\\u{1b}[31m");
    }
}
