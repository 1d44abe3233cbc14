//! Rampart-owned policy files under `~/.rampart/policies/` that approvals and "learn" write:
//! `auto-allowed.yaml` ("Always allow") and `user-overrides.yaml`. Each entry is one policy with
//! one exact allow rule; entries are appended and removed as text blocks, so nothing else in the
//! file is rewritten. Writes are atomic (temp file + rename) under a lock file.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::load;

/// File written by approval "Always allow".
pub const AUTO_ALLOWED: &str = "auto-allowed.yaml";
/// File written by `POST /v1/rules/learn`.
pub const USER_OVERRIDES: &str = "user-overrides.yaml";

/// Why a rule could not be written or removed.
#[derive(Debug, thiserror::Error)]
pub enum RuleFileError {
    /// File system failure.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// Which file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The file does not parse as policy.
    #[error("{0}")]
    Parse(String),
    /// A rule with this name exists already.
    #[error("a rule named {0:?} already exists")]
    Exists(String),
    /// No rule with this name.
    #[error("no rule with name {0:?}")]
    NotFound(String),
    /// This tool cannot get an exact allow rule.
    #[error(
        "persist: automatic allow is unsupported for tool {0:?}; author an explicit policy instead"
    )]
    Unsupported(String),
}

/// One entry of a Rampart-owned rules file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRule {
    /// Policy name.
    pub name: String,
    /// Tool the rule applies to.
    pub tool: String,
    /// Agent scope (`None` = every agent).
    pub agent: Option<String>,
    /// `command_matches` pattern (exec).
    pub command_pattern: Option<String>,
    /// `path_matches` pattern (path tools).
    pub path_pattern: Option<String>,
    /// Rule message.
    pub message: String,
}

/// Escapes glob metacharacters so a pattern matches exactly `s`.
pub fn exact_pattern(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '*' => o.push_str("[*]"),
            '?' => o.push_str("[?]"),
            '[' => o.push_str("[[]"),
            c => o.push(c),
        }
    }
    o
}

/// A name-safe slug of `s` (alphanumerics and dashes, at most 40 chars).
pub fn slug(s: &str) -> String {
    let mut o = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            o.push(c.to_ascii_lowercase());
        } else if !o.ends_with('-') && !o.is_empty() {
            o.push('-');
        }
        if o.len() >= 40 {
            break;
        }
    }
    o.trim_end_matches('-').to_string()
}

/// First 16 hex chars of SHA-256 over the parts joined by NUL.
pub fn short_hash(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            h.update([0u8]);
        }
        h.update(p.as_bytes());
    }
    hex::encode(&h.finalize()[..8])
}

/// The exact allow rule for a call of `tool` with `value` (command or path).
pub fn exact_rule(
    tool: &str,
    value: &str,
    agent: Option<&str>,
    prefix: &str,
    message: &str,
) -> Result<UserRule, RuleFileError> {
    let is_exec = tool == "exec";
    let is_path = matches!(tool, "read" | "write" | "edit");
    if !(is_exec || is_path) || value.trim().is_empty() {
        return Err(RuleFileError::Unsupported(tool.to_string()));
    }
    let pattern = exact_pattern(value);
    let label = if is_exec {
        slug(
            &value
                .split_whitespace()
                .take(2)
                .collect::<Vec<_>>()
                .join(" "),
        )
    } else {
        format!("{tool}-{}", slug(value))
    };
    let name = format!(
        "{prefix}-{label}-{}",
        short_hash(&[tool, &pattern, agent.unwrap_or("")])
    );
    Ok(UserRule {
        name,
        tool: tool.to_string(),
        agent: agent.filter(|a| !a.is_empty()).map(str::to_string),
        command_pattern: is_exec.then(|| pattern.clone()),
        path_pattern: is_path.then_some(pattern),
        message: message.to_string(),
    })
}

fn q(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

fn block(r: &UserRule) -> String {
    let mut o = format!(
        "  - name: {}\n    match:\n      tool: [{}]\n",
        q(&r.name),
        q(&r.tool)
    );
    if let Some(a) = &r.agent {
        o.push_str(&format!("      agent: {}\n", q(a)));
    }
    o.push_str(&format!(
        "    rules:\n      - action: allow\n        message: {}\n        when:\n",
        q(&r.message)
    ));
    if let Some(p) = &r.command_pattern {
        o.push_str(&format!("          command_matches: [{}]\n", q(p)));
    }
    if let Some(p) = &r.path_pattern {
        o.push_str(&format!("          path_matches: [{}]\n", q(p)));
    }
    o
}

const HEADER: &str = "# Written by Rampart (approvals and learned rules). Entries may be removed\n# with the dashboard or the API; edits by hand are kept.\nversion: \"1\"\npolicies:\n";

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> RuleFileError + 'a {
    move |source| RuleFileError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

fn lock(path: &Path) -> Result<std::fs::File, RuleFileError> {
    let lp = path.with_extension("yaml.rampart.lock");
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io("create", dir))?;
    }
    let f = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(&lp)
        .map_err(io("lock", &lp))?;
    f.lock().map_err(io("lock", &lp))?;
    Ok(f)
}

