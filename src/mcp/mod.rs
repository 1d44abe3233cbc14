//! `rampart mcp -- CMD ARGS…`: a stdio MCP proxy. The client (Claude Desktop, Cursor, …) starts
//! Rampart instead of the server; Rampart starts the server and relays newline-delimited
//! JSON-RPC both ways byte for byte, deciding only `tools/call` (through the same gate and policy
//! resolver as every other front end), scanning `tools/call` results and, with
//! `--filter-tools`, hiding tools policy always denies.
//!
//! Threads, not async: one reader per direction relays in place (no queue hop); an intercepted
//! call is decided on the client reader thread (the engine takes microseconds) and handed, with
//! its queued audit record, to a committer thread that forwards or answers it once the record is
//! durable; a call that waits for a person (or a webhook) gets a thread of its own, so it holds
//! up nothing else; the main thread supervises the server process.

pub mod call;
pub mod child;
pub mod frame;
pub mod jsonrpc;
pub mod proxy;
pub mod scan;

use std::ffi::OsString;
use std::io::BufReader;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use nix::sys::signal::{SigSet, Signal};

use crate::audit::{AuditSink, SinkConfig};
use crate::engine::resolve::home_dir;
use crate::gate::{Gate, Mode, PolicyHandle};
use frame::{Frame, FrameReader};
pub use proxy::DenyStyle;
use proxy::{Proxy, Settings, log};

/// Largest client frame accepted (8 MiB); longer ones are dropped with a log line.
pub const MAX_CLIENT_FRAME: usize = 8 << 20;
/// Largest server frame relayed (64 MiB); longer ones are dropped with a log line.
pub const MAX_SERVER_FRAME: usize = 64 << 20;
/// After the client closes stdin: how long calls still being decided may finish, and then how
/// long the server has to exit on its own before SIGTERM (and again before SIGKILL).
pub const GRACE: Duration = Duration::from_secs(2);
/// After forwarding SIGINT/SIGTERM: how long before the group gets SIGKILL.
pub const SIGNAL_GRACE: Duration = Duration::from_secs(5);

/// `rampart mcp` flags.
#[derive(Debug, Clone, clap::Args)]
pub struct McpArgs {
    /// Policy source.
    #[command(flatten)]
    pub policy: crate::cli::policy_flags::PolicyFlags,
    /// enforce (default), monitor/audit (record real verdicts, forward everything) or disabled.
    #[arg(long, default_value = "enforce")]
    pub mode: Mode,
    /// Agent identity written into every call.
    #[arg(long, default_value = "mcp-client")]
    pub agent_id: String,
    /// Session identity written into every call.
    #[arg(long, default_value = "mcp-proxy")]
    pub session_id: String,
    /// Hide tools that policy always denies from tools/list results.
    #[arg(long)]
    pub filter_tools: bool,
    /// Audit directory (default ~/.rampart/audit).
    #[arg(long)]
    pub audit_dir: Option<PathBuf>,
    /// How denials are answered: a JSON-RPC error (-32600) or a tool result with isError.
    #[arg(long, value_enum, default_value = "error")]
    pub deny_style: DenyStyle,
    /// Classify tool NAME as CLASS (e.g. `query_db=read`, `_default=mcp-dangerous` for every
    /// tool the built-in table does not know); repeatable. Checked before the word rules.
    #[arg(long = "map-tool", value_name = "NAME=CLASS")]
    pub map_tool: Vec<String>,
    /// The MCP server command and its arguments (after `--`).
    #[arg(last = true, required = true, num_args = 1.., value_name = "CMD")]
    pub command: Vec<OsString>,
}

/// `rampart mcp`: the proxy (`rampart mcp [proxy] [flags] -- CMD…`) or `scan`.
#[derive(Debug, Clone, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct McpCli {
    /// `proxy` (the default) or `scan`.
    #[command(subcommand)]
    pub sub: Option<McpSub>,
    /// Proxy flags when no subcommand is named.
    #[command(flatten)]
    pub proxy: McpArgs,
}

/// `rampart mcp` subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum McpSub {
    /// Run an MCP server behind policy (the default).
    Proxy(McpArgs),
    /// List a server's tools with their class and the current policy's decision, and print a
    /// policy section for review. Makes no tool calls.
    Scan(scan::ScanArgs),
}

/// Runs `rampart mcp …`; returns the exit code.
pub fn dispatch(cli: McpCli) -> i32 {
    match cli.sub {
        None => run(cli.proxy),
        Some(McpSub::Proxy(a)) => run(a),
        Some(McpSub::Scan(a)) => scan::run(a),
    }
}

