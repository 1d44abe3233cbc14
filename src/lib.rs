//! Rampart: a local policy firewall between AI coding agents and the tools they call.

pub mod approval;
pub mod audit;
pub mod cli;
pub mod engine;
