//! Owner-only files: atomic 0600 writes, guarded reads, change stamps and a cross-process lock.
//!
//! Reads refuse symlinks, non-regular files and oversized files, re-check that the opened file
//! is the one that was checked (`O_NOFOLLOW` + `fstat`), and tighten loose permissions back to
//! 0600. Writes go through a 0600 temp file in the same directory, fsync, then `rename`, so a
//! reader sees either the old or the new content, never a torn file.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};

use super::error::CredError;

/// Size cap for single-token files (`~/.rampart/token`).
pub const TOKEN_FILE_CAP: u64 = 1 << 20;
/// Size cap for the per-agent token store (`~/.rampart/tokens.json`).
pub const STORE_FILE_CAP: u64 = 16 << 20;
/// Suffix of the sidecar lock file taken around read-modify-write cycles.
pub const LOCK_SUFFIX: &str = ".rampart.lock";
/// How long [`FileLock::acquire`] waits for another process before giving up.
pub const LOCK_WAIT: Duration = Duration::from_secs(10);

/// What identifies one version of a file: inode, size, times and mode.
///
/// A writer that replaces the file by rename changes the inode; an in-place edit changes size
/// or mtime/ctime; a `chmod` changes mode and ctime. Any difference means "read it again".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
    mode: u32,
}

impl FileStamp {
    /// The stamp of already-fetched metadata.
    pub fn from_metadata(md: &std::fs::Metadata) -> FileStamp {
        FileStamp {
            dev: md.dev(),
            ino: md.ino(),
            size: md.size(),
            mtime: (md.mtime(), md.mtime_nsec()),
            ctime: (md.ctime(), md.ctime_nsec()),
            mode: md.mode(),
        }
    }

    /// `lstat`s `path` (links are not followed); `Ok(None)` when nothing is there.
    pub fn of(path: &Path) -> Result<Option<FileStamp>, CredError> {
        match std::fs::symlink_metadata(path) {
            Ok(md) => Ok(Some(FileStamp::from_metadata(&md))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(CredError::io("stat", path, e)),
        }
    }
}

/// The content of a file read by [`read_private`] and the stamp of what was read.
#[derive(Debug)]
pub struct PrivateFile {
    /// The bytes read.
    pub bytes: Vec<u8>,
    /// Stamp of the opened file after any permission repair.
    pub stamp: FileStamp,
}

/// Creates `dir` (with parents) as 0700, or tightens an existing one that group/others can use.
pub fn ensure_private_dir(dir: &Path) -> Result<(), CredError> {
    match std::fs::metadata(dir) {
        Ok(md) if !md.is_dir() => Err(CredError::NotRegular(dir.to_path_buf())),
        Ok(md) => {
            if md.permissions().mode() & 0o077 != 0 {
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                    .map_err(|e| CredError::io("chmod", dir, e))?;
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| CredError::io("create directory", dir, e))?;
            // The umask can only remove bits, but make the mode exact anyway.
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| CredError::io("chmod", dir, e))
        }
        Err(e) => Err(CredError::io("stat", dir, e)),
    }
}

/// Reads `path` if it is a regular, non-symlinked file of at most `cap` bytes; `Ok(None)` when
/// it does not exist. Loose permissions are tightened to 0600 before the content is returned.
pub fn read_private(path: &Path, cap: u64) -> Result<Option<PrivateFile>, CredError> {
    let before = match std::fs::symlink_metadata(path) {
        Ok(md) => md,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(CredError::io("stat", path, e)),
    };
    check_kind(&before, path)?;
    let file = match OpenOptions::new()
        .read(true)
        // O_NONBLOCK: a FIFO swapped in after the lstat must not hang the reader.
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(CredError::Symlink(path.to_path_buf()));
        }
        Err(e) => return Err(CredError::io("open", path, e)),
    };
    let mut md = file
        .metadata()
        .map_err(|e| CredError::io("stat", path, e))?;
    check_kind(&md, path)?;
    if md.dev() != before.dev() || md.ino() != before.ino() {
        return Err(CredError::Changed(path.to_path_buf()));
    }
    if md.size() > cap {
        return Err(CredError::TooLarge {
            path: path.to_path_buf(),
            limit: cap,
        });
    }
    if md.mode() & 0o077 != 0 {
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(|e| CredError::io("chmod", path, e))?;
        md = file
            .metadata()
            .map_err(|e| CredError::io("stat", path, e))?;
    }
    let mut bytes = Vec::with_capacity(usize::try_from(md.size()).unwrap_or(0));
    (&file)
        .take(cap.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| CredError::io("read", path, e))?;
    if bytes.len() as u64 > cap {
        return Err(CredError::TooLarge {
            path: path.to_path_buf(),
            limit: cap,
        });
    }
    Ok(Some(PrivateFile {
        bytes,
        stamp: FileStamp::from_metadata(&md),
    }))
}

