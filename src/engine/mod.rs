//! The policy engine: policy model, loading and layering, compilation, shell analysis and
//! evaluation. Evaluation is pure: it takes a compiled policy snapshot and a [`ToolCall`] and
//! returns a [`Decision`], with no I/O and no clock other than what it is given.

pub mod call;
pub mod command;
pub mod compile;
pub mod decision;
pub mod duration;
pub mod eval;
pub mod explain;
pub mod fields;
pub mod glob;
pub mod limits;
pub mod load;
pub mod locate;
pub mod mcp_class;
pub mod model;
pub mod packed;
pub mod profiles;
pub mod resolve;
pub mod sdk;
pub mod shell;
pub mod suggest;
pub mod url;
pub mod user_rules;
pub mod validate;

pub use call::{ToolCall, canonical_tool};
pub use compile::{CompiledPolicySet, compile};
pub use decision::{Action, AskOptions, Decision, RuleRef, WebhookConfig};
pub use eval::{CallCounter, EvalContext};
pub use load::{LoadError, PolicySet};
pub use sdk::{Denied, Engine, Policy};
