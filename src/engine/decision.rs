//! The engine's output: an action, why, and which rule decided.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// What policy says to do with a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Let the call run.
    Allow,
    /// Let the call run and flag it in the audit trail.
    Watch,
    /// Ask a human before the call runs.
    Ask,
    /// Ask an external webhook (serve only).
    Webhook,
    /// Refuse the call.
    Deny,
}

impl Action {
    /// Parses a policy action (case-insensitive). `log` is the deprecated alias of `watch`.
    pub fn parse(s: &str) -> Option<Action> {
        match s.to_ascii_lowercase().as_str() {
            "allow" => Some(Action::Allow),
            "deny" => Some(Action::Deny),
            "watch" | "log" => Some(Action::Watch),
            "ask" => Some(Action::Ask),
            "webhook" => Some(Action::Webhook),
            _ => None,
        }
    }

    /// The wire name (`allow`, `deny`, `watch`, `ask`, `webhook`).
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Watch => "watch",
            Action::Ask => "ask",
            Action::Webhook => "webhook",
            Action::Deny => "deny",
        }
    }

    /// Precedence across policies: deny > webhook > ask > watch > allow.
    pub fn precedence(self) -> u8 {
        match self {
            Action::Allow => 0,
            Action::Watch => 1,
            Action::Ask => 2,
            Action::Webhook => 3,
            Action::Deny => 4,
        }
    }

    /// Restrictive actions (deny, ask) may over-match; granting ones (allow, watch, webhook) may not.
    pub fn is_restrictive(self) -> bool {
        matches!(self, Action::Deny | Action::Ask)
    }

    /// Whether the call may run without a human (allow and watch).
    pub fn permits(self) -> bool {
        matches!(self, Action::Allow | Action::Watch)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A reference to one rule: the policy it belongs to and its 0-based index there.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RuleRef {
    /// Policy name.
    pub policy: String,
    /// 0-based rule index inside the policy.
    pub rule_index: usize,
}

/// Options of an `ask` rule.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AskOptions {
    /// Mirror the prompt to the serve approval queue.
    pub audit: bool,
    /// Skip the host's native prompt; require the serve approval flow.
    pub headless_only: bool,
}

/// Configuration of a `webhook` rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookConfig {
    /// Endpoint URL.
    pub url: String,
    /// Timeout (default 5 s, at most 30 s).
    #[serde(with = "duration_ms")]
    pub timeout: Duration,
    /// Allow the call when the webhook cannot be reached.
    pub fail_open: bool,
}

mod duration_ms {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

/// The engine's verdict on one call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// What to do.
    pub action: Action,
    /// Human-readable reason (the deciding rule's message, or how the default applied).
    pub message: String,
    /// The rule that decided; `None` when a default or a fail-closed check decided.
    pub winner: Option<RuleRef>,
    /// Other rules that fired, in priority order.
    pub also_fired: Vec<RuleRef>,
    /// Compatibility view: every policy that fired, winner first.
    pub matched_policies: Vec<String>,
    /// The deciding rule came from a project policy (`.rampart/policy.yaml`).
    pub from_project_policy: bool,
    /// Options of the deciding ask rule.
    pub ask: AskOptions,
    /// Configuration of the deciding webhook rule.
    pub webhook: Option<WebhookConfig>,
    /// Ready-to-run `rampart allow ...` commands (deny only).
    pub suggestions: Vec<String>,
    /// A single-use (`once: true`) grant supplied this allow; the gate consumes it.
    pub once: Option<RuleRef>,
    /// Time the evaluation took.
    #[serde(with = "duration_us")]
    pub eval_duration: Duration,
}

mod duration_us {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_micros() as u64)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_micros(u64::deserialize(d)?))
    }
}

impl Decision {
    /// A decision made by no rule (a default or a fail-closed check).
    pub fn bare(action: Action, message: impl Into<String>) -> Self {
        Decision {
            action,
            message: message.into(),
            winner: None,
            also_fired: Vec::new(),
            matched_policies: Vec::new(),
            from_project_policy: false,
            ask: AskOptions::default(),
            webhook: None,
            suggestions: Vec::new(),
            once: None,
            eval_duration: Duration::ZERO,
        }
    }

    /// The winning policy's name, if a rule decided.
    pub fn policy(&self) -> Option<&str> {
        self.winner.as_ref().map(|w| w.policy.as_str())
    }
}
