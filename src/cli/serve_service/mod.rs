//! `rampart serve install` / `serve uninstall`: run serve as a per-user service (a systemd user
//! unit on Linux, a launchd agent on macOS).
//!
//! Install writes a verified definition, then asks the service manager to load, enable and
//! (re)start it; if any of that fails the previous definition, enablement and running state are
//! put back. Definitions carry no token: serve reads `~/.rampart/token`, so rotation survives
//! restarts. Service-manager commands go through a [`CommandRunner`] so the flows can be tested
//! without a user bus.

mod definition;
mod files;
mod launchd;
mod runner;
mod systemd;

use std::path::{Path, PathBuf};

pub use definition::{
    LAUNCHD_LABEL, MARKER, UNIT_DESCRIPTION, launchd_plist_text, service_argv, systemd_quote,
    systemd_unit_text, xml_escape,
};
pub use runner::{CommandOutput, CommandRunner, ServiceCommand, SystemRunner};

use crate::cli::owner_file::OwnerFileError;

/// systemd unit name.
pub const SYSTEMD_UNIT: &str = "rampart-serve.service";

/// What to install.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallOptions {
    /// Absolute path of the `rampart` executable the service runs.
    pub exe: PathBuf,
    /// Arguments after `serve`, already built (only the non-default flags).
    pub serve_args: Vec<String>,
    /// Replace an existing Rampart-managed definition.
    pub force: bool,
    /// The user's home directory.
    pub home: PathBuf,
}

/// What install did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallReport {
    /// Unit name or launchd label.
    pub service_name: String,
    /// Where the definition was written.
    pub unit_path: PathBuf,
    /// The service manager started (or restarted) it.
    pub started: bool,
    /// It will start at login.
    pub enabled: bool,
    /// Things the user should know (skipped verification, replaced definition, ...).
    pub notes: Vec<String>,
}

/// What uninstall did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UninstallReport {
    /// Unit name or launchd label.
    pub service_name: String,
    /// The definition that was removed.
    pub unit_path: PathBuf,
    /// The service manager was told to stop and disable it.
    pub stopped: bool,
    /// Things the user should know.
    pub notes: Vec<String>,
}

/// Which service manager to target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    /// systemd user instance (`systemctl --user`).
    Systemd,
    /// launchd per-user agent (`launchctl`).
    Launchd,
}

impl Platform {
    /// The service manager of the platform this binary was built for, if it has one we support.
    pub fn current() -> Option<Platform> {
        if cfg!(target_os = "macos") {
            Some(Platform::Launchd)
        } else if cfg!(target_os = "linux") {
            Some(Platform::Systemd)
        } else {
            None
        }
    }
}

/// Why install or uninstall failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// A file could not be read or written.
    #[error(transparent)]
    File(#[from] OwnerFileError),
    /// The executable or an argument cannot be put into a definition.
    #[error("serve install: {0}")]
    Invalid(String),
    /// A definition exists and `force` was not given.
    #[error("serve install: {} already exists; pass --force to replace it", .0.display())]
    Exists(PathBuf),
    /// The definition path is a symlink.
    #[error("{} is a symlink; refusing to use, replace or remove it", .0.display())]
    Symlink(PathBuf),
    /// The definition path is not a regular file.
    #[error("{} is not a regular file; refusing to use, replace or remove it", .0.display())]
    NotRegular(PathBuf),
    /// The existing definition was not written by Rampart.
    #[error("{} is not a Rampart-managed service definition; refusing to replace or remove it (move it away first)", .0.display())]
    NotManaged(PathBuf),
    /// The verifier rejected the new definition; nothing was installed.
    #[error("serve install: the new definition for {} failed verification; nothing was installed:\n{output}", path.display())]
    Verify {
        /// Where it would have gone.
        path: PathBuf,
        /// What the verifier said.
        output: String,
    },
    /// The definition was written (and verified) but the service manager cannot be reached.
    #[error("serve install: wrote {} but could not reach {manager} ({detail}); the service is neither enabled nor started. From a login session run: {start}", path.display())]
    ManagerUnavailable {
        /// The definition that was written.
        path: PathBuf,
        /// `systemctl --user` or `launchctl`.
        manager: String,
        /// Why it could not be used.
        detail: String,
        /// Command line that enables and starts the service.
        start: String,
    },
    /// A service-manager command failed; `rollback` says what was restored.
    #[error("serve {action}: `{command}` failed: {output}; {rollback}")]
    Command {
        /// `install` or `uninstall`.
        action: &'static str,
        /// The failing command line.
        command: String,
        /// Its output.
        output: String,
        /// What was rolled back, or what could not be.
        rollback: String,
    },
    /// Nothing to uninstall.
    #[error("serve uninstall: no Rampart service definition at {}; nothing to uninstall", .0.display())]
    NotInstalled(PathBuf),
    /// No supported service manager on this platform.
    #[error(
        "serve install: not supported on this platform; run `rampart serve --background` or use the platform's own service manager"
    )]
    Unsupported,
}

