//! `rampart serve`: the long-lived gate behind the HTTP API, with hot reload and graceful
//! shutdown (spec/server.md §13).

use std::io::IsTerminal;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use clap::Args;

use super::{serve_process, serve_service};
use crate::api::approvals::GateHooks;
use crate::api::auth::{Credentials, RunToken};
use crate::api::{self, ApiConfig, ApiState, Authenticator};
use crate::approval::{ApprovalStore, Signer, StoreConfig};
use crate::audit::{AuditSink, SiemConfig, SinkConfig, Transport};
use crate::credentials::{AdminToken, TokenStore};
use crate::engine::resolve::{self, ResolveOptions, Surface};
use crate::gate::{Gate, Mode, PolicyHandle};

/// Flags of `rampart serve`.
#[derive(Debug, Args, Clone)]
pub struct ServeArgs {
    /// Port to listen on (0 = no HTTP server).
    #[arg(long, default_value_t = 9090)]
    pub port: u16,
    /// Bind address (an IP literal; loopback by default).
    #[arg(long, default_value = "127.0.0.1")]
    pub addr: String,
    /// enforce | monitor | disabled.
    #[arg(long, default_value = "enforce")]
    pub mode: String,
    /// Policy file (default: ./rampart.yaml when present, else the embedded standard profile).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Extra policy directory (default: ~/.rampart/policies).
    #[arg(long)]
    pub config_dir: Option<PathBuf>,
    /// Audit directory (default: ~/.rampart/audit).
    #[arg(long)]
    pub audit_dir: Option<PathBuf>,
    /// Periodic policy reload in seconds, in addition to file watching (0 = watch only).
    #[arg(long, default_value = "0", value_parser = parse_secs)]
    pub reload_interval: Duration,
    /// How long approvals wait for a human (e.g. 90s, 5m, 1h).
    #[arg(long, default_value = "1h", value_parser = parse_secs)]
    pub approval_timeout: Duration,
    /// Send audit events to syslog at host:port (UDP; prefix tcp:// for TCP).
    #[arg(long)]
    pub syslog: Option<String>,
    /// Emit CEF lines (to syslog with --syslog, else `<audit-dir>/cef.log`).
    #[arg(long)]
    pub cef: bool,
    /// Base URL for signed approval links in notifications.
    #[arg(long)]
    pub resolve_base_url: Option<String>,
    /// Approval-link signing key (32 bytes; generated when missing).
    #[arg(long)]
    pub signing_key: Option<PathBuf>,
    /// Serve Prometheus metrics at /metrics.
    #[arg(long)]
    pub metrics: bool,
    /// Detach and log to ~/.rampart/serve.log.
    #[arg(long, short = 'b')]
    pub background: bool,
}

/// Parses `90`, `90s`, `5m`, `1h`, `1h30m` into a duration.
pub fn parse_secs(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if let Ok(n) = s.parse::<u64>() {
        return Ok(Duration::from_secs(n));
    }
    match crate::engine::duration::parse_go_duration(s) {
        Some(secs) if secs >= 0.0 && secs.is_finite() => Ok(Duration::from_secs_f64(secs)),
        _ => Err(format!("invalid duration {s:?} (use e.g. 90s, 5m, 1h)")),
    }
}

/// `~/.rampart`, created owner-only.
pub fn state_dir() -> anyhow::Result<PathBuf> {
    let home = resolve::home_dir().ok_or_else(|| anyhow!("HOME is not set"))?;
    let dir = home.join(".rampart");
    crate::credentials::secure_file::ensure_private_dir(&dir)
        .with_context(|| format!("preparing {}", dir.display()))?;
    Ok(dir)
}

/// Holds the single-owner lock on `~/.rampart/serve.lock` for the server's lifetime.
fn take_owner_lock(dir: &Path) -> anyhow::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join("serve.lock");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    match f.try_lock() {
        Ok(()) => Ok(f),
        Err(std::fs::TryLockError::WouldBlock) => bail!(
            "serve: another Rampart serve process already owns approval state in {}",
            dir.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => Err(e).context("locking serve.lock"),
    }
}

