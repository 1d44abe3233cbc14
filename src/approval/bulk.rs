//! Bulk resolution of reviewed approvals of one agent/session/run (§5.4), with run grants.
//!
//! The whole operation runs under the store lock, so the reviewed set cannot change between
//! validation and publication: no call can slip in unreviewed, and `race_covered_ids` is
//! always empty (kept in the output for wire compatibility).

use super::model::{Approval, RunScope, Status};
use super::store::{ApprovalStore, DEFAULT_RESOLVER, Resolution, State, add};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::HashSet;

/// The bulk-resolve request body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct BulkRequest {
    /// Agent of every reviewed approval.
    pub agent: String,
    /// Session of every reviewed approval.
    pub session: String,
    /// Run id of every reviewed approval.
    pub run_id: String,
    /// `approve` or `deny` (case-insensitive).
    pub action: String,
    /// `pending` (just these ids) or `run` (these ids and future calls of the run).
    pub scope: String,
    /// The reviewed approval ids.
    pub ids: Vec<String>,
    /// Who resolved; empty becomes `api`.
    pub resolved_by: String,
}

/// What a bulk resolution covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BulkScope {
    /// Only the reviewed pending approvals.
    Pending,
    /// The reviewed approvals and, for the grant window, future calls of the run.
    Run,
}

impl BulkScope {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            BulkScope::Pending => "pending",
            BulkScope::Run => "run",
        }
    }
}

/// What the per-approval audit record of a bulk resolution must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkContext {
    /// Approve or deny.
    pub approved: bool,
    /// The request scope.
    pub scope: BulkScope,
    /// Whether future calls of the run are to be authorized.
    pub future_calls_requested: bool,
    /// Grant window in milliseconds (run scope only).
    pub grant_ttl_ms: Option<u64>,
    /// Who resolved.
    pub resolved_by: String,
}

impl BulkContext {
    /// `approve` or `deny`.
    pub fn action(&self) -> &'static str {
        if self.approved { "approve" } else { "deny" }
    }

    /// Extra audit request fields: `bulk`, `approval_scope`, `future_calls_requested`, the
    /// deprecated `auto_approve`, and for run scope `grant_ttl_ms` / `auto_approve_ttl_seconds`.
    pub fn audit_fields(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("bulk".into(), Value::Bool(true));
        m.insert("approval_scope".into(), json!(self.scope.as_str()));
        m.insert(
            "future_calls_requested".into(),
            Value::Bool(self.future_calls_requested),
        );
        m.insert(
            "auto_approve".into(),
            Value::Bool(self.future_calls_requested),
        );
        if let Some(ms) = self.grant_ttl_ms {
            m.insert("grant_ttl_ms".into(), json!(ms));
            m.insert("auto_approve_ttl_seconds".into(), json!(ms / 1000));
        }
        m
    }
}

/// The run-grant publication that must be audited before the grant is installed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunPublication {
    /// Agent.
    pub agent: String,
    /// Session.
    pub session: String,
    /// Run id.
    pub run_id: String,
    /// Credential owner label.
    pub credential_owner: String,
    /// Every approval resolved by this request.
    pub approval_ids: Vec<String>,
    /// The reviewed ids.
    pub reviewed_approval_ids: Vec<String>,
    /// Ids resolved without review (always empty here).
    pub race_covered_ids: Vec<String>,
    /// Grant window in milliseconds.
    pub grant_ttl_ms: u64,
    /// When the grant ends.
    pub grant_expires_at: DateTime<Utc>,
    /// Who authorized it.
    pub resolved_by: String,
}

