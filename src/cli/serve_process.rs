//! Process management around `rampart serve`: the `serve.state` discovery file, `serve.pid`,
//! `serve --background` (detach and wait for readiness) and `serve stop`.

use std::ffi::OsString;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use super::owner_file::{self, OwnerFileError};
use super::proc_identity::{self, Source};

/// Environment variable through which a background parent tells its child where to report ready.
pub const READY_ENV: &str = "RAMPART_BACKGROUND_READY_FILE";
/// Name prefix of the readiness files in `~/.rampart`.
pub const READY_PREFIX: &str = ".serve-ready-";
/// How long `--background` waits for the child to report ready.
pub const READY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long `serve stop` waits for the server to exit after SIGTERM.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(5);

const STATE_FILE: &str = "serve.state";
const PID_FILE: &str = "serve.pid";
const LOG_FILE: &str = "serve.log";
const LOCK_FILE: &str = ".serve.pid.lock";
const PID_FILE_MAX: u64 = 32;
const STATE_MAX: u64 = 64 * 1024;
const TAIL_BYTES: u64 = 4096;
const TAIL_LINES: usize = 20;
const POLL: Duration = Duration::from_millis(25);

/// Discovery record a listening server writes to `~/.rampart/serve.state`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServeState {
    /// Base URL clients should use, e.g. `http://localhost:9090`.
    pub url: String,
    /// Listening port.
    pub port: u16,
    /// Server process id.
    pub pid: u32,
    /// Start time, RFC 3339 UTC.
    pub started: String,
    /// Absolute path of the server executable.
    pub executable: String,
}

