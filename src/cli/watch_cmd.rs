//! `rampart watch`: a terminal view of the live feed and pending approvals that a person can
//! approve or deny from the keyboard (works over SSH). Polls the server's API once a second;
//! `q`, `Esc` or Ctrl-C quit and the terminal is always restored.

use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::Args;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, List, ListItem, ListState, Paragraph};
use serde_json::{Value, json};

use super::api_client::{Client, printable};
use super::client_cmd::{ServerArgs, connect};

/// Flags of `rampart watch`.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Which server.
    #[command(flatten)]
    pub server: ServerArgs,
    /// Refresh interval in milliseconds.
    #[arg(long, default_value_t = 1000)]
    pub interval_ms: u64,
}

/// Everything the screen shows.
#[derive(Debug, Default)]
struct View {
    mode: String,
    pending: Vec<Value>,
    feed: Vec<Value>,
    error: Option<String>,
    notice: Option<(String, Instant)>,
    selected: usize,
}

fn refresh(c: &Client, v: &mut View) {
    let status = c.get_json("/v1/status");
    let approvals = c.get_json("/v1/approvals");
    let events = c.get_json("/v1/audit/events?limit=200");
    match (status, approvals) {
        (Ok(s), Ok(a)) => {
            v.mode = s["mode"].as_str().unwrap_or("?").to_string();
            v.pending = a["approvals"].as_array().cloned().unwrap_or_default();
            v.error = None;
        }
        (Err(e), _) | (_, Err(e)) => v.error = Some(e.to_string()),
    }
    if let Ok(e) = events {
        v.feed = e["events"].as_array().cloned().unwrap_or_default();
    }
    if v.selected >= v.pending.len() {
        v.selected = v.pending.len().saturating_sub(1);
    }
}

fn resolve(c: &Client, v: &mut View, approved: bool, persist: bool) {
    let Some(a) = v.pending.get(v.selected) else {
        return;
    };
    let id = a["id"].as_str().unwrap_or("").to_string();
    let body = json!({"approved": approved, "resolved_by": "watch", "persist": persist});
    let msg = match c.post_json(&format!("/v1/approvals/{id}/resolve"), &body) {
        Ok(_) if persist => format!("✓ {id} always allowed"),
        Ok(_) if approved => format!("✓ {id} approved"),
        Ok(_) => format!("✗ {id} denied"),
        Err(e) => format!("{id}: {e}"),
    };
    v.notice = Some((msg, Instant::now()));
    refresh(c, v);
}

fn remaining(expires: &str) -> String {
    let Ok(t) = DateTime::parse_from_rfc3339(expires) else {
        return "?".into();
    };
    let secs = (t.with_timezone(&Utc) - Utc::now()).num_seconds();
    if secs <= 0 {
        "expired".into()
    } else {
        format!("{}m{:02}s", secs / 60, secs % 60)
    }
}

fn color_of(action: &str) -> Color {
    match action {
        "deny" | "denied" => Color::Red,
        "ask" | "require_approval" => Color::Yellow,
        "watch" => Color::Magenta,
        _ => Color::Green,
    }
}

