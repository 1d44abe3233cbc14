//! The hook command line written into host settings, and recognising commands Rampart owns
//! (including ones written by the Go release: quoted or bare paths, a PowerShell `& ` prefix,
//! Claude Code's historical bare `hook`).

use std::ffi::OsStr;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Quotes `s` as one POSIX shell word: `'...'`, with each `'` written as `'\''`.
pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Quotes `s` for PowerShell: `'...'`, with each `'` doubled.
pub fn ps_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Quotes `s` for cmd.exe-style command lines: `"..."`, with each `"` escaped as `\"`.
pub fn win_quote(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\\\""))
}

/// `'<bin>' hook --format <format>`: the POSIX form every host file carries.
pub fn hook_command(bin: &Path, format: &str) -> String {
    format!(
        "{} hook --format {format}",
        sh_quote(&bin.to_string_lossy())
    )
}

/// Picks the binary the hook entries should run: the running executable, or the `rampart`
/// found on `path_var` when that is the same file (so package-manager upgrades keep working).
/// An executable whose name starts with `rampart-` (a dev or side-by-side build) always
/// names itself.
pub fn resolve_binary(current_exe: &Path, path_var: Option<&OsStr>) -> PathBuf {
    let named_itself = current_exe
        .file_name()
        .and_then(OsStr::to_str)
        .is_some_and(|n| n.starts_with("rampart-"));
    if named_itself {
        return current_exe.to_path_buf();
    }
    let Ok(exe_md) = std::fs::metadata(current_exe) else {
        return current_exe.to_path_buf();
    };
    if let Some(on_path) = find_on_path("rampart", path_var)
        && let Ok(md) = std::fs::metadata(&on_path)
        && md.dev() == exe_md.dev()
        && md.ino() == exe_md.ino()
    {
        return on_path;
    }
    current_exe.to_path_buf()
}

/// The first absolute `<dir>/<name>` on `path_var` that is an executable regular file.
pub fn find_on_path(name: &str, path_var: Option<&OsStr>) -> Option<PathBuf> {
    let path_var = path_var?;
    std::env::split_paths(path_var)
        .filter(|d| d.is_absolute())
        .map(|d| d.join(name))
        .find(|p| {
            std::fs::metadata(p)
                .map(|m| m.is_file() && m.mode() & 0o111 != 0)
                .unwrap_or(false)
        })
}

/// Reads one shell-ish word at the start of `s`: a single-quoted word (POSIX `'\''` joins
/// allowed), a double-quoted word (`\"` and `\\` escapes), or a bare run of non-space
/// characters (backslashes kept, so Windows paths survive). Returns the word and the rest.
fn first_word(s: &str) -> Option<(String, &str)> {
    let bytes = s.as_bytes();
    match bytes.first()? {
        b'\'' => {
            let mut word = String::new();
            let mut rest = s;
            loop {
                let inner = rest.strip_prefix('\'')?;
                let end = inner.find('\'')?;
                word.push_str(&inner[..end]);
                rest = &inner[end + 1..];
                // `'\''` continues the word with a literal quote.
                if let Some(more) = rest.strip_prefix("\\'") {
                    word.push('\'');
                    rest = more;
                    if !rest.starts_with('\'') {
                        break;
                    }
                } else {
                    break;
                }
            }
            Some((word, rest))
        }
        b'"' => {
            let mut word = String::new();
            let mut chars = s[1..].char_indices();
            while let Some((i, c)) = chars.next() {
                match c {
                    '"' => return Some((word, &s[1 + i + 1..])),
                    '\\' => match chars.next() {
                        Some((_, e @ ('"' | '\\'))) => word.push(e),
                        Some((_, e)) => {
                            word.push('\\');
                            word.push(e);
                        }
                        None => return None,
                    },
                    c => word.push(c),
                }
            }
            None
        }
        _ => {
            let end = s.find(char::is_whitespace).unwrap_or(s.len());
            let word = &s[..end];
            if word.contains(['\'', '"']) {
                return None;
            }
            Some((word.to_string(), &s[end..]))
        }
    }
}

