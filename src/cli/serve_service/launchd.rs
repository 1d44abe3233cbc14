//! The launchd agent flow: lint, write, (re)load, check it is listed; roll back on failure.
//! Uninstall: unload -w, remove.

use std::ffi::OsString;
use std::path::Path;

use super::definition::{self, LAUNCHD_LABEL, launchd_plist_text};
use super::files::{self, Existing, Staging};
use super::{
    CommandRunner, InstallOptions, InstallReport, ServiceCommand, ServiceError, UninstallReport,
    clean, launchd_plist_path, rollback_summary, run_ok,
};
use crate::cli::owner_file;

fn launchctl(verb: &[&str], path: Option<&Path>) -> ServiceCommand {
    let mut args: Vec<OsString> = verb.iter().map(OsString::from).collect();
    if let Some(p) = path {
        args.push(p.as_os_str().to_os_string());
    }
    ServiceCommand::new("launchctl", args)
}

/// `plutil -lint` on the staged plist; a missing `plutil` is only noted.
fn lint(
    staged: &Path,
    dest: &Path,
    runner: &mut dyn CommandRunner,
    notes: &mut Vec<String>,
) -> Result<(), ServiceError> {
    let cmd = ServiceCommand::new(
        "plutil",
        [OsString::from("-lint"), staged.as_os_str().to_os_string()],
    );
    match runner.run(&cmd) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            notes.push("plutil not found; the plist was not linted".to_string());
            Ok(())
        }
        Err(e) => Err(ServiceError::Verify {
            path: dest.to_path_buf(),
            output: format!("cannot run plutil: {e}"),
        }),
        Ok(o) if o.success => Ok(()),
        Ok(o) => Err(ServiceError::Verify {
            path: dest.to_path_buf(),
            output: clean(
                &o.text()
                    .replace(&*staged.to_string_lossy(), &dest.to_string_lossy()),
            ),
        }),
    }
}

pub(super) fn install(
    opts: &InstallOptions,
    runner: &mut dyn CommandRunner,
) -> Result<InstallReport, ServiceError> {
    definition::validate(opts, true)?;
    let path = launchd_plist_path(&opts.home);
    let dir = path.parent().unwrap_or(Path::new("."));
    let previous = files::inspect(&path, definition::is_managed_plist)?;
    if matches!(previous, Existing::Managed(_)) && !opts.force {
        return Err(ServiceError::Exists(path));
    }
    owner_file::ensure_private_dir(dir)?;
    let staging = Staging::create(dir)?;
    let name = format!("{LAUNCHD_LABEL}.plist");
    let staged = staging.write(&name, launchd_plist_text(opts).as_bytes())?;
    let mut notes = Vec::new();
    lint(&staged, &path, runner, &mut notes)?;
    // launchd would create the log world-readable; create it owner-only first.
    let rampart = opts.home.join(".rampart");
    owner_file::ensure_private_dir(&rampart)?;
    drop(owner_file::open_append(&rampart.join("serve.log"))?);

    let was_loaded = match runner.run(&launchctl(&["list", LAUNCHD_LABEL], None)) {
        Ok(o) => o.success,
        Err(e) => {
            files::move_into_place(&staged, &path)?;
            return Err(ServiceError::ManagerUnavailable {
                start: format!("launchctl load -w {}", path.display()),
                path,
                manager: "launchctl".to_string(),
                detail: e.to_string(),
            });
        }
    };
    files::move_into_place(&staged, &path)?;
    if matches!(previous, Existing::Managed(_)) {
        notes.push(format!(
            "replaced the existing definition at {}",
            path.display()
        ));
    }
    if was_loaded {
        let _ = runner.run(&launchctl(&["unload"], Some(&path)));
    }
    let load = launchctl(&["load", "-w"], Some(&path));
    // `launchctl load` can exit 0 without loading anything; the label must be listed after.
    let loaded = run_ok(runner, &load).and_then(|()| {
        run_ok(runner, &launchctl(&["list", LAUNCHD_LABEL], None))
            .map_err(|out| format!("{LAUNCHD_LABEL} is not loaded afterwards: {out}"))
    });
    if let Err(output) = loaded {
        let mut problems = Vec::new();
        let _ = runner.run(&launchctl(&["unload"], Some(&path)));
        if let Err(e) = files::restore(&staging, &path, &previous) {
            problems.push(format!("could not restore {}: {e}", path.display()));
        }
        if was_loaded && let Err(out) = run_ok(runner, &launchctl(&["load", "-w"], Some(&path))) {
            problems.push(format!("reloading the previous agent failed: {out}"));
        }
        return Err(ServiceError::Command {
            action: "install",
            command: load.display(),
            output,
            rollback: rollback_summary(&problems),
        });
    }
    Ok(InstallReport {
        service_name: LAUNCHD_LABEL.to_string(),
        unit_path: path,
        started: true,
        enabled: true,
        notes,
    })
}

pub(super) fn uninstall(
    home: &Path,
    runner: &mut dyn CommandRunner,
) -> Result<UninstallReport, ServiceError> {
    let path = launchd_plist_path(home);
    if let Existing::Missing = files::inspect(&path, definition::is_managed_plist)? {
        return Err(ServiceError::NotInstalled(path));
    }
    let mut notes = Vec::new();
    let stopped = match run_ok(runner, &launchctl(&["unload", "-w"], Some(&path))) {
        Ok(()) => true,
        Err(out) => {
            notes.push(format!("launchctl unload: {out}"));
            false
        }
    };
    owner_file::remove_if_exists(&path)?;
    Ok(UninstallReport {
        service_name: LAUNCHD_LABEL.to_string(),
        unit_path: path,
        stopped,
        notes,
    })
}
