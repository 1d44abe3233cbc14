//! Claude Code (`--format claude-code`): `PreToolUse`, `PostToolUse`, `PostToolUseFailure`.

use serde_json::{Value, json};

use super::fields::{self, canon, object_input, redact_shape};
use super::host::{AskStyle, Host, HostEvent, Phase, Verdict, branded};
use super::normalize::{self, valid_id};

/// The Claude Code format.
pub struct Claude;

/// Canonical class and pre-call requirement of a Claude Code tool.
fn class_of(name: &str) -> Option<&'static str> {
    Some(match name {
        "Bash" | "PowerShell" | "code_execution" => "exec",
        "Monitor" => "monitor",
        "Read" | "ReadFile" | "NotebookRead" | "LS" | "Glob" | "Grep" | "LSP" => "read",
        "Write" | "WriteFile" | "Edit" | "EditFile" | "MultiEdit" | "NotebookEdit"
        | "EnterWorktree" => "write",
        "WebFetch" | "Fetch" | "web_fetch" => "fetch",
        "WebSearch" | "web_search" => "search",
        "memory" => "memory",
        "Task" | "Agent" | "Workflow" | "RemoteTrigger" => "agent",
        "ToolSearch"
        | "tool_search"
        | "ListMcpResourcesTool"
        | "ReadMcpResourceTool"
        | "WaitForMcpServers"
        | "Skill"
        | "TaskGet"
        | "TaskList"
        | "TaskOutput"
        | "CronList" => "read-meta",
        "CronCreate" | "CronDelete" | "ScheduleWakeup" | "TaskCreate" | "TaskStop"
        | "TaskUpdate" | "TodoWrite" => "process",
        "Artifact"
        | "PushNotification"
        | "SendMessage"
        | "SendUserFile"
        | "ShareOnboardingGuide" => "message",
        "AskUserQuestion" | "EnterPlanMode" | "ExitPlanMode" | "ExitWorktree"
        | "EndConversation" | "ReportFindings" => "interact",
        _ => return None,
    })
}