/// Why a serve process operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ProcError {
    /// A file under `~/.rampart` could not be used.
    #[error(transparent)]
    File(#[from] OwnerFileError),
    /// `serve stop` found no PID file.
    #[error("serve stop: no PID file found at {}", .0.display())]
    NoPidFile(PathBuf),
    /// The PID file does not hold a positive process id (it has been removed).
    #[error("invalid PID file {} ({reason}); removed it", path.display())]
    BadPidFile {
        /// The PID file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The PID file names a process that is not a running `rampart serve` (file removed).
    #[error("refusing to signal stale pid {pid} ({reason})")]
    Stale {
        /// The recorded pid.
        pid: u32,
        /// Why it is not our server.
        reason: String,
    },
    /// A background server is already running.
    #[error("serve: background server is already running (pid={pid})")]
    AlreadyRunning {
        /// Its pid.
        pid: u32,
    },
    /// The server executable could not be started.
    #[error("serve: cannot start {}: {source}", exe.display())]
    Spawn {
        /// The executable.
        exe: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The child exited before reporting ready.
    #[error("serve: background server (pid={pid}) exited before it was ready ({status}); last lines of {}:\n{tail}", log.display())]
    ChildExited {
        /// Child pid.
        pid: u32,
        /// Its exit status.
        status: ExitStatus,
        /// The log file.
        log: PathBuf,
        /// What the child logged.
        tail: String,
    },
    /// The child did not report ready in time and was stopped.
    #[error("serve: background server (pid={pid}) did not report ready within {}s and was stopped; last lines of {}:\n{tail}", READY_TIMEOUT.as_secs(), log.display())]
    NotReady {
        /// Child pid.
        pid: u32,
        /// The log file.
        log: PathBuf,
        /// What the child logged.
        tail: String,
    },
    /// SIGTERM was sent but the server is still running.
    #[error("serve stop: sent SIGTERM to pid {pid} but it is still running after {}s", STOP_TIMEOUT.as_secs())]
    StillRunning {
        /// The server pid.
        pid: u32,
    },
    /// Signalling the server failed.
    #[error("serve stop: cannot signal pid {pid}: {source}")]
    Signal {
        /// The server pid.
        pid: u32,
        /// The errno.
        #[source]
        source: nix::errno::Errno,
    },
    /// `serve.state` is not valid JSON of the expected shape.
    #[error("invalid {}: {reason}", path.display())]
    BadState {
        /// The state file.
        path: PathBuf,
        /// The parse error.
        reason: String,
    },
    /// The readiness file named in the environment is not one of ours.
    #[error("refusing readiness file {}: {reason}", path.display())]
    BadReadyFile {
        /// The path from the environment.
        path: PathBuf,
        /// Why it was refused.
        reason: String,
    },
}

/// `~/.rampart`.
pub fn rampart_dir(home: &Path) -> PathBuf {
    home.join(".rampart")
}

/// `~/.rampart/serve.state`.
pub fn state_path(home: &Path) -> PathBuf {
    rampart_dir(home).join(STATE_FILE)
}

/// `~/.rampart/serve.pid`.
pub fn pid_path(home: &Path) -> PathBuf {
    rampart_dir(home).join(PID_FILE)
}

/// `~/.rampart/serve.log`.
pub fn log_path(home: &Path) -> PathBuf {
    rampart_dir(home).join(LOG_FILE)
}

/// Writes `~/.rampart/serve.state` (0600, atomic replace).
pub fn write_state(home: &Path, st: &ServeState) -> Result<(), ProcError> {
    owner_file::ensure_private_dir(&rampart_dir(home))?;
    let mut json = serde_json::to_vec(st).map_err(|e| ProcError::BadState {
        path: state_path(home),
        reason: e.to_string(),
    })?;
    json.push(b'\n');
    owner_file::write_atomic(&state_path(home), &json)?;
    Ok(())
}

/// Reads `~/.rampart/serve.state`; `None` when there is none. Symlinks, non-regular files and
/// files over 64 KiB are refused.
pub fn read_state(home: &Path) -> Result<Option<ServeState>, ProcError> {
    let path = state_path(home);
    let Some(bytes) = owner_file::read_bounded(&path, STATE_MAX)? else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| ProcError::BadState {
            path,
            reason: e.to_string(),
        })
}

/// Removes `~/.rampart/serve.state` on shutdown, unless it records a pid other than ours (a
/// state file that cannot be parsed is removed). Errors are ignored.
pub fn remove_state(home: &Path) {
    remove_state_of(home, std::process::id());
}

fn remove_state_of(home: &Path, pid: u32) {
    if let Ok(Some(st)) = read_state(home)
        && st.pid != pid
    {
        return;
    }
    let _ = owner_file::remove_if_exists(&state_path(home));
}

/// Holds the cross-process lock that serialises `--background` and `serve stop`.
struct PidLock {
    _lock: Flock<File>,
}

fn lock_pid_file(home: &Path) -> Result<PidLock, ProcError> {
    let dir = rampart_dir(home);
    owner_file::ensure_private_dir(&dir)?;
    let path = dir.join(LOCK_FILE);
    let f = owner_file::open_append(&path)?;
    let lock = Flock::lock(f, FlockArg::LockExclusive)
        .map_err(|(_, errno)| OwnerFileError::io("lock", &path, std::io::Error::from(errno)))?;
    Ok(PidLock { _lock: lock })
}

/// Reads `serve.pid`: a regular file of at most 32 bytes holding a positive pid.
fn read_pid_file(path: &Path) -> Result<Option<u32>, String> {
    let bytes = match owner_file::read_bounded(path, PID_FILE_MAX) {
        Ok(Some(b)) => b,
        Ok(None) => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    let text = std::str::from_utf8(&bytes).map_err(|_| "not text".to_string())?;
    let t = text.trim();
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("content {t:?} is not a process id"));
    }
    match t.parse::<u32>() {
        Ok(pid) if pid > 0 && i32::try_from(pid).is_ok() => Ok(Some(pid)),
        _ => Err(format!("content {t:?} is not a positive process id")),
    }
}

/// Removes `serve.pid` if it still names `pid` (or cannot be read).
fn remove_pid_file_if(home: &Path, pid: u32) {
    let path = pid_path(home);
    match read_pid_file(&path) {
        Ok(Some(p)) if p != pid => {}
        _ => {
            let _ = owner_file::remove_if_exists(&path);
        }
    }
}

