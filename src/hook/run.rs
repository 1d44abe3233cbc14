//! The hook pipeline: read one event, build the gate (policy + audit) for one call, decide,
//! record, answer in the host's format. Every failure, in enforce mode, is a protocol-shaped
//! refusal; in monitor mode the host's own permission system decides.

use std::io::{Read, Write};
use std::path::PathBuf;

use serde_json::{Map, Value};

use super::approval::{self, Outcome};
use super::ask_state::{AskState, PendingAsk};
use super::fields;
use super::host::{AskStyle, Host, HostEvent, Phase, Verdict};
use super::session;
use crate::audit::{AuditEvent, AuditSink, SinkConfig};
use crate::engine::resolve::home_dir;
use crate::engine::{Action, Decision, ToolCall};
use crate::gate::{Gate, Mode, PolicyHandle, Purpose, Scope, Snapshot};

/// Largest stdin accepted (4 MiB).
pub const MAX_INPUT: usize = 4 << 20;

/// Host formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Claude Code (`PreToolUse`/`PostToolUse`/`PostToolUseFailure`).
    ClaudeCode,
    /// Codex CLI, IDE extension and desktop app.
    Codex,
    /// Cline (editor and CLI).
    Cline,
    /// Cursor (local Agent and Cmd+K).
    Cursor,
    /// Gemini CLI (`BeforeTool`/`AfterTool`).
    Gemini,
    /// GitHub Copilot CLI and VS Code.
    Copilot,
    /// Antigravity.
    Antigravity,
}

impl Format {
    /// The host implementation.
    pub fn host(self) -> &'static dyn Host {
        match self {
            Format::ClaudeCode => &super::claude::Claude,
            Format::Codex => &super::codex::Codex,
            Format::Cline => &super::cline::Cline,
            Format::Cursor => &super::cursor::Cursor,
            Format::Gemini => &super::gemini::Gemini,
            Format::Copilot => &super::copilot::Copilot,
            Format::Antigravity => &super::antigravity::Antigravity,
        }
    }
}

/// `rampart hook` flags.
#[derive(Debug, Clone, clap::Args)]
pub struct HookArgs {
    /// Host wire format.
    #[arg(long, value_enum, default_value = "claude-code")]
    pub format: Format,
    /// enforce (default), monitor/audit (record only, the host decides) or disabled.
    #[arg(long, default_value = "enforce")]
    pub mode: Mode,
    /// Policy source.
    #[command(flatten)]
    pub policy: crate::cli::policy_flags::PolicyFlags,
    /// Audit directory (default ~/.rampart/audit).
    #[arg(long)]
    pub audit_dir: Option<PathBuf>,
    /// Accepted for compatibility; approvals find the server as every client does.
    #[arg(long, hide = true)]
    pub serve_url: Option<String>,
    /// Debug log on stderr (hosts treat stderr output as a hook problem; use only by hand).
    #[arg(long)]
    pub verbose: bool,
}

/// The answer: stdout JSON and an optional stderr banner.
struct Answer {
    json: Value,
    banner: Option<String>,
}

/// Runs the hook on stdin/stdout; returns the exit code (always 0 once the flags parsed).
pub fn run(args: HookArgs) -> i32 {
    let mut buf = Vec::with_capacity(8192);
    let read = std::io::stdin()
        .lock()
        .take(MAX_INPUT as u64 + 1)
        .read_to_end(&mut buf);
    let answer = match read {
        Ok(_) if buf.len() > MAX_INPUT => {
            refuse_unparsed(&args, format!("input larger than {MAX_INPUT} bytes"))
        }
        Ok(_) => process(&args, &buf),
        Err(e) => refuse_unparsed(&args, format!("could not read stdin: {e}")),
    };
    let mut out = std::io::stdout().lock();
    let mut line = answer.json.to_string();
    line.push('\n');
    let _ = out.write_all(line.as_bytes());
    let _ = out.flush();
    if let Some(b) = answer.banner {
        let _ = std::io::stderr().write_all(b.as_bytes());
    }
    0
}

