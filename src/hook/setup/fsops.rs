//! File steps for setup: guarded reads, timestamped private backups, atomic writes, and
//! carrying out a [`Plan`].

use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::{Change, Plan, SetupError};
use crate::cli::owner_file::{self, OwnerFileError};

/// Largest settings file setup will read.
const MAX_SETTINGS: u64 = 16 * 1024 * 1024;

/// Reads a settings file: `None` when it does not exist; symlinks and non-regular files are
/// refused.
pub(super) fn read_settings(path: &Path) -> Result<Option<Vec<u8>>, SetupError> {
    match std::fs::symlink_metadata(path) {
        Ok(md) if md.file_type().is_symlink() => {
            return Err(SetupError::Symlink(path.to_path_buf()));
        }
        Ok(md) if !md.is_file() => return Err(SetupError::NotRegular(path.to_path_buf())),
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(SetupError::io("inspect", path, e)),
    }
    owner_file::read_bounded(path, MAX_SETTINGS).map_err(SetupError::from)
}

/// Whether `path` is a plain (non-symlink) directory, `false` when missing; anything else
/// there is an error.
pub(super) fn is_plain_dir(path: &Path) -> Result<bool, SetupError> {
    match std::fs::symlink_metadata(path) {
        Ok(md) if md.file_type().is_symlink() => Err(SetupError::Symlink(path.to_path_buf())),
        Ok(md) => Ok(md.is_dir()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(SetupError::io("inspect", path, e)),
    }
}

/// Copies `original` to `<path>.rampart-backup-<UTC timestamp>` (0600, never overwriting an
/// earlier backup) and returns the backup's path.
pub(super) fn backup(path: &Path, original: &[u8]) -> Result<PathBuf, SetupError> {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let base = format!("{}.rampart-backup-{stamp}", path.display());
    for n in 1..1000 {
        let candidate = if n == 1 {
            PathBuf::from(&base)
        } else {
            PathBuf::from(format!("{base}-{n}"))
        };
        let mut f = match owner_file::create_exclusive(&candidate) {
            Ok(f) => f,
            Err(OwnerFileError::Io { source, .. })
                if source.kind() == io::ErrorKind::AlreadyExists =>
            {
                continue;
            }
            Err(OwnerFileError::Symlink(_)) => continue,
            Err(e) => return Err(e.into()),
        };
        f.write_all(original)
            .and_then(|()| f.sync_all())
            .map_err(|e| SetupError::io("write backup", &candidate, e))?;
        if let Some(dir) = candidate.parent() {
            owner_file::sync_dir(dir);
        }
        return Ok(candidate);
    }
    Err(SetupError::io(
        "create a backup of",
        path,
        io::Error::from(io::ErrorKind::AlreadyExists),
    ))
}

/// A fresh temporary path beside `path`.
fn temp_beside(path: &Path, what: &str) -> PathBuf {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    dir.join(format!(".{name}.rampart-{what}-{}", ulid::Ulid::generate()))
}

/// Writes `bytes` to a new file at `path` with exactly `mode`, fsynced.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), SetupError> {
    let mut f = owner_file::create_exclusive(path)?;
    f.write_all(bytes)
        .map_err(|e| SetupError::io("write", path, e))?;
    f.set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(|e| SetupError::io("set permissions on", path, e))?;
    f.sync_all().map_err(|e| SetupError::io("fsync", path, e))
}

/// Replaces `path` atomically: temp file in the same directory (mode set before the
/// rename), then rename over it.
pub(super) fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), SetupError> {
    let tmp = temp_beside(path, "tmp");
    let result = write_new(&tmp, bytes, mode).and_then(|()| {
        std::fs::rename(&tmp, path).map_err(|e| SetupError::io("rename into place", path, e))
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    if let Some(dir) = path.parent() {
        owner_file::sync_dir(dir);
    }
    result
}

/// Checks that `path` still holds what the plan read.
fn unchanged(path: &Path, original: Option<&[u8]>) -> Result<(), SetupError> {
    let now = read_settings(path)?;
    if now.as_deref() == original {
        Ok(())
    } else {
        Err(SetupError::Changed(path.to_path_buf()))
    }
}

/// Makes sure the directory a file goes into exists (created 0700 when missing).
fn ensure_parent(path: &Path) -> Result<(), SetupError> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => {
            owner_file::ensure_private_dir(dir).map_err(SetupError::from)
        }
        _ => Ok(()),
    }
}

