//! `rampart setup <host>`: installs (or with `--remove`, removes) the `rampart hook` entries
//! in an agent host's own settings files, editing them in place.
//!
//! Each host module turns the current files into a [`Plan`] (what to write or delete, and
//! what to say); [`apply`] then carries it out: a timestamped private backup of any file
//! holding content that is not Rampart's, atomic private writes, and a check that nothing
//! changed the file in between. Planning never writes, so `rampart setup` with no host can
//! report each host's state safely.
//!
//! MCP clients (Claude Desktop, and Cursor with `--mcp`) get their `mcpServers` entries put
//! behind `rampart mcp --` instead (`mcp_servers`).

mod antigravity;
mod claude_code;
pub mod cli;
mod cline;
mod codex;
pub mod command;
mod copilot;
mod cursor;
pub mod detect;
mod fsops;
mod gemini;
mod hooks_json;
pub mod json;
mod mcp_servers;

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::cli::owner_file::OwnerFileError;

pub use fsops::apply;

/// The agent hosts `rampart setup` knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Host {
    /// Anthropic's Claude Code.
    ClaudeCode,
    /// OpenAI's Codex (CLI, IDE extension, desktop).
    Codex,
    /// Cline (editor extension and CLI).
    Cline,
    /// Cursor's local agent.
    Cursor,
    /// Google's Gemini CLI (experimental).
    Gemini,
    /// GitHub Copilot CLI and the VS Code agent.
    Copilot,
    /// Google Antigravity (CLI and IDE).
    Antigravity,
    /// Anthropic's Claude Desktop (MCP servers only: it has no hooks).
    ClaudeDesktop,
}

impl Host {
    /// Every host, in the order they are listed to the user.
    pub const ALL: [Host; 8] = [
        Host::ClaudeCode,
        Host::Codex,
        Host::Cline,
        Host::Cursor,
        Host::Gemini,
        Host::Copilot,
        Host::Antigravity,
        Host::ClaudeDesktop,
    ];

    /// The command-line name, which is also the `hook --format` value for hook hosts.
    pub fn name(self) -> &'static str {
        match self {
            Host::ClaudeCode => "claude-code",
            Host::Codex => "codex",
            Host::Cline => "cline",
            Host::Cursor => "cursor",
            Host::Gemini => "gemini",
            Host::Copilot => "copilot",
            Host::Antigravity => "antigravity",
            Host::ClaudeDesktop => "claude-desktop",
        }
    }

    /// The product name shown to people.
    pub fn title(self) -> &'static str {
        match self {
            Host::ClaudeCode => "Claude Code",
            Host::Codex => "Codex",
            Host::Cline => "Cline",
            Host::Cursor => "Cursor",
            Host::Gemini => "Gemini CLI",
            Host::Copilot => "GitHub Copilot",
            Host::Antigravity => "Antigravity",
            Host::ClaudeDesktop => "Claude Desktop",
        }
    }

    /// Whether setup protects this host through its MCP servers rather than a hook.
    pub fn mcp_only(self) -> bool {
        self == Host::ClaudeDesktop
    }
}

/// Install or remove.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Add (or upgrade) Rampart's hook entries.
    Install,
    /// Take Rampart's hook entries out again.
    Remove,
}

/// Where things are: home, the hosts' environment overrides, PATH and the binary to run.
#[derive(Debug, Clone)]
pub struct Env {
    /// `$HOME`.
    pub home: PathBuf,
    /// `$CLAUDE_CONFIG_DIR`, if set and non-empty.
    pub claude_config_dir: Option<String>,
    /// `$CODEX_HOME`, if set and non-empty.
    pub codex_home: Option<String>,
    /// `$COPILOT_HOME`, if set and non-empty.
    pub copilot_home: Option<String>,
    /// `$XDG_CONFIG_HOME`, if set and non-empty.
    pub xdg_config_home: Option<String>,
    /// `$PATH`.
    pub path_var: Option<OsString>,
    /// The absolute path of the `rampart` binary the hook entries run.
    pub bin: PathBuf,
}

impl Env {
    /// Reads the environment of this process (HOME always from `$HOME`).
    pub fn from_process() -> Result<Env, SetupError> {
        let home = std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(PathBuf::from)
            .ok_or(SetupError::NoHome)?;
        let var = |name: &str| {
            std::env::var(name)
                .ok()
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let path_var = std::env::var_os("PATH");
        let exe = std::env::current_exe()
            .map_err(|e| SetupError::io("find the running executable", Path::new("."), e))?;
        let bin = command::resolve_binary(&exe, path_var.as_deref());
        Ok(Env {
            home,
            claude_config_dir: var("CLAUDE_CONFIG_DIR"),
            codex_home: var("CODEX_HOME"),
            copilot_home: var("COPILOT_HOME"),
            xdg_config_home: var("XDG_CONFIG_HOME"),
            path_var,
            bin,
        })
    }

    /// Expands a leading `~` or `~/` in an override against [`Env::home`].
    pub fn expand(&self, value: &str) -> PathBuf {
        if value == "~" {
            self.home.clone()
        } else if let Some(rest) = value.strip_prefix("~/") {
            self.home.join(rest)
        } else {
            PathBuf::from(value)
        }
    }

    /// The hook command for `host`: `'<bin>' hook --format <host>`.
    pub fn hook_command(&self, host: Host) -> String {
        command::hook_command(&self.bin, host.name())
    }
}

/// One file-system step of a plan.
#[derive(Debug, Clone)]
pub enum Change {
    /// Write `bytes` to `path` atomically with `mode`. `original` is what the plan read (None:
    /// the file did not exist); `backup` asks for a backup of it first.
    Write {
        /// The file.
        path: PathBuf,
        /// New content.
        bytes: Vec<u8>,
        /// Permission bits.
        mode: u32,
        /// The content the plan was made from.
        original: Option<Vec<u8>>,
        /// Whether to back the original up first.
        backup: bool,
    },
    /// Delete `path`, which must still hold `original`.
    Delete {
        /// The file.
        path: PathBuf,
        /// The content the plan was made from.
        original: Vec<u8>,
        /// Whether to back it up first.
        backup: bool,
    },
    /// Remove a directory if it is empty (otherwise leave it).
    RemoveDirIfEmpty(PathBuf),
    /// Replace a legacy hook directory holding one Rampart file with a new file at its path.
    ReplaceDir {
        /// The directory (and the new file's path).
        path: PathBuf,
        /// The single file inside it, and its content when planned.
        inner: (PathBuf, Vec<u8>),
        /// New content for `path` (`None`: just remove the directory).
        bytes: Option<Vec<u8>>,
        /// Permission bits of the new file.
        mode: u32,
    },
}

/// What a plan amounts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Install asked; everything is already in place.
    AlreadyConfigured,
    /// Remove asked; there was nothing of Rampart's.
    NothingToRemove,
    /// There are changes to apply.
    Changes,
}