fn siem_config(a: &ServeArgs, audit_dir: &Path) -> anyhow::Result<Option<SiemConfig>> {
    if a.syslog.is_none() && !a.cef {
        return Ok(None);
    }
    let syslog = a.syslog.as_ref().map(|s| match s.strip_prefix("tcp://") {
        Some(hp) => (hp.to_string(), Transport::Tcp),
        None => (
            s.strip_prefix("udp://").unwrap_or(s).to_string(),
            Transport::Udp,
        ),
    });
    Ok(Some(SiemConfig {
        syslog,
        cef: a.cef,
        dir: audit_dir.to_path_buf(),
    }))
}

/// Everything `serve` (and the in-process servers of `wrap`/`preload`) builds before listening.
pub struct Built {
    /// The shared state.
    pub state: Arc<ApiState>,
    /// The admin token.
    pub token: String,
}

/// What differs between `serve` and an in-process server (`wrap`, `preload`) when building.
#[derive(Debug, Clone)]
pub struct BuildSpec {
    /// The policy surface (`Serve`, or `Agent` for servers running inside an agent's directory).
    pub surface: Surface,
    /// Directory whose git root may hold a tighten-only project policy (agent surface).
    pub project_dir: Option<PathBuf>,
    /// Take the single-owner lock on `~/.rampart/serve.lock` and journal pending approvals.
    pub owns_state: bool,
    /// A per-run token accepted with the eval scope only (it cannot resolve approvals).
    pub run_token: Option<String>,
}

impl BuildSpec {
    /// The spec of `rampart serve` with these flags.
    pub fn serve(a: &ServeArgs) -> BuildSpec {
        BuildSpec {
            surface: Surface::Serve,
            project_dir: None,
            owns_state: a.port > 0,
            run_token: None,
        }
    }
}

/// Builds the gate and API state from flags.
pub fn build(a: &ServeArgs, spec: &BuildSpec) -> anyhow::Result<(Built, Option<std::fs::File>)> {
    let mode: Mode = a.mode.parse().map_err(|e: String| anyhow!(e))?;
    let ip: IpAddr = a
        .addr
        .parse()
        .map_err(|_| anyhow!("serve: --addr must be an IP address, got {:?}", a.addr))?;
    let dir = state_dir()?;
    let lock = if spec.owns_state {
        Some(take_owner_lock(&dir)?)
    } else {
        None
    };
    let mut opts = ResolveOptions::new(spec.surface, a.config.clone());
    opts.project_dir = spec.project_dir.clone();
    // Serve always layers the policy directory, where learned and approved rules are written.
    let rules_dir = a.config_dir.clone().unwrap_or_else(|| dir.join("policies"));
    opts.config_dir = Some(rules_dir.clone());
    let policy = PolicyHandle::load(opts).context("serve: loading policy")?;
    let audit_dir = a.audit_dir.clone().unwrap_or_else(|| dir.join("audit"));
    let mut cfg = SinkConfig::new(&audit_dir);
    cfg.siem = siem_config(a, &audit_dir)?;
    // Serve starts rarely and lives long: always verify the tail, never only the checkpoint.
    cfg.verify_tail_on_open = true;
    let sink = AuditSink::open(cfg).context("serve: create audit sink")?;
    let gate = Arc::new(Gate::new(policy, mode, Some(sink)));
    let home = resolve::home_dir().ok_or_else(|| anyhow!("HOME is not set"))?;
    // An in-process server's environment may carry another server's RAMPART_TOKEN (a wrapped
    // agent starting another wrap): only `serve` takes its admin token from the environment.
    let (admin, token) = match spec.run_token {
        None => AdminToken::load_for_serve(&home),
        Some(_) => AdminToken::load_for_serve_with(&home, None),
    }
    .context("serve: admin token")?;
    let home_creds = Credentials {
        admin,
        tokens: TokenStore::for_home(&home),
    };
    let auth: Arc<dyn Authenticator> = match &spec.run_token {
        None => Arc::new(home_creds),
        Some(run) => Arc::new(RunToken::new(run.clone(), home_creds)),
    };
    let signer = Signer::load_or_create(
        &a.signing_key
            .clone()
            .unwrap_or_else(|| dir.join("signing.key")),
    )
    .map_err(|e| anyhow!("serve: approval resolve URL signing unavailable: {e}"))?;
    let journal = spec.owns_state.then(|| dir.join("pending-approvals.jsonl"));
    let store = ApprovalStore::open(
        StoreConfig {
            timeout: a.approval_timeout,
            journal,
            ..StoreConfig::default()
        },
        Arc::new(GateHooks(gate.clone())),
    )
    .map_err(|e| anyhow!("serve: approval store: {e}"))?;
    let mut allowed_hosts = Vec::new();
    if !ip.is_loopback() && !ip.is_unspecified() {
        allowed_hosts.push(ip.to_string());
    }
    let config = ApiConfig {
        allowed_hosts,
        metrics: a.metrics,
        resolve_base_url: a.resolve_base_url.clone(),
        port: a.port,
        state_dir: Some(dir),
        rules_dir: Some(rules_dir),
    };
    let mut state = ApiState::new(gate, auth, config);
    state.approvals = Some(Arc::new(store));
    state.signer = Some(Arc::new(signer));
    let state = Arc::new(state);
    Ok((Built { state, token }, lock))
}

