//! `rampart audit <verify|tail|search|stats>`: the command-line view of the trail.

use super::event::{AuditEvent, format_rfc3339_nano};
use super::files::default_dir;
use super::reader::{self, Item};
use super::verify::verify_dir;
use anyhow::{Context, bail};
use chrono::{DateTime, FixedOffset, Utc};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Audit subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum AuditCommand {
    /// Check every hash, link and anchor; exit 1 and name the first break.
    Verify {
        /// Audit directory (default ~/.rampart/audit).
        #[arg(long, alias = "audit-dir", value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Print the most recent events.
    Tail {
        /// Audit directory (default ~/.rampart/audit).
        #[arg(long, alias = "audit-dir", value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Number of events.
        #[arg(short = 'n', long = "lines", default_value_t = 20)]
        n: usize,
        /// Keep printing new events as they are written.
        #[arg(short, long)]
        follow: bool,
        /// Print raw JSON lines.
        #[arg(long)]
        json: bool,
    },
    /// Find events by tool, action, agent, time and text.
    Search {
        /// Audit directory (default ~/.rampart/audit).
        #[arg(long, alias = "audit-dir", value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Tool name (exact, case-insensitive).
        #[arg(long)]
        tool: Option<String>,
        /// Decision action (allow, deny, watch, ask, …).
        #[arg(long, alias = "decision")]
        action: Option<String>,
        /// Agent name (exact, case-insensitive).
        #[arg(long)]
        agent: Option<String>,
        /// Earliest time: RFC 3339, YYYY-MM-DD, or relative (30m, 2h, 7d).
        #[arg(long)]
        since: Option<String>,
        /// Latest time, same forms as --since.
        #[arg(long)]
        until: Option<String>,
        /// Most results to print (newest kept).
        #[arg(long, default_value_t = 1000)]
        limit: usize,
        /// Print raw JSON lines.
        #[arg(long)]
        json: bool,
        /// Text to look for anywhere in the record (case-insensitive).
        query: Option<String>,
    },
    /// Re-decide past calls under another policy and show what would change.
    Replay {
        /// Audit directory (default ~/.rampart/audit).
        #[arg(long, alias = "audit-dir", value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Policy file to try.
        #[arg(long)]
        policy: PathBuf,
        /// Earliest time: RFC 3339, YYYY-MM-DD, or relative (30m, 2h, 7d).
        #[arg(long)]
        since: Option<String>,
    },
    /// Count events by action, tool and agent.
    Stats {
        /// Audit directory (default ~/.rampart/audit).
        #[arg(long, alias = "audit-dir", value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Earliest time: RFC 3339, YYYY-MM-DD, or relative (30m, 2h, 7d).
        #[arg(long)]
        since: Option<String>,
    },
}

/// Runs a subcommand and returns the process exit code.
pub fn run(cmd: AuditCommand) -> anyhow::Result<i32> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    run_to(cmd, &mut out)
}

/// Runs a subcommand writing to `out` (for tests); returns the exit code.
pub fn run_to(cmd: AuditCommand, out: &mut dyn Write) -> anyhow::Result<i32> {
    match cmd {
        AuditCommand::Verify { dir } => verify(&resolve(dir)?, out),
        AuditCommand::Tail {
            dir,
            n,
            follow,
            json,
        } => tail(&resolve(dir)?, n, follow, json, out),
        AuditCommand::Search {
            dir,
            tool,
            action,
            agent,
            since,
            until,
            limit,
            json,
            query,
        } => {
            let now = Utc::now();
            let f = Filter {
                tool: tool.map(|s| s.to_lowercase()),
                action: action.map(|s| s.to_lowercase()),
                agent: agent.map(|s| s.to_lowercase()),
                since: since.map(|s| time_arg("--since", &s, now)).transpose()?,
                until: until.map(|s| time_arg("--until", &s, now)).transpose()?,
                query: query.map(|s| s.to_lowercase()),
            };
            search(&resolve(dir)?, &f, limit, json, out)
        }
        AuditCommand::Replay { dir, policy, since } => {
            let since = since
                .map(|s| time_arg("--since", &s, Utc::now()))
                .transpose()?;
            replay(&resolve(dir)?, &policy, since, out)
        }
        AuditCommand::Stats { dir, since } => {
            let since = since
                .map(|s| time_arg("--since", &s, Utc::now()))
                .transpose()?;
            stats(&resolve(dir)?, since, out)
        }
    }
}

fn resolve(dir: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let d = dir.unwrap_or_else(default_dir);
    let md = std::fs::symlink_metadata(&d)
        .with_context(|| format!("audit directory {}", d.display()))?;
    if !md.is_dir() {
        bail!("audit directory {} is not a directory", d.display());
    }
    Ok(d)
}

