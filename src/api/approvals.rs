//! Approval routes and the `/v1/tool` approval path (spec/server.md §3.2, §5): create, list,
//! get (with long-poll), resolve by token or signed link (with a clickable confirmation page),
//! bulk resolve, replay and run grants, and "always allow" persistence.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use chrono::{SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::ApiState;
use super::auth::{Identity, Need, authenticate_parts};
use super::body::{decode, read_body};
use super::error::{ApiError, ApiResult};
use super::tool::{audit_event, record, reply, scan_response};
use super::tool_input::ToolRequest;
use crate::approval::{
    Approval, ApprovalError, ApprovalStore, ApprovalSummary, BulkRequest, CallSnapshot,
    CreateOutcome, Decision as LinkDecision, NewApproval, Resolution, ResolveError, Status,
    StoreHooks,
};
use crate::audit::AuditEvent;
use crate::engine::user_rules::{self, AUTO_ALLOWED};
use crate::engine::{Action, Decision, ToolCall};
use crate::gate::{Gate, Mode};

/// Longest long-poll a caller may ask for.
pub const MAX_WAIT: Duration = Duration::from_secs(300);

/// Store hooks: live-stream notifications and expiry audit events.
#[derive(Debug)]
pub struct GateHooks(pub Arc<Gate>);

