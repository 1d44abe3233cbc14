//! MCP clients that start stdio servers from an `mcpServers` object — Claude Desktop's
//! `claude_desktop_config.json` and Cursor's `~/.cursor/mcp.json`: put each server's command
//! behind `rampart mcp --` so its tool calls go through policy, or take it out again.
//!
//! An entry `{"command": "npx", "args": ["-y", "srv"], "env": {…}}` becomes
//! `{"command": "/abs/rampart", "args": ["mcp", "--", "npx", "-y", "srv"], "env": {…}}`; every
//! other member (env, cwd, disabled, the client's own keys) and every other server is kept.
//! Remote servers (`url`, `type: http|sse`) are left alone: the proxy speaks stdio.

use std::path::{Path, PathBuf};

use super::hooks_json::load;
use super::json::Json;
use super::{Action, Change, Env, Host, Outcome, Plan, SetupError};

/// Where `host` keeps its MCP server list.
pub(super) fn config_path(host: Host, env: &Env) -> PathBuf {
    match host {
        Host::Cursor => env.home.join(".cursor").join("mcp.json"),
        _ => claude_desktop_dir(env).join("claude_desktop_config.json"),
    }
}

/// Claude Desktop's configuration directory.
pub(super) fn claude_desktop_dir(env: &Env) -> PathBuf {
    if cfg!(target_os = "macos") {
        env.home
            .join("Library")
            .join("Application Support")
            .join("Claude")
    } else {
        let base = match &env.xdg_config_home {
            Some(x) if Path::new(x).is_absolute() => PathBuf::from(x),
            _ => env.home.join(".config"),
        };
        base.join("Claude")
    }
}

/// Whether `command` names a Rampart binary (any install location, Go or Rust).
fn is_rampart_binary(command: &str, bin: &Path) -> bool {
    if Path::new(command) == bin {
        return true;
    }
    let name = command.rsplit(['/', '\\']).next().unwrap_or(command);
    matches!(name, "rampart" | "rampart.exe")
}

/// The arguments of an entry as strings, `None` when `args` is present but not all strings.
fn string_args(entry: &Json) -> Option<Vec<String>> {
    match entry.get("args") {
        None => Some(Vec::new()),
        Some(Json::Array(items)) => items
            .iter()
            .map(|a| a.as_str().map(str::to_string))
            .collect(),
        Some(_) => None,
    }
}

/// For an entry already run through `rampart mcp`, the index of its `--` in `args`.
fn wrapped_at(entry: &Json, bin: &Path) -> Option<usize> {
    let command = entry.get("command")?.as_str()?;
    if !is_rampart_binary(command, bin) {
        return None;
    }
    let args = string_args(entry)?;
    if args.first().map(String::as_str) != Some("mcp") {
        return None;
    }
    args.iter().position(|a| a == "--")
}

/// Whether an entry describes a remote (HTTP/SSE) server rather than a command.
fn is_remote(entry: &Json) -> bool {
    entry.get("url").is_some()
        || entry
            .get("type")
            .and_then(Json::as_str)
            .is_some_and(|t| t != "stdio")
}

fn set_args(entry: &mut Json, args: Vec<String>) {
    if args.is_empty() {
        entry.remove("args");
    } else {
        entry.set(
            "args",
            Json::Array(args.into_iter().map(Json::str).collect()),
            false,
        );
    }
}

