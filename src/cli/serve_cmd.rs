//! `rampart serve`: the long-lived gate behind the HTTP API, with hot reload and graceful
//! shutdown (spec/server.md §13).

use std::io::IsTerminal;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use clap::Args;

use crate::api::{self, ApiConfig, ApiState, Authenticator};
use crate::audit::{AuditSink, SiemConfig, SinkConfig, Transport};
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
    /// Emit CEF lines (to syslog with --syslog, else <audit-dir>/cef.log).
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
    ensure_private_dir(&dir)?;
    Ok(dir)
}

fn ensure_private_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("creating {}", dir.display()))?;
    }
    let meta = std::fs::symlink_metadata(dir)?;
    if meta.file_type().is_symlink() || !meta.is_dir() {
        bail!("{} must be a real directory", dir.display());
    }
    if meta.permissions().mode() & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
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

/// Admin token: `RAMPART_TOKEN` > `~/.rampart/token` > generated; persisted owner-only.
fn admin_token(dir: &Path) -> anyhow::Result<String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join("token");
    let from_env = std::env::var("RAMPART_TOKEN")
        .ok()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty());
    let from_file = std::fs::read_to_string(&path)
        .ok()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty());
    let token = match from_env.or(from_file.clone()) {
        Some(t) => t,
        None => {
            let mut b = [0u8; 24];
            std::fs::File::open("/dev/urandom")
                .and_then(|mut f| f.read_exact(&mut b))
                .context("generating a token")?;
            format!("rampart_{}", hex::encode(b))
        }
    };
    if from_file.as_deref() != Some(token.as_str()) {
        let tmp = dir.join(format!(".token.{}", std::process::id()));
        {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)
                .context("writing token")?;
            f.write_all(token.as_bytes())?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &path).context("saving token")?;
    }
    Ok(token)
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

/// Builds the gate and API state from flags.
pub fn build(a: &ServeArgs, surface: Surface) -> anyhow::Result<(Built, Option<std::fs::File>)> {
    let mode: Mode = a.mode.parse().map_err(|e: String| anyhow!(e))?;
    let ip: IpAddr = a
        .addr
        .parse()
        .map_err(|_| anyhow!("serve: --addr must be an IP address, got {:?}", a.addr))?;
    let dir = state_dir()?;
    let lock = if a.port > 0 {
        Some(take_owner_lock(&dir)?)
    } else {
        None
    };
    let mut opts = ResolveOptions::new(surface, a.config.clone());
    // Serve always layers the policy directory, where learned and approved rules are written.
    let rules_dir = a.config_dir.clone().unwrap_or_else(|| dir.join("policies"));
    opts.config_dir = Some(rules_dir.clone());
    let policy = PolicyHandle::load(opts).context("serve: loading policy")?;
    let audit_dir = a.audit_dir.clone().unwrap_or_else(|| dir.join("audit"));
    let mut cfg = SinkConfig::new(&audit_dir);
    cfg.siem = siem_config(a, &audit_dir)?;
    let sink = AuditSink::open(cfg).context("serve: create audit sink")?;
    let gate = Arc::new(Gate::new(policy, mode, Some(sink)));
    let token = admin_token(&dir).context("serve: admin token")?;
    let auth: Arc<dyn Authenticator> = Arc::new(api::StaticToken(token.clone()));
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
    let state = Arc::new(ApiState::new(gate, auth, config));
    Ok((Built { state, token }, lock))
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
    let (built, _lock) = build(&a, Surface::Serve)?;
    let st = built.state.clone();
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
    Ok(0)
}

fn banner(port: u16, token: &str, st: &ApiState) {
    let short: String = token.chars().take(16).collect();
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