/// Whether `cmd` is a Rampart hook command for `format`: one executable whose file name is
/// `rampart`/`rampart.exe` (quoted or not, optionally after a PowerShell `& `) followed by
/// `hook --format <format>` — or, when `bare_hook_ok`, by just `hook` (what early Claude Code
/// setups wrote). Callers also treat the exact command they would write as Rampart's.
pub fn is_rampart_hook(cmd: &str, format: &str, bare_hook_ok: bool) -> bool {
    let cmd = cmd.trim();
    let cmd = cmd.strip_prefix("& ").map_or(cmd, str::trim_start);
    let Some((exe, rest)) = first_word(cmd) else {
        return false;
    };
    if !rest.is_empty() && !rest.starts_with(char::is_whitespace) {
        return false;
    }
    let base = exe.rsplit(['/', '\\']).next().unwrap_or_default();
    if !(base == "rampart" || base.eq_ignore_ascii_case("rampart.exe")) {
        return false;
    }
    let args: Vec<&str> = rest.split_whitespace().collect();
    args == ["hook", "--format", format] || (bare_hook_ok && args == ["hook"])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(sh_quote("/a b/it's"), r"'/a b/it'\''s'");
        assert_eq!(ps_quote("C:\\it's"), "'C:\\it''s'");
        assert_eq!(win_quote("C:\\a\"b"), "\"C:\\a\\\"b\"");
        assert_eq!(
            hook_command(Path::new("/usr/local/bin/rampart"), "cursor"),
            "'/usr/local/bin/rampart' hook --format cursor"
        );
    }

    #[test]
    fn recognises_go_written_and_current_commands() {
        for c in [
            "'/usr/local/bin/rampart' hook --format codex",
            "\"/usr/local/bin/rampart\" hook --format codex",
            "/usr/local/bin/rampart hook --format codex",
            "rampart hook --format codex",
            "& 'C:\\Program Files\\Rampart\\rampart.exe' hook --format codex",
            "\"C:\\Program Files\\Rampart\\RAMPART.EXE\" hook --format codex",
            "C:\\tools\\rampart.exe hook --format codex",
            r"'/home/o'\''brien/bin/rampart' hook --format codex",
            "  '/usr/bin/rampart'   hook  --format   codex  ",
        ] {
            assert!(is_rampart_hook(c, "codex", false), "{c}");
        }
    }

    #[test]
    fn leaves_foreign_commands_alone() {
        for c in [
            "'/usr/local/bin/rampart' hook --format claude-code",
            "'/usr/local/bin/rampart' hook",
            "'/usr/local/bin/rampart' hook --format codex --mode monitor",
            "'/usr/local/bin/rampart-dev' hook --format codex",
            "/usr/local/bin/notrampart hook --format codex",
            "echo rampart hook --format codex",
            "sh -c 'rampart hook --format codex'",
            "rampart hook --format codex; rm -rf ~",
            "'/usr/bin/rampart'x hook --format codex",
            "'/usr/bin/rampart hook --format codex",
            "",
        ] {
            assert!(!is_rampart_hook(c, "codex", false), "{c}");
        }
        assert!(is_rampart_hook(
            "/usr/local/bin/rampart hook",
            "claude-code",
            true
        ));
        assert!(is_rampart_hook("rampart hook", "claude-code", true));
        assert!(!is_rampart_hook("rampart hook", "codex", false));
    }

    #[test]
    fn binary_choice_prefers_the_same_file_on_path() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        std::fs::create_dir(&real).unwrap();
        let exe = real.join("rampart");
        std::fs::write(&exe, b"#!/bin/sh\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        std::os::unix::fs::symlink(&exe, bin.join("rampart")).unwrap();
        let path = std::env::join_paths([&bin]).unwrap();
        assert_eq!(resolve_binary(&exe, Some(&path)), bin.join("rampart"));
        // A different file on PATH is not used.
        let other = dir.path().join("other");
        std::fs::create_dir(&other).unwrap();
        std::fs::write(other.join("rampart"), b"x").unwrap();
        std::fs::set_permissions(
            other.join("rampart"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        let path = std::env::join_paths([&other]).unwrap();
        assert_eq!(resolve_binary(&exe, Some(&path)), exe);
        assert_eq!(resolve_binary(&exe, None), exe);
    }
}
