//! What process a pid names: liveness, command name, argv and executable, read from
//! `/proc/<pid>` where it exists and from `ps` otherwise.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use nix::errno::Errno;
use nix::sys::signal::kill;
use nix::unistd::Pid;

/// Identity of a running process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcInfo {
    /// Kernel command name (`/proc/<pid>/comm`, or `ps -o comm=`), basename only.
    pub comm: String,
    /// Argument vector, `argv[0]` first.
    pub argv: Vec<String>,
    /// Executable path when the system tells it (`/proc/<pid>/exe`, or an absolute `ps` comm).
    pub exe: Option<PathBuf>,
}

/// Where process facts come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `/proc/<pid>/{stat,comm,cmdline,exe}` (Linux).
    Proc,
    /// `ps -p PID -o ...` (macOS, BSDs).
    Ps,
}

impl Source {
    /// `Proc` when `/proc/self` exists, else `Ps`.
    pub fn detect() -> Source {
        if Path::new("/proc/self/stat").exists() {
            Source::Proc
        } else {
            Source::Ps
        }
    }
}

fn to_pid(pid: u32) -> Option<Pid> {
    i32::try_from(pid)
        .ok()
        .filter(|p| *p > 0)
        .map(Pid::from_raw)
}

/// True when `pid` names a process that exists and has not exited (zombies count as exited).
pub fn is_alive(pid: u32, source: Source) -> bool {
    let Some(p) = to_pid(pid) else {
        return false;
    };
    match kill(p, None) {
        Ok(()) | Err(Errno::EPERM) => {}
        Err(_) => return false,
    }
    match source {
        Source::Proc => match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            // The state letter follows the last ')' (the command name may contain one).
            Ok(stat) => stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.trim_start().chars().next())
                .is_some_and(|state| state != 'Z' && state != 'X'),
            Err(_) => false,
        },
        Source::Ps => match ps_field(pid, "stat") {
            Some(stat) => !stat.trim_start().starts_with('Z'),
            None => false,
        },
    }
}

/// Reads the identity of `pid`; the error says why it could not be read.
pub fn inspect(pid: u32, source: Source) -> Result<ProcInfo, String> {
    if to_pid(pid).is_none() {
        return Err(format!("{pid} is not a valid process id"));
    }
    match source {
        Source::Proc => inspect_proc(pid),
        Source::Ps => inspect_ps(pid),
    }
}

fn inspect_proc(pid: u32) -> Result<ProcInfo, String> {
    let base = PathBuf::from(format!("/proc/{pid}"));
    let comm = std::fs::read_to_string(base.join("comm"))
        .map_err(|e| format!("cannot read /proc/{pid}/comm: {e}"))?;
    let cmdline = std::fs::read(base.join("cmdline"))
        .map_err(|e| format!("cannot read /proc/{pid}/cmdline: {e}"))?;
    let exe = std::fs::read_link(base.join("exe")).ok().map(|p| {
        // A binary replaced on disk since start shows as "<path> (deleted)".
        let s = p.as_os_str().to_string_lossy();
        match s.strip_suffix(" (deleted)") {
            Some(stripped) => PathBuf::from(stripped),
            None => p,
        }
    });
    Ok(ProcInfo {
        comm: comm.trim_end_matches('\n').to_string(),
        argv: parse_cmdline(&cmdline),
        exe,
    })
}

/// Splits a NUL-separated `/proc/<pid>/cmdline` into arguments.
pub fn parse_cmdline(raw: &[u8]) -> Vec<String> {
    let raw = raw.strip_suffix(b"\0").unwrap_or(raw);
    if raw.is_empty() {
        return Vec::new();
    }
    raw.split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

fn ps_field(pid: u32, field: &str) -> Option<String> {
    let out = Command::new("ps")
        .arg("-p")
        .arg(pid.to_string())
        .arg("-o")
        .arg(format!("{field}="))
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (!text.is_empty()).then_some(text)
}

fn inspect_ps(pid: u32) -> Result<ProcInfo, String> {
    let comm = ps_field(pid, "comm").ok_or_else(|| format!("ps shows no process {pid}"))?;
    let args = ps_field(pid, "args").ok_or_else(|| format!("ps shows no arguments for {pid}"))?;
    Ok(from_ps(&comm, &args))
}

/// Builds a `ProcInfo` from `ps -o comm=` and `ps -o args=` output (args are split on
/// whitespace: `ps` does not preserve argument boundaries).
pub fn from_ps(comm: &str, args: &str) -> ProcInfo {
    let comm = comm.trim();
    let exe = Path::new(comm).is_absolute().then(|| PathBuf::from(comm));
    ProcInfo {
        comm: basename(comm).to_string(),
        argv: args.split_whitespace().map(str::to_string).collect(),
        exe,
    }
}

/// The last `/`-separated component of `s`.
pub fn basename(s: &str) -> &str {
    s.rsplit('/').next().unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmdline_split() {
        assert_eq!(
            parse_cmdline(b"/usr/bin/rampart\0serve\0--port\0\0"),
            vec!["/usr/bin/rampart", "serve", "--port", ""]
        );
        assert!(parse_cmdline(b"").is_empty());
    }

    #[test]
    fn ps_output() {
        let i = from_ps("/opt/bin/rampart\n", "/opt/bin/rampart serve --port 9090\n");
        assert_eq!(i.comm, "rampart");
        assert_eq!(i.argv, vec!["/opt/bin/rampart", "serve", "--port", "9090"]);
        assert_eq!(i.exe, Some(PathBuf::from("/opt/bin/rampart")));
        let j = from_ps("sleep", "sleep 30");
        assert_eq!(j.comm, "sleep");
        assert_eq!(j.exe, None);
    }

    #[test]
    fn self_is_alive_and_inspectable_both_ways() {
        let me = std::process::id();
        for source in [Source::detect(), Source::Ps] {
            if source == Source::Ps && Command::new("ps").arg("-V").output().is_err() {
                continue;
            }
            assert!(is_alive(me, source), "{source:?}");
            let info = inspect(me, source).unwrap();
            assert!(!info.argv.is_empty(), "{source:?}");
        }
        assert!(!is_alive(0, Source::detect()));
        assert!(!is_alive(u32::MAX, Source::detect()));
    }
}
