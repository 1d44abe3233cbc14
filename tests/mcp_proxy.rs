//! `rampart mcp -- SERVER`, driven end to end with real MCP programs: the rmcp test server in
//! `examples/mcp_test_server.rs` behind the real `rampart` binary, and an rmcp client (or raw
//! JSON-RPC lines, for frames no well-behaved client sends) on the proxy's stdio.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::Stdio;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig, Implementation,
    ProtocolVersion,
};
use rmcp::service::{NotificationContext, RunningService, ServiceError};
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

const BIN: &str = env!("CARGO_BIN_EXE_rampart");
/// Where approvals would be asked when no serve is meant to be found.
const UNREACHABLE: &str = "http://127.0.0.1:9";
const FAKE_KEY: &str = "AKIAIOSFODNN7EXAMPLE";

/// Deny destructive tools, ask for dangerous ones, withhold AWS keys, allow the rest.
const POLICY: &str = r#"
version: "1"
default_action: allow
policies:
  - name: no-destruction
    match: {tool: mcp-destructive}
    rules:
      - action: deny
        when: {default: true}
        message: "destructive MCP tools are blocked"
  - name: dangerous-needs-a-person
    match: {tool: mcp-dangerous}
    rules:
      - action: ask
        when: {default: true}
        message: "dangerous MCP tools need a person"
  - name: secrets-out
    match: {tool: ["mcp", "read"]}
    rules:
      - action: deny
        when: {response_matches: ["AKIA[A-Z0-9]{16}"]}
        message: "response contains an AWS key"
"#;

/// The example server, built for this test profile (once per test process).
fn server_bin() -> &'static Path {
    static BIN_PATH: OnceLock<PathBuf> = OnceLock::new();
    BIN_PATH.get_or_init(|| support::example_bin("mcp_test_server"))
}

/// Bytes seen on one side of a pipe.
type Seen = Arc<Mutex<Vec<u8>>>;

/// Copies what passes through into `seen`.
struct Tee<T> {
    inner: T,
    seen: Seen,
}

impl<T: AsyncRead + Unpin> AsyncRead for Tee<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &r {
            self.seen
                .lock()
                .expect("seen")
                .extend_from_slice(&buf.filled()[before..]);
        }
        r
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Tee<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, data);
        if let Poll::Ready(Ok(n)) = &r {
            self.seen
                .lock()
                .expect("seen")
                .extend_from_slice(&data[..*n]);
        }
        r
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The rmcp client: speaks 2025-06-18 (server→client requests allowed) and counts
/// `notifications/tools/list_changed`.
#[derive(Clone, Default)]
struct TestClient {
    list_changed: Arc<tokio::sync::Notify>,
}

impl ClientHandler for TestClient {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("rampart-mcp-test", "0.1.0"),
        )
        .with_protocol_version(ProtocolVersion::V_2025_06_18)
    }

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.list_changed.notify_one();
    }
}

/// A temp directory holding the policy, the audit trail, HOME and the server's logs.
struct Dirs {
    root: tempfile::TempDir,
}

impl Dirs {
    fn new(policy: &str) -> Dirs {
        let root = tempfile::Builder::new()
            .prefix("rampart-mcp-test-")
            .tempdir()
            .expect("tempdir");
        std::fs::write(root.path().join("policy.yaml"), policy).expect("policy");
        for d in ["home", "logs"] {
            std::fs::create_dir_all(root.path().join(d)).expect("dir");
        }
        Dirs { root }
    }
    fn path(&self, p: &str) -> PathBuf {
        self.root.path().join(p)
    }
    fn read(&self, p: &str) -> Vec<u8> {
        std::fs::read(self.path(p)).unwrap_or_default()
    }
    fn server_pid(&self) -> i32 {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(s) = std::fs::read_to_string(self.path("logs/pid"))
                && let Ok(p) = s.trim().parse()
            {
                return p;
            }
            assert!(Instant::now() < deadline, "the server never wrote its pid");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    /// Every audit event written so far.
    fn audit(&self) -> Vec<Value> {
        let Ok(rd) = std::fs::read_dir(self.path("audit")) else {
            return Vec::new();
        };
        let mut files: Vec<PathBuf> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("audit-hook-") && n.ends_with(".jsonl"))
            })
            .collect();
        files.sort();
        files
            .iter()
            .flat_map(|f| {
                std::fs::read_to_string(f)
                    .unwrap_or_default()
                    .lines()
                    .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                    .filter(|v| v.get("tool").is_some())
                    .collect::<Vec<_>>()
            })
            .collect()
    }
    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.read("stderr.log")).into_owned()
    }
}

/// The proxy command line: `rampart mcp --config … --audit-dir … FLAGS -- <test server>`.
fn proxy_command(d: &Dirs, flags: &[&str], env: &[(&str, &str)]) -> std::process::Command {
    proxy_command_for(d, flags, env, &[server_bin().as_os_str()])
}

