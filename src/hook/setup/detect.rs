//! `rampart setup` with no host: which agent hosts look installed (a configuration directory
//! exists, or the host's program is on PATH) and whether Rampart's hook is already in place.
//! Read-only: it plans, it never applies.

use std::path::PathBuf;

use super::command::find_on_path;
use super::{
    Action, Env, Host, Outcome, antigravity, claude_code, codex, copilot, mcp_servers, plan,
};

/// One host that looks installed.
#[derive(Debug)]
pub struct Detection {
    /// The host.
    pub host: Host,
    /// What gave it away (a directory, or a program on PATH).
    pub evidence: String,
    /// Whether the hook is in place (`Ok(AlreadyConfigured)`), would be installed
    /// (`Ok(Changes)`), or the settings cannot be used (`Err`, the reason).
    pub state: Result<Outcome, String>,
}

/// Directories and program names whose presence suggests `host` is installed.
fn signs(host: Host, env: &Env) -> (Vec<PathBuf>, &'static [&'static str]) {
    let home = &env.home;
    match host {
        Host::ClaudeCode => (vec![claude_code::config_dir(env)], &["claude"]),
        Host::Codex => (vec![codex::config_dir(env)], &["codex"]),
        Host::Cline => (
            vec![home.join("Documents").join("Cline"), home.join(".cline")],
            &["cline"],
        ),
        Host::Cursor => (vec![home.join(".cursor")], &["cursor", "cursor-agent"]),
        Host::Gemini => (
            vec![home.join(".gemini").join("settings.json")],
            &["gemini"],
        ),
        Host::Copilot => (vec![copilot::config_dir(env)], &["copilot"]),
        Host::Antigravity => (
            vec![
                home.join(".gemini").join("antigravity"),
                antigravity::plugin_dir(env),
            ],
            &["antigravity"],
        ),
        Host::ClaudeDesktop => (
            vec![mcp_servers::claude_desktop_dir(env)],
            &["claude-desktop"],
        ),
    }
}

/// The hosts that look installed, in [`Host::ALL`] order.
pub fn detect(env: &Env) -> Vec<Detection> {
    let mut found = Vec::new();
    for host in Host::ALL {
        let (dirs, programs) = signs(host, env);
        let evidence = dirs
            .iter()
            .find(|d| d.exists())
            .map(|d| format!("found {}", d.display()))
            .or_else(|| {
                programs.iter().find_map(|p| {
                    find_on_path(p, env.path_var.as_deref())
                        .map(|at| format!("found {p} at {}", at.display()))
                })
            });
        if let Some(evidence) = evidence {
            let state = plan(host, Action::Install, false, env)
                .map(|p| p.outcome)
                .map_err(|e| e.to_string());
            found.push(Detection {
                host,
                evidence,
                state,
            });
        }
    }
    found
}
