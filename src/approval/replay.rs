//! Exact one-shot replay grants (§5.5): published on approval, consumed at most once.
//!
//! With a journal the grants live in `<journal>.approved-once/` so that every process sharing
//! it sees one truth: `<key>.json` holds the grant, `<key>.ready` marks it published, and
//! `<key>.consumed` is the tombstone whose exclusive creation picks the single consumer.
//! Without a journal they live in memory with the same rules.

use super::error::ApprovalError;
use super::fsutil;
use super::keys;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// How long an exact replay grant stays consumable.
pub const REPLAY_TTL: Duration = Duration::seconds(60);
/// Largest grant file read.
const MAX_GRANT_BYTES: usize = 16 * 1024;
/// Temp files older than this are stray leftovers of a crash.
const STALE_TEMP: Duration = Duration::minutes(10);

/// One published grant, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantRecord {
    /// 2 for owner-bound keys (`v2-`), 1 for admin-token keys.
    pub version: u8,
    /// The approval that granted it.
    pub approval_id: String,
    /// Unbound call fingerprint, re-checked on consumption.
    pub fingerprint: String,
    /// Who approved.
    pub resolved_by: String,
    /// When it was approved.
    pub resolved_at: DateTime<Utc>,
    /// When it stops being consumable.
    pub expires_at: DateTime<Utc>,
}

impl GrantRecord {
    /// A grant for `key`, with the version its key shape requires.
    pub fn new(
        key: &str,
        approval_id: &str,
        fingerprint: &str,
        resolved_by: &str,
        resolved_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> GrantRecord {
        GrantRecord {
            version: version_for(key),
            approval_id: approval_id.to_string(),
            fingerprint: fingerprint.to_string(),
            resolved_by: resolved_by.to_string(),
            resolved_at,
            expires_at,
        }
    }

    fn valid_for(&self, key: &str, fingerprint: &str, now: DateTime<Utc>) -> bool {
        self.version == version_for(key)
            && self.fingerprint == fingerprint
            && !self.approval_id.is_empty()
            && now < self.expires_at
    }
}

fn version_for(key: &str) -> u8 {
    if key.starts_with(keys::OWNER_BOUND_PREFIX) {
        2
    } else {
        1
    }
}

#[derive(Debug)]
enum Backend {
    Memory {
        grants: HashMap<String, GrantRecord>,
        consumed: HashMap<String, DateTime<Utc>>,
    },
    Disk {
        dir: PathBuf,
    },
}

/// The set of replay grants of one store.
#[derive(Debug)]
pub struct ReplayGrants {
    backend: Backend,
}

impl ReplayGrants {
    /// Grants kept in memory only (no journal).
    pub fn memory() -> ReplayGrants {
        ReplayGrants {
            backend: Backend::Memory {
                grants: HashMap::new(),
                consumed: HashMap::new(),
            },
        }
    }

    /// Grants kept in `dir` (created 0700; a symlink is refused).
    pub fn disk(dir: &Path) -> Result<ReplayGrants, ApprovalError> {
        fsutil::ensure_dir(dir, true)?;
        Ok(ReplayGrants {
            backend: Backend::Disk {
                dir: dir.to_path_buf(),
            },
        })
    }

    /// The grant directory belonging to a journal: `<journal>.approved-once`.
    pub fn dir_for(journal: &Path) -> PathBuf {
        let mut name = journal.file_name().unwrap_or_default().to_os_string();
        name.push(".approved-once");
        journal.with_file_name(name)
    }

    /// Publishes `grant` under `key`; refused if the key was already published or consumed.
    pub fn publish(&mut self, key: &str, grant: &GrantRecord) -> Result<(), ApprovalError> {
        if !keys::is_key(key) {
            return Err(ApprovalError::Encode {
                what: "replay grant key",
                reason: "not a dedup key".into(),
            });
        }
        match &mut self.backend {
            Backend::Memory { grants, consumed } => {
                if grants.contains_key(key) || consumed.contains_key(key) {
                    return Err(ApprovalError::GrantExists);
                }
                grants.insert(key.to_string(), grant.clone());
                Ok(())
            }
            Backend::Disk { dir } => {
                let (data, ready, tomb) = paths(dir, key);
                if fsutil::exists(&ready) || fsutil::exists(&tomb) {
                    return Err(ApprovalError::GrantExists);
                }
                let bytes = serde_json::to_vec(grant).map_err(|e| ApprovalError::Encode {
                    what: "replay grant",
                    reason: e.to_string(),
                })?;
                fsutil::write_atomic(&data, &bytes)?;
                if !fsutil::create_new(&ready, b"")? {
                    return Err(ApprovalError::GrantExists);
                }
                fsutil::sync_parent(&ready)
            }
        }
    }

