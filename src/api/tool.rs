//! `POST /v1/tool/{name}` (evaluate at the execution boundary) and `POST /v1/preflight/{name}`
//! (dry run), spec/server.md §3–§4.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::body::Body;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::ApiState;
use super::auth::Identity;
use super::body::{decode, read_body};
use super::error::{ApiError, ApiResult};
use super::tool_input::{ToolRequest, normalize, validate_tool_name};
use super::webhook;
use crate::audit::{AuditEvent, EventResponse};
use crate::engine::{Action, Decision, ToolCall};
use crate::gate::{Mode, Purpose, Scope};

/// Marker replacing a redacted tool response.
pub const REDACTED_RESPONSE: &str = "[REDACTED: sensitive content removed by Rampart]";

/// A decoded, normalised request.
pub struct Prepared {
    /// The body as sent.
    pub req: ToolRequest,
    /// The engine's call.
    pub call: ToolCall,
}

/// Decodes and normalises a tool request body (400 on any problem).
pub async fn prepare(name: &str, id: &Identity, body: Body) -> ApiResult<Prepared> {
    let bytes = read_body(body).await?;
    let req: ToolRequest = decode(&bytes, false)?;
    let tool = validate_tool_name(name).map_err(ApiError::bad_request)?;
    let mut call = normalize(&tool, &req).map_err(ApiError::bad_request)?;
    if !id.bootstrap
        && let Some(agent) = &id.agent
    {
        call.agent = agent.clone();
    }
    Ok(Prepared { req, call })
}

/// The evaluation scope of a credential.
pub fn scope_of(id: &Identity) -> Scope<'_> {
    Scope {
        default_deny: !id.bootstrap,
        policy_filter: id.policy.as_deref(),
    }
}

/// The audit event of a decided call.
pub fn audit_event(call: &ToolCall, d: &Decision) -> AuditEvent {
    AuditEvent::from_call(call, d)
}

fn us(d: &Decision) -> u64 {
    u64::try_from(d.eval_duration.as_micros()).unwrap_or(u64::MAX)
}

/// Builds the base response body of §3.1 step 6.
fn base_body(d: &Decision, audit_id: Option<&str>) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("allowed".into(), json!(d.action.permits()));
    m.insert("decision".into(), json!(d.action.as_str()));
    m.insert("message".into(), json!(d.message));
    m.insert("eval_duration_us".into(), json!(us(d)));
    if let Some(a) = audit_id {
        m.insert("audit_id".into(), json!(a));
    }
    if let Some(p) = d.policy() {
        m.insert("policy".into(), json!(p));
    }
    m.insert("suggestions".into(), json!(d.suggestions));
    m
}

/// Monitor-mode rewrite: the call proceeds, the real decision is reported alongside.
fn monitor_rewrite(m: &mut Map<String, Value>, d: &Decision) {
    m.insert("enforced".into(), json!(false));
    m.insert("policy_decision".into(), json!(d.action.as_str()));
    m.insert("policy_message".into(), json!(d.message));
    m.insert("allowed".into(), json!(true));
    if !d.action.permits() {
        m.insert("decision".into(), json!("allow"));
        let msg = if d.message.is_empty() {
            format!(
                "monitor mode observed {}; action allowed",
                d.action.as_str()
            )
        } else {
            format!(
                "monitor mode observed {}; action allowed: {}",
                d.action.as_str(),
                d.message
            )
        };
        m.insert("message".into(), json!(msg));
    }
}

/// Records an event; in enforce mode a failure is a 503 with `refusal`.
pub async fn record(
    st: &ApiState,
    event: AuditEvent,
    refusal: &str,
    required: bool,
) -> ApiResult<Option<String>> {
    match st.gate.record(event).await {
        Ok(r) => Ok(r.map(|r| r.id)),
        Err(e) => {
            st.metrics.audit_failures.fetch_add(1, Ordering::Relaxed);
            eprintln!("rampart: audit write failed: {e}");
            if required {
                Err(ApiError::unavailable(refusal))
            } else {
                Ok(None)
            }
        }
    }
}

/// A JSON object response with `status`.
pub fn reply(status: StatusCode, body: Map<String, Value>) -> Response {
    (status, Json(Value::Object(body))).into_response()
}

/// `POST /v1/tool/{name}`.
pub async fn tool(
    State(st): State<Arc<ApiState>>,
    Path(name): Path<String>,
    Extension(id): Extension<Identity>,
    body: Body,
) -> ApiResult<Response> {
    let Prepared { req, call } = prepare(&name, &id, body).await?;
    if req.verification {
        return Err(ApiError::bad_request(
            "verification mode is only available on the preflight endpoint",
        ));
    }
    let mode = st.gate.mode();
    let d = st.gate.decide(&call, Purpose::Enforce, scope_of(&id));
    st.metrics
        .observe(d.action.as_str(), d.policy(), d.eval_duration);
    let enforce = mode == Mode::Enforce;
    let audit_id = record(
        &st,
        audit_event(&call, &d),
        "audit storage is unavailable; refusing tool call",
        enforce,
    )
    .await?;
    super::notify::decision(&st, &call, &d);
    let mut body = base_body(&d, audit_id.as_deref());
    if mode == Mode::Monitor {
        monitor_rewrite(&mut body, &d);
    }
    if enforce {
        match d.action {
            Action::Deny => return Ok(reply(StatusCode::FORBIDDEN, body)),
            Action::Webhook => {
                let (action, message) = {
                    let call2 = call.clone();
                    let cfg = d.webhook.clone();
                    let policy = d.policy().unwrap_or("").to_string();
                    tokio::task::spawn_blocking(move || {
                        webhook::call(cfg.as_ref(), &call2, &policy)
                    })
                    .await
                    .unwrap_or((Action::Deny, "webhook task failed; denying".into()))
                };
                let mut fin = d.clone();
                fin.action = action;
                fin.message = message;
                let audit_id = record(
                    &st,
                    audit_event(&call, &fin),
                    "audit storage is unavailable; refusing tool call",
                    true,
                )
                .await?;
                body.insert("allowed".into(), json!(fin.action.permits()));
                body.insert("decision".into(), json!(fin.action.as_str()));
                body.insert("message".into(), json!(fin.message));
                if let Some(a) = audit_id {
                    body.insert("audit_id".into(), json!(a));
                }
                if fin.action == Action::Deny {
                    return Ok(reply(StatusCode::FORBIDDEN, body));
                }
            }
            Action::Ask => {
                return super::approvals::ask_path(&st, &id, &req, &call, &d, body).await;
            }
            _ => {}
        }
    }
    scan_response(&st, &req, &call, mode, &mut body, audit_id.as_deref()).await?;
    Ok(reply(StatusCode::OK, body))
}

