//! The systemd user-unit flow: verify, write, daemon-reload, enable, restart, check it stays up;
//! roll everything back when a step fails. Uninstall: disable --now, remove, daemon-reload.

use std::ffi::OsString;
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;
use std::time::Duration;

use super::definition::{self, systemd_unit_text};
use super::files::{self, Existing, Staging};
use super::{
    CommandRunner, InstallOptions, InstallReport, SYSTEMD_UNIT, ServiceCommand, ServiceError,
    UninstallReport, clean, rollback_summary, run_ok, systemd_unit_path,
};
use crate::cli::owner_file;

/// How long a freshly (re)started service must survive before install calls it started.
const SETTLE: Duration = Duration::from_secs(1);

fn systemctl(args: &[&str]) -> ServiceCommand {
    ServiceCommand::new(
        "systemctl",
        std::iter::once("--user").chain(args.iter().copied()),
    )
}

fn start_hint() -> String {
    format!("systemctl --user daemon-reload && systemctl --user enable --now {SYSTEMD_UNIT}")
}

/// Whether the user manager answers; `Err` says why not (no user bus, no systemctl, ...).
fn probe(runner: &mut dyn CommandRunner) -> Result<(), String> {
    run_ok(runner, &systemctl(&["show", "--property=Version"]))
}

/// `systemctl --user <verb> rampart-serve.service` stdout, trimmed ("" when it could not run).
fn query(runner: &mut dyn CommandRunner, verb: &str) -> String {
    runner
        .run(&systemctl(&[verb, SYSTEMD_UNIT]))
        .map(|o| o.stdout.trim().to_string())
        .unwrap_or_default()
}

/// A private, short-named runtime directory for `systemd-analyze`, removed when dropped. It
/// must be short: the verifier loads every user unit, and socket units under a long runtime
/// path exceed the socket-address limit and flood the output with unrelated warnings.
struct VerifyRuntime(std::path::PathBuf);

impl VerifyRuntime {
    fn create() -> Result<VerifyRuntime, ServiceError> {
        let tmp = std::env::temp_dir();
        let base = if tmp.as_os_str().len() <= 32 {
            tmp
        } else {
            std::path::PathBuf::from("/tmp")
        };
        let dir = base.join(format!("rampart-verify-{}", ulid::Ulid::generate()));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(|e| owner_file::OwnerFileError::io("create directory", &dir, e))?;
        Ok(VerifyRuntime(dir))
    }
}

impl Drop for VerifyRuntime {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `systemd-analyze verify --user` on the staged unit with a private runtime directory
/// (it needs one even offline). Output about our unit, or a failure exit, rejects it; a missing
/// verifier is only noted. The error shows the lines about our unit when there are any.
fn verify(
    staged: &Path,
    dest: &Path,
    runner: &mut dyn CommandRunner,
    notes: &mut Vec<String>,
) -> Result<(), ServiceError> {
    let runtime = VerifyRuntime::create()?;
    let mut cmd = ServiceCommand::new(
        "systemd-analyze",
        [
            OsString::from("verify"),
            OsString::from("--user"),
            staged.as_os_str().to_os_string(),
        ],
    );
    cmd.env.push((
        "XDG_RUNTIME_DIR".to_string(),
        runtime.0.as_os_str().to_os_string(),
    ));
    let reject = |output: String| ServiceError::Verify {
        path: dest.to_path_buf(),
        output,
    };
    match runner.run(&cmd) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            notes.push("systemd-analyze not found; the unit was not verified".to_string());
            Ok(())
        }
        Err(e) => Err(reject(format!("cannot run systemd-analyze: {e}"))),
        Ok(o) => {
            let text = o
                .text()
                .replace(&*staged.to_string_lossy(), &dest.to_string_lossy());
            let ours: Vec<&str> = text.lines().filter(|l| l.contains(SYSTEMD_UNIT)).collect();
            if !ours.is_empty() {
                Err(reject(clean(&ours.join("\n"))))
            } else if !o.success {
                Err(reject(clean(&text)))
            } else {
                if !text.trim().is_empty() {
                    notes.push(format!("systemd-analyze verify: {}", clean(&text)));
                }
                Ok(())
            }
        }
    }
}

