//! Cline: two executable POSIX sh scripts, `PreToolUse` and `PostToolUse`, in
//! `~/Documents/Cline/Hooks/`, each carrying the marker line that says Rampart manages it and
//! `exec`ing `'<bin>' hook --format cline`. A file there without the marker is never
//! overwritten or removed, even with `--force`. The nested layout of earlier releases
//! (`PreToolUse/rampart-policy`, `PostToolUse/rampart-audit`) is migrated.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::fsops::{is_plain_dir, read_settings};
use super::{Action, Change, Env, Host, Outcome, Plan, SetupError};

/// The line that marks a hook file as Rampart's.
pub const MARKER: &str = "# Managed by Rampart: Cline hook v2";

/// The events Rampart installs, with the file name the nested legacy layout used.
const EVENTS: [(&str, &str); 2] = [
    ("PreToolUse", "rampart-policy"),
    ("PostToolUse", "rampart-audit"),
];

/// Cline's user-level hook directory.
pub(super) fn hooks_dir(env: &Env) -> PathBuf {
    env.home.join("Documents").join("Cline").join("Hooks")
}

/// The script for `event`.
fn script(env: &Env, event: &str) -> String {
    format!(
        "#!/bin/sh\n{MARKER}\n# Cline runs this on {event}; Rampart checks the tool call against policy.\nexec {}\n",
        env.hook_command(Host::Cline)
    )
}

fn managed(bytes: &[u8]) -> bool {
    String::from_utf8_lossy(bytes)
        .lines()
        .any(|l| l.trim_end() == MARKER)
}

/// What is at one hook path.
enum Found {
    Missing,
    Ours { bytes: Vec<u8>, mode: u32 },
    Legacy { inner: PathBuf, bytes: Vec<u8> },
}

fn inspect(path: &Path, legacy_name: &str) -> Result<Found, SetupError> {
    let md = match std::fs::symlink_metadata(path) {
        Ok(md) => md,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Found::Missing),
        Err(e) => return Err(SetupError::io("inspect", path, e)),
    };
    if md.file_type().is_symlink() {
        return Err(SetupError::Symlink(path.to_path_buf()));
    }
    if md.is_file() {
        let bytes = read_settings(path)?.unwrap_or_default();
        if !managed(&bytes) {
            return Err(SetupError::NotOurs(path.to_path_buf()));
        }
        return Ok(Found::Ours {
            bytes,
            mode: md.permissions().mode() & 0o7777,
        });
    }
    if !md.is_dir() {
        return Err(SetupError::NotRegular(path.to_path_buf()));
    }
    let entries: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|e| SetupError::io("read directory", path, e))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(|e| SetupError::io("read directory", path, e))?;
    let inner = path.join(legacy_name);
    if entries != [inner.clone()] {
        return Err(SetupError::NotOurs(path.to_path_buf()));
    }
    match read_settings(&inner) {
        Ok(Some(bytes)) if managed(&bytes) => Ok(Found::Legacy { inner, bytes }),
        _ => Err(SetupError::NotOurs(path.to_path_buf())),
    }
}

/// Plans installing or removing Rampart's Cline hook scripts.
pub(super) fn plan(action: Action, _force: bool, env: &Env) -> Result<Plan, SetupError> {
    let dir = hooks_dir(env);
    if std::fs::symlink_metadata(&dir).is_ok() && !is_plain_dir(&dir)? {
        return Err(SetupError::NotRegular(dir));
    }
    let mut plan = Plan {
        host: Host::Cline,
        action,
        outcome: Outcome::Changes,
        changes: Vec::new(),
        lines: Vec::new(),
        notes: Vec::new(),
    };
    match action {
        Action::Install => install(env, &dir, &mut plan)?,
        Action::Remove => remove(&dir, &mut plan)?,
    }
    Ok(plan)
}

fn install(env: &Env, dir: &Path, plan: &mut Plan) -> Result<(), SetupError> {
    let mut migrated = false;
    // Inspect both first so nothing is written when either file is someone else's.
    let mut found = Vec::new();
    for (event, legacy) in EVENTS {
        let path = dir.join(event);
        found.push((event, inspect(&path, legacy)?, path));
    }
    for (event, state, path) in found {
        let want = script(env, event).into_bytes();
        match state {
            Found::Ours { bytes, mode } if bytes == want && mode == 0o755 => {}
            Found::Ours { bytes, .. } => plan.changes.push(Change::Write {
                path: path.clone(),
                bytes: want,
                mode: 0o755,
                original: Some(bytes),
                backup: false,
            }),
            Found::Missing => plan.changes.push(Change::Write {
                path: path.clone(),
                bytes: want,
                mode: 0o755,
                original: None,
                backup: false,
            }),
            Found::Legacy { inner, bytes } => {
                migrated = true;
                plan.changes.push(Change::ReplaceDir {
                    path: path.clone(),
                    inner: (inner, bytes),
                    bytes: Some(want),
                    mode: 0o755,
                });
            }
        }
        plan.lines.push(format!("  {event}: {}", path.display()));
    }
    let head = if plan.changes.is_empty() {
        plan.outcome = Outcome::AlreadyConfigured;
        format!("✓ Rampart hook already configured in {}", dir.display())
    } else {
        format!("✓ Rampart hook installed in {}", dir.display())
    };
    plan.lines.insert(0, head);
    if migrated {
        plan.lines.push(
            "  Moved the nested hook layout of an earlier Rampart release to the current one."
                .to_string(),
        );
    }
    if plan.outcome == Outcome::Changes {
        plan.notes.extend([
            "  Both scripts are executable (0755); disabling a hook in Cline's Hooks view clears that bit.".to_string(),
            "  Cline CLI's --yolo mode turns hooks off, and the CLI carries on after hook errors or timeouts.".to_string(),
        ]);
    }
    Ok(())
}

fn remove(dir: &Path, plan: &mut Plan) -> Result<(), SetupError> {
    let mut removed = 0;
    for (event, legacy) in EVENTS {
        let path = dir.join(event);
        match inspect(&path, legacy) {
            Ok(Found::Missing) => {}
            Ok(Found::Ours { bytes, .. }) => {
                removed += 1;
                plan.lines
                    .push(format!("  {event}: removed {}", path.display()));
                plan.changes.push(Change::Delete {
                    path,
                    original: bytes,
                    backup: false,
                });
            }
            Ok(Found::Legacy { inner, bytes }) => {
                removed += 1;
                plan.lines
                    .push(format!("  {event}: removed {}", path.display()));
                plan.changes.push(Change::ReplaceDir {
                    path,
                    inner: (inner, bytes),
                    bytes: None,
                    mode: 0o755,
                });
            }
            Err(SetupError::NotOurs(p) | SetupError::Symlink(p) | SetupError::NotRegular(p)) => {
                plan.lines.push(format!(
                    "  {event}: left {} alone (not managed by Rampart)",
                    p.display()
                ));
            }
            Err(e) => return Err(e),
        }
    }
    if removed == 0 {
        plan.outcome = Outcome::NothingToRemove;
        plan.lines.insert(
            0,
            format!(
                "No Rampart hooks found in {}; nothing to remove.",
                dir.display()
            ),
        );
    } else {
        plan.lines.push(format!(
            "✓ Removed {removed} Rampart hook(s) from {}",
            dir.display()
        ));
    }
    Ok(())
}