fn debug(args: &HookArgs, msg: impl AsRef<str>) {
    if args.verbose {
        eprintln!("rampart hook: {}", msg.as_ref());
    }
}

/// A refusal (enforce) or deferral (other modes) before anything could be parsed.
fn refuse_unparsed(args: &HookArgs, why: String) -> Answer {
    let host = args.format.host();
    let v = if args.mode == Mode::Enforce {
        Verdict::Deny(format!("parse failure: {why}"))
    } else {
        Verdict::Defer
    };
    Answer {
        json: host.render(Phase::Pre, &v),
        banner: None,
    }
}

/// Where the failure answer goes when the payload could be read as JSON but not used.
struct Shape {
    phase: Phase,
    response: Option<Value>,
}

impl Shape {
    fn refuse(&self, args: &HookArgs, reason: String) -> Answer {
        let host = args.format.host();
        let v = match (args.mode, self.phase) {
            (Mode::Enforce, Phase::Pre) => Verdict::Deny(reason),
            (Mode::Enforce, _) => Verdict::Block(reason, self.response.clone()),
            _ => Verdict::Defer,
        };
        Answer {
            json: host.render(self.phase, &v),
            banner: None,
        }
    }
}

fn process(args: &HookArgs, bytes: &[u8]) -> Answer {
    let host = args.format.host();
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return refuse_unparsed(args, "empty input".into());
    }
    let raw = match crate::api::body::parse_value(bytes) {
        Ok(v) => v,
        Err(e) => return refuse_unparsed(args, format!("malformed JSON: {e}")),
    };
    let post = host.is_post(&raw);
    let shape = Shape {
        phase: if post { Phase::Post } else { Phase::Pre },
        response: if post { host.raw_response(&raw) } else { None },
    };
    let home = home_dir();
    let audit_dir = args
        .audit_dir
        .clone()
        .unwrap_or_else(crate::audit::files::default_dir);

    // Open the audit trail while the payload is parsed and the policy loaded.
    let (parsed, sink) = std::thread::scope(|s| {
        let opener = s.spawn(|| AuditSink::open(SinkConfig::new(audit_dir.clone())));
        let parsed = host.parse(&raw).map(|ev| {
            let snap = load_policy(args, &ev, home.clone());
            (ev, snap)
        });
        let sink = opener
            .join()
            .unwrap_or_else(|_| Err(crate::audit::AuditError::Closed));
        (parsed, sink)
    });
    let sink = match sink {
        Ok(s) => Some(s),
        Err(e) => {
            debug(args, format!("audit unavailable: {e}"));
            if args.mode == Mode::Enforce {
                return shape.refuse(
                    args,
                    format!("audit trail unavailable ({e}); refusing tool call"),
                );
            }
            None
        }
    };
    let (ev, snap) = match parsed {
        Ok(x) => x,
        Err(e) => {
            record_parse_failure(args, sink.as_ref(), &raw, &e);
            return shape.refuse(args, format!("parse failure: {e}"));
        }
    };
    let snap = match snap {
        Ok(s) => s,
        Err(e) => {
            debug(args, format!("policy: {e}"));
            return shape.refuse(
                args,
                format!(
                    "Rampart policy configuration error; refusing tool call until policy is fixed: {e}"
                ),
            );
        }
    };
    let opts = args
        .policy
        .agent_options(ev.workdir.as_ref().map(PathBuf::from), home.clone());
    let mut gate = Gate::new(PolicyHandle::fixed(opts, snap), args.mode, sink);
    if let Some(h) = &home {
        // Each hook is its own process: call_count windows need state shared across them.
        gate = gate.with_durable_counter(h.join(".rampart").join("hook-call-counts.json"));
    }
    let call = tool_call(host, &ev);
    let out = decide(args, host, &gate, &ev, &call, &shape);
    // Let the flusher finish before the process exits (each append already waited for fsync).
    drop(gate);
    out
}

fn load_policy(
    args: &HookArgs,
    ev: &HostEvent,
    home: Option<PathBuf>,
) -> Result<Snapshot, crate::engine::LoadError> {
    let opts = args
        .policy
        .agent_options(ev.workdir.as_ref().map(PathBuf::from), home);
    Snapshot::load(&opts)
}