/// What happened to the servers of one file.
#[derive(Default)]
struct Tally {
    changed: Vec<String>,
    kept: Vec<String>,
    skipped: Vec<(String, &'static str)>,
}

/// Wraps (install) or unwraps (remove) every stdio server of `servers`.
fn rewrite(servers: &mut [(super::json::JStr, Json)], action: Action, bin: &Path) -> Tally {
    let bin_str = bin.to_string_lossy().into_owned();
    let mut t = Tally::default();
    for (name, entry) in servers.iter_mut() {
        let name = name.as_str().to_string();
        if !matches!(entry, Json::Object(_)) {
            t.skipped.push((name, "not an object"));
            continue;
        }
        match (action, wrapped_at(entry, bin)) {
            (Action::Install, Some(_)) => {
                if entry.get("command").and_then(Json::as_str) == Some(bin_str.as_str()) {
                    t.kept.push(name);
                } else {
                    // An earlier install (another path, or the Go binary): point it here.
                    entry.set("command", Json::str(bin_str.clone()), false);
                    t.changed.push(name);
                }
            }
            (Action::Install, None) => {
                if is_remote(entry) {
                    t.skipped
                        .push((name, "remote server (the proxy wraps stdio servers)"));
                    continue;
                }
                let Some(command) = entry.get("command").and_then(Json::as_str) else {
                    t.skipped.push((name, "no command"));
                    continue;
                };
                let command = command.to_string();
                let Some(old) = string_args(entry) else {
                    t.skipped.push((name, "\"args\" is not a list of strings"));
                    continue;
                };
                let mut args = vec!["mcp".to_string(), "--".to_string(), command];
                args.extend(old);
                entry.set("command", Json::str(bin_str.clone()), false);
                set_args(entry, args);
                t.changed.push(name);
            }
            (Action::Remove, Some(dash)) => {
                let args = string_args(entry).unwrap_or_default();
                let mut rest = args.into_iter().skip(dash + 1);
                let Some(command) = rest.next() else {
                    t.skipped
                        .push((name, "no server command after `rampart mcp --`"));
                    continue;
                };
                entry.set("command", Json::str(command), false);
                set_args(entry, rest.collect());
                t.changed.push(name);
            }
            (Action::Remove, None) => t.kept.push(name),
        }
    }
    t
}

/// Plans wrapping (or unwrapping) `host`'s MCP servers.
pub(super) fn plan(host: Host, action: Action, env: &Env) -> Result<Plan, SetupError> {
    let path = config_path(host, env);
    let loaded = load(&path)?;
    let mut plan = Plan {
        host,
        action,
        outcome: match action {
            Action::Install => Outcome::AlreadyConfigured,
            Action::Remove => Outcome::NothingToRemove,
        },
        changes: Vec::new(),
        lines: Vec::new(),
        notes: Vec::new(),
    };
    let Some(original) = loaded.original else {
        plan.lines.push(format!(
            "No {} found: {} has no MCP servers configured; nothing to {}.",
            path.display(),
            host.title(),
            if action == Action::Install {
                "wrap"
            } else {
                "remove"
            }
        ));
        return Ok(plan);
    };
    let Some(mut doc) = loaded.doc else {
        return Err(SetupError::NotEditable {
            path,
            detail: loaded.problem.unwrap_or_default(),
        });
    };
    let tally = match doc.get_mut("mcpServers") {
        None => Tally::default(),
        Some(Json::Object(servers)) => rewrite(servers, action, &env.bin),
        Some(_) => {
            return Err(SetupError::NotEditable {
                path,
                detail: "\"mcpServers\" is not an object".to_string(),
            });
        }
    };
    for (name, why) in &tally.skipped {
        plan.notes.push(format!("  Not changed: {name} ({why})."));
    }
    if tally.changed.is_empty() {
        plan.lines.push(match action {
            Action::Install if tally.kept.is_empty() => format!(
                "No stdio MCP servers to wrap in {}; add servers there, then run setup again.",
                path.display()
            ),
            Action::Install => format!(
                "✓ All {} stdio MCP server(s) in {} already run through rampart mcp",
                tally.kept.len(),
                path.display()
            ),
            Action::Remove => format!(
                "No servers run through rampart mcp in {}; nothing to remove.",
                path.display()
            ),
        });
        return Ok(plan);
    }
    plan.outcome = Outcome::Changes;
    plan.lines.push(match action {
        Action::Install => format!(
            "✓ {} MCP server(s) now run through rampart mcp in {}: {}",
            tally.changed.len(),
            path.display(),
            tally.changed.join(", ")
        ),
        Action::Remove => format!(
            "✓ Removed rampart mcp from {} MCP server(s) in {}: {}",
            tally.changed.len(),
            path.display(),
            tally.changed.join(", ")
        ),
    });
    plan.notes.push(format!(
        "  Restart {} so it starts the servers {}.",
        host.title(),
        if action == Action::Install {
            "through Rampart"
        } else {
            "directly again"
        }
    ));
    plan.changes.push(Change::Write {
        path,
        bytes: doc.to_pretty().into_bytes(),
        mode: 0o600,
        original: Some(original),
        backup: true,
    });
    Ok(plan)
}