fn check_kind(md: &std::fs::Metadata, path: &Path) -> Result<(), CredError> {
    let ft = md.file_type();
    if ft.is_symlink() {
        return Err(CredError::Symlink(path.to_path_buf()));
    }
    if !ft.is_file() {
        return Err(CredError::NotRegular(path.to_path_buf()));
    }
    Ok(())
}

/// Replaces `path` with `bytes` atomically: 0600 temp file in the same directory, fsync,
/// rename, fsync of the directory. The parent directory is created 0700 if missing.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), CredError> {
    let dir = parent_of(path);
    ensure_private_dir(&dir)?;
    let (tmp_path, mut tmp) = create_temp(path, &dir)?;
    let result = (|| {
        tmp.write_all(bytes)
            .map_err(|e| CredError::io("write", &tmp_path, e))?;
        tmp.sync_all()
            .map_err(|e| CredError::io("fsync", &tmp_path, e))?;
        std::fs::rename(&tmp_path, path).map_err(|e| CredError::io("rename into", path, e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp_path);
        return result;
    }
    // The rename is done; a failed directory fsync only weakens crash durability.
    let _ = File::open(&dir).and_then(|d| d.sync_all());
    Ok(())
}

fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn create_temp(path: &Path, dir: &Path) -> Result<(PathBuf, File), CredError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".to_string());
    let mut last_err = None;
    for _ in 0..8 {
        let mut salt = [0u8; 8];
        getrandom::fill(&mut salt).map_err(|e| CredError::Random(e.to_string()))?;
        let tmp_path = dir.join(format!(".{name}.tmp-{}", hex::encode(salt)));
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&tmp_path)
        {
            Ok(f) => {
                // Exact 0600 whatever the umask.
                f.set_permissions(std::fs::Permissions::from_mode(0o600))
                    .map_err(|e| CredError::io("chmod", &tmp_path, e))?;
                return Ok((tmp_path, f));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last_err = Some(e),
            Err(e) => return Err(CredError::io("create", &tmp_path, e)),
        }
    }
    Err(CredError::io(
        "create temp file for",
        path,
        last_err.unwrap_or_else(|| std::io::Error::other("no unique name")),
    ))
}

/// An exclusive `flock` on the sidecar `<file>.rampart.lock`, held until dropped.
#[derive(Debug)]
pub struct FileLock {
    _lock: Flock<File>,
}

impl FileLock {
    /// The sidecar lock path for `path`.
    pub fn lock_path(path: &Path) -> PathBuf {
        let mut s = path.as_os_str().to_os_string();
        s.push(LOCK_SUFFIX);
        PathBuf::from(s)
    }

    /// Takes the lock for `path`, waiting up to [`LOCK_WAIT`]; creates the parent 0700 and the
    /// lock file 0600 if needed.
    pub fn acquire(path: &Path) -> Result<FileLock, CredError> {
        FileLock::acquire_within(path, LOCK_WAIT)
    }

