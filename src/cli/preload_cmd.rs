//! `rampart preload [flags] -- CMD ARGS…`: runs an agent with the `LD_PRELOAD` library
//! (`preload/`, `librampart_preload.so`) against a gate and API started in this process, so
//! every program the agent's dynamically linked processes execute is judged first.

use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};

use crate::embedded::{AgentCommand, InProcessServer, ServerOptions, run_agent, stdin_is_terminal};
use crate::gate::Mode;

/// File name of the library.
pub const LIB_NAME: &str = "librampart_preload.so";
/// Environment variable naming the library explicitly (also `--lib`).
pub const LIB_ENV: &str = "RAMPART_PRELOAD_LIB";

/// Flags of `rampart preload`.
#[derive(clap::Args, Debug)]
pub struct PreloadArgs {
    /// enforce | monitor | disabled
    #[arg(long, default_value = "enforce")]
    pub mode: String,
    /// Policy source.
    #[command(flatten)]
    pub policy: crate::cli::policy_flags::PolicyFlags,
    /// Audit directory (default: ~/.rampart/audit).
    #[arg(long)]
    pub audit_dir: Option<PathBuf>,
    /// Refuse programs when the policy server cannot be asked (default: run them with a warning).
    #[arg(long)]
    pub fail_closed: bool,
    /// Agent name in audit records.
    #[arg(long, default_value = "preload")]
    pub agent: String,
    /// Session name in audit records (default: `preload-<pid>`).
    #[arg(long)]
    pub session: Option<String>,
    /// One `[rampart]` line per check on stderr (byte counts and verdicts, never commands).
    #[arg(long)]
    pub debug: bool,
    /// The library (default: $RAMPART_PRELOAD_LIB, else librampart_preload.so next to this
    /// binary, in ~/.rampart/lib or in /usr/local/lib).
    #[arg(long)]
    pub lib: Option<PathBuf>,
    /// The agent command and its arguments (after `--`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    pub command: Vec<OsString>,
}

/// Makes a loaded preload library a pass-through in this process (a no-op when none is
/// loaded). Servers call it so that, started under the library, they never ask themselves.
pub fn mark_preload_inert() {
    // SAFETY: looking up a symbol by a valid C string; when present it is the library's
    // `extern "C" fn()` taking no arguments.
    unsafe {
        let f = libc::dlsym(libc::RTLD_DEFAULT, c"rampart_preload_inert".as_ptr());
        if !f.is_null() {
            let f: extern "C" fn() = std::mem::transmute(f);
            f();
        }
    }
}

/// Where the library is looked for, in order.
pub fn library_candidates(explicit: Option<&Path>) -> Vec<PathBuf> {
    if let Some(p) = explicit {
        return vec![p.to_path_buf()];
    }
    if let Some(p) = std::env::var_os(LIB_ENV).filter(|p| !p.is_empty()) {
        return vec![PathBuf::from(p)];
    }
    let mut v = Vec::new();
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.canonicalize().ok())
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        v.push(dir.join(LIB_NAME));
    }
    if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        v.push(Path::new(&home).join(".rampart/lib").join(LIB_NAME));
    }
    v.push(Path::new("/usr/local/lib").join(LIB_NAME));
    v
}

/// The library's absolute path, checked to be usable in `LD_PRELOAD`.
pub fn find_library(explicit: Option<&Path>) -> anyhow::Result<PathBuf> {
    let candidates = library_candidates(explicit);
    let found = candidates.iter().find(|p| p.is_file()).ok_or_else(|| {
        let list: Vec<String> = candidates
            .iter()
            .map(|p| format!("  {}", p.display()))
            .collect();
        anyhow!(
            "{LIB_NAME} not found; looked at:\n{}\nbuild it with `cargo build` (it lands next to \
             the rampart binary) or name it with --lib / {LIB_ENV}",
            list.join("\n")
        )
    })?;
    let abs = found
        .canonicalize()
        .with_context(|| format!("resolving {}", found.display()))?;
    if abs
        .as_os_str()
        .as_bytes()
        .iter()
        .any(|b| matches!(b, b':' | b' ' | b'\t' | b'\n'))
    {
        bail!(
            "{} cannot go into LD_PRELOAD (its path holds a colon or whitespace)",
            abs.display()
        );
    }
    Ok(abs)
}

