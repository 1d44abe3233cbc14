//! [`run_agent`]: runs the agent as a child with extra environment and returns its exit code.
//!
//! Without a terminal the child shares the caller's stdin/stdout/stderr (plain pipes or files)
//! and its process group; signals sent to the supervisor with `kill` are forwarded to it, while
//! signals the terminal raises for the whole foreground group reach it directly and are not sent
//! twice. With a terminal it runs in a pseudo-terminal of its own ([`super::pty`]).

use std::ffi::OsString;
use std::io::IsTerminal;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use super::signals;

/// What to run.
#[derive(Debug, Clone, Default)]
pub struct AgentCommand {
    /// Program and arguments (the program is looked up in `PATH`).
    pub argv: Vec<OsString>,
    /// Variables set (or replaced) in the child's environment, on top of the caller's.
    pub env: Vec<(OsString, OsString)>,
    /// Variables removed from the child's environment.
    pub env_remove: Vec<OsString>,
}

impl AgentCommand {
    /// `argv` with the caller's environment.
    pub fn new(argv: Vec<OsString>) -> AgentCommand {
        AgentCommand {
            argv,
            ..AgentCommand::default()
        }
    }

    /// The program's name for messages.
    pub fn program(&self) -> String {
        self.argv
            .first()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// Why the agent could not be run.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// No program given.
    #[error("no command given")]
    NoCommand,
    /// The program could not be started.
    #[error("cannot start {program}: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The pseudo-terminal could not be set up.
    #[error("pseudo-terminal: {0}")]
    Pty(String),
    /// Waiting for the child failed.
    #[error("waiting for {program}: {source}")]
    Wait {
        /// The program.
        program: String,
        /// The OS error.
        source: std::io::Error,
    },
}

impl AgentError {
    /// The exit code a shell would use: 127 not found, 126 not executable, else 1.
    pub fn exit_code(&self) -> i32 {
        match self {
            AgentError::Spawn { source, .. } => match source.kind() {
                std::io::ErrorKind::NotFound => 127,
                std::io::ErrorKind::PermissionDenied => 126,
                _ => 1,
            },
            _ => 1,
        }
    }
}

/// Whether the caller's stdin is a terminal (then the agent belongs in a pseudo-terminal).
pub fn stdin_is_terminal() -> bool {
    std::io::stdin().is_terminal()
}

/// Runs `cmd` to completion: in a pseudo-terminal when `pty` is true, else on the caller's own
/// stdio. Forwards SIGINT, SIGTERM, SIGHUP and SIGQUIT (and window sizes with a terminal);
/// returns the child's exit code, or 128 + the signal that ended it.
pub fn run_agent(cmd: &AgentCommand, pty: bool) -> Result<i32, AgentError> {
    if cmd.argv.is_empty() {
        return Err(AgentError::NoCommand);
    }
    // Taken by the forwarding thread; the child gets a clean mask.
    let _ = signals::block();
    if pty {
        super::pty::run(cmd)
    } else {
        run_plain(cmd)
    }
}

fn run_plain(cmd: &AgentCommand) -> Result<i32, AgentError> {
    use std::os::unix::process::CommandExt;
    let (prog, args) = cmd.argv.split_first().ok_or(AgentError::NoCommand)?;
    let mut c = Command::new(prog);
    c.args(args);
    for k in &cmd.env_remove {
        c.env_remove(k);
    }
    c.envs(cmd.env.iter().map(|(k, v)| (k, v)));
    // SAFETY: reset_in_child makes only async-signal-safe calls.
    unsafe {
        c.pre_exec(signals::reset_in_child);
    }
    let mut child = c.spawn().map_err(|source| AgentError::Spawn {
        program: cmd.program(),
        source,
    })?;
    let fwd = spawn_forwarder(child.id(), |r| r.from_process, || {});
    let status = child.wait();
    fwd.finish();
    let status = status.map_err(|source| AgentError::Wait {
        program: cmd.program(),
        source,
    })?;
    Ok(signals::exit_code(status))
}

/// The signal-forwarding thread of one child. Once [`Forwarder::finish`] is called (the child
/// has been reaped and its pid may be reused) nothing more is sent.
pub(crate) struct Forwarder {
    pid: Arc<AtomicU32>,
}

impl Forwarder {
    /// Stops forwarding.
    pub(crate) fn finish(&self) {
        self.pid.store(0, Ordering::SeqCst);
    }
}

/// Starts the thread that takes the supervised signals: those `forward` accepts go to `pid`,
/// `SIGWINCH` goes to `on_winch`.
pub(crate) fn spawn_forwarder(
    pid: u32,
    forward: impl Fn(&signals::Received) -> bool + Send + 'static,
    on_winch: impl Fn() + Send + 'static,
) -> Forwarder {
    let shared = Arc::new(AtomicU32::new(pid));
    let target = shared.clone();
    let spawned = std::thread::Builder::new()
        .name("rampart-signals".into())
        .spawn(move || {
            while let Some(r) = signals::wait() {
                let pid = target.load(Ordering::SeqCst);
                if pid == 0 {
                    break;
                }
                if r.signal == nix::sys::signal::Signal::SIGWINCH {
                    on_winch();
                } else if forward(&r) {
                    signals::send(pid, r.signal);
                }
            }
        });
    if let Err(e) = spawned {
        eprintln!("rampart: cannot forward signals to the agent: {e}");
    }
    Forwarder { pid: shared }
}
