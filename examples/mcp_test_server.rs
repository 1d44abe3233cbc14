//! A small real MCP server (rmcp, stdio) for the `rampart mcp` tests and latency bench.
//!
//! Tools: `echo`, `read_file`, `delete_file`, `leak_secret` (an AWS-key-shaped string, as text
//! or structured content), `slow` (sleeps), `get_posts`, `send_report`, `list_roots` (asks the client: a
//! server→client request), `enable_more_tools` (reveals `drop_table` and sends
//! `notifications/tools/list_changed`) and `exit_now` (exits with a code).
//!
//! Environment: `MCP_TEST_LOG_DIR` — write `pid`, and copy every byte read from stdin to
//! `in.raw` and every byte written to stdout to `out.raw`; `MCP_TEST_STUBBORN=1` — after the
//! client goes, ignore SIGTERM and stay alive (the proxy must kill the group).

use std::io::Write;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CacheScope, CallToolResult, ContentBlock, ListToolsResult, PaginatedRequestParams,
    ProtocolVersion, ResultType,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt, tool, tool_handler, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The AWS documentation example key: shaped like a real one, valid nowhere.
const FAKE_KEY: &str = "AKIAIOSFODNN7EXAMPLE";

#[derive(Clone)]
struct TestServer {
    tool_router: ToolRouter<Self>,
    more: Arc<AtomicBool>,
}

#[derive(Deserialize, JsonSchema)]
struct Text {
    /// Text to return.
    text: String,
}

#[derive(Deserialize, JsonSchema)]
struct PathArg {
    /// A file path.
    path: String,
}

#[derive(Deserialize, JsonSchema)]
struct Leak {
    /// Return the key as structured content instead of text.
    #[serde(default)]
    structured: bool,
}

#[derive(Deserialize, JsonSchema)]
struct Sleep {
    /// Milliseconds to sleep.
    ms: u64,
}

#[derive(Deserialize, JsonSchema)]
struct Code {
    /// Exit code.
    code: i32,
}

#[tool_router]
impl TestServer {
    fn new() -> Self {
        TestServer {
            tool_router: Self::tool_router(),
            more: Arc::new(AtomicBool::new(false)),
        }
    }

    #[tool(description = "Returns its text")]
    async fn echo(&self, Parameters(Text { text }): Parameters<Text>) -> String {
        text
    }

    #[tool(description = "Reads a file")]
    async fn read_file(
        &self,
        Parameters(PathArg { path }): Parameters<PathArg>,
    ) -> Result<String, String> {
        std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))
    }

    #[tool(description = "Deletes a file")]
    async fn delete_file(
        &self,
        Parameters(PathArg { path }): Parameters<PathArg>,
    ) -> Result<String, String> {
        std::fs::remove_file(&path)
            .map(|()| format!("deleted {path}"))
            .map_err(|e| format!("{path}: {e}"))
    }

    #[tool(description = "Returns a credential-shaped string")]
    async fn leak_secret(
        &self,
        Parameters(Leak { structured }): Parameters<Leak>,
    ) -> CallToolResult {
        if structured {
            let mut r = CallToolResult::success(vec![ContentBlock::text("see structured content")]);
            r.structured_content = Some(serde_json::json!({"aws_access_key_id": FAKE_KEY}));
            r
        } else {
            CallToolResult::success(vec![ContentBlock::text(format!(
                "config loaded\naws_access_key_id = {FAKE_KEY}\n"
            ))])
        }
    }

    #[tool(description = "Sleeps, then answers")]
    async fn slow(&self, Parameters(Sleep { ms }): Parameters<Sleep>) -> String {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        format!("slept {ms} ms")
    }

    #[tool(description = "Lists posts")]
    async fn get_posts(&self) -> String {
        "post 1, post 2".into()
    }

    #[tool(description = "Sends a report (a dangerous-sounding tool)")]
    async fn send_report(&self, Parameters(Text { text }): Parameters<Text>) -> String {
        format!("sent: {text}")
    }

    #[tool(description = "Asks the client for its roots (a server-to-client request)")]
    #[allow(deprecated)]
    async fn list_roots(&self, context: RequestContext<RoleServer>) -> String {
        match context.peer.list_roots().await {
            Ok(r) => format!("client has {} roots", r.roots.len()),
            Err(e) => format!("roots request failed: {e}"),
        }
    }

    #[tool(description = "Reveals more tools")]
    async fn enable_more_tools(&self, context: RequestContext<RoleServer>) -> String {
        self.more.store(true, Ordering::SeqCst);
        match context.peer.notify_tool_list_changed().await {
            Ok(()) => "more tools".into(),
            Err(e) => format!("notify failed: {e}"),
        }
    }

    #[tool(description = "Drops a table (hidden until enable_more_tools)")]
    async fn drop_table(&self) -> String {
        "dropped".into()
    }

    #[tool(description = "Exits the server process with a code")]
    async fn exit_now(&self, Parameters(Code { code }): Parameters<Code>) -> String {
        std::process::exit(code)
    }
}

#[tool_handler]
impl ServerHandler for TestServer {
    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let more = self.more.load(Ordering::SeqCst);
        let hints = context
            .protocol_version()
            .is_some_and(|v| v >= ProtocolVersion::V_2026_07_28);
        Ok(ListToolsResult {
            result_type: Some(ResultType::COMPLETE),
            tools: self
                .tool_router
                .list_all()
                .into_iter()
                .filter(|t| more || t.name != "drop_table")
                .collect(),
            meta: None,
            next_cursor: None,
            ttl_ms: hints.then_some(0),
            cache_scope: hints.then_some(CacheScope::Public),
        })
    }
}

/// Copies what passes through to a file.
struct Tee<T> {
    inner: T,
    log: Option<std::fs::File>,
}

impl<T: AsyncRead + Unpin> AsyncRead for Tee<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let (Poll::Ready(Ok(())), Some(f)) = (&r, self.log.as_mut()) {
            let _ = f.write_all(&buf.filled()[before..]);
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
        if let (Poll::Ready(Ok(n)), Some(f)) = (&r, self.log.as_mut()) {
            let _ = f.write_all(&data[..*n]);
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

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::var_os("MCP_TEST_LOG_DIR").map(std::path::PathBuf::from);
    let open = |name: &str| {
        dir.as_ref()
            .and_then(|d| std::fs::File::create(d.join(name)).ok())
    };
    if let Some(d) = &dir {
        std::fs::write(d.join("pid"), std::process::id().to_string())?;
    }
    let (stdin, stdout) = rmcp::transport::stdio();
    let transport = (
        Tee {
            inner: stdin,
            log: open("in.raw"),
        },
        Tee {
            inner: stdout,
            log: open("out.raw"),
        },
    );
    let running = TestServer::new().serve(transport).await?;
    let _ = running.waiting().await;
    if std::env::var_os("MCP_TEST_STUBBORN").is_some() {
        // SAFETY: ignoring SIGTERM in a single-purpose test process.
        unsafe {
            libc::signal(libc::SIGTERM, libc::SIG_IGN);
        }
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    }
    Ok(())
}