pub(super) fn install(
    opts: &InstallOptions,
    runner: &mut dyn CommandRunner,
) -> Result<InstallReport, ServiceError> {
    definition::validate(opts, false)?;
    let path = systemd_unit_path(&opts.home);
    let dir = path.parent().unwrap_or(Path::new("."));
    let previous = files::inspect(&path, definition::is_managed_unit)?;
    if matches!(previous, Existing::Managed(_)) && !opts.force {
        return Err(ServiceError::Exists(path));
    }
    owner_file::ensure_private_dir(dir)?;
    let staging = Staging::create(dir)?;
    let staged = staging.write(SYSTEMD_UNIT, systemd_unit_text(opts).as_bytes())?;
    let mut notes = Vec::new();
    verify(&staged, &path, runner, &mut notes)?;

    if let Err(detail) = probe(runner) {
        files::move_into_place(&staged, &path)?;
        return Err(ServiceError::ManagerUnavailable {
            path,
            manager: "systemctl --user".to_string(),
            detail,
            start: start_hint(),
        });
    }
    let was_enabled = query(runner, "is-enabled") == "enabled";
    let was_active = query(runner, "is-active") == "active";
    files::move_into_place(&staged, &path)?;
    if matches!(previous, Existing::Managed(_)) {
        notes.push(format!(
            "replaced the existing definition at {}",
            path.display()
        ));
    }

    let undo = |runner: &mut dyn CommandRunner| {
        rollback(runner, &staging, &path, &previous, was_enabled, was_active)
    };
    for step in [
        systemctl(&["daemon-reload"]),
        systemctl(&["enable", SYSTEMD_UNIT]),
        systemctl(&["restart", SYSTEMD_UNIT]),
    ] {
        if let Err(output) = run_ok(runner, &step) {
            let problems = undo(runner);
            return Err(ServiceError::Command {
                action: "install",
                command: step.display(),
                output,
                rollback: rollback_summary(&problems),
            });
        }
    }

    std::thread::sleep(SETTLE);
    let state = query(runner, "is-active");
    if state != "active" {
        let status = runner
            .run(&systemctl(&[
                "status",
                "--no-pager",
                "--lines=10",
                SYSTEMD_UNIT,
            ]))
            .map(|o| o.text())
            .unwrap_or_default();
        let problems = undo(runner);
        return Err(ServiceError::Command {
            action: "install",
            command: format!("systemctl --user is-active {SYSTEMD_UNIT}"),
            output: format!(
                "the service did not stay running (state {:?}):\n{}",
                state,
                clean(&status)
            ),
            rollback: rollback_summary(&problems),
        });
    }
    Ok(InstallReport {
        service_name: SYSTEMD_UNIT.to_string(),
        unit_path: path,
        started: true,
        enabled: true,
        notes,
    })
}

/// Puts back the previous definition, enablement and running state; returns what failed.
fn rollback(
    runner: &mut dyn CommandRunner,
    staging: &Staging,
    path: &Path,
    previous: &Existing,
    was_enabled: bool,
    was_active: bool,
) -> Vec<String> {
    let mut problems = Vec::new();
    let mut step = |runner: &mut dyn CommandRunner, cmd: ServiceCommand| {
        if let Err(out) = run_ok(runner, &cmd) {
            problems.push(format!("`{}` failed: {out}", cmd.display()));
        }
    };
    if !was_active {
        step(runner, systemctl(&["stop", SYSTEMD_UNIT]));
    }
    if !was_enabled {
        step(runner, systemctl(&["disable", SYSTEMD_UNIT]));
    }
    let restored = files::restore(staging, path, previous);
    step(runner, systemctl(&["daemon-reload"]));
    if was_active {
        step(runner, systemctl(&["restart", SYSTEMD_UNIT]));
    }
    if let Err(e) = restored {
        problems.push(format!("could not restore {}: {e}", path.display()));
    }
    problems
}

pub(super) fn uninstall(
    home: &Path,
    runner: &mut dyn CommandRunner,
) -> Result<UninstallReport, ServiceError> {
    let path = systemd_unit_path(home);
    if let Existing::Missing = files::inspect(&path, definition::is_managed_unit)? {
        return Err(ServiceError::NotInstalled(path));
    }
    let mut notes = Vec::new();
    let stopped = match probe(runner) {
        Ok(()) => {
            let cmd = systemctl(&["disable", "--now", SYSTEMD_UNIT]);
            run_ok(runner, &cmd).map_err(|output| ServiceError::Command {
                action: "uninstall",
                command: cmd.display(),
                output,
                rollback: "nothing was removed".to_string(),
            })?;
            true
        }
        Err(detail) => {
            notes.push(format!(
                "could not reach systemctl --user ({detail}); if the service runs in another \
                 session, stop it there with `systemctl --user stop {SYSTEMD_UNIT}`"
            ));
            let wants = path
                .parent()
                .unwrap_or(Path::new("."))
                .join("default.target.wants")
                .join(SYSTEMD_UNIT);
            if std::fs::symlink_metadata(&wants).is_ok_and(|m| m.file_type().is_symlink()) {
                owner_file::remove_if_exists(&wants)?;
                notes.push(format!("removed {}", wants.display()));
            }
            false
        }
    };
    owner_file::remove_if_exists(&path)?;
    if stopped && let Err(out) = run_ok(runner, &systemctl(&["daemon-reload"])) {
        notes.push(format!("systemctl --user daemon-reload failed: {out}"));
    }
    Ok(UninstallReport {
        service_name: SYSTEMD_UNIT.to_string(),
        unit_path: path,
        stopped,
        notes,
    })
}
