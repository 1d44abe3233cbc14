//! Cline (`--format cline`): editor and CLI hooks, `tool_call`/`PreToolUse` and
//! `tool_result`/`PostToolUse`.

use std::io::IsTerminal;

use serde_json::{Map, Value, json};

use super::fields::{self, object_input};
use super::host::{AskStyle, Host, HostEvent, Phase, Verdict, approval_required};
use super::normalize::{self, lower};

/// The Cline format.
pub struct Cline;

const PATH_KEYS: [&str; 7] = [
    "path",
    "file_path",
    "filePath",
    "uri",
    "directory",
    "dir_path",
    "dirPath",
];

fn class_of(name: &str) -> &'static str {
    match name {
        "execute_command" | "run_commands" | "bash" => "exec",
        "read_file"
        | "read_files"
        | "search_files"
        | "list_files"
        | "list_code_definition_names"
        | "search_codebase"
        | "search" => "read",
        "write_to_file" | "replace_in_file" | "apply_patch" | "editor" | "new_rule" => "write",
        "browser_action" | "web_fetch" | "web_search" | "fetch_web_content" | "fetch_web" => {
            "fetch"
        }
        "use_mcp_tool" | "access_mcp_resource" => "mcp",
        "new_task" | "spawn_agent" | "team_spawn" | "team_create" | "use_subagents" => "agent",
        "team_send_message" | "team_broadcast" | "report_bug" => "message",
        "ask_followup_question"
        | "plan_mode_respond"
        | "attempt_completion"
        | "use_skill"
        | "load_mcp_documentation"
        | "condense"
        | "summarize_task"
        | "new_task_plan" => "interact",
        n if n.contains("__") || n.starts_with("mcp_") || n.starts_with("mcp.") => "mcp",
        _ => "unknown",
    }
}

/// Decodes JSON-looking strings (`"[\"ls\"]"`) inside stringified parameters.
fn decode_strings(m: &Map<String, Value>) -> Map<String, Value> {
    m.iter()
        .map(|(k, v)| {
            let v = match v {
                Value::String(s) if s.trim_start().starts_with(['[', '{']) => {
                    serde_json::from_str(s).unwrap_or_else(|_| v.clone())
                }
                _ => v.clone(),
            };
            (k.clone(), v)
        })
        .collect()
}

fn names_agree(names: &[Option<&str>]) -> Result<String, String> {
    let mut found: Option<&str> = None;
    for n in names
        .iter()
        .flatten()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
    {
        match found {
            Some(f) if f != n => return Err(format!("conflicting tool names ({f:?} and {n:?})")),
            _ => found = Some(n),
        }
    }
    found
        .map(str::to_string)
        .ok_or_else(|| "missing tool name".into())
}