impl RunPublication {
    /// The audit request object of the `run_approval_publication_authorized` event.
    pub fn audit_request(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert(
            "action".into(),
            json!("run_approval_publication_authorized"),
        );
        m.insert("approval_scope".into(), json!("run"));
        m.insert("approval_ids".into(), json!(self.approval_ids));
        m.insert(
            "reviewed_approval_ids".into(),
            json!(self.reviewed_approval_ids),
        );
        m.insert("race_covered_ids".into(), json!(self.race_covered_ids));
        m.insert("credential_owner".into(), json!(self.credential_owner));
        m.insert("future_calls_requested".into(), Value::Bool(true));
        m.insert("publication_authorized".into(), Value::Bool(true));
        m.insert("grant_ttl_ms".into(), json!(self.grant_ttl_ms));
        m.insert(
            "grant_expires_at".into(),
            json!(
                self.grant_expires_at
                    .to_rfc3339_opts(SecondsFormat::Nanos, true)
            ),
        );
        m.insert("resolved_by".into(), json!(self.resolved_by));
        m
    }
}

fn rfc3339_nanos<S: serde::Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Nanos, true)),
        None => s.serialize_none(),
    }
}

/// A fully successful bulk resolution (serializes to the 200 body).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BulkOutcome {
    /// How many approvals were resolved.
    pub resolved: usize,
    /// Every resolved id.
    pub ids: Vec<String>,
    /// The reviewed ids.
    pub reviewed_ids: Vec<String>,
    /// Ids resolved without review (always empty here).
    pub race_covered_ids: Vec<String>,
    /// The request scope.
    pub scope: BulkScope,
    /// Whether a run grant was installed.
    pub future_calls_authorized: bool,
    /// Grant window in milliseconds (run scope).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grant_ttl_ms: Option<u64>,
    /// When the grant ends (run scope).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "rfc3339_nanos"
    )]
    pub grant_expires_at: Option<DateTime<Utc>>,
}

/// The 503 body of a bulk resolution that stopped part-way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BulkPartial {
    /// Why it stopped.
    pub error: String,
    /// How many approvals were resolved before it stopped.
    pub resolved: usize,
    /// The resolved ids.
    pub ids: Vec<String>,
    /// The reviewed ids.
    pub reviewed_ids: Vec<String>,
    /// Ids resolved without review (always empty here).
    pub race_covered_ids: Vec<String>,
    /// The request scope.
    pub scope: BulkScope,
    /// Reviewed ids still pending.
    pub unresolved_reviewed_ids: Vec<String>,
    /// Always false: no grant was installed.
    pub future_calls_authorized: bool,
    /// Always true: the client must reload the list.
    pub refresh_required: bool,
}

/// Why a bulk resolution was refused or stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BulkError {
    /// The request is invalid (400).
    #[error("{0}")]
    Invalid(String),
    /// The reviewed set is stale (409): refresh and retry.
    #[error("{0}")]
    Conflict(String),
    /// Some approvals were resolved, then a record failed (503).
    #[error("{}", .0.error)]
    Partial(Box<BulkPartial>),
}

impl BulkError {
    /// The HTTP status to answer with.
    pub fn http_status(&self) -> u16 {
        match self {
            BulkError::Invalid(_) => 400,
            BulkError::Conflict(_) => 409,
            BulkError::Partial(_) => 503,
        }
    }

    /// The JSON body: `{"error": ...}`, or the partial-failure fields for 503.
    pub fn body(&self) -> Value {
        match self {
            BulkError::Partial(p) => {
                serde_json::to_value(p.as_ref()).unwrap_or_else(|_| json!({"error": p.error}))
            }
            other => json!({"error": other.to_string()}),
        }
    }
}

/// A validated request.
struct Checked {
    scope: RunScope,
    approved: bool,
    bulk_scope: BulkScope,
    ids: Vec<String>,
    resolved_by: String,
}