/// Checks that `pid` is a running `rampart serve` (command name and `argv[0]` basename
/// `rampart`, first non-flag argument `serve`, and, when `serve.state` records an executable
/// for this pid, the same executable). The error says why not.
fn authenticate(home: &Path, pid: u32) -> Result<(), String> {
    let source = Source::detect();
    if !proc_identity::is_alive(pid, source) {
        return Err("no such running process".to_string());
    }
    let info = proc_identity::inspect(pid, source)?;
    if info.comm != "rampart" {
        return Err(format!("process name is {:?}, not \"rampart\"", info.comm));
    }
    let argv0 = info.argv.first().map(String::as_str).unwrap_or("");
    if proc_identity::basename(argv0) != "rampart" {
        return Err(format!("argv[0] is {argv0:?}, not rampart"));
    }
    let sub = info.argv.iter().skip(1).find(|a| !a.starts_with('-'));
    if sub.map(String::as_str) != Some("serve") {
        return Err(format!("not a `rampart serve` process: {:?}", info.argv));
    }
    if let Ok(Some(st)) = read_state(home)
        && st.pid == pid
        && !st.executable.is_empty()
    {
        let recorded = canonical(Path::new(&st.executable));
        match info.exe {
            Some(exe) if canonical(&exe) == recorded => {}
            Some(exe) => {
                return Err(format!(
                    "executable {} does not match {} recorded in serve.state",
                    exe.display(),
                    st.executable
                ));
            }
            None => {
                return Err(format!(
                    "cannot read the executable of pid {pid} to compare with serve.state"
                ));
            }
        }
    }
    Ok(())
}

fn canonical(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

/// Parent side of `serve --background`: starts `exe args...` (the serve arguments without
/// `--background`/`-b`) in a new session with stdin from /dev/null and stdout/stderr appended to
/// `~/.rampart/serve.log`, records its pid in `~/.rampart/serve.pid`, and waits up to 5 s for
/// it to call [`signal_ready`]. Refuses when `serve.pid` names a live `rampart serve`; a stale
/// PID file is replaced. On timeout the child is terminated and the error carries the end of
/// what it logged. Returns the child pid; the child is reaped by a detached thread.
pub fn spawn_background(home: &Path, exe: &Path, args: &[OsString]) -> Result<u32, ProcError> {
    let dir = rampart_dir(home);
    owner_file::ensure_private_dir(&dir)?;
    let _lock = lock_pid_file(home)?;
    let pid_file = pid_path(home);
    if let Ok(Some(pid)) = read_pid_file(&pid_file)
        && authenticate(home, pid).is_ok()
    {
        return Err(ProcError::AlreadyRunning { pid });
    }
    // Anything else there (stale pid, garbage) is replaced by the atomic write below.

    let log = log_path(home);
    let log_file = owner_file::open_append(&log)?;
    let log_start = log_file
        .metadata()
        .map_err(|e| OwnerFileError::io("stat", &log, e))?
        .len();
    let log_err = log_file
        .try_clone()
        .map_err(|e| OwnerFileError::io("dup", &log, e))?;

    let dir_abs =
        std::fs::canonicalize(&dir).map_err(|e| OwnerFileError::io("resolve", &dir, e))?;
    let ready = dir_abs.join(format!("{READY_PREFIX}{}", ulid::Ulid::generate()));
    drop(owner_file::create_exclusive(&ready)?);

    let mut cmd = Command::new(exe);
    cmd.args(args)
        .env(READY_ENV, &ready)
        .stdin(Stdio::null())
        .stdout(Stdio::from(log_file))
        .stderr(Stdio::from(log_err));
    // SAFETY: setsid is async-signal-safe and touches no memory of the parent.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
            nix::unistd::setsid()
                .map(drop)
                .map_err(std::io::Error::from)
        });
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(source) => {
            let _ = owner_file::remove_if_exists(&ready);
            return Err(ProcError::Spawn {
                exe: exe.to_path_buf(),
                source,
            });
        }
    };
    let pid = child.id();

    if let Err(e) = owner_file::write_atomic(&pid_file, format!("{pid}\n").as_bytes()) {
        terminate(&mut child);
        let _ = owner_file::remove_if_exists(&ready);
        return Err(e.into());
    }
    let outcome = wait_ready(&mut child, &ready);
    let _ = owner_file::remove_if_exists(&ready);
    let err = match outcome {
        Readiness::Ready => {
            std::thread::spawn(move || {
                let _ = child.wait();
            });
            return Ok(pid);
        }
        Readiness::Exited(status) => ProcError::ChildExited {
            pid,
            status,
            log: log.clone(),
            tail: log_tail(&log, log_start),
        },
        Readiness::TimedOut => {
            terminate(&mut child);
            ProcError::NotReady {
                pid,
                log: log.clone(),
                tail: log_tail(&log, log_start),
            }
        }
    };
    remove_pid_file_if(home, pid);
    Err(err)
}