/// How a program file is linked.
#[derive(Debug, PartialEq, Eq)]
pub enum Linkage {
    /// An ELF with an interpreter (`PT_INTERP`): the library loads into it.
    Dynamic,
    /// An ELF without one (static, static-pie): outside the library's reach.
    Static,
    /// A `#!` script; the interpreter path.
    Script(PathBuf),
    /// Anything else (unknown format).
    Unknown,
}

/// Reads enough of `path` to tell how it is linked.
pub fn linkage(path: &Path) -> std::io::Result<Linkage> {
    let mut head = Vec::with_capacity(4096);
    std::fs::File::open(path)?
        .take(256 * 1024)
        .read_to_end(&mut head)?;
    if let Some(rest) = head.strip_prefix(b"#!") {
        let line = rest.split(|b| *b == b'\n').next().unwrap_or(&[]);
        let interp = line
            .split(|b| *b == b' ' || *b == b'\t')
            .find(|w| !w.is_empty())
            .unwrap_or(&[]);
        return Ok(Linkage::Script(PathBuf::from(OsStr::from_bytes(interp))));
    }
    Ok(elf_linkage(&head))
}

fn elf_linkage(b: &[u8]) -> Linkage {
    if !b.starts_with(b"\x7fELF") {
        return Linkage::Unknown;
    }
    let (Some(&class), Some(&data)) = (b.get(4), b.get(5)) else {
        return Linkage::Unknown;
    };
    let le = data == 1;
    let num = |off: usize, len: usize| -> Option<u64> {
        let s = b.get(off..off.checked_add(len)?)?;
        let mut v = 0u64;
        for i in 0..len {
            let byte = if le { s[len - 1 - i] } else { s[i] };
            v = (v << 8) | u64::from(byte);
        }
        Some(v)
    };
    let (phoff, phentsize, phnum) = match class {
        1 => (num(0x1c, 4), num(0x2a, 2), num(0x2c, 2)),
        2 => (num(0x20, 8), num(0x36, 2), num(0x38, 2)),
        _ => return Linkage::Unknown,
    };
    let (Some(phoff), Some(phentsize), Some(phnum)) = (phoff, phentsize, phnum) else {
        return Linkage::Unknown;
    };
    for i in 0..phnum {
        let Some(off) = i
            .checked_mul(phentsize)
            .and_then(|o| o.checked_add(phoff))
            .and_then(|o| usize::try_from(o).ok())
        else {
            return Linkage::Unknown;
        };
        match num(off, 4) {
            Some(3) => return Linkage::Dynamic, // PT_INTERP
            Some(_) => {}
            None => return Linkage::Unknown,
        }
    }
    Linkage::Static
}

/// `program` looked up in `PATH` as the agent runner will.
fn resolve_program(program: &OsStr) -> Option<PathBuf> {
    let p = Path::new(program);
    if p.components().count() > 1 {
        return Some(p.to_path_buf());
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(p))
        .find(|c| c.is_file())
}

/// The warning for an agent the library cannot see into, if any.
pub fn static_warning(program: &OsStr) -> Option<String> {
    let path = resolve_program(program)?;
    let (target, what) = match linkage(&path).ok()? {
        Linkage::Static => (path.clone(), "is statically linked"),
        Linkage::Script(interp) => match linkage(&interp).ok()? {
            Linkage::Static => (interp, "(the script's interpreter) is statically linked"),
            _ => return None,
        },
        _ => return None,
    };
    Some(format!(
        "rampart: warning: {} {what}: LD_PRELOAD does not load into it, so the programs it \
         executes itself are outside this boundary (programs it starts through a dynamically \
         linked shell are still checked)",
        target.display()
    ))
}

/// `LD_PRELOAD` for the child: the library first, then whatever was already there.
fn preload_value(lib: &Path, existing: Option<OsString>) -> OsString {
    let mut v = lib.as_os_str().to_os_string();
    if let Some(e) = existing.filter(|e| !e.is_empty())
        && !e
            .as_bytes()
            .split(|b| *b == b':' || *b == b' ')
            .any(|w| w == lib.as_os_str().as_bytes())
    {
        v.push(":");
        v.push(e);
    }
    v
}

