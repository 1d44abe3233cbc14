//! The definition file on disk: inspecting what is already there, staging a new version next
//! to it, and swapping versions in atomically.

use std::io::Write;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use super::ServiceError;
use crate::cli::owner_file::{self, OwnerFileError};

const DEFINITION_MAX: u64 = 1024 * 1024;

/// What is at the definition path.
pub enum Existing {
    /// Nothing.
    Missing,
    /// A regular file we manage, with its bytes.
    Managed(Vec<u8>),
}

/// Looks at `path`: symlinks, non-regular files and files `managed` does not recognise are
/// errors, whatever the caller intends to do next.
pub fn inspect(path: &Path, managed: fn(&str) -> bool) -> Result<Existing, ServiceError> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Existing::Missing),
        Err(e) => return Err(OwnerFileError::io("stat", path, e).into()),
        Ok(md) if md.file_type().is_symlink() => {
            return Err(ServiceError::Symlink(path.to_path_buf()));
        }
        Ok(md) if !md.is_file() => return Err(ServiceError::NotRegular(path.to_path_buf())),
        Ok(_) => {}
    }
    let bytes = match owner_file::read_bounded(path, DEFINITION_MAX) {
        Ok(Some(b)) => b,
        Ok(None) => return Ok(Existing::Missing),
        Err(OwnerFileError::Symlink(p)) => return Err(ServiceError::Symlink(p)),
        Err(OwnerFileError::NotRegular(p)) => return Err(ServiceError::NotRegular(p)),
        Err(e) => return Err(e.into()),
    };
    if !managed(&String::from_utf8_lossy(&bytes)) {
        return Err(ServiceError::NotManaged(path.to_path_buf()));
    }
    Ok(Existing::Managed(bytes))
}

/// A private scratch directory beside the definition (`.rampart-staging-*`, 0700), removed
/// with everything in it when dropped. Service managers ignore dot-directories in their
/// search paths, and a staged file can be renamed into place atomically.
pub struct Staging {
    dir: PathBuf,
}

impl Staging {
    /// Creates the scratch directory inside `parent`.
    pub fn create(parent: &Path) -> Result<Staging, ServiceError> {
        let dir = parent.join(format!(".rampart-staging-{}", ulid::Ulid::generate()));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(|e| OwnerFileError::io("create directory", &dir, e))?;
        Ok(Staging { dir })
    }

    /// Writes `bytes` to a new 0600 file `name` in the scratch directory and returns its path.
    pub fn write(&self, name: &str, bytes: &[u8]) -> Result<PathBuf, ServiceError> {
        let path = self.dir.join(name);
        let mut f = owner_file::create_exclusive(&path)?;
        f.write_all(bytes)
            .and_then(|()| f.sync_all())
            .map_err(|e| OwnerFileError::io("write", &path, e))?;
        Ok(path)
    }

    /// Writes `bytes` and renames the result over `dest` (same directory tree, so atomic).
    pub fn put(&self, name: &str, bytes: &[u8], dest: &Path) -> Result<(), ServiceError> {
        let staged = self.write(name, bytes)?;
        move_into_place(&staged, dest)
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Renames `staged` over `dest` and syncs the directory.
pub fn move_into_place(staged: &Path, dest: &Path) -> Result<(), ServiceError> {
    std::fs::rename(staged, dest).map_err(|e| OwnerFileError::io("rename", dest, e))?;
    if let Some(dir) = dest.parent() {
        owner_file::sync_dir(dir);
    }
    Ok(())
}

/// Puts the previous definition back (or removes ours when there was none).
pub fn restore(staging: &Staging, path: &Path, previous: &Existing) -> Result<(), ServiceError> {
    match previous {
        Existing::Managed(bytes) => staging.put("restore", bytes, path),
        Existing::Missing => Ok(owner_file::remove_if_exists(path)?),
    }
}
