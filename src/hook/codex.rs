//! Codex (`--format codex`): CLI, IDE extension and desktop app; `PreToolUse`/`PostToolUse`.

use serde_json::{Value, json};

use super::fields::{self, object_input};
use super::host::{AskStyle, Host, HostEvent, Phase, Verdict, approval_required, branded};
use super::normalize::{self, lower, valid_id};

/// The Codex format.
pub struct Codex;

impl Host for Codex {
    fn format(&self) -> &'static str {
        "codex"
    }

    fn agent(&self) -> &'static str {
        "codex"
    }

    fn parse(&self, raw: &Value) -> Result<HostEvent, String> {
        let obj = raw.as_object().ok_or("payload is not a JSON object")?;
        let phase = match obj.get("hook_event_name").and_then(Value::as_str) {
            Some("PreToolUse") => Phase::Pre,
            Some("PostToolUse") => Phase::Post,
            Some(other) => return Err(format!("unsupported hook event {other:?}")),
            None => return Err("missing hook_event_name".into()),
        };
        let name = normalize::opt_str(obj, "tool_name")?.ok_or("missing tool_name")?;
        let session = normalize::opt_str(obj, "session_id")?.ok_or("missing session_id")?;
        let id = normalize::opt_str(obj, "tool_use_id")?.ok_or("missing tool_use_id")?;
        valid_id(&id, "tool_use_id")?;
        let strict = phase == Phase::Pre;
        let mut params = object_input(obj.get("tool_input"));
        let mut paths = Vec::new();
        let l = lower(&name);
        let tool: String = match l.as_str() {
            "bash" | "shell" | "shell_command" | "exec_command" | "code_execution" => {
                let keys = ["command", "cmd", "script", "code"];
                let cmd = keys
                    .iter()
                    .find_map(|k| params.get(*k).filter(|v| !v.is_null()).cloned());
                // Codex's shell tools pass an argv array; fold it into one shell line.
                if let Some(argv @ Value::Array(_)) = &cmd {
                    if let Some(line) = fields::command_line(argv)? {
                        params.insert("command".into(), Value::String(line));
                    }
                } else {
                    fields::canon(&mut params, &keys, "command", "command", strict, strict)?;
                }
                if strict && !params.contains_key("command") {
                    return Err("missing command".into());
                }
                "exec".into()
            }
            "apply_patch" => {
                let patch = if strict {
                    Some(fields::required(
                        &params,
                        &["command", "patch", "input"],
                        "patch",
                    )?)
                } else {
                    fields::lenient(&params, &["command", "patch", "input"])
                };
                if let Some(p) = patch {
                    match fields::patch_paths(&p) {
                        Ok(ps) => paths = ps,
                        Err(e) if strict => return Err(e),
                        Err(_) => {}
                    }
                }
                fields::set_paths(&mut params, &paths);
                "write".into()
            }
            "edit" | "write" | "write_file" | "read" | "view" | "read_file" => {
                let keys = ["path", "file_path", "filePath"];
                fields::canon(&mut params, &keys, "path", "path", strict, strict)?;
                if matches!(l.as_str(), "read" | "view" | "read_file") {
                    "read".into()
                } else {
                    "write".into()
                }
            }
            "webfetch" | "web_fetch" | "browser" | "browser_navigate" => {
                let keys = ["url", "uri", "href"];
                let u = if strict {
                    Some(fields::required(&params, &keys, "url")?)
                } else {
                    fields::lenient(&params, &keys)
                };
                if let Some(u) = u {
                    normalize::set_url(&mut params, &u);
                }
                "fetch".into()
            }
            "spawn_agent" | "agent" => "agent".into(),
            _ if l.starts_with("mcp__") => {
                crate::engine::mcp_class::classify_native(&name, &params)
            }
            _ if strict => {
                return Err(format!(
                    "unknown Codex tool {name:?}; update Rampart to a version that maps it"
                ));
            }
            _ => "unknown".into(),
        };
        let mut ev = HostEvent::new(phase, &name, &tool);
        ev.params = params;
        ev.paths = paths;
        ev.session_id = Some(session);
        ev.tool_use_id = Some(id);
        ev.workdir = normalize::opt_str(obj, "cwd")?;
        if phase == Phase::Post {
            ev.response = obj.get("tool_response").cloned();
        }
        Ok(ev)
    }

    fn ask_style(&self) -> AskStyle {
        AskStyle::External
    }

    fn render(&self, phase: Phase, verdict: &Verdict) -> Value {
        let deny = |reason: String| {
            json!({"hookSpecificOutput": {
                "hookEventName": "PreToolUse",
                "permissionDecision": "deny",
                "permissionDecisionReason": reason,
            }})
        };
        match (phase, verdict) {
            (Phase::Pre, Verdict::Deny(r) | Verdict::Block(r, _)) => deny(branded(r)),
            // Codex has no `ask`: an unanswered approval is a denial.
            (Phase::Pre, Verdict::Ask(r)) => deny(approval_required(r)),
            (_, Verdict::Deny(r) | Verdict::Block(r, _)) => {
                json!({"decision": "block", "reason": branded(r)})
            }
            // Allow is `{}`: Codex rejects an explicit allow and keeps its own sandbox.
            _ => json!({}),
        }
    }
}
