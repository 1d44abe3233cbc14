//! The approval data model: the call snapshot, the request to create one, and the approval.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Label shown for approvals created with the bootstrap admin token.
pub const ADMIN_OWNER: &str = "server/admin";

/// The tool call an approval was asked for, frozen at the moment it was asked.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CallSnapshot {
    /// Canonical tool name (`exec`, `read`, ...).
    pub tool: String,
    /// Agent name (per-agent tokens force their own).
    pub agent: String,
    /// Sub-agent nesting depth.
    pub agent_depth: u32,
    /// Session label.
    pub session: String,
    /// Caller-supplied run id ("" when absent).
    pub run_id: String,
    /// Caller-supplied tool call id ("" when absent).
    pub tool_call_id: String,
    /// Working directory of the call.
    pub workdir: String,
    /// Canonical parameters.
    pub params: Map<String, Value>,
    /// The explicit `input` view, if the caller sent one.
    pub input: Map<String, Value>,
}

impl CallSnapshot {
    /// The call's run scope for `owner_scope`, if agent, session and run id are all non-empty.
    pub fn run_scope(&self, owner_scope: &str) -> Option<RunScope> {
        let agent = self.agent.trim();
        if agent.is_empty() || self.session.is_empty() || self.run_id.is_empty() {
            return None;
        }
        Some(RunScope {
            agent: agent.to_string(),
            session: self.session.clone(),
            run_id: self.run_id.clone(),
            owner_scope: owner_scope.to_string(),
        })
    }

    /// Whether the call can be replayed exactly once after approval (needs run and call ids).
    pub fn replayable(&self) -> bool {
        !self.run_id.is_empty() && !self.tool_call_id.is_empty()
    }

    /// The command text shown to humans: the exec aliases `command|cmd|input`, else `command`.
    pub fn command(&self) -> String {
        let keys: &[&str] = if self.tool == "exec" {
            &["command", "cmd", "input"]
        } else {
            &["command"]
        };
        for view in [&self.params, &self.input] {
            for k in keys {
                if let Some(Value::String(s)) = view.get(*k)
                    && !s.is_empty()
                {
                    return s.clone();
                }
            }
        }
        String::new()
    }
}

/// One (agent, session, run, credential owner) identity; run grants and groups key on it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct RunScope {
    /// Trimmed agent name.
    pub agent: String,
    /// Session label.
    pub session: String,
    /// Run id.
    pub run_id: String,
    /// Owner scope digest ("" for the admin token).
    pub owner_scope: String,
}

impl RunScope {
    /// The human label of this scope's credential owner.
    pub fn credential_owner(&self) -> String {
        credential_owner(&self.owner_scope)
    }
}

/// What the gate hands the store when a call needs a human decision.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewApproval {
    /// The call being asked about.
    pub call: CallSnapshot,
    /// The policy message shown to the approver.
    pub message: String,
    /// Names of the policies that asked.
    pub matched_policies: Vec<String>,
    /// SHA-256 hex of the caller's per-agent token; "" for the bootstrap admin token.
    pub owner_token_hash: String,
}

/// Where an approval is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Waiting for a human.
    Pending,
    /// A human allowed it.
    Approved,
    /// A human refused it.
    Denied,
    /// Nobody answered in time.
    Expired,
}

impl Status {
    /// The lowercase wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Approved => "approved",
            Status::Denied => "denied",
            Status::Expired => "expired",
        }
    }

    /// Parses a wire name; `None` for anything else.
    pub fn parse(s: &str) -> Option<Status> {
        match s {
            "pending" => Some(Status::Pending),
            "approved" => Some(Status::Approved),
            "denied" => Some(Status::Denied),
            "expired" => Some(Status::Expired),
            _ => None,
        }
    }
}

/// One approval request and its outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Approval {
    /// ULID.
    pub id: String,
    /// The call it is about.
    pub call: CallSnapshot,
    /// The policy message.
    pub message: String,
    /// Names of the policies that asked.
    pub matched_policies: Vec<String>,
    /// Current status.
    pub status: Status,
    /// When it was asked.
    pub created_at: DateTime<Utc>,
    /// When it stops being answerable.
    pub expires_at: DateTime<Utc>,
    /// When it was answered or expired.
    pub resolved_at: Option<DateTime<Utc>>,
    /// Who answered (`timeout` for expiry).
    pub resolved_by: Option<String>,
    /// Whether an exact allow rule was written for it.
    pub persisted: bool,
    /// Owner-bound dedup key (only when the call has a tool call id).
    pub dedup_key: Option<String>,
    /// Owner scope digest (§5.1); "" for the admin token.
    pub owner_scope: String,
}

impl Approval {
    /// `server/admin` for the admin token, else `credential-` and 12 hex of the owner digest.
    pub fn credential_owner(&self) -> String {
        credential_owner(&self.owner_scope)
    }

    /// The command text shown to humans (see [`CallSnapshot::command`]).
    pub fn command(&self) -> String {
        self.call.command()
    }

    /// The run scope of this approval, if its call names agent, session and run.
    pub fn run_scope(&self) -> Option<RunScope> {
        self.call.run_scope(&self.owner_scope)
    }

    /// Whether it is pending and `now` is before its deadline.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.status == Status::Pending && now < self.expires_at
    }
}

/// The credential owner label for an owner scope digest.
pub fn credential_owner(owner_scope: &str) -> String {
    if owner_scope.is_empty() {
        return ADMIN_OWNER.to_string();
    }
    let short: String = owner_scope.chars().take(12).collect();
    format!("credential-{short}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn call(tool: &str, params: Value) -> CallSnapshot {
        CallSnapshot {
            tool: tool.into(),
            params: params.as_object().cloned().unwrap_or_default(),
            ..Default::default()
        }
    }

    #[test]
    fn command_uses_exec_aliases_only_for_exec() {
        assert_eq!(call("exec", json!({"cmd": "ls"})).command(), "ls");
        assert_eq!(call("exec", json!({"input": "pwd"})).command(), "pwd");
        assert_eq!(
            call("exec", json!({"command": "a", "cmd": "b"})).command(),
            "a"
        );
        assert_eq!(call("read", json!({"cmd": "ls"})).command(), "");
        assert_eq!(call("fetch", json!({"command": "x"})).command(), "x");
        assert_eq!(call("exec", json!({"command": 3})).command(), "");
    }

    #[test]
    fn owner_labels() {
        assert_eq!(credential_owner(""), "server/admin");
        assert_eq!(
            credential_owner(&"ab".repeat(32)),
            "credential-abababababab"
        );
    }

    #[test]
    fn run_scope_needs_all_three_ids() {
        let mut c = CallSnapshot {
            agent: " a ".into(),
            session: "s".into(),
            run_id: "r".into(),
            ..Default::default()
        };
        let scope = c.run_scope("o").map(|s| s.agent);
        assert_eq!(scope.as_deref(), Some("a"));
        c.session.clear();
        assert!(c.run_scope("o").is_none());
    }

    #[test]
    fn status_round_trip() {
        for s in [
            Status::Pending,
            Status::Approved,
            Status::Denied,
            Status::Expired,
        ] {
            assert_eq!(Status::parse(s.as_str()), Some(s));
            assert_eq!(
                serde_json::to_value(s).ok(),
                Some(Value::String(s.as_str().into()))
            );
        }
        assert_eq!(Status::parse("Pending"), None);
    }
}
