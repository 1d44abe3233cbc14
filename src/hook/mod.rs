//! `rampart hook`: the native lifecycle-hook front end. The agent host runs it once per tool
//! call with a JSON event on stdin; it answers with exactly one JSON line on stdout in the
//! host's own format and exits 0. One module per host format, all behind [`host::Host`];
//! `setup` installs the hook into each host's settings.

pub mod antigravity;
pub mod approval;
pub mod ask_state;
pub mod claude;
pub mod cline;
pub mod codex;
pub mod copilot;
pub mod cursor;
pub mod fields;
pub mod gemini;
pub mod host;
pub mod normalize;
pub mod run;
pub mod session;
pub mod setup;

pub use run::{HookArgs, run};
