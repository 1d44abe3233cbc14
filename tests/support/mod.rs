//! Shared harness for API tests: a real server on an ephemeral loopback port, in this process,
//! and a real HTTP client (ureq).
#![allow(dead_code)]

pub mod binary;
pub mod preload;

use std::path::PathBuf;
use std::sync::Arc;

use rampart::api::approvals::GateHooks;
use rampart::api::{self, ApiConfig, ApiState, Authenticator, StaticToken};
use rampart::approval::{ApprovalStore, Signer, StoreConfig};
use rampart::audit::{AuditSink, SinkConfig};
use rampart::engine::resolve::{ResolveOptions, Surface};
use rampart::gate::{Gate, Mode, PolicyHandle};

/// The admin token test servers use.
pub const TOKEN: &str = "rampart_000000000000000000000000000000000000000000000000";

/// Key of the test servers' link signer.
pub const SIGNING_KEY: [u8; 32] = [7; 32];

/// A test policy exercising every action.
pub const POLICY: &str = r#"
version: "1"
default_action: allow
policies:
  - name: block-rm
    match: {tool: exec}
    rules:
      - action: deny
        when: {command_matches: ["rm -rf *"]}
        message: "no recursive deletes"
  - name: ask-deploy
    match: {tool: exec}
    rules:
      - action: ask
        when: {command_matches: ["deploy *"]}
        message: "deploys need a human"
  - name: watch-curl
    match: {tool: exec}
    rules:
      - action: watch
        when: {command_matches: ["curl *"]}
        message: "network call"
  - name: secrets-out
    match: {tool: exec}
    rules:
      - action: deny
        when: {response_matches: ["AKIA[A-Z0-9]{16}"]}
        message: "response contains an AWS key"
"#;

/// A running in-process server.
pub struct TestServer {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Shared state (gate, metrics...).
    pub state: Arc<ApiState>,
    /// Temp dir holding policy, audit and state.
    pub dir: tempfile::TempDir,
    /// The policy file.
    pub policy_path: PathBuf,
    rt: Option<tokio::runtime::Runtime>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.state.shutdown.cancel();
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// Options for [`TestServer::start_with`].
pub struct Opts {
    /// Policy YAML.
    pub policy: String,
    /// Mode.
    pub mode: Mode,
    /// Enable /metrics.
    pub metrics: bool,
    /// Audit on.
    pub audit: bool,
    /// Rotate audit files after this many bytes (tests force rotation to make writes fail).
    pub audit_max_file_bytes: Option<u64>,
    /// Approval timeout.
    pub approval_timeout: std::time::Duration,
    /// Authenticator (default: the static admin token).
    pub auth: Option<Arc<dyn Authenticator>>,
}

impl Default for Opts {
    fn default() -> Self {
        Opts {
            policy: POLICY.into(),
            mode: Mode::Enforce,
            metrics: true,
            audit: true,
            approval_timeout: std::time::Duration::from_secs(60),
            auth: None,
            audit_max_file_bytes: None,
        }
    }
}

impl TestServer {
    /// Starts a server with the test policy in enforce mode.
    pub fn start() -> TestServer {
        Self::start_with(Opts::default())
    }

    /// Starts a server with options.
    pub fn start_with(o: Opts) -> TestServer {
        Self::start_in(o, tempfile::tempdir().unwrap())
    }

    /// Starts a server with options, keeping policy, audit and state in `dir`.
    pub fn start_in(o: Opts, dir: tempfile::TempDir) -> TestServer {
        let policy_path = dir.path().join("policy.yaml");
        std::fs::write(&policy_path, &o.policy).unwrap();
        let mut opts = ResolveOptions::new(Surface::Serve, Some(policy_path.clone()));
        opts.home = Some(dir.path().to_path_buf());
        let rules_dir = dir.path().join("policies");
        opts.config_dir = Some(rules_dir.clone());
        let policy = PolicyHandle::load(opts).unwrap();
        let sink = o.audit.then(|| {
            let mut cfg = SinkConfig::new(dir.path().join("audit"));
            if let Some(m) = o.audit_max_file_bytes {
                cfg.max_file_bytes = m;
            }
            AuditSink::open(cfg).unwrap()
        });
        let gate = Arc::new(Gate::new(policy, o.mode, sink));
        let cfg = ApiConfig {
            metrics: o.metrics,
            state_dir: Some(dir.path().join("state")),
            rules_dir: Some(rules_dir),
            ..ApiConfig::default()
        };
        let mut state = ApiState::new(
            gate.clone(),
            o.auth
                .unwrap_or_else(|| Arc::new(StaticToken(TOKEN.into()))),
            cfg,
        );
        let store = ApprovalStore::open(
            StoreConfig {
                timeout: o.approval_timeout,
                journal: Some(dir.path().join("state").join("pending-approvals.jsonl")),
                ..StoreConfig::default()
            },
            Arc::new(GateHooks(gate)),
        )
        .unwrap();
        state.approvals = Some(Arc::new(store));
        state.signer = Some(Arc::new(Signer::from_key(SIGNING_KEY)));
        let state = Arc::new(state);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        if let Some(store) = state.approvals.clone() {
            let _guard = rt.enter();
            store.spawn_sweeper();
        }
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let app = api::router(state.clone());
        rt.spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        TestServer {
            base: format!("http://127.0.0.1:{port}"),
            state,
            dir,
            policy_path,
            rt: Some(rt),
        }
    }

    /// The server's URL for `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// A client that never follows redirects and never turns statuses into errors.
pub fn client() -> ureq::Agent {
    ureq::Agent::config_builder()
        .max_redirects(0)
        .http_status_as_error(false)
        .build()
        .into()
}

/// Response status and parsed JSON body (Null when not JSON).
pub fn send(
    method: &str,
    url: &str,
    token: Option<&str>,
    body: Option<&str>,
    headers: &[(&str, &str)],
) -> (u16, serde_json::Value) {
    let (s, text) = send_text(method, url, token, body, headers);
    (
        s,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    )
}

/// Response status and body text.
pub fn send_text(
    method: &str,
    url: &str,
    token: Option<&str>,
    body: Option<&str>,
    headers: &[(&str, &str)],
) -> (u16, String) {
    let c = client();
    let mut b = ureq::http::Request::builder().method(method).uri(url);
    if let Some(t) = token {
        b = b.header("Authorization", format!("Bearer {t}"));
    }
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let req = b.body(body.unwrap_or("").to_string()).unwrap();
    let resp = c.run(req).unwrap();
    let status = resp.status().as_u16();
    let text = resp.into_body().read_to_string().unwrap_or_default();
    (status, text)
}

/// POST JSON with the admin token.
pub fn post(url: &str, body: &str) -> (u16, serde_json::Value) {
    send(
        "POST",
        url,
        Some(TOKEN),
        Some(body),
        &[("Content-Type", "application/json")],
    )
}

/// GET with the admin token.
pub fn get(url: &str) -> (u16, serde_json::Value) {
    send("GET", url, Some(TOKEN), None, &[])
}

/// `examples/NAME` for this profile, built on demand (`cargo test --test X` builds no examples).
pub fn example_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test exe");
    let dir = exe
        .parent()
        .and_then(std::path::Path::parent)
        .expect("target/<profile>")
        .to_path_buf();
    let profile = match dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => "dev".to_string(),
        Some(p) => p.to_string(),
    };
    let status = std::process::Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--example", name, "--profile"])
        .arg(&profile)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("run cargo build --example");
    assert!(status.success(), "building example {name} failed");
    let bin = dir.join("examples").join(name);
    assert!(bin.is_file(), "{} missing", bin.display());
    bin
}
