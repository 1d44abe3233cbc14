//! SIEM fan-out: a bounded queue drained by one thread that sends syslog and/or CEF.
//!
//! The JSONL writer only ever `try_send`s here, so a slow or dead SIEM never blocks or
//! drops JSONL writes; when the queue is full the copy is dropped and counted.

use super::anchor::Anchor;
use super::cef::cef_line;
use super::event::{AuditEvent, format_rfc3339_nano};
use super::files::{CEF_LOG, open_append};
use super::syslog::{FACILITY_LOCAL0, Message, SyslogClient, Transport, format_5424, severity_for};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};

/// Queue length between the writer and the SIEM thread.
pub const QUEUE_LEN: usize = 1024;

/// Which SIEM outputs run next to the JSONL.
#[derive(Debug, Clone, Default)]
pub struct SiemConfig {
    /// Syslog destination `host:port` and transport.
    pub syslog: Option<(String, Transport)>,
    /// Emit CEF (as the syslog message, or to `cef.log` without syslog).
    pub cef: bool,
    /// Directory for `cef.log`.
    pub dir: PathBuf,
}

/// Counters of the SIEM thread.
#[derive(Debug, Default)]
pub struct SiemCounters {
    /// Copies sent or written.
    pub sent: AtomicU64,
    /// Copies dropped because the queue was full.
    pub dropped: AtomicU64,
    /// Send or write failures.
    pub errors: AtomicU64,
    /// Messages cut to fit a datagram.
    pub truncated: AtomicU64,
}

enum Msg {
    Event(Box<AuditEvent>),
    Anchor(Anchor),
}

/// Handle used by the writer to queue copies.
#[derive(Debug, Clone)]
pub struct SiemSender {
    tx: SyncSender<Msg>,
    counters: Arc<SiemCounters>,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Msg")
    }
}

impl SiemSender {
    fn offer(&self, m: Msg) {
        match self.tx.try_send(m) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Queues a copy of a persisted event (never blocks).
    pub fn event(&self, e: AuditEvent) {
        self.offer(Msg::Event(Box::new(e)));
    }

    /// Queues an anchor (never blocks).
    pub fn anchor(&self, a: Anchor) {
        self.offer(Msg::Anchor(a));
    }

    /// The counters.
    pub fn counters(&self) -> &Arc<SiemCounters> {
        &self.counters
    }
}

/// Starts the SIEM thread; it stops when every sender is dropped.
pub fn start(cfg: SiemConfig) -> Result<SiemSender, super::error::AuditError> {
    let (tx, rx) = sync_channel(QUEUE_LEN);
    let counters = Arc::new(SiemCounters::default());
    let client = match &cfg.syslog {
        Some((addr, t)) => Some(SyslogClient::new(addr, *t).map_err(|e| {
            super::error::AuditError::InvalidEvent(format!("syslog destination: {e}"))
        })?),
        None => None,
    };
    let c2 = counters.clone();
    std::thread::Builder::new()
        .name("rampart-audit-siem".into())
        .spawn(move || run(cfg, client, rx, c2))
        .map_err(|e| super::error::AuditError::io("spawn SIEM thread", "", e))?;
    Ok(SiemSender { tx, counters })
}

fn run(cfg: SiemConfig, mut client: Option<SyslogClient>, rx: Receiver<Msg>, c: Arc<SiemCounters>) {
    let host = super::event::HostInfo::current().hostname;
    let pid = std::process::id().to_string();
    let version = env!("CARGO_PKG_VERSION");
    let mut cef_file: Option<std::fs::File> = None;
    for m in rx {
        let ok = match m {
            Msg::Event(e) => {
                let ts = e
                    .timestamp
                    .map(|t| {
                        let utc = t.with_timezone(&chrono::Utc);
                        utc.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
                    })
                    .unwrap_or_default();
                let body = if cfg.cef {
                    cef_line(&e, version)
                } else {
                    e.to_json()
                };
                match client.as_mut() {
                    Some(cl) => {
                        let ts_full = e
                            .timestamp
                            .map(|t| format_rfc3339_nano(&t))
                            .unwrap_or_default();
                        let sd = [
                            ("id", e.id.as_str()),
                            ("action", e.decision.action.as_str()),
                            ("tool", e.tool.as_str()),
                            ("agent", e.agent.as_str()),
                            ("hash", e.hash.as_str()),
                            ("ts", ts_full.as_str()),
                        ];
                        let msg = format_5424(&Message {
                            facility: FACILITY_LOCAL0,
                            severity: severity_for(&e.decision.action),
                            timestamp: &ts,
                            hostname: &host,
                            app_name: "rampart",
                            procid: &pid,
                            msgid: if cfg.cef { "cef" } else { "audit" },
                            sd: &sd,
                            msg: &body,
                        });
                        match cl.send(&msg) {
                            Ok(cut) => {
                                if cut {
                                    c.truncated.fetch_add(1, Ordering::Relaxed);
                                }
                                true
                            }
                            Err(_) => false,
                        }
                    }
                    None if cfg.cef => {
                        if cef_file.is_none() {
                            cef_file = open_append(&cfg.dir.join(CEF_LOG)).ok();
                        }
                        let r = cef_file
                            .as_mut()
                            .map(|f| f.write_all(format!("{body}\n").as_bytes()));
                        match r {
                            Some(Ok(())) => true,
                            _ => {
                                cef_file = None;
                                false
                            }
                        }
                    }
                    None => true,
                }
            }
            Msg::Anchor(a) => match client.as_mut() {
                Some(cl) => {
                    let count = a.event_count.to_string();
                    let sd = [
                        ("event_id", a.event_id.as_str()),
                        ("hash", a.hash.as_str()),
                        ("event_count", count.as_str()),
                    ];
                    let msg = format_5424(&Message {
                        facility: FACILITY_LOCAL0,
                        severity: 6,
                        timestamp: &a.timestamp,
                        hostname: &host,
                        app_name: "rampart",
                        procid: &pid,
                        msgid: "anchor",
                        sd: &sd,
                        msg: &a.to_json(),
                    });
                    cl.send(&msg).is_ok()
                }
                None => true,
            },
        };
        if ok {
            c.sent.fetch_add(1, Ordering::Relaxed);
        } else {
            c.errors.fetch_add(1, Ordering::Relaxed);
        }
    }
}
