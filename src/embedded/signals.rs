//! Signals around a supervised child: the set the supervisor takes (blocked in every thread and
//! collected with `sigwaitinfo`), the clean slate a child starts from, and exit codes.

use nix::sys::signal::{SigSet, Signal};

/// Signals a supervisor takes and forwards (plus `SIGWINCH`, which resizes a pseudo-terminal).
pub const FORWARDED: [Signal; 5] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGWINCH,
];

/// The set of [`FORWARDED`] signals.
pub fn forwarded_set() -> SigSet {
    let mut set = SigSet::empty();
    for s in FORWARDED {
        set.add(s);
    }
    set
}

/// Blocks [`FORWARDED`] in the calling thread, so every thread started afterwards inherits the
/// mask and the signals stay pending until [`wait`] takes them.
pub fn block() -> nix::Result<()> {
    forwarded_set().thread_block()
}

/// A signal taken by [`wait`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    /// The signal.
    pub signal: Signal,
    /// Sent by a process (`kill`, `sigqueue`) rather than raised by the kernel for a terminal.
    pub from_process: bool,
}

/// Waits for one of [`FORWARDED`] (they must be blocked in every thread). `None` on an error
/// other than an interruption.
pub fn wait() -> Option<Received> {
    let set = forwarded_set();
    loop {
        // SAFETY: an all-zero siginfo_t is a valid out-buffer for sigwaitinfo.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: a valid signal set and out-pointer.
        let n = unsafe { libc::sigwaitinfo(set.as_ref(), &mut info) };
        if n < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return None;
        }
        let Ok(signal) = Signal::try_from(n) else {
            continue;
        };
        // SI_USER (0), SI_QUEUE (-1), SI_TKILL (-6)…: a process sent it. SI_KERNEL (0x80): the
        // terminal driver raised it for the whole foreground process group.
        return Some(Received {
            signal,
            from_process: info.si_code <= 0,
        });
    }
}

/// Resets what a child inherits from a supervisor: no signal blocked, `SIGPIPE` at its default,
/// and (Linux) `SIGTERM` when the supervising thread dies. For `pre_exec`: async-signal-safe.
pub fn reset_in_child() -> std::io::Result<()> {
    // SAFETY: only async-signal-safe calls on local data.
    unsafe {
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        if libc::pthread_sigmask(libc::SIG_SETMASK, &none, std::ptr::null_mut()) != 0 {
            return Err(std::io::Error::other("cannot reset the signal mask"));
        }
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        #[cfg(target_os = "linux")]
        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The exit code to propagate for a wait status: the child's code, or 128 + the signal that
/// ended it (what a shell reports).
pub fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => c,
        (None, Some(s)) => 128 + s,
        (None, None) => 1,
    }
}

/// Sends `sig` to the process `pid` (errors ignored: it may be gone).
pub fn send(pid: u32, sig: Signal) {
    if let Ok(raw) = i32::try_from(pid)
        && raw > 0
    {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(raw), sig);
    }
}
