//! Translation between MCP and Rampart: a `tools/call` request becomes a [`ToolCall`], a
//! `tools/call` result becomes the text response rules read.

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::engine::ToolCall;
use crate::engine::mcp_class;

/// Argument names that carry the values policies match; a case variant of one of them
/// (`"Path"`) is refused in enforce mode, since a server might read it where policy does not.
pub const SECURITY_KEYS: &[&str] = &[
    "command",
    "cmd",
    "input",
    "path",
    "file_path",
    "file",
    "filepath",
    "target",
    "url",
    "uri",
    "href",
    "workdir",
    "cwd",
    "domain",
    "scheme",
];

/// Parses `--map-tool NAME=CLASS` values into the classifier's custom table.
pub fn parse_tool_classes(specs: &[String]) -> Result<HashMap<String, String>, String> {
    let mut out = HashMap::new();
    for spec in specs {
        let Some((name, class)) = spec.split_once('=') else {
            return Err(format!("--map-tool {spec:?}: expected NAME=CLASS"));
        };
        let (name, class) = (name.trim().to_lowercase(), class.trim());
        let valid = |c: char| c.is_ascii_alphanumeric() || "_.:-".contains(c);
        if name.is_empty() || class.is_empty() || !class.chars().all(valid) {
            return Err(format!(
                "--map-tool {spec:?}: NAME and CLASS must be non-empty; CLASS may use letters, digits, _ . : -"
            ));
        }
        out.insert(name, class.to_string());
    }
    Ok(out)
}

/// Who is calling, as written into every call.
#[derive(Debug, Clone, Default)]
pub struct Identity {
    /// Agent (`--agent-id`).
    pub agent: String,
    /// Session (`--session-id`).
    pub session: String,
    /// The proxy's working directory.
    pub workdir: Option<String>,
    /// Custom tool → class mappings (`--map-tool`; lower-cased names, `_default` for the rest).
    pub classes: Option<std::sync::Arc<HashMap<String, String>>>,
}

impl Identity {
    /// A call of class `tool` with these params (also given as `input`).
    fn call(
        &self,
        tool: String,
        params: Map<String, Value>,
        input: Map<String, Value>,
    ) -> ToolCall {
        ToolCall {
            tool,
            agent: self.agent.clone(),
            session: self.session.clone(),
            workdir: self.workdir.clone(),
            params,
            input,
            ..ToolCall::default()
        }
    }
}

fn first_string<'a>(m: &'a Map<String, Value>, keys: &[&str]) -> Option<&'a str> {
    keys.iter()
        .filter_map(|k| m.get(*k).and_then(Value::as_str))
        .find(|s| !s.trim().is_empty())
}

/// Builds the call for `tools/call` params. `strict` refuses case-variant member names.
///
/// The tool class comes from the word-level classifier; params are the arguments plus
/// `mcp_method`, `mcp_tool` and canonical `command`/`path`/`url` (with `domain` and `scheme`
/// taken from the URL); `input` is the arguments with `mcp_method`/`mcp_tool` set, so
/// `tool_param_matches` can name the real MCP tool.
pub fn from_params(
    params: Option<&Value>,
    who: &Identity,
    strict: bool,
) -> Result<ToolCall, String> {
    let p = match params {
        Some(Value::Object(m)) => m,
        Some(_) => return Err("params must be an object".into()),
        None => return Err("missing params".into()),
    };
    if strict && let Some(k) = super::jsonrpc::shadowed(p, &["name", "arguments"]) {
        return Err(format!("ambiguous member {k:?} in params"));
    }
    let name = match p.get("name") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.as_str(),
        _ => return Err("params.name must be a non-empty string".into()),
    };
    let args = match p.get("arguments") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => return Err("params.arguments must be an object".into()),
    };
    if strict && let Some(k) = super::jsonrpc::shadowed(&args, SECURITY_KEYS) {
        return Err(format!("ambiguous argument {k:?}"));
    }
    Ok(tool_call(name, args, who))
}

/// The call for MCP tool `name` with `args`.
pub fn tool_call(name: &str, args: Map<String, Value>, who: &Identity) -> ToolCall {
    let tool = mcp_class::classify(name, who.classes.as_deref());
    let mut params = args.clone();
    let mut input = args;
    for m in [&mut params, &mut input] {
        m.insert("mcp_method".into(), Value::String("tools/call".into()));
        m.insert("mcp_tool".into(), Value::String(name.to_string()));
    }
    if first_string(&params, &["command"]).is_none()
        && let Some(c) = first_string(&params, &["cmd", "input"]).map(str::to_string)
    {
        params.insert("command".into(), Value::String(c));
    }
    if first_string(&params, &["path"]).is_none()
        && let Some(p) =
            first_string(&params, &["file_path", "file", "filepath", "target"]).map(str::to_string)
    {
        params.insert("path".into(), Value::String(p));
    }
    if let Some(u) = first_string(&params, &["url", "uri", "href"]).map(str::to_string) {
        if let Some(parts) = crate::engine::url::parse(&u) {
            if !parts.host.is_empty() {
                params.insert("domain".into(), Value::String(parts.host.to_string()));
            }
            params.insert("scheme".into(), Value::String(parts.scheme.to_string()));
        }
        params.insert("url".into(), Value::String(u));
    }
    who.call(tool, params, input)
}

/// The call a listed tool would be judged as when called without arguments (`--filter-tools`).
pub fn listed_tool(name: &str, who: &Identity) -> ToolCall {
    let mut params = Map::new();
    params.insert("mcp_method".into(), Value::String("tools/list".into()));
    params.insert("mcp_tool".into(), Value::String(name.to_string()));
    who.call(
        mcp_class::classify(name, who.classes.as_deref()),
        params.clone(),
        params,
    )
}

