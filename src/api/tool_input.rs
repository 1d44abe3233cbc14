//! Tool-call input normalisation for `/v1/tool` and `/v1/preflight` (spec/server.md §2): tool
//! name validation, alias canonicalisation where ambiguity is an error, and enrichment.

use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::engine::ToolCall;

/// Longest tool name accepted.
pub const MAX_TOOL_NAME: usize = 128;
/// Largest `command_b64` accepted (encoded bytes).
pub const MAX_COMMAND_B64: usize = 1 << 20;

const RESERVED: &[&str] = &[
    "browser",
    "edit",
    "exec",
    "fetch",
    "http",
    "mcp",
    "mcp-dangerous",
    "mcp-destructive",
    "read",
    "web_fetch",
    "write",
];

/// The request body of `/v1/tool/{name}` and `/v1/preflight/{name}`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ToolRequest {
    /// Agent identity.
    pub agent: String,
    /// Session identity.
    pub session: String,
    /// Sub-agent depth.
    pub agent_depth: u32,
    /// Run correlation id.
    pub run_id: String,
    /// Tool-call correlation id.
    pub tool_call_id: String,
    /// Tool parameters.
    pub params: Option<Map<String, Value>>,
    /// MCP-style arguments.
    pub input: Option<Map<String, Value>>,
    /// Convenience: the command.
    pub command: Option<String>,
    /// Convenience: the path.
    pub path: Option<String>,
    /// Convenience: the URL.
    pub url: Option<String>,
    /// Convenience: the working directory.
    pub workdir: Option<String>,
    /// Convenience alias of `workdir`.
    pub cwd: Option<String>,
    /// Tool output to scan with response rules.
    pub response: Option<String>,
    /// Host-owned approval description.
    pub approval_owner: Option<Map<String, Value>>,
    /// Legacy hosted-approval flag.
    pub openclaw_hosted: bool,
    /// Legacy hosted-approval flag.
    pub skip_pending_approval: bool,
    /// Preflight only: evaluate without recording (bootstrap token only).
    pub verification: bool,
    /// Preflight only: host-owned enforcement.
    pub enforce: bool,
    /// Seconds to wait for a human when the call needs approval (long-poll); 0 = answer 202 now.
    pub wait_seconds: Option<f64>,
}

/// Validates the `{toolName}` path segment.
pub fn validate_tool_name(raw: &str) -> Result<String, String> {
    let name = raw.trim();
    if name.is_empty() {
        return Err("invalid tool name: empty".into());
    }
    if name.len() > MAX_TOOL_NAME {
        return Err(format!(
            "invalid tool name: longer than {MAX_TOOL_NAME} bytes"
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-')))
    {
        return Err(format!("invalid tool name: character {c:?} is not allowed"));
    }
    let lower = name.to_ascii_lowercase();
    if lower != name && RESERVED.contains(&lower.as_str()) {
        return Err(format!(
            "invalid tool name: reserved tool name {name:?} must use canonical spelling {lower:?}"
        ));
    }
    Ok(name.to_string())
}

fn is_path_tool(t: &str) -> bool {
    matches!(t, "read" | "write" | "edit" | "mcp-destructive")
}

fn is_url_tool(t: &str) -> bool {
    matches!(t, "fetch" | "http" | "web_fetch" | "browser")
}

/// Collects the one value of a field from top-level values and alias keys of every view.
fn collect(
    field: &str,
    top: &[Option<&str>],
    views: &[&Map<String, Value>],
    keys: &[&str],
    extra: Option<String>,
) -> Result<Option<String>, String> {
    let mut found: Option<String> = None;
    let mut add = |v: &str| -> Result<(), String> {
        if v.trim().is_empty() {
            return Ok(());
        }
        match &found {
            None => found = Some(v.to_string()),
            Some(f) if f == v => {}
            Some(_) => return Err(format!("invalid tool input: conflicting {field} aliases")),
        }
        Ok(())
    };
    for v in top.iter().flatten() {
        add(v)?;
    }
    for view in views {
        for k in keys {
            match view.get(*k) {
                None | Some(Value::Null) => {}
                Some(Value::String(s)) => add(s)?,
                Some(_) => return Err(format!("invalid tool input: {field} must be a string")),
            }
        }
    }
    if let Some(e) = extra {
        add(&e)?;
    }
    Ok(found)
}

fn decode_b64(views: &[&Map<String, Value>]) -> Result<Option<String>, String> {
    let mut out: Option<String> = None;
    for view in views {
        match view.get("command_b64") {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => {
                if s.len() > MAX_COMMAND_B64 {
                    return Err("invalid tool input: command_b64 is too large".into());
                }
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(s.trim())
                    .map_err(|_| "invalid tool input: command_b64 is not valid base64")?;
                let text = String::from_utf8(bytes)
                    .map_err(|_| "invalid tool input: command_b64 is not valid UTF-8")?;
                match &out {
                    Some(o) if *o != text => {
                        return Err("invalid tool input: conflicting command aliases".into());
                    }
                    _ => out = Some(text),
                }
            }
            Some(_) => return Err("invalid tool input: command_b64 must be a string".into()),
        }
    }
    Ok(out)
}

/// Drops leading blank lines and `#` comment lines from a shell command.
pub fn strip_leading_comments(cmd: &str) -> String {
    let mut rest = cmd;
    loop {
        let (line, after) = match rest.find('\n') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, ""),
        };
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            if after.is_empty() {
                return String::new();
            }
            rest = after;
        } else {
            return rest.to_string();
        }
    }
}

