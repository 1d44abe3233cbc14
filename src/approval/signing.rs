//! Signed approval links: an HMAC-SHA256 key on disk and decision-bound link signatures.
//!
//! Unlike the reference (which signed only `approve:<id>:<exp>` and let the link approve *or*
//! deny), the decision is part of the signed message, so a deny link cannot approve.

use super::error::ApprovalError;
use super::fsutil;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::io::ErrorKind;
use std::path::Path;
use subtle::ConstantTimeEq;

/// Domain separation prefix of the signed message.
const SIGNED_PREFIX: &str = "rampart-approval-v2:";
/// Key length in bytes.
pub const KEY_LEN: usize = 32;

/// What a signed link does when used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    /// Approve the approval.
    Approve,
    /// Deny the approval.
    Deny,
}

impl Decision {
    /// The query-string spelling (`approve` / `deny`).
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approve => "approve",
            Decision::Deny => "deny",
        }
    }

    /// Parses `approve` or `deny` (ASCII case-insensitive).
    pub fn parse(s: &str) -> Option<Decision> {
        if s.eq_ignore_ascii_case("approve") {
            Some(Decision::Approve)
        } else if s.eq_ignore_ascii_case("deny") {
            Some(Decision::Deny)
        } else {
            None
        }
    }

    /// Whether this decision approves.
    pub fn approved(self) -> bool {
        self == Decision::Approve
    }
}

/// Signs and verifies approval links with one 32-byte key.
#[derive(Clone)]
pub struct Signer {
    key: [u8; KEY_LEN],
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer { key: <redacted> }")
    }
}

