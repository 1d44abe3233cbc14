//! GitHub Copilot (CLI and VS Code agent): `PreToolUse` and `PostToolUse` handlers with
//! `bash`/`powershell` commands and a 30 s `timeoutSec` in `$COPILOT_HOME/hooks/rampart.json`
//! (default `~/.copilot/hooks/`). PascalCase event names select the VS Code-compatible
//! payload, so one file serves both hosts.

use std::path::PathBuf;

use super::command::ps_quote;
use super::hooks_json::{Extra, Layout, Spec};
use super::json::Json;
use super::{Action, Env, Host, Plan, SetupError};

/// Copilot's home directory.
pub(super) fn config_dir(env: &Env) -> PathBuf {
    match &env.copilot_home {
        Some(d) => env.expand(d),
        None => env.home.join(".copilot"),
    }
}

fn spec(env: &Env) -> Spec {
    let bash = env.hook_command(Host::Copilot);
    let powershell = format!(
        "& {} hook --format copilot",
        ps_quote(&env.bin.to_string_lossy())
    );
    Spec {
        host: Host::Copilot,
        path: config_dir(env).join("hooks").join("rampart.json"),
        container: "hooks",
        container_extras: Vec::new(),
        events: &["PreToolUse", "PostToolUse"],
        layout: Layout::Flat,
        entry: Json::object([
            ("type", Json::str("command")),
            ("bash", Json::str(bash.clone())),
            ("powershell", Json::str(powershell.clone())),
            ("timeoutSec", Json::int(30)),
        ]),
        command_keys: &["bash", "powershell", "command"],
        current: vec![bash, powershell],
        bare_hook_ok: false,
        extras: vec![("version", Extra::Require(Json::int(1)))],
    }
}

/// Plans installing or removing Rampart's Copilot hooks.
pub(super) fn plan(action: Action, force: bool, env: &Env) -> Result<Plan, SetupError> {
    let mut plan = spec(env).plan(action, force)?;
    if action == Action::Install {
        plan.notes.push(
            "  Covers Copilot CLI and the VS Code agent; allowed calls still go through Copilot's own permission checks."
                .to_string(),
        );
        plan.notes.push(
            "  Copilot CLI lets a tool call through when a hook times out (30 s here).".to_string(),
        );
    }
    Ok(plan)
}