/// Installs serve as a user service with the platform's service manager.
pub fn install(opts: &InstallOptions) -> Result<InstallReport, ServiceError> {
    let platform = Platform::current().ok_or(ServiceError::Unsupported)?;
    install_with(opts, platform, &mut SystemRunner)
}

/// [`install`] for an explicit platform and command runner.
pub fn install_with(
    opts: &InstallOptions,
    platform: Platform,
    runner: &mut dyn CommandRunner,
) -> Result<InstallReport, ServiceError> {
    match platform {
        Platform::Systemd => systemd::install(opts, runner),
        Platform::Launchd => launchd::install(opts, runner),
    }
}

/// Stops, disables and removes the user service.
pub fn uninstall(home: &Path) -> Result<UninstallReport, ServiceError> {
    let platform = Platform::current().ok_or(ServiceError::Unsupported)?;
    uninstall_with(home, platform, &mut SystemRunner)
}

/// [`uninstall`] for an explicit platform and command runner.
pub fn uninstall_with(
    home: &Path,
    platform: Platform,
    runner: &mut dyn CommandRunner,
) -> Result<UninstallReport, ServiceError> {
    match platform {
        Platform::Systemd => systemd::uninstall(home, runner),
        Platform::Launchd => launchd::uninstall(home, runner),
    }
}

/// `~/.config/systemd/user/rampart-serve.service`.
pub fn systemd_unit_path(home: &Path) -> PathBuf {
    home.join(".config/systemd/user").join(SYSTEMD_UNIT)
}

/// `~/Library/LaunchAgents/sh.rampart.serve.plist`.
pub fn launchd_plist_path(home: &Path) -> PathBuf {
    home.join("Library/LaunchAgents")
        .join(format!("{LAUNCHD_LABEL}.plist"))
}

/// Runs `cmd`; `Err` carries its cleaned output (or why it could not run).
fn run_ok(runner: &mut dyn CommandRunner, cmd: &ServiceCommand) -> Result<(), String> {
    match runner.run(cmd) {
        Ok(o) if o.success => Ok(()),
        Ok(o) => Err(clean(&o.text())),
        Err(e) => Err(format!("cannot run {}: {e}", cmd.program)),
    }
}

/// Trims command output for a one-line message, replacing control characters.
fn clean(text: &str) -> String {
    const MAX: usize = 2000;
    let t: String = text
        .trim()
        .chars()
        .map(|c| if c.is_control() && c != '\n' { ' ' } else { c })
        .collect();
    if t.is_empty() {
        return "no output".to_string();
    }
    if t.chars().count() > MAX {
        let cut: String = t.chars().take(MAX).collect();
        format!("{cut}…")
    } else {
        t
    }
}

/// Words for a rollback outcome.
fn rollback_summary(problems: &[String]) -> String {
    if problems.is_empty() {
        "the previous definition and service state were restored".to_string()
    } else {
        format!("rollback incomplete: {}", problems.join("; "))
    }
}
