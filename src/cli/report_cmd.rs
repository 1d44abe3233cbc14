//! `rampart report`: a summary of decisions over a period — counts by decision, tool and agent,
//! the most denied commands, and hourly activity — as text or as one self-contained HTML page
//! (inline SVG chart, no script, strict CSP).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{Context, anyhow};
use chrono::{DateTime, FixedOffset, Timelike, Utc};
use clap::Args;

use crate::audit::files::default_dir;
use crate::audit::reader::{Item, for_each, parse_since};

/// Flags of `rampart report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Period to cover: 30m, 24h, 7d, a date (YYYY-MM-DD) or an RFC 3339 time.
    #[arg(long, default_value = "24h")]
    pub since: String,
    /// Write a self-contained HTML report here instead of printing text.
    #[arg(long)]
    pub html: Option<PathBuf>,
    /// Audit directory (default ~/.rampart/audit).
    #[arg(long, alias = "dir")]
    pub audit_dir: Option<PathBuf>,
}

/// Totals over a period.
#[derive(Debug, Default)]
pub struct Summary {
    /// Start of the period.
    pub since: Option<DateTime<FixedOffset>>,
    /// Events counted.
    pub total: u64,
    /// By decision action.
    pub by_decision: BTreeMap<String, u64>,
    /// By tool.
    pub by_tool: BTreeMap<String, u64>,
    /// By agent.
    pub by_agent: BTreeMap<String, u64>,
    /// Denied command (or path) → count.
    pub denied: HashMap<String, u64>,
    /// Events per hour (UTC, truncated), oldest first.
    pub hourly: BTreeMap<DateTime<Utc>, u64>,
    /// Unreadable lines skipped.
    pub damaged: u64,
}

impl Summary {
    /// The `n` most denied commands, most first.
    pub fn top_denied(&self, n: usize) -> Vec<(String, u64)> {
        let mut v: Vec<(String, u64)> = self.denied.iter().map(|(k, c)| (k.clone(), *c)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v.truncate(n);
        v
    }
}

/// Reads the audit trail under `dir` from `since`.
pub fn summarize(dir: &std::path::Path, since: DateTime<FixedOffset>) -> anyhow::Result<Summary> {
    let mut s = Summary {
        since: Some(since),
        ..Summary::default()
    };
    for_each(dir, Some(since), |it| {
        match it {
            Item::Event(e, _) => {
                let Some(ts) = e.timestamp else { return true };
                if ts < since {
                    return true;
                }
                s.total += 1;
                let action = if e.decision.action == "require_approval" {
                    "ask".to_string()
                } else {
                    e.decision.action.clone()
                };
                *s.by_decision.entry(action.clone()).or_default() += 1;
                *s.by_tool.entry(e.tool.clone()).or_default() += 1;
                if !e.agent.is_empty() {
                    *s.by_agent.entry(e.agent.clone()).or_default() += 1;
                }
                if action == "deny" || action == "denied" {
                    let req = e.request.as_ref();
                    let what = req
                        .and_then(|r| r.get("command").or_else(|| r.get("path")))
                        .and_then(|v| v.as_str())
                        .unwrap_or("")
                        .to_string();
                    if !what.is_empty() {
                        *s.denied.entry(what).or_default() += 1;
                    }
                }
                let utc = ts.with_timezone(&Utc);
                if let Some(h) = utc
                    .with_minute(0)
                    .and_then(|t| t.with_second(0))
                    .and_then(|t| t.with_nanosecond(0))
                {
                    *s.hourly.entry(h).or_default() += 1;
                }
            }
            Item::Bad(..) => s.damaged += 1,
        }
        true
    })
    .map_err(|e| anyhow!("reading {}: {e}", dir.display()))?;
    Ok(s)
}

fn pct(n: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        n as f64 * 100.0 / total as f64
    }
}

