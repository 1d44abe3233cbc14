//! The pending-approvals journal: fsynced JSONL appends, atomic compaction, bounded restore.
//!
//! One record per line; the latest record for an id wins. Appends and compactions take a
//! cross-process lock on the sidecar `<file>.rampart.lock`.

use super::error::ApprovalError;
use super::fsutil;
use super::keys;
use super::model::{Approval, CallSnapshot, Status};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

/// Status written for a pending approval of the admin token.
const PENDING: &str = "pending";
/// Status written for a pending approval bound to a per-agent credential.
const PENDING_OWNER: &str = "pending-v2";

/// Bounds applied when a journal is restored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestoreLimits {
    /// Largest journal file accepted (bytes).
    pub max_file_bytes: u64,
    /// Most lines read.
    pub max_lines: usize,
    /// Largest single record; longer lines are skipped.
    pub max_record_bytes: usize,
    /// Most bytes of live (pending) records held while replaying.
    pub max_live_bytes: usize,
    /// Most approvals restored (oldest first).
    pub max_restored: usize,
}

impl Default for RestoreLimits {
    fn default() -> Self {
        RestoreLimits {
            max_file_bytes: 256 * 1024 * 1024,
            max_lines: 100_000,
            max_record_bytes: 4 * 1024 * 1024,
            max_live_bytes: 128 * 1024 * 1024,
            max_restored: 1000,
        }
    }
}

/// What a restore found.
#[derive(Debug, Default)]
pub struct Restored {
    /// Live pending approvals, oldest first.
    pub approvals: Vec<Approval>,
    /// Lines or records skipped (malformed, oversized, expired, terminal, granted, over cap).
    pub skipped: usize,
}

/// One journal line.
#[derive(Debug, Serialize, Deserialize)]
struct Record {
    id: String,
    tool: String,
    #[serde(default)]
    agent: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    agent_depth: u32,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    session: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    run_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    tool_call_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    workdir: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    command: String,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    params: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    input: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    matched_policies: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    message: String,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    resolved_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    resolved_by: Option<String>,
    status: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    persisted: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    owner_scope: String,
}

fn is_zero(v: &u32) -> bool {
    *v == 0
}

impl Record {
    fn from_approval(a: &Approval) -> Record {
        let status = match a.status {
            Status::Pending if a.owner_scope.is_empty() => PENDING,
            Status::Pending => PENDING_OWNER,
            other => other.as_str(),
        };
        Record {
            id: a.id.clone(),
            tool: a.call.tool.clone(),
            agent: a.call.agent.clone(),
            agent_depth: a.call.agent_depth,
            session: a.call.session.clone(),
            run_id: a.call.run_id.clone(),
            tool_call_id: a.call.tool_call_id.clone(),
            workdir: a.call.workdir.clone(),
            command: a.command(),
            params: a.call.params.clone(),
            input: a.call.input.clone(),
            matched_policies: a.matched_policies.clone(),
            message: a.message.clone(),
            created_at: a.created_at,
            expires_at: a.expires_at,
            resolved_at: a.resolved_at,
            resolved_by: a.resolved_by.clone(),
            status: status.to_string(),
            persisted: a.persisted,
            owner_scope: a.owner_scope.clone(),
        }
    }

    fn is_pending(&self) -> bool {
        self.status == PENDING || self.status == PENDING_OWNER
    }

    /// The pending approval this record describes, if it is well-formed and consistent.
    fn into_pending(self) -> Option<Approval> {
        let owner_ok = match self.status.as_str() {
            PENDING => self.owner_scope.is_empty(),
            PENDING_OWNER => keys::is_digest(&self.owner_scope),
            _ => false,
        };
        if !owner_ok || ulid::Ulid::from_string(&self.id).is_err() || self.tool.is_empty() {
            return None;
        }
        if self.expires_at < self.created_at {
            return None;
        }
        let call = CallSnapshot {
            tool: self.tool,
            agent: self.agent,
            agent_depth: self.agent_depth,
            session: self.session,
            run_id: self.run_id,
            tool_call_id: self.tool_call_id,
            workdir: self.workdir,
            params: self.params,
            input: self.input,
        };
        let dedup_key = keys::dedup_key(&call, &self.owner_scope);
        Some(Approval {
            id: self.id,
            call,
            message: self.message,
            matched_policies: self.matched_policies,
            status: Status::Pending,
            created_at: self.created_at,
            expires_at: self.expires_at,
            resolved_at: None,
            resolved_by: None,
            persisted: false,
            dedup_key,
            owner_scope: self.owner_scope,
        })
    }
}