/// `rampart serve` subcommands.
#[derive(Debug, clap::Subcommand, Clone)]
pub enum ServeAction {
    /// Stop the background server (SIGTERM to the PID in ~/.rampart/serve.pid).
    Stop,
    /// Install serve as a user service (systemd user unit / LaunchAgent).
    Install(InstallArgs),
    /// Remove the user service.
    Uninstall,
}

/// Flags of `rampart serve install`.
#[derive(Debug, Args, Clone)]
pub struct InstallArgs {
    /// Port the service listens on.
    #[arg(long, default_value_t = 9090)]
    pub port: u16,
    /// Policy file (made absolute).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Extra policy directory.
    #[arg(long)]
    pub config_dir: Option<PathBuf>,
    /// Audit directory.
    #[arg(long)]
    pub audit_dir: Option<PathBuf>,
    /// enforce | monitor | disabled.
    #[arg(long)]
    pub mode: Option<String>,
    /// Approval timeout (always passed through when given).
    #[arg(long)]
    pub approval_timeout: Option<String>,
    /// Replace an existing Rampart service definition.
    #[arg(long)]
    pub force: bool,
}

/// `rampart serve [FLAGS] [stop|install|uninstall]`.
#[derive(Debug, Args, Clone)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ServeCmd {
    /// Subcommand.
    #[command(subcommand)]
    pub action: Option<ServeAction>,
    /// Server flags.
    #[command(flatten)]
    pub args: ServeArgs,
}

/// Dispatches `rampart serve`.
pub fn dispatch(c: ServeCmd) -> anyhow::Result<i32> {
    let home = resolve::home_dir().ok_or_else(|| anyhow!("HOME is not set"))?;
    match c.action {
        None if c.args.background => {
            let exe = std::env::current_exe().context("locating the rampart binary")?;
            let args: Vec<std::ffi::OsString> = std::env::args_os()
                .skip(1)
                .filter(|a| a != "--background" && a != "-b")
                .collect();
            let pid = serve_process::spawn_background(&home, &exe, &args)?;
            println!("rampart serve running in background (pid={pid}, log=~/.rampart/serve.log)");
            println!("  check it with: rampart status");
            Ok(0)
        }
        None => run(c.args),
        Some(ServeAction::Stop) => {
            let pid = serve_process::stop(&home)?;
            println!("✓ rampart serve (pid={pid}) stopped");
            Ok(0)
        }
        Some(ServeAction::Install(i)) => install(&home, i),
        Some(ServeAction::Uninstall) => {
            let r = serve_service::uninstall(&home)?;
            println!("✓ Removed {} ({})", r.service_name, r.unit_path.display());
            for n in r.notes {
                println!("  {n}");
            }
            Ok(0)
        }
    }
}

