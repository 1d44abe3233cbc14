//! Native agent-host hooks: `rampart hook` and `rampart setup`.

pub mod setup;
