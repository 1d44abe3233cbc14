//! Finding the real shell (a `which`-style `PATH` lookup that never returns Rampart itself or a
//! shim) and installing the shim: a symlink named [`SHIM_NAME`] to the running `rampart`
//! binary in a private per-run directory.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The name the `rampart` binary answers to as a shell (`argv[0]` dispatch).
pub const SHIM_NAME: &str = "rampart-shell";
/// Environment variable carrying the real shell to the shim.
pub const REAL_SHELL_ENV: &str = "RAMPART_REAL_SHELL";

/// Why no real shell was found.
#[derive(Debug, thiserror::Error)]
pub enum ShellError {
    /// Nothing usable among the candidates.
    #[error("no real shell found (tried {tried}); set SHELL to a shell such as /bin/bash")]
    NotFound {
        /// The candidates tried, comma-separated.
        tried: String,
    },
    /// The shim directory could not be created.
    #[error("installing the shell shim in {dir}: {source}")]
    Install {
        /// The directory.
        dir: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Whether `argv0` names the shim (`rampart-shell`, a path ending in it, or `-rampart-shell` as
/// a login shell's `argv[0]`).
pub fn is_shim_name(argv0: &OsStr) -> bool {
    let b = argv0.as_bytes();
    let base = b.rsplit(|&c| c == b'/').next().unwrap_or(b);
    base.strip_prefix(b"-").unwrap_or(base) == SHIM_NAME.as_bytes()
}

/// `name` as `which` finds it: a name with a `/` is taken as a path, anything else is looked up
/// in the directories of `path_var`; only executable regular files count.
pub fn which(name: &OsStr, path_var: Option<&OsStr>) -> Option<PathBuf> {
    if name.is_empty() {
        return None;
    }
    if name.as_bytes().contains(&b'/') {
        let p = PathBuf::from(name);
        return is_executable(&p).then_some(p);
    }
    std::env::split_paths(path_var?)
        .map(|d| {
            if d.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                d
            }
        })
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The real shell: the first of `candidates` (`$RAMPART_REAL_SHELL`, `$SHELL`, …), then `bash`
/// and `sh`, that `which` finds and that is neither a shim nor the `rampart` binary `me`.
pub fn resolve_real_shell(
    candidates: &[Option<OsString>],
    path_var: Option<&OsStr>,
    me: Option<&Path>,
) -> Result<PathBuf, ShellError> {
    let me = me.and_then(|m| std::fs::canonicalize(m).ok());
    let mut tried = Vec::new();
    let fallbacks = [Some(OsString::from("bash")), Some(OsString::from("sh"))];
    for name in candidates.iter().chain(fallbacks.iter()).flatten() {
        if name.is_empty() {
            continue;
        }
        tried.push(name.to_string_lossy().into_owned());
        if is_shim_name(name) {
            continue;
        }
        let Some(found) = which(name, path_var) else {
            continue;
        };
        let canon = std::fs::canonicalize(&found).unwrap_or_else(|_| found.clone());
        if me.as_deref() == Some(canon.as_path()) {
            continue;
        }
        // Absolute, so it names the same file from any working directory.
        return Ok(std::path::absolute(&found).unwrap_or(found));
    }
    Err(ShellError::NotFound {
        tried: tried.join(", "),
    })
}

/// What the shim links to: the small `rampart-shell` binary cargo builds next to `rampart`
/// when it is there (it starts faster), else `rampart` itself (which answers to the name).
pub fn shim_target(rampart: &Path) -> PathBuf {
    rampart
        .parent()
        .map(|d| d.join(SHIM_NAME))
        .filter(|p| is_executable(p))
        .unwrap_or_else(|| rampart.to_path_buf())
}

/// A private directory holding the shim; removed when dropped.
#[derive(Debug)]
pub struct ShimDir {
    dir: PathBuf,
}

impl ShimDir {
    /// Creates `<tmp>/rampart-wrap-<random>/` (0700) with [`SHIM_NAME`] linked to `exe`.
    pub fn install(tmp: &Path, exe: &Path) -> Result<ShimDir, ShellError> {
        let mut last = None;
        for _ in 0..8 {
            let mut rand = [0u8; 8];
            if getrandom::fill(&mut rand).is_err() {
                rand = u64::from(std::process::id()).to_le_bytes();
            }
            let dir = tmp.join(format!("rampart-wrap-{}", hex::encode(rand)));
            match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
                Ok(()) => {
                    let d = ShimDir { dir };
                    std::os::unix::fs::symlink(exe, d.shim()).map_err(|source| {
                        ShellError::Install {
                            dir: d.dir.clone(),
                            source,
                        }
                    })?;
                    return Ok(d);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
                Err(source) => return Err(ShellError::Install { dir, source }),
            }
        }
        Err(ShellError::Install {
            dir: tmp.to_path_buf(),
            source: last.unwrap_or_else(|| std::io::Error::other("no free name")),
        })
    }

    /// The shim's path (what `SHELL` is set to).
    pub fn shim(&self) -> PathBuf {
        self.dir.join(SHIM_NAME)
    }
}

impl Drop for ShimDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.shim());
        let _ = std::fs::remove_dir(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shim_names() {
        assert!(is_shim_name(OsStr::new("rampart-shell")));
        assert!(is_shim_name(OsStr::new("/tmp/x/rampart-shell")));
        assert!(is_shim_name(OsStr::new("-rampart-shell")));
        assert!(!is_shim_name(OsStr::new("rampart")));
        assert!(!is_shim_name(OsStr::new("/bin/bash")));
    }

    #[test]
    fn real_shell_is_never_the_shim_or_rampart() {
        let tmp = std::env::temp_dir().join(format!("wrap-shell-test-{}", std::process::id()));
        let bin = tmp.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let fake_rampart = bin.join("rampart");
        std::fs::write(&fake_rampart, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&fake_rampart, std::fs::Permissions::from_mode(0o755)).unwrap();
        let d = ShimDir::install(&tmp, &fake_rampart).unwrap();
        let shim = d.shim();
        // $SHELL pointing at the shim, or at a link to rampart under another name, is skipped.
        let alias = bin.join("bash");
        std::os::unix::fs::symlink(&fake_rampart, &alias).unwrap();
        let path = std::env::join_paths([
            bin.clone(),
            PathBuf::from("/usr/bin"),
            PathBuf::from("/bin"),
        ])
        .unwrap();
        let got = resolve_real_shell(
            &[Some(shim.clone().into()), Some(alias.clone().into())],
            Some(&path),
            Some(&fake_rampart),
        )
        .unwrap();
        assert_ne!(std::fs::canonicalize(&got).unwrap(), fake_rampart);
        assert!(got.ends_with("bash") || got.ends_with("sh"), "{got:?}");
        let err = resolve_real_shell(
            &[Some(shim.into())],
            Some(OsStr::new("")),
            Some(&fake_rampart),
        );
        assert!(err.is_err());
        let dir = shim_dir(&d);
        drop(d);
        assert!(!dir.exists());
        let _ = std::fs::remove_dir_all(&tmp);
    }

    fn shim_dir(d: &ShimDir) -> PathBuf {
        d.dir.clone()
    }
}
