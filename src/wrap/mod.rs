//! `rampart wrap [flags] -- CMD ARGS…`: runs an agent whose commands go through `$SHELL -c`
//! (Aider, OpenCode, Python agents) with `SHELL` pointing at a compiled shim, so each command
//! is judged by the run's own in-process server before the real shell runs it.

pub mod ask;
pub mod http;
pub mod invocation;
pub mod shell;
pub mod shim;

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;

use crate::embedded::{AgentCommand, InProcessServer, ServerOptions, run_agent, stdin_is_terminal};
use crate::gate::Mode;
use shell::{REAL_SHELL_ENV, ShimDir, resolve_real_shell};

/// Flags of `rampart wrap`.
#[derive(Debug, Clone, clap::Args)]
pub struct WrapArgs {
    /// enforce (default), monitor (record real verdicts, run everything) or disabled.
    #[arg(long, default_value = "enforce")]
    pub mode: Mode,
    /// Policy source.
    #[command(flatten)]
    pub policy: crate::cli::policy_flags::PolicyFlags,
    /// Audit directory (default ~/.rampart/audit).
    #[arg(long)]
    pub audit_dir: Option<PathBuf>,
    /// Loopback port of the run's server (default: a free ephemeral port).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Refuse commands (exit 126) when the server cannot be reached, instead of running them
    /// with a warning (also RAMPART_FAIL_CLOSED=1).
    #[arg(long)]
    pub fail_closed: bool,
    /// How long a command that needs approval waits for a person (e.g. 90s, 5m).
    #[arg(long, default_value = "5m", value_parser = crate::cli::serve_cmd::parse_secs)]
    pub approval_timeout: Duration,
    /// The agent command and its arguments (after `--`).
    #[arg(last = true, required = true, num_args = 1.., value_name = "CMD")]
    pub command: Vec<OsString>,
}

/// Runs `rampart wrap`; the agent's exit code.
pub fn run(a: WrapArgs) -> anyhow::Result<i32> {
    let me = std::env::current_exe().context("locating the rampart binary")?;
    let real = resolve_real_shell(
        &[std::env::var_os("SHELL"), std::env::var_os(REAL_SHELL_ENV)],
        std::env::var_os("PATH").as_deref(),
        Some(&me),
    )?;
    let server = InProcessServer::start(ServerOptions {
        mode: a.mode,
        config: a.policy.config.clone(),
        config_dir: a.policy.config_dir.clone(),
        audit_dir: a.audit_dir.clone(),
        port: a.port,
        approval_timeout: a.approval_timeout,
        ..ServerOptions::default()
    })
    .context("wrap: starting the policy server")?;
    let shim = ShimDir::install(&std::env::temp_dir(), &shell::shim_target(&me))?;
    let run_id = ulid::Ulid::generate().to_string();
    let session = std::env::var(ask::SESSION_ENV)
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| format!("wrap-{}", run_id.to_ascii_lowercase()));
    let mut cmd = AgentCommand::new(a.command.clone());
    cmd.env.extend(server.env());
    cmd.env.extend([
        ("SHELL".into(), shim.shim().into_os_string()),
        (REAL_SHELL_ENV.into(), real.clone().into_os_string()),
        (ask::SESSION_ENV.into(), session.into()),
        (ask::RUN_ENV.into(), run_id.into()),
        (
            ask::APPROVAL_WAIT_ENV.into(),
            a.approval_timeout.as_secs().to_string().into(),
        ),
    ]);
    if a.fail_closed {
        cmd.env.push((ask::FAIL_CLOSED_ENV.into(), "1".into()));
    }
    eprintln!(
        "rampart: wrap: {} mode, real shell {}, dashboard {}/dashboard/",
        a.mode,
        real.display(),
        server.url()
    );
    let code = match run_agent(&cmd, stdin_is_terminal()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("rampart: wrap: {e}");
            e.exit_code()
        }
    };
    eprintln!("{}", server.shutdown());
    drop(shim);
    Ok(code)
}
