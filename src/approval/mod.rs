//! The approval service: pending approvals a human must answer, their expiry, the journal that
//! survives restarts, exact one-shot replay grants, bulk run grants and signed links.
//!
//! This is a library for the gate and the HTTP API; it does no HTTP itself. Time comes from a
//! [`Clock`] so tests can drive expiry; timestamps are UTC throughout.

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