/// How the wait for a background child ended.
enum Readiness {
    Ready,
    Exited(ExitStatus),
    TimedOut,
}

fn wait_ready(child: &mut Child, ready: &Path) -> Readiness {
    let pid = child.id().to_string();
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if let Ok(Some(bytes)) = owner_file::read_bounded(ready, PID_FILE_MAX)
            && std::str::from_utf8(&bytes).map(str::trim) == Ok(pid.as_str())
        {
            return Readiness::Ready;
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Readiness::Exited(status);
        }
        if Instant::now() >= deadline {
            return Readiness::TimedOut;
        }
        std::thread::sleep(POLL);
    }
}

/// SIGTERM to the child's process group, one second of grace, then SIGKILL; reaps it.
fn terminate(child: &mut Child) {
    let Ok(raw) = i32::try_from(child.id()) else {
        return;
    };
    let pid = Pid::from_raw(raw);
    if killpg(pid, Signal::SIGTERM).is_err() {
        let _ = kill(pid, Signal::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(1);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(POLL);
    }
    if killpg(pid, Signal::SIGKILL).is_err() {
        let _ = kill(pid, Signal::SIGKILL);
    }
    let _ = child.wait();
}

/// The last lines the child appended to the log (from `start`), with control characters other
/// than newline and tab replaced so a hostile log cannot drive the terminal.
fn log_tail(log: &Path, start: u64) -> String {
    let Ok(mut f) = File::open(log) else {
        return String::from("(log unreadable)");
    };
    let end = f.metadata().map(|m| m.len()).unwrap_or(start);
    let from = end.saturating_sub(TAIL_BYTES).max(start).min(end);
    let mut buf = Vec::new();
    if f.seek(SeekFrom::Start(from)).is_err() || f.take(end - from).read_to_end(&mut buf).is_err() {
        return String::from("(log unreadable)");
    }
    let text: String = String::from_utf8_lossy(&buf)
        .chars()
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                '?'
            } else {
                c
            }
        })
        .collect();
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(TAIL_LINES)..].join("\n");
    if tail.trim().is_empty() {
        String::from("(nothing logged)")
    } else {
        tail
    }
}

/// Child side of `serve --background`, called once serve is listening: when
/// `RAMPART_BACKGROUND_READY_FILE` is set, checks it names an existing `.serve-ready-*` file
/// directly inside `~/.rampart` and writes our pid into it. Without the variable it does nothing.
pub fn signal_ready(home: &Path) -> Result<(), ProcError> {
    match std::env::var_os(READY_ENV) {
        Some(raw) => write_ready(home, Path::new(&raw)),
        None => Ok(()),
    }
}

