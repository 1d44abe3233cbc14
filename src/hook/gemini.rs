//! Gemini CLI (`--format gemini`): `BeforeTool`/`AfterTool`.

use serde_json::{Value, json};

use super::fields::{self, object_input};
use super::host::{AskStyle, Host, HostEvent, Phase, Verdict, approval_required, branded};
use super::normalize::{self, lower};

/// The Gemini CLI format.
pub struct Gemini;

fn class_of(name: &str) -> Option<&'static str> {
    Some(match name {
        "run_shell_command" | "shell" => "exec",
        "read_file"
        | "read_many_files"
        | "glob"
        | "grep_search"
        | "list_directory"
        | "search_file_content"
        | "list_mcp_resources"
        | "read_mcp_resource"
        | "get_internal_docs"
        | "activate_skill"
        | "tracker_get_task"
        | "tracker_list_tasks"
        | "tracker_visualize" => "read",
        "write_file" | "replace" => "write",
        "web_fetch" | "google_web_search" => "fetch",
        "save_memory" => "memory",
        "delegate_to_agent" => "agent",
        "write_todos"
        | "tracker_create_task"
        | "tracker_update_task"
        | "tracker_add_dependency" => "process",
        "ask_user" | "complete_task" | "enter_plan_mode" | "exit_plan_mode" | "update_topic" => {
            "interact"
        }
        _ => return None,
    })
}

impl Host for Gemini {
    fn format(&self) -> &'static str {
        "gemini"
    }

    fn agent(&self) -> &'static str {
        "gemini-cli"
    }

    fn parse(&self, raw: &Value) -> Result<HostEvent, String> {
        let obj = raw.as_object().ok_or("payload is not a JSON object")?;
        let phase = match obj.get("hook_event_name").and_then(Value::as_str) {
            Some("BeforeTool") => Phase::Pre,
            Some("AfterTool") => Phase::Post,
            Some(other) => return Err(format!("unsupported hook event {other:?}")),
            None => return Err("missing hook_event_name".into()),
        };
        let name = normalize::opt_str(obj, "tool_name")?.ok_or("missing tool_name")?;
        let strict = phase == Phase::Pre;
        let mut params = object_input(obj.get("tool_input"));
        let mut paths = Vec::new();
        let l = lower(&name);
        let tool: String = if l.starts_with("mcp_") {
            crate::engine::mcp_class::classify_native(&name, &params)
        } else {
            match class_of(&l) {
                Some("exec") => {
                    fields::canon(
                        &mut params,
                        &["command"],
                        "command",
                        "command",
                        strict,
                        true,
                    )?;
                    "exec".into()
                }
                Some(class @ ("read" | "write")) => {
                    if l == "read_many_files" {
                        let r = fields::collect_paths(&params, &["path"], &["include", "paths"]);
                        match r {
                            Ok(p) => paths = p,
                            Err(e) if strict => return Err(e),
                            Err(_) => {}
                        }
                        fields::set_paths(&mut params, &paths);
                    } else {
                        let need = matches!(l.as_str(), "write_file" | "replace" | "read_file");
                        let keys = ["path", "file_path", "dir_path"];
                        fields::canon(&mut params, &keys, "path", "path", strict, need)?;
                    }
                    class.into()
                }
                Some("fetch") => {
                    let keys: &[&str] = if l == "web_fetch" {
                        &["url", "prompt"]
                    } else {
                        &["url", "query"]
                    };
                    let u = if strict {
                        Some(fields::required(&params, keys, "url")?)
                    } else {
                        fields::lenient(&params, keys)
                    };
                    if let Some(u) = u {
                        normalize::set_url(&mut params, &u);
                    }
                    "fetch".into()
                }
                Some(other) => other.into(),
                None if strict => {
                    return Err(format!(
                        "unknown Gemini CLI tool {name:?}; update Rampart to a version that maps it"
                    ));
                }
                None => "unknown".into(),
            }
        };
        let mut ev = HostEvent::new(phase, &name, &tool);
        ev.params = params;
        ev.paths = paths;
        ev.session_id = normalize::opt_str(obj, "session_id")?;
        ev.workdir = normalize::opt_str(obj, "cwd")?;
        if phase == Phase::Post {
            ev.response = obj.get("tool_response").cloned();
        }
        Ok(ev)
    }

    fn ask_style(&self) -> AskStyle {
        AskStyle::External
    }

    fn render(&self, _phase: Phase, verdict: &Verdict) -> Value {
        match verdict {
            Verdict::Deny(r) | Verdict::Block(r, _) => {
                json!({"decision": "deny", "reason": branded(r)})
            }
            Verdict::Ask(r) => json!({"decision": "deny", "reason": approval_required(r)}),
            _ => json!({}),
        }
    }
}
