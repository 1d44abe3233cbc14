//! The bootstrap admin token: resolution at serve start, rotation, and the server-side check
//! that follows `~/.rampart/token` while the server runs.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::error::CredError;
use super::secret::{digest_eq, generate_token, sha256};
use super::secure_file::{FileLock, FileStamp, TOKEN_FILE_CAP, read_private, write_private};

/// Environment variable that supplies the admin token (server start and clients).
pub const TOKEN_ENV: &str = "RAMPART_TOKEN";
/// After a changed token file could not be used, how long to wait before reading it again.
pub const RELOAD_RETRY: Duration = Duration::from_secs(1);

/// `<home>/.rampart`.
pub fn rampart_dir(home: &Path) -> PathBuf {
    home.join(".rampart")
}

/// `<home>/.rampart/token`, the admin token file.
pub fn admin_token_path(home: &Path) -> PathBuf {
    rampart_dir(home).join("token")
}

/// Checks that a token string is usable: non-empty after trimming, no control characters.
///
/// Any other string is accepted as-is, so tokens from older releases (64 hex, 32 hex) keep
/// working; only newly generated tokens have the `rampart_` + 48 hex shape.
pub fn validate_token(token: &str) -> Result<&str, CredError> {
    let t = token.trim();
    if t.is_empty() {
        return Err(CredError::InvalidToken("empty"));
    }
    if t.chars().any(char::is_control) {
        return Err(CredError::InvalidToken("contains control characters"));
    }
    Ok(t)
}

/// Reads the admin token file: `Ok(None)` when it is missing or blank, an error when it is a
/// symlink, not a regular file, oversized, or not a usable token.
pub fn read_token_file(path: &Path) -> Result<Option<String>, CredError> {
    match read_private(path, TOKEN_FILE_CAP)? {
        None => Ok(None),
        Some(f) => parse_token_bytes(&f.bytes, path),
    }
}

fn parse_token_bytes(bytes: &[u8], path: &Path) -> Result<Option<String>, CredError> {
    let text = std::str::from_utf8(bytes).map_err(|_| CredError::Corrupt {
        path: path.to_path_buf(),
        reason: "not UTF-8".into(),
    })?;
    if text.trim().is_empty() {
        return Ok(None);
    }
    match validate_token(text) {
        Ok(t) => Ok(Some(t.to_string())),
        Err(e) => Err(CredError::Corrupt {
            path: path.to_path_buf(),
            reason: e.to_string(),
        }),
    }
}

/// Writes a fresh token to `<home>/.rampart/token` (0600, atomic) and returns it.
pub fn rotate(home: &Path) -> Result<String, CredError> {
    let path = admin_token_path(home);
    let _lock = FileLock::acquire(&path)?;
    let token = generate_token()?;
    write_private(&path, token.as_bytes())?;
    Ok(token)
}

/// Short form of a token for logs: the first 4 characters (after a `rampart_` prefix) and `…`.
pub fn token_prefix(token: &str) -> String {
    let (lead, rest) = match token.strip_prefix(super::secret::TOKEN_PREFIX) {
        Some(rest) => (super::secret::TOKEN_PREFIX, rest),
        None => ("", token),
    };
    let head: String = rest.chars().take(4).collect();
    format!("{lead}{head}…")
}

/// The bootstrap admin token as a running server holds it.
///
/// When built from a file, every check first `lstat`s the file (one syscall) and compares its
/// stamp (device, inode, size, mtime, ctime, mode) with the version it last read; only a
/// difference triggers a re-read. This makes `rampart token rotate` take effect in a running
/// server without a restart.
///
/// Reload policy:
/// * the file changed and now holds a valid token → that token is the only one accepted from
///   then on; the previous token stops working at once;
/// * the file was deleted, became a symlink / non-regular / oversized, or holds no usable token
///   → the **last good token stays in force**. A transient or accidental problem with the file
///   must not lock the administrator out of a running server, and nothing an attacker can do
///   to the file this way grants access that was not already granted. A broken file is retried
///   when it changes again, or after [`RELOAD_RETRY`].
#[derive(Debug)]
pub struct AdminToken {
    path: Option<PathBuf>,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    token: String,
    digest: [u8; 32],
    /// Stamp of the file version last examined (`None`: absent).
    seen: Option<FileStamp>,
    /// Set when the version in `seen` could not be used.
    failed_at: Option<Instant>,
}