/// The text response rules read from a `tools/call` response: every string of the result's
/// `content` items (binary `data`/`blob` and `_meta` skipped) and of `structuredContent`, and
/// the message and data of an error. Empty when there is nothing to read.
pub fn response_text(msg: &Map<String, Value>) -> String {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) => out.push(s.clone()),
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            Value::Object(m) => {
                for (k, x) in m {
                    if !matches!(k.as_str(), "data" | "blob" | "_meta") {
                        walk(x, out);
                    }
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    if let Some(r) = msg.get("result").and_then(Value::as_object) {
        if let Some(c) = r.get("content") {
            walk(c, &mut out);
        }
        if let Some(s) = r.get("structuredContent") {
            let mut leaves = Vec::new();
            walk_all(s, &mut leaves);
            out.extend(leaves);
        }
    }
    if let Some(e) = msg.get("error").and_then(Value::as_object) {
        if let Some(m) = e.get("message") {
            walk(m, &mut out);
        }
        if let Some(d) = e.get("data") {
            walk_all(d, &mut out);
        }
    }
    out.join("\n")
}

/// Every string in `v`, keys included (structured output is data, not presentation).
fn walk_all(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| walk_all(x, out)),
        Value::Object(m) => {
            for (k, x) in m {
                out.push(k.clone());
                walk_all(x, out);
            }
        }
        Value::Number(n) => out.push(n.to_string()),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn who() -> Identity {
        Identity {
            agent: "mcp-client".into(),
            session: "mcp-proxy".into(),
            workdir: Some("/w".into()),
            classes: None,
        }
    }

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn maps_class_and_canonical_params() {
        let p = json!({"name": "read_file", "arguments": {"file": "/etc/passwd"}});
        let c = from_params(Some(&p), &who(), true).expect("call");
        assert_eq!(c.tool, "read");
        assert_eq!(c.params["path"], "/etc/passwd");
        assert_eq!(c.params["mcp_tool"], "read_file");
        assert_eq!(c.params["mcp_method"], "tools/call");
        assert_eq!(c.input["file"], "/etc/passwd");
        assert_eq!(c.input["mcp_tool"], "read_file");
        assert!(c.input.get("path").is_none());
        assert_eq!(c.agent, "mcp-client");
        assert_eq!(c.session, "mcp-proxy");

        let p = json!({"name": "run_command", "arguments": {"cmd": "ls -la"}});
        let c = from_params(Some(&p), &who(), true).expect("call");
        assert_eq!(c.tool, "exec");
        assert_eq!(c.params["command"], "ls -la");

        let p = json!({"name": "fetch", "arguments": {"uri": "https://evil.example/x", "domain": "good.example"}});
        let c = from_params(Some(&p), &who(), true).expect("call");
        assert_eq!(c.tool, "fetch");
        assert_eq!(c.params["url"], "https://evil.example/x");
        assert_eq!(c.params["domain"], "evil.example");
        assert_eq!(c.params["scheme"], "https");

        let p = json!({"name": "getPosts"});
        let c = from_params(Some(&p), &who(), true).expect("call");
        assert_eq!(c.tool, "mcp");
        let p = json!({"name": "deleteRepo", "arguments": {"mcp_tool": "read_file"}});
        let c = from_params(Some(&p), &who(), true).expect("call");
        assert_eq!(c.tool, "mcp-destructive");
        assert_eq!(c.input["mcp_tool"], "deleteRepo");
    }

    #[test]
    fn refuses_unusable_and_ambiguous_params() {
        for p in [
            json!({"arguments": {}}),
            json!({"name": ""}),
            json!({"name": "x", "arguments": [1]}),
            json!({"name": "x", "Name": "y"}),
            json!({"name": "read_file", "arguments": {"Path": "/etc/shadow"}}),
            json!([1]),
        ] {
            assert!(from_params(Some(&p), &who(), true).is_err(), "{p}");
        }
        assert!(from_params(None, &who(), true).is_err());
        let p = json!({"name": "read_file", "arguments": {"Path": "/etc/shadow"}});
        assert!(from_params(Some(&p), &who(), false).is_ok());
    }

    #[test]
    fn response_text_reads_content_structured_and_errors() {
        let m = obj(json!({"jsonrpc": "2.0", "id": 1, "result": {
            "content": [
                {"type": "text", "text": "hello"},
                {"type": "image", "data": "QUtJQQ==", "mimeType": "image/png"},
                {"type": "resource", "resource": {"uri": "file:///x", "text": "inner"}}
            ],
            "structuredContent": {"key": "AKIAIOSFODNN7EXAMPLE", "n": 3},
            "_meta": {"ignored": "yes"}
        }}));
        let t = response_text(&m);
        assert!(t.contains("hello"));
        assert!(t.contains("inner"));
        assert!(t.contains("AKIAIOSFODNN7EXAMPLE"));
        assert!(!t.contains("QUtJQQ=="));
        assert!(!t.contains("ignored"));
        let m = obj(
            json!({"jsonrpc": "2.0", "id": 1, "error": {"code": 1, "message": "boom", "data": {"k": "v"}}}),
        );
        let t = response_text(&m);
        assert!(t.contains("boom") && t.contains('v'));
        assert_eq!(response_text(&obj(json!({"id": 1, "result": {}}))), "");
    }

    #[test]
    fn listed_tools_carry_the_list_method() {
        let c = listed_tool("drop_table", &who());
        assert_eq!(c.tool, "mcp-destructive");
        assert_eq!(c.params["mcp_method"], "tools/list");
    }
}
