//! The MCP server process: started in its own process group with piped stdin/stdout and the
//! proxy's stderr; signalled as a group; reaped always.

use std::ffi::OsString;
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// Why the server could not be started.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    /// No command after `--`.
    #[error("no MCP server command given (usage: rampart mcp [flags] -- CMD ARGS…)")]
    NoCommand,
    /// `exec` failed.
    #[error("cannot start {cmd}: {source}")]
    Exec {
        /// The program.
        cmd: String,
        /// The OS error.
        source: std::io::Error,
    },
}

impl SpawnError {
    /// The exit code a shell would use: 127 not found, 126 not executable, else 1.
    pub fn exit_code(&self) -> i32 {
        match self {
            SpawnError::Exec { source, .. } => match source.kind() {
                std::io::ErrorKind::NotFound => 127,
                std::io::ErrorKind::PermissionDenied => 126,
                _ => 1,
            },
            SpawnError::NoCommand => 1,
        }
    }
}

/// A started server and its pipes.
pub struct Server {
    /// The process (its pid is also its process group id).
    pub child: Child,
    /// Its stdin.
    pub stdin: ChildStdin,
    /// Its stdout.
    pub stdout: ChildStdout,
}

/// Starts `argv` in a new process group. On Linux the server also gets SIGTERM if the proxy
/// dies without cleaning up.
pub fn spawn(argv: &[OsString]) -> Result<Server, SpawnError> {
    let (prog, args) = argv.split_first().ok_or(SpawnError::NoCommand)?;
    let mut cmd = Command::new(prog);
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
        // SAFETY: between fork and exec only async-signal-safe calls on local data: the server
        // starts with no signal blocked (the proxy blocks the ones it forwards) and SIGPIPE at
        // its default (the proxy ignores it).
        unsafe {
            cmd.pre_exec(crate::embedded::signals::reset_in_child);
        }
    }
    let mut child = cmd.spawn().map_err(|source| SpawnError::Exec {
        cmd: prog.to_string_lossy().into_owned(),
        source,
    })?;
    let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        let _ = child.kill();
        let _ = child.wait();
        return Err(SpawnError::Exec {
            cmd: prog.to_string_lossy().into_owned(),
            source: std::io::Error::other("no pipes"),
        });
    };
    Ok(Server {
        child,
        stdin,
        stdout,
    })
}

/// Sends `sig` to the server's whole process group (errors ignored: the group may be gone).
pub fn signal_group(pgid: u32, sig: Signal) {
    if let Ok(raw) = i32::try_from(pgid)
        && raw > 0
    {
        let _ = killpg(Pid::from_raw(raw), sig);
    }
}

/// Blocks until the process `pid` has exited, without reaping it (its process group id stays
/// reserved until [`Child::wait`], so signalling the group afterwards cannot hit a stranger).
pub fn wait_exited(pid: u32) {
    let raw: libc::id_t = pid;
    loop {
        // SAFETY: an all-zero siginfo_t is a valid out-buffer for waitid.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: waiting on our own child with a valid out-pointer; WNOWAIT leaves it a zombie.
        let r = unsafe { libc::waitid(libc::P_PID, raw, &mut info, libc::WEXITED | libc::WNOWAIT) };
        if r == 0 {
            return;
        }
        if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return;
        }
    }
}

/// The exit code to propagate: the server's code, or 128 + the signal that ended it.
pub fn exit_code(status: ExitStatus) -> i32 {
    crate::embedded::signals::exit_code(status)
}
