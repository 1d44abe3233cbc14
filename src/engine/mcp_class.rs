//! Classifies MCP tool names (`delete_repo`, `mcp__fs__read_file`, `getPosts`) into the tool
//! classes policies match (`mcp-destructive`, `read`, `mcp`, ...). Shared by the MCP proxy and
//! every native hook.
//!
//! Unlike a substring test, names are split into words on `_`, `-`, `.`, `/`, spaces and
//! camelCase boundaries, and keywords must be whole words: `skill` is not "kill",
//! `get_posts` is not "post", `dropdown` is not "drop".

use std::collections::HashMap;

/// Words that mark a tool as destructive.
const DESTRUCTIVE: &[&str] = &[
    "delete", "destroy", "remove", "rm", "drop", "purge", "kill", "format", "wipe", "truncate",
    "reset", "erase", "unlink",
];

/// Words that mark a tool as dangerous (changes state, runs code, sends data).
const DANGEROUS: &[&str] = &[
    "stop",
    "shutdown",
    "reboot",
    "restart",
    "migrate",
    "resize",
    "modify",
    "update",
    "patch",
    "configure",
    "execute",
    "exec",
    "run",
    "send",
    "post",
];

/// Exact names with a known class.
const KNOWN: &[(&str, &str)] = &[
    ("read_file", "read"),
    ("list_directory", "read"),
    ("write_file", "write"),
    ("create_directory", "write"),
    ("delete_file", "mcp-destructive"),
    ("move_file", "mcp-dangerous"),
    ("execute_command", "exec"),
    ("run_command", "exec"),
    ("shell", "exec"),
    ("fetch", "fetch"),
    ("http_request", "fetch"),
];

/// Splits a tool name into lower-case words.
pub fn words(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let chars: Vec<char> = name.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        let prev = i.checked_sub(1).map(|j| chars[j]);
        let next = chars.get(i + 1).copied();
        let boundary = c.is_uppercase()
            && !cur.is_empty()
            && (prev.is_some_and(|p| p.is_lowercase() || p.is_ascii_digit())
                || (prev.is_some_and(char::is_uppercase) && next.is_some_and(char::is_lowercase)));
        if boundary {
            out.push(std::mem::take(&mut cur));
        }
        cur.extend(c.to_lowercase());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn has_word(words: &[String], set: &[&str]) -> bool {
    words.iter().any(|w| set.contains(&w.as_str()))
}

/// Maps one MCP tool name to a class: custom mapping, destructive word, known name, dangerous
/// word, custom `_default`, else `mcp`.
pub fn classify(name: &str, custom: Option<&HashMap<String, String>>) -> String {
    let key = name.trim().to_lowercase();
    if let Some(v) = custom.and_then(|m| m.get(&key)) {
        return v.clone();
    }
    let w = words(name.trim());
    if has_word(&w, DESTRUCTIVE) {
        return "mcp-destructive".into();
    }
    if let Some((_, class)) = KNOWN.iter().find(|(k, _)| *k == key) {
        return (*class).into();
    }
    if has_word(&w, DANGEROUS) {
        return "mcp-dangerous".into();
    }
    custom
        .and_then(|m| m.get("_default"))
        .cloned()
        .unwrap_or_else(|| "mcp".into())
}

/// How restrictive a class is when several candidate names disagree (higher wins).
pub fn rank(class: &str) -> u8 {
    match class {
        "mcp-destructive" => 7,
        "exec" => 6,
        "mcp-dangerous" => 5,
        "write" => 4,
        "fetch" => 3,
        "read" => 2,
        _ => 1,
    }
}

/// The server-local tool name of a host's MCP tool name: the last `__` segment of
/// `mcp__server__tool`, or what follows `mcp:`/`MCP:`.
pub fn local_name(host_name: &str) -> Option<&str> {
    let lower = host_name.to_ascii_lowercase();
    if lower.starts_with("mcp__") {
        return host_name.rsplit("__").next().filter(|s| !s.is_empty());
    }
    if lower.starts_with("mcp:") {
        return Some(host_name[4..].trim()).filter(|s| !s.is_empty());
    }
    None
}

/// Classifies a host's native MCP tool: every candidate name (the full name, its local part and
/// any `mcp_tool`/`tool_name`/`toolName` string parameter) is classified and the most
/// restrictive class wins, so `mcp__fs__read_file` is `read` and `mcp__x__delete_repo` is
/// `mcp-destructive`.
pub fn classify_native(
    host_name: &str,
    params: &serde_json::Map<String, serde_json::Value>,
) -> String {
    let mut candidates: Vec<&str> = vec![host_name];
    if let Some(l) = local_name(host_name) {
        candidates.push(l);
    }
    for k in ["mcp_tool", "tool_name", "toolName"] {
        if let Some(s) = params.get(k).and_then(|v| v.as_str()) {
            candidates.push(s);
        }
    }
    let mut best = String::from("mcp");
    for c in candidates {
        let class = classify(c, None);
        if rank(&class) > rank(&best) {
            best = class;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_words() {
        assert_eq!(words("getPosts"), ["get", "posts"]);
        assert_eq!(words("HTTPRequest"), ["http", "request"]);
        assert_eq!(words("mcp__fs__read_file"), ["mcp", "fs", "read", "file"]);
        assert_eq!(words("list-runs.v2"), ["list", "runs", "v2"]);
    }

    #[test]
    fn whole_words_only() {
        assert_eq!(classify("skill", None), "mcp");
        assert_eq!(classify("get_posts", None), "mcp");
        assert_eq!(classify("postgres_query", None), "mcp");
        assert_eq!(classify("dropdown_options", None), "mcp");
        assert_eq!(classify("list_runs", None), "mcp");
        assert_eq!(classify("kill_process", None), "mcp-destructive");
        assert_eq!(classify("deleteRepo", None), "mcp-destructive");
        assert_eq!(classify("send_email", None), "mcp-dangerous");
        assert_eq!(classify("create_post", None), "mcp-dangerous");
        assert_eq!(classify("read_file", None), "read");
        assert_eq!(classify("delete_file", None), "mcp-destructive");
        assert_eq!(classify("run_command", None), "exec");
    }

    #[test]
    fn custom_mapping_first() {
        let mut m = HashMap::new();
        m.insert("kill_switch".to_string(), "read".to_string());
        m.insert("_default".to_string(), "mcp-dangerous".to_string());
        assert_eq!(classify("Kill_Switch", Some(&m)), "read");
        assert_eq!(classify("get_thing", Some(&m)), "mcp-dangerous");
    }

    #[test]
    fn native_names_take_the_most_restrictive_candidate() {
        let p = serde_json::Map::new();
        assert_eq!(classify_native("mcp__fs__read_file", &p), "read");
        assert_eq!(classify_native("mcp__github__create_issue", &p), "mcp");
        assert_eq!(
            classify_native("mcp__github__delete_repo", &p),
            "mcp-destructive"
        );
        assert_eq!(classify_native("MCP:run_command", &p), "exec");
        let mut p = serde_json::Map::new();
        p.insert("tool_name".into(), "drop_table".into());
        assert_eq!(classify_native("use_mcp_tool", &p), "mcp-destructive");
    }
}