fn check_request(req: &BulkRequest) -> Result<Checked, BulkError> {
    let invalid = |m: &str| Err(BulkError::Invalid(m.to_string()));
    let agent = req.agent.trim();
    let session = req.session.trim();
    let run_id = req.run_id.trim();
    if agent.is_empty() {
        return invalid("agent is required");
    }
    if session.is_empty() {
        return invalid("session is required");
    }
    if run_id.is_empty() {
        return invalid("run_id is required");
    }
    let approved = match req.action.trim().to_ascii_lowercase().as_str() {
        "approve" => true,
        "deny" => false,
        _ => return invalid("action must be \"approve\" or \"deny\""),
    };
    let bulk_scope = match req.scope.trim().to_ascii_lowercase().as_str() {
        "" => return invalid("scope is required (\"pending\" or \"run\")"),
        "pending" => BulkScope::Pending,
        "run" => BulkScope::Run,
        _ => return invalid("scope must be \"pending\" or \"run\""),
    };
    if bulk_scope == BulkScope::Run && !approved {
        return invalid("scope \"run\" is only valid with action \"approve\"");
    }
    if req.ids.is_empty() {
        return invalid("ids must list the reviewed approval ids");
    }
    let mut seen = HashSet::new();
    for id in &req.ids {
        if id.trim().is_empty() {
            return invalid("ids must not contain empty strings");
        }
        if !seen.insert(id.as_str()) {
            return Err(BulkError::Invalid(format!("duplicate id {id:?} in ids")));
        }
    }
    let resolved_by = match req.resolved_by.trim() {
        "" => DEFAULT_RESOLVER.to_string(),
        s => s.to_string(),
    };
    Ok(Checked {
        scope: RunScope {
            agent: agent.to_string(),
            session: session.to_string(),
            run_id: run_id.to_string(),
            owner_scope: String::new(),
        },
        approved,
        bulk_scope,
        ids: req.ids.clone(),
        resolved_by,
    })
}

fn stale(id: &str) -> BulkError {
    BulkError::Conflict(format!(
        "approval {id:?} is no longer pending; refresh and retry"
    ))
}

fn belongs(a: &Approval, scope: &RunScope) -> bool {
    a.call.agent.trim() == scope.agent
        && a.call.session == scope.session
        && a.call.run_id == scope.run_id
}

fn validate_ids(st: &State, checked: &mut Checked, now: DateTime<Utc>) -> Result<(), BulkError> {
    let mut owners = HashSet::new();
    for id in &checked.ids {
        let a = st
            .entries
            .get(id.as_str())
            .map(|e| &e.approval)
            .filter(|a| a.status == Status::Pending)
            .ok_or_else(|| stale(id))?;
        if !belongs(a, &checked.scope) {
            return Err(BulkError::Invalid(format!(
                "approval {id:?} does not belong to this agent, session and run"
            )));
        }
        owners.insert(a.owner_scope.as_str());
    }
    if checked.bulk_scope != BulkScope::Run {
        return Ok(());
    }
    let mut owners = owners.into_iter();
    checked.scope.owner_scope = match (owners.next(), owners.next()) {
        (Some(o), None) => o.to_string(),
        _ => {
            return Err(BulkError::Invalid(
                "ids belong to different credentials; approve a run for one credential at a time"
                    .into(),
            ));
        }
    };
    if st
        .run_grants
        .get(&checked.scope)
        .is_some_and(|exp| now < *exp)
    {
        return Err(BulkError::Conflict(
            "a run grant is already active for this run; refresh and retry".into(),
        ));
    }
    let reviewed: HashSet<&str> = checked.ids.iter().map(String::as_str).collect();
    if let Some(missed) = st.pending_refs().into_iter().find(|a| {
        a.run_scope().as_ref() == Some(&checked.scope) && !reviewed.contains(a.id.as_str())
    }) {
        return Err(BulkError::Conflict(format!(
            "approval {:?} of this run is pending but was not reviewed; refresh and retry",
            missed.id
        )));
    }
    Ok(())
}