impl Signer {
    /// Loads the key at `path`, creating a random one (0600, exclusive) if it does not exist.
    pub fn load_or_create(path: &Path) -> Result<Signer, ApprovalError> {
        if let Some(s) = Self::load(path)? {
            return Ok(s);
        }
        if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fsutil::ensure_dir(dir, false)?;
        }
        let mut key = [0u8; KEY_LEN];
        fsutil::random_bytes(&mut key)?;
        // Write a private temp file, then hard-link it into place: the link fails if another
        // process created the key meanwhile, so an existing key is never overwritten.
        let tmp = fsutil::temp_path(path);
        if !fsutil::create_new(&tmp, &key)? {
            return Err(ApprovalError::io(
                "create",
                &tmp,
                std::io::Error::from(ErrorKind::AlreadyExists),
            ));
        }
        let linked = std::fs::hard_link(&tmp, path);
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => {
                fsutil::sync_parent(path)?;
                Ok(Signer::from_key(key))
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => Self::load(path)?.ok_or_else(|| {
                ApprovalError::io("open", path, std::io::Error::from(ErrorKind::NotFound))
            }),
            Err(e) => Err(ApprovalError::io("link", path, e)),
        }
    }

    fn load(path: &Path) -> Result<Option<Signer>, ApprovalError> {
        let Some(bytes) = fsutil::read_bounded(path, KEY_LEN)? else {
            return Ok(None);
        };
        let key: [u8; KEY_LEN] =
            bytes
                .as_slice()
                .try_into()
                .map_err(|_| ApprovalError::KeyLength {
                    path: path.to_path_buf(),
                    len: bytes.len(),
                })?;
        Ok(Some(Signer::from_key(key)))
    }

    /// A signer over an in-memory key.
    pub fn from_key(key: [u8; KEY_LEN]) -> Signer {
        Signer { key }
    }

    fn mac(&self, id: &str, decision: Decision, exp_unix: i64) -> [u8; 32] {
        // HMAC accepts keys of any length; a 32-byte key cannot fail.
        let mut mac = match <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key) {
            Ok(m) => m,
            Err(_) => return [0u8; 32],
        };
        mac.update(SIGNED_PREFIX.as_bytes());
        mac.update(decision.as_str().as_bytes());
        mac.update(b":");
        mac.update(id.as_bytes());
        mac.update(b":");
        mac.update(exp_unix.to_string().as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// The link signature for `decision` on approval `id`, valid until `exp_unix`.
    pub fn sign(&self, id: &str, decision: Decision, exp_unix: i64) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(id, decision, exp_unix))
    }

    /// Whether `sig` is the signature for exactly this id, decision and expiry, and not expired.
    pub fn verify(
        &self,
        id: &str,
        decision: Decision,
        exp_unix: i64,
        sig: &str,
        now_unix: i64,
    ) -> bool {
        if now_unix > exp_unix {
            return false;
        }
        let expected = self.sign(id, decision, exp_unix);
        expected.as_bytes().ct_eq(sig.as_bytes()).into()
    }

    /// `<base>/v1/approvals/<id>/resolve?decision=..&exp=..&sig=..` (base's trailing `/` trimmed).
    pub fn resolve_url(&self, base: &str, id: &str, decision: Decision, exp_unix: i64) -> String {
        format!(
            "{}/v1/approvals/{}/resolve?decision={}&exp={}&sig={}",
            base.trim_end_matches('/'),
            escape_path_segment(id),
            decision.as_str(),
            exp_unix,
            self.sign(id, decision, exp_unix)
        )
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn escape_path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    const ID: &str = "01J0000000000000000000000A";

    #[test]
    fn sign_verify_binds_id_decision_and_expiry() {
        let s = Signer::from_key([7u8; 32]);
        let sig = s.sign(ID, Decision::Approve, 1000);
        // Independent HMAC-SHA256 over "rampart-approval-v2:approve:<id>:1000" (Python hmac).
        assert_eq!(sig, "SUAxlZkF_vBf0bnfUBDIgxYPSfgiSgsa4vF87pLGtDA");
        assert!(s.verify(ID, Decision::Approve, 1000, &sig, 999));
        assert!(s.verify(ID, Decision::Approve, 1000, &sig, 1000));
        assert!(
            !s.verify(ID, Decision::Approve, 1000, &sig, 1001),
            "expired"
        );
        assert!(!s.verify(ID, Decision::Deny, 1000, &sig, 999), "decision");
        assert!(!s.verify(
            "01J0000000000000000000000B",
            Decision::Approve,
            1000,
            &sig,
            999
        ));
        assert!(!s.verify(ID, Decision::Approve, 1001, &sig, 999), "exp");
        let other = Signer::from_key([8u8; 32]);
        assert!(!other.verify(ID, Decision::Approve, 1000, &sig, 999), "key");
    }

    #[test]
    fn tampered_signatures_fail() {
        let s = Signer::from_key([1u8; 32]);
        let sig = s.sign(ID, Decision::Deny, 50);
        let mut bytes = sig.clone().into_bytes();
        bytes[0] = if bytes[0] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(bytes).unwrap_or_default();
        for bad in [
            flipped.as_str(),
            &sig[..sig.len() - 1],
            &format!("{sig}A"),
            &format!("{sig}="),
            "",
        ] {
            assert!(!s.verify(ID, Decision::Deny, 50, bad, 0), "{bad:?}");
        }
    }

    #[test]
    fn resolve_url_shape() {
        let s = Signer::from_key([2u8; 32]);
        let url = s.resolve_url("https://h.example/", ID, Decision::Approve, 99);
        let sig = s.sign(ID, Decision::Approve, 99);
        assert_eq!(
            url,
            format!(
                "https://h.example/v1/approvals/{ID}/resolve?decision=approve&exp=99&sig={sig}"
            )
        );
        assert_eq!(escape_path_segment("a/b c"), "a%2Fb%20c");
    }

    #[test]
    fn decision_parse() {
        assert_eq!(Decision::parse("APPROVE"), Some(Decision::Approve));
        assert_eq!(Decision::parse("deny"), Some(Decision::Deny));
        assert_eq!(Decision::parse("allow"), None);
    }

    #[test]
    fn key_file_created_private_and_reloaded() -> Result<(), ApprovalError> {
        let dir = tempfile::tempdir().map_err(|e| ApprovalError::io("tempdir", "/tmp", e))?;
        let path = dir.path().join("sub").join("signing.key");
        let a = Signer::load_or_create(&path)?;
        let md = std::fs::metadata(&path).map_err(|e| ApprovalError::io("stat", &path, e))?;
        assert_eq!(md.permissions().mode() & 0o777, 0o600);
        assert_eq!(md.len(), 32);
        let b = Signer::load_or_create(&path)?;
        assert_eq!(
            a.sign(ID, Decision::Approve, 5),
            b.sign(ID, Decision::Approve, 5)
        );
        // No temp files left behind.
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap_or(dir.path()))
            .map_err(|e| ApprovalError::io("readdir", dir.path(), e))?
            .filter_map(|e| e.ok())
            .collect();
        assert_eq!(names.len(), 1);
        Ok(())
    }

    #[test]
    fn key_file_loose_mode_is_tightened() -> Result<(), ApprovalError> {
        let dir = tempfile::tempdir().map_err(|e| ApprovalError::io("tempdir", "/tmp", e))?;
        let path = dir.path().join("signing.key");
        std::fs::write(&path, [3u8; 32]).map_err(|e| ApprovalError::io("write", &path, e))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))
            .map_err(|e| ApprovalError::io("chmod", &path, e))?;
        let s = Signer::load_or_create(&path)?;
        assert_eq!(
            s.sign(ID, Decision::Approve, 1),
            Signer::from_key([3u8; 32]).sign(ID, Decision::Approve, 1)
        );
        let md = std::fs::metadata(&path).map_err(|e| ApprovalError::io("stat", &path, e))?;
        assert_eq!(md.permissions().mode() & 0o777, 0o600);
        Ok(())
    }

    #[test]
    fn key_file_refuses_symlink_and_wrong_length() -> Result<(), ApprovalError> {
        let dir = tempfile::tempdir().map_err(|e| ApprovalError::io("tempdir", "/tmp", e))?;
        let real = dir.path().join("real.key");
        std::fs::write(&real, [1u8; 32]).map_err(|e| ApprovalError::io("write", &real, e))?;
        let link = dir.path().join("signing.key");
        std::os::unix::fs::symlink(&real, &link)
            .map_err(|e| ApprovalError::io("symlink", &link, e))?;
        assert!(matches!(
            Signer::load_or_create(&link),
            Err(ApprovalError::NotRegular(_))
        ));
        // A dangling symlink must not be followed to create a key elsewhere either.
        let dangling = dir.path().join("dangling.key");
        let elsewhere = dir.path().join("elsewhere.key");
        std::os::unix::fs::symlink(&elsewhere, &dangling)
            .map_err(|e| ApprovalError::io("symlink", &dangling, e))?;
        assert!(Signer::load_or_create(&dangling).is_err());
        assert!(!elsewhere.exists());

        for len in [0usize, 31, 33, 64] {
            let p = dir.path().join(format!("k{len}"));
            std::fs::write(&p, vec![0u8; len]).map_err(|e| ApprovalError::io("write", &p, e))?;
            match Signer::load_or_create(&p) {
                Err(ApprovalError::KeyLength { len: got, .. }) => {
                    assert_eq!(got, len.min(33));
                }
                other => panic!("len {len}: {other:?}"),
            }
        }
        Ok(())
    }
}