impl Host for Cline {
    fn format(&self) -> &'static str {
        "cline"
    }

    fn agent(&self) -> &'static str {
        "cline"
    }

    fn is_post(&self, raw: &Value) -> bool {
        raw.get("postToolUse").is_some()
            || raw.get("tool_result").is_some()
            || matches!(
                raw.get("hookName").and_then(Value::as_str),
                Some("PostToolUse" | "tool_result")
            )
    }

    fn raw_response(&self, raw: &Value) -> Option<Value> {
        raw.get("tool_result")
            .and_then(|r| r.get("output"))
            .or_else(|| raw.get("postToolUse").and_then(|p| p.get("result")))
            .cloned()
    }

    fn parse(&self, raw: &Value) -> Result<HostEvent, String> {
        let obj = raw.as_object().ok_or("payload is not a JSON object")?;
        let pre = obj.get("preToolUse").or_else(|| obj.get("tool_call"));
        let post = obj.get("postToolUse").or_else(|| obj.get("tool_result"));
        let phase = match (pre.is_some(), post.is_some()) {
            (true, false) => Phase::Pre,
            (false, true) => Phase::Post,
            (true, true) => return Err("payload carries both a tool call and a tool result".into()),
            (false, false) => return Err("payload carries neither a tool call nor a result".into()),
        };
        let hook = obj.get("hookName").and_then(Value::as_str).unwrap_or("");
        let hook_ok = match phase {
            Phase::Pre => matches!(hook, "" | "PreToolUse" | "tool_call"),
            _ => matches!(hook, "" | "PostToolUse" | "tool_result"),
        };
        if !hook_ok {
            return Err(format!("hookName {hook:?} does not match the payload"));
        }
        let (wrapper_key, record_key) = match phase {
            Phase::Pre => ("preToolUse", "tool_call"),
            _ => ("postToolUse", "tool_result"),
        };
        let wrapper = obj.get(wrapper_key).and_then(Value::as_object);
        let record = obj.get(record_key).and_then(Value::as_object);
        let name = names_agree(&[
            wrapper
                .and_then(|w| w.get("toolName"))
                .and_then(Value::as_str),
            wrapper.and_then(|w| w.get("tool")).and_then(Value::as_str),
            record.and_then(|r| r.get("name")).and_then(Value::as_str),
        ])?;
        let strict = phase == Phase::Pre;
        // The record's input is lossless; the wrapper's parameters are stringified.
        let mut params = match record.and_then(|r| r.get("input")) {
            Some(v) if !v.is_null() => object_input(Some(v)),
            _ => decode_strings(
                &wrapper
                    .and_then(|w| w.get("parameters"))
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default(),
            ),
        };
        let mut paths = Vec::new();
        let l = lower(&name);
        let tool: String = match class_of(&l) {
            "exec" => {
                let mut cmds: Vec<String> = Vec::new();
                for k in ["commands", "command", "cmd", "script"] {
                    let Some(v) = params.get(k) else { continue };
                    let items: Vec<&Value> = match v {
                        Value::Array(a) => a.iter().collect(),
                        other => vec![other],
                    };
                    for it in items {
                        match fields::command_line(it) {
                            Ok(Some(c)) => fields::push_member(&mut cmds, &c, "command")?,
                            Ok(None) => {}
                            Err(e) if strict => return Err(e),
                            Err(_) => {}
                        }
                    }
                }
                if strict && cmds.is_empty() {
                    return Err("missing command".into());
                }
                if !cmds.is_empty() {
                    params.insert("command".into(), Value::String(cmds.join(" && ")));
                    params.insert(
                        "commands".into(),
                        Value::Array(cmds.into_iter().map(Value::String).collect()),
                    );
                }
                "exec".into()
            }
            class @ ("read" | "write") => {
                let arrays = ["files", "file_paths", "paths"];
                match fields::collect_paths(&params, &PATH_KEYS, &arrays) {
                    Ok(p) => paths = p,
                    Err(e) if strict => return Err(e),
                    Err(_) => {}
                }
                if l == "apply_patch"
                    && let Some(p) = fields::lenient(&params, &["input", "patch", "diff"])
                {
                    match fields::patch_paths(&p) {
                        Ok(ps) => {
                            for x in ps {
                                fields::push_member(&mut paths, &x, "path")?;
                            }
                        }
                        Err(e) if strict && paths.is_empty() => return Err(e),
                        Err(_) => {}
                    }
                }
                if strict && class == "write" && paths.is_empty() {
                    return Err("write names no path".into());
                }
                fields::set_paths(&mut params, &paths);
                class.into()
            }
            "fetch" => {
                let mut keys = vec!["url", "uri", "href"];
                if l == "web_search" {
                    keys.push("query");
                }
                let mut urls = Vec::new();
                for k in &keys {
                    match params.get(*k) {
                        Some(Value::String(s)) => fields::push_member(&mut urls, s, "url")?,
                        Some(Value::Array(a)) => {
                            for u in a.iter().filter_map(Value::as_str) {
                                fields::push_member(&mut urls, u, "url")?;
                            }
                        }
                        _ => {}
                    }
                }
                if urls.len() > 1 && strict {
                    return Err(
                        "one call fetches several URLs; split it into one call per URL".into(),
                    );
                }
                if let Some(u) = urls.first().cloned() {
                    normalize::set_url(&mut params, &u);
                } else if strict && l != "browser_action" {
                    return Err("missing url".into());
                }
                "fetch".into()
            }
            "mcp" => {
                let local = params
                    .get("tool_name")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .or_else(|| name.rsplit("__").next().map(str::to_string))
                    .unwrap_or_default();
                let mut p = params.clone();
                p.insert("mcp_tool".into(), Value::String(local));
                crate::engine::mcp_class::classify_native(&name, &p)
            }
            "unknown" if strict => {
                return Err(format!(
                    "unknown Cline tool {name:?}; update Rampart to a version that maps it"
                ));
            }
            other => other.into(),
        };
        let mut ev = HostEvent::new(phase, &name, &tool);
        ev.params = params;
        ev.paths = paths;
        ev.session_id = normalize::opt_str(obj, "taskId")?;
        ev.tool_use_id = record
            .map(|r| normalize::opt_str(r, "id"))
            .transpose()?
            .flatten();
        ev.workdir = obj
            .get("workspaceRoots")
            .and_then(Value::as_array)
            .and_then(|a| a.iter().filter_map(Value::as_str).find(|s| !s.is_empty()))
            .map(str::to_string);
        if phase == Phase::Post {
            ev.response = self.raw_response(raw);
        }
        Ok(ev)
    }

    fn ask_style(&self) -> AskStyle {
        AskStyle::Refuse
    }

    fn render(&self, _phase: Phase, verdict: &Verdict) -> Value {
        match verdict {
            Verdict::Deny(r) | Verdict::Block(r, _) => {
                json!({"cancel": true, "errorMessage": format!("Blocked by Rampart: {r}")})
            }
            Verdict::Ask(r) => json!({"cancel": true, "errorMessage": approval_required(r)}),
            _ => json!({"cancel": false}),
        }
    }

    fn deny_banner(&self, subject: &str, reason: &str, suggestions: &[String]) -> Option<String> {
        let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        let (red, dim, off) = if color {
            ("\x1b[31m", "\x1b[2m", "\x1b[0m")
        } else {
            ("", "", "")
        };
        let mut s = format!("{red}🛡️ Rampart blocked: {subject}{off}\n   Reason: {reason}\n");
        if !suggestions.is_empty() {
            s.push_str("   To allow:\n");
            for x in suggestions {
                s.push_str(&format!("{dim}     $ {x}{off}\n"));
            }
        }
        Some(s)
    }
}
