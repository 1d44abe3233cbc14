//! Codex: `PreToolUse` and `PostToolUse` handlers (matcher `*`, 330 s timeout) in
//! `$CODEX_HOME/hooks.json` (default `~/.codex/hooks.json`); also retires the old
//! `~/.local/bin/codex` wrapper that earlier Rampart releases installed.

use std::path::PathBuf;

use super::command::win_quote;
use super::fsops::read_settings;
use super::hooks_json::{Extra, Layout, Spec};
use super::json::Json;
use super::{Action, Change, Env, Host, Outcome, Plan, SetupError};

/// The `description` added to a hooks.json that has none.
const DESCRIPTION: &str = "Codex hooks; Rampart checks each tool call against its policy.";

/// Codex's home directory.
pub(super) fn config_dir(env: &Env) -> PathBuf {
    match &env.codex_home {
        Some(d) => env.expand(d),
        None => env.home.join(".codex"),
    }
}

fn spec(env: &Env) -> Spec {
    let command = env.hook_command(Host::Codex);
    let windows = format!(
        "{} hook --format codex",
        win_quote(&env.bin.to_string_lossy())
    );
    Spec {
        host: Host::Codex,
        path: config_dir(env).join("hooks.json"),
        container: "hooks",
        container_extras: Vec::new(),
        events: &["PreToolUse", "PostToolUse"],
        layout: Layout::Grouped { matcher: "*" },
        entry: Json::object([
            ("type", Json::str("command")),
            ("command", Json::str(command.clone())),
            ("commandWindows", Json::str(windows.clone())),
            ("timeout", Json::int(330)),
            ("statusMessage", Json::str("Checking Rampart policy")),
        ]),
        command_keys: &["command", "commandWindows"],
        current: vec![command, windows],
        bare_hook_ok: false,
        extras: vec![("description", Extra::AddIfAbsent(Json::str(DESCRIPTION)))],
    }
}

/// The legacy wrapper, when it is a regular file that an earlier Rampart wrote.
fn legacy_wrapper(env: &Env) -> Option<(PathBuf, Vec<u8>)> {
    let path = env.home.join(".local").join("bin").join("codex");
    let bytes = read_settings(&path).ok()??;
    let text = String::from_utf8_lossy(&bytes);
    (text.contains("rampart preload") || text.contains("Rampart wrapper")).then_some((path, bytes))
}

/// Plans installing or removing Rampart's Codex hooks.
pub(super) fn plan(action: Action, force: bool, env: &Env) -> Result<Plan, SetupError> {
    let mut plan = spec(env).plan(action, force)?;
    if let Some((path, original)) = legacy_wrapper(env) {
        plan.lines.push(format!(
            "  Removed the old Rampart codex wrapper at {} (native hooks replace it).",
            path.display()
        ));
        plan.changes.push(Change::Delete {
            path,
            original,
            backup: false,
        });
        if plan.outcome != Outcome::Changes {
            plan.outcome = Outcome::Changes;
        }
    }
    if action == Action::Install && plan.outcome == Outcome::Changes {
        plan.notes.push(
            "  Codex asks you to trust new hooks: run /hooks in Codex and trust Rampart's."
                .to_string(),
        );
    }
    Ok(plan)
}
