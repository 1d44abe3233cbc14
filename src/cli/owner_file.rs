//! Owner-only (0600) files: atomic replace, bounded no-follow reads, append and exclusive opens.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Why an owner-only file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum OwnerFileError {
    /// An I/O operation failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The path is a symlink; it is never followed.
    #[error("{} is a symlink; refusing to follow it", .0.display())]
    Symlink(PathBuf),
    /// The path is not a regular file.
    #[error("{} is not a regular file", .0.display())]
    NotRegular(PathBuf),
    /// The file is larger than the reader accepts.
    #[error("{} is larger than {limit} bytes", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit in bytes.
        limit: u64,
    },
}

impl OwnerFileError {
    /// Wraps an I/O error with the operation and path.
    pub fn io(op: &'static str, path: &Path, source: io::Error) -> Self {
        OwnerFileError::Io {
            op,
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Creates `dir` (and missing parents) with mode 0700; an existing directory is left as it is.
pub fn ensure_private_dir(dir: &Path) -> Result<(), OwnerFileError> {
    match std::fs::metadata(dir) {
        Ok(md) if md.is_dir() => Ok(()),
        Ok(_) => Err(OwnerFileError::io(
            "use directory",
            dir,
            io::Error::from(io::ErrorKind::NotADirectory),
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| OwnerFileError::io("create directory", dir, e))?;
            // The umask may have removed bits we asked for, never added any; make it exact.
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| OwnerFileError::io("chmod", dir, e))
        }
        Err(e) => Err(OwnerFileError::io("stat", dir, e)),
    }
}

/// Opens `path` with `opts` plus no-follow/close-on-exec/non-blocking and checks it is a
/// regular file (a FIFO would otherwise block the opener).
fn open_checked(path: &Path, opts: &mut OpenOptions) -> Result<File, OwnerFileError> {
    let f = opts
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(libc::ELOOP) {
                OwnerFileError::Symlink(path.to_path_buf())
            } else {
                OwnerFileError::io("open", path, e)
            }
        })?;
    let md = f
        .metadata()
        .map_err(|e| OwnerFileError::io("stat", path, e))?;
    if !md.is_file() {
        return Err(OwnerFileError::NotRegular(path.to_path_buf()));
    }
    Ok(f)
}

/// Reads a whole regular file of at most `limit` bytes; `None` when it does not exist.
pub fn read_bounded(path: &Path, limit: u64) -> Result<Option<Vec<u8>>, OwnerFileError> {
    let f = match open_checked(path, OpenOptions::new().read(true)) {
        Ok(f) => f,
        Err(OwnerFileError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let mut buf = Vec::new();
    f.take(limit + 1)
        .read_to_end(&mut buf)
        .map_err(|e| OwnerFileError::io("read", path, e))?;
    if buf.len() as u64 > limit {
        return Err(OwnerFileError::TooLarge {
            path: path.to_path_buf(),
            limit,
        });
    }
    Ok(Some(buf))
}

/// Replaces `path` atomically with `bytes` (0600): temp file in the same directory, fsync,
/// rename, fsync of the directory. A symlink at `path` is replaced, never followed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), OwnerFileError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", ulid::Ulid::generate()));
    let result = (|| {
        let mut f = create_exclusive(&tmp)?;
        f.write_all(bytes)
            .map_err(|e| OwnerFileError::io("write", &tmp, e))?;
        f.sync_all()
            .map_err(|e| OwnerFileError::io("fsync", &tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| OwnerFileError::io("rename", path, e))?;
        sync_dir(dir);
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Creates a new empty 0600 file; fails if anything (including a symlink) is already there.
pub fn create_exclusive(path: &Path) -> Result<File, OwnerFileError> {
    let f = open_checked(
        path,
        OpenOptions::new().write(true).create_new(true).mode(0o600),
    )?;
    f.set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(|e| OwnerFileError::io("chmod", path, e))?;
    Ok(f)
}

/// Opens (creating with 0600) a regular file for appending; mode is forced back to 0600.
pub fn open_append(path: &Path) -> Result<File, OwnerFileError> {
    let f = open_checked(
        path,
        OpenOptions::new().append(true).create(true).mode(0o600),
    )?;
    let md = f
        .metadata()
        .map_err(|e| OwnerFileError::io("stat", path, e))?;
    if md.permissions().mode() & 0o777 != 0o600 {
        f.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(|e| OwnerFileError::io("chmod", path, e))?;
    }
    Ok(f)
}

/// Opens an existing regular file for writing (truncating it), never creating or following.
pub fn open_existing_for_write(path: &Path) -> Result<File, OwnerFileError> {
    open_checked(path, OpenOptions::new().write(true).truncate(true))
}

/// Removes `path` (a symlink itself, not its target); a missing file is not an error.
pub fn remove_if_exists(path: &Path) -> Result<(), OwnerFileError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(OwnerFileError::io("remove", path, e)),
    }
}

/// fsyncs a directory so a rename in it survives a crash; best effort.
pub fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn atomic_write_is_0600_and_replaces_symlink_without_following() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::write(&target, b"keep").unwrap();
        let p = dir.path().join("f");
        symlink(&target, &p).unwrap();
        write_atomic(&p, b"new").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"keep");
        let md = std::fs::symlink_metadata(&p).unwrap();
        assert!(md.is_file());
        assert_eq!(md.permissions().mode() & 0o777, 0o600);
        assert_eq!(read_bounded(&p, 16).unwrap().unwrap(), b"new");
    }

    #[test]
    fn bounded_read_refuses_symlinks_fifos_and_large_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big");
        std::fs::write(&p, [b'x'; 40]).unwrap();
        assert!(matches!(
            read_bounded(&p, 32),
            Err(OwnerFileError::TooLarge { .. })
        ));
        let l = dir.path().join("link");
        symlink(&p, &l).unwrap();
        assert!(matches!(
            read_bounded(&l, 64),
            Err(OwnerFileError::Symlink(_))
        ));
        let fifo = dir.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
        assert!(matches!(
            read_bounded(&fifo, 64),
            Err(OwnerFileError::NotRegular(_))
        ));
        assert!(
            read_bounded(&dir.path().join("missing"), 8)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn append_refuses_symlink_and_tightens_mode() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("log");
        std::fs::write(&p, b"").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        drop(open_append(&p).unwrap());
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let l = dir.path().join("l");
        symlink(&p, &l).unwrap();
        assert!(matches!(open_append(&l), Err(OwnerFileError::Symlink(_))));
    }
}
