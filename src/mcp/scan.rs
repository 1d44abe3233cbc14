//! `rampart mcp scan -- CMD ARGS…`: start an MCP server just long enough to list its tools
//! (`initialize`, then `tools/list` page by page; never `tools/call`), then show for each tool
//! the class the classifier gives it and what the current policy decides when it is called,
//! and print a policy section pinning those decisions for review.
//!
//! The server is started like the proxy starts it (own process group) and is stopped after
//! listing, on a timeout, or on a protocol error. Requests it sends are refused (the scanner
//! offers no client capabilities); notifications are ignored. Nothing is audited: no call is
//! made.

use std::ffi::OsString;
use std::io::Write;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use serde_json::{Map, Value, json};

use super::call::{Identity, tool_call};
use super::child::{self, Server};
use super::frame::{Frame, FrameReader};
use crate::engine::resolve::home_dir;
use crate::gate::policy::Snapshot;

/// Most `tools/list` pages read before giving up on a server that never stops paginating.
const MAX_PAGES: usize = 100;
/// Largest frame accepted from the server.
const MAX_FRAME: usize = 16 << 20;

/// `rampart mcp scan` flags.
#[derive(Debug, Clone, clap::Args)]
pub struct ScanArgs {
    /// Policy source.
    #[command(flatten)]
    pub policy: crate::cli::policy_flags::PolicyFlags,
    /// Seconds to wait for the server's answers (each step).
    #[arg(long, default_value_t = 15)]
    pub timeout: u64,
    /// Classify tool NAME as CLASS, as `rampart mcp --map-tool` does; repeatable.
    #[arg(long = "map-tool", value_name = "NAME=CLASS")]
    pub map_tool: Vec<String>,
    /// Print the result as JSON instead of a table and a policy section.
    #[arg(long)]
    pub json: bool,
    /// The MCP server command and its arguments (after `--`).
    #[arg(last = true, required = true, num_args = 1.., value_name = "CMD")]
    pub command: Vec<OsString>,
}

/// Why a scan failed.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// A flag's value is unusable.
    #[error("{0}")]
    Usage(String),
    /// The server could not be started.
    #[error(transparent)]
    Spawn(#[from] child::SpawnError),
    /// The policy could not be loaded.
    #[error("policy configuration error: {0}")]
    Policy(#[from] crate::engine::LoadError),
    /// Writing to the server failed.
    #[error("cannot write to the server: {0}")]
    Write(std::io::Error),
    /// The server closed its output or exited.
    #[error("the server closed its output before answering {0}")]
    Closed(&'static str),
    /// The server did not answer in time.
    #[error("the server did not answer {what} within {secs} s")]
    Timeout {
        /// The request.
        what: &'static str,
        /// The limit.
        secs: u64,
    },
    /// The server answered with an error or something that is not an answer.
    #[error("the server's answer to {what} is unusable: {detail}")]
    Protocol {
        /// The request.
        what: &'static str,
        /// What was wrong.
        detail: String,
    },
}

/// One listed tool and how policy treats it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ScannedTool {
    /// The tool's name.
    pub name: String,
    /// The first line of its description (at most 100 characters).
    pub description: String,
    /// The class the word-level classifier gives it (`read`, `mcp-destructive`, …).
    pub class: String,
    /// The decision when it is called with no arguments: allow, deny, ask or watch.
    pub decision: String,
    /// The policy and rule that decided (empty: the default action).
    pub rule: String,
    /// The decision's message.
    pub message: String,
}

/// What the server said about itself, and its tools.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Scan {
    /// `serverInfo.name` from `initialize`, if given.
    pub server: Option<String>,
    /// The tools, in the server's order.
    pub tools: Vec<ScannedTool>,
}

/// Runs `rampart mcp scan`; returns the exit code.
pub fn run(args: ScanArgs) -> i32 {
    // A server that exits early must show up as a write error, not kill the scanner.
    // SAFETY: changing SIGPIPE's disposition before this command starts any thread.
    unsafe {
        let _ = nix::sys::signal::signal(Signal::SIGPIPE, nix::sys::signal::SigHandler::SigIgn);
    }
    match scan(&args) {
        Ok(s) => {
            let out = if args.json {
                serde_json::to_string_pretty(&s).unwrap_or_default() + "\n"
            } else {
                render(&s, &args.command)
            };
            let _ = std::io::stdout().write_all(out.as_bytes());
            0
        }
        Err(e) => {
            eprintln!("rampart mcp scan: {e}");
            1
        }
    }
}

