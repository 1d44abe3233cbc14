//! The `rampart setup` command line: argument parsing and output. Library errors become one
//! line and exit status 1 in `main`.

use anyhow::bail;

use super::command::find_on_path;
use super::detect::detect;
use super::{Action, Env, Host, Outcome, apply, plan, plan_mcp};

/// Arguments of `rampart setup`.
#[derive(clap::Args, Debug)]
pub struct SetupArgs {
    /// The agent to install Rampart's hook for. Without one, lists the agents found on this
    /// machine and the command for each; nothing is changed.
    #[arg(value_enum)]
    pub host: Option<Host>,
    /// Remove Rampart's hook entries instead (other settings and hooks are kept).
    #[arg(long)]
    pub remove: bool,
    /// Replace a settings file that is not valid JSON, or values of the wrong type where
    /// Rampart's entries go (the original is backed up first). Never touches hook scripts
    /// that are not Rampart's.
    #[arg(long)]
    pub force: bool,
    /// Put the host's MCP servers behind `rampart mcp --` instead of installing a hook
    /// (Cursor's `~/.cursor/mcp.json`; implied for claude-desktop).
    #[arg(long)]
    pub mcp: bool,
}

/// Runs `rampart setup`; returns the exit code.
pub fn run(a: SetupArgs) -> anyhow::Result<i32> {
    let env = Env::from_process()?;
    let Some(host) = a.host else {
        if a.remove || a.force {
            bail!(
                "name the agent: rampart setup <{}>{}",
                host_names().join("|"),
                if a.remove { " --remove" } else { " --force" }
            );
        }
        print_detection(&env);
        return Ok(0);
    };
    let action = if a.remove {
        Action::Remove
    } else {
        Action::Install
    };
    let mcp = a.mcp || host.mcp_only();
    let plan = if mcp {
        match plan_mcp(host, action, &env) {
            Some(p) => p?,
            None => bail!(
                "--mcp works with claude-desktop and cursor; {} is protected by its hook: rampart setup {}",
                host.title(),
                host.name()
            ),
        }
    } else {
        plan(host, action, a.force, &env)?
    };
    let backups = apply(&plan)?;
    for line in &plan.lines {
        println!("{line}");
    }
    if action == Action::Install && mcp {
        println!(
            "  Servers run as: {} mcp -- <the server's command>",
            super::command::sh_quote(&env.bin.to_string_lossy())
        );
    } else if action == Action::Install {
        println!("  Hook command: {}", env.hook_command(host));
    }
    for b in &backups {
        println!("  Backup of the previous file: {}", b.display());
    }
    if action == Action::Install && plan.outcome == Outcome::Changes {
        for note in &plan.notes {
            println!("{note}");
        }
        if find_on_path("rampart", env.path_var.as_deref()).is_none() {
            println!(
                "  rampart is not on your PATH: the hook runs it by its full path, so it works, but type {} for the commands below.",
                env.bin.display()
            );
        }
        println!();
        println!("Next:");
        let remove = format!(
            "rampart setup {}{} --remove",
            host.name(),
            if mcp && !host.mcp_only() {
                " --mcp"
            } else {
                ""
            }
        );
        for (cmd, why) in [
            (
                "rampart test \"rm -rf /\"",
                "see your policy deny a destructive command",
            ),
            (
                "rampart serve",
                "approvals for ask rules, the dashboard and live feed",
            ),
            (remove.as_str(), "take the hook out again"),
        ] {
            println!("  {cmd:<36} # {why}");
        }
    }
    Ok(0)
}

fn host_names() -> Vec<&'static str> {
    Host::ALL.iter().map(|h| h.name()).collect()
}

fn print_detection(env: &Env) {
    let found = detect(env);
    if found.is_empty() {
        println!(
            "No supported agent was found on this machine (looked for configuration directories and programs on PATH)."
        );
        println!("Supported: {}", host_names().join(", "));
        println!("Install for one anyway with: rampart setup <agent>");
        return;
    }
    println!("Agents found (nothing has been changed):");
    let mut todo = Vec::new();
    for d in &found {
        let mcp = d.host.mcp_only();
        let state = match &d.state {
            Ok(Outcome::AlreadyConfigured) if mcp => {
                "no MCP server left to put behind Rampart".to_string()
            }
            Ok(Outcome::AlreadyConfigured) => "Rampart hook already configured".to_string(),
            Ok(_) => {
                todo.push(d.host);
                if mcp {
                    "MCP servers not behind Rampart".to_string()
                } else {
                    "Rampart hook not installed".to_string()
                }
            }
            Err(e) => format!("cannot check: {e}"),
        };
        println!("  {:<15} {} — {state}", d.host.title(), d.evidence);
    }
    let missing: Vec<&str> = Host::ALL
        .iter()
        .filter(|h| !found.iter().any(|d| d.host == **h))
        .map(|h| h.name())
        .collect();
    if !missing.is_empty() {
        println!("Not found: {}", missing.join(", "));
    }
    println!();
    if todo.is_empty() {
        println!("Nothing to do. To remove a hook: rampart setup <agent> --remove");
    } else {
        println!("To install Rampart's hook, run:");
        for h in todo {
            println!("  rampart setup {}", h.name());
        }
    }
    println!(
        "Hook command: {}",
        env.hook_command(Host::ClaudeCode)
            .replace(" --format claude-code", " --format <agent>")
    );
}