/// What the supervisor hears about.
enum Event {
    ClientClosed,
    ServerOutputClosed,
    ServerExited,
    Signal(Signal),
}

struct ToSupervisor(Sender<Event>);

impl proxy::Notice for ToSupervisor {
    fn client_gone(&self) {
        let _ = self.0.send(Event::ClientClosed);
    }
}

/// Runs the proxy until the server exits; returns the server's exit code.
pub fn run(args: McpArgs) -> i32 {
    // Signals are taken by one thread with sigwait; block them before any thread starts so
    // every thread inherits the mask (the server gets a clean mask: see `child::spawn`).
    let mut signals = SigSet::empty();
    for s in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        signals.add(s);
    }
    if let Err(e) = signals.thread_block() {
        log(format!("cannot block signals: {e}"));
    }
    // A client that stops reading must show up as a write error, not kill the proxy.
    // SAFETY: ignoring SIGPIPE before any other thread exists; the server gets the default back.
    unsafe {
        let _ = nix::sys::signal::signal(Signal::SIGPIPE, nix::sys::signal::SigHandler::SigIgn);
    }
    let classes = match call::parse_tool_classes(&args.map_tool) {
        Ok(m) if m.is_empty() => None,
        Ok(m) => Some(Arc::new(m)),
        Err(e) => {
            log(e);
            return 2;
        }
    };
    let home = home_dir();
    let cwd = std::env::current_dir().ok();
    let opts = args.policy.agent_options(cwd.clone(), home.clone());
    let policy = match PolicyHandle::load(opts) {
        Ok(p) => p,
        Err(e) => {
            log(format!(
                "policy configuration error; not starting the server: {e}"
            ));
            return 1;
        }
    };
    let audit_dir = args
        .audit_dir
        .clone()
        .unwrap_or_else(crate::audit::files::default_dir);
    let sink = match AuditSink::open(SinkConfig::new(&audit_dir)) {
        Ok(s) => Some(s),
        Err(e) => {
            let then = if args.mode == Mode::Enforce {
                "every tools/call will be refused"
            } else {
                "decisions will not be recorded"
            };
            log(format!(
                "audit trail {} unavailable ({e}); {then} (use --audit-dir for a directory of this proxy's own)",
                audit_dir.display()
            ));
            None
        }
    };
    let audit_ok = sink.is_some();
    let gate = Gate::new(policy, args.mode, sink);
    let server = match child::spawn(&args.command) {
        Ok(s) => s,
        Err(e) => {
            log(e.to_string());
            return e.exit_code();
        }
    };
    let child::Server {
        mut child,
        stdin,
        stdout,
    } = server;
    let pgid = child.id();
    let (tx, rx) = mpsc::channel::<Event>();
    let settings = Settings {
        who: call::Identity {
            agent: args.agent_id.clone(),
            session: args.session_id.clone(),
            workdir: cwd.map(|d| d.display().to_string()),
            classes,
        },
        deny_style: args.deny_style,
        filter_tools: args.filter_tools,
        audit_ok,
        home,
    };
    let proxy = Arc::new(Proxy::new(
        gate,
        settings,
        Box::new(std::io::stdout()),
        Box::new(stdin),
        Some(Box::new(ToSupervisor(tx.clone()))),
    ));

    let started = spawn_threads(&proxy, &tx, stdout, pgid, signals);
    if let Err(e) = started {
        log(format!("cannot start the relay: {e}"));
        child::signal_group(pgid, Signal::SIGKILL);
        let _ = child.wait();
        return 1;
    }
    supervise(&proxy, &rx, pgid);
    let code = match child.wait() {
        Ok(st) => child::exit_code(st),
        Err(e) => {
            log(format!("cannot reap the server: {e}"));
            1
        }
    };
    proxy.flush_client();
    if args.mode != Mode::Disabled {
        log(proxy.gate().tally.summary().replacen("rampart: ", "", 1));
    }
    code
}

