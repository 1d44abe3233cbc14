//! The live policy: an immutable compiled snapshot behind a swappable `Arc`, reloaded from the
//! one resolver, keeping the last good snapshot when a reload fails.

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use crate::engine::compile::compile_owned;
use crate::engine::resolve::{self, ResolveOptions};
use crate::engine::{CompiledPolicySet, LoadError};

/// One loaded policy generation.
#[derive(Debug)]
pub struct Snapshot {
    /// The compiled policies.
    pub compiled: CompiledPolicySet,
    /// Where the base policy came from (`embedded:standard` or a file path).
    pub config_path: String,
    /// Every file (or embedded profile) that contributed.
    pub sources: Vec<String>,
    /// Loader warnings (skipped project policies, ...).
    pub warnings: Vec<String>,
    /// When this generation was loaded.
    pub loaded_at: SystemTime,
    /// How long load + compile took.
    pub load_time: Duration,
    /// Fingerprints of the unconsumed `once` rules.
    pub once: super::grants::OnceIndex,
    /// The `notify:` block (reloaded with the policy).
    pub notify: Option<crate::engine::model::Notify>,
}

impl Snapshot {
    /// Number of policies.
    pub fn policy_count(&self) -> usize {
        self.compiled.policies.len()
    }

    /// Number of rules across policies.
    pub fn rule_count(&self) -> usize {
        self.compiled.policies.iter().map(|p| p.rules.len()).sum()
    }

    /// Resolves and compiles a snapshot.
    pub fn load(opts: &ResolveOptions) -> Result<Snapshot, LoadError> {
        let t = Instant::now();
        let mut set = resolve::resolve(opts)?;
        let once = super::grants::OnceGrants::for_home(opts.home.as_deref()).filter(&mut set);
        let compiled = compile_owned(set);
        let config_path = match &opts.config {
            Some(p) => p.display().to_string(),
            None => compiled
                .sources
                .first()
                .cloned()
                .unwrap_or_else(|| "embedded:standard".into()),
        };
        Ok(Snapshot {
            config_path,
            sources: compiled.sources.clone(),
            warnings: compiled.warnings.clone(),
            loaded_at: SystemTime::now(),
            load_time: t.elapsed(),
            once,
            notify: compiled.notify.clone(),
            compiled,
        })
    }
}

/// Result of a reload attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReloadReport {
    /// Policies in the new snapshot.
    pub policies: usize,
    /// Rules in the new snapshot.
    pub rules: usize,
    /// Load + compile time.
    pub load_time: Duration,
}

/// Why a reload was refused; the previous snapshot stays active.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The files did not load.
    #[error("{0}")]
    Load(#[from] LoadError),
    /// The new policy is empty while the old one was not (probably a file mid-write).
    #[error("refusing to replace {old} loaded policies with an empty policy set")]
    Emptied {
        /// Policies in the active snapshot.
        old: usize,
    },
}

/// The active policy and how to reload it.
#[derive(Debug)]
pub struct PolicyHandle {
    opts: ResolveOptions,
    current: RwLock<Arc<Snapshot>>,
    last_error: Mutex<Option<String>>,
}

impl PolicyHandle {
    /// Loads the first snapshot; an error here is a start-up error.
    pub fn load(opts: ResolveOptions) -> Result<PolicyHandle, LoadError> {
        let snap = Snapshot::load(&opts)?;
        // Long-lived: compile every pattern now rather than on the first calls that reach it.
        snap.compiled.prepare();
        Ok(PolicyHandle {
            opts,
            current: RwLock::new(Arc::new(snap)),
            last_error: Mutex::new(None),
        })
    }

    /// Wraps an already-compiled policy (tests, library users); reloads re-resolve `opts`.
    pub fn fixed(opts: ResolveOptions, snap: Snapshot) -> PolicyHandle {
        PolicyHandle {
            opts,
            current: RwLock::new(Arc::new(snap)),
            last_error: Mutex::new(None),
        }
    }

    /// The active snapshot (cheap: one `Arc` clone).
    pub fn current(&self) -> Arc<Snapshot> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The resolver options reloads use.
    pub fn options(&self) -> &ResolveOptions {
        &self.opts
    }

    /// The error of the most recent failed reload, cleared by a successful one.
    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Re-resolves and swaps in a new snapshot; on failure the old one stays active.
    pub fn reload(&self) -> Result<ReloadReport, ReloadError> {
        let result = Snapshot::load(&self.opts)
            .map_err(ReloadError::from)
            .and_then(|snap| {
                snap.compiled.prepare();
                let old = self.current().policy_count();
                if snap.policy_count() == 0 && old > 0 {
                    return Err(ReloadError::Emptied { old });
                }
                Ok(snap)
            });
        let mut last = self.last_error.lock().unwrap_or_else(|p| p.into_inner());
        match result {
            Ok(snap) => {
                let report = ReloadReport {
                    policies: snap.policy_count(),
                    rules: snap.rule_count(),
                    load_time: snap.load_time,
                };
                *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(snap);
                *last = None;
                Ok(report)
            }
            Err(e) => {
                *last = Some(e.to_string());
                Err(e)
            }
        }
    }
}