fn draw(f: &mut ratatui::Frame, v: &View, list: &mut ListState) {
    let [head, pend, feed, foot] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length((v.pending.len().clamp(1, 9) + 2) as u16),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(f.area());
    let count = |a: &str| {
        v.feed
            .iter()
            .filter(|e| e["decision"]["action"].as_str() == Some(a))
            .count()
    };
    let mut spans = vec![
        Span::styled(
            " Rampart Watch ",
            Style::default().add_modifier(Modifier::BOLD),
        ),
        Span::raw(format!(
            "| {} | {} allow · {} deny · {} watch · {} pending",
            v.mode,
            count("allow"),
            count("deny"),
            count("watch"),
            v.pending.len()
        )),
    ];
    if let Some(e) = &v.error {
        spans.push(Span::styled(
            format!("  ⚠ {e}"),
            Style::default().fg(Color::Red),
        ));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), head);

    let items: Vec<ListItem> = if v.pending.is_empty() {
        vec![ListItem::new("No pending approvals.")]
    } else {
        v.pending
            .iter()
            .enumerate()
            .take(9)
            .map(|(i, a)| {
                ListItem::new(format!(
                    "{} {:<9} {:<8} {:<40} {:<14} {}",
                    i + 1,
                    remaining(a["expires_at"].as_str().unwrap_or("")),
                    printable(a["tool"].as_str().unwrap_or("")),
                    printable(a["command"].as_str().unwrap_or(""))
                        .chars()
                        .take(40)
                        .collect::<String>(),
                    printable(a["agent"].as_str().unwrap_or("")),
                    printable(a["message"].as_str().unwrap_or("")),
                ))
            })
            .collect()
    };
    list.select((!v.pending.is_empty()).then_some(v.selected));
    f.render_stateful_widget(
        List::new(items)
            .block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(" PENDING APPROVALS "),
            )
            .highlight_style(Style::default().add_modifier(Modifier::REVERSED)),
        pend,
        list,
    );

    let rows = feed.height.saturating_sub(2) as usize;
    let lines: Vec<Line> = v
        .feed
        .iter()
        .take(rows)
        .map(|e| {
            let action = e["decision"]["action"].as_str().unwrap_or("");
            let time = e["timestamp"]
                .as_str()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc).format("%H:%M:%S").to_string())
                .unwrap_or_default();
            let req = &e["request"];
            let what = req["command"]
                .as_str()
                .or(req["path"].as_str())
                .or(req["url"].as_str())
                .unwrap_or("");
            let policy = e["decision"]["matched_policies"][0].as_str().unwrap_or("-");
            Line::from(vec![
                Span::raw(format!("{time} ")),
                Span::styled(
                    format!("{action:<8}"),
                    Style::default().fg(color_of(action)),
                ),
                Span::raw(format!(
                    " {:<6} {:<50} {}",
                    printable(e["tool"].as_str().unwrap_or("")),
                    printable(what).chars().take(50).collect::<String>(),
                    printable(policy)
                )),
            ])
        })
        .collect();
    f.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .borders(Borders::ALL)
                .title(" LIVE FEED (UTC) "),
        ),
        feed,
    );
    let help = match &v.notice {
        Some((m, t)) if t.elapsed() < Duration::from_secs(5) => m.clone(),
        _ => " ↑/↓ or 1-9 select · a approve · d deny · A always allow · q quit".into(),
    };
    f.render_widget(Paragraph::new(help), foot);
}

/// Handles one key press; `true` means quit.
fn on_key(c: &Client, v: &mut View, code: KeyCode, mods: KeyModifiers) -> bool {
    match code {
        KeyCode::Char('q') | KeyCode::Esc => return true,
        KeyCode::Char('c') if mods.contains(KeyModifiers::CONTROL) => return true,
        KeyCode::Up | KeyCode::Char('k') => v.selected = v.selected.saturating_sub(1),
        KeyCode::Down | KeyCode::Char('j') if v.selected + 1 < v.pending.len() => v.selected += 1,
        KeyCode::Char(ch @ '1'..='9') => {
            let i = (ch as usize) - ('1' as usize);
            if i < v.pending.len() {
                v.selected = i;
            }
        }
        KeyCode::Char('a') => resolve(c, v, true, false),
        KeyCode::Char('A') => resolve(c, v, true, true),
        KeyCode::Char('d') => resolve(c, v, false, false),
        _ => {}
    }
    false
}

/// Runs `rampart watch`.
pub fn run(a: WatchArgs) -> anyhow::Result<i32> {
    let client = connect(&a.server, Duration::from_secs(3))?;
    let mut view = View::default();
    refresh(&client, &mut view);
    let mut term = ratatui::try_init().context("starting the terminal UI")?;
    let result = (|| -> anyhow::Result<()> {
        let mut list = ListState::default();
        let every = Duration::from_millis(a.interval_ms.max(100));
        let mut last = Instant::now();
        loop {
            term.draw(|f| draw(f, &view, &mut list))?;
            let wait = every.saturating_sub(last.elapsed());
            if event::poll(wait)?
                && let Event::Key(k) = event::read()?
                && k.kind == KeyEventKind::Press
                && on_key(&client, &mut view, k.code, k.modifiers)
            {
                return Ok(());
            }
            if last.elapsed() >= every {
                refresh(&client, &mut view);
                last = Instant::now();
            }
        }
    })();
    ratatui::restore();
    result.map(|_| 0)
}