fn install(home: &Path, i: InstallArgs) -> anyhow::Result<i32> {
    let exe = std::env::current_exe().context("locating the rampart binary")?;
    let mut args: Vec<String> = Vec::new();
    if i.port != 9090 {
        args.extend(["--port".into(), i.port.to_string()]);
    }
    if let Some(c) = &i.config {
        args.extend([
            "--config".into(),
            crate::engine::load::absolute(c).display().to_string(),
        ]);
    }
    if let Some(d) = &i.config_dir {
        args.extend([
            "--config-dir".into(),
            crate::engine::load::absolute(d).display().to_string(),
        ]);
    }
    if let Some(d) = &i.audit_dir {
        args.extend([
            "--audit-dir".into(),
            crate::engine::load::absolute(d).display().to_string(),
        ]);
    }
    if let Some(m) = &i.mode {
        let _: Mode = m.parse().map_err(|e: String| anyhow!(e))?;
        args.extend(["--mode".into(), m.clone()]);
    }
    if let Some(t) = &i.approval_timeout {
        parse_secs(t).map_err(|e| anyhow!(e))?;
        args.extend(["--approval-timeout".into(), t.clone()]);
    }
    // The service reads ~/.rampart/token (never a token baked into the unit), so rotation sticks.
    let (_, token) = AdminToken::load_for_serve(home).context("serve install: admin token")?;
    let opts = serve_service::InstallOptions {
        exe,
        serve_args: args,
        force: i.force,
        home: home.to_path_buf(),
    };
    let r = serve_service::install(&opts)?;
    println!("✓ Installed {} ({})", r.service_name, r.unit_path.display());
    println!("  🔑 Token saved to ~/.rampart/token");
    println!(
        "  Service {} and {}",
        if r.started { "started" } else { "not started" },
        if r.enabled { "enabled" } else { "not enabled" }
    );
    if std::io::stdout().is_terminal() {
        println!("  🔑 Token      : {token}");
    }
    println!("  🌐 Dashboard  : http://localhost:{}/dashboard/", i.port);
    for n in r.notes {
        println!("  {n}");
    }
    Ok(0)
}

/// Runs `rampart serve`.
pub fn run(a: ServeArgs) -> anyhow::Result<i32> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .worker_threads(2)
        .build()
        .context("starting runtime")?;
    rt.block_on(serve(a))
}

async fn serve(a: ServeArgs) -> anyhow::Result<i32> {
    // Started under the preload library, the server must never ask itself.
    super::preload_cmd::mark_preload_inert();
    let (built, _lock) = build(&a, &BuildSpec::serve(&a))?;
    let st = built.state.clone();
    if let Some(store) = &st.approvals {
        store.spawn_sweeper();
    }
    let snap = st.gate.policy.current();
    if a.config.is_none() && snap.config_path.starts_with("embedded:") {
        eprintln!(
            "serve: using embedded standard policy (no config file found — create one with 'rampart init')"
        );
    }
    for w in &snap.warnings {
        eprintln!("serve: warning: {w}");
    }
    let _watcher = start_watcher(&st, &a);
    if !a.reload_interval.is_zero() {
        let st2 = st.clone();
        let every = a.reload_interval;
        tokio::spawn(async move {
            let mut t = tokio::time::interval(every);
            t.tick().await;
            loop {
                t.tick().await;
                reload_and_report(&st2, "interval");
            }
        });
    }
    if a.port == 0 {
        eprintln!("serve: --port 0: no HTTP server; running SDK-only until interrupted");
        shutdown_signal().await;
        return Ok(0);
    }
    let ip: IpAddr = a.addr.parse().unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
    if !ip.is_loopback() {
        eprintln!(
            "serve: warning: listening on non-loopback address {ip} without TLS; anyone who can reach it can try tokens"
        );
    }
    let addr = SocketAddr::new(ip, a.port);
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => bail!(
            "serve: port {} is already in use (another server?); pick another with --port",
            a.port
        ),
        Err(e) => return Err(e).with_context(|| format!("serve: listening on {addr}")),
    };
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(a.port);
    banner(port, &built.token, &st);
    let home = resolve::home_dir().unwrap_or_default();
    let exe = std::env::current_exe().unwrap_or_default();
    let state_rec = serve_process::ServeState {
        url: format!("http://localhost:{port}"),
        port,
        pid: std::process::id(),
        started: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        executable: exe.display().to_string(),
    };
    if let Err(e) = serve_process::write_state(&home, &state_rec) {
        eprintln!("serve: warning: cannot write serve.state: {e}");
    }
    serve_process::signal_ready(&home).context("serve: signalling readiness")?;
    let app = api::router(st.clone());
    let shutdown = st.shutdown.clone();
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown_signal().await;
        eprintln!("serve: shutting down...");
        shutdown.cancel();
    });
    let drain = st.shutdown.clone();
    tokio::select! {
        r = server => r.context("serve: server error")?,
        _ = async move {
            drain.cancelled().await;
            tokio::time::sleep(Duration::from_secs(5)).await;
        } => eprintln!("serve: drain timed out after 5s"),
    }
    serve_process::remove_state(&home);
    Ok(0)
}