fn tool_call(host: &dyn Host, ev: &HostEvent) -> ToolCall {
    ToolCall {
        tool: ev.tool.clone(),
        agent: host.agent().to_string(),
        session: session::session(ev.workdir.as_deref()),
        agent_depth: session::agent_depth(&ev.tool),
        workdir: ev.workdir.clone(),
        params: ev.params.clone(),
        // `tool_param_matches` sees the same normalized input.
        input: ev.params.clone(),
        run_id: session::run_id(ev.session_id.as_deref()),
        tool_call_id: ev.tool_use_id.clone(),
        resolved_path: None,
    }
}

fn record_parse_failure(args: &HookArgs, sink: Option<&AuditSink>, raw: &Value, err: &str) {
    let Some(sink) = sink else { return };
    let host = args.format.host();
    let action = if args.mode == Mode::Enforce {
        "deny"
    } else {
        "allow"
    };
    let mut e = AuditEvent::new(host.agent(), "", "unknown", action);
    let mut req = Map::new();
    req.insert("raw_error".into(), Value::String(err.to_string()));
    if let Some(n) = ["tool_name", "toolName"]
        .iter()
        .find_map(|k| raw.get(*k).and_then(Value::as_str))
    {
        req.insert("host_tool".into(), Value::String(n.to_string()));
    }
    e.request = Some(req);
    e.decision.message = format!("parse failure (format={}): {err}", host.format());
    if let Err(x) = sink.append(e) {
        debug(args, format!("audit append failed: {x}"));
    }
}

/// The most restrictive of two decisions (deny > webhook > ask > watch > allow).
fn stricter(a: Decision, b: Decision) -> Decision {
    if b.action.precedence() > a.action.precedence() {
        b
    } else {
        a
    }
}

/// Text for the agent: what was blocked, by which rule, and what to do instead of retrying.
pub fn deny_reason(d: &Decision) -> String {
    let mut r = String::new();
    if d.from_project_policy {
        r.push_str("[Project Policy] ");
    }
    r.push_str(if d.message.trim().is_empty() {
        "blocked by policy"
    } else {
        d.message.trim()
    });
    if let Some(p) = d.policy() {
        r.push_str(&format!(" (policy: {p})"));
    }
    r.push_str(". This is a policy decision, not an error: do not retry it in another form; tell the user what was blocked and why.");
    if let Some(s) = d.suggestions.iter().find(|s| s.starts_with("rampart ")) {
        r.push_str(&format!(
            " If it is intended, a person can allow it with `{s}`."
        ));
    }
    r
}

fn decide(
    args: &HookArgs,
    host: &dyn Host,
    gate: &Gate,
    ev: &HostEvent,
    call: &ToolCall,
    shape: &Shape,
) -> Answer {
    let answer = |phase: Phase, v: Verdict| Answer {
        json: host.render(phase, &v),
        banner: None,
    };
    match ev.phase {
        Phase::PostFailure => {
            let d = gate.decide(call, Purpose::Preview, Scope::default());
            if d.action != Action::Deny {
                return answer(Phase::PostFailure, Verdict::Defer);
            }
            let mut e = AuditEvent::from_call(call, &d);
            e.decision.action = "feedback".into();
            let _ = gate.record_blocking(e);
            answer(
                Phase::PostFailure,
                Verdict::Context(failure_guidance(call, &d)),
            )
        }
        Phase::Post => post_call(args, gate, ev, call, shape),
        Phase::Pre => pre_call(args, host, gate, ev, call),
    }
}

