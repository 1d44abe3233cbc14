//! Shell analysis: parse a command line with a bash grammar and list every simple command it
//! would execute, including commands inside substitutions, subshells, `bash -c` strings, `eval`,
//! here-documents fed to shells, and commands started by launchers (`sudo`, `env`, `xargs`, ...).
//!
//! The engine calls [`analyze`] once per evaluation and shares the result with every rule.

use std::ops::Range;

mod launchers;
mod parser;
#[cfg(test)]
mod tests;

/// Result of analysing one command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShellAnalysis {
    /// Every simple command the line would execute, in source order (a launcher before the
    /// commands it launches, a command before the substitutions in its words). Commands whose
    /// `argv` is empty carry only assignments or redirections (`A=$(id)`, `> file`).
    pub commands: Vec<ExecutedCommand>,
    /// The line is valid bash (no syntax error anywhere, including nested shell strings).
    pub parsed: bool,
    /// A description of the first syntax error, when `parsed` is false.
    pub error: Option<String>,
    /// A depth or size limit stopped the analysis early; treat the result as incomplete.
    pub truncated: bool,
}

/// One simple command that would run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecutedCommand {
    /// Arguments after quote removal. A word containing expansions keeps their source text
    /// (`$HOME`, `${x}`, `$(id)`, `*.rs`) and is marked in `dynamic`.
    pub argv: Vec<String>,
    /// `dynamic[i]` is true when `argv[i]` contains an unquoted or double-quoted expansion or an
    /// unquoted glob, so its runtime value is unknown.
    pub dynamic: Vec<bool>,
    /// Leading `NAME=value` assignments (quote-removed value).
    pub assignments: Vec<Assignment>,
    /// Redirections, in source order.
    pub redirects: Vec<Redirect>,
    /// How this command came to run.
    pub origin: Origin,
    /// Index in [`ShellAnalysis::commands`] of the command that launched this one.
    pub parent: Option<usize>,
    /// Whether unwrapping the launcher was certain (false when its options could not be parsed
    /// and the inner command is a best guess; restrictive rules still see it).
    pub certain: bool,
    /// Nesting depth: 0 for top-level commands, +1 per substitution, shell string or launcher.
    pub depth: u8,
    /// Byte range of the command in the analysed input (top-level commands only).
    pub span: Option<Range<usize>>,
}

/// A `NAME=value` assignment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Assignment {
    /// Variable name.
    pub name: String,
    /// Value after quote removal (expansions kept as source text).
    pub value: String,
}

/// A redirection such as `2>&1`, `> out.txt`, `<<EOF`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Redirect {
    /// Explicit file-descriptor number, if written (`2` in `2>&1`).
    pub fd: Option<u32>,
    /// Operator as written: `>`, `>>`, `<`, `<>`, `>|`, `&>`, `&>>`, `>&`, `<&`, `<<`, `<<-`, `<<<`.
    pub op: String,
    /// Target word after quote removal (file name, fd, here-doc delimiter, here-string text).
    pub target: String,
    /// Body of a here-document (`<<`/`<<-`); empty otherwise.
    pub heredoc: String,
}

/// How a command came to be executed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Origin {
    /// Written directly in the analysed text (possibly in a pipeline, list, subshell, group or
    /// compound command).
    #[default]
    TopLevel,
    /// Inside `$(...)` or backticks.
    CommandSubstitution,
    /// Inside `<(...)` or `>(...)`.
    ProcessSubstitution,
    /// The string of `bash -c`, `sh -c` and other shells' `-c`. Strings run by launchers
    /// (`su -c`, `ssh HOST CMD`, `script -c`, `watch`, `flock -c`) are reported as
    /// [`Origin::Launched`] with the launcher's kind instead.
    ShellString,
    /// The arguments of `eval`.
    Eval,
    /// A here-document or here-string fed to a shell (`bash <<EOF`, `sh <<< '...'`).
    ShellInput,
    /// Started by a launcher command (see [`Launcher`]).
    Launched(Launcher),
}

/// Families of commands that run another command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Launcher {
    /// Runs the command in the same security context: `env`, `nice`, `nohup`, `timeout`,
    /// `stdbuf`, `setsid`, `command`, `exec`, `time`, `ionice`, `chrt`, `taskset`, `unbuffer`.
    Transparent,
    /// Runs it as another user: `sudo`, `doas`, `su -c`, `pkexec`, `runuser`, `runas`.
    Privilege,
    /// Runs it indirectly, possibly many times: `xargs`, `find -exec/-execdir/-ok`, `parallel`,
    /// `watch`, `flock`, `strace`, `ltrace`, `script -c`, `trap 'code' SIGNAL`.
    Indirect,
    /// Runs it elsewhere: `ssh HOST CMD`, `docker exec`, `kubectl exec`, `chroot DIR`.
    Remote,
    /// A multi-call binary applet: `busybox rm`, `toybox rm`.
    Multicall,
}

/// Inputs longer than this are cut (and the analysis marked `truncated`).
pub const MAX_INPUT: usize = 65_536;

/// Analyses `src` as a bash command line.
///
/// Never panics; nesting, input size and the number of reported commands are bounded (see
/// [`ShellAnalysis::truncated`]).
pub fn analyze(src: &str) -> ShellAnalysis {
    let mut ctx = parser::Ctx::default();
    let mut src = src;
    if src.len() > MAX_INPUT {
        let mut cut = MAX_INPUT;
        while !src.is_char_boundary(cut) {
            cut -= 1;
        }
        src = &src[..cut];
        ctx.truncated = true;
    }
    parser::Parser::new(src.as_bytes(), &mut ctx, Origin::TopLevel, 0, None, true).parse_program();
    ShellAnalysis {
        commands: ctx.out,
        parsed: ctx.error.is_none(),
        error: ctx.error,
        truncated: ctx.truncated,
    }
}