fn banner(port: u16, token: &str, st: &ApiState) {
    let short: String = token.chars().take(14).collect();
    eprintln!("✓ Rampart ready  —  :{port} (token={short}...)");
    if std::io::stderr().is_terminal() {
        eprintln!("  🔑 Full token : {token}");
    } else {
        eprintln!("  🔑 Token      : saved to ~/.rampart/token");
    }
    eprintln!("  🌐 Dashboard  : http://localhost:{port}/dashboard/");
    let snap = st.gate.policy.current();
    eprintln!(
        "serve: started mode={} policy={} policies={} rules={}",
        st.gate.mode(),
        snap.config_path,
        snap.policy_count(),
        snap.rule_count()
    );
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// Reloads policy, logging and publishing the outcome; the old policy stays on failure.
pub fn reload_and_report(st: &ApiState, why: &str) {
    match st.gate.policy.reload() {
        Ok(r) => {
            eprintln!(
                "serve: policy reloaded ({why}): {} policies, {} rules",
                r.policies, r.rules
            );
            st.gate.live.publish(&serde_json::json!({
                "type": "policy.reloaded", "policies": r.policies, "rules": r.rules
            }));
        }
        Err(e) => {
            eprintln!("serve: policy reload failed ({why}); keeping the previous policy: {e}");
            st.gate.live.publish(&serde_json::json!({
                "type": "policy.reload_failed", "error": e.to_string()
            }));
        }
    }
}

/// Watches the config file's directory and the policy directory; coalesces bursts of events
/// into one reload 200 ms after the last one (editors that save by rename keep working).
fn start_watcher(st: &Arc<ApiState>, a: &ServeArgs) -> Option<notify::RecommendedWatcher> {
    use notify::{RecursiveMode, Watcher};
    let mut targets: Vec<(PathBuf, Option<std::ffi::OsString>)> = Vec::new();
    let config = a
        .config
        .clone()
        .or_else(|| Some(PathBuf::from("rampart.yaml")).filter(|p| p.is_file()));
    if let Some(c) = config {
        let abs = crate::engine::load::absolute(&c);
        if let Some(parent) = abs.parent() {
            targets.push((parent.to_path_buf(), abs.file_name().map(|n| n.to_owned())));
        }
    }
    let dir = a.config_dir.clone().or_else(|| {
        resolve::user_policy_dir(resolve::home_dir().as_deref()).filter(|d| d.is_dir())
    });
    if let Some(d) = dir {
        targets.push((d, None));
    }
    if targets.is_empty() {
        return None;
    }
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let filters = targets.clone();
    let mut w = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let Ok(ev) = res else { return };
        if matches!(ev.kind, notify::EventKind::Access(_)) {
            return;
        }
        let relevant = ev.paths.iter().any(|p| {
            filters.iter().any(|(dir, name)| match name {
                Some(n) => p.file_name() == Some(n.as_os_str()),
                None => {
                    p.parent() == Some(dir.as_path())
                        && p.extension().is_some_and(|e| e == "yaml" || e == "yml")
                }
            })
        });
        if relevant {
            let _ = tx.send(());
        }
    })
    .ok()?;
    for (dir, _) in &targets {
        if let Err(e) = w.watch(dir, RecursiveMode::NonRecursive) {
            eprintln!("serve: warning: cannot watch {}: {e}", dir.display());
        }
    }
    let st = st.clone();
    tokio::spawn(async move {
        while rx.recv().await.is_some() {
            // Coalesce: wait until 200 ms pass without another event.
            loop {
                match tokio::time::timeout(Duration::from_millis(200), rx.recv()).await {
                    Ok(Some(())) => continue,
                    Ok(None) => return,
                    Err(_) => break,
                }
            }
            let st2 = st.clone();
            let _ =
                tokio::task::spawn_blocking(move || reload_and_report(&st2, "file change")).await;
        }
    });
    Some(w)
}
