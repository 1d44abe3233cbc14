//! The approval service: pending approvals a human must answer, their expiry, the journal that
//! survives restarts, exact one-shot replay grants, bulk run grants and signed links.
//!
//! This is a library for the gate and the HTTP API; it does no HTTP itself. Time comes from a
//! [`Clock`] so tests can drive expiry; timestamps are UTC throughout.

pub mod clock;
pub mod error;
pub mod fsutil;
pub mod journal;
pub mod keys;
pub mod model;
pub mod replay;
pub mod signing;

pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{ApprovalError, ResolveError};
pub use model::{Approval, CallSnapshot, NewApproval, RunScope, Status};
pub use signing::{Decision, Signer};