    /// Like [`FileLock::acquire`] with an explicit wait.
    pub fn acquire_within(path: &Path, wait: Duration) -> Result<FileLock, CredError> {
        ensure_private_dir(&parent_of(path))?;
        let lock_path = FileLock::lock_path(path);
        let open = || {
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
                .open(&lock_path)
        };
        let mut file = match open() {
            Ok(f) => f,
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
                return Err(CredError::Symlink(lock_path));
            }
            Err(e) => return Err(CredError::io("open lock", &lock_path, e)),
        };
        let md = file
            .metadata()
            .map_err(|e| CredError::io("stat", &lock_path, e))?;
        if !md.is_file() {
            return Err(CredError::NotRegular(lock_path));
        }
        let deadline = Instant::now() + wait;
        loop {
            match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
                Ok(lock) => return Ok(FileLock { _lock: lock }),
                Err((f, errno))
                    if errno == nix::errno::Errno::EWOULDBLOCK
                        || errno == nix::errno::Errno::EINTR =>
                {
                    if Instant::now() >= deadline {
                        return Err(CredError::LockTimeout(lock_path));
                    }
                    file = f;
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err((_, errno)) => {
                    return Err(CredError::io(
                        "lock",
                        &lock_path,
                        std::io::Error::from_raw_os_error(errno as i32),
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn write_creates_owner_only_file_and_dir() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("a").join(".rampart");
        let f = dir.join("token");
        write_private(&f, b"secret").unwrap();
        assert_eq!(mode(&f), 0o600);
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(std::fs::read(&f).unwrap(), b"secret");
        // No temp files left behind.
        let names: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn write_replaces_symlink_instead_of_following_it() {
        let t = tempfile::tempdir().unwrap();
        let victim = t.path().join("victim");
        std::fs::write(&victim, b"untouched").unwrap();
        let f = t.path().join("token");
        std::os::unix::fs::symlink(&victim, &f).unwrap();
        write_private(&f, b"new").unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"untouched");
        assert!(std::fs::symlink_metadata(&f).unwrap().is_file());
    }

    #[test]
    fn existing_loose_dir_is_tightened() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join(".rampart");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        write_private(&dir.join("x"), b"1").unwrap();
        assert_eq!(mode(&dir), 0o700);
    }

    #[test]
    fn read_refuses_symlink() {
        let t = tempfile::tempdir().unwrap();
        let real = t.path().join("real");
        std::fs::write(&real, b"tok").unwrap();
        let link = t.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        assert!(matches!(
            read_private(&link, 100),
            Err(CredError::Symlink(_))
        ));
    }

    #[test]
    fn read_refuses_directory_and_fifo() {
        let t = tempfile::tempdir().unwrap();
        assert!(matches!(
            read_private(t.path(), 100),
            Err(CredError::NotRegular(_))
        ));
        let fifo = t.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
        assert!(matches!(
            read_private(&fifo, 100),
            Err(CredError::NotRegular(_))
        ));
    }

    #[test]
    fn read_refuses_oversized() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("big");
        std::fs::write(&f, vec![b'a'; 101]).unwrap();
        assert!(matches!(
            read_private(&f, 100),
            Err(CredError::TooLarge { limit: 100, .. })
        ));
        assert_eq!(read_private(&f, 101).unwrap().unwrap().bytes.len(), 101);
    }

    #[test]
    fn read_missing_is_none_and_rehardens() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("tok");
        assert!(read_private(&f, 100).unwrap().is_none());
        std::fs::write(&f, b"abc").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        let got = read_private(&f, 100).unwrap().unwrap();
        assert_eq!(got.bytes, b"abc");
        assert_eq!(mode(&f), 0o600);
        assert_eq!(Some(got.stamp), FileStamp::of(&f).unwrap());
    }

    #[test]
    fn stamp_changes_on_replace_and_chmod() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("tok");
        write_private(&f, b"one").unwrap();
        let a = FileStamp::of(&f).unwrap();
        write_private(&f, b"two").unwrap();
        let b = FileStamp::of(&f).unwrap();
        assert_ne!(a, b);
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert_ne!(b, FileStamp::of(&f).unwrap());
        std::fs::remove_file(&f).unwrap();
        assert_eq!(FileStamp::of(&f).unwrap(), None);
    }

    #[test]
    fn lock_is_exclusive_and_released_on_drop() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("tokens.json");
        let held = FileLock::acquire(&f).unwrap();
        let lp = FileLock::lock_path(&f);
        assert!(lp.ends_with("tokens.json.rampart.lock"));
        assert_eq!(mode(&lp), 0o600);
        // flock locks belong to the open file description, so a second open conflicts.
        assert!(matches!(
            FileLock::acquire_within(&f, Duration::from_millis(50)),
            Err(CredError::LockTimeout(_))
        ));
        drop(held);
        FileLock::acquire_within(&f, Duration::from_millis(50)).unwrap();
    }
}
