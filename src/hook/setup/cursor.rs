//! Cursor: one `preToolUse` handler (330 s timeout, `failClosed`) in `~/.cursor/hooks.json`,
//! a `{"version": 1, "hooks": {…}}` file. System, team and cloud hook files are never written.

use super::hooks_json::{Extra, Layout, Spec};
use super::json::Json;
use super::{Action, Env, Host, Plan, SetupError};

fn spec(env: &Env) -> Spec {
    let command = env.hook_command(Host::Cursor);
    Spec {
        host: Host::Cursor,
        path: env.home.join(".cursor").join("hooks.json"),
        container: "hooks",
        container_extras: Vec::new(),
        events: &["preToolUse"],
        layout: Layout::Flat,
        entry: Json::object([
            ("command", Json::str(command.clone())),
            ("timeout", Json::int(330)),
            ("failClosed", Json::Bool(true)),
        ]),
        command_keys: &["command"],
        current: vec![command],
        bare_hook_ok: false,
        extras: vec![("version", Extra::Require(Json::int(1)))],
    }
}

/// Plans installing or removing Rampart's Cursor hook.
pub(super) fn plan(action: Action, force: bool, env: &Env) -> Result<Plan, SetupError> {
    let mut plan = spec(env).plan(action, force)?;
    if action == Action::Install {
        plan.notes.push(
            "  Covers Cursor's local Agent and Cmd+K; Cursor Tab and Cloud Agents do not run local hooks."
                .to_string(),
        );
        plan.notes.push(
            "  failClosed is set: if the hook cannot run, Cursor blocks the tool call.".to_string(),
        );
    }
    Ok(plan)
}