fn time_arg(flag: &str, s: &str, now: DateTime<Utc>) -> anyhow::Result<DateTime<FixedOffset>> {
    reader::parse_since(s, now).with_context(|| {
        format!("{flag} {s:?}: expected RFC 3339, YYYY-MM-DD or a duration like 30m, 2h, 7d")
    })
}

fn verify(dir: &Path, out: &mut dyn Write) -> anyhow::Result<i32> {
    let r = verify_dir(dir).with_context(|| format!("verify {}", dir.display()))?;
    match &r.brk {
        None => {
            writeln!(
                out,
                "OK: {} events in {} files verified, {} anchors match; head {}",
                r.events,
                r.files,
                r.anchors,
                if r.head_hash.is_empty() {
                    "(empty chain)"
                } else {
                    &r.head_hash
                }
            )?;
            Ok(0)
        }
        Some(b) => {
            writeln!(out, "BROKEN: {b}")?;
            writeln!(out, "{} events verified before the break", r.events)?;
            Ok(1)
        }
    }
}

fn short_time(e: &AuditEvent) -> String {
    e.timestamp
        .map(|t| format_rfc3339_nano(&t.with_timezone(&Utc).fixed_offset()))
        .unwrap_or_else(|| "-".into())
}

fn summary(e: &AuditEvent) -> String {
    let req = e.request.as_ref();
    let what = req
        .and_then(|m| {
            ["command", "path", "url", "file_path", "action"]
                .iter()
                .find_map(|k| m.get(*k).and_then(|v| v.as_str()))
        })
        .unwrap_or("");
    let mut s = format!(
        "{}  {:<8} {:<14} {:<10} {}",
        short_time(e),
        e.decision.action,
        e.agent,
        e.tool,
        one_line(what, 120)
    );
    if !e.decision.matched_policies.is_empty() {
        s.push_str(&format!("  [{}]", e.decision.matched_policies.join(",")));
    }
    if !e.decision.message.is_empty() {
        s.push_str(&format!("  {}", one_line(&e.decision.message, 120)));
    }
    s
}

fn one_line(s: &str, max: usize) -> String {
    let flat: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.chars().count() > max {
        let cut: String = flat.chars().take(max).collect();
        format!("{cut}…")
    } else {
        flat
    }
}

fn warn(path: &Path, line: u64, reason: &str) {
    eprintln!("warning: {}:{line}: skipped: {reason}", path.display());
}

fn print_item(it: Item, json: bool, out: &mut dyn Write) -> std::io::Result<()> {
    match it {
        Item::Event(e, raw) => {
            if json {
                writeln!(out, "{raw}")
            } else {
                writeln!(out, "{}", summary(&e))
            }
        }
        Item::Bad(p, l, r) => {
            warn(&p, l, &r);
            Ok(())
        }
    }
}

