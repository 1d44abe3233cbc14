//! Learned and auto-allowed rules (spec/server.md §11.7): list, revoke, learn. Rules are exact
//! (glob metacharacters escaped), written to Rampart-owned files in the policy directory, and
//! the policy is reloaded before the response.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiState;
use super::body::read_body;
use super::error::{ApiError, ApiResult};
use crate::engine::user_rules::{self, AUTO_ALLOWED, RuleFileError, USER_OVERRIDES};

/// Minimum spacing between learned-rule writes.
pub const LEARN_INTERVAL: Duration = Duration::from_millis(200);

fn rules_file(st: &ApiState, name: &str) -> ApiResult<std::path::PathBuf> {
    st.config
        .rules_dir
        .as_ref()
        .map(|d| d.join(name))
        .ok_or_else(|| ApiError::unavailable("no policy directory configured for rule files"))
}

fn file_error(e: RuleFileError) -> ApiError {
    match e {
        RuleFileError::NotFound(n) => ApiError::not_found(format!("no rule with name {n:?}")),
        RuleFileError::Exists(_) => ApiError::new(StatusCode::CONFLICT, e.to_string()),
        RuleFileError::Unsupported(_) => ApiError::bad_request(e.to_string()),
        other => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, other.to_string()),
    }
}

/// Reloads after a rule-file change; a failed reload is a 500 (the old policy stays).
pub async fn reload_after_write(st: &Arc<ApiState>) -> ApiResult<()> {
    let gate = st.gate.clone();
    tokio::task::spawn_blocking(move || gate.policy.reload())
        .await
        .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "reload task failed"))?
        .map(|_| ())
        .map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("rule written but policy reload failed: {e}"),
            )
        })
}

/// The `created` time encoded in a rule name, if any (`...-YYYYMMDDTHHMMSSZ-...`).
fn created_of(name: &str) -> Option<String> {
    name.split('-').find_map(|part| {
        chrono::NaiveDateTime::parse_from_str(part, "%Y%m%dT%H%M%SZ")
            .ok()
            .map(|t| {
                t.and_utc()
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            })
    })
}

/// `GET /v1/rules/auto-allowed`.
pub async fn list_auto_allowed(State(st): State<Arc<ApiState>>) -> ApiResult<Json<Value>> {
    let path = rules_file(&st, AUTO_ALLOWED)?;
    let rules = user_rules::list(&path).map_err(file_error)?;
    let out: Vec<Value> = rules
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut v = json!({
                "index": i,
                "name": r.name,
                "tool": r.tool,
                "command_pattern": r.command_pattern.clone().unwrap_or_default(),
            });
            if let Some(p) = &r.path_pattern {
                v["path_pattern"] = json!(p);
            }
            if let Some(a) = &r.agent {
                v["agent"] = json!(a);
            }
            if let Some(c) = created_of(&r.name) {
                v["created"] = json!(c);
            }
            v
        })
        .collect();
    Ok(Json(json!({"rules": out})))
}

/// `DELETE /v1/rules/auto-allowed/{name}`.
pub async fn delete_auto_allowed(
    State(st): State<Arc<ApiState>>,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    let path = rules_file(&st, AUTO_ALLOWED)?;
    user_rules::remove(&path, &name).map_err(file_error)?;
    reload_after_write(&st).await?;
    Ok(Json(json!({"deleted": true})))
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct LearnRequest {
    tool: String,
    args: String,
    decision: String,
    source: String,
    agent: String,
    session: String,
}

/// `POST /v1/rules/learn`: an exact allow rule in `user-overrides.yaml`.
pub async fn learn(State(st): State<Arc<ApiState>>, body: Body) -> ApiResult<Response> {
    let bytes = read_body(body).await?;
    let req: LearnRequest = super::body::decode(&bytes, false)
        .map_err(|_| ApiError::bad_request("invalid JSON body"))?;
    if req.tool.trim().is_empty() || req.args.trim().is_empty() {
        return Err(ApiError::bad_request("tool and args are required"));
    }
    if req.decision != "allow" {
        return Err(ApiError::bad_request("decision must be \"allow\""));
    }
    let source = if req.source.is_empty() {
        "api".to_string()
    } else {
        req.source.clone()
    };
    let rule = user_rules::exact_rule(
        &req.tool,
        &req.args,
        Some(req.agent.as_str()).filter(|a| !a.is_empty()),
        "user-allow",
        &format!("User allow (always) via {source}"),
    )
    .map_err(file_error)?;
    let recent = st
        .last_learn
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .is_some_and(|t| t.elapsed() < LEARN_INTERVAL);
    if recent {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "learn rate limited — slow down rule writes",
        ));
    }
    let path = rules_file(&st, USER_OVERRIDES)?;
    let body = json!({
        "rule_name": rule.name,
        "tool": rule.tool,
        "pattern": rule.command_pattern.clone().or(rule.path_pattern.clone()),
        "decision": "allow",
        "source": source,
        "agent": rule.agent,
    });
    match user_rules::append(&path, &rule) {
        Ok(()) => {}
        Err(RuleFileError::Exists(_)) => {
            return Ok((StatusCode::CONFLICT, Json(body)).into_response());
        }
        Err(e) => return Err(file_error(e)),
    }
    *st.last_learn.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
    reload_after_write(&st).await?;
    st.gate.live.publish(&json!({
        "type": "rule.learned",
        "rule_name": body["rule_name"],
        "tool": body["tool"],
        "pattern": body["pattern"],
        "decision": "allow",
    }));
    let _ = req.session;
    Ok((StatusCode::CREATED, Json(body)).into_response())
}
