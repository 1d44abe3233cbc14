//! GitHub Copilot CLI and VS Code (`--format copilot`): `PreToolUse`/`PostToolUse`. One output
//! object satisfies both hosts.

use serde_json::{Value, json};

use super::fields::{self, object_input};
use super::host::{AskStyle, Host, HostEvent, Phase, Verdict, branded};
use super::normalize::{self, valid_id};

/// The Copilot format.
pub struct Copilot;

const PATH_KEYS: [&str; 7] = [
    "path",
    "filePath",
    "file_path",
    "uri",
    "directory",
    "dirPath",
    "dir_path",
];

/// The class of a Copilot tool name (lower-cased, `_ - . / space` removed).
fn class_of(squashed: &str) -> &'static str {
    const EXEC: &[&str] = &[
        "bash",
        "powershell",
        "runshellcommand",
        "runterminalcommand",
        "terminal",
        "executecommand",
        "codeexecution",
    ];
    const READ: &[&str] = &[
        "read",
        "view",
        "readfile",
        "readmanyfiles",
        "getterminaloutput",
        "glob",
        "grep",
        "rg",
        "filesearch",
        "textsearch",
        "semanticsearch",
        "listdirectory",
        "problems",
        "usages",
        "changes",
    ];
    const WRITE: &[&str] = &[
        "write",
        "create",
        "edit",
        "strreplaceeditor",
        "applypatch",
        "createfile",
        "editfiles",
        "replace",
        "replaceinfile",
        "replacestringinfile",
        "deletefile",
        "movefile",
        "renamefile",
        "notebookedit",
    ];
    const FETCH: &[&str] = &["webfetch", "websearch", "fetch", "browser", "openurl"];
    const AGENT: &[&str] = &["task", "agent", "subagent", "delegate", "delegatetoagent"];
    const PROCESS: &[&str] = &["todowrite", "updatetodo", "runtask"];
    const INTERACT: &[&str] = &[
        "askuser",
        "askuserquestion",
        "enterplanmode",
        "exitplanmode",
    ];
    let n = squashed;
    for (set, class) in [
        (EXEC, "exec"),
        (READ, "read"),
        (WRITE, "write"),
        (FETCH, "fetch"),
        (AGENT, "agent"),
        (PROCESS, "process"),
        (INTERACT, "interact"),
    ] {
        if set.contains(&n) {
            return class;
        }
    }
    let has = |words: &[&str]| words.iter().any(|w| n.contains(w));
    if n.contains("mcp") {
        "mcp"
    } else if has(&["terminal", "shell"]) || n.ends_with("command") {
        "exec"
    } else if has(&["create", "write", "edit", "replace", "delete", "patch"]) {
        "write"
    } else if has(&["read", "view", "search", "grep", "glob", "list"]) {
        "read"
    } else if has(&["fetch", "browser", "web"]) {
        "fetch"
    } else if has(&["agent", "delegate"]) {
        "agent"
    } else {
        "unknown"
    }
}

impl Host for Copilot {
    fn format(&self) -> &'static str {
        "copilot"
    }

    fn agent(&self) -> &'static str {
        "github-copilot"
    }

    fn raw_response(&self, raw: &Value) -> Option<Value> {
        raw.get("tool_result")
            .or_else(|| raw.get("tool_response"))
            .map(|v| match v {
                Value::String(s) => json!({"output": s}),
                other => other.clone(),
            })
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
        let id = normalize::opt_str(obj, "tool_use_id")?;
        if let Some(id) = &id {
            valid_id(id, "tool_use_id")?;
        }
        let strict = phase == Phase::Pre;
        let mut params = object_input(obj.get("tool_input"));
        let mut paths = Vec::new();
        let squashed: String = name
            .to_lowercase()
            .chars()
            .filter(|c| !"_-./ ".contains(*c))
            .collect();
        let tool: String = match class_of(&squashed) {
            "mcp" => crate::engine::mcp_class::classify_native(&name, &params),
            "exec" => {
                let keys = [
                    "command",
                    "cmd",
                    "script",
                    "code",
                    "terminalCommand",
                    "input",
                ];
                fields::canon(&mut params, &keys, "command", "command", strict, true)?;
                "exec".into()
            }
            "read" => {
                fields::canon(&mut params, &PATH_KEYS, "path", "path", strict, false)?;
                "read".into()
            }
            "write" => {
                match fields::collect_paths(&params, &PATH_KEYS, &["files", "paths"]) {
                    Ok(p) => paths = p,
                    Err(e) if strict => return Err(e),
                    Err(_) => {}
                }
                if strict && paths.is_empty() {
                    return Err("write names no path".into());
                }
                fields::set_paths(&mut params, &paths);
                "write".into()
            }
            "fetch" => {
                let keys = ["url", "uri", "href", "query"];
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
            "unknown" if strict => {
                return Err(format!(
                    "unknown Copilot tool {name:?}; update Rampart to a version that maps it"
                ));
            }
            other => other.into(),
        };
        let mut ev = HostEvent::new(phase, &name, &tool);
        ev.params = params;
        ev.paths = paths;
        ev.session_id = normalize::opt_str(obj, "session_id")?;
        ev.tool_use_id = id;
        ev.workdir = normalize::opt_str(obj, "cwd")?;
        if phase == Phase::Post {
            ev.response = self.raw_response(raw);
        }
        Ok(ev)
    }

    fn ask_style(&self) -> AskStyle {
        AskStyle::Native
    }

    fn render(&self, phase: Phase, verdict: &Verdict) -> Value {
        let decide = |d: &str, r: &str| {
            let reason = branded(r);
            json!({
                "permissionDecision": d,
                "permissionDecisionReason": reason,
                "hookSpecificOutput": {
                    "hookEventName": "PreToolUse",
                    "permissionDecision": d,
                    "permissionDecisionReason": reason,
                },
            })
        };
        match (phase, verdict) {
            (Phase::Pre, Verdict::Deny(r) | Verdict::Block(r, _)) => decide("deny", r),
            (Phase::Pre, Verdict::Ask(r)) => decide("ask", r),
            (_, Verdict::Deny(r) | Verdict::Block(r, _)) => {
                let text = format!("Rampart blocked this tool response: {r}");
                json!({
                    "modifiedResult": {
                        "resultType": "success",
                        "textResultForLlm": fields::BLOCKED_TEXT,
                    },
                    "additionalContext": text,
                    "decision": "block",
                    "reason": text,
                    "hookSpecificOutput": {
                        "hookEventName": "PostToolUse",
                        "additionalContext": text,
                    },
                })
            }
            _ => json!({}),
        }
    }
}