/// Runs `rampart preload`; returns the agent's exit code.
pub fn run(a: PreloadArgs) -> anyhow::Result<i32> {
    let mode: Mode = a.mode.parse().map_err(|e: String| anyhow!(e))?;
    let lib = find_library(a.lib.as_deref())?;
    let cmd_program = a.command.first().cloned().unwrap_or_default();
    if let Some(w) = static_warning(&cmd_program) {
        eprintln!("{w}");
    }
    // Started under an outer preload library, this process must not ask anyone about its own
    // (server-side) work.
    mark_preload_inert();
    let server = InProcessServer::start(ServerOptions {
        mode,
        config: a.policy.config.clone(),
        config_dir: a.policy.config_dir.clone(),
        audit_dir: a.audit_dir.clone(),
        ..ServerOptions::default()
    })
    .context("starting the in-process policy server")?;
    let mut cmd = AgentCommand::new(a.command.clone());
    cmd.env.extend(server.env());
    let set = |cmd: &mut AgentCommand, k: &str, v: &str| cmd.env.push((k.into(), v.into()));
    cmd.env.push((
        "LD_PRELOAD".into(),
        preload_value(&lib, std::env::var_os("LD_PRELOAD")),
    ));
    // The server's mode decides; the library always reports at the execution boundary.
    set(&mut cmd, "RAMPART_MODE", "enforce");
    set(
        &mut cmd,
        "RAMPART_FAIL_OPEN",
        if a.fail_closed { "0" } else { "1" },
    );
    set(
        &mut cmd,
        "RAMPART_FAIL_CLOSED",
        if a.fail_closed { "1" } else { "0" },
    );
    set(&mut cmd, "RAMPART_AGENT", &a.agent);
    let session = a
        .session
        .clone()
        .unwrap_or_else(|| format!("preload-{}", std::process::id()));
    set(&mut cmd, "RAMPART_SESSION", &session);
    if a.debug {
        set(&mut cmd, "RAMPART_DEBUG", "1");
    } else {
        cmd.env_remove.push("RAMPART_DEBUG".into());
    }
    let code = match run_agent(&cmd, stdin_is_terminal()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("rampart: {e}");
            e.exit_code()
        }
    };
    eprintln!("{}", server.shutdown());
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preload_value_prepends_once() {
        let lib = Path::new("/x/librampart_preload.so");
        assert_eq!(preload_value(lib, None), "/x/librampart_preload.so");
        assert_eq!(
            preload_value(lib, Some("/y/other.so".into())),
            "/x/librampart_preload.so:/y/other.so"
        );
        assert_eq!(
            preload_value(lib, Some("/y/o.so /x/librampart_preload.so".into())),
            "/x/librampart_preload.so"
        );
    }

    #[test]
    fn elf_headers() {
        assert_eq!(elf_linkage(b"not elf"), Linkage::Unknown);
        assert_eq!(elf_linkage(b"\x7fELF\x02\x01"), Linkage::Unknown);
        // A 64-bit little-endian header with two program headers: LOAD, then INTERP or not.
        let build = |second: u32| {
            let mut b = vec![0u8; 64 + 2 * 56];
            b[..4].copy_from_slice(b"\x7fELF");
            b[4] = 2;
            b[5] = 1;
            b[0x20..0x28].copy_from_slice(&64u64.to_le_bytes());
            b[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
            b[0x38..0x3a].copy_from_slice(&2u16.to_le_bytes());
            b[64..68].copy_from_slice(&1u32.to_le_bytes());
            b[120..124].copy_from_slice(&second.to_le_bytes());
            b
        };
        assert_eq!(elf_linkage(&build(3)), Linkage::Dynamic);
        assert_eq!(elf_linkage(&build(1)), Linkage::Static);
        let mut truncated = build(3);
        truncated.truncate(100);
        assert_eq!(elf_linkage(&truncated), Linkage::Unknown);
    }

    #[test]
    fn real_binaries() {
        assert_eq!(linkage(Path::new("/bin/sh")).ok(), Some(Linkage::Dynamic));
        let exe = std::env::current_exe().expect("test exe");
        assert_eq!(linkage(&exe).ok(), Some(Linkage::Dynamic));
    }
}