impl AdminToken {
    /// Resolves the token for `rampart serve` and persists it: `RAMPART_TOKEN` (trimmed) →
    /// `<home>/.rampart/token` → a newly generated one. Returns the holder and the token.
    pub fn load_for_serve(home: &Path) -> Result<(AdminToken, String), CredError> {
        let env = std::env::var(TOKEN_ENV).ok();
        AdminToken::load_for_serve_with(home, env.as_deref())
    }

    /// [`AdminToken::load_for_serve`] with the environment value passed in.
    pub fn load_for_serve_with(
        home: &Path,
        env_token: Option<&str>,
    ) -> Result<(AdminToken, String), CredError> {
        let path = admin_token_path(home);
        let _lock = FileLock::acquire(&path)?;
        let on_disk = read_private(&path, TOKEN_FILE_CAP)?;
        let from_env = match env_token.map(str::trim) {
            Some(t) if !t.is_empty() => Some(validate_token(t)?.to_string()),
            _ => None,
        };
        let token = match from_env {
            Some(t) => t,
            None => match &on_disk {
                Some(f) => match parse_token_bytes(&f.bytes, &path)? {
                    Some(t) => t,
                    None => generate_token()?,
                },
                None => generate_token()?,
            },
        };
        let identical = on_disk
            .as_ref()
            .is_some_and(|f| f.bytes == token.as_bytes());
        if !identical {
            write_private(&path, token.as_bytes())?;
        }
        let seen = FileStamp::of(&path)?;
        let holder = AdminToken {
            state: Mutex::new(State {
                digest: sha256(&token),
                token: token.clone(),
                seen,
                failed_at: None,
            }),
            path: Some(path),
        };
        Ok((holder, token))
    }

    /// Follows the token file at `path`, which must currently hold a usable token.
    pub fn from_file(path: &Path) -> Result<AdminToken, CredError> {
        let f = read_private(path, TOKEN_FILE_CAP)?
            .ok_or_else(|| CredError::io("read", path, std::io::ErrorKind::NotFound.into()))?;
        let token = parse_token_bytes(&f.bytes, path)?.ok_or_else(|| CredError::Corrupt {
            path: path.to_path_buf(),
            reason: "empty".into(),
        })?;
        Ok(AdminToken {
            state: Mutex::new(State {
                digest: sha256(&token),
                token,
                seen: Some(f.stamp),
                failed_at: None,
            }),
            path: Some(path.to_path_buf()),
        })
    }

    /// A token held only in memory (never reloaded), e.g. for an in-process server.
    pub fn fixed(token: &str) -> Result<AdminToken, CredError> {
        let token = validate_token(token)?.to_string();
        Ok(AdminToken {
            state: Mutex::new(State {
                digest: sha256(&token),
                token,
                seen: None,
                failed_at: None,
            }),
            path: None,
        })
    }

    /// True when `presented` is the current admin token (constant-time; picks up rotation).
    pub fn matches(&self, presented: &str) -> bool {
        let mut st = self.lock();
        // A file problem is reported by `refresh`; here it just means "last good token".
        let _ = self.refresh_locked(&mut st);
        let candidate = sha256(presented);
        digest_eq(&st.digest, &candidate) && !presented.is_empty()
    }

    /// Re-reads the token file if it changed. `Ok(true)`: a new token is now in force;
    /// `Ok(false)`: nothing changed; `Err`: the file changed but is unusable (or was deleted),
    /// and the last good token stays in force. Lets the server log reload problems.
    pub fn refresh(&self) -> Result<bool, CredError> {
        let mut st = self.lock();
        self.refresh_locked(&mut st)
    }

    /// The log-safe short form of the token currently in force.
    pub fn prefix(&self) -> String {
        token_prefix(&self.lock().token)
    }

