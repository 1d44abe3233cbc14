//! The `rampart` command line: dispatch only.

use clap::Parser;

/// Rampart: a policy firewall for AI coding agents.
#[derive(Parser, Debug)]
#[command(name = "rampart", version, about)]
struct Cli {}

fn main() {
    let _cli = Cli::parse();
}
