//! Correlating a native `ask` with its outcome (Claude Code): when the hook answers `ask`, the
//! pending ask is remembered per host session; a later `PostToolUse` for the same tool-use id
//! means the person approved it in the host's prompt, which the hook then records.
//!
//! State lives in `~/.rampart/session-state/<session>.json` (0600, rewritten atomically under a
//! lock); files untouched for a day are removed.

use std::collections::BTreeMap;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

/// State files older than this are removed.
const MAX_AGE: Duration = Duration::from_secs(24 * 3600);
/// Most pending asks kept per session.
const MAX_PENDING: usize = 256;

/// One ask waiting for its outcome.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PendingAsk {
    /// Canonical tool.
    pub tool: String,
    /// The command, path or URL asked about.
    pub subject: String,
    /// When the hook asked (RFC 3339).
    pub asked_at: String,
    /// The deciding policy.
    pub policy_name: String,
    /// The rule's message.
    pub decision_message: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    #[serde(default)]
    session_id: String,
    #[serde(default)]
    pending_asks: BTreeMap<String, PendingAsk>,
}

/// The state store under `~/.rampart/session-state`.
#[derive(Debug, Clone)]
pub struct AskState {
    dir: PathBuf,
}

fn safe(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl AskState {
    /// The store for `home`.
    pub fn for_home(home: &Path) -> AskState {
        AskState {
            dir: home.join(".rampart").join("session-state"),
        }
    }

    fn file(&self, session: &str) -> Option<PathBuf> {
        safe(session).then(|| self.dir.join(format!("{session}.json")))
    }

    fn with_state<T>(
        &self,
        session: &str,
        create: bool,
        f: impl FnOnce(&mut State) -> (bool, T),
    ) -> std::io::Result<Option<T>> {
        let Some(path) = self.file(session) else {
            return Ok(None);
        };
        if !create && !path.exists() {
            return Ok(None);
        }
        std::fs::create_dir_all(&self.dir)?;
        let lock = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(self.dir.join(".lock"))?;
        lock.lock()?;
        let mut st: State = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        st.session_id = session.to_string();
        let (changed, out) = f(&mut st);
        if changed {
            if st.pending_asks.is_empty() {
                let _ = std::fs::remove_file(&path);
            } else {
                let tmp = self
                    .dir
                    .join(format!(".{session}.{}.tmp", std::process::id()));
                let text = serde_json::to_vec(&st).map_err(std::io::Error::other)?;
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .mode(0o600)
                    .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                    .open(&tmp)?;
                std::io::Write::write_all(&mut f, &text)?;
                std::fs::rename(&tmp, &path)?;
            }
        }
        Ok(Some(out))
    }

    /// Remembers an ask for `tool_use_id` in `session` and prunes stale sessions.
    pub fn remember(
        &self,
        session: &str,
        tool_use_id: &str,
        ask: PendingAsk,
    ) -> std::io::Result<()> {
        if !safe(tool_use_id) {
            return Ok(());
        }
        self.prune();
        self.with_state(session, true, |st| {
            if st.pending_asks.len() >= MAX_PENDING
                && let Some(k) = st.pending_asks.keys().next().cloned()
            {
                st.pending_asks.remove(&k);
            }
            st.pending_asks.insert(tool_use_id.to_string(), ask);
            (true, ())
        })?;
        Ok(())
    }

    /// Takes the pending ask for `tool_use_id`, if the hook asked about it.
    pub fn take(&self, session: &str, tool_use_id: &str) -> std::io::Result<Option<PendingAsk>> {
        Ok(self
            .with_state(session, false, |st| {
                let a = st.pending_asks.remove(tool_use_id);
                (a.is_some(), a)
            })?
            .flatten())
    }

    /// Removes state files untouched for a day.
    fn prune(&self) {
        let Ok(rd) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let now = SystemTime::now();
        for e in rd.flatten() {
            let old = e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| now.duration_since(t).ok())
                .is_some_and(|age| age > MAX_AGE);
            if old && e.file_name().to_string_lossy().ends_with(".json") {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask() -> PendingAsk {
        PendingAsk {
            tool: "exec".into(),
            subject: "shred x".into(),
            asked_at: "2026-11-23T10:00:00Z".into(),
            policy_name: "p".into(),
            decision_message: "m".into(),
        }
    }

    #[test]
    fn remember_then_take_once() {
        let h = tempfile::tempdir().unwrap();
        let s = AskState::for_home(h.path());
        s.remember("sess-1", "toolu_1", ask()).unwrap();
        assert_eq!(s.take("sess-1", "toolu_2").unwrap(), None);
        assert_eq!(s.take("sess-1", "toolu_1").unwrap(), Some(ask()));
        assert_eq!(s.take("sess-1", "toolu_1").unwrap(), None);
        // The emptied file is gone.
        assert!(!h.path().join(".rampart/session-state/sess-1.json").exists());
    }

    #[test]
    fn unsafe_ids_are_ignored() {
        let h = tempfile::tempdir().unwrap();
        let s = AskState::for_home(h.path());
        s.remember("../../etc", "toolu_1", ask()).unwrap();
        assert_eq!(s.take("../../etc", "toolu_1").unwrap(), None);
        assert!(!h.path().join(".rampart/session-state").exists());
    }
}
