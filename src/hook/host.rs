//! What every host format provides: parsing its stdin into a [`HostEvent`] and rendering a
//! [`Verdict`] in its own output shape.

use serde_json::{Map, Value};

/// Which side of the tool call the host is asking about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Before the tool runs: allow, deny or ask.
    Pre,
    /// After it ran: scan the response, maybe block it.
    Post,
    /// After it failed (Claude Code `PostToolUseFailure`): explain a denial to the model.
    PostFailure,
}

/// One host event in Rampart's terms.
#[derive(Debug, Clone)]
pub struct HostEvent {
    /// Pre, post or post-failure.
    pub phase: Phase,
    /// The tool name as the host spelled it.
    pub host_tool: String,
    /// The canonical class policies match (`exec`, `read`, ... or `unknown`).
    pub tool: String,
    /// The host's tool input with canonical keys (`command`, `path`, `url`, ...) written in.
    pub params: Map<String, Value>,
    /// Every path a batched call touches; each is evaluated.
    pub paths: Vec<String>,
    /// The tool response (post events).
    pub response: Option<Value>,
    /// The host's session / task / conversation id.
    pub session_id: Option<String>,
    /// The host's id of this tool call.
    pub tool_use_id: Option<String>,
    /// The host's working directory.
    pub workdir: Option<String>,
}

impl HostEvent {
    /// An event with empty params.
    pub fn new(phase: Phase, host_tool: &str, tool: &str) -> HostEvent {
        HostEvent {
            phase,
            host_tool: host_tool.to_string(),
            tool: tool.to_string(),
            params: Map::new(),
            paths: Vec::new(),
            response: None,
            session_id: None,
            tool_use_id: None,
            workdir: None,
        }
    }

    /// The command (exec) or path/URL the event is about, for messages.
    pub fn subject(&self) -> String {
        for k in ["command", "path", "url", "query"] {
            if let Some(s) = self.params.get(k).and_then(Value::as_str) {
                return s.to_string();
            }
        }
        self.host_tool.clone()
    }
}

/// What the hook tells the host.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Explicitly allow (enforce mode, policy allowed).
    Allow,
    /// Say nothing and let the host's own permission system decide (monitor mode, post allow).
    Defer,
    /// Refuse the call.
    Deny(String),
    /// Ask the user through the host's native prompt.
    Ask(String),
    /// Block a tool response; carries the original response for shape-preserving redaction.
    Block(String, Option<Value>),
    /// Extra context for the model (post-failure guidance).
    Context(String),
}

/// How a host handles `ask`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AskStyle {
    /// The host has a native prompt ([`Verdict::Ask`]).
    Native,
    /// The host has none: ask a running `rampart serve` and wait for the answer.
    External,
    /// The host has none and waiting is not possible: refuse with "approval required".
    Refuse,
}

/// One agent host's wire format.
pub trait Host: Sync {
    /// `--format` name.
    fn format(&self) -> &'static str;
    /// The audit `agent` name.
    fn agent(&self) -> &'static str;
    /// Whether a raw payload is a post-call event (decides the shape of failure answers).
    fn is_post(&self, raw: &Value) -> bool {
        let ev = raw
            .get("hook_event_name")
            .or_else(|| raw.get("hookName"))
            .and_then(Value::as_str)
            .unwrap_or("");
        matches!(
            ev,
            "PostToolUse" | "AfterTool" | "tool_result" | "postToolUse"
        )
    }
    /// The raw tool response of a post-call payload.
    fn raw_response(&self, raw: &Value) -> Option<Value> {
        raw.get("tool_response")
            .or_else(|| raw.get("tool_result"))
            .cloned()
    }
    /// Parses a payload.
    fn parse(&self, raw: &Value) -> Result<HostEvent, String>;
    /// How `ask` is delivered.
    fn ask_style(&self) -> AskStyle;
    /// Renders the answer for `phase`.
    fn render(&self, phase: Phase, verdict: &Verdict) -> Value;
    /// A message for stderr on deny (only hosts whose protocol shows one).
    fn deny_banner(
        &self,
        _subject: &str,
        _reason: &str,
        _suggestions: &[String],
    ) -> Option<String> {
        None
    }
}

/// `Rampart: <reason>`.
pub fn branded(reason: &str) -> String {
    format!("Rampart: {reason}")
}

/// `Rampart: approval required — <reason>`.
pub fn approval_required(reason: &str) -> String {
    format!("Rampart: approval required — {reason}")
}
