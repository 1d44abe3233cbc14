//! The audit API (spec/server.md §11.8): events of one UTC day (newest first, with a stable
//! cursor as well as offsets), the days that have events, raw export and counts.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{NaiveDate, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiState;
use super::error::{ApiError, ApiResult};
use crate::audit::files::{self, ChainFile};
use crate::audit::reader::{Item, read_file_from};

/// Largest page.
pub const MAX_LIMIT: usize = 500;
/// Longest stats range in days.
pub const MAX_STATS_DAYS: i64 = 366;

fn audit_dir(st: &ApiState) -> ApiResult<PathBuf> {
    st.gate
        .audit()
        .map(|s| s.dir().to_path_buf())
        .ok_or_else(|| ApiError::unavailable("audit directory not configured"))
}

fn parse_day(s: Option<&str>, what: &str) -> ApiResult<NaiveDate> {
    match s.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(Utc::now().date_naive()),
        Some(d) => NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map_err(|_| ApiError::bad_request(format!("invalid {what}"))),
    }
}

fn day_files(dir: &Path, day: NaiveDate) -> ApiResult<Vec<ChainFile>> {
    let list = files::list_chain_files(dir).map_err(internal)?;
    Ok(list.into_iter().filter(|c| c.date == day).collect())
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

/// Reads every event of `files` (continuation headers are not events and never appear).
fn read_events(files: &[ChainFile], mut f: impl FnMut(Value)) -> ApiResult<()> {
    for cf in files {
        read_file_from(&cf.path, 0, 0, |it| {
            if let Item::Event(_, raw) = it
                && let Ok(v) = serde_json::from_str::<Value>(&raw)
            {
                f(v);
            }
            true
        })
        .map_err(internal)?;
    }
    Ok(())
}

/// Query of `GET /v1/audit/events`.
#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct EventsQuery {
    date: Option<String>,
    limit: Option<String>,
    offset: Option<String>,
    /// Cursor: return events older than this event id.
    before: Option<String>,
    tool: Option<String>,
    action: Option<String>,
    agent: Option<String>,
    session: Option<String>,
}

fn field_is(v: &Value, path: &[&str], want: &Option<String>) -> bool {
    let Some(w) = want.as_deref().filter(|w| !w.is_empty()) else {
        return true;
    };
    let mut cur = v;
    for p in path {
        cur = &cur[*p];
    }
    let got = cur.as_str();
    // `require_approval` is the legacy spelling of `ask`.
    let canon = |s: &str| if s == "require_approval" { "ask" } else { s }.to_string();
    got.map(canon) == Some(canon(w))
}

/// `GET /v1/audit/events`.
pub async fn events(
    State(st): State<Arc<ApiState>>,
    Query(q): Query<EventsQuery>,
) -> ApiResult<Json<Value>> {
    let dir = audit_dir(&st)?;
    let day = parse_day(q.date.as_deref(), "date")?;
    let limit = q
        .limit
        .as_deref()
        .and_then(|l| l.parse::<i64>().ok())
        .filter(|l| *l > 0)
        .map_or(50, |l| (l as usize).min(MAX_LIMIT));
    let offset = q
        .offset
        .as_deref()
        .and_then(|o| o.parse::<usize>().ok())
        .unwrap_or(0);
    tokio::task::spawn_blocking(move || {
        let files = day_files(&dir, day)?;
        let mut total = 0usize;
        let mut kept = Vec::new();
        read_events(&files, |v| {
            total += 1;
            if field_is(&v, &["tool"], &q.tool)
                && field_is(&v, &["decision", "action"], &q.action)
                && field_is(&v, &["agent"], &q.agent)
                && field_is(&v, &["session"], &q.session)
            {
                kept.push(v);
            }
        })?;
        kept.reverse();
        let start = match q.before.as_deref().filter(|b| !b.is_empty()) {
            Some(id) => kept
                .iter()
                .position(|v| v["id"].as_str() == Some(id))
                .map_or(kept.len(), |i| i + 1),
            None => offset.min(kept.len()),
        };
        let end = (start + limit).min(kept.len());
        let page: Vec<Value> = kept[start..end].to_vec();
        let more = end < kept.len();
        let next_cursor = if more {
            page.last()
                .and_then(|v| v["id"].as_str())
                .map(str::to_string)
        } else {
            None
        };
        Ok(Json(json!({
            "events": page,
            "total_in_file": total,
            "next_offset": if more { end } else { 0 },
            "next_cursor": next_cursor,
            "has_more": more,
            "date": day.format("%Y-%m-%d").to_string(),
        })))
    })
    .await
    .map_err(internal)?
}