fn spawn_threads(
    proxy: &Arc<Proxy>,
    tx: &Sender<Event>,
    stdout: std::process::ChildStdout,
    pid: u32,
    signals: SigSet,
) -> std::io::Result<()> {
    let p = Arc::clone(proxy);
    std::thread::Builder::new()
        .name("rampart-mcp-commit".into())
        .spawn(move || p.run_committer())?;
    let (p, t) = (Arc::clone(proxy), tx.clone());
    std::thread::Builder::new()
        .name("rampart-mcp-client".into())
        .spawn(move || {
            let stdin = std::io::stdin();
            let mut r = FrameReader::new(
                BufReader::with_capacity(64 << 10, stdin.lock()),
                MAX_CLIENT_FRAME,
            );
            loop {
                match r.next_frame() {
                    Ok(Frame::Line(l)) => p.from_client(l),
                    Ok(Frame::TooLong { head, len }) => log(format!(
                        "dropped a client frame of {len} bytes (limit {MAX_CLIENT_FRAME}): {}",
                        String::from_utf8_lossy(&head[..head.len().min(80)])
                    )),
                    Ok(Frame::Eof) => break,
                    Err(e) => {
                        log(format!("reading from the client failed: {e}"));
                        break;
                    }
                }
            }
            // Let calls still being decided reach the server before its stdin closes.
            let until = Instant::now() + GRACE;
            while p.deciding() > 0 && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(5));
            }
            let _ = t.send(Event::ClientClosed);
        })?;
    let (p, t) = (Arc::clone(proxy), tx.clone());
    std::thread::Builder::new()
        .name("rampart-mcp-server".into())
        .spawn(move || {
            let mut r =
                FrameReader::new(BufReader::with_capacity(64 << 10, stdout), MAX_SERVER_FRAME);
            loop {
                match r.next_frame() {
                    Ok(Frame::Line(l)) => p.from_server(l),
                    Ok(Frame::TooLong { len, .. }) => log(format!(
                        "dropped a server frame of {len} bytes (limit {MAX_SERVER_FRAME})"
                    )),
                    Ok(Frame::Eof) | Err(_) => break,
                }
            }
            let _ = t.send(Event::ServerOutputClosed);
        })?;
    let t = tx.clone();
    std::thread::Builder::new()
        .name("rampart-mcp-wait".into())
        .spawn(move || {
            child::wait_exited(pid);
            let _ = t.send(Event::ServerExited);
        })?;
    let t = tx.clone();
    std::thread::Builder::new()
        .name("rampart-mcp-signals".into())
        .spawn(move || {
            while let Ok(s) = signals.wait() {
                if t.send(Event::Signal(s)).is_err() {
                    break;
                }
            }
        })?;
    Ok(())
}

/// Waits for the server to exit, forwarding signals and shutting it down when the client goes:
/// stdin closed, then SIGTERM after [`GRACE`], then SIGKILL after another [`GRACE`]. Once it
/// has exited, its remaining output is relayed and what is left of its group is killed.
fn supervise(proxy: &Proxy, rx: &mpsc::Receiver<Event>, pgid: u32) {
    let mut output_closed = false;
    // The next escalation step and when it is due.
    let mut next: Option<(Instant, Signal)> = None;
    let mut client_closed = false;
    loop {
        let ev = match next {
            Some((at, _)) => match rx.recv_timeout(at.saturating_duration_since(Instant::now())) {
                Ok(ev) => Some(ev),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => break,
            },
            None => match rx.recv() {
                Ok(ev) => Some(ev),
                Err(_) => break,
            },
        };
        match ev {
            None => {
                if let Some((_, sig)) = next.take() {
                    child::signal_group(pgid, sig);
                    if sig == Signal::SIGTERM {
                        next = Some((Instant::now() + GRACE, Signal::SIGKILL));
                    }
                }
            }
            Some(Event::ServerExited) => break,
            Some(Event::ServerOutputClosed) => output_closed = true,
            Some(Event::ClientClosed) => {
                if !client_closed {
                    client_closed = true;
                    proxy.close_server_input();
                    if next.is_none() {
                        next = Some((Instant::now() + GRACE, Signal::SIGTERM));
                    }
                }
            }
            Some(Event::Signal(s)) => {
                child::signal_group(pgid, s);
                if matches!(s, Signal::SIGINT | Signal::SIGTERM) {
                    let kill_at = Instant::now() + SIGNAL_GRACE;
                    if next.is_none_or(|(at, _)| at > kill_at) {
                        next = Some((kill_at, Signal::SIGKILL));
                    }
                }
            }
        }
    }
    // Relay what the server wrote before it exited, then clear out its group.
    drain(rx, &mut output_closed, Duration::from_millis(200));
    child::signal_group(pgid, Signal::SIGKILL);
    drain(rx, &mut output_closed, Duration::from_millis(500));
}

fn drain(rx: &mpsc::Receiver<Event>, output_closed: &mut bool, limit: Duration) {
    let until = Instant::now() + limit;
    while !*output_closed {
        match rx.recv_timeout(until.saturating_duration_since(Instant::now())) {
            Ok(Event::ServerOutputClosed) => *output_closed = true,
            Ok(_) => {}
            Err(_) => return,
        }
    }
}
