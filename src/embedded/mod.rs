//! The machinery `wrap` and `preload` share: the gate and HTTP API started inside the calling
//! process on an ephemeral loopback port with a fresh per-run token ([`InProcessServer`]), and
//! an agent run as a child with extra environment, on plain pipes or in a pseudo-terminal, with
//! signals forwarded and its exit code returned ([`run_agent`]).
//!
//! ```no_run
//! use rampart::embedded::{AgentCommand, InProcessServer, ServerOptions, run_agent};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let server = InProcessServer::start(ServerOptions::default())?;
//! let mut cmd = AgentCommand::new(vec!["aider".into()]);
//! cmd.env.extend(server.env());
//! let code = run_agent(&cmd, rampart::embedded::stdin_is_terminal())?;
//! eprintln!("{}", server.shutdown());
//! std::process::exit(code);
//! # }
//! ```

pub mod agent;
pub mod pty;
pub mod server;
pub mod signals;

pub use agent::{AgentCommand, AgentError, run_agent, stdin_is_terminal};
pub use server::{EmbedError, InProcessServer, ServerOptions};
