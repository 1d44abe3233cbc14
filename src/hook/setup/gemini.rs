//! Gemini CLI (experimental): `BeforeTool` and `AfterTool` command hooks (matcher `.*`,
//! 330 000 ms timeout) in `~/.gemini/settings.json`.

use super::hooks_json::{Layout, Spec};
use super::json::Json;
use super::{Action, Env, Host, Plan, SetupError};

fn spec(env: &Env) -> Spec {
    let command = env.hook_command(Host::Gemini);
    Spec {
        host: Host::Gemini,
        path: env.home.join(".gemini").join("settings.json"),
        container: "hooks",
        container_extras: Vec::new(),
        events: &["BeforeTool", "AfterTool"],
        layout: Layout::Grouped { matcher: ".*" },
        entry: Json::object([
            ("type", Json::str("command")),
            ("command", Json::str(command.clone())),
            ("name", Json::str("Rampart policy enforcement")),
            ("timeout", Json::int(330_000)),
        ]),
        command_keys: &["command"],
        current: vec![command],
        bare_hook_ok: false,
        extras: Vec::new(),
    }
}

/// Plans installing or removing Rampart's Gemini CLI hooks.
pub(super) fn plan(action: Action, force: bool, env: &Env) -> Result<Plan, SetupError> {
    let mut plan = spec(env).plan(action, force)?;
    if action == Action::Install {
        plan.notes
            .push("  Gemini CLI support is experimental.".to_string());
    }
    Ok(plan)
}
