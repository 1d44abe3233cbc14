//! Antigravity: a plugin directory `~/.gemini/config/plugins/rampart/` holding `plugin.json`
//! (`{"name": "rampart"}`) and `hooks.json`, whose `rampart-policy` group enables one
//! `PreToolUse` handler (matcher `*`, 330 s timeout). Antigravity sends no post-call event.

use std::path::PathBuf;

use super::hooks_json::{Layout, Spec, load};
use super::json::Json;
use super::{Action, Change, Env, Host, Outcome, Plan, SetupError};

/// The plugin directory.
pub(super) fn plugin_dir(env: &Env) -> PathBuf {
    env.home
        .join(".gemini")
        .join("config")
        .join("plugins")
        .join("rampart")
}

fn spec(env: &Env) -> Spec {
    let command = env.hook_command(Host::Antigravity);
    Spec {
        host: Host::Antigravity,
        path: plugin_dir(env).join("hooks.json"),
        container: "rampart-policy",
        container_extras: vec![("enabled", Json::Bool(true))],
        events: &["PreToolUse"],
        layout: Layout::Grouped { matcher: "*" },
        entry: Json::object([
            ("type", Json::str("command")),
            ("command", Json::str(command.clone())),
            ("timeout", Json::int(330)),
        ]),
        command_keys: &["command"],
        current: vec![command],
        bare_hook_ok: false,
        extras: Vec::new(),
    }
}

fn manifest() -> Json {
    Json::object([("name", Json::str("rampart"))])
}

/// Plans installing or removing Rampart's Antigravity plugin.
pub(super) fn plan(action: Action, force: bool, env: &Env) -> Result<Plan, SetupError> {
    let dir = plugin_dir(env);
    if !super::fsops::is_plain_dir(&dir)? && std::fs::symlink_metadata(&dir).is_ok() {
        return Err(SetupError::NotRegular(dir));
    }
    let manifest_path = dir.join("plugin.json");
    let loaded = load(&manifest_path)?;
    let ours = loaded
        .doc
        .as_ref()
        .and_then(|d| d.get("name"))
        .and_then(Json::as_str)
        == Some("rampart");
    let mut plan = spec(env).plan(action, force)?;
    match action {
        Action::Install => {
            if loaded.original.is_none() || !ours {
                if loaded.original.is_some() && !force {
                    return Err(SetupError::Unexpected {
                        path: manifest_path,
                        what: "it does not name the \"rampart\" plugin".to_string(),
                    });
                }
                plan.changes.insert(
                    0,
                    Change::Write {
                        path: manifest_path.clone(),
                        bytes: manifest().to_pretty().into_bytes(),
                        mode: 0o600,
                        backup: loaded.original.is_some(),
                        original: loaded.original,
                    },
                );
                if plan.outcome == Outcome::AlreadyConfigured {
                    plan.outcome = Outcome::Changes;
                    plan.lines = vec![format!(
                        "✓ Rampart hook installed in {}",
                        spec(env).path.display()
                    )];
                }
                plan.lines
                    .push(format!("  Plugin manifest: {}", manifest_path.display()));
            }
            if plan.outcome == Outcome::Changes {
                plan.notes.push(
                    "  Covers tool calls before they run; Antigravity sends no post-call event, so responses are not scanned."
                        .to_string(),
                );
            }
        }
        Action::Remove => {
            let hooks_gone = match plan.changes.first() {
                Some(Change::Delete { .. }) => true,
                Some(_) => false,
                None => !spec(env).path.exists(),
            };
            let bare_manifest = loaded.doc.as_ref().is_some_and(|d| d.same_as(&manifest()));
            if hooks_gone
                && bare_manifest
                && let Some(original) = loaded.original
            {
                plan.changes.push(Change::Delete {
                    path: manifest_path,
                    original,
                    backup: false,
                });
                plan.changes.push(Change::RemoveDirIfEmpty(dir.clone()));
                plan.lines.push(format!(
                    "  Removed the Rampart plugin manifest; {} is deleted if nothing else is in it.",
                    dir.display()
                ));
                plan.outcome = Outcome::Changes;
            }
        }
    }
    Ok(plan)
}
