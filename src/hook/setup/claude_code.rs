//! Claude Code: `PreToolUse`, `PostToolUse` and `PostToolUseFailure` command hooks with
//! matcher `.*` in `$CLAUDE_CONFIG_DIR/settings.json` (default `~/.claude/settings.json`).

use std::path::PathBuf;

use super::hooks_json::{Layout, Spec};
use super::json::Json;
use super::{Action, Env, Host, Plan, SetupError};

/// Claude Code's configuration directory.
pub(super) fn config_dir(env: &Env) -> PathBuf {
    match &env.claude_config_dir {
        Some(d) => env.expand(d),
        None => env.home.join(".claude"),
    }
}

fn spec(env: &Env) -> Spec {
    let command = env.hook_command(Host::ClaudeCode);
    Spec {
        host: Host::ClaudeCode,
        path: config_dir(env).join("settings.json"),
        container: "hooks",
        container_extras: Vec::new(),
        events: &["PreToolUse", "PostToolUse", "PostToolUseFailure"],
        layout: Layout::Grouped { matcher: ".*" },
        entry: Json::object([
            ("type", Json::str("command")),
            ("command", Json::str(command.clone())),
        ]),
        command_keys: &["command"],
        current: vec![command],
        bare_hook_ok: true,
        extras: Vec::new(),
    }
}

/// Plans installing or removing Rampart's Claude Code hooks.
pub(super) fn plan(action: Action, force: bool, env: &Env) -> Result<Plan, SetupError> {
    let mut plan = spec(env).plan(action, force)?;
    if action == Action::Install {
        plan.notes.push(
            "  Covers the tools Claude Code sends through hooks (Bash, file reads and edits, web fetches, MCP tools)."
                .to_string(),
        );
        plan.notes
            .push("  Sessions already running pick the hook up after a restart.".to_string());
    }
    Ok(plan)
}