fn tail(
    dir: &Path,
    n: usize,
    follow: bool,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<i32> {
    let (items, _) = reader::last_n(dir, n)?;
    for it in items {
        print_item(it, json, out)?;
    }
    out.flush()?;
    if follow {
        let mut state = None;
        reader::follow_step(dir, &mut state, |_| true)?;
        loop {
            std::thread::sleep(std::time::Duration::from_millis(250));
            let mut err = None;
            reader::follow_step(dir, &mut state, |it| match print_item(it, json, out) {
                Ok(()) => true,
                Err(e) => {
                    err = Some(e);
                    false
                }
            })?;
            if let Some(e) = err {
                // Output closed (e.g. piped into `head`): stop quietly.
                if e.kind() == std::io::ErrorKind::BrokenPipe {
                    return Ok(0);
                }
                return Err(e.into());
            }
            out.flush()?;
        }
    }
    Ok(0)
}

/// Search criteria.
#[derive(Debug, Clone, Default)]
struct Filter {
    tool: Option<String>,
    action: Option<String>,
    agent: Option<String>,
    since: Option<DateTime<FixedOffset>>,
    until: Option<DateTime<FixedOffset>>,
    query: Option<String>,
}

impl Filter {
    fn matches(&self, e: &AuditEvent, raw: &str) -> bool {
        let eq = |want: &Option<String>, have: &str| {
            want.as_ref().is_none_or(|w| have.to_lowercase() == *w)
        };
        if !eq(&self.tool, &e.tool)
            || !eq(&self.action, &e.decision.action)
            || !eq(&self.agent, &e.agent)
        {
            return false;
        }
        if let Some(s) = self.since
            && e.timestamp.is_none_or(|t| t < s)
        {
            return false;
        }
        if let Some(u) = self.until
            && e.timestamp.is_none_or(|t| t > u)
        {
            return false;
        }
        self.query
            .as_ref()
            .is_none_or(|q| raw.to_lowercase().contains(q.as_str()))
    }
}

fn search(
    dir: &Path,
    f: &Filter,
    limit: usize,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<i32> {
    let mut hits: std::collections::VecDeque<(Box<AuditEvent>, String)> = Default::default();
    let mut total = 0u64;
    reader::for_each(dir, f.since, |it| {
        match it {
            Item::Event(e, raw) => {
                if f.matches(&e, &raw) {
                    total += 1;
                    hits.push_back((e, raw));
                    if hits.len() > limit {
                        hits.pop_front();
                    }
                }
            }
            Item::Bad(p, l, r) => warn(&p, l, &r),
        }
        true
    })?;
    for (e, raw) in &hits {
        if json {
            writeln!(out, "{raw}")?;
        } else {
            writeln!(out, "{}", summary(e))?;
        }
    }
    if !json {
        writeln!(
            out,
            "{total} matching events{}",
            if total as usize > hits.len() {
                format!(" (last {} shown)", hits.len())
            } else {
                String::new()
            }
        )?;
    }
    Ok(if total > 0 { 0 } else { 1 })
}

fn stats(
    dir: &Path,
    since: Option<DateTime<FixedOffset>>,
    out: &mut dyn Write,
) -> anyhow::Result<i32> {
    let mut total = 0u64;
    let mut bad = 0u64;
    let mut by_action: BTreeMap<String, u64> = BTreeMap::new();
    let mut by_tool: BTreeMap<String, u64> = BTreeMap::new();
    let mut by_agent: BTreeMap<String, u64> = BTreeMap::new();
    let mut first: Option<DateTime<FixedOffset>> = None;
    let mut last: Option<DateTime<FixedOffset>> = None;
    reader::for_each(dir, since, |it| {
        match it {
            Item::Event(e, _) => {
                if let (Some(s), Some(t)) = (since, e.timestamp)
                    && t < s
                {
                    return true;
                }
                total += 1;
                *by_action.entry(e.decision.action.clone()).or_default() += 1;
                *by_tool.entry(e.tool.clone()).or_default() += 1;
                *by_agent.entry(e.agent.clone()).or_default() += 1;
                if let Some(t) = e.timestamp {
                    first = Some(first.map_or(t, |f| f.min(t)));
                    last = Some(last.map_or(t, |l| l.max(t)));
                }
            }
            Item::Bad(p, l, r) => {
                bad += 1;
                warn(&p, l, &r);
            }
        }
        true
    })?;
    writeln!(out, "events: {total}")?;
    if let (Some(f), Some(l)) = (first, last) {
        writeln!(out, "from:   {}", format_rfc3339_nano(&f))?;
        writeln!(out, "to:     {}", format_rfc3339_nano(&l))?;
    }
    for (title, map) in [
        ("by action", &by_action),
        ("by tool", &by_tool),
        ("by agent", &by_agent),
    ] {
        writeln!(out, "{title}:")?;
        let mut rows: Vec<(&String, &u64)> = map.iter().collect();
        rows.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        for (k, v) in rows {
            writeln!(out, "  {:<20} {v}", if k.is_empty() { "(none)" } else { k })?;
        }
    }
    if bad > 0 {
        writeln!(out, "unreadable lines: {bad}")?;
    }
    Ok(0)
}

/// Re-evaluates every recorded call under `policy` and prints the ones whose decision changes.
fn replay(
    dir: &Path,
    policy: &Path,
    since: Option<DateTime<FixedOffset>>,
    out: &mut dyn Write,
) -> anyhow::Result<i32> {
    let set = crate::engine::load::load_file(policy)
        .with_context(|| format!("loading policy {}", policy.display()))?;
    let engine = crate::engine::compile(&set);
    let (mut total, mut changed) = (0u64, 0u64);
    let mut lines: Vec<String> = Vec::new();
    reader::for_each(dir, since, |it| {
        match it {
            Item::Event(e, _) => {
                if e.tool.is_empty() || e.decision.action.is_empty() {
                    return true;
                }
                total += 1;
                let call = crate::engine::ToolCall {
                    tool: e.tool.clone(),
                    agent: e.agent.clone(),
                    session: e.session.clone(),
                    params: e.request.clone().unwrap_or_default(),
                    ..Default::default()
                };
                let d = engine.evaluate(&call);
                let was = match e.decision.action.as_str() {
                    "log" => "watch",
                    "require_approval" => "ask",
                    a => a,
                };
                if was != d.action.as_str() {
                    changed += 1;
                    let what = ["command", "path", "file_path", "url"]
                        .iter()
                        .find_map(|k| call.params.get(*k).and_then(|v| v.as_str()))
                        .unwrap_or("");
                    lines.push(format!(
                        "{} {} {} -> {}: {} ({})",
                        e.id, e.tool, was, d.action, what, d.message
                    ));
                }
            }
            Item::Bad(p, l, r) => warn(&p, l, &r),
        }
        true
    })?;
    for l in &lines {
        writeln!(out, "{l}")?;
    }
    writeln!(
        out,
        "{total} calls replayed, {changed} would be decided differently"
    )?;
    Ok(0)
}
