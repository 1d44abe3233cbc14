//! The approval store: pending approvals, their resolution and expiry, run and replay grants.
//!
//! Every state change happens under one mutex, so "check a run grant, else dedupe, else create"
//! and "journal, record, publish grant, flip status" are each atomic. Hooks are called after the
//! lock is released; the `record` callbacks of [`ApprovalStore::resolve`] and
//! [`ApprovalStore::bulk_resolve`] run under it and must not call back into the store.

pub use super::error::{ApprovalError, ResolveError};
pub use super::model::{Approval, CallSnapshot, NewApproval, RunScope, Status};

use super::clock::{Clock, SystemClock};
use super::journal::{Journal, RestoreLimits};
use super::keys;
use super::replay::{GrantRecord, REPLAY_TTL, ReplayGrants};
use super::views::{self, RunGroup};
use chrono::{DateTime, Utc};
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::watch;

/// Resolved and expired approvals stay readable this long before cleanup drops them.
pub const RETAIN_RESOLVED: chrono::Duration = chrono::Duration::minutes(10);
/// Default approval timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
/// Default cap on pending approvals.
pub const DEFAULT_MAX_PENDING: usize = 1000;
/// `resolved_by` when the resolver gave none.
pub const DEFAULT_RESOLVER: &str = "api";
/// `resolved_by` of expired approvals.
pub const TIMEOUT_RESOLVER: &str = "timeout";

/// Store settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// How long an approval stays answerable (default 2 minutes).
    pub timeout: Duration,
    /// Most approvals pending at once (default 1000).
    pub max_pending: usize,
    /// Journal file (e.g. `~/.rampart/pending-approvals.jsonl`); `None` keeps state in memory.
    /// Replay grants then live in `<journal>.approved-once/`.
    pub journal: Option<PathBuf>,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            timeout: DEFAULT_TIMEOUT,
            max_pending: DEFAULT_MAX_PENDING,
            journal: None,
        }
    }
}

/// `~/.rampart/pending-approvals.jsonl`.
pub fn default_journal_path() -> PathBuf {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".rampart").join("pending-approvals.jsonl")
}

/// What the store tells the rest of the server.
pub trait StoreHooks: Send + Sync {
    /// The pending set changed (the API broadcasts SSE `approvals`).
    fn changed(&self);
    /// An approval expired: write its expiry audit event.
    fn expired(&self, a: &Approval) -> Result<(), String>;
}

/// Hooks that do nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoHooks;

impl StoreHooks for NoHooks {
    fn changed(&self) {}
    fn expired(&self, _a: &Approval) -> Result<(), String> {
        Ok(())
    }
}

/// Result of asking for an approval.
#[derive(Debug, Clone, PartialEq)]
pub enum CreateOutcome {
    /// A new pending approval.
    Created(Approval),
    /// A live pending approval for the identical call and owner already existed.
    Deduped(Approval),
    /// A run grant covers this call: allow it without asking.
    RunGrant {
        /// When the grant ends.
        expires_at: DateTime<Utc>,
    },
}

/// A human's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    /// Approve (true) or deny (false).
    pub approved: bool,
    /// Who answered; empty becomes `api`.
    pub resolved_by: String,
}

/// A consumed exact replay grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayGrant {
    /// The approval that granted it.
    pub approval_id: String,
    /// Who approved.
    pub resolved_by: String,
}

#[derive(Debug)]
pub(super) struct Entry {
    pub(super) approval: Approval,
    tx: watch::Sender<Status>,
    /// Insertion order: breaks ties between approvals created at the same instant.
    seq: u64,
}

#[derive(Debug)]
pub(super) struct State {
    pub(super) entries: HashMap<String, Entry>,
    /// Pending approvals by (deadline, id).
    by_expiry: BTreeSet<(DateTime<Utc>, String)>,
    /// Pending approvals by dedup key.
    dedup: HashMap<String, String>,
    /// Active run grants and their ends.
    pub(super) run_grants: HashMap<RunScope, DateTime<Utc>>,
    replay: ReplayGrants,
    /// Monotonic ULIDs for approvals created by this process.
    ids: ulid::Generator,
    /// Next insertion sequence number.
    next_seq: u64,
}

