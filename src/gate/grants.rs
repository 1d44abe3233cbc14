//! Single-use (`once: true`) allow rules, consumed in a state file instead of by rewriting the
//! user's YAML (spec/engine.md §11.6 and weakness 15). A rule is identified by a fingerprint of
//! its source, policy and content; consumed fingerprints live in `~/.rampart/once-consumed.json`,
//! and consumed rules are left out when a snapshot is built. Claiming is atomic across processes
//! (lock file + re-read + atomic replace), so two hooks cannot both use one grant.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::engine::PolicySet;

/// State file name under `~/.rampart`.
pub const STATE_FILE: &str = "once-consumed.json";

/// Why a once grant could not be claimed (the call is then denied).
#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    /// Someone else used it first.
    #[error("the one-time rule was already used")]
    AlreadyClaimed,
    /// No state file location (no home directory).
    #[error("no state directory for one-time rules")]
    NoState,
    /// The state file could not be read or written.
    #[error("one-time rule state {path}: {message}")]
    State {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct StateFile {
    version: u32,
    consumed: BTreeMap<String, String>,
}

/// Fingerprints of the once rules in a snapshot, keyed by (policy name, rule index).
pub type OnceIndex = HashMap<(String, usize), String>;

/// The consumed-grants store.
#[derive(Debug, Clone)]
pub struct OnceGrants {
    path: Option<PathBuf>,
}

impl OnceGrants {
    /// The store under `home/.rampart`; `None` means once rules can never be claimed.
    pub fn for_home(home: Option<&Path>) -> OnceGrants {
        OnceGrants {
            path: home.map(|h| h.join(".rampart").join(STATE_FILE)),
        }
    }

    fn err(&self, message: impl Into<String>) -> GrantError {
        GrantError::State {
            path: self.path.clone().unwrap_or_default(),
            message: message.into(),
        }
    }

    fn read(&self) -> Result<StateFile, GrantError> {
        let Some(path) = &self.path else {
            return Ok(StateFile::default());
        };
        match std::fs::read(path) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| self.err(e.to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(StateFile::default()),
            Err(e) => Err(self.err(e.to_string())),
        }
    }

    /// Removes consumed once rules from `set` and indexes the remaining ones. When the state
    /// cannot be read, every once rule is removed (fail closed).
    pub fn filter(&self, set: &mut PolicySet) -> OnceIndex {
        let consumed = self.read().map(|s| s.consumed);
        let mut index = OnceIndex::new();
        for sp in &mut set.policies {
            let name = sp
                .policy
                .name
                .as_ref()
                .map(|n| n.0.clone())
                .unwrap_or_default();
            let source = sp.origin.source.clone();
            let Some(rules) = sp.policy.rules.as_mut() else {
                continue;
            };
            let mut seen: HashMap<String, usize> = HashMap::new();
            let mut kept = Vec::with_capacity(rules.len());
            for r in rules.drain(..) {
                if r.once != Some(true) {
                    kept.push(r);
                    continue;
                }
                let content = format!("{r:?}");
                let n = seen.entry(content.clone()).or_default();
                *n += 1;
                let fp = fingerprint(&source, &name, &content, *n);
                let used = match &consumed {
                    Ok(c) => c.contains_key(&fp),
                    Err(_) => true,
                };
                if !used {
                    index.insert((name.clone(), kept.len()), fp);
                    kept.push(r);
                }
            }
            *rules = kept;
        }
        index
    }

    /// Marks `fp` consumed; fails if it already was (another process won).
    pub fn claim(&self, fp: &str) -> Result<(), GrantError> {
        let path = self.path.clone().ok_or(GrantError::NoState)?;
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        std::fs::create_dir_all(&dir).map_err(|e| self.err(e.to_string()))?;
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path.with_extension("json.lock"))
            .map_err(|e| self.err(e.to_string()))?;
        lock.lock().map_err(|e| self.err(e.to_string()))?;
        let mut st = self.read()?;
        if st.consumed.contains_key(fp) {
            return Err(GrantError::AlreadyClaimed);
        }
        st.version = 1;
        st.consumed.insert(
            fp.to_string(),
            chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        );
        let tmp = path.with_extension(format!("json.tmp{}", std::process::id()));
        let text = serde_json::to_vec_pretty(&st).map_err(|e| self.err(e.to_string()))?;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| self.err(e.to_string()))?;
        f.write_all(&text)
            .and_then(|_| f.sync_all())
            .map_err(|e| self.err(e.to_string()))?;
        std::fs::rename(&tmp, &path).map_err(|e| self.err(e.to_string()))?;
        Ok(())
    }
}

fn fingerprint(source: &str, policy: &str, content: &str, nth: usize) -> String {
    let mut h = Sha256::new();
    for part in [source, policy, content, &nth.to_string()] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    hex::encode(h.finalize())
}