/// Carries out `plan`'s changes in order; returns the backups written.
pub fn apply(plan: &Plan) -> Result<Vec<PathBuf>, SetupError> {
    let mut backups = Vec::new();
    for change in &plan.changes {
        match change {
            Change::Write {
                path,
                bytes,
                mode,
                original,
                backup: want_backup,
            } => {
                ensure_parent(path)?;
                unchanged(path, original.as_deref())?;
                if let (Some(orig), true) = (original, *want_backup) {
                    backups.push(backup(path, orig)?);
                }
                write_atomic(path, bytes, *mode)?;
            }
            Change::Delete {
                path,
                original,
                backup: want_backup,
            } => {
                unchanged(path, Some(original))?;
                if *want_backup {
                    backups.push(backup(path, original)?);
                }
                std::fs::remove_file(path).map_err(|e| SetupError::io("remove", path, e))?;
                if let Some(dir) = path.parent() {
                    owner_file::sync_dir(dir);
                }
            }
            Change::RemoveDirIfEmpty(dir) => match std::fs::remove_dir(dir) {
                Ok(()) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::NotFound | io::ErrorKind::DirectoryNotEmpty
                    ) => {}
                Err(e) => return Err(SetupError::io("remove directory", dir, e)),
            },
            Change::ReplaceDir {
                path,
                inner,
                bytes,
                mode,
            } => replace_dir(path, inner, bytes.as_deref(), *mode)?,
        }
    }
    Ok(backups)
}

/// Swaps a legacy hook directory (holding exactly `inner`) for a file, or just removes it.
/// The new file is staged first and the directory moved aside, so a failure puts the
/// directory back.
fn replace_dir(
    path: &Path,
    inner: &(PathBuf, Vec<u8>),
    bytes: Option<&[u8]>,
    mode: u32,
) -> Result<(), SetupError> {
    let entries: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|e| SetupError::io("read directory", path, e))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(|e| SetupError::io("read directory", path, e))?;
    if entries != [inner.0.clone()] {
        return Err(SetupError::Changed(path.to_path_buf()));
    }
    unchanged(&inner.0, Some(&inner.1))?;
    let staged = match bytes {
        Some(b) => {
            let tmp = temp_beside(path, "tmp");
            write_new(&tmp, b, mode)?;
            Some(tmp)
        }
        None => None,
    };
    let aside = temp_beside(path, "old");
    if let Err(e) = std::fs::rename(path, &aside) {
        if let Some(t) = &staged {
            let _ = std::fs::remove_file(t);
        }
        return Err(SetupError::io("move aside", path, e));
    }
    if let Some(t) = &staged
        && let Err(e) = std::fs::rename(t, path)
    {
        let _ = std::fs::rename(&aside, path);
        let _ = std::fs::remove_file(t);
        return Err(SetupError::io("rename into place", path, e));
    }
    let moved_inner = aside.join(inner.0.file_name().unwrap_or_default());
    std::fs::remove_file(&moved_inner)
        .and_then(|()| std::fs::remove_dir(&aside))
        .map_err(|e| SetupError::io("remove the old hook directory", &aside, e))?;
    if let Some(dir) = path.parent() {
        owner_file::sync_dir(dir);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backups_never_overwrite_and_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("settings.json");
        let a = backup(&p, b"one").unwrap();
        let b = backup(&p, b"two").unwrap();
        assert_ne!(a, b);
        assert_eq!(std::fs::read(&a).unwrap(), b"one");
        assert_eq!(std::fs::read(&b).unwrap(), b"two");
        let mode = std::fs::metadata(&a).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn atomic_write_sets_mode_and_reads_refuse_links() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("hook");
        write_atomic(&p, b"#!/bin/sh\n", 0o755).unwrap();
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o755);
        let l = dir.path().join("link");
        std::os::unix::fs::symlink(&p, &l).unwrap();
        assert!(matches!(read_settings(&l), Err(SetupError::Symlink(_))));
        assert!(matches!(
            read_settings(dir.path()),
            Err(SetupError::NotRegular(_))
        ));
        assert!(
            read_settings(&dir.path().join("missing"))
                .unwrap()
                .is_none()
        );
    }
}