impl Host for Claude {
    fn format(&self) -> &'static str {
        "claude-code"
    }

    fn agent(&self) -> &'static str {
        "claude-code"
    }

    fn parse(&self, raw: &Value) -> Result<HostEvent, String> {
        let obj = raw.as_object().ok_or("payload is not a JSON object")?;
        let phase = match obj.get("hook_event_name").and_then(Value::as_str) {
            Some("PreToolUse") => Phase::Pre,
            Some("PostToolUse") => Phase::Post,
            Some("PostToolUseFailure") => Phase::PostFailure,
            Some(other) => return Err(format!("unsupported hook event {other:?}")),
            None => return Err("missing hook_event_name".into()),
        };
        let name = obj
            .get("tool_name")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or("missing tool_name")?;
        let tool_use_id = normalize::opt_str(obj, "tool_use_id")?;
        if let Some(id) = &tool_use_id {
            valid_id(id, "tool_use_id")?;
        }
        let strict = phase == Phase::Pre;
        let mut params = object_input(obj.get("tool_input"));
        let tool = if name.to_ascii_lowercase().starts_with("mcp__") {
            crate::engine::mcp_class::classify_native(name, &params)
        } else {
            match class_of(name) {
                None if strict => {
                    return Err(format!(
                        "unknown Claude Code tool {name:?}; update Rampart to a version that maps it"
                    ));
                }
                None => "unknown".into(),
                Some("exec") => {
                    let keys: &[&str] = if name == "code_execution" {
                        &["command", "code", "input"]
                    } else {
                        &["command"]
                    };
                    canon(&mut params, keys, "command", "command", strict, true)?;
                    "exec".into()
                }
                Some("monitor") => {
                    let ws_url = params
                        .get("ws")
                        .and_then(Value::as_object)
                        .map(|ws| fields::alias(ws, &["url"], "ws.url"))
                        .transpose()?
                        .flatten();
                    match ws_url {
                        Some(u) => {
                            normalize::set_url(&mut params, &u);
                            "fetch".into()
                        }
                        None => {
                            canon(
                                &mut params,
                                &["command"],
                                "command",
                                "command",
                                strict,
                                true,
                            )?;
                            "exec".into()
                        }
                    }
                }
                Some("read") => {
                    match name {
                        "Glob" | "Grep" => {
                            if strict {
                                fields::required(&params, &["pattern"], "pattern")?;
                            }
                            canon(&mut params, &["path"], "path", "path", strict, false)?;
                        }
                        "LS" => {
                            canon(&mut params, &["path"], "path", "path", strict, true)?;
                        }
                        "NotebookRead" => {
                            let keys = ["path", "notebook_path", "file_path"];
                            canon(&mut params, &keys, "path", "path", strict, true)?;
                        }
                        "LSP" => {
                            let keys = ["path", "filePath", "file_path"];
                            canon(&mut params, &keys, "path", "path", strict, true)?;
                        }
                        _ => {
                            canon(
                                &mut params,
                                &["path", "file_path"],
                                "path",
                                "path",
                                strict,
                                true,
                            )?;
                        }
                    }
                    "read".into()
                }
                Some("write") => {
                    let keys: &[&str] = match name {
                        "NotebookEdit" => &["path", "notebook_path", "file_path"],
                        _ => &["path", "file_path"],
                    };
                    canon(&mut params, keys, "path", "path", strict, true)?;
                    "write".into()
                }
                Some("fetch") => {
                    let u = if strict {
                        Some(fields::required(&params, &["url"], "url")?)
                    } else {
                        fields::lenient(&params, &["url"])
                    };
                    if let Some(u) = u {
                        normalize::set_url(&mut params, &u);
                    }
                    "fetch".into()
                }
                Some("search") => {
                    canon(&mut params, &["query"], "query", "query", strict, strict)?;
                    "fetch".into()
                }
                Some("read-meta") => "read".into(),
                Some(other) => other.into(),
            }
        };
        let mut ev = HostEvent::new(phase, name, &tool);
        ev.params = params;
        ev.session_id = normalize::opt_str(obj, "session_id")?;
        ev.tool_use_id = tool_use_id;
        ev.workdir = normalize::opt_str(obj, "cwd")?;
        if phase != Phase::Pre {
            ev.response = obj.get("tool_response").cloned();
        }
        Ok(ev)
    }

    fn ask_style(&self) -> AskStyle {
        AskStyle::Native
    }

    fn render(&self, phase: Phase, verdict: &Verdict) -> Value {
        match (phase, verdict) {
            (Phase::Pre, Verdict::Allow) => pre("allow", None),
            (Phase::Pre, Verdict::Deny(r) | Verdict::Block(r, _)) => pre("deny", Some(r)),
            (Phase::Pre, Verdict::Ask(r)) => pre("ask", Some(r)),
            (Phase::Post | Phase::PostFailure, Verdict::Deny(r) | Verdict::Block(r, None)) => {
                json!({"decision": "block", "reason": branded(r)})
            }
            (_, Verdict::Block(r, Some(resp))) => json!({
                "decision": "block",
                "reason": branded(r),
                "hookSpecificOutput": {
                    "hookEventName": "PostToolUse",
                    "updatedToolOutput": redact_shape(resp),
                },
            }),
            (Phase::PostFailure, Verdict::Context(t)) => json!({
                "hookSpecificOutput": {
                    "hookEventName": "PostToolUseFailure",
                    "additionalContext": t,
                },
            }),
            _ => json!({}),
        }
    }
}

fn pre(decision: &str, reason: Option<&str>) -> Value {
    let mut h = json!({"hookEventName": "PreToolUse", "permissionDecision": decision});
    if let Some(r) = reason {
        h["permissionDecisionReason"] = Value::String(branded(r));
    }
    json!({ "hookSpecificOutput": h })
}