fn write_atomic(path: &Path, text: &str) -> Result<(), RuleFileError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io("create", dir))?;
    }
    let tmp = path.with_extension(format!("yaml.tmp{}", std::process::id()));
    {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io("write", &tmp))?;
        f.write_all(text.as_bytes()).map_err(io("write", &tmp))?;
        f.sync_all().map_err(io("sync", &tmp))?;
    }
    std::fs::rename(&tmp, path).map_err(io("rename", path))
}

fn read(path: &Path) -> Result<String, RuleFileError> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(s),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(io("read", path)(e)),
    }
}

/// Lists the entries of a rules file (missing file → empty).
pub fn list(path: &Path) -> Result<Vec<UserRule>, RuleFileError> {
    let text = read(path)?;
    let label = path.display().to_string();
    let file =
        load::parse_policy(&label, &text).map_err(|e| RuleFileError::Parse(e.to_string()))?;
    let mut out = Vec::new();
    for p in file.policies.unwrap_or_default() {
        let scope = p.scope.unwrap_or_default();
        let rule = p
            .rules
            .unwrap_or_default()
            .into_iter()
            .next()
            .unwrap_or_default();
        let when = rule.when.unwrap_or_default();
        out.push(UserRule {
            name: p.name.map(|t| t.0).unwrap_or_default(),
            tool: scope
                .tool
                .and_then(|t| t.0.into_iter().next())
                .unwrap_or_default(),
            agent: scope.agent.map(|a| a.0).filter(|a| !a.is_empty()),
            command_pattern: when.command_matches.and_then(|m| m.0.into_iter().next()),
            path_pattern: when.path_matches.and_then(|m| m.0.into_iter().next()),
            message: rule.message.map(|m| m.0).unwrap_or_default(),
        });
    }
    Ok(out)
}

/// Appends `rule`; refuses a duplicate name. The result must load, or nothing is written.
pub fn append(path: &Path, rule: &UserRule) -> Result<(), RuleFileError> {
    let _l = lock(path)?;
    if list(path)?.iter().any(|r| r.name == rule.name) {
        return Err(RuleFileError::Exists(rule.name.clone()));
    }
    let mut text = read(path)?;
    if text.trim().is_empty() {
        text = HEADER.to_string();
    } else if !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&block(rule));
    load::parse_policy(&path.display().to_string(), &text)
        .map_err(|e| RuleFileError::Parse(e.to_string()))?;
    write_atomic(path, &text)
}

/// Removes the entry named `name` (the text block from its `- name:` line to the next entry).
pub fn remove(path: &Path, name: &str) -> Result<(), RuleFileError> {
    let _l = lock(path)?;
    let text = read(path)?;
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let start_of = |l: &str| {
        let t = l.trim_start();
        t.starts_with("- name:") && l.len() - t.len() == 2
    };
    let Some(start) = lines.iter().position(|l| {
        start_of(l) && {
            let v = l.trim_start()["- name:".len()..].trim();
            v == name || serde_json::from_str::<String>(v).ok().as_deref() == Some(name)
        }
    }) else {
        return Err(RuleFileError::NotFound(name.to_string()));
    };
    let end = lines[start + 1..]
        .iter()
        .position(|l| start_of(l) || (!l.starts_with(' ') && !l.trim().is_empty()))
        .map_or(lines.len(), |i| start + 1 + i);
    let mut out: String = lines[..start].concat();
    out.push_str(&lines[end..].concat());
    load::parse_policy(&path.display().to_string(), &out)
        .map_err(|e| RuleFileError::Parse(e.to_string()))?;
    write_atomic(path, &out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Action, ToolCall, compile};

    #[test]
    fn append_list_remove_and_exactness() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join(AUTO_ALLOWED);
        let r1 = exact_rule(
            "exec",
            "make build *",
            Some("claude-code"),
            "auto-allow",
            "ok",
        )
        .unwrap();
        let r2 = exact_rule("read", "/tmp/a[1].txt", None, "auto-allow", "ok").unwrap();
        append(&p, &r1).unwrap();
        append(&p, &r2).unwrap();
        assert!(matches!(append(&p, &r1), Err(RuleFileError::Exists(_))));
        let got = list(&p).unwrap();
        assert_eq!(got, vec![r1.clone(), r2.clone()]);
        let set = load::load_file(&p).unwrap();
        let c = compile(&set);
        let exact = ToolCall::exec("make build *").agent("claude-code");
        assert_eq!(c.evaluate(&exact).action, Action::Allow);
        let wider = ToolCall::exec("make build everything").agent("claude-code");
        assert_ne!(
            c.evaluate(&wider).winner.map(|w| w.policy),
            Some(r1.name.clone())
        );
        let other_agent = ToolCall::exec("make build *").agent("codex");
        assert_ne!(
            c.evaluate(&other_agent).winner.map(|w| w.policy),
            Some(r1.name.clone())
        );
        remove(&p, &r1.name).unwrap();
        assert_eq!(list(&p).unwrap(), vec![r2.clone()]);
        assert!(matches!(
            remove(&p, "nope"),
            Err(RuleFileError::NotFound(_))
        ));
        remove(&p, &r2.name).unwrap();
        assert!(list(&p).unwrap().is_empty());
        assert!(matches!(
            exact_rule("fetch", "https://x", None, "a", "m"),
            Err(RuleFileError::Unsupported(_))
        ));
    }
}
