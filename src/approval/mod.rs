//! The approval service: pending approvals a human must answer, their expiry, the journal that
//! survives restarts, exact one-shot replay grants, bulk run grants and signed links.
//!
//! This is a library for the gate and the HTTP API; it does no HTTP itself. Time comes from a
//! [`Clock`] so tests can drive expiry; timestamps are UTC throughout.
//! [`ApprovalStore::wait`] and [`ApprovalStore::spawn_sweeper`] need a tokio runtime with the
//! time driver enabled.
//!
//! ```
//! use rampart::approval::*;
//! use std::sync::Arc;
//!
//! let store = ApprovalStore::open(StoreConfig::default(), Arc::new(NoHooks))?;
//! let call = CallSnapshot {
//!     tool: "exec".into(),
//!     agent: "claude-code".into(),
//!     session: "repo/main".into(),
//!     run_id: "run-1".into(),
//!     tool_call_id: "call-1".into(),
//!     ..Default::default()
//! };
//! let ask = NewApproval { call: call.clone(), ..Default::default() };
//! let a = match store.create(ask)? {
//!     CreateOutcome::Created(a) | CreateOutcome::Deduped(a) => a, // answer 202 with a.id
//!     CreateOutcome::RunGrant { .. } => return Ok(()),             // allow without asking
//! };
//! // The API writes the resolution audit event in the callback; an error keeps it pending.
//! let resolution = Resolution { approved: true, resolved_by: "dashboard".into() };
//! store.resolve(&a.id, resolution, &|_resolved| Ok(()))?;
//! // The caller retries the identical call and may run it exactly once.
//! assert!(store.consume_replay(&call, "")?.is_some());
//! assert!(store.consume_replay(&call, "")?.is_none());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod bulk;
pub mod clock;
pub mod error;
pub mod fsutil;
pub mod journal;
pub mod keys;
pub mod model;
pub mod replay;
pub mod signing;
pub mod store;
pub mod sweeper;
pub mod views;

pub use bulk::{
    BulkContext, BulkError, BulkOutcome, BulkPartial, BulkRequest, BulkScope, RunPublication,
};
pub use clock::{Clock, ManualClock, SystemClock};
pub use signing::{Decision, Signer};
pub use store::{
    Approval, ApprovalError, ApprovalStore, CallSnapshot, CreateOutcome, NewApproval, NoHooks,
    ReplayGrant, Resolution, ResolveError, RunScope, Status, StoreConfig, StoreHooks,
    default_journal_path,
};
pub use views::{ApprovalSummary, RunGroup};
