//! Antigravity (`--format antigravity`): pre-call hooks only (the host sends no result).

use serde_json::{Value, json};

use super::fields::{self, object_input};
use super::host::{AskStyle, Host, HostEvent, Phase, Verdict, approval_required, branded};
use super::normalize::{self, lower};

/// The Antigravity format.
pub struct Antigravity;

const PATH_KEYS: [&str; 10] = [
    "AbsolutePath",
    "TargetFile",
    "FilePath",
    "filePath",
    "file_path",
    "Path",
    "DirectoryPath",
    "directoryPath",
    "SearchDirectory",
    "SearchPath",
];

impl Host for Antigravity {
    fn format(&self) -> &'static str {
        "antigravity"
    }

    fn agent(&self) -> &'static str {
        "antigravity"
    }

    fn is_post(&self, _raw: &Value) -> bool {
        false
    }

    fn parse(&self, raw: &Value) -> Result<HostEvent, String> {
        let obj = raw.as_object().ok_or("payload is not a JSON object")?;
        let call = obj
            .get("toolCall")
            .and_then(Value::as_object)
            .ok_or("missing toolCall")?;
        let name = normalize::opt_str(call, "name")?.ok_or("missing toolCall.name")?;
        let mut params = object_input(call.get("args"));
        let mut paths = Vec::new();
        let l = lower(&name);
        let tool: String = if l.starts_with("mcp_") || l.starts_with("mcp.") {
            crate::engine::mcp_class::classify_native(&name, &params)
        } else {
            match l.as_str() {
                "run_command" => {
                    let keys = ["CommandLine", "commandLine", "Command", "command", "cmd"];
                    fields::canon(&mut params, &keys, "command", "command", true, true)?;
                    "exec".into()
                }
                "view_file" | "list_dir" | "find_by_name" | "grep_search" | "list_permissions" => {
                    let mut keys = PATH_KEYS.to_vec();
                    keys.push("path");
                    fields::canon(&mut params, &keys, "path", "path", true, false)?;
                    "read".into()
                }
                "write_to_file" | "replace_file_content" | "multi_replace_file_content" => {
                    let mut keys = PATH_KEYS.to_vec();
                    keys.push("path");
                    paths =
                        fields::collect_paths(&params, &keys, &["paths", "TargetFiles", "Files"])?;
                    if paths.is_empty() {
                        return Err("write names no path".into());
                    }
                    fields::set_paths(&mut params, &paths);
                    "write".into()
                }
                "search_web" | "read_url_content" | "generate_image" => {
                    let keys = ["Url", "URL", "Uri", "URI", "url", "query"];
                    if let Some(u) = fields::alias(&params, &keys, "url")? {
                        normalize::set_url(&mut params, &u);
                    }
                    "fetch".into()
                }
                "manage_task" | "schedule" => "process".into(),
                "invoke_subagent" | "define_subagent" | "send_message" | "manage_subagents" => {
                    "agent".into()
                }
                "ask_permission" | "ask_question" => "interact".into(),
                _ => {
                    return Err(format!(
                        "unknown Antigravity tool {name:?}; update Rampart to a version that maps it"
                    ));
                }
            }
        };
        let mut ev = HostEvent::new(Phase::Pre, &name, &tool);
        ev.params = params;
        ev.paths = paths;
        ev.session_id = normalize::opt_str(obj, "conversationId")?;
        ev.workdir = obj
            .get("workspacePaths")
            .and_then(Value::as_array)
            .and_then(|a| a.iter().filter_map(Value::as_str).find(|s| !s.is_empty()))
            .map(str::to_string);
        Ok(ev)
    }

    fn ask_style(&self) -> AskStyle {
        AskStyle::Native
    }

    fn render(&self, _phase: Phase, verdict: &Verdict) -> Value {
        match verdict {
            Verdict::Deny(r) | Verdict::Block(r, _) => {
                json!({"decision": "deny", "reason": branded(r)})
            }
            // `force_ask` also overrides the host's cached "Always Allow".
            Verdict::Ask(r) => json!({"decision": "force_ask", "reason": approval_required(r)}),
            // The protocol always carries a decision.
            _ => json!({"decision": "allow"}),
        }
    }
}
