//! The gate: the one entry point every front end calls. It applies the mode to the engine's
//! decision, keeps the call counter, writes the audit trail and feeds the live stream, so a
//! hook, the MCP proxy, the shim and the HTTP API can never disagree about the same call.

pub mod counter;
pub mod grants;
pub mod live;
pub mod mode;
pub mod policy;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};

use crate::audit::{AuditError, AuditEvent, AuditSink, Receipt, Ticket};
use crate::engine::{Action, CallCounter, Decision, EvalContext, ToolCall};

pub use counter::{FileCounter, MemoryCounter};
pub use live::LiveStream;
pub use mode::Mode;
pub use policy::{PolicyHandle, ReloadError, ReloadReport, Snapshot};

/// Whether an evaluation may change state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// The call is about to run: count it (in enforce mode).
    Enforce,
    /// A dry run: no state changes.
    Preview,
}

/// Per-credential evaluation scope.
#[derive(Debug, Clone, Copy, Default)]
pub struct Scope<'a> {
    /// Unmatched calls are denied (per-agent tokens).
    pub default_deny: bool,
    /// Only policies from this file base name apply.
    pub policy_filter: Option<&'a str>,
}

/// Why the gate refused to record.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    /// The audit write failed.
    #[error("audit storage is unavailable: {0}")]
    Audit(#[from] AuditError),
    /// The blocking writer task died.
    #[error("audit writer task failed")]
    Join,
}

/// Totals for the one-line summary `wrap`/`preload` print at exit.
#[derive(Debug, Default)]
pub struct Tally {
    evaluated: AtomicU64,
    denied: AtomicU64,
    watched: AtomicU64,
    asked: AtomicU64,
}

impl Tally {
    fn add(&self, a: Action) {
        self.evaluated.fetch_add(1, Ordering::Relaxed);
        let c = match a {
            Action::Deny => &self.denied,
            Action::Watch => &self.watched,
            Action::Ask => &self.asked,
            _ => return,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// `rampart: N calls evaluated, N denied, N watched`.
    pub fn summary(&self) -> String {
        let asked = self.asked.load(Ordering::Relaxed);
        let mut s = format!(
            "rampart: {} calls evaluated, {} denied, {} watched",
            self.evaluated.load(Ordering::Relaxed),
            self.denied.load(Ordering::Relaxed),
            self.watched.load(Ordering::Relaxed)
        );
        if asked > 0 {
            s.push_str(&format!(", {asked} asked"));
        }
        s
    }
}

/// Engine + mode + counter + audit + live stream.
#[derive(Debug)]
pub struct Gate {
    /// The live policy.
    pub policy: PolicyHandle,
    mode: Mode,
    counter: MemoryCounter,
    durable: Option<FileCounter>,
    audit: Option<AuditSink>,
    /// Live event stream (SSE).
    pub live: LiveStream,
    started: Instant,
    /// Decision totals.
    pub tally: Tally,
}

/// A counter view that includes the call being evaluated without recording it (monitor mode).
struct PlusOne<'a>(&'a dyn CallCounter, &'a str);

impl CallCounter for PlusOne<'_> {
    fn count(&self, tool: &str, window: Duration) -> Option<u64> {
        let n = self.0.count(tool, window)?;
        Some(if tool == self.1 { n + 1 } else { n })
    }
}

impl Gate {
    /// A gate over `policy` in `mode`, writing to `audit` when given.
    pub fn new(policy: PolicyHandle, mode: Mode, audit: Option<AuditSink>) -> Gate {
        Gate {
            policy,
            mode,
            counter: MemoryCounter::new(),
            durable: None,
            audit,
            live: LiveStream::default(),
            started: Instant::now(),
            tally: Tally::default(),
        }
    }

    /// Keeps `call_count` state in a file shared by every process (one-shot hook processes)
    /// instead of in memory. The file is touched only when the policy has `call_count` rules.
    pub fn with_durable_counter(mut self, path: std::path::PathBuf) -> Gate {
        self.durable = Some(FileCounter::new(path));
        self
    }

    /// The enforcement mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Time since the gate started.
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// The audit sink, if auditing is on.
    pub fn audit(&self) -> Option<&AuditSink> {
        self.audit.as_ref()
    }

    /// Calls per tool in the last `window`.
    pub fn call_counts(&self, window: Duration) -> Vec<(String, u64)> {
        self.counter.counts(window)
    }