/// `GET /v1/audit/dates`.
pub async fn dates(State(st): State<Arc<ApiState>>) -> ApiResult<Json<Value>> {
    let dir = audit_dir(&st)?;
    let list = files::list_chain_files(&dir).map_err(internal)?;
    let mut days: Vec<String> = list
        .iter()
        .map(|c| c.date.format("%Y-%m-%d").to_string())
        .collect();
    days.sort();
    days.dedup();
    days.reverse();
    Ok(Json(json!({"dates": days, "configured": true})))
}

/// Query with a `date`.
#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct DateQuery {
    date: Option<String>,
}

/// `GET /v1/audit/export?date=`: the day's raw JSONL.
pub async fn export(
    State(st): State<Arc<ApiState>>,
    Query(q): Query<DateQuery>,
) -> ApiResult<Response> {
    let dir = audit_dir(&st)?;
    let Some(d) = q.date.as_deref().filter(|d| !d.trim().is_empty()) else {
        return Err(ApiError::bad_request("date is required (YYYY-MM-DD)"));
    };
    let day = parse_day(Some(d), "date")?;
    let name = day.format("%Y-%m-%d").to_string();
    let bytes = tokio::task::spawn_blocking(move || -> ApiResult<Vec<u8>> {
        let files = day_files(&dir, day)?;
        if files.is_empty() {
            return Err(ApiError::not_found(format!(
                "no audit log found for {name}"
            )));
        }
        // Open (and check) every file before sending a byte.
        let mut opened = Vec::new();
        for cf in &files {
            opened.push(
                files::open_read(&cf.path)
                    .map_err(|_| internal("audit export contains an unsafe file entry"))?,
            );
        }
        let mut out = Vec::new();
        for mut f in opened {
            f.read_to_end(&mut out).map_err(internal)?;
        }
        Ok(out)
    })
    .await
    .map_err(internal)??;
    let disp = format!(
        "attachment; filename=\"rampart-audit-{}.jsonl\"",
        day.format("%Y-%m-%d")
    );
    Ok((
        [
            (header::CONTENT_TYPE, "application/jsonl".to_string()),
            (header::CONTENT_DISPOSITION, disp),
        ],
        bytes,
    )
        .into_response())
}

/// Query of `GET /v1/audit/stats`.
#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct StatsQuery {
    from: Option<String>,
    to: Option<String>,
}

/// `GET /v1/audit/stats?from=&to=`.
pub async fn stats(
    State(st): State<Arc<ApiState>>,
    Query(q): Query<StatsQuery>,
) -> ApiResult<Json<Value>> {
    let dir = audit_dir(&st)?;
    let from = parse_day(q.from.as_deref(), "from date")?;
    let to = parse_day(q.to.as_deref(), "to date")?;
    if to < from {
        return Err(ApiError::bad_request(
            "to date must not be before from date",
        ));
    }
    if (to - from).num_days() >= MAX_STATS_DAYS {
        return Err(ApiError::bad_request(
            "audit stats range cannot exceed 366 days",
        ));
    }
    tokio::task::spawn_blocking(move || {
        let list = files::list_chain_files(&dir).map_err(internal)?;
        let files: Vec<ChainFile> = list
            .into_iter()
            .filter(|c| c.date >= from && c.date <= to)
            .collect();
        let mut total = 0u64;
        let mut maps: [BTreeMap<String, u64>; 4] = Default::default();
        read_events(&files, |v| {
            total += 1;
            let keys = [
                v["decision"]["action"].as_str(),
                v["tool"].as_str(),
                v["agent"].as_str(),
                v["session"].as_str(),
            ];
            for (m, k) in maps.iter_mut().zip(keys) {
                if let Some(k) = k.filter(|k| !k.is_empty()) {
                    *m.entry(k.to_string()).or_default() += 1;
                }
            }
        })?;
        let [a, t, g, s] = maps;
        Ok(Json(json!({
            "total_events": total,
            "by_action": a,
            "by_tool": t,
            "by_agent": g,
            "by_session": s,
        })))
    })
    .await
    .map_err(internal)?
}