impl StoreHooks for GateHooks {
    fn changed(&self) {
        self.0.live.approvals_changed();
    }
    fn expired(&self, a: &Approval) -> Result<(), String> {
        let mut ev = AuditEvent::new(&a.call.agent, &a.call.session, &a.call.tool, "deny");
        ev.run_id = a.call.run_id.clone();
        ev.tool_call_id = a.call.tool_call_id.clone();
        ev.decision.message = "approval timed out — command blocked".into();
        let mut req = Map::new();
        req.insert("action".into(), json!("approval_expired"));
        req.insert("tool".into(), json!(a.call.tool));
        req.insert("command".into(), json!(a.command()));
        req.insert("approval_id".into(), json!(a.id));
        ev.request = Some(req);
        self.0
            .record_blocking(ev)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

fn store(st: &ApiState) -> ApiResult<&Arc<ApprovalStore>> {
    st.approvals
        .as_ref()
        .ok_or_else(|| ApiError::unavailable("approval service is not available"))
}

/// Pending approvals (for metrics).
pub fn pending_count(st: &ApiState) -> usize {
    st.approvals.as_ref().map_or(0, |s| s.pending().len())
}

fn rfc3339(t: &chrono::DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn snapshot(call: &ToolCall) -> CallSnapshot {
    CallSnapshot {
        tool: call.tool.clone(),
        agent: call.agent.clone(),
        agent_depth: call.agent_depth,
        session: call.session.clone(),
        run_id: call.run_id.clone().unwrap_or_default(),
        tool_call_id: call.tool_call_id.clone().unwrap_or_default(),
        workdir: call.workdir.clone().unwrap_or_default(),
        params: call.params.clone(),
        input: call.input.clone(),
    }
}

fn approval_error(e: ApprovalError) -> ApiError {
    let msg = e.to_string();
    ApiError::unavailable(msg)
}

fn hosted_requested(req: &ToolRequest) -> bool {
    let mode = req
        .approval_owner
        .as_ref()
        .and_then(|o| o.get("mode"))
        .and_then(Value::as_str)
        .is_some_and(|m| m.eq_ignore_ascii_case("hosted"));
    mode || req.openclaw_hosted || req.skip_pending_approval
}

/// Hosted approval (§3.2): the host owns the prompt; Rampart only describes it.
fn hosted(
    st: &ApiState,
    req: &ToolRequest,
    d: &Decision,
    mut body: Map<String, Value>,
) -> ApiResult<Response> {
    let owner = req.approval_owner.clone().unwrap_or_default();
    let is_hosted_mode = owner
        .get("mode")
        .and_then(Value::as_str)
        .is_some_and(|m| m.eq_ignore_ascii_case("hosted"));
    let owner_out: Map<String, Value> = if is_hosted_mode {
        let host = owner.get("host").and_then(Value::as_str).unwrap_or("");
        if host.trim().is_empty() {
            return Err(ApiError::bad_request(
                "hosted approval requires approval_owner.host",
            ));
        }
        if owner.get("supports_exact_resume") != Some(&json!(true)) {
            return Err(ApiError::bad_request(
                "hosted approval requires approval_owner.supports_exact_resume=true",
            ));
        }
        owner
            .iter()
            .filter(|(_, v)| !matches!(v, Value::Null) && v.as_str() != Some(""))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    } else {
        if !(req.openclaw_hosted && req.skip_pending_approval) {
            return Err(ApiError::bad_request(
                "legacy hosted approval requires both openclaw_hosted and skip_pending_approval",
            ));
        }
        let mut m = Map::new();
        m.insert("host".into(), json!("openclaw"));
        m.insert("mode".into(), json!("hosted"));
        m
    };
    let timeout = st
        .approvals
        .as_ref()
        .map_or(Duration::from_secs(120), |s| s.timeout());
    let mut scopes = vec!["once", "session"];
    let always = owner.get("supports_allow_always") == Some(&json!(true));
    if always {
        scopes.push("always");
    }
    let expires = Utc::now() + chrono::Duration::from_std(timeout).unwrap_or_default();
    body.insert("approval_mode".into(), json!("hosted"));
    body.insert("approval_owner".into(), Value::Object(owner_out));
    if !req.tool_call_id.is_empty() {
        body.insert("tool_call_id".into(), json!(req.tool_call_id));
    }
    body.insert(
        "approval".into(),
        json!({
            "reason": d.message,
            "scope_options": scopes,
            "allow_always_supported": always,
            "timeout_ms": timeout.as_millis() as u64,
            "expires_at": rfc3339(&expires),
        }),
    );
    Ok(reply(StatusCode::OK, body))
}

/// The approval path of an `ask` decision in enforce mode.
pub async fn ask_path(
    st: &Arc<ApiState>,
    id: &Identity,
    req: &ToolRequest,
    call: &ToolCall,
    d: &Decision,
    mut body: Map<String, Value>,
) -> ApiResult<Response> {
    if hosted_requested(req) {
        if id.bootstrap {
            return hosted(st, req, d, body);
        }
        eprintln!("rampart: hosted-approval flags from a non-bootstrap credential ignored");
    }
    let store = store(st)?.clone();
    let snap = snapshot(call);
    // Exact one-shot resume of an approved identical call.
    let grant = store
        .consume_replay(&snap, &id.token_hash)
        .map_err(|_| ApiError::unavailable("approval state is unavailable; refusing tool call"))?;
    if let Some(g) = grant {
        return allow_after_approval(
            st,
            req,
            call,
            d,
            body,
            &g.approval_id,
            &g.resolved_by,
            "approved once via Rampart approval",
        )
        .await;
    }
    let created = store.create(NewApproval {
        call: snap.clone(),
        message: d.message.clone(),
        matched_policies: d.matched_policies.clone(),
        owner_token_hash: id.token_hash.clone(),
    });
    let approval = match created {
        Err(ApprovalError::Full { .. }) => {
            return Err(ApiError::unavailable(
                "approval: too many pending requests (limit: 1000)",
            ));
        }
        Err(e) => return Err(approval_error(e)),
        Ok(CreateOutcome::RunGrant { .. }) => {
            let mut fin = d.clone();
            fin.action = Action::Allow;
            fin.message = "auto-approved by bulk-resolve".into();
            let aid = record(
                st,
                audit_event(call, &fin),
                "audit storage is unavailable; refusing tool call",
                true,
            )
            .await?;
            body.insert("allowed".into(), json!(true));
            body.insert("decision".into(), json!("allow"));
            body.insert("message".into(), json!(fin.message));
            body.insert("policy".into(), json!("auto-approved"));
            if let Some(a) = aid {
                body.insert("audit_id".into(), json!(a));
            }
            scan_response(st, req, call, Mode::Enforce, &mut body, None).await?;
            return Ok(reply(StatusCode::OK, body));
        }
        Ok(CreateOutcome::Created(a)) => {
            st.metrics
                .approvals_created
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            super::notify::approval(st, &a);
            a
        }
        Ok(CreateOutcome::Deduped(a)) => a,
    };
    // Long-poll: hold this request (only this one) until a human answers or the wait ends.
    let wait = req
        .wait_seconds
        .filter(|w| w.is_finite() && *w > 0.0)
        .map(|w| Duration::from_secs_f64(w).min(MAX_WAIT));
    if let Some(w) = wait {
        let stop = st.shutdown.clone();
        let done = tokio::select! {
            r = store.wait(&approval.id, w) => r,
            _ = stop.cancelled() => None,
        };
        if let Some(a) = done {
            match a.status {
                Status::Approved => {
                    // Use up the replay grant so the approval authorizes exactly this call.
                    let _ = store.consume_replay(&snap, &id.token_hash);
                    let by = a.resolved_by.clone().unwrap_or_default();
                    return allow_after_approval(
                        st,
                        req,
                        call,
                        d,
                        body,
                        &a.id,
                        &by,
                        "approved via Rampart approval",
                    )
                    .await;
                }
                Status::Denied | Status::Expired => {
                    let by = a.resolved_by.clone().unwrap_or_default();
                    let msg = if a.status == Status::Expired {
                        "approval timed out — command blocked".to_string()
                    } else {
                        format!("denied by {by}")
                    };
                    body.insert("allowed".into(), json!(false));
                    body.insert("decision".into(), json!("deny"));
                    body.insert("message".into(), json!(msg));
                    body.insert("approval_id".into(), json!(a.id));
                    body.insert("approval_status".into(), json!(a.status.as_str()));
                    return Ok(reply(StatusCode::FORBIDDEN, body));
                }
                Status::Pending => {}
            }
        }
    }
    body.insert("approval_id".into(), json!(approval.id));
    body.insert("approval_status".into(), json!("pending"));
    body.insert("expires_at".into(), json!(rfc3339(&approval.expires_at)));
    Ok(reply(StatusCode::ACCEPTED, body))
}

#[allow(clippy::too_many_arguments)]
async fn allow_after_approval(
    st: &Arc<ApiState>,
    req: &ToolRequest,
    call: &ToolCall,
    d: &Decision,
    mut body: Map<String, Value>,
    approval_id: &str,
    resolved_by: &str,
    message: &str,
) -> ApiResult<Response> {
    let mut fin = d.clone();
    fin.action = Action::Allow;
    fin.message = message.to_string();
    let ask_audit_id = body.get("audit_id").cloned();
    let mut ev = audit_event(call, &fin);
    let r = ev.request.get_or_insert_with(Map::new);
    r.insert("approval_id".into(), json!(approval_id));
    r.insert("approval_status".into(), json!("approved"));
    r.insert("approval_scope".into(), json!("once"));
    r.insert("approval_resolved_by".into(), json!(resolved_by));
    if let Some(a) = &ask_audit_id {
        r.insert("approval_policy_audit_id".into(), a.clone());
    }
    let aid = record(
        st,
        ev,
        "audit storage is unavailable; refusing tool call",
        true,
    )
    .await?;
    body.insert("allowed".into(), json!(true));
    body.insert("decision".into(), json!("allow"));
    body.insert("message".into(), json!(message));
    body.insert("approval_id".into(), json!(approval_id));
    body.insert("approval_status".into(), json!("approved"));
    body.insert("approval_scope".into(), json!("once"));
    body.insert("approval_resolved_by".into(), json!(resolved_by));
    if let Some(a) = ask_audit_id {
        body.insert("approval_policy_audit_id".into(), a);
    }
    if let Some(a) = aid {
        body.insert("audit_id".into(), json!(a));
    }
    scan_response(st, req, call, Mode::Enforce, &mut body, None).await?;
    Ok(reply(StatusCode::OK, body))
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct CreateRequest {
    tool: String,
    command: String,
    path: String,
    agent: String,
    session: String,
    message: String,
    run_id: String,
    tool_call_id: String,
}

/// `POST /v1/approvals` (admin): an external approval (native hooks).
pub async fn create(
    State(st): State<Arc<ApiState>>,
    Extension(id): Extension<Identity>,
    body: Body,
) -> ApiResult<Response> {
    let bytes = read_body(body).await?;
    let r: CreateRequest = decode(&bytes, false)?;
    if r.tool.trim().is_empty() {
        return Err(ApiError::bad_request("tool is required"));
    }
    let store = store(&st)?;
    let mut params = Map::new();
    if !r.command.is_empty() {
        params.insert("command".into(), json!(r.command));
    }
    if !r.path.is_empty() {
        params.insert("path".into(), json!(r.path));
    }
    let call = CallSnapshot {
        tool: r.tool.clone(),
        agent: r.agent.clone(),
        session: if r.session.is_empty() {
            "hook".into()
        } else {
            r.session.clone()
        },
        run_id: r.run_id.clone(),
        tool_call_id: r.tool_call_id.clone(),
        params,
        ..CallSnapshot::default()
    };
    match store.create(NewApproval {
        call,
        message: r.message.clone(),
        matched_policies: Vec::new(),
        owner_token_hash: id.token_hash.clone(),
    }) {
        Ok(CreateOutcome::Created(a)) | Ok(CreateOutcome::Deduped(a)) => Ok((
            StatusCode::CREATED,
            Json(json!({"id": a.id, "status": "pending", "expires_at": rfc3339(&a.expires_at)})),
        )
            .into_response()),
        Ok(CreateOutcome::RunGrant { expires_at }) => Ok(Json(json!({
            "id": ulid::Ulid::generate().to_string(),
            "status": "approved",
            "message": "auto-approved by bulk-resolve",
            "expires_at": expires_at.to_rfc3339_opts(SecondsFormat::Nanos, true),
        }))
        .into_response()),
        Err(ApprovalError::Full { .. }) => Err(ApiError::unavailable(
            "approval: too many pending requests (limit: 1000)",
        )),
        Err(e) => Err(approval_error(e)),
    }
}

/// `GET /v1/approvals`.
pub async fn list(State(st): State<Arc<ApiState>>) -> ApiResult<Json<Value>> {
    let store = store(&st)?;
    let items: Vec<ApprovalSummary> = store.pending().iter().map(ApprovalSummary::from).collect();
    Ok(Json(json!({
        "approvals": items,
        "run_groups": store.run_groups(),
        "run_grant_ttl_ms": store.timeout().as_millis() as u64,
    })))
}

fn detail(a: &Approval) -> Value {
    let mut v = serde_json::to_value(ApprovalSummary::from(a)).unwrap_or(Value::Null);
    if let Some(t) = &a.resolved_at {
        v["resolved_at"] = json!(rfc3339(t));
    }
    if let Some(b) = &a.resolved_by {
        v["resolved_by"] = json!(b);
    }
    if a.status != Status::Pending {
        v["persisted"] = json!(a.persisted);
    }
    v
}

/// Query of `GET /v1/approvals/{id}`.
#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct GetQuery {
    /// Seconds to wait for a resolution (long-poll).
    wait: Option<f64>,
}

/// Signed (approve, deny) link pair for an approval; for admins and notifications only, never
/// in the agent's response.
pub fn signed_links(st: &ApiState, a: &Approval) -> Option<(String, String)> {
    let signer = st.signer.as_ref()?;
    let base = st
        .config
        .resolve_base_url
        .clone()
        .unwrap_or_else(|| format!("http://localhost:{}", st.config.port));
    let exp = a.expires_at.timestamp();
    Some((
        signer.resolve_url(&base, &a.id, LinkDecision::Approve, exp),
        signer.resolve_url(&base, &a.id, LinkDecision::Deny, exp),
    ))
}

/// `GET /v1/approvals/{id}[?wait=SECONDS]`.
pub async fn get_one(
    State(st): State<Arc<ApiState>>,
    Path(aid): Path<String>,
    Query(q): Query<GetQuery>,
) -> ApiResult<Json<Value>> {
    let store = store(&st)?.clone();
    let Some(mut a) = store.get(&aid) else {
        return Err(ApiError::not_found("approval not found"));
    };
    if let Some(w) = q.wait.filter(|w| w.is_finite() && *w > 0.0)
        && a.status == Status::Pending
    {
        let stop = st.shutdown.clone();
        let w = Duration::from_secs_f64(w).min(MAX_WAIT);
        tokio::select! {
            r = store.wait(&aid, w) => if let Some(r) = r { a = r },
            _ = stop.cancelled() => {}
        }
    }
    let mut v = detail(&a);
    if a.status == Status::Pending
        && let Some((approve, deny)) = signed_links(&st, &a)
    {
        v["links"] = json!({"approve_url": approve, "deny_url": deny});
    }
    Ok(Json(v))
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct ResolveBody {
    approved: Option<bool>,
    resolved_by: String,
    persist: bool,
}

/// Query of the resolve routes (signed links).
#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct SignedQuery {
    decision: Option<String>,
    exp: Option<String>,
    sig: Option<String>,
}

fn signed_ok(st: &ApiState, aid: &str, q: &SignedQuery) -> ApiResult<Option<LinkDecision>> {
    let (Some(sig), Some(exp)) = (q.sig.as_deref(), q.exp.as_deref()) else {
        return Ok(None);
    };
    let bad = || ApiError::unauthorized("invalid or expired signature");
    let signer = st.signer.as_ref().ok_or_else(bad)?;
    let decision = q
        .decision
        .as_deref()
        .and_then(LinkDecision::parse)
        .ok_or_else(bad)?;
    let exp: i64 = exp.parse().map_err(|_| bad())?;
    if !signer.verify(aid, decision, exp, sig, Utc::now().timestamp()) {
        return Err(bad());
    }
    Ok(Some(decision))
}

fn resolution_event(a: &Approval, by: &str, persist_requested: bool) -> AuditEvent {
    let res = if a.status == Status::Approved {
        "approved"
    } else {
        "denied"
    };
    let mut ev = AuditEvent::new(&a.call.agent, &a.call.session, &a.call.tool, res);
    ev.id = a.id.clone();
    ev.run_id = a.call.run_id.clone();
    ev.tool_call_id = a.call.tool_call_id.clone();
    ev.decision.message = format!("approval {res} by {by}");
    ev.decision.matched_policies = a.matched_policies.clone();
    let mut req = Map::new();
    req.insert("action".into(), json!("approval_resolved"));
    req.insert("tool".into(), json!(a.call.tool));
    req.insert("command".into(), json!(a.command()));
    req.insert("resolution".into(), json!(res));
    req.insert("resolved_by".into(), json!(by));
    req.insert("approval_id".into(), json!(a.id));
    req.insert("persist_requested".into(), json!(persist_requested));
    req.insert("persist".into(), json!(false));
    ev.request = Some(req);
    ev
}

/// The exact "always allow" rule for an approval, or why there is none.
fn persist_rule(a: &Approval) -> Result<user_rules::UserRule, user_rules::RuleFileError> {
    let value = match a.call.tool.as_str() {
        "exec" => a.command(),
        _ => a
            .call
            .params
            .get("path")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
    };
    let stamp = Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
    user_rules::exact_rule(
        &a.call.tool,
        &value,
        Some(a.call.agent.as_str()).filter(|s| !s.is_empty()),
        &format!("auto-allow-{stamp}"),
        &format!("Always allowed via approval {}", a.id),
    )
}

/// `POST /v1/approvals/{id}/resolve`: admin token, or a signed link whose decision is bound.
pub async fn resolve(
    State(st): State<Arc<ApiState>>,
    Path(aid): Path<String>,
    Query(q): Query<SignedQuery>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let signed = signed_ok(&st, &aid, &q)?;
    if signed.is_none() {
        authenticate_parts(&st, &headers, Need::Admin)?;
    }
    let bytes = read_body(body).await?;
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let b: ResolveBody = if signed.is_some() && (is_form || bytes.is_empty()) {
        ResolveBody::default()
    } else {
        decode(&bytes, true)?
    };
    let (approved, by) = match signed {
        Some(dec) => {
            if b.approved.is_some_and(|a| a != dec.approved()) {
                return Err(ApiError::forbidden(
                    "the signed link is for a different decision",
                ));
            }
            if b.persist {
                return Err(ApiError::forbidden(
                    "persist=true requires admin token authentication, not a signed approval URL",
                ));
            }
            (dec.approved(), "signed-link".to_string())
        }
        None => {
            let Some(a) = b.approved else {
                return Err(ApiError::bad_request(
                    "invalid body: \"approved\" (true or false) is required",
                ));
            };
            let by = if b.resolved_by.trim().is_empty() {
                "api".to_string()
            } else {
                b.resolved_by.trim().to_string()
            };
            (a, by)
        }
    };
    let store = store(&st)?.clone();
    let persist = approved && b.persist;
    let rule = if persist {
        let Some(a) = store.get(&aid) else {
            return Err(ApiError::not_found("approval not found"));
        };
        Some(persist_rule(&a).map_err(|e| ApiError::bad_request(e.to_string()))?)
    } else {
        None
    };
    let gate = st.gate.clone();
    let by2 = by.clone();
    let id2 = aid.clone();
    let store2 = store.clone();
    let result = tokio::task::spawn_blocking(move || {
        store2.resolve(
            &id2,
            Resolution {
                approved,
                resolved_by: by2.clone(),
            },
            &|a: &Approval| {
                gate.record_blocking(resolution_event(a, &by2, persist))
                    .map(|_| ())
                    .map_err(|e| format!("audit storage is unavailable: {e}"))
            },
        )
    })
    .await
    .map_err(|_| ApiError::unavailable("resolve task failed"))?;
    let a = match result {
        Ok(a) => a,
        Err(e @ ResolveError::NotFound(_)) => return Err(ApiError::not_found(e.to_string())),
        Err(e @ ResolveError::AlreadyResolved) => {
            return Err(ApiError::new(StatusCode::GONE, e.to_string()));
        }
        Err(e) => return Err(ApiError::unavailable(e.to_string())),
    };
    st.metrics
        .approvals_resolved
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut persisted = false;
    if let (Some(rule), Some(dir)) = (rule, st.config.rules_dir.clone()) {
        let path = dir.join(AUTO_ALLOWED);
        let mut ev = AuditEvent::new(&a.call.agent, &a.call.session, &a.call.tool, "authorized");
        ev.decision.message = format!("durable allow persistence authorized by {by}");
        let mut req = Map::new();
        req.insert("action".into(), json!("approval_persistence_authorized"));
        req.insert("tool".into(), json!(a.call.tool));
        req.insert("command".into(), json!(a.command()));
        req.insert("resolved_by".into(), json!(by));
        req.insert("approval_id".into(), json!(a.id));
        req.insert("policy_path".into(), json!(path.display().to_string()));
        req.insert("rule_name".into(), json!(rule.name));
        ev.request = Some(req);
        if st.gate.record(ev).await.is_ok() {
            match user_rules::append(&path, &rule) {
                Ok(()) | Err(user_rules::RuleFileError::Exists(_)) => {
                    persisted = super::rules::reload_after_write(&st).await.is_ok();
                    if persisted {
                        store.mark_persisted(&a.id);
                    }
                }
                Err(e) => eprintln!("rampart: always-allow rule not written: {e}"),
            }
        }
    }
    Ok(Json(json!({
        "id": a.id,
        "status": a.status.as_str(),
        "approved": approved,
        "persisted": persisted,
    }))
    .into_response())
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn page(status: StatusCode, title: &str, inner: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>{t}</title>\
<style>body{{font:16px system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}}pre{{background:#8881;padding:1rem;white-space:pre-wrap;word-break:break-all}}button{{font-size:1rem;padding:.6rem 1.4rem}}</style></head>\
<body><h1>{t}</h1>{inner}</body></html>",
        t = html_escape(title)
    );
    let mut r = (status, Html(html)).into_response();
    let h = r.headers_mut();
    for (k, v) in [
        (
            "content-security-policy",
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("cache-control", "no-store"),
    ] {
        if let Ok(v) = v.parse() {
            h.insert(k, v);
        }
    }
    r
}

/// `GET /v1/approvals/{id}/resolve?decision=&exp=&sig=`: the confirmation page a signed link
/// opens (clicking a link in chat must not resolve anything by itself).
pub async fn confirm_page(
    State(st): State<Arc<ApiState>>,
    Path(aid): Path<String>,
    Query(q): Query<SignedQuery>,
) -> Response {
    let decision = match signed_ok(&st, &aid, &q) {
        Ok(Some(d)) => d,
        _ => {
            return page(
                StatusCode::UNAUTHORIZED,
                "Link not valid",
                "<p>This approval link is invalid or has expired.</p>",
            );
        }
    };
    let Some(a) = st.approvals.as_ref().and_then(|s| s.get(&aid)) else {
        return page(
            StatusCode::NOT_FOUND,
            "Approval not found",
            "<p>This approval no longer exists.</p>",
        );
    };
    if a.status != Status::Pending {
        return page(
            StatusCode::GONE,
            "Already resolved",
            &format!(
                "<p>This approval is already <b>{}</b>.</p>",
                a.status.as_str()
            ),
        );
    }
    let verb = if decision.approved() {
        "Approve"
    } else {
        "Deny"
    };
    let action = format!(
        "/v1/approvals/{}/resolve?decision={}&amp;exp={}&amp;sig={}",
        html_escape(&aid),
        decision.as_str(),
        html_escape(q.exp.as_deref().unwrap_or("")),
        html_escape(q.sig.as_deref().unwrap_or(""))
    );
    let inner = format!(
        "<p><b>{agent}</b> wants to run a <b>{tool}</b> call:</p><pre>{cmd}</pre><p>{msg}</p>\
<p>Expires {exp}.</p><form method=\"post\" action=\"{action}\"><button type=\"submit\">{verb}</button></form>",
        agent = html_escape(if a.call.agent.is_empty() {
            "An agent"
        } else {
            &a.call.agent
        }),
        tool = html_escape(&a.call.tool),
        cmd = html_escape(&a.command()),
        msg = html_escape(&a.message),
        exp = rfc3339(&a.expires_at),
    );
    page(StatusCode::OK, &format!("{verb} this call?"), &inner)
}

/// `POST /v1/approvals/bulk-resolve`.
pub async fn bulk(State(st): State<Arc<ApiState>>, body: Body) -> ApiResult<Response> {
    let bytes = read_body(body).await?;
    let req: BulkRequest = decode(&bytes, false)?;
    let store = store(&st)?.clone();
    let gate = st.gate.clone();
    let key = (req.agent.clone(), req.session.clone(), req.run_id.clone());
    let result = tokio::task::spawn_blocking(move || {
        store.bulk_resolve(
            req,
            &|a, ctx| {
                let by = ctx.resolved_by.clone();
                let mut ev = resolution_event(a, &by, false);
                ev.decision.message = format!("bulk {} by {by}", ctx.action());
                if let Some(r) = ev.request.as_mut() {
                    r.extend(ctx.audit_fields());
                }
                gate.record_blocking(ev)
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            },
            &|p| {
                let mut ev = AuditEvent::new(&p.agent, &p.session, "approval", "authorized");
                ev.run_id = p.run_id.clone();
                ev.decision.message = format!("run approval published by {}", p.resolved_by);
                ev.request = Some(p.audit_request());
                gate.record_blocking(ev)
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            },
        )
    })
    .await
    .map_err(|_| ApiError::unavailable("bulk resolve task failed"))?;
    st.gate.live.publish(
        &json!({"type": "audit_batch", "agent": key.0, "session": key.1, "run_id": key.2}),
    );
    match result {
        Ok(out) => Ok(Json(serde_json::to_value(out).unwrap_or(Value::Null)).into_response()),
        Err(e) => {
            let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
            Ok((status, Json(e.body())).into_response())
        }
    }
}