/// Encodes one approval as a journal line (with trailing newline).
fn encode(a: &Approval) -> Result<Vec<u8>, ApprovalError> {
    let mut line =
        serde_json::to_vec(&Record::from_approval(a)).map_err(|e| ApprovalError::Encode {
            what: "journal record",
            reason: e.to_string(),
        })?;
    line.push(b'\n');
    Ok(line)
}

/// The journal file and its sidecar lock.
#[derive(Debug, Clone)]
pub struct Journal {
    path: PathBuf,
    lock_path: PathBuf,
}

impl Journal {
    /// A journal at `path`; creates the parent directory (0700) if it is missing.
    pub fn open(path: &Path) -> Result<Journal, ApprovalError> {
        if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fsutil::ensure_dir(dir, false)?;
        }
        let mut lock_name = path.file_name().unwrap_or_default().to_os_string();
        lock_name.push(".rampart.lock");
        Ok(Journal {
            path: path.to_path_buf(),
            lock_path: path.with_file_name(lock_name),
        })
    }

    /// The journal file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> Result<File, ApprovalError> {
        let f = fsutil::open_append(&self.lock_path)?;
        f.lock()
            .map_err(|e| ApprovalError::io("lock", &self.lock_path, e))?;
        Ok(f)
    }

    /// Appends the approval's current state and fsyncs before returning.
    pub fn append(&self, a: &Approval) -> Result<(), ApprovalError> {
        let line = encode(a)?;
        let _guard = self.lock()?;
        let mut f = fsutil::open_append(&self.path)?;
        f.write_all(&line)
            .and_then(|()| f.sync_data())
            .map_err(|e| ApprovalError::io("append", &self.path, e))
    }

    /// Rewrites the journal to exactly `pending`, in the given (oldest-first) order, atomically.
    pub fn compact(&self, pending: &[&Approval]) -> Result<(), ApprovalError> {
        let mut data = Vec::new();
        for a in pending {
            data.extend_from_slice(&encode(a)?);
        }
        let _guard = self.lock()?;
        fsutil::write_atomic(&self.path, &data)
    }

    /// Replays the journal: the latest record per id, keeping live pending approvals only.
    ///
    /// `granted(key)` reports whether a replay grant for a dedup key is already published or
    /// consumed; such approvals were answered before a crash and are not restored.
    pub fn restore(
        &self,
        now: DateTime<Utc>,
        limits: RestoreLimits,
        granted: &dyn Fn(&str) -> bool,
    ) -> Result<Restored, ApprovalError> {
        let Some(file) = fsutil::open_read(&self.path)? else {
            return Ok(Restored::default());
        };
        let size = file
            .metadata()
            .map_err(|e| ApprovalError::io("stat", &self.path, e))?
            .len();
        if size > limits.max_file_bytes {
            return Err(self.limit(format!(
                "{size} bytes exceeds the {} byte limit",
                limits.max_file_bytes
            )));
        }
        let mut reader = BufReader::new(file.take(limits.max_file_bytes));
        // id -> latest pending record, its size and line number (None once terminal).
        let mut latest: HashMap<String, Option<(Record, usize, usize)>> = HashMap::new();
        let mut live_bytes = 0usize;
        let mut lines = 0usize;
        let mut skipped = 0usize;
        let mut buf = Vec::new();
        loop {
            buf.clear();
            let cap = limits.max_record_bytes as u64 + 1;
            let n = (&mut reader)
                .take(cap)
                .read_until(b'\n', &mut buf)
                .map_err(|e| ApprovalError::io("read", &self.path, e))?;
            if n == 0 {
                break;
            }
            lines += 1;
            if lines > limits.max_lines {
                return Err(self.limit(format!("more than {} lines", limits.max_lines)));
            }
            if buf.last() != Some(&b'\n') && n as u64 == cap {
                // Oversized record: drop the rest of the line.
                skip_line(&mut reader).map_err(|e| ApprovalError::io("read", &self.path, e))?;
                skipped += 1;
                continue;
            }
            let line = buf.trim_ascii();
            if line.is_empty() {
                continue;
            }
            // A torn last line (crash mid-append) simply fails to parse and is skipped.
            let Ok(rec) = serde_json::from_slice::<Record>(line) else {
                skipped += 1;
                continue;
            };
            let id = rec.id.clone();
            let entry = if rec.is_pending() {
                live_bytes += line.len();
                Some((rec, line.len(), lines))
            } else {
                None
            };
            if let Some(Some((_, old, _))) = latest.insert(id, entry) {
                live_bytes -= old;
            }
            if live_bytes > limits.max_live_bytes {
                return Err(self.limit(format!(
                    "more than {} bytes of pending records",
                    limits.max_live_bytes
                )));
            }
        }
        let mut approvals = Vec::new();
        for (_, entry) in latest {
            let Some((rec, _, line_no)) = entry else {
                skipped += 1;
                continue;
            };
            match rec.into_pending() {
                Some(a)
                    if a.expires_at > now
                        && !a
                            .dedup_key
                            .as_deref()
                            .is_some_and(|k| a.call.replayable() && granted(k)) =>
                {
                    approvals.push((a, line_no));
                }
                _ => skipped += 1,
            }
        }
        // Oldest first; ties keep journal order, which is creation order.
        approvals.sort_by_key(|(a, line_no)| (a.created_at, *line_no));
        let mut approvals: Vec<Approval> = approvals.into_iter().map(|(a, _)| a).collect();
        if approvals.len() > limits.max_restored {
            skipped += approvals.len() - limits.max_restored;
            approvals.truncate(limits.max_restored);
        }
        Ok(Restored { approvals, skipped })
    }

    fn limit(&self, reason: String) -> ApprovalError {
        ApprovalError::JournalLimit {
            path: self.path.clone(),
            reason,
        }
    }
}

