//! The policy engine: policy model, loading and layering, compilation, shell analysis and
//! evaluation. Evaluation is pure: it takes a compiled policy snapshot and a [`ToolCall`] and
//! returns a [`Decision`], with no I/O and no clock other than what it is given.

pub mod call;
pub mod decision;
pub mod shell;
pub mod url;

pub use call::{ToolCall, canonical_tool};
pub use decision::{Action, AskOptions, Decision, RuleRef, WebhookConfig};
