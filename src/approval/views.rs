//! API-facing views of approvals: list items and run groups (§5.7), timestamps in UTC.

use super::model::{Approval, RunScope, Status};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Serialize, Serializer};
use std::collections::BTreeMap;

/// Serializes a timestamp as RFC 3339 UTC with second precision (`2026-01-02T03:04:05Z`).
pub fn rfc3339_secs<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Secs, true))
}

/// One approval as listed by `GET /v1/approvals`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApprovalSummary {
    /// ULID.
    pub id: String,
    /// Tool name.
    pub tool: String,
    /// Command text (see [`Approval::command`]).
    pub command: String,
    /// Agent.
    pub agent: String,
    /// Session.
    pub session: String,
    /// `server/admin` or `credential-<12 hex>`.
    pub credential_owner: String,
    /// Policy message.
    pub message: String,
    /// Status.
    pub status: Status,
    /// Run id, when the call had one.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub run_id: String,
    /// Creation time.
    #[serde(serialize_with = "rfc3339_secs")]
    pub created_at: DateTime<Utc>,
    /// Deadline.
    #[serde(serialize_with = "rfc3339_secs")]
    pub expires_at: DateTime<Utc>,
}

impl From<&Approval> for ApprovalSummary {
    fn from(a: &Approval) -> Self {
        ApprovalSummary {
            id: a.id.clone(),
            tool: a.call.tool.clone(),
            command: a.command(),
            agent: a.call.agent.clone(),
            session: a.call.session.clone(),
            credential_owner: a.credential_owner(),
            message: a.message.clone(),
            status: a.status,
            run_id: a.call.run_id.clone(),
            created_at: a.created_at,
            expires_at: a.expires_at,
        }
    }
}

fn summaries<S: Serializer>(items: &[Approval], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(items.iter().map(ApprovalSummary::from))
}

/// Pending approvals of one complete run identity.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunGroup {
    /// Trimmed agent.
    pub agent: String,
    /// Session.
    pub session: String,
    /// Run id.
    pub run_id: String,
    /// Credential owner label.
    pub credential_owner: String,
    /// Owner scope digest ("" for the admin token); not serialized.
    #[serde(skip)]
    pub owner_scope: String,
    /// Number of items.
    pub count: usize,
    /// Creation time of the oldest item.
    #[serde(serialize_with = "rfc3339_secs")]
    pub earliest_created_at: DateTime<Utc>,
    /// The approvals, oldest first (serialized as [`ApprovalSummary`]).
    #[serde(serialize_with = "summaries")]
    pub items: Vec<Approval>,
}

/// Groups pending approvals (oldest first) by run scope, keeping groups of two or more, oldest group first.
pub fn run_groups(pending: Vec<Approval>) -> Vec<RunGroup> {
    let mut by_scope: BTreeMap<RunScope, Vec<Approval>> = BTreeMap::new();
    for a in pending {
        if a.status != Status::Pending {
            continue;
        }
        if let Some(scope) = a.run_scope() {
            by_scope.entry(scope).or_default().push(a);
        }
    }
    let mut groups: Vec<RunGroup> = by_scope
        .into_iter()
        .filter(|(_, items)| items.len() >= 2)
        .filter_map(|(scope, mut items)| {
            // Stable: ties keep the oldest-first order of `pending`.
            items.sort_by_key(|a| a.created_at);
            let earliest = items.first()?.created_at;
            Some(RunGroup {
                credential_owner: scope.credential_owner(),
                agent: scope.agent,
                session: scope.session,
                run_id: scope.run_id,
                owner_scope: scope.owner_scope,
                count: items.len(),
                earliest_created_at: earliest,
                items,
            })
        })
        .collect();
    groups.sort_by(|a, b| {
        (a.earliest_created_at, &a.agent, &a.session, &a.run_id).cmp(&(
            b.earliest_created_at,
            &b.agent,
            &b.session,
            &b.run_id,
        ))
    });
    groups
}
