//! Rampart: a local policy firewall between AI coding agents and the tools they call.
//!
//! Used as a library, the engine judges tool calls in-process: see [`engine::sdk`] and
//! `examples/embed_engine.rs`.

pub mod api;
pub mod approval;
pub mod audit;
pub mod cli;
pub mod credentials;
pub mod embedded;
pub mod engine;
pub mod gate;
pub mod hook;
pub mod mcp;
pub mod wrap;

pub use engine::{Action, Decision, Denied, Engine, LoadError, Policy, ToolCall};
