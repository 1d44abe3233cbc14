//! The engine as a library, without the CLI or a server: load a [`Policy`], build an
//! [`Engine`] from it, and judge [`ToolCall`]s.
//!
//! ```
//! use rampart::{Action, Engine, Policy, ToolCall};
//!
//! let engine = Engine::new(&Policy::embedded("standard")?);
//! assert_eq!(engine.evaluate(&ToolCall::exec("git status")).action, Action::Allow);
//! assert_eq!(engine.evaluate(&ToolCall::exec("sudo rm -rf /")).action, Action::Deny);
//! # Ok::<(), rampart::LoadError>(())
//! ```
//!
//! An [`Engine`] is an immutable compiled snapshot: cheap to clone, safe to share between
//! threads, and evaluation does no I/O. Modes, human approvals, one-time grants and the audit
//! trail belong to the gate ([`crate::gate`]) that `rampart serve` and the hooks use.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use super::load::{self, MergeRule};
use super::{Action, CompiledPolicySet, Decision, EvalContext, LoadError, PolicySet, ToolCall};

/// A validated set of policies, ready to build an [`Engine`] from.
#[derive(Debug, Clone)]
pub struct Policy {
    set: PolicySet,
}

impl Policy {
    /// One of the profiles built into Rampart: `standard` (the default), `paranoid`, `ci`,
    /// `yolo`, `mcp-server` or `research-agent`.
    pub fn embedded(name: &str) -> Result<Policy, LoadError> {
        super::resolve::embedded(name).map(Policy::from)
    }

    /// Names of the profiles [`Policy::embedded`] accepts.
    pub fn embedded_names() -> impl Iterator<Item = &'static str> {
        super::profiles::PROFILES.iter().map(|(name, _)| *name)
    }

    /// Policy YAML held in memory; `name` labels it in errors (`embedded:<name>`).
    pub fn from_yaml(name: &str, yaml: &str) -> Result<Policy, LoadError> {
        load::load_text(name, yaml).map(Policy::from)
    }

    /// One policy file, as `rampart serve --config FILE` reads it.
    pub fn load_file(path: impl AsRef<Path>) -> Result<Policy, LoadError> {
        load::load_file(path.as_ref()).map(Policy::from)
    }

    /// Every `*.yaml`/`*.yml` file of a directory in name order, as `--config-dir` reads it
    /// (a missing directory is an empty policy).
    pub fn load_dir(path: impl AsRef<Path>) -> Result<Policy, LoadError> {
        load::load_dir(path.as_ref()).map(Policy::from)
    }

    /// This policy followed by `other`'s policies; on a name both use, this one's is kept
    /// and a warning says so. The default action is this policy's when it sets one.
    pub fn merged_with(mut self, other: Policy) -> Policy {
        for p in &other.set.policies {
            let name = load::policy_name(p);
            if self
                .set
                .policies
                .iter()
                .any(|q| load::policy_name(q) == name)
            {
                self.set.warnings.push(format!(
                    "policy {name:?} from {} is already defined; the first one is kept",
                    p.origin.source
                ));
            }
        }
        load::merge_into(&mut self.set, other.set, MergeRule::ExistingWins);
        self
    }

    /// Adds a project policy file (like a repository's `.rampart/policy.yaml`) that may only
    /// tighten: its deny/ask/watch rules apply, its allow rules cannot override this policy.
    pub fn with_project_file(mut self, path: impl AsRef<Path>) -> Result<Policy, LoadError> {
        load::add_project(&mut self.set, path.as_ref())?;
        Ok(self)
    }

    /// Number of policies.
    pub fn len(&self) -> usize {
        self.set.policies.len()
    }

    /// Whether there are no policies (every call then gets the default action).
    pub fn is_empty(&self) -> bool {
        self.set.policies.is_empty()
    }

    /// Non-fatal problems found while loading (skipped duplicates and the like).
    pub fn warnings(&self) -> &[String] {
        &self.set.warnings
    }

    /// The loaded set, for the lower-level API ([`super::compile()`], [`super::explain`]).
    pub fn as_set(&self) -> &PolicySet {
        &self.set
    }
}

impl From<PolicySet> for Policy {
    fn from(set: PolicySet) -> Policy {
        Policy { set }
    }
}

/// A compiled policy snapshot that judges tool calls.
#[derive(Clone)]
pub struct Engine {
    compiled: Arc<CompiledPolicySet>,
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine").finish_non_exhaustive()
    }
}

impl Engine {
    /// Compiles `policy` (every glob and regex once, up front).
    pub fn new(policy: &Policy) -> Engine {
        Engine {
            compiled: Arc::new(super::compile(&policy.set)),
        }
    }

    /// The decision for `call`: action, message, deciding rule, the other rules that fired,
    /// and `rampart allow …` suggestions on a deny. `call_count` rules never match here (no
    /// counter); give one through [`Engine::evaluate_with`].
    pub fn evaluate(&self, call: &ToolCall) -> Decision {
        self.compiled.evaluate(call)
    }

    /// [`Engine::evaluate`] with a clock, a call counter or a policy filter.
    pub fn evaluate_with(&self, call: &ToolCall, ctx: &EvalContext) -> Decision {
        self.compiled.evaluate_with(call, ctx)
    }

    /// The decision on a tool's output (the policies' response rules).
    pub fn evaluate_response(&self, call: &ToolCall, response: &str) -> Decision {
        self.compiled.evaluate_response(call, response)
    }

    /// Whether `call` may run without a human: `Ok` on allow or watch, [`Denied`] on deny, ask
    /// or webhook (a library has nobody to ask, so it fails closed).
    pub fn check(&self, call: &ToolCall) -> Result<Decision, Denied> {
        let d = self.evaluate(call);
        match d.action {
            Action::Allow | Action::Watch => Ok(d),
            _ => Err(Denied {
                tool: call.tool.clone(),
                decision: Box::new(d),
            }),
        }
    }

    /// The compiled snapshot, for the lower-level API.
    pub fn compiled(&self) -> &CompiledPolicySet {
        &self.compiled
    }
}

/// A call [`Engine::check`] refused. Its text is the Go SDK's:
/// `rampart: denied "<tool>" by policy "<p>": <message>`, without the policy clause when no
/// rule decided.
#[derive(Debug, Clone)]
pub struct Denied {
    /// The call's tool.
    pub tool: String,
    /// The whole decision.
    pub decision: Box<Decision>,
}

impl Denied {
    /// The policy whose rule decided, when a rule did (not a default action).
    pub fn policy(&self) -> Option<&str> {
        self.decision.winner.as_ref().map(|w| w.policy.as_str())
    }
}

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rampart: denied {:?}", self.tool)?;
        if let Some(p) = self.policy() {
            write!(f, " by policy {p:?}")?;
        }
        write!(f, ": {}", self.decision.message)
    }
}

impl std::error::Error for Denied {}