/// The steps for one host and what to tell the user once they are done.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The host.
    pub host: Host,
    /// Install or remove.
    pub action: Action,
    /// What the plan amounts to.
    pub outcome: Outcome,
    /// File-system steps, in order.
    pub changes: Vec<Change>,
    /// Result lines, printed after the changes are applied.
    pub lines: Vec<String>,
    /// Host-specific notes, printed after the result lines.
    pub notes: Vec<String>,
}

/// Why setup could not go ahead.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// `$HOME` is not set.
    #[error("HOME is not set; cannot find the agents' settings")]
    NoHome,
    /// A file operation failed. (The I/O error is part of the message, not a separate
    /// source, so the one-line CLI error does not repeat it.)
    #[error("cannot {op} {}: {err}", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// The path.
        path: PathBuf,
        /// The error.
        err: std::io::Error,
    },
    /// A file is larger than setup reads.
    #[error("{} is larger than {limit} bytes; refusing to edit it", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit in bytes.
        limit: u64,
    },
    /// The settings path is a symlink.
    #[error("{} is a symlink; refusing to edit through it (edit the file it points to by hand, or replace the link with a regular file)", .0.display())]
    Symlink(PathBuf),
    /// The settings path is not a regular file.
    #[error("{} is not a regular file; refusing to edit it", .0.display())]
    NotRegular(PathBuf),
    /// The settings file is not valid JSON, or not a JSON object.
    #[error("{}: {detail}; fix it, or pass --force to replace it (a backup is kept)", path.display())]
    InvalidJson {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        detail: String,
    },
    /// A value Rampart must edit has an unexpected type or value.
    #[error("{}: {what}; fix it, or pass --force to replace it (a backup is kept)", path.display())]
    Unexpected {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
    /// An invalid file under `--remove`, where `--force` cannot help.
    #[error("{}: {detail}; nothing was removed — fix it by hand first", path.display())]
    InvalidJsonOnRemove {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        detail: String,
    },
    /// An MCP client's config cannot be edited safely (never replaced: it holds the user's
    /// servers).
    #[error("{}: {detail}; nothing was changed — fix it by hand first", path.display())]
    NotEditable {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// A file Rampart would replace is not Rampart's.
    #[error("{} exists and is not managed by Rampart; refusing to touch it (even with --force) — move it aside to install Rampart's hook", .0.display())]
    NotOurs(PathBuf),
    /// The file changed between reading and writing.
    #[error("{} changed while setup was running; nothing was written to it — run setup again", .0.display())]
    Changed(PathBuf),
}

impl SetupError {
    /// Wraps an I/O error with the operation and path.
    pub fn io(op: &'static str, path: &Path, err: std::io::Error) -> Self {
        SetupError::Io {
            op,
            path: path.to_path_buf(),
            err,
        }
    }
}

impl From<OwnerFileError> for SetupError {
    fn from(e: OwnerFileError) -> Self {
        match e {
            OwnerFileError::Io { op, path, source } => SetupError::Io {
                op,
                path,
                err: source,
            },
            OwnerFileError::Symlink(p) => SetupError::Symlink(p),
            OwnerFileError::NotRegular(p) => SetupError::NotRegular(p),
            OwnerFileError::TooLarge { path, limit } => SetupError::TooLarge { path, limit },
        }
    }
}

/// Plans `action` for `host` without touching anything.
pub fn plan(host: Host, action: Action, force: bool, env: &Env) -> Result<Plan, SetupError> {
    match host {
        Host::ClaudeCode => claude_code::plan(action, force, env),
        Host::Codex => codex::plan(action, force, env),
        Host::Cline => cline::plan(action, force, env),
        Host::Cursor => cursor::plan(action, force, env),
        Host::Gemini => gemini::plan(action, force, env),
        Host::Copilot => copilot::plan(action, force, env),
        Host::Antigravity => antigravity::plan(action, force, env),
        Host::ClaudeDesktop => mcp_servers::plan(host, action, env),
    }
}

/// Plans putting `host`'s MCP servers behind `rampart mcp --` (or taking them out); `None`
/// when the host has no MCP server list setup knows.
pub fn plan_mcp(host: Host, action: Action, env: &Env) -> Option<Result<Plan, SetupError>> {
    matches!(host, Host::ClaudeDesktop | Host::Cursor).then(|| mcp_servers::plan(host, action, env))
}
