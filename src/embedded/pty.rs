//! Running the agent in a pseudo-terminal (portable-pty) when the caller sits on a terminal:
//! the caller's terminal goes to raw mode (restored on every exit path), bytes are relayed both
//! ways, the window size is copied at start and on every `SIGWINCH`, and SIGTERM/SIGHUP/SIGQUIT
//! sent to the supervisor are passed on (keys such as Ctrl-C travel as bytes through the
//! pseudo-terminal, whose own line discipline raises the signal in the agent).

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::termios::{self, SetArg, Termios};
use portable_pty::{CommandBuilder, MasterPty, PtySize, native_pty_system};

use super::agent::{AgentCommand, AgentError, spawn_forwarder};
use super::signals;

/// How long output still in flight is relayed after the agent exits.
const DRAIN: Duration = Duration::from_secs(1);

/// Restores the caller's terminal settings when dropped.
struct RawMode {
    saved: Option<Termios>,
}

impl RawMode {
    fn enter() -> RawMode {
        let stdin = std::io::stdin();
        let Ok(saved) = termios::tcgetattr(stdin.as_fd()) else {
            return RawMode { saved: None };
        };
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        if termios::tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw).is_err() {
            return RawMode { saved: None };
        }
        RawMode { saved: Some(saved) }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(t) = &self.saved {
            let _ = termios::tcsetattr(std::io::stdin().as_fd(), SetArg::TCSADRAIN, t);
        }
    }
}

/// The caller's window size (stdin, else stdout), or 24×80.
pub fn current_size() -> PtySize {
    for fd in [libc::STDIN_FILENO, libc::STDOUT_FILENO] {
        // SAFETY: an all-zero winsize is a valid out-buffer for TIOCGWINSZ.
        let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
        // SAFETY: TIOCGWINSZ on a descriptor we own, with a valid out-pointer.
        let r = unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) };
        if r == 0 && ws.ws_row > 0 && ws.ws_col > 0 {
            return PtySize {
                rows: ws.ws_row,
                cols: ws.ws_col,
                pixel_width: ws.ws_xpixel,
                pixel_height: ws.ws_ypixel,
            };
        }
    }
    PtySize {
        rows: 24,
        cols: 80,
        pixel_width: 0,
        pixel_height: 0,
    }
}

fn pty_err(e: impl std::fmt::Display) -> AgentError {
    AgentError::Pty(e.to_string())
}

/// Runs `cmd` in a new pseudo-terminal; returns its exit code.
pub(crate) fn run(cmd: &AgentCommand) -> Result<i32, AgentError> {
    let pair = native_pty_system()
        .openpty(current_size())
        .map_err(pty_err)?;
    let mut b = CommandBuilder::from_argv(cmd.argv.clone());
    if let Ok(dir) = std::env::current_dir() {
        b.cwd(dir);
    }
    for k in &cmd.env_remove {
        b.env_remove(k);
    }
    for (k, v) in &cmd.env {
        b.env(k, v);
    }
    let child = pair.slave.spawn_command(b).map_err(|e| AgentError::Spawn {
        program: cmd.program(),
        source: std::io::Error::other(e.to_string()),
    })?;
    // Only the child holds the terminal side now: its exit ends the relay with EOF.
    drop(pair.slave);
    let pid = child.process_id().unwrap_or(0);
    let master: Arc<Mutex<Box<dyn MasterPty + Send>>> = Arc::new(Mutex::new(pair.master));
    let (reader, writer) = {
        let m = master
            .lock()
            .map_err(|_| pty_err("terminal lock poisoned"))?;
        (
            m.try_clone_reader().map_err(pty_err)?,
            m.take_writer().map_err(pty_err)?,
        )
    };
    let raw = RawMode::enter();
    let resize_target = master.clone();
    let fwd = spawn_forwarder(
        pid,
        |r| r.signal != nix::sys::signal::Signal::SIGINT || r.from_process,
        move || {
            if let Ok(m) = resize_target.lock() {
                let _ = m.resize(current_size());
            }
        },
    );
    let output_done = relay_output(reader);
    relay_input(writer);
    let status = wait_pid(pid);
    fwd.finish();
    let _ = output_done.recv_timeout(DRAIN);
    drop(raw);
    drop(child);
    status.map_err(|source| AgentError::Wait {
        program: cmd.program(),
        source,
    })
}

/// Copies the terminal's output to stdout until it closes; the receiver hears when it has.
fn relay_output(mut reader: Box<dyn Read + Send>) -> mpsc::Receiver<()> {
    let (tx, rx) = mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("rampart-pty-out".into())
        .spawn(move || {
            let mut out = std::io::stdout();
            let mut buf = [0u8; 16 * 1024];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        if out.write_all(&buf[..n]).and_then(|_| out.flush()).is_err() {
                            break;
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    // EIO: every holder of the terminal side has closed it.
                    Err(_) => break,
                }
            }
            let _ = tx.send(());
        });
    if let Err(e) = spawned {
        eprintln!("rampart: cannot relay the agent's terminal output: {e}");
    }
    rx
}

/// Copies stdin to the terminal (the thread ends with stdin or when the terminal goes away).
fn relay_input(mut writer: Box<dyn Write + Send>) {
    let spawned = std::thread::Builder::new()
        .name("rampart-pty-in".into())
        .spawn(move || {
            let mut input = std::io::stdin();
            let mut buf = [0u8; 4096];
            loop {
                match input.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        if writer
                            .write_all(&buf[..n])
                            .and_then(|_| writer.flush())
                            .is_err()
                        {
                            break;
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
        });
    if let Err(e) = spawned {
        eprintln!("rampart: cannot relay input to the agent's terminal: {e}");
    }
}

/// Reaps `pid`; its exit code or 128 + signal.
fn wait_pid(pid: u32) -> std::io::Result<i32> {
    use std::os::unix::process::ExitStatusExt;
    let raw = libc::pid_t::try_from(pid).map_err(|_| std::io::Error::other("no child pid"))?;
    if raw <= 0 {
        return Err(std::io::Error::other("no child pid"));
    }
    loop {
        let mut status: libc::c_int = 0;
        // SAFETY: waiting on our own child with a valid out-pointer.
        let r = unsafe { libc::waitpid(raw, &mut status, 0) };
        if r == raw {
            return Ok(signals::exit_code(std::process::ExitStatus::from_raw(
                status,
            )));
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}
