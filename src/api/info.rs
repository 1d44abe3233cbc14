//! Health, status, policy inspection, reload, the policy REPL and metrics (spec/server.md §11).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::ApiState;
use super::body::{decode, read_body};
use super::error::{ApiError, ApiResult};
use super::metrics::Gauges;
use crate::engine::ToolCall;
use crate::gate::Purpose;

/// `GET /healthz` (no auth).
pub async fn healthz(State(st): State<Arc<ApiState>>) -> Json<Value> {
    Json(json!({
        "service": "rampart",
        "status": "ok",
        "mode": st.gate.mode().as_str(),
        "uptime_seconds": st.gate.uptime().as_secs(),
        "version": super::VERSION,
    }))
}

/// `GET /v1/status` and `GET /v1/policy`.
pub async fn status(State(st): State<Arc<ApiState>>) -> Json<Value> {
    let snap = st.gate.policy.current();
    let counts: Map<String, Value> = st
        .gate
        .call_counts(Duration::from_secs(3600))
        .into_iter()
        .map(|(k, v)| (k, json!(v)))
        .collect();
    let mut m = json!({
        "config_path": snap.config_path,
        "mode": st.gate.mode().as_str(),
        "default_action": snap.compiled.default_action.as_str(),
        "policy_count": snap.policy_count(),
        "rule_count": snap.rule_count(),
        "call_counts": counts,
        "uptime_seconds": st.gate.uptime().as_secs(),
        "version": super::VERSION,
    });
    if let Some(e) = st.gate.policy.last_error() {
        m["reload_error"] = json!(e);
    }
    Json(m)
}

/// `GET /v1/policy/summary`.
pub async fn summary(State(st): State<Arc<ApiState>>) -> Json<Value> {
    let snap = st.gate.policy.current();
    let mut rules = Vec::new();
    for p in &snap.compiled.policies {
        for (i, r) in p.rules.iter().enumerate() {
            let summary = if r.message.is_empty() {
                format!("{} rule {}", r.action.as_str(), i + 1)
            } else {
                r.message.clone()
            };
            rules.push(json!({"name": p.name, "action": r.action.as_str(), "summary": summary}));
        }
    }
    let n = rules.len();
    let da = snap.compiled.default_action.as_str();
    Json(json!({
        "default_action": da,
        "rules": rules,
        "summary": format!("{n} active rules loaded; default action: {da}"),
    }))
}

/// `GET /v1/policies`.
pub async fn policies(State(st): State<Arc<ApiState>>) -> Json<Value> {
    let snap = st.gate.policy.current();
    let list: Vec<Value> = snap
        .compiled
        .policies
        .iter()
        .map(|p| {
            let mut m = json!({
                "name": p.name,
                "priority": p.priority,
                "source_file": p.origin.source,
                "rule_count": p.rules.len(),
            });
            if !p.tools.is_empty() {
                m["match_tools"] = json!(p.tools.iter().map(|t| t.source()).collect::<Vec<_>>());
            }
            if p.agent.source() != "*" && !p.agent.source().is_empty() {
                m["match_agent"] = json!(p.agent.source());
            }
            m
        })
        .collect();
    Json(json!({
        "count": list.len(),
        "policies": list,
        "default_action": snap.compiled.default_action.as_str(),
    }))
}

/// `POST /v1/policy/reload` (1 s cooldown).
pub async fn reload(State(st): State<Arc<ApiState>>) -> ApiResult<Response> {
    {
        let mut last = st.last_reload.lock().unwrap_or_else(|p| p.into_inner());
        if last.is_some_and(|t| t.elapsed() < Duration::from_secs(1)) {
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "reload rate limited, try again in 1 second",
            ));
        }
        *last = Some(Instant::now());
    }
    let gate = st.gate.clone();
    let t = Instant::now();
    let result = tokio::task::spawn_blocking(move || gate.policy.reload())
        .await
        .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "reload task failed"))?;
    match result {
        Ok(r) => {
            st.gate.live.publish(
                &json!({"type": "policy.reloaded", "policies": r.policies, "rules": r.rules}),
            );
            Ok(Json(json!({
                "success": true,
                "policies_loaded": r.policies,
                "rules_total": r.rules,
                "reload_time_ms": t.elapsed().as_millis() as u64,
            }))
            .into_response())
        }
        Err(e) => {
            st.gate
                .live
                .publish(&json!({"type": "policy.reload_failed", "error": e.to_string()}));
            Ok((
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(json!({"success": false, "error": e.to_string()})),
            )
                .into_response())
        }
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct TestRequest {
    command: String,
    tool: Option<String>,
    agent: String,
    session: String,
}

/// `POST /v1/test`: the dashboard's policy REPL (pure evaluation, no audit).
pub async fn test(State(st): State<Arc<ApiState>>, body: Body) -> ApiResult<Json<Value>> {
    let bytes = read_body(body).await?;
    let req: TestRequest =
        decode(&bytes, false).map_err(|_| ApiError::bad_request("invalid request body"))?;
    if req.command.trim().is_empty() {
        return Err(ApiError::bad_request("command is required"));
    }
    let tool = req
        .tool
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| "exec".into());
    let call = match tool.as_str() {
        "read" | "write" | "edit" => ToolCall::path(&tool, &req.command),
        "fetch" | "http" | "web_fetch" | "browser" => ToolCall::url(&tool, &req.command),
        _ => ToolCall::with_param(&tool, "command", &req.command),
    }
    .agent(&req.agent)
    .session(&req.session);
    let d = st.gate.decide(&call, Purpose::Preview, Default::default());
    Ok(Json(json!({
        "command": req.command,
        "tool": tool,
        "action": d.action.as_str(),
        "message": d.message,
        "matched_policies": d.matched_policies,
        "rule": d.winner.as_ref().map(|w| json!({"policy": w.policy, "rule_index": w.rule_index})),
        "suggestions": d.suggestions,
        "policy_scope": "global",
    })))
}

/// `GET /metrics` (only with `--metrics`).
pub async fn metrics(State(st): State<Arc<ApiState>>) -> Response {
    let g = Gauges {
        pending: super::approvals::pending_count(&st),
        policies: st.gate.policy.current().policy_count(),
        uptime: st.gate.uptime().as_secs(),
        sse_clients: st.gate.live.subscribers(),
    };
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        st.metrics.render(&g),
    )
        .into_response()
}
