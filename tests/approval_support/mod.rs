//! Shared fixtures for the approval tests: a manual clock, recording hooks, call builders.
#![allow(dead_code)]

use chrono::{DateTime, TimeZone, Utc};
use rampart::approval::{
    Approval, ApprovalStore, CallSnapshot, CreateOutcome, ManualClock, NewApproval, StoreConfig,
    StoreHooks,
};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A fixed start time.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 1, 9, 0, 0).single().unwrap()
}

/// Seconds as a chrono duration.
pub fn secs(n: i64) -> chrono::Duration {
    chrono::Duration::seconds(n)
}

/// Hooks that count and remember what the store told them.
#[derive(Default)]
pub struct Recorder {
    pub changed: AtomicUsize,
    pub expired: Mutex<Vec<Approval>>,
    pub fail_expired: AtomicBool,
}

impl Recorder {
    pub fn changed(&self) -> usize {
        self.changed.load(Ordering::SeqCst)
    }
    pub fn expired_ids(&self) -> Vec<String> {
        self.expired
            .lock()
            .unwrap()
            .iter()
            .map(|a| a.id.clone())
            .collect()
    }
}

impl StoreHooks for Recorder {
    fn changed(&self) {
        self.changed.fetch_add(1, Ordering::SeqCst);
    }
    fn expired(&self, a: &Approval) -> Result<(), String> {
        self.expired.lock().unwrap().push(a.clone());
        if self.fail_expired.load(Ordering::SeqCst) {
            Err("audit down".into())
        } else {
            Ok(())
        }
    }
}

/// A store under test with its clock and hooks.
pub struct Fixture {
    pub store: Arc<ApprovalStore>,
    pub clock: Arc<ManualClock>,
    pub hooks: Arc<Recorder>,
}

impl Fixture {
    /// An in-memory store with the default config.
    pub fn memory() -> Fixture {
        Fixture::with(StoreConfig::default())
    }

    /// A store with `cfg`, at `t0()`.
    pub fn with(cfg: StoreConfig) -> Fixture {
        Fixture::at(cfg, Arc::new(ManualClock::new(t0())))
    }

    /// A store with `cfg` on an existing clock (a "restart" or a second process).
    pub fn at(cfg: StoreConfig, clock: Arc<ManualClock>) -> Fixture {
        let hooks = Arc::new(Recorder::default());
        let store = ApprovalStore::open_with_clock(cfg, hooks.clone(), clock.clone()).unwrap();
        Fixture {
            store: Arc::new(store),
            clock,
            hooks,
        }
    }

    /// Creates and expects a new pending approval.
    pub fn created(&self, req: NewApproval) -> Approval {
        match self.store.create(req).unwrap() {
            CreateOutcome::Created(a) => a,
            other => panic!("expected Created, got {other:?}"),
        }
    }
}

/// A journaled config in `dir`.
pub fn journaled(dir: &Path) -> StoreConfig {
    StoreConfig {
        journal: Some(dir.join("pending-approvals.jsonl")),
        ..StoreConfig::default()
    }
}

fn obj(v: Value) -> serde_json::Map<String, Value> {
    v.as_object().cloned().unwrap()
}

/// An exec call of `command` in run `run` with tool call id `tcid`.
pub fn exec(command: &str, run: &str, tcid: &str) -> CallSnapshot {
    CallSnapshot {
        tool: "exec".into(),
        agent: "claude-code".into(),
        agent_depth: 0,
        session: "repo/main".into(),
        run_id: run.into(),
        tool_call_id: tcid.into(),
        workdir: "/work/repo".into(),
        params: obj(json!({"command": command})),
        input: serde_json::Map::new(),
    }
}

/// A request for `call` by the credential whose token hash is `owner` ("" = admin).
pub fn ask(call: CallSnapshot, owner: &str) -> NewApproval {
    NewApproval {
        call,
        message: "needs a human".into(),
        matched_policies: vec!["ask-deploy".into()],
        owner_token_hash: owner.into(),
    }
}

/// A record callback that always succeeds.
pub fn ok(_: &Approval) -> Result<(), String> {
    Ok(())
}

/// Standard library duration in milliseconds.
pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}