    /// The token file this holder follows, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while the lock is held; recover the data rather than propagate.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn refresh_locked(&self, st: &mut State) -> Result<bool, CredError> {
        let Some(path) = &self.path else {
            return Ok(false);
        };
        let now = FileStamp::of(path);
        let retry_due = st.failed_at.is_some_and(|t| t.elapsed() >= RELOAD_RETRY);
        if let Ok(stamp) = &now
            && *stamp == st.seen
            && (st.failed_at.is_none() || !retry_due)
        {
            return match st.failed_at {
                None => Ok(false),
                Some(_) => Err(CredError::Corrupt {
                    path: path.clone(),
                    reason: "unusable since last change; keeping the previous token".into(),
                }),
            };
        }
        let outcome = now.and_then(|stamp| {
            st.seen = stamp;
            match read_private(path, TOKEN_FILE_CAP)? {
                None => Err(CredError::io(
                    "read",
                    path,
                    std::io::ErrorKind::NotFound.into(),
                )),
                Some(f) => {
                    st.seen = Some(f.stamp);
                    parse_token_bytes(&f.bytes, path)?.ok_or_else(|| CredError::Corrupt {
                        path: path.clone(),
                        reason: "empty".into(),
                    })
                }
            }
        });
        match outcome {
            Ok(token) => {
                st.failed_at = None;
                if token == st.token {
                    return Ok(false);
                }
                st.digest = sha256(&token);
                st.token = token;
                Ok(true)
            }
            Err(e) => {
                st.failed_at = Some(Instant::now());
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::secret::{is_generated_shape, probe};
    use std::os::unix::fs::PermissionsExt;

    fn home() -> tempfile::TempDir {
        tempfile::tempdir().unwrap()
    }

    fn mode(p: &Path) -> u32 {
        std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn generates_and_persists_when_nothing_exists() {
        let h = home();
        let (admin, tok) = AdminToken::load_for_serve_with(h.path(), None).unwrap();
        assert!(is_generated_shape(&tok));
        let p = admin_token_path(h.path());
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            tok,
            "no trailing newline"
        );
        assert_eq!(mode(&p), 0o600);
        assert_eq!(mode(&rampart_dir(h.path())), 0o700);
        assert!(admin.matches(&tok));
        assert!(!admin.matches("nope"));
        assert!(!admin.matches(""));
    }

    #[test]
    fn env_wins_over_file_and_is_trimmed_and_persisted() {
        let h = home();
        write_private(&admin_token_path(h.path()), b"fromfile").unwrap();
        let (admin, tok) = AdminToken::load_for_serve_with(h.path(), Some("  fromenv \n")).unwrap();
        assert_eq!(tok, "fromenv");
        assert_eq!(
            std::fs::read_to_string(admin_token_path(h.path())).unwrap(),
            "fromenv"
        );
        assert!(admin.matches("fromenv"));
        assert!(!admin.matches("fromfile"));
    }

    #[test]
    fn blank_env_falls_back_to_file_and_legacy_tokens_are_kept() {
        let h = home();
        let legacy = "ab".repeat(32);
        let p = admin_token_path(h.path());
        write_private(&p, legacy.as_bytes()).unwrap();
        let before = FileStamp::of(&p).unwrap();
        let (admin, tok) = AdminToken::load_for_serve_with(h.path(), Some("   ")).unwrap();
        assert_eq!(tok, legacy);
        assert!(admin.matches(&legacy));
        assert_eq!(
            FileStamp::of(&p).unwrap(),
            before,
            "identical: not rewritten"
        );
    }

    #[test]
    fn file_with_newline_is_trimmed_and_normalised() {
        let h = home();
        let p = admin_token_path(h.path());
        write_private(&p, b"tok123\n").unwrap();
        let (_, tok) = AdminToken::load_for_serve_with(h.path(), None).unwrap();
        assert_eq!(tok, "tok123");
        assert_eq!(std::fs::read(&p).unwrap(), b"tok123");
    }

    #[test]
    fn symlinked_token_file_aborts_load() {
        let h = home();
        let real = h.path().join("elsewhere");
        std::fs::write(&real, "tok").unwrap();
        std::fs::create_dir_all(rampart_dir(h.path())).unwrap();
        std::os::unix::fs::symlink(&real, admin_token_path(h.path())).unwrap();
        assert!(matches!(
            AdminToken::load_for_serve_with(h.path(), None),
            Err(CredError::Symlink(_))
        ));
        assert!(matches!(
            read_token_file(&admin_token_path(h.path())),
            Err(CredError::Symlink(_))
        ));
    }

    #[test]
    fn rotation_takes_effect_without_recreating() {
        let h = home();
        let (admin, old) = AdminToken::load_for_serve_with(h.path(), None).unwrap();
        assert!(admin.matches(&old));
        let new = rotate(h.path()).unwrap();
        assert_ne!(old, new);
        assert!(admin.matches(&new));
        assert!(!admin.matches(&old), "old token must stop working");
        assert_eq!(admin.prefix(), token_prefix(&new));
    }

    #[test]
    fn in_place_edit_is_noticed() {
        let h = home();
        let p = admin_token_path(h.path());
        write_private(&p, b"first-token").unwrap();
        let admin = AdminToken::from_file(&p).unwrap();
        // Rewrite the same inode with a same-length token, a clock tick later (file times are
        // coarse-grained; same inode, size and times within one tick is indistinguishable).
        std::thread::sleep(Duration::from_millis(30));
        std::fs::write(&p, b"other-token").unwrap();
        assert!(admin.matches("other-token"));
        assert!(!admin.matches("first-token"));
    }

    #[test]
    fn broken_or_deleted_file_keeps_last_good_token() {
        let h = home();
        let (admin, tok) = AdminToken::load_for_serve_with(h.path(), None).unwrap();
        let p = admin_token_path(h.path());
        std::fs::remove_file(&p).unwrap();
        assert!(admin.matches(&tok));
        assert!(admin.refresh().is_err());
        // Blank file: still the last good one.
        std::fs::write(&p, b"   ").unwrap();
        assert!(admin.matches(&tok));
        assert!(!admin.matches("   "));
        // A symlink to a file holding another token is refused, not followed.
        let other = h.path().join("other");
        std::fs::write(&other, b"attacker").unwrap();
        std::fs::remove_file(&p).unwrap();
        std::os::unix::fs::symlink(&other, &p).unwrap();
        assert!(!admin.matches("attacker"));
        assert!(admin.matches(&tok));
        // A valid file again: the new token replaces the old.
        std::fs::remove_file(&p).unwrap();
        write_private(&p, b"fresh").unwrap();
        assert!(admin.matches("fresh"));
        assert!(!admin.matches(&tok));
        assert!(!admin.refresh().unwrap());
    }

    #[test]
    fn loose_permissions_are_repaired_on_reload() {
        let h = home();
        let (admin, _) = AdminToken::load_for_serve_with(h.path(), None).unwrap();
        let p = admin_token_path(h.path());
        std::fs::write(&p, b"t2").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(admin.matches("t2"));
        assert_eq!(mode(&p), 0o600);
    }

    #[test]
    fn matches_goes_through_constant_time_compare() {
        let admin = AdminToken::fixed("secret").unwrap();
        let before = probe::hits();
        assert!(admin.matches("secret"));
        assert!(!admin.matches("secreT"));
        assert_eq!(probe::hits() - before, 2);
    }

    #[test]
    fn prefix_hides_the_token() {
        assert_eq!(token_prefix("abcdef0123"), "abcd…");
        assert_eq!(
            token_prefix("rampart_0123456789abcdef0123456789abcdef0123456789abcdef"),
            "rampart_0123…"
        );
        assert_eq!(token_prefix("ab"), "ab…");
        assert_eq!(AdminToken::fixed("zzzzzz").unwrap().prefix(), "zzzz…");
    }

    #[test]
    fn invalid_tokens_rejected() {
        assert!(AdminToken::fixed("  ").is_err());
        assert!(AdminToken::fixed("a\u{7}b").is_err());
        let h = home();
        let p = admin_token_path(h.path());
        write_private(&p, b"bad\x01token").unwrap();
        assert!(matches!(
            AdminToken::load_for_serve_with(h.path(), None),
            Err(CredError::Corrupt { .. })
        ));
    }
}
