//! `rampart`: the command-line entry point. Dispatch only; each command lives in `rampart::cli`.

use clap::{Parser, Subcommand};
use rampart::cli;

/// Rampart: a local policy firewall between AI coding agents and the tools they call.
#[derive(Parser)]
#[command(name = "rampart", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Evaluate one command/path/URL, or run a policy test suite.
    Test(cli::test_cmd::TestArgs),
    /// Inspect policy: lint, explain, test.
    Policy {
        #[command(subcommand)]
        command: cli::policy_cmd::PolicyCommand,
    },
    /// Score a policy's coverage against an attack corpus.
    Bench(cli::bench_cmd::BenchArgs),
    /// Write a starter policy file.
    Init(cli::init_cmd::InitArgs),
    /// Run the policy server: HTTP API, approvals, dashboard, hot reload.
    Serve(cli::serve_cmd::ServeCmd),
    /// Terminal view of the live feed and pending approvals (approve/deny from the keyboard).
    Watch(cli::watch_cmd::WatchArgs),
    /// Summarize decisions over a period (text or a self-contained HTML page).
    Report(cli::report_cmd::ReportArgs),
    /// Inspect the audit trail: verify, tail, search, stats.
    Audit {
        #[command(subcommand)]
        command: rampart::audit::cli::AuditCommand,
    },
    /// Manage the admin token and per-agent tokens.
    Token(cli::token_cmd::TokenArgs),
    /// List the approvals a running server is waiting on.
    Pending(cli::client_cmd::PendingArgs),
    /// Approve a pending approval.
    Approve(cli::client_cmd::ApproveArgs),
    /// Deny a pending approval.
    Deny(cli::client_cmd::DenyArgs),
    /// Answer one agent-host hook event (stdin JSON → stdout JSON in the host's format).
    Hook(rampart::hook::HookArgs),
    /// Run an MCP server behind policy: `rampart mcp [flags] -- CMD ARGS…` (stdio proxy), or
    /// `rampart mcp scan -- CMD…` to see how policy treats its tools.
    Mcp(rampart::mcp::McpCli),
    /// Run an agent with $SHELL pointing at a checking shim: `rampart wrap [flags] -- CMD ARGS…`.
    Wrap(rampart::wrap::WrapArgs),
    /// Show whether rampart serve is running, its mode, policy and pending approvals.
    Status(cli::status_cmd::StatusArgs),
    /// Run an agent with the LD_PRELOAD library: every program its dynamically linked processes
    /// execute is judged first (`rampart preload [flags] -- CMD ARGS…`).
    Preload(cli::preload_cmd::PreloadArgs),
    /// Install (or --remove) Rampart's hook in an agent's settings; no agent: list those found.
    Setup(rampart::hook::setup::cli::SetupArgs),
}

fn main() {
    // Started as the shell shim of `rampart wrap` (argv[0] is `rampart-shell`): nothing else.
    if std::env::args_os()
        .next()
        .is_some_and(|a0| rampart::wrap::shell::is_shim_name(&a0))
    {
        std::process::exit(rampart::wrap::shim::main());
    }
    // Die quietly on a closed pipe (`rampart audit tail | head`) instead of panicking in print.
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        let _ = nix::sys::signal::signal(
            nix::sys::signal::Signal::SIGPIPE,
            nix::sys::signal::SigHandler::SigDfl,
        );
    }
    // The hook runs before every agent tool call: parse only its own flags (building the whole
    // command tree costs more than the rest of a typical hook call).
    if std::env::args_os().nth(1).is_some_and(|a| a == "hook") {
        std::process::exit(run_hook());
    }
    // Usage errors exit 1 like every other error (clap's own default is 2); help and version
    // print to stdout and exit 0.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            std::process::exit(if e.use_stderr() { 1 } else { 0 });
        }
    };
    let result = match cli.command {
        Command::Hook(a) => std::process::exit(rampart::hook::run(a)),
        Command::Mcp(a) => std::process::exit(rampart::mcp::dispatch(a)),
        Command::Wrap(a) => rampart::wrap::run(a),
        Command::Test(a) => cli::test_cmd::run(a),
        Command::Preload(a) => cli::preload_cmd::run(a),
        Command::Policy { command } => cli::policy_cmd::run(command),
        Command::Bench(a) => cli::bench_cmd::run(a),
        Command::Init(a) => cli::init_cmd::run(a),
        Command::Serve(a) => cli::serve_cmd::dispatch(a),
        Command::Report(a) => cli::report_cmd::run(a),
        Command::Watch(a) => cli::watch_cmd::run(a),
        Command::Audit { command } => rampart::audit::cli::run(command),
        Command::Token(a) => cli::token_cmd::run(a),
        Command::Pending(a) => cli::client_cmd::pending(a),
        Command::Approve(a) => cli::client_cmd::approve(a),
        Command::Deny(a) => cli::client_cmd::deny(a),
        Command::Status(a) => cli::status_cmd::run(a),
        Command::Setup(a) => rampart::hook::setup::cli::run(a),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("rampart: {}", rampart::cli::error_text(&e));
            std::process::exit(1);
        }
    }
}

/// `rampart hook …` parsed on its own.
#[derive(Parser)]
#[command(name = "rampart hook")]
struct HookCli {
    #[command(flatten)]
    args: rampart::hook::HookArgs,
}

fn run_hook() -> i32 {
    let argv = std::iter::once(std::ffi::OsString::from("rampart hook"))
        .chain(std::env::args_os().skip(2));
    match HookCli::try_parse_from(argv) {
        Ok(c) => rampart::hook::run(c.args),
        Err(e) => {
            let _ = e.print();
            if e.use_stderr() { 1 } else { 0 }
        }
    }
}
