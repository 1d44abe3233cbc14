//! Rampart: a local policy firewall between AI coding agents and the tools they call.
//!
//! Every front end turns what it sees into a [`engine::ToolCall`], the gate decides with the
//! [`engine`], and the front end enforces the verdict in its own protocol.

pub mod audit;
pub mod engine;