impl ApprovalStore {
    /// Resolves reviewed approvals of one run; with scope `run`, also grants the run's future
    /// calls for one approval timeout.
    ///
    /// `record` must persist each resolution's audit event and `publish` the run grant's
    /// authorization event; both run under the store lock and must not call back into it.
    pub fn bulk_resolve(
        &self,
        req: BulkRequest,
        record: &dyn Fn(&Approval, &BulkContext) -> Result<(), String>,
        publish: &dyn Fn(&RunPublication) -> Result<(), String>,
    ) -> Result<BulkOutcome, BulkError> {
        let checked = check_request(&req)?;
        let now = self.clock.now();
        let mut st = self.lock();
        let expired = self.expire_locked(&mut st, now);
        let (result, resolved_any) = self.bulk_locked(&mut st, checked, now, record, publish);
        drop(st);
        self.after_expiry(&expired);
        if resolved_any && expired.is_empty() {
            self.hooks().changed();
        }
        result
    }

    /// The locked part of a bulk resolution; the flag tells whether anything was resolved.
    fn bulk_locked(
        &self,
        st: &mut State,
        mut checked: Checked,
        now: DateTime<Utc>,
        record: &dyn Fn(&Approval, &BulkContext) -> Result<(), String>,
        publish: &dyn Fn(&RunPublication) -> Result<(), String>,
    ) -> (Result<BulkOutcome, BulkError>, bool) {
        if let Err(e) = validate_ids(st, &mut checked, now) {
            return (Err(e), false);
        }
        let ttl_ms = u64::try_from(self.timeout().as_millis()).unwrap_or(u64::MAX);
        let grant_until = (checked.bulk_scope == BulkScope::Run).then(|| add(now, self.timeout()));
        let ctx = BulkContext {
            approved: checked.approved,
            scope: checked.bulk_scope,
            future_calls_requested: grant_until.is_some(),
            grant_ttl_ms: grant_until.map(|_| ttl_ms),
            resolved_by: checked.resolved_by.clone(),
        };
        let resolution = Resolution {
            approved: checked.approved,
            resolved_by: checked.resolved_by.clone(),
        };
        let record_one = |a: &Approval| record(a, &ctx);
        let mut done: Vec<String> = Vec::new();
        let mut failure = None;
        for id in &checked.ids {
            match self.resolve_locked(st, id, &resolution, &record_one, now, grant_until) {
                Ok(_) => done.push(id.clone()),
                Err(e) => {
                    failure = Some(e.to_string());
                    break;
                }
            }
        }
        if failure.is_none()
            && let Some(until) = grant_until
        {
            let publication = RunPublication {
                agent: checked.scope.agent.clone(),
                session: checked.scope.session.clone(),
                run_id: checked.scope.run_id.clone(),
                credential_owner: checked.scope.credential_owner(),
                approval_ids: done.clone(),
                reviewed_approval_ids: checked.ids.clone(),
                race_covered_ids: Vec::new(),
                grant_ttl_ms: ttl_ms,
                grant_expires_at: until,
                resolved_by: checked.resolved_by.clone(),
            };
            match publish(&publication) {
                Ok(()) => {
                    st.run_grants.insert(checked.scope.clone(), until);
                }
                Err(msg) => failure = Some(msg),
            }
        }
        let resolved_any = !done.is_empty();
        if resolved_any {
            self.compact(st);
        }
        if let Some(error) = failure {
            let unresolved = checked
                .ids
                .iter()
                .filter(|id| !done.contains(id))
                .cloned()
                .collect();
            let partial = BulkPartial {
                error,
                resolved: done.len(),
                ids: done,
                reviewed_ids: checked.ids,
                race_covered_ids: Vec::new(),
                scope: checked.bulk_scope,
                unresolved_reviewed_ids: unresolved,
                future_calls_authorized: false,
                refresh_required: true,
            };
            return (Err(BulkError::Partial(Box::new(partial))), resolved_any);
        }
        let outcome = BulkOutcome {
            resolved: done.len(),
            ids: done,
            reviewed_ids: checked.ids,
            race_covered_ids: Vec::new(),
            scope: checked.bulk_scope,
            future_calls_authorized: grant_until.is_some(),
            grant_ttl_ms: grant_until.map(|_| ttl_ms),
            grant_expires_at: grant_until,
        };
        (Ok(outcome), resolved_any)
    }
}
