//! Owner-only file helpers: no symlinks, 0600 files, 0700 directories, fsync where it matters.

use super::error::ApprovalError;
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Creates `dir` (mode 0700) if missing; refuses a symlink or non-directory; with `tighten`,
/// also resets an existing directory to 0700.
pub fn ensure_dir(dir: &Path, tighten: bool) -> Result<(), ApprovalError> {
    match std::fs::symlink_metadata(dir) {
        Ok(md) if !md.file_type().is_dir() => Err(ApprovalError::NotRegular(dir.to_path_buf())),
        Ok(md) => {
            if tighten && md.permissions().mode() & 0o777 != 0o700 {
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                    .map_err(|e| ApprovalError::io("chmod", dir, e))?;
            }
            Ok(())
        }
        Err(e) if e.kind() == ErrorKind::NotFound => {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| ApprovalError::io("create directory", dir, e))?;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| ApprovalError::io("chmod", dir, e))
        }
        Err(e) => Err(ApprovalError::io("stat", dir, e)),
    }
}

fn check_regular(f: &File, path: &Path) -> Result<(), ApprovalError> {
    let md = f
        .metadata()
        .map_err(|e| ApprovalError::io("stat", path, e))?;
    if !md.is_file() {
        return Err(ApprovalError::NotRegular(path.to_path_buf()));
    }
    if md.permissions().mode() & 0o077 != 0 {
        f.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(|e| ApprovalError::io("chmod", path, e))?;
    }
    Ok(())
}

fn nofollow(opts: &mut OpenOptions) -> &mut OpenOptions {
    opts.mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
}

fn map_open(op: &'static str, path: &Path, e: std::io::Error) -> ApprovalError {
    // O_NOFOLLOW on a symlink fails with ELOOP.
    if e.raw_os_error() == Some(libc::ELOOP) {
        ApprovalError::NotRegular(path.to_path_buf())
    } else {
        ApprovalError::io(op, path, e)
    }
}

/// Opens (creating 0600) `path` for appending; refuses symlinks and non-regular files.
pub fn open_append(path: &Path) -> Result<File, ApprovalError> {
    let f = nofollow(OpenOptions::new().create(true).append(true))
        .open(path)
        .map_err(|e| map_open("open", path, e))?;
    check_regular(&f, path)?;
    Ok(f)
}

/// Opens `path` read-only; `None` when it does not exist; refuses symlinks and non-regular files.
pub fn open_read(path: &Path) -> Result<Option<File>, ApprovalError> {
    match nofollow(OpenOptions::new().read(true)).open(path) {
        Ok(f) => {
            check_regular(&f, path)?;
            Ok(Some(f))
        }
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(map_open("open", path, e)),
    }
}

/// Reads at most `max + 1` bytes of `path` (so callers can tell "too big"); `None` if missing.
pub fn read_bounded(path: &Path, max: usize) -> Result<Option<Vec<u8>>, ApprovalError> {
    let Some(f) = open_read(path)? else {
        return Ok(None);
    };
    let mut buf = Vec::new();
    f.take(max as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(|e| ApprovalError::io("read", path, e))?;
    Ok(Some(buf))
}

/// Creates `path` exclusively (0600) with `data`, fsynced; `Ok(false)` if it already exists.
pub fn create_new(path: &Path, data: &[u8]) -> Result<bool, ApprovalError> {
    let mut f = match nofollow(OpenOptions::new().write(true).create_new(true)).open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::AlreadyExists => return Ok(false),
        Err(e) => return Err(map_open("create", path, e)),
    };
    let written = f.write_all(data).and_then(|()| f.sync_all());
    if let Err(e) = written {
        let _ = std::fs::remove_file(path);
        return Err(ApprovalError::io("write", path, e));
    }
    Ok(true)
}

/// A fresh, unused temporary name next to `path`.
pub fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".tmp-{}", ulid::Ulid::generate()));
    path.with_file_name(name)
}

/// Replaces `path` with `data` atomically (temp file, fsync, rename, directory fsync).
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<(), ApprovalError> {
    let tmp = temp_path(path);
    if !create_new(&tmp, data)? {
        return Err(ApprovalError::io(
            "create",
            &tmp,
            std::io::Error::from(ErrorKind::AlreadyExists),
        ));
    }
    if let Err(e) = std::fs::rename(&tmp, path) {
        let _ = std::fs::remove_file(&tmp);
        return Err(ApprovalError::io("rename", path, e));
    }
    sync_parent(path)
}

/// fsyncs the directory holding `path` so a created, renamed or removed entry is durable.
pub fn sync_parent(path: &Path) -> Result<(), ApprovalError> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let d = File::open(dir).map_err(|e| ApprovalError::io("open directory", dir, e))?;
    d.sync_all()
        .map_err(|e| ApprovalError::io("fsync directory", dir, e))
}

/// Removes `path`; a missing file is not an error.
pub fn remove_if_exists(path: &Path) -> Result<(), ApprovalError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(ApprovalError::io("remove", path, e)),
    }
}

/// Whether `path` exists (as anything, symlinks included).
pub fn exists(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

/// Fills `buf` from the operating system's random source.
pub fn random_bytes(buf: &mut [u8]) -> Result<(), ApprovalError> {
    getrandom::fill(buf).map_err(|e| ApprovalError::Random(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_new_is_exclusive_and_private() -> Result<(), ApprovalError> {
        let dir = tempfile::tempdir().map_err(|e| ApprovalError::io("tempdir", "/tmp", e))?;
        let p = dir.path().join("x");
        assert!(create_new(&p, b"1")?);
        assert!(!create_new(&p, b"2")?);
        assert_eq!(read_bounded(&p, 10)?, Some(b"1".to_vec()));
        let mode = std::fs::metadata(&p)
            .map_err(|e| ApprovalError::io("stat", &p, e))?
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        Ok(())
    }

    #[test]
    fn symlinks_are_refused() -> Result<(), ApprovalError> {
        let dir = tempfile::tempdir().map_err(|e| ApprovalError::io("tempdir", "/tmp", e))?;
        let target = dir.path().join("t");
        create_new(&target, b"x")?;
        let link = dir.path().join("l");
        std::os::unix::fs::symlink(&target, &link)
            .map_err(|e| ApprovalError::io("symlink", &link, e))?;
        assert!(matches!(
            open_append(&link),
            Err(ApprovalError::NotRegular(_))
        ));
        assert!(matches!(
            read_bounded(&link, 10),
            Err(ApprovalError::NotRegular(_))
        ));
        assert!(matches!(
            ensure_dir(&link, false),
            Err(ApprovalError::NotRegular(_))
        ));
        Ok(())
    }
}