    /// Consumes the grant for `key` if it is published, unexpired and matches `fingerprint`.
    ///
    /// Whatever the outcome, a published grant is never consumable twice.
    pub fn consume(
        &mut self,
        key: &str,
        fingerprint: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<GrantRecord>, ApprovalError> {
        if !keys::is_key(key) {
            return Ok(None);
        }
        match &mut self.backend {
            Backend::Memory { grants, consumed } => {
                let Some(g) = grants.remove(key) else {
                    return Ok(None);
                };
                consumed.insert(key.to_string(), now);
                Ok(g.valid_for(key, fingerprint, now).then_some(g))
            }
            Backend::Disk { dir } => {
                let (data, ready, tomb) = paths(dir, key);
                if !fsutil::exists(&ready) {
                    return Ok(None);
                }
                // The exclusive create is the cross-process decision of who consumes.
                let stamp = now.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
                if !fsutil::create_new(&tomb, stamp.as_bytes())? {
                    return Ok(None);
                }
                fsutil::sync_parent(&tomb)?;
                let grant = fsutil::read_bounded(&data, MAX_GRANT_BYTES)?
                    .filter(|b| b.len() <= MAX_GRANT_BYTES)
                    .and_then(|b| serde_json::from_slice::<GrantRecord>(&b).ok());
                fsutil::remove_if_exists(&data)?;
                fsutil::remove_if_exists(&ready)?;
                fsutil::sync_parent(&data)?;
                Ok(grant.filter(|g| g.valid_for(key, fingerprint, now)))
            }
        }
    }

    /// Whether `key` is published (ready) or already consumed.
    pub fn published_or_consumed(&self, key: &str) -> bool {
        if !keys::is_key(key) {
            return false;
        }
        match &self.backend {
            Backend::Memory { grants, consumed } => {
                grants.contains_key(key) || consumed.contains_key(key)
            }
            Backend::Disk { dir } => {
                let (_, ready, tomb) = paths(dir, key);
                fsutil::exists(&ready) || fsutil::exists(&tomb)
            }
        }
    }

    /// Drops expired grants and tombstones older than `tombstone_ttl`; best effort.
    pub fn gc(&mut self, now: DateTime<Utc>, tombstone_ttl: Duration) {
        match &mut self.backend {
            Backend::Memory { grants, consumed } => {
                grants.retain(|_, g| now < g.expires_at);
                consumed.retain(|_, t| ends_after(*t, tombstone_ttl, now));
            }
            Backend::Disk { dir } => gc_dir(dir, now, tombstone_ttl),
        }
    }
}

/// Whether `start + ttl` is still after `now` (saturating at the end of time).
fn ends_after(start: DateTime<Utc>, ttl: Duration, now: DateTime<Utc>) -> bool {
    start.checked_add_signed(ttl).is_none_or(|end| now < end)
}

fn paths(dir: &Path, key: &str) -> (PathBuf, PathBuf, PathBuf) {
    (
        dir.join(format!("{key}.json")),
        dir.join(format!("{key}.ready")),
        dir.join(format!("{key}.consumed")),
    )
}

fn modified(path: &Path) -> Option<DateTime<Utc>> {
    let md = std::fs::symlink_metadata(path).ok()?;
    md.modified().ok().map(DateTime::<Utc>::from)
}

fn gc_dir(dir: &Path, now: DateTime<Utc>, tombstone_ttl: Duration) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let path = entry.path();
        if name.contains(".tmp-") {
            if modified(&path).is_some_and(|t| !ends_after(t, STALE_TEMP, now)) {
                let _ = fsutil::remove_if_exists(&path);
            }
            continue;
        }
        if let Some(key) = name.strip_suffix(".consumed") {
            if !keys::is_key(key) {
                continue;
            }
            let stamp = fsutil::read_bounded(&path, 64)
                .ok()
                .flatten()
                .and_then(|b| String::from_utf8(b).ok())
                .and_then(|s| DateTime::parse_from_rfc3339(s.trim()).ok())
                .map(|t| t.with_timezone(&Utc))
                .or_else(|| modified(&path));
            if stamp.is_none_or(|t| !ends_after(t, tombstone_ttl, now)) {
                let _ = fsutil::remove_if_exists(&path);
            }
        } else if let Some(key) = name.strip_suffix(".json") {
            if !keys::is_key(key) {
                continue;
            }
            let expired = fsutil::read_bounded(&path, MAX_GRANT_BYTES)
                .ok()
                .flatten()
                .and_then(|b| serde_json::from_slice::<GrantRecord>(&b).ok())
                .is_none_or(|g| g.expires_at <= now);
            if expired {
                let (_, ready, _) = paths(dir, key);
                let _ = fsutil::remove_if_exists(&ready);
                let _ = fsutil::remove_if_exists(&path);
            }
        }
    }
    let _ = fsutil::sync_parent(&dir.join("."));
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
            .single()
            .unwrap_or_default()
    }

    fn grant(key: &str) -> GrantRecord {
        GrantRecord::new(
            key,
            "01J00000000000000000000000",
            "fp",
            "me",
            t0(),
            t0() + REPLAY_TTL,
        )
    }

    fn exercise(mut g: ReplayGrants) {
        let key = "a".repeat(64);
        let v2 = format!("v2-{}", "b".repeat(64));
        assert_eq!(grant(&key).version, 1);
        assert_eq!(grant(&v2).version, 2);
        assert!(!g.published_or_consumed(&key));
        assert!(g.consume(&key, "fp", t0()).ok().flatten().is_none());
        assert!(g.publish(&key, &grant(&key)).is_ok());
        assert!(matches!(
            g.publish(&key, &grant(&key)),
            Err(ApprovalError::GrantExists)
        ));
        assert!(g.published_or_consumed(&key));
        // Wrong fingerprint: burns the grant without consuming it successfully.
        assert!(g.consume(&key, "other", t0()).ok().flatten().is_none());
        assert!(g.consume(&key, "fp", t0()).ok().flatten().is_none());
        assert!(matches!(
            g.publish(&key, &grant(&key)),
            Err(ApprovalError::GrantExists)
        ));

        assert!(g.publish(&v2, &grant(&v2)).is_ok());
        let got = g.consume(&v2, "fp", t0() + Duration::seconds(59));
        assert_eq!(got.ok().flatten().map(|g| g.resolved_by), Some("me".into()));
        assert!(g.consume(&v2, "fp", t0()).ok().flatten().is_none());

        // Expired grants are not consumable.
        let k3 = "c".repeat(64);
        assert!(g.publish(&k3, &grant(&k3)).is_ok());
        assert!(
            g.consume(&k3, "fp", t0() + REPLAY_TTL)
                .ok()
                .flatten()
                .is_none()
        );

        // Tombstones are garbage collected after their ttl.
        g.gc(t0() + Duration::minutes(30), Duration::minutes(5));
        assert!(!g.published_or_consumed(&key));
        assert!(g.publish(&key, &grant(&key)).is_ok());
    }

    #[test]
    fn memory_backend_rules() {
        exercise(ReplayGrants::memory());
    }

    #[test]
    fn disk_backend_rules() -> Result<(), ApprovalError> {
        let dir = tempfile::tempdir().map_err(|e| ApprovalError::io("tempdir", "/tmp", e))?;
        let gdir = ReplayGrants::dir_for(&dir.path().join("pending.jsonl"));
        assert!(gdir.ends_with("pending.jsonl.approved-once"));
        exercise(ReplayGrants::disk(&gdir)?);
        Ok(())
    }

    #[test]
    fn disk_gc_drops_expired_grants() -> Result<(), ApprovalError> {
        let dir = tempfile::tempdir().map_err(|e| ApprovalError::io("tempdir", "/tmp", e))?;
        let mut g = ReplayGrants::disk(dir.path())?;
        let key = "d".repeat(64);
        g.publish(&key, &grant(&key))?;
        g.gc(t0() + Duration::seconds(30), Duration::minutes(5));
        assert!(g.published_or_consumed(&key), "still live");
        g.gc(t0() + Duration::seconds(61), Duration::minutes(5));
        assert!(!g.published_or_consumed(&key));
        let left = std::fs::read_dir(dir.path())
            .map_err(|e| ApprovalError::io("readdir", dir.path(), e))?
            .count();
        assert_eq!(left, 0);
        Ok(())
    }

    #[test]
    fn bad_keys_are_never_paths() {
        let mut g = ReplayGrants::memory();
        assert!(g.publish("../x", &grant("../x")).is_err());
        assert!(g.consume("../x", "fp", t0()).ok().flatten().is_none());
    }
}