/// Starts the server, lists its tools, stops it and judges each tool.
pub fn scan(args: &ScanArgs) -> Result<Scan, ScanError> {
    let cwd = std::env::current_dir().ok();
    let opts = args.policy.agent_options(cwd.clone(), home_dir());
    let classes = super::call::parse_tool_classes(&args.map_tool).map_err(ScanError::Usage)?;
    let snap = Snapshot::load(&opts)?;
    let server = child::spawn(&args.command)?;
    let pgid = server.child.id();
    let listed = list_tools(server, Duration::from_secs(args.timeout.max(1)));
    child::signal_group(pgid, Signal::SIGKILL);
    let (server_name, tools) = listed?;
    let who = Identity {
        agent: "mcp-scan".into(),
        session: "mcp-scan".into(),
        workdir: cwd.map(|d| d.display().to_string()),
        classes: (!classes.is_empty()).then(|| std::sync::Arc::new(classes)),
    };
    let tools = tools
        .into_iter()
        .map(|(name, description)| {
            let call = tool_call(&name, Map::new(), &who);
            let d = snap.compiled.evaluate(&call);
            ScannedTool {
                class: call.tool.clone(),
                decision: d.action.as_str().to_string(),
                rule: d
                    .winner
                    .as_ref()
                    .map(|r| r.policy.clone())
                    .unwrap_or_default(),
                message: d.message.clone(),
                name,
                description,
            }
        })
        .collect();
    Ok(Scan {
        server: server_name,
        tools,
    })
}

/// The server's name (from `initialize`) and its tools as (name, description).
type Listing = (Option<String>, Vec<(String, String)>);

/// Talks to the server: initialize, initialized, tools/list until the last page. Closes its
/// stdin and reaps it before returning (the caller kills the group in any case).
fn list_tools(server: Server, step: Duration) -> Result<Listing, ScanError> {
    let Server {
        mut child,
        mut stdin,
        stdout,
    } = server;
    let (tx, rx) = mpsc::channel::<Option<Vec<u8>>>();
    std::thread::spawn(move || {
        let mut r = FrameReader::new(std::io::BufReader::new(stdout), MAX_FRAME);
        loop {
            match r.next_frame() {
                Ok(Frame::Line(l)) => {
                    if tx.send(Some(l)).is_err() {
                        return;
                    }
                }
                Ok(Frame::Eof) | Err(_) => {
                    let _ = tx.send(None);
                    return;
                }
                Ok(_) => {}
            }
        }
    });
    let send = |msg: Value, stdin: &mut std::process::ChildStdin| {
        let mut line = msg.to_string();
        line.push('\n');
        stdin
            .write_all(line.as_bytes())
            .and_then(|()| stdin.flush())
            .map_err(ScanError::Write)
    };
    let mut next_id = 0u64;
    let mut request = |method: &'static str,
                       params: Value,
                       stdin: &mut std::process::ChildStdin|
     -> Result<Map<String, Value>, ScanError> {
        next_id += 1;
        let id = next_id;
        send(
            json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}),
            stdin,
        )
        .map_err(|e| match e {
            ScanError::Write(io) if io.kind() == std::io::ErrorKind::BrokenPipe => {
                ScanError::Closed(method)
            }
            e => e,
        })?;
        let deadline = Instant::now() + step;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match rx.recv_timeout(left) {
                Ok(Some(l)) => l,
                Ok(None) | Err(RecvTimeoutError::Disconnected) => {
                    return Err(ScanError::Closed(method));
                }
                Err(RecvTimeoutError::Timeout) => {
                    return Err(ScanError::Timeout {
                        what: method,
                        secs: step.as_secs(),
                    });
                }
            };
            let Ok(Value::Object(msg)) = serde_json::from_slice::<Value>(&line) else {
                continue; // not JSON-RPC (a log line on stdout): skip it
            };
            if let Some(m) = msg.get("method") {
                // A request from the server (roots, sampling, …): refuse it; notifications: skip.
                if let (Some(rid), Some(_)) = (msg.get("id"), m.as_str()) {
                    send(
                        json!({"jsonrpc": "2.0", "id": rid, "error": {"code": -32601, "message": "not supported by rampart mcp scan"}}),
                        stdin,
                    )?;
                }
                continue;
            }
            if msg.get("id").and_then(Value::as_u64) != Some(id) {
                continue;
            }
            if let Some(err) = msg.get("error") {
                return Err(ScanError::Protocol {
                    what: method,
                    detail: err.to_string(),
                });
            }
            return match msg.get("result") {
                Some(Value::Object(r)) => Ok(r.clone()),
                _ => Err(ScanError::Protocol {
                    what: method,
                    detail: "no result object".into(),
                }),
            };
        }
    };
    let init = request(
        "initialize",
        json!({
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "rampart-mcp-scan", "version": env!("CARGO_PKG_VERSION")}
        }),
        &mut stdin,
    )?;
    let server_name = init
        .get("serverInfo")
        .and_then(|i| i.get("name"))
        .and_then(Value::as_str)
        .map(str::to_string);
    send(
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        &mut stdin,
    )?;
    let mut tools = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let params = match &cursor {
            Some(c) => json!({"cursor": c}),
            None => json!({}),
        };
        let page = request("tools/list", params, &mut stdin)?;
        let Some(Value::Array(list)) = page.get("tools") else {
            return Err(ScanError::Protocol {
                what: "tools/list",
                detail: "no tools array".into(),
            });
        };
        for t in list {
            let Some(name) = t.get("name").and_then(Value::as_str) else {
                continue;
            };
            let description = t
                .get("description")
                .and_then(Value::as_str)
                .and_then(|d| d.lines().map(str::trim).find(|l| !l.is_empty()))
                .map(|d| d.chars().take(100).collect())
                .unwrap_or_default();
            tools.push((name.to_string(), description));
        }
        cursor = page
            .get("nextCursor")
            .and_then(Value::as_str)
            .map(str::to_string);
        if cursor.is_none() {
            break;
        }
    }
    drop(stdin);
    let _ = child.try_wait();
    Ok((server_name, tools))
}