fn write_ready(home: &Path, path: &Path) -> Result<(), ProcError> {
    let bad = |reason: &str| ProcError::BadReadyFile {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    if !path.is_absolute() {
        return Err(bad("not an absolute path"));
    }
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| bad("no file name"))?;
    if name.len() <= READY_PREFIX.len() || !name.starts_with(READY_PREFIX) {
        return Err(bad("not named .serve-ready-*"));
    }
    let parent = path.parent().ok_or_else(|| bad("no parent directory"))?;
    let same = match (
        std::fs::canonicalize(parent),
        std::fs::canonicalize(rampart_dir(home)),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if !same {
        return Err(bad("not inside ~/.rampart"));
    }
    let mut f = owner_file::open_existing_for_write(path)?;
    f.write_all(std::process::id().to_string().as_bytes())
        .map_err(|e| OwnerFileError::io("write", path, e))?;
    Ok(())
}

/// `serve stop`: authenticates the process named by `~/.rampart/serve.pid` as a running
/// `rampart serve`, sends it SIGTERM, waits up to 5 s for it to exit and removes the PID file
/// (and `serve.state` if it names that pid). A PID file naming anything else is removed and
/// refused. Returns the stopped pid.
pub fn stop(home: &Path) -> Result<u32, ProcError> {
    let pid_file = pid_path(home);
    if !rampart_dir(home).is_dir() {
        return Err(ProcError::NoPidFile(pid_file));
    }
    let _lock = lock_pid_file(home)?;
    let pid = match read_pid_file(&pid_file) {
        Ok(Some(pid)) => pid,
        Ok(None) => return Err(ProcError::NoPidFile(pid_file)),
        Err(reason) => {
            let _ = owner_file::remove_if_exists(&pid_file);
            return Err(ProcError::BadPidFile {
                path: pid_file,
                reason,
            });
        }
    };
    // Pin the process before checking who it is, so a recycled pid cannot be signalled.
    let handle = ProcHandle::open(pid);
    if let Err(reason) = authenticate(home, pid) {
        let _ = owner_file::remove_if_exists(&pid_file);
        return Err(ProcError::Stale { pid, reason });
    }
    match handle.terminate() {
        Ok(()) => {}
        Err(nix::errno::Errno::ESRCH) => {
            let _ = owner_file::remove_if_exists(&pid_file);
            return Err(ProcError::Stale {
                pid,
                reason: "it exited before it could be signalled".to_string(),
            });
        }
        Err(source) => return Err(ProcError::Signal { pid, source }),
    }
    let deadline = Instant::now() + STOP_TIMEOUT;
    while !handle.exited() {
        if Instant::now() >= deadline {
            return Err(ProcError::StillRunning { pid });
        }
        std::thread::sleep(POLL);
    }
    let _ = owner_file::remove_if_exists(&pid_file);
    remove_state_of_exited(home, pid);
    Ok(pid)
}

fn remove_state_of_exited(home: &Path, pid: u32) {
    if let Ok(Some(st)) = read_state(home)
        && st.pid == pid
    {
        let _ = owner_file::remove_if_exists(&state_path(home));
    }
}

/// A process pinned by a pidfd where the kernel has them, else by its pid.
struct ProcHandle {
    pid: u32,
    #[cfg(target_os = "linux")]
    fd: Option<std::os::fd::OwnedFd>,
}

impl ProcHandle {
    fn open(pid: u32) -> ProcHandle {
        ProcHandle {
            pid,
            #[cfg(target_os = "linux")]
            fd: pidfd::open(pid),
        }
    }

    fn terminate(&self) -> Result<(), nix::errno::Errno> {
        #[cfg(target_os = "linux")]
        if let Some(fd) = &self.fd {
            return pidfd::send_sigterm(fd);
        }
        let raw = i32::try_from(self.pid).map_err(|_| nix::errno::Errno::ESRCH)?;
        kill(Pid::from_raw(raw), Signal::SIGTERM)
    }

    fn exited(&self) -> bool {
        #[cfg(target_os = "linux")]
        if let Some(fd) = &self.fd {
            return pidfd::exited(fd);
        }
        !proc_identity::is_alive(self.pid, Source::detect())
    }
}

#[cfg(target_os = "linux")]
mod pidfd {
    //! Thin wrappers over the pidfd system calls (Linux 5.3+); callers fall back to plain pids.
    use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};

    use nix::errno::Errno;
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

    pub fn open(pid: u32) -> Option<OwnedFd> {
        let pid = libc::pid_t::try_from(pid).ok()?;
        // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        let fd = i32::try_from(fd).ok().filter(|fd| *fd >= 0)?;
        // SAFETY: the kernel just returned this descriptor to us; nothing else owns it.
        Some(unsafe { OwnedFd::from_raw_fd(fd) })
    }

    pub fn send_sigterm(fd: &OwnedFd) -> Result<(), Errno> {
        // SAFETY: valid pidfd, a signal number, a null siginfo (allowed) and zero flags.
        let r = unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                fd.as_raw_fd(),
                libc::SIGTERM,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            )
        };
        if r == 0 { Ok(()) } else { Err(Errno::last()) }
    }

    pub fn exited(fd: &OwnedFd) -> bool {
        let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
        matches!(poll(&mut fds, PollTimeout::ZERO), Ok(n) if n > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid_file_parsing() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("serve.pid");
        assert_eq!(read_pid_file(&p), Ok(None));
        for (text, ok) in [
            ("123\n", Some(123)),
            ("  42  ", Some(42)),
            ("0\n", None),
            ("-5\n", None),
            ("12a\n", None),
            ("", None),
            ("4294967295", None),
            ("99999999999999999999999999999", None),
        ] {
            std::fs::write(&p, text).unwrap();
            let got = read_pid_file(&p);
            match ok {
                Some(pid) => assert_eq!(got, Ok(Some(pid)), "{text:?}"),
                None => assert!(got.is_err(), "{text:?} -> {got:?}"),
            }
        }
        std::fs::write(&p, "1".repeat(33)).unwrap();
        assert!(read_pid_file(&p).is_err());
    }

    #[test]
    fn tail_strips_control_characters_and_starts_at_offset() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("log");
        std::fs::write(&p, "old run\nline \x1b[31mred\nlast\n").unwrap();
        let t = log_tail(&p, 8);
        assert_eq!(t, "line ?[31mred\nlast");
        assert_eq!(log_tail(&p, 100), "(nothing logged)");
    }

    #[test]
    fn ready_file_must_be_an_existing_serve_ready_file_inside_rampart_dir() {
        let home = tempfile::tempdir().unwrap();
        let dir = rampart_dir(home.path());
        std::fs::create_dir(&dir).unwrap();
        let good = dir.join(".serve-ready-abc");
        std::fs::write(&good, "").unwrap();
        write_ready(home.path(), &good).unwrap();
        assert_eq!(
            std::fs::read_to_string(&good).unwrap(),
            std::process::id().to_string()
        );

        let outside = home.path().join(".serve-ready-abc");
        std::fs::write(&outside, "").unwrap();
        let misnamed = dir.join("serve-ready-abc");
        std::fs::write(&misnamed, "").unwrap();
        let bare = dir.join(".serve-ready-");
        std::fs::write(&bare, "").unwrap();
        let missing = dir.join(".serve-ready-missing");
        let link = dir.join(".serve-ready-link");
        std::os::unix::fs::symlink(&outside, &link).unwrap();
        let dotdot = dir.join("sub/../.serve-ready-abc");
        for p in [&outside, &misnamed, &bare, &missing, &link] {
            assert!(write_ready(home.path(), p).is_err(), "{}", p.display());
        }
        assert!(write_ready(home.path(), Path::new(".rampart/.serve-ready-abc")).is_err());
        assert!(write_ready(home.path(), &dotdot).is_err());
        // Nothing was written through the refused paths.
        assert_eq!(std::fs::read_to_string(&outside).unwrap(), "");
    }
}
