//! Which call fields the engine reads, from which parameter aliases, and the checks that fail
//! closed before any matching: conflicting aliases, non-string values, oversize values
//! (spec/engine.md §3).

use serde_json::{Map, Value};

use super::call::{MAX_MATCH_BYTES, ToolCall};
use super::url;

/// The values rules match against, extracted once per call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields {
    /// Command string.
    pub command: Option<String>,
    /// Path string.
    pub path: Option<String>,
    /// URL string.
    pub url: Option<String>,
    /// Host from the URL, else the `domain` parameter.
    pub domain: Option<String>,
    /// Working directory.
    pub workdir: Option<String>,
}

fn is_path_tool(t: &str) -> bool {
    matches!(t, "read" | "write" | "edit" | "mcp-destructive")
}

fn is_url_tool(t: &str) -> bool {
    matches!(t, "fetch" | "http" | "web_fetch" | "browser")
}

/// Finds the one value of a field across alias keys in params then input.
///
/// `checked` enables the ambiguity rules; unchecked lookups take the first non-blank string.
fn lookup(
    call: &ToolCall,
    keys: &[&str],
    field: &str,
    checked: bool,
) -> Result<Option<String>, String> {
    let mut found: Option<&str> = None;
    for map in [&call.params, &call.input] {
        for k in keys {
            match map.get(*k) {
                None | Some(Value::Null) => {}
                Some(Value::String(s)) => {
                    if s.trim().is_empty() {
                        continue;
                    }
                    match found {
                        None => found = Some(s),
                        Some(f) if f == s => {}
                        Some(_) if checked => {
                            return Err(format!("conflicting {field} aliases"));
                        }
                        Some(_) => {}
                    }
                }
                Some(_) if checked => return Err(format!("{field} must be a string")),
                Some(_) => {}
            }
        }
    }
    Ok(found.map(str::to_string))
}

/// Extracts the fields, or the deny message when the input is ambiguous.
pub fn extract(call: &ToolCall) -> Result<Fields, String> {
    let amb = |reason: String| format!("ambiguous tool input ({reason}); failing closed");
    let tool = call.tool.as_str();
    let exec = tool.eq_ignore_ascii_case("exec");
    let command = if exec {
        lookup(call, &["command", "cmd", "input"], "command", true).map_err(amb)?
    } else {
        lookup(call, &["command"], "command", false).map_err(amb)?
    };
    let path = if is_path_tool(tool) {
        lookup(
            call,
            &["file_path", "path", "file", "filepath", "target"],
            "path",
            true,
        )
        .map_err(amb)?
    } else {
        lookup(call, &["file_path", "path"], "path", false).map_err(amb)?
    };
    let url = if is_url_tool(tool) {
        lookup(call, &["url", "uri", "href"], "url", true).map_err(amb)?
    } else {
        lookup(call, &["url"], "url", false).map_err(amb)?
    };
    let domain_param = lookup(call, &["domain"], "domain", true).map_err(amb)?;
    lookup(call, &["scheme"], "scheme", true).map_err(amb)?;
    let workdir = match &call.workdir {
        Some(w) if !w.trim().is_empty() => Some(w.clone()),
        _ => lookup(call, &["workdir", "cwd"], "workdir", true).map_err(amb)?,
    };
    let domain = url
        .as_deref()
        .and_then(url::parse)
        .map(|u| u.host.to_string())
        .filter(|h| !h.is_empty())
        .or(domain_param);
    let fields = Fields {
        command,
        path,
        url,
        domain,
        workdir,
    };
    for (name, v) in [
        ("agent", Some(call.agent.as_str())),
        ("session", Some(call.session.as_str())),
        ("tool", Some(tool)),
        ("command", fields.command.as_deref()),
        ("path", fields.path.as_deref()),
        ("url", fields.url.as_deref()),
        ("domain", fields.domain.as_deref()),
    ] {
        if let Some(v) = v {
            oversize(name, v)?;
        }
    }
    Ok(fields)
}

/// The deny message for a value over the matching limit.
pub fn oversize(name: &str, v: &str) -> Result<(), String> {
    if v.len() > MAX_MATCH_BYTES {
        return Err(format!(
            "{name} is {} bytes and exceeds the {MAX_MATCH_BYTES}-byte policy matching limit; failing closed",
            v.len()
        ));
    }
    Ok(())
}

/// Renders an input parameter for `tool_param_matches` (strings as-is, others as JSON).
pub fn render_param(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Looks up `input[param]` rendered for matching.
pub fn input_param(input: &Map<String, Value>, param: &str) -> Option<String> {
    input.get(param).filter(|v| !v.is_null()).map(render_param)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn call(tool: &str, params: Value) -> ToolCall {
        let mut c = ToolCall {
            tool: tool.to_string(),
            ..Default::default()
        };
        if let Value::Object(m) = params {
            c.params = m;
        }
        c
    }

    #[test]
    fn aliases_and_conflicts() {
        let c = call("exec", json!({"cmd": "ls"}));
        assert_eq!(extract(&c).unwrap().command.as_deref(), Some("ls"));
        let c = call("exec", json!({"command": "echo safe", "cmd": "rm -rf /"}));
        assert_eq!(
            extract(&c).unwrap_err(),
            "ambiguous tool input (conflicting command aliases); failing closed"
        );
        let c = call("exec", json!({"command": "ls", "cmd": "ls"}));
        assert!(extract(&c).is_ok());
        let c = call("exec", json!({"command": 5}));
        assert_eq!(
            extract(&c).unwrap_err(),
            "ambiguous tool input (command must be a string); failing closed"
        );
        let mut c = call("exec", json!({"command": "ls"}));
        c.input = json!({"command": "rm -rf /"})
            .as_object()
            .cloned()
            .unwrap_or_default();
        assert!(extract(&c).is_err());
        // Non-exec tools read only `command`, without ambiguity checks.
        let c = call("agent", json!({"command": "x", "cmd": "y"}));
        assert_eq!(extract(&c).unwrap().command.as_deref(), Some("x"));
    }

    #[test]
    fn url_host_wins_over_domain() {
        let c = call(
            "fetch",
            json!({"url": "https://webhook.site/c", "domain": "github.com"}),
        );
        assert_eq!(extract(&c).unwrap().domain.as_deref(), Some("webhook.site"));
        let c = call(
            "fetch",
            json!({"url": "evil.com/x", "domain": "github.com"}),
        );
        assert_eq!(extract(&c).unwrap().domain.as_deref(), Some("github.com"));
    }

    #[test]
    fn oversize_fails_closed() {
        let c = call("exec", json!({"command": "a".repeat(8193)}));
        assert_eq!(
            extract(&c).unwrap_err(),
            "command is 8193 bytes and exceeds the 8192-byte policy matching limit; failing closed"
        );
    }
}