impl State {
    fn next_id(&mut self, now: DateTime<Utc>) -> String {
        self.ids
            .generate_from_datetime(now.into())
            .unwrap_or_else(|overflow| overflow.commit_overflow_increment())
            .to_string()
    }

    fn insert_pending(&mut self, a: Approval) {
        self.by_expiry.insert((a.expires_at, a.id.clone()));
        if let Some(k) = &a.dedup_key {
            self.dedup.insert(k.clone(), a.id.clone());
        }
        let (tx, _) = watch::channel(Status::Pending);
        let seq = self.next_seq;
        self.next_seq += 1;
        self.entries.insert(
            a.id.clone(),
            Entry {
                approval: a,
                tx,
                seq,
            },
        );
    }

    /// Moves a pending approval to a final status and wakes its waiters.
    fn finish(
        &mut self,
        id: &str,
        status: Status,
        at: DateTime<Utc>,
        by: &str,
    ) -> Option<Approval> {
        let e = self.entries.get_mut(id)?;
        if e.approval.status != Status::Pending {
            return None;
        }
        self.by_expiry
            .remove(&(e.approval.expires_at, id.to_string()));
        if let Some(k) = &e.approval.dedup_key
            && self.dedup.get(k).is_some_and(|v| v == id)
        {
            self.dedup.remove(k);
        }
        e.approval.status = status;
        e.approval.resolved_at = Some(at);
        e.approval.resolved_by = Some(by.to_string());
        e.tx.send_replace(status);
        Some(e.approval.clone())
    }

    pub(super) fn pending_count(&self) -> usize {
        self.by_expiry.len()
    }

    /// Pending approvals, oldest first (ties in creation order).
    pub(super) fn pending_refs(&self) -> Vec<&Approval> {
        let mut out: Vec<&Entry> = self
            .by_expiry
            .iter()
            .filter_map(|(_, id)| self.entries.get(id))
            .collect();
        out.sort_by_key(|e| (e.approval.created_at, e.seq));
        out.into_iter().map(|e| &e.approval).collect()
    }

    fn next_expiry(&self) -> Option<DateTime<Utc>> {
        self.by_expiry.first().map(|(t, _)| *t)
    }
}

/// The approval service.
pub struct ApprovalStore {
    timeout: Duration,
    max_pending: usize,
    hooks: Arc<dyn StoreHooks>,
    pub(super) clock: Arc<dyn Clock>,
    journal: Option<Journal>,
    pub(super) state: Mutex<State>,
    expiry_hook_failures: AtomicU64,
}

impl std::fmt::Debug for ApprovalStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApprovalStore")
            .field("timeout", &self.timeout)
            .field("max_pending", &self.max_pending)
            .field("journal", &self.journal)
            .finish_non_exhaustive()
    }
}