/// The path component of a URL (after the authority, before `?`/`#`).
fn url_path(url: &str) -> Option<String> {
    let after = url.split_once("://")?.1;
    let p = after.find('/').map(|i| &after[i..])?;
    let end = p.find(['?', '#']).unwrap_or(p.len());
    Some(p[..end].to_string())
}

/// Normalises a request into the engine's call (400 message on error).
pub fn normalize(tool: &str, req: &ToolRequest) -> Result<ToolCall, String> {
    let mut params = req.params.clone().unwrap_or_default();
    let mut input = req.input.clone().filter(|m| !m.is_empty());
    let mut arguments = match params.get("arguments") {
        Some(Value::Object(m)) => Some(m.clone()),
        _ => None,
    };
    let mut tool_input = match params.get("tool_input") {
        Some(Value::Object(m)) => Some(m.clone()),
        _ => None,
    };
    let views: Vec<&Map<String, Value>> = [Some(&params)]
        .into_iter()
        .chain([input.as_ref(), arguments.as_ref(), tool_input.as_ref()])
        .flatten()
        .collect();

    let exec = tool == "exec";
    let cmd_keys: &[&str] = if exec {
        &["command", "cmd", "input"]
    } else {
        &["command"]
    };
    let b64 = if exec { decode_b64(&views)? } else { None };
    let command = collect("command", &[req.command.as_deref()], &views, cmd_keys, b64)?;
    let path_keys: &[&str] = if is_path_tool(tool) {
        &["path", "file_path", "file", "filepath", "target"]
    } else {
        &["path", "file_path"]
    };
    let path = collect("path", &[req.path.as_deref()], &views, path_keys, None)?;
    let workdir = collect(
        "workdir",
        &[req.workdir.as_deref(), req.cwd.as_deref()],
        &views,
        &["workdir", "cwd"],
        None,
    )?;
    let url_keys: &[&str] = if is_url_tool(tool) {
        &["url", "uri", "href"]
    } else {
        &["url"]
    };
    let url = collect("url", &[req.url.as_deref()], &views, url_keys, None)?;
    collect("domain", &[], &views, &["domain"], None)?;
    collect("scheme", &[], &views, &["scheme"], None)?;

    let command = command.map(|c| if exec { strip_leading_comments(&c) } else { c });
    let command = match (tool, command) {
        ("agent", None) => views.iter().find_map(|v| {
            ["description", "prompt"]
                .iter()
                .find_map(|k| v.get(*k).and_then(Value::as_str).map(str::to_string))
        }),
        (_, c) => c,
    };

    let mut url_fields: Vec<(&str, String)> = Vec::new();
    if let Some(u) = &url
        && is_url_tool(tool)
        && let Some(parts) = crate::engine::url::parse(u)
        && !parts.host.is_empty()
    {
        url_fields.push(("domain", parts.host.to_string()));
        url_fields.push(("scheme", parts.scheme.to_string()));
    }
    let url_path = url
        .as_deref()
        .filter(|_| is_url_tool(tool))
        .and_then(url_path);

    let fix = |m: &mut Map<String, Value>| {
        m.remove("command_effective");
        if let Some(c) = &command {
            m.insert("command".into(), Value::String(c.clone()));
        }
        if let Some(p) = &path {
            m.insert("path".into(), Value::String(p.clone()));
        }
        if let Some(w) = &workdir {
            m.insert("workdir".into(), Value::String(w.clone()));
        }
        if let Some(u) = &url {
            m.insert("url".into(), Value::String(u.clone()));
            m.remove("domain");
            m.remove("scheme");
            for (k, v) in &url_fields {
                m.insert((*k).into(), Value::String(v.clone()));
            }
            if let Some(p) = &url_path
                && !m.contains_key("path")
            {
                m.insert("path".into(), Value::String(p.clone()));
            }
        }
        if exec {
            m.remove("command_b64");
        }
    };
    for m in [input.as_mut(), arguments.as_mut(), tool_input.as_mut()]
        .into_iter()
        .flatten()
    {
        fix(m);
    }
    fix(&mut params);
    if let Some(a) = arguments {
        params.insert("arguments".into(), Value::Object(a));
    }
    if let Some(t) = tool_input {
        params.insert("tool_input".into(), Value::Object(t));
    }
    let preferred = input.or_else(|| match params.get("arguments") {
        Some(Value::Object(m)) => Some(m.clone()),
        _ => match params.get("tool_input") {
            Some(Value::Object(m)) => Some(m.clone()),
            _ => None,
        },
    });
    Ok(ToolCall {
        tool: tool.to_string(),
        agent: req.agent.clone(),
        session: req.session.clone(),
        agent_depth: req.agent_depth,
        workdir,
        params,
        input: preferred.unwrap_or_default(),
        run_id: Some(req.run_id.clone()).filter(|s| !s.is_empty()),
        tool_call_id: Some(req.tool_call_id.clone()).filter(|s| !s.is_empty()),
        resolved_path: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn req(v: Value) -> ToolRequest {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn tool_names() {
        assert_eq!(validate_tool_name(" exec ").unwrap(), "exec");
        assert!(
            validate_tool_name("Exec")
                .unwrap_err()
                .contains("canonical spelling \"exec\"")
        );
        assert_eq!(validate_tool_name("MyTool").unwrap(), "MyTool");
        assert!(validate_tool_name("a b").is_err());
        assert!(validate_tool_name(&"x".repeat(129)).is_err());
        assert!(validate_tool_name("").is_err());
    }

    #[test]
    fn aliases() {
        let c = normalize("exec", &req(json!({"params": {"cmd": "ls"}}))).unwrap();
        assert_eq!(c.params["command"], "ls");
        let e = normalize(
            "exec",
            &req(json!({"command": "ls", "params": {"cmd": "rm -rf /"}})),
        )
        .unwrap_err();
        assert!(e.contains("conflicting command aliases"), "{e}");
        let e = normalize("exec", &req(json!({"params": {"command": 5}}))).unwrap_err();
        assert!(e.contains("command must be a string"));
        let b64 = base64::engine::general_purpose::STANDARD.encode("rm -rf /");
        let e = normalize(
            "exec",
            &req(json!({"params": {"command": "ls", "command_b64": b64}})),
        )
        .unwrap_err();
        assert!(e.contains("conflicting"));
        let c = normalize("exec", &req(json!({"params": {"command_b64": b64}}))).unwrap();
        assert_eq!(c.params["command"], "rm -rf /");
        let c = normalize(
            "exec",
            &req(json!({"params": {"command": "# note\n\nrm -rf /"}})),
        )
        .unwrap();
        assert_eq!(c.params["command"], "rm -rf /");
        let c = normalize(
            "fetch",
            &req(json!({"params": {"uri": "https://Evil.example/x?q", "domain": "good.com"}})),
        )
        .unwrap();
        assert_eq!(c.params["domain"], "Evil.example");
        assert_eq!(c.params["path"], "/x");
        let c = normalize(
            "mcp",
            &req(json!({"params": {"arguments": {"file_path": "/etc/shadow"}}})),
        )
        .unwrap();
        assert_eq!(c.params["path"], "/etc/shadow");
        assert_eq!(c.input["path"], "/etc/shadow");
    }
}