/// A YAML double-quoted scalar.
fn yaml_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// The table, then a policy section pinning each tool's decision.
pub fn render(scan: &Scan, command: &[OsString]) -> String {
    use std::fmt::Write as _;
    let cmd = command
        .iter()
        .map(|a| a.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ");
    let mut out = String::new();
    let name = scan.server.clone().unwrap_or_else(|| cmd.clone());
    let _ = writeln!(
        out,
        "{} tool(s) from {name} — decisions when called with no arguments (rules that look at arguments may decide differently):",
        scan.tools.len()
    );
    let w = scan
        .tools
        .iter()
        .map(|t| t.name.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    let _ = writeln!(
        out,
        "  {:<w$}  {:<16}  {:<8}  RULE",
        "TOOL", "CLASS", "DECISION"
    );
    for t in &scan.tools {
        let rule = if t.rule.is_empty() {
            "(default action)"
        } else {
            &t.rule
        };
        let _ = writeln!(
            out,
            "  {:<w$}  {:<16}  {:<8}  {rule}",
            t.name, t.class, t.decision
        );
    }
    if scan.tools.is_empty() {
        return out;
    }
    let slug: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect::<String>()
        .split('-')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    let mut classes: Vec<&str> = scan.tools.iter().map(|t| t.class.as_str()).collect();
    classes.sort_unstable();
    classes.dedup();
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "# Suggested policy for: {cmd}\n# Review it, change the actions you disagree with, and save it as\n# ~/.rampart/policies/mcp-{slug}.yaml. A layered file can make a tool stricter; where the\n# base policy denies, an allow here does not loosen it."
    );
    let _ = writeln!(out, "version: \"1\"\npolicies:");
    let _ = writeln!(out, "  - name: {}", yaml_str(&format!("mcp-{slug}-tools")));
    let _ = writeln!(
        out,
        "    description: {}",
        yaml_str(&format!("Per-tool decisions for the {name} MCP server"))
    );
    let _ = writeln!(out, "    match:");
    let quoted: Vec<String> = classes.iter().map(|c| yaml_str(c)).collect();
    let _ = writeln!(out, "      tool: [{}]", quoted.join(", "));
    let _ = writeln!(out, "    rules:");
    for t in &scan.tools {
        if t.name.contains(['*', '?', '[', ']', '{', '}', '\\']) {
            let _ = writeln!(
                out,
                "      # {}: name holds glob characters; write its rule by hand",
                yaml_str(&t.name)
            );
            continue;
        }
        let _ = writeln!(out, "      - action: {}", t.decision);
        let _ = writeln!(out, "        when:");
        let _ = writeln!(out, "          tool_param_matches:");
        let _ = writeln!(out, "            mcp_tool: {}", yaml_str(&t.name));
        let why = if t.description.is_empty() {
            format!("{} ({})", t.name, t.class)
        } else {
            format!("{}: {}", t.name, t.description)
        };
        let _ = writeln!(out, "        message: {}", yaml_str(&why));
    }
    out
}