    /// Decides a call. In disabled mode everything is allowed; enforcing evaluations count the
    /// call first (a counter failure denies); monitor and preview change no state.
    pub fn decide(&self, call: &ToolCall, purpose: Purpose, scope: Scope<'_>) -> Decision {
        if self.mode == Mode::Disabled {
            let d = Decision::bare(Action::Allow, "policy evaluation disabled");
            self.tally.add(d.action);
            return d;
        }
        let snap = self.policy.current();
        let durable = self.durable.as_ref().filter(|_| counts_calls(&snap, call));
        let store: &dyn CallCounter = match durable {
            Some(f) => f,
            None => &self.counter,
        };
        let plus_one = PlusOne(store, &call.tool);
        let counted = match (purpose, self.mode, durable) {
            (Purpose::Enforce, Mode::Enforce, Some(f)) => f.record(&call.tool, SystemTime::now()),
            (Purpose::Enforce, Mode::Enforce, None) => {
                self.counter.record(&call.tool, Instant::now())
            }
            (_, _, Some(f)) => f.load(),
            _ => Ok(()),
        };
        if let Err(e) = counted {
            let d = Decision::bare(Action::Deny, e.to_string());
            self.tally.add(d.action);
            return d;
        }
        let counter: &dyn CallCounter = match (purpose, self.mode) {
            (Purpose::Enforce, Mode::Enforce) | (Purpose::Preview, _) => store,
            (Purpose::Enforce, _) => &plus_one,
        };
        let ctx = EvalContext {
            now_unix: None,
            counter: Some(counter),
            policy_filter: scope.policy_filter,
            default_deny: scope.default_deny,
        };
        let mut d = snap.compiled.evaluate_with(call, &ctx);
        if purpose == Purpose::Enforce
            && self.mode == Mode::Enforce
            && let Some(rule) = d.once.clone()
        {
            d = self.claim_once(&snap, &rule, d);
        }
        if purpose == Purpose::Enforce {
            self.tally.add(d.action);
        }
        d
    }

    /// Uses up the `once` rule that allowed this call; if it cannot be claimed the call is
    /// denied. The policy is rebuilt without it either way.
    fn claim_once(&self, snap: &Snapshot, rule: &crate::engine::RuleRef, d: Decision) -> Decision {
        let fp = snap.once.get(&(rule.policy.clone(), rule.rule_index));
        let grants = grants::OnceGrants::for_home(self.policy.options().home.as_deref());
        let claimed = match fp {
            Some(fp) => grants.claim(fp),
            None => Err(grants::GrantError::NoState),
        };
        if let Err(e) = self.policy.reload() {
            eprintln!("rampart: reload after a one-time rule failed: {e}");
        }
        match claimed {
            Ok(()) => d,
            Err(e) => {
                let mut denied = Decision::bare(
                    Action::Deny,
                    "one-time authorization could not be claimed; failing closed",
                );
                denied.eval_duration = d.eval_duration;
                denied.matched_policies = d.matched_policies;
                eprintln!(
                    "rampart: one-time rule {}#{}: {e}",
                    rule.policy, rule.rule_index
                );
                denied
            }
        }
    }

    /// Writes an event to the audit trail (fsynced before returning) and publishes it on the
    /// live stream. `Ok(None)` when auditing is off.
    pub async fn record(&self, event: AuditEvent) -> Result<Option<Receipt>, GateError> {
        let Some(sink) = self.audit.clone() else {
            self.publish_audit(&crate::audit::redacted(&event));
            return Ok(None);
        };
        // Redact a copy for the live stream only when someone is listening.
        let live = (self.live.subscribers() > 0).then(|| crate::audit::redacted(&event));
        let receipt = tokio::task::spawn_blocking(move || sink.append(event))
            .await
            .map_err(|_| GateError::Join)??;
        if let Some(live) = live {
            self.publish_audit(&live);
        }
        Ok(Some(receipt))
    }

    /// Blocking form of [`Gate::record`] for synchronous front ends.
    pub fn record_blocking(&self, event: AuditEvent) -> Result<Option<Receipt>, GateError> {
        let live = (self.live.subscribers() > 0).then(|| crate::audit::redacted(&event));
        let receipt = match &self.audit {
            Some(sink) => Some(sink.append(event)?),
            None => None,
        };
        if let Some(live) = live {
            self.publish_audit(&live);
        }
        Ok(receipt)
    }

    /// Queues an event for the audit trail without waiting and publishes it on the live stream;
    /// the ticket resolves once the event is fsynced. `Ok(None)` when auditing is off. For front
    /// ends that must not block a relay while the write completes (the MCP proxy).
    pub fn submit(&self, event: AuditEvent) -> Result<Option<Ticket>, GateError> {
        let live = (self.live.subscribers() > 0).then(|| crate::audit::redacted(&event));
        let ticket = match &self.audit {
            Some(sink) => Some(sink.submit(event)?),
            None => None,
        };
        if let Some(live) = live {
            self.publish_audit(&live);
        }
        Ok(ticket)
    }

    fn publish_audit(&self, event: &AuditEvent) {
        if self.live.subscribers() == 0 {
            return;
        }
        let ev: Value = serde_json::from_str(&event.to_json()).unwrap_or(Value::Null);
        self.live.publish(&json!({"type": "audit", "event": ev}));
    }
}

/// Whether a `call_count` rule could apply to this call (its policy covers the call's tool,
/// agent and session).
fn counts_calls(snap: &Snapshot, call: &ToolCall) -> bool {
    snap.compiled
        .in_scope(&call.tool, &call.agent, &call.session)
        .iter()
        .any(|p| p.rules.iter().any(|r| r.when.call_count.is_some()))
}
