//! [`InProcessServer`]: the same gate and HTTP API as `rampart serve` (built by
//! [`crate::cli::serve_cmd::build`]), started on a loopback port inside the calling process for
//! the lifetime of one agent run, with a fresh token for that run.
//!
//! Policy comes from the agent surface ([`Surface::Agent`]): the explicit `--config` or the
//! embedded standard profile, `~/.rampart/policies` on top, and the project policy of the
//! working directory's git root, which can only tighten. Decisions go to the shared audit
//! directory and the server's live stream like every other front end's. The run token may only
//! evaluate calls; the user's own admin token (`~/.rampart/token`) opens the dashboard and
//! resolves approvals.

use std::ffi::OsString;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::api::{self, ApiState};
use crate::cli::serve_cmd::{self, BuildSpec, ServeArgs};
use crate::engine::resolve::Surface;
use crate::gate::{Gate, Mode};

/// How long [`InProcessServer::shutdown`] lets open requests finish.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// Default time an approval waits for a person (also the longest single long-poll the API holds).
pub const DEFAULT_APPROVAL_TIMEOUT: Duration = crate::api::approvals::MAX_WAIT;

/// Environment variable carrying the server URL to the agent and its shims.
pub const URL_ENV: &str = "RAMPART_URL";
/// Environment variable carrying the per-run token.
pub const TOKEN_ENV: &str = "RAMPART_TOKEN";

/// What to start.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// enforce, monitor or disabled.
    pub mode: Mode,
    /// Explicit policy file (default: the embedded standard profile).
    pub config: Option<PathBuf>,
    /// Policy directory layered on top (default `~/.rampart/policies`).
    pub config_dir: Option<PathBuf>,
    /// Audit directory (default `~/.rampart/audit`, shared with every other writer).
    pub audit_dir: Option<PathBuf>,
    /// Loopback port; 0 picks a free ephemeral port.
    pub port: u16,
    /// How long an approval waits for a person.
    pub approval_timeout: Duration,
    /// Directory whose git root may hold a project policy (default: the current directory).
    pub project_dir: Option<PathBuf>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            mode: Mode::Enforce,
            config: None,
            config_dir: None,
            audit_dir: None,
            port: 0,
            approval_timeout: DEFAULT_APPROVAL_TIMEOUT,
            project_dir: std::env::current_dir().ok(),
        }
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// The async runtime could not be created.
    #[error("starting the server runtime: {0}")]
    Runtime(std::io::Error),
    /// A fresh token could not be generated.
    #[error("generating the run token: {0}")]
    Token(#[from] crate::credentials::CredError),
    /// Policy, audit or credential setup failed (the text says which).
    #[error("{0}")]
    Build(String),
    /// The port could not be bound.
    #[error("listening on 127.0.0.1:{port}: {source}")]
    Bind {
        /// The requested port.
        port: u16,
        /// The OS error.
        source: std::io::Error,
    },
}

/// A running in-process server. Dropping it shuts it down (without the summary).
pub struct InProcessServer {
    rt: Option<tokio::runtime::Runtime>,
    server: Option<tokio::task::JoinHandle<()>>,
    state: Arc<ApiState>,
    url: String,
    token: String,
    port: u16,
}

impl std::fmt::Debug for InProcessServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InProcessServer")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl InProcessServer {
    /// Builds the gate and API state, binds `127.0.0.1:<port>` and starts serving on a runtime of
    /// its own. Blocks the supervised signals ([`super::signals::block`]) in the calling thread
    /// first, so no thread it starts ever takes a signal meant for the agent.
    pub fn start(opts: ServerOptions) -> Result<InProcessServer, EmbedError> {
        // Best effort: a failure only means signals may end the process before they are forwarded.
        let _ = super::signals::block();
        let token = crate::credentials::secret::generate_token()?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .worker_threads(2)
            .thread_name("rampart-embedded")
            .build()
            .map_err(EmbedError::Runtime)?;
        let listener = rt
            .block_on(tokio::net::TcpListener::bind(SocketAddr::from((
                Ipv4Addr::LOCALHOST,
                opts.port,
            ))))
            .map_err(|source| EmbedError::Bind {
                port: opts.port,
                source,
            })?;
        let port = listener
            .local_addr()
            .map_err(|source| EmbedError::Bind {
                port: opts.port,
                source,
            })?
            .port();
        let args = serve_args(&opts, port);
        let spec = BuildSpec {
            surface: Surface::Agent,
            project_dir: opts.project_dir.clone(),
            owns_state: false,
            run_token: Some(token.clone()),
        };
        let (built, _no_lock) =
            serve_cmd::build(&args, &spec).map_err(|e| EmbedError::Build(format!("{e:#}")))?;
        let state = built.state;
        let app = api::router(state.clone());
        let stop = state.shutdown.clone();
        let server = {
            let _enter = rt.enter();
            if let Some(store) = &state.approvals {
                store.spawn_sweeper();
            }
            rt.spawn(async move {
                let served = axum::serve(listener, app)
                    .with_graceful_shutdown(async move { stop.cancelled().await })
                    .await;
                if let Err(e) = served {
                    eprintln!("rampart: in-process server stopped: {e}");
                }
            })
        };
        Ok(InProcessServer {
            rt: Some(rt),
            server: Some(server),
            state,
            url: format!("http://127.0.0.1:{port}"),
            token,
            port,
        })
    }

    /// The base URL, `http://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The per-run token (eval scope only).
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The shared API state (gate, approvals, live stream).
    pub fn state(&self) -> &Arc<ApiState> {
        &self.state
    }

    /// The gate every decision of this run goes through.
    pub fn gate(&self) -> &Gate {
        &self.state.gate
    }

    /// `rampart: N calls evaluated, N denied, N watched` so far.
    pub fn summary(&self) -> String {
        self.state.gate.tally.summary()
    }

    /// `RAMPART_URL` and `RAMPART_TOKEN` for the agent's environment.
    pub fn env(&self) -> Vec<(OsString, OsString)> {
        vec![
            (URL_ENV.into(), self.url.clone().into()),
            (TOKEN_ENV.into(), self.token.clone().into()),
        ]
    }

    /// Stops serving (open requests get [`SHUTDOWN_GRACE`]; long-polls end at once) and returns
    /// the summary line. Every decision was already durable in the audit trail when answered.
    pub fn shutdown(mut self) -> String {
        self.stop();
        self.summary()
    }

    fn stop(&mut self) {
        self.state.shutdown.cancel();
        let Some(rt) = self.rt.take() else { return };
        if let Some(server) = self.server.take() {
            let _ = rt.block_on(async { tokio::time::timeout(SHUTDOWN_GRACE, server).await });
        }
        rt.shutdown_timeout(Duration::from_millis(500));
    }
}

impl Drop for InProcessServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The `serve` flags an in-process server is built from.
fn serve_args(opts: &ServerOptions, port: u16) -> ServeArgs {
    ServeArgs {
        port,
        addr: Ipv4Addr::LOCALHOST.to_string(),
        mode: opts.mode.as_str().to_string(),
        config: opts.config.clone(),
        config_dir: opts.config_dir.clone(),
        audit_dir: opts.audit_dir.clone(),
        reload_interval: Duration::ZERO,
        approval_timeout: opts.approval_timeout,
        syslog: None,
        cef: false,
        resolve_base_url: None,
        signing_key: None,
        metrics: false,
        background: false,
    }
}