/// The proxy command line in front of `server`.
fn proxy_command_for(
    d: &Dirs,
    flags: &[&str],
    env: &[(&str, &str)],
    server: &[&std::ffi::OsStr],
) -> std::process::Command {
    let mut c = std::process::Command::new(BIN);
    c.arg("mcp")
        .arg("--config")
        .arg(d.path("policy.yaml"))
        .arg("--audit-dir")
        .arg(d.path("audit"))
        .args(flags)
        .arg("--")
        .args(server)
        .env_clear()
        .env("HOME", d.path("home"))
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("RAMPART_URL", UNREACHABLE)
        .env("RAMPART_NO_PROJECT_POLICY", "1")
        .env("MCP_TEST_LOG_DIR", d.path("logs"))
        .current_dir(d.root.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(
            std::fs::File::create(d.path("stderr.log")).expect("stderr log"),
        ));
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

/// An rmcp client connected through the proxy, with both directions recorded.
struct Session {
    proxy: tokio::process::Child,
    client: RunningService<RoleClient, TestClient>,
    handler: TestClient,
    sent: Seen,
    received: Seen,
}

async fn connect(d: &Dirs, flags: &[&str], env: &[(&str, &str)]) -> Session {
    connect_to(d, proxy_command(d, flags, env)).await
}

async fn connect_to(d: &Dirs, cmd: std::process::Command) -> Session {
    let mut proxy = tokio::process::Command::from(cmd)
        .kill_on_drop(true)
        .spawn()
        .expect("spawn rampart mcp");
    let sent = Seen::default();
    let received = Seen::default();
    let transport = (
        Tee {
            inner: proxy.stdout.take().expect("stdout"),
            seen: received.clone(),
        },
        Tee {
            inner: proxy.stdin.take().expect("stdin"),
            seen: sent.clone(),
        },
    );
    let handler = TestClient::default();
    let client =
        handler.clone().serve(transport).await.unwrap_or_else(|e| {
            panic!("initialize through the proxy: {e}; stderr: {}", d.stderr())
        });
    Session {
        proxy,
        client,
        handler,
        sent,
        received,
    }
}

fn params(name: &str, args: Value) -> CallToolRequestParams {
    let p = CallToolRequestParams::new(name.to_string());
    match args {
        Value::Object(m) => p.with_arguments(m),
        _ => p,
    }
}

fn text_of(r: &CallToolResult) -> String {
    serde_json::to_value(&r.content)
        .ok()
        .and_then(|v| {
            v.as_array().map(|a| {
                a.iter()
                    .filter_map(|c| c["text"].as_str().map(str::to_string))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        })
        .unwrap_or_default()
}

/// The JSON-RPC error a call was answered with.
fn rpc_error(r: Result<CallToolResult, ServiceError>) -> (i32, String) {
    match r {
        Err(ServiceError::McpError(e)) => (e.code.0, e.message.to_string()),
        other => panic!("expected a JSON-RPC error, got {other:?}"),
    }
}

fn lines(b: &[u8]) -> Vec<Value> {
    b.split(|c| *c == b'\n')
        .filter(|l| !l.trim_ascii().is_empty())
        .map(|l| serde_json::from_slice(l).expect("a JSON line"))
        .collect()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn pid_alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    unsafe { libc::kill(pid, 0) == 0 }
}

async fn exit_code(proxy: &mut tokio::process::Child, limit: Duration) -> Option<i32> {
    match tokio::time::timeout(limit, proxy.wait()).await {
        Ok(Ok(st)) => st.code(),
        _ => None,
    }
}

/// Closes the client (stdin EOF) and waits for the proxy to exit; returns its exit code.
async fn finish(mut s: Session) -> (Option<i32>, Vec<u8>, Vec<u8>) {
    let _ = s.client.cancel().await;
    let code = exit_code(&mut s.proxy, Duration::from_secs(15)).await;
    let sent = s.sent.lock().expect("sent").clone();
    let received = s.received.lock().expect("received").clone();
    (code, sent, received)
}

#[test]
fn allowed_traffic_passes_byte_for_byte_both_ways() {
    let d = Dirs::new(POLICY);
    let (code, sent, received) = runtime().block_on(async {
        let s = connect(&d, &[], &[]).await;
        let tools = s.client.list_all_tools().await.expect("tools/list");
        let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
        for want in ["echo", "read_file", "delete_file", "leak_secret", "slow"] {
            assert!(names.contains(&want), "{names:?}");
        }
        let r = s
            .client
            .call_tool(params("echo", json!({"text": "héllo \"wörld\"\n\u{2028}"})))
            .await
            .expect("echo");
        assert_eq!(text_of(&r), "héllo \"wörld\"\n\u{2028}");
        let r = s
            .client
            .call_tool(params("get_posts", json!({})))
            .await
            .expect("get_posts");
        assert_eq!(text_of(&r), "post 1, post 2");
        // A server→client request (roots/list) and the client's answer, through the proxy.
        let r = s
            .client
            .call_tool(params("list_roots", json!({})))
            .await
            .expect("list_roots");
        assert_eq!(text_of(&r), "client has 0 roots");
        finish(s).await
    });
    assert_eq!(code, Some(0), "stderr: {}", d.stderr());
    // Everything the client wrote reached the server unchanged, and the other way round.
    let server_in = d.read("logs/in.raw");
    let server_out = d.read("logs/out.raw");
    assert!(!sent.is_empty() && !received.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&server_in),
        String::from_utf8_lossy(&sent),
        "client→server bytes differ"
    );
    assert_eq!(
        String::from_utf8_lossy(&server_out),
        String::from_utf8_lossy(&received),
        "server→client bytes differ"
    );
    let methods: Vec<String> = lines(&received)
        .iter()
        .filter_map(|m| m["method"].as_str().map(str::to_string))
        .collect();
    assert!(methods.contains(&"roots/list".to_string()), "{methods:?}");
    let audit = d.audit();
    for tool in ["echo", "get_posts", "list_roots"] {
        assert!(
            audit.iter().any(|e| e["request"]["mcp_tool"] == tool
                && e["decision"]["action"] == "allow"
                && e["agent"] == "mcp-client"
                && e["session"] == "mcp-proxy"),
            "{tool}: {audit:?}"
        );
    }
}

#[test]
fn denied_destructive_call_is_answered_by_the_proxy_and_never_reaches_the_server() {
    let d = Dirs::new(POLICY);
    let victim = d.path("victim.txt");
    std::fs::write(&victim, "keep me").expect("victim");
    let (code, sent, received) = runtime().block_on(async {
        let s = connect(&d, &[], &[]).await;
        let r = s
            .client
            .call_tool(params(
                "delete_file",
                json!({"path": victim.display().to_string()}),
            ))
            .await;
        let (code, msg) = rpc_error(r);
        assert_eq!(code, -32600);
        assert!(msg.starts_with("Rampart: "), "{msg}");
        assert!(msg.contains("destructive MCP tools are blocked"), "{msg}");
        // The proxy is still relaying.
        let r = s
            .client
            .call_tool(params("echo", json!({"text": "after"})))
            .await
            .expect("echo after a denial");
        assert_eq!(text_of(&r), "after");
        finish(s).await
    });
    assert_eq!(code, Some(0), "stderr: {}", d.stderr());
    assert_eq!(
        std::fs::read_to_string(&victim).expect("victim still there"),
        "keep me"
    );
    let server_in = String::from_utf8_lossy(&d.read("logs/in.raw")).into_owned();
    assert!(!server_in.contains("delete_file"), "{server_in}");
    // The answer carries the request's id.
    let call = lines(&sent)
        .into_iter()
        .find(|m| m["params"]["name"] == "delete_file")
        .expect("the client sent the call");
    let answer = lines(&received)
        .into_iter()
        .find(|m| m["id"] == call["id"] && m.get("error").is_some())
        .expect("an error answer with the same id");
    assert_eq!(answer["jsonrpc"], "2.0");
    let audit = d.audit();
    assert!(
        audit.iter().any(|e| e["tool"] == "mcp-destructive"
            && e["decision"]["action"] == "deny"
            && e["request"]["mcp_tool"] == "delete_file"
            && e["request"]["path"] == victim.display().to_string()),
        "{audit:?}"
    );
}

#[test]
fn deny_style_tool_error_answers_with_an_error_result() {
    let d = Dirs::new(POLICY);
    let (code, _, _) = runtime().block_on(async {
        let s = connect(&d, &["--deny-style", "tool-error"], &[]).await;
        let r = s
            .client
            .call_tool(params("delete_file", json!({"path": "/nonexistent"})))
            .await
            .expect("a tool result, not a JSON-RPC error");
        assert_eq!(r.is_error, Some(true));
        let t = text_of(&r);
        assert!(
            t.starts_with("Rampart: ") && t.contains("destructive"),
            "{t}"
        );
        finish(s).await
    });
    assert_eq!(code, Some(0));
}

#[test]
fn filter_tools_hides_always_denied_tools_and_rechecks_after_list_changed() {
    let d = Dirs::new(POLICY);
    let (code, _, received) = runtime().block_on(async {
        let s = connect(&d, &["--filter-tools"], &[]).await;
        let names = |tools: Vec<rmcp::model::Tool>| -> Vec<String> {
            tools.into_iter().map(|t| t.name.to_string()).collect()
        };
        let first = names(s.client.list_all_tools().await.expect("tools/list"));
        assert!(first.contains(&"echo".to_string()), "{first:?}");
        assert!(!first.contains(&"delete_file".to_string()), "{first:?}");
        // Asked-for tools stay visible: a person may approve them.
        assert!(first.contains(&"send_report".to_string()), "{first:?}");
        let r = s
            .client
            .call_tool(params("enable_more_tools", json!({})))
            .await
            .expect("enable_more_tools");
        assert_eq!(text_of(&r), "more tools");
        tokio::time::timeout(Duration::from_secs(10), s.handler.list_changed.notified())
            .await
            .expect("notifications/tools/list_changed reached the client");
        let second = names(s.client.list_all_tools().await.expect("tools/list again"));
        assert!(second.contains(&"echo".to_string()), "{second:?}");
        assert!(!second.contains(&"drop_table".to_string()), "{second:?}");
        finish(s).await
    });
    assert_eq!(code, Some(0), "stderr: {}", d.stderr());
    let server_out = String::from_utf8_lossy(&d.read("logs/out.raw")).into_owned();
    assert!(server_out.contains("\"drop_table\"") && server_out.contains("\"delete_file\""));
    let client_in = String::from_utf8_lossy(&received).into_owned();
    assert!(!client_in.contains("\"drop_table\""), "{client_in}");
    assert!(!client_in.contains("\"delete_file\""), "{client_in}");
    let audit = d.audit();
    for tool in ["delete_file", "drop_table"] {
        assert!(
            audit.iter().any(|e| e["request"]["mcp_tool"] == tool
                && e["request"]["mcp_method"] == "tools/list"
                && e["decision"]["action"] == "deny"),
            "{tool}: {audit:?}"
        );
    }
}

#[test]
fn secrets_in_tool_results_are_withheld() {
    let d = Dirs::new(POLICY);
    let (code, _, received) = runtime().block_on(async {
        let s = connect(&d, &[], &[]).await;
        for args in [json!({}), json!({"structured": true})] {
            let r = s
                .client
                .call_tool(params("leak_secret", args.clone()))
                .await
                .expect("a tool result");
            assert_eq!(r.is_error, Some(true), "{args}");
            assert!(r.structured_content.is_none());
            let t = text_of(&r);
            assert!(t.starts_with("Rampart: tool output withheld"), "{t}");
            assert!(t.contains("response contains an AWS key"), "{t}");
            assert!(!t.contains(FAKE_KEY));
        }
        finish(s).await
    });
    assert_eq!(code, Some(0));
    assert!(!String::from_utf8_lossy(&received).contains(FAKE_KEY));
    assert!(String::from_utf8_lossy(&d.read("logs/out.raw")).contains(FAKE_KEY));
    let audit = d.audit();
    let withheld = audit
        .iter()
        .filter(|e| e["request"]["mcp_phase"] == "response" && e["decision"]["action"] == "deny")
        .count();
    assert_eq!(withheld, 2, "{audit:?}");
}

#[test]
fn monitor_mode_records_real_verdicts_and_forwards_everything() {
    let d = Dirs::new(POLICY);
    let victim = d.path("victim.txt");
    std::fs::write(&victim, "x").expect("victim");
    let (code, _, _) = runtime().block_on(async {
        let s = connect(&d, &["--mode", "monitor", "--filter-tools"], &[]).await;
        let tools = s.client.list_all_tools().await.expect("tools/list");
        assert!(tools.iter().any(|t| t.name == "delete_file"));
        let r = s
            .client
            .call_tool(params(
                "delete_file",
                json!({"path": victim.display().to_string()}),
            ))
            .await
            .expect("monitor forwards");
        assert!(text_of(&r).starts_with("deleted"), "{}", text_of(&r));
        let r = s
            .client
            .call_tool(params("leak_secret", json!({})))
            .await
            .expect("leak");
        assert!(text_of(&r).contains(FAKE_KEY));
        finish(s).await
    });
    assert_eq!(code, Some(0));
    assert!(!victim.exists());
    let audit = d.audit();
    assert!(
        audit
            .iter()
            .any(|e| e["request"]["mcp_tool"] == "delete_file"
                && e["request"]["mcp_method"] == "tools/call"
                && e["decision"]["action"] == "deny")
    );
    assert!(audit.iter().any(|e| {
        e["request"]["mcp_phase"] == "response"
            && e["response"]["flags"]
                .as_array()
                .is_some_and(|f| f.iter().any(|x| x == "response-observed-deny"))
    }));
}

/// A proxy driven with raw lines.
struct Raw {
    child: std::process::Child,
    stdin: Option<std::process::ChildStdin>,
    rx: std::sync::mpsc::Receiver<String>,
}

impl Drop for Raw {
    fn drop(&mut self) {
        // A failed assertion must not leave the proxy (and its server) running.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Raw {
    fn start(d: &Dirs, flags: &[&str], env: &[(&str, &str)]) -> Raw {
        let mut child = proxy_command(d, flags, env)
            .spawn()
            .expect("spawn rampart mcp");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(l) = line else { break };
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        Raw {
            stdin: child.stdin.take(),
            child,
            rx,
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        let w = self.stdin.as_mut().expect("stdin open");
        w.write_all(bytes).expect("write");
        w.flush().expect("flush");
    }

    fn recv(&self) -> String {
        self.rx
            .recv_timeout(Duration::from_secs(15))
            .expect("a line from the proxy")
    }

    fn init(&mut self) {
        self.send(
            br#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}
"#,
        );
        let l = self.recv();
        assert!(l.contains("\"result\""), "{l}");
        self.send(b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n");
    }

    /// Closes stdin and waits (bounded) for the proxy to exit.
    fn close(&mut self, limit: Duration) -> Option<i32> {
        self.stdin = None;
        let until = Instant::now() + limit;
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                return st.code();
            }
            if Instant::now() > until {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[test]
fn malformed_frames_are_answered_or_dropped_and_the_proxy_keeps_going() {
    let d = Dirs::new(POLICY);
    let mut p = Raw::start(&d, &[], &[]);
    p.init();
    p.send(b"this is not json\n");
    p.send(b"\n   \n");
    // Duplicate keys: which name would the server read?
    p.send(br#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"echo","name":"delete_file","arguments":{"path":"/x"}}}
"#);
    p.send(
        br#"[{"jsonrpc":"2.0","id":7,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/x"}]
"#,
    );
    p.send(
        br#"{"jsonrpc":"2.0","id":8,"Method":"tools/call","method":"ping"}
"#,
    );
    p.send(br#"{"jsonrpc":"2.0","method":"tools/call","params":{"name":"delete_file","arguments":{"path":"/x"}}}
"#);
    p.send(br#"{"jsonrpc":"2.0","id":11,"method":"tools/call","params":{"name":"read_file","arguments":{"Path":"/etc/hostname"}}}
"#);
    // 9 MiB: over the frame limit.
    let mut big = br#"{"jsonrpc":"2.0","id":9,"method":"ping","params":{"pad":""#.to_vec();
    big.extend(std::iter::repeat_n(b'x', 9 << 20));
    big.extend_from_slice(b"\"}}\n");
    p.send(&big);
    // Ids come back exactly as sent.
    p.send(br#"{"jsonrpc":"2.0","id":1.0,"method":"tools/call","params":{"name":"delete_file","arguments":{"path":"/x"}}}
"#);
    p.send(br#"{"jsonrpc":"2.0","id":"a\u0041","method":"tools/call","params":{"name":"delete_file","arguments":{"path":"/x"}}}
"#);
    p.send(br#"{"jsonrpc":"2.0","id":10,"method":"tools/call","params":{"name":"echo","arguments":{"text":"still here"}}}
"#);
    let mut got = Vec::new();
    loop {
        let l = p.recv();
        let done = l.contains("still here");
        got.push(l);
        if done {
            break;
        }
    }
    // Anything else already queued.
    while let Ok(l) = p.rx.recv_timeout(Duration::from_millis(300)) {
        got.push(l);
    }
    let find = |needle: &str| {
        got.iter()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle}: {got:#?}"))
            .clone()
    };
    let dup: Value = serde_json::from_str(&find("\"id\":5,")).expect("json");
    assert_eq!(dup["error"]["code"], -32600);
    let batch: Value = serde_json::from_str(&find("batches")).expect("json");
    assert_eq!(batch[0]["id"], 7);
    assert_eq!(batch.as_array().map(Vec::len), Some(1));
    let shadow: Value = serde_json::from_str(&find("\"id\":8,")).expect("json");
    assert_eq!(shadow["error"]["code"], -32600);
    let ambiguous: Value = serde_json::from_str(&find("\"id\":11,")).expect("json");
    assert_eq!(ambiguous["error"]["code"], -32602, "{ambiguous}");
    assert!(find("\"id\":1.0,").contains("\"code\":-32600"));
    assert!(find(r#""id":"a\u0041","#).contains("\"code\":-32600"));
    assert!(!got.iter().any(|l| l.contains("\"id\":9,")), "{got:#?}");
    // 5, batch, 8, 11, 1.0, "aA", 10: the garbage, blank, id-less and oversize frames got no answer.
    assert_eq!(got.len(), 7, "{got:#?}");
    assert_eq!(p.close(Duration::from_secs(15)), Some(0));
    let server_in = String::from_utf8_lossy(&d.read("logs/in.raw")).into_owned();
    for never in [
        "not json",
        "delete_file",
        "Method",
        "\"id\":7",
        "pad",
        "Path",
    ] {
        assert!(!server_in.contains(never), "{never} reached the server");
    }
    let err = d.stderr();
    assert!(err.contains("not valid JSON"), "{err}");
    assert!(err.contains("dropped a client frame of"), "{err}");
    assert!(err.contains("without an id"), "{err}");
}

fn pending_approval(base: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, v) = support::get(&format!("{base}/v1/approvals"));
        if let Some(id) = v["approvals"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["status"] == "pending"))
            .and_then(|x| x["id"].as_str())
        {
            return id.to_string();
        }
        assert!(Instant::now() < deadline, "no pending approval: {v}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn resolve(base: &str, id: &str, approved: bool) {
    let (st, body) = support::post(
        &format!("{base}/v1/approvals/{id}/resolve"),
        &json!({"approved": approved, "resolved_by": "test"}).to_string(),
    );
    assert_eq!(st, 200, "{body}");
}

#[test]
fn an_ask_holds_only_its_own_request_until_a_person_answers() {
    let serve = support::TestServer::start();
    let base = serve.base.clone();
    let d = Dirs::new(POLICY);
    let env = [
        ("RAMPART_URL", base.as_str()),
        ("RAMPART_TOKEN", support::TOKEN),
        ("RAMPART_HOOK_APPROVAL_TIMEOUT", "60"),
    ];
    let (code, _, _) = runtime().block_on(async {
        let s = connect(&d, &[], &env).await;
        let on_hold = |text: &str| {
            let peer = s.client.peer().clone();
            let p = params("send_report", json!({"text": text}));
            tokio::spawn(async move { peer.call_tool(p).await })
        };
        let pending = |base: String| async move {
            tokio::task::spawn_blocking(move || pending_approval(&base))
                .await
                .expect("join")
        };
        // Approved: the held call goes through after the answer; other calls flow meanwhile.
        let held = on_hold("q1");
        let id = pending(base.clone()).await;
        let t = Instant::now();
        for i in 0..5 {
            let r = s
                .client
                .call_tool(params("echo", json!({"text": format!("fast {i}")})))
                .await
                .expect("echo while another call is held");
            assert_eq!(text_of(&r), format!("fast {i}"));
        }
        assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
        assert!(
            !held.is_finished(),
            "the held call must wait for the person"
        );
        let b = base.clone();
        tokio::task::spawn_blocking(move || resolve(&b, &id, true))
            .await
            .expect("join");
        let r = held.await.expect("join").expect("approved call");
        assert_eq!(text_of(&r), "sent: q1");

        // Denied: the proxy answers, the server never sees it.
        let held = on_hold("q2");
        let id = pending(base.clone()).await;
        let b = base.clone();
        tokio::task::spawn_blocking(move || resolve(&b, &id, false))
            .await
            .expect("join");
        let (code, msg) = rpc_error(held.await.expect("join"));
        assert_eq!(code, -32600);
        assert!(msg.starts_with("Rampart: approval not granted"), "{msg}");

        // Cancelled by the client while held: approving it later sends nothing to the server.
        let held = on_hold("q3");
        let id = pending(base.clone()).await;
        held.abort();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let b = base.clone();
        tokio::task::spawn_blocking(move || resolve(&b, &id, true))
            .await
            .expect("join");
        tokio::time::sleep(Duration::from_millis(300)).await;
        finish(s).await
    });
    assert_eq!(code, Some(0), "stderr: {}", d.stderr());
    let server_in = String::from_utf8_lossy(&d.read("logs/in.raw")).into_owned();
    assert!(server_in.contains("q1"));
    assert!(
        !server_in.contains("q2"),
        "a denied call reached the server"
    );
    assert!(
        !server_in.contains("q3"),
        "a cancelled call reached the server"
    );
    let actions: Vec<String> = d
        .audit()
        .iter()
        .filter(|e| e["request"]["mcp_tool"] == "send_report")
        .filter_map(|e| e["decision"]["action"].as_str().map(str::to_string))
        .collect();
    assert_eq!(
        actions,
        ["ask", "approved", "ask", "deny", "ask", "approved"],
        "{actions:?}"
    );
    drop(serve);
}

#[test]
fn an_ask_without_a_serve_is_refused_with_how_to_enable_approvals() {
    let d = Dirs::new(POLICY);
    let (code, _, _) = runtime().block_on(async {
        let s = connect(&d, &[], &[]).await;
        let (code, msg) = rpc_error(
            s.client
                .call_tool(params("send_report", json!({"text": "q"})))
                .await,
        );
        assert_eq!(code, -32600);
        assert!(
            msg.starts_with("Rampart: dangerous MCP tools need a person"),
            "{msg}"
        );
        assert!(msg.contains("rampart serve"), "{msg}");
        finish(s).await
    });
    assert_eq!(code, Some(0));
    assert!(!String::from_utf8_lossy(&d.read("logs/in.raw")).contains("send_report\""));
}

#[test]
fn a_slow_call_does_not_hold_up_a_fast_one_and_cancellation_reaches_the_server() {
    let d = Dirs::new(POLICY);
    let (code, sent, _) = runtime().block_on(async {
        let s = connect(&d, &[], &[]).await;
        let peer = s.client.peer().clone();
        let slow =
            tokio::spawn(async move { peer.call_tool(params("slow", json!({"ms": 20000}))).await });
        tokio::time::sleep(Duration::from_millis(200)).await;
        let t = Instant::now();
        let r = s
            .client
            .call_tool(params("echo", json!({"text": "quick"})))
            .await
            .expect("echo");
        assert_eq!(text_of(&r), "quick");
        assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
        assert!(!slow.is_finished());
        slow.abort();
        // The cancellation is a plain notification: relayed as is.
        let until = Instant::now() + Duration::from_secs(10);
        while !String::from_utf8_lossy(&d.read("logs/in.raw")).contains("notifications/cancelled") {
            assert!(Instant::now() < until, "no cancellation reached the server");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        finish(s).await
    });
    // The server may still be draining the cancelled handler at EOF: then the proxy's SIGTERM
    // (after the grace period) ends it.
    assert!(
        matches!(code, Some(0 | 143)),
        "{code:?}; stderr: {}",
        d.stderr()
    );
    let slow_id = lines(&sent)
        .into_iter()
        .find(|m| m["params"]["name"] == "slow")
        .map(|m| m["id"].clone())
        .expect("slow call sent");
    let cancel = lines(&d.read("logs/in.raw"))
        .into_iter()
        .find(|m| m["method"] == "notifications/cancelled")
        .expect("cancel relayed");
    assert_eq!(cancel["params"]["requestId"], slow_id);
}

#[test]
fn the_servers_exit_code_is_propagated() {
    let d = Dirs::new(POLICY);
    let code = runtime().block_on(async {
        let mut s = connect(&d, &[], &[]).await;
        let call = s.client.call_tool(params("exit_now", json!({"code": 7})));
        let _ = tokio::time::timeout(Duration::from_secs(10), call).await;
        exit_code(&mut s.proxy, Duration::from_secs(15)).await
    });
    assert_eq!(code, Some(7), "stderr: {}", d.stderr());
}

#[test]
fn client_eof_shuts_the_server_down_and_reaps_it() {
    let d = Dirs::new(POLICY);
    let mut p = Raw::start(&d, &[], &[]);
    p.init();
    let pid = d.server_pid();
    assert!(pid_alive(pid));
    assert_eq!(p.close(Duration::from_secs(15)), Some(0));
    assert!(!pid_alive(pid), "server {pid} still running");
}

#[test]
fn a_server_that_ignores_eof_and_sigterm_is_killed() {
    let d = Dirs::new(POLICY);
    let mut p = Raw::start(&d, &[], &[("MCP_TEST_STUBBORN", "1")]);
    p.init();
    let pid = d.server_pid();
    let t = Instant::now();
    let code = p.close(Duration::from_secs(20));
    assert_eq!(code, Some(128 + 9), "stderr: {}", d.stderr());
    assert!(t.elapsed() >= Duration::from_secs(3), "{:?}", t.elapsed());
    assert!(!pid_alive(pid), "server {pid} still running");
}

#[test]
fn sigterm_is_forwarded_to_the_server() {
    let d = Dirs::new(POLICY);
    let mut p = Raw::start(&d, &[], &[]);
    p.init();
    let pid = d.server_pid();
    let proxy = i32::try_from(p.child.id()).expect("pid");
    // SAFETY: signalling the proxy process this test started.
    unsafe {
        libc::kill(proxy, libc::SIGTERM);
    }
    let until = Instant::now() + Duration::from_secs(15);
    let code = loop {
        if let Ok(Some(st)) = p.child.try_wait() {
            break st.code();
        }
        assert!(Instant::now() < until, "proxy did not exit");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(code, Some(128 + 15), "stderr: {}", d.stderr());
    assert!(!pid_alive(pid));
}

/// The official filesystem server from the npm registry (`integration/`, installed by
/// `.ci/run` with `npm ci`); skipped when it is not installed, except under CI.
fn filesystem_server() -> Option<PathBuf> {
    let bin = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("integration/node_modules/.bin/mcp-server-filesystem");
    let node = std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if bin.exists() && node {
        return Some(bin);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must run `npm ci` in integration/ (and have node) for this test"
    );
    eprintln!(
        "skipped: run `npm ci` in integration/ to test @modelcontextprotocol/server-filesystem"
    );
    None
}

#[test]
fn the_official_filesystem_server_behind_the_proxy() {
    let Some(server) = filesystem_server() else {
        return;
    };
    let policy = r#"
version: "1"
default_action: allow
policies:
  - name: protect
    match: {tool: write}
    rules:
      - action: deny
        when: {path_matches: ["**/protected/**"]}
        message: "the protected directory is read-only"
  - name: no-destruction
    match: {tool: [mcp-destructive, mcp-dangerous]}
    rules:
      - action: deny
        when: {default: true}
        message: "no moving or deleting"
  - name: secrets-out
    match: {tool: ["mcp", "read"]}
    rules:
      - action: deny
        when: {response_matches: ["AKIA[A-Z0-9]{16}"]}
        message: "response contains an AWS key"
"#;
    let d = Dirs::new(policy);
    let root = d.path("files");
    std::fs::create_dir_all(root.join("protected")).expect("dirs");
    std::fs::write(root.join("notes.txt"), "hello from disk\n").expect("notes");
    std::fs::write(root.join("creds.txt"), format!("key = {FAKE_KEY}\n")).expect("creds");
    // The server resolves symlinks; give it the real path.
    let root = root.canonicalize().expect("root");
    let p = |rel: &str| root.join(rel).display().to_string();
    let cmd = proxy_command_for(
        &d,
        &["--filter-tools"],
        &[],
        &[server.as_os_str(), root.as_os_str()],
    );
    let (code, _, _) = runtime().block_on(async {
        let s = connect_to(&d, cmd).await;
        let tools: Vec<String> = s
            .client
            .list_all_tools()
            .await
            .expect("tools/list")
            .into_iter()
            .map(|t| t.name.to_string())
            .collect();
        assert!(tools.contains(&"write_file".to_string()), "{tools:?}");
        assert!(!tools.contains(&"move_file".to_string()), "{tools:?}");
        let r = s
            .client
            .call_tool(params("read_text_file", json!({"path": p("notes.txt")})))
            .await
            .expect("read");
        assert!(text_of(&r).contains("hello from disk"), "{}", text_of(&r));
        let r = s
            .client
            .call_tool(params(
                "write_file",
                json!({"path": p("out.txt"), "content": "written"}),
            ))
            .await
            .expect("allowed write");
        assert_ne!(r.is_error, Some(true), "{}", text_of(&r));
        let (code, msg) = rpc_error(
            s.client
                .call_tool(params(
                    "write_file",
                    json!({"path": p("protected/x.txt"), "content": "no"}),
                ))
                .await,
        );
        assert_eq!(code, -32600);
        assert!(msg.contains("protected directory is read-only"), "{msg}");
        let (code, _) = rpc_error(
            s.client
                .call_tool(params(
                    "move_file",
                    json!({"source": p("notes.txt"), "destination": p("moved.txt")}),
                ))
                .await,
        );
        assert_eq!(code, -32600);
        let r = s
            .client
            .call_tool(params("read_text_file", json!({"path": p("creds.txt")})))
            .await
            .expect("a withheld result");
        assert_eq!(r.is_error, Some(true));
        assert!(!text_of(&r).contains(FAKE_KEY));
        assert!(r.structured_content.is_none());
        finish(s).await
    });
    assert_eq!(code, Some(0), "stderr: {}", d.stderr());
    assert_eq!(
        std::fs::read_to_string(root.join("out.txt")).expect("written"),
        "written"
    );
    assert!(!root.join("protected/x.txt").exists());
    assert!(root.join("notes.txt").exists() && !root.join("moved.txt").exists());
}

/// Runs `rampart mcp scan` with a private HOME; returns (exit code, stdout, stderr).
fn run_scan(home: &Path, args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rampart"))
        .args(["mcp", "scan"])
        .args(args)
        .env("HOME", home)
        .env("RAMPART_NO_PROJECT_POLICY", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `mcp scan` lists the real server's tools with their class and decision, never calls one,
/// and prints a policy section that loads cleanly.
#[test]
fn scan_lists_tools_with_class_and_decision_without_calling_them() {
    let dir = tempfile::tempdir().unwrap();
    // What the server read, logged by the server itself before it handles (and answers) it.
    // A `tee` in front of the server forwards each chunk before writing it to its file, and
    // scan SIGKILLs the group once it has the tool list: on a loaded machine tee could die
    // between the two writes, and the file lacked the tools/list the server had answered.
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let scan = std::process::Command::new(env!("CARGO_BIN_EXE_rampart"))
        .args(["mcp", "scan", "--"])
        .arg(server_bin())
        .env("HOME", dir.path())
        .env("RAMPART_NO_PROJECT_POLICY", "1")
        .env("MCP_TEST_LOG_DIR", &logs)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let (code, out, err) = (
        scan.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&scan.stdout).into_owned(),
        String::from_utf8_lossy(&scan.stderr).into_owned(),
    );
    assert_eq!(code, 0, "{err}");
    let row = |tool: &str| -> Vec<String> {
        out.lines()
            .find(|l| l.split_whitespace().next() == Some(tool))
            .unwrap_or_else(|| panic!("no row for {tool} in\n{out}"))
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    assert_eq!(row("delete_file")[1..3], ["mcp-destructive", "deny"]);
    assert_eq!(row("read_file")[1..3], ["read", "allow"]);
    assert_eq!(row("send_report")[1..3], ["mcp-dangerous", "ask"]);
    assert_eq!(row("get_posts")[1], "mcp", "word-level: not a 'post' write");
    let received = std::fs::read_to_string(logs.join("in.raw")).unwrap();
    assert!(received.contains("\"tools/list\""), "{received}");
    assert!(
        !received.contains("tools/call"),
        "scan made a call: {received}"
    );

    let yaml = &out[out.find("version: \"1\"").expect("a policy section")..];
    let file = dir.path().join("suggested.yaml");
    std::fs::write(&file, yaml).unwrap();
    let lint = std::process::Command::new(env!("CARGO_BIN_EXE_rampart"))
        .args(["policy", "lint"])
        .arg(&file)
        .output()
        .unwrap();
    let lint_out = String::from_utf8_lossy(&lint.stdout);
    assert!(lint.status.success(), "{lint_out}");
    assert!(lint_out.contains("0 errors, 0 warnings"), "{lint_out}");
    // Layered on the standard profile, the section pins the same decisions.
    let check = std::process::Command::new(env!("CARGO_BIN_EXE_rampart"))
        .args(["mcp", "scan", "--json", "--config-dir"])
        .arg(dir.path())
        .arg("--")
        .arg(server_bin())
        .env("HOME", dir.path())
        .env("RAMPART_NO_PROJECT_POLICY", "1")
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&check.stdout).unwrap();
    let decisions: Vec<(String, String)> = v["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_string(),
                t["decision"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        decisions.contains(&("delete_file".into(), "deny".into())),
        "{v}"
    );
    assert!(
        decisions.contains(&("read_file".into(), "allow".into())),
        "{v}"
    );
    assert_eq!(v["server"], "rmcp");
}

/// A server that exits at once, or never answers, is a clear error (exit 1), not a hang.
#[test]
fn scan_reports_dead_and_silent_servers() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = run_scan(dir.path(), &["--", "false"]);
    assert_eq!(code, 1);
    assert_eq!(out, "");
    assert!(
        err.contains("closed its output before answering initialize"),
        "{err}"
    );
    let t = Instant::now();
    let (code, _, err) = run_scan(dir.path(), &["--timeout", "1", "--", "sleep", "30"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("did not answer initialize within 1 s"),
        "{err}"
    );
    assert!(
        t.elapsed() < Duration::from_secs(20),
        "the silent server was not stopped"
    );
    let (code, _, err) = run_scan(dir.path(), &["--", "/nonexistent/server"]);
    assert_eq!(code, 1, "{err}");
}

/// `--map-tool NAME=CLASS` re-classifies a tool (case-insensitively) before the word rules: a
/// harmless-looking `echo` mapped to `mcp-destructive` is refused and never reaches the server;
/// a bad mapping stops the proxy before the server starts.
#[test]
fn map_tool_reclassifies_tools_for_policy() {
    let d = Dirs::new(POLICY);
    let (code, _, _) = runtime().block_on(async {
        let s = connect(&d, &["--map-tool", "ECHO=mcp-destructive"], &[]).await;
        let (code, msg) = rpc_error(
            s.client
                .call_tool(params("echo", json!({"text": "hi"})))
                .await,
        );
        assert_eq!(code, -32600, "{msg}");
        finish(s).await
    });
    assert_eq!(code, Some(0), "stderr: {}", d.stderr());
    let server_in = String::from_utf8_lossy(&d.read("logs/in.raw")).into_owned();
    assert!(!server_in.contains("\"echo\""), "{server_in}");
    assert!(
        d.audit()
            .iter()
            .any(|e| e["tool"] == "mcp-destructive" && e["request"]["mcp_tool"] == "echo"),
        "{:?}",
        d.audit()
    );

    let out = proxy_command(&d, &["--map-tool", "echo"], &[])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(d.stderr().contains("expected NAME=CLASS"), "{}", d.stderr());

    // scan applies the same table; `_default` covers what no rule classifies.
    let (code, out, err) = run_scan(
        d.root.path(),
        &[
            "--json",
            "--map-tool",
            "_default=read",
            "--",
            server_bin().to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let class = |n: &str| {
        v["tools"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == n)
            .map(|t| t["class"].as_str().unwrap().to_string())
            .unwrap()
    };
    assert_eq!(class("get_posts"), "read");
    assert_eq!(class("delete_file"), "mcp-destructive");
    assert_eq!(class("send_report"), "mcp-dangerous");
}
