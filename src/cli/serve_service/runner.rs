//! Running service-manager commands (`systemctl`, `launchctl`, verifiers) behind a trait, so the
//! install and uninstall flows can be driven by a scripted runner in tests.

use std::ffi::OsString;
use std::io;
use std::process::{Command, Stdio};

/// One external command: program, arguments and extra environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceCommand {
    /// Program name, looked up in `PATH`.
    pub program: String,
    /// Arguments.
    pub args: Vec<OsString>,
    /// Environment variables set on top of the inherited environment.
    pub env: Vec<(String, OsString)>,
}

impl ServiceCommand {
    /// A command with no extra environment.
    pub fn new<I, S>(program: &str, args: I) -> ServiceCommand
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        ServiceCommand {
            program: program.to_string(),
            args: args.into_iter().map(Into::into).collect(),
            env: Vec::new(),
        }
    }

    /// The command line as a user would type it (arguments shown lossily, unquoted).
    pub fn display(&self) -> String {
        let mut s = self.program.clone();
        for a in &self.args {
            s.push(' ');
            s.push_str(&a.to_string_lossy());
        }
        s
    }
}

/// What a finished command reported.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandOutput {
    /// Exit status was zero.
    pub success: bool,
    /// Standard output, lossily decoded.
    pub stdout: String,
    /// Standard error, lossily decoded.
    pub stderr: String,
}

impl CommandOutput {
    /// stdout and stderr joined and trimmed, for messages.
    pub fn text(&self) -> String {
        let mut parts = Vec::new();
        for p in [self.stdout.trim(), self.stderr.trim()] {
            if !p.is_empty() {
                parts.push(p);
            }
        }
        parts.join("\n")
    }
}

/// Runs service-manager commands; `Err` only when the command could not be started at all
/// (`ErrorKind::NotFound` means the program is not installed).
pub trait CommandRunner {
    /// Runs `cmd` to completion with stdin from /dev/null and captured output.
    fn run(&mut self, cmd: &ServiceCommand) -> io::Result<CommandOutput>;
}

/// Runs commands for real.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemRunner;

impl CommandRunner for SystemRunner {
    fn run(&mut self, cmd: &ServiceCommand) -> io::Result<CommandOutput> {
        let out = Command::new(&cmd.program)
            .args(&cmd.args)
            .envs(cmd.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .output()?;
        Ok(CommandOutput {
            success: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }
}