/// The text report.
pub fn text(s: &Summary, label: &str) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "Rampart report — {label}");
    let _ = writeln!(o, "Total: {} events", s.total);
    for (title, map) in [
        ("By decision", &s.by_decision),
        ("By tool", &s.by_tool),
        ("By agent", &s.by_agent),
    ] {
        let _ = writeln!(o, "\n{title}:");
        let mut v: Vec<_> = map.iter().collect();
        v.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
        for (k, n) in v {
            let _ = writeln!(o, "  {k:<24} {n:>7}  {:>5.1}%", pct(*n, s.total));
        }
    }
    let top = s.top_denied(10);
    if !top.is_empty() {
        let _ = writeln!(o, "\nTop denied:");
        for (cmd, n) in top {
            let short: String = cmd.chars().take(70).collect();
            let _ = writeln!(o, "  {n:>5}  {short}");
        }
    }
    if s.damaged > 0 {
        let _ = writeln!(
            o,
            "\n{} unreadable lines skipped (run `rampart audit verify`)",
            s.damaged
        );
    }
    o
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The HTML report: one file, inline CSS and SVG, no script.
pub fn html(s: &Summary, label: &str) -> String {
    let mut o = String::new();
    o.push_str("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">");
    o.push_str("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">");
    let _ = write!(o, "<title>Rampart report — {}</title>", esc(label));
    o.push_str("<style>body{font:15px system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;color:#1f2328;background:#fff}@media(prefers-color-scheme:dark){body{color:#e6edf3;background:#0d1117}}table{border-collapse:collapse;margin:.5rem 0 1.5rem}td,th{padding:.25rem .8rem;text-align:left;border-bottom:1px solid #8884}.n{text-align:right;font-variant-numeric:tabular-nums}.cards{display:flex;gap:1rem;flex-wrap:wrap}.card{border:1px solid #8886;border-radius:8px;padding:.8rem 1.2rem}.card b{display:block;font-size:1.6rem}code{word-break:break-all}</style></head><body>");
    let _ = write!(o, "<h1>🛡️ Rampart report</h1><p>{}</p>", esc(label));
    o.push_str("<div class=\"cards\">");
    let _ = write!(o, "<div class=\"card\"><b>{}</b>events</div>", s.total);
    for a in ["allow", "deny", "ask", "watch"] {
        let n = s.by_decision.get(a).copied().unwrap_or(0);
        let _ = write!(
            o,
            "<div class=\"card\"><b>{n}</b>{a} ({:.1}%)</div>",
            pct(n, s.total)
        );
    }
    o.push_str("</div><h2>Activity per hour (UTC)</h2>");
    let max = s.hourly.values().copied().max().unwrap_or(0).max(1);
    let n = s.hourly.len().max(1);
    let w = 800.0 / n as f64;
    let _ = write!(
        o,
        "<svg role=\"img\" aria-label=\"events per hour\" viewBox=\"0 0 800 160\" width=\"100%\" height=\"160\">"
    );
    for (i, (h, c)) in s.hourly.iter().enumerate() {
        let bh = (*c as f64 / max as f64) * 140.0;
        let _ = write!(
            o,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#2f81f7\"><title>{} — {c}</title></rect>",
            i as f64 * w + 1.0,
            150.0 - bh,
            (w - 2.0).max(1.0),
            bh,
            h.format("%Y-%m-%d %H:00")
        );
    }
    o.push_str("</svg>");
    for (title, map) in [
        ("By decision", &s.by_decision),
        ("By tool", &s.by_tool),
        ("By agent", &s.by_agent),
    ] {
        let _ = write!(o, "<h2>{title}</h2><table>");
        let mut v: Vec<_> = map.iter().collect();
        v.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
        for (k, c) in v {
            let _ = write!(o, "<tr><td>{}</td><td class=\"n\">{c}</td></tr>", esc(k));
        }
        o.push_str("</table>");
    }
    let top = s.top_denied(10);
    if !top.is_empty() {
        o.push_str("<h2>Top denied commands</h2><table>");
        for (cmd, c) in top {
            let _ = write!(
                o,
                "<tr><td class=\"n\">{c}</td><td><code>{}</code></td></tr>",
                esc(&cmd)
            );
        }
        o.push_str("</table>");
    }
    o.push_str("</body></html>\n");
    o
}

/// Runs `rampart report`.
pub fn run(a: ReportArgs) -> anyhow::Result<i32> {
    let now = Utc::now();
    let since = parse_since(&a.since, now).ok_or_else(|| {
        anyhow!(
            "invalid --since {:?} (use e.g. 24h, 7d or 2026-11-01)",
            a.since
        )
    })?;
    let dir = a.audit_dir.unwrap_or_else(default_dir);
    let s = summarize(&dir, since)?;
    let label = format!(
        "{} → {}",
        since.with_timezone(&Utc).format("%Y-%m-%d %H:%M UTC"),
        now.format("%Y-%m-%d %H:%M UTC")
    );
    match a.html {
        Some(path) => {
            std::fs::write(&path, html(&s, &label))
                .with_context(|| format!("writing {}", path.display()))?;
            println!("wrote {} ({} events)", path.display(), s.total);
        }
        None => print!("{}", text(&s, &label)),
    }
    Ok(0)
}