fn post_call(
    args: &HookArgs,
    gate: &Gate,
    ev: &HostEvent,
    call: &ToolCall,
    shape: &Shape,
) -> Answer {
    let host = args.format.host();
    let enforce = gate.mode() == Mode::Enforce;
    record_native_approval(args, gate, ev, call);
    let response = ev.response.as_ref();
    let d = if gate.mode() == Mode::Disabled {
        Decision::bare(Action::Allow, "policy evaluation disabled")
    } else if ev.tool == "unknown" {
        Decision::bare(
            Action::Deny,
            "unsupported host tool response; update Rampart before exposing its output",
        )
    } else {
        let text = response.map(fields::response_text).unwrap_or_default();
        gate.policy
            .current()
            .compiled
            .evaluate_response(call, &text)
    };
    let e = AuditEvent::for_response(call, &d, "rampart_phase", enforce);
    let denied = d.action == Action::Deny;
    if let Err(x) = gate.record_blocking(e)
        && enforce
    {
        return shape.refuse(
            args,
            format!("audit trail unavailable ({x}); refusing tool output"),
        );
    }
    let v = if denied && enforce {
        Verdict::Block(d.message.clone(), response.cloned())
    } else {
        Verdict::Defer
    };
    Answer {
        json: host.render(Phase::Post, &v),
        banner: None,
    }
}

fn pre_call(
    args: &HookArgs,
    host: &dyn Host,
    gate: &Gate,
    ev: &HostEvent,
    call: &ToolCall,
) -> Answer {
    let enforce = gate.mode() == Mode::Enforce;
    // Batches: every member is evaluated, the most restrictive wins, the first deny stops.
    let mut d = if ev.paths.len() > 1 {
        let mut acc: Option<Decision> = None;
        for p in &ev.paths {
            let mut c = call.clone();
            c.params.insert("path".into(), Value::String(p.clone()));
            c.input.insert("path".into(), Value::String(p.clone()));
            let x = gate.decide(&c, Purpose::Enforce, Scope::default());
            let stop = x.action == Action::Deny;
            acc = Some(match acc {
                None => x,
                Some(a) => stricter(a, x),
            });
            if stop {
                break;
            }
        }
        acc.unwrap_or_else(|| Decision::bare(Action::Deny, "empty batch"))
    } else {
        gate.decide(call, Purpose::Enforce, Scope::default())
    };
    if d.action == Action::Webhook {
        d = Decision {
            action: Action::Deny,
            message:
                "Rampart native hooks do not execute webhook policy actions; refusing tool call"
                    .into(),
            ..d
        };
    }
    if let Err(x) = gate.record_blocking(AuditEvent::from_call(call, &d))
        && enforce
    {
        return Answer {
            json: host.render(
                Phase::Pre,
                &Verdict::Deny(format!("audit trail unavailable ({x}); refusing tool call")),
            ),
            banner: None,
        };
    }
    notify(args, gate, call, &d);
    if !enforce {
        return Answer {
            json: host.render(Phase::Pre, &Verdict::Defer),
            banner: None,
        };
    }
    let verdict = match d.action {
        Action::Allow | Action::Watch => Verdict::Allow,
        Action::Deny | Action::Webhook => Verdict::Deny(deny_reason(&d)),
        Action::Ask => ask(args, host, gate, call, &d),
    };
    if let Verdict::Ask(_) = &verdict {
        remember_native_ask(args, ev, call, &d);
    }
    let banner = match &verdict {
        Verdict::Deny(r) => host.deny_banner(&ev.subject(), r, &d.suggestions),
        _ => None,
    };
    Answer {
        json: host.render(Phase::Pre, &verdict),
        banner,
    }
}

/// Sends the policy's `notify:` webhook for this decision, waiting at most a second.
fn notify(args: &HookArgs, gate: &Gate, call: &ToolCall, d: &Decision) {
    let snap = gate.policy.current();
    let Some(n) = snap.notify.as_ref() else {
        return;
    };
    let limit = std::time::Duration::from_secs(1);
    if let Err(e) = crate::api::notify::decision_blocking(n, call, d, limit) {
        debug(args, format!("notification failed: {e}"));
    }
}

