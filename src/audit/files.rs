//! Chain file naming, listing in chain order, and safe opening (no symlinks, 0600/0700).

use super::error::AuditError;
use chrono::NaiveDate;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Prefix of the files this writer creates.
pub const HOOK_PREFIX: &str = "audit-hook-";
/// Append-only anchor log written by this writer.
pub const ANCHOR_LOG: &str = "audit-anchors.jsonl";
/// The Go writer's single (overwritten) anchor file.
pub const GO_ANCHOR_FILE: &str = "audit-anchor.json";
/// Lock file taken around every batch write; its first block holds the chain checkpoint.
pub const LOCK_FILE: &str = ".rampart-audit.lock";
/// Turnstile taken just before the lock file so waiting writers are served in turn.
pub const GATE_FILE: &str = ".rampart-audit.gate";
/// CEF output when no syslog is configured.
pub const CEF_LOG: &str = "cef.log";

/// Naming scheme of a chain file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scheme {
    /// Go reference: `YYYY-MM-DD[.pN].jsonl`.
    Plain,
    /// Ours: `audit-hook-YYYY-MM-DD[.pN].jsonl`.
    Hook,
}

/// One chain file and its place in the order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainFile {
    /// Full path.
    pub path: PathBuf,
    /// File name.
    pub name: String,
    /// UTC day.
    pub date: NaiveDate,
    /// Naming scheme.
    pub scheme: Scheme,
    /// Rotation part (0 for the day's first file).
    pub part: u32,
}

impl ChainFile {
    fn key(&self) -> (NaiveDate, Scheme, u32) {
        (self.date, self.scheme, self.part)
    }
}

/// Parses a chain file name; `None` when the name is not part of the chain.
pub fn parse_name(name: &str) -> Option<(NaiveDate, Scheme, u32)> {
    let (scheme, rest) = match name.strip_prefix(HOOK_PREFIX) {
        Some(r) => (Scheme::Hook, r),
        None => (Scheme::Plain, name),
    };
    let rest = rest.strip_suffix(".jsonl")?;
    let date_str = rest.get(..10)?;
    let tail = rest.get(10..)?;
    if !date_str.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
        return None;
    }
    let date = NaiveDate::parse_from_str(date_str, "%Y-%m-%d").ok()?;
    let part = if tail.is_empty() {
        0
    } else {
        let digits = tail.strip_prefix(".p")?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let n: u32 = digits.parse().ok()?;
        if n == 0 {
            return None;
        }
        n
    };
    Some((date, scheme, part))
}

/// The name this writer gives the file for `date`, part `part`.
pub fn file_name(date: NaiveDate, part: u32) -> String {
    if part == 0 {
        format!("{HOOK_PREFIX}{}.jsonl", date.format("%Y-%m-%d"))
    } else {
        format!("{HOOK_PREFIX}{}.p{part}.jsonl", date.format("%Y-%m-%d"))
    }
}

/// Lists the chain files of `dir` in chain order; a symlinked or non-regular `.jsonl` is an error.
pub fn list_chain_files(dir: &Path) -> Result<Vec<ChainFile>, AuditError> {
    let rd = std::fs::read_dir(dir).map_err(|e| AuditError::io("read directory", dir, e))?;
    let mut out = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|e| AuditError::io("read directory", dir, e))?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if !name.ends_with(".jsonl") {
            continue;
        }
        let path = entry.path();
        let Some((date, scheme, part)) = parse_name(&name) else {
            continue;
        };
        let md = std::fs::symlink_metadata(&path).map_err(|e| AuditError::io("stat", &path, e))?;
        if !md.file_type().is_file() {
            return Err(AuditError::NotRegular(path));
        }
        out.push(ChainFile {
            path,
            name,
            date,
            scheme,
            part,
        });
    }
    out.sort_by_key(|f| f.key());
    Ok(out)
}

/// Creates `dir` (and parents) with mode 0700 and tightens an existing one; refuses a symlink.
pub fn ensure_dir(dir: &Path) -> Result<(), AuditError> {
    match std::fs::symlink_metadata(dir) {
        Ok(md) if md.file_type().is_symlink() || !md.is_dir() => {
            return Err(AuditError::NotRegular(dir.to_path_buf()));
        }
        Ok(md) => {
            if md.permissions().mode() & 0o777 != 0o700 {
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                    .map_err(|e| AuditError::io("chmod", dir, e))?;
            }
        }
        Err(_) => {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| AuditError::io("create directory", dir, e))?;
            // The umask may have removed bits; mode must be exactly 0700.
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| AuditError::io("chmod", dir, e))?;
        }
    }
    Ok(())
}

/// Opens (creating with 0600) a file for appending, refusing symlinks and non-regular files.
pub fn open_append(path: &Path) -> Result<File, AuditError> {
    let f = OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| AuditError::io("open", path, e))?;
    check_regular(&f, path)?;
    Ok(f)
}

/// Opens a file read-only, refusing symlinks and non-regular files.
pub fn open_read(path: &Path) -> Result<File, AuditError> {
    let f = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| AuditError::io("open", path, e))?;
    check_regular(&f, path)?;
    Ok(f)
}

fn check_regular(f: &File, path: &Path) -> Result<(), AuditError> {
    let md = f.metadata().map_err(|e| AuditError::io("stat", path, e))?;
    if !md.is_file() {
        return Err(AuditError::NotRegular(path.to_path_buf()));
    }
    if md.permissions().mode() & 0o077 != 0 && md.len() == 0 {
        // Freshly created under a permissive umask: enforce 0600.
        f.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(|e| AuditError::io("chmod", path, e))?;
    }
    Ok(())
}

/// fsyncs a directory so a newly created entry survives a crash.
pub fn sync_dir(dir: &Path) -> Result<(), AuditError> {
    let d = File::open(dir).map_err(|e| AuditError::io("open directory", dir, e))?;
    d.sync_all()
        .map_err(|e| AuditError::io("fsync directory", dir, e))
}

/// The default audit directory, `~/.rampart/audit`.
pub fn default_dir() -> PathBuf {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".rampart").join("audit")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let d = NaiveDate::from_ymd_opt(2026, 2, 11).unwrap();
        assert_eq!(parse_name("2026-02-11.jsonl"), Some((d, Scheme::Plain, 0)));
        assert_eq!(
            parse_name("2026-02-11.p10.jsonl"),
            Some((d, Scheme::Plain, 10))
        );
        assert_eq!(
            parse_name("audit-hook-2026-02-11.p2.jsonl"),
            Some((d, Scheme::Hook, 2))
        );
        assert_eq!(parse_name("audit-hook-2026-02-11.p0.jsonl"), None);
        assert_eq!(parse_name("audit-anchors.jsonl"), None);
        assert_eq!(parse_name("2026-13-11.jsonl"), None);
        assert_eq!(file_name(d, 0), "audit-hook-2026-02-11.jsonl");
        assert_eq!(file_name(d, 3), "audit-hook-2026-02-11.p3.jsonl");
    }
}
