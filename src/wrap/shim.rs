//! The shim: the `rampart` binary started as `rampart-shell` (the agent's `$SHELL`). It works
//! out what the shell is about to run, asks the run's server, and then either replaces itself
//! with the real shell — same arguments, `argv[0]` naming the real shell so messages read as
//! they would without Rampart — or refuses with exit 126.
//!
//! * `-c STRING` (in any option cluster): the command string is judged; with positional
//!   parameters after `$0`, the whole rendered invocation is judged instead, so every word is seen.
//! * `SCRIPT [ARGS…]`: the invocation `shell SCRIPT ARGS…` is judged (not the script's contents).
//! * commands from standard input (interactive, `-s`, piped): the invocation is judged once;
//!   what is typed or piped into the shell afterwards is not (a note says so on a terminal).
//! * `--version` / `--help`: run without asking (they run nothing).

use std::ffi::{OsStr, OsString};
use std::io::IsTerminal;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::Path;

use super::ask::{self, Answer, AskConfig};
use super::invocation::{self, Invocation, Parsed};
use super::shell::{REAL_SHELL_ENV, resolve_real_shell};
use crate::cli::api_client::printable;

/// Exit code of a refused command (what a shell uses for "cannot execute").
pub const BLOCKED: i32 = 126;
/// Longest command excerpt shown in a refusal, in characters.
const SHOWN: usize = 300;

/// What to judge for an invocation; `None`: run without asking.
pub fn subject(parsed: &Parsed, argv: &[OsString], shell: &OsStr) -> Option<String> {
    let rest = || {
        let mut words: Vec<&OsStr> = vec![shell];
        words.extend(argv.iter().skip(1).map(OsString::as_os_str));
        invocation::render(&words)
    };
    match &parsed.invocation {
        Invocation::Command { command, args, .. } if args.is_empty() => {
            Some(command.to_string_lossy().into_owned())
        }
        Invocation::Command { .. }
        | Invocation::Script { .. }
        | Invocation::Stdin { .. }
        | Invocation::Invalid => Some(rest()),
        Invocation::Info => None,
    }
}

/// Runs the shim; returns only when the command is refused or the real shell cannot start.
pub fn main() -> i32 {
    let argv: Vec<OsString> = std::env::args_os().collect();
    let me = std::env::current_exe().ok();
    let real = match resolve_real_shell(
        &[std::env::var_os(REAL_SHELL_ENV), std::env::var_os("SHELL")],
        std::env::var_os("PATH").as_deref(),
        me.as_deref(),
    ) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("rampart: {e}");
            return 127;
        }
    };
    let parsed = invocation::parse(argv.get(1..).unwrap_or(&[]));
    let shell_name = real.file_name().unwrap_or(real.as_os_str());
    if let Some(command) = subject(&parsed, &argv, shell_name) {
        let cfg = AskConfig::from_env();
        let cwd = std::env::current_dir().ok();
        let workdir = cwd.as_deref().map(|d| d.to_string_lossy().into_owned());
        match ask::ask(&cfg, &command, workdir.as_deref()) {
            Answer::Allowed => {}
            Answer::Denied(why) => {
                eprintln!("rampart: blocked: {}", excerpt(&command));
                eprintln!("rampart: reason: {why}");
                return BLOCKED;
            }
            Answer::Unreachable(why) if cfg.fail_closed => {
                eprintln!(
                    "rampart: blocked: policy server unreachable ({why}); fail-closed mode refuses unchecked commands"
                );
                return BLOCKED;
            }
            Answer::Unreachable(why) => eprintln!(
                "rampart: warning: policy server unreachable ({why}); running the command unchecked"
            ),
        }
        if let Invocation::Stdin { interactive } = parsed.invocation
            && (interactive || std::io::stdin().is_terminal())
        {
            eprintln!(
                "rampart: note: commands typed into this interactive shell are not checked one by one"
            );
        }
    }
    exec(&real, &argv, first_is_login(&argv))
}

fn first_is_login(argv: &[OsString]) -> bool {
    argv.first().is_some_and(|a| a.as_bytes().starts_with(b"-"))
}

fn excerpt(command: &str) -> String {
    let shown = printable(command);
    if shown.chars().count() > SHOWN {
        shown.chars().take(SHOWN).collect::<String>() + "…"
    } else {
        shown
    }
}

/// Replaces this process with `real`, arguments unchanged; `argv[0]` names the real shell
/// (`-name` when the caller asked for a login shell that way).
fn exec(real: &Path, argv: &[OsString], login: bool) -> i32 {
    let arg0: OsString = if login {
        let mut s = OsString::from("-");
        s.push(real.file_name().unwrap_or(real.as_os_str()));
        s
    } else {
        real.as_os_str().to_owned()
    };
    let err = std::process::Command::new(real)
        .arg0(arg0)
        .args(argv.iter().skip(1))
        .exec();
    eprintln!("rampart: cannot run {}: {err}", real.display());
    if err.kind() == std::io::ErrorKind::NotFound {
        127
    } else {
        126
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subj(args: &[&str]) -> Option<String> {
        let argv: Vec<OsString> = std::iter::once("rampart-shell")
            .chain(args.iter().copied())
            .map(OsString::from)
            .collect();
        let parsed = invocation::parse(&argv[1..]);
        subject(&parsed, &argv, OsStr::new("bash"))
    }

    #[test]
    fn what_is_judged() {
        assert_eq!(subj(&["-lc", "echo 'a b'"]).as_deref(), Some("echo 'a b'"));
        assert_eq!(subj(&["-c", "ls", "name"]).as_deref(), Some("ls"));
        assert_eq!(
            subj(&["-c", "rm -rf \"$1\"", "_", "/"]).as_deref(),
            Some("bash -c 'rm -rf \"$1\"' _ /")
        );
        assert_eq!(
            subj(&["deploy.sh", "prod"]).as_deref(),
            Some("bash deploy.sh prod")
        );
        assert_eq!(subj(&[]).as_deref(), Some("bash"));
        assert_eq!(subj(&["-i"]).as_deref(), Some("bash -i"));
        assert_eq!(subj(&["-c"]).as_deref(), Some("bash -c"));
        assert_eq!(subj(&["--version"]), None);
    }
}
