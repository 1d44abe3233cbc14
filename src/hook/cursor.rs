//! Cursor (`--format cursor`): local Agent and Cmd+K `preToolUse` hooks.

use serde_json::{Value, json};

use super::fields::{self, object_input};
use super::host::{AskStyle, Host, HostEvent, Phase, Verdict, approval_required, branded};
use super::normalize::{self, lower};

/// The Cursor format.
pub struct Cursor;

const PATH_KEYS: [&str; 5] = ["path", "filePath", "file_path", "uri", "directory"];

impl Host for Cursor {
    fn format(&self) -> &'static str {
        "cursor"
    }

    fn agent(&self) -> &'static str {
        "cursor"
    }

    fn is_post(&self, _raw: &Value) -> bool {
        false
    }

    fn parse(&self, raw: &Value) -> Result<HostEvent, String> {
        let obj = raw.as_object().ok_or("payload is not a JSON object")?;
        match obj.get("hook_event_name").and_then(Value::as_str) {
            Some("preToolUse") => {}
            Some(other) => return Err(format!("unsupported hook event {other:?}")),
            None => return Err("missing hook_event_name".into()),
        }
        let name = normalize::opt_str(obj, "tool_name")?.ok_or("missing tool_name")?;
        let cwd = normalize::opt_str(obj, "cwd")?;
        let mut params = object_input(obj.get("tool_input"));
        let mut paths = Vec::new();
        let l = lower(&name);
        let tool: String = if l.starts_with("mcp:") {
            crate::engine::mcp_class::classify_native(&name, &params)
        } else {
            match l.as_str() {
                "shell" => {
                    let keys = ["command", "cmd", "script", "code", "input"];
                    fields::canon(&mut params, &keys, "command", "command", true, true)?;
                    "exec".into()
                }
                "grep" | "glob" => {
                    fields::required(&params, &["pattern", "query"], "pattern")?;
                    match fields::alias(&params, &PATH_KEYS, "path")? {
                        Some(p) => {
                            params.insert("path".into(), Value::String(p));
                        }
                        None => {
                            let d = cwd.clone().ok_or("search has no path and no cwd")?;
                            params.insert("path".into(), Value::String(d));
                        }
                    }
                    "read".into()
                }
                "read" => {
                    fields::canon(&mut params, &PATH_KEYS, "path", "path", true, true)?;
                    "read".into()
                }
                "write" | "edit" | "delete" => {
                    paths = fields::collect_paths(&params, &PATH_KEYS[..4], &["files", "paths"])?;
                    if paths.is_empty() {
                        return Err("write names no path".into());
                    }
                    fields::set_paths(&mut params, &paths);
                    "write".into()
                }
                "task" => "agent".into(),
                "webfetch" | "websearch" | "fetch" | "browser" | "openurl" => {
                    let u = fields::required(&params, &["url", "uri", "href", "query"], "url")?;
                    normalize::set_url(&mut params, &u);
                    "fetch".into()
                }
                _ => {
                    return Err(format!(
                        "unknown Cursor tool {name:?}; update Rampart to a version that maps it"
                    ));
                }
            }
        };
        let mut ev = HostEvent::new(Phase::Pre, &name, &tool);
        ev.params = params;
        ev.paths = paths;
        ev.session_id = normalize::opt_str(obj, "conversation_id")?;
        ev.tool_use_id = normalize::opt_str(obj, "tool_use_id")?;
        ev.workdir = cwd;
        Ok(ev)
    }

    fn ask_style(&self) -> AskStyle {
        AskStyle::External
    }

    fn render(&self, _phase: Phase, verdict: &Verdict) -> Value {
        let deny = |m: String| json!({"permission": "deny", "user_message": m, "agent_message": m});
        match verdict {
            Verdict::Deny(r) | Verdict::Block(r, _) => deny(branded(r)),
            // Cursor does not enforce `ask` before a tool runs: unanswered means denied.
            Verdict::Ask(r) => deny(approval_required(r)),
            // `{}` keeps Cursor's own permission settings in charge.
            _ => json!({}),
        }
    }
}