/// A native prompt was shown: remember it so the matching post-call event proves the approval.
fn remember_native_ask(args: &HookArgs, ev: &HostEvent, call: &ToolCall, d: &Decision) {
    let (Some(home), Some(sid), Some(tid)) = (home_dir(), &ev.session_id, &ev.tool_use_id) else {
        return;
    };
    let pending = PendingAsk {
        tool: call.tool.clone(),
        subject: ev.subject(),
        asked_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        policy_name: d.policy().unwrap_or_default().to_string(),
        decision_message: d.message.clone(),
    };
    if let Err(e) = AskState::for_home(&home).remember(sid, tid, pending) {
        debug(args, format!("session state: {e}"));
    }
}

/// The tool ran after a native ask: the person approved it in the host's prompt; record that.
fn record_native_approval(args: &HookArgs, gate: &Gate, ev: &HostEvent, call: &ToolCall) {
    let (Some(home), Some(sid), Some(tid)) = (home_dir(), &ev.session_id, &ev.tool_use_id) else {
        return;
    };
    let pending = match AskState::for_home(&home).take(sid, tid) {
        Ok(Some(p)) => p,
        Ok(None) => return,
        Err(e) => {
            debug(args, format!("session state: {e}"));
            return;
        }
    };
    let mut e = AuditEvent::new(&call.agent, &call.session, &pending.tool, "approved");
    e.run_id = call.run_id.clone().unwrap_or_default();
    e.tool_call_id = call.tool_call_id.clone().unwrap_or_default();
    e.request = Some(call.params.clone());
    if !pending.policy_name.is_empty() {
        e.decision.matched_policies = vec![pending.policy_name.clone()];
    }
    e.decision.message = format!(
        "approved in the host's prompt (asked {}): {}",
        pending.asked_at, pending.decision_message
    );
    let _ = gate.record_blocking(e);
}

fn ask_reason(d: &Decision) -> String {
    let m = d.message.trim();
    let m = if m.is_empty() {
        "this call needs approval"
    } else {
        m
    };
    match d.policy() {
        Some(p) => format!("{m} (policy: {p})"),
        None => m.to_string(),
    }
}

fn ask(args: &HookArgs, host: &dyn Host, gate: &Gate, call: &ToolCall, d: &Decision) -> Verdict {
    let reason = ask_reason(d);
    let external = d.ask.headless_only || host.ask_style() == AskStyle::External;
    if !external {
        return Verdict::Ask(reason);
    }
    let home = home_dir();
    let outcome = approval::request(call, &reason, home.as_deref());
    let (action, message, verdict) = match outcome {
        Outcome::Approved => (
            "approved",
            format!("approved by a person: {reason}"),
            Verdict::Allow,
        ),
        Outcome::Refused(why) => (
            "deny",
            format!("{why}: {reason}"),
            Verdict::Deny(format!("approval not granted ({why}) — {reason}")),
        ),
        Outcome::Unavailable(why) => (
            "deny",
            format!("{why}: {reason}"),
            Verdict::Deny(format!("{reason}; {why}")),
        ),
    };
    debug(args, &message);
    let mut e = AuditEvent::from_call(call, d);
    e.decision.action = action.into();
    e.decision.message = message;
    if gate.record_blocking(e).is_err() {
        return Verdict::Deny(format!("{reason}; audit trail unavailable"));
    }
    verdict
}

fn failure_guidance(call: &ToolCall, d: &Decision) -> String {
    let policy = d.policy().unwrap_or("policy");
    let project = if d.from_project_policy {
        " [Project Policy]"
    } else {
        ""
    };
    let mut t = format!(
        "⛔ Blocked [{policy}]{project}: {}\n\
         This tool call was blocked by Rampart policy; it did not fail by accident. Do not try \
         workarounds or equivalent commands. Tell the user what was blocked and why, and stop.\n\
         To see why: `rampart policy explain '{}'`; live decisions: `rampart watch`.",
        d.message.trim(),
        call.tool
    );
    let human: Vec<&String> = d
        .suggestions
        .iter()
        .filter(|s| s.starts_with("rampart "))
        .collect();
    if !human.is_empty() {
        t.push_str("\nFor the user only (not the agent): to allow it, run:");
        for s in human {
            t.push_str(&format!("\n  {s}"));
        }
    }
    t
}