fn skip_line(reader: &mut impl BufRead) -> std::io::Result<()> {
    loop {
        let avail = reader.fill_buf()?;
        if avail.is_empty() {
            return Ok(());
        }
        if let Some(pos) = memchr::memchr(b'\n', avail) {
            reader.consume(pos + 1);
            return Ok(());
        }
        let len = avail.len();
        reader.consume(len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0)
            .single()
            .unwrap_or_default()
    }

    fn approval(n: u64, owner: &str) -> Approval {
        let created = t0() + Duration::seconds(n as i64);
        Approval {
            id: ulid::Ulid::from_parts(n, 0).to_string(),
            call: CallSnapshot {
                tool: "exec".into(),
                agent: "a".into(),
                params: serde_json::json!({"command": format!("echo {n}")})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
                ..Default::default()
            },
            message: "m".into(),
            matched_policies: vec!["p".into()],
            status: Status::Pending,
            created_at: created,
            expires_at: created + Duration::minutes(2),
            resolved_at: None,
            resolved_by: None,
            persisted: false,
            dedup_key: None,
            owner_scope: owner.into(),
        }
    }

    fn setup() -> (tempfile::TempDir, Journal) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let j = Journal::open(&dir.path().join("j.jsonl")).unwrap_or_else(|e| panic!("{e}"));
        (dir, j)
    }

    fn restore(j: &Journal, limits: RestoreLimits) -> Result<Restored, ApprovalError> {
        j.restore(t0(), limits, &|_| false)
    }

    fn append_raw(j: &Journal, bytes: &[u8]) {
        let mut f = fsutil::open_append(j.path()).unwrap_or_else(|e| panic!("{e}"));
        f.write_all(bytes).unwrap_or_else(|e| panic!("{e}"));
    }

    #[test]
    fn latest_record_wins_and_terminal_removes() -> Result<(), ApprovalError> {
        let (_d, j) = setup();
        let a = approval(1, "");
        let b = approval(2, &"e".repeat(64));
        j.append(&a)?;
        j.append(&b)?;
        let mut done = a.clone();
        done.status = Status::Denied;
        done.resolved_at = Some(t0());
        done.resolved_by = Some("x".into());
        j.append(&done)?;
        let r = restore(&j, RestoreLimits::default())?;
        assert_eq!(r.approvals, vec![b]);
        assert_eq!(r.skipped, 1);
        Ok(())
    }

    #[test]
    fn owner_status_must_match_owner_scope() -> Result<(), ApprovalError> {
        let (_d, j) = setup();
        let mut bad = approval(1, "");
        bad.owner_scope = "not-a-digest".into();
        j.append(&bad)?; // written as pending-v2 with a malformed scope
        let mut lie =
            serde_json::to_value(Record::from_approval(&approval(2, ""))).unwrap_or_default();
        lie["status"] = Value::String("pending-v2".into());
        append_raw(&j, format!("{lie}\n").as_bytes());
        let r = restore(&j, RestoreLimits::default())?;
        assert!(r.approvals.is_empty());
        assert_eq!(r.skipped, 2);
        Ok(())
    }

    #[test]
    fn oversized_malformed_and_torn_lines_are_skipped() -> Result<(), ApprovalError> {
        let (_d, j) = setup();
        let limits = RestoreLimits {
            max_record_bytes: 1024,
            ..RestoreLimits::default()
        };
        j.append(&approval(1, ""))?;
        append_raw(&j, &[b'x'; 5000]);
        append_raw(&j, b"\nnot json\n\n{\"id\":1}\n");
        j.append(&approval(2, ""))?;
        let torn = encode(&approval(3, ""))?;
        append_raw(&j, &torn[..torn.len() / 2]);
        let r = restore(&j, limits)?;
        let ids: Vec<_> = r.approvals.iter().map(|a| a.id.clone()).collect();
        assert_eq!(ids, vec![approval(1, "").id, approval(2, "").id]);
        assert_eq!(r.skipped, 4);
        Ok(())
    }

    #[test]
    fn file_level_limits_refuse() -> Result<(), ApprovalError> {
        let (_d, j) = setup();
        for n in 1..=5 {
            j.append(&approval(n, ""))?;
        }
        let lines = RestoreLimits {
            max_lines: 4,
            ..RestoreLimits::default()
        };
        assert!(matches!(
            restore(&j, lines),
            Err(ApprovalError::JournalLimit { .. })
        ));
        let size = RestoreLimits {
            max_file_bytes: 100,
            ..RestoreLimits::default()
        };
        assert!(matches!(
            restore(&j, size),
            Err(ApprovalError::JournalLimit { .. })
        ));
        let live = RestoreLimits {
            max_live_bytes: 600,
            ..RestoreLimits::default()
        };
        assert!(matches!(
            restore(&j, live),
            Err(ApprovalError::JournalLimit { .. })
        ));
        let cap = RestoreLimits {
            max_restored: 3,
            ..RestoreLimits::default()
        };
        let r = restore(&j, cap)?;
        assert_eq!(r.approvals.len(), 3);
        assert_eq!(r.approvals[0].id, approval(1, "").id, "oldest kept");
        assert_eq!(r.skipped, 2);
        Ok(())
    }

    #[test]
    fn expired_and_granted_are_skipped() -> Result<(), ApprovalError> {
        let (_d, j) = setup();
        let mut old = approval(1, "");
        old.expires_at = t0();
        j.append(&old)?;
        let mut granted = approval(2, "");
        granted.call.run_id = "r".into();
        granted.call.tool_call_id = "t".into();
        j.append(&granted)?;
        let key = keys::dedup_key(&granted.call, "").unwrap_or_default();
        let r = j.restore(t0(), RestoreLimits::default(), &|k| k == key)?;
        assert!(r.approvals.is_empty());
        let r = j.restore(t0(), RestoreLimits::default(), &|_| false)?;
        assert_eq!(r.approvals.len(), 1);
        assert_eq!(r.approvals[0].dedup_key.as_deref(), Some(key.as_str()));
        Ok(())
    }

    #[test]
    fn compact_keeps_exactly_the_given_set() -> Result<(), ApprovalError> {
        let (_d, j) = setup();
        let (a, b) = (approval(1, ""), approval(2, ""));
        j.append(&a)?;
        j.append(&approval(3, ""))?;
        j.compact(&[&b, &a])?;
        let text = std::fs::read_to_string(j.path()).unwrap_or_default();
        assert_eq!(text.lines().count(), 2);
        assert_eq!(restore(&j, RestoreLimits::default())?.approvals, vec![a, b]);
        Ok(())
    }
}