/// Response-side evaluation (§3.4): scan the tool's output, redact in enforce mode.
pub async fn scan_response(
    st: &ApiState,
    req: &ToolRequest,
    call: &ToolCall,
    mode: Mode,
    body: &mut Map<String, Value>,
    request_audit_id: Option<&str>,
) -> ApiResult<()> {
    let Some(resp) = req.response.as_deref().filter(|r| !r.is_empty()) else {
        return Ok(());
    };
    body.insert("response".into(), json!(resp));
    if mode == Mode::Disabled {
        return Ok(());
    }
    let snap = st.gate.policy.current();
    let rd = snap.compiled.evaluate_response(call, resp);
    let denied = rd.action == Action::Deny;
    let mut ev = audit_event(call, &rd);
    let req_map = ev.request.get_or_insert_with(Map::new);
    req_map.insert("rampart_phase".into(), json!("response"));
    req_map.insert("response_bytes".into(), json!(resp.len()));
    if let Some(a) = request_audit_id {
        req_map.insert("request_audit_id".into(), json!(a));
    }
    let mut flags = vec!["response-evaluated".to_string()];
    if denied {
        flags.push(if mode == Mode::Enforce {
            "response-redacted".into()
        } else {
            "response-observed-deny".into()
        });
    }
    ev.response = Some(EventResponse {
        exit_code: None,
        duration_ms: 0,
        flags,
    });
    record(
        st,
        ev,
        "audit storage is unavailable; refusing tool response",
        mode == Mode::Enforce,
    )
    .await?;
    if denied {
        if mode == Mode::Enforce {
            body.insert("allowed".into(), json!(false));
            body.insert("decision".into(), json!("deny"));
            body.insert("message".into(), json!(rd.message));
            body.insert("eval_duration_us".into(), json!(us(&rd)));
            if let Some(p) = rd.policy() {
                body.insert("policy".into(), json!(p));
            }
            body.insert("response".into(), json!(REDACTED_RESPONSE));
        } else {
            body.insert("enforced".into(), json!(false));
            body.insert("response_policy_decision".into(), json!("deny"));
            body.insert("response_policy_message".into(), json!(rd.message));
            body.insert("response_eval_duration_us".into(), json!(us(&rd)));
            if let Some(p) = rd.policy() {
                body.insert("response_policy".into(), json!(p));
            }
        }
    }
    Ok(())
}

/// `POST /v1/preflight/{name}`.
pub async fn preflight(
    State(st): State<Arc<ApiState>>,
    Path(name): Path<String>,
    Extension(id): Extension<Identity>,
    body: Body,
) -> ApiResult<Response> {
    let Prepared { req, call } = prepare(&name, &id, body).await?;
    if req.verification && !id.bootstrap {
        return Err(ApiError::forbidden(
            "verification mode requires the local admin token",
        ));
    }
    if req.verification && req.enforce {
        return Err(ApiError::bad_request(
            "verification and enforce modes cannot be combined",
        ));
    }
    st.metrics.preflights.fetch_add(1, Ordering::Relaxed);
    let mode = st.gate.mode();
    let purpose = if req.enforce {
        Purpose::Enforce
    } else {
        Purpose::Preview
    };
    let d = st.gate.decide(&call, purpose, scope_of(&id));
    let audit_id = if req.verification {
        None
    } else {
        record(
            &st,
            audit_event(&call, &d),
            "audit storage is unavailable; refusing tool call",
            req.enforce && mode == Mode::Enforce,
        )
        .await?
    };
    let mut m = Map::new();
    m.insert("allowed".into(), json!(d.action.permits()));
    m.insert("decision".into(), json!(d.action.as_str()));
    m.insert("message".into(), json!(d.message));
    m.insert("matched_policies".into(), json!(d.matched_policies));
    m.insert("eval_duration_us".into(), json!(us(&d)));
    m.insert(
        "enforced".into(),
        json!(req.enforce && mode == Mode::Enforce),
    );
    m.insert("enforcement_requested".into(), json!(req.enforce));
    if let Some(a) = audit_id {
        m.insert("audit_id".into(), json!(a));
    }
    if !d.suggestions.is_empty() {
        m.insert("suggestions".into(), json!(d.suggestions));
    }
    if req.enforce && mode == Mode::Monitor {
        monitor_rewrite(&mut m, &d);
    }
    Ok(reply(StatusCode::OK, m))
}
