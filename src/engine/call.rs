//! The engine's input: one normalized tool call, and the fields policies read from it.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Largest value (agent, session, tool, command, path, URL, domain) the engine matches; longer
/// values fail closed.
pub const MAX_MATCH_BYTES: usize = 8192;

/// One tool call an agent wants to make, normalized by a front end.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct ToolCall {
    /// Canonical tool class (`exec`, `read`, `write`, `edit`, `fetch`, `mcp`, ...).
    pub tool: String,
    /// Agent identity, e.g. `claude-code`; may be empty.
    pub agent: String,
    /// Session identity, e.g. `repo/branch`; may be empty.
    pub session: String,
    /// Sub-agent nesting depth; 0 is the top-level agent.
    pub agent_depth: u32,
    /// The host's working directory; relative paths resolve against it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workdir: Option<String>,
    /// Tool arguments (legacy view).
    pub params: Map<String, Value>,
    /// Raw MCP-style arguments; only `tool_param_matches` reads them.
    pub input: Map<String, Value>,
    /// Correlation id of the agent run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// Correlation id of this tool call in the host.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    /// The call's path with symlinks resolved and `~` expanded, filled in by the gate (which may
    /// touch the file system) so that the engine itself never does I/O.
    #[serde(skip)]
    pub resolved_path: Option<String>,
}

impl ToolCall {
    /// A call of `tool` with one string parameter.
    pub fn with_param(tool: &str, key: &str, value: &str) -> Self {
        let mut params = Map::new();
        params.insert(key.to_string(), Value::String(value.to_string()));
        ToolCall {
            tool: tool.to_string(),
            params,
            ..Default::default()
        }
    }

    /// A shell command call (`exec` with `command`).
    pub fn exec(command: &str) -> Self {
        Self::with_param("exec", "command", command)
    }

    /// A path tool call (`read`, `write`, `edit`, ...).
    pub fn path(tool: &str, path: &str) -> Self {
        Self::with_param(tool, "path", path)
    }

    /// A URL tool call (`fetch`, ...), with `domain`/`scheme` derived as front ends do.
    pub fn url(tool: &str, url: &str) -> Self {
        let mut call = Self::with_param(tool, "url", url);
        if let Some(parts) = crate::engine::url::parse(url) {
            if !parts.host.is_empty() {
                call.params
                    .insert("domain".into(), Value::String(parts.host.to_string()));
            }
            call.params
                .insert("scheme".into(), Value::String(parts.scheme.to_string()));
        }
        call
    }

    /// Builder: set the agent.
    pub fn agent(mut self, agent: &str) -> Self {
        self.agent = agent.to_string();
        self
    }

    /// Builder: set the session.
    pub fn session(mut self, session: &str) -> Self {
        self.session = session.to_string();
        self
    }

    /// Builder: set the working directory.
    pub fn workdir(mut self, wd: &str) -> Self {
        self.workdir = Some(wd.to_string());
        self
    }
}

/// Maps a host tool name to the canonical class policies match (`Bash` → `exec`, `Read` → `read`
/// ...). Names that are already canonical, and custom names, are returned unchanged.
pub fn canonical_tool(name: &str) -> std::borrow::Cow<'_, str> {
    use std::borrow::Cow;
    let mapped = match name {
        "Bash" | "PowerShell" | "Monitor" | "code_execution" | "shell" | "run_shell_command"
        | "run_terminal_cmd" | "execute_command" | "local_shell" | "bash" => "exec",
        "Read"
        | "ReadFile"
        | "Glob"
        | "Grep"
        | "LS"
        | "LSP"
        | "ToolSearch"
        | "read_file"
        | "ListMcpResourcesTool"
        | "ReadMcpResourceTool" => "read",
        "Write" | "WriteFile" | "Edit" | "EditFile" | "MultiEdit" | "NotebookEdit"
        | "write_file" | "replace" | "apply_patch" => "write",
        "WebFetch" | "WebSearch" | "Fetch" | "web_fetch" | "web_search" | "google_web_search" => {
            "fetch"
        }
        "Task" | "Agent" => "agent",
        _ => {
            // Reserved classes are lowercase; fold case for them only (EXEC -> exec).
            let lower = name.to_ascii_lowercase();
            return match lower.as_str() {
                "exec" | "read" | "write" | "edit" | "fetch" | "agent" | "mcp"
                | "mcp-dangerous" | "mcp-destructive" | "web_fetch" | "web_search" | "http"
                | "browser"
                    if lower != name =>
                {
                    Cow::Owned(lower)
                }
                _ => Cow::Borrowed(name),
            };
        }
    };
    Cow::Borrowed(mapped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonicalizes_host_tool_names() {
        assert_eq!(canonical_tool("Bash"), "exec");
        assert_eq!(canonical_tool("EXEC"), "exec");
        assert_eq!(canonical_tool("Read"), "read");
        assert_eq!(canonical_tool("MultiEdit"), "write");
        assert_eq!(canonical_tool("WebFetch"), "fetch");
        assert_eq!(canonical_tool("mcp__fs__read"), "mcp__fs__read");
        assert_eq!(canonical_tool("my_custom_Tool"), "my_custom_Tool");
    }

    #[test]
    fn url_call_derives_domain_and_scheme() {
        let c = ToolCall::url("fetch", "https://user@Example.com:8443/x");
        assert_eq!(c.params["domain"], "Example.com");
        assert_eq!(c.params["scheme"], "https");
    }
}