/// `t + d`, saturating at the end of time.
pub(super) fn add(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(d)
        .ok()
        .and_then(|d| t.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

impl ApprovalStore {
    /// Opens the store on the system clock, restoring the journal if one is configured.
    pub fn open(cfg: StoreConfig, hooks: Arc<dyn StoreHooks>) -> Result<Self, ApprovalError> {
        Self::open_with_clock(cfg, hooks, Arc::new(SystemClock))
    }

    /// Opens the store on `clock` (tests drive time with [`super::clock::ManualClock`]).
    ///
    /// Restored approvals keep their original deadlines; expired, terminal, malformed and
    /// already-granted records are skipped and the journal is rewritten without them.
    pub fn open_with_clock(
        cfg: StoreConfig,
        hooks: Arc<dyn StoreHooks>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ApprovalError> {
        let now = clock.now();
        let mut restored = Vec::new();
        let (journal, replay) = match &cfg.journal {
            Some(path) => {
                let journal = Journal::open(path)?;
                let replay = ReplayGrants::disk(&ReplayGrants::dir_for(path))?;
                let limits = RestoreLimits {
                    max_restored: cfg.max_pending,
                    ..RestoreLimits::default()
                };
                restored = journal
                    .restore(now, limits, &|k| replay.published_or_consumed(k))?
                    .approvals;
                journal.compact(&restored.iter().collect::<Vec<_>>())?;
                (Some(journal), replay)
            }
            None => (None, ReplayGrants::memory()),
        };
        let mut state = State {
            entries: HashMap::new(),
            by_expiry: BTreeSet::new(),
            dedup: HashMap::new(),
            run_grants: HashMap::new(),
            replay,
            ids: ulid::Generator::new(),
            next_seq: 0,
        };
        for a in restored {
            state.insert_pending(a);
        }
        Ok(ApprovalStore {
            timeout: cfg.timeout,
            max_pending: cfg.max_pending,
            hooks,
            clock,
            journal,
            state: Mutex::new(state),
            expiry_hook_failures: AtomicU64::new(0),
        })
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The approval timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The current time on the store's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// How many expiry audit records failed to be written (see [`StoreHooks::expired`]).
    pub fn expiry_hook_failures(&self) -> u64 {
        self.expiry_hook_failures.load(Ordering::Relaxed)
    }

    /// Creates a pending approval, unless a run grant covers the call or an identical one waits.
    pub fn create(&self, req: NewApproval) -> Result<CreateOutcome, ApprovalError> {
        let now = self.clock.now();
        let mut st = self.lock();
        let expired = self.expire_locked(&mut st, now);
        let result = self.create_locked(&mut st, req, now);
        drop(st);
        self.after_expiry(&expired);
        if matches!(result, Ok(CreateOutcome::Created(_))) && expired.is_empty() {
            self.hooks.changed();
        }
        result
    }

    fn create_locked(
        &self,
        st: &mut State,
        req: NewApproval,
        now: DateTime<Utc>,
    ) -> Result<CreateOutcome, ApprovalError> {
        let owner_scope = keys::owner_scope(&req.owner_token_hash);
        if let Some(scope) = req.call.run_scope(&owner_scope)
            && let Some(&expires_at) = st.run_grants.get(&scope)
            && now < expires_at
        {
            return Ok(CreateOutcome::RunGrant { expires_at });
        }
        let dedup_key = keys::dedup_key(&req.call, &owner_scope);
        if let Some(existing) = dedup_key
            .as_ref()
            .and_then(|k| st.dedup.get(k))
            .and_then(|id| st.entries.get(id))
            .filter(|e| e.approval.is_live(now))
        {
            return Ok(CreateOutcome::Deduped(existing.approval.clone()));
        }
        if st.pending_count() >= self.max_pending {
            return Err(ApprovalError::Full {
                limit: self.max_pending,
            });
        }
        let a = Approval {
            id: st.next_id(now),
            call: req.call,
            message: req.message,
            matched_policies: req.matched_policies,
            status: Status::Pending,
            created_at: now,
            expires_at: add(now, self.timeout),
            resolved_at: None,
            resolved_by: None,
            persisted: false,
            dedup_key,
            owner_scope,
        };
        if let Some(j) = &self.journal
            && let Err(e) = j.append(&a)
        {
            // A failed append may leave a torn line; rewrite so the next append starts clean.
            self.compact(st);
            return Err(e);
        }
        st.insert_pending(a.clone());
        Ok(CreateOutcome::Created(a))
    }

    /// Consumes the exact one-shot replay grant for this call and owner, if one is live.
    pub fn consume_replay(
        &self,
        call: &CallSnapshot,
        owner_token_hash: &str,
    ) -> Result<Option<ReplayGrant>, ApprovalError> {
        if !call.replayable() {
            return Ok(None);
        }
        let fingerprint = keys::fingerprint(call);
        let key = keys::bind_to_owner(&fingerprint, &keys::owner_scope(owner_token_hash));
        let now = self.clock.now();
        let mut st = self.lock();
        Ok(st
            .replay
            .consume(&key, &fingerprint, now)?
            .map(|g| ReplayGrant {
                approval_id: g.approval_id,
                resolved_by: g.resolved_by,
            }))
    }

    /// One approval, pending or recently resolved.
    pub fn get(&self, id: &str) -> Option<Approval> {
        self.lock().entries.get(id).map(|e| e.approval.clone())
    }

    /// Every pending approval, oldest first.
    pub fn pending(&self) -> Vec<Approval> {
        self.lock().pending_refs().into_iter().cloned().collect()
    }

    /// Pending approvals grouped by complete run identity (groups of two or more).
    pub fn run_groups(&self) -> Vec<RunGroup> {
        views::run_groups(self.pending())
    }

    /// Approves or denies one pending approval (§5.3 steps 4–5).
    ///
    /// Under the lock: the approval must exist, be pending and not be past its deadline (an
    /// overdue one is expired first and reported as already resolved). The resolved state is
    /// journaled, then `record` must persist the resolution audit event; if it fails the
    /// approval stays pending. An approved call with run and tool call ids gets an exact
    /// replay grant. Only then does the status flip and waiters wake.
    pub fn resolve(
        &self,
        id: &str,
        r: Resolution,
        record: &dyn Fn(&Approval) -> Result<(), String>,
    ) -> Result<Approval, ResolveError> {
        let now = self.clock.now();
        let mut st = self.lock();
        let expired = self.expire_locked(&mut st, now);
        let result = self.resolve_locked(&mut st, id, &r, record, now, None);
        if result.is_ok() {
            self.compact(&st);
        }
        drop(st);
        self.after_expiry(&expired);
        if result.is_ok() && expired.is_empty() {
            self.hooks.changed();
        }
        result
    }

    /// The body of a resolution; `grant_until` clamps the replay grant's end. The caller
    /// compacts the journal afterwards (once per batch).
    pub(super) fn resolve_locked(
        &self,
        st: &mut State,
        id: &str,
        r: &Resolution,
        record: &dyn Fn(&Approval) -> Result<(), String>,
        now: DateTime<Utc>,
        grant_until: Option<DateTime<Utc>>,
    ) -> Result<Approval, ResolveError> {
        let entry = st
            .entries
            .get(id)
            .ok_or_else(|| ResolveError::NotFound(id.to_string()))?;
        if !entry.approval.is_live(now) {
            return Err(ResolveError::AlreadyResolved);
        }
        let by = match r.resolved_by.trim() {
            "" => DEFAULT_RESOLVER,
            s => s,
        };
        let status = if r.approved {
            Status::Approved
        } else {
            Status::Denied
        };
        let mut resolved = entry.approval.clone();
        resolved.status = status;
        resolved.resolved_at = Some(now);
        resolved.resolved_by = Some(by.to_string());

        if let Some(j) = &self.journal
            && let Err(e) = j.append(&resolved)
        {
            self.rollback_journal(st);
            return Err(ResolveError::Unavailable(format!("approval journal: {e}")));
        }
        if let Err(msg) = record(&resolved) {
            self.rollback_journal(st);
            return Err(ResolveError::Unavailable(msg));
        }
        if r.approved
            && resolved.call.replayable()
            && let Some(key) = &resolved.dedup_key
        {
            let mut until = add(now, REPLAY_TTL.to_std().unwrap_or_default());
            if let Some(cap) = grant_until {
                until = until.min(cap);
            }
            let grant = GrantRecord::new(
                key,
                &resolved.id,
                &keys::fingerprint(&resolved.call),
                by,
                now,
                until,
            );
            if let Err(e) = st.replay.publish(key, &grant) {
                self.rollback_journal(st);
                return Err(ResolveError::Unavailable(e.to_string()));
            }
        }
        // The caller compacts the journal once it is done resolving.
        st.finish(id, status, now, by)
            .ok_or_else(|| ResolveError::Unavailable("approval state changed".into()))
    }

    /// Rewrites the journal from memory, undoing an appended but unpublished resolution.
    fn rollback_journal(&self, st: &State) {
        self.compact(st);
    }

    pub(super) fn compact(&self, st: &State) {
        if let Some(j) = &self.journal {
            // Best effort: on failure the journal keeps extra records, and the latest record
            // per id (or the deadline) still decides what a restart restores.
            let _ = j.compact(&st.pending_refs());
        }
    }

    /// Records that an exact allow rule was written for a resolved approval.
    pub fn mark_persisted(&self, id: &str) -> bool {
        match self.lock().entries.get_mut(id) {
            Some(e) => {
                e.approval.persisted = true;
                true
            }
            None => false,
        }
    }

    /// Waits until the approval is no longer pending or `timeout` passes; `None` if unknown.
    pub async fn wait(&self, id: &str, timeout: Duration) -> Option<Approval> {
        let mut rx = {
            let st = self.lock();
            let e = st.entries.get(id)?;
            if e.approval.status != Status::Pending {
                return Some(e.approval.clone());
            }
            e.tx.subscribe()
        };
        let _ = tokio::time::timeout(timeout, rx.wait_for(|s| *s != Status::Pending)).await;
        self.get(id)
    }

    /// Expires every pending approval whose deadline is at or before `now`.
    pub fn expire_due(&self, now: DateTime<Utc>) -> usize {
        let mut st = self.lock();
        let expired = self.expire_locked(&mut st, now);
        drop(st);
        self.after_expiry(&expired);
        expired.len()
    }

    pub(super) fn expire_locked(&self, st: &mut State, now: DateTime<Utc>) -> Vec<Approval> {
        let due: Vec<(DateTime<Utc>, String)> = st
            .by_expiry
            .iter()
            .take_while(|(t, _)| *t <= now)
            .cloned()
            .collect();
        let expired: Vec<Approval> = due
            .into_iter()
            .filter_map(|(t, id)| st.finish(&id, Status::Expired, t, TIMEOUT_RESOLVER))
            .collect();
        if !expired.is_empty() {
            self.compact(st);
        }
        expired
    }

    pub(super) fn after_expiry(&self, expired: &[Approval]) {
        if expired.is_empty() {
            return;
        }
        for a in expired {
            if self.hooks.expired(a).is_err() {
                self.expiry_hook_failures.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.hooks.changed();
    }

    /// Drops answered approvals older than ten minutes and ended run and replay grants.
    pub fn cleanup(&self, now: DateTime<Utc>) {
        let tombstone_ttl = chrono::Duration::from_std(self.timeout)
            .unwrap_or(chrono::Duration::MAX / 2)
            + REPLAY_TTL
            + RETAIN_RESOLVED;
        let mut st = self.lock();
        st.entries.retain(|_, e| {
            e.approval.status == Status::Pending
                || e.approval
                    .resolved_at
                    .and_then(|t| t.checked_add_signed(RETAIN_RESOLVED))
                    .is_none_or(|end| now <= end)
        });
        st.run_grants.retain(|_, exp| now < *exp);
        st.replay.gc(now, tombstone_ttl);
    }

    /// When the next pending approval expires.
    pub fn next_expiry(&self) -> Option<DateTime<Utc>> {
        self.lock().next_expiry()
    }

    /// Whether a run grant is active for `scope` at the store's current time.
    pub fn run_grant(&self, scope: &RunScope) -> Option<DateTime<Utc>> {
        let now = self.clock.now();
        self.lock()
            .run_grants
            .get(scope)
            .copied()
            .filter(|exp| now < *exp)
    }

    pub(super) fn hooks(&self) -> &dyn StoreHooks {
        self.hooks.as_ref()
    }
}
